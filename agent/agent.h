/*
 * The membership engine, as a library any Cairn program embeds (the
 * broker does) and the cairn-agent daemon runs.
 *
 * Strategies report answers; the view (view.h) turns them into candidate
 * nodes; the engine connects each node through its topology's connector,
 * in parallel up to a cap, each attempt bounded by a deadline, failed
 * nodes retried with per-node jittered exponential backoff, connected
 * nodes re-checked every health interval.  It computes the cluster state
 * as Cloister's consensus does:
 *
 *	assembling	fewer than quorum members connected, never up yet
 *	up		quorum or more connected
 *	degraded	below quorum after having been up
 *
 * and tells listeners of every member and state change (an embedded
 * callback, the on_change hook command, the control socket's watchers).
 */
#ifndef CAIRN_AGENT_AGENT_H
#define CAIRN_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/connector.h"
#include "common/bytes.h"
#include "common/conf.h"
#include "strategies/strat.h"

#define AGENT_DEFAULT_CONNECT_CONCURRENCY	8
#define AGENT_DEFAULT_CONNECT_TIMEOUT_MS	5000
#define AGENT_DEFAULT_BACKOFF_MIN_MS		500
#define AGENT_DEFAULT_BACKOFF_MAX_MS		30000
#define AGENT_DEFAULT_HEALTH_MS			5000
#define AGENT_DEFAULT_HOOK_TIMEOUT_MS		10000
#define AGENT_DEFAULT_HOOK_QUEUE		1024
#define AGENT_DEFAULT_WATCHERS			64
#define AGENT_DEFAULT_LOG_EVERY			10
#define AGENT_DEFAULT_CONTROL_SOCKET		"/run/cairn-agent.sock"
#define AGENT_DEFAULT_HTTP_PORT			8089

enum agent_state {
	AGENT_ASSEMBLING,
	AGENT_UP,
	AGENT_DEGRADED,
};

struct agent_topology_conf {
	char			*at_name;
	const struct strat_ops	*at_strat;
	void			*at_strat_conf;	/* at_strat->conf_size bytes */
	const struct connector_ops *at_conn;
	void			*at_conn_conf;
	int			 at_disconnect_pruned;
	char			*at_canon;	/* canonical text, for reload */
};

struct agent_conf {
	char		*ac_cookie;
	char		*ac_node_name;
	unsigned	 ac_quorum;
	char		*ac_control_socket;
	char		*ac_on_change;
	unsigned	 ac_prune_misses;
	uint64_t	 ac_prune_ms;
	uint64_t	 ac_max_nodes;
	uint64_t	 ac_connect_concurrency;
	uint64_t	 ac_connect_timeout_ms;
	uint64_t	 ac_backoff_min_ms;
	uint64_t	 ac_backoff_max_ms;
	uint64_t	 ac_health_ms;
	uint64_t	 ac_hook_timeout_ms;
	uint64_t	 ac_hook_queue;
	uint64_t	 ac_max_watchers;
	uint64_t	 ac_log_every;
	int		 ac_self_counts;	/* embedded: this node is a member */
	/* cairn-agent's HTTP endpoint (agent/endpoint.c); host NULL: off. */
	struct conf_hostport ac_http_listen;
	uint64_t	 ac_http_max_connections;
	uint64_t	 ac_http_timeout_ms;
	uint64_t	 ac_http_max_request;
	/*
	 * Embedded: this node's own full name (name@host).  The engine drops
	 * it from every answer, so a node never connects to itself.  NULL:
	 * none (strategies still skip names starting with ac_node_name).
	 */
	char		*ac_self_node;
	struct agent_topology_conf *ac_topos;
	size_t		 ac_ntopos;
};

struct agent;

/* An event, as the JSON object hooks and watchers get (borrowed). */
typedef void agent_event_cb(void *arg, const char *json, size_t len);

/*
 * A control socket request the agent does not know (req is the line,
 * borrowed): append one JSON reply line (newline included) to out and
 * return 1, or return 0 to let the agent answer "unknown request".
 */
typedef int agent_request_cb(void *arg, const char *req, struct bytes_w *out);

/*
 * An engine on loop with conf (the agent takes conf and frees it with
 * agent_conf_free).  resolv may be NULL.  NULL with a reason in err.
 */
struct agent	*agent_new(struct ev_loop *loop, struct resolv *resolv,
		    struct agent_conf *conf, char *err, size_t errlen);
/* Stops strategies, cancels connects, kills hooks, frees. Accepts NULL. */
void		 agent_free(struct agent *);
/* Starts strategies and the control socket.  0 or CAIRN_ERR_* (err). */
int		 agent_start(struct agent *, char *err, size_t errlen);
/*
 * Swaps in a new config: topologies whose canonical text changed are
 * restarted, removed ones forgotten, new ones started; membership is
 * kept.  Takes conf.  0, or an error with the old config kept.
 */
int		 agent_reload(struct agent *, struct agent_conf *conf,
		    char *err, size_t errlen);
void		 agent_set_listener(struct agent *, agent_event_cb *, void *);
/*
 * Lends the embedding program to the connectors (host is borrowed and
 * must outlive the agent).  Call before agent_start().
 */
void		 agent_set_host(struct agent *, const struct agent_host *host);
/* Extends the control socket with the embedding program's requests. */
void		 agent_set_request_handler(struct agent *, agent_request_cb *,
		    void *arg);
enum agent_state agent_get_state(const struct agent *);
const char	*agent_state_name(enum agent_state);
size_t		 agent_connected(const struct agent *);
/*
 * The engine's Prometheus metrics (text format, HELP and TYPE lines):
 * cairn_agent_state, _quorum, _connected, _members (by state and
 * topology), _connects_total, _connect_failures_total (by reason),
 * _strategy_polls_total (by topology and result).  0 or w's error.
 */
int		 agent_metrics(const struct agent *, struct bytes_w *);
/*
 * The ring's requests on the control socket (agent/ring.h), one JSON
 * line appended to out: "ring" (members, points, leader), "ring whois
 * KEY" (its owner), "ring mine NODE KEY" (whether NODE owns KEY).
 * Returns 1 if req was one of them, else 0.  The ring holds the
 * connected members, and this node when it counts as one.
 */
int		 agent_ring_request(const struct agent *, const char *req,
		    struct bytes_w *out);
/* The members document that `cairn members --json` prints. */
int		 agent_members_json(const struct agent *, struct bytes_w *);

/* Frees a conf and everything it owns.  Accepts NULL. */
void		 agent_conf_free(struct agent_conf *);
/* Defaults for every scalar; no topologies. */
void		 agent_conf_defaults(struct agent_conf *);

#endif
