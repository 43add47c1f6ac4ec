/*
 * The agent's view: every candidate node, which sources saw it, and when.
 *
 * A source is one strategy answer stream ("local/local_epmd",
 * "hosts/erlang_hosts:db1").  Each answer is either a list of nodes or
 * "unknown" (a failure, a timeout, an empty list).  Unknown answers change
 * nothing: one bad DNS reply or an epmd restart drops nobody (libcluster
 * issue #190).  A source stops vouching for a node only after it has
 * answered without it `prune_misses` times in a row over at least
 * `prune_ms`; the node leaves the view when no source vouches for it.
 *
 * Pure: no I/O, no clock (callers pass now in ms), no logging.  Changes
 * come back through a callback so the engine can connect, log and notify.
 */
#ifndef CAIRN_AGENT_VIEW_H
#define CAIRN_AGENT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define VIEW_DEFAULT_PRUNE_MISSES	3
#define VIEW_DEFAULT_PRUNE_MS		15000
#define VIEW_DEFAULT_MAX_NODES		10000
#define VIEW_MAX_SOURCES		16
#define VIEW_MAX_NAME			1023

struct view;
struct view_node;

enum view_event {
	VIEW_NODE_ADDED,	/* first source saw the node */
	VIEW_NODE_REMOVED,	/* no source vouches for it any more */
	/*
	 * A source's word on a node it keeps changed: its first miss (the
	 * node left that answer) or seen again after misses (it came back,
	 * a restart).  The engine re-checks the node at once rather than
	 * at its next health check.
	 */
	VIEW_NODE_CHANGED,
};

/* node is valid during the call; a REMOVED node is freed right after. */
typedef void view_change_cb(void *arg, enum view_event, struct view_node *node);

struct view_opts {
	unsigned	 prune_misses;	/* answers without the node, in a row */
	uint64_t	 prune_ms;	/* and at least this long since last seen */
	size_t		 max_nodes;	/* past it, new nodes are ignored */
};

/* cb may be NULL.  NULL on ENOMEM. */
struct view	*view_new(const struct view_opts *, view_change_cb *cb, void *arg);
/* Frees every node without calling back.  Accepts NULL. */
void		 view_free(struct view *);

/*
 * One answer from source (copied).  nodes NULL or n == 0 means
 * "unknown": nothing changes.  Otherwise every listed node is seen now,
 * and every node this source saw before but not now records a miss.
 * Returns the number of nodes this answer added to the view, or
 * CAIRN_ERR_LIMIT if some were ignored because the view is full, or
 * CAIRN_ERR_NOMEM.
 */
int		 view_answer(struct view *, const char *source,
		    const char *const *nodes, size_t n, uint64_t now);
/*
 * Forgets a source (a topology was removed on reload): it vouches for
 * nothing any more; nodes that only it saw leave at once.
 */
void		 view_forget_source(struct view *, const char *source_prefix);
/*
 * The same for one source, named exactly (a strategy's source whose
 * party is known gone, e.g. a gossip sender whose heartbeats stopped).
 */
void		 view_drop_source(struct view *, const char *source);

struct view_node *view_find(const struct view *, const char *name);
size_t		 view_count(const struct view *);
/* Nodes in insertion order. */
struct view_node *view_first(const struct view *);
struct view_node *view_next(const struct view_node *);

const char	*view_node_name(const struct view_node *);
/* Sources vouching for the node now, and when each last saw it. */
size_t		 view_node_nsources(const struct view_node *);
const char	*view_node_source(const struct view_node *, size_t i,
		    uint64_t *last_seen, unsigned *misses);
/* The engine's per-node state; the view never touches it. */
void		*view_node_data(const struct view_node *);
void		 view_node_set_data(struct view_node *, void *);

#endif
