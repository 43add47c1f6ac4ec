/*
 * MQTT 5.0 properties and reason codes; see mqtt5_props.h for the
 * contract.  One table says, for each identifier, its value's type and
 * the packets it may appear in (the spec's table in 2.2.2.2); the
 * decoder checks every property against it, then the value rules the
 * spec words as "It is a Protocol Error to ...".
 */
#include "broker/mqtt/mqtt5_props.h"

#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

enum mqtt5_type {
	T_NONE = 0,
	T_BYTE,
	T_TWO,
	T_FOUR,
	T_VARINT,
	T_STRING,
	T_BINARY,
	T_PAIR,
};

/* Bit (1 << in) per place a property may be (MQTT5_IN_*, packet types). */
#define W_WILL		(1u << MQTT5_IN_WILL)
#define W_CONNECT	(1u << 1)
#define W_CONNACK	(1u << 2)
#define W_PUBLISH	(1u << 3)
#define W_PUBACK	(1u << 4)
#define W_PUBREC	(1u << 5)
#define W_PUBREL	(1u << 6)
#define W_PUBCOMP	(1u << 7)
#define W_SUBSCRIBE	(1u << 8)
#define W_SUBACK	(1u << 9)
#define W_UNSUBSCRIBE	(1u << 10)
#define W_UNSUBACK	(1u << 11)
#define W_DISCONNECT	(1u << 14)
#define W_AUTH		(1u << MQTT5_IN_AUTH)
#define W_ACKS		(W_PUBACK | W_PUBREC | W_PUBREL | W_PUBCOMP)

static const struct {
	uint8_t		type;
	uint16_t	where;
} mqtt5_prop_tab[MQTT5_PROP_ID_MAX + 1] = {
	[MQTT5_PROP_PAYLOAD_FORMAT] = { T_BYTE, W_PUBLISH | W_WILL },
	[MQTT5_PROP_MESSAGE_EXPIRY] = { T_FOUR, W_PUBLISH | W_WILL },
	[MQTT5_PROP_CONTENT_TYPE] = { T_STRING, W_PUBLISH | W_WILL },
	[MQTT5_PROP_RESPONSE_TOPIC] = { T_STRING, W_PUBLISH | W_WILL },
	[MQTT5_PROP_CORRELATION_DATA] = { T_BINARY, W_PUBLISH | W_WILL },
	[MQTT5_PROP_SUB_ID] = { T_VARINT, W_PUBLISH | W_SUBSCRIBE },
	[MQTT5_PROP_SESSION_EXPIRY] = { T_FOUR,
	    W_CONNECT | W_CONNACK | W_DISCONNECT },
	[MQTT5_PROP_ASSIGNED_CLIENT_ID] = { T_STRING, W_CONNACK },
	[MQTT5_PROP_SERVER_KEEP_ALIVE] = { T_TWO, W_CONNACK },
	[MQTT5_PROP_AUTH_METHOD] = { T_STRING, W_CONNECT | W_CONNACK | W_AUTH },
	[MQTT5_PROP_AUTH_DATA] = { T_BINARY, W_CONNECT | W_CONNACK | W_AUTH },
	[MQTT5_PROP_REQUEST_PROBLEM] = { T_BYTE, W_CONNECT },
	[MQTT5_PROP_WILL_DELAY] = { T_FOUR, W_WILL },
	[MQTT5_PROP_REQUEST_RESPONSE] = { T_BYTE, W_CONNECT },
	[MQTT5_PROP_RESPONSE_INFO] = { T_STRING, W_CONNACK },
	[MQTT5_PROP_SERVER_REFERENCE] = { T_STRING, W_CONNACK | W_DISCONNECT },
	[MQTT5_PROP_REASON_STRING] = { T_STRING, W_CONNACK | W_ACKS |
	    W_SUBACK | W_UNSUBACK | W_DISCONNECT | W_AUTH },
	[MQTT5_PROP_RECEIVE_MAX] = { T_TWO, W_CONNECT | W_CONNACK },
	[MQTT5_PROP_TOPIC_ALIAS_MAX] = { T_TWO, W_CONNECT | W_CONNACK },
	[MQTT5_PROP_TOPIC_ALIAS] = { T_TWO, W_PUBLISH },
	[MQTT5_PROP_MAX_QOS] = { T_BYTE, W_CONNACK },
	[MQTT5_PROP_RETAIN_AVAILABLE] = { T_BYTE, W_CONNACK },
	[MQTT5_PROP_USER] = { T_PAIR, W_WILL | W_CONNECT | W_CONNACK |
	    W_PUBLISH | W_ACKS | W_SUBSCRIBE | W_SUBACK | W_UNSUBSCRIBE |
	    W_UNSUBACK | W_DISCONNECT | W_AUTH },
	[MQTT5_PROP_MAX_PACKET_SIZE] = { T_FOUR, W_CONNECT | W_CONNACK },
	[MQTT5_PROP_WILDCARD_AVAILABLE] = { T_BYTE, W_CONNACK },
	[MQTT5_PROP_SUB_ID_AVAILABLE] = { T_BYTE, W_CONNACK },
	[MQTT5_PROP_SHARED_AVAILABLE] = { T_BYTE, W_CONNACK },
};

