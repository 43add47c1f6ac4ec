/*
 * MQTT 3.1 / 3.1.1 wire codec; see mqtt_codec.h for each packet's layout
 * and contract.  Decoders see exactly one body (mqtt_frame() cut it), so
 * a short read inside a body is malformed, never "need more".  Encoders
 * size the packet first and reserve it, so after that no put can fail.
 */
#include "broker/mqtt/mqtt_codec.h"

#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/utf8.h"

#define MQTT_FAIL(why, msg)	(*(why) = (msg), CAIRN_ERR_PROTO)

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
	if ((b0 >> 4) == 0 || (b0 >> 4) == 15)
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
mqtt_get_string(struct bytes_r *r, struct bytes_view *v, const char **why)
{
	if (bytes_get_view16(r, v) != 0)
		return MQTT_FAIL(why, "string runs past the end");
	if (v->len > 0 && memchr(v->p, '\0', v->len) != NULL)
		return MQTT_FAIL(why, "string contains U+0000");
	if (utf8_count(v->p, v->len) < 0)
		return MQTT_FAIL(why, "string is not valid UTF-8");
	return 0;
}

/* A non-zero packet identifier [MQTT-2.3.1-1]. */
static int
mqtt_get_id(struct bytes_r *r, uint16_t *id, const char **why)
{
	uint16_t v;

	if (bytes_get_u16be(r, &v) != 0)
		return MQTT_FAIL(why, "packet id runs past the end");
	if (v == 0)
		return MQTT_FAIL(why, "packet id is 0");
	*id = v;
	return 0;
}

/* Flags 0010, or at level 3.1 also 1010: 3.1 resends with DUP set. */
static int
mqtt_flags_0010(const struct mqtt_hdr *hdr, uint8_t level)
{
	return hdr->flags == MQTT_FLAGS_0010 || (level == MQTT_LEVEL_31 &&
	    hdr->flags == (MQTT_FLAGS_0010 | MQTT_PF_DUP));
}

