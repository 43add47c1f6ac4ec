/*
 * MQTT 5.0 / 3.1.1 / 3.1 wire codec; see mqtt_codec.h for each packet's
 * layout and contract.  Decoders see exactly one body (mqtt_frame() cut
 * it), so a short read inside a body is malformed, never "need more".
 * One decoder per packet type branches on the level where 5.0 differs;
 * each failure names its 5.0 reason code (struct mqtt_err), which only a
 * 5.0 peer is told.  Encoders size the packet first and reserve it, so
 * after that no put can fail.
 */
#include "broker/mqtt/mqtt_codec.h"

#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/utf8.h"

/* Fails with reason code rc and a static reason. */
#define MQTT_FAIL_RC(e, rc, msg) \
	((e)->why = (msg), (e)->reason = (rc), CAIRN_ERR_PROTO)
#define MQTT_FAIL(e, msg)	MQTT_FAIL_RC(e, MQTT5_RC_MALFORMED, msg)

static const char mqtt_name_311[] = "MQTT";	/* do not change */
static const char mqtt_name_31[] = "MQIsdp";	/* do not change */

/* Connect flag bits. */
#define MQTT_CF_USERNAME	0x80
#define MQTT_CF_PASSWORD	0x40
#define MQTT_CF_WILL_RETAIN	0x20
#define MQTT_CF_WILL_QOS_SHIFT	3
#define MQTT_CF_WILL		0x04
#define MQTT_CF_CLEAN		0x02
#define MQTT_CF_RESERVED	0x01

/* PUBLISH fixed header flags. */
#define MQTT_PF_DUP		0x08
#define MQTT_PF_QOS_SHIFT	1
#define MQTT_PF_RETAIN		0x01

/* The one flag value of PUBREL, SUBSCRIBE and UNSUBSCRIBE. */
#define MQTT_FLAGS_0010		0x02

int
mqtt_frame(struct bytes_view in, size_t max_packet, struct mqtt_hdr *hdr,
    struct bytes_view *body, size_t *consumed)
{
	struct bytes_r r;
	uint32_t rem;
	uint8_t b0;
	size_t hlen;
	int rc;

	bytes_r_init(&r, in.p, in.len);
	if (bytes_get_u8(&r, &b0) != 0)
		return CAIRN_ERR_NEED_MORE;
	if ((b0 >> 4) == 0)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_varint(&r, &rem)) != 0)
		return rc;
	hlen = r.off;
	/* rem <= MQTT_MAX_REMAINING, so the sum cannot wrap. */
	if (hlen + rem > max_packet)
		return CAIRN_ERR_TOO_BIG;
	if (bytes_get_view(&r, rem, body) != 0)
		return CAIRN_ERR_NEED_MORE;
	hdr->type = b0 >> 4;
	hdr->flags = b0 & 0x0f;
	hdr->remaining = rem;
	*consumed = hlen + rem;
	return 0;
}

/*
 * A UTF-8 string field [MQTT-1.5.3]: 16-bit length, then strict UTF-8
 * without U+0000.
 */
static int
mqtt_get_string(struct bytes_r *r, struct bytes_view *v, struct mqtt_err *e)
{
	if (bytes_get_view16(r, v) != 0)
		return MQTT_FAIL(e, "string runs past the end");
	if (v->len > 0 && memchr(v->p, '\0', v->len) != NULL)
		return MQTT_FAIL(e, "string contains U+0000");
	if (utf8_count(v->p, v->len) < 0)
		return MQTT_FAIL(e, "string is not valid UTF-8");
	return 0;
}

/* A non-zero packet identifier [MQTT-2.3.1-1]. */
static int
mqtt_get_id(struct bytes_r *r, uint16_t *id, struct mqtt_err *e)
{
	uint16_t v;

	if (bytes_get_u16be(r, &v) != 0)
		return MQTT_FAIL(e, "packet id runs past the end");
	if (v == 0)
		return MQTT_FAIL(e, "packet id is 0");
	*id = v;
	return 0;
}

/* A property block; its refusal keeps the code mqtt5_props gives. */
static int
mqtt_get_props(struct bytes_r *r, int in, struct mqtt5_props *p,
    struct mqtt_err *e)
{
	int rc;

	if ((rc = mqtt5_props_decode(r, in, p, &e->why)) != 0) {
		e->reason = (uint8_t)rc;
		return CAIRN_ERR_PROTO;
	}
	return 0;
}

/* Flags 0010, or at level 3.1 also 1010: 3.1 resends with DUP set. */
static int
mqtt_flags_0010(const struct mqtt_hdr *hdr, uint8_t level)
{
	return hdr->flags == MQTT_FLAGS_0010 || (level == MQTT_LEVEL_31 &&
	    hdr->flags == (MQTT_FLAGS_0010 | MQTT_PF_DUP));
}

