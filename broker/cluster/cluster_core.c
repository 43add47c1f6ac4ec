/*
 * The cluster's pure parts; see cluster_core.h.  The table hashes with
 * FNV-1a mixed with a seed, chains, and doubles at load 1.
 */
#include "broker/cluster/cluster_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define CTAB_MIN	16

static void	cluster_fwd_free(struct cluster_fwdq *, struct cluster_fwd *);

static uint64_t
ctab_hash(const struct ctab *t, struct bytes_view k)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->ct_seed;
	size_t i;

	for (i = 0; i < k.len; i++) {
		h ^= k.p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

int
ctab_init(struct ctab *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->ct_seed = seed;
	if ((t->ct_buckets = calloc(CTAB_MIN, sizeof(*t->ct_buckets))) == NULL)
		return CAIRN_ERR_NOMEM;
	t->ct_nbuckets = CTAB_MIN;
	return 0;
}

/* What e costs against ct_bytes. */
static size_t
ctab_ent_bytes(const struct ctab_ent *e)
{
	return sizeof(*e) + e->ce_len + 1 +
	    (e->ce_aux != NULL ? strlen(e->ce_aux) + 1 : 0);
}

static void
ctab_ent_free(struct ctab_ent *e)
{
	free(e->ce_aux);
	free(e);
}

void
ctab_fini(struct ctab *t)
{
	struct ctab_ent *e, *n;
	size_t i;

	for (i = 0; i < t->ct_nbuckets; i++)
		for (e = t->ct_buckets[i]; e != NULL; e = n) {
			n = e->ce_next;
			ctab_ent_free(e);
		}
	free(t->ct_buckets);
	memset(t, 0, sizeof(*t));
}

struct ctab_ent *
ctab_get(const struct ctab *t, struct bytes_view key)
{
	struct ctab_ent *e;

	if (t->ct_nbuckets == 0)
		return NULL;
	e = t->ct_buckets[ctab_hash(t, key) & (t->ct_nbuckets - 1)];
	for (; e != NULL; e = e->ce_next)
		if (e->ce_len == key.len &&
		    (key.len == 0 || memcmp(e->ce_key, key.p, key.len) == 0))
			return e;
	return NULL;
}

/* Doubles the bucket array; on ENOMEM the table stays as it is. */
static void
ctab_grow(struct ctab *t)
{
	struct ctab_ent **nb, *e, *n;
	size_t i, nn = t->ct_nbuckets * 2, h;

	if ((nb = calloc(nn, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->ct_nbuckets; i++)
		for (e = t->ct_buckets[i]; e != NULL; e = n) {
			n = e->ce_next;
			h = ctab_hash(t, bytes_view_of(e->ce_key, e->ce_len)) &
			    (nn - 1);
			e->ce_next = nb[h];
			nb[h] = e;
		}
	free(t->ct_buckets);
	t->ct_buckets = nb;
	t->ct_nbuckets = nn;
}

struct ctab_ent *
ctab_put(struct ctab *t, struct bytes_view key, int *made)
{
	struct ctab_ent *e;
	size_t h;

	if ((e = ctab_get(t, key)) != NULL) {
		if (made != NULL)
			*made = 0;
		return e;
	}
	if (key.len > SIZE_MAX - sizeof(*e) - 1 ||
	    (e = calloc(1, sizeof(*e) + key.len + 1)) == NULL)
		return NULL;
	if (key.len > 0)
		memcpy(e->ce_key, key.p, key.len);
	e->ce_key[key.len] = '\0';
	e->ce_len = key.len;
	if (t->ct_count >= t->ct_nbuckets)
		ctab_grow(t);
	h = ctab_hash(t, key) & (t->ct_nbuckets - 1);
	e->ce_next = t->ct_buckets[h];
	t->ct_buckets[h] = e;
	t->ct_count++;
	t->ct_bytes += ctab_ent_bytes(e);
	if (made != NULL)
		*made = 1;
	return e;
}

void
ctab_del(struct ctab *t, struct ctab_ent *e)
{
	struct ctab_ent **pp;
	size_t h;

	h = ctab_hash(t, bytes_view_of(e->ce_key, e->ce_len)) &
	    (t->ct_nbuckets - 1);
	for (pp = &t->ct_buckets[h]; *pp != NULL; pp = &(*pp)->ce_next)
		if (*pp == e) {
			*pp = e->ce_next;
			t->ct_count--;
			t->ct_bytes -= ctab_ent_bytes(e);
			ctab_ent_free(e);
			return;
		}
}

int
ctab_set_aux(struct ctab *t, struct ctab_ent *e, const char *s)
{
	char *n;

	if ((n = strdup(s)) == NULL)
		return CAIRN_ERR_NOMEM;
	t->ct_bytes -= ctab_ent_bytes(e);
	free(e->ce_aux);
	e->ce_aux = n;
	t->ct_bytes += ctab_ent_bytes(e);
	return 0;
}

size_t
ctab_sweep(struct ctab *t, size_t nbuckets,
    int (*stale)(const struct ctab_ent *, void *), void *arg)
{
	struct ctab_ent **pp, *e;
	size_t i, n = 0;

	for (i = 0; i < nbuckets && i < t->ct_nbuckets; i++) {
		if (t->ct_sweep >= t->ct_nbuckets)
			t->ct_sweep = 0;
		pp = &t->ct_buckets[t->ct_sweep];
		while ((e = *pp) != NULL) {
			if (!stale(e, arg)) {
				pp = &e->ce_next;
				continue;
			}
			*pp = e->ce_next;
			t->ct_count--;
			t->ct_bytes -= ctab_ent_bytes(e);
			ctab_ent_free(e);
			n++;
		}
		t->ct_sweep++;
	}
	return n;
}

int
ctab_foreach(struct ctab *t, int (*cb)(struct ctab_ent *, void *), void *arg)
{
	struct ctab_ent *e, *n;
	size_t i;
	int rc;

	for (i = 0; i < t->ct_nbuckets; i++)
		for (e = t->ct_buckets[i]; e != NULL; e = n) {
			n = e->ce_next;
			if ((rc = cb(e, arg)) != 0)
				return rc;
		}
	return 0;
}

int
ctab_foreach_slice(struct ctab *t, size_t *bucket, size_t max,
    int (*cb)(struct ctab_ent *, void *), void *arg)
{
	struct ctab_ent *e, *n;
	size_t given = 0;
	int rc;

	while (*bucket < t->ct_nbuckets) {
		for (e = t->ct_buckets[*bucket]; e != NULL; e = n) {
			n = e->ce_next;
			given++;
			if ((rc = cb(e, arg)) != 0)
				return rc;
		}
		(*bucket)++;
		if (given >= max)
			return *bucket >= t->ct_nbuckets ? 1 : 0;
	}
	return 1;
}

int
cluster_route_count(struct ctab *routes, struct bytes_view filter, int delta)
{
	struct ctab_ent *e;

	if (delta > 0) {
		if ((e = ctab_put(routes, filter, NULL)) == NULL)
			return CAIRN_ERR_NOMEM;
		return e->ce_num++ == 0 ? 1 : 0;
	}
	if ((e = ctab_get(routes, filter)) == NULL)
		return 0;
	if (--e->ce_num > 0)
		return 0;
	ctab_del(routes, e);
	return -1;
}

int
cluster_dedup_check(struct cluster_dedup *d, uint64_t seq)
{
	uint64_t back;

	if (seq == 0)
		return 0;
	if (seq > d->cd_high) {
		back = seq - d->cd_high;
		/* Slide: the old high becomes bit back - 1. */
		if (d->cd_high == 0 || back > 64)
			d->cd_bits = 0;
		else
			d->cd_bits = (back == 64 ? 0 : d->cd_bits << back) |
			    (1ull << (back - 1));
		d->cd_high = seq;
		return 1;
	}
	if (seq == d->cd_high)
		return 0;
	back = d->cd_high - 1 - seq;
	if (back >= 64)
		return 0;
	if (d->cd_bits & (1ull << back))
		return 0;
	d->cd_bits |= 1ull << back;
	return 1;
}

int
cluster_lww_wins(uint64_t stamp_a, const char *origin_a, uint64_t stamp_b,
    const char *origin_b)
{
	if (stamp_a != stamp_b)
		return stamp_a > stamp_b;
	return strcmp(origin_a, origin_b) > 0;
}

void
cluster_fwdq_init(struct cluster_fwdq *q, size_t max, uint64_t first_seq)
{
	TAILQ_INIT(&q->cq_list);
	q->cq_n = 0;
	q->cq_max = max;
	q->cq_next_seq = first_seq == 0 ? 1 : first_seq;
	q->cq_bytes = 0;
	q->cq_max_bytes = 0;
	q->cq_gen = 0;
	q->cq_next = NULL;
	q->cq_credit = 0;
	q->cq_credit_bytes = 0;
	q->cq_infl = 0;
	q->cq_infl_bytes = 0;
}

void
cluster_fwdq_set_max_bytes(struct cluster_fwdq *q, size_t max_bytes)
{
	q->cq_max_bytes = max_bytes;
}

int
cluster_fwdq_full(const struct cluster_fwdq *q, const struct msg *m)
{
	size_t cost = CLUSTER_FWD_COST(m);

	if (q->cq_n >= q->cq_max)
		return 1;
	return q->cq_max_bytes > 0 && (q->cq_bytes >= q->cq_max_bytes ||
	    cost > q->cq_max_bytes - q->cq_bytes);
}

void
cluster_fwdq_fini(struct cluster_fwdq *q)
{
	struct cluster_fwd *f;

	while ((f = TAILQ_FIRST(&q->cq_list)) != NULL) {
		TAILQ_REMOVE(&q->cq_list, f, cf_entry);
		msg_unref(f->cf_msg);
		free(f->cf_groups);
		free(f);
	}
	q->cq_n = 0;
	q->cq_bytes = 0;
	q->cq_next = NULL;
	q->cq_infl = 0;
	q->cq_infl_bytes = 0;
}

struct cluster_fwd *
cluster_fwdq_push(struct cluster_fwdq *q, struct msg *m, uint8_t qos,
    int *err)
{
	struct cluster_fwd *f;

	if (cluster_fwdq_full(q, m)) {
		*err = CAIRN_ERR_LIMIT;
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		*err = CAIRN_ERR_NOMEM;
		return NULL;
	}
	f->cf_seq = q->cq_next_seq++;
	f->cf_msg = msg_ref(m);
	f->cf_qos = qos;
	TAILQ_INSERT_TAIL(&q->cq_list, f, cf_entry);
	q->cq_n++;
	q->cq_bytes += CLUSTER_FWD_COST(m);
	if (q->cq_next == NULL)
		q->cq_next = f;
	return f;
}

int
cluster_fwd_set_groups(struct cluster_fwd *f, struct bytes_view list,
    uint16_t n)
{
	uint8_t *p = NULL;

	if (n > 0 && list.len > 0) {
		if ((p = malloc(list.len)) == NULL)
			return CAIRN_ERR_NOMEM;
		memcpy(p, list.p, list.len);
	}
	free(f->cf_groups);
	f->cf_groups = p;
	f->cf_glen = p != NULL ? list.len : 0;
	f->cf_ngroups = p != NULL ? n : 0;
	return 0;
}

int
cluster_fwdq_ack(struct cluster_fwdq *q, uint64_t seq)
{
	struct cluster_fwd *f;

	/* Acks come in order: the head, almost always. */
	TAILQ_FOREACH(f, &q->cq_list, cf_entry) {
		if (f->cf_seq == seq) {
			cluster_fwd_free(q, f);
			return 0;
		}
		if (f->cf_seq > seq)
			break;
	}
	return CAIRN_ERR_NOENT;
}

/* 1 if f went out on the current link and awaits its ack there. */
static int
cluster_fwd_in_flight(const struct cluster_fwdq *q,
    const struct cluster_fwd *f)
{
	return q->cq_gen != 0 && f->cf_sent_gen == q->cq_gen;
}

static void
cluster_fwd_free(struct cluster_fwdq *q, struct cluster_fwd *f)
{
	if (cluster_fwd_in_flight(q, f)) {
		q->cq_infl--;
		q->cq_infl_bytes -= CLUSTER_FWD_COST(f->cf_msg);
	}
	if (q->cq_next == f)
		q->cq_next = TAILQ_NEXT(f, cf_entry);
	TAILQ_REMOVE(&q->cq_list, f, cf_entry);
	q->cq_n--;
	q->cq_bytes -= CLUSTER_FWD_COST(f->cf_msg);
	msg_unref(f->cf_msg);
	free(f->cf_groups);
	free(f);
}

void
cluster_fwdq_link(struct cluster_fwdq *q, uint64_t gen)
{
	q->cq_gen = gen;
	q->cq_next = TAILQ_FIRST(&q->cq_list);
	q->cq_credit = 0;
	q->cq_credit_bytes = 0;
	q->cq_infl = 0;
	q->cq_infl_bytes = 0;
}

void
cluster_fwdq_credit(struct cluster_fwdq *q, size_t forwards, uint64_t bytes)
{
	q->cq_credit = forwards;
	q->cq_credit_bytes = bytes;
}

struct cluster_fwd *
cluster_fwdq_sendable(const struct cluster_fwdq *q)
{
	struct cluster_fwd *f = q->cq_next;

	if (f == NULL || q->cq_infl >= q->cq_credit)
		return NULL;
	/* One forward bigger than the byte credit goes alone. */
	if (q->cq_infl > 0 && (q->cq_infl_bytes >= q->cq_credit_bytes ||
	    CLUSTER_FWD_COST(f->cf_msg) > q->cq_credit_bytes -
	    q->cq_infl_bytes))
		return NULL;
	return f;
}

void
cluster_fwdq_sent(struct cluster_fwdq *q, struct cluster_fwd *f)
{
	if (!cluster_fwd_in_flight(q, f)) {
		f->cf_sent_gen = q->cq_gen;
		q->cq_infl++;
		q->cq_infl_bytes += CLUSTER_FWD_COST(f->cf_msg);
	}
	if (q->cq_next == f)
		q->cq_next = TAILQ_NEXT(f, cf_entry);
}

int
cluster_fwdq_drop_oldest(struct cluster_fwdq *q)
{
	struct cluster_fwd *f;

	if ((f = TAILQ_FIRST(&q->cq_list)) == NULL)
		return 0;
	cluster_fwd_free(q, f);
	return 1;
}

void
cluster_fwdq_drop(struct cluster_fwdq *q, struct cluster_fwd *f)
{
	cluster_fwd_free(q, f);
}

size_t
cluster_fwdq_clear(struct cluster_fwdq *q)
{
	size_t n = 0;

	while (cluster_fwdq_drop_oldest(q))
		n++;
	return n;
}

int
cluster_tombs_init(struct cluster_tombs *t, size_t max, uint64_t ttl_ms,
    uint64_t seed)
{
	TAILQ_INIT(&t->ctt_list);
	t->ctt_max = max;
	t->ctt_ttl = ttl_ms;
	t->ctt_max_bytes = 0;
	return ctab_init(&t->ctt_tab, seed);
}

void
cluster_tombs_set_max_bytes(struct cluster_tombs *t, size_t max_bytes)
{
	t->ctt_max_bytes = max_bytes;
}

size_t
cluster_tombs_bytes(const struct cluster_tombs *t)
{
	return t->ctt_tab.ct_bytes + t->ctt_tab.ct_count *
	    sizeof(struct cluster_tomb);
}

static void
cluster_tomb_free(struct cluster_tombs *t, struct cluster_tomb *tb)
{
	TAILQ_REMOVE(&t->ctt_list, tb, ctb_entry);
	ctab_del(&t->ctt_tab, tb->ctb_ent);
	free(tb);
}

void
cluster_tombs_fini(struct cluster_tombs *t)
{
	struct cluster_tomb *tb;

	while ((tb = TAILQ_FIRST(&t->ctt_list)) != NULL) {
		TAILQ_REMOVE(&t->ctt_list, tb, ctb_entry);
		free(tb);
	}
	if (t->ctt_tab.ct_buckets != NULL)
		ctab_fini(&t->ctt_tab);
}

int
cluster_tombs_put(struct cluster_tombs *t, struct bytes_view topic,
    uint64_t stamp, const char *origin, uint64_t now)
{
	struct cluster_tomb *tb;
	struct ctab_ent *e;
	char *o;
	int made;

	if (t->ctt_max == 0)
		return CAIRN_ERR_LIMIT;
	if ((o = strdup(origin)) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((e = ctab_get(&t->ctt_tab, topic)) != NULL) {
		tb = e->ce_ptr;
		TAILQ_REMOVE(&t->ctt_list, tb, ctb_entry);
	} else {
		if ((tb = calloc(1, sizeof(*tb))) == NULL) {
			free(o);
			return CAIRN_ERR_NOMEM;
		}
		if ((e = ctab_put(&t->ctt_tab, topic, &made)) == NULL) {
			free(tb);
			free(o);
			return CAIRN_ERR_NOMEM;
		}
		e->ce_ptr = tb;
		tb->ctb_ent = e;
	}
	t->ctt_tab.ct_bytes -= e->ce_aux != NULL ? strlen(e->ce_aux) + 1 : 0;
	free(e->ce_aux);
	e->ce_aux = o;
	t->ctt_tab.ct_bytes += strlen(o) + 1;
	e->ce_num = stamp;
	tb->ctb_at = now;
	TAILQ_INSERT_TAIL(&t->ctt_list, tb, ctb_entry);
	while (t->ctt_tab.ct_count > t->ctt_max ||
	    (t->ctt_max_bytes > 0 && t->ctt_tab.ct_count > 1 &&
	    cluster_tombs_bytes(t) > t->ctt_max_bytes))
		cluster_tomb_free(t, TAILQ_FIRST(&t->ctt_list));
	return 0;
}

struct ctab_ent *
cluster_tombs_get(const struct cluster_tombs *t, struct bytes_view topic)
{
	return ctab_get(&t->ctt_tab, topic);
}

int
cluster_tombs_del(struct cluster_tombs *t, struct bytes_view topic)
{
	struct ctab_ent *e;

	if ((e = ctab_get(&t->ctt_tab, topic)) == NULL)
		return 0;
	cluster_tomb_free(t, e->ce_ptr);
	return 1;
}

size_t
cluster_tombs_expire(struct cluster_tombs *t, uint64_t now)
{
	struct cluster_tomb *tb;
	size_t n = 0;

	/* Oldest first: the list is in the order they were made. */
	while ((tb = TAILQ_FIRST(&t->ctt_list)) != NULL &&
	    now >= tb->ctb_at && now - tb->ctb_at >= t->ctt_ttl) {
		cluster_tomb_free(t, tb);
		n++;
	}
	return n;
}