int
mqtt_decode_connect(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_connect *res, const char **why)
{
	struct mqtt_connect tmp, *out = &tmp;
	struct bytes_view name;
	struct bytes_r r;
	uint8_t level, flags;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	if (hdr->flags != 0)
		return MQTT_FAIL(why, "CONNECT flags are not 0000");
	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_view16(&r, &name) != 0 || bytes_get_u8(&r, &level) != 0)
		return MQTT_FAIL(why, "CONNECT too short for its header");
	if (bytes_view_eq_str(name, mqtt_name_311)) {
		if (level != MQTT_LEVEL_311)
			goto bad_level;
	} else if (bytes_view_eq_str(name, mqtt_name_31)) {
		if (level != MQTT_LEVEL_31)
			goto bad_level;
	} else
		return MQTT_FAIL(why, "unknown protocol name");
	out->level = level;

	if (bytes_get_u8(&r, &flags) != 0 ||
	    bytes_get_u16be(&r, &out->keepalive) != 0)
		return MQTT_FAIL(why, "CONNECT too short for its header");
	if (flags & MQTT_CF_RESERVED)
		return MQTT_FAIL(why, "CONNECT reserved flag is set");
	out->clean_session = (flags & MQTT_CF_CLEAN) != 0;
	out->will_flag = (flags & MQTT_CF_WILL) != 0;
	out->will_qos = (flags >> MQTT_CF_WILL_QOS_SHIFT) & 0x03;
	out->will_retain = (flags & MQTT_CF_WILL_RETAIN) != 0;
	out->has_username = (flags & MQTT_CF_USERNAME) != 0;
	out->has_password = (flags & MQTT_CF_PASSWORD) != 0;
	if (out->will_qos == 3)
		return MQTT_FAIL(why, "will QoS is 3");
	/* [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]. */
	if (!out->will_flag && (out->will_qos != 0 || out->will_retain))
		return MQTT_FAIL(why, "will QoS or retain without a will");
	/* [MQTT-3.1.2-22]; 3.1 allowed it. */
	if (level == MQTT_LEVEL_311 && out->has_password && !out->has_username)
		return MQTT_FAIL(why, "password without a user name");

	if (mqtt_get_string(&r, &out->client_id, why) != 0)
		return CAIRN_ERR_PROTO;
	if (out->will_flag) {
		if (mqtt_get_string(&r, &out->will_topic, why) != 0)
			return CAIRN_ERR_PROTO;
		if (!mqtt_topic_name_valid(out->will_topic))
			return MQTT_FAIL(why, "will topic is not a topic name");
		if (bytes_get_view16(&r, &out->will_message) != 0)
			return MQTT_FAIL(why, "will message runs past the end");
	}
	/* 3.1 clients may set a flag and leave its field out: ignore it. */
	if (out->has_username) {
		if (level == MQTT_LEVEL_31 && bytes_r_left(&r) == 0)
			out->has_username = 0;
		else if (mqtt_get_string(&r, &out->username, why) != 0)
			return CAIRN_ERR_PROTO;
	}
	if (out->has_password) {
		if (level == MQTT_LEVEL_31 && bytes_r_left(&r) == 0)
			out->has_password = 0;
		else if (bytes_get_view16(&r, &out->password) != 0)
			return MQTT_FAIL(why, "password runs past the end");
	}
	if (bytes_r_left(&r) != 0)
		return MQTT_FAIL(why, "bytes after the CONNECT payload");

	/* Well-formed: only a refusal with a CONNACK is left. */
	if (level == MQTT_LEVEL_311) {
		if (out->client_id.len == 0 && !out->clean_session)
			out->connack_rc = MQTT_CONNACK_ID_REJECTED;
	} else if (out->client_id.len == 0 ||
	    out->client_id.len > MQTT_V31_CLIENT_ID_MAX)
		out->connack_rc = MQTT_CONNACK_ID_REJECTED;
	*res = tmp;
	return 0;

bad_level:
	/* [MQTT-3.1.2-2]: answer 0x01, then close; the rest may be a later
	 * protocol's, so it is not parsed. */
	out->level = level;
	out->connack_rc = MQTT_CONNACK_BAD_PROTOCOL;
	*res = tmp;
	return 0;
}

int
mqtt_decode_connack(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_connack *out, const char **why)
{
	uint8_t ackf;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	if (hdr->flags != 0)
		return MQTT_FAIL(why, "CONNACK flags are not 0000");
	if (body.len != 2)
		return MQTT_FAIL(why, "CONNACK is not 2 bytes");
	ackf = body.p[0];
	if (body.p[1] > MQTT_CONNACK_NOT_AUTHORIZED)
		return MQTT_FAIL(why, "CONNACK return code is reserved");
	/* 3.1's first byte is unused. */
	if (level == MQTT_LEVEL_31)
		ackf = 0;
	if (ackf & 0xfe)
		return MQTT_FAIL(why, "CONNACK reserved flags are set");
	if ((ackf & 0x01) && body.p[1] != 0)
		return MQTT_FAIL(why, "session present with a refusal");
	out->session_present = ackf & 0x01;
	out->rc = body.p[1];
	return 0;
}

int
mqtt_decode_publish(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_publish *res, const char **why)
{
	struct mqtt_publish tmp, *out = &tmp;
	struct bytes_r r;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	out->dup = (hdr->flags & MQTT_PF_DUP) != 0;
	out->qos = (hdr->flags >> MQTT_PF_QOS_SHIFT) & 0x03;
	out->retain = (hdr->flags & MQTT_PF_RETAIN) != 0;
	if (out->qos == 3)
		return MQTT_FAIL(why, "PUBLISH QoS is 3");
	if (out->qos == 0 && out->dup && level != MQTT_LEVEL_31)
		return MQTT_FAIL(why, "PUBLISH DUP set with QoS 0");
	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_view16(&r, &out->topic) != 0)
		return MQTT_FAIL(why, "topic runs past the end");
	if (!mqtt_topic_name_valid(out->topic))
		return MQTT_FAIL(why, "PUBLISH topic is not a topic name");
	if (out->qos > 0 && mqtt_get_id(&r, &out->id, why) != 0)
		return CAIRN_ERR_PROTO;
	out->payload = bytes_r_rest(&r);
	*res = tmp;
	return 0;
}