static int
dec_connect(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_connect *out, struct mqtt_err *e)
{
	struct bytes_view name;
	struct bytes_r r;
	uint8_t level, flags;

	memset(out, 0, sizeof(*out));
	if (hdr->flags != 0)
		return MQTT_FAIL(e, "CONNECT flags are not 0000");
	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_view16(&r, &name) != 0 || bytes_get_u8(&r, &level) != 0)
		return MQTT_FAIL(e, "CONNECT too short for its header");
	if (bytes_view_eq_str(name, mqtt_name_311)) {
		if (level != MQTT_LEVEL_311 && level != MQTT_LEVEL_5)
			goto bad_level;
	} else if (bytes_view_eq_str(name, mqtt_name_31)) {
		if (level != MQTT_LEVEL_31)
			goto bad_level;
	} else
		return MQTT_FAIL(e, "unknown protocol name");
	out->level = level;

	if (bytes_get_u8(&r, &flags) != 0 ||
	    bytes_get_u16be(&r, &out->keepalive) != 0)
		return MQTT_FAIL(e, "CONNECT too short for its header");
	if (flags & MQTT_CF_RESERVED)
		return MQTT_FAIL(e, "CONNECT reserved flag is set");
	out->clean_session = (flags & MQTT_CF_CLEAN) != 0;
	out->will_flag = (flags & MQTT_CF_WILL) != 0;
	out->will_qos = (flags >> MQTT_CF_WILL_QOS_SHIFT) & 0x03;
	out->will_retain = (flags & MQTT_CF_WILL_RETAIN) != 0;
	out->has_username = (flags & MQTT_CF_USERNAME) != 0;
	out->has_password = (flags & MQTT_CF_PASSWORD) != 0;
	if (out->will_qos == 3)
		return MQTT_FAIL(e, "will QoS is 3");
	/* [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]. */
	if (!out->will_flag && (out->will_qos != 0 || out->will_retain))
		return MQTT_FAIL(e, "will QoS or retain without a will");
	/* [MQTT-3.1.2-22]; 3.1 allowed it, and so does 5.0 (3.1.2.9). */
	if (level == MQTT_LEVEL_311 && out->has_password && !out->has_username)
		return MQTT_FAIL(e, "password without a user name");
	if (level == MQTT_LEVEL_5) {
		if (mqtt_get_props(&r, MQTT_CONNECT, &out->props, e) != 0)
			return CAIRN_ERR_PROTO;
	} else
		mqtt5_props_init(&out->props);
	mqtt5_props_init(&out->will_props);

	if (mqtt_get_string(&r, &out->client_id, e) != 0)
		return CAIRN_ERR_PROTO;
	if (out->will_flag) {
		if (level == MQTT_LEVEL_5 && mqtt_get_props(&r, MQTT5_IN_WILL,
		    &out->will_props, e) != 0)
			return CAIRN_ERR_PROTO;
		if (mqtt_get_string(&r, &out->will_topic, e) != 0)
			return CAIRN_ERR_PROTO;
		if (!mqtt_topic_name_valid(out->will_topic))
			return MQTT_FAIL_RC(e, MQTT5_RC_TOPIC_NAME_INVALID,
			    "will topic is not a topic name");
		if (bytes_get_view16(&r, &out->will_message) != 0)
			return MQTT_FAIL(e, "will message runs past the end");
	}
	/* 3.1 clients may set a flag and leave its field out: ignore it. */
	if (out->has_username) {
		if (level == MQTT_LEVEL_31 && bytes_r_left(&r) == 0)
			out->has_username = 0;
		else if (mqtt_get_string(&r, &out->username, e) != 0)
			return CAIRN_ERR_PROTO;
	}
	if (out->has_password) {
		if (level == MQTT_LEVEL_31 && bytes_r_left(&r) == 0)
			out->has_password = 0;
		else if (bytes_get_view16(&r, &out->password) != 0)
			return MQTT_FAIL(e, "password runs past the end");
	}
	if (bytes_r_left(&r) != 0)
		return MQTT_FAIL(e, "bytes after the CONNECT payload");

	/* Well-formed: only a refusal with a CONNACK is left. */
	if (level == MQTT_LEVEL_311) {
		if (out->client_id.len == 0 && !out->clean_session)
			out->connack_rc = MQTT_CONNACK_ID_REJECTED;
	} else if (level == MQTT_LEVEL_31 && (out->client_id.len == 0 ||
	    out->client_id.len > MQTT_V31_CLIENT_ID_MAX))
		out->connack_rc = MQTT_CONNACK_ID_REJECTED;
	return 0;

bad_level:
	/* [MQTT-3.1.2-2]: answer 0x01, then close; the rest may be a later
	 * protocol's, so it is not parsed. */
	out->level = level;
	out->connack_rc = MQTT_CONNACK_BAD_PROTOCOL;
	mqtt5_props_init(&out->props);
	mqtt5_props_init(&out->will_props);
	return 0;
}

static int
dec_connack(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_connack *out, struct mqtt_err *e)
{
	struct bytes_r r;
	uint8_t ackf;

	if (hdr->flags != 0)
		return MQTT_FAIL(e, "CONNACK flags are not 0000");
	if (level == MQTT_LEVEL_5) {
		bytes_r_init(&r, body.p, body.len);
		if (bytes_get_u8(&r, &ackf) != 0 ||
		    bytes_get_u8(&r, &out->rc) != 0)
			return MQTT_FAIL(e, "CONNACK too short");
		if (ackf & 0xfe)
			return MQTT_FAIL(e, "CONNACK reserved flags are set");
		if (!mqtt5_rc_valid(MQTT_CONNACK, out->rc))
			return MQTT_FAIL(e, "CONNACK reason code is reserved");
		/* [MQTT-3.2.2-6] */
		if ((ackf & 0x01) && out->rc != 0)
			return MQTT_FAIL(e, "session present with a refusal");
		out->session_present = ackf & 0x01;
		if (mqtt_get_props(&r, MQTT_CONNACK, &out->props, e) != 0)
			return CAIRN_ERR_PROTO;
		if (bytes_r_left(&r) != 0)
			return MQTT_FAIL(e, "bytes after the CONNACK");
		return 0;
	}
	if (body.len != 2)
		return MQTT_FAIL(e, "CONNACK is not 2 bytes");
	ackf = body.p[0];
	if (body.p[1] > MQTT_CONNACK_NOT_AUTHORIZED)
		return MQTT_FAIL(e, "CONNACK return code is reserved");
	/* 3.1's first byte is unused. */
	if (level == MQTT_LEVEL_31)
		ackf = 0;
	if (ackf & 0xfe)
		return MQTT_FAIL(e, "CONNACK reserved flags are set");
	if ((ackf & 0x01) && body.p[1] != 0)
		return MQTT_FAIL(e, "session present with a refusal");
	out->session_present = ackf & 0x01;
	out->rc = body.p[1];
	mqtt5_props_init(&out->props);
	return 0;
}