/* Reason codes: name, and where each may be sent (2.4, and each packet). */
#define R_CONNACK	W_CONNACK
#define R_PUB		(W_PUBACK | W_PUBREC)
#define R_PUBREL	(W_PUBREL | W_PUBCOMP)
#define R_SUBACK	W_SUBACK
#define R_UNSUBACK	W_UNSUBACK
#define R_DISC		W_DISCONNECT
#define R_AUTH		W_AUTH

static const struct {
	uint8_t		 rc;
	uint16_t	 where;
	const char	*name;
} mqtt5_rc_tab[] = {
	{ 0x00, R_CONNACK | R_PUB | R_PUBREL | R_SUBACK | R_UNSUBACK |
	    R_DISC | R_AUTH, "Success" },
	{ 0x01, R_SUBACK, "Granted QoS 1" },
	{ 0x02, R_SUBACK, "Granted QoS 2" },
	{ 0x04, R_DISC, "Disconnect with Will Message" },
	{ 0x10, R_PUB, "No matching subscribers" },
	{ 0x11, R_UNSUBACK, "No subscription existed" },
	{ 0x18, R_AUTH, "Continue authentication" },
	{ 0x19, R_AUTH, "Re-authenticate" },
	{ 0x80, R_CONNACK | R_PUB | R_SUBACK | R_UNSUBACK | R_DISC,
	    "Unspecified error" },
	{ 0x81, R_CONNACK | R_DISC, "Malformed Packet" },
	{ 0x82, R_CONNACK | R_DISC, "Protocol Error" },
	{ 0x83, R_CONNACK | R_PUB | R_SUBACK | R_UNSUBACK | R_DISC,
	    "Implementation specific error" },
	{ 0x84, R_CONNACK, "Unsupported Protocol Version" },
	{ 0x85, R_CONNACK, "Client Identifier not valid" },
	{ 0x86, R_CONNACK, "Bad User Name or Password" },
	{ 0x87, R_CONNACK | R_PUB | R_SUBACK | R_UNSUBACK | R_DISC,
	    "Not authorized" },
	{ 0x88, R_CONNACK, "Server unavailable" },
	{ 0x89, R_CONNACK | R_DISC, "Server busy" },
	{ 0x8a, R_CONNACK, "Banned" },
	{ 0x8b, R_DISC, "Server shutting down" },
	{ 0x8c, R_CONNACK | R_DISC, "Bad authentication method" },
	{ 0x8d, R_DISC, "Keep Alive timeout" },
	{ 0x8e, R_DISC, "Session taken over" },
	{ 0x8f, R_SUBACK | R_UNSUBACK | R_DISC, "Topic Filter invalid" },
	{ 0x90, R_CONNACK | R_PUB | R_DISC, "Topic Name invalid" },
	{ 0x91, R_PUB | R_SUBACK | R_UNSUBACK, "Packet Identifier in use" },
	{ 0x92, R_PUBREL, "Packet Identifier not found" },
	{ 0x93, R_DISC, "Receive Maximum exceeded" },
	{ 0x94, R_DISC, "Topic Alias invalid" },
	{ 0x95, R_CONNACK | R_DISC, "Packet too large" },
	{ 0x96, R_DISC, "Message rate too high" },
	{ 0x97, R_CONNACK | R_PUB | R_SUBACK | R_DISC, "Quota exceeded" },
	{ 0x98, R_DISC, "Administrative action" },
	{ 0x99, R_CONNACK | R_PUB | R_DISC, "Payload format invalid" },
	{ 0x9a, R_CONNACK | R_DISC, "Retain not supported" },
	{ 0x9b, R_CONNACK | R_DISC, "QoS not supported" },
	{ 0x9c, R_CONNACK | R_DISC, "Use another server" },
	{ 0x9d, R_CONNACK | R_DISC, "Server moved" },
	{ 0x9e, R_SUBACK | R_DISC, "Shared Subscriptions not supported" },
	{ 0x9f, R_CONNACK | R_DISC, "Connection rate exceeded" },
	{ 0xa0, R_DISC, "Maximum connect time" },
	{ 0xa1, R_SUBACK | R_DISC, "Subscription Identifiers not supported" },
	{ 0xa2, R_SUBACK | R_DISC, "Wildcard Subscriptions not supported" },
};

