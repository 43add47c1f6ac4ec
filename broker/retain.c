/*
 * The retained store; see retain.h.  Chained buckets, doubled when the
 * load passes 1, so set and clear are O(1) on average.
 */
#include "broker/retain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt_topic.h"
#include "common/err.h"

#define RETAIN_BUCKETS_MIN	64

struct retain_entry {
	struct retain_entry	*re_next;
	struct msg		*re_msg;	/* one reference */
};

struct retain {
	struct retain_entry	**r_buckets;
	size_t			  r_nbuckets;	/* a power of two */
	size_t			  r_count;
	size_t			  r_max;
	uint64_t		  r_seed;
};

static uint64_t
retain_hash(const struct retain *r, struct bytes_view t)
{
	uint64_t h = 0xcbf29ce484222325ull ^ r->r_seed;
	size_t i;

	for (i = 0; i < t.len; i++) {
		h ^= t.p[i];
		h *= 0x100000001b3ull;
	}
	h ^= r->r_seed >> 13;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

struct retain *
retain_new(size_t max_messages, uint64_t seed)
{
	struct retain *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_nbuckets = RETAIN_BUCKETS_MIN;
	if ((r->r_buckets = calloc(r->r_nbuckets, sizeof(*r->r_buckets))) ==
	    NULL) {
		free(r);
		return NULL;
	}
	r->r_max = max_messages;
	r->r_seed = seed;
	return r;
}

void
retain_free(struct retain *r)
{
	struct retain_entry *e, *next;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->r_nbuckets; i++) {
		for (e = r->r_buckets[i]; e != NULL; e = next) {
			next = e->re_next;
			msg_unref(e->re_msg);
			free(e);
		}
	}
	free(r->r_buckets);
	free(r);
}

static struct retain_entry **
retain_slot(struct retain *r, struct bytes_view topic)
{
	struct retain_entry **pp;
	struct msg *m;

	pp = &r->r_buckets[retain_hash(r, topic) & (r->r_nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->re_next) {
		m = (*pp)->re_msg;
		if (m->m_topic_len == topic.len &&
		    memcmp(m->m_topic, topic.p, topic.len) == 0)
			break;
	}
	return pp;
}

static void
retain_grow(struct retain *r)
{
	struct retain_entry **nb, *e, *next;
	size_t n = r->r_nbuckets * 2, i, b;

	/* An optimisation only: without memory the chains grow. */
	if (n < r->r_nbuckets || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < r->r_nbuckets; i++) {
		for (e = r->r_buckets[i]; e != NULL; e = next) {
			next = e->re_next;
			b = retain_hash(r, msg_topic(e->re_msg)) & (n - 1);
			e->re_next = nb[b];
			nb[b] = e;
		}
	}
	free(r->r_buckets);
	r->r_buckets = nb;
	r->r_nbuckets = n;
}

int
retain_set(struct retain *r, struct msg *m)
{
	struct retain_entry **pp, *e;

	pp = retain_slot(r, msg_topic(m));
	if ((e = *pp) != NULL) {
		if (m->m_payload_len == 0) {
			*pp = e->re_next;
			msg_unref(e->re_msg);
			free(e);
			r->r_count--;
			return 0;
		}
		msg_unref(e->re_msg);
		e->re_msg = msg_ref(m);
		return 0;
	}
	if (m->m_payload_len == 0)
		return 0;
	if (r->r_count >= r->r_max)
		return CAIRN_ERR_LIMIT;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	e->re_msg = msg_ref(m);
	if (r->r_count >= r->r_nbuckets) {
		retain_grow(r);
		pp = retain_slot(r, msg_topic(m));
	}
	*pp = e;
	r->r_count++;
	return 0;
}

struct msg *
retain_get(struct retain *r, struct bytes_view topic)
{
	struct retain_entry *e;

	e = *retain_slot(r, topic);
	return e == NULL ? NULL : e->re_msg;
}

size_t
retain_match(struct retain *r, struct bytes_view filter, retain_match_cb cb,
    void *arg)
{
	struct retain_entry *e;
	struct msg *m;
	size_t i, n = 0;

	if (memchr(filter.p, '+', filter.len) == NULL &&
	    memchr(filter.p, '#', filter.len) == NULL) {
		if ((m = retain_get(r, filter)) == NULL)
			return 0;
		cb(m, arg);
		return 1;
	}
	for (i = 0; i < r->r_nbuckets; i++) {
		for (e = r->r_buckets[i]; e != NULL; e = e->re_next) {
			if (mqtt_topic_match(filter, msg_topic(e->re_msg))) {
				cb(e->re_msg, arg);
				n++;
			}
		}
	}
	return n;
}

size_t
retain_count(const struct retain *r)
{
	return r->r_count;
}
