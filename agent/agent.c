/*
 * The membership engine; see agent.h.
 *
 * Object graph:
 *
 *	agent --+-- view (candidate nodes, their sources)
 *	        |     `-- view_node.data -> member (connect state, timers)
 *	        +-- topo[] (strategy instance + connector, per topology)
 *	        +-- hooks (on_change), control (unix socket), listener
 *
 * A member belongs to the topology whose source saw it first; that
 * topology's connector connects it.  Members move between three states:
 *
 *	M_IDLE		waiting for its retry or health timer
 *	M_QUEUED	timer fired, waiting for a connect slot
 *	M_CONNECTING	an attempt is running (bounded by connect_timeout)
 *
 * and separately carry `connected`, the result of the last attempt.
 */
#include "agent/agent.h"

#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "agent/agent_int.h"
#include "agent/ring.h"
#include "agent/view.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/container.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

enum member_phase {
	M_IDLE,
	M_QUEUED,
	M_CONNECTING,
};

struct topo;

/* A connector gets this long past its own timeout before the engine
 * gives up on the attempt itself. */
#define AGENT_CONNECT_GRACE_S	2.

struct member {
	ev_timer		 timer_w;	/* retry or health check */
	ev_timer		 deadline_w;	/* the attempt's hard deadline */
	struct agent		*ag;
	struct view_node	*vn;
	struct topo		*topo;
	struct member		*qnext;		/* connect queue */
	enum member_phase	 phase;
	int			 connected;
	unsigned		 failures;	/* in a row, for log pacing */
	struct backoff		 bo;
	uint64_t		 since;		/* ms, last state change */
	char			 last_error[192];
};

struct topo {
	struct agent			*ag;
	const struct agent_topology_conf *conf;
	struct strat			*strat;
	struct connector		*conn;
	struct strat_env		 senv;
	/* The agent's env, with the port the strategy finds nodes on. */
	struct agent_env		 env;
	unsigned			 failures;	/* report pacing */
	uint64_t			 polls_ok;	/* answers with nodes */
	uint64_t			 polls_failed;	/* no answer */
};

/* Connect failures by CAIRN_ERR_* (index -err), for agent_metrics(). */
#define AGENT_NERR	16

struct agent {
	struct ev_loop		*loop;
	struct agent_conf	*conf;
	struct agent_env	 env;
	struct view		*view;
	struct topo		**topos;	/* each heap-allocated: strategies keep &senv */
	size_t			 ntopos;
	struct member		*qhead;
	struct member		*qtail;
	size_t			 inflight;
	size_t			 nconnected;
	enum agent_state	 state;
	int			 was_up;
	struct hooks		*hooks;
	struct control		*control;
	agent_event_cb		*listener;
	void			*listener_arg;
	agent_request_cb	*request;
	void			*request_arg;
	uint32_t		 rnd;
	int			 started;
	uint64_t		 connects_ok;
	uint64_t		 connect_fail[AGENT_NERR];
	struct ring		*ring;		/* connected members (+ self) */
	char			*leader;	/* ring_leader(), copied */
};

static void	member_schedule(struct member *, uint64_t delay_ms);
static void	agent_pump(struct agent *);

/*
 * Events
 */

/* Wall-clock milliseconds, for event timestamps. */
static long long
agent_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
agent_rand(struct agent *ag)
{
	/* xorshift32: jitter only, not security. */
	uint32_t x = ag->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	ag->rnd = x;
	return x;
}

const char *
agent_state_name(enum agent_state s)
{
	switch (s) {
	case AGENT_ASSEMBLING:
		return "assembling";
	case AGENT_UP:
		return "up";
	case AGENT_DEGRADED:
		return "degraded";
	}
	return "unknown";
}

static size_t
agent_count(const struct agent *ag)
{
	return ag->nconnected + (ag->conf->ac_self_counts ? 1 : 0);
}

int
agent_state_json(const struct agent *ag, struct bytes_w *w)
{
	bytes_printf(w, "{\"event\":\"state\",\"state\":\"%s\",\"connected\":%zu,"
	    "\"members\":%zu,\"quorum\":%u,\"time_ms\":%lld}",
	    agent_state_name(ag->state), agent_count(ag),
	    view_count(ag->view), ag->conf->ac_quorum,
	    agent_wall_ms());
	return w->err;
}

/* One event to the listener, the hook and the control watchers. */
static void
agent_broadcast(struct agent *ag, const struct bytes_w *w)
{
	if (w->err != 0)
		return;
	if (ag->listener != NULL)
		ag->listener(ag->listener_arg, (const char *)w->buf, w->len);
	if (ag->hooks != NULL)
		hooks_event(ag->hooks, (const char *)w->buf, w->len);
	if (ag->control != NULL)
		control_event(ag->control, (const char *)w->buf, w->len);
}

/* `null` or the JSON string. */
static void
agent_json_str_or_null(struct bytes_w *w, const char *s)
{
	if (s != NULL)
		json_put_str(w, s);
	else
		bytes_put_str(w, "null");
}

