/*
 * Unit tests for common/backoff: doubling from min, the cap, equal
 * jitter bounds, reset.
 */
#include <check.h>
#include <stdint.h>

#include "common/backoff.h"

START_TEST(backoff__doubles_to_the_cap)
{
	static const uint64_t d[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	struct backoff lo, hi;
	size_t i;

	backoff_init(&lo, 100, 1000);
	backoff_init(&hi, 100, 1000);
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		/* rnd 0 waits d/2; rnd d - d/2 waits the whole d. */
		ck_assert_uint_eq(backoff_next(&lo, 0), d[i] / 2);
		ck_assert_uint_eq(backoff_next(&hi, (uint32_t)(d[i] - d[i] / 2)),
		    d[i]);
	}
}
END_TEST

START_TEST(backoff__jitter_within_half_and_whole)
{
	struct backoff b;
	uint32_t r;
	uint64_t w;
	unsigned attempt;

	for (attempt = 0; attempt < 12; attempt++) {
		for (r = 0; r < 5000; r += 7) {
			uint64_t d = 250;
			unsigned i;

			for (i = 0; i < attempt && d < 30000; i++)
				d *= 2;
			if (d > 30000)
				d = 30000;
			backoff_init(&b, 250, 30000);
			b.attempt = attempt;
			w = backoff_next(&b, r * 2654435761u);
			ck_assert_uint_ge(w, d / 2);
			ck_assert_uint_le(w, d);
			ck_assert_uint_eq(b.attempt, attempt + 1);
		}
	}
}
END_TEST

START_TEST(backoff__reset_and_bad_bounds)
{
	struct backoff b;

	backoff_init(&b, 0, 0);		/* min 1 ms, max = min */
	ck_assert_uint_le(backoff_next(&b, 12345), 1);
	backoff_init(&b, 500, 100);	/* max below min: max = min */
	ck_assert_uint_le(backoff_next(&b, 99), 500);
	ck_assert_uint_le(backoff_next(&b, 99), 500);
	backoff_init(&b, 10, 10000);
	backoff_next(&b, 0);
	backoff_next(&b, 0);
	backoff_next(&b, 0);
	ck_assert_uint_eq(b.attempt, 3);
	backoff_reset(&b);
	ck_assert_uint_eq(b.attempt, 0);
	ck_assert_uint_le(backoff_next(&b, 0xffffffffu), 10);
	/* Many attempts never overflow past the cap. */
	b.attempt = 63;
	ck_assert_uint_le(backoff_next(&b, 0xffffffffu), 10000);
	ck_assert_uint_le(backoff_next(&b, 0xffffffffu), 10000);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, backoff__doubles_to_the_cap);
	tcase_add_test(tc, backoff__jitter_within_half_and_whole);
	tcase_add_test(tc, backoff__reset_and_bad_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(backoff_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
