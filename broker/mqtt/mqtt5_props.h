/*
 * MQTT 5.0 properties (OASIS MQTT 5.0, section 2.2.2) and reason codes
 * (section 2.4).  Pure: no sockets, clock, logging or globals.  The
 * decoder validates a property block and fills a struct of values and
 * views into the caller's buffer; it allocates nothing.  The encoder
 * writes the same struct back.
 *
 * A property block is a variable byte integer length, then that many
 * bytes of properties, each an identifier (a varint; every defined one
 * fits in one byte) and a value of the identifier's type:
 *
 *	byte      1 byte          (0 or 1 where the spec says so)
 *	two       2 bytes big-endian
 *	four      4 bytes big-endian
 *	varint    1 to 4 bytes, minimal form
 *	string    2-byte length, UTF-8 without U+0000
 *	binary    2-byte length, any bytes
 *	pair      two strings (user property: name, value)
 *
 * What the decoder refuses, and the reason code it gives:
 *   0x81 malformed: a truncated property or block, a bad varint, an
 *        identifier that is not defined or not allowed in this packet
 *        (2.2.2.2: "not valid for its packet type"), a string that is not
 *        UTF-8 or holds U+0000.
 *   0x82 protocol error: a property twice (all but user property, and
 *        subscription identifier in a PUBLISH the server sends), a byte
 *        property other than 0 or 1 (maximum QoS: 0 or 1), receive
 *        maximum 0, maximum packet size 0, subscription identifier 0,
 *        authentication data without authentication method.
 *   0x94 topic alias invalid: a topic alias of 0 [MQTT-3.3.2-8].
 * Limits that depend on the connection (topic alias maximum, maximum
 * packet size) are the caller's.
 */
#ifndef CAIRN_BROKER_MQTT5_PROPS_H
#define CAIRN_BROKER_MQTT5_PROPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define MQTT_LEVEL_5		5	/* "MQTT" 5: OASIS MQTT 5.0 */

/* Property identifiers (2.2.2.2).  Do not change. */
enum mqtt5_prop_id {
	MQTT5_PROP_PAYLOAD_FORMAT = 0x01,	/* byte */
	MQTT5_PROP_MESSAGE_EXPIRY = 0x02,	/* four */
	MQTT5_PROP_CONTENT_TYPE = 0x03,		/* string */
	MQTT5_PROP_RESPONSE_TOPIC = 0x08,	/* string */
	MQTT5_PROP_CORRELATION_DATA = 0x09,	/* binary */
	MQTT5_PROP_SUB_ID = 0x0b,		/* varint */
	MQTT5_PROP_SESSION_EXPIRY = 0x11,	/* four */
	MQTT5_PROP_ASSIGNED_CLIENT_ID = 0x12,	/* string */
	MQTT5_PROP_SERVER_KEEP_ALIVE = 0x13,	/* two */
	MQTT5_PROP_AUTH_METHOD = 0x15,		/* string */
	MQTT5_PROP_AUTH_DATA = 0x16,		/* binary */
	MQTT5_PROP_REQUEST_PROBLEM = 0x17,	/* byte */
	MQTT5_PROP_WILL_DELAY = 0x18,		/* four */
	MQTT5_PROP_REQUEST_RESPONSE = 0x19,	/* byte */
	MQTT5_PROP_RESPONSE_INFO = 0x1a,	/* string */
	MQTT5_PROP_SERVER_REFERENCE = 0x1c,	/* string */
	MQTT5_PROP_REASON_STRING = 0x1f,	/* string */
	MQTT5_PROP_RECEIVE_MAX = 0x21,		/* two */
	MQTT5_PROP_TOPIC_ALIAS_MAX = 0x22,	/* two */
	MQTT5_PROP_TOPIC_ALIAS = 0x23,		/* two */
	MQTT5_PROP_MAX_QOS = 0x24,		/* byte */
	MQTT5_PROP_RETAIN_AVAILABLE = 0x25,	/* byte */
	MQTT5_PROP_USER = 0x26,			/* pair */
	MQTT5_PROP_MAX_PACKET_SIZE = 0x27,	/* four */
	MQTT5_PROP_WILDCARD_AVAILABLE = 0x28,	/* byte */
	MQTT5_PROP_SUB_ID_AVAILABLE = 0x29,	/* byte */
	MQTT5_PROP_SHARED_AVAILABLE = 0x2a,	/* byte */
};
#define MQTT5_PROP_ID_MAX	0x2a

/*
 * Where a property block is: the packet type (enum mqtt_type, 1..14),
 * MQTT5_IN_AUTH for AUTH (type 15), MQTT5_IN_WILL for a CONNECT's will
 * properties.
 */
#define MQTT5_IN_WILL		0
#define MQTT5_IN_AUTH		15

