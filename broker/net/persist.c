/*
 * The broker's durable state (`data_dir`): what net/ tells the store
 * (store/store.h) and what it reads back at start.  Without data_dir
 * b_store is NULL and every caller's first test is that NULL check, so
 * the path of a node without it is what it was.
 *
 * What is kept: retained messages; persistent sessions (clean session
 * 0): a header (client id, user name), their subscriptions, their QoS 1
 * and 2 deliveries from the moment they are queued until PUBACK or
 * PUBCOMP ends them (a QoS 2 one also when it is sent, with its packet
 * id, so that it is resent with the same id), and their inbound QoS 2
 * ids until PUBREL.  QoS 0 and clean sessions are not kept.
 *
 * The promise: every mutation goes into the store's open batch, of
 * generation b_store_gen.  At the end of each loop iteration (the
 * prepare watcher, persist_kick()) the open batch is handed to the
 * store's writer thread if that is idle, which commits and syncs it
 * while the loop goes on and fills the next one; when it is done an
 * ev_async wakes the loop, the generation becomes durable
 * (persist_durable_gen()), what waited on it is released, and the
 * batch that gathered meanwhile is handed over: group commit, one
 * commit per sync however many messages came during the last one.  A
 * client that was given an ack (PUBACK, PUBREC, PUBCOMP, SUBACK,
 * CONNACK) while a batch was not yet durable has c_store_wait set and
 * c_store_gen the newest such batch: its output is not written
 * (client_flush(), the last write of client_close()) until that one is
 * durable.  If a commit fails (the map is full at store_max_bytes, or
 * I/O), that batch and the open one built on it are lost and those
 * clients are disconnected with their output unsent: nothing they
 * carried was acknowledged, and each publisher sends again when it
 * reconnects.
 *
 * At start, persist_open() loads the store into the broker: retained
 * messages into the retained store, sessions into the table (offline),
 * their subscriptions into the router, deliveries back into the queue
 * or the in-flight list (resent with DUP on reconnect by
 * handle_connect.c), inbound QoS 2 ids into their bitmaps.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/net/broker_int.h"
#include "broker/mqtt/mqtt5_props.h"
#include "broker/mqtt/mqtt_codec.h"
#include "broker/mqtt/mqtt_topic.h"
#include "broker/store/store.h"
#include "common/clock.h"
#include "common/container.h"
#include "common/err.h"
#include "common/log.h"

static struct log_rate persist_lr = LOG_RATE_INIT(10);
static struct log_rate persist_commit_lr = LOG_RATE_INIT(10);

static void	persist_notify(void *);
static void	persist_on_async(struct ev_loop *, ev_async *, int);

static uint64_t
persist_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A mutation failed: the batch is lost; its commit says so. */
static void
persist_failed(struct broker *b, const char *what, int rc)
{
	log_rate_warnx(&persist_lr, "data_dir: %s not stored: %s; the "
	    "acks of this batch are held back", what, cairn_strerror(rc));
}

/*
 * A message as the store keeps it.  Its expiry goes as a wall clock
 * time (the monotonic clock starts again with the process), so the
 * time a node is down counts against it.
 */
static struct store_msg
persist_msg(const struct msg *m)
{
	struct store_msg sm;
	uint64_t left = msg_expiry_left_ms(m, clock_ms());

	sm.smg_qos = m->m_qos;
	sm.smg_retain = m->m_retain;
	sm.smg_topic = msg_topic(m);
	sm.smg_payload = msg_payload(m);
	sm.smg_expire_ms = left > 0 ? persist_wall_ms() + left : 0;
	sm.smg_from = msg_from(m);
	sm.smg_props = msg_props(m);
	return sm;
}

/*
 * What the store read is checked as a peer's would be: a topic name;
 * a publisher id without NUL; a property block a PUBLISH may carry,
 * without what is per hop (topic alias, message expiry: kept apart,
 * subscription identifiers: the subscription's).  0 or
 * CAIRN_ERR_PROTO (the store is damaged: it is refused).
 */
