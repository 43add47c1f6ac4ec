/*
 * The retained index; see retain_index.h.
 *
 * The root is an empty node that never holds a value: a topic of n
 * levels is the node at depth n.  Every node but the root has a value,
 * a child, or a cursor standing on it (n_pins); retain_index_del() and a
 * cursor that moves on keep it so by freeing such nodes from the bottom
 * up (ri_prune()), and a put that runs out of memory by pruning what it
 * created.
 *
 * Children: a doubly linked list, newest first, which is the order of
 * every walk; a child is only ever inserted at the head and unlinked
 * when it goes, so a cursor standing on a node still finds, after any
 * change, every older sibling after it.  With more than RI_LINEAR
 * children a node also has a hash table of them (chained through
 * n_hnext, a power-of-two size doubled when the load passes 1 and
 * halved under 1/8, dropped under RI_LINEAR / 2), so an exact level is
 * one lookup even under a node with 100,000 children.  Tables are an
 * optimisation: when one cannot grow, chains get longer.
 *
 * Cursors: every put stamps its node with the next sequence number; a
 * cursor keeps the number at its creation (c_upto) and skips newer
 * stamps.  A value with an older stamp lives on a node that existed when
 * the cursor was made and is not freed while it has that value; since
 * the walk is a pre-order over lists that only grow at their heads, the
 * walk reaches every such node that is still there, once.  The node a
 * cursor stands on is pinned, so it stays linked (and its parents with
 * it) however the index changes before the next call.
 *
 * Walking climbs with parent pointers: no stack, no recursion, so a
 * topic of any depth is safe.
 */
#include "broker/core/retain_index.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Children held in the list alone, at most; a table above. */
#define RI_LINEAR	8
/* Smallest child table. */
#define RI_TAB_MIN	16
/* Largest child table: its size must fit in 32 bits. */
#define RI_TAB_MAX	(1u << 30)

struct ri_node {
	struct ri_node	*n_parent;	/* NULL for the root */
	struct ri_node	*n_first;	/* children, newest first */
	struct ri_node	*n_prev;	/* siblings */
	struct ri_node	*n_next;
	struct ri_node	*n_hnext;	/* the parent's table chain */
	struct ri_node	**n_tab;	/* children by hash, or NULL */
	void		*n_value;	/* NULL: not a topic */
	uint64_t	 n_seq;		/* stamp of n_value's put */
	uint32_t	 n_nkids;
	uint32_t	 n_tcap;	/* 0 or a power of two */
	uint32_t	 n_hv;		/* hash of n_level */
	uint32_t	 n_len;
	uint32_t	 n_pins;	/* cursors standing here */
	uint32_t	 n_depth;	/* the root is 0 */
	char		 n_level[];	/* not NUL-terminated */
};

struct retain_index {
	struct ri_node	*ix_root;
	uint64_t	 ix_key[2];	/* SipHash key */
	uint64_t	 ix_seq;	/* last stamp given */
	size_t		 ix_count;
	size_t		 ix_bytes;
};

/* What a filter level selects among a node's children. */
enum ri_kind {
	RI_NONE,	/* nothing: the filter is used up */
	RI_EXACT,	/* the child with this level */
	RI_PLUS,	/* every child ('+'), each walked further */
	RI_ALL,		/* every node below ('#') */
};

struct ri_level {
	uint32_t	l_off;
	uint32_t	l_len;
	uint8_t		l_plus;		/* exactly "+" */
};

struct retain_index_cursor {
	struct retain_index	*c_ix;
	struct ri_node		*c_cur;		/* pinned; NULL before start */
	uint64_t		 c_upto;	/* skip stamps above */
	int			 c_done;
	int			 c_hash;	/* the last level is '#' */
	uint32_t		 c_nlev;	/* levels, the '#' included */
	struct ri_level		*c_lev;
	char			*c_filter;
};

/* One level of a topic or filter being read. */
struct ri_cursor {
	const uint8_t	*p;		/* start of the next level */
	const uint8_t	*end;
	int		 done;		/* no level left */
};

#define RI_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RI_SIPROUND do {						\
	v0 += v1; v1 = RI_ROTL(v1, 13); v1 ^= v0;			\
	v0 = RI_ROTL(v0, 32);						\
	v2 += v3; v3 = RI_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = RI_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = RI_ROTL(v1, 17); v1 ^= v2;			\
	v2 = RI_ROTL(v2, 32);						\
} while (0)

