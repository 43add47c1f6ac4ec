/*
 * Fuzz target for broker/mqtt_codec and broker/mqtt_topic.  The input is
 * a byte stream as a client or a server would send it: packets are framed
 * one after another until the stream ends or turns bad.  Each packet is
 * decoded at the three protocol levels (3.1, 3.1.1 and 5.0), and every
 * packet that decodes is re-encoded with the public encoders and decoded
 * again.  Invariants:
 *
 *   - a frame lies inside the input and is header + remaining bytes;
 *     the same frame under a cap of its exact size passes, one less is
 *     CAIRN_ERR_TOO_BIG, and any proper prefix is CAIRN_ERR_NEED_MORE;
 *   - a decoder fails only with CAIRN_ERR_PROTO and then gives a reason,
 *     and at 5.0 a reason code that DISCONNECT may carry;
 *   - the re-encoding decodes to the same fields; at level 3.1.1 it is
 *     byte for byte the packet that came in (every field is canonical:
 *     varints are minimal and flags are checked), and at 3.1 it is no
 *     longer (3.1's leniencies are dropped, never added); at 5.0 it is
 *     no longer either (properties go out in identifier order, and an
 *     ack or DISCONNECT in its shortest form), the properties decode to
 *     the same values and the user properties to the same list;
 *   - mqtt_publish_size() is the size mqtt_encode_publish() writes;
 *   - topic filters and names behave: a literal filter matches itself,
 *     '#' matches every name not starting with '$'.
 * A broken invariant aborts, which libFuzzer and the replay report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt5_props.h"
#include "broker/mqtt/mqtt_codec.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* More entries than this in one (UN)SUBSCRIBE are not re-encoded. */
#define FUZZ_MAX_LIST	512

