/*
 * Fuzz target for broker/mqtt_codec and broker/mqtt_topic.  The input is
 * a byte stream as a client or a server would send it: packets are framed
 * one after another until the stream ends or turns bad.  Each packet is
 * decoded at both protocol levels, and every packet that decodes is
 * re-encoded with the public encoders and decoded again.  Invariants:
 *
 *   - a frame lies inside the input and is header + remaining bytes;
 *     the same frame under a cap of its exact size passes, one less is
 *     CAIRN_ERR_TOO_BIG, and any proper prefix is CAIRN_ERR_NEED_MORE;
 *   - a decoder fails only with CAIRN_ERR_PROTO and then gives a reason;
 *   - the re-encoding decodes to the same fields; at level 3.1.1 it is
 *     byte for byte the packet that came in (every field is canonical:
 *     varints are minimal and flags are checked), and at 3.1 it is no
 *     longer (3.1's leniencies are dropped, never added);
 *   - mqtt_publish_size() is the size mqtt_encode_publish() writes;
 *   - topic filters and names behave: a literal filter matches itself,
 *     '#' matches every name not starting with '$'.
 * A broken invariant aborts, which libFuzzer and the replay report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_codec.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/bytes.h"
#include "common/err.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c)	do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* More entries than this in one (UN)SUBSCRIBE are not re-encoded. */
#define FUZZ_MAX_LIST	512

