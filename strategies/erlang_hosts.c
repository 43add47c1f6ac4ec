/*
 * erlang_hosts: the hosts listed in `.hosts.erlang` (searched where
 * net_adm searches: the current directory, then $HOME; or `path`), each
 * asked for NAMES by its own epmd, remotely, every polling_interval.  The
 * file is read again at each poll, so edits need no reload.  Each host is
 * its own source: one host down makes only its answer unknown.
 *
 *	strategy: erlang_hosts
 *	config:
 *	  path: /etc/cairn/hosts.erlang   # default: ./.hosts.erlang, ~/.hosts.erlang
 *	  polling_interval: 5s
 *	  port: 4369                      # default: $ERL_EPMD_PORT or 4369
 *	  timeout: 2s
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "common/resolv.h"
#include "common/sock.h"
#include "epmd/epmd_aclient.h"
#include "strategies/hosts_erlang.h"
#include "strategies/strat_util.h"

#define HOSTS_MAX_FILE		(1024 * 1024)

struct erlang_hosts_conf {
	char		*path;
	uint64_t	 interval_ms;
	unsigned	 port;
	uint64_t	 timeout_ms;
};

static const struct conf_key erlang_hosts_keys[] = {
	{ .name = "path", .type = CONF_STRING,
	  .offset = offsetof(struct erlang_hosts_conf, path),
	  .flags = CONF_NONEMPTY },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct erlang_hosts_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "port", .type = CONF_UINT,
	  .offset = offsetof(struct erlang_hosts_conf, port),
	  .min = 1, .max = 65535 },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct erlang_hosts_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = NULL },
};

struct strat;

/* One host being asked: resolve, then NAMES. */
struct eh_query {
	struct strat		*s;
	struct eh_query		*next;
	struct resolv_query	*rq;
	struct epmd_aq		*aq;
	char			 host[256];
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	struct eh_query		*queries;
	char			*path;
	uint16_t		 port;
	double			 timeout;
	char			 last_file_error[256];
};

static void
erlang_hosts_conf_init(void *p)
{
	struct erlang_hosts_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = STRAT_DEFAULT_POLL_MS;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
}

static void
erlang_hosts_conf_free(void *p)
{
	conf_free_fields(erlang_hosts_keys, p);
}

static void
eh_query_done(struct eh_query *q)
{
	struct eh_query **pp;

	for (pp = &q->s->queries; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	free(q);
}

static void
eh_report(struct eh_query *q, const char *const *nodes, size_t n,
    const char *why)
{
	char source[512];

	snprintf(source, sizeof(source), "%s/erlang_hosts:%s",
	    q->s->env->topology, q->host);
	q->s->env->report(q->s->env->arg, source, nodes, n, why);
}

static void
on_names(void *arg, int err, const struct epmd_aq_name *names, size_t n)
{
	struct eh_query *q = arg;
	const char **v = NULL;
	size_t *lens = NULL, i, nn = 0;
	char **nodes = NULL, why[512];

	q->aq = NULL;
	if (err != 0) {
		snprintf(why, sizeof(why), "epmd on %s port %u: %s", q->host,
		    q->s->port, cairn_strerror(err));
		eh_report(q, NULL, 0, why);
		eh_query_done(q);
		return;
	}
	if (n > 0 && ((v = calloc(n, sizeof(*v))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL))
		goto done;
	for (i = 0; i < n; i++) {
		v[i] = names[i].name;
		lens[i] = names[i].name_len;
	}
	if (strat_node_list(v, lens, n, q->host,
	    q->s->env->agent->self_name, &nodes, &nn) == 0) {
		eh_report(q, (const char *const *)nodes, nn,
		    "no nodes registered");
		free(nodes);
	}
done:
	free(v);
	free(lens);
	eh_query_done(q);
}

static void
on_resolved(void *arg, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct eh_query *q = arg;
	struct sockaddr_storage ss;
	char why[512];

	q->rq = NULL;
	if (err != 0 || n == 0) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", q->host,
		    cairn_strerror(err));
		eh_report(q, NULL, 0, why);
		eh_query_done(q);
		return;
	}
	ss = addrs[0];
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(q->s->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(q->s->port);
	q->aq = epmd_aq_names(q->s->env->agent->loop, (struct sockaddr *)&ss,
	    ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6), q->s->timeout, on_names, q);
	if (q->aq == NULL) {
		eh_report(q, NULL, 0, "cannot start a NAMES query");
		eh_query_done(q);
	}
}