static int
fuzz_view_eq(struct bytes_view a, struct bytes_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Two decoded property blocks hold the same properties. */
static int
fuzz_props_eq(const struct mqtt5_props *a, const struct mqtt5_props *b)
{
	struct bytes_view ia, ib, a1, a2, b1, b2;
	uint8_t ida, idb, want;
	size_t i;

	if (a->present != b->present || a->n_user != b->n_user ||
	    a->n_sub_ids != b->n_sub_ids ||
	    a->payload_format != b->payload_format ||
	    a->request_problem != b->request_problem ||
	    a->request_response != b->request_response ||
	    a->max_qos != b->max_qos ||
	    a->retain_available != b->retain_available ||
	    a->wildcard_available != b->wildcard_available ||
	    a->sub_id_available != b->sub_id_available ||
	    a->shared_available != b->shared_available ||
	    a->server_keep_alive != b->server_keep_alive ||
	    a->receive_max != b->receive_max ||
	    a->topic_alias_max != b->topic_alias_max ||
	    a->topic_alias != b->topic_alias ||
	    a->message_expiry != b->message_expiry ||
	    a->session_expiry != b->session_expiry ||
	    a->will_delay != b->will_delay ||
	    a->max_packet_size != b->max_packet_size ||
	    a->sub_id != b->sub_id ||
	    !fuzz_view_eq(a->content_type, b->content_type) ||
	    !fuzz_view_eq(a->response_topic, b->response_topic) ||
	    !fuzz_view_eq(a->correlation_data, b->correlation_data) ||
	    !fuzz_view_eq(a->assigned_client_id, b->assigned_client_id) ||
	    !fuzz_view_eq(a->auth_method, b->auth_method) ||
	    !fuzz_view_eq(a->auth_data, b->auth_data) ||
	    !fuzz_view_eq(a->response_info, b->response_info) ||
	    !fuzz_view_eq(a->server_reference, b->server_reference) ||
	    !fuzz_view_eq(a->reason_string, b->reason_string) ||
	    a->raw.len != b->raw.len)
		return 0;
	for (i = 0; i < a->n_sub_ids && i < MQTT5_SUB_IDS_MAX; i++)
		if (a->sub_ids[i] != b->sub_ids[i])
			return 0;
	/* User properties, then subscription identifiers, each in order. */
	for (want = MQTT5_PROP_USER; want != 0;
	    want = want == MQTT5_PROP_USER ? MQTT5_PROP_SUB_ID : 0) {
		ia = a->raw;
		ib = b->raw;
		for (;;) {
			do {
				if (!mqtt5_props_next(&ia, &ida, &a1, &a2))
					ida = 0;
			} while (ida != 0 && ida != want);
			do {
				if (!mqtt5_props_next(&ib, &idb, &b1, &b2))
					idb = 0;
			} while (idb != 0 && idb != want);
			if (ida != idb)
				return 0;
			if (ida == 0)
				break;
			if (!fuzz_view_eq(a1, b1) || !fuzz_view_eq(a2, b2))
				return 0;
		}
	}
	return 1;
}

/* The fields of two decoded packets are the same. */
static int
fuzz_packet_eq(const struct mqtt_packet *a, const struct mqtt_packet *b,
    uint8_t level)
{
	const struct mqtt_connect *c = &a->u.connect, *d = &b->u.connect;
	int v5 = level == MQTT_LEVEL_5;

	if (a->hdr.type != b->hdr.type)
		return 0;
	switch (a->hdr.type) {
	case MQTT_CONNECT:
		if (c->level == MQTT_LEVEL_5 &&
		    (!fuzz_props_eq(&c->props, &d->props) ||
		    (c->will_flag &&
		    !fuzz_props_eq(&c->will_props, &d->will_props))))
			return 0;
		return c->level == d->level &&
		    c->clean_session == d->clean_session &&
		    c->will_flag == d->will_flag &&
		    c->will_qos == d->will_qos &&
		    c->will_retain == d->will_retain &&
		    c->has_username == d->has_username &&
		    c->has_password == d->has_password &&
		    c->connack_rc == d->connack_rc &&
		    c->keepalive == d->keepalive &&
		    fuzz_view_eq(c->client_id, d->client_id) &&
		    fuzz_view_eq(c->will_topic, d->will_topic) &&
		    fuzz_view_eq(c->will_message, d->will_message) &&
		    fuzz_view_eq(c->username, d->username) &&
		    fuzz_view_eq(c->password, d->password);
	case MQTT_CONNACK:
		if (v5 && !fuzz_props_eq(&a->u.connack.props,
		    &b->u.connack.props))
			return 0;
		return a->u.connack.session_present ==
		    b->u.connack.session_present &&
		    a->u.connack.rc == b->u.connack.rc;
	case MQTT_PUBLISH:
		if (v5 && !fuzz_props_eq(&a->u.publish.props,
		    &b->u.publish.props))
			return 0;
		return a->u.publish.qos == b->u.publish.qos &&
		    a->u.publish.dup == b->u.publish.dup &&
		    a->u.publish.retain == b->u.publish.retain &&
		    a->u.publish.id == b->u.publish.id &&
		    fuzz_view_eq(a->u.publish.topic, b->u.publish.topic) &&
		    fuzz_view_eq(a->u.publish.payload, b->u.publish.payload);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		if (v5 && !fuzz_props_eq(&a->u.subscribe.props,
		    &b->u.subscribe.props))
			return 0;
		return a->u.subscribe.id == b->u.subscribe.id &&
		    a->u.subscribe.count == b->u.subscribe.count &&
		    fuzz_view_eq(a->u.subscribe.list, b->u.subscribe.list);
	case MQTT_UNSUBACK:
		if (!v5)
			return a->u.id == b->u.id;
		/* FALLTHROUGH */
	case MQTT_SUBACK:
		if (v5 && !fuzz_props_eq(&a->u.suback.props,
		    &b->u.suback.props))
			return 0;
		return a->u.suback.id == b->u.suback.id &&
		    fuzz_view_eq(a->u.suback.codes, b->u.suback.codes);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		return 1;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		return !v5 || (a->u.disconnect.rc == b->u.disconnect.rc &&
		    fuzz_props_eq(&a->u.disconnect.props,
		    &b->u.disconnect.props));
	default:
		if (v5 && (a->u.ack.rc != b->u.ack.rc ||
		    !fuzz_props_eq(&a->u.ack.props, &b->u.ack.props)))
			return 0;
		return a->u.id == b->u.id;
	}
}

/* Checks a topic filter from a decoded packet against the matcher. */
static void
fuzz_filter(struct bytes_view f)
{
	struct bytes_view g, r;
	size_t i;
	int literal = 1, rc;

	FUZZ_ASSERT(mqtt_topic_filter_valid(f));
	for (i = 0; i < f.len; i++)
		if (f.p[i] == '+' || f.p[i] == '#')
			literal = 0;
	FUZZ_ASSERT(mqtt_topic_name_valid(f) == literal);
	if (literal)
		FUZZ_ASSERT(mqtt_topic_match(f, f));
	FUZZ_ASSERT(mqtt_topic_levels(f) >= 1);
	rc = mqtt_topic_share_parse(f, &g, &r);
	FUZZ_ASSERT(rc == 0 || rc == 1 || rc == CAIRN_ERR_PROTO);
	if (rc == 1) {
		FUZZ_ASSERT(g.len > 0 && mqtt_topic_filter_valid(r));
		FUZZ_ASSERT(g.p + g.len + 1 == r.p && r.p + r.len == f.p + f.len);
	}
}

/* Checks a topic name from a decoded packet against the matcher. */
static void
fuzz_name(struct bytes_view n)
{
	static const struct bytes_view hash = { (const uint8_t *)"#", 1 };

	FUZZ_ASSERT(mqtt_topic_name_valid(n));
	FUZZ_ASSERT(mqtt_topic_filter_valid(n));
	FUZZ_ASSERT(mqtt_topic_match(n, n));
	FUZZ_ASSERT(mqtt_topic_match(hash, n) == (n.p[0] != '$'));
}

/*
 * A decoded property block made encodable: user properties (and the
 * subscription identifiers, when there are several) go from raw into
 * `user` as they came, through ub.
 */
static void
fuzz_props_enc(const struct mqtt5_props *in, struct mqtt5_props *out,
    struct bytes_w *ub)
{
	struct bytes_view it = in->raw, a, b;
	uint8_t id;

	*out = *in;
	bytes_w_reset(ub);
	/* More identifiers than the list holds: written as they came. */
	if (in->n_sub_ids > MQTT5_SUB_IDS_MAX) {
		out->present &= ~((uint64_t)1 << MQTT5_PROP_SUB_ID);
		out->n_sub_ids = 0;
	}
	while (mqtt5_props_next(&it, &id, &a, &b)) {
		if (id == MQTT5_PROP_USER) {
			FUZZ_ASSERT(mqtt5_user_prop_put(ub, a, b) == 0);
		} else if (id == MQTT5_PROP_SUB_ID &&
		    in->n_sub_ids > MQTT5_SUB_IDS_MAX) {
			bytes_put_u8(ub, MQTT5_PROP_SUB_ID);
			bytes_put_view(ub, a);
		}
	}
	FUZZ_ASSERT(it.len == 0 && ub->err == 0);
	out->user = bytes_view_of(ub->buf, ub->len);
}

/* The rest of fuzz_encode(): the packets with lists. */
static int
fuzz_encode_lists(struct bytes_w *w, const struct mqtt_packet *pk, int v5,
    const struct mqtt5_props *p)
{
	static struct mqtt_topic_qos subs[FUZZ_MAX_LIST];
	static struct bytes_view filters[FUZZ_MAX_LIST];
	struct bytes_view list;
	size_t n = 0;

	switch (pk->hdr.type) {
	case MQTT_SUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < FUZZ_MAX_LIST &&
		    mqtt_subscribe_next(&list, &subs[n].filter, &subs[n].qos))
			fuzz_filter(subs[n++].filter);
		if (list.len > 0)
			return CAIRN_ERR_LIMIT;
		FUZZ_ASSERT(n == pk->u.subscribe.count);
		if (v5)
			return mqtt_encode_subscribe5(w, pk->u.subscribe.id,
			    subs, n, p);
		return mqtt_encode_subscribe(w, pk->u.subscribe.id, subs, n);
	case MQTT_UNSUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < FUZZ_MAX_LIST &&
		    mqtt_unsubscribe_next(&list, &filters[n]))
			fuzz_filter(filters[n++]);
		if (list.len > 0)
			return CAIRN_ERR_LIMIT;
		FUZZ_ASSERT(n == pk->u.subscribe.count);
		if (v5)
			return mqtt_encode_unsubscribe5(w, pk->u.subscribe.id,
			    filters, n, p);
		return mqtt_encode_unsubscribe(w, pk->u.subscribe.id, filters,
		    n);
	case MQTT_SUBACK:
		if (v5)
			return mqtt_encode_suback5(w, MQTT_SUBACK,
			    pk->u.suback.id, pk->u.suback.codes.p,
			    pk->u.suback.codes.len, p);
		return mqtt_encode_suback(w, pk->u.suback.id,
		    pk->u.suback.codes.p, pk->u.suback.codes.len);
	default:
		return mqtt_encode_empty(w, pk->hdr.type);
	}
}

