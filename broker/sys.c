/*
 * $SYS/broker/...: statistics published every sys_interval as retained
 * QoS 0 messages, under mosquitto's names so that its dashboards and
 * scripts read them:
 *
 *	version, uptime ("N seconds")
 *	clients/connected (and clients/active, its old name),
 *	clients/disconnected, clients/total, clients/maximum
 *	messages/received, messages/sent          (every packet type)
 *	publish/messages/received, .../sent, .../dropped
 *	bytes/received, bytes/sent
 *	subscriptions/count, retained messages/count
 *
 * The first set goes out when the broker starts.
 */
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "broker/broker_int.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION	"0"
#endif

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
	size_t connected = 0;
	struct client *c;
	char buf[64];

	TAILQ_FOREACH(c, &b->b_clients, c_entry)
		if (c->c_state == CLIENT_CONNECTED)
			connected++;
	sys_put(b, "version", "cairn-broker " CAIRN_VERSION);
	snprintf(buf, sizeof(buf), "%llu seconds", (unsigned long long)
	    (ev_now(b->b_loop) - b->b_started));
	sys_put(b, "uptime", buf);
	sys_put_u64(b, "clients/connected", connected);
	sys_put_u64(b, "clients/active", connected);
	sys_put_u64(b, "clients/disconnected",
	    sessions > connected ? sessions - connected : 0);
	sys_put_u64(b, "clients/total", sessions);
	sys_put_u64(b, "clients/maximum", st->bs_clients_max);
	sys_put_u64(b, "messages/received", st->bs_msgs_received);
	sys_put_u64(b, "messages/sent", st->bs_msgs_sent);
	sys_put_u64(b, "publish/messages/received", st->bs_pub_received);
	sys_put_u64(b, "publish/messages/sent", st->bs_pub_sent);
	sys_put_u64(b, "publish/messages/dropped", st->bs_pub_dropped);
	sys_put_u64(b, "bytes/received", st->bs_bytes_received);
	sys_put_u64(b, "bytes/sent", st->bs_bytes_sent);
	sys_put_u64(b, "subscriptions/count", router_count(b->b_router));
	sys_put_u64(b, "retained messages/count", retain_count(b->b_retain));
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
	ev_timer_init(&b->b_sys_w, sys_on_timer, every, every);
	ev_timer_start(b->b_loop, &b->b_sys_w);
	sys_publish(b);
}

void
sys_stop(struct broker *b)
{
	if (ev_is_active(&b->b_sys_w))
		ev_timer_stop(b->b_loop, &b->b_sys_w);
}