/*
 * Reads the hosts file: the configured path, or net_adm's search (the
 * first that exists).  A regular file of at most HOSTS_MAX_FILE bytes
 * (common/file.h): this runs in the agent's loop, so a FIFO must never
 * block it.
 */
static int
eh_read_hosts(struct strat *s, char ***hosts, size_t *n, char *err,
    size_t errlen)
{
	char home[1024], perr[256], *buf = NULL;
	const char *paths[2];
	const char *h = getenv("HOME");
	size_t np = 0, i, len;
	int rc = CAIRN_ERR_IO;

	if (s->path != NULL)
		paths[np++] = s->path;
	else {
		paths[np++] = ".hosts.erlang";
		if (h != NULL) {
			snprintf(home, sizeof(home), "%s/.hosts.erlang", h);
			paths[np++] = home;
		}
	}
	for (i = 0; i < np; i++) {
		rc = file_read_all(paths[i], HOSTS_MAX_FILE, 0, &buf, &len,
		    err, errlen);
		if (rc != CAIRN_ERR_IO || errno != ENOENT)
			break;
	}
	if (rc == CAIRN_ERR_IO && errno == ENOENT) {
		snprintf(err, errlen, "no .hosts.erlang found (%s%s%s)",
		    paths[0], np > 1 ? ", " : "", np > 1 ? paths[1] : "");
		return CAIRN_ERR_NOENT;
	}
	if (rc != 0)
		return rc;
	if ((rc = hosts_erlang_parse(buf, len, hosts, n, perr,
	    sizeof(perr))) != 0)
		snprintf(err, errlen, "%s:%s", paths[i], perr);
	free(buf);
	return rc;
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);
	struct eh_query *q;
	char **hosts = NULL, err[512], source[512];
	size_t n = 0, i;

	if (s->queries != NULL)
		return;		/* the last round is still running */
	if (eh_read_hosts(s, &hosts, &n, err, sizeof(err)) != 0) {
		snprintf(source, sizeof(source), "%s/erlang_hosts",
		    s->env->topology);
		s->env->report(s->env->arg, source, NULL, 0, err);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			break;
		q->s = s;
		snprintf(q->host, sizeof(q->host), "%s", hosts[i]);
		q->next = s->queries;
		s->queries = q;
		q->rq = resolv_query_addr(s->env->agent->resolv, q->host,
		    AF_UNSPEC, on_resolved, q);
		if (q->rq == NULL) {
			eh_report(q, NULL, 0, "cannot start a DNS query");
			eh_query_done(q);
		}
	}
	hosts_erlang_free(hosts, n);
}

static void
erlang_hosts_stop(struct strat *s)
{
	struct eh_query *q, *next;

	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	for (q = s->queries; q != NULL; q = next) {
		next = q->next;
		resolv_cancel(q->rq);
		epmd_aq_cancel(q->aq);
		free(q);
	}
	free(s->path);
	free(s);
}

static uint16_t
erlang_hosts_port(const void *p)
{
	const struct erlang_hosts_conf *c = p;

	return c->port ? (uint16_t)c->port : strat_epmd_port();
}

static struct strat *
erlang_hosts_start(const struct strat_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct erlang_hosts_conf *c = p;
	struct strat *s;

	if (env->agent->resolv == NULL) {
		snprintf(err, errlen, "no resolver");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (c->path != NULL && (s->path = strdup(c->path)) == NULL)) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	s->port = c->port ? (uint16_t)c->port : strat_epmd_port();
	s->timeout = (double)c->timeout_ms / 1000.;
	ev_timer_init(&s->poll_w, on_poll, 0., (double)c->interval_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

const struct strat_ops strat_erlang_hosts = {
	.name = "erlang_hosts",
	.keys = erlang_hosts_keys,
	.conf_size = sizeof(struct erlang_hosts_conf),
	.conf_init = erlang_hosts_conf_init,
	.conf_free = erlang_hosts_conf_free,
	.epmd_port = erlang_hosts_port,
	.start = erlang_hosts_start,
	.stop = erlang_hosts_stop,
};
