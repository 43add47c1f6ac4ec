/*
 * kubernetes: the pods behind a service, from the Kubernetes API, as
 * libcluster's Cluster.Strategy.Kubernetes finds them, but on
 * EndpointSlices (discovery.k8s.io/v1) and with a watch instead of a
 * poll: one list, then a watch from the list's resourceVersion
 * (allowWatchBookmarks; a bookmark moves the version on, an expired
 * version, 410 Gone, lists again).
 *
 *	strategy: kubernetes
 *	config:
 *	  mode: ip                        # ip | dns | hostname (libcluster's)
 *	  kubernetes_node_basename: myapp
 *	  kubernetes_selector: "app=myapp"        # label selector, optional
 *	  kubernetes_service_name: myapp-headless # optional; hostname mode
 *	  kubernetes_namespace: default   # default: the pod's own namespace
 *	  kubernetes_master: kubernetes.default.svc   # host[:port], 443
 *	  kubernetes_cluster_name: cluster        # cluster_domain CLUSTER.local
 *	  cluster_domain: cluster.local
 *	  polling_interval: 5s            # how often the answer is re-sent
 *	  token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
 *	  ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
 *	  namespace_file: /var/run/secrets/kubernetes.io/serviceaccount/namespace
 *	  timeout: 10s                    # to the end of a response's headers
 *	  watch_timeout: 5m               # the server ends a watch after it
 *	  max_response: 16MiB             # a list's body
 *	  max_slices: 1000
 *	  max_endpoints: 10000
 *
 * Names, as libcluster makes them: ip mode basename@10.1.2.3; dns mode
 * basename@10-1-2-3.NAMESPACE.pod.DOMAIN; hostname mode
 * basename@HOSTNAME.SERVICE.NAMESPACE.svc.DOMAIN.  Endpoints whose
 * `ready` condition is false are left out.
 *
 * The token is read again for every request (the kubelet rewrites a
 * projected token before it expires); the watch ends every
 * watch_timeout, so a rotated token is in use within that.  An API
 * server that is down, slow or refusing drops nobody: the strategy says
 * "unknown" every polling_interval (the agent keeps every node) and
 * retries with a jittered backoff.
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/backoff.h"
#include "common/bytes.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "strategies/http_client.h"
#include "strategies/http_resp.h"
#include "strategies/k8s_slices.h"
#include "strategies/strat_util.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount/"
#define KUBE_MAX_TOKEN	(64 * 1024)
#define KUBE_MAX_LINE	(1024 * 1024)	/* one watch event */
#define KUBE_MAX_ERRBODY 4096		/* of a refusal, for the log */
#define KUBE_RETRY_MIN	250
#define KUBE_RETRY_MAX	30000
#define KUBE_MAX_PATH	4096

struct kube_conf {
	int			 mode;
	char			*basename;
	char			*selector;
	char			*service;
	char			*namespace;
	struct conf_hostport	 master;
	char			*cluster_name;
	char			*cluster_domain;
	uint64_t		 interval_ms;
	char			*token_file;
	char			*ca_file;
	char			*namespace_file;
	uint64_t		 timeout_ms;
	uint64_t		 watch_ms;
	uint64_t		 max_response;
	unsigned		 max_slices;
	unsigned		 max_endpoints;
};

static const struct conf_enum kube_modes[] = {
	{ "ip", K8S_MODE_IP },
	{ "dns", K8S_MODE_DNS },
	{ "hostname", K8S_MODE_HOSTNAME },
	{ NULL, 0 },
};

