/*
 * The broker node's HTTP endpoint (common/http.h), when http_listen is
 * set: what an operator, a load balancer, Prometheus or a Kubernetes
 * probe asks of one node.
 *
 *	/healthz	200 "ok": the loop runs
 *	/readyz		200 "ready", or 503 with the first reason: the
 *			MQTT listeners are not up yet, the node is not
 *			registered with its epmd, quorum (when one above 1
 *			is set) is not reached
 *	/metrics	Prometheus text format, rendered on scrape from the
 *			counters each layer keeps (plain increments on the
 *			hot path; nothing here runs between scrapes)
 *	/api/v1/status	this node in one JSON object, for the status page
 *	/api/v1/cluster	what `cairn cluster status` prints
 *	/api/v1/members	what `cairn members --json` prints
 *	/		the status page (status.html, built into the binary)
 *
 * Everything is read-only.  With http_auth every path but /healthz and
 * /readyz (probes carry no password) asks for HTTP basic credentials,
 * checked against password_file as a CONNECT's are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "agent/agent.h"
#include "broker/cluster/cluster.h"
#include "broker/cluster/membership.h"
#include "broker/net/broker_int.h"
#include "broker/node.h"
#include "broker/stats.h"
#include "common/http.h"
#include "common/json.h"

/* status.html, built in by embed.py (status_page.c). */
extern const char status_page_html[];
extern const size_t status_page_html_len;

#ifndef CAIRN_VERSION
#define CAIRN_VERSION	"0"
#endif

/*
 * The first reason the node is not ready, or NULL.  Listeners are up
 * once node_start() returned (it binds them before anything else).
 */
const char *
endpoint_not_ready(struct endpoint_ctx *e)
{
	struct agent *ag;

	if (!e->ec_started)
		return "listeners not up";
	if (e->ec_cluster == NULL || e->ec_membership == NULL)
		return NULL;
	if (!membership_registered(e->ec_membership))
		return "not registered with epmd";
	ag = membership_agent(e->ec_membership);
	if (e->ec_broker->b_conf->bc_quorum > 1 && ag != NULL &&
	    agent_get_state(ag) != AGENT_UP)
		return "quorum not reached";
	return NULL;
}

static void
prom_u64(struct bytes_w *w, const char *name, const char *type,
    const char *help, uint64_t v)
{
	http_prom_head(w, name, type, help);
	bytes_printf(w, "%s %llu\n", name, (unsigned long long)v);
}

struct peer_walk {
	struct bytes_w	*w;
	int		 what;
};

static void
metrics_peer(void *arg, const struct cluster_peer_info *pi)
{
	struct peer_walk *pw = arg;
	struct bytes_w *w = pw->w;

	switch (pw->what) {
	case 0:
		bytes_put_str(w, "cairn_cluster_peer_up{peer=\"");
		http_prom_label(w, pi->pi_node);
		bytes_put_str(w, "\",state=\"");
		http_prom_label(w, pi->pi_state);
		bytes_printf(w, "\"} %d\n", pi->pi_up);
		break;
	case 1:
		bytes_put_str(w, "cairn_cluster_peer_routes{peer=\"");
		http_prom_label(w, pi->pi_node);
		bytes_printf(w, "\"} %zu\n", pi->pi_routes);
		break;
	case 2:
		bytes_put_str(w, "cairn_cluster_forwards_pending{peer=\"");
		http_prom_label(w, pi->pi_node);
		bytes_printf(w, "\"} %zu\n", pi->pi_forward_pending);
		break;
	case 3:
		bytes_put_str(w, "cairn_cluster_forwards_dropped_total{peer=\"");
		http_prom_label(w, pi->pi_node);
		bytes_printf(w, "\"} %llu\n",
		    (unsigned long long)pi->pi_forward_dropped);
		break;
	case 4:
		if (pi->pi_rtt_ms < 0)
			break;
		bytes_put_str(w, "cairn_cluster_peer_rtt_seconds{peer=\"");
		http_prom_label(w, pi->pi_node);
		bytes_printf(w, "\"} %.6f\n", pi->pi_rtt_ms / 1000.0);
		break;
	}
}

