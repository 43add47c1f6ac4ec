/*
 * SUBSCRIBE -> SUBACK and UNSUBSCRIBE -> UNSUBACK (MQTT 3.1.1 sections
 * 3.8 and 3.10).  Each filter is granted min(requested, max_qos) or
 * refused with 0x80: over max_topic_levels, a $share filter with a bad
 * group or filter, a new one past max_subscriptions, or no memory.  The
 * SUBACK goes first, then the retained messages of each granted filter,
 * RETAIN set, at min(granted, published) QoS, also for a filter that
 * was already subscribed [MQTT-3.8.4-3].  Shared subscriptions get no
 * retained messages (as MQTT 5 rules for them).
 *
 * The keys shared_subscriptions and wildcard_subscriptions false refuse
 * a $share filter (0x9E at 5.0, 0x80 at 3.1.x) and one with '+' or '#'
 * (0xA2, 0x80) per filter, as EMQX does: the spec also allows a
 * DISCONNECT for them (3.2.2.3.11, .13), but the other filters of the
 * packet need not be lost.  subscription_identifiers false: a 5.0
 * SUBSCRIBE with one gets DISCONNECT 0xA1 (3.2.2.3.12).
 *
 * MQTT 5.0 clients get reason codes per filter instead of 0x80: 0x8F
 * (topic levels, a bad $share), 0x97 (max_subscriptions, the byte caps,
 * memory), 0x87 for a filter naming one topic the ACL never lets the
 * client read; and per filter in UNSUBACK, 0x11 for one not subscribed.
 * The options (no local, retain as published, retain handling) and the
 * subscription identifier are kept with the subscription (core/); retain
 * handling decides whether retained messages follow the SUBACK, and they
 * carry the identifier.  No local on a $share filter is DISCONNECT 0x82.
 *
 * A filter repeated in one SUBSCRIBE is applied in order, as a sequence
 * of SUBSCRIBEs would be [MQTT-3.8.4-4], so the last occurrence's QoS
 * is the one granted, and each occurrence gets its own return code; its
 * retained messages are sent once, at that last QoS (mosquitto sends
 * them once per occurrence, which is what let one packet of 20,000 "#"
 * filters queue 20,000 copies of the store).  Subscribing a filter
 * whose retained messages are still being sent starts them over.
 *
 * No client's request holds the loop.  A packet is applied filter by
 * filter for at most SUB_SLICE_NS (shared by every packet that reads
 * start in one loop iteration); what is left is copied and applied
 * in further slices, one per loop iteration, from an ev_check watcher
 * (an ev_idle one keeps the loop from sleeping meanwhile), while the
 * client's later input waits (c_paused), so packets still take effect
 * in order.  Retained messages are then sent in slices too, by a cursor
 * per filter over the retained index (retain.h), and only while the
 * client keeps up: while its output buffer is under max_output_buffer
 * (and the total of all under max_output_bytes_total) and at most
 * SUB_QUEUE_AHEAD deliveries wait in its session, so QoS 0
 * copies are not dropped and QoS 1/2 ones wait for the in-flight window
 * rather than overflow the queue.  When the client falls behind the
 * watchers stop, and client_pump() wakes them (subscribe_resume()) once
 * it has sent what was queued.  A retained message set or cleared after
 * the SUBACK is not sent as retained: the subscriber had it live.  A
 * client that goes away loses what was still to be sent.
 *
 * SUBSCRIBE is not checked against the ACL (mosquitto's acl_file
 * grants every subscription); each delivery is (broker_deliver()).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/clock.h"
#include "common/container.h"
#include "common/err.h"
#include "common/log.h"

/* Work for one client per loop iteration (and per packet read). */
#define SUB_SLICE_NS		500000
/* Filters applied, or retained steps taken, between clock reads. */
#define SUB_CLOCK_EVERY		16
/* Index nodes one retained step may visit. */
#define SUB_WALK_BUDGET		64
/* Deliveries waiting in the session before retained ones pause. */
#define SUB_QUEUE_AHEAD		16

