/*
 * The on-disk records of a node's store (store.h), as pure byte
 * codecs: keys and values in, structs with views out, and back.  No
 * I/O, no allocation, no logging.
 *
 * Every value has the same frame:
 *
 *	0      u8   record type (enum store_rec)
 *	1      u8   format version (STORE_FORMAT_VERSION)
 *	2      ...  the body of that type (below, by each struct)
 *	n-4    u32  check: SipHash-2-4 of bytes 0..n-4 under a fixed key,
 *	            low 32 bits, big-endian
 *
 * A value is refused (CAIRN_ERR_PROTO) when it is short, has bytes
 * after its body, an unknown type, a version this code does not read,
 * a bad check, or a field out of range (QoS > 2, an unknown delivery
 * state, packet id 0 where one is needed, an empty topic or client id).
 * A version 1 reader refuses version 2: a newer broker's store is not
 * half-read by an older one.  Version 2 adds MQTT 5.0's parts (a
 * message's expiry, publisher and properties; a subscription's options
 * and identifier; a delivery's subscription identifiers; a session's
 * protocol level); its readers read version 1 records too (those parts
 * empty), and its writers write version 2 only.
 *
 * Keys order the store so that one cursor walk loads it: the meta
 * record first, then the retained messages, then each session followed
 * by its subscriptions, deliveries (in queue order) and inbound QoS 2
 * ids.  Keys are at most STORE_KEY_MAX bytes (LMDB's limit is 511):
 * topics and filters, which may be 64 KiB long, are keyed by a keyed
 * SipHash (the key is random per store, in the meta record, so a client
 * cannot choose colliding names); sessions by a number the store gives.
 *
 *	"M"                               meta
 *	"R" u64 hash(topic)               retained message
 *	"S" u64 sid 0x00                  session header
 *	"S" u64 sid 0x01 u64 hash(filter) subscription
 *	"S" u64 sid 0x02 u64 seq          queued or in-flight delivery
 *	"S" u64 sid 0x03 u16 packet id    inbound QoS 2 id not yet released
 */
#ifndef CAIRN_BROKER_STORE_CODEC_H
#define CAIRN_BROKER_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define STORE_FORMAT_VERSION	2
/* The oldest version this code reads. */
#define STORE_FORMAT_OLDEST	1
/* The meta record's magic: "cairn-st", do not change. */
#define STORE_MAGIC		"cairn-st"
#define STORE_MAGIC_LEN		8
#define STORE_HASH_KEY_LEN	16
#define STORE_KEY_MAX		32
/* Frame: type, version, check. */
#define STORE_REC_OVERHEAD	6

enum store_rec {
	STORE_REC_META = 1,
	STORE_REC_RETAINED,
	STORE_REC_SESSION,
	STORE_REC_SUB,
	STORE_REC_OUT,
	STORE_REC_INQ2,
};

/* The key's sub-kind under a session ("S" sid kind). */
enum store_skind {
	STORE_SK_HEADER = 0,
	STORE_SK_SUB,
	STORE_SK_OUT,
	STORE_SK_INQ2,
};

/* Delivery states, as core/session.h's (do not change the numbers). */
enum store_out_state {
	STORE_OUT_QUEUED = 1,
	STORE_OUT_PUBLISHED,
	STORE_OUT_RELEASED,
};

/*
 * meta: magic[8], u32 format version, view16 node name, hash key[16].
 * The node name is the store's owner: another node's store is refused.
 */
struct store_meta {
	uint32_t		sm_version;
	struct bytes_view	sm_node;	/* may be empty: no node_name */
	uint8_t			sm_hash_key[STORE_HASH_KEY_LEN];
};

/*
 * A message: u8 qos, u8 retain, view16 topic, u32 length + payload;
 * version 2 then: u64 expiry (wall clock ms since the epoch; 0: none),
 * view16 publisher's client id (may be empty), u32 length + MQTT 5.0
 * property block as carried (may be empty; its contents are the
 * loader's to check).
 */
struct store_msg {
	uint8_t			smg_qos;
	uint8_t			smg_retain;
	struct bytes_view	smg_topic;	/* 1..65535 bytes */
	struct bytes_view	smg_payload;
	uint64_t		smg_expire_ms;	/* wall clock; 0: never */
	struct bytes_view	smg_from;	/* 0..65535 bytes */
	struct bytes_view	smg_props;
};

/*
 * session header: view16 client id, u8 flags (bit 0: has user name;
 * version 2: bit 1, the last connection was MQTT 5.0), view16 user
 * name, u64 created and u64 last connected (wall clock, ms since the
 * epoch), u32 expiry interval in seconds (0xffffffff: the broker's
 * persistent_client_expiration).
 */
