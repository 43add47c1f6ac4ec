/*
 * Unit tests for MQTT 5.0 in broker/mqtt: every property (mqtt5_props)
 * encoded and decoded back, where each may appear, every malformed and
 * refused block with the reason code the spec gives it (0x81 malformed,
 * 0x82 protocol error, 0x94 topic alias invalid), the carried properties
 * of a PUBLISH, the reason code tables, and every 5.0 packet of
 * mqtt_codec round-tripped, in its shortest forms and its refusals.
 *
 * Packets and property blocks are byte arrays with a comment per field.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt5_props.h"
#include "broker/mqtt/mqtt_codec.h"
#include "common/bytes.h"
#include "common/err.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define V5		MQTT_LEVEL_5

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static int
view_eq(struct bytes_view a, struct bytes_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Encodes p, decodes it back for `in`; the decoded block in *out. */
static void
props_roundtrip(const struct mqtt5_props *p, int in, struct mqtt5_props *out,
    uint8_t *buf, size_t cap)
{
	struct bytes_w w;
	struct bytes_r r;
	const char *why = NULL;
	int rc;

	bytes_w_init_fixed(&w, buf, cap);
	ck_assert_uint_ne(mqtt5_props_size(p), SIZE_MAX);
	ck_assert_int_eq(bytes_w_reserve(&w, mqtt5_props_size(p)), 0);
	ck_assert_int_eq(mqtt5_props_encode(&w, p), 0);
	ck_assert_uint_eq(w.len, mqtt5_props_size(p));
	bytes_r_init(&r, buf, w.len);
	rc = mqtt5_props_decode(&r, in, out, &why);
	ck_assert_msg(rc == 0, "decode: 0x%02x (%s)", rc, why);
	ck_assert_uint_eq(bytes_r_left(&r), 0);
	ck_assert_uint_eq(out->raw.len, mqtt5_props_len(p));
}

/*
 * Properties.
 */

/* One row per property: set it, round-trip it where it is allowed. */
struct prop_row {
	uint8_t		 id;
	int		 in;		/* a packet it is allowed in */
	int		 not_in;	/* one it is not (0x81 there) */
};

static const struct prop_row prop_rows[] = {
	{ MQTT5_PROP_PAYLOAD_FORMAT, MQTT_PUBLISH, MQTT_CONNECT },
	{ MQTT5_PROP_MESSAGE_EXPIRY, MQTT5_IN_WILL, MQTT_CONNACK },
	{ MQTT5_PROP_CONTENT_TYPE, MQTT_PUBLISH, MQTT_SUBSCRIBE },
	{ MQTT5_PROP_RESPONSE_TOPIC, MQTT5_IN_WILL, MQTT_CONNECT },
	{ MQTT5_PROP_CORRELATION_DATA, MQTT_PUBLISH, MQTT_PUBACK },
	{ MQTT5_PROP_SUB_ID, MQTT_SUBSCRIBE, MQTT_UNSUBSCRIBE },
	{ MQTT5_PROP_SESSION_EXPIRY, MQTT_DISCONNECT, MQTT5_IN_WILL },
	{ MQTT5_PROP_ASSIGNED_CLIENT_ID, MQTT_CONNACK, MQTT_CONNECT },
	{ MQTT5_PROP_SERVER_KEEP_ALIVE, MQTT_CONNACK, MQTT_CONNECT },
	{ MQTT5_PROP_AUTH_METHOD, MQTT5_IN_AUTH, MQTT_DISCONNECT },
	{ MQTT5_PROP_AUTH_DATA, MQTT_CONNECT, MQTT_PUBLISH },
	{ MQTT5_PROP_REQUEST_PROBLEM, MQTT_CONNECT, MQTT_CONNACK },
	{ MQTT5_PROP_WILL_DELAY, MQTT5_IN_WILL, MQTT_CONNECT },
	{ MQTT5_PROP_REQUEST_RESPONSE, MQTT_CONNECT, MQTT5_IN_WILL },
	{ MQTT5_PROP_RESPONSE_INFO, MQTT_CONNACK, MQTT_CONNECT },
	{ MQTT5_PROP_SERVER_REFERENCE, MQTT_DISCONNECT, MQTT_CONNECT },
	{ MQTT5_PROP_REASON_STRING, MQTT_PUBREL, MQTT_PUBLISH },
	{ MQTT5_PROP_RECEIVE_MAX, MQTT_CONNECT, MQTT_PUBLISH },
	{ MQTT5_PROP_TOPIC_ALIAS_MAX, MQTT_CONNACK, MQTT_DISCONNECT },
	{ MQTT5_PROP_TOPIC_ALIAS, MQTT_PUBLISH, MQTT5_IN_WILL },
	{ MQTT5_PROP_MAX_QOS, MQTT_CONNACK, MQTT_CONNECT },
	{ MQTT5_PROP_RETAIN_AVAILABLE, MQTT_CONNACK, MQTT_PUBLISH },
	{ MQTT5_PROP_USER, MQTT_UNSUBACK, MQTT_PINGREQ },
	{ MQTT5_PROP_MAX_PACKET_SIZE, MQTT_CONNECT, MQTT_DISCONNECT },
	{ MQTT5_PROP_WILDCARD_AVAILABLE, MQTT_CONNACK, MQTT_SUBACK },
	{ MQTT5_PROP_SUB_ID_AVAILABLE, MQTT_CONNACK, MQTT_SUBSCRIBE },
	{ MQTT5_PROP_SHARED_AVAILABLE, MQTT_CONNACK, MQTT5_IN_AUTH },
};

/* Sets property id in p to a value that is not its default. */
static void
prop_set(struct mqtt5_props *p, uint8_t id, uint8_t *ubuf, size_t ucap)
{
	struct bytes_w w;

	switch (id) {
	case MQTT5_PROP_PAYLOAD_FORMAT: p->payload_format = 1; break;
	case MQTT5_PROP_MESSAGE_EXPIRY: p->message_expiry = 0xfffffffe; break;
	case MQTT5_PROP_CONTENT_TYPE: p->content_type = sv("text/\xc3\xa9"); break;
	case MQTT5_PROP_RESPONSE_TOPIC: p->response_topic = sv("r/1"); break;
	case MQTT5_PROP_CORRELATION_DATA:
		p->correlation_data = bytes_view_of("\0\xff\x01", 3);
		break;
	case MQTT5_PROP_SUB_ID: p->sub_id = 268435455; break;
	case MQTT5_PROP_SESSION_EXPIRY: p->session_expiry = 0xffffffff; break;
	case MQTT5_PROP_ASSIGNED_CLIENT_ID:
		p->assigned_client_id = sv("cairn-1");
		break;
	case MQTT5_PROP_SERVER_KEEP_ALIVE: p->server_keep_alive = 30; break;
	case MQTT5_PROP_AUTH_METHOD: p->auth_method = sv("SCRAM-SHA-256"); break;
	case MQTT5_PROP_AUTH_DATA:
		/* Data needs its method. */
		p->auth_method = sv("SCRAM-SHA-256");
		MQTT5_SET(p, MQTT5_PROP_AUTH_METHOD);
		p->auth_data = bytes_view_of("\0n,,", 4);
		break;
	case MQTT5_PROP_REQUEST_PROBLEM: p->request_problem = 0; break;
	case MQTT5_PROP_WILL_DELAY: p->will_delay = 5; break;
	case MQTT5_PROP_REQUEST_RESPONSE: p->request_response = 1; break;
	case MQTT5_PROP_RESPONSE_INFO: p->response_info = sv("resp/"); break;
	case MQTT5_PROP_SERVER_REFERENCE: p->server_reference = sv("b:1883"); break;
	case MQTT5_PROP_REASON_STRING: p->reason_string = sv("why"); break;
	case MQTT5_PROP_RECEIVE_MAX: p->receive_max = 65535; break;
	case MQTT5_PROP_TOPIC_ALIAS_MAX: p->topic_alias_max = 10; break;
	case MQTT5_PROP_TOPIC_ALIAS: p->topic_alias = 65535; break;
	case MQTT5_PROP_MAX_QOS: p->max_qos = 1; break;
	case MQTT5_PROP_RETAIN_AVAILABLE: p->retain_available = 1; break;
	case MQTT5_PROP_USER:
		bytes_w_init_fixed(&w, ubuf, ucap);
		ck_assert_int_eq(mqtt5_user_prop_put(&w, sv("k"), sv("v1")), 0);
		ck_assert_int_eq(mqtt5_user_prop_put(&w, sv("k"), sv("")), 0);
		p->user = bytes_view_of(ubuf, w.len);
		break;
	case MQTT5_PROP_MAX_PACKET_SIZE: p->max_packet_size = 1; break;
	case MQTT5_PROP_WILDCARD_AVAILABLE: p->wildcard_available = 1; break;
	case MQTT5_PROP_SUB_ID_AVAILABLE: p->sub_id_available = 1; break;
	case MQTT5_PROP_SHARED_AVAILABLE: p->shared_available = 1; break;
	default: ck_abort_msg("no such property 0x%02x", id);
	}
	MQTT5_SET(p, id);
}

