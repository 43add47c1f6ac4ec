/*
 * The topic trie; see trie.h.
 *
 * The root is an empty node that never holds entries: a filter of n
 * levels is the node at depth n.  Every node but the root has either an
 * entry or a child; trie_remove() keeps it so by freeing nodes from the
 * bottom up, and trie_add() by undoing what it created when it fails.
 *
 * Exact children: an open-addressing table of node pointers with linear
 * probing, deleted by backward shift (no tombstones), a power-of-two size
 * kept under 3/4 full, halved when under 1/8 full.  A node keeps the hash
 * of its own level, so a table grows without hashing strings again.
 *
 * Entries: up to TRIE_ENTS_SMALL a packed array scanned linearly; above
 * it, an open-addressing set keyed by the subscriber pointer, with the
 * same probing, growth and deletion as the children.  It turns back into
 * an array at half the threshold, so a filter that hovers at the
 * threshold does not convert on every call.
 *
 * Walking and freeing are iterative, following parent pointers: the next
 * sibling of an exact child is found from its slot, so no stack is needed
 * and a filter of any depth is safe.  Only matching recurses, on '+'.
 */
#include "broker/core/trie.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Entries of a filter held as a packed array, at most. */
#define TRIE_ENTS_SMALL		8
/* Smallest child table, and smallest entry set. */
#define TRIE_KIDS_MIN		4
#define TRIE_SET_MIN		16
/* Largest table: its index must fit in 32 bits. */
#define TRIE_CAP_MAX		(1u << 31)

struct trie_entry {
	void		*te_sub;	/* NULL: a free set slot */
	uint8_t		 te_opts;
};

struct trie_node {
	struct trie_node	*tn_parent;	/* NULL for the root */
	struct trie_node	*tn_plus;	/* the '+' child */
	struct trie_node	*tn_hash;	/* the '#' child */
	struct trie_node	**tn_kids;	/* exact children, tn_kcap slots */
	struct trie_entry	*tn_ents;	/* tn_ecap slots */
	uint32_t		 tn_nkids;
	uint32_t		 tn_kcap;	/* 0 or a power of two */
	uint32_t		 tn_nents;
	uint32_t		 tn_ecap;	/* <= SMALL: array, else set */
	uint32_t		 tn_hv;		/* hash of tn_level */
	uint32_t		 tn_len;
	char			 tn_level[];	/* not NUL-terminated */
};

struct trie {
	struct trie_node	*t_root;
	uint64_t		 t_key[2];	/* SipHash key */
	size_t			 t_filters;
	size_t			 t_entries;
	size_t			 t_nodes;
	size_t			 t_bytes;
	size_t			 t_max_filters;
	size_t			 t_max_entries;
};

/* One level of a filter or topic being read. */
struct trie_cursor {
	const uint8_t	*c_p;		/* start of the next level */
	const uint8_t	*c_end;
	int		 c_done;	/* no level left */
};

/*
 * SipHash-1-3 (Aumasson and Bernstein), keyed per trie: level strings
 * come from clients, who must not be able to pick colliding ones.
 */
#define TRIE_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define TRIE_SIPROUND do {						\
	v0 += v1; v1 = TRIE_ROTL(v1, 13); v1 ^= v0;			\
	v0 = TRIE_ROTL(v0, 32);						\
	v2 += v3; v3 = TRIE_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = TRIE_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = TRIE_ROTL(v1, 17); v1 ^= v2;			\
	v2 = TRIE_ROTL(v2, 32);						\
} while (0)

static uint32_t
trie_hash(const struct trie *t, const uint8_t *p, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ t->t_key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ t->t_key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ t->t_key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ t->t_key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		TRIE_SIPROUND;
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	TRIE_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	TRIE_SIPROUND;
	TRIE_SIPROUND;
	TRIE_SIPROUND;
	b = v0 ^ v1 ^ v2 ^ v3;
	return (uint32_t)(b ^ (b >> 32));
}