struct store_session {
	struct bytes_view	ss_id;
	int			ss_has_username;
	int			ss_v5;
	struct bytes_view	ss_username;
	uint64_t		ss_created_ms;
	uint64_t		ss_seen_ms;
	uint32_t		ss_expiry;
};

/*
 * subscription: u8 granted QoS, u8 options (0 in version 1; version 2:
 * STORE_SUB_*), view16 filter; version 2 then u32 subscription
 * identifier (0: none, else at most STORE_SUB_ID_MAX).
 */
#define STORE_SUB_NO_LOCAL	0x01
#define STORE_SUB_RAP		0x02	/* retain as published */
#define STORE_SUB_RH_SHIFT	2	/* retain handling 0..2, two bits */
#define STORE_SUB_ID_MAX	268435455u

struct store_sub {
	uint8_t			ssb_qos;
	uint8_t			ssb_opts;
	struct bytes_view	ssb_filter;
	uint32_t		ssb_sub_id;
};

/*
 * delivery: u8 state, u16 packet id (0 while queued), u8 QoS of the
 * delivery, u8 RETAIN to send, then the message; version 2 then u8 n
 * (at most STORE_MAX_SUB_IDS) and n subscription identifiers u32
 * (each 1..STORE_SUB_ID_MAX).
 */
#define STORE_MAX_SUB_IDS	8

struct store_out {
	uint8_t			so_state;	/* enum store_out_state */
	uint16_t		so_id;
	uint8_t			so_qos;		/* 1 or 2 */
	uint8_t			so_retain;
	struct store_msg	so_msg;
	uint8_t			so_nids;
	uint32_t		so_ids[STORE_MAX_SUB_IDS];
};

/* A decoded key. */
struct store_key {
	uint8_t		sk_type;	/* 'M', 'R' or 'S' */
	uint64_t	sk_hash;	/* 'R': topic hash */
	uint64_t	sk_sid;		/* 'S' */
	uint8_t		sk_kind;	/* 'S': enum store_skind */
	uint64_t	sk_arg;		/* hash, seq or packet id by kind */
};

/* SipHash-2-4 of v under a 16-byte key. */
uint64_t	store_hash(const uint8_t key[STORE_HASH_KEY_LEN],
		    struct bytes_view v);

/*
 * Keys into buf (at least STORE_KEY_MAX bytes); each returns its length.
 */
size_t		store_key_meta(uint8_t *buf);
size_t		store_key_retained(uint8_t *buf, uint64_t topic_hash);
size_t		store_key_session(uint8_t *buf, uint64_t sid, uint8_t kind,
		    uint64_t arg);
/* The prefix every key of session sid starts with ("S" sid). */
size_t		store_key_session_prefix(uint8_t *buf, uint64_t sid);
/* 0, or CAIRN_ERR_PROTO for a key of no known shape. */
int		store_key_decode(struct bytes_view key, struct store_key *out);

/*
 * Encoders append one whole value to w; 0 or w's error
 * (CAIRN_ERR_NOMEM, CAIRN_ERR_TOO_BIG), or CAIRN_ERR_INVAL for a field
 * the decoder would refuse (nothing is appended then).
 */
int	store_encode_meta(struct bytes_w *, const struct store_meta *);
int	store_encode_retained(struct bytes_w *, const struct store_msg *);
int	store_encode_session(struct bytes_w *, const struct store_session *);
int	store_encode_sub(struct bytes_w *, const struct store_sub *);
int	store_encode_out(struct bytes_w *, const struct store_out *);
int	store_encode_inq2(struct bytes_w *, uint16_t id);

/*
 * The type of a value after its frame is checked (length, version,
 * check): enum store_rec, or CAIRN_ERR_PROTO.  *version gets the
 * version (if not NULL).
 */
int	store_rec_type(struct bytes_view v, uint8_t *version);
/*
 * Decoders: views in *out point into v.  0, or CAIRN_ERR_PROTO (the
 * value is not a valid record of that type); *out is then unspecified.
 */
int	store_decode_meta(struct bytes_view, struct store_meta *);
int	store_decode_retained(struct bytes_view, struct store_msg *);
int	store_decode_session(struct bytes_view, struct store_session *);
int	store_decode_sub(struct bytes_view, struct store_sub *);
int	store_decode_out(struct bytes_view, struct store_out *);
int	store_decode_inq2(struct bytes_view, uint16_t *id);

/* "meta", "retained message", ... for error messages; never NULL. */
const char	*store_rec_name(int type);

#endif
