/*
 * Connectors: what "connect a node" means for a topology (libcluster's
 * connect / disconnect / list_nodes).  Each connector is one const ops
 * value; the agent lists them in a static table (agent/connector.c).
 *
 *	none	tracks membership only (for the CLI and hooks)
 *	exec	runs configured commands with the node name appended
 *	erlang	clusters stock Erlang/Elixir nodes from outside, through
 *		erl_interface, as a hidden node with the cookie
 *	cairn	links Cairn broker nodes (PORT2 at the node's epmd, the
 *		`extra` mark, then the embedding broker's cluster link)
 *
 * Every operation is asynchronous and bounded by its timeout: the done
 * callback fires exactly once, on the loop, unless the operation was
 * cancelled first.  Nothing here blocks the loop.
 */
#ifndef CAIRN_AGENT_CONNECTOR_H
#define CAIRN_AGENT_CONNECTOR_H

#include <stddef.h>

#include "strategies/strat.h"

struct conf_key;

struct connector;

/*
 * err is 0 or a CAIRN_ERR_*; msg is a one-line reason (borrowed, valid
 * during the call), e.g. "wrong cookie?" or the command's exit status.
 */
typedef void conn_done_cb(void *arg, int err, const char *msg);

struct connector_ops {
	const char		*name;
	/* Keys of the connector's config mapping; NULL if it has none. */
	const struct conf_key	*keys;
	size_t			 conf_size;
	void			(*conf_init)(void *conf);
	void			(*conf_free)(void *conf);
	/*
	 * Optional: every check create() would make of a parsed conf that
	 * the key table cannot, each reported through err (as a strategy's
	 * check, strat.h), so that `-n` catches it.  conf may be NULL for a
	 * connector without a conf.  Pure.
	 */
	void			(*check)(const void *conf,
				    strat_conf_err_fn *err, void *arg);
	/*
	 * A connector for one topology; NULL with a reason in err.  The env
	 * is borrowed until destroy; conf only for this call: copy it.
	 */
	struct connector	*(*create)(const struct agent_env *,
				    const void *conf, char *err, size_t errlen);
	/*
	 * Makes node part of the cluster.  members lists every node in the
	 * view (node included), so a connector may mesh node with them.
	 * Called again periodically as a health check: it must be cheap
	 * when nothing changed, and fail when node is unreachable.
	 */
	int			(*connect)(struct connector *, const char *node,
				    const char *const *members, size_t n,
				    double timeout, conn_done_cb *, void *arg);
	/* Takes node out (prune with disconnect enabled). */
	int			(*disconnect)(struct connector *,
				    const char *node, double timeout,
				    conn_done_cb *, void *arg);
	/* Cancels every pending operation whose arg is arg. */
	void			(*cancel)(struct connector *, void *arg);
	/* Cancels everything and frees. */
	void			(*destroy)(struct connector *);
};

extern const struct connector_ops connector_none;
extern const struct connector_ops connector_exec;
extern const struct connector_ops connector_erlang;
extern const struct connector_ops connector_cairn;

/* The connector named name, or NULL. */
const struct connector_ops *connector_find(const char *name);

#endif
