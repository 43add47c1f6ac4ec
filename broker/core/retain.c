/*
 * The retained store; see retain.h.  The index (retain_index.c) holds
 * the message pointers; this file holds their references, the limits
 * and the accounting.  A message counts for what its one allocation
 * holds (msg.c: the struct, the topic and its NUL, the payload), since
 * the store keeps all of it alive; the index counts its own nodes.
 */
#include "broker/core/retain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct retain {
	struct retain_index	*r_ix;
	size_t			 r_max;		/* messages */
	size_t			 r_max_bytes;
	size_t			 r_max_msg;	/* payload bytes of one */
	size_t			 r_msg_bytes;
	uint64_t		 r_refused[RETAIN_LIMIT_N];
	/*
	 * The messages with an expiry, a binary min-heap on m_expire_at;
	 * each knows its slot (m_retain_slot), so a replaced or cleared
	 * one leaves in O(log n) and the heap holds exactly the stored
	 * messages that expire.
	 */
	struct msg		**r_exp;
	size_t			 r_nexp;
	size_t			 r_capexp;
	uint64_t		 r_expired;
};

static const char *const retain_limit_names[RETAIN_LIMIT_N] = {
	"no limit", "max_retained_message_size", "max_retained_messages",
	"max_retained_bytes",
};

/* What msg_new_ex() allocated for m. */
static size_t
retain_msg_size(const struct msg *m)
{
	return msg_alloc_size(m);
}

static void
retain_heap_set(struct retain *r, size_t i, struct msg *m)
{
	r->r_exp[i] = m;
	m->m_retain_slot = i;
}

static void
retain_heap_up(struct retain *r, size_t i)
{
	struct msg *m = r->r_exp[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (r->r_exp[parent]->m_expire_at <= m->m_expire_at)
			break;
		retain_heap_set(r, i, r->r_exp[parent]);
		i = parent;
	}
	retain_heap_set(r, i, m);
}

static void
retain_heap_down(struct retain *r, size_t i)
{
	struct msg *m = r->r_exp[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= r->r_nexp)
			break;
		if (c + 1 < r->r_nexp &&
		    r->r_exp[c + 1]->m_expire_at < r->r_exp[c]->m_expire_at)
			c++;
		if (m->m_expire_at <= r->r_exp[c]->m_expire_at)
			break;
		retain_heap_set(r, i, r->r_exp[c]);
		i = c;
	}
	retain_heap_set(r, i, m);
}

/* Room for one more heap entry: 0 or CAIRN_ERR_NOMEM. */
static int
retain_heap_room(struct retain *r)
{
	struct msg **n;
	size_t ncap;

	if (r->r_nexp < r->r_capexp)
		return 0;
	ncap = r->r_capexp == 0 ? 16 : r->r_capexp * 2;
	if ((n = reallocarray(r->r_exp, ncap, sizeof(*n))) == NULL)
		return CAIRN_ERR_NOMEM;
	r->r_exp = n;
	r->r_capexp = ncap;
	return 0;
}

/* Adds m (with an expiry); retain_heap_room() made room. */
static void
retain_heap_push(struct retain *r, struct msg *m)
{
	r->r_exp[r->r_nexp] = m;
	retain_heap_up(r, r->r_nexp++);
}

/* Takes m out of the heap if it is in. */
static void
retain_heap_del(struct retain *r, struct msg *m)
{
	size_t i = m->m_retain_slot;
	struct msg *last;

	if (i == SIZE_MAX || i >= r->r_nexp || r->r_exp[i] != m)
		return;
	m->m_retain_slot = SIZE_MAX;
	last = r->r_exp[--r->r_nexp];
	if (i == r->r_nexp)
		return;
	retain_heap_set(r, i, last);
	if (i > 0 && r->r_exp[(i - 1) / 2]->m_expire_at > last->m_expire_at)
		retain_heap_up(r, i);
	else
		retain_heap_down(r, i);
}

struct retain *
retain_new(size_t max_messages, uint64_t seed)
{
	struct retain *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->r_ix = retain_index_new(seed)) == NULL) {
		free(r);
		return NULL;
	}
	r->r_max = max_messages;
	r->r_max_bytes = SIZE_MAX;
	r->r_max_msg = SIZE_MAX;
	return r;
}

static void
retain_unref(void *m)
{
	msg_unref(m);
}

void
retain_free(struct retain *r)
{
	if (r == NULL)
		return;
	retain_index_free(r->r_ix, retain_unref);
	free(r->r_exp);
	free(r);
}

void
retain_set_limits(struct retain *r, size_t max_messages, size_t max_bytes,
    size_t max_message_size)
{
	r->r_max = max_messages;
	r->r_max_bytes = max_bytes;
	r->r_max_msg = max_message_size;
}

/* Drops topic's message, if any. */
static void
retain_clear(struct retain *r, struct bytes_view topic)
{
	struct msg *old;

	if ((old = retain_index_del(r->r_ix, topic)) == NULL)
		return;
	retain_heap_del(r, old);
	r->r_msg_bytes -= retain_msg_size(old);
	msg_unref(old);
}

/* The limit m would pass if stored over old (NULL: a new topic). */
static enum retain_limit
retain_check(const struct retain *r, const struct msg *m,
    const struct msg *old)
{
	size_t held, add;

	if (m->m_payload_len > r->r_max_msg)
		return RETAIN_LIMIT_SIZE;
	if (old == NULL && retain_index_count(r->r_ix) >= r->r_max)
		return RETAIN_LIMIT_COUNT;
	held = r->r_msg_bytes + retain_index_bytes(r->r_ix);
	if (old != NULL)
		held -= retain_msg_size(old);
	/* A new topic adds index nodes, and maybe a table. */
	add = retain_msg_size(m);
	if (old == NULL)
		add += retain_index_put_cost(r->r_ix, msg_topic(m));
	if (add > r->r_max_bytes || held > r->r_max_bytes - add)
		return RETAIN_LIMIT_BYTES;
	return RETAIN_LIMIT_NONE;
}

