/*
 * Gossip wire codec: the gossip strategy's UDP heartbeats, bytes to
 * structs and back, in two formats.  Pure: no sockets, clock, logging
 * or globals (the caller passes the time and the random nonce or IV);
 * the only allocation is OpenSSL's cipher context inside a call, and
 * the replay cache, which the caller creates and frees.
 *
 * Cairn's format (version 1).  All integers big-endian:
 *
 *	off     len  field
 *	0       1    version (1)
 *	1       1    kind: 0 plain, 1 AES-256-GCM
 *	2       4    key id: first 4 bytes of SHA-256(key); 0 when plain
 *	6       1    L: cluster label length, 1..GOSSIP_MAX_LABEL
 *	7       L    cluster label (config `cluster`)
 *	7+L     12   nonce: random, never reused with a key
 *	19+L    ...  body, plaintext (kind 0) or ciphertext (kind 1)
 *	end-16  16   GCM tag (kind 1 only)
 *
 * The header, bytes [0, 19+L), is GCM's associated data, so the label,
 * key id and nonce cannot be changed without failing the tag.  The body:
 *
 *	8    timestamp, milliseconds since the Unix epoch (sender's clock)
 *	1    S: sender id length, 1..GOSSIP_MAX_SENDER; then S bytes
 *	2    N: node count, 0..GOSSIP_MAX_NODES
 *	N x  1-byte length (1..255) and a node name "name@host"
 *
 * and nothing after it.  Names and the sender id are valid UTF-8 with
 * no NUL and no control characters; names hold an '@' with something
 * on both sides.  The key is HKDF-SHA-256 (RFC 5869) of the secret
 * string, salt "cairn-gossip", info "aes-256-gcm v1", 32 bytes: a
 * secret reused with libcluster's format never gives the same key.
 * Version, kinds, lengths and key derivation are wire-visible: do not
 * change them without a new version byte.
 *
 * libcluster's format (lib/strategy/gossip.ex, Cluster.Strategy.Gossip):
 *
 *	plain:   "heartbeat::" ++ term_to_binary(#{node => 'name@host'})
 *	secret:  IV (16 random bytes) ++ AES-256-CBC(key, IV,
 *	             PKCS#7-pad("heartbeat::" ++ term_to_binary(...)))
 *	         key = SHA-256(secret), no salt, no MAC.
 *
 * The term is decoded and encoded only in that one shape: version 131,
 * MAP_EXT of arity 1, key the atom `node`, value an atom, nothing after.
 * Atoms may be ATOM_EXT, SMALL_ATOM_EXT (Latin-1, accepted only when
 * ASCII), ATOM_UTF8_EXT or SMALL_ATOM_UTF8_EXT; the encoder writes
 * ATOM_EXT for ASCII names (as OTP 25 and older do, readable by every
 * release) and SMALL_ATOM_UTF8_EXT otherwise.  Anything else is
 * CAIRN_ERR_PROTO.  libcluster's form carries no time, so it has no
 * replay protection: say so to whoever turns it on.
 *
 * Decoders return 0 or a negative CAIRN_ERR_* and say why a packet was
 * refused in *why: CAIRN_ERR_NEED_MORE for a packet cut short,
 * CAIRN_ERR_PROTO for malformed bytes, CAIRN_ERR_AUTH for a failed
 * check (key, tag, padding, label).  A datagram never grows, so a
 * caller drops the packet on any error; the codes are kept apart for
 * tests and counters.  On failure the outputs are unchanged.
 */
#ifndef CAIRN_STRATEGIES_GOSSIP_CODEC_H
#define CAIRN_STRATEGIES_GOSSIP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define GOSSIP_VERSION		1
#define GOSSIP_KIND_PLAIN	0
#define GOSSIP_KIND_GCM		1
#define GOSSIP_KEY_LEN		32
#define GOSSIP_NONCE_LEN	12
#define GOSSIP_TAG_LEN		16
#define GOSSIP_MAX_LABEL	64
#define GOSSIP_MAX_SENDER	64
#define GOSSIP_MAX_NAME		255
/* Nodes in one heartbeat: one host's epmd rarely holds more than tens. */
#define GOSSIP_MAX_NODES	256
/* The largest UDP payload over IPv4; decoders refuse more. */
#define GOSSIP_MAX_PACKET	65507
/* Keys in a ring: the current one and those being rotated out. */
#define GOSSIP_MAX_KEYS		8