int
mqtt5_rc_valid(int in, uint8_t rc)
{
	size_t i;

	if (in < 0 || in > 15)
		return 0;
	for (i = 0; i < sizeof(mqtt5_rc_tab) / sizeof(mqtt5_rc_tab[0]); i++)
		if (mqtt5_rc_tab[i].rc == rc)
			return (mqtt5_rc_tab[i].where >> in) & 1;
	return 0;
}

const char *
mqtt5_rc_name(uint8_t rc)
{
	size_t i;

	for (i = 0; i < sizeof(mqtt5_rc_tab) / sizeof(mqtt5_rc_tab[0]); i++)
		if (mqtt5_rc_tab[i].rc == rc)
			return mqtt5_rc_tab[i].name;
	return "reserved reason code";
}

void
mqtt5_props_init(struct mqtt5_props *p)
{
	memset(p, 0, sizeof(*p));
	p->request_problem = 1;
}

size_t
mqtt_varint_size(size_t v)
{
	if (v < 128)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 2097152)
		return 3;
	return 4;
}

#define P_FAIL(why, rc, msg)	(*(why) = (msg), (rc))

/* A string value: strict UTF-8, no U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
static int
mqtt5_string_ok(struct bytes_view v)
{
	if (v.len > 0 && memchr(v.p, '\0', v.len) != NULL)
		return 0;
	return utf8_count(v.p, v.len) >= 0;
}

/*
 * Reads one value of type t; 0 or MQTT5_RC_MALFORMED.  Integers land in
 * *u, strings and binaries in *a (and the pair's value in *b).
 */
static int
mqtt5_get_value(struct bytes_r *r, uint8_t t, uint32_t *u,
    struct bytes_view *a, struct bytes_view *b, const char **why)
{
	uint16_t u16;
	uint8_t u8;