START_TEST(mqtt5__prop_roundtrip)
{
	const struct prop_row *t = &prop_rows[_i];
	struct mqtt5_props p, q;
	struct bytes_view it, a, b;
	struct bytes_r r;
	uint8_t buf[256], ubuf[64], id;
	const char *why;
	size_t n;

	mqtt5_props_init(&p);
	prop_set(&p, t->id, ubuf, sizeof(ubuf));
	props_roundtrip(&p, t->in, &q, buf, sizeof(buf));
	ck_assert(MQTT5_HAS(&q, t->id));
	ck_assert_uint_eq(q.payload_format, p.payload_format);
	ck_assert_uint_eq(q.request_problem, p.request_problem);
	ck_assert_uint_eq(q.request_response, p.request_response);
	ck_assert_uint_eq(q.max_qos, p.max_qos);
	ck_assert_uint_eq(q.retain_available, p.retain_available);
	ck_assert_uint_eq(q.wildcard_available, p.wildcard_available);
	ck_assert_uint_eq(q.sub_id_available, p.sub_id_available);
	ck_assert_uint_eq(q.shared_available, p.shared_available);
	ck_assert_uint_eq(q.server_keep_alive, p.server_keep_alive);
	ck_assert_uint_eq(q.receive_max, p.receive_max);
	ck_assert_uint_eq(q.topic_alias_max, p.topic_alias_max);
	ck_assert_uint_eq(q.topic_alias, p.topic_alias);
	ck_assert_uint_eq(q.message_expiry, p.message_expiry);
	ck_assert_uint_eq(q.session_expiry, p.session_expiry);
	ck_assert_uint_eq(q.will_delay, p.will_delay);
	ck_assert_uint_eq(q.max_packet_size, p.max_packet_size);
	ck_assert_uint_eq(q.sub_id, p.sub_id);
	ck_assert(view_eq(q.content_type, p.content_type));
	ck_assert(view_eq(q.response_topic, p.response_topic));
	ck_assert(view_eq(q.correlation_data, p.correlation_data));
	ck_assert(view_eq(q.assigned_client_id, p.assigned_client_id));
	ck_assert(view_eq(q.auth_method, p.auth_method));
	ck_assert(view_eq(q.auth_data, p.auth_data));
	ck_assert(view_eq(q.response_info, p.response_info));
	ck_assert(view_eq(q.server_reference, p.server_reference));
	ck_assert(view_eq(q.reason_string, p.reason_string));
	if (t->id == MQTT5_PROP_USER) {
		/* Both, in order, the same name twice. */
		ck_assert_uint_eq(q.n_user, 2);
		it = q.raw;
		n = 0;
		while (mqtt5_props_next(&it, &id, &a, &b)) {
			ck_assert_uint_eq(id, MQTT5_PROP_USER);
			ck_assert(view_eq(a, sv("k")));
			ck_assert(view_eq(b, sv(n == 0 ? "v1" : "")));
			n++;
		}
		ck_assert_uint_eq(n, 2);
	}
	/* The same block where the property is not allowed: malformed. */
	bytes_r_init(&r, buf, mqtt5_props_size(&p));
	ck_assert_int_eq(mqtt5_props_decode(&r, t->not_in, &q, &why),
	    MQTT5_RC_MALFORMED);
}
END_TEST

START_TEST(mqtt5__prop_every_one_at_once)
{
	struct mqtt5_props p, q;
	uint8_t buf[512], ubuf[64];
	unsigned int i;

	/* Every property, as an encoder would never send them, all in one
	 * block: the encoder and decoder agree on all, in identifier order. */
	mqtt5_props_init(&p);
	for (i = 0; i < NELEM(prop_rows); i++)
		prop_set(&p, prop_rows[i].id, ubuf, sizeof(ubuf));
	ck_assert_uint_ne(mqtt5_props_size(&p), SIZE_MAX);
	/* No packet allows all; the table says so for each place. */
	for (i = 0; i <= 15; i++) {
		struct bytes_w w;
		struct bytes_r r;
		const char *why;

		bytes_w_init_fixed(&w, buf, sizeof(buf));
		ck_assert_int_eq(mqtt5_props_encode(&w, &p), 0);
		bytes_r_init(&r, buf, w.len);
		ck_assert_int_eq(mqtt5_props_decode(&r, (int)i, &q, &why),
		    MQTT5_RC_MALFORMED);
	}
}
END_TEST

/* A property block and what decoding it for `in` gives. */
struct bad_props {
	const char	*name;
	int		 in;
	int		 rc;		/* 0: accepted */
	size_t		 len;
	uint8_t		 b[32];
};

#define BP(n, in, rc, ...)	{ n, in, rc,				\
	sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }

