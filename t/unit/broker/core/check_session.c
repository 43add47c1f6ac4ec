/*
 * Check units for broker/session: the outgoing queue and its limits,
 * the in-flight window, packet ids, the order of redelivery, both QoS 2
 * directions, subscriptions and the client id table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/mqtt/mqtt_codec.h"
#include "broker/core/msg.h"
#include "broker/core/session.h"
#include "common/err.h"

static struct session_limits lim = {
	.sl_max_inflight = 3,
	.sl_max_queued_messages = 5,
	.sl_max_queued_bytes = 1000,
	.sl_queue_qos0_offline = 0,
};
static struct session *s;
static int online_token;

static struct msg *
mk(const char *topic, const char *payload, uint8_t qos)
{
	struct msg *m;

	m = msg_new(bytes_view_of(topic, strlen(topic)),
	    bytes_view_of(payload, strlen(payload)), qos, 0);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Queues one delivery and drops the test's reference. */
static int
put(const char *payload, uint8_t qos)
{
	struct msg *m = mk("t", payload, qos);
	int rc;

	rc = session_enqueue(s, m, qos, 0);
	msg_unref(m);
	return rc;
}

static void
setup(void)
{
	s = session_new("c1", 2, &lim);
	ck_assert_ptr_nonnull(s);
	s->s_client = &online_token;
}

static void
teardown(void)
{
	session_free(s);
}

START_TEST(session__new_copies_id)
{
	ck_assert_str_eq(s->s_id, "c1");
	ck_assert_uint_eq(s->s_id_len, 2);
	ck_assert_ptr_null(session_next(s));
	ck_assert_ptr_null(session_inflight_first(s));
	session_free(NULL);
}
END_TEST

START_TEST(session__qos0_passes_the_window)
{
	struct session_out *o;

	ck_assert_int_eq(put("a", 0), 0);
	o = session_next(s);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->so_qos, 0);
	ck_assert_uint_eq(o->so_id, 0);
	ck_assert_uint_eq(s->s_ninflight, 0);
	ck_assert_uint_eq(s->s_queued, 0);
	ck_assert_uint_eq(s->s_queued_bytes, 0);
	session_out_free(o);
}
END_TEST

START_TEST(session__window_holds_max_inflight)
{
	struct session_out *o;
	uint16_t ids[3];
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(put("x", 1), 0);
	for (i = 0; i < 3; i++) {
		o = session_next(s);
		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(o->so_state, SESSION_OUT_PUBLISHED);
		ck_assert_uint_ne(o->so_id, 0);
		ids[i] = o->so_id;
	}
	ck_assert_uint_ne(ids[0], ids[1]);
	ck_assert_uint_ne(ids[1], ids[2]);
	/* Full window: the head (QoS 1) waits, and so does what follows. */
	ck_assert_ptr_null(session_next(s));
	ck_assert_uint_eq(s->s_queued, 2);
	ck_assert_int_eq(session_ack(s, MQTT_PUBACK, ids[1]), 0);
	ck_assert_ptr_nonnull(session_next(s));
	ck_assert_ptr_null(session_next(s));
	ck_assert_int_eq(session_ack(s, MQTT_PUBACK, ids[1]),
	    CAIRN_ERR_NOENT);
}
END_TEST

