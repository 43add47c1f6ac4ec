/*
 * Retained messages (MQTT 3.1.1 section 3.3.1.3): the last message
 * published with RETAIN on each topic, sent to each new subscription
 * whose filter matches.  A retained PUBLISH with an empty payload clears
 * its topic.
 *
 * The messages sit in the retained index (retain_index.h), a trie of
 * topic levels: a topic is found in O(levels), and a filter walks only
 * the part of the trie it covers, through a cursor that can stop after
 * a budget and resume, so that a SUBSCRIBE over a large store is served
 * in slices (handle_subscribe.c).
 *
 * Limits, each counted when it refuses a message: at most max_messages
 * topics, at most max_bytes held in all (messages and index: what the
 * store keeps alive), at most max_message_size payload bytes each.  A
 * refused message is not stored; if it would have replaced one, that
 * one is cleared too, so the store never holds a message older than the
 * last retained PUBLISH of its topic.  Delivering it live is the
 * caller's.
 *
 * MQTT 5.0 message expiry [MQTT-3.3.2-5]: a message with m_expire_at
 * vanishes when it expires, lazily (retain_get_at()) and through the
 * caller's periodic retain_expire(), and as a walk meets them
 * (retain_cursor_next_at(); retain_cursor_next() returns them, and the
 * session queue drops them before they are sent: session_next_at()).  A message lives in one store at
 * most (its heap slot is inside it).  Pure: no I/O, no clock, no
 * logging.
 */
#ifndef CAIRN_BROKER_RETAIN_H
#define CAIRN_BROKER_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/core/msg.h"
#include "broker/core/retain_index.h"
#include "common/bytes.h"

struct retain;

/* Which limit refused a message; names are the config keys. */
enum retain_limit {
	RETAIN_LIMIT_NONE = 0,
	RETAIN_LIMIT_SIZE,	/* max_retained_message_size */
	RETAIN_LIMIT_COUNT,	/* max_retained_messages */
	RETAIN_LIMIT_BYTES,	/* max_retained_bytes */
	RETAIN_LIMIT_N,
};

struct retain_stats {
	size_t		rs_count;	/* retained messages */
	size_t		rs_bytes;	/* heap bytes held: the two below */
	size_t		rs_msg_bytes;	/* messages: struct, topic, payload */
	size_t		rs_index_bytes;	/* the index's nodes and tables */
	uint64_t	rs_refused[RETAIN_LIMIT_N];	/* by limit */
	size_t		rs_expiring;	/* messages with an expiry */
	uint64_t	rs_expired;	/* dropped at their expiry */
};

/* Called once per retained message matching a filter; m is borrowed. */
typedef void	(*retain_match_cb)(struct msg *m, void *arg);

/*
 * An empty store of at most max_messages topics and no byte limits;
 * the index hash is keyed with seed.  NULL on ENOMEM.  Free with
 * retain_free().
 */
struct retain	*retain_new(size_t max_messages, uint64_t seed);
/*
 * Drops every message's reference and frees the store.  Every cursor
 * must have been freed first.  Accepts NULL.
 */
void		 retain_free(struct retain *);
/*
 * The limits (SIZE_MAX: none).  Lowering one below what is held removes
 * nothing; new messages are refused until the store is under it.
 */
void		 retain_set_limits(struct retain *, size_t max_messages,
		    size_t max_bytes, size_t max_message_size);

/*
 * Stores m as its topic's retained message, taking a reference and
 * dropping the old one's, or clears the topic when m's payload is empty.
 * Returns 0, CAIRN_ERR_TOO_BIG (over max_message_size), CAIRN_ERR_LIMIT
 * (a new topic past max_messages, or past max_bytes), after which the
 * topic has no retained message, or CAIRN_ERR_NOMEM, after which the
 * store is as it was.  *why
 * (if not NULL) is set to the limit that refused it, else
 * RETAIN_LIMIT_NONE.
 */
int		 retain_store(struct retain *, struct msg *m,
		    enum retain_limit *why);
/* retain_store() without the reason. */
int		 retain_set(struct retain *, struct msg *m);
/* The config key of a limit ("max_retained_bytes"...); never NULL. */
const char	*retain_limit_name(enum retain_limit);

/*
 * Calls cb for each retained message whose topic `filter` matches (a
 * valid filter, not $share), and returns how many.  The whole walk at
 * once: for a cursor that stops, see below.  Returns 0 if a cursor
 * cannot be allocated.  cb must not change the store.
 */
size_t		 retain_match(struct retain *, struct bytes_view filter,
		    retain_match_cb cb, void *arg);
/* The retained message of exactly `topic`, or NULL; borrowed. */
struct msg	*retain_get(struct retain *, struct bytes_view topic);
/*
 * retain_get() at now (monotonic ms): a message past its expiry is
 * dropped there and then (counted in rs_expired) and NULL returned.
 */
struct msg	*retain_get_at(struct retain *, struct bytes_view topic,
		    uint64_t now);
/*
 * Drops at most max messages whose expiry is at or before now, soonest
 * first, and returns how many: the bounded periodic sweep.  The store
 * keeps its expiring messages in a heap, so a sweep costs O(log n) per
 * message dropped and nothing for those that live on.
 */
size_t		 retain_expire(struct retain *, uint64_t now, size_t max);
/* The soonest expiry of a stored message (monotonic ms), 0 if none. */
uint64_t	 retain_next_expiry(const struct retain *);

/*
 * A resumable walk of the messages `filter` matches, as retained now
 * (retain_index.h: each exactly once, unless cleared or replaced before
 * the walk reaches it).  NULL on ENOMEM.  Free with retain_cursor_free()
 * before the store.
 */
struct retain_index_cursor *retain_cursor_new(struct retain *,
		    struct bytes_view filter);
/*
 * The next message (borrowed), or NULL when the walk is over or *budget
 * (nodes to visit) ran out: see retain_index_cursor_done().
 */
struct msg	*retain_cursor_next(struct retain_index_cursor *,
		    size_t *budget);
/*
 * retain_cursor_next() at now (monotonic ms): a message past its expiry
 * is dropped from r as the walk meets it (counted in rs_expired) and
 * the walk goes on, so a subscriber or a peer never gets one.
 */
struct msg	*retain_cursor_next_at(struct retain *r,
		    struct retain_index_cursor *, size_t *budget,
		    uint64_t now);
void		 retain_cursor_free(struct retain_index_cursor *);

/* What the store holds: for $SYS and memory reports. */
size_t		 retain_count(const struct retain *);
/* Heap bytes the store keeps alive (messages and index). */
size_t		 retain_bytes(const struct retain *);
void		 retain_stats(const struct retain *, struct retain_stats *);

#endif