	switch (t) {
	case T_BYTE:
		if (bytes_get_u8(r, &u8) != 0)
			break;
		*u = u8;
		return 0;
	case T_TWO:
		if (bytes_get_u16be(r, &u16) != 0)
			break;
		*u = u16;
		return 0;
	case T_FOUR:
		if (bytes_get_u32be(r, u) != 0)
			break;
		return 0;
	case T_VARINT:
		if (bytes_get_varint(r, u) != 0)
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "property varint is bad or truncated");
		return 0;
	case T_STRING:
	case T_PAIR:
		if (bytes_get_view16(r, a) != 0)
			break;
		if (!mqtt5_string_ok(*a))
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "property string is not valid UTF-8");
		if (t == T_STRING)
			return 0;
		if (bytes_get_view16(r, b) != 0)
			break;
		if (!mqtt5_string_ok(*b))
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "property string is not valid UTF-8");
		return 0;
	case T_BINARY:
		if (bytes_get_view16(r, a) != 0)
			break;
		return 0;
	default:
		break;
	}
	return P_FAIL(why, MQTT5_RC_MALFORMED, "property runs past the end");
}

/* Stores one decoded property in out; 0 or the reason code. */
static int
mqtt5_store(struct mqtt5_props *out, uint8_t id, uint32_t u,
    struct bytes_view a, const char **why)
{
	uint8_t *b8 = NULL;

	switch (id) {
	case MQTT5_PROP_PAYLOAD_FORMAT:
		b8 = &out->payload_format;
		break;
	case MQTT5_PROP_REQUEST_PROBLEM:
		b8 = &out->request_problem;
		break;
	case MQTT5_PROP_REQUEST_RESPONSE:
		b8 = &out->request_response;
		break;
	case MQTT5_PROP_MAX_QOS:
		b8 = &out->max_qos;
		break;
	case MQTT5_PROP_RETAIN_AVAILABLE:
		b8 = &out->retain_available;
		break;
	case MQTT5_PROP_WILDCARD_AVAILABLE:
		b8 = &out->wildcard_available;
		break;
	case MQTT5_PROP_SUB_ID_AVAILABLE:
		b8 = &out->sub_id_available;
		break;
	case MQTT5_PROP_SHARED_AVAILABLE:
		b8 = &out->shared_available;
		break;
	case MQTT5_PROP_MESSAGE_EXPIRY:
		out->message_expiry = u;
		return 0;
	case MQTT5_PROP_SESSION_EXPIRY:
		out->session_expiry = u;
		return 0;
	case MQTT5_PROP_WILL_DELAY:
		out->will_delay = u;
		return 0;
	case MQTT5_PROP_MAX_PACKET_SIZE:
		if (u == 0)
			return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
			    "maximum packet size is 0");
		out->max_packet_size = u;
		return 0;
	case MQTT5_PROP_SERVER_KEEP_ALIVE:
		out->server_keep_alive = (uint16_t)u;
		return 0;
	case MQTT5_PROP_RECEIVE_MAX:
		if (u == 0)
			return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
			    "receive maximum is 0");
		out->receive_max = (uint16_t)u;
		return 0;
	case MQTT5_PROP_TOPIC_ALIAS_MAX:
		out->topic_alias_max = (uint16_t)u;
		return 0;
	case MQTT5_PROP_TOPIC_ALIAS:
		if (u == 0)
			return P_FAIL(why, MQTT5_RC_TOPIC_ALIAS_INVALID,
			    "topic alias is 0");
		out->topic_alias = (uint16_t)u;
		return 0;
	case MQTT5_PROP_SUB_ID:
		if (u == 0)
			return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
			    "subscription identifier is 0");
		if (out->n_sub_ids == 0)
			out->sub_id = u;
		if (out->n_sub_ids < MQTT5_SUB_IDS_MAX)
			out->sub_ids[out->n_sub_ids] = u;
		out->n_sub_ids++;
		return 0;
	case MQTT5_PROP_CONTENT_TYPE:
		out->content_type = a;
		return 0;
	case MQTT5_PROP_RESPONSE_TOPIC:
		out->response_topic = a;
		return 0;
	case MQTT5_PROP_CORRELATION_DATA:
		out->correlation_data = a;
		return 0;
	case MQTT5_PROP_ASSIGNED_CLIENT_ID:
		out->assigned_client_id = a;
		return 0;
	case MQTT5_PROP_AUTH_METHOD:
		out->auth_method = a;
		return 0;
	case MQTT5_PROP_AUTH_DATA:
		out->auth_data = a;
		return 0;
	case MQTT5_PROP_RESPONSE_INFO:
		out->response_info = a;
		return 0;
	case MQTT5_PROP_SERVER_REFERENCE:
		out->server_reference = a;
		return 0;
	case MQTT5_PROP_REASON_STRING:
		out->reason_string = a;
		return 0;
	case MQTT5_PROP_USER:
		out->n_user++;
		return 0;
	default:
		return P_FAIL(why, MQTT5_RC_MALFORMED, "unknown property");
	}
	/* Byte properties are 0 or 1; maximum QoS too (3.2.2.3.4). */
	if (u > 1)
		return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
		    "byte property is not 0 or 1");
	*b8 = (uint8_t)u;
	return 0;
}

