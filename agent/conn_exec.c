/*
 * The `exec` connector: runs configured commands with the node name
 * appended as the last argument (`sh -c 'CMD "$1"' sh NODE`, so the name
 * is never re-parsed by the shell).  Exit status 0 is success.
 *
 *	connector:
 *	  type: exec
 *	  connect: /usr/local/bin/join-node       # required
 *	  disconnect: /usr/local/bin/leave-node   # optional
 *	  check: /usr/local/bin/node-ok           # optional health check
 *
 * Without `check`, a node stays connected once its connect command
 * succeeded, until it is pruned.  Every command is killed past the
 * agent's connect timeout.
 */
#include "agent/connector.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "common/container.h"
#include "common/err.h"

struct exec_conf {
	char	*type;		/* "exec", read by the agent's config */
	char	*connect;
	char	*disconnect;
	char	*check;
};

static const struct conf_key exec_keys[] = {
	{ .name = "type", .type = CONF_SKIP },
	{ .name = "connect", .type = CONF_STRING,
	  .offset = offsetof(struct exec_conf, connect),
	  .flags = CONF_REQUIRED | CONF_NONEMPTY },
	{ .name = "disconnect", .type = CONF_STRING,
	  .offset = offsetof(struct exec_conf, disconnect),
	  .flags = CONF_NONEMPTY },
	{ .name = "check", .type = CONF_STRING,
	  .offset = offsetof(struct exec_conf, check),
	  .flags = CONF_NONEMPTY },
	{ .name = NULL },
};

struct exec_job {
	ev_child		 child_w;
	ev_timer		 kill_w;
	ev_timer		 now_w;		/* answers without a command */
	struct connector	*c;
	struct exec_job		*next;
	pid_t			 pid;
	int			 cancelled;
	int			 is_connect;
	conn_done_cb		*cb;
	void			*arg;
	char			 node[256];
};

struct connected_node {
	struct connected_node	*next;
	char			 name[];
};

struct connector {
	struct ev_loop		*loop;
	char			*connect;
	char			*disconnect;
	char			*check;
	struct exec_job		*jobs;
	struct connected_node	*connected;
};

static void
exec_conf_init(void *p)
{
	memset(p, 0, sizeof(struct exec_conf));
}

static void
exec_conf_free(void *p)
{
	conf_free_fields(exec_keys, p);
}

static int
exec_is_connected(struct connector *c, const char *node)
{
	struct connected_node *n;

	for (n = c->connected; n != NULL; n = n->next)
		if (strcmp(n->name, node) == 0)
			return 1;
	return 0;
}

static void
exec_set_connected(struct connector *c, const char *node, int on)
{
	struct connected_node **pp, *n;
	size_t len = strlen(node);

	for (pp = &c->connected; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, node) == 0) {
			if (!on) {
				n = *pp;
				*pp = n->next;
				free(n);
			}
			return;
		}
	}
	if (on && (n = malloc(sizeof(*n) + len + 1)) != NULL) {
		memcpy(n->name, node, len + 1);
		n->next = c->connected;
		c->connected = n;
	}
}

static void
exec_job_free(struct exec_job *j)
{
	struct connector *c = j->c;
	struct exec_job **pp;

	ev_child_stop(c->loop, &j->child_w);
	ev_timer_stop(c->loop, &j->kill_w);
	ev_timer_stop(c->loop, &j->now_w);
	for (pp = &c->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j);
}

static void
on_exec_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct exec_job *j = container_of(w, struct exec_job, child_w);
	int st = w->rstatus;
	char msg[128];

	ev_child_stop(loop, w);
	if (!j->cancelled) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			if (j->is_connect)
				exec_set_connected(j->c, j->node, 1);
			j->cb(j->arg, 0, NULL);
		} else {
			if (WIFEXITED(st))
				snprintf(msg, sizeof(msg), "command exited "
				    "with status %d", WEXITSTATUS(st));
			else
				snprintf(msg, sizeof(msg), "command killed by "
				    "signal %d%s", WTERMSIG(st),
				    WTERMSIG(st) == SIGKILL ? " (timeout?)" :
				    "");
			if (j->is_connect)
				exec_set_connected(j->c, j->node, 0);
			j->cb(j->arg, CAIRN_ERR_IO, msg);
		}
	}
	exec_job_free(j);
}

static void
on_exec_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_job *j = container_of(w, struct exec_job, kill_w);

	if (j->pid > 0)
		kill(j->pid, SIGKILL);
}