static void
agent_emit(struct agent *ag, const char *event, const struct member *m,
    const char *reason)
{
	struct bytes_w w;

	bytes_w_init(&w, 64 * 1024);
	bytes_printf(&w, "{\"event\":\"%s\"", event);
	if (m != NULL) {
		bytes_put_str(&w, ",\"node\":");
		json_put_str(&w, view_node_name(m->vn));
		bytes_put_str(&w, ",\"topology\":");
		json_put_str(&w, m->topo != NULL ? m->topo->conf->at_name :
		    "");
	}
	if (reason != NULL) {
		bytes_put_str(&w, ",\"reason\":");
		json_put_str(&w, reason);
	}
	bytes_printf(&w, ",\"state\":\"%s\",\"connected\":%zu,\"members\":%zu,"
	    "\"quorum\":%u,\"time_ms\":%lld}", agent_state_name(ag->state),
	    agent_count(ag), view_count(ag->view), ag->conf->ac_quorum,
	    agent_wall_ms());
	agent_broadcast(ag, &w);
	bytes_w_fini(&w);
}

/*
 * Rebuilds the ring from the connected members (and this node when it
 * counts as one); a new leader is logged and announced as a "leader"
 * event, with the previous one.  Every node that sees the same members
 * gets the same ring and the same leader (agent/ring.h).
 */
static void
agent_ring_update(struct agent *ag)
{
	const char **v;
	struct view_node *vn;
	struct member *m;
	const char *nl;
	char *prev;
	size_t n = 0;
	struct bytes_w w;

	if ((v = calloc(view_count(ag->view) + 1, sizeof(*v))) == NULL)
		return;
	for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn))
		if ((m = view_node_data(vn)) != NULL && m->connected)
			v[n++] = view_node_name(vn);
	if (ag->conf->ac_self_counts && ag->conf->ac_self_node != NULL)
		v[n++] = ag->conf->ac_self_node;
	if (ring_set(ag->ring, v, n) != 0) {
		free(v);
		log_warnx("ring: out of memory: keeping the last one");
		return;
	}
	free(v);
	nl = ring_leader(ag->ring);
	if ((nl == NULL && ag->leader == NULL) ||
	    (nl != NULL && ag->leader != NULL && strcmp(nl, ag->leader) == 0))
		return;
	prev = ag->leader;
	ag->leader = nl != NULL ? strdup(nl) : NULL;
	log_info("leader: %s (was %s)", nl != NULL ? nl : "none",
	    prev != NULL ? prev : "none");
	bytes_w_init(&w, 4096);
	bytes_put_str(&w, "{\"event\":\"leader\",\"leader\":");
	agent_json_str_or_null(&w, nl);
	bytes_put_str(&w, ",\"previous\":");
	agent_json_str_or_null(&w, prev);
	bytes_printf(&w, ",\"ring_members\":%zu,\"state\":\"%s\","
	    "\"connected\":%zu,\"time_ms\":%lld}", ring_size(ag->ring),
	    agent_state_name(ag->state), agent_count(ag), agent_wall_ms());
	free(prev);
	agent_broadcast(ag, &w);
	bytes_w_fini(&w);
}

/* Recomputes the cluster state; emits "state" when it changes. */
static void
agent_update_state(struct agent *ag)
{
	enum agent_state s;

	agent_ring_update(ag);

	if (agent_count(ag) >= ag->conf->ac_quorum)
		s = AGENT_UP;
	else
		s = ag->was_up ? AGENT_DEGRADED : AGENT_ASSEMBLING;
	if (s == ag->state)
		return;
	ag->state = s;
	if (s == AGENT_UP)
		ag->was_up = 1;
	log_info("cluster %s: %zu of quorum %u connected", agent_state_name(s),
	    agent_count(ag), ag->conf->ac_quorum);
	agent_emit(ag, "state", NULL, NULL);
}

/*
 * Members and connects
 */

static void
member_set_connected(struct member *m, int connected, const char *reason)
{
	struct agent *ag = m->ag;

	if (m->connected == connected)
		return;
	m->connected = connected;
	m->since = clock_ms();
	if (connected)
		ag->nconnected++;
	else
		ag->nconnected--;
	if (connected)
		log_info("%s: connected (topology %s)", view_node_name(m->vn),
		    m->topo->conf->at_name);
	else
		log_warnx("%s: disconnected: %s", view_node_name(m->vn),
		    reason != NULL ? reason : "unknown reason");
	agent_emit(ag, connected ? "node_connected" : "node_disconnected", m,
	    reason);
	agent_update_state(ag);
}

