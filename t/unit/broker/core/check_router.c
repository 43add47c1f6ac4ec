/*
 * Check units for broker/router: delivery to matching sessions, one
 * copy per session at the highest QoS of overlapping filters (capped by
 * the published QoS), $share groups (round robin, one delivery per
 * group, online members first), unsubscribe, and the count; the
 * cluster's side: routes of nodes, shared groups picked once per cluster
 * among local sessions and nodes, and a forwarded message serving only
 * the groups its sender named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/core/msg.h"
#include "broker/core/router.h"
#include "broker/core/session.h"
#include "common/err.h"

#define NSESS	4

static struct session_limits lim = {
	.sl_max_inflight = 10,
	.sl_max_queued_messages = 100,
	.sl_max_queued_bytes = 1u << 20,
};
static struct router *r;
static struct session *ss[NSESS];
static int online_token;

struct got {
	struct session		*s[64];
	uint8_t			 qos[64];
	struct session_deliv	 d[64];
	size_t			 n;
};

static void
on_deliver(struct session *s, struct msg *m, const struct session_deliv *d,
    void *arg)
{
	struct got *g = arg;

	ck_assert_uint_lt(g->n, 64);
	ck_assert_uint_le(d->sd_nids, SESSION_MAX_SUB_IDS);
	g->s[g->n] = s;
	g->qos[g->n] = d->sd_qos;
	g->d[g->n] = *d;
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

/* What the forward hook was given, one entry per call. */
struct fwds {
	struct router_remote	*rr[64];
	char			 groups[64][128];	/* joined by ' ' */
	size_t			 ngroups[64];
	size_t			 n;
};

static void
on_forward(struct router_remote *rr, struct msg *m,
    const struct bytes_view *groups, size_t ngroups, void *arg)
{
	struct fwds *f = arg;
	size_t i, off = 0;

	ck_assert_uint_lt(f->n, 64);
	f->rr[f->n] = rr;
	f->ngroups[f->n] = ngroups;
	f->groups[f->n][0] = '\0';
	for (i = 0; i < ngroups; i++)
		off += (size_t)snprintf(f->groups[f->n] + off,
		    sizeof(f->groups[0]) - off, "%s%.*s", i ? " " : "",
		    (int)groups[i].len, (const char *)groups[i].p);
	f->n++;
}

static struct router_remote rrs[2];
static struct fwds fw;

/* Routes one message from a client here; g and fw get what happened. */
static size_t
route_c(const char *topic, struct got *g)
{
	memset(&fw, 0, sizeof(fw));
	return route(topic, 1, g);
}

/* A message forwarded by a peer that names groups (space separated). */
static size_t
route_fwd(const char *topic, const char *groups, struct got *g)
{
	struct msg *m = msg_new(v(topic), v("p"), 1, 0);
	struct bytes_view gv[4];
	const char *p = groups, *e;
	size_t n = 0, got;

	while (p != NULL && *p != '\0' && n < 4) {
		e = strchr(p, ' ');
		gv[n++] = bytes_view_of(p, e != NULL ? (size_t)(e - p) :
		    strlen(p));
		p = e != NULL ? e + 1 : NULL;
	}
	memset(g, 0, sizeof(*g));
	memset(&fw, 0, sizeof(fw));
	got = router_route_local(r, m, n > 0 ? gv : NULL, n, on_deliver, g);
	msg_unref(m);
	ck_assert_uint_eq(got, g->n);
	ck_assert_uint_eq(fw.n, 0);	/* never forwarded again */
	return got;
}

/* Routes a message from client `from` with the RETAIN flag given. */
static size_t
route_from(const char *topic, const char *from, uint8_t qos, uint8_t retain,
    struct got *g)
{
	struct msg_args a;
	struct msg *m;
	size_t n;

	memset(&a, 0, sizeof(a));
	a.ma_topic = v(topic);
	a.ma_payload = v("p");
	a.ma_from = v(from);
	a.ma_qos = qos;
	a.ma_retain = retain;
	m = msg_new_ex(&a);
	ck_assert_ptr_nonnull(m);
	memset(g, 0, sizeof(*g));
	n = router_route(r, m, on_deliver, g);
	msg_unref(m);
	ck_assert_uint_eq(n, g->n);
	return n;
}

/* The delivery of session s in g, or NULL. */
static const struct session_deliv *
got_of(const struct got *g, const struct session *s)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->s[i] == s)
			return &g->d[i];
	return NULL;
}