/* SipHash-1-3 (Aumasson and Bernstein) of a level, keyed per index. */
static uint32_t
ri_hash(const struct retain_index *ix, const uint8_t *p, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ ix->ix_key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ ix->ix_key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ ix->ix_key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ ix->ix_key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		RI_SIPROUND;
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	RI_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	RI_SIPROUND;
	RI_SIPROUND;
	RI_SIPROUND;
	b = v0 ^ v1 ^ v2 ^ v3;
	return (uint32_t)(b ^ (b >> 32));
}

static uint64_t
ri_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
ri_cursor_init(struct ri_cursor *c, struct bytes_view v)
{
	c->p = v.p;
	/* No arithmetic on the NULL of an empty view. */
	c->end = v.len > 0 ? v.p + v.len : v.p;
	c->done = 0;
}

/* The next level into *lv; the caller checks done first. */
static void
ri_cursor_next(struct ri_cursor *c, struct bytes_view *lv)
{
	const uint8_t *q = NULL;
	size_t left = (size_t)(c->end - c->p);

	if (left > 0)
		q = memchr(c->p, '/', left);
	if (q == NULL) {
		*lv = bytes_view_of(c->p, left);
		c->p = c->end;
		c->done = 1;
	} else {
		*lv = bytes_view_of(c->p, (size_t)(q - c->p));
		c->p = q + 1;
	}
}

static int
ri_is_dollar(const struct ri_node *n)
{
	return n->n_len > 0 && n->n_level[0] == '$';
}

static int
ri_level_eq(const struct ri_node *n, const uint8_t *p, size_t len)
{
	return n->n_len == len && (len == 0 || memcmp(n->n_level, p, len) == 0);
}

/*
 * Children.
 */

static struct ri_node *
ri_kid_find(const struct retain_index *ix, const struct ri_node *n,
    const uint8_t *p, size_t len)
{
	struct ri_node *k;
	uint32_t hv;

	if (n->n_tab == NULL) {
		for (k = n->n_first; k != NULL; k = k->n_next)
			if (ri_level_eq(k, p, len))
				return k;
		return NULL;
	}
	hv = ri_hash(ix, p, len);
	for (k = n->n_tab[hv & (n->n_tcap - 1)]; k != NULL; k = k->n_hnext)
		if (k->n_hv == hv && ri_level_eq(k, p, len))
			return k;
	return NULL;
}

/* Moves n's children to a table of cap slots (0: none).  0 or NOMEM. */
static int
ri_tab_resize(struct retain_index *ix, struct ri_node *n, uint32_t cap)
{
	struct ri_node **tab = NULL, *k;
	uint32_t b;

	if (cap > 0) {
		if ((tab = calloc(cap, sizeof(*tab))) == NULL)
			return CAIRN_ERR_NOMEM;
		for (k = n->n_first; k != NULL; k = k->n_next) {
			b = k->n_hv & (cap - 1);
			k->n_hnext = tab[b];
			tab[b] = k;
		}
	}
	free(n->n_tab);
	ix->ix_bytes -= (size_t)n->n_tcap * sizeof(*tab);
	ix->ix_bytes += (size_t)cap * sizeof(*tab);
	n->n_tab = tab;
	n->n_tcap = cap;
	return 0;
}

/* Links k (whose n_parent is n) as n's newest child.  Never fails. */
static void
ri_kid_link(struct retain_index *ix, struct ri_node *n, struct ri_node *k)
{
	uint32_t b;

	k->n_prev = NULL;
	k->n_next = n->n_first;
	if (n->n_first != NULL)
		n->n_first->n_prev = k;
	n->n_first = k;
	n->n_nkids++;
	if (n->n_tab != NULL) {
		b = k->n_hv & (n->n_tcap - 1);
		k->n_hnext = n->n_tab[b];
		n->n_tab[b] = k;
	}
	/* Growing is an optimisation: without memory, chains grow. */
	if (n->n_tab == NULL && n->n_nkids > RI_LINEAR)
		(void)ri_tab_resize(ix, n, RI_TAB_MIN);
	else if (n->n_tab != NULL && n->n_nkids > n->n_tcap &&
	    n->n_tcap < RI_TAB_MAX)
		(void)ri_tab_resize(ix, n, n->n_tcap * 2);
}