static int
fuzz_view_eq(struct bytes_view a, struct bytes_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The fields of two decoded packets are the same. */
static int
fuzz_packet_eq(const struct mqtt_packet *a, const struct mqtt_packet *b)
{
	const struct mqtt_connect *c = &a->u.connect, *d = &b->u.connect;

	if (a->hdr.type != b->hdr.type)
		return 0;
	switch (a->hdr.type) {
	case MQTT_CONNECT:
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
		return a->u.connack.session_present ==
		    b->u.connack.session_present &&
		    a->u.connack.rc == b->u.connack.rc;
	case MQTT_PUBLISH:
		return a->u.publish.qos == b->u.publish.qos &&
		    a->u.publish.dup == b->u.publish.dup &&
		    a->u.publish.retain == b->u.publish.retain &&
		    a->u.publish.id == b->u.publish.id &&
		    fuzz_view_eq(a->u.publish.topic, b->u.publish.topic) &&
		    fuzz_view_eq(a->u.publish.payload, b->u.publish.payload);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return a->u.subscribe.id == b->u.subscribe.id &&
		    a->u.subscribe.count == b->u.subscribe.count &&
		    fuzz_view_eq(a->u.subscribe.list, b->u.subscribe.list);
	case MQTT_SUBACK:
		return a->u.suback.id == b->u.suback.id &&
		    fuzz_view_eq(a->u.suback.codes, b->u.suback.codes);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		return 1;
	default:
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

	FUZZ_CHECK(mqtt_topic_filter_valid(f));
	for (i = 0; i < f.len; i++)
		if (f.p[i] == '+' || f.p[i] == '#')
			literal = 0;
	FUZZ_CHECK(mqtt_topic_name_valid(f) == literal);
	if (literal)
		FUZZ_CHECK(mqtt_topic_match(f, f));
	FUZZ_CHECK(mqtt_topic_levels(f) >= 1);
	rc = mqtt_topic_share_parse(f, &g, &r);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == CAIRN_ERR_PROTO);
	if (rc == 1) {
		FUZZ_CHECK(g.len > 0 && mqtt_topic_filter_valid(r));
		FUZZ_CHECK(g.p + g.len + 1 == r.p && r.p + r.len == f.p + f.len);
	}
}

/* Checks a topic name from a decoded packet against the matcher. */
static void
fuzz_name(struct bytes_view n)
{
	static const struct bytes_view hash = { (const uint8_t *)"#", 1 };

	FUZZ_CHECK(mqtt_topic_name_valid(n));
	FUZZ_CHECK(mqtt_topic_filter_valid(n));
	FUZZ_CHECK(mqtt_topic_match(n, n));
	FUZZ_CHECK(mqtt_topic_match(hash, n) == (n.p[0] != '$'));
}

/* Re-encodes pk with the public encoders.  0 or the encoder's error. */
static int
fuzz_encode(struct bytes_w *w, const struct mqtt_packet *pk, uint8_t level)
{
	static struct mqtt_topic_qos subs[FUZZ_MAX_LIST];
	static struct bytes_view filters[FUZZ_MAX_LIST];
	struct bytes_view list;
	size_t n = 0, before = w->len;
	int rc;

	switch (pk->hdr.type) {
	case MQTT_CONNECT:
		return mqtt_encode_connect(w, &pk->u.connect);
	case MQTT_CONNACK:
		return mqtt_encode_connack(w, level,
		    pk->u.connack.session_present, pk->u.connack.rc);
	case MQTT_PUBLISH:
		rc = mqtt_encode_publish(w, &pk->u.publish);
		FUZZ_CHECK(rc != 0 ||
		    w->len - before == mqtt_publish_size(&pk->u.publish));
		return rc;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		return mqtt_encode_ack(w, pk->hdr.type, pk->u.id);
	case MQTT_SUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < FUZZ_MAX_LIST &&
		    mqtt_subscribe_next(&list, &subs[n].filter, &subs[n].qos))
			fuzz_filter(subs[n++].filter);
		if (list.len > 0)
			return CAIRN_ERR_LIMIT;
		FUZZ_CHECK(n == pk->u.subscribe.count);
		return mqtt_encode_subscribe(w, pk->u.subscribe.id, subs, n);
	case MQTT_UNSUBSCRIBE:
		list = pk->u.subscribe.list;
		while (n < FUZZ_MAX_LIST &&
		    mqtt_unsubscribe_next(&list, &filters[n]))
			fuzz_filter(filters[n++]);
		if (list.len > 0)
			return CAIRN_ERR_LIMIT;
		FUZZ_CHECK(n == pk->u.subscribe.count);
		return mqtt_encode_unsubscribe(w, pk->u.subscribe.id, filters,
		    n);
	case MQTT_SUBACK:
		return mqtt_encode_suback(w, pk->u.suback.id,
		    pk->u.suback.codes.p, pk->u.suback.codes.len);
	default:
		return mqtt_encode_empty(w, pk->hdr.type);
	}
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
	const char *why = NULL;
	size_t used;
	int rc;

	rc = mqtt_decode(hdr, body, level, &pk, &why);
	if (rc != 0) {
		FUZZ_CHECK(rc == CAIRN_ERR_PROTO && why != NULL);
		return;
	}
	if (pk.hdr.type == MQTT_PUBLISH)
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
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(mqtt_frame(bytes_view_of(w.buf, w.len), w.len, &hdr2,
	    &body2, &used) == 0);
	FUZZ_CHECK(used == w.len);
	FUZZ_CHECK(mqtt_decode(&hdr2, body2, level, &pk2, &why) == 0);
	FUZZ_CHECK(fuzz_packet_eq(&pk, &pk2));
	if (level == MQTT_LEVEL_311)
		FUZZ_CHECK(w.len == whole.len &&
		    memcmp(w.buf, whole.p, w.len) == 0);
	else
		FUZZ_CHECK(w.len <= whole.len);
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
			FUZZ_CHECK(rc == CAIRN_ERR_NEED_MORE ||
			    rc == CAIRN_ERR_PROTO);
			return 0;
		}
		FUZZ_CHECK(used >= 2 && used <= in.len);
		FUZZ_CHECK(body.len == hdr.remaining);
		FUZZ_CHECK(body.p + body.len == in.p + used);
		FUZZ_CHECK(hdr.type >= MQTT_CONNECT &&
		    hdr.type <= MQTT_DISCONNECT && hdr.flags < 16);
		FUZZ_CHECK(mqtt_frame(in, used, &h2, &b2, &u2) == 0 &&
		    u2 == used);
		FUZZ_CHECK(mqtt_frame(in, used - 1, &h2, &b2, &u2) ==
		    CAIRN_ERR_TOO_BIG);
		/* Proper prefixes are short; a few suffice past the header. */
		for (k = 0; k < used && k < 8; k++)
			FUZZ_CHECK(mqtt_frame(bytes_view_of(in.p, k), SIZE_MAX,
			    &h2, &b2, &u2) == CAIRN_ERR_NEED_MORE);
		FUZZ_CHECK(mqtt_frame(bytes_view_of(in.p, used - 1), SIZE_MAX,
		    &h2, &b2, &u2) == CAIRN_ERR_NEED_MORE);

		fuzz_packet(&hdr, body, bytes_view_of(in.p, used),
		    MQTT_LEVEL_311);
		fuzz_packet(&hdr, body, bytes_view_of(in.p, used),
		    MQTT_LEVEL_31);
		in.p += used;
		in.len -= used;
	}
	return 0;
}
