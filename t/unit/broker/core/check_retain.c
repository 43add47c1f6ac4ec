/*
 * Check units for broker/retain: set, replace, clear by an empty
 * payload, the limits (count, total bytes, message size: refused and
 * counted, a replaced message cleared), byte accounting back to empty,
 * exact and wildcard lookups (the '$' rule), a resumable cursor, and
 * the references it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/core/msg.h"
#include "broker/core/retain.h"
#include "common/err.h"

static struct retain *r;

static struct bytes_view
v(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static int
set(const char *topic, const char *payload)
{
	struct msg *m = msg_new(v(topic), v(payload), 1, 1);
	int rc;

	ck_assert_ptr_nonnull(m);
	rc = retain_set(r, m);
	msg_unref(m);
	return rc;
}

struct seen {
	char	topics[512];
	size_t	n;
};

static void
on_match(struct msg *m, void *arg)
{
	struct seen *s = arg;

	strcat(s->topics, m->m_topic);
	strcat(s->topics, ";");
	s->n++;
}

static size_t
match(const char *filter, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return retain_match(r, v(filter), on_match, s);
}

static void
setup(void)
{
	r = retain_new(5, 7);
	ck_assert_ptr_nonnull(r);
}

static void
teardown(void)
{
	retain_free(r);
}

START_TEST(retain__set_replace_clear)
{
	struct msg *m;

	ck_assert_int_eq(set("a/b", "one"), 0);
	ck_assert_int_eq(set("a/b", "two"), 0);
	ck_assert_uint_eq(retain_count(r), 1);
	m = retain_get(r, v("a/b"));
	ck_assert_ptr_nonnull(m);
	ck_assert_mem_eq(m->m_payload, "two", 3);
	ck_assert_int_eq(set("a/b", ""), 0);
	ck_assert_ptr_null(retain_get(r, v("a/b")));
	ck_assert_uint_eq(retain_count(r), 0);
	/* Clearing an absent topic is fine and stores nothing. */
	ck_assert_int_eq(set("x", ""), 0);
	ck_assert_uint_eq(retain_count(r), 0);
	retain_free(NULL);
}
END_TEST

START_TEST(retain__limit)
{
	char t[8];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(t, sizeof(t), "t%d", i);
		ck_assert_int_eq(set(t, "x"), 0);
	}
	ck_assert_int_eq(set("t5", "x"), CAIRN_ERR_LIMIT);
	/* Replacing and clearing still work at the limit. */
	ck_assert_int_eq(set("t0", "y"), 0);
	ck_assert_int_eq(set("t1", ""), 0);
	ck_assert_int_eq(set("t5", "x"), 0);
	ck_assert_uint_eq(retain_count(r), 5);
}
END_TEST

START_TEST(retain__match)
{
	struct seen s;

	ck_assert_int_eq(set("rw/a", "A"), 0);
	ck_assert_int_eq(set("rw/b/c", "BC"), 0);
	ck_assert_int_eq(set("other", "O"), 0);
	ck_assert_int_eq(set("$SYS/x", "S"), 0);
	ck_assert_uint_eq(match("rw/#", &s), 2);
	ck_assert_uint_eq(match("rw/+", &s), 1);
	ck_assert_str_eq(s.topics, "rw/a;");
	ck_assert_uint_eq(match("other", &s), 1);
	ck_assert_uint_eq(match("nothing", &s), 0);
	/* '#' does not reach '$' topics; $SYS/# does. */
	ck_assert_uint_eq(match("#", &s), 3);
	ck_assert_uint_eq(match("+/x", &s), 0);
	ck_assert_uint_eq(match("$SYS/#", &s), 1);
}
END_TEST

START_TEST(retain__holds_references)
{
	struct msg *m = msg_new(v("k"), v("p"), 0, 1);

	ck_assert_int_eq(retain_set(r, m), 0);
	ck_assert_uint_eq(m->m_refs, 2);
	ck_assert_int_eq(set("k", "q"), 0);
	ck_assert_uint_eq(m->m_refs, 1);
	msg_unref(m);
}
END_TEST

