/*
 * Unit tests for agent/view: answers add nodes, unknown answers change
 * nothing (libcluster #190), the prune rule needs every source to miss a
 * node prune_misses times over prune_ms, several sources vouch
 * independently, forgetting a topology's sources, the node limit.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/view.h"
#include "common/err.h"

static struct view *v;
static int added, removed, changed;
static char last_removed[64];

static void
on_change(void *arg, enum view_event ev, struct view_node *n)
{
	if (ev == VIEW_NODE_ADDED)
		added++;
	else if (ev == VIEW_NODE_CHANGED)
		changed++;
	else {
		removed++;
		snprintf(last_removed, sizeof(last_removed), "%s",
		    view_node_name(n));
	}
}

static void
setup(void)
{
	struct view_opts o = { .prune_misses = 3, .prune_ms = 1000,
	    .max_nodes = 100 };

	added = removed = changed = 0;
	last_removed[0] = '\0';
	v = view_new(&o, on_change, NULL);
	ck_assert_ptr_nonnull(v);
}

static void
teardown(void)
{
	view_free(v);
	v = NULL;
}

static const char *abc[] = { "a@h", "b@h", "c@h" };
static const char *ab[] = { "a@h", "b@h" };

START_TEST(view__answer_adds_nodes)
{
	ck_assert_int_eq(view_answer(v, "t/s1", abc, 3, 0), 3);
	ck_assert_int_eq(added, 3);
	ck_assert_uint_eq(view_count(v), 3);
	ck_assert_ptr_nonnull(view_find(v, "b@h"));
	ck_assert_ptr_null(view_find(v, "d@h"));
	/* The same answer again adds nothing. */
	ck_assert_int_eq(view_answer(v, "t/s1", abc, 3, 10), 0);
	ck_assert_int_eq(added, 3);
}
END_TEST

START_TEST(view__unknown_answer_changes_nothing)
{
	int i;

	view_answer(v, "t/s1", abc, 3, 0);
	/* Failures and empty answers, many and long after: nobody goes. */
	for (i = 1; i <= 100; i++) {
		ck_assert_int_eq(view_answer(v, "t/s1", NULL, 0,
		    (uint64_t)i * 10000), 0);
		ck_assert_int_eq(view_answer(v, "t/s1", abc, 0,
		    (uint64_t)i * 10000 + 1), 0);
	}
	ck_assert_uint_eq(view_count(v), 3);
	ck_assert_int_eq(removed, 0);
}
END_TEST

START_TEST(view__prune_needs_misses_and_time)
{
	view_answer(v, "t/s1", abc, 3, 0);
	/* Three misses, but within prune_ms: c stays. */
	view_answer(v, "t/s1", ab, 2, 100);
	view_answer(v, "t/s1", ab, 2, 200);
	view_answer(v, "t/s1", ab, 2, 300);
	ck_assert_ptr_nonnull(view_find(v, "c@h"));
	/* Past prune_ms and past the misses: c goes. */
	view_answer(v, "t/s1", ab, 2, 1500);
	ck_assert_ptr_null(view_find(v, "c@h"));
	ck_assert_int_eq(removed, 1);
	ck_assert_str_eq(last_removed, "c@h");
	ck_assert_uint_eq(view_count(v), 2);
}
END_TEST

START_TEST(view__time_alone_is_not_enough)
{
	view_answer(v, "t/s1", abc, 3, 0);
	/* Two misses an hour apart: fewer than prune_misses. */
	view_answer(v, "t/s1", ab, 2, 3600000);
	view_answer(v, "t/s1", ab, 2, 7200000);
	ck_assert_ptr_nonnull(view_find(v, "c@h"));
}
END_TEST

START_TEST(view__seen_again_resets_misses)
{
	view_answer(v, "t/s1", abc, 3, 0);
	view_answer(v, "t/s1", ab, 2, 2000);
	view_answer(v, "t/s1", ab, 2, 3000);
	view_answer(v, "t/s1", abc, 3, 4000);	/* back */
	view_answer(v, "t/s1", ab, 2, 5000);
	view_answer(v, "t/s1", ab, 2, 6000);
	ck_assert_ptr_nonnull(view_find(v, "c@h"));
	view_answer(v, "t/s1", ab, 2, 7000);
	ck_assert_ptr_null(view_find(v, "c@h"));
}
END_TEST

START_TEST(view__changed_on_first_miss_and_return)
{
	view_answer(v, "t/s1", abc, 3, 0);
	ck_assert_int_eq(changed, 0);
	/* c leaves the answer: one event, not one per miss. */
	view_answer(v, "t/s1", ab, 2, 100);
	ck_assert_int_eq(changed, 1);
	view_answer(v, "t/s1", ab, 2, 200);
	ck_assert_int_eq(changed, 1);
	/* c is back (a restart): one more; steady answers, none. */
	view_answer(v, "t/s1", abc, 3, 300);
	ck_assert_int_eq(changed, 2);
	view_answer(v, "t/s1", abc, 3, 400);
	ck_assert_int_eq(changed, 2);
	ck_assert_int_eq(removed, 0);
}
END_TEST

