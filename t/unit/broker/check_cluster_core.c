/*
 * Check units for broker/cluster_core: route refcounts (announce on the
 * first subscriber, withdraw on the last), the forward dedup window,
 * last-writer-wins for retained messages and claims, the bounded resend
 * buffer, and the table under it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/cluster_core.h"
#include "common/err.h"

static struct bytes_view
V(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

START_TEST(cluster_core__route_refcounts)
{
	struct ctab t;

	ck_assert_int_eq(ctab_init(&t, 1), 0);
	ck_assert_int_eq(cluster_route_count(&t, V("a/#"), 1), 1);
	ck_assert_int_eq(cluster_route_count(&t, V("a/#"), 1), 0);
	ck_assert_int_eq(cluster_route_count(&t, V("b"), 1), 1);
	ck_assert_int_eq(cluster_route_count(&t, V("a/#"), -1), 0);
	ck_assert_int_eq(cluster_route_count(&t, V("a/#"), -1), -1);
	ck_assert_int_eq(cluster_route_count(&t, V("a/#"), -1), 0);
	ck_assert_uint_eq(t.ct_count, 1);
	ck_assert_int_eq(cluster_route_count(&t, V("b"), -1), -1);
	ck_assert_uint_eq(t.ct_count, 0);
	ctab_fini(&t);
}
END_TEST

START_TEST(cluster_core__table_grows)
{
	struct ctab t;
	char k[32];
	int i, made;

	ck_assert_int_eq(ctab_init(&t, 99), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "topic/%d", i);
		ck_assert_ptr_nonnull(ctab_put(&t, V(k), &made));
		ck_assert_int_eq(made, 1);
	}
	ck_assert_uint_eq(t.ct_count, 5000);
	for (i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "topic/%d", i);
		ctab_del(&t, ctab_get(&t, V(k)));
	}
	ck_assert_ptr_null(ctab_get(&t, V("topic/0")));
	ck_assert_ptr_nonnull(ctab_get(&t, V("topic/1")));
	ck_assert_uint_eq(t.ct_count, 2500);
	ctab_fini(&t);
}
END_TEST

START_TEST(cluster_core__dedup_window)
{
	struct cluster_dedup d;

	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cluster_dedup_check(&d, 0), 0);
	ck_assert_int_eq(cluster_dedup_check(&d, 1), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 1), 0);
	ck_assert_int_eq(cluster_dedup_check(&d, 3), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 2), 1);	/* a gap filled */
	ck_assert_int_eq(cluster_dedup_check(&d, 2), 0);
	ck_assert_int_eq(cluster_dedup_check(&d, 3), 0);
	/* A resend after a flap: all seen. */
	ck_assert_int_eq(cluster_dedup_check(&d, 1), 0);
	ck_assert_int_eq(cluster_dedup_check(&d, 67), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 3), 0);	/* seen, window edge */
	ck_assert_int_eq(cluster_dedup_check(&d, 2), 0);	/* past it */
	ck_assert_int_eq(cluster_dedup_check(&d, 1000), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 999), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 999), 0);
	ck_assert_int_eq(cluster_dedup_check(&d, 936), 1);
	ck_assert_int_eq(cluster_dedup_check(&d, 935), 0);
}
END_TEST

START_TEST(cluster_core__lww)
{
	ck_assert_int_eq(cluster_lww_wins(2, "a@h", 1, "b@h"), 1);
	ck_assert_int_eq(cluster_lww_wins(1, "b@h", 2, "a@h"), 0);
	/* Same stamp: the greater origin, on every node alike. */
	ck_assert_int_eq(cluster_lww_wins(5, "b@h", 5, "a@h"), 1);
	ck_assert_int_eq(cluster_lww_wins(5, "a@h", 5, "b@h"), 0);
	/* The same write is not newer than itself. */
	ck_assert_int_eq(cluster_lww_wins(5, "a@h", 5, "a@h"), 0);
}
END_TEST

START_TEST(cluster_core__fwdq)
{
	struct cluster_fwdq q;
	struct cluster_fwd *f;
	struct msg *m;
	int err = 0;

	m = msg_new(V("t"), V("p"), 1, 0);
	ck_assert_ptr_nonnull(m);
	cluster_fwdq_init(&q, 2, 100);
	f = cluster_fwdq_push(&q, m, 1, &err);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->cf_seq, 100);
	ck_assert_ptr_nonnull(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_ptr_null(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_int_eq(err, CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(m->m_refs, 3);
	/* A forward's shared groups are copied, and freed with it. */
	ck_assert_int_eq(cluster_fwd_set_groups(f,
	    bytes_view_of("\0\12$share/g/t", 12), 1), 0);
	ck_assert_uint_eq(f->cf_ngroups, 1);
	ck_assert_uint_eq(f->cf_glen, 12);
	ck_assert_mem_eq(f->cf_groups, "\0\12$share/g/t", 12);
	ck_assert_int_eq(cluster_fwd_set_groups(TAILQ_NEXT(f, cf_entry),
	    bytes_view_of("\0\12$share/h/t", 12), 1), 0);
	ck_assert_int_eq(cluster_fwdq_ack(&q, 101), 0);
	ck_assert_int_eq(cluster_fwdq_ack(&q, 101), CAIRN_ERR_NOENT);
	ck_assert_uint_eq(q.cq_n, 1);
	f = cluster_fwdq_push(&q, m, 2, &err);
	ck_assert_uint_eq(f->cf_seq, 102);
	cluster_fwdq_fini(&q);
	ck_assert_uint_eq(m->m_refs, 1);
	msg_unref(m);
}
END_TEST

static Suite *
cluster_core_suite(void)
{
	Suite *s = suite_create("cluster_core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, cluster_core__route_refcounts);
	tcase_add_test(tc, cluster_core__table_grows);
	tcase_add_test(tc, cluster_core__dedup_window);
	tcase_add_test(tc, cluster_core__lww);
	tcase_add_test(tc, cluster_core__fwdq);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cluster_core_suite());
	int nf;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
