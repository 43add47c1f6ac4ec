/*
 * A topic trie: MQTT topic filters, each with a set of (subscriber,
 * options) entries, matched against topic names (MQTT 3.1.1 section 4.7)
 * as emqttd's route trie does.  The broker keeps one for its local
 * subscriptions, and the cluster one for its routes (filter -> nodes).
 *
 * A filter is split into levels at each '/' ("a//b" has three, "/a" two);
 * a level of exactly "+" or "#" is a wildcard.  Each trie node is one
 * level; a node's exact children sit in a hash table keyed by the level,
 * and its '+' and '#' children in slots of their own.  Matching a topic
 * of L levels follows, level by level, the exact child and the '+' child
 * and collects the '#' children, so its cost depends on L and on the
 * filters that actually match, never on how many filters or subscribers
 * the trie holds.  A filter's entries are a packed array while small and
 * a hash set when large, so adding or removing one of 100,000 subscribers
 * of a filter is O(1) amortized.
 *
 * Subscribers are opaque non-NULL pointers the trie borrows: it never
 * dereferences or frees them.  Filters are copied in.  Filters are assumed
 * valid (mqtt_topic_filter_valid()); the trie only refuses a '#' that is
 * not the last level.  Limits on filters and entries are the trie's; the
 * limit on levels is the caller's.  Pure data structure: no I/O, no
 * logging, no globals.  Not thread-safe; callbacks must not change the
 * trie they are called from.
 */
#ifndef CAIRN_BROKER_TRIE_H
#define CAIRN_BROKER_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* Defaults for trie_set_limits(); a config may raise them. */
#define TRIE_DEFAULT_MAX_FILTERS	(1u << 20)
#define TRIE_DEFAULT_MAX_ENTRIES	(1u << 22)

struct trie;
/* One level of a filter; a node with entries is a filter. */
struct trie_node;

/*
 * Called once per matching (filter, subscriber) pair.  `filter` is the
 * matching filter's node (see trie_filter_str()); it and `sub` are
 * borrowed for the call.
 */
typedef void	(*trie_match_cb)(void *sub, uint8_t opts,
		    const struct trie_node *filter, void *arg);
/*
 * Called once per (filter, subscriber) pair by trie_walk().  `filter`
 * views a buffer of the walk's, valid only during the call.  A nonzero
 * return stops the walk, and trie_walk() returns it.
 */
typedef int	(*trie_walk_cb)(struct bytes_view filter, void *sub,
		    uint8_t opts, void *arg);

struct trie_stats {
	size_t	ts_filters;	/* filters with at least one entry */
	size_t	ts_entries;	/* (filter, subscriber) pairs */
	size_t	ts_nodes;	/* trie nodes, the root included */
	size_t	ts_bytes;	/* heap bytes held, struct trie included */
};

/*
 * An empty trie with the default limits and a hash key derived from
 * addresses (see trie_set_key()).  NULL on ENOMEM.  Free with trie_free().
 */
struct trie	*trie_new(void);
/*
 * Frees the trie, its nodes and its copies of the filters, but not the
 * subscribers, which are borrowed.  Accepts NULL.  Iterative, so a filter
 * of any depth is freed without deep recursion.
 */
void	trie_free(struct trie *);
/*
 * At most max_filters filters and max_entries entries (SIZE_MAX: no
 * limit).  Lowering a limit below the current count removes nothing; new
 * filters or entries are refused until the count falls below it.
 */
void	trie_set_limits(struct trie *, size_t max_filters, size_t max_entries);
/*
 * Keys the hash of level strings (SipHash-1-3), so that a client cannot
 * choose levels that collide.  The daemon passes 16 random bytes.  Only
 * while the trie is empty: CAIRN_ERR_EXIST otherwise, and 0 on success.
 */
int	trie_set_key(struct trie *, const uint8_t key[16]);

/*
 * Subscribes `sub` to `filter` with `opts` (such as the granted QoS).  If
 * the pair exists, its opts are replaced, as MQTT replaces an existing
 * subscription; *was_new (if not NULL) is set to 1 for a new pair and 0
 * for a replaced one.  The filter is copied; sub is borrowed until
 * trie_remove() or trie_free().
 * Returns 0, CAIRN_ERR_INVAL (sub is NULL, or '#' is not the last level),
 * CAIRN_ERR_LIMIT (a new filter or entry over a limit), or
 * CAIRN_ERR_NOMEM.  On failure the trie is as it was.
 */
int	trie_add(struct trie *, struct bytes_view filter, void *sub,
	    uint8_t opts, int *was_new);
/*
 * Unsubscribes `sub` from `filter`, and frees the nodes left with no
 * entry and no child, so the memory returns.  Never allocates, so it
 * cannot fail for want of memory.  Returns 0 or CAIRN_ERR_NOENT.
 */
int	trie_remove(struct trie *, struct bytes_view filter, void *sub);
/* 0 and *opts (if not NULL) if `sub` is on `filter`, else CAIRN_ERR_NOENT. */
int	trie_get(const struct trie *, struct bytes_view filter,
	    const void *sub, uint8_t *opts);

/*
 * Calls cb once per (filter, subscriber) pair whose filter matches the
 * topic name `topic`, in no particular order, and returns the number of
 * calls.  A subscriber whose filters overlap ("a/+" and "a/#") gets one
 * call per matching filter: choosing one (MQTT 3.1.1 4.7.2: the highest
 * QoS) or delivering once is the caller's.  A topic starting with '$' is
 * not matched by a filter starting with '+' or '#' [MQTT-4.7.2-1].
 * Recursion depth is the number of '+' levels in the matching filters.
 */
size_t	trie_match(const struct trie *, struct bytes_view topic,
	    trie_match_cb cb, void *arg);
/* 1 if any filter matches `topic`, else 0; stops at the first one. */
int	trie_has_match(const struct trie *, struct bytes_view topic);

/*
 * Calls cb once per (filter, subscriber) pair, the filter rebuilt as the
 * string that was added.  Filters come in trie order (depth first), each
 * filter's entries together.  Returns 0, CAIRN_ERR_NOMEM (the path buffer
 * could not grow; the walk stops), or cb's nonzero return.
 */
int	trie_walk(const struct trie *, trie_walk_cb cb, void *arg);

/*
 * Writes the filter of node `n` to buf as a NUL-terminated string,
 * truncated to size - 1 bytes, as snprintf() does; returns its full
 * length.  O(levels of the filter).
 */
size_t	trie_filter_str(const struct trie_node *n, char *buf, size_t size);

/* Number of filters and of entries; either pointer may be NULL. */
void	trie_count(const struct trie *, size_t *filters, size_t *entries);
void	trie_stats(const struct trie *, struct trie_stats *);

#endif