static void
metrics_cluster(struct endpoint_ctx *e, struct bytes_w *w)
{
	static const double bounds[] = CLUSTER_RTT_BOUNDS;
	static const struct {
		const char *name, *type, *help;
	} heads[] = {
		{ "cairn_cluster_peer_up", "gauge",
		  "1 while the link to the peer is up" },
		{ "cairn_cluster_peer_routes", "gauge",
		  "Topic filters the peer announced" },
		{ "cairn_cluster_forwards_pending", "gauge",
		  "QoS 1/2 forwards to the peer waiting for their ack" },
		{ "cairn_cluster_forwards_dropped_total", "counter",
		  "Forwards to the peer lost at a limit" },
		{ "cairn_cluster_peer_rtt_seconds", "gauge",
		  "Smoothed forward round trip to the peer" },
	};
	const struct cluster_rtt *rt;
	struct peer_walk pw = { w, 0 };
	uint64_t cum = 0;
	size_t i;

	prom_u64(w, "cairn_cluster_peers_up", "gauge",
	    "Peers whose link is up", cluster_peers_up(e->ec_cluster));
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		http_prom_head(w, heads[i].name, heads[i].type, heads[i].help);
		pw.what = (int)i;
		cluster_peers_each(e->ec_cluster, metrics_peer, &pw);
	}
	rt = cluster_rtt_get(e->ec_cluster);
	http_prom_head(w, "cairn_cluster_forward_rtt_seconds", "histogram",
	    "Round trip of a QoS 1/2 forward to its ack, all peers");
	for (i = 0; i < CLUSTER_RTT_NBOUNDS; i++) {
		cum += rt->cr_bucket[i];
		bytes_printf(w, "cairn_cluster_forward_rtt_seconds_bucket"
		    "{le=\"%g\"} %llu\n", bounds[i] / 1000.0,
		    (unsigned long long)cum);
	}
	cum += rt->cr_bucket[CLUSTER_RTT_NBOUNDS];
	bytes_printf(w, "cairn_cluster_forward_rtt_seconds_bucket{le=\"+Inf\"}"
	    " %llu\ncairn_cluster_forward_rtt_seconds_sum %.6f\n"
	    "cairn_cluster_forward_rtt_seconds_count %llu\n",
	    (unsigned long long)cum, rt->cr_sum_ms / 1000.0,
	    (unsigned long long)rt->cr_count);
	if (e->ec_membership != NULL) {
		prom_u64(w, "cairn_epmd_registered", "gauge",
		    "1 while the local epmd holds this node's name",
		    (uint64_t)membership_registered(e->ec_membership));
		if (membership_agent(e->ec_membership) != NULL)
			agent_metrics(membership_agent(e->ec_membership), w);
	}
}

