/*
 * Check units for broker/cluster_core: route refcounts (announce on the
 * first subscriber, withdraw on the last), the forward dedup window,
 * last-writer-wins for retained messages and claims, the bounded resend
 * buffer (and an away peer's: the oldest dropped, seqs going on after a
 * clear), tombstones of cleared retained topics, and the table under it;
 * the bytes each store counts, its byte caps and the sliced sweep.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/cluster/cluster_core.h"
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

/*
 * An away peer's buffer: the caller drops the oldest to make room, the
 * receiver sees a gap in seqs (new to its window), and a buffer dropped
 * at the end of the grace goes on with the next seq.
 */
START_TEST(cluster_core__fwdq_away)
{
	struct cluster_fwdq q;
	struct cluster_dedup d = { 0, 0 };
	struct cluster_fwd *f;
	struct msg *m;
	uint64_t seq;
	int err = 0;

	m = msg_new(V("t"), V("p"), 1, 0);
	ck_assert_ptr_nonnull(m);
	cluster_fwdq_init(&q, 3, 10);
	ck_assert_int_eq(cluster_fwdq_drop_oldest(&q), 0);
	for (seq = 10; seq < 13; seq++)
		ck_assert_ptr_nonnull(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_int_eq(cluster_dedup_check(&d, 10), 1);
	/* Full: the oldest (10) goes, 13 comes. */
	ck_assert_int_eq(cluster_fwdq_drop_oldest(&q), 1);
	ck_assert_ptr_nonnull(f = cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_uint_eq(f->cf_seq, 13);
	ck_assert_uint_eq(q.cq_n, 3);
	/* The resend is in seq order: 11, 12, 13, each new to the peer. */
	seq = 11;
	TAILQ_FOREACH(f, &q.cq_list, cf_entry) {
		ck_assert_uint_eq(f->cf_seq, seq);
		ck_assert_int_eq(cluster_dedup_check(&d, f->cf_seq), 1);
		seq++;
	}
	/* Resent again after another flap: all seen. */
	TAILQ_FOREACH(f, &q.cq_list, cf_entry)
		ck_assert_int_eq(cluster_dedup_check(&d, f->cf_seq), 0);
	ck_assert_uint_eq(m->m_refs, 4);
	/* The grace is over: the buffer goes, the seqs go on. */
	ck_assert_uint_eq(cluster_fwdq_clear(&q), 3);
	ck_assert_uint_eq(q.cq_n, 0);
	ck_assert_uint_eq(m->m_refs, 1);
	ck_assert_ptr_nonnull(f = cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_uint_eq(f->cf_seq, 14);
	ck_assert_int_eq(cluster_dedup_check(&d, f->cf_seq), 1);
	cluster_fwdq_fini(&q);
	msg_unref(m);
}
END_TEST

START_TEST(cluster_core__tombstones)
{
	struct cluster_tombs t;
	struct ctab_ent *e;

	ck_assert_int_eq(cluster_tombs_init(&t, 2, 1000, 7), 0);
	ck_assert_ptr_null(cluster_tombs_get(&t, V("a")));
	ck_assert_int_eq(cluster_tombs_put(&t, V("a"), 5, "n1", 100), 0);
	ck_assert_ptr_nonnull(e = cluster_tombs_get(&t, V("a")));
	ck_assert_uint_eq(e->ce_num, 5);
	ck_assert_str_eq(e->ce_aux, "n1");
	ck_assert_int_eq(cluster_tombs_put(&t, V("b"), 6, "n1", 200), 0);
	/* A newer clear of the same topic replaces it and is young again. */
	ck_assert_int_eq(cluster_tombs_put(&t, V("a"), 9, "n2", 500), 0);
	ck_assert_uint_eq(t.ctt_tab.ct_count, 2);
	ck_assert_uint_eq(cluster_tombs_get(&t, V("a"))->ce_num, 9);
	ck_assert_str_eq(cluster_tombs_get(&t, V("a"))->ce_aux, "n2");
	/* Past max, the oldest made goes: b (200) before a (500). */
	ck_assert_int_eq(cluster_tombs_put(&t, V("c"), 7, "n1", 600), 0);
	ck_assert_uint_eq(t.ctt_tab.ct_count, 2);
	ck_assert_ptr_null(cluster_tombs_get(&t, V("b")));
	ck_assert_ptr_nonnull(cluster_tombs_get(&t, V("a")));
	/* A clear beats the message it cleared: last writer wins. */
	ck_assert(cluster_lww_wins(9, "n2", 8, "n1"));
	/* Expiry: a (500) at 1500, c (600) at 1600. */
	ck_assert_uint_eq(cluster_tombs_expire(&t, 1499), 0);
	ck_assert_uint_eq(cluster_tombs_expire(&t, 1500), 1);
	ck_assert_ptr_null(cluster_tombs_get(&t, V("a")));
	ck_assert_uint_eq(cluster_tombs_expire(&t, 10), 0);	/* clock back */
	/* The topic set again: its tombstone goes. */
	ck_assert_int_eq(cluster_tombs_del(&t, V("c")), 1);
	ck_assert_int_eq(cluster_tombs_del(&t, V("c")), 0);
	ck_assert_uint_eq(t.ctt_tab.ct_count, 0);
	ck_assert_int_eq(cluster_tombs_put(&t, V("d"), 1, "n1", 0), 0);
	cluster_tombs_fini(&t);
	/* max 0: none kept. */
	ck_assert_int_eq(cluster_tombs_init(&t, 0, 1000, 7), 0);
	ck_assert_int_eq(cluster_tombs_put(&t, V("a"), 5, "n1", 100),
	    CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(t.ctt_tab.ct_count, 0);
	cluster_tombs_fini(&t);
}
END_TEST

/* Bytes follow puts, aux strings and deletes back to zero. */
START_TEST(cluster_core__ctab_bytes)
{
	struct ctab t;
	struct ctab_ent *e;

	ck_assert_int_eq(ctab_init(&t, 3), 0);
	ck_assert_uint_eq(t.ct_bytes, 0);
	e = ctab_put(&t, V("abc"), NULL);
	ck_assert_uint_eq(t.ct_bytes, sizeof(*e) + 4);
	ck_assert_int_eq(ctab_set_aux(&t, e, "node@h"), 0);
	ck_assert_uint_eq(t.ct_bytes, sizeof(*e) + 4 + 7);
	ck_assert_int_eq(ctab_set_aux(&t, e, "n"), 0);
	ck_assert_uint_eq(t.ct_bytes, sizeof(*e) + 4 + 2);
	ctab_del(&t, e);
	ck_assert_uint_eq(t.ct_bytes, 0);
	ctab_fini(&t);
}
END_TEST

static int
stale_odd(const struct ctab_ent *e, void *arg)
{
	(*(size_t *)arg)++;
	return e->ce_num % 2 == 1;
}

/* Slices of buckets: one pass removes every stale entry, only those. */
START_TEST(cluster_core__ctab_sweep)
{
	struct ctab t;
	struct ctab_ent *e;
	char k[16];
	size_t i, seen = 0, gone = 0, nb;

	ck_assert_int_eq(ctab_init(&t, 5), 0);
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%zu", i);
		ck_assert_ptr_nonnull(e = ctab_put(&t, V(k), NULL));
		e->ce_num = i;
	}
	nb = t.ct_nbuckets;
	for (i = 0; i < nb; i += 3)
		gone += ctab_sweep(&t, 3, stale_odd, &seen);
	ck_assert_uint_ge(seen, 100);
	ck_assert_uint_eq(gone, 50);
	ck_assert_uint_eq(t.ct_count, 50);
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%zu", i);
		ck_assert_int_eq(ctab_get(&t, V(k)) != NULL, i % 2 == 0);
	}
	/* A slice larger than the table visits each bucket once. */
	seen = 0;
	ck_assert_uint_eq(ctab_sweep(&t, 10 * nb, stale_odd, &seen), 0);
	ck_assert_uint_eq(seen, 50);
	ctab_fini(&t);
}
END_TEST

static int
mark_seen(struct ctab_ent *e, void *arg)
{
	unsigned char *seen = arg;

	seen[e->ce_num]++;
	return 0;
}

static int
stop_at_7(struct ctab_ent *e, void *arg)
{
	return e->ce_num == 7 ? -5 : 0;
}

/* A walk in slices sees every entry once, with at least max a slice. */
START_TEST(cluster_core__ctab_foreach_slice)
{
	struct ctab t;
	struct ctab_ent *e;
	unsigned char seen[1000];
	char k[16];
	size_t i, bucket = 0, slices = 0;
	int rc;

	ck_assert_int_eq(ctab_init(&t, 9), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "s%zu", i);
		ck_assert_ptr_nonnull(e = ctab_put(&t, V(k), NULL));
		e->ce_num = i;
	}
	memset(seen, 0, sizeof(seen));
	while ((rc = ctab_foreach_slice(&t, &bucket, 64, mark_seen,
	    seen)) == 0)
		slices++;
	ck_assert_int_eq(rc, 1);
	/* 1000 entries, at least 64 a slice: at most 16 slices. */
	ck_assert_uint_le(slices + 1, 16);
	ck_assert_uint_ge(slices + 1, 2);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(seen[i], 1);
	/* Done: another call gives nothing and says so. */
	ck_assert_int_eq(ctab_foreach_slice(&t, &bucket, 64, mark_seen,
	    seen), 1);
	/* cb's error comes back as it is. */
	bucket = 0;
	while ((rc = ctab_foreach_slice(&t, &bucket, 64, stop_at_7,
	    NULL)) == 0)
		;
	ck_assert_int_eq(rc, -5);
	ctab_fini(&t);
}
END_TEST

/* The resend buffer's byte cap: full by bytes before by count. */
START_TEST(cluster_core__fwdq_bytes)
{
	struct cluster_fwdq q;
	struct msg *m;
	int err = 0;

	m = msg_new(V("t"), V("0123456789"), 1, 0);	/* 11 bytes */
	cluster_fwdq_init(&q, 100, 1);
	cluster_fwdq_set_max_bytes(&q, 2 * CLUSTER_FWD_COST(m));
	ck_assert_ptr_nonnull(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_int_eq(cluster_fwdq_full(&q, m), 0);
	ck_assert_ptr_nonnull(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_uint_eq(q.cq_bytes, 2 * CLUSTER_FWD_COST(m));
	ck_assert_int_eq(cluster_fwdq_full(&q, m), 1);
	ck_assert_ptr_null(cluster_fwdq_push(&q, m, 1, &err));
	ck_assert_int_eq(err, CAIRN_ERR_LIMIT);
	ck_assert_int_eq(cluster_fwdq_ack(&q, 1), 0);
	ck_assert_uint_eq(q.cq_bytes, CLUSTER_FWD_COST(m));
	ck_assert_int_eq(cluster_fwdq_drop_oldest(&q), 1);
	ck_assert_uint_eq(q.cq_bytes, 0);
	ck_assert_ptr_nonnull(cluster_fwdq_push(&q, m, 1, &err));
	cluster_fwdq_fini(&q);
	ck_assert_uint_eq(q.cq_bytes, 0);
	msg_unref(m);
}
END_TEST

/* Tombstones of long topics: the byte cap drops the oldest. */
/*
 * Credit: nothing goes before the link's CREDIT; then at most the
 * credit in flight, in seq order, each ack giving one back; a new link
 * sends everything unacked again from the oldest; a forward bigger
 * than the byte credit goes alone.
 */
START_TEST(cluster_core__fwdq_credit)
{
	struct cluster_fwdq q;
	struct cluster_fwd *f, *fs[6];
	struct msg *m, *big;
	size_t i;
	int err;

	cluster_fwdq_init(&q, 100, 10);
	m = msg_new(V("t"), V("p"), 1, 0);
	big = msg_new(V("t"), V("0123456789012345678901234567890123456789"),
	    1, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(fs[i] = cluster_fwdq_push(&q, m, 1,
		    &err));
	/* No link, then a link without credit: nothing to send. */
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	cluster_fwdq_link(&q, 1);
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	cluster_fwdq_credit(&q, 2, 1u << 20);
	for (i = 0; i < 2; i++) {
		ck_assert_ptr_eq(f = cluster_fwdq_sendable(&q), fs[i]);
		cluster_fwdq_sent(&q, f);
	}
	ck_assert_uint_eq(q.cq_infl, 2);
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	/* An ack gives one credit back: the next in seq order. */
	ck_assert_int_eq(cluster_fwdq_ack(&q, 10), 0);
	ck_assert_uint_eq(q.cq_infl, 1);
	ck_assert_ptr_eq(f = cluster_fwdq_sendable(&q), fs[2]);
	cluster_fwdq_sent(&q, f);
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	/* A new link: 11 and 12 go again first, nothing in flight. */
	cluster_fwdq_link(&q, 2);
	ck_assert_uint_eq(q.cq_infl, 0);
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	cluster_fwdq_credit(&q, 10, 1u << 20);
	for (i = 1; i < 5; i++) {
		ck_assert_ptr_eq(f = cluster_fwdq_sendable(&q), fs[i]);
		cluster_fwdq_sent(&q, f);
	}
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	ck_assert_uint_eq(q.cq_infl, 4);
	/* Dropping the oldest in flight gives its credit back too. */
	ck_assert_int_eq(cluster_fwdq_drop_oldest(&q), 1);
	ck_assert_uint_eq(q.cq_infl, 3);
	/* Byte credit: the big one waits while others are in flight... */
	cluster_fwdq_credit(&q, 10, CLUSTER_FWD_COST(m) * 3 + 1);
	ck_assert_ptr_nonnull(fs[5] = cluster_fwdq_push(&q, big, 1, &err));
	ck_assert_ptr_null(cluster_fwdq_sendable(&q));
	while (cluster_fwdq_drop_oldest(&q) && q.cq_n > 1)
		;
	/* ...and goes alone. */
	ck_assert_uint_eq(q.cq_infl, 0);
	ck_assert_ptr_eq(cluster_fwdq_sendable(&q), fs[5]);
	cluster_fwdq_sent(&q, fs[5]);
	ck_assert_uint_eq(q.cq_infl_bytes, CLUSTER_FWD_COST(big));
	ck_assert_int_eq(cluster_fwdq_ack(&q, fs[5]->cf_seq), 0);
	ck_assert_uint_eq(q.cq_infl, 0);
	ck_assert_uint_eq(q.cq_infl_bytes, 0);
	ck_assert_uint_eq(q.cq_n, 0);
	cluster_fwdq_fini(&q);
	msg_unref(m);
	msg_unref(big);
}
END_TEST

START_TEST(cluster_core__tombs_bytes)
{
	struct cluster_tombs t;
	char topic[1000];
	size_t one;
	int i;

	memset(topic, 'x', sizeof(topic));
	ck_assert_int_eq(cluster_tombs_init(&t, 100, 1000, 9), 0);
	topic[0] = '0';
	ck_assert_int_eq(cluster_tombs_put(&t, bytes_view_of(topic, 1000), 1,
	    "o", 0), 0);
	one = cluster_tombs_bytes(&t);
	ck_assert_uint_gt(one, 1000);
	cluster_tombs_set_max_bytes(&t, 3 * one);
	for (i = 1; i < 10; i++) {
		topic[0] = (char)('0' + i);
		ck_assert_int_eq(cluster_tombs_put(&t, bytes_view_of(topic,
		    1000), (uint64_t)i + 1, "o", (uint64_t)i), 0);
		ck_assert_uint_le(cluster_tombs_bytes(&t), 3 * one);
	}
	ck_assert_uint_eq(t.ctt_tab.ct_count, 3);
	topic[0] = '9';
	ck_assert_ptr_nonnull(cluster_tombs_get(&t, bytes_view_of(topic,
	    1000)));
	topic[0] = '6';
	ck_assert_ptr_null(cluster_tombs_get(&t, bytes_view_of(topic, 1000)));
	cluster_tombs_fini(&t);
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
	tcase_add_test(tc, cluster_core__fwdq_away);
	tcase_add_test(tc, cluster_core__tombstones);
	tcase_add_test(tc, cluster_core__ctab_bytes);
	tcase_add_test(tc, cluster_core__ctab_sweep);
	tcase_add_test(tc, cluster_core__ctab_foreach_slice);
	tcase_add_test(tc, cluster_core__fwdq_bytes);
	tcase_add_test(tc, cluster_core__tombs_bytes);
	tcase_add_test(tc, cluster_core__fwdq_credit);
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