int
mqtt_decode_ack(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, uint16_t *id, const char **why)
{
	struct bytes_r r;
	int ok;
	static const char *unused;

	if (why == NULL)
		why = &unused;
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
		return MQTT_FAIL(why, "not an acknowledgement");
	}
	if (!ok)
		return MQTT_FAIL(why, "acknowledgement has bad flags");
	if (body.len != 2)
		return MQTT_FAIL(why, "acknowledgement is not 2 bytes");
	bytes_r_init(&r, body.p, body.len);
	return mqtt_get_id(&r, id, why);
}

int
mqtt_decode_subscribe(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_subscribe *res, const char **why)
{
	struct mqtt_subscribe tmp, *out = &tmp;
	struct bytes_view f;
	struct bytes_r r;
	uint8_t qos;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	if (!mqtt_flags_0010(hdr, level))
		return MQTT_FAIL(why, "SUBSCRIBE flags are not 0010");
	bytes_r_init(&r, body.p, body.len);
	if (mqtt_get_id(&r, &out->id, why) != 0)
		return CAIRN_ERR_PROTO;
	out->list = bytes_r_rest(&r);
	if (bytes_r_left(&r) == 0)
		return MQTT_FAIL(why, "SUBSCRIBE without a topic filter");
	while (bytes_r_left(&r) > 0) {
		if (mqtt_get_string(&r, &f, why) != 0)
			return CAIRN_ERR_PROTO;
		if (!mqtt_topic_filter_valid(f))
			return MQTT_FAIL(why, "invalid topic filter");
		if (bytes_get_u8(&r, &qos) != 0)
			return MQTT_FAIL(why, "requested QoS runs past the end");
		if (qos > 2)
			return MQTT_FAIL(why, "requested QoS byte is not 0..2");
		out->count++;
	}
	*res = tmp;
	return 0;
}

int
mqtt_decode_unsubscribe(const struct mqtt_hdr *hdr, struct bytes_view body,
    uint8_t level, struct mqtt_subscribe *res, const char **why)
{
	struct mqtt_subscribe tmp, *out = &tmp;
	struct bytes_view f;
	struct bytes_r r;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	if (!mqtt_flags_0010(hdr, level))
		return MQTT_FAIL(why, "UNSUBSCRIBE flags are not 0010");
	bytes_r_init(&r, body.p, body.len);
	if (mqtt_get_id(&r, &out->id, why) != 0)
		return CAIRN_ERR_PROTO;
	out->list = bytes_r_rest(&r);
	if (bytes_r_left(&r) == 0)
		return MQTT_FAIL(why, "UNSUBSCRIBE without a topic filter");
	while (bytes_r_left(&r) > 0) {
		if (mqtt_get_string(&r, &f, why) != 0)
			return CAIRN_ERR_PROTO;
		if (!mqtt_topic_filter_valid(f))
			return MQTT_FAIL(why, "invalid topic filter");
		out->count++;
	}
	*res = tmp;
	return 0;
}

int
mqtt_decode_suback(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct mqtt_suback *res, const char **why)
{
	struct mqtt_suback tmp, *out = &tmp;
	struct bytes_r r;
	size_t i;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	if (hdr->flags != 0)
		return MQTT_FAIL(why, "SUBACK flags are not 0000");
	bytes_r_init(&r, body.p, body.len);
	if (mqtt_get_id(&r, &out->id, why) != 0)
		return CAIRN_ERR_PROTO;
	out->codes = bytes_r_rest(&r);
	if (out->codes.len == 0)
		return MQTT_FAIL(why, "SUBACK without a return code");
	for (i = 0; i < out->codes.len; i++)
		if (out->codes.p[i] > 2 && out->codes.p[i] != MQTT_SUBACK_FAILURE)
			return MQTT_FAIL(why, "SUBACK return code is reserved");
	*res = tmp;
	return 0;
}