static int
persist_msg_valid(const struct store_msg *sm)
{
	struct mqtt5_props p;
	struct bytes_w w;
	struct bytes_r r;
	const char *why;
	int rc;

	if (!mqtt_topic_name_valid(sm->smg_topic) || (sm->smg_from.len > 0 &&
	    memchr(sm->smg_from.p, '\0', sm->smg_from.len) != NULL))
		return CAIRN_ERR_PROTO;
	if (sm->smg_props.len == 0)
		return 0;
	/* The decoder reads a length first: the block is kept without. */
	bytes_w_init(&w, sm->smg_props.len + 4);
	bytes_put_varint(&w, (uint32_t)sm->smg_props.len);
	(void)bytes_put(&w, sm->smg_props.p, sm->smg_props.len);
	if (w.err != 0 || sm->smg_props.len > MQTT_MAX_REMAINING) {
		rc = w.err == CAIRN_ERR_NOMEM ? w.err : CAIRN_ERR_PROTO;
		bytes_w_fini(&w);
		return rc;
	}
	bytes_r_init(&r, w.buf, w.len);
	rc = mqtt5_props_decode(&r, MQTT_PUBLISH, &p, &why) != 0 ||
	    bytes_r_left(&r) != 0 ||
	    MQTT5_HAS(&p, MQTT5_PROP_TOPIC_ALIAS) ||
	    MQTT5_HAS(&p, MQTT5_PROP_MESSAGE_EXPIRY) ||
	    MQTT5_HAS(&p, MQTT5_PROP_SUB_ID) ? CAIRN_ERR_PROTO : 0;
	bytes_w_fini(&w);
	return rc;
}

/*
 * The message of a record, or NULL (ENOMEM).  One that expired while
 * the node was down is loaded with 1 ms left: it goes as any message
 * expiring in a queue does (not sent, counted, its record removed).
 */
static struct msg *
persist_msg_load(const struct store_msg *sm)
{
	struct msg_args a;
	uint64_t wall = persist_wall_ms();

	memset(&a, 0, sizeof(a));
	if (sm->smg_expire_ms != 0)
		a.ma_expire_at = msg_expire_at(clock_ms(),
		    sm->smg_expire_ms > wall ? sm->smg_expire_ms - wall : 1);
	a.ma_topic = sm->smg_topic;
	a.ma_payload = sm->smg_payload;
	a.ma_props = sm->smg_props;
	a.ma_from = sm->smg_from;
	a.ma_qos = sm->smg_qos;
	a.ma_retain = sm->smg_retain;
	return msg_new_ex(&a);
}

/* --- loading ------------------------------------------------------------ */

struct persist_load {
	struct broker	*pl_b;
	uint64_t	 pl_sid;
	struct session	*pl_s;		/* the session of pl_sid */
	size_t		 pl_retained, pl_sessions, pl_subs, pl_msgs;
	size_t		 pl_refused;	/* retained over today's limits */
	size_t		 pl_over;	/* queued over today's session caps */
};

static int
persist_on_retained(void *arg, const struct store_msg *sm)
{
	struct persist_load *pl = arg;
	struct msg *m;
	enum retain_limit why;
	int rc;

	if ((rc = persist_msg_valid(sm)) != 0)
		return rc;
	if ((m = persist_msg_load(sm)) == NULL)
		return CAIRN_ERR_NOMEM;
	rc = retain_store(pl->pl_b->b_retain, m, &why);
	msg_unref(m);
	if (rc == CAIRN_ERR_NOMEM)
		return rc;
	if (rc != 0)
		pl->pl_refused++;
	else
		pl->pl_retained++;
	return 0;
}

static int
persist_on_session(void *arg, uint64_t sid, const struct store_session *ss)
{
	struct persist_load *pl = arg;
	struct broker *b = pl->pl_b;
	struct session *s;
	char *user = NULL;

	if (memchr(ss->ss_id.p, '\0', ss->ss_id.len) != NULL)
		return CAIRN_ERR_PROTO;
	if (session_table_find(b->b_sessions, (const char *)ss->ss_id.p,
	    ss->ss_id.len) != NULL)
		return CAIRN_ERR_EXIST;
	if (ss->ss_has_username) {
		if ((user = malloc(ss->ss_username.len + 1)) == NULL)
			return CAIRN_ERR_NOMEM;
		memcpy(user, ss->ss_username.p, ss->ss_username.len);
		user[ss->ss_username.len] = '\0';
	}
	if ((s = session_new((const char *)ss->ss_id.p, ss->ss_id.len,
	    &b->b_limits)) == NULL || session_table_add(b->b_sessions,
	    s) != 0) {
		session_free(s);
		free(user);
		return CAIRN_ERR_NOMEM;
	}
	session_set_clean(s, 0);
	s->s_username = user;
	/* Offline from now: persistent_client_expiration counts again. */
	s->s_offline_ms = (uint64_t)(ev_now(b->b_loop) * 1000.0) | 1;
	s->s_store_id = sid;
	if (ss->ss_expiry != UINT32_MAX) {
		s->s_expiry = ss->ss_expiry;
		s->s_has_expiry = 1;
	}
	s->s_v5 = ss->ss_v5 ? 1 : 0;
	pl->pl_sid = sid;
	pl->pl_s = s;
	pl->pl_sessions++;
	return 0;
}