/* session_sendable() says what session_next() would do, changing nothing. */
START_TEST(session__sendable_matches_next)
{
	int i;

	ck_assert_int_eq(session_sendable(s), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(put("x", 1), 0);
	ck_assert_int_eq(put("y", 0), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(session_sendable(s), 1);
		ck_assert_ptr_nonnull(session_next(s));
	}
	/* The window (3) is full and the head is QoS 1. */
	ck_assert_int_eq(session_sendable(s), 0);
	ck_assert_ptr_null(session_next(s));
	ck_assert_uint_eq(s->s_queued, 2);
}
END_TEST

/* A moving session gives its deliveries oldest first: in flight, queue. */
START_TEST(session__take_first_in_send_order)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x;
	struct session_out *o;
	struct msg *m1 = mk("t", "1", 1), *m2 = mk("t", "22", 1),
	    *m3 = mk("t", "333", 0);

	memset(&a, 0, sizeof(a));
	l.sl_acct = &a;
	x = session_new("x", 1, &l);
	x->s_client = &online_token;
	ck_assert_int_eq(session_enqueue(x, m1, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m2, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m3, 0, 0), 0);
	ck_assert_ptr_nonnull(session_next(x));		/* m1 in flight */
	ck_assert_uint_eq(a.sa_msgs, 3);
	o = session_take_first(x);
	ck_assert_ptr_eq(o->so_msg, m1);
	session_out_free(o);
	ck_assert_uint_eq(x->s_ninflight, 0);
	ck_assert_uint_eq(x->s_inflight_bytes, 0);
	o = session_take_first(x);
	ck_assert_ptr_eq(o->so_msg, m2);
	session_out_free(o);
	o = session_take_first(x);
	ck_assert_ptr_eq(o->so_msg, m3);
	session_out_free(o);
	ck_assert_ptr_null(session_take_first(x));
	ck_assert_uint_eq(x->s_queued, 0);
	ck_assert_uint_eq(x->s_queued_bytes, 0);
	ck_assert_uint_eq(a.sa_msgs, 0);
	ck_assert_uint_eq(a.sa_msg_bytes, 0);
	session_free(x);
	msg_unref(m1);
	msg_unref(m2);
	msg_unref(m3);
}
END_TEST

static int
take_odd(const struct msg *m, void *arg)
{
	(void)arg;
	return m->m_payload_len % 2 == 1;
}

/* session_take_if(): in flight and queued alike, the counts follow. */
START_TEST(session__take_if_drops_what_matches)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x;
	struct msg *m1 = mk("t", "1", 1), *m2 = mk("t", "22", 1),
	    *m3 = mk("t", "333", 1), *m4 = mk("t", "4444", 1);

	memset(&a, 0, sizeof(a));
	l.sl_acct = &a;
	x = session_new("x", 1, &l);
	x->s_client = &online_token;
	ck_assert_int_eq(session_enqueue(x, m1, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m2, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m3, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m4, 1, 0), 0);
	ck_assert_ptr_nonnull(session_next(x));		/* m1 in flight */
	ck_assert_uint_eq(session_take_if(x, take_odd, NULL), 2);
	ck_assert_uint_eq(x->s_ninflight, 0);
	ck_assert_uint_eq(x->s_inflight_bytes, 0);
	ck_assert_uint_eq(x->s_queued, 2);
	ck_assert_uint_eq(x->s_queued_bytes, msg_bytes(m2) + msg_bytes(m4));
	ck_assert_uint_eq(a.sa_msgs, 2);
	ck_assert_ptr_eq(TAILQ_FIRST(&x->s_queue)->so_msg, m2);
	ck_assert_ptr_eq(TAILQ_LAST(&x->s_queue, session_outq)->so_msg, m4);
	ck_assert_uint_eq(session_take_if(x, take_odd, NULL), 0);
	session_free(x);
	ck_assert_uint_eq(a.sa_msgs, 0);
	msg_unref(m1);
	msg_unref(m2);
	msg_unref(m3);
	msg_unref(m4);
}
END_TEST

