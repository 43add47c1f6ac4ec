/*
 * MQTT wire codec for MQTT 5.0 (OASIS, protocol level 5), MQTT 3.1.1
 * (OASIS, protocol level 4) and MQTT 3.1 (IBM "MQIsdp", protocol level
 * 3), both directions: the broker decodes
 * what clients send and encodes its replies; tests, benchmarks and the
 * cluster's load tools do the opposite, so every packet encodes and
 * decodes.  Pure: no sockets, clock, logging or globals.  Decoders return
 * views into the caller's buffer and allocate nothing.
 *
 * Every packet is a fixed header, then `remaining` bytes of body:
 *
 *	  bit 7..4      3..0        1 to 4 bytes
 *	+-----------+-----------+----------------------+----------------+
 *	|   type    |   flags   | remaining (varint)   | body           |
 *	+-----------+-----------+----------------------+----------------+
 *
 * The varint holds 7 bits a byte, least significant group first, the top
 * bit set while more follow; at most 268,435,455.
 *
 * Use: mqtt_frame() finds one packet in the input; mqtt_decode() (or the
 * per-type decoder) checks it.  Both keep CAIRN_ERR_NEED_MORE (read more)
 * apart from CAIRN_ERR_PROTO and CAIRN_ERR_TOO_BIG (close the peer;
 * [MQTT-4.8.0-1]).  A decoder fails with CAIRN_ERR_PROTO and a static
 * reason in *why (when why is not NULL).
 *
 * Encoders write one whole packet into a bytes_w, or nothing: they check
 * their arguments (CAIRN_ERR_INVAL), compute the exact size, and reserve
 * it before the first byte (w's error: CAIRN_ERR_TOO_BIG or NOMEM).
 *
 * Protocol levels.  3.1 differs where its clients do: the CONNECT names
 * and the client identifier rule, no session-present flag in CONNACK, a
 * DUP bit tolerated on PUBREL, SUBSCRIBE and UNSUBSCRIBE (3.1 retries
 * them with DUP set) and on a QoS 0 PUBLISH, and a username or password
 * flag without its field (mosquitto accepts that from 3.1 clients too).
 * Decoders after CONNECT take the connection's level.
 *
 * MQTT 5.0 adds a property block (mqtt5_props.h) to most packets, a
 * reason code to the acknowledgements, DISCONNECT and CONNACK, an
 * options byte per SUBSCRIBE filter, reason codes to UNSUBACK, and the
 * AUTH packet (type 15, reserved before 5.0).  Its failures carry the
 * reason code the spec gives them (0x81 malformed, 0x82 protocol error,
 * ...) in struct mqtt_err, which mqtt_decode_ex() and
 * mqtt_decode_connect_ex() fill; the older per-type decoders keep their
 * 3.1.1 contract.
 */
#ifndef CAIRN_BROKER_MQTT_CODEC_H
#define CAIRN_BROKER_MQTT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "broker/mqtt/mqtt5_props.h"
#include "common/bytes.h"

/* Wire limits: do not change. */
#define MQTT_MAX_REMAINING	268435455u	/* the largest varint */
#define MQTT_MAX_FIXED_HEADER	5		/* type byte + 4-byte varint */
#define MQTT_STRING_MAX		65535		/* 16-bit length prefix */
#define MQTT_V31_CLIENT_ID_MAX	23		/* MQTT 3.1, section 3.1 */

/* Protocol levels, the CONNECT byte after the protocol name. */
#define MQTT_LEVEL_31		3	/* "MQIsdp" */
#define MQTT_LEVEL_311		4	/* "MQTT" */

