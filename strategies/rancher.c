/*
 * rancher: the containers of this container's service, from the Rancher
 * (1.x) metadata service, as libcluster's Cluster.Strategy.Rancher finds
 * them: GET /latest/self/service with Accept: application/json, and
 * node_basename@IP for the first address of each container.  Polled
 * every polling_interval over plain HTTP (the metadata service is
 * link-local and speaks nothing else), never blocking.
 *
 *	strategy: rancher
 *	config:
 *	  node_basename: myapp
 *	  polling_interval: 5s
 *	  rancher_metadata: rancher-metadata:80   # host[:port]
 *	  timeout: 2s
 *	  max_response: 1MiB
 *
 * A failed, refused or malformed answer is "unknown": the agent drops
 * nobody for it.
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/bytes.h"
#include "common/conf.h"
#include "common/err.h"
#include "strategies/http_client.h"
#include "strategies/rancher_meta.h"
#include "strategies/strat_util.h"

struct rancher_conf {
	char			*basename;
	uint64_t		 interval_ms;
	struct conf_hostport	 metadata;
	uint64_t		 timeout_ms;
	uint64_t		 max_response;
};

static const struct conf_key rancher_keys[] = {
	{ .name = "node_basename", .type = CONF_STRING,
	  .offset = offsetof(struct rancher_conf, basename),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct rancher_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "rancher_metadata", .type = CONF_HOSTPORT,
	  .offset = offsetof(struct rancher_conf, metadata), .defport = 80,
	  .min = 1, .max = 65535 },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct rancher_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = "max_response", .type = CONF_SIZE,
	  .offset = offsetof(struct rancher_conf, max_response),
	  .min = 1024, .max = 256 * 1024 * 1024 },
	{ .name = NULL },
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	struct http_client	*req;
	struct bytes_w		 body;
	uint64_t		 timeout_ms;
	uint64_t		 max_response;
	char			*host;
	uint16_t		 port;
	char			 basename[256];
};

static void
rancher_conf_init(void *p)
{
	struct rancher_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = STRAT_DEFAULT_POLL_MS;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
	c->max_response = 1024 * 1024;
}

static void
rancher_conf_free(void *p)
{
	conf_free_fields(rancher_keys, p);
}

static void
rancher_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct rancher_conf *c = p;

	if (c->basename != NULL && (strchr(c->basename, '@') != NULL ||
	    strlen(c->basename) > 255))
		err(arg, "node_basename", -1, "a node's base name has no '@' "
		    "and at most 255 characters");
}

static int
rancher_body(void *arg, int status, const uint8_t *p, size_t n)
{
	struct strat *s = arg;

	if (s->body.len + n > s->max_response)
		return CAIRN_ERR_TOO_BIG;
	return bytes_put(&s->body, p, n) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

static void
rancher_done(void *arg, int err, int status, const char *why)
{
	struct strat *s = arg;
	char source[300], msg[512], **nodes = NULL;
	size_t n = 0;

	s->req = NULL;
	snprintf(source, sizeof(source), "%s/rancher", s->env->topology);
	if (err != 0)
		snprintf(msg, sizeof(msg), "%s", err == CAIRN_ERR_TOO_BIG ?
		    "response over max_response" : why);
	else if (status != 200)
		snprintf(msg, sizeof(msg), "HTTP %d from the metadata "
		    "service", status);
	else if (rancher_nodes(s->basename, (const char *)s->body.buf,
	    s->body.len, &nodes, &n, msg, sizeof(msg)) == 0)
		snprintf(msg, sizeof(msg), "no container with an address");
	bytes_w_fini(&s->body);
	s->env->report(s->env->arg, source, (const char *const *)nodes, n,
	    msg);
	rancher_nodes_free(nodes, n);
}

static void
rancher_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);
	struct http_client_opts o;
	char req[600], source[300];

	if (s->req != NULL)
		return;		/* the last one is still running */
	snprintf(req, sizeof(req), "GET /latest/self/service HTTP/1.1\r\n"
	    "Host: %s\r\nAccept: application/json\r\n"
	    "User-Agent: cairn-agent\r\nConnection: close\r\n\r\n", s->host);
	memset(&o, 0, sizeof(o));
	o.loop = loop;
	o.resolv = s->env->agent->resolv;
	o.host = s->host;
	o.port = s->port;
	o.request = req;
	o.timeout_ms = s->timeout_ms;
	o.idle_ms = s->timeout_ms;
	o.body = rancher_body;
	o.done = rancher_done;
	o.arg = s;
	bytes_w_init(&s->body, s->max_response);
	if ((s->req = http_client_get(&o)) == NULL) {
		bytes_w_fini(&s->body);
		snprintf(source, sizeof(source), "%s/rancher",
		    s->env->topology);
		s->env->report(s->env->arg, source, NULL, 0, "out of memory");
	}
}

static void
rancher_stop(struct strat *s)
{
	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	http_client_cancel(s->req);
	bytes_w_fini(&s->body);
	free(s->host);
	free(s);
}

static struct strat *
rancher_start(const struct strat_env *env, const void *cp, char *err,
    size_t errlen)
{
	const struct rancher_conf *c = cp;
	struct strat *s;

	if (env->agent->resolv == NULL) {
		snprintf(err, errlen, "no resolver");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->host = strdup(c->metadata.host != NULL ? c->metadata.host :
	    "rancher-metadata")) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	s->port = c->metadata.host != NULL ? c->metadata.port : 80;
	s->timeout_ms = c->timeout_ms;
	s->max_response = c->max_response;
	snprintf(s->basename, sizeof(s->basename), "%s", c->basename);
	ev_timer_init(&s->poll_w, rancher_on_poll, 0.,
	    (double)c->interval_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

const struct strat_ops strat_rancher = {
	.name = "rancher",
	.keys = rancher_keys,
	.conf_size = sizeof(struct rancher_conf),
	.conf_init = rancher_conf_init,
	.conf_free = rancher_conf_free,
	.check = rancher_check,
	.start = rancher_start,
	.stop = rancher_stop,
};
