/*
 * local_epmd: the nodes registered with this host's epmd (libcluster's
 * LocalEpmd asks once; Tinycluster polls).  Names become name@host, host
 * being this host's short name, as `erl -sname` makes them, unless
 * `host` is set.
 *
 *	strategy: local_epmd
 *	config:
 *	  polling_interval: 500ms
 *	  host: localhost        # default: this host's short name
 *	  port: 4369             # default: $ERL_EPMD_PORT or 4369
 *	  timeout: 2s
 *	  watch: true            # use Cairn's WATCH when the epmd has it
 *
 * Two ways to hear the epmd.  Cairn's epmd streams every registration
 * on one connection (WATCH, epmd/epmd_codec.h): the strategy reports the
 * moment a node registers or leaves, and sends no polls while the stream
 * lasts.  OTP's epmd closes the connection on that request: the strategy
 * then polls NAMES every polling_interval and asks for a stream again
 * every LOCAL_EPMD_WATCH_RETRY_S (an epmd replaced by Cairn's is then
 * streamed from).  An epmd that cannot be reached, or a stream that ends
 * (an epmd restart), is asked again at the next poll; the polls go on
 * meanwhile, so a failure is reported as usual ("unknown").
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"
#include "epmd/epmd_aclient.h"
#include "epmd/epmd_awatch.h"
#include "strategies/strat_util.h"

/*
 * One loopback request per poll costs next to nothing, and a node that
 * registers (or restarts) is then meshed within about a second: the
 * agent re-checks a node as soon as an answer drops it or lists it
 * again (agent/view.h, VIEW_NODE_CHANGED).  Other strategies ask the
 * network and keep STRAT_DEFAULT_POLL_MS.
 */
#define LOCAL_EPMD_DEFAULT_POLL_MS	500
/* An epmd without WATCH is asked again this rarely. */
#define LOCAL_EPMD_WATCH_RETRY_S	30.

struct local_epmd_conf {
	uint64_t	 interval_ms;
	char		*host;
	unsigned	 port;
	uint64_t	 timeout_ms;
	bool		 watch;
};

static const struct conf_key local_epmd_keys[] = {
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct local_epmd_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "host", .type = CONF_STRING,
	  .offset = offsetof(struct local_epmd_conf, host),
	  .flags = CONF_NONEMPTY },
	{ .name = "port", .type = CONF_UINT,
	  .offset = offsetof(struct local_epmd_conf, port),
	  .min = 1, .max = 65535 },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct local_epmd_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = "watch", .type = CONF_BOOL,
	  .offset = offsetof(struct local_epmd_conf, watch) },
	{ .name = NULL },
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	struct epmd_aq		*q;
	struct epmd_aw		*aw;		/* the WATCH stream, or NULL */
	int			 watch;		/* conf: try WATCH at all */
	int			 streaming;	/* aw acked: no polls */
	int			 no_watch_logged;
	ev_tstamp		 watch_next;	/* next WATCH attempt */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	double			 interval;
	double			 timeout;
	char			 host[256];
	char			 source[512];
};

static void
local_epmd_conf_init(void *p)
{
	struct local_epmd_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = LOCAL_EPMD_DEFAULT_POLL_MS;
	c->watch = true;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
}

static void
local_epmd_conf_free(void *p)
{
	conf_free_fields(local_epmd_keys, p);
}