/*
 * A block that is not one 0 byte: mqtt5_props_decode()'s work, kept out
 * of its own frame, so that the empty block, what nearly every PUBLISH
 * and ack holds, costs a call and a compare.
 */
static int __attribute__((noinline))
mqtt5_props_decode_block(struct bytes_r *r, int in, struct mqtt5_props *out,
    const char **why)
{
	struct bytes_view a, b;
	struct bytes_r pr;
	uint32_t len, id, u;
	int rc;

	if (bytes_get_varint(r, &len) != 0)
		return P_FAIL(why, MQTT5_RC_MALFORMED,
		    "property length is bad or truncated");
	if (bytes_get_view(r, len, &out->raw) != 0)
		return P_FAIL(why, MQTT5_RC_MALFORMED,
		    "properties run past the end");
	bytes_r_init(&pr, out->raw.p, out->raw.len);
	while (bytes_r_left(&pr) > 0) {
		/* The identifier is a varint (2.2.2.2); all fit in a byte. */
		if (bytes_get_varint(&pr, &id) != 0)
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "property identifier is bad or truncated");
		if (id > MQTT5_PROP_ID_MAX || mqtt5_prop_tab[id].type == T_NONE)
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "unknown property");
		if (!((mqtt5_prop_tab[id].where >> in) & 1))
			return P_FAIL(why, MQTT5_RC_MALFORMED,
			    "property not allowed in this packet");
		/* Twice: a protocol error, but for user properties and the
		 * subscription identifiers of a PUBLISH (3.3.2.3.8). */
		if (MQTT5_HAS(out, id) && id != MQTT5_PROP_USER &&
		    !(id == MQTT5_PROP_SUB_ID && in == 3))
			return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
			    "property included twice");
		u = 0;
		a = b = bytes_view_of(NULL, 0);
		if ((rc = mqtt5_get_value(&pr, mqtt5_prop_tab[id].type, &u,
		    &a, &b, why)) != 0)
			return rc;
		if ((rc = mqtt5_store(out, (uint8_t)id, u, a, why)) != 0)
			return rc;
		MQTT5_SET(out, id);
	}
	/* 3.1.2.11.10, 3.15.2.2.3: authentication data needs a method. */
	if (MQTT5_HAS(out, MQTT5_PROP_AUTH_DATA) &&
	    !MQTT5_HAS(out, MQTT5_PROP_AUTH_METHOD))
		return P_FAIL(why, MQTT5_RC_PROTOCOL_ERROR,
		    "authentication data without a method");
	return 0;
}

int
mqtt5_props_decode(struct bytes_r *r, int in, struct mqtt5_props *out,
    const char **why)
{
	static const char *unused;

	if (why == NULL)
		why = &unused;
	mqtt5_props_init(out);
	if (in < 0 || in > 15)
		return P_FAIL(why, MQTT5_RC_MALFORMED, "no properties here");
	/* An empty block is valid in every packet: nothing to check. */
	if (bytes_r_left(r) > 0 && r->p[r->off] == 0) {
		r->off++;
		out->raw = bytes_view_of(r->p + r->off, 0);
		return 0;
	}
	return mqtt5_props_decode_block(r, in, out, why);
}