/* One filter's retained messages, to send. */
struct sub_retained {
	TAILQ_ENTRY(sub_retained)	 sr_entry;
	struct retain_index_cursor	*sr_cur;	/* NULL: not started */
	uint8_t				 sr_qos;	/* granted */
	uint32_t			 sr_sub_id;	/* 5.0; 0: none */
	size_t				 sr_len;
	char				 sr_filter[];	/* not NUL-terminated */
};
TAILQ_HEAD(sub_retainedq, sub_retained);

/* A client's work in slices (c->c_sub). */
struct sub_work {
	struct client		*sw_client;
	ev_check		 sw_check_w;	/* one slice per iteration */
	ev_idle			 sw_idle_w;	/* no sleeping meanwhile */
	/* The packet being applied; sw_type 0: none. */
	int			 sw_type;	/* MQTT_SUBSCRIBE, _UNSUBSCRIBE */
	uint16_t		 sw_id;
	uint32_t		 sw_sub_id;	/* 5.0 subscription id; 0: none */
	uint8_t			*sw_list;	/* what was left of it, owned */
	struct bytes_view	 sw_rest;	/* into sw_list */
	uint8_t			*sw_codes;	/* SUBACK: sw_count codes */
	size_t			 sw_count;
	size_t			 sw_done;	/* filters applied */
	/* Granted by the packet being applied: sent after its SUBACK. */
	struct sub_retainedq	 sw_fresh;
	/* Being sent, in order. */
	struct sub_retainedq	 sw_retained;
};

static struct log_rate sub_refused_lr = LOG_RATE_INIT(10);
static struct log_rate sub_nomem_lr = LOG_RATE_INIT(10);

static void	sub_on_check(struct ev_loop *, ev_check *, int);
static void	sub_on_idle(struct ev_loop *, ev_idle *, int);
static int	sub_finish(struct client *, struct sub_work *);

static uint64_t
sub_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1 if a (valid) filter holds '+' or '#': they are only whole levels. */
static int
sub_has_wildcard(struct bytes_view filter)
{
	return memchr(filter.p, '+', filter.len) != NULL ||
	    memchr(filter.p, '#', filter.len) != NULL;
}

/*
 * The SUBACK code for one filter, subscribing it when granted; *retained
 * says whether its retained messages are to be sent (retain handling,
 * never for $share).  opt is the requested QoS (3.1.x) or the 5.0
 * options byte.
 */
