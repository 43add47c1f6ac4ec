/*
 * Unit tests for common/fifo: growth keeps the order of a ring that has
 * wrapped (every head position), the first size, and what it refuses.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/fifo.h"

START_TEST(fifo__grow_keeps_order_from_every_head)
{
	size_t head0, n, i, cap, head;
	uint32_t *a;
	void *base;

	for (head0 = 0; head0 < 8; head0++) {
		for (n = 0; n <= 8; n++) {
			cap = 8;
			head = head0;
			ck_assert_ptr_nonnull(a = calloc(cap, sizeof(*a)));
			for (i = 0; i < n; i++)
				a[(head + i) % cap] = 100 + (uint32_t)i;
			base = a;
			ck_assert_int_eq(fifo_grow(&base, &cap, &head, n,
			    sizeof(*a), 4), 0);
			a = base;
			ck_assert_uint_eq(cap, 16);
			ck_assert_uint_eq(head, 0);
			for (i = 0; i < n; i++)
				ck_assert_uint_eq(a[i], 100 + i);
			free(a);
		}
	}
}
END_TEST

START_TEST(fifo__first_size_and_refusals)
{
	size_t cap = 0, head = 0;
	void *base = NULL;

	ck_assert_int_eq(fifo_grow(&base, &cap, &head, 0, 8, 5), 0);
	ck_assert_ptr_nonnull(base);
	ck_assert_uint_eq(cap, 5);
	/* More elements than the ring holds, a zero first size or
	 * element size: the caller's mistake, the ring untouched. */
	ck_assert_int_eq(fifo_grow(&base, &cap, &head, 6, 8, 5),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(fifo_grow(&base, &cap, &head, 0, 0, 5),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(cap, 5);
	free(base);
	/* Too large to double. */
	cap = SIZE_MAX / 2 + 1;
	base = NULL;
	ck_assert_int_eq(fifo_grow(&base, &cap, &head, 0, 1, 1),
	    CAIRN_ERR_INVAL);
	ck_assert_ptr_null(base);
	ck_assert_uint_eq(cap, SIZE_MAX / 2 + 1);
}
END_TEST

static Suite *
fifo_suite(void)
{
	Suite *s = suite_create("fifo");
	TCase *tc = tcase_create("fifo");

	tcase_add_test(tc, fifo__grow_keeps_order_from_every_head);
	tcase_add_test(tc, fifo__first_size_and_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(fifo_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