/* Packet types: the high nibble of the first byte.  0 and 15 are reserved. */
enum mqtt_type {
	MQTT_CONNECT = 1,	/* client to server */
	MQTT_CONNACK = 2,	/* server to client */
	MQTT_PUBLISH = 3,	/* both ways */
	MQTT_PUBACK = 4,	/* both ways: QoS 1 answer */
	MQTT_PUBREC = 5,	/* both ways: QoS 2, part 1 */
	MQTT_PUBREL = 6,	/* both ways: QoS 2, part 2; flags 0010 */
	MQTT_PUBCOMP = 7,	/* both ways: QoS 2, part 3 */
	MQTT_SUBSCRIBE = 8,	/* client to server; flags 0010 */
	MQTT_SUBACK = 9,	/* server to client */
	MQTT_UNSUBSCRIBE = 10,	/* client to server; flags 0010 */
	MQTT_UNSUBACK = 11,	/* server to client */
	MQTT_PINGREQ = 12,	/* client to server */
	MQTT_PINGRESP = 13,	/* server to client */
	MQTT_DISCONNECT = 14,	/* client to server; 5.0: both ways */
	MQTT_AUTH = 15,		/* 5.0 only: both ways */
};

/* CONNACK return codes (3.1 and 3.1.1 share them). */
enum mqtt_connack_rc {
	MQTT_CONNACK_ACCEPTED = 0,
	MQTT_CONNACK_BAD_PROTOCOL = 1,		/* unacceptable protocol level */
	MQTT_CONNACK_ID_REJECTED = 2,		/* identifier rejected */
	MQTT_CONNACK_UNAVAILABLE = 3,		/* server unavailable */
	MQTT_CONNACK_BAD_AUTH = 4,		/* bad user name or password */
	MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

/* The SUBACK code for a refused filter (3.1.1); 0 to 2 grant a QoS. */
#define MQTT_SUBACK_FAILURE	0x80

/* 5.0 subscription options, the byte after each SUBSCRIBE filter. */
#define MQTT_SUBOPT_QOS_MASK	0x03
#define MQTT_SUBOPT_NO_LOCAL	0x04
#define MQTT_SUBOPT_RAP		0x08	/* retain as published */
#define MQTT_SUBOPT_RH_SHIFT	4	/* retain handling 0..2 */
#define MQTT_SUBOPT_RH_MASK	0x30
#define MQTT_SUBOPT_RESERVED	0xc0

/*
 * Why a decoder refused a packet: a static reason, and the MQTT 5.0
 * reason code for it (MQTT5_RC_MALFORMED, MQTT5_RC_PROTOCOL_ERROR,
 * MQTT5_RC_TOPIC_ALIAS_INVALID ...).  For 3.1/3.1.1 the code is still
 * set but has no wire use.
 */
struct mqtt_err {
	const char	*why;
	uint8_t		 reason;
};

/* A fixed header. */
struct mqtt_hdr {
	uint8_t		 type;		/* enum mqtt_type */
	uint8_t		 flags;		/* the low nibble of byte 0 */
	uint32_t	 remaining;	/* the body's length */
};

/*
 * CONNECT.  Flags are unpacked; a view is empty when its field is absent.
 * connack_rc tells a packet to answer with a refusal from one to close
 * on: see mqtt_decode_connect().
 */
struct mqtt_connect {
	uint8_t			 level;		/* MQTT_LEVEL_31, _311 or _5 */
	uint8_t			 clean_session;	/* 5.0: clean start */
	uint8_t			 will_flag;
	uint8_t			 will_qos;
	uint8_t			 will_retain;
	uint8_t			 has_username;
	uint8_t			 has_password;
	uint8_t			 connack_rc;	/* enum mqtt_connack_rc */
	uint16_t		 keepalive;	/* seconds; 0 turns it off */
	struct bytes_view	 client_id;
	struct bytes_view	 will_topic;
	struct bytes_view	 will_message;	/* binary */
	struct bytes_view	 username;
	struct bytes_view	 password;	/* binary */
	/* 5.0: CONNECT's properties and the will's (empty otherwise). */
	struct mqtt5_props	 props;
	struct mqtt5_props	 will_props;
};

/* CONNACK. */
struct mqtt_connack {
	uint8_t		 session_present;	/* always 0 for 3.1 */
	uint8_t		 rc;			/* enum mqtt_connack_rc; 5.0:
						   enum mqtt5_rc */
	struct mqtt5_props props;		/* 5.0 */
};

/*
 * PUBLISH.  id is 0 for QoS 0, else non-zero.  5.0: props; the topic
 * may be empty when props has a topic alias (3.3.2.1).
 */
struct mqtt_publish {
	uint8_t			 qos;
	uint8_t			 dup;
	uint8_t			 retain;
	uint16_t		 id;
	struct bytes_view	 topic;
	struct bytes_view	 payload;
	struct mqtt5_props	 props;		/* decoded at level 5 only */
};

/*
 * 5.0 PUBACK, PUBREC, PUBREL, PUBCOMP: id first, so that a 3.1.1
 * decode's mqtt_packet u.id is the same field.  rc is 0 when the packet
 * leaves it out.
 */
struct mqtt_ack {
	uint16_t		 id;
	uint8_t			 rc;
	struct mqtt5_props	 props;
};

/* 5.0 DISCONNECT and AUTH: rc 0 and no properties when left out. */
struct mqtt_disconnect {
	uint8_t			 rc;
	struct mqtt5_props	 props;
};

/*
 * SUBSCRIBE and UNSUBSCRIBE keep their validated list as a view of the
 * body; walk it with mqtt_subscribe_next() or mqtt_unsubscribe_next().
 */
struct mqtt_subscribe {
	uint16_t		 id;
	size_t			 count;		/* >= 1 */
	struct bytes_view	 list;
	struct mqtt5_props	 props;		/* 5.0 */
};

/* SUBACK (and 5.0 UNSUBACK): one return code per filter, in order. */
struct mqtt_suback {
	uint16_t		 id;
	struct bytes_view	 codes;		/* >= 1 byte */
	struct mqtt5_props	 props;		/* 5.0 */
};

/* One SUBSCRIBE entry, for the encoder. */
struct mqtt_topic_qos {
	struct bytes_view	 filter;
	uint8_t			 qos;
};

/* Any packet, as mqtt_decode() fills it; the member follows hdr.type. */
struct mqtt_packet {
	struct mqtt_hdr		 hdr;
	union {
		struct mqtt_connect	 connect;	/* CONNECT */
		struct mqtt_connack	 connack;	/* CONNACK */
		struct mqtt_publish	 publish;	/* PUBLISH */
		uint16_t		 id;		/* PUBACK..PUBCOMP, UNSUBACK
							   (3.1.1; == ack.id) */
		struct mqtt_ack		 ack;		/* PUBACK..PUBCOMP */
		struct mqtt_subscribe	 subscribe;	/* (UN)SUBSCRIBE */
		struct mqtt_suback	 suback;	/* SUBACK; 5.0 UNSUBACK */
		struct mqtt_disconnect	 disconnect;	/* 5.0 DISCONNECT, AUTH */
	} u;
};

/* Framing. */

/*
 * Finds the packet at the start of `in`.  On 0, *hdr is its fixed header,
 * *body views its body inside `in`, and *consumed is the packet's whole
 * size (header included).  Borrows `in`.
 *   CAIRN_ERR_NEED_MORE  `in` is a proper prefix of a packet;
 *   CAIRN_ERR_PROTO      reserved type 0, or a bad varint (a fifth
 *                        byte, or an overlong form such as 80 00);
 *   CAIRN_ERR_TOO_BIG    header plus body would exceed max_packet bytes,
 *                        told as soon as the header is in.
 * Flags are not checked here: the decoders do, and refuse type 15 (AUTH)
 * below level 5.  Pass SIZE_MAX for no cap.
 */
int	mqtt_frame(struct bytes_view in, size_t max_packet,
	    struct mqtt_hdr *hdr, struct bytes_view *body, size_t *consumed);

/*
 * Decoders.  Each returns 0 or CAIRN_ERR_PROTO (*why set, when why is
 * not NULL), borrows body, and leaves its outputs unchanged on failure.
 */

/*
 * Decodes any packet type by hdr->type into out->u.  `level` is the
 * connection's protocol level (ignored for CONNECT).  Which types a side
 * may receive is the caller's policy.
 */
int	mqtt_decode(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_packet *out, const char **why);
/*
 * As mqtt_decode(), and at level 5 the 5.0 forms: every packet with its
 * properties (mqtt5_props.h says which are refused, with which code).
 * On failure *err says why and with which reason code (err may be NULL).
 *
 *	CONNACK      ack flags | reason code | properties
 *	PUBLISH      topic | [id] | properties | payload
 *	PUBACK..PUBCOMP  id [| reason code [| properties]]
 *	SUBSCRIBE    id | properties | (filter, options)+
 *	             options: 7-6 reserved (0: else 0x81), 5-4 retain
 *	             handling (3: 0x82), 3 retain as published, 2 no local,
 *	             1-0 QoS (3: 0x81)
 *	UNSUBSCRIBE  id | properties | filter+
 *	SUBACK, UNSUBACK  id | properties | reason code+
 *	DISCONNECT, AUTH  [reason code [| properties]]
 * A reason code not defined for the packet is malformed (0x81).
 */
int	mqtt_decode_ex(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_packet *out, struct mqtt_err *err);

/*
 * CONNECT:
 *
 *	2+n        1      1      2          2+n        2+n    2+n   2+n  2+n
 *	proto name level  flags  keepalive  client id  [will topic, will
 *	                                                message] [user] [pass]
 *	flags: 7 user, 6 pass, 5 will retain, 4-3 will QoS, 2 will,
 *	       1 clean session, 0 reserved (must be 0) [MQTT-3.1.2-3]
 *
 * Three outcomes:
 *   CAIRN_ERR_PROTO: malformed; close without a CONNACK.  Flags other
 *     than 0000, a protocol name other than "MQTT" and "MQIsdp", reserved
 *     bit set, will QoS 3, will QoS or retain set without the will flag,
 *     a password without a user name (3.1.1), bad UTF-8 or U+0000 in a
 *     string, a will topic that is not a topic name, missing or trailing
 *     bytes.
 *   0 with out->connack_rc == MQTT_CONNACK_BAD_PROTOCOL: a known name
 *     with another level (e.g. "MQTT" 5).  Only out->level is set; the
 *     rest is not parsed.  Answer 0x01 and close [MQTT-3.1.2-2].
 *   0 with out->connack_rc == MQTT_CONNACK_ID_REJECTED: well-formed, but
 *     3.1.1 with an empty client id and clean session 0 [MQTT-3.1.3-8],
 *     or 3.1 with a client id outside 1..23 bytes.  Answer 0x02 and
 *     close.  All fields are set.
 *   0 with connack_rc 0: accept or refuse by policy.
 */
int	mqtt_decode_connect(const struct mqtt_hdr *, struct bytes_view body,
	    struct mqtt_connect *out, const char **why);
/*
 * As mqtt_decode_connect(), with the reason code of a refusal in *err.
 * Level 5 ("MQTT" 5) is decoded:
 *
 *	name level flags keepalive properties client-id [will-properties
 *	will-topic will-payload] [user] [password]
 *
 * where a password needs no user name and an empty client id is allowed
 * with clean start 0 too (the server assigns one, 3.1.3.1).  A 5.0
 * failure's code is to be sent in a CONNACK before closing (3.1.4).
 */
int	mqtt_decode_connect_ex(const struct mqtt_hdr *, struct bytes_view body,
	    struct mqtt_connect *out, struct mqtt_err *err);

/*
 * CONNACK (flags 0000, 2 bytes):  ack flags (bit 0 session present; 7-1
 * reserved, 0) | return code 0..5.  For 3.1 the first byte is ignored
 * and session_present is 0.  A session present flag with a non-zero code
 * is malformed [MQTT-3.2.2-4].
 */
int	mqtt_decode_connack(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_connack *out, const char **why);

/*
 * PUBLISH (flags: 3 DUP, 2-1 QoS, 0 RETAIN):
 *
 *	2+n         2 (QoS 1, 2 only)   rest
 *	topic name  packet id           payload (may be empty)
 *
 * QoS 3 is malformed [MQTT-3.3.1-4], and so is DUP with QoS 0
 * [MQTT-3.3.1-2] at level 3.1.1.  The topic must pass
 * mqtt_topic_name_valid() and the id be non-zero [MQTT-2.3.1-1].
 */
int	mqtt_decode_publish(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_publish *out, const char **why);

/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a non-zero 2-byte packet
 * id and nothing else.  Flags 0000, but 0010 for PUBREL [MQTT-3.6.1-1]
 * (at level 3.1 also 1010, DUP set).
 */
int	mqtt_decode_ack(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, uint16_t *id, const char **why);

/*
 * SUBSCRIBE (flags 0010 [MQTT-3.8.1-1]; 3.1 also 1010):
 *
 *	2          then 1 or more of:  2+n           1
 *	packet id                      topic filter  requested QoS
 *
 * Each filter passes mqtt_topic_filter_valid(), each QoS byte is 0..2
 * with bits 7-2 zero [MQTT-3.8.3-4], and there is at least one
 * [MQTT-3.8.3-3].
 */
int	mqtt_decode_subscribe(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_subscribe *out, const char **why);

/*
 * UNSUBSCRIBE (flags 0010 [MQTT-3.10.1-1]; 3.1 also 1010):
 *
 *	2          then 1 or more of:  2+n
 *	packet id                      topic filter
 */
int	mqtt_decode_unsubscribe(const struct mqtt_hdr *, struct bytes_view body,
	    uint8_t level, struct mqtt_subscribe *out, const char **why);

/*
 * SUBACK (flags 0000):  packet id (2) | one code per filter, each 0, 1,
 * 2 or 0x80; at least one.
 */
int	mqtt_decode_suback(const struct mqtt_hdr *, struct bytes_view body,
	    struct mqtt_suback *out, const char **why);

/* PINGREQ, PINGRESP, DISCONNECT: flags 0000 and an empty body. */
int	mqtt_decode_empty(const struct mqtt_hdr *, struct bytes_view body,
	    const char **why);

/*
 * Walk a decoded SUBSCRIBE or UNSUBSCRIBE list.  *list is the caller's
 * copy of the struct's list and is advanced past each entry.  1 and the
 * entry, or 0 at the end.  Only for lists a decoder validated.
 */
int	mqtt_subscribe_next(struct bytes_view *list, struct bytes_view *filter,
	    uint8_t *qos);
int	mqtt_unsubscribe_next(struct bytes_view *list,
	    struct bytes_view *filter);

/*
 * Encoders.  Each writes one whole packet or nothing, and returns 0,
 * CAIRN_ERR_INVAL (bad arguments: see each), or w's error.  Views are
 * borrowed and copied into w.
 */

/* Server side. */

/* CONNACK; session_present is sent for 3.1.1 only (3.1's byte is 0). */
int	mqtt_encode_connack(struct bytes_w *, uint8_t level,
	    int session_present, uint8_t rc);
/*
 * PUBLISH, either way.  INVAL: qos > 2, id 0 with qos > 0, a topic over
 * 65535 bytes, or a packet over the varint's range.  The topic and dup
 * are written as given (checking them is the caller's business).
 */
int	mqtt_encode_publish(struct bytes_w *, const struct mqtt_publish *);
/* The exact size mqtt_encode_publish() writes, or 0 if it would fail. */
size_t	mqtt_publish_size(const struct mqtt_publish *);
/* PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP or UNSUBACK.  INVAL: another type. */
int	mqtt_encode_ack(struct bytes_w *, enum mqtt_type, uint16_t id);
/* SUBACK with n >= 1 codes.  INVAL: n == 0 or too many. */
int	mqtt_encode_suback(struct bytes_w *, uint16_t id,
	    const uint8_t *codes, size_t n);
/* PINGREQ, PINGRESP or DISCONNECT.  INVAL: another type. */
int	mqtt_encode_empty(struct bytes_w *, enum mqtt_type);

/*
 * 5.0 forms.  props may be NULL (no properties: an empty block).
 * CONNACK: INVAL for a reason code not defined for CONNACK.
 */
int	mqtt_encode_connack5(struct bytes_w *, int session_present,
	    uint8_t rc, const struct mqtt5_props *props);
/* PUBLISH with properties; the topic may be empty with a topic alias. */
int	mqtt_encode_publish5(struct bytes_w *, const struct mqtt_publish *,
	    const struct mqtt5_props *props);
/* The exact size mqtt_encode_publish5() writes, or 0 if it would fail. */
size_t	mqtt_publish5_size(const struct mqtt_publish *,
	    const struct mqtt5_props *props);
/*
 * PUBLISH whose property block is `carried` alone: properties already
 * encoded (a message's carried properties, mqtt5_props_carry()),
 * written as they are, not checked.  The same bytes as
 * mqtt_encode_publish5() with props holding only user = carried, with
 * no struct mqtt5_props to fill and walk: a broker's delivery with
 * nothing of its own to add (no topic alias, message expiry or
 * subscription identifier) writes the message's bytes, encoded once
 * when it was published.  INVAL as there.
 */
int	mqtt_encode_publish5_carried(struct bytes_w *,
	    const struct mqtt_publish *, struct bytes_view carried);
/* The exact size mqtt_encode_publish5_carried() writes, or 0. */
size_t	mqtt_publish5_carried_size(const struct mqtt_publish *,
	    struct bytes_view carried);
/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP in their shortest form: the 2-byte
 * one for rc 0 without properties, 3 bytes with rc and no properties.
 */
int	mqtt_encode_ack5(struct bytes_w *, enum mqtt_type, uint16_t id,
	    uint8_t rc, const struct mqtt5_props *props);
/* SUBACK or UNSUBACK with n >= 1 reason codes. */
int	mqtt_encode_suback5(struct bytes_w *, enum mqtt_type, uint16_t id,
	    const uint8_t *codes, size_t n, const struct mqtt5_props *props);
/* DISCONNECT or AUTH; rc 0 without properties is the empty form. */
int	mqtt_encode_disconnect5(struct bytes_w *, enum mqtt_type, uint8_t rc,
	    const struct mqtt5_props *props);

/* Client side. */

/*
 * CONNECT from c's fields: the protocol name follows c->level ("MQTT"
 * for 4 and 5, "MQIsdp" for 3), the flags the has_/will_ fields; absent
 * fields are not written; level 5 writes props and will_props.
 * connack_rc is ignored.  INVAL: a level other than 3, 4 and 5, will QoS
 * > 2, a string over 65535 bytes.
 */
int	mqtt_encode_connect(struct bytes_w *, const struct mqtt_connect *c);
/* SUBSCRIBE with n >= 1 entries.  INVAL: n == 0, a filter too long. */
int	mqtt_encode_subscribe(struct bytes_w *, uint16_t id,
	    const struct mqtt_topic_qos *subs, size_t n);
/* UNSUBSCRIBE with n >= 1 filters.  INVAL: n == 0, a filter too long. */
int	mqtt_encode_unsubscribe(struct bytes_w *, uint16_t id,
	    const struct bytes_view *filters, size_t n);
/* 5.0 SUBSCRIBE: each entry's qos is the whole options byte. */
int	mqtt_encode_subscribe5(struct bytes_w *, uint16_t id,
	    const struct mqtt_topic_qos *subs, size_t n,
	    const struct mqtt5_props *props);
/* 5.0 UNSUBSCRIBE. */
int	mqtt_encode_unsubscribe5(struct bytes_w *, uint16_t id,
	    const struct bytes_view *filters, size_t n,
	    const struct mqtt5_props *props);

#endif