/* Reason codes (2.4), all of them.  Do not change. */
enum mqtt5_rc {
	MQTT5_RC_SUCCESS = 0x00,		/* also normal disconnection,
						   granted QoS 0 */
	MQTT5_RC_GRANTED_QOS1 = 0x01,
	MQTT5_RC_GRANTED_QOS2 = 0x02,
	MQTT5_RC_DISCONNECT_WITH_WILL = 0x04,
	MQTT5_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	MQTT5_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	MQTT5_RC_CONTINUE_AUTH = 0x18,
	MQTT5_RC_REAUTHENTICATE = 0x19,
	MQTT5_RC_UNSPECIFIED = 0x80,
	MQTT5_RC_MALFORMED = 0x81,
	MQTT5_RC_PROTOCOL_ERROR = 0x82,
	MQTT5_RC_IMPL_SPECIFIC = 0x83,
	MQTT5_RC_UNSUPPORTED_VERSION = 0x84,
	MQTT5_RC_CLIENT_ID_INVALID = 0x85,
	MQTT5_RC_BAD_USER_OR_PASSWORD = 0x86,
	MQTT5_RC_NOT_AUTHORIZED = 0x87,
	MQTT5_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT5_RC_SERVER_BUSY = 0x89,
	MQTT5_RC_BANNED = 0x8a,
	MQTT5_RC_SERVER_SHUTTING_DOWN = 0x8b,
	MQTT5_RC_BAD_AUTH_METHOD = 0x8c,
	MQTT5_RC_KEEP_ALIVE_TIMEOUT = 0x8d,
	MQTT5_RC_SESSION_TAKEN_OVER = 0x8e,
	MQTT5_RC_TOPIC_FILTER_INVALID = 0x8f,
	MQTT5_RC_TOPIC_NAME_INVALID = 0x90,
	MQTT5_RC_PACKET_ID_IN_USE = 0x91,
	MQTT5_RC_PACKET_ID_NOT_FOUND = 0x92,
	MQTT5_RC_RECEIVE_MAX_EXCEEDED = 0x93,
	MQTT5_RC_TOPIC_ALIAS_INVALID = 0x94,
	MQTT5_RC_PACKET_TOO_LARGE = 0x95,
	MQTT5_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
	MQTT5_RC_QUOTA_EXCEEDED = 0x97,
	MQTT5_RC_ADMIN_ACTION = 0x98,
	MQTT5_RC_PAYLOAD_FORMAT_INVALID = 0x99,
	MQTT5_RC_RETAIN_NOT_SUPPORTED = 0x9a,
	MQTT5_RC_QOS_NOT_SUPPORTED = 0x9b,
	MQTT5_RC_USE_ANOTHER_SERVER = 0x9c,
	MQTT5_RC_SERVER_MOVED = 0x9d,
	MQTT5_RC_SHARED_NOT_SUPPORTED = 0x9e,
	MQTT5_RC_CONNECTION_RATE_EXCEEDED = 0x9f,
	MQTT5_RC_MAX_CONNECT_TIME = 0xa0,
	MQTT5_RC_SUB_IDS_NOT_SUPPORTED = 0xa1,
	MQTT5_RC_WILDCARDS_NOT_SUPPORTED = 0xa2,
};

/*
 * 1 if rc is a reason code the spec defines for packet type `in`
 * (an MQTT5_IN_* or enum mqtt_type: CONNACK, PUBACK..PUBCOMP, SUBACK,
 * UNSUBACK, DISCONNECT, AUTH), else 0.
 */
int	mqtt5_rc_valid(int in, uint8_t rc);
/* The spec's name of a reason code ("Quota exceeded"), for log lines. */
const char *mqtt5_rc_name(uint8_t rc);

/* At most this many subscription identifiers are kept for encoding. */
#define MQTT5_SUB_IDS_MAX	8

/*
 * A property block.  `present` has bit (1 << id) for each property
 * found (or to encode).  Integers hold their value, views point into the
 * packet.  User properties are walked in `raw` with mqtt5_props_next();
 * subscription identifiers are in sub_ids[] (the first
 * MQTT5_SUB_IDS_MAX; n_sub_ids counts them all).
 *
 * For encoding, set the values and their `present` bits; `user` is
 * written after them as is: already encoded properties (user properties,
 * or a message's carried properties), not checked, and the USER bit is
 * ignored.  When n_sub_ids > 0, sub_ids[0..n_sub_ids) are written (a
 * PUBLISH to a subscriber), else sub_id if its bit is set.
 */