/*
 * A broker's delivery of a PUBLISH whose block it carries whole
 * (send.c): mqtt_encode_publish5_carried() writes what
 * mqtt_encode_publish5() does with the carried bytes as `user`, and
 * says the same size.
 */
static void
fuzz_publish_carried(const struct mqtt_publish *pub)
{
	static struct mqtt5_props up;
	struct bytes_view cv;
	struct bytes_w a, b;
	int ra, rb;

	if (!mqtt5_props_carried_view(&pub->props, &cv))
		return;
	mqtt5_props_init(&up);
	up.user = cv;
	bytes_w_init(&a, SIZE_MAX);
	bytes_w_init(&b, SIZE_MAX);
	ra = mqtt_encode_publish5(&a, pub, &up);
	rb = mqtt_encode_publish5_carried(&b, pub, cv);
	FUZZ_ASSERT(ra == rb);
	FUZZ_ASSERT(a.len == b.len);
	FUZZ_ASSERT(a.len == 0 || memcmp(a.buf, b.buf, a.len) == 0);
	FUZZ_ASSERT(mqtt_publish5_carried_size(pub, cv) ==
	    (rb == 0 ? b.len : 0));
	bytes_w_fini(&a);
	bytes_w_fini(&b);
}

/* Re-encodes pk with the public encoders.  0 or the encoder's error. */
static int
fuzz_encode(struct bytes_w *w, const struct mqtt_packet *pk, uint8_t level)
{
	static struct mqtt_connect c;
	static struct mqtt5_props p;
	struct bytes_w ub, ub2;
	size_t before = w->len;
	int rc, v5 = level == MQTT_LEVEL_5;

	bytes_w_init(&ub, SIZE_MAX);
	bytes_w_init(&ub2, SIZE_MAX);
	switch (pk->hdr.type) {
	case MQTT_CONNECT:
		c = pk->u.connect;
		if (c.level == MQTT_LEVEL_5) {
			fuzz_props_enc(&pk->u.connect.props, &c.props, &ub);
			fuzz_props_enc(&pk->u.connect.will_props,
			    &c.will_props, &ub2);
		}
		rc = mqtt_encode_connect(w, &c);
		break;
	case MQTT_CONNACK:
		if (v5) {
			fuzz_props_enc(&pk->u.connack.props, &p, &ub);
			rc = mqtt_encode_connack5(w,
			    pk->u.connack.session_present, pk->u.connack.rc,
			    &p);
		} else
			rc = mqtt_encode_connack(w, level,
			    pk->u.connack.session_present, pk->u.connack.rc);
		break;
	case MQTT_PUBLISH:
		if (v5) {
			fuzz_props_enc(&pk->u.publish.props, &p, &ub);
			rc = mqtt_encode_publish5(w, &pk->u.publish, &p);
			FUZZ_ASSERT(rc != 0 || w->len - before ==
			    mqtt_publish5_size(&pk->u.publish, &p));
			fuzz_publish_carried(&pk->u.publish);
		} else {
			rc = mqtt_encode_publish(w, &pk->u.publish);
			FUZZ_ASSERT(rc != 0 || w->len - before ==
			    mqtt_publish_size(&pk->u.publish));
		}
		break;
	case MQTT_UNSUBACK:
		if (v5) {
			fuzz_props_enc(&pk->u.suback.props, &p, &ub);
			rc = mqtt_encode_suback5(w, MQTT_UNSUBACK,
			    pk->u.suback.id, pk->u.suback.codes.p,
			    pk->u.suback.codes.len, &p);
			break;
		}
		/* FALLTHROUGH */
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		if (v5) {
			fuzz_props_enc(&pk->u.ack.props, &p, &ub);
			rc = mqtt_encode_ack5(w, pk->hdr.type, pk->u.ack.id,
			    pk->u.ack.rc, &p);
		} else
			rc = mqtt_encode_ack(w, pk->hdr.type, pk->u.id);
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		if (v5) {
			fuzz_props_enc(&pk->u.disconnect.props, &p, &ub);
			rc = mqtt_encode_disconnect5(w, pk->hdr.type,
			    pk->u.disconnect.rc, &p);
		} else
			rc = mqtt_encode_empty(w, pk->hdr.type);
		break;
	default:
		rc = CAIRN_ERR_LIMIT + 1;	/* below */
		break;
	}
	if (rc != CAIRN_ERR_LIMIT + 1) {
		bytes_w_fini(&ub);
		bytes_w_fini(&ub2);
		return rc;
	}
	if (v5 && (pk->hdr.type == MQTT_SUBSCRIBE ||
	    pk->hdr.type == MQTT_UNSUBSCRIBE || pk->hdr.type == MQTT_SUBACK))
		fuzz_props_enc(pk->hdr.type == MQTT_SUBACK ?
		    &pk->u.suback.props : &pk->u.subscribe.props, &p, &ub);
	rc = fuzz_encode_lists(w, pk, v5, &p);
	bytes_w_fini(&ub);
	bytes_w_fini(&ub2);
	return rc;
}