/* Subscribers are our callers' pointers, not client input: a mix will do. */
static uint32_t
trie_ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint64_t
trie_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
trie_cursor_init(struct trie_cursor *c, struct bytes_view v)
{
	c->c_p = v.p;
	c->c_end = v.p + v.len;
	c->c_done = 0;
}

/* The next level into *lv; the caller checks c_done first. */
static void
trie_cursor_next(struct trie_cursor *c, struct bytes_view *lv)
{
	const uint8_t *q = NULL;
	size_t left = (size_t)(c->c_end - c->c_p);

	if (left > 0)
		q = memchr(c->c_p, '/', left);
	if (q == NULL) {
		*lv = bytes_view_of(c->c_p, left);
		c->c_p = c->c_end;
		c->c_done = 1;
	} else {
		*lv = bytes_view_of(c->c_p, (size_t)(q - c->c_p));
		c->c_p = q + 1;
	}
}

static int
trie_level_is(struct bytes_view lv, char ch)
{
	return lv.len == 1 && lv.p[0] == (uint8_t)ch;
}

static int
trie_node_eq(const struct trie_node *n, uint32_t hv, struct bytes_view lv)
{
	return n->tn_hv == hv && n->tn_len == lv.len &&
	    (lv.len == 0 || memcmp(n->tn_level, lv.p, lv.len) == 0);
}

/* A node holds nothing and leads nowhere: it may go. */
static int
trie_node_idle(const struct trie_node *n)
{
	return n->tn_nents == 0 && n->tn_nkids == 0 && n->tn_plus == NULL &&
	    n->tn_hash == NULL;
}

/*
 * Exact children.
 */

static struct trie_node *
trie_kid_find(const struct trie_node *n, uint32_t hv, struct bytes_view lv)
{
	uint32_t mask, i;
	struct trie_node *k;

	if (n->tn_nkids == 0)
		return NULL;
	mask = n->tn_kcap - 1;
	for (i = hv & mask; (k = n->tn_kids[i]) != NULL; i = (i + 1) & mask)
		if (trie_node_eq(k, hv, lv))
			return k;
	return NULL;
}

/* The slot of child k, which must be in n's table. */
static uint32_t
trie_kid_slot(const struct trie_node *n, const struct trie_node *k)
{
	uint32_t mask = n->tn_kcap - 1, i;

	for (i = k->tn_hv & mask; n->tn_kids[i] != k; i = (i + 1) & mask)
		continue;
	return i;
}

static void
trie_kids_place(struct trie_node **tab, uint32_t cap, struct trie_node *k)
{
	uint32_t mask = cap - 1, i;

	for (i = k->tn_hv & mask; tab[i] != NULL; i = (i + 1) & mask)
		continue;
	tab[i] = k;
}