static int
dec_publish(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_publish *out, struct mqtt_err *e)
{
	struct bytes_r r;

	out->dup = (hdr->flags & MQTT_PF_DUP) != 0;
	out->qos = (hdr->flags >> MQTT_PF_QOS_SHIFT) & 0x03;
	out->retain = (hdr->flags & MQTT_PF_RETAIN) != 0;
	out->id = 0;
	if (out->qos == 3)
		return MQTT_FAIL(e, "PUBLISH QoS is 3");
	if (out->qos == 0 && out->dup && level != MQTT_LEVEL_31)
		return MQTT_FAIL(e, "PUBLISH DUP set with QoS 0");
	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_view16(&r, &out->topic) != 0)
		return MQTT_FAIL(e, "topic runs past the end");
	/* 5.0: an empty topic stands for a topic alias (3.3.2.1). */
	if (!(level == MQTT_LEVEL_5 && out->topic.len == 0) &&
	    !mqtt_topic_name_valid(out->topic))
		return MQTT_FAIL_RC(e, MQTT5_RC_TOPIC_NAME_INVALID,
		    "PUBLISH topic is not a topic name");
	if (out->qos > 0 && mqtt_get_id(&r, &out->id, e) != 0)
		return CAIRN_ERR_PROTO;
	if (level == MQTT_LEVEL_5) {
		if (mqtt_get_props(&r, MQTT_PUBLISH, &out->props, e) != 0)
			return CAIRN_ERR_PROTO;
		if (out->topic.len == 0 &&
		    !MQTT5_HAS(&out->props, MQTT5_PROP_TOPIC_ALIAS))
			return MQTT_FAIL_RC(e, MQTT5_RC_PROTOCOL_ERROR,
			    "PUBLISH without a topic or a topic alias");
	}
	out->payload = bytes_r_rest(&r);
	return 0;
}

/* PUBACK..PUBCOMP, and 3.1.1's UNSUBACK. */
static int
dec_ack(const struct mqtt_hdr *hdr, struct bytes_view body, uint8_t level,
    struct mqtt_ack *out, struct mqtt_err *e)
{
	struct bytes_r r;
	int ok;

	switch (hdr->type) {
	case MQTT_PUBREL:
		ok = mqtt_flags_0010(hdr, level);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		ok = hdr->flags == 0;
		break;
	default:
		return MQTT_FAIL(e, "not an acknowledgement");
	}
	if (!ok)
		return MQTT_FAIL(e, "acknowledgement has bad flags");
	bytes_r_init(&r, body.p, body.len);
	out->rc = 0;
	if (level != MQTT_LEVEL_5) {
		/* props are left alone: not for 3.1.1, and acks are hot. */
		if (body.len != 2)
			return MQTT_FAIL(e, "acknowledgement is not 2 bytes");
		return mqtt_get_id(&r, &out->id, e);
	}
	/* 5.0: 3.4.2.1, the reason code and properties may be left out. */
	if (mqtt_get_id(&r, &out->id, e) != 0)
		return CAIRN_ERR_PROTO;
	mqtt5_props_init(&out->props);
	if (bytes_r_left(&r) == 0)
		return 0;
	bytes_get_u8(&r, &out->rc);
	if (!mqtt5_rc_valid(hdr->type, out->rc))
		return MQTT_FAIL(e, "acknowledgement reason code is reserved");
	if (bytes_r_left(&r) == 0)
		return 0;
	if (mqtt_get_props(&r, hdr->type, &out->props, e) != 0)
		return CAIRN_ERR_PROTO;
	if (bytes_r_left(&r) != 0)
		return MQTT_FAIL(e, "bytes after the acknowledgement");
	return 0;
}

/* The options byte of a SUBSCRIBE entry at `level`; 0 or the refusal. */
static int
mqtt_check_subopts(uint8_t o, uint8_t level, struct mqtt_err *e)
{
	if (level != MQTT_LEVEL_5) {
		if (o > 2)
			return MQTT_FAIL(e, "requested QoS byte is not 0..2");
		return 0;
	}
	/* Reserved bits [MQTT-3.8.3-5] and QoS 3 are malformed (3.8.3.1). */
	if (o & MQTT_SUBOPT_RESERVED)
		return MQTT_FAIL(e, "subscription options reserved bits set");
	if ((o & MQTT_SUBOPT_QOS_MASK) == 3)
		return MQTT_FAIL(e, "subscription options QoS is 3");
	if (((o & MQTT_SUBOPT_RH_MASK) >> MQTT_SUBOPT_RH_SHIFT) == 3)
		return MQTT_FAIL_RC(e, MQTT5_RC_PROTOCOL_ERROR,
		    "subscription options retain handling is 3");
	return 0;
}

/* SUBSCRIBE (with_opts) or UNSUBSCRIBE. */
static int
dec_subscribe(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, int with_opts, struct mqtt_subscribe *out,
    struct mqtt_err *e)
{
	struct bytes_view f;
	struct bytes_r r;
	uint8_t o;

