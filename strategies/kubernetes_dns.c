/*
 * kubernetes_dns and kubernetes_dnssrv: the pods behind a headless
 * service, found in DNS (libcluster's Kubernetes.DNS / DNSPoll and
 * Kubernetes.DNSSRV), polled every polling_interval through the agent's
 * c-ares resolver, never blocking.
 *
 *	strategy: kubernetes_dns          # A records -> application_name@IP
 *	config:
 *	  service: myapp-headless.default.svc.cluster.local
 *	  application_name: myapp
 *	  ip_family: inet                 # inet (A, as libcluster), inet6
 *	                                  # (AAAA) or both
 *	  polling_interval: 5s
 *	  resolvers: [10.96.0.10:53]      # optional: else /etc/resolv.conf
 *
 *	strategy: kubernetes_dnssrv       # SRV -> application_name@target
 *	config:
 *	  service: myapp-headless
 *	  namespace: default
 *	  cluster_domain: cluster.local   # SRV name: service.namespace.svc.DOMAIN
 *	  application_name: myapp
 *
 * ip_family defaults to inet because a dual-stack pod has one A and one
 * AAAA record: asking both would make two members (app@10.x and
 * app@fd00::x) of one pod, where libcluster's Kubernetes.DNS asks A only.
 *
 * A failed or empty answer is "unknown": the agent drops nobody for it.
 * When this host's own address (or, for SRV, its host name) is missing
 * from an answer, the strategy warns once: that is the Kubernetes trap of
 * a pod not yet ready being left out of its own service unless the
 * service sets publishNotReadyAddresses.
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ifaddrs.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/resolv.h"
#include "common/sock.h"
#include "strategies/strat_util.h"

#define K8S_MAX_NAME	1024

struct k8s_conf {
	char			*service;
	char			*application_name;
	char			*namespace;
	char			*cluster_domain;
	uint64_t		 interval_ms;
	struct conf_strlist	 resolvers;
	uint64_t		 timeout_ms;
	int			 family;	/* AF_INET, AF_INET6, AF_UNSPEC */
};

static const struct conf_enum k8s_families[] = {
	{ "inet", AF_INET },
	{ "inet6", AF_INET6 },
	{ "both", AF_UNSPEC },
	{ NULL, 0 },
};

#define K8S_COMMON_KEYS							\
	{ .name = "service", .type = CONF_STRING,			\
	  .offset = offsetof(struct k8s_conf, service),			\
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },			\
	{ .name = "application_name", .type = CONF_STRING,		\
	  .offset = offsetof(struct k8s_conf, application_name),	\
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },			\
	{ .name = "polling_interval", .type = CONF_DURATION,		\
	  .offset = offsetof(struct k8s_conf, interval_ms),		\
	  .min = 10, .max = 86400000 },					\
	{ .name = "resolvers", .type = CONF_STRLIST,			\
	  .offset = offsetof(struct k8s_conf, resolvers),		\
	  .flags = CONF_NONEMPTY },					\
	{ .name = "timeout", .type = CONF_DURATION,			\
	  .offset = offsetof(struct k8s_conf, timeout_ms),		\
	  .min = 10, .max = 600000 }

static const struct conf_key k8s_dns_keys[] = {
	K8S_COMMON_KEYS,
	{ .name = "ip_family", .type = CONF_ENUM,
	  .offset = offsetof(struct k8s_conf, family),
	  .names = k8s_families },
	{ .name = NULL },
};

static const struct conf_key k8s_srv_keys[] = {
	K8S_COMMON_KEYS,
	{ .name = "namespace", .type = CONF_STRING,
	  .offset = offsetof(struct k8s_conf, namespace),
	  .flags = CONF_NONEMPTY },
	{ .name = "cluster_domain", .type = CONF_STRING,
	  .offset = offsetof(struct k8s_conf, cluster_domain),
	  .flags = CONF_NONEMPTY },
	{ .name = NULL },
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	struct resolv		*own;		/* set when `resolvers` is */
	struct resolv		*resolv;	/* own, or the agent's */
	struct resolv_query	*q;
	int			 srv;
	int			 family;	/* kubernetes_dns's records */
	int			 warned_self;
	char			 qname[K8S_MAX_NAME];
	char			 app[256];
	char			 kind[32];	/* for sources and logs */
};

