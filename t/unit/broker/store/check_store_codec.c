/*
 * Check units for broker/store/store_codec: every record type round
 * trips; every truncation, every flipped bit, a trailing byte, another
 * type, another format version and each out-of-range field (with a
 * good check, so the field test is what refuses it) are refused; keys
 * round trip and malformed ones are refused; the keyed hash is
 * SipHash-2-4 (the reference vectors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/store/store_codec.h"
#include "common/bytes.h"
#include "common/err.h"

static const uint8_t check_key[16] = "cairn-store-rec1";

static struct bytes_view
v(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

/* Rewrites w's trailing check after a test changed a byte. */
static void
recheck(struct bytes_w *w)
{
	uint64_t h = store_hash(check_key, bytes_view_of(w->buf, w->len - 4));

	w->buf[w->len - 4] = (uint8_t)(h >> 24);
	w->buf[w->len - 3] = (uint8_t)(h >> 16);
	w->buf[w->len - 2] = (uint8_t)(h >> 8);
	w->buf[w->len - 1] = (uint8_t)h;
}

/* A record of version 1 (the format before 5.0's parts) by hand. */
static void
rec_v1(struct bytes_w *w, int type, const void *body, size_t n)
{
	bytes_w_reset(w);
	(void)bytes_put_u8(w, (uint8_t)type);
	(void)bytes_put_u8(w, 1);
	(void)bytes_put(w, body, n);
	(void)bytes_put_u32be(w, 0);
	recheck(w);
}

/* Every decoder; returns which accepted (a bit per type). */
static int
decoders(struct bytes_view r)
{
	struct store_meta m;
	struct store_msg g;
	struct store_session s;
	struct store_sub b;
	struct store_out o;
	uint16_t id;
	int bits = 0;

	if (store_decode_meta(r, &m) == 0)
		bits |= 1 << STORE_REC_META;
	if (store_decode_retained(r, &g) == 0)
		bits |= 1 << STORE_REC_RETAINED;
	if (store_decode_session(r, &s) == 0)
		bits |= 1 << STORE_REC_SESSION;
	if (store_decode_sub(r, &b) == 0)
		bits |= 1 << STORE_REC_SUB;
	if (store_decode_out(r, &o) == 0)
		bits |= 1 << STORE_REC_OUT;
	if (store_decode_inq2(r, &id) == 0)
		bits |= 1 << STORE_REC_INQ2;
	return bits;
}

/* The whole value is accepted by its decoder only; damage is refused. */
static void
refuse_damage(const struct bytes_w *w, int type)
{
	uint8_t *buf = malloc(w->len + 1);
	size_t i;
	int bit;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(store_rec_type(bytes_view_of(w->buf, w->len), NULL),
	    type);
	ck_assert_int_eq(decoders(bytes_view_of(w->buf, w->len)), 1 << type);
	for (i = 0; i < w->len; i++) {
		memcpy(buf, w->buf, i);
		ck_assert_msg(decoders(bytes_view_of(buf, i)) == 0,
		    "truncated at %zu accepted", i);
	}
	memcpy(buf, w->buf, w->len);
	buf[w->len] = 0;
	ck_assert_int_eq(decoders(bytes_view_of(buf, w->len + 1)), 0);
	for (i = 0; i < w->len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, w->buf, w->len);
			buf[i] ^= (uint8_t)(1 << bit);
			ck_assert_msg(decoders(bytes_view_of(buf, w->len)) == 0,
			    "bit %d of byte %zu flipped accepted", bit, i);
		}
	free(buf);
}

START_TEST(store_codec__siphash_vectors)
{
	/* The reference: key 00..0f, messages 00..(n-1) (SipHash paper). */
	uint8_t key[16], msg[64];
	size_t i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(store_hash(key, bytes_view_of(msg, 0)),
	    0x726fdb47dd0e0e31ull);
	ck_assert_uint_eq(store_hash(key, bytes_view_of(msg, 1)),
	    0x74f839c593dc67fdull);
	ck_assert_uint_eq(store_hash(key, bytes_view_of(msg, 15)),
	    0xa129ca6149be45e5ull);
	ck_assert_uint_eq(store_hash(key, bytes_view_of(msg, 63)),
	    0x958a324ceb064572ull);
}
END_TEST