static const struct bad_props bad_props[] = {
	BP("empty block", MQTT_PUBLISH, 0, 0x00),
	BP("no length", MQTT_PUBLISH, MQTT5_RC_MALFORMED, 0x80),
	BP("length: fifth varint byte", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x80, 0x80, 0x80, 0x80, 0x01),
	BP("length: overlong 80 00", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x80, 0x00),
	BP("length past the end", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x05, 0x01, 0x00),
	BP("identifier 0", MQTT_PUBLISH, MQTT5_RC_MALFORMED, 0x02, 0x00, 0x00),
	BP("identifier 0x04 undefined", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x02, 0x04, 0x00),
	BP("identifier 0x2b undefined", MQTT_CONNACK, MQTT5_RC_MALFORMED,
	    0x02, 0x2b, 0x00),
	BP("identifier overlong varint", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x03, 0x81, 0x00, 0x00),
	BP("receive maximum in PUBLISH", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x03, 0x21, 0x00, 0x05),
	BP("topic alias in the will", MQTT5_IN_WILL, MQTT5_RC_MALFORMED,
	    0x03, 0x23, 0x00, 0x01),
	BP("any property in PINGREQ", MQTT_PINGREQ, MQTT5_RC_MALFORMED,
	    0x02, 0x01, 0x00),
	BP("byte truncated", MQTT_PUBLISH, MQTT5_RC_MALFORMED, 0x01, 0x01),
	BP("two bytes truncated", MQTT_CONNECT, MQTT5_RC_MALFORMED,
	    0x02, 0x21, 0x00),
	BP("four bytes truncated", MQTT_CONNECT, MQTT5_RC_MALFORMED,
	    0x04, 0x11, 0x00, 0x00, 0x00),
	BP("varint truncated", MQTT_SUBSCRIBE, MQTT5_RC_MALFORMED,
	    0x02, 0x0b, 0x80),
	BP("varint overlong", MQTT_SUBSCRIBE, MQTT5_RC_MALFORMED,
	    0x03, 0x0b, 0x81, 0x00),
	BP("string truncated", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x04, 0x03, 0x00, 0x05, 'a'),
	BP("string not UTF-8", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x05, 0x03, 0x00, 0x02, 0xc3, 0x28),
	BP("string with U+0000", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x05, 0x08, 0x00, 0x02, 'a', 0x00),
	BP("string surrogate", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x06, 0x03, 0x00, 0x03, 0xed, 0xa0, 0x80),
	BP("user property value missing", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x04, 0x26, 0x00, 0x01, 'k'),
	BP("user property value with U+0000", MQTT_PUBLISH,
	    MQTT5_RC_MALFORMED,
	    0x08, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 0x00, 0x00),
	BP("binary truncated", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x03, 0x09, 0x00, 0x01),
	BP("binary with NUL is fine", MQTT_PUBLISH, 0,
	    0x04, 0x09, 0x00, 0x01, 0x00),
	BP("payload format twice", MQTT_PUBLISH, MQTT5_RC_PROTOCOL_ERROR,
	    0x04, 0x01, 0x00, 0x01, 0x01),
	BP("content type twice", MQTT_PUBLISH, MQTT5_RC_PROTOCOL_ERROR,
	    0x08, 0x03, 0x00, 0x01, 'a', 0x03, 0x00, 0x01, 'b'),
	BP("session expiry twice", MQTT_CONNECT, MQTT5_RC_PROTOCOL_ERROR,
	    0x0a, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1),
	BP("user property twice is fine", MQTT_CONNECT, 0,
	    0x0e, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',
	    0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'),
	BP("subscription id twice in SUBSCRIBE", MQTT_SUBSCRIBE,
	    MQTT5_RC_PROTOCOL_ERROR, 0x04, 0x0b, 0x01, 0x0b, 0x02),
	BP("subscription id twice in PUBLISH is fine", MQTT_PUBLISH, 0,
	    0x04, 0x0b, 0x01, 0x0b, 0x02),
	BP("subscription id 0", MQTT_SUBSCRIBE, MQTT5_RC_PROTOCOL_ERROR,
	    0x02, 0x0b, 0x00),
	BP("subscription id 0 in PUBLISH", MQTT_PUBLISH,
	    MQTT5_RC_PROTOCOL_ERROR, 0x02, 0x0b, 0x00),
	BP("topic alias 0", MQTT_PUBLISH, MQTT5_RC_TOPIC_ALIAS_INVALID,
	    0x03, 0x23, 0x00, 0x00),
	BP("receive maximum 0", MQTT_CONNECT, MQTT5_RC_PROTOCOL_ERROR,
	    0x03, 0x21, 0x00, 0x00),
	BP("receive maximum 0 from a server", MQTT_CONNACK,
	    MQTT5_RC_PROTOCOL_ERROR, 0x03, 0x21, 0x00, 0x00),
	BP("maximum packet size 0", MQTT_CONNECT, MQTT5_RC_PROTOCOL_ERROR,
	    0x05, 0x27, 0x00, 0x00, 0x00, 0x00),
	BP("payload format 2", MQTT_PUBLISH, MQTT5_RC_PROTOCOL_ERROR,
	    0x02, 0x01, 0x02),
	BP("request problem information 2", MQTT_CONNECT,
	    MQTT5_RC_PROTOCOL_ERROR, 0x02, 0x17, 0x02),
	BP("request response information 2", MQTT_CONNECT,
	    MQTT5_RC_PROTOCOL_ERROR, 0x02, 0x19, 0x02),
	BP("maximum QoS 2", MQTT_CONNACK, MQTT5_RC_PROTOCOL_ERROR,
	    0x02, 0x24, 0x02),
	BP("retain available 2", MQTT_CONNACK, MQTT5_RC_PROTOCOL_ERROR,
	    0x02, 0x25, 0x02),
	BP("wildcard available 255", MQTT_CONNACK, MQTT5_RC_PROTOCOL_ERROR,
	    0x02, 0x28, 0xff),
	BP("authentication data without method", MQTT_CONNECT,
	    MQTT5_RC_PROTOCOL_ERROR, 0x04, 0x16, 0x00, 0x01, 'x'),
	BP("authentication data after its method", MQTT5_IN_AUTH, 0,
	    0x08, 0x16, 0x00, 0x01, 'x', 0x15, 0x00, 0x01, 'M'),
	BP("topic alias maximum 0 is fine", MQTT_CONNECT, 0,
	    0x03, 0x22, 0x00, 0x00),
	BP("message expiry 0 is fine", MQTT_PUBLISH, 0,
	    0x05, 0x02, 0x00, 0x00, 0x00, 0x00),
};

START_TEST(mqtt5__prop_refusals)
{
	const struct bad_props *t = &bad_props[_i];
	struct mqtt5_props q;
	struct bytes_r r;
	const char *why = NULL;
	int rc;

	bytes_r_init(&r, t->b, t->len);
	rc = mqtt5_props_decode(&r, t->in, &q, &why);
	ck_assert_msg(rc == t->rc, "%s: 0x%02x, want 0x%02x (%s)", t->name,
	    rc, t->rc, why != NULL ? why : "-");
	if (rc != 0)
		ck_assert_ptr_nonnull(why);
	else
		ck_assert_uint_eq(bytes_r_left(&r), 0);
}
END_TEST

START_TEST(mqtt5__prop_encode_limits)
{
	static uint8_t big[65536];
	struct mqtt5_props p;
	struct bytes_w w;
	uint8_t buf[8];

	mqtt5_props_init(&p);
	ck_assert_uint_eq(mqtt5_props_len(&p), 0);
	ck_assert_uint_eq(mqtt5_props_size(&p), 1);
	ck_assert_uint_eq(mqtt5_props_size(NULL), 1);
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(mqtt5_props_encode(&w, NULL), 0);
	ck_assert_uint_eq(w.len, 1);
	ck_assert_uint_eq(buf[0], 0);
	/* A string of 65536 bytes, a subscription id 0 or too big. */
	p.content_type = bytes_view_of(big, sizeof(big));
	MQTT5_SET(&p, MQTT5_PROP_CONTENT_TYPE);
	ck_assert_uint_eq(mqtt5_props_size(&p), SIZE_MAX);
	ck_assert_int_eq(mqtt5_props_encode(&w, &p), CAIRN_ERR_INVAL);
	p.content_type.len = 65535;
	ck_assert_uint_eq(mqtt5_props_len(&p), 1 + 2 + 65535);
	mqtt5_props_init(&p);
	MQTT5_SET(&p, MQTT5_PROP_SUB_ID);
	ck_assert_uint_eq(mqtt5_props_size(&p), SIZE_MAX);
	p.sub_id = 268435456;
	ck_assert_uint_eq(mqtt5_props_size(&p), SIZE_MAX);
	p.sub_id = 128;
	ck_assert_uint_eq(mqtt5_props_size(&p), 1 + 1 + 2);
	/* The list wins over the single one. */
	p.n_sub_ids = 2;
	p.sub_ids[0] = 1;
	p.sub_ids[1] = 16384;
	ck_assert_uint_eq(mqtt5_props_len(&p), 2 + 4);
	p.n_sub_ids = MQTT5_SUB_IDS_MAX + 1;
	ck_assert_uint_eq(mqtt5_props_size(&p), SIZE_MAX);
	ck_assert_int_eq(mqtt5_user_prop_put(&w, bytes_view_of(big,
	    sizeof(big)), sv("v")), CAIRN_ERR_INVAL);
}
END_TEST

START_TEST(mqtt5__carried)
{
	/* A publisher's block: alias, expiry and subscription id are per hop
	 * or per delivery; the rest goes on in the order received. */
	static const uint8_t blk[] = {
		0x22,				/* 34 bytes */
		0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',	/* user a=b */
		0x23, 0x00, 0x07,		/* topic alias 7 */
		0x01, 0x01,			/* payload format 1 */
		0x02, 0x00, 0x00, 0x00, 0x3c,	/* message expiry 60 */
		0x03, 0x00, 0x01, 't',		/* content type "t" */
		0x0b, 0x05,			/* subscription id 5 */
		0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'c',	/* user a=c */
		0x09, 0x00, 0x01, 0x00,		/* correlation data 00 */
	};
	static const uint8_t want[] = {
		0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',
		0x01, 0x01,
		0x03, 0x00, 0x01, 't',
		0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'c',
		0x09, 0x00, 0x01, 0x00,
	};
	static const uint8_t clean[] = {
		0x05, 0x01, 0x00, 0x09, 0x00, 0x00,
	};
	static const uint8_t only_hop[] = {
		0x08,				/* 8 bytes */
		0x23, 0x00, 0x01,		/* topic alias 1 */
		0x02, 0x00, 0x00, 0x00, 0x3c,	/* message expiry 60 */
	};
	struct mqtt5_props p;
	struct bytes_view v;
	struct bytes_r r;
	uint8_t out[sizeof(blk)];
	size_t n;

	bytes_r_init(&r, blk, sizeof(blk));
	ck_assert_int_eq(mqtt5_props_decode(&r, MQTT_PUBLISH, &p, NULL), 0);
	ck_assert_uint_eq(p.topic_alias, 7);
	ck_assert_uint_eq(p.message_expiry, 60);
	ck_assert_uint_eq(p.sub_id, 5);
	ck_assert_uint_eq(p.n_user, 2);
	ck_assert_int_eq(mqtt5_props_carried_view(&p, &v), 0);
	n = mqtt5_props_carry(&p, out);
	ck_assert_uint_eq(n, sizeof(want));
	ck_assert_mem_eq(out, want, n);

	/* Nothing to drop: the raw view itself, no copy. */
	bytes_r_init(&r, clean, sizeof(clean));
	ck_assert_int_eq(mqtt5_props_decode(&r, MQTT_PUBLISH, &p, NULL), 0);
	ck_assert_int_eq(mqtt5_props_carried_view(&p, &v), 1);
	ck_assert_ptr_eq(v.p, clean + 1);
	ck_assert_uint_eq(v.len, 5);
	ck_assert_uint_eq(mqtt5_props_carry(&p, out), 5);

	/* Only what is not carried: an empty view, no copy either. */
	bytes_r_init(&r, only_hop, sizeof(only_hop));
	ck_assert_int_eq(mqtt5_props_decode(&r, MQTT_PUBLISH, &p, NULL), 0);
	ck_assert_int_eq(mqtt5_props_carried_view(&p, &v), 1);
	ck_assert_uint_eq(v.len, 0);
	ck_assert_uint_eq(mqtt5_props_carry(&p, out), 0);
}
END_TEST

/*
 * A delivery with nothing of its own (send.c) writes the message's
 * carried properties with mqtt_encode_publish5_carried(): the same
 * bytes and size as mqtt_encode_publish5() with them as `user`.
 */
START_TEST(mqtt5__publish_carried_same_bytes)
{
	static const uint8_t user[] = {
		0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',	/* user a=b */
		0x03, 0x00, 0x01, 't',		/* content type "t" */
	};
	struct mqtt_publish pub;
	struct mqtt5_props p;
	struct bytes_view carried;
	struct bytes_w w1, w2;
	uint8_t b1[128], b2[128];
	int qos, k;

	memset(&pub, 0, sizeof(pub));
	pub.topic = sv("a/b");
	pub.payload = sv("payload");
	for (k = 0; k < 2; k++) {
		carried = k == 0 ? bytes_view_of(NULL, 0) :
		    bytes_view_of(user, sizeof(user));
		for (qos = 0; qos <= 2; qos++) {
			pub.qos = (uint8_t)qos;
			pub.id = qos > 0 ? 7 : 0;
			mqtt5_props_init(&p);
			p.user = carried;
			bytes_w_init_fixed(&w1, b1, sizeof(b1));
			bytes_w_init_fixed(&w2, b2, sizeof(b2));
			ck_assert_int_eq(mqtt_encode_publish5(&w1, &pub, &p), 0);
			ck_assert_int_eq(mqtt_encode_publish5_carried(&w2, &pub,
			    carried), 0);
			ck_assert_uint_eq(w1.len, w2.len);
			ck_assert_mem_eq(b1, b2, w1.len);
			ck_assert_uint_eq(mqtt_publish5_carried_size(&pub,
			    carried), w2.len);
			ck_assert_uint_eq(mqtt_publish5_size(&pub, &p), w1.len);
			if (k == 0) {
				/* NULL props: the same empty block. */
				bytes_w_reset(&w1);
				ck_assert_int_eq(mqtt_encode_publish5(&w1, &pub,
				    NULL), 0);
				ck_assert_uint_eq(w1.len, w2.len);
				ck_assert_mem_eq(b1, b2, w1.len);
			}
		}
	}
	/* QoS 1 without a packet id cannot be sent: INVAL, size 0. */
	pub.qos = 1;
	pub.id = 0;
	bytes_w_reset(&w2);
	ck_assert_int_eq(mqtt_encode_publish5_carried(&w2, &pub, carried),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(mqtt_publish5_carried_size(&pub, carried), 0);
}
END_TEST

/* The empty block, one 0 byte, taken without the walk. */
START_TEST(mqtt5__prop_empty_block)
{
	static const uint8_t blk[] = { 0x00, 0xaa };
	struct mqtt5_props p;
	struct bytes_r r;
	const char *why = NULL;
	int in;

	for (in = 0; in <= 15; in++) {
		bytes_r_init(&r, blk, sizeof(blk));
		ck_assert_int_eq(mqtt5_props_decode(&r, in, &p, &why), 0);
		ck_assert_uint_eq(r.off, 1);
		ck_assert_uint_eq(p.present, 0);
		ck_assert_uint_eq(p.raw.len, 0);
		ck_assert_uint_eq(p.request_problem, 1);
	}
	/* Outside 0..15: refused before the block is read. */
	bytes_r_init(&r, blk, sizeof(blk));
	ck_assert_int_eq(mqtt5_props_decode(&r, 16, &p, &why),
	    MQTT5_RC_MALFORMED);
	/* No byte at all: truncated. */
	bytes_r_init(&r, blk, 0);
	ck_assert_int_eq(mqtt5_props_decode(&r, MQTT_PUBLISH, &p, &why),
	    MQTT5_RC_MALFORMED);
}
END_TEST

START_TEST(mqtt5__reason_codes)
{
	static const uint8_t connack[] = { 0x00, 0x80, 0x81, 0x82, 0x83,
	    0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
	    0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f };
	static const uint8_t puback[] = { 0x00, 0x10, 0x80, 0x83, 0x87,
	    0x90, 0x91, 0x97, 0x99 };
	static const uint8_t pubrel[] = { 0x00, 0x92 };
	static const uint8_t suback[] = { 0x00, 0x01, 0x02, 0x80, 0x83,
	    0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2 };
	static const uint8_t unsuback[] = { 0x00, 0x11, 0x80, 0x83, 0x87,
	    0x8f, 0x91 };
	static const uint8_t disconnect[] = { 0x00, 0x04, 0x80, 0x81, 0x82,
	    0x83, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94,
	    0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
	    0xa0, 0xa1, 0xa2 };
	static const uint8_t auth[] = { 0x00, 0x18, 0x19 };
	static const struct {
		int		 in;
		const uint8_t	*codes;
		size_t		 n;
	} tab[] = {
		{ MQTT_CONNACK, connack, sizeof(connack) },
		{ MQTT_PUBACK, puback, sizeof(puback) },
		{ MQTT_PUBREC, puback, sizeof(puback) },
		{ MQTT_PUBREL, pubrel, sizeof(pubrel) },
		{ MQTT_PUBCOMP, pubrel, sizeof(pubrel) },
		{ MQTT_SUBACK, suback, sizeof(suback) },
		{ MQTT_UNSUBACK, unsuback, sizeof(unsuback) },
		{ MQTT_DISCONNECT, disconnect, sizeof(disconnect) },
		{ MQTT5_IN_AUTH, auth, sizeof(auth) },
	};
	size_t i, k;
	unsigned int rc;
	int want;

	/* Exactly the spec's codes per packet (2.4 and each packet's table). */
	for (i = 0; i < NELEM(tab); i++)
		for (rc = 0; rc < 256; rc++) {
			want = 0;
			for (k = 0; k < tab[i].n; k++)
				if (tab[i].codes[k] == rc)
					want = 1;
			ck_assert_msg(mqtt5_rc_valid(tab[i].in, (uint8_t)rc) ==
			    want, "packet %d code 0x%02x", tab[i].in, rc);
		}
	ck_assert_int_eq(mqtt5_rc_valid(MQTT_PUBLISH, 0), 0);
	ck_assert_int_eq(mqtt5_rc_valid(16, 0), 0);
	ck_assert_int_eq(mqtt5_rc_valid(-1, 0), 0);
	ck_assert_str_eq(mqtt5_rc_name(0x97), "Quota exceeded");
	ck_assert_str_eq(mqtt5_rc_name(0x8e), "Session taken over");
	ck_assert_str_eq(mqtt5_rc_name(0x03), "reserved reason code");
}
END_TEST

/*
 * Packets.
 */

/* Frames buf[0..len) as one packet and decodes it at level 5. */
static int
decode5(const uint8_t *buf, size_t len, struct mqtt_packet *pk,
    struct mqtt_err *e)
{
	struct mqtt_hdr hdr;
	struct bytes_view body;
	size_t used;

	ck_assert_int_eq(mqtt_frame(bytes_view_of(buf, len), SIZE_MAX, &hdr,
	    &body, &used), 0);
	ck_assert_uint_eq(used, len);
	if (hdr.type == MQTT_CONNECT)
		return mqtt_decode_connect_ex(&hdr, body, &pk->u.connect, e);
	return mqtt_decode_ex(&hdr, body, V5, pk, e);
}

/* A 5.0 CONNECT with properties, a will with its own, user, password. */
static const uint8_t c5_full[] = {
	0x10, 0x36,			/* CONNECT, remaining 54 */
	0x00, 0x04, 'M', 'Q', 'T', 'T',	/* protocol name */
	0x05,				/* level 5 */
	0xce,				/* user, pass, will QoS 1, will, clean */
	0x00, 0x1e,			/* keepalive 30 */
	0x0d,				/* properties: 13 bytes */
	0x11, 0x00, 0x00, 0x0e, 0x10,	/*   session expiry 3600 */
	0x17, 0x00,			/*   request problem information 0 */
	0x21, 0x00, 0x0a,		/*   receive maximum 10 */
	0x22, 0x00, 0x05,		/*   topic alias maximum 5 */
	0x00, 0x02, 'c', '5',		/* client id "c5" */
	0x0a,				/* will properties: 10 bytes */
	0x03, 0x00, 0x02, 't', 'p',	/*   content type "tp" */
	0x18, 0x00, 0x00, 0x00, 0x0a,	/*   will delay 10 */
	0x00, 0x03, 'w', '/', '5',	/* will topic "w/5" */
	0x00, 0x02, 0x00, 0xff,		/* will payload: binary */
	0x00, 0x01, 'u',		/* user name "u" */
	0x00, 0x01, 'p',		/* password "p" */
};

START_TEST(mqtt5__connect_fields)
{
	struct mqtt_packet pk;
	struct mqtt_err e = { NULL, 0 };
	const struct mqtt_connect *c = &pk.u.connect;
	struct bytes_w w;
	uint8_t buf[128];

	ck_assert_int_eq(decode5(c5_full, sizeof(c5_full), &pk, &e), 0);
	ck_assert_uint_eq(c->level, V5);
	ck_assert_uint_eq(c->connack_rc, 0);
	ck_assert_uint_eq(c->keepalive, 30);
	ck_assert_uint_eq(c->clean_session, 1);
	ck_assert_uint_eq(c->will_qos, 1);
	ck_assert(view_eq(c->client_id, sv("c5")));
	ck_assert_uint_eq(c->props.session_expiry, 3600);
	ck_assert_uint_eq(c->props.receive_max, 10);
	ck_assert_uint_eq(c->props.topic_alias_max, 5);
	ck_assert_uint_eq(c->props.request_problem, 0);
	ck_assert(!MQTT5_HAS(&c->props, MQTT5_PROP_MAX_PACKET_SIZE));
	ck_assert_uint_eq(c->will_props.will_delay, 10);
	ck_assert(view_eq(c->will_props.content_type, sv("tp")));
	ck_assert(view_eq(c->will_topic, sv("w/5")));
	ck_assert(view_eq(c->will_message, bytes_view_of("\0\xff", 2)));
	ck_assert(view_eq(c->username, sv("u")));
	ck_assert(view_eq(c->password, sv("p")));
	/* Encoded back byte for byte (its properties are in id order). */
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(mqtt_encode_connect(&w, c), 0);
	ck_assert_uint_eq(w.len, sizeof(c5_full));
	ck_assert_mem_eq(buf, c5_full, w.len);
}
END_TEST

START_TEST(mqtt5__connect_5_leniencies)
{
	/* Password without a user name, empty id with clean start 0. */
	static const uint8_t c[] = {
		0x10, 0x10,
		0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
		0x40,			/* password, clean start 0 */
		0x00, 0x00,
		0x00,			/* no properties */
		0x00, 0x00,		/* client id "" */
		0x00, 0x01, 'p',	/* password */
	};
	struct mqtt_packet pk;
	struct mqtt_err e;

	ck_assert_int_eq(decode5(c, sizeof(c), &pk, &e), 0);
	ck_assert_uint_eq(pk.u.connect.connack_rc, MQTT_CONNACK_ACCEPTED);
	ck_assert_uint_eq(pk.u.connect.has_password, 1);
	ck_assert_uint_eq(pk.u.connect.has_username, 0);
}
END_TEST

/* 5.0 packets that decode, each encoded back to the same bytes. */
struct pk_row {
	const char	*name;
	size_t		 len;
	uint8_t		 b[48];
};

#define PK(n, ...)	{ n, sizeof((uint8_t[]){ __VA_ARGS__ }),	\
	{ __VA_ARGS__ } }

static const struct pk_row pk_rows[] = {
	PK("CONNACK minimal", 0x20, 0x03, 0x00, 0x00, 0x00),
	PK("CONNACK session present, capabilities", 0x20, 0x13,
	    0x01, 0x00,			/* session present, success */
	    0x10,			/* properties: 16 */
	    0x12, 0x00, 0x01, 'i',	/*   assigned client id "i" */
	    0x21, 0x00, 0x14,		/*   receive maximum 20 */
	    0x24, 0x01,			/*   maximum QoS 1 */
	    0x25, 0x00,			/*   retain available 0 */
	    0x2a, 0x00,			/*   shared available 0 */
	    0x13, 0x00, 0x3c),		/*   server keep alive 60: sorted below */
	PK("CONNACK refused 0x87", 0x20, 0x03, 0x00, 0x87, 0x00),
	PK("PUBLISH QoS 1 with properties", 0x32, 0x10,
	    0x00, 0x03, 'a', '/', 'b',	/* topic */
	    0x00, 0x07,			/* id 7 */
	    0x06,			/* properties: 6 */
	    0x01, 0x01,			/*   payload format 1 */
	    0x0b, 0x02,			/*   subscription id 2 */
	    0x0b, 0x03,			/*   and 3 */
	    'h', 'i'),			/* payload */
	PK("PUBLISH alias only", 0x30, 0x07,
	    0x00, 0x00,			/* topic "": the alias stands for it */
	    0x03, 0x23, 0x00, 0x01,	/* topic alias 1 */
	    'x'),
	PK("PUBLISH QoS 0, no properties", 0x30, 0x04, 0x00, 0x01, 't',
	    0x00),
	PK("PUBACK short", 0x40, 0x02, 0x00, 0x01),
	PK("PUBACK 0x10", 0x40, 0x03, 0x00, 0x01, 0x10),
	PK("PUBREC 0x97 with reason string", 0x50, 0x08, 0x00, 0x02, 0x97,
	    0x04, 0x1f, 0x00, 0x01, 'q'),
	PK("PUBREL 0x92", 0x62, 0x03, 0x00, 0x03, 0x92),
	PK("PUBCOMP short", 0x70, 0x02, 0x00, 0x04),
	PK("SUBSCRIBE with options and id", 0x82, 0x0f,
	    0x00, 0x05,			/* id 5 */
	    0x02, 0x0b, 0x09,		/* properties: subscription id 9 */
	    0x00, 0x03, 'a', '/', '#',	/* filter */
	    0x2e,			/* RH 2, RAP, no local, QoS 2 */
	    0x00, 0x01, 'b', 0x10),	/* filter "b", RH 1, QoS 0 */
	PK("SUBACK", 0x90, 0x06, 0x00, 0x05, 0x00, 0x02, 0x9e, 0xa1),
	PK("UNSUBSCRIBE", 0xa2, 0x06, 0x00, 0x06, 0x00, 0x00, 0x01, 'a'),
	PK("UNSUBACK", 0xb0, 0x05, 0x00, 0x06, 0x00, 0x00, 0x11),
	PK("PINGREQ", 0xc0, 0x00),
	PK("DISCONNECT short", 0xe0, 0x00),
	PK("DISCONNECT 0x04", 0xe0, 0x01, 0x04),
	PK("DISCONNECT session expiry", 0xe0, 0x07, 0x00, 0x05,
	    0x11, 0x00, 0x00, 0x00, 0x00),
	PK("DISCONNECT 0x8e from the server", 0xe0, 0x01, 0x8e),
	PK("AUTH continue", 0xf0, 0x0b, 0x18, 0x09,
	    0x15, 0x00, 0x01, 'M',	/* method "M" */
	    0x16, 0x00, 0x02, 'x', 'y'),	/* data "xy" */
};

/* Re-encodes a decoded 5.0 packet with the 5.0 encoders. */
static int
encode5(struct bytes_w *w, const struct mqtt_packet *pk)
{
	static struct mqtt_topic_qos subs[8];
	static struct bytes_view filters[8];
	struct mqtt5_props p;
	struct bytes_view list;
	size_t n = 0;

	switch (pk->hdr.type) {
	case MQTT_CONNACK:
		return mqtt_encode_connack5(w, pk->u.connack.session_present,
		    pk->u.connack.rc, &pk->u.connack.props);
	case MQTT_PUBLISH:
		return mqtt_encode_publish5(w, &pk->u.publish,
		    &pk->u.publish.props);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return mqtt_encode_ack5(w, pk->hdr.type, pk->u.ack.id,
		    pk->u.ack.rc, &pk->u.ack.props);
	case MQTT_SUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < 8 &&
		    mqtt_subscribe_next(&list, &subs[n].filter, &subs[n].qos))
			n++;
		return mqtt_encode_subscribe5(w, pk->u.subscribe.id, subs, n,
		    &pk->u.subscribe.props);
	case MQTT_UNSUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < 8 && mqtt_unsubscribe_next(&list, &filters[n]))
			n++;
		return mqtt_encode_unsubscribe5(w, pk->u.subscribe.id,
		    filters, n, &pk->u.subscribe.props);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		return mqtt_encode_suback5(w, pk->hdr.type, pk->u.suback.id,
		    pk->u.suback.codes.p, pk->u.suback.codes.len,
		    &pk->u.suback.props);
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		return mqtt_encode_disconnect5(w, pk->hdr.type,
		    pk->u.disconnect.rc, &pk->u.disconnect.props);
	default:
		mqtt5_props_init(&p);
		return mqtt_encode_empty(w, pk->hdr.type);
	}
}