START_TEST(session__queue_limits)
{
	char p[600];
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(put("x", 1), 0);
	ck_assert_int_eq(put("x", 1), CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(s->s_dropped, 1);
	ck_assert_uint_eq(s->s_queued, 5);
	/* Bytes: topic + payload. */
	session_free(s);
	s = session_new("c1", 2, &lim);
	s->s_client = &online_token;
	memset(p, 'p', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	ck_assert_int_eq(put(p, 1), 0);			/* 600 bytes */
	ck_assert_int_eq(put(p, 1), CAIRN_ERR_LIMIT);	/* 1200 */
	ck_assert_uint_eq(s->s_queued_bytes, 600);
}
END_TEST

START_TEST(session__offline_qos0_dropped)
{
	struct session_limits l2 = lim;

	s->s_client = NULL;
	ck_assert_int_eq(put("a", 0), SESSION_DROPPED_QOS0);
	ck_assert_uint_eq(s->s_queued, 0);
	ck_assert_int_eq(put("b", 1), 0);
	session_free(s);
	l2.sl_queue_qos0_offline = 1;
	s = session_new("c1", 2, &l2);
	ck_assert_int_eq(put("a", 0), 0);
	ck_assert_uint_eq(s->s_queued, 1);
}
END_TEST

START_TEST(session__redelivery_in_send_order)
{
	struct session_out *o;
	const char *want[] = { "m0", "m1", "m2" };
	uint16_t ids[3];
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(put(want[i], i == 1 ? 2 : 1), 0);
	for (i = 0; i < 3; i++)
		ids[i] = session_next(s)->so_id;
	/* m1 (QoS 2) moves on to released; order stays. */
	ck_assert_int_eq(session_ack(s, MQTT_PUBREC, ids[1]), 0);
	s->s_client = NULL;			/* disconnect, reconnect */
	s->s_client = &online_token;
	i = 0;
	for (o = session_inflight_first(s); o != NULL;
	    o = session_inflight_next(o), i++) {
		ck_assert_mem_eq(o->so_msg->m_payload, want[i], 2);
		ck_assert_uint_eq(o->so_id, ids[i]);
		ck_assert_int_eq(o->so_state, i == 1 ?
		    SESSION_OUT_RELEASED : SESSION_OUT_PUBLISHED);
	}
	ck_assert_int_eq(i, 3);
}
END_TEST

START_TEST(session__qos2_sender_flow)
{
	struct session_out *o;
	uint16_t id;

	ck_assert_int_eq(put("q2", 2), 0);
	o = session_next(s);
	id = o->so_id;
	/* PUBACK and PUBCOMP before PUBREC are refused. */
	ck_assert_int_eq(session_ack(s, MQTT_PUBACK, id), CAIRN_ERR_NOENT);
	ck_assert_int_eq(session_ack(s, MQTT_PUBCOMP, id), CAIRN_ERR_NOENT);
	ck_assert_int_eq(session_ack(s, MQTT_PUBREC, id), 0);
	ck_assert_int_eq(session_ack(s, MQTT_PUBREC, id), 0);	/* repeated */
	ck_assert_int_eq(session_ack(s, MQTT_PUBCOMP, id), 0);
	ck_assert_uint_eq(s->s_ninflight, 0);
	ck_assert_int_eq(session_ack(s, MQTT_PUBCOMP, id), CAIRN_ERR_NOENT);
}
END_TEST

START_TEST(session__qos2_receiver_once)
{
	ck_assert_int_eq(session_in_qos2(s, 9), 1);
	ck_assert_int_eq(session_in_qos2(s, 9), 0);	/* DUP resend */
	ck_assert_int_eq(session_in_qos2(s, 10), 1);
	ck_assert_int_eq(session_in_pubrel(s, 9), 0);
	ck_assert_int_eq(session_in_pubrel(s, 9), CAIRN_ERR_NOENT);
	ck_assert_int_eq(session_in_qos2(s, 9), 1);	/* a new message */
	ck_assert_int_eq(session_in_pubrel(s, 9), 0);
	ck_assert_int_eq(session_in_pubrel(s, 10), 0);
	ck_assert_ptr_null(s->s_in_qos2);
	ck_assert_int_eq(session_in_qos2(s, 65535), 1);
}
END_TEST

START_TEST(session__ids_skip_those_in_flight)
{
	struct session_out *o;
	uint16_t first;
	int i;

	ck_assert_int_eq(put("a", 1), 0);
	first = session_next(s)->so_id;
	/* Walk the counter around: ids wrap past 65535 to 1, never 0. */
	for (i = 0; i < 65534; i++) {
		ck_assert_int_eq(put("b", 1), 0);
		o = session_next(s);
		ck_assert_uint_ne(o->so_id, 0);
		ck_assert_uint_ne(o->so_id, first);
		ck_assert_int_eq(session_ack(s, MQTT_PUBACK, o->so_id), 0);
	}
	ck_assert_uint_eq(s->s_ninflight, 1);
}
END_TEST

START_TEST(session__refs_shared_and_dropped)
{
	struct msg *m = mk("t", "p", 1);
	struct session *s2 = session_new("c2", 2, &lim);

	s2->s_client = &online_token;
	ck_assert_int_eq(session_enqueue(s, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(s2, m, 0, 1), 0);
	ck_assert_uint_eq(m->m_refs, 3);
	session_free(s2);
	ck_assert_uint_eq(m->m_refs, 2);
	(void)session_next(s);
	ck_assert_uint_eq(m->m_refs, 2);		/* in flight */
	msg_unref(m);
}
END_TEST

START_TEST(session__subscriptions)
{
	int was_new = -1;

	ck_assert_int_eq(session_sub_set(s, bytes_view_of("a/+", 3), 1,
	    &was_new), 0);
	ck_assert_int_eq(was_new, 1);
	ck_assert_int_eq(session_sub_set(s, bytes_view_of("a/+", 3), 2,
	    &was_new), 0);
	ck_assert_int_eq(was_new, 0);
	ck_assert_uint_eq(s->s_nsubs, 1);
	ck_assert_uint_eq(session_sub_find(s, bytes_view_of("a/+", 3))->ss_qos,
	    2);
	ck_assert_ptr_null(session_sub_find(s, bytes_view_of("a/", 2)));
	ck_assert_int_eq(session_sub_del(s, bytes_view_of("a/+", 3)), 0);
	ck_assert_int_eq(session_sub_del(s, bytes_view_of("a/+", 3)),
	    CAIRN_ERR_NOENT);
	ck_assert_uint_eq(s->s_nsubs, 0);
}
END_TEST

START_TEST(session__table)
{
	struct session_table *t = session_table_new(42);
	struct session *v[300], *x;
	char id[16];
	int i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		v[i] = session_new(id, strlen(id), &lim);
		ck_assert_int_eq(session_table_add(t, v[i]), 0);
	}
	ck_assert_int_eq(session_table_add(t, v[7]), CAIRN_ERR_EXIST);
	ck_assert_uint_eq(session_table_count(t), 300);
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_ptr_eq(session_table_find(t, id, strlen(id)), v[i]);
	}
	ck_assert_ptr_null(session_table_find(t, "id300", 5));
	session_table_remove(t, v[5]);
	session_table_remove(t, v[5]);
	ck_assert_ptr_null(session_table_find(t, "id5", 3));
	ck_assert_uint_eq(session_table_count(t), 299);
	session_free(v[5]);
	while ((x = session_table_any(t)) != NULL) {
		session_table_remove(t, x);
		session_free(x);
	}
	session_table_free(t);
}
END_TEST

/* Accounting: the totals are the sum over the sessions, back to zero. */
START_TEST(session__acct_totals)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x, *y;
	struct session_out *o;
	struct msg *m = mk("t", "12345", 1);	/* 6 bytes */

	memset(&a, 0, sizeof(a));
	l.sl_acct = &a;
	x = session_new("x", 1, &l);
	y = session_new("yy", 2, &l);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	x->s_client = &online_token;
	ck_assert_uint_eq(a.sa_sessions, 2);
	ck_assert_uint_eq(a.sa_fixed_bytes, 2 * sizeof(struct session) + 5);
	ck_assert_uint_eq(a.sa_persistent, 0);
	session_set_clean(y, 0);
	session_set_clean(y, 0);
	ck_assert_uint_eq(a.sa_persistent, 1);
	ck_assert_int_eq(session_sub_set(x, bytes_view_of("a/b", 3), 1, NULL),
	    0);
	ck_assert_int_eq(session_sub_set(y, bytes_view_of("c", 1), 1, NULL),
	    0);
	ck_assert_int_eq(session_sub_set(y, bytes_view_of("c", 1), 2, NULL),
	    0);
	ck_assert_uint_eq(a.sa_subs, 2);
	ck_assert_uint_eq(a.sa_sub_bytes, SESSION_SUB_COST(3) +
	    SESSION_SUB_COST(1));
	ck_assert_uint_eq(x->s_sub_bytes, SESSION_SUB_COST(3));
	/* Queued, in flight, acked: each step keeps the totals. */
	ck_assert_int_eq(session_enqueue(x, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_uint_eq(a.sa_msgs, 2);
	ck_assert_uint_eq(a.sa_msg_bytes, 12);
	o = session_next(x);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(a.sa_msg_bytes, 12);
	ck_assert_uint_eq(x->s_inflight_bytes, 6);
	ck_assert_uint_eq(session_bytes(x), sizeof(struct session) + 2 +
	    SESSION_SUB_COST(3) + 6);
	ck_assert_int_eq(session_ack(x, MQTT_PUBACK, o->so_id), 0);
	ck_assert_uint_eq(a.sa_msgs, 1);
	ck_assert_uint_eq(a.sa_msg_bytes, 6);
	/* A QoS 0 delivery leaves the accounts when it is handed out. */
	ck_assert_int_eq(session_enqueue(x, m, 0, 0), 0);
	o = session_next(x);
	ck_assert_uint_eq(a.sa_msgs, 1);
	session_out_free(o);
	session_free(x);
	session_free(y);
	msg_unref(m);
	ck_assert_uint_eq(a.sa_sessions, 0);
	ck_assert_uint_eq(a.sa_persistent, 0);
	ck_assert_uint_eq(a.sa_fixed_bytes, 0);
	ck_assert_uint_eq(a.sa_subs, 0);
	ck_assert_uint_eq(a.sa_sub_bytes, 0);
	ck_assert_uint_eq(a.sa_msgs, 0);
	ck_assert_uint_eq(a.sa_msg_bytes, 0);
}
END_TEST

/* A new filter past the session's bytes or the total's is refused. */
START_TEST(session__sub_byte_caps)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x, *y;
	char f[200];

	memset(&a, 0, sizeof(a));
	memset(f, 'f', sizeof(f));
	a.sa_max_sub_bytes = 3 * SESSION_SUB_COST(100);
	l.sl_acct = &a;
	l.sl_max_sub_bytes = 2 * SESSION_SUB_COST(100);
	x = session_new("x", 1, &l);
	y = session_new("y", 1, &l);
	/* Exactly the session's cap, then one byte more. */
	ck_assert_int_eq(session_sub_set(x, bytes_view_of(f, 100), 0, NULL),
	    0);
	ck_assert_int_eq(session_sub_set(x, bytes_view_of(f, 99), 0, NULL),
	    0);
	ck_assert_int_eq(session_sub_room(x, bytes_view_of(f, 1)),
	    CAIRN_ERR_LIMIT);
	ck_assert_int_eq(session_sub_set(x, bytes_view_of(f, 1), 0, NULL),
	    CAIRN_ERR_LIMIT);
	/* A filter it has is no new cost: its QoS may change. */
	ck_assert_int_eq(session_sub_room(x, bytes_view_of(f, 100)), 0);
	ck_assert_int_eq(session_sub_set(x, bytes_view_of(f, 100), 2, NULL),
	    0);
	ck_assert_uint_eq(x->s_nsubs, 2);
	/* The total: y fits one, not a second. */
	ck_assert_int_eq(session_sub_set(y, bytes_view_of(f, 100), 0, NULL),
	    0);
	ck_assert_int_eq(session_sub_set(y, bytes_view_of(f, 2), 0, NULL),
	    CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(a.sa_sub_refused, 3);
	/* Room again once x lets one go. */
	ck_assert_int_eq(session_sub_del(x, bytes_view_of(f, 99)), 0);
	ck_assert_int_eq(session_sub_set(y, bytes_view_of(f, 2), 0, NULL),
	    0);
	session_free(x);
	session_free(y);
	ck_assert_uint_eq(a.sa_sub_bytes, 0);
}
END_TEST

/* Deliveries past every session's bytes are dropped, counted apart. */
START_TEST(session__queue_total_cap)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x, *y;
	struct msg *m = mk("t", "123456789", 1);	/* 10 bytes */

	memset(&a, 0, sizeof(a));
	a.sa_max_msg_bytes = 25;
	l.sl_acct = &a;
	x = session_new("x", 1, &l);
	y = session_new("y", 1, &l);
	x->s_client = y->s_client = &online_token;
	ck_assert_int_eq(session_enqueue(x, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), CAIRN_ERR_LIMIT);
	ck_assert_int_eq(y->s_drop_reason, SESSION_DROP_TOTAL);
	ck_assert_str_eq(session_drop_name(y->s_drop_reason),
	    "max_queued_bytes_total");
	ck_assert_uint_eq(a.sa_drop_total, 1);
	ck_assert_uint_eq(y->s_dropped, 1);
	/* The session's own caps are named as such. */
	l.sl_acct = NULL;
	session_free(x);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), CAIRN_ERR_LIMIT);
	ck_assert_int_eq(y->s_drop_reason, SESSION_DROP_TOTAL);
	a.sa_max_msg_bytes = 0;
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(y, m, 1, 0), CAIRN_ERR_LIMIT);
	ck_assert_int_eq(y->s_drop_reason, SESSION_DROP_MESSAGES);
	ck_assert_uint_eq(a.sa_drop_messages, 1);
	session_free(y);
	msg_unref(m);
	ck_assert_uint_eq(a.sa_msg_bytes, 0);
	ck_assert_uint_eq(a.sa_msgs, 0);
}
END_TEST