int
mqtt5_props_next(struct bytes_view *it, uint8_t *id, struct bytes_view *a,
    struct bytes_view *b)
{
	struct bytes_r r;
	uint32_t v, u;
	uint8_t t;
	size_t start;
	const char *why;

	if (it->len == 0)
		return 0;
	bytes_r_init(&r, it->p, it->len);
	if (bytes_get_varint(&r, &v) != 0 || v > MQTT5_PROP_ID_MAX ||
	    (t = mqtt5_prop_tab[v].type) == T_NONE)
		return 0;
	start = r.off;
	*a = *b = bytes_view_of(NULL, 0);
	if (mqtt5_get_value(&r, t, &u, a, b, &why) != 0)
		return 0;
	if (t != T_STRING && t != T_BINARY && t != T_PAIR)
		*a = bytes_view_of(it->p + start, r.off - start);
	*id = (uint8_t)v;
	*it = bytes_r_rest(&r);
	return 1;
}

/*
 * Properties a broker does not carry: they are per hop or per delivery,
 * or (will delay) the will's, not its message's.
 */
#define MQTT5_NOT_CARRIED	((uint64_t)1 << MQTT5_PROP_TOPIC_ALIAS | \
	(uint64_t)1 << MQTT5_PROP_MESSAGE_EXPIRY | \
	(uint64_t)1 << MQTT5_PROP_SUB_ID | \
	(uint64_t)1 << MQTT5_PROP_WILL_DELAY)

int
mqtt5_props_carried_view(const struct mqtt5_props *p, struct bytes_view *out)
{
	if ((p->present & ~MQTT5_NOT_CARRIED) == 0) {
		/* Nothing carried (a PUBLISH with only its topic alias,
		 * say): no walk. */
		*out = bytes_view_of(p->raw.p, 0);
		return 1;
	}
	if (p->present & MQTT5_NOT_CARRIED)
		return 0;
	*out = p->raw;
	return 1;
}

size_t
mqtt5_props_carry(const struct mqtt5_props *p, uint8_t *buf)
{
	struct bytes_view it = p->raw, a, b;
	const uint8_t *start;
	size_t n = 0;
	uint8_t id;

	for (start = it.p; mqtt5_props_next(&it, &id, &a, &b); start = it.p) {
		if (((MQTT5_NOT_CARRIED >> id) & 1) == 0) {
			memcpy(buf + n, start, (size_t)(it.p - start));
			n += (size_t)(it.p - start);
		}
	}
	return n;
}

/* Encoding. */

static size_t
mqtt5_value_len(uint8_t id, const struct mqtt5_props *p)
{
	struct bytes_view v;

	switch (mqtt5_prop_tab[id].type) {
	case T_BYTE:
		return 1;
	case T_TWO:
		return 2;
	case T_FOUR:
		return 4;
	case T_VARINT:	/* only the subscription identifier */
		if (p->sub_id == 0 || p->sub_id > 268435455u)
			return SIZE_MAX;
		return mqtt_varint_size(p->sub_id);
	default:
		break;
	}
	switch (id) {
	case MQTT5_PROP_CONTENT_TYPE:
		v = p->content_type;
		break;
	case MQTT5_PROP_RESPONSE_TOPIC:
		v = p->response_topic;
		break;
	case MQTT5_PROP_CORRELATION_DATA:
		v = p->correlation_data;
		break;
	case MQTT5_PROP_ASSIGNED_CLIENT_ID:
		v = p->assigned_client_id;
		break;
	case MQTT5_PROP_AUTH_METHOD:
		v = p->auth_method;
		break;
	case MQTT5_PROP_AUTH_DATA:
		v = p->auth_data;
		break;
	case MQTT5_PROP_RESPONSE_INFO:
		v = p->response_info;
		break;
	case MQTT5_PROP_SERVER_REFERENCE:
		v = p->server_reference;
		break;
	case MQTT5_PROP_REASON_STRING:
		v = p->reason_string;
		break;
	default:
		return SIZE_MAX;	/* user properties go in `user` */
	}
	return v.len > 65535 ? SIZE_MAX : 2 + v.len;
}