static void
on_exec_now(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_job *j = container_of(w, struct exec_job, now_w);

	j->cb(j->arg, 0, NULL);
	exec_job_free(j);
}

static struct exec_job *
exec_job_new(struct connector *c, const char *node, conn_done_cb *cb,
    void *arg)
{
	struct exec_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->c = c;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->node, sizeof(j->node), "%s", node);
	ev_init(&j->now_w, on_exec_now);
	ev_init(&j->kill_w, on_exec_timeout);
	j->next = c->jobs;
	c->jobs = j;
	return j;
}

static int
exec_run(struct connector *c, const char *cmd, const char *node,
    double timeout, int is_connect, conn_done_cb *cb, void *arg)
{
	struct exec_job *j;
	char *script;
	pid_t pid;

	if ((j = exec_job_new(c, node, cb, arg)) == NULL)
		return CAIRN_ERR_NOMEM;
	j->is_connect = is_connect;
	if (cmd == NULL) {
		ev_timer_set(&j->now_w, 0., 0.);
		ev_timer_start(c->loop, &j->now_w);
		return 0;
	}
	if (asprintf(&script, "%s \"$1\"", cmd) == -1) {
		exec_job_free(j);
		return CAIRN_ERR_NOMEM;
	}
	if ((pid = fork()) == -1) {
		free(script);
		exec_job_free(j);
		return CAIRN_ERR_IO;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, "sh", node, (char *)NULL);
		_exit(127);
	}
	free(script);
	j->pid = pid;
	ev_child_init(&j->child_w, on_exec_exit, pid, 0);
	ev_child_start(c->loop, &j->child_w);
	ev_timer_set(&j->kill_w, timeout, 0.);
	ev_timer_start(c->loop, &j->kill_w);
	return 0;
}

static void
exec_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct exec_conf *cf = p;

	if (cf == NULL || cf->connect == NULL)
		err(arg, NULL, -1, "key 'connector': exec needs a connect "
		    "command ({type: exec, connect: CMD})");
}

static struct connector *
exec_create(const struct agent_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct exec_conf *cf = p;
	struct connector *c;

	if (cf == NULL || cf->connect == NULL) {
		snprintf(err, errlen, "exec needs a connect command");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->connect = strdup(cf->connect)) == NULL ||
	    (cf->disconnect != NULL &&
	    (c->disconnect = strdup(cf->disconnect)) == NULL) ||
	    (cf->check != NULL && (c->check = strdup(cf->check)) == NULL)) {
		if (c != NULL) {
			free(c->connect);
			free(c->disconnect);
			free(c);
		}
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = env->loop;
	return c;
}

static int
exec_connect(struct connector *c, const char *node,
    const char *const *members, size_t n, double timeout, conn_done_cb *cb,
    void *arg)
{
	if (exec_is_connected(c, node))
		return exec_run(c, c->check, node, timeout, 1, cb, arg);
	return exec_run(c, c->connect, node, timeout, 1, cb, arg);
}

static int
exec_disconnect(struct connector *c, const char *node, double timeout,
    conn_done_cb *cb, void *arg)
{
	exec_set_connected(c, node, 0);
	return exec_run(c, c->disconnect, node, timeout, 0, cb, arg);
}

static void
exec_cancel(struct connector *c, void *arg)
{
	struct exec_job *j, *next;

	for (j = c->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->arg != arg)
			continue;
		if (j->pid > 0)
			j->cancelled = 1;	/* reaped later, result dropped */
		else
			exec_job_free(j);
	}
}

static void
exec_destroy(struct connector *c)
{
	struct connected_node *n;
	int st;

	while (c->jobs != NULL) {
		struct exec_job *j = c->jobs;

		if (j->pid > 0) {
			kill(j->pid, SIGKILL);
			waitpid(j->pid, &st, 0);
		}
		exec_job_free(j);
	}
	while ((n = c->connected) != NULL) {
		c->connected = n->next;
		free(n);
	}
	free(c->connect);
	free(c->disconnect);
	free(c->check);
	free(c);
}

const struct connector_ops connector_exec = {
	.name = "exec",
	.keys = exec_keys,
	.check = exec_check,
	.conf_size = sizeof(struct exec_conf),
	.conf_init = exec_conf_init,
	.conf_free = exec_conf_free,
	.create = exec_create,
	.connect = exec_connect,
	.disconnect = exec_disconnect,
	.cancel = exec_cancel,
	.destroy = exec_destroy,
};