struct mqtt5_props {
	uint64_t		 present;
	uint8_t			 payload_format;
	uint8_t			 request_problem;	/* default 1 (3.1.2.11.7) */
	uint8_t			 request_response;
	uint8_t			 max_qos;
	uint8_t			 retain_available;
	uint8_t			 wildcard_available;
	uint8_t			 sub_id_available;
	uint8_t			 shared_available;
	uint16_t		 server_keep_alive;
	uint16_t		 receive_max;
	uint16_t		 topic_alias_max;
	uint16_t		 topic_alias;
	uint32_t		 message_expiry;
	uint32_t		 session_expiry;
	uint32_t		 will_delay;
	uint32_t		 max_packet_size;
	uint32_t		 sub_id;		/* the first one decoded */
	uint32_t		 sub_ids[MQTT5_SUB_IDS_MAX];
	size_t			 n_sub_ids;		/* decoded: how many */
	size_t			 n_user;		/* decoded: how many */
	struct bytes_view	 content_type;
	struct bytes_view	 response_topic;
	struct bytes_view	 correlation_data;
	struct bytes_view	 assigned_client_id;
	struct bytes_view	 auth_method;
	struct bytes_view	 auth_data;
	struct bytes_view	 response_info;
	struct bytes_view	 server_reference;
	struct bytes_view	 reason_string;
	struct bytes_view	 user;		/* encoding: appended as is */
	struct bytes_view	 raw;		/* decoded: the whole block,
						   without its length */
};

#define MQTT5_HAS(p, id)	(((p)->present >> (id)) & 1)
#define MQTT5_SET(p, id)	((p)->present |= (uint64_t)1 << (id))

/* Empties p (nothing present, request_problem 1). */
void	mqtt5_props_init(struct mqtt5_props *p);

/*
 * Decodes the property block at r's cursor (its varint length and its
 * properties) for packet `in` (MQTT5_IN_* or enum mqtt_type) into *out
 * and advances r past it.  0, or the reason code of the refusal (see
 * above) with *why set; r and *out are then unspecified.  Borrows r's
 * bytes: the views point into them.
 */
int	mqtt5_props_decode(struct bytes_r *r, int in, struct mqtt5_props *out,
	    const char **why);

/*
 * Walks the properties of a decoded block: *it starts as a copy of
 * props->raw and is advanced past each.  1 with the identifier and the
 * value's bytes (for a pair: *a name, *b value; for a string or binary:
 * *a; for integers *a holds the encoded bytes), or 0 at the end.  Only for
 * blocks mqtt5_props_decode() accepted.
 */
int	mqtt5_props_next(struct bytes_view *it, uint8_t *id,
	    struct bytes_view *a, struct bytes_view *b);

/*
 * The properties of a PUBLISH a broker carries to subscribers unchanged
 * (payload format, content type, response topic, correlation data, user
 * properties, in the order received): the block without topic alias,
 * message expiry interval and subscription identifiers (and, in a
 * will's block, the will delay interval).  When the block
 * holds none of those, 1 and *out = the raw view (no copy); when it
 * holds nothing else, 1 and an empty *out.  Otherwise 0: copy them
 * with mqtt5_props_carry() into a buffer of raw.len bytes.
 */
int	mqtt5_props_carried_view(const struct mqtt5_props *p,
	    struct bytes_view *out);
/* Copies the carried properties into buf (>= raw.len bytes); the length. */
size_t	mqtt5_props_carry(const struct mqtt5_props *p, uint8_t *buf);

/*
 * Size of the block's properties (without the length varint), or
 * SIZE_MAX if a value cannot be encoded (a string or binary over 65535
 * bytes, a subscription identifier 0 or over 268,435,455, too many).
 */
size_t	mqtt5_props_len(const struct mqtt5_props *p);
/* Size of the whole block, its length varint included; SIZE_MAX as above. */
size_t	mqtt5_props_size(const struct mqtt5_props *p);
/*
 * Writes the block (length, then each present property in identifier
 * order, then sub_ids, then `user`).  w must have room for
 * mqtt5_props_size() bytes (the packet encoders reserve it); returns w's
 * error.  NULL p writes an empty block (one 0 byte).
 */
int	mqtt5_props_encode(struct bytes_w *w, const struct mqtt5_props *p);
/*
 * mqtt5_props_encode() for a caller that has len = mqtt5_props_len(p)
 * already (a packet encoder sizing its packet): the properties are not
 * walked twice.  len SIZE_MAX is CAIRN_ERR_INVAL, as there.
 */
int	mqtt5_props_write(struct bytes_w *w, const struct mqtt5_props *p,
	    size_t len);

/* Size of one encoded user property (for building `user`). */
size_t	mqtt5_user_prop_size(struct bytes_view name, struct bytes_view value);
/* Appends one user property; INVAL for a string over 65535 bytes. */
int	mqtt5_user_prop_put(struct bytes_w *w, struct bytes_view name,
	    struct bytes_view value);

/* The size of a varint holding v (1 to 4). */
size_t	mqtt_varint_size(size_t v);

#endif
