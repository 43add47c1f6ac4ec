/*
 * Unit tests for agent/ring: the same owner on every member order, the
 * documented hash, the leader rule, and how many keys move when one
 * member joins (measured over 100,000 keys, within a tolerance band).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ring.h"
#include "common/err.h"

#define NKEYS	100000

static const char *five[] = { "b@h", "d@h", "a@h", "e@h", "c@h" };

START_TEST(ring__empty)
{
	struct ring *r = ring_new();

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(ring_whois(r, "k", 1));
	ck_assert_ptr_null(ring_leader(r));
	ck_assert_uint_eq(ring_size(r), 0);
	ck_assert_int_eq(ring_set(r, NULL, 0), 0);
	ck_assert_ptr_null(ring_whois(r, "k", 1));
	ring_free(r);
	ring_free(NULL);
}
END_TEST

START_TEST(ring__hash_is_the_documented_one)
{
	/* FNV-1a 64 of "" is its offset basis; then splitmix64's mix. */
	uint64_t h = 0xcbf29ce484222325ULL;

	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	ck_assert_uint_eq(ring_hash("", 0), h);
	/* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c. */
	h = 0xaf63dc4c8601ec8cULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	ck_assert_uint_eq(ring_hash("a", 1), h);
}
END_TEST

/* Every permutation of five members gives every key the same owner. */
START_TEST(ring__same_owner_on_every_member_order)
{
	const char *perm[5], *want[200];
	struct ring *ref = ring_new(), *r = ring_new();
	char key[32];
	int idx[5] = { 0, 1, 2, 3, 4 }, c[5] = { 0 }, i, k, j, t, count = 0;

	ck_assert_int_eq(ring_set(ref, five, 5), 0);
	for (k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "key-%d", k);
		want[k] = ring_whois(ref, key, strlen(key));
		ck_assert_ptr_nonnull(want[k]);
	}
	/* Heap's algorithm over the 120 orders. */
	for (;;) {
		for (i = 0; i < 5; i++)
			perm[i] = five[idx[i]];
		ck_assert_int_eq(ring_set(r, perm, 5), 0);
		ck_assert_str_eq(ring_leader(r), "a@h");
		for (k = 0; k < 200; k++) {
			snprintf(key, sizeof(key), "key-%d", k);
			ck_assert_str_eq(ring_whois(r, key, strlen(key)),
			    want[k]);
		}
		count++;
		for (j = 1; j < 5 && c[j] >= j; j++)
			c[j] = 0;
		if (j == 5)
			break;
		t = (j % 2 == 0) ? 0 : c[j];
		i = idx[t];
		idx[t] = idx[j];
		idx[j] = i;
		c[j]++;
	}
	ck_assert_int_eq(count, 120);
	ring_free(ref);
	ring_free(r);
}
END_TEST

START_TEST(ring__duplicates_and_empty_names_dropped)
{
	static const char *dup[] = { "b@h", "", "a@h", "b@h", NULL, "a@h" };
	static const char *two[] = { "a@h", "b@h" };
	struct ring *r = ring_new(), *s = ring_new();
	char key[32];
	int k;

	ck_assert_int_eq(ring_set(r, dup, 6), 0);
	ck_assert_int_eq(ring_set(s, two, 2), 0);
	ck_assert_uint_eq(ring_size(r), 2);
	ck_assert_str_eq(ring_member(r, 0), "a@h");
	ck_assert_str_eq(ring_member(r, 1), "b@h");
	ck_assert_ptr_null(ring_member(r, 2));
	for (k = 0; k < 100; k++) {
		snprintf(key, sizeof(key), "%d", k);
		ck_assert_str_eq(ring_whois(r, key, strlen(key)),
		    ring_whois(s, key, strlen(key)));
	}
	ring_free(r);
	ring_free(s);
}
END_TEST

/*
 * Adding one member to N moves about 1/(N+1) of the keys, all to the
 * new member; each member's share stays near 1/N.  The bands are wide
 * enough for 128 points per member (a share varies by about 10 %) and
 * narrow enough to catch a ring that rehashes everything (N/(N+1)
 * moved) or that ignores points (shares of 0 or 1).
 */
START_TEST(ring__one_more_member_moves_about_one_nth)
{
	const char *names[11];
	char buf[11][16], key[32];
	const char **before;
	struct ring *r10 = ring_new(), *r11 = ring_new();
	size_t moved = 0, share[11] = { 0 }, i, k;
	const char *o;
	double frac;

	for (i = 0; i < 11; i++) {
		snprintf(buf[i], sizeof(buf[i]), "node%zu@host", i);
		names[i] = buf[i];
	}
	ck_assert_int_eq(ring_set(r10, names, 10), 0);
	ck_assert_int_eq(ring_set(r11, names, 11), 0);
	before = calloc(NKEYS, sizeof(*before));
	ck_assert_ptr_nonnull(before);
	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "session/%zu", k);
		before[k] = ring_whois(r10, key, strlen(key));
		for (i = 0; i < 10; i++)
			if (strcmp(before[k], names[i]) == 0)
				share[i]++;
	}
	for (i = 0; i < 10; i++) {
		frac = (double)share[i] / NKEYS;
		ck_assert_msg(frac > 0.1 * 0.7 && frac < 0.1 * 1.3,
		    "%s owns %.3f of the keys with 10 members", names[i], frac);
	}
	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "session/%zu", k);
		o = ring_whois(r11, key, strlen(key));
		if (strcmp(o, before[k]) != 0) {
			moved++;
			/* A key only ever moves to the newcomer. */
			ck_assert_str_eq(o, names[10]);
		}
	}
	frac = (double)moved / NKEYS;
	/* 1/11 = 0.0909. */
	ck_assert_msg(frac > 0.0909 * 0.7 && frac < 0.0909 * 1.3,
	    "adding an 11th member moved %.4f of the keys", frac);
	free(before);
	ring_free(r10);
	ring_free(r11);
}
END_TEST

START_TEST(ring__leader_is_the_first_name)
{
	static const char *a[] = { "b2@h", "b10@h", "c@h" };
	static const char *b[] = { "c@h", "b2@h" };
	struct ring *r = ring_new();

	ck_assert_int_eq(ring_set(r, a, 3), 0);
	ck_assert_str_eq(ring_leader(r), "b10@h");	/* byte order */
	ck_assert_int_eq(ring_set(r, b, 2), 0);
	ck_assert_str_eq(ring_leader(r), "b2@h");
	ring_free(r);
}
END_TEST

static Suite *
ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ring__empty);
	tcase_add_test(tc, ring__hash_is_the_documented_one);
	tcase_add_test(tc, ring__same_owner_on_every_member_order);
	tcase_add_test(tc, ring__duplicates_and_empty_names_dropped);
	tcase_add_test(tc, ring__one_more_member_moves_about_one_nth);
	tcase_add_test(tc, ring__leader_is_the_first_name);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(ring_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