static void
on_connect_done(void *arg, int err, const char *msg)
{
	struct member *m = arg;
	struct agent *ag = m->ag;
	uint64_t every = ag->conf->ac_log_every ? ag->conf->ac_log_every : 1;

	m->phase = M_IDLE;
	ag->inflight--;
	ev_timer_stop(ag->loop, &m->deadline_w);
	if (err == 0)
		ag->connects_ok++;
	else
		ag->connect_fail[err < 0 && -err < AGENT_NERR ? -err : 0]++;
	if (err == 0) {
		if (m->failures > 0)
			log_info("%s: reachable again after %u failed "
			    "attempts", view_node_name(m->vn), m->failures);
		m->failures = 0;
		m->last_error[0] = '\0';
		backoff_reset(&m->bo);
		member_set_connected(m, 1, NULL);
		member_schedule(m, ag->conf->ac_health_ms);
	} else {
		snprintf(m->last_error, sizeof(m->last_error), "%s",
		    msg != NULL && msg[0] != '\0' ? msg : cairn_strerror(err));
		/* The first failure, then every Nth. */
		if (m->failures++ % every == 0)
			log_warnx("%s: connect failed (attempt %u): %s",
			    view_node_name(m->vn), m->failures, m->last_error);
		member_set_connected(m, 0, m->last_error);
		member_schedule(m, backoff_next(&m->bo, agent_rand(ag)));
	}
	agent_pump(ag);
}

/* The names of every node in the view (borrowed), for connectors. */
static const char **
agent_member_names(struct agent *ag, size_t *n)
{
	const char **names;
	struct view_node *vn;
	size_t i = 0;

	*n = view_count(ag->view);
	if ((names = calloc(*n + 1, sizeof(*names))) == NULL)
		return NULL;
	for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn))
		names[i++] = view_node_name(vn);
	return names;
}

static void
member_start_connect(struct member *m)
{
	struct agent *ag = m->ag;
	const struct connector_ops *ops = m->topo->conf->at_conn;
	const char **names;
	size_t n;
	int rc;

	if ((names = agent_member_names(ag, &n)) == NULL) {
		member_schedule(m, 1000);
		return;
	}
	m->phase = M_CONNECTING;
	ag->inflight++;
	ev_timer_set(&m->deadline_w, (double)ag->conf->ac_connect_timeout_ms /
	    1000. + AGENT_CONNECT_GRACE_S, 0.);
	ev_timer_start(ag->loop, &m->deadline_w);
	rc = ops->connect(m->topo->conn, view_node_name(m->vn), names, n,
	    (double)ag->conf->ac_connect_timeout_ms / 1000., on_connect_done,
	    m);
	free(names);
	if (rc != 0) {
		/* Synchronous failure: the callback will not fire. */
		m->phase = M_IDLE;
		ag->inflight--;
		ev_timer_stop(ag->loop, &m->deadline_w);
		snprintf(m->last_error, sizeof(m->last_error), "%s",
		    cairn_strerror(rc));
		member_schedule(m, backoff_next(&m->bo, agent_rand(ag)));
	}
}

/* Starts queued connects while there are free slots. */
static void
agent_pump(struct agent *ag)
{
	struct member *m;

	while (ag->qhead != NULL && ag->inflight <
	    ag->conf->ac_connect_concurrency) {
		m = ag->qhead;
		ag->qhead = m->qnext;
		if (ag->qhead == NULL)
			ag->qtail = NULL;
		m->qnext = NULL;
		member_start_connect(m);
	}
}

static void
member_dequeue(struct member *m)
{
	struct agent *ag = m->ag;
	struct member **pp;

	if (m->phase != M_QUEUED)
		return;
	for (pp = &ag->qhead; *pp != NULL; pp = &(*pp)->qnext) {
		if (*pp == m) {
			*pp = m->qnext;
			break;
		}
	}
	ag->qtail = NULL;
	for (struct member *q = ag->qhead; q != NULL; q = q->qnext)
		ag->qtail = q;
	m->qnext = NULL;
	m->phase = M_IDLE;
}

static void
on_member_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct member *m = container_of(w, struct member, timer_w);
	struct agent *ag = m->ag;

	if (m->phase != M_IDLE)
		return;
	m->phase = M_QUEUED;
	if (ag->qtail != NULL)
		ag->qtail->qnext = m;
	else
		ag->qhead = m;
	ag->qtail = m;
	agent_pump(ag);
}

/* The connector overran its own timeout: cancel and count a failure. */
static void
on_member_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct member *m = container_of(w, struct member, deadline_w);

	if (m->phase != M_CONNECTING)
		return;
	m->topo->conf->at_conn->cancel(m->topo->conn, m);
	on_connect_done(m, CAIRN_ERR_TIMEOUT, "the connector did not answer "
	    "in time");
}

static void
member_schedule(struct member *m, uint64_t delay_ms)
{
	ev_timer_stop(m->ag->loop, &m->timer_w);
	ev_timer_set(&m->timer_w, (double)delay_ms / 1000., 0.);
	ev_timer_start(m->ag->loop, &m->timer_w);
}

static struct topo *
agent_topo_of_source(struct agent *ag, const char *source)
{
	size_t i, len;

	for (i = 0; i < ag->ntopos; i++) {
		len = strlen(ag->topos[i]->conf->at_name);
		if (strncmp(source, ag->topos[i]->conf->at_name, len) == 0 &&
		    source[len] == '/')
			return ag->topos[i];
	}
	return NULL;
}

