/*
 * epmd: a static list of node names (libcluster's Epmd `hosts`).  The
 * list is the answer, reported at start and every polling_interval so
 * that the nodes stay vouched for; reaching them is the connector's job,
 * retried with backoff until it succeeds.
 *
 *	strategy: epmd
 *	config:
 *	  hosts: [a@db1, b@db2]
 *	  polling_interval: 30s
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "strategies/strat_util.h"

struct epmd_conf {
	struct conf_strlist	 hosts;
	uint64_t		 interval_ms;
};

static const struct conf_key epmd_keys[] = {
	{ .name = "hosts", .type = CONF_STRLIST,
	  .offset = offsetof(struct epmd_conf, hosts),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct epmd_conf, interval_ms),
	  .min = 10, .max = 86400000 },
	{ .name = NULL },
};

struct strat {
	ev_timer		 poll_w;
	const struct strat_env	*env;
	char			**nodes;
	size_t			 n;
};

static void
epmd_conf_init(void *p)
{
	struct epmd_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->interval_ms = 30000;
}

static void
epmd_conf_free(void *p)
{
	conf_free_fields(epmd_keys, p);
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);
	char source[512];

	snprintf(source, sizeof(source), "%s/epmd", s->env->topology);
	s->env->report(s->env->arg, source, (const char *const *)s->nodes,
	    s->n, NULL);
}

static void
epmd_stop(struct strat *s)
{
	size_t i;

	ev_timer_stop(s->env->agent->loop, &s->poll_w);
	for (i = 0; i < s->n; i++)
		free(s->nodes[i]);
	free(s->nodes);
	free(s);
}

/* "name@host" with neither part empty. */
static int
epmd_is_node(const char *v)
{
	const char *at = strchr(v, '@');

	return at != NULL && at != v && at[1] != '\0' &&
	    strpbrk(v, " \t\r\n") == NULL;
}

static void
epmd_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct epmd_conf *c = p;
	char why[512];
	size_t i;

	for (i = 0; i < c->hosts.n && i < INT_MAX; i++) {
		if (epmd_is_node(c->hosts.v[i]))
			continue;
		snprintf(why, sizeof(why), "'%.400s' is not a node name like "
		    "name@host", c->hosts.v[i]);
		err(arg, "hosts", (int)i, why);
	}
}

static struct strat *
epmd_start(const struct strat_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct epmd_conf *c = p;
	struct strat *s;
	size_t i;

	for (i = 0; i < c->hosts.n; i++) {
		if (!epmd_is_node(c->hosts.v[i])) {
			snprintf(err, errlen, "'%s' is not a node name like "
			    "name@host", c->hosts.v[i]);
			return NULL;
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->nodes = calloc(c->hosts.n + 1, sizeof(*s->nodes))) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->env = env;
	for (i = 0; i < c->hosts.n; i++) {
		if ((s->nodes[i] = strdup(c->hosts.v[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			epmd_stop(s);
			return NULL;
		}
		s->n++;
	}
	ev_timer_init(&s->poll_w, on_poll, 0., (double)c->interval_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	return s;
}

const struct strat_ops strat_epmd = {
	.name = "epmd",
	.keys = epmd_keys,
	.conf_size = sizeof(struct epmd_conf),
	.conf_init = epmd_conf_init,
	.conf_free = epmd_conf_free,
	.check = epmd_check,
	.start = epmd_start,
	.stop = epmd_stop,
};