static int
persist_on_sub(void *arg, uint64_t sid, const struct store_sub *sb)
{
	struct persist_load *pl = arg;
	struct sub_opts so;

	if (pl->pl_s == NULL || pl->pl_sid != sid)
		return CAIRN_ERR_PROTO;
	if (!mqtt_topic_filter_valid(sb->ssb_filter))
		return CAIRN_ERR_PROTO;
	pl->pl_subs++;
	memset(&so, 0, sizeof(so));
	so.qos = sb->ssb_qos;
	so.no_local = (sb->ssb_opts & STORE_SUB_NO_LOCAL) ? 1 : 0;
	so.rap = (sb->ssb_opts & STORE_SUB_RAP) ? 1 : 0;
	so.rh = (uint8_t)(sb->ssb_opts >> STORE_SUB_RH_SHIFT & 3);
	so.sub_id = sb->ssb_sub_id;
	return router_subscribe_opts(pl->pl_b->b_router, pl->pl_s,
	    sb->ssb_filter, &so, NULL);
}

static int
persist_on_out(void *arg, uint64_t sid, uint64_t seq,
    const struct store_out *so)
{
	struct persist_load *pl = arg;
	struct session_deliv d;
	struct session_out *o;
	struct msg *m;
	int rc;

	if (pl->pl_s == NULL || pl->pl_sid != sid)
		return CAIRN_ERR_PROTO;
	if ((rc = persist_msg_valid(&so->so_msg)) != 0)
		return rc;
	if ((m = persist_msg_load(&so->so_msg)) == NULL)
		return CAIRN_ERR_NOMEM;
	memset(&d, 0, sizeof(d));
	d.sd_qos = so->so_qos;
	d.sd_retain = so->so_retain;
	d.sd_nids = so->so_nids > SESSION_MAX_SUB_IDS ? SESSION_MAX_SUB_IDS :
	    so->so_nids;
	memcpy(d.sd_ids, so->so_ids, d.sd_nids * sizeof(d.sd_ids[0]));
	/*
	 * The numbers are core/session.h's (store_codec.h says so).  In
	 * flight: at the end of the in-flight list with its id; queued (or
	 * an id in flight twice): at the end of the queue, under today's
	 * caps, which may refuse it (counted, said at the end).
	 */
	rc = session_restore(pl->pl_s, m, &d,
	    (enum session_out_state)so->so_state, so->so_id);
	msg_unref(m);
	if (rc == CAIRN_ERR_LIMIT) {
		pl->pl_over++;
		return 0;
	}
	if (rc != 0)
		return rc;
	/* Where it went: its list's tail (m is compared, not used). */
	o = NULL;
	if (so->so_state != SESSION_OUT_QUEUED)
		o = TAILQ_LAST(&pl->pl_s->s_inflight, session_outq);
	if (o == NULL || o->so_msg != m || o->so_id != so->so_id)
		o = TAILQ_LAST(&pl->pl_s->s_queue, session_outq);
	if (o == NULL || o->so_msg != m)
		return CAIRN_ERR_INVAL;
	o->so_store_seq = seq;
	pl->pl_msgs++;
	return 0;
}

static int
persist_on_inq2(void *arg, uint64_t sid, uint16_t id)
{
	struct persist_load *pl = arg;
	int rc;

	if (pl->pl_s == NULL || pl->pl_sid != sid)
		return CAIRN_ERR_PROTO;
	rc = session_in_qos2(pl->pl_s, id);
	return rc < 0 ? rc : 0;
}

