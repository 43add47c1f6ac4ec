/*
 * $SYS/broker/...: statistics published every sys_interval as retained
 * QoS 0 messages, under mosquitto's names so that its dashboards and
 * scripts read them:
 *
 *	version, uptime ("N seconds")
 *	clients/connected (and clients/active, its old name),
 *	clients/disconnected (and clients/inactive, its old name),
 *	clients/total, clients/maximum, clients/expired
 *	messages/received, messages/sent          (every packet type)
 *	messages/stored              (queued, in flight and retained)
 *	publish/messages/received, .../sent, .../dropped
 *	publish/bytes/received, publish/bytes/sent    (payloads)
 *	bytes/received, bytes/sent
 *	subscriptions/count, shared_subscriptions/count,
 *	retained messages/count
 *	store/messages/count, store/messages/bytes   (queued and in flight)
 *	heap/current, heap/maximum  (glibc's mallinfo2; the maximum is the
 *	                             highest seen at a snapshot)
 *	load/{messages,bytes,publish}/{received,sent}/{1min,5min,15min},
 *	load/publish/dropped/..., load/connections/..., load/sockets/...
 *	    per minute, decayed as mosquitto's are: each interval moves the
 *	    average towards the interval's rate by 1 - exp(-dt / window)
 *
 *
 * and, where mosquitto has no name, Cairn's memory snapshot (stats.h)
 * under the same tree:
 *
 *	subscriptions/bytes, subscriptions/refused    (at a byte cap)
 *	retained messages/bytes
 *	clients/persistent
 *	store/messages/dropped/<limit>  (max_queued_messages, ...)
 *	store/sessions/bytes, store/input/bytes (partial packets),
 *	store/output/bytes (unwritten)
 *	cluster/claims/count, .../bytes; cluster/tombstones/...,
 *	cluster/forward/messages, .../bytes       (with a cluster)
 *
 * The first set goes out when the broker starts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/node.h"
#include "broker/stats.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION	"0"
#endif

/* The load averages: 8 counters, 3 windows each. */
#define SYS_NLOAD	8
static const char *const sys_load_names[SYS_NLOAD] = {
	"messages/received", "messages/sent", "bytes/received", "bytes/sent",
	"publish/received", "publish/sent", "publish/dropped", "connections",
};
static const struct {
	const char	*name;
	double		 secs;
} sys_windows[3] = { { "1min", 60 }, { "5min", 300 }, { "15min", 900 } };

struct sys_load {
	ev_tstamp	sl_last;		/* the previous sample */
	uint64_t	sl_prev[SYS_NLOAD + 1];	/* + sockets */
	double		sl_avg[SYS_NLOAD + 1][3];
	size_t		sl_heap_max;
};

static void
sys_load_sample(const struct broker_stats *st, uint64_t v[SYS_NLOAD + 1])
{
	v[0] = st->bs_msgs_received;
	v[1] = st->bs_msgs_sent;
	v[2] = st->bs_bytes_received;
	v[3] = st->bs_bytes_sent;
	v[4] = st->bs_pub_received;
	v[5] = st->bs_pub_sent;
	v[6] = st->bs_pub_dropped;
	v[7] = st->bs_connects;
	v[8] = st->bs_sockets;
}

static void
sys_put(struct broker *b, const char *name, const char *value)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "$SYS/broker/%s", name);
	(void)broker_publish(b, bytes_view_of(topic, strlen(topic)),
	    bytes_view_of(value, strlen(value)), 0, 1);
}

static void
sys_put_u64(struct broker *b, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	sys_put(b, name, buf);
}

