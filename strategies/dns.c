/*
 * dns: libcluster's Cluster.Strategy.DNSPoll.  Every polling_interval it
 * asks for the A and AAAA records of one name, through the agent's
 * c-ares resolver (never blocking), and reports node_basename@IP for
 * each address.
 *
 *	strategy: dns
 *	config:
 *	  query: myapp.internal.example.com
 *	  node_basename: myapp
 *	  polling_interval: 5s
 *	  resolvers: [10.0.0.2:53]        # optional: else /etc/resolv.conf
 *	  timeout: 2s                     # whole-query bound
 *
 * A failed or empty answer is "unknown": the agent drops nobody for it
 * (libcluster's DNSPoll, seeing no records, would disconnect nobody
 * either: it only ever connects).
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <sys/socket.h>

#include <arpa/inet.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/resolv.h"
#include "common/sock.h"
#include "strategies/strat_util.h"

#define DNS_MAX_NAME	256

struct dns_conf {
	char			*query;
	char			*node_basename;
	uint64_t		 interval_ms;
	struct conf_strlist	 resolvers;
	uint64_t		 timeout_ms;
};

static const struct conf_key dns_keys[] = {
	{ .name = "query", .type = CONF_STRING,
	  .offset = offsetof(struct dns_conf, query),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "node_basename", .type = CONF_STRING,
	  .offset = offsetof(struct dns_conf, node_basename),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct dns_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "resolvers", .type = CONF_STRLIST,
	  .offset = offsetof(struct dns_conf, resolvers),
	  .flags = CONF_NONEMPTY },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct dns_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = NULL },
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	struct resolv		*own;		/* set when `resolvers` is */
	struct resolv		*resolv;	/* own, or the agent's */
	struct resolv_query	*q;
	char			 qname[DNS_MAX_NAME];
	char			 base[256];
};

static void
dns_conf_init(void *p)
{
	struct dns_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = STRAT_DEFAULT_POLL_MS;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
}

static void
dns_conf_free(void *p)
{
	conf_free_fields(dns_keys, p);
}

/* What start would refuse, for -n with the key's FILE:LINE:COL. */
static void
dns_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct dns_conf *c = p;

	if (c->query != NULL && strlen(c->query) > 253)
		err(arg, "query", -1, "a DNS name is at most 253 characters");
	if (c->node_basename != NULL &&
	    (strchr(c->node_basename, '@') != NULL ||
	    strlen(c->node_basename) > 255))
		err(arg, "node_basename", -1, "a node's base name has no '@' "
		    "and at most 255 characters");
	strat_check_resolvers(&c->resolvers, "10.0.0.2", err, arg);
}

static void
dns_source(struct strat *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/dns:%s", s->env->topology, s->qname);
}

static void
dns_on_addrs(void *arg, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct strat *s = arg;
	char source[DNS_MAX_NAME + 300], why[DNS_MAX_NAME + 64], ip[64];
	char **nodes;
	size_t i, k = 0;

	s->q = NULL;
	dns_source(s, source, sizeof(source));
	if (err != 0) {
		snprintf(why, sizeof(why), "A/AAAA %s: %s", s->qname,
		    cairn_strerror(err));
		s->env->report(s->env->arg, source, NULL, 0, why);
		return;
	}
	if ((nodes = calloc(n + 1, sizeof(*nodes))) == NULL) {
		s->env->report(s->env->arg, source, NULL, 0, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		sock_ntop_addr((const struct sockaddr *)&addrs[i], ip,
		    sizeof(ip));
		if (asprintf(&nodes[k], "%s@%s", s->base, ip) == -1)
			break;
		k++;
	}
	s->env->report(s->env->arg, source, (const char *const *)nodes, k,
	    "empty answer");
	for (i = 0; i < k; i++)
		free(nodes[i]);
	free(nodes);
}

static void
dns_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);
	char source[DNS_MAX_NAME + 300];

	if (s->q != NULL)
		return;		/* the last query is still running */
	s->q = resolv_query_addr(s->resolv, s->qname, AF_UNSPEC, dns_on_addrs,
	    s);
	if (s->q == NULL) {
		dns_source(s, source, sizeof(source));
		s->env->report(s->env->arg, source, NULL, 0,
		    "cannot start a DNS query");
	}
}

static void
dns_stop(struct strat *s)
{
	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	resolv_cancel(s->q);
	resolv_free(s->own);
	free(s);
}

static struct strat *
dns_start(const struct strat_env *env, const void *cp, char *err,
    size_t errlen)
{
	const struct dns_conf *c = cp;
	struct strat *s;

	if (strlen(c->query) >= DNS_MAX_NAME) {
		snprintf(err, errlen, "query: a DNS name is at most 253 "
		    "characters");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	snprintf(s->qname, sizeof(s->qname), "%s", c->query);
	snprintf(s->base, sizeof(s->base), "%s", c->node_basename);
	if (strat_resolver(env->agent->loop, env->agent->resolv,
	    &c->resolvers, c->timeout_ms, &s->own, &s->resolv, err,
	    errlen) != 0) {
		free(s);
		return NULL;
	}
	ev_timer_init(&s->poll_w, dns_on_poll, 0.,
	    (double)c->interval_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

const struct strat_ops strat_dns = {
	.name = "dns",
	.keys = dns_keys,
	.conf_size = sizeof(struct dns_conf),
	.conf_init = dns_conf_init,
	.conf_free = dns_conf_free,
	.check = dns_check,
	.start = dns_start,
	.stop = dns_stop,
};