static void
member_free(struct member *m)
{
	struct agent *ag = m->ag;

	ev_timer_stop(ag->loop, &m->timer_w);
	ev_timer_stop(ag->loop, &m->deadline_w);
	member_dequeue(m);
	if (m->phase == M_CONNECTING) {
		m->topo->conf->at_conn->cancel(m->topo->conn, m);
		ag->inflight--;
	}
	free(m);
}

static void
on_disconnect_done(void *arg, int err, const char *msg)
{
	char *name = arg;

	if (err != 0)
		log_warnx("%s: disconnect failed: %s", name,
		    msg != NULL ? msg : cairn_strerror(err));
	free(name);
}

/* View changes: a node arrives (create its member) or leaves. */
static void
on_view_change(void *arg, enum view_event ev, struct view_node *vn)
{
	struct agent *ag = arg;
	struct member *m;
	const char *src;
	char *name;

	if (ev == VIEW_NODE_ADDED) {
		if ((m = calloc(1, sizeof(*m))) == NULL) {
			log_warnx("%s: out of memory: not tracked",
			    view_node_name(vn));
			return;
		}
		m->ag = ag;
		m->vn = vn;
		src = view_node_source(vn, 0, NULL, NULL);
		m->topo = src != NULL ? agent_topo_of_source(ag, src) : NULL;
		m->since = clock_ms();
		backoff_init(&m->bo, ag->conf->ac_backoff_min_ms,
		    ag->conf->ac_backoff_max_ms);
		ev_init(&m->timer_w, on_member_timer);
		ev_init(&m->deadline_w, on_member_deadline);
		view_node_set_data(vn, m);
		log_info("%s: discovered by %s", view_node_name(vn),
		    src != NULL ? src : "?");
		agent_emit(ag, "node_added", m, src);
		if (m->topo != NULL)
			member_schedule(m, 0);
		return;
	}
	if ((m = view_node_data(vn)) == NULL)
		return;
	if (ev == VIEW_NODE_CHANGED) {
		/*
		 * Gone from an answer, or back in one (a restart): check it
		 * now, not at the next health check.  A node waiting out its
		 * backoff after failures is tried now too: it just came back.
		 */
		if (m->phase == M_IDLE && m->topo != NULL)
			member_schedule(m, 0);
		return;
	}
	log_info("%s: pruned: no source has seen it", view_node_name(vn));
	if (m->connected) {
		m->connected = 0;
		ag->nconnected--;
		if (m->topo != NULL && m->topo->conf->at_disconnect_pruned &&
		    (name = strdup(view_node_name(vn))) != NULL &&
		    m->topo->conf->at_conn->disconnect(m->topo->conn, name,
		    (double)ag->conf->ac_connect_timeout_ms / 1000.,
		    on_disconnect_done, name) != 0)
			free(name);
	}
	agent_emit(ag, "node_removed", m, "pruned");
	view_node_set_data(vn, NULL);
	member_free(m);
	agent_update_state(ag);
}