static uint8_t
subscribe_one(struct client *c, struct bytes_view filter, uint8_t opt,
    uint32_t sub_id, int *retained)
{
	struct sub_opts o;
	uint8_t qos = opt & MQTT_SUBOPT_QOS_MASK;
	int was_new = 0;
	struct broker *b = c->c_broker;
	const struct broker_conf *conf = b->b_conf;
	struct session *s = c->c_session;
	struct bytes_view group, real;
	size_t levels;
	int rc, sh;

	levels = mqtt_topic_levels(filter);
	if ((sh = mqtt_topic_share_parse(filter, &group, &real)) == 1)
		levels = mqtt_topic_levels(real);
	else
		real = filter;
	/* The features the broker's keys may turn off (CONNACK says so). */
	if (sh != 0 && !conf->bc_shared_subscriptions)
		return c->c_level == MQTT_LEVEL_5 ?
		    MQTT5_RC_SHARED_NOT_SUPPORTED : MQTT_SUBACK_FAILURE;
	if (!conf->bc_wildcard_subscriptions && sub_has_wildcard(real))
		return c->c_level == MQTT_LEVEL_5 ?
		    MQTT5_RC_WILDCARDS_NOT_SUPPORTED : MQTT_SUBACK_FAILURE;
	if (levels > conf->bc_max_topic_levels) {
		log_rate_info(&sub_refused_lr, "client %s: filter %.*s "
		    "refused: over max_topic_levels %u", c->c_id,
		    (int)filter.len, (const char *)filter.p,
		    conf->bc_max_topic_levels);
		return c->c_level == MQTT_LEVEL_5 ?
		    MQTT5_RC_TOPIC_FILTER_INVALID : MQTT_SUBACK_FAILURE;
	}
	/* The count first: the lookup is a walk of the session's list. */
	if (s->s_nsubs >= conf->bc_max_subscriptions &&
	    session_sub_find(s, filter) == NULL) {
		log_rate_info(&sub_refused_lr, "client %s: filter %.*s "
		    "refused: max_subscriptions %u reached", c->c_id,
		    (int)filter.len, (const char *)filter.p,
		    conf->bc_max_subscriptions);
		return c->c_level == MQTT_LEVEL_5 ? MQTT5_RC_QUOTA_EXCEEDED :
		    MQTT_SUBACK_FAILURE;
	}
	/* 5.0: a filter naming one topic the client may never read is
	 * refused (0x87); 3.1.1 grants it and filters per message, as
	 * mosquitto does. */
	if (c->c_level == MQTT_LEVEL_5 && sh != CAIRN_ERR_PROTO &&
	    mqtt_topic_name_valid(real) &&
	    !broker_acl(b, c->c_id, c->c_username, real, BROKER_ACL_READ))
		return MQTT5_RC_NOT_AUTHORIZED;
	if (qos > conf->bc_max_qos)
		qos = (uint8_t)conf->bc_max_qos;
	memset(&o, 0, sizeof(o));
	o.qos = qos;
	if (c->c_level == MQTT_LEVEL_5) {
		o.no_local = (opt & MQTT_SUBOPT_NO_LOCAL) != 0;
		o.rap = (opt & MQTT_SUBOPT_RAP) != 0;
		o.rh = (opt & MQTT_SUBOPT_RH_MASK) >> MQTT_SUBOPT_RH_SHIFT;
		o.sub_id = sub_id;
	}
	if ((rc = router_subscribe_opts(b->b_router, s, filter, &o,
	    &was_new)) != 0) {
		log_rate_info(&sub_refused_lr, "client %s: filter %.*s "
		    "refused: %s", c->c_id, (int)filter.len,
		    (const char *)filter.p, rc == CAIRN_ERR_PROTO ?
		    "bad $share group or filter" : cairn_strerror(rc));
		if (c->c_level != MQTT_LEVEL_5)
			return MQTT_SUBACK_FAILURE;
		return rc == CAIRN_ERR_PROTO ? MQTT5_RC_TOPIC_FILTER_INVALID :
		    MQTT5_RC_QUOTA_EXCEEDED;
	}
	*retained = router_sub_gets_retained(filter, &o, was_new);
	if (b->b_store != NULL && s->s_store_id != 0)
		persist_sub(b, s, filter, qos);
	return qos;
}

/*
 * Retained deliveries.
 */

static void
sub_retained_free(struct sub_retained *sr)
{
	retain_cursor_free(sr->sr_cur);
	free(sr);
}

static struct sub_retained *
sub_retained_find(struct sub_retainedq *q, struct bytes_view filter)
{
	struct sub_retained *sr;

	TAILQ_FOREACH(sr, q, sr_entry)
		if (sr->sr_len == filter.len &&
		    memcmp(sr->sr_filter, filter.p, filter.len) == 0)
			return sr;
	return NULL;
}

/* Drops filter's retained deliveries, queued or under way. */
static void
sub_retained_drop(struct sub_retainedq *q, struct bytes_view filter)
{
	struct sub_retained *sr;

	if ((sr = sub_retained_find(q, filter)) != NULL) {
		TAILQ_REMOVE(q, sr, sr_entry);
		sub_retained_free(sr);
	}
}

/*
 * Granted `filter` at qos in the packet being applied: its retained
 * messages go after the SUBACK, once, at the last QoS granted.
 */