/* libcluster's format. */
#define GOSSIP_LC_PREFIX	"heartbeat::"
#define GOSSIP_LC_PREFIX_LEN	11
#define GOSSIP_LC_IV_LEN	16

/* Why a packet was dropped: the strategy counts each. */
enum gossip_drop {
	GOSSIP_OK = 0,
	GOSSIP_DROP_TRUNCATED,	/* shorter than its fields say */
	GOSSIP_DROP_MALFORMED,	/* a bad length, name or trailing bytes */
	GOSSIP_DROP_VERSION,	/* not version 1 (or not Cairn's format) */
	GOSSIP_DROP_CLUSTER,	/* another cluster label */
	GOSSIP_DROP_PLAIN,	/* unauthenticated, but a secret is set */
	GOSSIP_DROP_SEALED,	/* authenticated, but no secret is set */
	GOSSIP_DROP_KEY,	/* a key id not in the ring */
	GOSSIP_DROP_TAG,	/* the GCM tag (or CBC padding) failed */
	GOSSIP_DROP_STALE,	/* timestamp outside the max_skew window */
	GOSSIP_DROP_REPLAY,	/* (sender, nonce) seen in the window */
	GOSSIP_DROP_CACHE_FULL,	/* replay cache full: fail closed */
	GOSSIP_DROP_LIBCLUSTER,	/* libcluster's format, compat is off */
	GOSSIP_DROP_TERM,	/* libcluster: not #{node => atom} */
	GOSSIP_DROP_SELF,	/* our own heartbeat, looped back */
	GOSSIP_DROP_TOO_MANY,	/* the sender table is full */
	GOSSIP_DROP_NREASONS
};

/* A short fixed name for a drop reason ("tag", "replay"...); never NULL. */
const char	*gossip_drop_name(enum gossip_drop);

/* One key of a ring: the AES-256-GCM key and its wire id. */
struct gossip_key {
	uint8_t		key[GOSSIP_KEY_LEN];
	uint32_t	id;
};

/* Senders seal with keys[0]; receivers accept any of keys[0..n). */
struct gossip_keyring {
	struct gossip_key	keys[GOSSIP_MAX_KEYS];
	size_t			n;
};

/*
 * A heartbeat, decoded or to encode.  Views borrow: on decode they
 * point into the packet (plain) or into the caller's plaintext buffer
 * (sealed).
 */
struct gossip_heartbeat {
	struct bytes_view	label;
	uint8_t			nonce[GOSSIP_NONCE_LEN];
	uint32_t		key_id;		/* decode: 0 when plain */
	int			sealed;		/* decode: kind was GCM */
	uint64_t		ts_ms;
	struct bytes_view	sender;
	size_t			nnodes;
	struct bytes_view	nodes[GOSSIP_MAX_NODES];
};

/*
 * Derives a ring key from secret[0..len) (HKDF-SHA-256, see above) and
 * its id.  Returns 0, CAIRN_ERR_INVAL for an empty secret, or
 * CAIRN_ERR_NOMEM if OpenSSL fails.
 */
int	gossip_key_derive(const void *secret, size_t len, struct gossip_key *);
/* libcluster's key: SHA-256(secret).  Same returns. */
int	gossip_lc_key_derive(const void *secret, size_t len,
	    uint8_t key[GOSSIP_KEY_LEN]);

/*
 * Appends hb as one packet to w: plain when key is NULL, else sealed
 * with key (hb->nonce must be fresh random bytes).  hb->key_id and
 * hb->sealed are ignored.  Returns 0; CAIRN_ERR_INVAL when a field is
 * out of its range (label, sender or a name empty, too long, not UTF-8,
 * or holding NUL; a name without '@'; more than GOSSIP_MAX_NODES);
 * CAIRN_ERR_TOO_BIG / CAIRN_ERR_NOMEM from w (w may hold a partial
 * packet then: reset it).
 */
int	gossip_encode_heartbeat(struct bytes_w *w,
	    const struct gossip_heartbeat *hb, const struct gossip_key *key);