static int
metrics(struct endpoint_ctx *e, struct bytes_w *w)
{
	struct broker *b = e->ec_broker;
	const struct broker_stats *st = &b->b_stats;
	struct broker_mem m;
	const char *why;
	int q;

	broker_mem_get(b, &m);
	why = endpoint_not_ready(e);
	http_prom_head(w, "cairn_broker_info", "gauge",
	    "The broker's version and node name");
	bytes_put_str(w, "cairn_broker_info{version=\"" CAIRN_VERSION
	    "\",node=\"");
	http_prom_label(w, e->ec_cluster != NULL ?
	    cluster_node_name(e->ec_cluster) : "");
	bytes_put_str(w, "\"} 1\n");
	prom_u64(w, "cairn_ready", "gauge", "1 when /readyz says ready",
	    why == NULL);
	http_prom_head(w, "cairn_uptime_seconds", "gauge",
	    "Seconds since the broker started");
	bytes_printf(w, "cairn_uptime_seconds %.0f\n",
	    ev_now(b->b_loop) - b->b_started);
	prom_u64(w, "cairn_connections", "gauge", "Open MQTT connections",
	    m.bm_connections);
	prom_u64(w, "cairn_connections_max", "gauge",
	    "max_connections in effect", m.bm_max_connections);
	http_prom_head(w, "cairn_sessions", "gauge",
	    "Sessions by state (online: a connection attached)");
	bytes_printf(w, "cairn_sessions{state=\"online\"} %zu\n"
	    "cairn_sessions{state=\"offline\"} %zu\n", m.bm_online,
	    m.bm_sessions - m.bm_online);
	prom_u64(w, "cairn_sessions_persistent", "gauge",
	    "Sessions with clean session 0", m.bm_persistent);
	prom_u64(w, "cairn_subscriptions", "gauge", "Subscriptions",
	    m.bm_subs);
	prom_u64(w, "cairn_subscriptions_shared", "gauge",
	    "Of those, $share group memberships",
	    router_shared_count(b->b_router));
	http_prom_head(w, "cairn_routes", "gauge",
	    "Topic filters routed: local (this node's, announced to the "
	    "cluster) and remote (peers')");
	bytes_printf(w, "cairn_routes{kind=\"local\"} %zu\n"
	    "cairn_routes{kind=\"remote\"} %zu\n", m.bm_routes,
	    m.bm_peer_routes);
	http_prom_head(w, "cairn_messages_received_total", "counter",
	    "PUBLISH packets received from clients, by QoS");
	for (q = 0; q < 3; q++)
		bytes_printf(w, "cairn_messages_received_total{qos=\"%d\"} "
		    "%llu\n", q, (unsigned long long)st->bs_pub_received_qos[q]);
	http_prom_head(w, "cairn_messages_sent_total", "counter",
	    "PUBLISH packets sent to clients, by QoS");
	for (q = 0; q < 3; q++)
		bytes_printf(w, "cairn_messages_sent_total{qos=\"%d\"} %llu\n",
		    q, (unsigned long long)st->bs_pub_sent_qos[q]);
	http_prom_head(w, "cairn_publish_bytes_received_total", "counter",
	    "PUBLISH payload bytes received from clients, by QoS");
	for (q = 0; q < 3; q++)
		bytes_printf(w, "cairn_publish_bytes_received_total"
		    "{qos=\"%d\"} %llu\n", q,
		    (unsigned long long)st->bs_pub_bytes_received_qos[q]);
	http_prom_head(w, "cairn_publish_bytes_sent_total", "counter",
	    "PUBLISH payload bytes sent to clients, by QoS");
	for (q = 0; q < 3; q++)
		bytes_printf(w, "cairn_publish_bytes_sent_total{qos=\"%d\"} "
		    "%llu\n", q,
		    (unsigned long long)st->bs_pub_bytes_sent_qos[q]);
	prom_u64(w, "cairn_packets_received_total", "counter",
	    "MQTT packets received, every type", st->bs_msgs_received);
	prom_u64(w, "cairn_packets_sent_total", "counter",
	    "MQTT packets sent, every type", st->bs_msgs_sent);
	prom_u64(w, "cairn_bytes_received_total", "counter",
	    "Bytes read from MQTT connections", st->bs_bytes_received);
	prom_u64(w, "cairn_bytes_sent_total", "counter",
	    "Bytes written to MQTT connections", st->bs_bytes_sent);
	http_prom_head(w, "cairn_messages_dropped_total", "counter",
	    "Messages not delivered to a session, by the limit reached");
	bytes_printf(w,
	    "cairn_messages_dropped_total{reason=\"max_queued_messages\"} %llu\n"
	    "cairn_messages_dropped_total{reason=\"max_queued_bytes\"} %llu\n"
	    "cairn_messages_dropped_total{reason=\"max_queued_bytes_total\"} "
	    "%llu\n"
	    "cairn_messages_dropped_total{reason=\"max_output_buffer\"} %llu\n"
	    "cairn_messages_dropped_total{reason=\"max_output_bytes_total\"} "
	    "%llu\n",
	    (unsigned long long)m.bm_drop_messages,
	    (unsigned long long)m.bm_drop_bytes,
	    (unsigned long long)m.bm_drop_total,
	    (unsigned long long)m.bm_drop_output,
	    (unsigned long long)m.bm_drop_output_total);
	prom_u64(w, "cairn_queued_messages", "gauge",
	    "Messages queued or in flight, all sessions", m.bm_queued);
	prom_u64(w, "cairn_queued_bytes", "gauge",
	    "Bytes queued or in flight, all sessions", m.bm_queued_bytes);
	prom_u64(w, "cairn_retained_messages", "gauge", "Retained messages",
	    m.bm_retained);
	prom_u64(w, "cairn_retained_bytes", "gauge",
	    "Retained messages and their index, bytes", m.bm_retained_bytes);
	http_prom_head(w, "cairn_memory_bytes", "gauge",
	    "Bytes each store counts against its cap");
	bytes_printf(w, "cairn_memory_bytes{store=\"input\"} %zu\n"
	    "cairn_memory_bytes{store=\"output\"} %zu\n"
	    "cairn_memory_bytes{store=\"sessions\"} %zu\n"
	    "cairn_memory_bytes{store=\"subscriptions\"} %zu\n"
	    "cairn_memory_bytes{store=\"queued\"} %zu\n"
	    "cairn_memory_bytes{store=\"retained\"} %zu\n",
	    m.bm_input_bytes, m.bm_output_bytes, m.bm_session_bytes,
	    m.bm_sub_bytes, m.bm_queued_bytes, m.bm_retained_bytes);
	if (m.bm_cluster)
		bytes_printf(w, "cairn_memory_bytes{store=\"claims\"} %zu\n"
		    "cairn_memory_bytes{store=\"tombstones\"} %zu\n"
		    "cairn_memory_bytes{store=\"routes\"} %zu\n"
		    "cairn_memory_bytes{store=\"peer_routes\"} %zu\n"
		    "cairn_memory_bytes{store=\"forward\"} %zu\n",
		    m.bm_claim_bytes, m.bm_tombstone_bytes, m.bm_route_bytes,
		    m.bm_peer_route_bytes, m.bm_forward_bytes);
	if (m.bm_heap_ok)
		prom_u64(w, "cairn_heap_bytes", "gauge",
		    "Heap malloc has handed out", m.bm_heap);
	if (e->ec_cluster != NULL)
		metrics_cluster(e, w);
	return w->err;
}