static const struct store_load_ops persist_load_ops = {
	persist_on_retained, persist_on_session, persist_on_sub,
	persist_on_out, persist_on_inq2,
};

/* -n: every record decodes; nothing is kept. */
static int
persist_check_retained(void *arg, const struct store_msg *m)
{
	return persist_msg_valid(m);
}

static int
persist_check_session(void *arg, uint64_t sid, const struct store_session *s)
{
	return 0;
}

static int
persist_check_sub(void *arg, uint64_t sid, const struct store_sub *s)
{
	return mqtt_topic_filter_valid(s->ssb_filter) ? 0 : CAIRN_ERR_PROTO;
}

static int
persist_check_out(void *arg, uint64_t sid, uint64_t seq,
    const struct store_out *o)
{
	return persist_msg_valid(&o->so_msg);
}

static int
persist_check_inq2(void *arg, uint64_t sid, uint16_t id)
{
	return 0;
}

static const struct store_load_ops persist_check_ops = {
	persist_check_retained, persist_check_session, persist_check_sub,
	persist_check_out, persist_check_inq2,
};

int
persist_check(const struct broker_conf *c, char *err, size_t errlen)
{
	struct store *st;
	int rc;

	if (c->bc_data_dir == NULL)
		return 0;
	if ((st = store_open(c->bc_data_dir, c->bc_store_max_bytes,
	    c->bc_node_name, 1, err, errlen)) == NULL)
		return -1;
	rc = store_load(st, &persist_check_ops, NULL, err, errlen);
	store_close(st);
	return rc;
}

int
persist_open(struct broker *b, char *err, size_t errlen)
{
	const struct broker_conf *c = b->b_conf;
	struct persist_load pl;
	struct store *st;

	if (c->bc_data_dir == NULL)
		return 0;
	if ((st = store_open(c->bc_data_dir, c->bc_store_max_bytes,
	    c->bc_node_name, 0, err, errlen)) == NULL)
		return -1;
	memset(&pl, 0, sizeof(pl));
	pl.pl_b = b;
	if (store_load(st, &persist_load_ops, &pl, err, errlen) != 0) {
		store_close(st);
		return -1;
	}
	store_set_sync(st, c->bc_store_sync);
	b->b_store = st;
	/* What was loaded is durable: generation 0; batches start at 1. */
	b->b_store_gen = 1;
	b->b_store_durable = 0;
	b->b_store_asked = 0;
	b->b_store_inflight = 0;
	ev_async_init(&b->b_store_async, persist_on_async);
	ev_async_start(b->b_loop, &b->b_store_async);
	store_set_notify(st, persist_notify, b);
	log_info("data_dir %s: %zu retained messages, %zu persistent "
	    "sessions, %zu subscriptions, %zu queued or in-flight messages",
	    c->bc_data_dir, pl.pl_retained, pl.pl_sessions, pl.pl_subs,
	    pl.pl_msgs);
	if (pl.pl_over > 0)
		log_warnx("data_dir %s: %zu queued messages over today's "
		    "max_queued_* limits not loaded (their records stay until "
		    "the session ends)", c->bc_data_dir, pl.pl_over);
	if (pl.pl_refused > 0)
		log_warnx("data_dir %s: %zu retained messages over today's "
		    "max_retained_* limits not loaded (they stay on disk "
		    "until their topic is retained again)", c->bc_data_dir,
		    pl.pl_refused);
	return 0;
}

void
persist_close(struct broker *b)
{
	if (b->b_store == NULL)
		return;
	(void)persist_commit(b);
	/* The writer thread ends first: it may still send its wake-up. */
	store_close(b->b_store);
	b->b_store = NULL;
	ev_async_stop(b->b_loop, &b->b_store_async);
}

/* --- mutations ----------------------------------------------------------- */

void
persist_retained(struct broker *b, const struct msg *m)
{
	struct store_msg sm = persist_msg(m);
	int rc;

	/* $SYS is made again every sys_interval: not worth a write. */
	if (m->m_topic_len >= 5 && memcmp(m->m_topic, "$SYS/", 5) == 0)
		return;
	if ((rc = store_put_retained(b->b_store, &sm)) != 0)
		persist_failed(b, "retained message", rc);
}

