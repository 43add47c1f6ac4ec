/*
 * Check units for broker/cluster/replica_core: placement (the same
 * holder whatever the order of the members, never the node itself, a
 * member's departure moves only its own replicas), and the store a
 * holder keeps: frames build a replica, seqs trim it, another owner's
 * frames are ignored, a new REPL_SESSION starts it anew, the byte cap
 * drops and counts, and every byte counted is given back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/cluster/replica_core.h"
#include "common/err.h"

#define MAXF	(64 * 1024)

static struct bytes_view
V(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

START_TEST(replica_core__placement)
{
	static const char *const a[] = { "b1@h", "b2@h", "b3@h", "b4@h" };
	static const char *const b[] = { "b4@h", "b2@h", "b1@h", "b3@h" };
	static const char *const c[] = { "b1@h", "b2@h", "b4@h" };
	struct ring *r1, *r2, *r3;
	char id[32];
	const char *h1, *h2, *h3;
	int i, moved = 0, count[4] = { 0 };

	ck_assert_ptr_nonnull(r1 = ring_new());
	ck_assert_ptr_nonnull(r2 = ring_new());
	ck_assert_ptr_nonnull(r3 = ring_new());
	/* Nobody else: no holder. */
	ck_assert_int_eq(replica_ring_set(r1, "b1@h", a, 1), 0);
	ck_assert_ptr_null(replica_holder(r1, "x", 1));
	/* b1's view of all four, in two orders; b3 gone in r3. */
	ck_assert_int_eq(replica_ring_set(r1, "b1@h", a, 4), 0);
	ck_assert_int_eq(replica_ring_set(r2, "b1@h", b, 4), 0);
	ck_assert_int_eq(replica_ring_set(r3, "b1@h", c, 3), 0);
	ck_assert_uint_eq(ring_size(r1), 3);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "client-%d", i);
		h1 = replica_holder(r1, id, strlen(id));
		h2 = replica_holder(r2, id, strlen(id));
		h3 = replica_holder(r3, id, strlen(id));
		ck_assert_ptr_nonnull(h1);
		ck_assert_str_eq(h1, h2);
		ck_assert_str_ne(h1, "b1@h");
		ck_assert_str_ne(h3, "b3@h");
		/* Only b3's replicas move when b3 goes. */
		if (strcmp(h1, h3) != 0) {
			ck_assert_str_eq(h1, "b3@h");
			moved++;
		}
		count[h1[1] - '1']++;
	}
	ck_assert_int_eq(count[0], 0);
	/* Each of three holders gets a share (about 1000 each). */
	for (i = 1; i < 4; i++)
		ck_assert(count[i] > 700 && count[i] < 1300);
	ck_assert_int_eq(moved, count[2]);
	ring_free(r1);
	ring_free(r2);
	ring_free(r3);
}
END_TEST

