/*
 * Check units for broker/router: delivery to matching sessions, one
 * copy per session at the highest QoS of overlapping filters (capped by
 * the published QoS), $share groups (round robin, one delivery per
 * group, online members first), unsubscribe, and the count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/msg.h"
#include "broker/router.h"
#include "broker/session.h"
#include "common/err.h"

#define NSESS	4

static struct session_limits lim = { 10, 100, 1u << 20, 0 };
static struct router *r;
static struct session *ss[NSESS];
static int online_token;

struct got {
	struct session	*s[64];
	uint8_t		 qos[64];
	size_t		 n;
};

static void
on_deliver(struct session *s, struct msg *m, uint8_t qos, void *arg)
{
	struct got *g = arg;

	ck_assert_uint_lt(g->n, 64);
	g->s[g->n] = s;
	g->qos[g->n] = qos;
	g->n++;
}

static struct bytes_view
v(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static size_t
route(const char *topic, uint8_t qos, struct got *g)
{
	struct msg *m = msg_new(v(topic), v("p"), qos, 0);
	size_t n;

	memset(g, 0, sizeof(*g));
	n = router_route(r, m, on_deliver, g);
	msg_unref(m);
	ck_assert_uint_eq(n, g->n);
	return n;
}

static void
setup(void)
{
	char id[8];
	int i;

	r = router_new(NULL);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < NSESS; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		ss[i] = session_new(id, strlen(id), &lim);
		ss[i]->s_client = &online_token;
	}
}

static void
teardown(void)
{
	int i;

	for (i = 0; i < NSESS; i++) {
		router_unsubscribe_all(r, ss[i]);
		session_free(ss[i]);
	}
	ck_assert_uint_eq(router_count(r), 0);
	router_free(r);
}

START_TEST(router__plain_match)
{
	struct got g;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("a/b"), 1, NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[1], v("a/+"), 2, NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[2], v("#"), 0, NULL), 0);
	ck_assert_uint_eq(route("a/b", 2, &g), 3);
	ck_assert_uint_eq(route("a/c", 2, &g), 2);
	ck_assert_uint_eq(route("x", 1, &g), 1);
	ck_assert_ptr_eq(g.s[0], ss[2]);
	ck_assert_uint_eq(g.qos[0], 0);
	/* '$' topics are not matched by leading wildcards. */
	ck_assert_uint_eq(route("$SYS/x", 0, &g), 0);
	ck_assert_uint_eq(router_count(r), 3);
}
END_TEST

START_TEST(router__overlap_once_max_qos)
{
	struct got g;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("ov/#"), 0, NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("ov/b"), 1, NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("+/b"), 2, NULL), 0);
	ck_assert_uint_eq(route("ov/b", 2, &g), 1);
	ck_assert_uint_eq(g.qos[0], 2);
	/* Capped by the published QoS. */
	ck_assert_uint_eq(route("ov/b", 1, &g), 1);
	ck_assert_uint_eq(g.qos[0], 1);
	ck_assert_uint_eq(route("ov/c", 2, &g), 1);
	ck_assert_uint_eq(g.qos[0], 0);
	/* Twice in a row: the epoch resets the choice. */
	ck_assert_uint_eq(route("ov/b", 2, &g), 1);
	ck_assert_uint_eq(g.qos[0], 2);
}
END_TEST

START_TEST(router__resubscribe_replaces_qos)
{
	struct got g;
	int was_new = -1;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("a"), 2, &was_new), 0);
	ck_assert_int_eq(was_new, 1);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("a"), 0, &was_new), 0);
	ck_assert_int_eq(was_new, 0);
	ck_assert_uint_eq(router_count(r), 1);
	ck_assert_uint_eq(route("a", 2, &g), 1);
	ck_assert_uint_eq(g.qos[0], 0);
}
END_TEST