static struct sub_opts
so(uint8_t qos, uint8_t nl, uint8_t rap, uint32_t id)
{
	struct sub_opts o;

	memset(&o, 0, sizeof(o));
	o.qos = qos;
	o.no_local = nl;
	o.rap = rap;
	o.sub_id = id;
	return o;
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

static void
setup_cluster(void)
{
	setup();
	router_remote_init(&rrs[0]);
	router_remote_init(&rrs[1]);
	router_set_hooks(r, on_forward, NULL, &fw);
}

START_TEST(router__remote_plain_once_per_node)
{
	struct got g;

	ck_assert_int_eq(router_remote_add(r, v("a/+"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("a/b"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("#"), &rrs[1]), 0);
	ck_assert_uint_eq(route_c("a/b", &g), 0);
	ck_assert_uint_eq(fw.n, 2);
	ck_assert_uint_eq(fw.ngroups[0] + fw.ngroups[1], 0);
	/* What 5.0's "no matching subscribers" reads: 2 nodes, then 1. */
	ck_assert_uint_eq(router_last_forwards(r), 2);
	ck_assert_uint_eq(route_c("x", &g), 0);
	ck_assert_uint_eq(router_last_forwards(r), 1);
	ck_assert_uint_eq(route_c("$x", &g), 0);
	ck_assert_uint_eq(router_last_forwards(r), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/"), &rrs[0]),
	    CAIRN_ERR_PROTO);
}
END_TEST

/*
 * Two sessions here and two nodes in one group: each message goes to
 * exactly one of the four, in turn, and a node picked is told the group.
 */
START_TEST(router__share_once_per_cluster)
{
	struct got g;
	size_t i, local = 0, remote[2] = { 0, 0 };

	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g/s/+"), 1,
	    NULL), 0);
	ck_assert_int_eq(router_subscribe(r, ss[1], v("$share/g/s/+"), 1,
	    NULL), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/s/+"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/s/+"), &rrs[1]), 0);
	/* Announced twice: still one member. */
	ck_assert_int_eq(router_remote_add(r, v("$share/g/s/+"), &rrs[1]), 0);
	for (i = 0; i < 40; i++) {
		route_c("s/x", &g);
		ck_assert_uint_eq(g.n + fw.n, 1);
		local += g.n;
		if (fw.n == 1) {
			ck_assert_uint_eq(fw.ngroups[0], 1);
			ck_assert_str_eq(fw.groups[0], "$share/g/s/+");
			remote[fw.rr[0] == &rrs[0] ? 0 : 1]++;
		}
	}
	ck_assert_uint_eq(local, 20);
	ck_assert_uint_eq(remote[0], 10);
	ck_assert_uint_eq(remote[1], 10);
}
END_TEST

/* A group with members on nodes only; another group beside it. */
START_TEST(router__share_nodes_only_and_two_groups)
{
	struct got g;
	size_t i, to0 = 0;

	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[1]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/h/t"), &rrs[0]), 0);
	for (i = 0; i < 10; i++) {
		route_c("t", &g);
		ck_assert_uint_eq(g.n, 0);
		/* h always picks node 0; g alternates: 1 or 2 forwards. */
		if (fw.n == 1) {
			ck_assert_ptr_eq(fw.rr[0], &rrs[0]);
			ck_assert_uint_eq(fw.ngroups[0], 2);
			to0++;
		} else {
			ck_assert_uint_eq(fw.n, 2);
			ck_assert_uint_eq(fw.ngroups[0] + fw.ngroups[1], 2);
		}
	}
	ck_assert_uint_eq(to0, 5);
}
END_TEST

