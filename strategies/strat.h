/*
 * Strategies: the ways to find peers.  Each strategies/<name>.c exports
 * one const ops value; strategies/strat.c lists them in a static table,
 * so a new strategy is one more file and one more line, nothing else.
 *
 * A running strategy reports answers to the agent through its env:
 * report(source, nodes, n).  An answer is the complete list that one
 * source sees now; a failed or empty answer is reported with n == 0 and
 * means "unknown" (the agent drops nobody for it).  A strategy may have
 * several sources (one per host it asks); each source name is prefixed
 * with the topology name so that a reload can forget a topology's
 * sources at once.
 *
 * Strategies declare their own config keys; the agent core knows none.
 */
#ifndef CAIRN_STRATEGIES_STRAT_H
#define CAIRN_STRATEGIES_STRAT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

struct conf_key;
struct ev_loop;
struct resolv;

/*
 * The program that embeds the agent, for connectors that join nodes into
 * it (the broker's cluster for the `cairn` connector).  The agent layer
 * never sees what is behind arg: the host fills the two calls.
 */
struct agent_host {
	/*
	 * Starts linking to node, whose cluster port is at addr (borrowed
	 * for the call).  0 when the link is up or on its way, else a
	 * CAIRN_ERR_*.
	 */
	int	(*ah_connect)(void *arg, const char *node,
		    const struct sockaddr *addr, socklen_t addrlen);
	/* 1 while the link to node is up (handshake done), else 0. */
	int	(*ah_link_up)(void *arg, const char *node);
	void	*ah_arg;
};

/*
 * What the agent lends every plug-in, strategies and connectors alike
 * (borrowed; outlives the plug-in).
 */
struct agent_env {
	struct ev_loop	*loop;
	struct resolv	*resolv;	/* may be NULL */
	const char	*cookie;	/* Erlang cookie, or NULL */
	const char	*self_name;	/* the agent's own node name (base) */
	/* The embedding program (cairn-broker); NULL in cairn-agent. */
	const struct agent_host *host;
	/*
	 * The epmd port the topology's nodes are reached at (the port its
	 * strategy found them on), for connectors that ask epmd; 0: the
	 * connector's own default ($ERL_EPMD_PORT or 4369).
	 */
	uint16_t	 epmd_port;
};

struct strat;

/* nodes[i] are borrowed for the call. */
/*
 * One problem found by a strategy's check: key is the `config:` key it
 * concerns (NULL: the mapping itself), idx the item of a list value (-1:
 * the whole value); msg is borrowed for the call.
 */
typedef void strat_conf_err_fn(void *arg, const char *key, int idx,
    const char *msg);

typedef void strat_report_fn(void *arg, const char *source,
    const char *const *nodes, size_t n, const char *why);

/*
 * source's party is known to be gone (its own heartbeats stopped): it
 * vouches for nothing any more, and nodes only it saw leave at once.
 */
typedef void strat_forget_fn(void *arg, const char *source);

struct strat_env {
	const struct agent_env	*agent;		/* loop, resolver, cookie */
	const char		*topology;	/* name, for sources and logs */
	strat_report_fn		*report;
	void			*arg;
	strat_forget_fn		*forget;
};

struct strat_ops {
	const char		*name;		/* the YAML `strategy:` value */
	const struct conf_key	*keys;		/* its `config:` keys */
	size_t			 conf_size;
	void			(*conf_init)(void *conf);
	void			(*conf_free)(void *conf);
	/*
	 * Optional: every check start() would make of a parsed conf that the
	 * key table cannot (addresses, node names, keys that exclude each
	 * other), each reported through err; all of them, not the first.
	 * Run by the config parser, so that `-n` catches what start would
	 * and names the key's FILE:LINE:COL.  Pure: no socket, no loop.
	 */
	void			(*check)(const void *conf,
				    strat_conf_err_fn *err, void *arg);
	/*
	 * Optional: the epmd port the strategy's nodes are reached at (0:
	 * the default).  The agent lends it to the topology's connector.
	 */
	uint16_t		(*epmd_port)(const void *conf);
	/*
	 * Starts polling/listening; NULL with a reason in err.  env is
	 * borrowed until stop (read env->topology when needed: a reload may
	 * change its storage); conf is borrowed for this call only: copy
	 * what you keep.
	 */
	struct strat		*(*start)(const struct strat_env *,
				    const void *conf, char *err, size_t errlen);
	/* Stops, cancels everything and frees.  No report after it. */
	void			(*stop)(struct strat *);
};

extern const struct strat_ops strat_local_epmd;
extern const struct strat_ops strat_epmd;
extern const struct strat_ops strat_erlang_hosts;
extern const struct strat_ops strat_kubernetes_dns;
extern const struct strat_ops strat_kubernetes_dnssrv;
extern const struct strat_ops strat_gossip;
extern const struct strat_ops strat_kubernetes;
extern const struct strat_ops strat_rancher;
extern const struct strat_ops strat_dns;

const struct strat_ops *strat_find(const char *name);
/* NULL-terminated list, for `cairn-agent -h` and docs. */
extern const struct strat_ops *const strat_all[];

#endif
