/*
 * The `none` connector: membership only.  A node counts as connected as
 * soon as a source sees it, for the CLI, the hooks and quorum.
 */
#include "agent/connector.h"

#include <stdlib.h>

#include <ev.h>

#include "common/err.h"

struct none_op {
	ev_timer		 w;	/* first: the callback casts back */
	struct connector	*c;
	struct none_op		*next;
	conn_done_cb		*cb;
	void			*arg;
};

struct connector {
	struct ev_loop	*loop;
	struct none_op	*ops;
};

static void
none_unlink(struct connector *c, struct none_op *op)
{
	struct none_op **pp;

	for (pp = &c->ops; *pp != NULL; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			return;
		}
}

static void
on_none_done(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct none_op *op = (struct none_op *)w;

	none_unlink(op->c, op);
	op->cb(op->arg, 0, NULL);
	free(op);
}

/* Answers from the loop, as every connector does. */
static int
none_later(struct connector *c, conn_done_cb *cb, void *arg)
{
	struct none_op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return CAIRN_ERR_NOMEM;
	op->c = c;
	op->cb = cb;
	op->arg = arg;
	op->next = c->ops;
	c->ops = op;
	ev_timer_init(&op->w, on_none_done, 0., 0.);
	ev_timer_start(c->loop, &op->w);
	return 0;
}

static struct connector *
none_create(const struct agent_env *env, const void *conf, char *err,
    size_t errlen)
{
	struct connector *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = env->loop;
	return c;
}

static int
none_connect(struct connector *c, const char *node,
    const char *const *members, size_t n, double timeout, conn_done_cb *cb,
    void *arg)
{
	return none_later(c, cb, arg);
}

static int
none_disconnect(struct connector *c, const char *node, double timeout,
    conn_done_cb *cb, void *arg)
{
	return none_later(c, cb, arg);
}

static void
none_cancel(struct connector *c, void *arg)
{
	struct none_op *op, *next;

	for (op = c->ops; op != NULL; op = next) {
		next = op->next;
		if (op->arg != arg)
			continue;
		ev_timer_stop(c->loop, &op->w);
		none_unlink(c, op);
		free(op);
	}
}

static void
none_destroy(struct connector *c)
{
	while (c->ops != NULL) {
		struct none_op *op = c->ops;

		ev_timer_stop(c->loop, &op->w);
		c->ops = op->next;
		free(op);
	}
	free(c);
}

const struct connector_ops connector_none = {
	.name = "none",
	.create = none_create,
	.connect = none_connect,
	.disconnect = none_disconnect,
	.cancel = none_cancel,
	.destroy = none_destroy,
};