/* A whole answer from a poll or the stream. */
static void
local_epmd_answer(struct strat *s, int err, const struct epmd_aq_name *names,
    size_t n)
{
	const char **v = NULL;
	size_t *lens = NULL, i, nn = 0;
	char **nodes = NULL, why[128];

	snprintf(s->source, sizeof(s->source), "%s/local_epmd",
	    s->env->topology);
	if (err != 0) {
		snprintf(why, sizeof(why), "epmd on port %u: %s",
		    sock_port((struct sockaddr *)&s->addr), cairn_strerror(err));
		s->env->report(s->env->arg, s->source, NULL, 0, why);
		return;
	}
	if (n > 0 && ((v = calloc(n, sizeof(*v))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL)) {
		free(v);
		return;
	}
	for (i = 0; i < n; i++) {
		v[i] = names[i].name;
		lens[i] = names[i].name_len;
	}
	if (strat_node_list(v, lens, n, s->host,
	    s->env->agent->self_name, &nodes, &nn) == 0) {
		s->env->report(s->env->arg, s->source,
		    (const char *const *)nodes, nn, "no nodes registered");
		free(nodes);
	}
	free(v);
	free(lens);
}

static void
on_names(void *arg, int err, const struct epmd_aq_name *names, size_t n)
{
	struct strat *s = arg;

	s->q = NULL;
	local_epmd_answer(s, err, names, n);
}

static void	local_epmd_watch(struct strat *);

static void
on_watch(void *arg, int err, const struct epmd_aq_name *names, size_t n)
{
	struct strat *s = arg;
	unsigned port = sock_port((struct sockaddr *)&s->addr);

	if (err == 0) {
		if (!s->streaming)
			log_info("%s/local_epmd: streaming registrations from "
			    "epmd on port %u (WATCH)", s->env->topology, port);
		s->streaming = 1;
		local_epmd_answer(s, 0, names, n);
		return;
	}
	if (!epmd_aw_acked(s->aw) && err == CAIRN_ERR_CLOSED) {
		/* OTP's epmd: "got garbage", and a close. */
		if (!s->no_watch_logged++)
			log_info("%s/local_epmd: epmd on port %u has no WATCH: "
			    "polling every %.3gs", s->env->topology, port,
			    s->interval);
		s->watch_next = ev_now(s->env->agent->loop) +
		    LOCAL_EPMD_WATCH_RETRY_S;
	} else if (s->streaming) {
		/* An epmd restart, most likely: ask again at once. */
		log_warnx("%s/local_epmd: the stream from epmd on port %u "
		    "ended: %s; polling", s->env->topology, port,
		    cairn_strerror(err));
		s->watch_next = 0;
	} else
		s->watch_next = ev_now(s->env->agent->loop) + s->interval;
	s->aw = NULL;
	s->streaming = 0;
	/* Poll now rather than at the next tick: no answer is lost. */
	ev_feed_event(s->env->agent->loop, &s->poll_w, EV_TIMER);
}

static void
local_epmd_watch(struct strat *s)
{
	if (!s->watch || s->aw != NULL ||
	    ev_now(s->env->agent->loop) < s->watch_next)
		return;
	s->aw = epmd_aw_start(s->env->agent->loop, (struct sockaddr *)&s->addr,
	    s->addrlen, s->timeout, on_watch, s);
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);

	local_epmd_watch(s);
	/* The stream, or its first answer, is on its way: no poll. */
	if (s->aw != NULL)
		return;
	if (s->q != NULL)
		return;		/* the last query is still running */
	s->q = epmd_aq_names(loop, (struct sockaddr *)&s->addr, s->addrlen,
	    s->timeout, on_names, s);
}

static uint16_t
local_epmd_port(const void *p)
{
	const struct local_epmd_conf *c = p;

	return c->port ? (uint16_t)c->port : strat_epmd_port();
}

static struct strat *
local_epmd_start(const struct strat_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct local_epmd_conf *c = p;
	struct strat *s;
	uint16_t port = c->port ? (uint16_t)c->port : strat_epmd_port();

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	s->interval = (double)c->interval_ms / 1000.;
	s->timeout = (double)c->timeout_ms / 1000.;
	s->watch = c->watch;
	if (c->host != NULL)
		snprintf(s->host, sizeof(s->host), "%s", c->host);
	else
		strat_short_hostname(s->host, sizeof(s->host));
	sock_addr_parse("127.0.0.1", port, &s->addr, &s->addrlen);
	ev_timer_init(&s->poll_w, on_poll, 0., s->interval);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

static void
local_epmd_stop(struct strat *s)
{
	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	ev_clear_pending(s->env->agent->loop, &s->poll_w);
	epmd_aq_cancel(s->q);
	epmd_aw_cancel(s->aw);
	free(s);
}

const struct strat_ops strat_local_epmd = {
	.name = "local_epmd",
	.keys = local_epmd_keys,
	.conf_size = sizeof(struct local_epmd_conf),
	.conf_init = local_epmd_conf_init,
	.conf_free = local_epmd_conf_free,
	.epmd_port = local_epmd_port,
	.start = local_epmd_start,
	.stop = local_epmd_stop,
};