/* Decodes one framed packet at `level`, then re-encodes and compares. */
static void
fuzz_packet(const struct mqtt_hdr *hdr, struct bytes_view body,
    struct bytes_view whole, uint8_t level)
{
	struct mqtt_packet pk, pk2;
	struct mqtt_hdr hdr2;
	struct bytes_view body2;
	struct bytes_w w;
	struct mqtt_err err = { NULL, 0 };
	const char *why = NULL;
	size_t used;
	int rc;

	rc = mqtt_decode_ex(hdr, body, level, &pk, &err);
	if (rc != 0) {
		FUZZ_ASSERT(rc == CAIRN_ERR_PROTO && err.why != NULL);
		if (level == MQTT_LEVEL_5)
			FUZZ_ASSERT(mqtt5_rc_valid(MQTT_DISCONNECT,
			    err.reason) && err.reason >= 0x80);
		return;
	}
	if (pk.hdr.type == MQTT_PUBLISH && pk.u.publish.topic.len > 0)
		fuzz_name(pk.u.publish.topic);
	if (pk.hdr.type == MQTT_CONNECT && pk.u.connect.will_flag &&
	    pk.u.connect.connack_rc != MQTT_CONNACK_BAD_PROTOCOL)
		fuzz_name(pk.u.connect.will_topic);
	/* A refused level was not parsed past the level byte. */
	if (pk.hdr.type == MQTT_CONNECT &&
	    pk.u.connect.connack_rc == MQTT_CONNACK_BAD_PROTOCOL)
		return;
	/* The connection's level governs, except in CONNECT itself. */
	if (pk.hdr.type == MQTT_CONNECT)
		level = pk.u.connect.level;