START_TEST(router__unsubscribe)
{
	struct got g;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("a"), 1, NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("b"), 1, NULL), 0);
	ck_assert_int_eq(router_unsubscribe(r, ss[0], v("a")), 0);
	ck_assert_int_eq(router_unsubscribe(r, ss[0], v("a")),
	    CAIRN_ERR_NOENT);
	ck_assert_uint_eq(route("a", 1, &g), 0);
	ck_assert_uint_eq(route("b", 1, &g), 1);
	ck_assert_uint_eq(ss[0]->s_nsubs, 1);
	router_unsubscribe_all(r, ss[0]);
	ck_assert_uint_eq(route("b", 1, &g), 0);
	ck_assert_uint_eq(ss[0]->s_nsubs, 0);
}
END_TEST

START_TEST(router__shared_round_robin)
{
	struct got g;
	size_t counts[NSESS] = { 0 };
	int i, k;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(router_subscribe(r, ss[i],
		    v("$share/g/sh/+"), 1, NULL), 0);
	/* Another group and a plain subscriber each get every message. */
	ck_assert_int_eq(router_subscribe(r, ss[3], v("$share/h/sh/t"), 2,
	    NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[3], v("sh/t"), 0, NULL), 0);
	for (i = 0; i < 30; i++) {
		ck_assert_uint_eq(route("sh/t", 2, &g), 3);
		for (k = 0; k < 3; k++) {
			if (g.s[k] == ss[3])
				continue;
			ck_assert_uint_eq(g.qos[k], 1);
			counts[g.s[k] == ss[0] ? 0 : g.s[k] == ss[1] ? 1 : 2]++;
		}
	}
	ck_assert_uint_eq(counts[0], 10);
	ck_assert_uint_eq(counts[1], 10);
	ck_assert_uint_eq(counts[2], 10);
	ck_assert_uint_eq(router_count(r), 5);
}
END_TEST

START_TEST(router__shared_prefers_online)
{
	struct got g;
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(router_subscribe(r, ss[i], v("$share/g/t"), 1,
		    NULL), 0);
	ss[0]->s_client = NULL;
	ss[2]->s_client = NULL;
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(route("t", 1, &g), 1);
		ck_assert_ptr_eq(g.s[0], ss[1]);
	}
	/* Nobody online: still one delivery (a persistent session queues). */
	ss[1]->s_client = NULL;
	ck_assert_uint_eq(route("t", 1, &g), 1);
	/* Leaving the group moves its share to the others. */
	ss[0]->s_client = ss[1]->s_client = ss[2]->s_client = &online_token;
	ck_assert_int_eq(router_unsubscribe(r, ss[1], v("$share/g/t")), 0);
	for (i = 0; i < 6; i++) {
		ck_assert_uint_eq(route("t", 1, &g), 1);
		ck_assert_ptr_ne(g.s[0], ss[1]);
	}
	router_unsubscribe_all(r, ss[0]);
	router_unsubscribe_all(r, ss[2]);
	ck_assert_uint_eq(route("t", 1, &g), 0);
}
END_TEST

START_TEST(router__shared_bad_filters)
{
	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g"), 1, NULL),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share//t"), 1, NULL),
	    CAIRN_ERR_PROTO);
	ck_assert_uint_eq(ss[0]->s_nsubs, 0);
	ck_assert_uint_eq(router_count(r), 0);
}
END_TEST

START_TEST(router__shared_and_plain_same_session)
{
	struct got g;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g/t"), 1,
	    NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[0], v("t"), 0, NULL), 0);
	ck_assert_uint_eq(route("t", 1, &g), 2);
	ck_assert_uint_eq(ss[0]->s_nsubs, 2);
}
END_TEST

static Suite *
router_suite(void)
{
	Suite *su = suite_create("router");
	TCase *tc;

	tc = tcase_create("route");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, router__plain_match);
	tcase_add_test(tc, router__overlap_once_max_qos);
	tcase_add_test(tc, router__resubscribe_replaces_qos);
	tcase_add_test(tc, router__unsubscribe);
	suite_add_tcase(su, tc);

	tc = tcase_create("shared");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, router__shared_round_robin);
	tcase_add_test(tc, router__shared_prefers_online);
	tcase_add_test(tc, router__shared_bad_filters);
	tcase_add_test(tc, router__shared_and_plain_same_session);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(router_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