static const struct conf_key kube_keys[] = {
	{ .name = "mode", .type = CONF_ENUM,
	  .offset = offsetof(struct kube_conf, mode), .names = kube_modes },
	{ .name = "kubernetes_node_basename", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, basename),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "kubernetes_selector", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, selector) },
	{ .name = "kubernetes_service_name", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, service),
	  .flags = CONF_NONEMPTY },
	{ .name = "kubernetes_namespace", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, namespace),
	  .flags = CONF_NONEMPTY },
	{ .name = "kubernetes_master", .type = CONF_HOSTPORT,
	  .offset = offsetof(struct kube_conf, master), .defport = 443,
	  .min = 1, .max = 65535 },
	{ .name = "kubernetes_cluster_name", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, cluster_name),
	  .flags = CONF_NONEMPTY },
	{ .name = "cluster_domain", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, cluster_domain),
	  .flags = CONF_NONEMPTY },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct kube_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "token_file", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, token_file),
	  .flags = CONF_NONEMPTY },
	{ .name = "ca_file", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, ca_file),
	  .flags = CONF_NONEMPTY },
	{ .name = "namespace_file", .type = CONF_STRING,
	  .offset = offsetof(struct kube_conf, namespace_file),
	  .flags = CONF_NONEMPTY },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct kube_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = "watch_timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct kube_conf, watch_ms),
	  .min = 1000, .max = 86400000 },
	{ .name = "max_response", .type = CONF_SIZE,
	  .offset = offsetof(struct kube_conf, max_response),
	  .min = 1024, .max = 1024 * 1024 * 1024 },
	{ .name = "max_slices", .type = CONF_UINT,
	  .offset = offsetof(struct kube_conf, max_slices),
	  .min = 1, .max = 1000000 },
	{ .name = "max_endpoints", .type = CONF_UINT,
	  .offset = offsetof(struct kube_conf, max_endpoints),
	  .min = 1, .max = 1000000 },
	{ .name = NULL },
};

enum kube_phase {
	KUBE_WAIT,		/* backing off, or about to list */
	KUBE_LISTING,
	KUBE_WATCHING,
};

struct strat {
	ev_timer		 poll_w;	/* re-sends the answer */
	ev_timer		 retry_w;	/* the next list or watch */
	const struct strat_env	*env;
	struct http_client	*req;
	enum kube_phase		 phase;
	int			 healthy;	/* the table is the API's */
	int			 gone;		/* a 410 ended the watch */
	int			 reported_fail;
	double			 watch_start;
	struct backoff		 bo;
	struct k8s_slices	*slices;
	struct k8s_naming	 nm;
	struct bytes_w		 body;		/* a list's response */
	struct http_lines	 lines;		/* a watch's events */
	uint64_t		 max_response;
	uint64_t		 timeout_ms;
	uint64_t		 watch_ms;
	char			*host;
	uint16_t		 port;
	char			*token_file;
	char			*ca_file;
	char			*path;		/* .../endpointslices */
	char			*query;		/* labelSelector=... or "" */
	char			 basename[256];
	char			 service[256];
	char			 namespace[256];
	char			 domain[256];
	char			 rv[K8S_MAX_RV];
	char			 why[512];
};

static struct log_rate kube_event_lr = LOG_RATE_INIT(10);

static void	kube_next(struct strat *, int failed);

static void
kube_conf_init(void *p)
{
	struct kube_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->mode = K8S_MODE_IP;
	c->interval_ms = STRAT_DEFAULT_POLL_MS;
	c->timeout_ms = 10000;
	c->watch_ms = 300000;
	c->max_response = 16 * 1024 * 1024;
	c->max_slices = 1000;
	c->max_endpoints = 10000;
}

static void
kube_conf_free(void *p)
{
	conf_free_fields(kube_keys, p);
}

/* What start would refuse, for -n with the key's FILE:LINE:COL. */
static void
kube_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct kube_conf *c = p;

	if (c->mode == K8S_MODE_HOSTNAME && c->service == NULL)
		err(arg, "mode", -1, "mode hostname needs "
		    "kubernetes_service_name (the name is "
		    "HOST.SERVICE.NAMESPACE.svc.DOMAIN)");
	if (c->basename != NULL && (strchr(c->basename, '@') != NULL ||
	    strlen(c->basename) > 255))
		err(arg, "kubernetes_node_basename", -1, "a node's base name "
		    "has no '@' and at most 255 characters");
	if (c->selector != NULL && strlen(c->selector) > 1000)
		err(arg, "kubernetes_selector", -1, "over 1000 characters");
	if (c->service != NULL && strlen(c->service) > 253)
		err(arg, "kubernetes_service_name", -1, "over 253 characters");
	if (c->namespace != NULL && strlen(c->namespace) > 253)
		err(arg, "kubernetes_namespace", -1, "over 253 characters");
}

