/*
 * The cluster link's wire format (broker/cluster/CLUSTER.md): every frame of
 * the link between two cairn-broker nodes, decoded into views and
 * encoded back, and the handshake's proofs (link_finished()).
 *
 *	 4 bytes        1      n bytes
 *	+--------------+------+---------+
 *	| length (BE)  | type | body    |      length = 1 + n <= max_frame
 *	+--------------+------+---------+
 *
 * Strings (str16) are a 16-bit big-endian length and that many bytes;
 * node names and client ids are 1..255 bytes of valid UTF-8 with no NUL,
 * topics and filters are non-empty UTF-8 with no NUL.  bytes32 is a
 * 32-bit length and bytes.  A body must be used exactly: trailing bytes
 * are CAIRN_ERR_PROTO.  The encoders are canonical: decoding a frame
 * and encoding the result gives the same bytes.
 *
 * Pure: no I/O, clock, logging or globals; decoders never allocate and
 * return views into their input.  The type numbers are on the wire: do
 * not change them.
 */
#ifndef CAIRN_BROKER_LINK_CODEC_H
#define CAIRN_BROKER_LINK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/*
 * Version 2: the handshake of CLUSTER.md ("The handshake").  Version 1
 * (HMAC over unprefixed fields, no direction) is refused: do not add it
 * back as a fallback, that would be the downgrade the transcript stops.
 * Version 3: MQTT 5.0 on the link (FORWARD's and RETAIN's trailers,
 * SESSION_DATA's options, message parts and session expiry), and
 * custody (CREDIT, SESSION_NONE; issue 12); a version 2 node is refused
 * as any other version is (upgrade every node).  The labels below keep
 * their "/2": they only separate the uses of the cookie, and the
 * version itself is in the transcript.  Bump it here only, and say why
 * in CLUSTER.md.
 */
#define LINK_VERSION		3
#define LINK_HDR_LEN		5	/* length u32 + type u8 */
#define LINK_NONCE_LEN		32
#define LINK_CHALLENGE_LEN	LINK_NONCE_LEN
#define LINK_MAC_LEN		32	/* HMAC-SHA-256 */
#define LINK_MAX_NAME		255	/* node names and client ids */
#define LINK_MIN_FRAME		1024	/* smallest max_frame accepted */
/* The largest frame read before authentication: a HELLO is < 300 bytes. */
#define LINK_PREAUTH_MAX_FRAME	1024
/* A message's expiry on the link: ms left, at most MQTT's u32 seconds. */
#define LINK_EXPIRY_MAX_MS	((uint64_t)UINT32_MAX * 1000)
/* A subscription identifier: a variable byte integer, not 0. */
#define LINK_SUB_ID_MAX		268435455u
/* The identifiers one queued delivery of SESSION_DATA carries at most. */
#define LINK_MAX_SUB_IDS	8
/* The TLS exporter's output bound into the transcript (RFC 8446 7.5). */
#define LINK_BINDING_LEN	32
#define LINK_EXPORTER_LABEL	"EXPORTER-cairn-link/2"
/* Labels: HKDF salt, the two provers' keys, the transcript's first field. */
#define LINK_LABEL		"cairn-link/2"
#define LINK_LABEL_INITIATOR	"cairn-link/2 initiator finished"
#define LINK_LABEL_RESPONDER	"cairn-link/2 responder finished"

/* Frame types: on the wire, do not change. */
enum link_type {
	LINK_HELLO = 1,
	LINK_AUTH = 2,
	LINK_TICK = 3,
	LINK_ROUTE_ADD = 4,
	LINK_ROUTE_DEL = 5,
	LINK_ROUTES_BEGIN = 6,
	LINK_ROUTES_END = 7,
	LINK_FORWARD = 8,
	LINK_FORWARD_ACK = 9,
	LINK_RETAIN = 10,
	LINK_CLAIM = 11,
	LINK_SESSION_TAKE = 12,
	LINK_SESSION_DATA = 13,
	LINK_PEERS = 14,
	/* Session replicas (CLUSTER.md, "Session replicas"). */
	LINK_REPL_SESSION = 15,
	LINK_REPL_SUB = 16,
	LINK_REPL_MSGS = 17,
	LINK_REPL_STATE = 18,
	LINK_REPL_DROP = 19,
	/* Custody (CLUSTER.md, "Custody"). */
	LINK_CREDIT = 20,
	LINK_SESSION_NONE = 21,
	/* Replicas' acks (CLUSTER.md, "Session replicas"). */
	LINK_REPL_ACK = 22,
};
#define LINK_TYPE_MAX	LINK_REPL_ACK

/*
 * HELLO: version u8, name str16, nonce 32 bytes.  Any version >= 1
 * decodes (a body of this layout), so that the link can say "the peer
 * speaks version 1"; only LINK_VERSION goes on.
 */
struct link_hello {
	uint8_t			version;
	struct bytes_view	name;
	uint8_t			challenge[LINK_CHALLENGE_LEN];
};

/*
 * The MQTT 5.0 parts of a message on the link: the publisher's client
 * id (str16, empty or UTF-8 without NUL: for no local on the receiving
 * node), the expiry as ms left when the frame was written (u64, 0:
 * none, at most LINK_EXPIRY_MAX_MS: the receiver re-bases it on its own
 * clock, so it keeps counting down across nodes), and the carried
 * properties as an MQTT 5.0 property block (varint length, then the
 * properties, as in a PUBLISH, checked as such; only those a broker
 * carries: no topic alias, message expiry or subscription identifier).
 * props is the block without its length (struct msg's m_props).
 */
struct link_msg5 {
	struct bytes_view	from;
	uint64_t		expiry_ms;
	struct bytes_view	props;
};

/*
 * FORWARD: seq u64, qos u8, retain u8, topic str16, payload bytes32,
 * then the group list: ngroups u16 and that many "$share/G/F" filters
 * (str16), for the shared groups the receiver was picked for (it
 * delivers to one of its own members of each of those groups, and to
 * no other group); then the 5.0 trailer (struct link_msg5: from,
 * expiry, props).  Canonical: a message with no 5.0 part has no
 * trailer, and then an empty group list is no list at all (a 3.1.1
 * FORWARD is byte for byte the first release's); with a trailer the
 * group count is always there.  Subscription identifiers never cross:
 * they are the receiving node's subscribers'.
 *
 * Then, only when the sender also put the message in the spool of away
 * peers (CLUSTER.md, "Session replicas": a promoted session does not
 * give those back), the spool list: n u8 (1..LINK_MAX_SPOOLED) and n
 * x u64, each the ring_hash() of such a peer's name (not 0); the group
 * count and the 5.0 part are then always there (the 5.0 part may be
 * empty).
 */
#define LINK_MAX_SPOOLED	2
struct link_forward {
	uint64_t		seq;
	uint8_t			qos;	/* 0..2 */
	uint8_t			retain;	/* 0 or 1 */
	struct bytes_view	topic;
	struct bytes_view	payload;
	uint16_t		ngroups;	/* 0: no list */
	struct bytes_view	groups;	/* the items; link_forward_group_next() */
	struct link_msg5	v5;	/* all empty: no trailer */
	uint8_t			nspooled;	/* 0: no spool list */
	uint64_t		spooled[LINK_MAX_SPOOLED];
};

/*
 * RETAIN: stamp u64, origin str16, topic str16, qos u8, payload
 * bytes32 (empty: the topic is cleared), then, for a message with an
 * expiry or properties only, expiry u64 and the property block as in
 * FORWARD's trailer (no publisher: retained messages ignore no local).
 */
struct link_retain {
	uint64_t		stamp;	/* ms, origin's wall clock */
	struct bytes_view	origin;
	struct bytes_view	topic;
	uint8_t			qos;
	struct bytes_view	payload;
	uint64_t		expiry_ms;	/* ms left; 0: none */
	struct bytes_view	props;		/* carried, without length */
};

/*
 * CLAIM: client id str16, stamp u64, node str16[, flags u8, not 0;
 * absent when 0].  LINK_CLAIM_KEPT: the claiming node had the session
 * when the client connected (it was never lost there: kept through a
 * cut, or through a restart by its store), so a copy promoted from its
 * replica elsewhere owes it only what was queued since the promotion.
 */
#define LINK_CLAIM_KEPT		0x01

struct link_claim {
	struct bytes_view	id;
	uint64_t		stamp;
	struct bytes_view	node;
	uint8_t			flags;		/* LINK_CLAIM_* */
};

/*
 * SESSION_DATA: client id str16; nsubs u32, then nsubs times (filter
 * str16, qos u8, options u8, subscription id u32); nmsgs u32, then
 * nmsgs times (qos u8, topic str16, payload bytes32, from str16, expiry
 * u64, property block: struct link_msg5, then the delivery's flags u8
 * (bit 0: RETAIN to send), nids u8 (at most LINK_MAX_SUB_IDS) and nids
 * subscription ids u32, 1..LINK_SUB_ID_MAX: the moving session's own);
 * then the session's flags u8 and expiry interval u32 (seconds).  Options: bit 0 no local (never
 * with a $share filter), bit 1 retain as published, bits 2-3 retain
 * handling (0..2), the others 0; a subscription id 0 is none.  Session
 * flags: bit 0 the expiry interval is set (5.0), bit 1 the last
 * connection was 5.0, the others 0.  The lists stay encoded: walk them
 * with link_session_sub_next5() and link_session_msg_next5().
 */
struct link_session {
	struct bytes_view	id;
	uint32_t		nsubs;
	struct bytes_view	subs;	/* the nsubs items */
	uint32_t		nmsgs;
	struct bytes_view	msgs;	/* the nmsgs items */
	uint8_t			flags;	/* LINK_SESS_* */
	uint32_t		expiry;	/* seconds, with LINK_SESS_EXPIRY */
};
#define LINK_SESS_EXPIRY	0x01
#define LINK_SESS_V5		0x02
/*
 * REPL_SESSION and REPL_STATE only: the client is offline, and has been
 * for the u64 (ms) that follows the flags' other fields (so that the
 * session expiry interval of a promoted session counts from when the
 * client left, not from the promotion).  At most LINK_EXPIRY_MAX_MS.
 */
#define LINK_SESS_OFFLINE	0x04

/* One subscription of SESSION_DATA. */
struct link_sub {
	struct bytes_view	filter;
	uint8_t			qos;
	uint8_t			no_local;
	uint8_t			rap;
	uint8_t			rh;
	uint32_t		sub_id;
};

/* One queued message of SESSION_DATA. */
struct link_smsg {
	uint8_t			qos;
	struct bytes_view	topic;
	struct bytes_view	payload;
	struct link_msg5	v5;
	uint8_t			retain;		/* the RETAIN flag to send */
	uint8_t			nids;
	uint32_t		ids[LINK_MAX_SUB_IDS];
};

/* PEERS: n u16, then n node names (str16). */
struct link_peers {
	uint16_t		n;
	struct bytes_view	names;	/* the n items; link_peers_next() */
};

/*
 * The replica frames, from a session's owner to its replica holder.
 * All start with the client id (str16).
 *
 *	REPL_SESSION	id | n u32 | n x SESSION_DATA's subscription
 *			items: a replica anew with these subscriptions and
 *			no message
 *	REPL_SUB	id | filter str16 | qos u8 (0..2, or
 *			LINK_REPL_UNSUB: the filter is unsubscribed) |
 *			options u8 | subscription id u32 (as SESSION_DATA's;
 *			both 0 with LINK_REPL_UNSUB)
 *	REPL_MSGS	id | n u32 | n x (seq u64 | qos u8 | retain u8 |
 *			state u8 | packet id u16 | topic str16 |
 *			payload bytes32 | msg5 as SESSION_DATA's: publisher
 *			id, expiry left in ms, carried properties):
 *			deliveries added, in order
 *	REPL_STATE	id | n u32 | n x (seq u64 | state u8 | packet id
 *			u16): deliveries that changed state or ended
 *	REPL_DROP	id: the session is gone from the owner
 *
 * Trailers, sent only when not empty (a frame without one is what a
 * node before them sends and reads):
 *	REPL_SESSION	... | flags u8 | expiry u32, as SESSION_DATA's
 *			(LINK_SESS_*; flags not 0): the session's 5.0
 *			level and session expiry interval
 *	REPL_MSGS	... | n x (nids u8 | nids x subscription id u32):
 *			each delivery's subscription identifiers, in the
 *			items' order (at least one delivery has some)
 *
 * seq numbers a session's deliveries (per session, increasing).  A
 * delivery's state: LINK_REPL_QUEUED (packet id 0), _PUBLISHED (QoS
 * 1/2, id != 0), _RELEASED (QoS 2 after PUBREC, id != 0), and in
 * REPL_STATE only _DONE (id 0: acknowledged or sent, forget it).
 */
#define LINK_REPL_UNSUB		0x80
#define LINK_REPL_QUEUED	0
#define LINK_REPL_PUBLISHED	1
#define LINK_REPL_RELEASED	2
#define LINK_REPL_DONE		3
struct link_repl {
	struct bytes_view	id;
	struct bytes_view	filter;	/* REPL_SUB */
	uint8_t			qos;	/* REPL_SUB */
	uint8_t			opts;	/* REPL_SUB: no local 1, rap 2, rh << 2 */
	uint32_t		sub_id;	/* REPL_SUB */
	uint32_t		n;	/* REPL_SESSION, _MSGS, _STATE */
	struct bytes_view	items;	/* the n items, encoded */
	uint8_t			sess_flags;	/* REPL_SESSION: LINK_SESS_* */
	uint32_t		sess_expiry;	/* with LINK_SESS_EXPIRY */
	/*
	 * REPL_SESSION with LINK_SESS_OFFLINE, REPL_STATE with
	 * has_online: ms the client has been offline.  REPL_STATE's
	 * trailer (has_online): flags u8, 0 (online now) or
	 * LINK_SESS_OFFLINE, then this u64 when offline.
	 */
	uint64_t		sess_offline_ms;
	uint8_t			has_online;	/* REPL_STATE */
	struct bytes_view	ids;	/* REPL_MSGS: the trailer, or empty */
};

/*
 * CREDIT: forwards u32, bytes u64, incarnation u64: how many QoS 1/2
 * FORWARDs (and bytes, CLUSTER_FWD_COST each) the sender of CREDIT
 * takes unacknowledged on this link; it acks each once it is queued for
 * its subscribers, which gives its credit back (CLUSTER.md, "Custody").
 * incarnation: random, fixed for the sender's run (not 0), so that a
 * node removed by `cluster remove` is known again once restarted.  Sent
 * when the link comes up, before anything else; a later one replaces
 * it.  forwards >= 1.
 */
struct link_credit {
	uint32_t		forwards;
	uint64_t		bytes;
	uint64_t		incarnation;
};

/* One decoded frame; the member of `type` is set, views into the input. */
struct link_msg {
	enum link_type	type;
	union {
		struct link_hello	hello;
		uint8_t			mac[LINK_MAC_LEN];	/* AUTH */
		struct bytes_view	filter;	/* ROUTE_ADD, ROUTE_DEL */
		struct link_forward	fwd;
		uint64_t		ack_seq;	/* FORWARD_ACK */
		/*
		 * REPL_ACK: how many REPL_* frames the sender of it has
		 * taken from this link so far (cumulative, per link).
		 */
		uint64_t		repl_acked;
		struct link_retain	ret;
		struct link_claim	claim;
		struct bytes_view	take_id;	/* SESSION_TAKE, _NONE */
		struct link_session	sess;
		struct link_peers	peers;
		struct link_repl	repl;	/* REPL_* */
		struct link_credit	credit;
	} u;	/* TICK, ROUTES_BEGIN, ROUTES_END: no body */
};

/*
 * Decodes the frame at the start of in[0..len).  On success fills *out
 * (views into in) and *consumed (header included) and returns 0.
 * CAIRN_ERR_NEED_MORE: in holds a valid prefix, read more (nothing is
 * set).  CAIRN_ERR_TOO_BIG: the length is over max_frame (known from the
 * first 4 bytes).  CAIRN_ERR_PROTO: length 0, an unknown type, a bad
 * field (name, UTF-8, NUL, qos, version, counts) or a body that is not
 * used exactly.
 */
int	link_decode(const uint8_t *in, size_t len, size_t max_frame,
	    struct link_msg *out, size_t *consumed);

/*
 * Appends the frame for m to w (the members of m->type only are read,
 * borrowed).  Returns 0, CAIRN_ERR_INVAL (m would not decode: a bad
 * name, qos, type, or a frame over max_frame), or w's error (NOMEM,
 * TOO_BIG).  On failure w->len is as it was, so a caller may go on.
 */
int	link_encode(struct bytes_w *w, const struct link_msg *m,
	    size_t max_frame);

/*
 * Item encoders for the list bodies: append one item to w (a scratch
 * buffer whose contents become link_session.subs, .msgs,
 * link_peers.names or link_forward.groups).  0 or CAIRN_ERR_INVAL / w's error.
 */
int	link_put_session_sub5(struct bytes_w *, const struct link_sub *);
int	link_put_session_msg5(struct bytes_w *, const struct link_smsg *);
/* The same with the 5.0 parts empty (a 3.1.1 subscription or message). */
int	link_put_session_sub(struct bytes_w *, struct bytes_view filter,
	    uint8_t qos);
int	link_put_session_msg(struct bytes_w *, uint8_t qos,
	    struct bytes_view topic, struct bytes_view payload);
int	link_put_peer(struct bytes_w *, struct bytes_view name);
/* REPL_SESSION's items are link_put_session_sub()'s; the others: */
struct link_repl_msg {
	uint64_t		seq;
	uint8_t			qos;
	uint8_t			retain;
	uint8_t			state;	/* LINK_REPL_QUEUED.._RELEASED */
	uint16_t		pid;	/* packet id; 0 iff queued */
	struct bytes_view	topic;
	struct bytes_view	payload;
	struct link_msg5	v5;
};
int	link_put_repl_msg(struct bytes_w *, const struct link_repl_msg *);
int	link_put_repl_state(struct bytes_w *, uint64_t seq, uint8_t state,
	    uint16_t pid);
/* One delivery's entry of REPL_MSGS's trailer (nids may be 0). */
int	link_put_repl_ids(struct bytes_w *, uint8_t nids, const uint32_t *ids);
/* One FORWARD group: a valid "$share/GROUP/FILTER" filter. */
int	link_put_group(struct bytes_w *, struct bytes_view filter);

/*
 * Iterators over a decoded (hence valid) list: each takes the next
 * item off the front of *list and returns 1, or 0 at the end.
 */
int	link_session_sub_next5(struct bytes_view *list, struct link_sub *);
int	link_session_msg_next5(struct bytes_view *list, struct link_smsg *);
/* The same without the 5.0 parts. */
int	link_session_sub_next(struct bytes_view *list,
	    struct bytes_view *filter, uint8_t *qos);
int	link_session_msg_next(struct bytes_view *list, uint8_t *qos,
	    struct bytes_view *topic, struct bytes_view *payload);
int	link_peers_next(struct bytes_view *list, struct bytes_view *name);
int	link_repl_msg_next(struct bytes_view *list, struct link_repl_msg *);
int	link_repl_state_next(struct bytes_view *list, uint64_t *seq,
	    uint8_t *state, uint16_t *pid);
/* REPL_MSGS's trailer, an entry at a time (ids: LINK_MAX_SUB_IDS). */
int	link_repl_ids_next(struct bytes_view *list, uint8_t *nids,
	    uint32_t *ids);
int	link_forward_group_next(struct bytes_view *list,
	    struct bytes_view *filter);

/* 1 if v is a valid node name or client id: 1..255 bytes, UTF-8, no NUL. */
int	link_name_valid(struct bytes_view v);

/*
 * The handshake transcript (CLUSTER.md, "The handshake"): what both
 * HELLOs said, in role order, and the TLS channel binding (empty on a
 * plain link).  Roles come from who dialled (the initiator) and who
 * accepted (the responder), never from the bytes.
 */
struct link_transcript {
	uint8_t			 version_i;
	struct bytes_view	 name_i;
	const uint8_t		*nonce_i;	/* LINK_NONCE_LEN bytes */
	uint8_t			 version_r;
	struct bytes_view	 name_r;
	const uint8_t		*nonce_r;	/* LINK_NONCE_LEN bytes */
	struct bytes_view	 binding;	/* 0 or LINK_BINDING_LEN bytes */
};

enum link_role {
	LINK_INITIATOR = 1,
	LINK_RESPONDER = 2,
};

/*
 * Appends the transcript's canonical bytes to w: every field with a
 * u32 big-endian length first,
 *
 *	lp(LINK_LABEL) | lp(version_i) | lp(name_i) | lp(nonce_i) |
 *	lp(version_r) | lp(name_r) | lp(nonce_r) | lp(binding)
 *
 * so that no two different transcripts have the same bytes.
 */
void	link_transcript_put(struct bytes_w *w, const struct link_transcript *t);
/*
 * The proof of `prover` over t, as TLS 1.3's Finished (RFC 8446 4.4.4):
 *
 *	prk = HKDF-Extract(salt = LINK_LABEL, ikm = cookie)
 *	key = HKDF-Expand(prk, LINK_LABEL_INITIATOR or _RESPONDER, 32)
 *	mac = HMAC-SHA-256(key, SHA-256(transcript bytes))
 *
 * 0, or CAIRN_ERR_NOMEM / CAIRN_ERR_INVAL (libcrypto failed).
 */
int	link_finished(struct bytes_view cookie, enum link_role prover,
	    const struct link_transcript *t, uint8_t out[LINK_MAC_LEN]);
/* 1 if the two MACs are equal, compared in constant time (CRYPTO_memcmp). */
int	link_mac_eq(const uint8_t a[LINK_MAC_LEN],
	    const uint8_t b[LINK_MAC_LEN]);

/* "HELLO", "FORWARD"...; "unknown" for other values.  Static. */
const char *link_type_name(int type);

#endif