/* Decodes the frame just encoded in w and applies it. */
static int
apply(struct rstore *st, const char *owner, const struct link_msg *m)
{
	struct bytes_w w;
	struct link_msg d;
	size_t used;
	int rc;

	bytes_w_init(&w, MAXF * 2);
	ck_assert_int_eq(link_encode(&w, m, MAXF), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	rc = rstore_apply(st, owner, &d, 1000);
	bytes_w_fini(&w);
	return rc;
}

static int
session(struct rstore *st, const char *owner, const char *id,
    const char *filter, uint8_t qos)
{
	struct link_msg m;
	struct bytes_w l;
	int rc;

	bytes_w_init(&l, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_SESSION;
	m.u.repl.id = V(id);
	if (filter != NULL) {
		ck_assert_int_eq(link_put_session_sub(&l, V(filter), qos), 0);
		m.u.repl.n = 1;
	}
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	rc = apply(st, owner, &m);
	bytes_w_fini(&l);
	return rc;
}

static int
msgs(struct rstore *st, const char *owner, const char *id, uint64_t seq,
    uint32_t n, uint8_t qos, size_t plen)
{
	struct link_msg m;
	struct link_repl_msg d;
	struct bytes_w l;
	char *p;
	uint32_t i;
	int rc;

	ck_assert_ptr_nonnull(p = calloc(1, plen + 1));
	memset(p, 'x', plen);
	bytes_w_init(&l, MAXF);
	memset(&d, 0, sizeof(d));
	for (i = 0; i < n; i++) {
		d.seq = seq + i;
		d.qos = qos;
		d.topic = V("a/b");
		d.payload = bytes_view_of(p, plen);
		ck_assert_int_eq(link_put_repl_msg(&l, &d), 0);
	}
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_MSGS;
	m.u.repl.id = V(id);
	m.u.repl.n = n;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	rc = apply(st, owner, &m);
	bytes_w_fini(&l);
	free(p);
	return rc;
}

static int
state(struct rstore *st, const char *owner, const char *id, uint64_t seq,
    uint8_t s, uint16_t pid)
{
	struct link_msg m;
	struct bytes_w l;
	int rc;

	bytes_w_init(&l, MAXF);
	ck_assert_int_eq(link_put_repl_state(&l, seq, s, pid), 0);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_STATE;
	m.u.repl.id = V(id);
	m.u.repl.n = 1;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	rc = apply(st, owner, &m);
	bytes_w_fini(&l);
	return rc;
}

static int
sub(struct rstore *st, const char *owner, const char *id, const char *f,
    uint8_t qos)
{
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_SUB;
	m.u.repl.id = V(id);
	m.u.repl.filter = V(f);
	m.u.repl.qos = qos;
	return apply(st, owner, &m);
}

static int
drop(struct rstore *st, const char *owner, const char *id)
{
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_DROP;
	m.u.repl.id = V(id);
	return apply(st, owner, &m);
}

START_TEST(replica_core__store)
{
	struct rstore st;
	struct rsess *s;
	struct rmsg *m;
	struct rsub *u;
	struct link_msg fm;
	struct link_repl_msg d5;
	struct bytes_w l;
	uint64_t seqs[8];
	size_t n;

	ck_assert_int_eq(rstore_init(&st, 7, 0), 0);
	ck_assert_int_eq(session(&st, "a@h", "c1", "t/#", 1), 0);
	ck_assert_ptr_nonnull(s = rstore_get(&st, "c1", 2));
	ck_assert_str_eq(rsess_id(s), "c1");
	ck_assert_str_eq(rsess_owner(s), "a@h");
	ck_assert_uint_eq(s->r_nsubs, 1);
	ck_assert_int_eq(sub(&st, "a@h", "c1", "u", 2), 0);
	ck_assert_int_eq(sub(&st, "a@h", "c1", "t/#", 2), 0);
	ck_assert_uint_eq(s->r_nsubs, 2);
	ck_assert_uint_eq(TAILQ_FIRST(&s->r_subs)->rs_qos, 2);
	ck_assert_int_eq(sub(&st, "a@h", "c1", "u", LINK_REPL_UNSUB), 0);
	ck_assert_uint_eq(s->r_nsubs, 1);
	/* MQTT 5.0 options and a subscription identifier are kept. */
	memset(&fm, 0, sizeof(fm));
	fm.type = LINK_REPL_SUB;
	fm.u.repl.id = V("c1");
	fm.u.repl.filter = V("n/+");
	fm.u.repl.qos = 1;
	fm.u.repl.opts = 1 | 2 | 1 << 2;
	fm.u.repl.sub_id = 77;
	ck_assert_int_eq(apply(&st, "a@h", &fm), 0);
	u = TAILQ_LAST(&s->r_subs, rsubq);
	ck_assert(u->rs_qos == 1 && u->rs_no_local == 1 && u->rs_rap == 1 &&
	    u->rs_rh == 1 && u->rs_sub_id == 77);
	ck_assert_int_eq(sub(&st, "a@h", "c1", "n/+", LINK_REPL_UNSUB), 0);
	ck_assert_uint_eq(s->r_nsubs, 1);
	/* A 5.0 message: its publisher, properties and expiry left. */
	bytes_w_init(&l, MAXF);
	memset(&d5, 0, sizeof(d5));
	d5.seq = 5;
	d5.qos = 1;
	d5.topic = V("a/b");
	d5.payload = V("x");
	d5.v5.from = V("pub-1");
	d5.v5.expiry_ms = 5000;
	ck_assert_int_eq(link_put_repl_msg(&l, &d5), 0);
	memset(&fm, 0, sizeof(fm));
	fm.type = LINK_REPL_MSGS;
	fm.u.repl.id = V("c1");
	fm.u.repl.n = 1;
	fm.u.repl.items = bytes_view_of(l.buf, l.len);
	ck_assert_int_eq(apply(&st, "a@h", &fm), 0);
	m = TAILQ_LAST(&s->r_msgs, rmsgq);
	ck_assert(bytes_view_eq_str(msg_from(m->rm_msg), "pub-1"));
	/* Applied at 1000 ms: 4000 left at 2000. */
	ck_assert_uint_eq(msg_expiry_left_ms(m->rm_msg, 2000), 4000);
	ck_assert_int_eq(state(&st, "a@h", "c1", 5, LINK_REPL_DONE, 0), 0);
	ck_assert_uint_eq(s->r_nmsgs, 0);
	bytes_w_fini(&l);
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 10, 6, 1, 5), 0);
	ck_assert_uint_eq(s->r_nmsgs, 6);
	/* A repeat (seq not above the last) is stale. */
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 15, 1, 1, 5), 0);
	ck_assert_uint_eq(s->r_nmsgs, 6);
	ck_assert_uint_eq(rstore_msgs(&st), 6);
	/* Sent, acked out of order, a QoS 2 released. */
	ck_assert_int_eq(state(&st, "a@h", "c1", 10, LINK_REPL_PUBLISHED, 1),
	    0);
	ck_assert_int_eq(state(&st, "a@h", "c1", 12, LINK_REPL_DONE, 0), 0);
	ck_assert_int_eq(state(&st, "a@h", "c1", 10, LINK_REPL_DONE, 0), 0);
	ck_assert_int_eq(state(&st, "a@h", "c1", 99, LINK_REPL_DONE, 0), 0);
	ck_assert_uint_eq(s->r_nmsgs, 4);
	n = 0;
	TAILQ_FOREACH(m, &s->r_msgs, rm_entry)
		seqs[n++] = m->rm_seq;
	ck_assert(seqs[0] == 11 && seqs[1] == 13 && seqs[2] == 14 &&
	    seqs[3] == 15);
	/* Released needs QoS 2: a QoS 1 delivery stays as it was. */
	ck_assert_int_eq(state(&st, "a@h", "c1", 11, LINK_REPL_RELEASED, 4),
	    0);
	ck_assert_uint_eq(TAILQ_FIRST(&s->r_msgs)->rm_state,
	    LINK_REPL_QUEUED);
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 16, 1, 2, 1), 0);
	ck_assert_int_eq(state(&st, "a@h", "c1", 16, LINK_REPL_RELEASED, 4),
	    0);
	m = TAILQ_LAST(&s->r_msgs, rmsgq);
	ck_assert(m->rm_state == LINK_REPL_RELEASED && m->rm_pid == 4 &&
	    m->rm_qos == 2);
	/* Another node's frames for c1 change nothing. */
	n = (size_t)st.rs_stale;
	ck_assert_int_eq(msgs(&st, "z@h", "c1", 100, 1, 1, 5), 0);
	ck_assert_int_eq(drop(&st, "z@h", "c1"), 0);
	ck_assert_int_eq(sub(&st, "z@h", "c1", "v", 1), 0);
	ck_assert_uint_eq(st.rs_stale, n + 3);
	ck_assert_uint_eq(s->r_nmsgs, 5);
	/* The session moved to z: its REPL_SESSION starts it anew. */
	ck_assert_int_eq(session(&st, "z@h", "c1", NULL, 0), 0);
	ck_assert_ptr_eq(rstore_get(&st, "c1", 2), s);
	ck_assert_str_eq(rsess_owner(s), "z@h");
	ck_assert_uint_eq(s->r_nmsgs, 0);
	ck_assert_uint_eq(s->r_nsubs, 0);
	/* A second replica, then both go. */
	ck_assert_int_eq(session(&st, "a@h", "c2", "x", 0), 0);
	ck_assert_uint_eq(rstore_count(&st), 2);
	ck_assert_int_eq(drop(&st, "a@h", "c1"), 0);
	ck_assert_uint_eq(rstore_count(&st), 2);
	ck_assert_int_eq(drop(&st, "z@h", "c1"), 0);
	ck_assert_ptr_null(rstore_get(&st, "c1", 2));
	ck_assert_int_eq(msgs(&st, "a@h", "c2", 1, 3, 0, 100), 0);
	rstore_del(&st, rstore_get(&st, "c2", 2));
	ck_assert_uint_eq(rstore_count(&st), 0);
	ck_assert_uint_eq(st.rs_bytes, 0);
	rstore_fini(&st);
}
END_TEST