START_TEST(mqtt5__packet_roundtrip)
{
	const struct pk_row *t = &pk_rows[_i];
	struct mqtt_packet pk, pk2;
	struct mqtt_err e = { NULL, 0 };
	struct bytes_w w;
	uint8_t buf[128];
	int rc;

	rc = decode5(t->b, t->len, &pk, &e);
	ck_assert_msg(rc == 0, "%s: %s (0x%02x)", t->name, e.why, e.reason);
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(encode5(&w, &pk), 0);
	ck_assert_uint_eq(w.len, t->len);
	ck_assert_int_eq(decode5(buf, w.len, &pk2, &e), 0);
	/* Identifier order: the CONNACK row's last property moves. */
	if (strstr(t->name, "capabilities") == NULL)
		ck_assert_msg(memcmp(buf, t->b, t->len) == 0, "%s", t->name);
	/* 3.1.1 refuses every one of them with properties or type 15. */
}
END_TEST

START_TEST(mqtt5__packet_fields)
{
	struct mqtt_packet pk;
	struct mqtt_err e;
	struct bytes_view list, f;
	uint8_t o;

	/* CONNACK capabilities. */
	ck_assert_int_eq(decode5(pk_rows[1].b, pk_rows[1].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.connack.session_present, 1);
	ck_assert_uint_eq(pk.u.connack.props.receive_max, 20);
	ck_assert_uint_eq(pk.u.connack.props.max_qos, 1);
	ck_assert_uint_eq(pk.u.connack.props.server_keep_alive, 60);
	ck_assert(view_eq(pk.u.connack.props.assigned_client_id, sv("i")));
	/* PUBLISH with two subscription ids. */
	ck_assert_int_eq(decode5(pk_rows[3].b, pk_rows[3].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.publish.id, 7);
	ck_assert_uint_eq(pk.u.publish.props.n_sub_ids, 2);
	ck_assert_uint_eq(pk.u.publish.props.sub_ids[0], 2);
	ck_assert_uint_eq(pk.u.publish.props.sub_ids[1], 3);
	ck_assert(view_eq(pk.u.publish.payload, sv("hi")));
	/* Alias only. */
	ck_assert_int_eq(decode5(pk_rows[4].b, pk_rows[4].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.publish.topic.len, 0);
	ck_assert_uint_eq(pk.u.publish.props.topic_alias, 1);
	/* Acks: the left-out reason code is success. */
	ck_assert_int_eq(decode5(pk_rows[6].b, pk_rows[6].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.ack.id, 1);
	ck_assert_uint_eq(pk.u.ack.rc, 0);
	ck_assert_int_eq(decode5(pk_rows[8].b, pk_rows[8].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.ack.rc, 0x97);
	ck_assert(view_eq(pk.u.ack.props.reason_string, sv("q")));
	/* SUBSCRIBE options. */
	ck_assert_int_eq(decode5(pk_rows[11].b, pk_rows[11].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.subscribe.count, 2);
	ck_assert_uint_eq(pk.u.subscribe.props.sub_id, 9);
	list = pk.u.subscribe.list;
	ck_assert(mqtt_subscribe_next(&list, &f, &o));
	ck_assert(view_eq(f, sv("a/#")));
	ck_assert_uint_eq(o & MQTT_SUBOPT_QOS_MASK, 2);
	ck_assert(o & MQTT_SUBOPT_NO_LOCAL);
	ck_assert(o & MQTT_SUBOPT_RAP);
	ck_assert_uint_eq((o & MQTT_SUBOPT_RH_MASK) >> MQTT_SUBOPT_RH_SHIFT,
	    2);
	/* DISCONNECT. */
	ck_assert_int_eq(decode5(pk_rows[16].b, pk_rows[16].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.disconnect.rc, 0);
	ck_assert_int_eq(decode5(pk_rows[17].b, pk_rows[17].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.disconnect.rc, 4);
	ck_assert_int_eq(decode5(pk_rows[18].b, pk_rows[18].len, &pk, &e), 0);
	ck_assert(MQTT5_HAS(&pk.u.disconnect.props,
	    MQTT5_PROP_SESSION_EXPIRY));
	/* AUTH. */
	ck_assert_int_eq(decode5(pk_rows[20].b, pk_rows[20].len, &pk, &e), 0);
	ck_assert_uint_eq(pk.u.disconnect.rc, 0x18);
	ck_assert(view_eq(pk.u.disconnect.props.auth_data, sv("xy")));
}
END_TEST

START_TEST(mqtt5__packet_311_refuses_5_forms)
{
	struct mqtt_hdr hdr;
	struct bytes_view body;
	struct mqtt_packet pk;
	size_t used, i;
	static const size_t rows[] = { 0, 7, 11, 13, 14, 17, 20 };

	/* CONNACK with properties, PUBACK with a reason code, SUBSCRIBE and
	 * UNSUBSCRIBE with properties, UNSUBACK with codes, DISCONNECT with
	 * a reason code, AUTH: none are 3.1.1 packets.  (A 5.0 PUBLISH is
	 * a valid 3.1.1 one whose payload starts with the properties: the
	 * connection's level tells them apart.) */
	for (i = 0; i < NELEM(rows); i++) {
		const struct pk_row *t = &pk_rows[rows[i]];

		ck_assert_int_eq(mqtt_frame(bytes_view_of(t->b, t->len),
		    SIZE_MAX, &hdr, &body, &used), 0);
		ck_assert_msg(mqtt_decode(&hdr, body, MQTT_LEVEL_311, &pk,
		    NULL) == CAIRN_ERR_PROTO, "%s", t->name);
	}
}
END_TEST

/* 5.0 packets refused, with their reason code. */
static const struct bad_props bad_pk[] = {
	BP("CONNECT 5 truncated properties", MQTT_CONNECT, MQTT5_RC_MALFORMED,
	    0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
	    0x00, 0x05, 0x00, 0x00),
	BP("CONNECT 5 receive maximum 0", MQTT_CONNECT,
	    MQTT5_RC_PROTOCOL_ERROR,
	    0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
	    0x00, 0x03, 0x21, 0x00, 0x00, 0x00, 0x00),
	BP("CONNECT 5 session expiry in the will", MQTT_CONNECT,
	    MQTT5_RC_MALFORMED,
	    0x10, 0x18, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00,
	    0x00, 0x00, 0x00, 0x00,
	    0x05, 0x11, 0x00, 0x00, 0x00, 0x01,
	    0x00, 0x01, 't', 0x00, 0x00),
	BP("CONNECT 5 reserved flag", MQTT_CONNECT, MQTT5_RC_MALFORMED,
	    0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x03, 0x00,
	    0x00, 0x00, 0x00, 0x00),
	BP("CONNECT 5 trailing byte", MQTT_CONNECT, MQTT5_RC_MALFORMED,
	    0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00),
	BP("CONNACK reason 0x01", MQTT_CONNACK, MQTT5_RC_MALFORMED,
	    0x20, 0x03, 0x00, 0x01, 0x00),
	BP("CONNACK session present with a refusal", MQTT_CONNACK,
	    MQTT5_RC_MALFORMED, 0x20, 0x03, 0x01, 0x80, 0x00),
	BP("PUBLISH no topic, no alias", MQTT_PUBLISH,
	    MQTT5_RC_PROTOCOL_ERROR, 0x30, 0x03, 0x00, 0x00, 0x00),
	BP("PUBLISH topic alias 0", MQTT_PUBLISH,
	    MQTT5_RC_TOPIC_ALIAS_INVALID,
	    0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x00),
	BP("PUBLISH wildcard topic", MQTT_PUBLISH,
	    MQTT5_RC_TOPIC_NAME_INVALID, 0x30, 0x04, 0x00, 0x01, '#', 0x00),
	BP("PUBLISH properties past the end", MQTT_PUBLISH,
	    MQTT5_RC_MALFORMED, 0x30, 0x05, 0x00, 0x01, 't', 0x03, 0x01),
	BP("PUBLISH receive maximum", MQTT_PUBLISH, MQTT5_RC_MALFORMED,
	    0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x21, 0x00, 0x01),
	BP("PUBACK reason 0x05", MQTT_PUBACK, MQTT5_RC_MALFORMED,
	    0x40, 0x03, 0x00, 0x01, 0x05),
	BP("PUBREL reason 0x10", MQTT_PUBREL, MQTT5_RC_MALFORMED,
	    0x62, 0x03, 0x00, 0x01, 0x10),
	BP("PUBACK id 0", MQTT_PUBACK, MQTT5_RC_MALFORMED,
	    0x40, 0x02, 0x00, 0x00),
	BP("PUBACK trailing after properties", MQTT_PUBACK,
	    MQTT5_RC_MALFORMED, 0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00),
	BP("PUBACK topic alias property", MQTT_PUBACK, MQTT5_RC_MALFORMED,
	    0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01),
	BP("SUBSCRIBE reserved option bits", MQTT_SUBSCRIBE,
	    MQTT5_RC_MALFORMED, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a',
	    0x40),
	BP("SUBSCRIBE QoS 3", MQTT_SUBSCRIBE, MQTT5_RC_MALFORMED,
	    0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03),
	BP("SUBSCRIBE retain handling 3", MQTT_SUBSCRIBE,
	    MQTT5_RC_PROTOCOL_ERROR,
	    0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30),
	BP("SUBSCRIBE no filter", MQTT_SUBSCRIBE, MQTT5_RC_PROTOCOL_ERROR,
	    0x82, 0x03, 0x00, 0x01, 0x00),
	BP("SUBSCRIBE bad filter", MQTT_SUBSCRIBE,
	    MQTT5_RC_TOPIC_FILTER_INVALID,
	    0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 'a', '#', 0x00),
	BP("SUBSCRIBE subscription id 0", MQTT_SUBSCRIBE,
	    MQTT5_RC_PROTOCOL_ERROR,
	    0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 'a', 0x00),
	BP("SUBSCRIBE flags 0000", MQTT_SUBSCRIBE, MQTT5_RC_MALFORMED,
	    0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00),
	BP("UNSUBSCRIBE without properties", MQTT_UNSUBSCRIBE,
	    MQTT5_RC_MALFORMED, 0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'),
	BP("SUBACK reason 0x10", MQTT_SUBACK, MQTT5_RC_MALFORMED,
	    0x90, 0x04, 0x00, 0x01, 0x00, 0x10),
	BP("UNSUBACK no reason code", MQTT_UNSUBACK, MQTT5_RC_MALFORMED,
	    0xb0, 0x03, 0x00, 0x01, 0x00),
	BP("DISCONNECT reason 0x05", MQTT_DISCONNECT, MQTT5_RC_MALFORMED,
	    0xe0, 0x01, 0x05),
	BP("DISCONNECT flags", MQTT_DISCONNECT, MQTT5_RC_MALFORMED,
	    0xe1, 0x00),
	BP("DISCONNECT topic alias property", MQTT_DISCONNECT,
	    MQTT5_RC_MALFORMED, 0xe0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01),
	BP("DISCONNECT session expiry twice", MQTT_DISCONNECT,
	    MQTT5_RC_PROTOCOL_ERROR, 0xe0, 0x0c, 0x00, 0x0a,
	    0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1),
	BP("AUTH reason 0x00 is fine", MQTT5_IN_AUTH, 0, 0xf0, 0x00),
	BP("AUTH reason 0x87", MQTT5_IN_AUTH, MQTT5_RC_MALFORMED,
	    0xf0, 0x01, 0x87),
	BP("AUTH data without method", MQTT5_IN_AUTH,
	    MQTT5_RC_PROTOCOL_ERROR, 0xf0, 0x06, 0x18, 0x04, 0x16, 0x00, 0x01,
	    'x'),
	BP("PINGREQ with a body", MQTT_PINGREQ, MQTT5_RC_MALFORMED,
	    0xc0, 0x01, 0x00),
};

START_TEST(mqtt5__packet_refusals)
{
	const struct bad_props *t = &bad_pk[_i];
	struct mqtt_packet pk;
	struct mqtt_err e = { NULL, 0 };
	int rc;

	rc = decode5(t->b, t->len, &pk, &e);
	if (t->rc == 0) {
		ck_assert_msg(rc == 0, "%s: %s", t->name, e.why);
		return;
	}
	ck_assert_msg(rc == CAIRN_ERR_PROTO, "%s: decoded", t->name);
	ck_assert_msg(e.reason == t->rc, "%s: 0x%02x, want 0x%02x (%s)",
	    t->name, e.reason, t->rc, e.why);
	ck_assert_ptr_nonnull(e.why);
}
END_TEST

START_TEST(mqtt5__encode_shortest_and_invalid)
{
	struct mqtt5_props p;
	struct bytes_w w;
	uint8_t buf[64];
	static const uint8_t codes[] = { 0x00, 0x10 };

	mqtt5_props_init(&p);
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	/* PUBACK 0 without properties: 2 bytes; with rc: 3; with a reason
	 * string: the whole form. */
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_PUBACK, 9, 0, &p), 0);
	ck_assert_uint_eq(w.len, 4);
	bytes_w_reset(&w);
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_PUBREC, 9, 0, NULL), 0);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_uint_eq(buf[0], 0x50);
	ck_assert_uint_eq(buf[1], 2);
	ck_assert_uint_eq(buf[3], 9);
	bytes_w_reset(&w);
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_PUBACK, 9, 0x10, NULL), 0);
	ck_assert_uint_eq(w.len, 5);
	ck_assert_uint_eq(buf[4], 0x10);
	bytes_w_reset(&w);
	p.reason_string = sv("r");
	MQTT5_SET(&p, MQTT5_PROP_REASON_STRING);
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_PUBACK, 9, 0, &p), 0);
	ck_assert_uint_eq(w.len, 2 + 2 + 1 + 1 + 4);
	bytes_w_reset(&w);
	/* DISCONNECT 0 without properties: empty body. */
	ck_assert_int_eq(mqtt_encode_disconnect5(&w, MQTT_DISCONNECT, 0,
	    NULL), 0);
	ck_assert_uint_eq(w.len, 2);
	bytes_w_reset(&w);
	ck_assert_int_eq(mqtt_encode_disconnect5(&w, MQTT_DISCONNECT, 0x8b,
	    NULL), 0);
	ck_assert_uint_eq(w.len, 3);
	ck_assert_uint_eq(buf[2], 0x8b);
	bytes_w_reset(&w);
	/* Codes not defined for the packet, wrong types: nothing written. */
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_PUBREL, 1, 0x10, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_ack5(&w, MQTT_UNSUBACK, 1, 0, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_disconnect5(&w, MQTT_DISCONNECT, 0x18,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_disconnect5(&w, MQTT_AUTH, 0x8e,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_disconnect5(&w, MQTT_PINGREQ, 0,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_connack5(&w, 0, 0x01, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_suback5(&w, MQTT_SUBACK, 1, codes, 2,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_int_eq(mqtt_encode_suback5(&w, MQTT_UNSUBACK, 1, codes, 0,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	/* The 3.1.1 CONNACK call at level 5 gives the 5.0 form. */
	ck_assert_int_eq(mqtt_encode_connack(&w, V5, 1, 0), 0);
	ck_assert_uint_eq(w.len, 5);
	ck_assert_uint_eq(buf[1], 3);
	ck_assert_uint_eq(buf[2], 1);
}
END_TEST

static Suite *
mqtt5_suite(void)
{
	Suite *s = suite_create("mqtt5");
	TCase *tc;

	tc = tcase_create("props");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, mqtt5__prop_roundtrip, 0,
	    (int)NELEM(prop_rows));
	tcase_add_test(tc, mqtt5__prop_every_one_at_once);
	tcase_add_loop_test(tc, mqtt5__prop_refusals, 0, (int)NELEM(bad_props));
	tcase_add_test(tc, mqtt5__prop_encode_limits);
	tcase_add_test(tc, mqtt5__carried);
	tcase_add_test(tc, mqtt5__publish_carried_same_bytes);
	tcase_add_test(tc, mqtt5__prop_empty_block);
	tcase_add_test(tc, mqtt5__reason_codes);
	suite_add_tcase(s, tc);

	tc = tcase_create("packets");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mqtt5__connect_fields);
	tcase_add_test(tc, mqtt5__connect_5_leniencies);
	tcase_add_loop_test(tc, mqtt5__packet_roundtrip, 0,
	    (int)NELEM(pk_rows));
	tcase_add_test(tc, mqtt5__packet_fields);
	tcase_add_test(tc, mqtt5__packet_311_refuses_5_forms);
	tcase_add_loop_test(tc, mqtt5__packet_refusals, 0, (int)NELEM(bad_pk));
	tcase_add_test(tc, mqtt5__encode_shortest_and_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Forked children must not flush a copy of our buffered output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(mqtt5_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
