/*
 * The retained index: MQTT topic names, each with one value, found by
 * walking a topic filter down a trie of topic levels (MQTT 3.1.1 section
 * 4.7), as EMQX's retainer indexes retained topics.  The retained store
 * (retain.h) keeps its messages here.
 *
 * A topic is split into levels at each '/' ("a//b" has three, "/a" two);
 * each trie node is one level, and a node with a value is a topic.  A
 * filter is walked from the root: an exact level follows one child, '+'
 * every child, and a last '#' the whole subtree below (and the node
 * itself: "a/#" matches "a").  The cost of a walk is the number of nodes
 * it visits, which for a filter with no wildcard is its number of levels
 * and otherwise the part of the trie the filter covers, never the whole
 * store.  A topic starting with '$' is not matched by a first level of
 * '+' or '#' [MQTT-4.7.2-1].
 *
 * Walks are cursors that can stop after a budget of nodes and resume
 * later, while the index changes in between: this is how a subscriber
 * gets 100,000 retained messages without holding the loop.  A cursor
 * returns each value that was in the index when the cursor was made and
 * is still there when the walk reaches it, exactly once; a value put
 * after (a new topic, or a replaced value) is skipped, since whoever
 * made the cursor hears of it another way (a subscriber gets it live).
 * A value deleted before the walk reaches it is not returned.
 *
 * Values are opaque non-NULL pointers the index borrows: it never
 * dereferences or frees them.  Topics are copied in.  Topics are assumed
 * to be valid topic names and filters valid filters; on other input the
 * results mean nothing but memory stays safe.  Pure data structure: no
 * I/O, no logging, no globals.  Not thread-safe.
 */
#ifndef CAIRN_BROKER_RETAIN_INDEX_H
#define CAIRN_BROKER_RETAIN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct retain_index;
struct retain_index_cursor;

/*
 * An empty index whose level hash (SipHash-1-3, so that clients cannot
 * choose colliding levels) is keyed from seed.  NULL on ENOMEM.  Free
 * with retain_index_free().
 */
struct retain_index	*retain_index_new(uint64_t seed);
/* Told of each value by retain_index_free(). */
typedef void	(*retain_index_value_cb)(void *value);

/*
 * Frees the index and its nodes, and calls free_value (unless NULL) on
 * each value, which the index only borrowed.  Every cursor must have
 * been freed first.  Accepts NULL.
 */
void		 retain_index_free(struct retain_index *,
		    retain_index_value_cb free_value);

/*
 * Makes `value` (not NULL) the value of `topic`, and stores the value it
 * replaces, or NULL for a new topic, in *old (if old is not NULL).  The
 * topic is copied; value is borrowed until it is replaced, deleted or
 * the index is freed.  Returns 0, CAIRN_ERR_INVAL (value is NULL) or
 * CAIRN_ERR_NOMEM (the index holds what it held before).
 */
int		 retain_index_put(struct retain_index *, struct bytes_view topic,
		    void *value, void **old);
/*
 * Removes topic and returns its value, or NULL if it had none.  Frees
 * the nodes left with no value and no child (but not those a cursor
 * stands on, which go when it moves on).  Never allocates.
 */
void		*retain_index_del(struct retain_index *, struct bytes_view topic);
/* The value of exactly `topic`, or NULL.  O(levels). */
void		*retain_index_get(const struct retain_index *,
		    struct bytes_view topic);
/* Topics with a value. */
size_t		 retain_index_count(const struct retain_index *);
/* Heap bytes the index holds (nodes, tables, itself), not the values. */
size_t		 retain_index_bytes(const struct retain_index *);
/*
 * The heap bytes retain_index_put() of topic would add to the index (0
 * for a topic that is there), for a caller that caps the total before
 * it puts.  O(levels).
 */
size_t		 retain_index_put_cost(const struct retain_index *,
		    struct bytes_view topic);

/*
 * A walk of the topics that `filter` matches, over the values in the
 * index now (see above).  The filter is copied.  NULL on ENOMEM.  Free
 * with retain_index_cursor_free() before the index.
 */
struct retain_index_cursor *retain_index_cursor_new(struct retain_index *,
		    struct bytes_view filter);
/* Frees the cursor (it may free nodes it kept).  Accepts NULL. */
void		 retain_index_cursor_free(struct retain_index_cursor *);
/*
 * The next value of the walk, or NULL when the walk is over or *budget
 * ran out (check retain_index_cursor_done()).  Each node visited takes
 * one from *budget; a call with *budget 0 returns NULL at once.  The
 * value is borrowed; the index may change between calls.
 */
void		*retain_index_cursor_next(struct retain_index_cursor *,
		    size_t *budget);
/* 1 when the walk is over, else 0. */
int		 retain_index_cursor_done(const struct retain_index_cursor *);

#endif
