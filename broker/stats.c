/*
 * The memory snapshot of stats.h: read from the counters that the
 * sessions (session_acct), the retained store and the cluster's tables
 * keep as they change, written out as JSON for `cluster status`.  It
 * reads the cluster's private struct (cluster_int.h) and changes
 * nothing.
 */
#include "broker/stats.h"

#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/cluster/cluster_int.h"

/* glibc 2.33 has mallinfo2 (mallinfo's ints wrap past 2 GiB). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define STATS_HAVE_MALLINFO2	1
#endif

static void
stats_cluster(struct cluster *c, struct broker_mem *m)
{
	struct peer *p;

	m->bm_cluster = 1;
	m->bm_claims = c->c_claims.ct_count;
	m->bm_claim_bytes = c->c_claims.ct_bytes;
	m->bm_tombstones = c->c_tombs.ctt_tab.ct_count;
	m->bm_tombstone_bytes = cluster_tombs_bytes(&c->c_tombs);
	m->bm_routes = c->c_routes.ct_count;
	m->bm_route_bytes = c->c_routes.ct_bytes;
	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		m->bm_peer_routes += p->p_routes.ct_count;
		m->bm_peer_route_bytes += p->p_routes.ct_bytes;
		m->bm_forward += p->p_fwdq.cq_n;
		m->bm_forward_bytes += p->p_fwdq.cq_bytes;
		m->bm_forward_dropped += p->p_dropped;
	}
}

void
broker_mem_get(struct broker *b, struct broker_mem *m)
{
	const struct broker_conf *conf = b->b_conf;
	const struct session_acct *a = &b->b_acct;
	struct retain_stats rs;
	struct client *c;
	int i;
#ifdef STATS_HAVE_MALLINFO2
	struct mallinfo2 mi;
#endif

	memset(m, 0, sizeof(*m));
	m->bm_connections = b->b_nclients;
	m->bm_max_connections = conf->bc_max_connections;
	m->bm_input_bytes = b->b_in_bytes;
	m->bm_max_input_bytes = (size_t)conf->bc_max_input_bytes_total;
	m->bm_output_bytes = b->b_out_bytes;
	m->bm_max_output_bytes = (size_t)conf->bc_max_output_bytes_total;
	TAILQ_FOREACH(c, &b->b_clients, c_entry)
		if (c->c_state == CLIENT_CONNECTED && c->c_session != NULL)
			m->bm_online++;
	m->bm_sessions = a->sa_sessions;
	m->bm_persistent = a->sa_persistent;
	m->bm_max_sessions = conf->bc_max_sessions;
	m->bm_max_persistent = conf->bc_max_persistent_sessions;
	m->bm_session_bytes = a->sa_fixed_bytes;
	m->bm_subs = a->sa_subs;
	m->bm_sub_bytes = a->sa_sub_bytes;
	m->bm_max_sub_bytes = a->sa_max_sub_bytes;
	m->bm_sub_refused = a->sa_sub_refused;
	m->bm_queued = a->sa_msgs;
	m->bm_queued_bytes = a->sa_msg_bytes;
	m->bm_max_queued_bytes = a->sa_max_msg_bytes;
	m->bm_drop_messages = a->sa_drop_messages;
	m->bm_drop_bytes = a->sa_drop_bytes;
	m->bm_drop_total = a->sa_drop_total;
	m->bm_drop_expired = a->sa_drop_expired;
	m->bm_drop_output = b->b_stats.bs_drop_output;
	m->bm_drop_output_total = b->b_stats.bs_drop_output_total;
	m->bm_expired = b->b_stats.bs_sessions_expired;
	m->bm_persistent_refused = b->b_stats.bs_persistent_refused;
	retain_stats(b->b_retain, &rs);
	m->bm_retained = rs.rs_count;
	m->bm_retained_bytes = rs.rs_bytes;
	for (i = 0; i < RETAIN_LIMIT_N; i++)
		m->bm_retained_refused += rs.rs_refused[i];
	m->bm_retained_expired = rs.rs_expired;
	if (b->b_cluster != NULL)
		stats_cluster(b->b_cluster, m);
#ifdef STATS_HAVE_MALLINFO2
	mi = mallinfo2();
	m->bm_heap_ok = 1;
	m->bm_heap = mi.uordblks + mi.hblkhd;
#endif
}

int
broker_stats_json(struct broker *b, struct bytes_w *w)
{
	struct broker_mem m;

	broker_mem_get(b, &m);
	bytes_printf(w, "{\"connections\":{\"count\":%zu,\"max\":%zu,"
	    "\"input_bytes\":%zu,\"max_input_bytes\":%zu,"
	    "\"output_bytes\":%zu,\"max_output_bytes\":%zu},"
	    "\"sessions\":{\"count\":%zu,\"online\":%zu,\"offline\":%zu,"
	    "\"persistent\":%zu,\"max\":%zu,\"max_persistent\":%zu,"
	    "\"bytes\":%zu},", m.bm_connections, m.bm_max_connections,
	    m.bm_input_bytes, m.bm_max_input_bytes, m.bm_output_bytes,
	    m.bm_max_output_bytes,
	    m.bm_sessions, m.bm_online, m.bm_sessions > m.bm_online ?
	    m.bm_sessions - m.bm_online : 0, m.bm_persistent,
	    m.bm_max_sessions, m.bm_max_persistent, m.bm_session_bytes);
	bytes_printf(w, "\"subscriptions\":{\"count\":%zu,\"bytes\":%zu,"
	    "\"max_bytes\":%zu,\"refused\":%llu},", m.bm_subs, m.bm_sub_bytes,
	    m.bm_max_sub_bytes, (unsigned long long)m.bm_sub_refused);
	bytes_printf(w, "\"queued\":{\"messages\":%zu,\"bytes\":%zu,"
	    "\"max_bytes\":%zu,\"dropped\":{\"max_queued_messages\":%llu,"
	    "\"max_queued_bytes\":%llu,\"max_queued_bytes_total\":%llu,"
	    "\"max_output_buffer\":%llu,\"max_output_bytes_total\":%llu,"
	    "\"expired\":%llu}},",
	    m.bm_queued, m.bm_queued_bytes,
	    m.bm_max_queued_bytes, (unsigned long long)m.bm_drop_messages,
	    (unsigned long long)m.bm_drop_bytes,
	    (unsigned long long)m.bm_drop_total,
	    (unsigned long long)m.bm_drop_output,
	    (unsigned long long)m.bm_drop_output_total,
	    (unsigned long long)m.bm_drop_expired);
	bytes_printf(w, "\"expired\":%llu,\"persistent_refused\":%llu,"
	    "\"retained\":{\"count\":%zu,\"bytes\":%zu,\"refused\":%llu,"
	    "\"expired\":%llu}",
	    (unsigned long long)m.bm_expired,
	    (unsigned long long)m.bm_persistent_refused, m.bm_retained,
	    m.bm_retained_bytes, (unsigned long long)m.bm_retained_refused,
	    (unsigned long long)m.bm_retained_expired);
	if (m.bm_cluster)
		bytes_printf(w, ",\"claims\":{\"count\":%zu,\"bytes\":%zu},"
		    "\"tombstones\":{\"count\":%zu,\"bytes\":%zu},"
		    "\"routes\":{\"local\":%zu,\"local_bytes\":%zu,"
		    "\"peers\":%zu,\"peers_bytes\":%zu},"
		    "\"forward\":{\"messages\":%zu,\"bytes\":%zu,"
		    "\"dropped\":%llu}", m.bm_claims, m.bm_claim_bytes,
		    m.bm_tombstones, m.bm_tombstone_bytes, m.bm_routes,
		    m.bm_route_bytes, m.bm_peer_routes, m.bm_peer_route_bytes,
		    m.bm_forward, m.bm_forward_bytes,
		    (unsigned long long)m.bm_forward_dropped);
	if (m.bm_heap_ok)
		bytes_printf(w, ",\"heap\":{\"current\":%zu}", m.bm_heap);
	bytes_put_str(w, "}");
	return w->err;
}