static void
ri_kid_unlink(struct retain_index *ix, struct ri_node *n, struct ri_node *k)
{
	struct ri_node **pp;

	if (k->n_prev != NULL)
		k->n_prev->n_next = k->n_next;
	else
		n->n_first = k->n_next;
	if (k->n_next != NULL)
		k->n_next->n_prev = k->n_prev;
	n->n_nkids--;
	if (n->n_tab != NULL) {
		pp = &n->n_tab[k->n_hv & (n->n_tcap - 1)];
		while (*pp != k)
			pp = &(*pp)->n_hnext;
		*pp = k->n_hnext;
		/* Shrinking is an optimisation: keep the table on ENOMEM. */
		if (n->n_nkids <= RI_LINEAR / 2)
			(void)ri_tab_resize(ix, n, 0);
		else if (n->n_tcap > RI_TAB_MIN &&
		    (uint64_t)n->n_nkids * 8 < n->n_tcap)
			(void)ri_tab_resize(ix, n, n->n_tcap / 2);
	}
}

/*
 * Nodes.
 */

static struct ri_node *
ri_node_new(struct retain_index *ix, struct ri_node *parent,
    struct bytes_view lv)
{
	struct ri_node *n;

	if (lv.len > UINT32_MAX || lv.len > SIZE_MAX - sizeof(*n))
		return NULL;
	if ((n = calloc(1, sizeof(*n) + lv.len)) == NULL)
		return NULL;
	n->n_parent = parent;
	n->n_len = (uint32_t)lv.len;
	if (lv.len > 0)
		memcpy(n->n_level, lv.p, lv.len);
	if (parent != NULL) {
		n->n_hv = ri_hash(ix, lv.p, lv.len);
		n->n_depth = parent->n_depth + 1;
	}
	ix->ix_bytes += sizeof(*n) + lv.len;
	return n;
}

static void
ri_node_free(struct retain_index *ix, struct ri_node *n)
{
	ix->ix_bytes -= sizeof(*n) + n->n_len;
	ix->ix_bytes -= (size_t)n->n_tcap * sizeof(*n->n_tab);
	free(n->n_tab);
	free(n);
}

static int
ri_node_idle(const struct ri_node *n)
{
	return n->n_value == NULL && n->n_nkids == 0 && n->n_pins == 0;
}

/* Frees n if idle, then each ancestor left idle, up to the root. */
static void
ri_prune(struct retain_index *ix, struct ri_node *n)
{
	struct ri_node *p;

	while (n->n_parent != NULL && ri_node_idle(n)) {
		p = n->n_parent;
		ri_kid_unlink(ix, p, n);
		ri_node_free(ix, n);
		n = p;
	}
}

/* The node of topic, or NULL. */
static struct ri_node *
ri_find(const struct retain_index *ix, struct bytes_view topic)
{
	struct ri_cursor c;
	struct ri_node *n = ix->ix_root;
	struct bytes_view lv;

	ri_cursor_init(&c, topic);
	while (!c.done && n != NULL) {
		ri_cursor_next(&c, &lv);
		n = ri_kid_find(ix, n, lv.p, lv.len);
	}
	return n;
}

/*
 * Public API: the index.
 */

struct retain_index *
retain_index_new(uint64_t seed)
{
	struct retain_index *ix;
	struct bytes_view root = { NULL, 0 };

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return NULL;
	ix->ix_key[0] = ri_splitmix(&seed);
	ix->ix_key[1] = ri_splitmix(&seed);
	ix->ix_bytes = sizeof(*ix);
	if ((ix->ix_root = ri_node_new(ix, NULL, root)) == NULL) {
		free(ix);
		return NULL;
	}
	return ix;
}

void
retain_index_free(struct retain_index *ix, retain_index_value_cb free_value)
{
	struct ri_node *n, *p;

	if (ix == NULL)
		return;
	/* Post-order without a stack: free leaves, climbing as they go. */
	n = ix->ix_root;
	for (;;) {
		while (n->n_first != NULL)
			n = n->n_first;
		if ((p = n->n_parent) == NULL)
			break;
		p->n_first = n->n_next;
		if (n->n_value != NULL && free_value != NULL)
			free_value(n->n_value);
		ri_node_free(ix, n);
		n = p;
	}
	ri_node_free(ix, n);
	free(ix);
}