static void
on_count(struct msg *m, void *arg)
{
	(*(size_t *)arg)++;
}

START_TEST(retain__grows)
{
	size_t n = 0;
	char t[16];
	int i;

	retain_free(r);
	r = retain_new(100000, 1);
	for (i = 0; i < 5000; i++) {
		snprintf(t, sizeof(t), "g/%d", i);
		ck_assert_int_eq(set(t, "x"), 0);
	}
	ck_assert_uint_eq(retain_count(r), 5000);
	for (i = 0; i < 5000; i += 499) {
		snprintf(t, sizeof(t), "g/%d", i);
		ck_assert_ptr_nonnull(retain_get(r, v(t)));
	}
	ck_assert_uint_eq(retain_match(r, v("g/+"), on_count, &n), 5000);
	ck_assert_uint_eq(n, 5000);
}
END_TEST

START_TEST(retain__wildcard_scan_counts)
{
	size_t n = 0;
	char t[16];
	int i;

	retain_free(r);
	r = retain_new(1000, 3);
	for (i = 0; i < 300; i++) {
		snprintf(t, sizeof(t), "a/%d/%s", i, i % 2 ? "odd" : "even");
		ck_assert_int_eq(set(t, "x"), 0);
	}
	ck_assert_uint_eq(retain_match(r, v("a/+/odd"), on_count, &n), 150);
	ck_assert_uint_eq(n, 150);
}
END_TEST

START_TEST(retain__size_limit)
{
	struct retain_stats st;
	enum retain_limit why;
	struct msg *m;

	retain_set_limits(r, 5, SIZE_MAX, 4);
	ck_assert_int_eq(set("a", "1234"), 0);
	m = msg_new(v("a"), v("12345"), 1, 1);
	ck_assert_int_eq(retain_store(r, m, &why), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(why, RETAIN_LIMIT_SIZE);
	ck_assert_str_eq(retain_limit_name(why), "max_retained_message_size");
	/* The older message of the topic is not kept either. */
	ck_assert_ptr_null(retain_get(r, v("a")));
	ck_assert_uint_eq(m->m_refs, 1);
	msg_unref(m);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_count, 0);
	ck_assert_uint_eq(st.rs_refused[RETAIN_LIMIT_SIZE], 1);
	ck_assert_uint_eq(st.rs_refused[RETAIN_LIMIT_COUNT], 0);
}
END_TEST

START_TEST(retain__bytes_limit)
{
	struct retain_stats st;
	enum retain_limit why = RETAIN_LIMIT_NONE;
	size_t empty = retain_bytes(r), cap = empty + 4096;
	char t[16], payload[200];
	struct msg *m;
	int i, rc = 0;

	retain_free(r);
	r = retain_new(1000, 9);
	empty = retain_bytes(r);
	cap = empty + 4096;
	retain_set_limits(r, 1000, cap, SIZE_MAX);
	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	for (i = 0; i < 100 && rc == 0; i++) {
		snprintf(t, sizeof(t), "b/%d", i);
		m = msg_new(v(t), v(payload), 0, 1);
		rc = retain_store(r, m, &why);
		msg_unref(m);
		ck_assert_uint_le(retain_bytes(r), cap);
	}
	ck_assert_int_eq(rc, CAIRN_ERR_LIMIT);
	ck_assert_int_eq(why, RETAIN_LIMIT_BYTES);
	ck_assert_uint_gt(i, 5);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_refused[RETAIN_LIMIT_BYTES], 1);
	ck_assert_uint_eq(st.rs_bytes, st.rs_msg_bytes + st.rs_index_bytes);
	ck_assert_uint_eq(st.rs_bytes, retain_bytes(r));
	ck_assert_uint_eq(st.rs_count, (size_t)i - 1);
	/* A smaller message on a kept topic still fits. */
	ck_assert_int_eq(set("b/0", "small"), 0);
	/* Clearing every topic gives every byte back. */
	for (i = 0; i < 100; i++) {
		snprintf(t, sizeof(t), "b/%d", i);
		ck_assert_int_eq(set(t, ""), 0);
	}
	ck_assert_uint_eq(retain_count(r), 0);
	ck_assert_uint_eq(retain_bytes(r), empty);
}
END_TEST