int
retain_store(struct retain *r, struct msg *m, enum retain_limit *why)
{
	struct bytes_view topic = msg_topic(m);
	enum retain_limit lim;
	struct msg *old;
	void *was;
	int rc;

	if (why != NULL)
		*why = RETAIN_LIMIT_NONE;
	if (m->m_payload_len == 0) {
		retain_clear(r, topic);
		return 0;
	}
	old = retain_index_get(r->r_ix, topic);
	if ((lim = retain_check(r, m, old)) != RETAIN_LIMIT_NONE) {
		r->r_refused[lim]++;
		if (why != NULL)
			*why = lim;
		/* No stale message: the topic's last one was not kept. */
		retain_clear(r, topic);
		return lim == RETAIN_LIMIT_SIZE ? CAIRN_ERR_TOO_BIG :
		    CAIRN_ERR_LIMIT;
	}
	/*
	 * A message is in one store at most: its slot is this store's.
	 * Storing the one that is there already changes nothing.
	 */
	if (old == m)
		return 0;
	if (m->m_expire_at != 0 && (m->m_retain_slot != SIZE_MAX ||
	    retain_heap_room(r) != 0))
		return CAIRN_ERR_NOMEM;
	if ((rc = retain_index_put(r->r_ix, topic, m, &was)) != 0)
		return rc;
	msg_ref(m);
	r->r_msg_bytes += retain_msg_size(m);
	if (m->m_expire_at != 0)
		retain_heap_push(r, m);
	if (was != NULL) {
		old = was;
		retain_heap_del(r, old);
		r->r_msg_bytes -= retain_msg_size(old);
		msg_unref(old);
	}
	return 0;
}

int
retain_set(struct retain *r, struct msg *m)
{
	return retain_store(r, m, NULL);
}

const char *
retain_limit_name(enum retain_limit lim)
{
	if ((unsigned int)lim >= RETAIN_LIMIT_N)
		return "unknown limit";
	return retain_limit_names[lim];
}

struct msg *
retain_get(struct retain *r, struct bytes_view topic)
{
	return retain_index_get(r->r_ix, topic);
}

struct msg *
retain_get_at(struct retain *r, struct bytes_view topic, uint64_t now)
{
	struct msg *m;

	if ((m = retain_index_get(r->r_ix, topic)) == NULL ||
	    !msg_expired(m, now))
		return m;
	r->r_expired++;
	retain_clear(r, topic);
	return NULL;
}

size_t
retain_expire(struct retain *r, uint64_t now, size_t max)
{
	struct msg *m;
	size_t n = 0;

	while (n < max && r->r_nexp > 0 &&
	    msg_expired((m = r->r_exp[0]), now)) {
		/* retain_clear() takes it out of the heap. */
		retain_clear(r, msg_topic(m));
		r->r_expired++;
		n++;
	}
	return n;
}

uint64_t
retain_next_expiry(const struct retain *r)
{
	return r->r_nexp > 0 ? r->r_exp[0]->m_expire_at : 0;
}

size_t
retain_match(struct retain *r, struct bytes_view filter, retain_match_cb cb,
    void *arg)
{
	struct retain_index_cursor *c;
	struct msg *m;
	size_t n = 0, budget = SIZE_MAX;

	if (memchr(filter.p, '+', filter.len) == NULL &&
	    memchr(filter.p, '#', filter.len) == NULL) {
		if ((m = retain_get(r, filter)) == NULL)
			return 0;
		cb(m, arg);
		return 1;
	}
	if ((c = retain_index_cursor_new(r->r_ix, filter)) == NULL)
		return 0;
	while ((m = retain_index_cursor_next(c, &budget)) != NULL) {
		cb(m, arg);
		n++;
	}
	retain_index_cursor_free(c);
	return n;
}

struct retain_index_cursor *
retain_cursor_new(struct retain *r, struct bytes_view filter)
{
	return retain_index_cursor_new(r->r_ix, filter);
}

struct msg *
retain_cursor_next(struct retain_index_cursor *c, size_t *budget)
{
	return retain_index_cursor_next(c, budget);
}

struct msg *
retain_cursor_next_at(struct retain *r, struct retain_index_cursor *c,
    size_t *budget, uint64_t now)
{
	struct msg *m;

	while ((m = retain_index_cursor_next(c, budget)) != NULL &&
	    msg_expired(m, now)) {
		r->r_expired++;
		/* Safe under a cursor: the index keeps the nodes it is on. */
		retain_clear(r, msg_topic(m));
	}
	return m;
}

void
retain_cursor_free(struct retain_index_cursor *c)
{
	retain_index_cursor_free(c);
}

size_t
retain_count(const struct retain *r)
{
	return retain_index_count(r->r_ix);
}

size_t
retain_bytes(const struct retain *r)
{
	return r->r_msg_bytes + retain_index_bytes(r->r_ix);
}

void
retain_stats(const struct retain *r, struct retain_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->rs_count = retain_index_count(r->r_ix);
	st->rs_msg_bytes = r->r_msg_bytes;
	st->rs_index_bytes = retain_index_bytes(r->r_ix);
	st->rs_bytes = st->rs_msg_bytes + st->rs_index_bytes;
	memcpy(st->rs_refused, r->r_refused, sizeof(st->rs_refused));
	st->rs_expiring = r->r_nexp;
	st->rs_expired = r->r_expired;
}