/* Gives the view an answer without this node's own name. */
static int
agent_answer_but_self(struct agent *ag, const char *source,
    const char *const *nodes, size_t n)
{
	const char **v;
	size_t i, k = 0;
	int rc;

	if ((v = calloc(n, sizeof(*v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (strcmp(nodes[i], ag->conf->ac_self_node) != 0)
			v[k++] = nodes[i];
	/*
	 * This node alone leaves k == 0, which the view reads as "unknown":
	 * peers it knew stay until their health checks fail them.
	 */
	rc = view_answer(ag->view, source, v, k, clock_ms());
	free(v);
	return rc;
}

/* A strategy's answer. */
static void
on_report(void *arg, const char *source, const char *const *nodes, size_t n,
    const char *why)
{
	struct topo *t = arg;
	struct agent *ag = t->ag;
	uint64_t every = ag->conf->ac_log_every ? ag->conf->ac_log_every : 1;
	int rc;

	if (n == 0)
		t->polls_failed++;
	else
		t->polls_ok++;
	if (n == 0) {
		/* Unknown: the first failure, then every Nth. */
		if (t->failures++ % every == 0)
			log_warnx("%s: no answer (%u in a row): %s; keeping "
			    "every node", source, t->failures,
			    why != NULL ? why : "empty answer");
		return;
	}
	if (t->failures > 0) {
		log_info("%s: answering again after %u failures", source,
		    t->failures);
		t->failures = 0;
	}
	if (ag->conf->ac_self_node != NULL)
		rc = agent_answer_but_self(ag, source, nodes, n);
	else
		rc = view_answer(ag->view, source, nodes, n, clock_ms());
	if (rc == CAIRN_ERR_LIMIT)
		log_warnx("%s: max_nodes (%llu) reached: new nodes ignored",
		    source, (unsigned long long)ag->conf->ac_max_nodes);
	else if (rc == CAIRN_ERR_NOMEM)
		log_warnx("%s: out of memory", source);
}

/* A strategy knows a source's party is gone. */
static void
on_forget(void *arg, const char *source)
{
	struct topo *t = arg;

	view_drop_source(t->ag->view, source);
}

/*
 * Topologies
 */

static struct topo *
topo_start(struct agent *ag, const struct agent_topology_conf *tc, char *err,
    size_t errlen)
{
	char why[256] = "";
	struct topo *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ag = ag;
	t->conf = tc;
	t->env = ag->env;
	if (tc->at_strat->epmd_port != NULL)
		t->env.epmd_port = tc->at_strat->epmd_port(tc->at_strat_conf);
	t->conn = tc->at_conn->create(&t->env, tc->at_conn_conf, why,
	    sizeof(why));
	if (t->conn == NULL) {
		snprintf(err, errlen, "topology %s: connector %s: %s",
		    tc->at_name, tc->at_conn->name, why);
		free(t);
		return NULL;
	}
	t->senv.agent = &ag->env;
	t->senv.topology = tc->at_name;
	t->senv.report = on_report;
	t->senv.forget = on_forget;
	t->senv.arg = t;
	t->strat = tc->at_strat->start(&t->senv, tc->at_strat_conf, why,
	    sizeof(why));
	if (t->strat == NULL) {
		tc->at_conn->destroy(t->conn);
		t->conn = NULL;
		snprintf(err, errlen, "topology %s: strategy %s: %s",
		    tc->at_name, tc->at_strat->name, why);
		free(t);
		return NULL;
	}
	log_info("topology %s: %s strategy, %s connector started",
	    tc->at_name, tc->at_strat->name, tc->at_conn->name);
	return t;
}

/* Stops and frees t; members of t are detached (they keep their state). */
static void
topo_stop(struct agent *ag, struct topo *t)
{
	struct view_node *vn;
	struct member *m;

	if (t->strat != NULL)
		t->conf->at_strat->stop(t->strat);
	t->strat = NULL;
	for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn)) {
		if ((m = view_node_data(vn)) == NULL || m->topo != t)
			continue;
		ev_timer_stop(ag->loop, &m->timer_w);
		ev_timer_stop(ag->loop, &m->deadline_w);
		member_dequeue(m);
		if (m->phase == M_CONNECTING) {
			t->conf->at_conn->cancel(t->conn, m);
			ag->inflight--;
			m->phase = M_IDLE;
		}
		m->topo = NULL;
	}
	if (t->conn != NULL)
		t->conf->at_conn->destroy(t->conn);
	free(t);
}

/* Gives members without a topology the one that now owns their source. */
static void
agent_adopt(struct agent *ag)
{
	struct view_node *vn;
	struct member *m;
	const char *src;
	size_t i;

	for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn)) {
		if ((m = view_node_data(vn)) == NULL || m->topo != NULL)
			continue;
		for (i = 0; (src = view_node_source(vn, i, NULL, NULL)) !=
		    NULL; i++)
			if ((m->topo = agent_topo_of_source(ag, src)) != NULL)
				break;
		if (m->topo != NULL)
			member_schedule(m, 0);
	}
}