int
mqtt_decode_empty(const struct mqtt_hdr *hdr, struct bytes_view body,
    const char **why)
{
	static const char *unused;

	if (why == NULL)
		why = &unused;
	if (hdr->type != MQTT_PINGREQ && hdr->type != MQTT_PINGRESP &&
	    hdr->type != MQTT_DISCONNECT)
		return MQTT_FAIL(why, "not an empty packet type");
	if (hdr->flags != 0)
		return MQTT_FAIL(why, "flags are not 0000");
	if (body.len != 0)
		return MQTT_FAIL(why, "body is not empty");
	return 0;
}

/* mqtt_decode() into out, which may be left half filled on failure. */
static int
mqtt_decode_any(struct mqtt_packet *out, struct bytes_view body,
    uint8_t level, const char **why)
{
	const struct mqtt_hdr *hdr = &out->hdr;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	switch (hdr->type) {
	case MQTT_CONNECT:
		return mqtt_decode_connect(hdr, body, &out->u.connect, why);
	case MQTT_CONNACK:
		return mqtt_decode_connack(hdr, body, level, &out->u.connack,
		    why);
	case MQTT_PUBLISH:
		return mqtt_decode_publish(hdr, body, level, &out->u.publish,
		    why);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		return mqtt_decode_ack(hdr, body, level, &out->u.id, why);
	case MQTT_SUBSCRIBE:
		return mqtt_decode_subscribe(hdr, body, level,
		    &out->u.subscribe, why);
	case MQTT_UNSUBSCRIBE:
		return mqtt_decode_unsubscribe(hdr, body, level,
		    &out->u.subscribe, why);
	case MQTT_SUBACK:
		return mqtt_decode_suback(hdr, body, &out->u.suback, why);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		return mqtt_decode_empty(hdr, body, why);
	default:
		return MQTT_FAIL(why, "reserved packet type");
	}
}

int
mqtt_decode(const struct mqtt_hdr *hdr, struct bytes_view body, uint8_t level,
    struct mqtt_packet *res, const char **why)
{
	struct mqtt_packet tmp;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	tmp.hdr = *hdr;
	if ((rc = mqtt_decode_any(&tmp, body, level, why)) == 0)
		*res = tmp;
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

static size_t
mqtt_varint_len(size_t v)
{
	if (v < 128)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 2097152)
		return 3;
	return 4;
}

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
	if ((rc = bytes_w_reserve(w, 1 + mqtt_varint_len(rem) + rem)) != 0)
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

	if ((err = mqtt_put_header(w, MQTT_CONNACK << 4, 2)) != 0)
		return err;
	bytes_put_u8(w, level == MQTT_LEVEL_311 && session_present ? 1 : 0);
	return bytes_put_u8(w, rc);
}

/* The body size of a PUBLISH, or SIZE_MAX if it cannot be sent. */
static size_t
mqtt_publish_rem(const struct mqtt_publish *p)
{
	size_t rem;

	if (p->qos > 2 || (p->qos > 0 && p->id == 0) ||
	    p->topic.len > MQTT_STRING_MAX ||
	    p->payload.len > MQTT_MAX_REMAINING)
		return SIZE_MAX;
	rem = 2 + p->topic.len + (p->qos > 0 ? 2 : 0) + p->payload.len;
	return rem > MQTT_MAX_REMAINING ? SIZE_MAX : rem;
}