START_TEST(retain__cursor)
{
	struct retain_index_cursor *c;
	struct msg *m;
	size_t n = 0, budget;
	char t[16];
	int i;

	retain_free(r);
	r = retain_new(1000, 5);
	for (i = 0; i < 300; i++) {
		snprintf(t, sizeof(t), "c/%d", i);
		ck_assert_int_eq(set(t, "x"), 0);
	}
	c = retain_cursor_new(r, v("c/#"));
	ck_assert_ptr_nonnull(c);
	while (!retain_index_cursor_done(c)) {
		budget = 3;
		if ((m = retain_cursor_next(c, &budget)) != NULL)
			n++;
	}
	retain_cursor_free(c);
	ck_assert_uint_eq(n, 300);
}
END_TEST

/* A retained message on topic expiring at `at` (0: never). */
static struct msg *
mkexp(const char *topic, uint64_t at)
{
	struct msg_args a;
	struct msg *m;

	memset(&a, 0, sizeof(a));
	a.ma_topic = v(topic);
	a.ma_payload = v("x");
	a.ma_props = v("\x03\x00\x01c");	/* content type "c" */
	a.ma_qos = 1;
	a.ma_retain = 1;
	a.ma_expire_at = at;
	m = msg_new_ex(&a);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Expiring messages go in expiry order, bounded per call, and lazily. */
START_TEST(retain__expiry)
{
	struct retain_stats st;
	struct msg *m[6];
	uint64_t at[6] = { 500, 100, 0, 300, 200, 400 };
	char t[8];
	size_t i, bytes0;

	retain_set_limits(r, 100, SIZE_MAX, SIZE_MAX);
	bytes0 = retain_bytes(r);
	for (i = 0; i < 6; i++) {
		snprintf(t, sizeof(t), "e/%zu", i);
		m[i] = mkexp(t, at[i]);
		ck_assert_int_eq(retain_set(r, m[i]), 0);
	}
	ck_assert_uint_eq(retain_next_expiry(r), 100);
	/* Replacing one takes its old expiry out: e/4 lives on. */
	msg_unref(m[4]);
	m[4] = mkexp("e/4", 0);
	ck_assert_int_eq(retain_set(r, m[4]), 0);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_expiring, 4);
	ck_assert_uint_eq(retain_expire(r, 99, 100), 0);
	ck_assert_uint_eq(retain_expire(r, 1000, 1), 1);	/* e/1 */
	ck_assert_ptr_null(retain_get(r, v("e/1")));
	ck_assert_ptr_nonnull(retain_get(r, v("e/3")));
	/* A lookup past the expiry drops it there and then. */
	ck_assert_ptr_eq(retain_get_at(r, v("e/3"), 299), m[3]);
	ck_assert_ptr_null(retain_get_at(r, v("e/3"), 300));
	ck_assert_ptr_null(retain_get(r, v("e/3")));
	/* Clearing one by an empty payload takes it out of the heap. */
	ck_assert_int_eq(set("e/5", ""), 0);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_expiring, 1);
	ck_assert_uint_eq(st.rs_expired, 2);
	ck_assert_uint_eq(retain_next_expiry(r), 500);
	ck_assert_uint_eq(retain_expire(r, UINT64_MAX, 100), 1);
	ck_assert_uint_eq(retain_next_expiry(r), 0);
	ck_assert_uint_eq(retain_count(r), 2);	/* e/2, e/4: no expiry */
	ck_assert_int_eq(set("e/2", ""), 0);
	ck_assert_int_eq(set("e/4", ""), 0);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_msg_bytes, 0);
	ck_assert_uint_eq(retain_bytes(r), bytes0);
	for (i = 0; i < 6; i++) {
		/* Only the test's reference is left on each. */
		ck_assert_uint_eq(m[i]->m_refs, 1);
		msg_unref(m[i]);
	}
}
END_TEST