/* s's header: client id, user name, time. */
static int
persist_header(struct broker *b, struct session *s)
{
	struct store_session ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_id = bytes_view_of(s->s_id, s->s_id_len);
	if (s->s_username != NULL) {
		ss.ss_has_username = 1;
		ss.ss_username = bytes_view_of(s->s_username,
		    strlen(s->s_username));
	}
	ss.ss_created_ms = ss.ss_seen_ms = persist_wall_ms();
	ss.ss_v5 = s->s_v5 ? 1 : 0;
	/* 5.0's session expiry interval; else (and for 5.0's "never",
	 * 0xffffffff too) the broker's persistent_client_expiration. */
	ss.ss_expiry = s->s_has_expiry ? s->s_expiry : UINT32_MAX;
	return store_put_session(b->b_store, s->s_store_id, &ss);
}

static int
persist_out_put(struct broker *b, struct session *s, struct session_out *o)
{
	struct store_out so;

	if (o->so_store_seq == 0)
		o->so_store_seq = store_new_seq(b->b_store);
	memset(&so, 0, sizeof(so));
	so.so_state = (uint8_t)o->so_state;
	so.so_id = o->so_state == SESSION_OUT_QUEUED ? 0 : o->so_id;
	so.so_qos = o->so_qos;
	so.so_retain = o->so_retain;
	so.so_msg = persist_msg(o->so_msg);
	so.so_nids = o->so_nids > STORE_MAX_SUB_IDS ? STORE_MAX_SUB_IDS :
	    o->so_nids;
	memcpy(so.so_ids, o->so_ids, so.so_nids * sizeof(so.so_ids[0]));
	return store_put_out(b->b_store, s->s_store_id, o->so_store_seq, &so);
}

/* The record of subscription sub. */
static void
persist_sub_rec(struct store_sub *sb, const struct session_sub *sub)
{
	memset(sb, 0, sizeof(*sb));
	sb->ssb_qos = sub->ss_qos;
	sb->ssb_opts = (uint8_t)((sub->ss_no_local ? STORE_SUB_NO_LOCAL : 0) |
	    (sub->ss_rap ? STORE_SUB_RAP : 0) |
	    (sub->ss_rh & 3) << STORE_SUB_RH_SHIFT);
	sb->ssb_sub_id = sub->ss_sub_id;
	sb->ssb_filter = bytes_view_of(sub->ss_filter, sub->ss_len);
}

void
persist_session(struct broker *b, struct session *s)
{
	struct session_sub *sub;
	struct session_out *o;
	struct store_sub sb;
	unsigned int id;
	int rc;

	if (s->s_clean) {
		/* Persistent no more: its records go. */
		if (s->s_store_id != 0)
			persist_session_drop(b, s);
		return;
	}
	if (s->s_store_id != 0) {
		if ((rc = persist_header(b, s)) != 0)
			persist_failed(b, "session", rc);
		return;
	}
	/* New here, or moved in from a peer with what it holds. */
	s->s_store_id = store_new_sid(b->b_store);
	if ((rc = persist_header(b, s)) != 0)
		goto fail;
	TAILQ_FOREACH(sub, &s->s_subs, ss_entry) {
		persist_sub_rec(&sb, sub);
		if ((rc = store_put_sub(b->b_store, s->s_store_id, &sb)) != 0)
			goto fail;
	}
	TAILQ_FOREACH(o, &s->s_inflight, so_entry)
		if ((rc = persist_out_put(b, s, o)) != 0)
			goto fail;
	TAILQ_FOREACH(o, &s->s_queue, so_entry)
		if (o->so_qos > 0 && (rc = persist_out_put(b, s, o)) != 0)
			goto fail;
	if (s->s_in_qos2 != NULL && s->s_nin_qos2 > 0)
		for (id = 1; id <= UINT16_MAX; id++)
			if ((s->s_in_qos2[id >> 3] & (1u << (id & 7))) &&
			    (rc = store_put_inq2(b->b_store, s->s_store_id,
			    (uint16_t)id)) != 0)
				goto fail;
	return;
fail:
	persist_failed(b, "session", rc);
}

void
persist_session_drop(struct broker *b, struct session *s)
{
	int rc;

	if ((rc = store_del_session(b->b_store, s->s_store_id)) != 0)
		persist_failed(b, "session removal", rc);
	s->s_store_id = 0;
}