size_t
mqtt_publish_size(const struct mqtt_publish *p)
{
	size_t rem = mqtt_publish_rem(p);

	if (rem == SIZE_MAX)
		return 0;
	return 1 + mqtt_varint_len(rem) + rem;
}

int
mqtt_encode_publish(struct bytes_w *w, const struct mqtt_publish *p)
{
	size_t rem = mqtt_publish_rem(p);
	uint8_t b0;
	int err;

	if (rem == SIZE_MAX)
		return CAIRN_ERR_INVAL;
	b0 = (uint8_t)(MQTT_PUBLISH << 4 | (p->dup ? MQTT_PF_DUP : 0) |
	    p->qos << MQTT_PF_QOS_SHIFT | (p->retain ? MQTT_PF_RETAIN : 0));
	if ((err = mqtt_put_header(w, b0, rem)) != 0)
		return err;
	mqtt_put_string(w, p->topic);
	if (p->qos > 0)
		bytes_put_u16be(w, p->id);
	return bytes_put_view(w, p->payload);
}

int
mqtt_encode_ack(struct bytes_w *w, enum mqtt_type type, uint16_t id)
{
	uint8_t b0;
	int err;

	switch (type) {
	case MQTT_PUBREL:
		b0 = MQTT_PUBREL << 4 | MQTT_FLAGS_0010;
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		b0 = (uint8_t)(type << 4);
		break;
	default:
		return CAIRN_ERR_INVAL;
	}
	if ((err = mqtt_put_header(w, b0, 2)) != 0)
		return err;
	return bytes_put_u16be(w, id);
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
mqtt_encode_empty(struct bytes_w *w, enum mqtt_type type)
{
	if (type != MQTT_PINGREQ && type != MQTT_PINGRESP &&
	    type != MQTT_DISCONNECT)
		return CAIRN_ERR_INVAL;
	return mqtt_put_header(w, (uint8_t)(type << 4), 0);
}

int
mqtt_encode_connect(struct bytes_w *w, const struct mqtt_connect *c)
{
	struct bytes_view name;
	size_t rem;
	uint8_t flags;
	int err;

	if (c->level == MQTT_LEVEL_311)
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
	rem = 2 + name.len + 1 + 1 + 2 + 2 + c->client_id.len;
	if (c->will_flag)
		rem += 2 + c->will_topic.len + 2 + c->will_message.len;
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
	mqtt_put_string(w, c->client_id);
	if (c->will_flag) {
		mqtt_put_string(w, c->will_topic);
		mqtt_put_string(w, c->will_message);
	}
	if (c->has_username)
		mqtt_put_string(w, c->username);
	if (c->has_password)
		mqtt_put_string(w, c->password);
	return w->err;
}

int
mqtt_encode_subscribe(struct bytes_w *w, uint16_t id,
    const struct mqtt_topic_qos *subs, size_t n)
{
	size_t i, rem = 2;
	int err;

	if (n == 0)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < n; i++) {
		if (subs[i].filter.len > MQTT_STRING_MAX || subs[i].qos > 2)
			return CAIRN_ERR_INVAL;
		rem += 2 + subs[i].filter.len + 1;
		if (rem > MQTT_MAX_REMAINING)
			return CAIRN_ERR_INVAL;
	}
	if ((err = mqtt_put_header(w, MQTT_SUBSCRIBE << 4 | MQTT_FLAGS_0010,
	    rem)) != 0)
		return err;
	bytes_put_u16be(w, id);
	for (i = 0; i < n; i++) {
		mqtt_put_string(w, subs[i].filter);
		bytes_put_u8(w, subs[i].qos);
	}
	return w->err;
}

int
mqtt_encode_unsubscribe(struct bytes_w *w, uint16_t id,
    const struct bytes_view *filters, size_t n)
{
	size_t i, rem = 2;
	int err;

	if (n == 0)
		return CAIRN_ERR_INVAL;
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
	for (i = 0; i < n; i++)
		mqtt_put_string(w, filters[i]);
	return w->err;
}