/* This node in one object, for the status page. */
static int
api_status(struct endpoint_ctx *e, struct bytes_w *w)
{
	struct broker *b = e->ec_broker;
	const struct broker_stats *st = &b->b_stats;
	struct broker_mem m;
	const char *why = endpoint_not_ready(e);

	broker_mem_get(b, &m);
	bytes_put_str(w, "{\"node\":");
	json_put_str(w, e->ec_cluster != NULL ?
	    cluster_node_name(e->ec_cluster) : "");
	bytes_printf(w, ",\"version\":\"%s\",\"uptime\":%.0f,\"now\":%.3f,"
	    "\"ready\":%s,\"not_ready\":", CAIRN_VERSION,
	    ev_now(b->b_loop) - b->b_started, ev_now(b->b_loop),
	    why == NULL ? "true" : "false");
	json_put_str(w, why != NULL ? why : "");
	bytes_printf(w, ",\"clients\":%zu,\"sessions\":%zu,"
	    "\"subscriptions\":%zu,\"routes\":{\"local\":%zu,\"remote\":%zu},"
	    "\"retained\":%zu,\"messages\":{\"received\":%llu,\"sent\":%llu,"
	    "\"dropped\":%llu},\"bytes\":{\"received\":%llu,\"sent\":%llu},"
	    "\"cluster\":", m.bm_online, m.bm_sessions, m.bm_subs,
	    m.bm_routes, m.bm_peer_routes, m.bm_retained,
	    (unsigned long long)st->bs_pub_received,
	    (unsigned long long)st->bs_pub_sent,
	    (unsigned long long)st->bs_pub_dropped,
	    (unsigned long long)st->bs_bytes_received,
	    (unsigned long long)st->bs_bytes_sent);
	if (e->ec_cluster != NULL)
		cluster_status_json(e->ec_cluster, w);
	else
		bytes_put_str(w, "null");
	bytes_put_str(w, "}\n");
	return w->err;
}