int
retain_index_put(struct retain_index *ix, struct bytes_view topic,
    void *value, void **old)
{
	struct ri_cursor c;
	struct ri_node *n = ix->ix_root, *k;
	struct bytes_view lv;

	if (value == NULL)
		return CAIRN_ERR_INVAL;
	ri_cursor_init(&c, topic);
	while (!c.done) {
		ri_cursor_next(&c, &lv);
		if ((k = ri_kid_find(ix, n, lv.p, lv.len)) == NULL) {
			if ((k = ri_node_new(ix, n, lv)) == NULL) {
				/* Frees what this put made, and nothing else. */
				ri_prune(ix, n);
				return CAIRN_ERR_NOMEM;
			}
			ri_kid_link(ix, n, k);
		}
		n = k;
	}
	if (old != NULL)
		*old = n->n_value;
	if (n->n_value == NULL)
		ix->ix_count++;
	n->n_value = value;
	n->n_seq = ++ix->ix_seq;
	return 0;
}

void *
retain_index_del(struct retain_index *ix, struct bytes_view topic)
{
	struct ri_node *n;
	void *v;

	if ((n = ri_find(ix, topic)) == NULL || n->n_value == NULL)
		return NULL;
	v = n->n_value;
	n->n_value = NULL;
	ix->ix_count--;
	ri_prune(ix, n);
	return v;
}

void *
retain_index_get(const struct retain_index *ix, struct bytes_view topic)
{
	struct ri_node *n = ri_find(ix, topic);

	return n != NULL ? n->n_value : NULL;
}

size_t
retain_index_count(const struct retain_index *ix)
{
	return ix->ix_count;
}

size_t
retain_index_bytes(const struct retain_index *ix)
{
	return ix->ix_bytes;
}

size_t
retain_index_put_cost(const struct retain_index *ix, struct bytes_view topic)
{
	struct ri_cursor c;
	struct ri_node *n = ix->ix_root, *k;
	struct bytes_view lv;
	size_t cost = 0;

	ri_cursor_init(&c, topic);
	while (!c.done) {
		ri_cursor_next(&c, &lv);
		if ((k = ri_kid_find(ix, n, lv.p, lv.len)) != NULL) {
			n = k;
			continue;
		}
		/* The first new level: its parent's table may grow (as
		 * ri_kid_link() does), and each new level is a node. */
		if (n->n_tab == NULL && n->n_nkids + 1 > RI_LINEAR)
			cost += RI_TAB_MIN * sizeof(struct ri_node *);
		else if (n->n_tab != NULL && n->n_nkids + 1 > n->n_tcap &&
		    n->n_tcap < RI_TAB_MAX)
			cost += (size_t)n->n_tcap * sizeof(struct ri_node *);
		cost += sizeof(struct ri_node) + lv.len;
		while (!c.done) {
			ri_cursor_next(&c, &lv);
			cost += sizeof(struct ri_node) + lv.len;
		}
	}
	return cost;
}

/*
 * Cursors.
 */

/* How the children of a node at depth d are chosen. */
static enum ri_kind
ri_kind_at(const struct retain_index_cursor *c, uint32_t d)
{
	if (c->c_hash && d + 1 >= c->c_nlev)
		return RI_ALL;
	if (d >= c->c_nlev)
		return RI_NONE;
	return c->c_lev[d].l_plus ? RI_PLUS : RI_EXACT;
}

/* 1 if the walk reports node n (depth >= 1). */
static int
ri_emits(const struct retain_index_cursor *c, const struct ri_node *n)
{
	if (n->n_value == NULL || n->n_seq > c->c_upto || n->n_depth == 0)
		return 0;
	if (c->c_hash)
		return n->n_depth + 1 >= c->c_nlev;
	return n->n_depth == c->c_nlev;
}

/* k or the first sibling after it that a wildcard under the root may see. */
static struct ri_node *
ri_skip_dollar(struct ri_node *k, int at_root)
{
	while (at_root && k != NULL && ri_is_dollar(k))
		k = k->n_next;
	return k;
}