/*
 * The present bits the encoder writes from a value, ids 1 to
 * MQTT5_PROP_ID_MAX: not user properties (they are in `user`) nor the
 * one subscription identifier when the list is used; so a decoded block
 * encodes as it came.  Walked a set bit at a time (ascending ids): a
 * PUBLISH to a subscriber usually has none or one, and this runs for
 * every delivery to a 5.0 client.
 */
static uint64_t
mqtt5_walk_bits(const struct mqtt5_props *p)
{
	uint64_t bits = p->present &
	    ((((uint64_t)1 << MQTT5_PROP_ID_MAX) - 1) << 1);

	bits &= ~((uint64_t)1 << MQTT5_PROP_USER);
	if (p->n_sub_ids > 0)
		bits &= ~((uint64_t)1 << MQTT5_PROP_SUB_ID);
	return bits;
}

size_t
mqtt5_props_len(const struct mqtt5_props *p)
{
	size_t n = 0, v, i;
	uint64_t bits;
	unsigned int id;

	if (p == NULL)
		return 0;
	for (bits = mqtt5_walk_bits(p); bits != 0; bits &= bits - 1) {
		id = (unsigned int)__builtin_ctzll(bits);
		if (mqtt5_prop_tab[id].type == T_NONE ||
		    (v = mqtt5_value_len((uint8_t)id, p)) == SIZE_MAX)
			return SIZE_MAX;
		n += 1 + v;
	}
	if (p->n_sub_ids > MQTT5_SUB_IDS_MAX)
		return SIZE_MAX;
	for (i = 0; i < p->n_sub_ids; i++) {
		if (p->sub_ids[i] == 0 || p->sub_ids[i] > 268435455u)
			return SIZE_MAX;
		n += 1 + mqtt_varint_size(p->sub_ids[i]);
	}
	if (p->user.len > 268435455u)
		return SIZE_MAX;
	n += p->user.len;
	return n > 268435455u ? SIZE_MAX : n;
}

size_t
mqtt5_props_size(const struct mqtt5_props *p)
{
	size_t n = mqtt5_props_len(p);

	return n == SIZE_MAX ? SIZE_MAX : mqtt_varint_size(n) + n;
}

static void
mqtt5_put_string(struct bytes_w *w, struct bytes_view v)
{
	bytes_put_u16be(w, (uint16_t)v.len);
	bytes_put_view(w, v);
}

int
mqtt5_props_encode(struct bytes_w *w, const struct mqtt5_props *p)
{
	return mqtt5_props_write(w, p, mqtt5_props_len(p));
}

