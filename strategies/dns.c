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
	struct conf_hostport hp;
	unsigned char a[16];
	char why[512];
	size_t i;
	int ok;

	if (c->query != NULL && strlen(c->query) > 253)
		err(arg, "query", -1, "a DNS name is at most 253 characters");
	if (c->node_basename != NULL &&
	    (strchr(c->node_basename, '@') != NULL ||
	    strlen(c->node_basename) > 255))
		err(arg, "node_basename", -1, "a node's base name has no '@' "
		    "and at most 255 characters");
	for (i = 0; i < c->resolvers.n && i < INT_MAX; i++) {
		memset(&hp, 0, sizeof(hp));
		ok = conf_parse_hostport(c->resolvers.v[i], 53, &hp) == 0 &&
		    (inet_pton(AF_INET, hp.host, a) == 1 ||
		    inet_pton(AF_INET6, hp.host, a) == 1);
		free(hp.host);
		if (ok)
			continue;
		snprintf(why, sizeof(why), "'%.400s' is not an IP address "
		    "with an optional port (10.0.0.2, 10.0.0.2:53, "
		    "[fd00::a]:53)", c->resolvers.v[i]);
		err(arg, "resolvers", (int)i, why);
	}
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
	struct resolv_opts ro;
	struct strat *s;
	char servers[1024] = "";
	size_t i;

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
	if (c->resolvers.n > 0) {
		for (i = 0; i < c->resolvers.n; i++) {
			if (i > 0)
				strncat(servers, ",", sizeof(servers) -
				    strlen(servers) - 1);
			strncat(servers, c->resolvers.v[i], sizeof(servers) -
			    strlen(servers) - 1);
		}
		memset(&ro, 0, sizeof(ro));
		ro.servers = servers;
		ro.no_search = 1;
		ro.deadline_ms = (int)c->timeout_ms;
		/* Its own resolver: these servers must not change what
		 * the other topologies ask. */
		if ((s->own = resolv_new(env->agent->loop, &ro)) == NULL) {
			snprintf(err, errlen, "bad resolvers '%s'", servers);
			free(s);
			return NULL;
		}
		s->resolv = s->own;
	} else if ((s->resolv = env->agent->resolv) == NULL) {
		snprintf(err, errlen, "no resolver");
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