void
persist_sub(struct broker *b, struct session *s, struct bytes_view filter,
    uint8_t qos)
{
	struct session_sub *sub;
	struct store_sub sb;
	int rc;

	if ((sub = session_sub_find(s, filter)) != NULL)
		persist_sub_rec(&sb, sub);	/* with its 5.0 options */
	else {
		memset(&sb, 0, sizeof(sb));
		sb.ssb_qos = qos;
		sb.ssb_filter = filter;
	}
	if ((rc = store_put_sub(b->b_store, s->s_store_id, &sb)) != 0)
		persist_failed(b, "subscription", rc);
}

void
persist_unsub(struct broker *b, struct session *s, struct bytes_view filter)
{
	int rc;

	if ((rc = store_del_sub(b->b_store, s->s_store_id, filter)) != 0)
		persist_failed(b, "unsubscription", rc);
}

void
persist_out(struct broker *b, struct session *s, struct session_out *o)
{
	int rc;

	if ((rc = persist_out_put(b, s, o)) != 0)
		persist_failed(b, "queued message", rc);
}

void
persist_released(struct broker *b, struct session *s, uint16_t id)
{
	struct session_out *o;

	for (o = session_inflight_first(s); o != NULL;
	    o = session_inflight_next(o))
		if (o->so_id == id) {
			if (o->so_store_seq != 0)
				persist_out(b, s, o);
			return;
		}
}

uint64_t
persist_ack_seq(struct session *s, int type, uint16_t id)
{
	struct session_out *o;

	for (o = session_inflight_first(s); o != NULL;
	    o = session_inflight_next(o))
		if (o->so_id == id)
			return o->so_store_seq;
	return 0;
}

void
persist_out_done(struct broker *b, struct session *s, uint64_t seq)
{
	int rc;

	if ((rc = store_del_out(b->b_store, s->s_store_id, seq)) != 0)
		persist_failed(b, "message removal", rc);
}

void
persist_inq2(struct broker *b, struct session *s, uint16_t id, int add)
{
	int rc;

	rc = add ? store_put_inq2(b->b_store, s->s_store_id, id) :
	    store_del_inq2(b->b_store, s->s_store_id, id);
	if (rc != 0)
		persist_failed(b, "QoS 2 id", rc);
}

/* --- commit -------------------------------------------------------------- */

int
persist_pending(const struct broker *b)
{
	return b->b_store != NULL && store_pending(b->b_store);
}

/*
 * The generation the newest mutations are in: the open batch's when it
 * holds any, else the one with the writer (0: all is durable).
 */
static uint64_t
persist_newest(struct broker *b)
{
	if (store_pending(b->b_store))
		return b->b_store_gen;
	return b->b_store_inflight;
}

void
persist_hold(struct client *c)
{
	struct broker *b = c->c_broker;
	uint64_t g = persist_newest(b);

	/*
	 * Not only the open batch: an ack repeated for what is still with
	 * the writer (a QoS 2 PUBLISH sent again) waits for it too.
	 */
	if (g == 0)
		return;
	/* The open batch may empty (a delivery acked within it cancels
	 * its record): still closed, so that c is answered. */
	if (g == b->b_store_gen)
		b->b_store_asked = 1;
	persist_unhold(c);
	c->c_store_wait = 1;
	c->c_store_gen = g;
	TAILQ_INSERT_TAIL(&b->b_store_waiters, c, c_store_entry);
}

int
persist_waiting(const struct client *c)
{
	return c->c_store_wait &&
	    c->c_store_gen > c->c_broker->b_store_durable;
}

void
persist_unhold(struct client *c)
{
	if (!c->c_store_wait)
		return;
	TAILQ_REMOVE(&c->c_broker->b_store_waiters, c, c_store_entry);
	c->c_store_wait = 0;
}

uint64_t
persist_gen(struct broker *b)
{
	if (b->b_store == NULL)
		return 0;
	b->b_store_asked = 1;
	return b->b_store_gen;
}

uint64_t
persist_durable_gen(const struct broker *b)
{
	return b->b_store == NULL ? 0 : b->b_store_durable;
}