struct agent *
agent_new(struct ev_loop *loop, struct resolv *resolv, struct agent_conf *conf,
    char *err, size_t errlen)
{
	struct agent *ag;
	struct view_opts vo;

	if ((ag = calloc(1, sizeof(*ag))) == NULL) {
		snprintf(err, errlen, "out of memory");
		agent_conf_free(conf);
		return NULL;
	}
	ag->loop = loop;
	ag->conf = conf;
	ag->env.loop = loop;
	ag->env.resolv = resolv;
	ag->env.cookie = conf->ac_cookie;
	ag->env.self_name = conf->ac_node_name;
	ag->rnd = (uint32_t)getpid() ^ (uint32_t)clock_ms() ^ 0x9e3779b9u;
	if (ag->rnd == 0)
		ag->rnd = 1;
	memset(&vo, 0, sizeof(vo));
	vo.prune_misses = conf->ac_prune_misses;
	vo.prune_ms = conf->ac_prune_ms;
	vo.max_nodes = (size_t)conf->ac_max_nodes;
	if ((ag->view = view_new(&vo, on_view_change, ag)) == NULL ||
	    (ag->ring = ring_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		agent_free(ag);
		return NULL;
	}
	ag->state = AGENT_ASSEMBLING;
	return ag;
}

int
agent_start(struct agent *ag, char *err, size_t errlen)
{
	struct agent_conf *c = ag->conf;
	size_t i;

	if (c->ac_on_change != NULL && (ag->hooks = hooks_new(ag->loop,
	    c->ac_on_change, c->ac_hook_timeout_ms,
	    (size_t)c->ac_hook_queue)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CAIRN_ERR_NOMEM;
	}
	if (c->ac_control_socket != NULL && (ag->control = control_new(
	    ag->loop, ag, c->ac_control_socket, (size_t)c->ac_max_watchers,
	    err, errlen)) == NULL)
		return CAIRN_ERR_IO;
	if ((ag->topos = calloc(c->ac_ntopos + 1, sizeof(*ag->topos))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return CAIRN_ERR_NOMEM;
	}
	for (i = 0; i < c->ac_ntopos; i++) {
		if ((ag->topos[i] = topo_start(ag, &c->ac_topos[i], err,
		    errlen)) == NULL) {
			while (i-- > 0)
				topo_stop(ag, ag->topos[i]);
			free(ag->topos);
			ag->topos = NULL;
			return CAIRN_ERR_INVAL;
		}
		ag->ntopos++;
	}
	ag->started = 1;
	agent_update_state(ag);
	agent_emit(ag, "state", NULL, "started");
	return 0;
}

int
agent_reload(struct agent *ag, struct agent_conf *nc, char *err,
    size_t errlen)
{
	struct agent_conf *oc = ag->conf;
	struct topo **nt;
	size_t i, j;
	int rc = 0;
	char prefix[512];

	if ((nt = calloc(nc->ac_ntopos + 1, sizeof(*nt))) == NULL) {
		snprintf(err, errlen, "out of memory");
		agent_conf_free(nc);
		return CAIRN_ERR_NOMEM;
	}
	/* Unchanged topologies keep running: they move to the new array. */
	for (i = 0; i < nc->ac_ntopos; i++) {
		for (j = 0; j < ag->ntopos; j++) {
			if (ag->topos[j] != NULL &&
			    strcmp(ag->topos[j]->conf->at_name,
			    nc->ac_topos[i].at_name) == 0 &&
			    strcmp(ag->topos[j]->conf->at_canon,
			    nc->ac_topos[i].at_canon) == 0)
				break;
		}
		if (j < ag->ntopos) {
			nt[i] = ag->topos[j];
			ag->topos[j] = NULL;
			/* The conf moves with it: same text, new storage. */
			nt[i]->conf = &nc->ac_topos[i];
			nt[i]->senv.topology = nc->ac_topos[i].at_name;
		}
	}
	/* Stop what changed or went away. */
	for (j = 0; j < ag->ntopos; j++) {
		if (ag->topos[j] == NULL)
			continue;
		log_info("topology %s: stopped for reload",
		    ag->topos[j]->conf->at_name);
		for (i = 0; i < nc->ac_ntopos; i++)
			if (strcmp(nc->ac_topos[i].at_name,
			    ag->topos[j]->conf->at_name) == 0)
				break;
		snprintf(prefix, sizeof(prefix), "%s/",
		    ag->topos[j]->conf->at_name);
		topo_stop(ag, ag->topos[j]);
		if (i == nc->ac_ntopos)
			view_forget_source(ag->view, prefix);
	}
	free(ag->topos);
	ag->topos = nt;
	ag->ntopos = nc->ac_ntopos;
	ag->conf = nc;
	ag->env.cookie = nc->ac_cookie;
	ag->env.self_name = nc->ac_node_name;
	for (i = 0; i < nc->ac_ntopos; i++) {
		if (nt[i] != NULL)
			continue;
		if ((nt[i] = topo_start(ag, &nc->ac_topos[i], err, errlen)) ==
		    NULL) {
			log_warnx("%s", err);
			rc = CAIRN_ERR_INVAL;
		}
	}
	/* Compact away topologies that failed to start. */
	for (i = j = 0; i < ag->ntopos; i++)
		if (nt[i] != NULL)
			nt[j++] = nt[i];
	ag->ntopos = j;
	agent_adopt(ag);
	agent_conf_free(oc);
	agent_update_state(ag);
	return rc;
}

void
agent_free(struct agent *ag)
{
	size_t i;

	if (ag == NULL)
		return;
	for (i = 0; i < ag->ntopos; i++)
		topo_stop(ag, ag->topos[i]);
	free(ag->topos);
	ag->topos = NULL;
	ag->ntopos = 0;
	if (ag->view != NULL) {
		struct view_node *vn;

		for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn))
			if (view_node_data(vn) != NULL)
				member_free(view_node_data(vn));
		view_free(ag->view);
	}
	control_free(ag->control);
	hooks_free(ag->hooks);
	agent_conf_free(ag->conf);
	ring_free(ag->ring);
	free(ag->leader);
	free(ag);
}

void
agent_set_listener(struct agent *ag, agent_event_cb *cb, void *arg)
{
	ag->listener = cb;
	ag->listener_arg = arg;
}

void
agent_set_host(struct agent *ag, const struct agent_host *host)
{
	ag->env.host = host;
}

void
agent_set_request_handler(struct agent *ag, agent_request_cb *cb, void *arg)
{
	ag->request = cb;
	ag->request_arg = arg;
}

int
agent_ring_request(const struct agent *ag, const char *req,
    struct bytes_w *out)
{
	const char *key, *owner, *sp;
	char node[VIEW_MAX_NAME + 1];
	size_t i, len;

	if (strcmp(req, "ring") == 0) {
		bytes_put_str(out, "{\"members\":[");
		for (i = 0; i < ring_size(ag->ring); i++) {
			if (i > 0)
				bytes_put_u8(out, ',');
			json_put_str(out, ring_member(ag->ring, i));
		}
		bytes_printf(out, "],\"points\":%d,\"leader\":",
		    RING_POINTS);
		agent_json_str_or_null(out, ring_leader(ag->ring));
		bytes_put_str(out, "}\n");
		return 1;
	}
	if (strncmp(req, "ring whois ", 11) == 0) {
		/* The key last: a reader that scans for "node" finds ours. */
		key = req + 11;
		owner = ring_whois(ag->ring, key, strlen(key));
		bytes_put_str(out, "{\"node\":");
		agent_json_str_or_null(out, owner);
		bytes_printf(out, ",\"ring_members\":%zu,\"key\":",
		    ring_size(ag->ring));
		json_put_str(out, key);
		bytes_put_str(out, "}\n");
		return 1;
	}
	/* "ring mine NODE KEY": node names hold no space. */
	if (strncmp(req, "ring mine ", 10) == 0) {
		if ((sp = strchr(req + 10, ' ')) == NULL ||
		    (len = (size_t)(sp - (req + 10))) == 0 ||
		    len >= sizeof(node)) {
			bytes_put_str(out, "{\"error\":\"usage: ring mine "
			    "NODE KEY\"}\n");
			return 1;
		}
		memcpy(node, req + 10, len);
		node[len] = '\0';
		key = sp + 1;
		owner = ring_whois(ag->ring, key, strlen(key));
		bytes_printf(out, "{\"mine\":%s,\"owner\":",
		    owner != NULL && strcmp(owner, node) == 0 ? "true" :
		    "false");
		agent_json_str_or_null(out, owner);
		bytes_put_str(out, ",\"node\":");
		json_put_str(out, node);
		bytes_put_str(out, ",\"key\":");
		json_put_str(out, key);
		bytes_put_str(out, "}\n");
		return 1;
	}
	return 0;
}

int
agent_host_request(struct agent *ag, const char *req, struct bytes_w *out)
{
	if (ag->request == NULL)
		return 0;
	return ag->request(ag->request_arg, req, out);
}

enum agent_state
agent_get_state(const struct agent *ag)
{
	return ag->state;
}

size_t
agent_connected(const struct agent *ag)
{
	return agent_count(ag);
}

int
agent_members_json(const struct agent *ag, struct bytes_w *w)
{
	struct view_node *vn;
	struct member *m;
	uint64_t now = clock_ms(), seen;
	const char *src;
	size_t i;
	int first = 1;

	bytes_printf(w, "{\"state\":\"%s\",\"connected\":%zu,\"quorum\":%u,"
	    "\"members\":[", agent_state_name(ag->state), agent_count(ag),
	    ag->conf->ac_quorum);
	for (vn = view_first(ag->view); vn != NULL; vn = view_next(vn)) {
		m = view_node_data(vn);
		bytes_put_str(w, first ? "{\"node\":" : ",{\"node\":");
		first = 0;
		json_put_str(w, view_node_name(vn));
		bytes_put_str(w, ",\"topology\":");
		json_put_str(w, m != NULL && m->topo != NULL ?
		    m->topo->conf->at_name : "");
		bytes_printf(w, ",\"connected\":%s,\"sources\":[",
		    m != NULL && m->connected ? "true" : "false");
		for (i = 0; (src = view_node_source(vn, i, &seen, NULL)) !=
		    NULL; i++) {
			bytes_put_str(w, i ? ",{\"source\":" : "{\"source\":");
			json_put_str(w, src);
			bytes_printf(w, ",\"last_seen_ms_ago\":%llu}",
			    (unsigned long long)(now - seen));
		}
		bytes_put_str(w, "],\"last_error\":");
		json_put_str(w, m != NULL ? m->last_error : "");
		bytes_put_u8(w, '}');
	}
	bytes_put_str(w, "]}");
	return w->err;
}

static void
agent_prom_head(struct bytes_w *w, const char *name, const char *type,
    const char *help)
{
	bytes_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* A topology's name as a label value; names come from the YAML. */
static void
agent_prom_label(struct bytes_w *w, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			bytes_put_u8(w, '\\');
		if (*v == '\n')
			bytes_put_str(w, "\\n");
		else
			bytes_put_u8(w, (uint8_t)*v);
	}
}

int
agent_metrics(const struct agent *ag, struct bytes_w *w)
{
	static const enum agent_state states[] = { AGENT_ASSEMBLING,
	    AGENT_UP, AGENT_DEGRADED };
	struct view_node *vn;
	struct member *m;
	size_t i, t, n;
	int conn;

	agent_prom_head(w, "cairn_agent_state", "gauge",
	    "1 for the cluster state the agent computes (quorum)");
	for (i = 0; i < 3; i++)
		bytes_printf(w, "cairn_agent_state{state=\"%s\"} %d\n",
		    agent_state_name(states[i]), ag->state == states[i]);
	agent_prom_head(w, "cairn_agent_quorum", "gauge",
	    "Members needed for the state to be up");
	bytes_printf(w, "cairn_agent_quorum %u\n", ag->conf->ac_quorum);
	agent_prom_head(w, "cairn_agent_connected", "gauge",
	    "Members connected (this node included when embedded)");
	bytes_printf(w, "cairn_agent_connected %zu\n", agent_count(ag));
	agent_prom_head(w, "cairn_agent_members", "gauge",
	    "Nodes in the view, by connect state and the topology whose "
	    "strategy found them first");
	for (t = 0; t < ag->ntopos; t++)
		for (conn = 0; conn < 2; conn++) {
			n = 0;
			for (vn = view_first(ag->view); vn != NULL;
			    vn = view_next(vn)) {
				m = view_node_data(vn);
				if (m != NULL && m->topo == ag->topos[t] &&
				    m->connected == conn)
					n++;
			}
			bytes_printf(w, "cairn_agent_members{state=\"%s\","
			    "topology=\"", conn ? "connected" : "disconnected");
			agent_prom_label(w, ag->topos[t]->conf->at_name);
			bytes_printf(w, "\"} %zu\n", n);
		}
	agent_prom_head(w, "cairn_agent_connects_total", "counter",
	    "Connect attempts that succeeded");
	bytes_printf(w, "cairn_agent_connects_total %llu\n",
	    (unsigned long long)ag->connects_ok);
	agent_prom_head(w, "cairn_agent_connect_failures_total", "counter",
	    "Connect attempts that failed, by reason");
	for (i = 1; i < AGENT_NERR; i++)
		if (ag->connect_fail[i] != 0)
			bytes_printf(w, "cairn_agent_connect_failures_total"
			    "{reason=\"%s\"} %llu\n", cairn_strerror(-(int)i),
			    (unsigned long long)ag->connect_fail[i]);
	bytes_printf(w, "cairn_agent_connect_failures_total{reason=\"other\"}"
	    " %llu\n", (unsigned long long)ag->connect_fail[0]);
	agent_prom_head(w, "cairn_agent_strategy_polls_total", "counter",
	    "Strategy answers per topology: with nodes (ok) or none "
	    "(failed)");
	for (t = 0; t < ag->ntopos; t++) {
		bytes_put_str(w, "cairn_agent_strategy_polls_total{topology=\"");
		agent_prom_label(w, ag->topos[t]->conf->at_name);
		bytes_printf(w, "\",result=\"ok\"} %llu\n",
		    (unsigned long long)ag->topos[t]->polls_ok);
		bytes_put_str(w, "cairn_agent_strategy_polls_total{topology=\"");
		agent_prom_label(w, ag->topos[t]->conf->at_name);
		bytes_printf(w, "\",result=\"failed\"} %llu\n",
		    (unsigned long long)ag->topos[t]->polls_failed);
	}
	return w->err;
}

void
agent_conf_defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ac_quorum = 1;
	c->ac_prune_misses = VIEW_DEFAULT_PRUNE_MISSES;
	c->ac_prune_ms = VIEW_DEFAULT_PRUNE_MS;
	c->ac_max_nodes = VIEW_DEFAULT_MAX_NODES;
	c->ac_connect_concurrency = AGENT_DEFAULT_CONNECT_CONCURRENCY;
	c->ac_connect_timeout_ms = AGENT_DEFAULT_CONNECT_TIMEOUT_MS;
	c->ac_backoff_min_ms = AGENT_DEFAULT_BACKOFF_MIN_MS;
	c->ac_backoff_max_ms = AGENT_DEFAULT_BACKOFF_MAX_MS;
	c->ac_health_ms = AGENT_DEFAULT_HEALTH_MS;
	c->ac_hook_timeout_ms = AGENT_DEFAULT_HOOK_TIMEOUT_MS;
	c->ac_hook_queue = AGENT_DEFAULT_HOOK_QUEUE;
	c->ac_max_watchers = AGENT_DEFAULT_WATCHERS;
	c->ac_log_every = AGENT_DEFAULT_LOG_EVERY;
	c->ac_http_max_connections = 32;
	c->ac_http_timeout_ms = 10000;
	c->ac_http_max_request = 16384;
}

void
agent_conf_free(struct agent_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ac_ntopos; i++) {
		struct agent_topology_conf *t = &c->ac_topos[i];

		if (t->at_strat != NULL && t->at_strat->conf_free != NULL &&
		    t->at_strat_conf != NULL)
			t->at_strat->conf_free(t->at_strat_conf);
		if (t->at_conn != NULL && t->at_conn->conf_free != NULL &&
		    t->at_conn_conf != NULL)
			t->at_conn->conf_free(t->at_conn_conf);
		free(t->at_strat_conf);
		free(t->at_conn_conf);
		free(t->at_name);
		free(t->at_canon);
	}
	free(c->ac_topos);
	free(c->ac_cookie);
	free(c->ac_node_name);
	free(c->ac_self_node);
	free(c->ac_control_socket);
	free(c->ac_http_listen.host);
	free(c->ac_on_change);
	free(c);
}