	memset(out, 0, sizeof(*out));
	if (!mqtt_flags_0010(hdr, level))
		return MQTT_FAIL(e, with_opts ? "SUBSCRIBE flags are not 0010" :
		    "UNSUBSCRIBE flags are not 0010");
	bytes_r_init(&r, body.p, body.len);
	if (mqtt_get_id(&r, &out->id, e) != 0)
		return CAIRN_ERR_PROTO;
	if (level == MQTT_LEVEL_5) {
		if (mqtt_get_props(&r, with_opts ? MQTT_SUBSCRIBE :
		    MQTT_UNSUBSCRIBE, &out->props, e) != 0)
			return CAIRN_ERR_PROTO;
	} else
		mqtt5_props_init(&out->props);
	out->list = bytes_r_rest(&r);
	/* [MQTT-3.8.3-2], [MQTT-3.10.3-2] */
	if (bytes_r_left(&r) == 0)
		return MQTT_FAIL_RC(e, MQTT5_RC_PROTOCOL_ERROR, with_opts ?
		    "SUBSCRIBE without a topic filter" :
		    "UNSUBSCRIBE without a topic filter");
	while (bytes_r_left(&r) > 0) {
		if (mqtt_get_string(&r, &f, e) != 0)
			return CAIRN_ERR_PROTO;
		if (!mqtt_topic_filter_valid(f))
			return MQTT_FAIL_RC(e, MQTT5_RC_TOPIC_FILTER_INVALID,
			    "invalid topic filter");
		if (with_opts) {
			if (bytes_get_u8(&r, &o) != 0)
				return MQTT_FAIL(e,
				    "requested QoS runs past the end");
			if (mqtt_check_subopts(o, level, e) != 0)
				return CAIRN_ERR_PROTO;
		}
		out->count++;
	}
	return 0;
}

/* SUBACK, or 5.0's UNSUBACK. */
static int
dec_suback(const struct mqtt_hdr *hdr, struct bytes_view body, uint8_t level,
    struct mqtt_suback *out, struct mqtt_err *e)
{
	struct bytes_r r;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (hdr->flags != 0)
		return MQTT_FAIL(e, "SUBACK flags are not 0000");
	bytes_r_init(&r, body.p, body.len);
	if (mqtt_get_id(&r, &out->id, e) != 0)
		return CAIRN_ERR_PROTO;
	if (level == MQTT_LEVEL_5) {
		if (mqtt_get_props(&r, hdr->type, &out->props, e) != 0)
			return CAIRN_ERR_PROTO;
	} else
		mqtt5_props_init(&out->props);
	out->codes = bytes_r_rest(&r);
	if (out->codes.len == 0)
		return MQTT_FAIL(e, "SUBACK without a return code");
	for (i = 0; i < out->codes.len; i++) {
		if (level == MQTT_LEVEL_5) {
			if (!mqtt5_rc_valid(hdr->type, out->codes.p[i]))
				return MQTT_FAIL(e,
				    "SUBACK reason code is reserved");
		} else if (out->codes.p[i] > 2 &&
		    out->codes.p[i] != MQTT_SUBACK_FAILURE)
			return MQTT_FAIL(e, "SUBACK return code is reserved");
	}
	return 0;
}

/* PINGREQ, PINGRESP; DISCONNECT and AUTH before 5.0's forms. */
static int
dec_empty(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_err *e)
{
	if (hdr->type != MQTT_PINGREQ && hdr->type != MQTT_PINGRESP &&
	    hdr->type != MQTT_DISCONNECT)
		return MQTT_FAIL(e, "not an empty packet type");
	if (hdr->flags != 0)
		return MQTT_FAIL(e, "flags are not 0000");
	if (body.len != 0)
		return MQTT_FAIL(e, "body is not empty");
	return 0;
}

/* 5.0 DISCONNECT and AUTH: [reason code [properties]] (3.14.2, 3.15.2). */
static int
dec_disconnect5(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_disconnect *out, struct mqtt_err *e)
{
	struct bytes_r r;
	int in = hdr->type == MQTT_AUTH ? MQTT5_IN_AUTH : MQTT_DISCONNECT;

	if (hdr->flags != 0)
		return MQTT_FAIL(e, "flags are not 0000");
	out->rc = 0;
	mqtt5_props_init(&out->props);
	bytes_r_init(&r, body.p, body.len);
	if (bytes_r_left(&r) == 0)
		return 0;
	bytes_get_u8(&r, &out->rc);
	if (!mqtt5_rc_valid(in, out->rc))
		return MQTT_FAIL(e, "reason code is reserved");
	if (bytes_r_left(&r) == 0)
		return 0;
	if (mqtt_get_props(&r, in, &out->props, e) != 0)
		return CAIRN_ERR_PROTO;
	if (bytes_r_left(&r) != 0)
		return MQTT_FAIL(e, "bytes after the properties");
	return 0;
}

/* Public decoders: a copy in, out only on success. */

int
mqtt_decode_connect_ex(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_connect *res, struct mqtt_err *err)
{
	struct mqtt_connect tmp;
	struct mqtt_err e = { "malformed", MQTT5_RC_MALFORMED };
	int rc;

	if ((rc = dec_connect(hdr, body, &tmp, &e)) == 0)
		*res = tmp;
	else if (err != NULL)
		*err = e;
	return rc;
}