/* Every batch up to gen is durable: its waiters go, the hook is told. */
static void
persist_durable(struct broker *b, uint64_t gen)
{
	struct client *c, *next;

	b->b_store_durable = gen;
	for (c = TAILQ_FIRST(&b->b_store_waiters); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_store_entry);
		if (c->c_store_gen > gen)
			continue;
		persist_unhold(c);
		client_dirty(c);
	}
	if (b->b_hooks.bh_durable != NULL)
		b->b_hooks.bh_durable(b->b_hooks.bh_arg, gen);
}

/*
 * Batch gen was not stored (err says why).  The open batch was built on
 * it (a session's records after its header, say): it goes too, and its
 * generation with it.  Nothing either carried is ever acknowledged:
 * the clients owed an ack lose their output and their connection, and
 * each publisher sends again; the hook is told each generation.
 */
static void
persist_failed_gen(struct broker *b, uint64_t gen, const char *err)
{
	struct client *c;
	uint64_t last = gen;
	size_t n = 0;

	b->b_store_fails++;
	if (b->b_hooks.bh_store_failed != NULL)
		b->b_hooks.bh_store_failed(b->b_hooks.bh_arg, gen);
	if (b->b_store_gen > gen && (store_pending(b->b_store) ||
	    b->b_store_asked)) {
		last = b->b_store_gen++;
		b->b_store_asked = 0;
		store_discard(b->b_store);
		if (b->b_hooks.bh_store_failed != NULL)
			b->b_hooks.bh_store_failed(b->b_hooks.bh_arg, last);
	} else if (b->b_store_gen == gen)
		b->b_store_gen++;
	/* A close may publish a will into a new batch: from the head. */
again:
	TAILQ_FOREACH(c, &b->b_store_waiters, c_store_entry) {
		if (c->c_store_gen > last)
			continue;
		persist_unhold(c);
		bytes_w_reset(&c->c_out);
		n++;
		client_close_kind(c, 1, "data_dir", "data_dir: not stored, "
		    "acks withheld");
		goto again;
	}
	b->b_stats.bs_store_refused += n;
	log_rate_warnx(&persist_commit_lr, "data_dir: batch not stored: %s; "
	    "%zu clients disconnected without its acks", err, n);
}

/* The writer's outcome, if it is done (wait: until it is). */
static void
persist_reap(struct broker *b, int wait)
{
	char err[512];
	uint64_t gen;
	int rc;

	if (store_reap(b->b_store, wait, &rc, err, sizeof(err)) != 1)
		return;
	gen = b->b_store_inflight;
	b->b_store_inflight = 0;
	if (rc == 0)
		persist_durable(b, gen);
	else
		persist_failed_gen(b, gen, err);
}

void
persist_kick(struct broker *b)
{
	char err[512];
	int rc;

	if (b->b_store == NULL || store_busy(b->b_store))
		return;
	if (store_pending(b->b_store)) {
		rc = store_submit(b->b_store, err, sizeof(err));
		if (rc == 1) {
			b->b_store_inflight = b->b_store_gen++;
			b->b_store_asked = 0;
		} else if (rc != 0) {
			/* Failed before it was handed: the batch is gone. */
			store_discard(b->b_store);
			persist_failed_gen(b, b->b_store_gen, err);
		}
		return;
	}
	/* Empty, asked for, nothing with the writer: durable as it is. */
	if (b->b_store_asked) {
		b->b_store_asked = 0;
		persist_durable(b, b->b_store_gen++);
	}
}

/* Called on the writer thread: wakes the loop (ev_async is safe so). */
static void
persist_notify(void *arg)
{
	struct broker *b = arg;

	ev_async_send(b->b_loop, &b->b_store_async);
}

static void
persist_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct broker *b = container_of(w, struct broker, b_store_async);

	if (b->b_store == NULL)
		return;
	persist_reap(b, 0);
	/* What gathered meanwhile goes now (prepare would too). */
	persist_kick(b);
}

int
persist_commit(struct broker *b)
{
	uint64_t fails;

	if (b->b_store == NULL)
		return 0;
	fails = b->b_store_fails;
	for (;;) {
		if (store_busy(b->b_store)) {
			persist_reap(b, 1);
			continue;
		}
		if (!store_pending(b->b_store) && !b->b_store_asked)
			break;
		persist_kick(b);
	}
	return b->b_store_fails == fails ? 0 : -1;
}