static void
kube_source(struct strat *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/kubernetes:%s", s->env->topology,
	    s->namespace);
}

/* The whole answer, or "unknown" with the last failure. */
static void
kube_report(struct strat *s)
{
	char source[600], **nodes = NULL;
	size_t n = 0;

	kube_source(s, source, sizeof(source));
	if (!s->healthy) {
		s->env->report(s->env->arg, source, NULL, 0, s->why);
		return;
	}
	if (k8s_slices_nodes(s->slices, &nodes, &n) != 0) {
		s->env->report(s->env->arg, source, NULL, 0, "out of memory");
		return;
	}
	s->env->report(s->env->arg, source, (const char *const *)nodes, n,
	    "no ready endpoints");
	free(nodes);
}

static void
kube_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	kube_report(container_of(w, struct strat, poll_w));
}

/* Marks the table stale: the API could not be read. */
static void
kube_fail(struct strat *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kube_fail(struct strat *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	if (s->healthy || !s->reported_fail) {
		s->healthy = 0;
		s->reported_fail = 1;
		kube_report(s);
	}
}

/*
 * The bearer token, read now: the kubelet rewrites a projected token
 * before it expires.  Whitespace around it is dropped; anything that
 * could end a header line inside it refuses it.
 */
static int
kube_token(struct strat *s, char **tok)
{
	char err[512], *buf, *p, *e;
	size_t len;

	*tok = NULL;
	if (file_read_all(s->token_file, KUBE_MAX_TOKEN, 0, &buf, &len, err,
	    sizeof(err)) != 0) {
		kube_fail(s, "token: %s", err);
		return -1;
	}
	for (p = buf; *p != '\0' && isspace((unsigned char)*p); p++)
		;
	for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	if (*p == '\0' || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != strlen(p)) {
		kube_fail(s, "token: %s is empty or not a bearer token",
		    s->token_file);
		OPENSSL_cleanse(buf, len);
		free(buf);
		return -1;
	}
	*tok = strdup(p);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return *tok != NULL ? 0 : -1;
}

static int
kube_list_body(void *arg, int status, const uint8_t *p, size_t n)
{
	struct strat *s = arg;

	if (s->body.len + n > s->max_response)
		return CAIRN_ERR_TOO_BIG;
	return bytes_put(&s->body, p, n) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

static const char *
kube_status_why(int status)
{
	switch (status) {
	case 401:
		return "401 Unauthorized: the token is not accepted";
	case 403:
		return "403 Forbidden: the service account may not "
		    "list/watch endpointslices (discovery.k8s.io)";
	case 404:
		return "404 Not Found: no EndpointSlice API here";
	case 410:
		return "410 Gone";
	default:
		return "unexpected status";
	}
}

static void
kube_list_done(void *arg, int err, int status, const char *why)
{
	struct strat *s = arg;
	char rv[K8S_MAX_RV], msg[512];
	int rc;

	s->req = NULL;
	if (err != 0 || status != 200)
		bytes_w_fini(&s->body);
	if (err != 0) {
		kube_fail(s, "list: %s", err == CAIRN_ERR_TOO_BIG ?
		    "response over max_response" : why);
		kube_next(s, 1);
		return;
	}
	if (status != 200) {
		kube_fail(s, "list: HTTP %d: %s", status,
		    kube_status_why(status));
		kube_next(s, 1);
		return;
	}
	rc = k8s_slices_list(s->slices, &s->nm, (const char *)s->body.buf,
	    s->body.len, rv, msg, sizeof(msg));
	bytes_w_fini(&s->body);
	if (rc != 0) {
		kube_fail(s, "list: %s", msg);
		kube_next(s, 1);
		return;
	}
	memcpy(s->rv, rv, sizeof(rv));
	log_debug("%s/kubernetes: listed %zu EndpointSlices at version %s",
	    s->env->topology, k8s_slices_count(s->slices), s->rv);
	s->healthy = 1;
	s->reported_fail = 0;
	backoff_reset(&s->bo);
	kube_report(s);
	s->phase = KUBE_WATCHING;
	kube_next(s, 0);
}

static int
kube_on_line(void *arg, char *line, size_t len)
{
	struct strat *s = arg;
	char rv[K8S_MAX_RV], msg[512];
	int rc;

	rc = k8s_slices_event(s->slices, &s->nm, line, len, rv, msg,
	    sizeof(msg));
	switch (rc) {
	case K8S_EV_CHANGED:
		memcpy(s->rv, rv, sizeof(rv));
		kube_report(s);
		return 0;
	case K8S_EV_SAME:
	case K8S_EV_BOOKMARK:
		memcpy(s->rv, rv, sizeof(rv));
		return 0;
	case K8S_EV_GONE:
		s->gone = 1;
		snprintf(s->why, sizeof(s->why), "%s", msg);
		return CAIRN_ERR_NOENT;		/* ends the watch */
	case K8S_EV_ERROR:
		snprintf(s->why, sizeof(s->why), "%s", msg);
		return CAIRN_ERR_PROTO;
	default:
		/* A bad event: the table may be wrong now.  List again. */
		log_rate_warnx(&kube_event_lr, "%s/kubernetes: watch: %s",
		    s->env->topology, msg);
		snprintf(s->why, sizeof(s->why), "watch: %.400s", msg);
		return rc;
	}
}

static int
kube_watch_body(void *arg, int status, const uint8_t *p, size_t n)
{
	struct strat *s = arg;

	if (status != 200)
		return 0;	/* the status says it all */
	return http_lines_feed(&s->lines, p, n, kube_on_line, s);
}

static void
kube_watch_done(void *arg, int err, int status, const char *why)
{
	struct strat *s = arg;
	double lasted;

	s->req = NULL;
	http_lines_fini(&s->lines);
	lasted = ev_now(s->env->agent->loop) - s->watch_start;
	if (s->gone || status == 410) {
		/* Our version expired: list again, at once, once. */
		log_debug("%s/kubernetes: version %s expired: listing again",
		    s->env->topology, s->rv);
		s->gone = 0;
		s->phase = KUBE_LISTING;
		kube_next(s, lasted < 1.);
		return;
	}
	if (err == 0 && status == 200) {
		/* The server ended the watch (timeoutSeconds): go on. */
		kube_next(s, lasted < 1.);
		return;
	}
	if (err == 0)
		kube_fail(s, "watch: HTTP %d: %s", status,
		    kube_status_why(status));
	else if (err == CAIRN_ERR_PROTO && s->why[0] != '\0' &&
	    strncmp(s->why, "watch", 5) == 0) {
		char tmp[sizeof(s->why)];

		memcpy(tmp, s->why, sizeof(tmp));
		kube_fail(s, "%.500s", tmp);
	} else
		kube_fail(s, "watch: %s", err == CAIRN_ERR_TOO_BIG ?
		    "an event over its size limit" : why);
	/* Whatever was missed is only in a new list. */
	s->phase = KUBE_LISTING;
	kube_next(s, 1);
}

static void
kube_request(struct strat *s)
{
	struct http_client_opts o;
	char *tok = NULL, *req = NULL, target[KUBE_MAX_PATH + 512];
	char hostport[300];
	int watch = s->phase == KUBE_WATCHING;

	if (kube_token(s, &tok) != 0) {
		kube_next(s, 1);
		return;
	}
	if (watch)
		snprintf(target, sizeof(target), "%s?watch=1&"
		    "allowWatchBookmarks=true&resourceVersion=%s&"
		    "timeoutSeconds=%llu%s%s", s->path, s->rv,
		    (unsigned long long)(s->watch_ms / 1000),
		    s->query[0] != '\0' ? "&" : "", s->query);
	else
		snprintf(target, sizeof(target), "%s%s%s", s->path,
		    s->query[0] != '\0' ? "?" : "", s->query);
	if (strchr(s->host, ':') != NULL)
		snprintf(hostport, sizeof(hostport), "[%s]:%u", s->host,
		    s->port);
	else
		snprintf(hostport, sizeof(hostport), "%s:%u", s->host,
		    s->port);
	if (asprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Bearer %s\r\nAccept: application/json\r\n"
	    "User-Agent: cairn-agent\r\nConnection: close\r\n\r\n",
	    target, hostport, tok) == -1)
		req = NULL;
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	if (req == NULL) {
		kube_fail(s, "out of memory");
		kube_next(s, 1);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.loop = s->env->agent->loop;
	o.resolv = s->env->agent->resolv;
	o.host = s->host;
	o.port = s->port;
	o.ca_file = s->ca_file;
	o.request = req;
	o.timeout_ms = s->timeout_ms;
	o.arg = s;
	if (watch) {
		/* The server ends it at timeoutSeconds; silence well past
		 * that (bookmarks come about every minute) is a dead link. */
		o.idle_ms = s->watch_ms + s->timeout_ms + 60000;
		o.body = kube_watch_body;
		o.done = kube_watch_done;
		http_lines_init(&s->lines, KUBE_MAX_LINE);
		s->gone = 0;
		s->why[0] = '\0';
		s->watch_start = ev_now(s->env->agent->loop);
	} else {
		/* A list's body trickled in forever is a dead server too. */
		o.idle_ms = s->timeout_ms;
		o.body = kube_list_body;
		o.done = kube_list_done;
		bytes_w_init(&s->body, s->max_response);
	}
	s->req = http_client_get(&o);
	OPENSSL_cleanse(req, strlen(req));
	free(req);
	if (s->req == NULL) {
		if (watch)
			http_lines_fini(&s->lines);
		else
			bytes_w_fini(&s->body);
		kube_fail(s, "out of memory");
		kube_next(s, 1);
	}
}

static void
kube_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, retry_w);

	if (s->phase == KUBE_WAIT)
		s->phase = KUBE_LISTING;
	kube_request(s);
}