int
mqtt_decode_connect(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_connect *res, const char **why)
{
	struct mqtt_err e;
	int rc;

	if ((rc = mqtt_decode_connect_ex(hdr, body, res, &e)) != 0 &&
	    why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_connack(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_connack *res, const char **why)
{
	struct mqtt_connack tmp;
	struct mqtt_err e;
	int rc;

	if ((rc = dec_connack(hdr, body, level, &tmp, &e)) == 0)
		*res = tmp;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_publish(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_publish *res, const char **why)
{
	struct mqtt_publish tmp;
	struct mqtt_err e;
	int rc;

	if (level != MQTT_LEVEL_5)
		mqtt5_props_init(&tmp.props);
	if ((rc = dec_publish(hdr, body, level, &tmp, &e)) == 0)
		*res = tmp;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_ack(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, uint16_t *id, const char **why)
{
	struct mqtt_ack tmp;
	struct mqtt_err e;
	int rc;

	if ((rc = dec_ack(hdr, body, level, &tmp, &e)) == 0)
		*id = tmp.id;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_subscribe(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_subscribe *res, const char **why)
{
	struct mqtt_subscribe tmp;
	struct mqtt_err e;
	int rc;

	if ((rc = dec_subscribe(hdr, body, level, 1, &tmp, &e)) == 0)
		*res = tmp;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_unsubscribe(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_subscribe *res, const char **why)
{
	struct mqtt_subscribe tmp;
	struct mqtt_err e;
	int rc;

	if ((rc = dec_subscribe(hdr, body, level, 0, &tmp, &e)) == 0)
		*res = tmp;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_suback(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_suback *res, const char **why)
{
	struct mqtt_suback tmp;
	struct mqtt_err e;
	int rc;

	if ((rc = dec_suback(hdr, body, MQTT_LEVEL_311, &tmp, &e)) == 0)
		*res = tmp;
	else if (why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_decode_empty(const struct mqtt_hdr *hdr, struct bytes_view body,
    const char **why)
{
	struct mqtt_err e;
	int rc;

	if ((rc = dec_empty(hdr, body, &e)) != 0 && why != NULL)
		*why = e.why;
	return rc;
}

/* mqtt_decode_ex() into out, which may be left half filled on failure. */
static int
mqtt_decode_any(struct mqtt_packet *out, struct bytes_view body,
    uint8_t level, struct mqtt_err *e)
{
	const struct mqtt_hdr *hdr = &out->hdr;
	int v5 = level == MQTT_LEVEL_5;

	switch (hdr->type) {
	case MQTT_CONNECT:
		return dec_connect(hdr, body, &out->u.connect, e);
	case MQTT_CONNACK:
		return dec_connack(hdr, body, level, &out->u.connack, e);
	case MQTT_PUBLISH:
		if (!v5)
			mqtt5_props_init(&out->u.publish.props);
		return dec_publish(hdr, body, level, &out->u.publish, e);
	case MQTT_UNSUBACK:
		if (v5)
			return dec_suback(hdr, body, level, &out->u.suback, e);
		/* FALLTHROUGH */
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return dec_ack(hdr, body, level, &out->u.ack, e);
	case MQTT_SUBSCRIBE:
		return dec_subscribe(hdr, body, level, 1, &out->u.subscribe, e);
	case MQTT_UNSUBSCRIBE:
		return dec_subscribe(hdr, body, level, 0, &out->u.subscribe, e);
	case MQTT_SUBACK:
		return dec_suback(hdr, body, level, &out->u.suback, e);
	case MQTT_DISCONNECT:
		if (v5)
			return dec_disconnect5(hdr, body, &out->u.disconnect,
			    e);
		return dec_empty(hdr, body, e);
	case MQTT_AUTH:
		if (v5)
			return dec_disconnect5(hdr, body, &out->u.disconnect,
			    e);
		return MQTT_FAIL(e, "reserved packet type");
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		return dec_empty(hdr, body, e);
	default:
		return MQTT_FAIL(e, "reserved packet type");
	}
}

int
mqtt_decode_ex(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_packet *res, struct mqtt_err *err)
{
	struct mqtt_packet tmp;
	struct mqtt_err e = { "malformed", MQTT5_RC_MALFORMED };
	int rc;

	/* Not the whole union: a 5.0 CONNECT's two property blocks are most
	 * of it, and a PUBLISH on the hot path needs none of that. */
	tmp.hdr = *hdr;
	if ((rc = mqtt_decode_any(&tmp, body, level, &e)) == 0) {
		res->hdr = tmp.hdr;
		switch (hdr->type) {
		case MQTT_PUBLISH:
			res->u.publish = tmp.u.publish;
			break;
		default:
			res->u = tmp.u;
			break;
		}
	} else if (err != NULL)
		*err = e;
	return rc;
}

int
mqtt_decode(const struct mqtt_hdr *hdr, struct bytes_view body, uint8_t level,
    struct mqtt_packet *res, const char **why)
{
	struct mqtt_err e;
	int rc;

	if ((rc = mqtt_decode_ex(hdr, body, level, res, &e)) != 0 &&
	    why != NULL)
		*why = e.why;
	return rc;
}

int
mqtt_subscribe_next(struct bytes_view *list, struct bytes_view *filter,
    uint8_t *qos)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (bytes_get_view16(&r, filter) != 0 || bytes_get_u8(&r, qos) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
mqtt_unsubscribe_next(struct bytes_view *list, struct bytes_view *filter)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (bytes_get_view16(&r, filter) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

/* Encoders. */

/*
 * Reserves a whole packet of `rem` body bytes and writes its fixed
 * header; the caller then puts exactly `rem` bytes, which cannot fail.
 */
static int
mqtt_put_header(struct bytes_w *w, uint8_t b0, size_t rem)
{
	int rc;

	if (rem > MQTT_MAX_REMAINING)
		return CAIRN_ERR_INVAL;
	if ((rc = bytes_w_reserve(w, 1 + mqtt_varint_size(rem) + rem)) != 0)
		return rc;
	bytes_put_u8(w, b0);
	return bytes_put_varint(w, (uint32_t)rem);
}

static void
mqtt_put_string(struct bytes_w *w, struct bytes_view v)
{
	bytes_put_u16be(w, (uint16_t)v.len);
	bytes_put_view(w, v);
}

int
mqtt_encode_connack(struct bytes_w *w, uint8_t level, int session_present,
    uint8_t rc)
{
	int err;

	if (level == MQTT_LEVEL_5)
		return mqtt_encode_connack5(w, session_present, rc, NULL);
	if ((err = mqtt_put_header(w, MQTT_CONNACK << 4, 2)) != 0)
		return err;
	bytes_put_u8(w, level == MQTT_LEVEL_311 && session_present ? 1 : 0);
	return bytes_put_u8(w, rc);
}

int
mqtt_encode_connack5(struct bytes_w *w, int session_present, uint8_t rc,
    const struct mqtt5_props *props)
{
	size_t psz = mqtt5_props_size(props);
	int err;

	if (psz == SIZE_MAX || !mqtt5_rc_valid(MQTT_CONNACK, rc))
		return CAIRN_ERR_INVAL;
	if ((err = mqtt_put_header(w, MQTT_CONNACK << 4, 2 + psz)) != 0)
		return err;
	bytes_put_u8(w, session_present && rc == 0 ? 1 : 0);
	bytes_put_u8(w, rc);
	return mqtt5_props_encode(w, props);
}

/* The body size of a PUBLISH, or SIZE_MAX if it cannot be sent. */
static size_t
mqtt_publish_rem(const struct mqtt_publish *p, size_t psz)
{
	size_t rem;

	if (p->qos > 2 || (p->qos > 0 && p->id == 0) ||
	    p->topic.len > MQTT_STRING_MAX ||
	    p->payload.len > MQTT_MAX_REMAINING || psz > MQTT_MAX_REMAINING)
		return SIZE_MAX;
	rem = 2 + p->topic.len + (p->qos > 0 ? 2 : 0) + psz + p->payload.len;
	return rem > MQTT_MAX_REMAINING ? SIZE_MAX : rem;
}

size_t
mqtt_publish_size(const struct mqtt_publish *p)
{
	size_t rem = mqtt_publish_rem(p, 0);

	if (rem == SIZE_MAX)
		return 0;
	return 1 + mqtt_varint_size(rem) + rem;
}

/*
 * The size of a 5.0 PUBLISH's property block without its length
 * varint: props' (walked), or, props NULL, `carried`'s; SIZE_MAX if it
 * cannot be encoded.
 */
static size_t
mqtt_publish5_plen(const struct mqtt5_props *props, struct bytes_view carried)
{
	if (props != NULL)
		return mqtt5_props_len(props);
	return carried.len > MQTT_MAX_REMAINING ? SIZE_MAX : carried.len;
}

static size_t
mqtt_publish5_sz(const struct mqtt_publish *p, size_t plen)
{
	size_t rem;

	if (plen == SIZE_MAX ||
	    (rem = mqtt_publish_rem(p, mqtt_varint_size(plen) + plen)) ==
	    SIZE_MAX)
		return 0;
	return 1 + mqtt_varint_size(rem) + rem;
}

size_t
mqtt_publish5_size(const struct mqtt_publish *p,
    const struct mqtt5_props *props)
{
	return mqtt_publish5_sz(p, mqtt5_props_len(props));
}

size_t
mqtt_publish5_carried_size(const struct mqtt_publish *p,
    struct bytes_view carried)
{
	return mqtt_publish5_sz(p, mqtt_publish5_plen(NULL, carried));
}

/*
 * Writes a PUBLISH: 3.1.x (v5 0), or 5.0 with the block of props or,
 * props NULL, of `carried` (mqtt_publish5_plen()).  The properties are
 * walked once: sized here, written below.
 */
static int
mqtt_put_publish(struct bytes_w *w, const struct mqtt_publish *p, int v5,
    const struct mqtt5_props *props, struct bytes_view carried)
{
	size_t plen = 0, psz = 0, rem;
	uint8_t b0;
	int err;

	if (v5 && (plen = mqtt_publish5_plen(props, carried)) == SIZE_MAX)
		return CAIRN_ERR_INVAL;
	if (v5)
		psz = mqtt_varint_size(plen) + plen;
	if ((rem = mqtt_publish_rem(p, psz)) == SIZE_MAX)
		return CAIRN_ERR_INVAL;
	b0 = (uint8_t)(MQTT_PUBLISH << 4 | (p->dup ? MQTT_PF_DUP : 0) |
	    p->qos << MQTT_PF_QOS_SHIFT | (p->retain ? MQTT_PF_RETAIN : 0));
	if ((err = mqtt_put_header(w, b0, rem)) != 0)
		return err;
	mqtt_put_string(w, p->topic);
	if (p->qos > 0)
		bytes_put_u16be(w, p->id);
	if (v5 && props != NULL)
		mqtt5_props_write(w, props, plen);
	else if (v5) {
		bytes_put_varint(w, (uint32_t)plen);
		if (plen > 0)
			bytes_put_view(w, carried);
	}
	return bytes_put_view(w, p->payload);
}

int
mqtt_encode_publish(struct bytes_w *w, const struct mqtt_publish *p)
{
	return mqtt_put_publish(w, p, 0, NULL, bytes_view_of(NULL, 0));
}

int
mqtt_encode_publish5(struct bytes_w *w, const struct mqtt_publish *p,
    const struct mqtt5_props *props)
{
	/* NULL: an empty block (an empty `carried`), as elsewhere. */
	return mqtt_put_publish(w, p, 1, props, bytes_view_of(NULL, 0));
}

int
mqtt_encode_publish5_carried(struct bytes_w *w, const struct mqtt_publish *p,
    struct bytes_view carried)
{
	return mqtt_put_publish(w, p, 1, NULL, carried);
}

static int
mqtt_ack_b0(enum mqtt_type type, uint8_t *b0)
{
	switch (type) {
	case MQTT_PUBREL:
		*b0 = MQTT_PUBREL << 4 | MQTT_FLAGS_0010;
		return 0;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		*b0 = (uint8_t)(type << 4);
		return 0;
	default:
		return CAIRN_ERR_INVAL;
	}
}

int
mqtt_encode_ack(struct bytes_w *w, enum mqtt_type type, uint16_t id)
{
	uint8_t b0;
	int err;

	if (mqtt_ack_b0(type, &b0) != 0)
		return CAIRN_ERR_INVAL;
	if ((err = mqtt_put_header(w, b0, 2)) != 0)
		return err;
	return bytes_put_u16be(w, id);
}

int
mqtt_encode_ack5(struct bytes_w *w, enum mqtt_type type, uint16_t id,
    uint8_t rc, const struct mqtt5_props *props)
{
	size_t plen, rem;
	uint8_t b0;
	int err;

	/* Success, nothing more: 3.1.1's bytes (3.4.2.1), as most acks. */
	if (rc == 0 && props == NULL && type != MQTT_UNSUBACK)
		return mqtt_encode_ack(w, type, id);
	plen = mqtt5_props_len(props);
	if (type == MQTT_UNSUBACK || mqtt_ack_b0(type, &b0) != 0 ||
	    plen == SIZE_MAX || !mqtt5_rc_valid(type, rc))
		return CAIRN_ERR_INVAL;
	/* The shortest form (3.4.2.1): drop what is the default. */
	if (plen > 0)
		rem = 3 + mqtt_varint_size(plen) + plen;
	else
		rem = rc != 0 ? 3 : 2;
	if ((err = mqtt_put_header(w, b0, rem)) != 0)
		return err;
	bytes_put_u16be(w, id);
	if (rem > 2)
		bytes_put_u8(w, rc);
	if (plen > 0)
		mqtt5_props_write(w, props, plen);
	return w->err;
}

int
mqtt_encode_suback(struct bytes_w *w, uint16_t id, const uint8_t *codes,
    size_t n)
{
	int err;

	if (n == 0 || n > MQTT_MAX_REMAINING - 2)
		return CAIRN_ERR_INVAL;
	if ((err = mqtt_put_header(w, MQTT_SUBACK << 4, 2 + n)) != 0)
		return err;
	bytes_put_u16be(w, id);
	return bytes_put(w, codes, n);
}

int
mqtt_encode_suback5(struct bytes_w *w, enum mqtt_type type, uint16_t id,
    const uint8_t *codes, size_t n, const struct mqtt5_props *props)
{
	size_t psz = mqtt5_props_size(props), i;
	int err;

	if ((type != MQTT_SUBACK && type != MQTT_UNSUBACK) || n == 0 ||
	    psz == SIZE_MAX || n > MQTT_MAX_REMAINING - 2 - psz)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (!mqtt5_rc_valid(type, codes[i]))
			return CAIRN_ERR_INVAL;
	if ((err = mqtt_put_header(w, (uint8_t)(type << 4), 2 + psz + n)) != 0)
		return err;
	bytes_put_u16be(w, id);
	mqtt5_props_encode(w, props);
	return bytes_put(w, codes, n);
}

int
mqtt_encode_empty(struct bytes_w *w, enum mqtt_type type)
{
	if (type != MQTT_PINGREQ && type != MQTT_PINGRESP &&
	    type != MQTT_DISCONNECT)
		return CAIRN_ERR_INVAL;
	return mqtt_put_header(w, (uint8_t)(type << 4), 0);
}

int
mqtt_encode_disconnect5(struct bytes_w *w, enum mqtt_type type, uint8_t rc,
    const struct mqtt5_props *props)
{
	size_t plen = mqtt5_props_len(props), rem;
	int err;

	if ((type != MQTT_DISCONNECT && type != MQTT_AUTH) ||
	    plen == SIZE_MAX || !mqtt5_rc_valid(type == MQTT_AUTH ?
	    MQTT5_IN_AUTH : MQTT_DISCONNECT, rc))
		return CAIRN_ERR_INVAL;
	if (plen > 0)
		rem = 1 + mqtt_varint_size(plen) + plen;
	else
		rem = rc != 0 ? 1 : 0;
	if ((err = mqtt_put_header(w, (uint8_t)(type << 4), rem)) != 0)
		return err;
	if (rem > 0)
		bytes_put_u8(w, rc);
	if (plen > 0)
		mqtt5_props_write(w, props, plen);
	return w->err;
}

int
mqtt_encode_connect(struct bytes_w *w, const struct mqtt_connect *c)
{
	struct bytes_view name;
	size_t rem, psz = 0, wpsz = 0;
	uint8_t flags;
	int err, v5 = c->level == MQTT_LEVEL_5;

	if (c->level == MQTT_LEVEL_311 || v5)
		name = bytes_view_of(mqtt_name_311, sizeof(mqtt_name_311) - 1);
	else if (c->level == MQTT_LEVEL_31)
		name = bytes_view_of(mqtt_name_31, sizeof(mqtt_name_31) - 1);
	else
		return CAIRN_ERR_INVAL;
	if (c->will_qos > 2 || c->client_id.len > MQTT_STRING_MAX ||
	    (c->will_flag && (c->will_topic.len > MQTT_STRING_MAX ||
	    c->will_message.len > MQTT_STRING_MAX)) ||
	    (c->has_username && c->username.len > MQTT_STRING_MAX) ||
	    (c->has_password && c->password.len > MQTT_STRING_MAX))
		return CAIRN_ERR_INVAL;
	if (v5) {
		psz = mqtt5_props_size(&c->props);
		wpsz = c->will_flag ? mqtt5_props_size(&c->will_props) : 0;
		if (psz == SIZE_MAX || wpsz == SIZE_MAX ||
		    psz > MQTT_MAX_REMAINING || wpsz > MQTT_MAX_REMAINING)
			return CAIRN_ERR_INVAL;
	}
	rem = 2 + name.len + 1 + 1 + 2 + psz + 2 + c->client_id.len;
	if (c->will_flag)
		rem += wpsz + 2 + c->will_topic.len + 2 + c->will_message.len;
	if (c->has_username)
		rem += 2 + c->username.len;
	if (c->has_password)
		rem += 2 + c->password.len;
	flags = (uint8_t)((c->has_username ? MQTT_CF_USERNAME : 0) |
	    (c->has_password ? MQTT_CF_PASSWORD : 0) |
	    (c->will_retain ? MQTT_CF_WILL_RETAIN : 0) |
	    c->will_qos << MQTT_CF_WILL_QOS_SHIFT |
	    (c->will_flag ? MQTT_CF_WILL : 0) |
	    (c->clean_session ? MQTT_CF_CLEAN : 0));
	if ((err = mqtt_put_header(w, MQTT_CONNECT << 4, rem)) != 0)
		return err;
	mqtt_put_string(w, name);
	bytes_put_u8(w, c->level);
	bytes_put_u8(w, flags);
	bytes_put_u16be(w, c->keepalive);
	if (v5)
		mqtt5_props_encode(w, &c->props);
	mqtt_put_string(w, c->client_id);
	if (c->will_flag) {
		if (v5)
			mqtt5_props_encode(w, &c->will_props);
		mqtt_put_string(w, c->will_topic);
		mqtt_put_string(w, c->will_message);
	}
	if (c->has_username)
		mqtt_put_string(w, c->username);
	if (c->has_password)
		mqtt_put_string(w, c->password);
	return w->err;
}

static int
mqtt_put_subscribe(struct bytes_w *w, uint16_t id,
    const struct mqtt_topic_qos *subs, size_t n, int v5,
    const struct mqtt5_props *props)
{
	size_t i, psz = v5 ? mqtt5_props_size(props) : 0, rem;
	int err;

	if (n == 0 || psz == SIZE_MAX || psz > MQTT_MAX_REMAINING)
		return CAIRN_ERR_INVAL;
	rem = 2 + psz;
	for (i = 0; i < n; i++) {
		if (subs[i].filter.len > MQTT_STRING_MAX ||
		    (!v5 && subs[i].qos > 2))
			return CAIRN_ERR_INVAL;
		rem += 2 + subs[i].filter.len + 1;
		if (rem > MQTT_MAX_REMAINING)
			return CAIRN_ERR_INVAL;
	}
	if ((err = mqtt_put_header(w, MQTT_SUBSCRIBE << 4 | MQTT_FLAGS_0010,
	    rem)) != 0)
		return err;
	bytes_put_u16be(w, id);
	if (v5)
		mqtt5_props_encode(w, props);
	for (i = 0; i < n; i++) {
		mqtt_put_string(w, subs[i].filter);
		bytes_put_u8(w, subs[i].qos);
	}
	return w->err;
}

int
mqtt_encode_subscribe(struct bytes_w *w, uint16_t id,
    const struct mqtt_topic_qos *subs, size_t n)
{
	return mqtt_put_subscribe(w, id, subs, n, 0, NULL);
}

int
mqtt_encode_subscribe5(struct bytes_w *w, uint16_t id,
    const struct mqtt_topic_qos *subs, size_t n,
    const struct mqtt5_props *props)
{
	return mqtt_put_subscribe(w, id, subs, n, 1, props);
}

static int
mqtt_put_unsubscribe(struct bytes_w *w, uint16_t id,
    const struct bytes_view *filters, size_t n, int v5,
    const struct mqtt5_props *props)
{
	size_t i, psz = v5 ? mqtt5_props_size(props) : 0, rem;
	int err;

	if (n == 0 || psz == SIZE_MAX || psz > MQTT_MAX_REMAINING)
		return CAIRN_ERR_INVAL;
	rem = 2 + psz;
	for (i = 0; i < n; i++) {
		if (filters[i].len > MQTT_STRING_MAX)
			return CAIRN_ERR_INVAL;
		rem += 2 + filters[i].len;
		if (rem > MQTT_MAX_REMAINING)
			return CAIRN_ERR_INVAL;
	}
	if ((err = mqtt_put_header(w,
	    MQTT_UNSUBSCRIBE << 4 | MQTT_FLAGS_0010, rem)) != 0)
		return err;
	bytes_put_u16be(w, id);
	if (v5)
		mqtt5_props_encode(w, props);
	for (i = 0; i < n; i++)
		mqtt_put_string(w, filters[i]);
	return w->err;
}

int
mqtt_encode_unsubscribe(struct bytes_w *w, uint16_t id,
    const struct bytes_view *filters, size_t n)
{
	return mqtt_put_unsubscribe(w, id, filters, n, 0, NULL);
}

int
mqtt_encode_unsubscribe5(struct bytes_w *w, uint16_t id,
    const struct bytes_view *filters, size_t n,
    const struct mqtt5_props *props)
{
	return mqtt_put_unsubscribe(w, id, filters, n, 1, props);
}