START_TEST(replica_core__byte_cap)
{
	struct rstore st;
	struct rsess *s;
	size_t before;
	int i, rc = 0;

	ck_assert_int_eq(rstore_init(&st, 7, 8192), 0);
	ck_assert_int_eq(session(&st, "a@h", "c1", "t", 1), 0);
	ck_assert_ptr_nonnull(s = rstore_get(&st, "c1", 2));
	/* 20 messages of 1000 bytes cannot all fit in 8 KiB. */
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 1, 20, 1, 1000),
	    CAIRN_ERR_LIMIT);
	ck_assert(s->r_nmsgs > 0 && s->r_nmsgs < 20);
	ck_assert_uint_eq(s->r_dropped, 20 - s->r_nmsgs);
	ck_assert_uint_eq(st.rs_dropped, s->r_dropped);
	ck_assert(st.rs_bytes <= 8192);
	ck_assert_uint_eq(st.rs_bytes, s->r_bytes);
	/* No room for another replica either; counted. */
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 21, 1, 1, 7000),
	    CAIRN_ERR_LIMIT);
	/* Small ones fill what is left, up to the cap and no further. */
	before = st.rs_bytes;
	for (i = 0; i < 1000 && (rc = msgs(&st, "a@h", "c1", 100 + i, 1, 1,
	    1)) == 0; i++)
		;
	ck_assert_int_eq(rc, CAIRN_ERR_LIMIT);
	ck_assert(st.rs_bytes >= before && st.rs_bytes <= 8192);
	ck_assert_int_eq(session(&st, "a@h", "c-with-a-long-name-to-pass-"
	    "the-cap-of-the-store-for-sure", NULL, 0), CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(st.rs_refused, 1);
	ck_assert_uint_eq(rstore_count(&st), 1);
	/* Acks give room back. */
	ck_assert_int_eq(state(&st, "a@h", "c1", 1, LINK_REPL_DONE, 0), 0);
	ck_assert_int_eq(msgs(&st, "a@h", "c1", 1000, 1, 1, 900), 0);
	rstore_fini(&st);
}
END_TEST