/* A node with a plain route and a group member: one forward each time. */
START_TEST(router__share_and_plain_one_forward)
{
	struct got g;
	size_t i, picked = 0;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g/t"), 1, NULL),
	    0);
	ck_assert_int_eq(router_remote_add(r, v("t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	for (i = 0; i < 6; i++) {
		route_c("t", &g);
		ck_assert_uint_eq(fw.n, 1);
		ck_assert_uint_eq(g.n + fw.ngroups[0], 1);
		picked += fw.ngroups[0];
	}
	ck_assert_uint_eq(picked, 3);
}
END_TEST

/* Withdrawing F leaves the node's $share/G/F, and the other way round. */
START_TEST(router__share_withdraw_plain_keeps_group)
{
	struct got g;

	ck_assert_int_eq(router_remote_add(r, v("t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_del(r, v("t"), &rrs[0]), 0);
	route_c("t", &g);
	ck_assert_uint_eq(fw.n, 1);
	ck_assert_str_eq(fw.groups[0], "$share/g/t");
	ck_assert_int_eq(router_remote_add(r, v("t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_del(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_del(r, v("$share/g/t"), &rrs[0]),
	    CAIRN_ERR_NOENT);
	route_c("t", &g);
	ck_assert_uint_eq(fw.n, 1);
	ck_assert_uint_eq(fw.ngroups[0], 0);
	ck_assert_int_eq(router_remote_del(r, v("t"), &rrs[0]), 0);
	route_c("t", &g);
	ck_assert_uint_eq(fw.n, 0);
}
END_TEST

/* A node gone (its routes dropped): the group falls back to sessions. */
START_TEST(router__share_node_gone_falls_back)
{
	struct got g;
	size_t i;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g/t"), 1, NULL),
	    0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[1]), 0);
	route_c("t", &g);
	route_c("t", &g);	/* the round robin now points at node 1 */
	ck_assert_int_eq(router_remote_del(r, v("$share/g/t"), &rrs[1]), 0);
	ck_assert_int_eq(router_remote_del(r, v("$share/g/t"), &rrs[0]), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(route_c("t", &g), 1);
		ck_assert_ptr_eq(g.s[0], ss[0]);
		ck_assert_uint_eq(fw.n, 0);
	}
	/* The last session leaves a group with nodes: it stays for them. */
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_unsubscribe(r, ss[0], v("$share/g/t")), 0);
	route_c("t", &g);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_uint_eq(fw.n, 1);
	ck_assert_int_eq(router_remote_del(r, v("$share/g/t"), &rrs[0]), 0);
	route_c("t", &g);
	ck_assert_uint_eq(g.n + fw.n, 0);
}
END_TEST

/*
 * A forwarded message serves the groups named, at a session here (never
 * a node again), plain subscribers always, other groups never.
 */
START_TEST(router__share_forwarded_serves_named_groups)
{
	struct got g;
	size_t i, n0 = 0;

	ck_assert_int_eq(router_subscribe(r, ss[0], v("$share/g/t"), 1, NULL),
	    0);
	ck_assert_int_eq(router_subscribe(r, ss[1], v("$share/g/t"), 1, NULL),
	    0);
	ck_assert_int_eq(router_subscribe(r, ss[2], v("$share/h/t"), 1, NULL),
	    0);
	ck_assert_int_eq(router_subscribe(r, ss[3], v("t"), 1, NULL), 0);
	ck_assert_int_eq(router_remote_add(r, v("$share/g/t"), &rrs[0]), 0);
	ck_assert_int_eq(router_remote_add(r, v("t"), &rrs[1]), 0);
	for (i = 0; i < 6; i++) {
		ck_assert_uint_eq(route_fwd("t", "$share/g/t", &g), 2);
		ck_assert(g.s[0] == ss[0] || g.s[0] == ss[1] ||
		    g.s[1] == ss[0] || g.s[1] == ss[1]);
		n0 += g.s[0] == ss[0] || g.s[1] == ss[0];
	}
	ck_assert_uint_eq(n0, 3);
	ck_assert_uint_eq(route_fwd("t", "", &g), 1);
	ck_assert_ptr_eq(g.s[0], ss[3]);
	ck_assert_uint_eq(route_fwd("t", "$share/g/t $share/h/t", &g), 3);
	ck_assert_uint_eq(route_fwd("t", "$share/x/t", &g), 1);
	/* A group with nodes only here: nothing to serve it with. */
	ck_assert_int_eq(router_remote_add(r, v("$share/z/t"), &rrs[0]), 0);
	ck_assert_uint_eq(route_fwd("t", "$share/z/t", &g), 1);
}
END_TEST

/* No local: the publisher's own session is skipped, others are not. */
START_TEST(router__no_local)
{
	struct sub_opts o = so(1, 1, 0, 0);
	struct got g;

	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("a/b"), &o, NULL),
	    0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[1], v("a/b"), &o, NULL),
	    0);
	ck_assert_uint_eq(route_from("a/b", "s0", 1, 0, &g), 1);
	ck_assert_ptr_eq(g.s[0], ss[1]);
	/* Another publisher: both get it. */
	ck_assert_uint_eq(route_from("a/b", "s9", 1, 0, &g), 2);
	/* No publisher id (a 3.1.1 path that sets none): both. */
	ck_assert_uint_eq(route_from("a/b", "", 1, 0, &g), 2);
	/* An overlapping filter of s0 without no local still matches. */
	ck_assert_int_eq(router_subscribe(r, ss[0], v("a/#"), 0, NULL), 0);
	ck_assert_uint_eq(route_from("a/b", "s0", 1, 0, &g), 2);
	ck_assert_uint_eq(got_of(&g, ss[0])->sd_qos, 0);
	ck_assert_uint_eq(got_of(&g, ss[1])->sd_qos, 1);
}
END_TEST