static void
sub_fresh_add(struct client *c, struct sub_work *sw, struct bytes_view filter,
    uint8_t qos)
{
	struct sub_retained *sr;

	if ((sr = sub_retained_find(&sw->sw_fresh, filter)) != NULL) {
		sr->sr_qos = qos;
		sr->sr_sub_id = sw->sw_sub_id;
		return;
	}
	/* Under way from an earlier SUBSCRIBE: start over [MQTT-3.8.4-3]. */
	sub_retained_drop(&sw->sw_retained, filter);
	if (filter.len > SIZE_MAX - sizeof(*sr) ||
	    (sr = malloc(sizeof(*sr) + filter.len)) == NULL) {
		log_rate_warnx(&sub_nomem_lr, "client %s: filter %.*s: out "
		    "of memory: its retained messages are not sent", c->c_id,
		    (int)filter.len, (const char *)filter.p);
		return;
	}
	sr->sr_cur = NULL;
	sr->sr_qos = qos;
	sr->sr_sub_id = sw->sw_sub_id;
	sr->sr_len = filter.len;
	memcpy(sr->sr_filter, filter.p, filter.len);
	TAILQ_INSERT_TAIL(&sw->sw_fresh, sr, sr_entry);
}

/* 1 while c cannot take another delivery without dropping or queueing. */
static int
sub_behind(const struct client *c)
{
	const struct session *s = c->c_session;

	/* client_out_over(): c has a backlog while the total is over
	 * max_output_bytes_total, so its QoS 0 copies would be dropped; its
	 * backlog's flush wakes us (subscribe_resume()). */
	return c->c_broken != NULL || s == NULL ||
	    s->s_queued >= SUB_QUEUE_AHEAD ||
	    c->c_out.len >= c->c_broker->b_conf->bc_max_output_buffer ||
	    client_out_over(c);
}

enum sub_run {
	SUB_RUN_DONE,		/* nothing left */
	SUB_RUN_MORE,		/* the slice ended: go on next iteration */
	SUB_RUN_BEHIND,		/* the client must drain first */
};

/* Sends retained messages until the deadline or the client falls behind. */
static enum sub_run
sub_retained_run(struct client *c, struct sub_work *sw, uint64_t deadline)
{
	struct broker *b = c->c_broker;
	struct sub_retained *sr;
	struct msg *m;
	size_t budget;
	unsigned int steps = 0;

	while ((sr = TAILQ_FIRST(&sw->sw_retained)) != NULL) {
		if (c->c_state != CLIENT_CONNECTED)
			return SUB_RUN_DONE;
		if (sub_behind(c))
			return SUB_RUN_BEHIND;
		if (steps++ % SUB_CLOCK_EVERY == 0 && sub_now_ns() >= deadline)
			return SUB_RUN_MORE;
		if (sr->sr_cur == NULL && (sr->sr_cur = retain_cursor_new(
		    b->b_retain, bytes_view_of(sr->sr_filter,
		    sr->sr_len))) == NULL) {
			log_rate_warnx(&sub_nomem_lr, "client %s: filter "
			    "%.*s: out of memory: its retained messages are "
			    "not sent", c->c_id, (int)sr->sr_len,
			    sr->sr_filter);
			TAILQ_REMOVE(&sw->sw_retained, sr, sr_entry);
			sub_retained_free(sr);
			continue;
		}
		budget = SUB_WALK_BUDGET;
		if ((m = retain_cursor_next_at(b->b_retain, sr->sr_cur,
		    &budget, clock_ms())) != NULL)
			broker_deliver_retained_id(b, c->c_session, m,
			    m->m_qos < sr->sr_qos ? m->m_qos : sr->sr_qos,
			    sr->sr_sub_id);
		else if (retain_index_cursor_done(sr->sr_cur)) {
			TAILQ_REMOVE(&sw->sw_retained, sr, sr_entry);
			sub_retained_free(sr);
		}
	}
	return SUB_RUN_DONE;
}