static void
sweep_free_odd(struct session *x, void *arg)
{
	struct session_table *t = arg;

	if (x->s_id[x->s_id_len - 1] % 2 == 1) {
		session_table_remove(t, x);
		session_free(x);
	}
}

static void
sweep_count(struct session *x, void *arg)
{
	(*(size_t *)arg)++;
}

/* Slices visit every session once per pass; a callback may free. */
START_TEST(session__table_sweep)
{
	struct session_table *t = session_table_new(7);
	struct session *x;
	char id[16];
	size_t n = 0, seen = 0, i;

	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "s%zu", i);
		ck_assert_int_eq(session_table_add(t, session_new(id,
		    strlen(id), &lim)), 0);
	}
	/* One bucket a call: a pass is session_table_buckets() calls. */
	for (i = 0; i < session_table_buckets(t); i++)
		n += session_table_sweep(t, 1, sweep_count, &seen);
	ck_assert_uint_eq(n, 200);
	ck_assert_uint_eq(seen, 200);
	/* A slice past the end wraps; no bucket twice in one call. */
	n = session_table_sweep(t, 3 * session_table_buckets(t), sweep_free_odd,
	    t);
	ck_assert_uint_eq(n, 200);
	ck_assert_uint_eq(session_table_count(t), 100);
	while ((x = session_table_any(t)) != NULL) {
		session_table_remove(t, x);
		session_free(x);
	}
	session_table_free(t);
}
END_TEST