void
sys_publish(struct broker *b)
{
	const struct broker_stats *st = &b->b_stats;
	size_t sessions = session_table_count(b->b_sessions);
	size_t connected;
	struct broker_mem m;
	struct sys_load *sl = b->b_sys_load;
	uint64_t now_v[SYS_NLOAD + 1];
	double dt, rate, k;
	size_t i, j;
	char buf[64], name[64];

	broker_mem_get(b, &m);
	if (sl != NULL) {
		sys_load_sample(st, now_v);
		dt = ev_now(b->b_loop) - sl->sl_last;
		for (i = 0; i <= SYS_NLOAD && dt > 0; i++) {
			rate = (double)(now_v[i] - sl->sl_prev[i]) * 60.0 / dt;
			for (j = 0; j < 3; j++) {
				k = exp(-dt / sys_windows[j].secs);
				sl->sl_avg[i][j] = rate +
				    k * (sl->sl_avg[i][j] - rate);
			}
			sl->sl_prev[i] = now_v[i];
		}
		if (dt > 0)
			sl->sl_last = ev_now(b->b_loop);
		if (m.bm_heap_ok && m.bm_heap > sl->sl_heap_max)
			sl->sl_heap_max = m.bm_heap;
		for (i = 0; i <= SYS_NLOAD; i++)
			for (j = 0; j < 3; j++) {
				snprintf(name, sizeof(name), "load/%s/%s",
				    i < SYS_NLOAD ? sys_load_names[i] :
				    "sockets", sys_windows[j].name);
				snprintf(buf, sizeof(buf), "%.2f",
				    sl->sl_avg[i][j]);
				sys_put(b, name, buf);
			}
		if (m.bm_heap_ok)
			sys_put_u64(b, "heap/maximum", sl->sl_heap_max);
	}
	connected = m.bm_online;
	sys_put(b, "version", "cairn-broker " CAIRN_VERSION);
	snprintf(buf, sizeof(buf), "%llu seconds", (unsigned long long)
	    (ev_now(b->b_loop) - b->b_started));
	sys_put(b, "uptime", buf);
	sys_put_u64(b, "clients/connected", connected);
	sys_put_u64(b, "clients/active", connected);
	sys_put_u64(b, "clients/disconnected",
	    sessions > connected ? sessions - connected : 0);
	sys_put_u64(b, "clients/inactive",
	    sessions > connected ? sessions - connected : 0);
	sys_put_u64(b, "clients/total", sessions);
	sys_put_u64(b, "clients/maximum", st->bs_clients_max);
	sys_put_u64(b, "messages/received", st->bs_msgs_received);
	sys_put_u64(b, "messages/sent", st->bs_msgs_sent);
	sys_put_u64(b, "messages/stored", m.bm_queued + m.bm_retained);
	sys_put_u64(b, "publish/bytes/received",
	    st->bs_pub_bytes_received_qos[0] +
	    st->bs_pub_bytes_received_qos[1] +
	    st->bs_pub_bytes_received_qos[2]);
	sys_put_u64(b, "publish/bytes/sent", st->bs_pub_bytes_sent_qos[0] +
	    st->bs_pub_bytes_sent_qos[1] + st->bs_pub_bytes_sent_qos[2]);
	sys_put_u64(b, "publish/messages/received", st->bs_pub_received);
	sys_put_u64(b, "publish/messages/sent", st->bs_pub_sent);
	sys_put_u64(b, "publish/messages/dropped", st->bs_pub_dropped);
	sys_put_u64(b, "bytes/received", st->bs_bytes_received);
	sys_put_u64(b, "bytes/sent", st->bs_bytes_sent);
	sys_put_u64(b, "subscriptions/count", router_count(b->b_router));
	sys_put_u64(b, "shared_subscriptions/count",
	    router_shared_count(b->b_router));
	sys_put_u64(b, "retained messages/count", m.bm_retained);
	sys_put_u64(b, "retained messages/bytes", m.bm_retained_bytes);
	sys_put_u64(b, "store/messages/count", m.bm_queued);
	sys_put_u64(b, "store/messages/bytes", m.bm_queued_bytes);
	if (m.bm_heap_ok)
		sys_put_u64(b, "heap/current", m.bm_heap);
	sys_put_u64(b, "subscriptions/bytes", m.bm_sub_bytes);
	sys_put_u64(b, "subscriptions/refused", m.bm_sub_refused);
	sys_put_u64(b, "clients/persistent", m.bm_persistent);
	sys_put_u64(b, "clients/expired", m.bm_expired);
	sys_put_u64(b, "store/sessions/bytes", m.bm_session_bytes);
	sys_put_u64(b, "store/input/bytes", m.bm_input_bytes);
	sys_put_u64(b, "store/output/bytes", m.bm_output_bytes);
	sys_put_u64(b, "store/messages/dropped/max_queued_messages",
	    m.bm_drop_messages);
	sys_put_u64(b, "store/messages/dropped/max_queued_bytes",
	    m.bm_drop_bytes);
	sys_put_u64(b, "store/messages/dropped/max_queued_bytes_total",
	    m.bm_drop_total);
	sys_put_u64(b, "store/messages/dropped/max_output_buffer",
	    m.bm_drop_output);
	sys_put_u64(b, "store/messages/dropped/max_output_bytes_total",
	    m.bm_drop_output_total);
	sys_put_u64(b, "store/messages/dropped/expired", m.bm_drop_expired);
	if (!m.bm_cluster)
		return;
	sys_put_u64(b, "cluster/claims/count", m.bm_claims);
	sys_put_u64(b, "cluster/claims/bytes", m.bm_claim_bytes);
	sys_put_u64(b, "cluster/tombstones/count", m.bm_tombstones);
	sys_put_u64(b, "cluster/tombstones/bytes", m.bm_tombstone_bytes);
	sys_put_u64(b, "cluster/forward/messages", m.bm_forward);
	sys_put_u64(b, "cluster/forward/bytes", m.bm_forward_bytes);
}

static void
sys_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	sys_publish(container_of(w, struct broker, b_sys_w));
}

void
sys_start(struct broker *b)
{
	ev_tstamp every = (ev_tstamp)b->b_conf->bc_sys_interval_ms / 1000.0;

	if (b->b_conf->bc_sys_interval_ms == 0)
		return;
	/* Without memory the load lines are left out, nothing else. */
	if ((b->b_sys_load = calloc(1, sizeof(*b->b_sys_load))) != NULL) {
		b->b_sys_load->sl_last = ev_now(b->b_loop);
		sys_load_sample(&b->b_stats, b->b_sys_load->sl_prev);
	}
	ev_timer_init(&b->b_sys_w, sys_on_timer, every, every);
	ev_timer_start(b->b_loop, &b->b_sys_w);
	sys_publish(b);
}

void
sys_stop(struct broker *b)
{
	if (ev_is_active(&b->b_sys_w))
		ev_timer_stop(b->b_loop, &b->b_sys_w);
	free(b->b_sys_load);
	b->b_sys_load = NULL;
}