/*
 * The client's work.
 */

static struct sub_work *
sub_work_get(struct client *c)
{
	struct sub_work *sw;

	if (c->c_sub != NULL)
		return c->c_sub;
	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return NULL;
	sw->sw_client = c;
	ev_check_init(&sw->sw_check_w, sub_on_check);
	ev_idle_init(&sw->sw_idle_w, sub_on_idle);
	TAILQ_INIT(&sw->sw_fresh);
	TAILQ_INIT(&sw->sw_retained);
	c->c_sub = sw;
	return sw;
}

static void
sub_work_free(struct client *c)
{
	struct sub_work *sw = c->c_sub;
	struct ev_loop *loop = c->c_broker->b_loop;
	struct sub_retained *sr;

	if (sw == NULL)
		return;
	ev_check_stop(loop, &sw->sw_check_w);
	ev_idle_stop(loop, &sw->sw_idle_w);
	while ((sr = TAILQ_FIRST(&sw->sw_fresh)) != NULL) {
		TAILQ_REMOVE(&sw->sw_fresh, sr, sr_entry);
		sub_retained_free(sr);
	}
	while ((sr = TAILQ_FIRST(&sw->sw_retained)) != NULL) {
		TAILQ_REMOVE(&sw->sw_retained, sr, sr_entry);
		sub_retained_free(sr);
	}
	free(sw->sw_list);
	free(sw->sw_codes);
	free(sw);
	c->c_sub = NULL;
}

/* Runs the slices from the next iteration on (run 1) or stops them. */
static void
sub_work_schedule(struct client *c, int run)
{
	struct sub_work *sw = c->c_sub;
	struct ev_loop *loop = c->c_broker->b_loop;

	if (run && !ev_is_active(&sw->sw_check_w)) {
		ev_check_start(loop, &sw->sw_check_w);
		ev_idle_start(loop, &sw->sw_idle_w);
	} else if (!run && ev_is_active(&sw->sw_check_w)) {
		ev_check_stop(loop, &sw->sw_check_w);
		ev_idle_stop(loop, &sw->sw_idle_w);
	}
}

/* After a slice: wait for the next iteration, for a drain, or free. */
static void
sub_work_settle(struct client *c, enum sub_run r)
{
	struct sub_work *sw = c->c_sub;

	if (sw == NULL)
		return;
	if (sw->sw_type == 0 && r == SUB_RUN_DONE &&
	    TAILQ_EMPTY(&sw->sw_retained) && TAILQ_EMPTY(&sw->sw_fresh)) {
		sub_work_free(c);
		return;
	}
	sub_work_schedule(c, sw->sw_type != 0 || r == SUB_RUN_MORE);
}

/*
 * Applies the filters left in sw->sw_rest (a view of the packet, or of
 * sw_list) until the deadline.  1 when the packet is done: its ack is
 * queued and its retained deliveries follow; 0 when filters are left.
 */