static int
endpoint_on_request(void *arg, const char *path, struct http_reply *r)
{
	struct endpoint_ctx *e = arg;
	struct bytes_w *w = &r->hr_body;
	const char *why;

	if (strcmp(path, "/healthz") == 0) {
		bytes_put_str(w, "ok\n");
	} else if (strcmp(path, "/readyz") == 0) {
		if ((why = endpoint_not_ready(e)) != NULL) {
			r->hr_status = 503;
			bytes_printf(w, "not ready: %s\n", why);
		} else
			bytes_put_str(w, "ready\n");
	} else if (strcmp(path, "/metrics") == 0) {
		r->hr_type = "text/plain; version=0.0.4; charset=utf-8";
		return metrics(e, w);
	} else if (strcmp(path, "/api/v1/status") == 0) {
		r->hr_type = "application/json";
		return api_status(e, w);
	} else if (strcmp(path, "/api/v1/cluster") == 0) {
		r->hr_type = "application/json";
		if (e->ec_cluster == NULL) {
			r->hr_status = 404;
			bytes_put_str(w, "{\"error\":\"no cluster\"}\n");
		} else {
			cluster_status_json(e->ec_cluster, w);
			bytes_put_u8(w, '\n');
		}
	} else if (strcmp(path, "/api/v1/members") == 0) {
		r->hr_type = "application/json";
		if (e->ec_membership == NULL ||
		    membership_agent(e->ec_membership) == NULL) {
			r->hr_status = 404;
			bytes_put_str(w, "{\"error\":\"no cluster\"}\n");
		} else {
			agent_members_json(membership_agent(e->ec_membership),
			    w);
			bytes_put_u8(w, '\n');
		}
	} else if (strcmp(path, "/") == 0 ||
	    strcmp(path, "/index.html") == 0) {
		r->hr_type = "text/html; charset=utf-8";
		bytes_put(w, status_page_html, status_page_html_len);
	} else {
		r->hr_status = 404;
		bytes_put_str(w, "not found\n");
	}
	return w->err;
}

/* http_auth: password_file's users, as a CONNECT's are checked. */
static int
endpoint_auth(void *arg, const char *user, const char *password)
{
	struct broker *b = arg;

	if (b->b_auth.ba_check_password == NULL)
		return 0;
	return b->b_auth.ba_check_password(b->b_auth.ba_arg, user,
	    bytes_view_of(password, strlen(password))) == 0;
}

struct http *
endpoint_new(struct endpoint_ctx *e, char *err, size_t errlen)
{
	const struct broker_conf *c = e->ec_broker->b_conf;
	struct http_conf hc;

	http_conf_defaults(&hc);
	hc.hc_max_connections = c->bc_http_max_connections;
	hc.hc_timeout_ms = c->bc_http_timeout_ms;
	hc.hc_max_request = (size_t)c->bc_http_max_request;
	if (c->bc_http_auth) {
		hc.hc_auth = endpoint_auth;
		hc.hc_auth_arg = e->ec_broker;
		hc.hc_open_paths = "/healthz /readyz";
	}
	return http_new(e->ec_broker->b_loop, c->bc_http_listen.host,
	    c->bc_http_listen.port, &hc, endpoint_on_request, e, err, errlen);
}