static void
k8s_conf_init(void *p)
{
	struct k8s_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = STRAT_DEFAULT_POLL_MS;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
	c->family = AF_INET;
}

/* Each resolver is an IP address, with an optional port. */
static void
k8s_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct k8s_conf *c = p;

	strat_check_resolvers(&c->resolvers, "10.96.0.10", err, arg);
}

static void
k8s_dns_conf_free(void *p)
{
	conf_free_fields(k8s_dns_keys, p);
}

static void
k8s_srv_conf_free(void *p)
{
	conf_free_fields(k8s_srv_keys, p);
}

static void
k8s_source(struct strat *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s:%s", s->env->topology, s->kind, s->qname);
}

/* 1 if addr is one of this host's interface addresses. */
static int
k8s_is_local_addr(const struct sockaddr_storage *addr)
{
	struct ifaddrs *ifs, *i;
	int found = 0;

	if (getifaddrs(&ifs) == -1)
		return 1;	/* cannot tell: do not warn */
	for (i = ifs; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr != NULL &&
		    sock_same_addr(i->ifa_addr, (const struct sockaddr *)addr))
			found = 1;
	freeifaddrs(ifs);
	return found;
}

static void
k8s_report(struct strat *s, char **nodes, size_t n, int self_seen)
{
	char source[K8S_MAX_NAME + 300];

	k8s_source(s, source, sizeof(source));
	if (n > 0 && !self_seen && !s->warned_self) {
		s->warned_self = 1;
		log_warnx("%s: this host is not in the answer: if it runs in "
		    "Kubernetes, is the service missing "
		    "publishNotReadyAddresses: true?", source);
	}
	s->env->report(s->env->arg, source, (const char *const *)nodes, n,
	    "empty answer");
}