/* Retain as published keeps RETAIN; without it a live copy has 0. */
START_TEST(router__retain_as_published)
{
	struct sub_opts rap = so(1, 0, 1, 0), plain = so(1, 0, 0, 0);
	struct got g;

	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("t"), &rap, NULL),
	    0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[1], v("t"), &plain,
	    NULL), 0);
	ck_assert_uint_eq(route_from("t", "x", 1, 1, &g), 2);
	ck_assert_uint_eq(got_of(&g, ss[0])->sd_retain, 1);
	ck_assert_uint_eq(got_of(&g, ss[1])->sd_retain, 0);
	ck_assert_uint_eq(route_from("t", "x", 1, 0, &g), 2);
	ck_assert_uint_eq(got_of(&g, ss[0])->sd_retain, 0);
	/* A plain 3.1.1 re-subscribe replaces the options. */
	ck_assert_int_eq(router_subscribe(r, ss[0], v("t"), 1, NULL), 0);
	ck_assert_uint_eq(route_from("t", "x", 1, 1, &g), 2);
	ck_assert_uint_eq(got_of(&g, ss[0])->sd_retain, 0);
}
END_TEST

/* Overlapping subscriptions with ids: one delivery with every id. */
START_TEST(router__sub_ids_collected)
{
	struct sub_opts a = so(0, 0, 0, 7), b = so(2, 0, 0, 9),
	    c = so(1, 0, 0, 0);
	const struct session_deliv *d;
	struct got g;

	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("x/+"), &a, NULL),
	    0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("x/#"), &b, NULL),
	    0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("x/y"), &c, NULL),
	    0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[1], v("x/y"), &a, NULL),
	    0);
	ck_assert_uint_eq(route_from("x/y", "p", 2, 0, &g), 2);
	d = got_of(&g, ss[0]);
	ck_assert_uint_eq(d->sd_qos, 2);
	ck_assert_uint_eq(d->sd_nids, 2);
	ck_assert(d->sd_ids[0] + d->sd_ids[1] == 16 &&
	    (d->sd_ids[0] == 7 || d->sd_ids[0] == 9));
	d = got_of(&g, ss[1]);
	ck_assert_uint_eq(d->sd_nids, 1);
	ck_assert_uint_eq(d->sd_ids[0], 7);
	/* Identifiers are per subscription: dropping one drops its id. */
	ck_assert_int_eq(router_unsubscribe(r, ss[0], v("x/#")), 0);
	ck_assert_uint_eq(route_from("x/y", "p", 2, 0, &g), 2);
	d = got_of(&g, ss[0]);
	ck_assert_uint_eq(d->sd_nids, 1);
	ck_assert_uint_eq(d->sd_ids[0], 7);
	ck_assert_uint_eq(d->sd_qos, 1);
	/* A topic only the id-less filter matches carries none. */
	ck_assert_int_eq(router_unsubscribe(r, ss[0], v("x/+")), 0);
	ck_assert_uint_eq(route_from("x/y", "p", 2, 0, &g), 2);
	ck_assert_uint_eq(got_of(&g, ss[0])->sd_nids, 0);
}
END_TEST

/* More matching ids than a delivery holds: bounded, no duplicates. */
START_TEST(router__sub_ids_bounded)
{
	char f[32];
	struct sub_opts o;
	const struct session_deliv *d;
	struct got g;
	size_t i, j;

	/* 12 filters matching "a/b/c": a/b/c, +/b/c, a/+/c, ... and #. */
	static const char *const fs[] = { "a/b/c", "+/b/c", "a/+/c",
	    "a/b/+", "+/+/c", "+/b/+", "a/+/+", "+/+/+", "#", "a/#",
	    "a/b/#", "+/#" };
	for (i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		o = so(1, 0, 0, (uint32_t)(100 + i));
		snprintf(f, sizeof(f), "%s", fs[i]);
		ck_assert_int_eq(router_subscribe_opts(r, ss[0], v(f), &o,
		    NULL), 0);
	}
	ck_assert_uint_eq(route_from("a/b/c", "p", 1, 0, &g), 1);
	d = got_of(&g, ss[0]);
	ck_assert_uint_eq(d->sd_nids, SESSION_MAX_SUB_IDS);
	for (i = 0; i < d->sd_nids; i++) {
		ck_assert(d->sd_ids[i] >= 100 && d->sd_ids[i] < 112);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(d->sd_ids[i], d->sd_ids[j]);
	}
}
END_TEST