/* A heap of many: the sweep drops exactly those due, in order. */
START_TEST(retain__expiry_many)
{
	struct msg *m;
	char t[16];
	uint64_t at, last = 0;
	size_t i, n = 0, left;

	retain_set_limits(r, 1000, SIZE_MAX, SIZE_MAX);
	for (i = 0; i < 1000; i++) {
		snprintf(t, sizeof(t), "m/%zu", i);
		at = 1 + (i * 7919) % 1000;
		m = mkexp(t, at);
		ck_assert_int_eq(retain_set(r, m), 0);
		msg_unref(m);
	}
	while ((at = retain_next_expiry(r)) != 0) {
		ck_assert_uint_ge(at, last);
		last = at;
		n += retain_expire(r, at, 3);
	}
	ck_assert_uint_eq(n, 1000);
	ck_assert_uint_eq(retain_count(r), 0);
	left = retain_expire(r, UINT64_MAX, 10);
	ck_assert_uint_eq(left, 0);
}
END_TEST

/* A walk drops the expired messages it meets and goes on. */
START_TEST(retain__cursor_skips_expired)
{
	struct retain_index_cursor *c;
	struct retain_stats st;
	struct msg *m;
	size_t budget = SIZE_MAX, n = 0;
	char t[8];
	int i;

	retain_set_limits(r, 100, SIZE_MAX, SIZE_MAX);
	for (i = 0; i < 6; i++) {
		snprintf(t, sizeof(t), "c/%d", i);
		/* Odd ones expire at 100, even ones never. */
		m = mkexp(t, i % 2 ? 100 : 0);
		ck_assert_int_eq(retain_set(r, m), 0);
		msg_unref(m);
	}
	c = retain_cursor_new(r, v("c/#"));
	ck_assert_ptr_nonnull(c);
	/* Before 100 all six come; at 100 only the three that live. */
	while ((m = retain_cursor_next_at(r, c, &budget, 99)) != NULL)
		n++;
	ck_assert_uint_eq(n, 6);
	retain_cursor_free(c);
	c = retain_cursor_new(r, v("c/#"));
	n = 0;
	while ((m = retain_cursor_next_at(r, c, &budget, 100)) != NULL) {
		ck_assert_uint_eq(m->m_expire_at, 0);
		n++;
	}
	ck_assert_uint_eq(n, 3);
	ck_assert(retain_index_cursor_done(c));
	retain_cursor_free(c);
	retain_stats(r, &st);
	ck_assert_uint_eq(st.rs_count, 3);
	ck_assert_uint_eq(st.rs_expired, 3);
	ck_assert_uint_eq(st.rs_expiring, 0);
}
END_TEST

static Suite *
retain_suite(void)
{
	Suite *su = suite_create("retain");
	TCase *tc;

	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, retain__set_replace_clear);
	tcase_add_test(tc, retain__limit);
	tcase_add_test(tc, retain__match);
	tcase_add_test(tc, retain__holds_references);
	tcase_add_test(tc, retain__grows);
	tcase_add_test(tc, retain__wildcard_scan_counts);
	tcase_add_test(tc, retain__size_limit);
	tcase_add_test(tc, retain__bytes_limit);
	tcase_add_test(tc, retain__cursor);
	tcase_add_test(tc, retain__expiry);
	tcase_add_test(tc, retain__expiry_many);
	tcase_add_test(tc, retain__cursor_skips_expired);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(retain_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