/* A message with props, a publisher and an expiry at `at` (0: none). */
static struct msg *
mk5(const char *payload, const char *props, uint64_t at)
{
	struct msg_args a;
	struct msg *m;

	memset(&a, 0, sizeof(a));
	a.ma_topic = bytes_view_of("t", 1);
	a.ma_payload = bytes_view_of(payload, strlen(payload));
	a.ma_props = bytes_view_of(props, strlen(props));
	a.ma_from = bytes_view_of("pub", 3);
	a.ma_qos = 1;
	a.ma_expire_at = at;
	m = msg_new_ex(&a);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Expired queued messages are dropped, never handed out, and counted. */
START_TEST(session__expired_dropped_not_sent)
{
	struct session_acct a;
	struct session_limits l = lim;
	struct session *x;
	struct session_out *o;
	struct msg *m1 = mk5("a", "", 1000), *m2 = mk5("b", "", 0),
	    *m3 = mk5("c", "", 5000);

	memset(&a, 0, sizeof(a));
	l.sl_acct = &a;
	x = session_new("x", 1, &l);
	x->s_client = &online_token;
	ck_assert_int_eq(session_enqueue(x, m1, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m2, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m3, 0, 0), 0);
	ck_assert_uint_eq(a.sa_msgs, 3);
	/* Before its expiry m1 would go; at 1000 it is gone. */
	o = session_next_at(x, 1000);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_eq(o->so_msg, m2);
	ck_assert_uint_eq(x->s_expired, 1);
	ck_assert_uint_eq(a.sa_drop_expired, 1);
	ck_assert_uint_eq(a.sa_msgs, 2);
	ck_assert_uint_eq(a.sa_msg_bytes, msg_bytes(m2) + msg_bytes(m3));
	/* In flight, a message is not expired any more (delivery began). */
	o = session_next_at(x, 6000);
	ck_assert_ptr_null(o);
	ck_assert_uint_eq(x->s_expired, 2);
	ck_assert_uint_eq(x->s_queued, 0);
	ck_assert_uint_eq(x->s_queued_bytes, 0);
	ck_assert_ptr_eq(session_inflight_first(x)->so_msg, m2);
	/* session_expire_queue() drops from the middle of a queue too. */
	ck_assert_int_eq(session_enqueue(x, m2, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m3, 1, 0), 0);
	ck_assert_int_eq(session_enqueue(x, m2, 1, 0), 0);
	ck_assert_uint_eq(session_expire_queue(x, 4999), 0);
	ck_assert_uint_eq(session_expire_queue(x, 5000), 1);
	ck_assert_uint_eq(x->s_queued, 2);
	ck_assert_uint_eq(a.sa_drop_expired, 3);
	ck_assert_str_eq(session_drop_name(SESSION_DROP_EXPIRED), "expired");
	session_free(x);
	ck_assert_uint_eq(a.sa_msgs, 0);
	ck_assert_uint_eq(a.sa_msg_bytes, 0);
	msg_unref(m1);
	msg_unref(m2);
	msg_unref(m3);
}
END_TEST

/* Properties and publisher id count against max_queued_bytes. */
START_TEST(session__props_count_in_bytes)
{
	char props[600];
	struct msg *m;

	memset(props, 'p', sizeof(props) - 1);
	props[sizeof(props) - 1] = '\0';
	m = mk5("12345", props, 0);
	ck_assert_uint_eq(msg_bytes(m), 1 + 5 + 599 + 3);
	/* 1000 bytes: one fits, the second would pass the cap. */
	ck_assert_int_eq(session_enqueue(s, m, 1, 0), 0);
	ck_assert_uint_eq(s->s_queued_bytes, 608);
	ck_assert_int_eq(session_enqueue(s, m, 1, 0), CAIRN_ERR_LIMIT);
	ck_assert_int_eq(s->s_drop_reason, SESSION_DROP_BYTES);
	msg_unref(m);
}
END_TEST

/* A delivery keeps its subscription ids and RETAIN flag, bounded. */
START_TEST(session__deliv_ids)
{
	struct session_deliv d;
	struct session_out *o;
	struct msg *m = mk("t", "x", 1);
	size_t i;

	memset(&d, 0, sizeof(d));
	d.sd_qos = 1;
	d.sd_retain = 1;
	d.sd_nids = 3;
	d.sd_ids[0] = 4;
	d.sd_ids[1] = SUB_ID_MAX;
	d.sd_ids[2] = 1;
	ck_assert_int_eq(session_enqueue_d(s, m, &d), 0);
	d.sd_nids = 200;	/* past the bound: clamped */
	for (i = 0; i < SESSION_MAX_SUB_IDS; i++)
		d.sd_ids[i] = (uint32_t)i + 10;
	ck_assert_int_eq(session_enqueue_d(s, m, &d), 0);
	o = session_next(s);
	ck_assert_uint_eq(o->so_retain, 1);
	ck_assert_uint_eq(o->so_nids, 3);
	ck_assert_uint_eq(o->so_ids[0], 4);
	ck_assert_uint_eq(o->so_ids[1], SUB_ID_MAX);
	ck_assert_uint_eq(o->so_ids[2], 1);
	o = session_next(s);
	ck_assert_uint_eq(o->so_nids, SESSION_MAX_SUB_IDS);
	ck_assert_uint_eq(o->so_ids[SESSION_MAX_SUB_IDS - 1],
	    SESSION_MAX_SUB_IDS - 1 + 10);
	msg_unref(m);
}
END_TEST

/* Session expiry: the 5.0 interval, else the broker's default. */
START_TEST(session__expiry_due)
{
	s->s_client = NULL;
	s->s_offline_ms = 10000;
	/* 3.1.1: persistent_client_expiration, 0 never. */
	ck_assert_int_eq(session_expiry_due(s, 1000000, 0), 0);
	ck_assert_int_eq(session_expiry_due(s, 14999, 5000), 0);
	ck_assert_int_eq(session_expiry_due(s, 15000, 5000), 1);
	/* 5.0: its own interval wins, both ways. */
	s->s_has_expiry = 1;
	s->s_expiry = 60;
	ck_assert_int_eq(session_expiry_due(s, 15000, 5000), 0);
	ck_assert_int_eq(session_expiry_due(s, 69999, 0), 0);
	ck_assert_int_eq(session_expiry_due(s, 70000, 0), 1);
	s->s_expiry = 0;
	ck_assert_int_eq(session_expiry_due(s, 10000, 0), 1);
	s->s_expiry = SESSION_EXPIRY_NEVER;
	ck_assert_int_eq(session_expiry_due(s, UINT64_MAX, 1), 0);
	/* Online, or never offline: never due. */
	s->s_expiry = 0;
	s->s_offline_ms = 0;
	ck_assert_int_eq(session_expiry_due(s, 99999, 1), 0);
	s->s_offline_ms = 10000;
	s->s_client = &online_token;
	ck_assert_int_eq(session_expiry_due(s, 99999, 1), 0);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *su = suite_create("session");
	TCase *tc;

	tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, session__new_copies_id);
	tcase_add_test(tc, session__qos0_passes_the_window);
	tcase_add_test(tc, session__window_holds_max_inflight);
	tcase_add_test(tc, session__queue_limits);
	tcase_add_test(tc, session__take_if_drops_what_matches);
	tcase_add_test(tc, session__sendable_matches_next);
	tcase_add_test(tc, session__take_first_in_send_order);
	tcase_add_test(tc, session__offline_qos0_dropped);
	tcase_add_test(tc, session__redelivery_in_send_order);
	tcase_add_test(tc, session__ids_skip_those_in_flight);
	tcase_add_test(tc, session__refs_shared_and_dropped);
	suite_add_tcase(su, tc);

	tc = tcase_create("qos2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, session__qos2_sender_flow);
	tcase_add_test(tc, session__qos2_receiver_once);
	suite_add_tcase(su, tc);

	tc = tcase_create("subs_table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, session__subscriptions);
	tcase_add_test(tc, session__table);
	tcase_add_test(tc, session__table_sweep);
	suite_add_tcase(su, tc);

	tc = tcase_create("accounting");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, session__acct_totals);
	tcase_add_test(tc, session__sub_byte_caps);
	tcase_add_test(tc, session__queue_total_cap);
	suite_add_tcase(su, tc);

	tc = tcase_create("mqtt5");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, session__expired_dropped_not_sent);
	tcase_add_test(tc, session__props_count_in_bytes);
	tcase_add_test(tc, session__deliv_ids);
	tcase_add_test(tc, session__expiry_due);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(session_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