/*
 * Decodes pkt, a whole datagram.  label is the receiver's cluster
 * label; ring is its keys (NULL or empty: no secret, only plain packets
 * pass).  plain must have room for pkt.len bytes: a sealed body is
 * decrypted there and out's views point into it.  Checks, in order:
 * length, version, kind against the ring, label, key id, tag, body.
 * Timestamps are not checked here: see gossip_replay_check().
 *
 * Returns 0 with *out filled and *why GOSSIP_OK, or an error with *why
 * set and *out unchanged (plain may hold garbage).
 */
int	gossip_decode_heartbeat(struct bytes_view pkt, struct bytes_view label,
	    const struct gossip_keyring *ring, uint8_t *plain, size_t plainlen,
	    struct gossip_heartbeat *out, enum gossip_drop *why);

/*
 * term_to_binary(#{node => Node}) for a node name (1..255 bytes of
 * UTF-8, no NUL).  Returns 0, CAIRN_ERR_INVAL, or w's error.
 */
int	gossip_encode_lc_term(struct bytes_w *w, struct bytes_view node);
/*
 * The node of a term_to_binary(#{node => Node}) in term[0..len), the
 * whole input.  *node points into term (an ASCII or UTF-8 atom's
 * bytes).  Returns 0, CAIRN_ERR_NEED_MORE (cut short) or
 * CAIRN_ERR_PROTO (any other shape, bad UTF-8, trailing bytes).
 */
int	gossip_decode_lc_term(struct bytes_view term, struct bytes_view *node);

/*
 * Appends libcluster's heartbeat for node to w: plain when key is NULL,
 * else IV ++ AES-256-CBC with PKCS#7 padding, iv being 16 fresh random
 * bytes.  Returns 0, CAIRN_ERR_INVAL (a bad name), CAIRN_ERR_NOMEM, or
 * w's error.
 */
int	gossip_encode_lc_heartbeat(struct bytes_w *w, struct bytes_view node,
	    const uint8_t *key, const uint8_t iv[GOSSIP_LC_IV_LEN]);
/*
 * Decodes libcluster's heartbeat.  With nkeys == 0 the packet must be
 * plain ("heartbeat::" ...); else it must be IV ++ ciphertext and each
 * of keys[0..nkeys) is tried (CBC has no key id; a wrong key fails the
 * padding or the prefix).  plain must have room for pkt.len bytes.
 * *node points into pkt or plain.  Returns 0 with *why GOSSIP_OK, or an
 * error with *why: TRUNCATED, TAG (no key decrypts it), LIBCLUSTER (not
 * "heartbeat::", in plain mode), TERM, or MALFORMED.
 */
int	gossip_decode_lc_heartbeat(struct bytes_view pkt,
	    const uint8_t (*keys)[GOSSIP_KEY_LEN], size_t nkeys,
	    uint8_t *plain, size_t plainlen, struct bytes_view *node,
	    enum gossip_drop *why);

/*
 * The replay guard for sealed heartbeats: a packet passes once, and only
 * while its timestamp lies within window_ms of now.  Entries are kept
 * until their timestamp leaves the window, so a replay is refused as
 * long as it could pass the timestamp check.  A bounded open-addressed
 * table: when no slot is free on a probe run, the packet is refused
 * (GOSSIP_DROP_CACHE_FULL: fail closed; only key holders can fill it).
 */
struct gossip_replay;

/* slots is rounded up to a power of two, at least 64.  NULL on ENOMEM. */
struct gossip_replay *gossip_replay_new(size_t slots);
/* NULL is fine. */
void	gossip_replay_free(struct gossip_replay *);
/*
 * Checks hb's timestamp against now_ms (both Unix epoch milliseconds)
 * and remembers (sender, nonce).  Returns GOSSIP_OK, GOSSIP_DROP_STALE,
 * GOSSIP_DROP_REPLAY or GOSSIP_DROP_CACHE_FULL; only GOSSIP_OK records.
 */
enum gossip_drop gossip_replay_check(struct gossip_replay *,
	    const struct gossip_heartbeat *hb, uint64_t now_ms,
	    uint64_t window_ms);
/* Entries held now (live or expired but not yet reused); for tests. */
size_t	gossip_replay_count(const struct gossip_replay *);

#endif