/* MQTT 5.0: the session's level and expiry, each delivery's identifiers. */
START_TEST(replica_core__mqtt5_state)
{
	static const uint32_t ids[] = { 9, 11 };
	struct link_repl_msg d;
	struct link_msg m;
	struct bytes_w l, il;
	struct rstore st;
	struct rsess *s;
	struct rmsg *rm;
	int i;

	ck_assert_int_eq(rstore_init(&st, 7, 0), 0);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_SESSION;
	m.u.repl.id = V("c5");
	m.u.repl.items = V("");
	m.u.repl.sess_flags = LINK_SESS_EXPIRY | LINK_SESS_V5;
	m.u.repl.sess_expiry = 77;
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_ptr_nonnull(s = rstore_get(&st, "c5", 2));
	ck_assert_uint_eq(s->r_flags, LINK_SESS_EXPIRY | LINK_SESS_V5);
	ck_assert_uint_eq(s->r_expiry, 77);
	ck_assert_uint_eq(s->r_offline_at, 0);		/* online */
	/* Offline for 300 ms when sent (apply()'s clock is 1000). */
	m.u.repl.sess_flags |= LINK_SESS_OFFLINE;
	m.u.repl.sess_offline_ms = 300;
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_ptr_nonnull(s = rstore_get(&st, "c5", 2));
	ck_assert_uint_eq(s->r_flags, LINK_SESS_EXPIRY | LINK_SESS_V5);
	ck_assert_uint_eq(s->r_offline_at, 700);
	/* REPL_STATE: back online, then gone again just now. */
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_STATE;
	m.u.repl.id = V("c5");
	m.u.repl.items = V("");
	m.u.repl.has_online = 1;
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_uint_eq(s->r_offline_at, 0);
	m.u.repl.sess_flags = LINK_SESS_OFFLINE;
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_uint_eq(s->r_offline_at, 1000);
	/* Without the trailer, as it was. */
	m.u.repl.has_online = 0;
	m.u.repl.sess_flags = 0;
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_uint_eq(s->r_offline_at, 1000);
	/* Three deliveries: none, two, one identifier. */
	bytes_w_init(&l, MAXF);
	bytes_w_init(&il, MAXF);
	memset(&d, 0, sizeof(d));
	d.qos = 1;
	d.topic = V("a/b");
	for (i = 0; i < 3; i++) {
		d.seq = (uint64_t)i + 1;
		ck_assert_int_eq(link_put_repl_msg(&l, &d), 0);
		ck_assert_int_eq(link_put_repl_ids(&il, (uint8_t)(i == 0 ? 0 :
		    i == 1 ? 2 : 1), ids), 0);
	}
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_MSGS;
	m.u.repl.id = V("c5");
	m.u.repl.n = 3;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	m.u.repl.ids = bytes_view_of(il.buf, il.len);
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_uint_eq(s->r_nmsgs, 3);
	rm = TAILQ_FIRST(&s->r_msgs);
	ck_assert_uint_eq(rm->rm_nids, 0);
	rm = TAILQ_NEXT(rm, rm_entry);
	ck_assert(rm->rm_nids == 2 && rm->rm_ids[0] == 9 &&
	    rm->rm_ids[1] == 11);
	rm = TAILQ_NEXT(rm, rm_entry);
	ck_assert(rm->rm_nids == 1 && rm->rm_ids[0] == 9);
	/* A frame without the trailer (a node before it): none. */
	bytes_w_reset(&l);
	d.seq = 4;
	ck_assert_int_eq(link_put_repl_msg(&l, &d), 0);
	m.u.repl.n = 1;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	m.u.repl.ids = V("");
	ck_assert_int_eq(apply(&st, "a@h", &m), 0);
	ck_assert_uint_eq(TAILQ_LAST(&s->r_msgs, rmsgq)->rm_nids, 0);
	bytes_w_fini(&l);
	bytes_w_fini(&il);
	rstore_fini(&st);
}
END_TEST

static Suite *
replica_core_suite(void)
{
	Suite *s = suite_create("replica_core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, replica_core__placement);
	tcase_add_test(tc, replica_core__store);
	tcase_add_test(tc, replica_core__byte_cap);
	tcase_add_test(tc, replica_core__mqtt5_state);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(replica_core_suite());
	int nf;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