static struct ri_node *
ri_first_kid(const struct retain_index_cursor *c, const struct ri_node *n)
{
	const struct ri_level *l;

	switch (ri_kind_at(c, n->n_depth)) {
	case RI_EXACT:
		l = &c->c_lev[n->n_depth];
		return ri_kid_find(c->c_ix, n, (const uint8_t *)c->c_filter +
		    l->l_off, l->l_len);
	case RI_PLUS:
	case RI_ALL:
		return ri_skip_dollar(n->n_first, n->n_parent == NULL);
	case RI_NONE:
	default:
		return NULL;
	}
}

/* The next node to walk among n's siblings, or NULL. */
static struct ri_node *
ri_next_sibling(const struct retain_index_cursor *c, const struct ri_node *n)
{
	const struct ri_node *p = n->n_parent;

	if (ri_kind_at(c, p->n_depth) == RI_EXACT)
		return NULL;
	return ri_skip_dollar(n->n_next, p->n_parent == NULL);
}

/* Stands the cursor on n (NULL: nowhere), freeing the node it leaves. */
static void
ri_cursor_move(struct retain_index_cursor *c, struct ri_node *n)
{
	struct ri_node *was = c->c_cur;

	if (was == n)
		return;
	if (n != NULL)
		n->n_pins++;
	c->c_cur = n;
	if (was != NULL) {
		was->n_pins--;
		ri_prune(c->c_ix, was);
	}
}

struct retain_index_cursor *
retain_index_cursor_new(struct retain_index *ix, struct bytes_view filter)
{
	struct retain_index_cursor *c;
	size_t nlev = 1, i, start, size;
	uint32_t k = 0;

	for (i = 0; i < filter.len; i++)
		if (filter.p[i] == '/')
			nlev++;
	if (filter.len > UINT32_MAX ||
	    nlev > (SIZE_MAX - sizeof(*c) - filter.len - 1) /
	    sizeof(struct ri_level))
		return NULL;
	size = sizeof(*c) + nlev * sizeof(struct ri_level) + filter.len + 1;
	if ((c = calloc(1, size)) == NULL)
		return NULL;
	c->c_ix = ix;
	c->c_upto = ix->ix_seq;
	c->c_lev = (struct ri_level *)(c + 1);
	c->c_filter = (char *)(c->c_lev + nlev);
	if (filter.len > 0)
		memcpy(c->c_filter, filter.p, filter.len);
	for (i = 0, start = 0; i <= filter.len; i++) {
		if (i < filter.len && filter.p[i] != '/')
			continue;
		c->c_lev[k].l_off = (uint32_t)start;
		c->c_lev[k].l_len = (uint32_t)(i - start);
		c->c_lev[k].l_plus = i - start == 1 && filter.p[start] == '+';
		k++;
		start = i + 1;
	}
	c->c_nlev = k;
	/* Only a last '#' is a wildcard; elsewhere it matches no topic. */
	c->c_hash = c->c_lev[k - 1].l_len == 1 &&
	    c->c_filter[c->c_lev[k - 1].l_off] == '#';
	return c;
}

void
retain_index_cursor_free(struct retain_index_cursor *c)
{
	if (c == NULL)
		return;
	ri_cursor_move(c, NULL);
	free(c);
}

void *
retain_index_cursor_next(struct retain_index_cursor *c, size_t *budget)
{
	struct ri_node *n = c->c_cur, *k;

	if (c->c_done)
		return NULL;
	if (n == NULL)
		n = c->c_ix->ix_root;
	while (*budget > 0) {
		(*budget)--;
		/* Pre-order: down to the first child, else the next sibling
		 * of the nearest node that has one. */
		if ((k = ri_first_kid(c, n)) == NULL) {
			for (;;) {
				if (n->n_parent == NULL) {
					c->c_done = 1;
					ri_cursor_move(c, NULL);
					return NULL;
				}
				if ((k = ri_next_sibling(c, n)) != NULL)
					break;
				n = n->n_parent;
			}
		}
		n = k;
		if (ri_emits(c, n)) {
			ri_cursor_move(c, n);
			return n->n_value;
		}
	}
	ri_cursor_move(c, n);
	return NULL;
}

int
retain_index_cursor_done(const struct retain_index_cursor *c)
{
	return c->c_done;
}