int
mqtt5_props_write(struct bytes_w *w, const struct mqtt5_props *p, size_t len)
{
	size_t i;
	uint64_t bits;
	unsigned int id;
	uint32_t u;

	if (len == SIZE_MAX)
		return CAIRN_ERR_INVAL;
	bytes_put_varint(w, (uint32_t)len);
	if (p == NULL)
		return w->err;
	for (bits = mqtt5_walk_bits(p); bits != 0; bits &= bits - 1) {
		id = (unsigned int)__builtin_ctzll(bits);
		bytes_put_u8(w, (uint8_t)id);
		switch (id) {
		case MQTT5_PROP_PAYLOAD_FORMAT:
			bytes_put_u8(w, p->payload_format);
			break;
		case MQTT5_PROP_REQUEST_PROBLEM:
			bytes_put_u8(w, p->request_problem);
			break;
		case MQTT5_PROP_REQUEST_RESPONSE:
			bytes_put_u8(w, p->request_response);
			break;
		case MQTT5_PROP_MAX_QOS:
			bytes_put_u8(w, p->max_qos);
			break;
		case MQTT5_PROP_RETAIN_AVAILABLE:
			bytes_put_u8(w, p->retain_available);
			break;
		case MQTT5_PROP_WILDCARD_AVAILABLE:
			bytes_put_u8(w, p->wildcard_available);
			break;
		case MQTT5_PROP_SUB_ID_AVAILABLE:
			bytes_put_u8(w, p->sub_id_available);
			break;
		case MQTT5_PROP_SHARED_AVAILABLE:
			bytes_put_u8(w, p->shared_available);
			break;
		case MQTT5_PROP_SERVER_KEEP_ALIVE:
			bytes_put_u16be(w, p->server_keep_alive);
			break;
		case MQTT5_PROP_RECEIVE_MAX:
			bytes_put_u16be(w, p->receive_max);
			break;
		case MQTT5_PROP_TOPIC_ALIAS_MAX:
			bytes_put_u16be(w, p->topic_alias_max);
			break;
		case MQTT5_PROP_TOPIC_ALIAS:
			bytes_put_u16be(w, p->topic_alias);
			break;
		case MQTT5_PROP_MESSAGE_EXPIRY:
			bytes_put_u32be(w, p->message_expiry);
			break;
		case MQTT5_PROP_SESSION_EXPIRY:
			bytes_put_u32be(w, p->session_expiry);
			break;
		case MQTT5_PROP_WILL_DELAY:
			bytes_put_u32be(w, p->will_delay);
			break;
		case MQTT5_PROP_MAX_PACKET_SIZE:
			bytes_put_u32be(w, p->max_packet_size);
			break;
		case MQTT5_PROP_SUB_ID:
			bytes_put_varint(w, p->sub_id);
			break;
		case MQTT5_PROP_CONTENT_TYPE:
			mqtt5_put_string(w, p->content_type);
			break;
		case MQTT5_PROP_RESPONSE_TOPIC:
			mqtt5_put_string(w, p->response_topic);
			break;
		case MQTT5_PROP_CORRELATION_DATA:
			mqtt5_put_string(w, p->correlation_data);
			break;
		case MQTT5_PROP_ASSIGNED_CLIENT_ID:
			mqtt5_put_string(w, p->assigned_client_id);
			break;
		case MQTT5_PROP_AUTH_METHOD:
			mqtt5_put_string(w, p->auth_method);
			break;
		case MQTT5_PROP_AUTH_DATA:
			mqtt5_put_string(w, p->auth_data);
			break;
		case MQTT5_PROP_RESPONSE_INFO:
			mqtt5_put_string(w, p->response_info);
			break;
		case MQTT5_PROP_SERVER_REFERENCE:
			mqtt5_put_string(w, p->server_reference);
			break;
		case MQTT5_PROP_REASON_STRING:
			mqtt5_put_string(w, p->reason_string);
			break;
		default:
			break;
		}
	}
	for (i = 0; i < p->n_sub_ids; i++) {
		u = p->sub_ids[i];
		bytes_put_u8(w, MQTT5_PROP_SUB_ID);
		bytes_put_varint(w, u);
	}
	if (p->user.len > 0)
		bytes_put_view(w, p->user);
	return w->err;
}

size_t
mqtt5_user_prop_size(struct bytes_view name, struct bytes_view value)
{
	return 1 + 2 + name.len + 2 + value.len;
}

int
mqtt5_user_prop_put(struct bytes_w *w, struct bytes_view name,
    struct bytes_view value)
{
	if (name.len > 65535 || value.len > 65535)
		return CAIRN_ERR_INVAL;
	bytes_put_u8(w, MQTT5_PROP_USER);
	mqtt5_put_string(w, name);
	mqtt5_put_string(w, value);
	return w->err;
}