START_TEST(store_codec__meta)
{
	struct store_meta m = { .sm_version = STORE_FORMAT_VERSION }, d;
	struct bytes_w w;

	m.sm_node = v("b1@host");
	memset(m.sm_hash_key, 0xa5, sizeof(m.sm_hash_key));
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_meta(&w, &m), 0);
	ck_assert_int_eq(store_decode_meta(bytes_view_of(w.buf, w.len), &d),
	    0);
	ck_assert_uint_eq(d.sm_version, STORE_FORMAT_VERSION);
	ck_assert(bytes_view_eq_str(d.sm_node, "b1@host"));
	ck_assert_mem_eq(d.sm_hash_key, m.sm_hash_key, 16);
	refuse_damage(&w, STORE_REC_META);
	/* Another magic, with a good check. */
	w.buf[2] = 'X';
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Format 3 in the meta body: a newer store. */
	bytes_w_reset(&w);
	m.sm_version = STORE_FORMAT_VERSION + 1;
	ck_assert_int_eq(store_encode_meta(&w, &m), 0);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Format 1, an older store: read (store.c then writes it as 2). */
	bytes_w_reset(&w);
	m.sm_version = 1;
	ck_assert_int_eq(store_encode_meta(&w, &m), 0);
	ck_assert_int_eq(store_decode_meta(bytes_view_of(w.buf, w.len), &d),
	    0);
	ck_assert_uint_eq(d.sm_version, 1);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__retained)
{
	struct store_msg m = { .smg_qos = 2, .smg_retain = 1 }, d;
	struct bytes_w w;

	m.smg_topic = v("a/b");
	m.smg_payload = bytes_view_of("\0\1\2", 3);
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_retained(&w, &m), 0);
	ck_assert_int_eq(store_decode_retained(bytes_view_of(w.buf, w.len),
	    &d), 0);
	ck_assert_uint_eq(d.smg_qos, 2);
	ck_assert_uint_eq(d.smg_retain, 1);
	ck_assert(bytes_view_eq_str(d.smg_topic, "a/b"));
	ck_assert_uint_eq(d.smg_payload.len, 3);
	ck_assert_mem_eq(d.smg_payload.p, "\0\1\2", 3);
	refuse_damage(&w, STORE_REC_RETAINED);
	/* QoS 3 with a good check. */
	w.buf[2] = 3;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Version 3 with a good check: a newer broker's. */
	w.buf[2] = 1;
	w.buf[1] = STORE_FORMAT_VERSION + 1;
	recheck(&w);
	ck_assert_int_eq(store_rec_type(bytes_view_of(w.buf, w.len), NULL),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Version 1 (no 5.0 parts) is read, with them empty. */
	{
		static const uint8_t body[] = { 1, 1, 0, 1, 't', 0, 0, 0, 1,
		    'p' };

		rec_v1(&w, STORE_REC_RETAINED, body, sizeof(body));
		memset(&d, 0xa5, sizeof(d));
		ck_assert_int_eq(store_decode_retained(bytes_view_of(w.buf,
		    w.len), &d), 0);
		ck_assert(bytes_view_eq_str(d.smg_topic, "t"));
		ck_assert(bytes_view_eq_str(d.smg_payload, "p"));
		ck_assert_uint_eq(d.smg_expire_ms, 0);
		ck_assert_uint_eq(d.smg_from.len, 0);
		ck_assert_uint_eq(d.smg_props.len, 0);
		refuse_damage(&w, STORE_REC_RETAINED);
	}
	/* Version 2's parts round trip. */
	bytes_w_reset(&w);
	m.smg_expire_ms = 1800000000123ull;
	m.smg_from = v("pub-1");
	m.smg_props = bytes_view_of("\x03\x00\x01x", 4);
	ck_assert_int_eq(store_encode_retained(&w, &m), 0);
	ck_assert_int_eq(store_decode_retained(bytes_view_of(w.buf, w.len),
	    &d), 0);
	ck_assert_uint_eq(d.smg_expire_ms, 1800000000123ull);
	ck_assert(bytes_view_eq_str(d.smg_from, "pub-1"));
	ck_assert_uint_eq(d.smg_props.len, 4);
	ck_assert_mem_eq(d.smg_props.p, "\x03\x00\x01x", 4);
	refuse_damage(&w, STORE_REC_RETAINED);
	/* The encoder refuses what the decoder would. */
	bytes_w_reset(&w);
	m.smg_topic = v("");
	ck_assert_int_eq(store_encode_retained(&w, &m), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__session)
{
	struct store_session s = { .ss_has_username = 1, .ss_created_ms = 5,
	    .ss_seen_ms = 7, .ss_expiry = 0xffffffff }, d;
	struct bytes_w w;

	s.ss_id = v("client-1");
	s.ss_username = v("alice");
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_session(&w, &s), 0);
	ck_assert_int_eq(store_decode_session(bytes_view_of(w.buf, w.len),
	    &d), 0);
	ck_assert(bytes_view_eq_str(d.ss_id, "client-1"));
	ck_assert_int_eq(d.ss_has_username, 1);
	ck_assert(bytes_view_eq_str(d.ss_username, "alice"));
	ck_assert_uint_eq(d.ss_created_ms, 5);
	ck_assert_uint_eq(d.ss_seen_ms, 7);
	ck_assert_uint_eq(d.ss_expiry, 0xffffffff);
	refuse_damage(&w, STORE_REC_SESSION);
	/* flags 2 with a good check: id "client-1" is 2+2+8 in. */
	w.buf[12] = 2;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	bytes_w_reset(&w);
	s.ss_id = v("");
	ck_assert_int_eq(store_encode_session(&w, &s), CAIRN_ERR_INVAL);
	s.ss_id = v("x");
	s.ss_has_username = 0;
	ck_assert_int_eq(store_encode_session(&w, &s), CAIRN_ERR_INVAL);
	s.ss_username = v("");
	ck_assert_int_eq(store_encode_session(&w, &s), 0);
	refuse_damage(&w, STORE_REC_SESSION);
	/* Version 2: the 5.0 flag; flags 4 is nothing. */
	bytes_w_reset(&w);
	s.ss_v5 = 1;
	ck_assert_int_eq(store_encode_session(&w, &s), 0);
	ck_assert_int_eq(store_decode_session(bytes_view_of(w.buf, w.len),
	    &d), 0);
	ck_assert_int_eq(d.ss_v5, 1);
	ck_assert_int_eq(d.ss_has_username, 0);
	w.buf[5] = 4;				/* id "x" is 2+2+1 in */
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Version 1 knows bit 0 only. */
	{
		uint8_t body[] = { 0, 1, 'x', 2, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60 };

		rec_v1(&w, STORE_REC_SESSION, body, sizeof(body));
		ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
		body[3] = 0;
		rec_v1(&w, STORE_REC_SESSION, body, sizeof(body));
		ck_assert_int_eq(store_decode_session(bytes_view_of(w.buf,
		    w.len), &d), 0);
		ck_assert_int_eq(d.ss_v5, 0);
		ck_assert_uint_eq(d.ss_expiry, 60);
	}
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__sub)
{
	struct store_sub s = { .ssb_qos = 1 }, d;
	struct bytes_w w;

	s.ssb_filter = v("$share/g/a/+/#");
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_sub(&w, &s), 0);
	ck_assert_int_eq(store_decode_sub(bytes_view_of(w.buf, w.len), &d), 0);
	ck_assert_uint_eq(d.ssb_qos, 1);
	ck_assert(bytes_view_eq_str(d.ssb_filter, "$share/g/a/+/#"));
	refuse_damage(&w, STORE_REC_SUB);
	/* Options: an unknown bit, then retain handling 3, refused. */
	w.buf[3] = 0x10;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	w.buf[3] = 3 << STORE_SUB_RH_SHIFT;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* Version 2: options and identifier round trip. */
	bytes_w_reset(&w);
	s.ssb_opts = STORE_SUB_NO_LOCAL | STORE_SUB_RAP |
	    2 << STORE_SUB_RH_SHIFT;
	s.ssb_sub_id = STORE_SUB_ID_MAX;
	ck_assert_int_eq(store_encode_sub(&w, &s), 0);
	ck_assert_int_eq(store_decode_sub(bytes_view_of(w.buf, w.len), &d), 0);
	ck_assert_uint_eq(d.ssb_opts, s.ssb_opts);
	ck_assert_uint_eq(d.ssb_sub_id, STORE_SUB_ID_MAX);
	refuse_damage(&w, STORE_REC_SUB);
	bytes_w_reset(&w);
	s.ssb_sub_id = STORE_SUB_ID_MAX + 1;
	ck_assert_int_eq(store_encode_sub(&w, &s), CAIRN_ERR_INVAL);
	/* Version 1: no identifier, and options must be 0. */
	{
		uint8_t body[] = { 1, 0, 0, 1, 'a' };

		rec_v1(&w, STORE_REC_SUB, body, sizeof(body));
		ck_assert_int_eq(store_decode_sub(bytes_view_of(w.buf, w.len),
		    &d), 0);
		ck_assert_uint_eq(d.ssb_sub_id, 0);
		body[1] = STORE_SUB_NO_LOCAL;
		rec_v1(&w, STORE_REC_SUB, body, sizeof(body));
		ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	}
	bytes_w_reset(&w);
	s.ssb_sub_id = 0;
	s.ssb_qos = 3;
	ck_assert_int_eq(store_encode_sub(&w, &s), CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__out)
{
	struct store_out o = { .so_state = STORE_OUT_PUBLISHED, .so_id = 77,
	    .so_qos = 2, .so_retain = 1 }, d;
	struct bytes_w w;

	o.so_msg.smg_qos = 2;
	o.so_msg.smg_topic = v("t");
	o.so_msg.smg_payload = v("payload");
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_out(&w, &o), 0);
	ck_assert_int_eq(store_decode_out(bytes_view_of(w.buf, w.len), &d), 0);
	ck_assert_uint_eq(d.so_state, STORE_OUT_PUBLISHED);
	ck_assert_uint_eq(d.so_id, 77);
	ck_assert_uint_eq(d.so_qos, 2);
	ck_assert_uint_eq(d.so_retain, 1);
	ck_assert(bytes_view_eq_str(d.so_msg.smg_payload, "payload"));
	refuse_damage(&w, STORE_REC_OUT);
	/* State 4, then packet id 0 while published, with good checks. */
	w.buf[2] = 4;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	w.buf[2] = STORE_OUT_PUBLISHED;
	w.buf[3] = w.buf[4] = 0;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	/* The encoder's rules: queued has no id, released is QoS 2. */
	bytes_w_reset(&w);
	o.so_state = STORE_OUT_QUEUED;
	ck_assert_int_eq(store_encode_out(&w, &o), CAIRN_ERR_INVAL);
	o.so_id = 0;
	ck_assert_int_eq(store_encode_out(&w, &o), 0);
	refuse_damage(&w, STORE_REC_OUT);
	bytes_w_reset(&w);
	o.so_state = STORE_OUT_RELEASED;
	o.so_id = 3;
	o.so_qos = 1;
	ck_assert_int_eq(store_encode_out(&w, &o), CAIRN_ERR_INVAL);
	o.so_qos = 0;
	o.so_state = STORE_OUT_QUEUED;
	o.so_id = 0;
	ck_assert_int_eq(store_encode_out(&w, &o), CAIRN_ERR_INVAL);
	/* Version 2: subscription identifiers round trip, within bounds. */
	o.so_qos = 1;
	o.so_nids = 2;
	o.so_ids[0] = 1;
	o.so_ids[1] = STORE_SUB_ID_MAX;
	bytes_w_reset(&w);
	ck_assert_int_eq(store_encode_out(&w, &o), 0);
	ck_assert_int_eq(store_decode_out(bytes_view_of(w.buf, w.len), &d), 0);
	ck_assert_uint_eq(d.so_nids, 2);
	ck_assert_uint_eq(d.so_ids[0], 1);
	ck_assert_uint_eq(d.so_ids[1], STORE_SUB_ID_MAX);
	refuse_damage(&w, STORE_REC_OUT);
	bytes_w_reset(&w);
	o.so_ids[1] = 0;
	ck_assert_int_eq(store_encode_out(&w, &o), CAIRN_ERR_INVAL);
	o.so_ids[1] = 2;
	o.so_nids = STORE_MAX_SUB_IDS + 1;
	ck_assert_int_eq(store_encode_out(&w, &o), CAIRN_ERR_INVAL);
	/* Version 1: no identifiers. */
	{
		static const uint8_t body[] = { STORE_OUT_QUEUED, 0, 0, 1, 0,
		    1, 0, 0, 1, 't', 0, 0, 0, 0 };

		rec_v1(&w, STORE_REC_OUT, body, sizeof(body));
		ck_assert_int_eq(store_decode_out(bytes_view_of(w.buf, w.len),
		    &d), 0);
		ck_assert_uint_eq(d.so_nids, 0);
		ck_assert_uint_eq(d.so_msg.smg_props.len, 0);
	}
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__inq2)
{
	struct bytes_w w;
	uint16_t id;

	bytes_w_init(&w, 4096);
	ck_assert_int_eq(store_encode_inq2(&w, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(store_encode_inq2(&w, 65535), 0);
	ck_assert_int_eq(store_decode_inq2(bytes_view_of(w.buf, w.len), &id),
	    0);
	ck_assert_uint_eq(id, 65535);
	refuse_damage(&w, STORE_REC_INQ2);
	w.buf[2] = w.buf[3] = 0;
	recheck(&w);
	ck_assert_int_eq(decoders(bytes_view_of(w.buf, w.len)), 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(store_codec__keys)
{
	uint8_t b[STORE_KEY_MAX];
	struct store_key k;
	size_t n;

	n = store_key_meta(b);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k), 0);
	ck_assert_uint_eq(k.sk_type, 'M');
	n = store_key_retained(b, 0x0102030405060708ull);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k), 0);
	ck_assert_uint_eq(k.sk_hash, 0x0102030405060708ull);
	n = store_key_session(b, 9, STORE_SK_HEADER, 0);
	ck_assert_uint_eq(n, 10);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k), 0);
	ck_assert_uint_eq(k.sk_sid, 9);
	ck_assert_uint_eq(k.sk_kind, STORE_SK_HEADER);
	n = store_key_session(b, 9, STORE_SK_OUT, 1234);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k), 0);
	ck_assert_uint_eq(k.sk_arg, 1234);
	/* Shorter and longer than its kind, an unknown kind or type. */
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n - 1), &k),
	    CAIRN_ERR_PROTO);
	b[n] = 0;
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n + 1), &k),
	    CAIRN_ERR_PROTO);
	b[9] = 4;
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k),
	    CAIRN_ERR_PROTO);
	n = store_key_session(b, 9, STORE_SK_INQ2, 0);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k),
	    CAIRN_ERR_PROTO);
	n = store_key_session(b, 9, STORE_SK_INQ2, 5);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k), 0);
	ck_assert_uint_eq(k.sk_arg, 5);
	b[0] = 'Z';
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, n), &k),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(store_key_decode(bytes_view_of(b, 0), &k),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(store_key_decode(bytes_view_of("MM", 2), &k),
	    CAIRN_ERR_PROTO);
	/* A session's keys sort after its header, under its prefix. */
	ck_assert_uint_eq(store_key_session_prefix(b, 9), 9);
}
END_TEST

static Suite *
store_codec_suite(void)
{
	Suite *su = suite_create("store_codec");
	TCase *tc = tcase_create("records");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, store_codec__siphash_vectors);
	tcase_add_test(tc, store_codec__meta);
	tcase_add_test(tc, store_codec__retained);
	tcase_add_test(tc, store_codec__session);
	tcase_add_test(tc, store_codec__sub);
	tcase_add_test(tc, store_codec__out);
	tcase_add_test(tc, store_codec__inq2);
	tcase_add_test(tc, store_codec__keys);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(store_codec_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