/* Shared: no local refused; members' own qos, rap and id per pick. */
START_TEST(router__shared_v5_rules)
{
	struct sub_opts nl = so(1, 1, 0, 0), m0 = so(1, 0, 1, 42),
	    m1 = so(2, 0, 0, 0), bad = so(3, 0, 0, 0);
	const struct session_deliv *d;
	struct got g;
	int picked0 = 0, picked1 = 0, i;

	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("$share/g/t"),
	    &nl, NULL), CAIRN_ERR_PROTO);
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("t"), &bad,
	    NULL), CAIRN_ERR_INVAL);
	bad = so(1, 0, 0, SUB_ID_MAX + 1);
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("t"), &bad,
	    NULL), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(router_count(r), 0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("$share/g/t"),
	    &m0, NULL), 0);
	ck_assert_int_eq(router_subscribe_opts(r, ss[1], v("$share/g/t"),
	    &m1, NULL), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(route_from("t", "s0", 2, 1, &g), 1);
		d = &g.d[0];
		if (g.s[0] == ss[0]) {
			picked0++;
			ck_assert_uint_eq(d->sd_qos, 1);
			ck_assert_uint_eq(d->sd_retain, 1);
			ck_assert_uint_eq(d->sd_nids, 1);
			ck_assert_uint_eq(d->sd_ids[0], 42);
		} else {
			picked1++;
			ck_assert_uint_eq(d->sd_qos, 2);
			ck_assert_uint_eq(d->sd_retain, 0);
			ck_assert_uint_eq(d->sd_nids, 0);
		}
	}
	ck_assert_int_eq(picked0, 2);
	ck_assert_int_eq(picked1, 2);
}
END_TEST

/* Retain handling and $share decide whether retained messages go. */
START_TEST(router__retain_handling)
{
	struct sub_opts o = so(1, 0, 0, 0);

	o.rh = 0;
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 1), 1);
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 0), 1);
	o.rh = 1;
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 1), 1);
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 0), 0);
	o.rh = 2;
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 1), 0);
	ck_assert_int_eq(router_sub_gets_retained(v("a/#"), &o, 0), 0);
	o.rh = 0;
	ck_assert_int_eq(router_sub_gets_retained(v("$share/g/a/#"), &o, 1),
	    0);
	/* A 3.1.1 subscription (all options 0) gets them, as before. */
	ck_assert_int_eq(router_sub_gets_retained(v("a"), &o, 0), 1);
}
END_TEST

/* The session keeps the options of each subscription. */
START_TEST(router__session_keeps_opts)
{
	struct sub_opts o = so(2, 1, 1, 5), got;
	struct session_sub *sub;

	o.rh = 2;
	ck_assert_int_eq(router_subscribe_opts(r, ss[0], v("k"), &o, NULL),
	    0);
	sub = session_sub_find(ss[0], v("k"));
	ck_assert_ptr_nonnull(sub);
	session_sub_opts(sub, &got);
	ck_assert_uint_eq(got.qos, 2);
	ck_assert_uint_eq(got.no_local, 1);
	ck_assert_uint_eq(got.rap, 1);
	ck_assert_uint_eq(got.rh, 2);
	ck_assert_uint_eq(got.sub_id, 5);
	ck_assert_uint_eq(sub->ss_qos, 2);
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

	tc = tcase_create("mqtt5");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, router__no_local);
	tcase_add_test(tc, router__retain_as_published);
	tcase_add_test(tc, router__sub_ids_collected);
	tcase_add_test(tc, router__sub_ids_bounded);
	tcase_add_test(tc, router__shared_v5_rules);
	tcase_add_test(tc, router__retain_handling);
	tcase_add_test(tc, router__session_keeps_opts);
	suite_add_tcase(su, tc);

	tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, setup_cluster, teardown);
	tcase_add_test(tc, router__remote_plain_once_per_node);
	tcase_add_test(tc, router__share_once_per_cluster);
	tcase_add_test(tc, router__share_nodes_only_and_two_groups);
	tcase_add_test(tc, router__share_and_plain_one_forward);
	tcase_add_test(tc, router__share_withdraw_plain_keeps_group);
	tcase_add_test(tc, router__share_node_gone_falls_back);
	tcase_add_test(tc, router__share_forwarded_serves_named_groups);
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