static int
sub_apply(struct client *c, struct sub_work *sw, uint64_t deadline)
{
	struct bytes_view filter;
	uint8_t qos, code;
	int more, retained = 0;

	for (;;) {
		/* Before the first filter too: see sub_start(). */
		if (sw->sw_done % SUB_CLOCK_EVERY == 0 &&
		    sub_now_ns() >= deadline)
			return sw->sw_rest.len == 0 ? sub_finish(c, sw) : 0;
		if (sw->sw_type == MQTT_SUBSCRIBE)
			more = sw->sw_done < sw->sw_count &&
			    mqtt_subscribe_next(&sw->sw_rest, &filter, &qos);
		else
			more = mqtt_unsubscribe_next(&sw->sw_rest, &filter);
		if (!more)
			break;
		if (sw->sw_type == MQTT_SUBSCRIBE) {
			/* qos: 5.0's options byte, 3.1.x's QoS. */
			code = subscribe_one(c, filter, qos, sw->sw_sub_id,
			    &retained);
			sw->sw_codes[sw->sw_done] = code;
			if (code < MQTT_SUBACK_FAILURE && retained)
				sub_fresh_add(c, sw, filter, code);
		} else {
			/* Unknown filters are fine: UNSUBACK all the same
			 * [MQTT-3.10.4-5]; 5.0 tells them apart (0x11). */
			sw->sw_codes[sw->sw_done] = router_unsubscribe(
			    c->c_broker->b_router, c->c_session, filter) == 0 ?
			    MQTT5_RC_SUCCESS : MQTT5_RC_NO_SUBSCRIPTION_EXISTED;
			if (sw->sw_codes[sw->sw_done] == MQTT5_RC_SUCCESS &&
			    c->c_broker->b_store != NULL &&
			    c->c_session->s_store_id != 0)
				persist_unsub(c->c_broker, c->c_session,
				    filter);
			sub_retained_drop(&sw->sw_retained, filter);
		}
		sw->sw_done++;
	}
	return sub_finish(c, sw);
}

/* The packet is applied: queues its ack; input may go on.  Returns 1. */
static int
sub_finish(struct client *c, struct sub_work *sw)
{
	struct sub_retained *sr;
	int rc;

	if (sw->sw_type == MQTT_SUBSCRIBE)
		rc = send_suback(c, sw->sw_id, sw->sw_codes, sw->sw_count);
	else
		rc = send_unsuback(c, sw->sw_id, sw->sw_codes, sw->sw_count);
	/* data_dir: the ack after the commit of what it acknowledges. */
	if (rc == 0 && c->c_broker->b_store != NULL)
		persist_hold(c);
	if (rc == 0)
		TAILQ_CONCAT(&sw->sw_retained, &sw->sw_fresh, sr_entry);
	while ((sr = TAILQ_FIRST(&sw->sw_fresh)) != NULL) {
		TAILQ_REMOVE(&sw->sw_fresh, sr, sr_entry);
		sub_retained_free(sr);
	}
	free(sw->sw_list);
	free(sw->sw_codes);
	sw->sw_list = NULL;
	sw->sw_codes = NULL;
	sw->sw_rest = bytes_view_of(NULL, 0);
	sw->sw_type = 0;
	c->c_paused = 0;
	return 1;
}

/*
 * Applies a (UN)SUBSCRIBE for one slice; if filters are left, keeps a
 * copy of them and holds c's input until a later slice finishes.
 */
static void
sub_start(struct client *c, int type, uint16_t id, struct bytes_view list,
    size_t count, uint32_t sub_id)
{
	struct broker *b = c->c_broker;
	struct sub_work *sw;
	uint64_t now = sub_now_ns();

	/*
	 * What reads start shares one slice per loop iteration, however
	 * many packets one read holds or clients send: past it, a packet
	 * waits for its client's own slice in the next iteration.
	 */
	if (b->b_sub_iter != ev_iteration(b->b_loop) || b->b_sub_until == 0) {
		b->b_sub_iter = ev_iteration(b->b_loop);
		b->b_sub_until = now + SUB_SLICE_NS;
	}
	if ((sw = sub_work_get(c)) == NULL) {
		client_close(c, 1, "out of memory for %sSUBSCRIBE",
		    type == MQTT_SUBSCRIBE ? "" : "UN");
		return;
	}
	if (sw->sw_type != 0) {
		/* Cannot happen: input waits while a packet is applied. */
		client_close(c, 1, "(UN)SUBSCRIBE while one is applied");
		return;
	}
	sw->sw_type = type;
	sw->sw_id = id;
	sw->sw_sub_id = sub_id;
	sw->sw_count = count;
	sw->sw_done = 0;
	sw->sw_rest = list;
	if ((sw->sw_codes = malloc(count)) == NULL) {
		sw->sw_type = 0;
		client_close(c, 1, "out of memory for %sSUBACK",
		    type == MQTT_SUBSCRIBE ? "" : "UN");
		return;
	}
	if (!sub_apply(c, sw, b->b_sub_until)) {
		/* The packet's buffer is the reader's: keep what is left. */
		if ((sw->sw_list = malloc(sw->sw_rest.len)) == NULL) {
			client_close(c, 1, "out of memory for SUBSCRIBE");
			return;
		}
		memcpy(sw->sw_list, sw->sw_rest.p, sw->sw_rest.len);
		sw->sw_rest = bytes_view_of(sw->sw_list, sw->sw_rest.len);
		c->c_paused = 1;
		sub_work_schedule(c, 1);
		return;
	}
	sub_work_settle(c, sub_retained_run(c, sw, b->b_sub_until));
}

