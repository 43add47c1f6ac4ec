/*
 * Check units for broker/msg: the MQTT 5.0 parts of a message (carried
 * properties, publisher id, expiry) copied into its one allocation and
 * counted in msg_bytes(), and the expiry arithmetic the encoder and the
 * cluster link use (seconds rounded up, relative ms, caps).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/core/msg.h"

static struct bytes_view
v(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

START_TEST(msg__new_ex_copies_everything)
{
	char topic[] = "a/b", payload[] = "hello", props[] = "\x03\x00\x01x",
	    from[] = "client-1";
	struct msg_args a;
	struct msg *m;

	memset(&a, 0, sizeof(a));
	a.ma_topic = v(topic);
	a.ma_payload = v(payload);
	a.ma_props = bytes_view_of(props, 4);
	a.ma_from = v(from);
	a.ma_qos = 2;
	a.ma_retain = 1;
	a.ma_expire_at = 12345;
	m = msg_new_ex(&a);
	ck_assert_ptr_nonnull(m);
	/* The caller's buffers may go: the message has its copies. */
	memset(topic, 0, sizeof(topic));
	memset(props, 0, sizeof(props));
	memset(from, 0, sizeof(from));
	ck_assert_str_eq(m->m_topic, "a/b");
	ck_assert_str_eq(m->m_from, "client-1");
	ck_assert_uint_eq(msg_props(m).len, 4);
	ck_assert_int_eq(memcmp(msg_props(m).p, "\x03\x00\x01x", 4), 0);
	ck_assert_int_eq(memcmp(msg_payload(m).p, "hello", 5), 0);
	ck_assert_uint_eq(msg_from(m).len, 8);
	ck_assert_uint_eq(m->m_qos, 2);
	ck_assert_uint_eq(m->m_retain, 1);
	ck_assert_uint_eq(m->m_expire_at, 12345);
	ck_assert_uint_eq(msg_bytes(m), 3 + 5 + 4 + 8);
	ck_assert_uint_eq(msg_alloc_size(m), sizeof(*m) + 2 + 20);
	ck_assert_int_eq(msg_from_is(m, "client-1", 8), 1);
	ck_assert_int_eq(msg_from_is(m, "client-2", 8), 0);
	ck_assert_int_eq(msg_from_is(m, "client-", 7), 0);
	msg_unref(m);
}
END_TEST

START_TEST(msg__old_constructor_is_3_1_1)
{
	struct msg *m = msg_new(v("t"), v(""), 1, 0);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(msg_props(m).len, 0);
	ck_assert_uint_eq(msg_from(m).len, 0);
	ck_assert_str_eq(m->m_from, "");
	ck_assert_uint_eq(m->m_expire_at, 0);
	ck_assert_uint_eq(msg_bytes(m), 1);
	/* An empty publisher id never equals anything, itself included. */
	ck_assert_int_eq(msg_from_is(m, "", 0), 0);
	ck_assert_int_eq(msg_expired(m, UINT64_MAX), 0);
	ck_assert_uint_eq(msg_expiry_left(m, 5), 0);
	ck_assert_uint_eq(msg_expiry_left_ms(m, 5), 0);
	msg_unref(m);
}
END_TEST

START_TEST(msg__expiry_arithmetic)
{
	struct msg_args a;
	struct msg *m;

	memset(&a, 0, sizeof(a));
	a.ma_topic = v("t");
	a.ma_expire_at = msg_expire_at(1000, 10000);	/* 10 s from 1 s */
	ck_assert_uint_eq(a.ma_expire_at, 11000);
	m = msg_new_ex(&a);
	ck_assert_int_eq(msg_expired(m, 10999), 0);
	ck_assert_int_eq(msg_expired(m, 11000), 1);
	/* Seconds left, rounded up: never 0 while live. */
	ck_assert_uint_eq(msg_expiry_left(m, 1000), 10);
	ck_assert_uint_eq(msg_expiry_left(m, 1001), 10);
	ck_assert_uint_eq(msg_expiry_left(m, 10000), 1);
	ck_assert_uint_eq(msg_expiry_left(m, 10999), 1);
	/* Relative ms for the link: at least 1 once set. */
	ck_assert_uint_eq(msg_expiry_left_ms(m, 1000), 10000);
	ck_assert_uint_eq(msg_expiry_left_ms(m, 10999), 1);
	ck_assert_uint_eq(msg_expiry_left_ms(m, 20000), 1);
	msg_unref(m);
	/* 0 left is no expiry; huge ones are capped, never wrap. */
	ck_assert_uint_eq(msg_expire_at(5, 0), 0);
	ck_assert_uint_eq(msg_expire_at(5, UINT64_MAX), 5 + MSG_EXPIRY_MAX_MS);
	ck_assert_uint_eq(msg_expire_at(UINT64_MAX - 1, 10), UINT64_MAX);
	ck_assert_uint_eq(msg_expire_at(0, 1), 1);
	/* The largest MQTT interval round-trips through the seconds. */
	a.ma_expire_at = msg_expire_at(0, (uint64_t)UINT32_MAX * 1000);
	m = msg_new_ex(&a);
	ck_assert_uint_eq(msg_expiry_left(m, 0), UINT32_MAX);
	msg_unref(m);
}
END_TEST

/* The cluster's spool marks: noted once, at most MSG_SPOOLED_MAX. */
START_TEST(msg__spool_marks)
{
	struct msg *m = msg_new(bytes_view_of("t", 1), bytes_view_of("", 0),
	    1, 0);

	ck_assert_int_eq(msg_spooled_for(m, 5), 0);
	ck_assert_int_eq(msg_spool_mark(m, 5), 1);
	ck_assert_int_eq(msg_spool_mark(m, 5), 1);	/* once */
	ck_assert_int_eq(msg_spooled_for(m, 5), 1);
	ck_assert_int_eq(msg_spooled_for(m, 6), 0);
	ck_assert_int_eq(msg_spool_mark(m, 6), 1);
	ck_assert_int_eq(msg_spool_mark(m, 7), 0);	/* past the max */
	ck_assert_int_eq(msg_spooled_for(m, 6), 1);
	ck_assert_int_eq(msg_spooled_for(m, 7), 0);
	ck_assert(m->m_spooled[0] == 5 && m->m_spooled[1] == 6);
	msg_unref(m);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite *su = suite_create("msg");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, msg__new_ex_copies_everything);
	tcase_add_test(tc, msg__old_constructor_is_3_1_1);
	tcase_add_test(tc, msg__expiry_arithmetic);
	tcase_add_test(tc, msg__spool_marks);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(msg_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