static void
on_addrs(void *arg, int err, const struct sockaddr_storage *addrs, size_t n)
{
	struct strat *s = arg;
	char source[K8S_MAX_NAME + 300], why[K8S_MAX_NAME + 64];
	char **nodes = NULL, ip[64];
	size_t i, k = 0;
	int self_seen = 0;

	s->q = NULL;
	if (err != 0) {
		k8s_source(s, source, sizeof(source));
		snprintf(why, sizeof(why), "%s %s: %s", s->family == AF_INET ?
		    "A" : s->family == AF_INET6 ? "AAAA" : "A/AAAA", s->qname,
		    cairn_strerror(err));
		s->env->report(s->env->arg, source, NULL, 0, why);
		return;
	}
	if ((nodes = calloc(n + 1, sizeof(*nodes))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		sock_ntop_addr((const struct sockaddr *)&addrs[i], ip,
		    sizeof(ip));
		if (asprintf(&nodes[k], "%s@%s", s->app, ip) == -1)
			break;
		k++;
		if (!self_seen && k8s_is_local_addr(&addrs[i]))
			self_seen = 1;
	}
	k8s_report(s, nodes, k, self_seen);
	for (i = 0; i < k; i++)
		free(nodes[i]);
	free(nodes);
}

static void
on_srv(void *arg, int err, const struct resolv_srv *recs, size_t n)
{
	struct strat *s = arg;
	char source[K8S_MAX_NAME + 300], why[K8S_MAX_NAME + 64];
	char **nodes = NULL, host[256], target[RESOLV_NAME_MAX];
	size_t i, k = 0, hl, tl;
	int self_seen = 0;

	s->q = NULL;
	if (err != 0) {
		k8s_source(s, source, sizeof(source));
		snprintf(why, sizeof(why), "SRV %s: %s", s->qname,
		    cairn_strerror(err));
		s->env->report(s->env->arg, source, NULL, 0, why);
		return;
	}
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	hl = strcspn(host, ".");
	if ((nodes = calloc(n + 1, sizeof(*nodes))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		snprintf(target, sizeof(target), "%s", recs[i].target);
		tl = strlen(target);
		if (tl > 0 && target[tl - 1] == '.')
			target[--tl] = '\0';
		if (asprintf(&nodes[k], "%s@%s", s->app, target) == -1)
			break;
		k++;
		/* A pod's SRV target starts with its own host name. */
		if (hl > 0 && strncmp(target, host, hl) == 0 &&
		    (target[hl] == '.' || target[hl] == '\0'))
			self_seen = 1;
	}
	k8s_report(s, nodes, k, self_seen);
	for (i = 0; i < k; i++)
		free(nodes[i]);
	free(nodes);
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);
	char source[K8S_MAX_NAME + 300];

	if (s->q != NULL)
		return;		/* the last query is still running */
	if (s->srv)
		s->q = resolv_query_srv(s->resolv, s->qname, on_srv, s);
	else
		s->q = resolv_query_addr(s->resolv, s->qname, s->family,
		    on_addrs, s);
	if (s->q == NULL) {
		k8s_source(s, source, sizeof(source));
		s->env->report(s->env->arg, source, NULL, 0,
		    "cannot start a DNS query");
	}
}

static void
k8s_stop(struct strat *s)
{
	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	resolv_cancel(s->q);
	resolv_free(s->own);
	free(s);
}

static struct strat *
k8s_start(const struct strat_env *env, const struct k8s_conf *c, int srv,
    char *err, size_t errlen)
{
	struct strat *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	s->srv = srv;
	s->family = c->family;
	snprintf(s->kind, sizeof(s->kind), "%s", srv ? "kubernetes_dnssrv" :
	    "kubernetes_dns");
	snprintf(s->app, sizeof(s->app), "%s", c->application_name);
	if (srv)
		snprintf(s->qname, sizeof(s->qname), "%s.%s.svc.%s",
		    c->service, c->namespace != NULL ? c->namespace :
		    "default", c->cluster_domain != NULL ? c->cluster_domain :
		    "cluster.local");
	else
		snprintf(s->qname, sizeof(s->qname), "%s", c->service);
	if (strat_resolver(env->agent->loop, env->agent->resolv,
	    &c->resolvers, c->timeout_ms, &s->own, &s->resolv, err,
	    errlen) != 0) {
		free(s);
		return NULL;
	}
	ev_timer_init(&s->poll_w, on_poll, 0., (double)c->interval_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

static struct strat *
k8s_dns_start(const struct strat_env *env, const void *c, char *err,
    size_t errlen)
{
	return k8s_start(env, c, 0, err, errlen);
}

static struct strat *
k8s_srv_start(const struct strat_env *env, const void *c, char *err,
    size_t errlen)
{
	return k8s_start(env, c, 1, err, errlen);
}

const struct strat_ops strat_kubernetes_dns = {
	.name = "kubernetes_dns",
	.keys = k8s_dns_keys,
	.conf_size = sizeof(struct k8s_conf),
	.conf_init = k8s_conf_init,
	.conf_free = k8s_dns_conf_free,
	.check = k8s_check,
	.start = k8s_dns_start,
	.stop = k8s_stop,
};

const struct strat_ops strat_kubernetes_dnssrv = {
	.name = "kubernetes_dnssrv",
	.keys = k8s_srv_keys,
	.conf_size = sizeof(struct k8s_conf),
	.conf_init = k8s_conf_init,
	.conf_free = k8s_srv_conf_free,
	.check = k8s_check,
	.start = k8s_srv_start,
	.stop = k8s_stop,
};