/*
 * The 5.0 rule on a whole SUBSCRIBE before any filter is applied: no
 * "no local" on a shared subscription [MQTT-3.8.3-4] (0x82).  0, or -1
 * with c closed.
 */
static int
sub_check5(struct client *c, const struct mqtt_subscribe *p)
{
	struct bytes_view list = p->list, filter, group, real;
	uint8_t o;

	while (mqtt_subscribe_next(&list, &filter, &o))
		if ((o & MQTT_SUBOPT_NO_LOCAL) &&
		    mqtt_topic_share_parse(filter, &group, &real) == 1) {
			client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
			    "no local on a shared subscription");
			return -1;
		}
	return 0;
}

void
handle_subscribe(struct client *c, const struct mqtt_subscribe *p)
{
	/* 3.2.2.3.12: told unavailable in CONNACK, so a protocol error. */
	if (c->c_level == MQTT_LEVEL_5 &&
	    MQTT5_HAS(&p->props, MQTT5_PROP_SUB_ID) &&
	    !c->c_broker->b_conf->bc_subscription_identifiers) {
		client_disconnect(c, MQTT5_RC_SUB_IDS_NOT_SUPPORTED, 1,
		    "subscription identifier, and subscription_identifiers "
		    "is false");
		return;
	}
	if (c->c_level == MQTT_LEVEL_5 && sub_check5(c, p) != 0)
		return;
	sub_start(c, MQTT_SUBSCRIBE, p->id, p->list, p->count,
	    c->c_level == MQTT_LEVEL_5 ? p->props.sub_id : 0);
}

void
handle_unsubscribe(struct client *c, const struct mqtt_subscribe *p)
{
	sub_start(c, MQTT_UNSUBSCRIBE, p->id, p->list, p->count, 0);
}

static void
sub_on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct sub_work *sw = container_of(w, struct sub_work, sw_check_w);
	struct client *c = sw->sw_client;
	uint64_t deadline = sub_now_ns() + SUB_SLICE_NS;

	if (sw->sw_type != 0) {
		if (!sub_apply(c, sw, deadline))
			return;
		/* Later packets may close c, or free or replace c_sub. */
		client_input_resume(c);
		if (c->c_state == CLIENT_CLOSED || (sw = c->c_sub) == NULL ||
		    sw->sw_type != 0)
			return;
	}
	sub_work_settle(c, sub_retained_run(c, sw, deadline));
}

/* Only there so that the loop does not sleep while a slice is due. */
static void
sub_on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
}

void
subscribe_resume(struct client *c)
{
	struct sub_work *sw = c->c_sub;

	if (sw == NULL || sw->sw_type != 0 || TAILQ_EMPTY(&sw->sw_retained) ||
	    ev_is_active(&sw->sw_check_w) || sub_behind(c))
		return;
	sub_work_schedule(c, 1);
}

void
subscribe_cancel(struct client *c)
{
	sub_work_free(c);
	c->c_paused = 0;
}

void
subscribe_log_flush(void)
{
	(void)log_rate_flush(&sub_refused_lr, "refused filters");
	(void)log_rate_flush(&sub_nomem_lr, "retained sends lost to memory");
}