/* Schedules the next request: at once, or after a backoff. */
static void
kube_next(struct strat *s, int failed)
{
	uint32_t rnd = 0;
	double after = 0.;

	if (failed) {
		(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
		after = (double)backoff_next(&s->bo, rnd) / 1000.;
	}
	ev_timer_stop(s->env->agent->loop, &s->retry_w);
	ev_timer_set(&s->retry_w, after, 0.);
	ev_timer_start(s->env->agent->loop, &s->retry_w);
}

static void
kube_stop(struct strat *s)
{
	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	ev_timer_stop(s->env->agent->loop, &s->retry_w);
	if (s->req != NULL) {
		http_client_cancel(s->req);
		if (s->phase == KUBE_WATCHING)
			http_lines_fini(&s->lines);
	}
	bytes_w_fini(&s->body);
	k8s_slices_free(s->slices);
	free(s->host);
	free(s->token_file);
	free(s->ca_file);
	free(s->path);
	free(s->query);
	free(s);
}

/* The pod's namespace, from the service account's file. */
static void
kube_own_namespace(const char *path, char *buf, size_t len)
{
	char *text = NULL;
	size_t n;

	snprintf(buf, len, "default");
	if (file_read_all(path, 253, 0, &text, &n, NULL, 0) != 0)
		return;
	n = strcspn(text, " \t\r\n");
	text[n] = '\0';
	if (n > 0 && n < len)
		snprintf(buf, len, "%s", text);
	free(text);
}

static struct strat *
kube_start(const struct strat_env *env, const void *cp, char *err,
    size_t errlen)
{
	const struct kube_conf *c = cp;
	struct strat *s;
	char sel[2048], esc[4096];

	if (c->mode == K8S_MODE_HOSTNAME && c->service == NULL) {
		snprintf(err, errlen, "mode hostname needs "
		    "kubernetes_service_name");
		return NULL;
	}
	if (env->agent->resolv == NULL) {
		snprintf(err, errlen, "no resolver");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	s->timeout_ms = c->timeout_ms;
	s->watch_ms = c->watch_ms;
	s->max_response = c->max_response;
	s->port = c->master.host != NULL ? c->master.port : 443;
	snprintf(s->basename, sizeof(s->basename), "%s", c->basename);
	snprintf(s->service, sizeof(s->service), "%s",
	    c->service != NULL ? c->service : "");
	if (c->namespace != NULL)
		snprintf(s->namespace, sizeof(s->namespace), "%s",
		    c->namespace);
	else
		kube_own_namespace(c->namespace_file != NULL ?
		    c->namespace_file : SA_DIR "namespace", s->namespace,
		    sizeof(s->namespace));
	if (c->cluster_domain != NULL)
		snprintf(s->domain, sizeof(s->domain), "%s",
		    c->cluster_domain);
	else
		snprintf(s->domain, sizeof(s->domain), "%s.local",
		    c->cluster_name != NULL ? c->cluster_name : "cluster");
	s->nm.mode = c->mode;
	s->nm.basename = s->basename;
	s->nm.service = s->service;
	s->nm.namespace = s->namespace;
	s->nm.domain = s->domain;
	/* The service's slices carry its name as a label. */
	snprintf(sel, sizeof(sel), "%s%s%s%s",
	    c->service != NULL ? "kubernetes.io/service-name=" : "",
	    c->service != NULL ? c->service : "",
	    c->service != NULL && c->selector != NULL &&
	    c->selector[0] != '\0' ? "," : "",
	    c->selector != NULL ? c->selector : "");
	if (http_query_escape(sel, esc, sizeof(esc)) != 0 ||
	    http_query_escape(s->namespace, sel, sizeof(sel)) != 0) {
		snprintf(err, errlen, "selector or namespace too long");
		free(s);
		return NULL;
	}
	if ((s->slices = k8s_slices_new(c->max_slices,
	    c->max_endpoints)) == NULL ||
	    (s->host = strdup(c->master.host != NULL ? c->master.host :
	    "kubernetes.default.svc")) == NULL ||
	    (s->token_file = strdup(c->token_file != NULL ? c->token_file :
	    SA_DIR "token")) == NULL ||
	    (s->ca_file = strdup(c->ca_file != NULL ? c->ca_file :
	    SA_DIR "ca.crt")) == NULL ||
	    asprintf(&s->path, "/apis/discovery.k8s.io/v1/namespaces/%s/"
	    "endpointslices", sel) == -1 ||
	    asprintf(&s->query, "%s%s", esc[0] != '\0' ? "labelSelector=" :
	    "", esc) == -1) {
		snprintf(err, errlen, "out of memory");
		s->path = s->query = NULL;
		kube_stop(s);
		return NULL;
	}
	backoff_init(&s->bo, KUBE_RETRY_MIN, KUBE_RETRY_MAX);
	snprintf(s->why, sizeof(s->why), "not listed yet");
	s->phase = KUBE_LISTING;
	ev_timer_init(&s->poll_w, kube_on_poll, (double)c->interval_ms /
	    1000., (double)c->interval_ms / 1000.);
	ev_timer_init(&s->retry_w, kube_on_retry, 0., 0.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	ev_timer_start(env->agent->loop, &s->retry_w);
	return s;
}

const struct strat_ops strat_kubernetes = {
	.name = "kubernetes",
	.keys = kube_keys,
	.conf_size = sizeof(struct kube_conf),
	.conf_init = kube_conf_init,
	.conf_free = kube_conf_free,
	.check = kube_check,
	.start = kube_start,
	.stop = kube_stop,
};