/* Moves n's children to a table of cap slots; CAIRN_ERR_NOMEM keeps n. */
static int
trie_kids_resize(struct trie *t, struct trie_node *n, uint32_t cap)
{
	struct trie_node **tab;
	uint32_t i;

	if ((tab = calloc(cap, sizeof(*tab))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n->tn_kcap; i++)
		if (n->tn_kids[i] != NULL)
			trie_kids_place(tab, cap, n->tn_kids[i]);
	free(n->tn_kids);
	t->t_bytes -= (size_t)n->tn_kcap * sizeof(*tab);
	t->t_bytes += (size_t)cap * sizeof(*tab);
	n->tn_kids = tab;
	n->tn_kcap = cap;
	return 0;
}

static int
trie_kid_insert(struct trie *t, struct trie_node *n, struct trie_node *k)
{
	int rc;

	if (((uint64_t)n->tn_nkids + 1) * 4 > (uint64_t)n->tn_kcap * 3) {
		if (n->tn_kcap >= TRIE_CAP_MAX)
			return CAIRN_ERR_NOMEM;
		rc = trie_kids_resize(t, n,
		    n->tn_kcap ? n->tn_kcap * 2 : TRIE_KIDS_MIN);
		if (rc != 0)
			return rc;
	}
	trie_kids_place(n->tn_kids, n->tn_kcap, k);
	n->tn_nkids++;
	return 0;
}

/*
 * Backward-shift deletion from a linear-probing table: after emptying
 * slot i, a later member j of the run moves up into i unless its home
 * slot lies cyclically in (i, j], so every member stays reachable from
 * its home.  No tombstones, so lookups never slow down with churn.
 */
static int
trie_may_shift(uint32_t i, uint32_t j, uint32_t home)
{
	if (i <= j)
		return !(i < home && home <= j);
	return !(i < home || home <= j);
}

static void
trie_kids_shift_out(struct trie_node **tab, uint32_t mask, uint32_t i)
{
	uint32_t j = i;

	tab[i] = NULL;
	for (;;) {
		j = (j + 1) & mask;
		if (tab[j] == NULL)
			return;
		if (trie_may_shift(i, j, tab[j]->tn_hv & mask)) {
			tab[i] = tab[j];
			tab[j] = NULL;
			i = j;
		}
	}
}

static void
trie_kid_delete(struct trie *t, struct trie_node *n, struct trie_node *k)
{
	uint32_t mask = n->tn_kcap - 1, i = trie_kid_slot(n, k);

	trie_kids_shift_out(n->tn_kids, mask, i);
	n->tn_nkids--;
	if (n->tn_nkids == 0) {
		free(n->tn_kids);
		t->t_bytes -= (size_t)n->tn_kcap * sizeof(*n->tn_kids);
		n->tn_kids = NULL;
		n->tn_kcap = 0;
	} else if (n->tn_kcap > TRIE_KIDS_MIN &&
	    (uint64_t)n->tn_nkids * 8 < n->tn_kcap) {
		/* Shrinking is an optimisation: keep the table on ENOMEM. */
		(void)trie_kids_resize(t, n, n->tn_kcap / 2);
	}
}

/*
 * Entries.
 */

static struct trie_entry *
trie_ent_find(const struct trie_node *n, const void *sub)
{
	uint32_t i, mask;

	if (n->tn_ecap <= TRIE_ENTS_SMALL) {
		for (i = 0; i < n->tn_nents; i++)
			if (n->tn_ents[i].te_sub == sub)
				return &n->tn_ents[i];
		return NULL;
	}
	mask = n->tn_ecap - 1;
	for (i = trie_ptr_hash(sub) & mask; n->tn_ents[i].te_sub != NULL;
	    i = (i + 1) & mask)
		if (n->tn_ents[i].te_sub == sub)
			return &n->tn_ents[i];
	return NULL;
}

static void
trie_set_place(struct trie_entry *set, uint32_t cap, struct trie_entry e)
{
	uint32_t mask = cap - 1, i;

	for (i = trie_ptr_hash(e.te_sub) & mask; set[i].te_sub != NULL;
	    i = (i + 1) & mask)
		continue;
	set[i] = e;
}

/*
 * Moves n's entries to storage of cap slots: an array if cap is at most
 * TRIE_ENTS_SMALL (and the entries fit), else a set.  CAIRN_ERR_NOMEM
 * keeps n as it was.
 */
static int
trie_ents_resize(struct trie *t, struct trie_node *n, uint32_t cap)
{
	struct trie_entry *ne, *old = n->tn_ents;
	uint32_t i, k = 0, oldcap = n->tn_ecap;
	int was_set = oldcap > TRIE_ENTS_SMALL;

	if (cap <= TRIE_ENTS_SMALL && !was_set && cap >= n->tn_nents) {
		/* Array to array: realloc keeps the packed prefix. */
		if ((ne = realloc(old, (size_t)cap * sizeof(*ne))) == NULL)
			return CAIRN_ERR_NOMEM;
	} else {
		if ((ne = calloc(cap, sizeof(*ne))) == NULL)
			return CAIRN_ERR_NOMEM;
		for (i = 0; i < (was_set ? oldcap : n->tn_nents); i++) {
			if (old[i].te_sub == NULL)
				continue;
			if (cap <= TRIE_ENTS_SMALL)
				ne[k++] = old[i];
			else
				trie_set_place(ne, cap, old[i]);
		}
		free(old);
	}
	t->t_bytes -= (size_t)oldcap * sizeof(*ne);
	t->t_bytes += (size_t)cap * sizeof(*ne);
	n->tn_ents = ne;
	n->tn_ecap = cap;
	return 0;
}

/* Adds an entry that is not there yet. */
static int
trie_ent_insert(struct trie *t, struct trie_node *n, void *sub, uint8_t opts)
{
	struct trie_entry e = { sub, opts };
	uint32_t cap = n->tn_ecap;
	int rc;

	if (cap <= TRIE_ENTS_SMALL) {
		if (n->tn_nents == cap) {
			if (cap == 0)
				cap = 1;
			else if (cap < TRIE_ENTS_SMALL)
				cap *= 2;
			else
				cap = TRIE_SET_MIN;
			if ((rc = trie_ents_resize(t, n, cap)) != 0)
				return rc;
		}
	} else if (((uint64_t)n->tn_nents + 1) * 4 > (uint64_t)cap * 3) {
		if (cap >= TRIE_CAP_MAX)
			return CAIRN_ERR_NOMEM;
		if ((rc = trie_ents_resize(t, n, cap * 2)) != 0)
			return rc;
	}
	if (n->tn_ecap <= TRIE_ENTS_SMALL)
		n->tn_ents[n->tn_nents] = e;
	else
		trie_set_place(n->tn_ents, n->tn_ecap, e);
	n->tn_nents++;
	return 0;
}

static void
trie_set_shift_out(struct trie_entry *set, uint32_t mask, uint32_t i)
{
	static const struct trie_entry none = { NULL, 0 };
	uint32_t j = i;

	set[i] = none;
	for (;;) {
		j = (j + 1) & mask;
		if (set[j].te_sub == NULL)
			return;
		if (trie_may_shift(i, j, trie_ptr_hash(set[j].te_sub) & mask)) {
			set[i] = set[j];
			set[j] = none;
			i = j;
		}
	}
}

static void
trie_ent_delete(struct trie *t, struct trie_node *n, struct trie_entry *e)
{
	static const struct trie_entry none = { NULL, 0 };
	uint32_t i = (uint32_t)(e - n->tn_ents), mask;

	n->tn_nents--;
	if (n->tn_ecap <= TRIE_ENTS_SMALL) {
		n->tn_ents[i] = n->tn_ents[n->tn_nents];
		n->tn_ents[n->tn_nents] = none;
	} else {
		mask = n->tn_ecap - 1;
		trie_set_shift_out(n->tn_ents, mask, i);
	}
	/* Shrinking is an optimisation: on ENOMEM keep what we have. */
	if (n->tn_nents == 0) {
		free(n->tn_ents);
		t->t_bytes -= (size_t)n->tn_ecap * sizeof(*e);
		n->tn_ents = NULL;
		n->tn_ecap = 0;
	} else if (n->tn_ecap > TRIE_ENTS_SMALL) {
		if (n->tn_nents <= TRIE_ENTS_SMALL / 2)
			(void)trie_ents_resize(t, n, TRIE_ENTS_SMALL);
		else if (n->tn_ecap > TRIE_SET_MIN &&
		    (uint64_t)n->tn_nents * 8 < n->tn_ecap)
			(void)trie_ents_resize(t, n, n->tn_ecap / 2);
	} else if (n->tn_nents * 4 <= n->tn_ecap)
		(void)trie_ents_resize(t, n, n->tn_ecap / 2);
}

/*
 * Nodes.
 */

static struct trie_node *
trie_node_new(struct trie *t, struct trie_node *parent, struct bytes_view lv,
    uint32_t hv)
{
	struct trie_node *n;

	if (lv.len > UINT32_MAX || lv.len > SIZE_MAX - sizeof(*n))
		return NULL;
	if ((n = calloc(1, sizeof(*n) + lv.len)) == NULL)
		return NULL;
	n->tn_parent = parent;
	n->tn_hv = hv;
	n->tn_len = (uint32_t)lv.len;
	if (lv.len > 0)
		memcpy(n->tn_level, lv.p, lv.len);
	t->t_nodes++;
	t->t_bytes += sizeof(*n) + lv.len;
	return n;
}

/* Frees n and what it holds, not its children. */
static void
trie_node_free(struct trie *t, struct trie_node *n)
{
	t->t_nodes--;
	t->t_bytes -= sizeof(*n) + n->tn_len;
	t->t_bytes -= (size_t)n->tn_kcap * sizeof(*n->tn_kids);
	t->t_bytes -= (size_t)n->tn_ecap * sizeof(*n->tn_ents);
	free(n->tn_kids);
	free(n->tn_ents);
	free(n);
}

/* The first child of n after `after` (NULL: the first of all), or NULL.
 * Order: exact children by slot, then '+', then '#'. */
static struct trie_node *
trie_next_kid(const struct trie_node *n, const struct trie_node *after)
{
	uint32_t i = 0;

	if (after == n->tn_hash && after != NULL)
		return NULL;
	if (after == n->tn_plus && after != NULL)
		return n->tn_hash;
	if (after != NULL)
		i = trie_kid_slot(n, after) + 1;
	for (; i < n->tn_kcap; i++)
		if (n->tn_kids[i] != NULL)
			return n->tn_kids[i];
	return n->tn_plus != NULL ? n->tn_plus : n->tn_hash;
}

/*
 * Unlinks n from its parent and frees it, then each ancestor that is left
 * idle, up to (not including) the root.
 */
static void
trie_prune(struct trie *t, struct trie_node *n)
{
	struct trie_node *p;

	while (n->tn_parent != NULL && trie_node_idle(n)) {
		p = n->tn_parent;
		if (p->tn_plus == n)
			p->tn_plus = NULL;
		else if (p->tn_hash == n)
			p->tn_hash = NULL;
		else
			trie_kid_delete(t, p, n);
		trie_node_free(t, n);
		n = p;
	}
}

/* n's child for level lv, or NULL; *hv is lv's hash if lv is exact. */
static struct trie_node *
trie_child(const struct trie *t, const struct trie_node *n,
    struct bytes_view lv, uint32_t *hv)
{
	*hv = 0;
	if (trie_level_is(lv, '+'))
		return n->tn_plus;
	if (trie_level_is(lv, '#'))
		return n->tn_hash;
	*hv = trie_hash(t, lv.p, lv.len);
	return trie_kid_find(n, *hv, lv);
}

/* Makes k (whose tn_parent is p) a child of p; CAIRN_ERR_NOMEM keeps p. */
static int
trie_link(struct trie *t, struct trie_node *p, struct trie_node *k)
{
	if (k->tn_len == 1 && k->tn_level[0] == '+')
		p->tn_plus = k;
	else if (k->tn_len == 1 && k->tn_level[0] == '#')
		p->tn_hash = k;
	else
		return trie_kid_insert(t, p, k);
	return 0;
}

/*
 * The node of `filter`, or NULL.  CAIRN_ERR_INVAL if a '#' level is not
 * the last one (checked on every level, found or not), else 0.
 */
static int
trie_find(const struct trie *t, struct bytes_view filter,
    struct trie_node **out)
{
	struct trie_cursor c;
	struct trie_node *n = t->t_root;
	struct bytes_view lv;
	uint32_t hv;

	trie_cursor_init(&c, filter);
	while (!c.c_done) {
		trie_cursor_next(&c, &lv);
		if (trie_level_is(lv, '#') && !c.c_done)
			return CAIRN_ERR_INVAL;
		if (n != NULL)
			n = trie_child(t, n, lv, &hv);
	}
	*out = n;
	return 0;
}

/*
 * Public API.
 */

struct trie *
trie_new(void)
{
	struct trie *t;
	struct bytes_view root = { NULL, 0 };
	uint64_t seed;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* Addresses vary with ASLR; the daemon should call trie_set_key(). */
	seed = (uint64_t)(uintptr_t)t ^ ((uint64_t)(uintptr_t)&seed << 17);
	t->t_key[0] = trie_splitmix(&seed);
	t->t_key[1] = trie_splitmix(&seed);
	t->t_max_filters = TRIE_DEFAULT_MAX_FILTERS;
	t->t_max_entries = TRIE_DEFAULT_MAX_ENTRIES;
	t->t_bytes = sizeof(*t);
	if ((t->t_root = trie_node_new(t, NULL, root, 0)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
trie_free(struct trie *t)
{
	struct trie_node *n, *p, *next;

	if (t == NULL)
		return;
	/*
	 * Post-order without a stack: go down to a node with no children
	 * left, free it after finding its next sibling, and climb when there
	 * is none.  Siblings are found by slot, by pointer, so the freed
	 * ones are never read.
	 */
	n = t->t_root;
	for (;;) {
		while ((next = trie_next_kid(n, NULL)) != NULL)
			n = next;
		for (;;) {
			if ((p = n->tn_parent) == NULL) {
				trie_node_free(t, n);
				free(t);
				return;
			}
			next = trie_next_kid(p, n);
			if (p->tn_plus == n)
				p->tn_plus = NULL;
			else if (p->tn_hash == n)
				p->tn_hash = NULL;
			else
				p->tn_kids[trie_kid_slot(p, n)] = NULL;
			trie_node_free(t, n);
			if (next != NULL) {
				n = next;
				break;
			}
			n = p;
		}
	}
}

void
trie_set_limits(struct trie *t, size_t max_filters, size_t max_entries)
{
	t->t_max_filters = max_filters;
	t->t_max_entries = max_entries;
}

int
trie_set_key(struct trie *t, const uint8_t key[16])
{
	int i;

	if (t->t_nodes != 1)
		return CAIRN_ERR_EXIST;
	t->t_key[0] = t->t_key[1] = 0;
	for (i = 0; i < 8; i++) {
		t->t_key[0] |= (uint64_t)key[i] << (8 * i);
		t->t_key[1] |= (uint64_t)key[8 + i] << (8 * i);
	}
	return 0;
}

int
trie_add(struct trie *t, struct bytes_view filter, void *sub, uint8_t opts,
    int *was_new)
{
	struct trie_cursor c, rest;
	struct trie_node *n, *k, *leaf, *top = NULL;
	struct trie_entry *e;
	struct bytes_view lv;
	uint32_t hv;
	int rc;

	if (sub == NULL)
		return CAIRN_ERR_INVAL;
	if ((rc = trie_find(t, filter, &n)) != 0)
		return rc;
	if (n != NULL && (e = trie_ent_find(n, sub)) != NULL) {
		e->te_opts = opts;
		if (was_new != NULL)
			*was_new = 0;
		return 0;
	}
	if (t->t_entries >= t->t_max_entries)
		return CAIRN_ERR_LIMIT;
	if ((n == NULL || n->tn_nents == 0) &&
	    t->t_filters >= t->t_max_filters)
		return CAIRN_ERR_LIMIT;

	/*
	 * Find the deepest existing node, build the missing levels below it
	 * as a detached chain, put the entry at its end, and link the chain
	 * in last.  Every step before the link touches only new nodes, and
	 * the link is the one step that may grow an existing table, so a
	 * failure anywhere leaves the trie as it was, byte for byte.
	 */
	n = t->t_root;
	trie_cursor_init(&c, filter);
	while (!c.c_done) {
		rest = c;
		trie_cursor_next(&c, &lv);
		if ((k = trie_child(t, n, lv, &hv)) == NULL) {
			c = rest;
			break;
		}
		n = k;
	}
	leaf = n;
	while (!c.c_done) {
		trie_cursor_next(&c, &lv);
		if (!trie_level_is(lv, '+') && !trie_level_is(lv, '#'))
			hv = trie_hash(t, lv.p, lv.len);
		else
			hv = 0;
		if ((k = trie_node_new(t, leaf, lv, hv)) == NULL)
			goto fail;
		if (top == NULL)
			top = k;
		else if (trie_link(t, leaf, k) != 0) {
			trie_node_free(t, k);
			goto fail;
		}
		leaf = k;
	}
	if (trie_ent_insert(t, leaf, sub, opts) != 0)
		goto fail;
	if (top != NULL && trie_link(t, n, top) != 0)
		goto fail;
	if (leaf->tn_nents == 1)
		t->t_filters++;
	t->t_entries++;
	if (was_new != NULL)
		*was_new = 1;
	return 0;
fail:
	/* The chain from top down to leaf is new and has one path. */
	while (top != NULL) {
		k = leaf->tn_parent;
		if (leaf == top)
			top = NULL;
		trie_node_free(t, leaf);
		leaf = k;
	}
	return CAIRN_ERR_NOMEM;
}

int
trie_remove(struct trie *t, struct bytes_view filter, void *sub)
{
	struct trie_node *n;
	struct trie_entry *e;

	if (trie_find(t, filter, &n) != 0 || n == NULL ||
	    (e = trie_ent_find(n, sub)) == NULL)
		return CAIRN_ERR_NOENT;
	trie_ent_delete(t, n, e);
	if (n->tn_nents == 0)
		t->t_filters--;
	t->t_entries--;
	trie_prune(t, n);
	return 0;
}

int
trie_get(const struct trie *t, struct bytes_view filter, const void *sub,
    uint8_t *opts)
{
	struct trie_node *n;
	struct trie_entry *e;

	if (trie_find(t, filter, &n) != 0 || n == NULL ||
	    (e = trie_ent_find(n, sub)) == NULL)
		return CAIRN_ERR_NOENT;
	if (opts != NULL)
		*opts = e->te_opts;
	return 0;
}

/* State of one trie_match() or trie_has_match(). */
struct trie_match {
	const struct trie	*m_trie;
	trie_match_cb		 m_cb;		/* NULL: has_match */
	void			*m_arg;
	size_t			 m_count;
};

/* Reports n's entries; 1 to stop (has_match found one). */
static int
trie_emit(struct trie_match *m, const struct trie_node *n)
{
	const struct trie_entry *e;
	uint32_t i, lim;

	if (n->tn_nents == 0)
		return 0;
	if (m->m_cb == NULL) {
		m->m_count = 1;
		return 1;
	}
	lim = n->tn_ecap <= TRIE_ENTS_SMALL ? n->tn_nents : n->tn_ecap;
	for (i = 0; i < lim; i++) {
		e = &n->tn_ents[i];
		if (e->te_sub == NULL)
			continue;
		m->m_cb(e->te_sub, e->te_opts, n, m->m_arg);
		m->m_count++;
	}
	return 0;
}

/*
 * Matches the levels left in c from node n: collects n's '#' child,
 * recurses into its '+' child and follows its exact child in a loop.
 * `dollar` is set at the root for a topic starting with '$', whose first
 * level no wildcard matches.  Returns 1 to stop.
 */
static int
trie_match_from(struct trie_match *m, const struct trie_node *n,
    struct trie_cursor c, int dollar)
{
	struct bytes_view lv;

	for (;;) {
		if (c.c_done) {
			/* All levels consumed: n's own filter, and "n/#". */
			if (trie_emit(m, n))
				return 1;
			return n->tn_hash != NULL && trie_emit(m, n->tn_hash);
		}
		if (n->tn_hash != NULL && !dollar && trie_emit(m, n->tn_hash))
			return 1;
		trie_cursor_next(&c, &lv);
		if (n->tn_plus != NULL && !dollar &&
		    trie_match_from(m, n->tn_plus, c, 0))
			return 1;
		if (n->tn_nkids == 0)
			return 0;
		n = trie_kid_find(n, trie_hash(m->m_trie, lv.p, lv.len), lv);
		if (n == NULL)
			return 0;
		dollar = 0;
	}
}

size_t
trie_match(const struct trie *t, struct bytes_view topic, trie_match_cb cb,
    void *arg)
{
	struct trie_match m = { t, cb, arg, 0 };
	struct trie_cursor c;

	if (cb == NULL)
		return 0;
	trie_cursor_init(&c, topic);
	(void)trie_match_from(&m, t->t_root, c,
	    topic.len > 0 && topic.p[0] == '$');
	return m.m_count;
}

int
trie_has_match(const struct trie *t, struct bytes_view topic)
{
	struct trie_match m = { t, NULL, NULL, 0 };
	struct trie_cursor c;

	trie_cursor_init(&c, topic);
	(void)trie_match_from(&m, t->t_root, c,
	    topic.len > 0 && topic.p[0] == '$');
	return m.m_count != 0;
}

/* Calls cb for each of n's entries; the first nonzero return, else 0. */
static int
trie_walk_node(const struct trie_node *n, const char *buf, size_t len,
    trie_walk_cb cb, void *arg)
{
	const struct trie_entry *e;
	uint32_t i, lim;
	int rc;

	lim = n->tn_ecap <= TRIE_ENTS_SMALL ? n->tn_nents : n->tn_ecap;
	for (i = 0; i < lim; i++) {
		e = &n->tn_ents[i];
		if (e->te_sub == NULL)
			continue;
		if ((rc = cb(bytes_view_of(buf, len), e->te_sub, e->te_opts,
		    arg)) != 0)
			return rc;
	}
	return 0;
}

int
trie_walk(const struct trie *t, trie_walk_cb cb, void *arg)
{
	const struct trie_node *n = t->t_root, *k;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, need;
	int rc = 0;

	/*
	 * Depth first without a stack: buf holds the filter of n, and
	 * going up cuts n's level (and its '/') off the end.
	 */
	k = trie_next_kid(n, NULL);
	for (;;) {
		if (k != NULL) {
			need = len + (n != t->t_root) + k->tn_len;
			if (need > cap) {
				cap = need < 64 ? 64 : need * 2;
				if ((nb = realloc(buf, cap)) == NULL) {
					rc = CAIRN_ERR_NOMEM;
					break;
				}
				buf = nb;
			}
			if (n != t->t_root)
				buf[len++] = '/';
			if (k->tn_len > 0)
				memcpy(buf + len, k->tn_level, k->tn_len);
			len += k->tn_len;
			n = k;
			if (n->tn_nents > 0 &&
			    (rc = trie_walk_node(n, buf, len, cb, arg)) != 0)
				break;
			k = trie_next_kid(n, NULL);
			continue;
		}
		if (n == t->t_root)
			break;
		len -= n->tn_len;
		if (n->tn_parent != t->t_root)
			len--;
		k = trie_next_kid(n->tn_parent, n);
		n = n->tn_parent;
	}
	free(buf);
	return rc;
}

size_t
trie_filter_str(const struct trie_node *n, char *buf, size_t size)
{
	const struct trie_node *p;
	size_t len = 0, end;

	for (p = n; p->tn_parent != NULL; p = p->tn_parent)
		len += p->tn_len + (p->tn_parent->tn_parent != NULL);
	if (size == 0)
		return len;
	/* Fill from the end, clipping whatever falls past size - 1. */
	end = len;
	for (p = n; p->tn_parent != NULL; p = p->tn_parent) {
		end -= p->tn_len;
		if (end < size - 1)
			memcpy(buf + end, p->tn_level,
			    p->tn_len < size - 1 - end ? p->tn_len :
			    size - 1 - end);
		if (p->tn_parent->tn_parent != NULL) {
			end--;
			if (end < size - 1)
				buf[end] = '/';
		}
	}
	buf[len < size - 1 ? len : size - 1] = '\0';
	return len;
}

void
trie_count(const struct trie *t, size_t *filters, size_t *entries)
{
	if (filters != NULL)
		*filters = t->t_filters;
	if (entries != NULL)
		*entries = t->t_entries;
}

void
trie_stats(const struct trie *t, struct trie_stats *st)
{
	st->ts_filters = t->t_filters;
	st->ts_entries = t->t_entries;
	st->ts_nodes = t->t_nodes;
	st->ts_bytes = t->t_bytes;
}