	bytes_w_init(&w, MQTT_MAX_FIXED_HEADER + (size_t)MQTT_MAX_REMAINING);
	rc = fuzz_encode(&w, &pk, level);
	if (rc == CAIRN_ERR_LIMIT) {
		bytes_w_fini(&w);
		return;
	}
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(mqtt_frame(bytes_view_of(w.buf, w.len), w.len, &hdr2,
	    &body2, &used) == 0);
	FUZZ_ASSERT(used == w.len);
	FUZZ_ASSERT(mqtt_decode(&hdr2, body2, level, &pk2, &why) == 0);
	FUZZ_ASSERT(fuzz_packet_eq(&pk, &pk2, level));
	if (level == MQTT_LEVEL_311)
		FUZZ_ASSERT(w.len == whole.len &&
		    memcmp(w.buf, whole.p, w.len) == 0);
	else
		FUZZ_ASSERT(w.len <= whole.len);
	bytes_w_fini(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes_view in = bytes_view_of(data, size), body, b2;
	struct mqtt_hdr hdr, h2;
	size_t used, u2, k;
	int rc;

	while (in.len > 0) {
		rc = mqtt_frame(in, SIZE_MAX, &hdr, &body, &used);
		if (rc != 0) {
			FUZZ_ASSERT(rc == CAIRN_ERR_NEED_MORE ||
			    rc == CAIRN_ERR_PROTO);
			return 0;
		}
		FUZZ_ASSERT(used >= 2 && used <= in.len);
		FUZZ_ASSERT(body.len == hdr.remaining);
		FUZZ_ASSERT(body.p + body.len == in.p + used);
		FUZZ_ASSERT(hdr.type >= MQTT_CONNECT &&
		    hdr.type <= MQTT_AUTH && hdr.flags < 16);
		FUZZ_ASSERT(mqtt_frame(in, used, &h2, &b2, &u2) == 0 &&
		    u2 == used);
		FUZZ_ASSERT(mqtt_frame(in, used - 1, &h2, &b2, &u2) ==
		    CAIRN_ERR_TOO_BIG);
		/* Proper prefixes are short; a few suffice past the header. */
		for (k = 0; k < used && k < 8; k++)
			FUZZ_ASSERT(mqtt_frame(bytes_view_of(in.p, k), SIZE_MAX,
			    &h2, &b2, &u2) == CAIRN_ERR_NEED_MORE);
		FUZZ_ASSERT(mqtt_frame(bytes_view_of(in.p, used - 1), SIZE_MAX,
		    &h2, &b2, &u2) == CAIRN_ERR_NEED_MORE);

		fuzz_packet(&hdr, body, bytes_view_of(in.p, used),
		    MQTT_LEVEL_311);
		fuzz_packet(&hdr, body, bytes_view_of(in.p, used),
		    MQTT_LEVEL_31);
		fuzz_packet(&hdr, body, bytes_view_of(in.p, used),
		    MQTT_LEVEL_5);
		in.p += used;
		in.len -= used;
	}
	return 0;
}