/* A source known gone: nodes only it saw leave at once, others stay. */
START_TEST(view__drop_source)
{
	static const char *a[] = { "a@h" }, *ab2[] = { "a@h", "b@h" };
	int round;

	for (round = 0; round < 3; round++) {
		view_answer(v, "t/gossip:a@h", a, 1, 0);
		view_answer(v, "t/gossip", ab2, 2, 0);
		view_answer(v, "t/gossip:a@hx", a, 1, 0);
		/* Exact: "t/gossip:a@h" is a prefix of the third. */
		view_drop_source(v, "t/gossip:a@h");
		ck_assert_ptr_nonnull(view_find(v, "a@h"));
		ck_assert_uint_eq(view_node_nsources(view_find(v, "a@h")), 2);
		view_drop_source(v, "t/gossip");
		ck_assert_ptr_null(view_find(v, "b@h"));
		view_drop_source(v, "t/gossip:a@hx");
		ck_assert_ptr_null(view_find(v, "a@h"));
		ck_assert_uint_eq(view_count(v), 0);
	}
	ck_assert_int_eq(removed, 6);
}
END_TEST

START_TEST(view__every_source_must_miss)
{
	const char *c_only[] = { "c@h" };
	uint64_t uint_seen;
	unsigned misses;
	struct view_node *n;
	int i;

	view_answer(v, "t/s1", abc, 3, 0);
	view_answer(v, "u/s2", c_only, 1, 0);
	n = view_find(v, "c@h");
	ck_assert_uint_eq(view_node_nsources(n), 2);
	for (i = 1; i <= 10; i++)
		view_answer(v, "t/s1", ab, 2, (uint64_t)i * 1000);
	/* s1 dropped it, s2 still vouches. */
	n = view_find(v, "c@h");
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(view_node_nsources(n), 1);
	ck_assert_str_eq(view_node_source(n, 0, &uint_seen, &misses), "u/s2");
	ck_assert_int_eq(removed, 0);
}
END_TEST

START_TEST(view__forget_source)
{
	const char *c_only[] = { "c@h" };

	view_answer(v, "t/s1", ab, 2, 0);
	view_answer(v, "u/s2", c_only, 1, 0);
	view_answer(v, "u/s3", ab, 2, 0);
	view_forget_source(v, "u/");
	ck_assert_ptr_null(view_find(v, "c@h"));
	ck_assert_uint_eq(view_node_nsources(view_find(v, "a@h")), 1);
	ck_assert_uint_eq(view_count(v), 2);
	ck_assert_int_eq(removed, 1);
}
END_TEST

START_TEST(view__max_nodes)
{
	char names[150][16];
	const char *ptrs[150];
	int i;

	for (i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d@h", i);
		ptrs[i] = names[i];
	}
	ck_assert_int_eq(view_answer(v, "t/s1", ptrs, 150, 0), CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(view_count(v), 100);
	ck_assert_ptr_nonnull(view_find(v, "n99@h"));
	ck_assert_ptr_null(view_find(v, "n100@h"));
}
END_TEST

START_TEST(view__bad_names_ignored)
{
	const char *bad[] = { "", NULL, "ok@h" };

	ck_assert_int_eq(view_answer(v, "t/s1", bad, 3, 0), 1);
	ck_assert_uint_eq(view_count(v), 1);
}
END_TEST

START_TEST(view__many_nodes)
{
	static char names[5000][16];
	static const char *ptrs[5000];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d@h", i);
		ptrs[i] = names[i];
	}
	view_free(v);
	v = view_new(&(struct view_opts){ .prune_misses = 1,
	    .max_nodes = 10000 }, on_change, NULL);
	ck_assert_int_eq(view_answer(v, "t/s1", ptrs, 5000, 0), 5000);
	for (i = 0; i < 5000; i++)
		ck_assert_ptr_nonnull(view_find(v, names[i]));
	/* Half of them go at once: one miss, prune_ms 0. */
	ck_assert_int_eq(view_answer(v, "t/s1", ptrs, 2500, 1), 0);
	ck_assert_uint_eq(view_count(v), 2500);
	ck_assert_ptr_null(view_find(v, "n4999@h"));
}
END_TEST

START_TEST(view__data_pointer)
{
	int x;
	struct view_node *n;

	view_answer(v, "t/s1", ab, 2, 0);
	n = view_find(v, "a@h");
	ck_assert_ptr_null(view_node_data(n));
	view_node_set_data(n, &x);
	ck_assert_ptr_eq(view_node_data(view_find(v, "a@h")), &x);
}
END_TEST

static Suite *
view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("view");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, view__answer_adds_nodes);
	tcase_add_test(tc, view__unknown_answer_changes_nothing);
	tcase_add_test(tc, view__prune_needs_misses_and_time);
	tcase_add_test(tc, view__time_alone_is_not_enough);
	tcase_add_test(tc, view__seen_again_resets_misses);
	tcase_add_test(tc, view__changed_on_first_miss_and_return);
	tcase_add_test(tc, view__drop_source);
	tcase_add_test(tc, view__every_source_must_miss);
	tcase_add_test(tc, view__forget_source);
	tcase_add_test(tc, view__max_nodes);
	tcase_add_test(tc, view__bad_names_ignored);
	tcase_add_test(tc, view__many_nodes);
	tcase_add_test(tc, view__data_pointer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(view_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
