/*
 * The agent's view of candidate nodes; see view.h for the rules.
 *
 * Sizes are small (a cluster is tens to thousands of nodes, a handful of
 * sources), so nodes sit on a list with a hash index by name and each
 * node keeps a short array of its sources.
 */
#include "agent/view.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct view_src {
	char		*vs_name;	/* shared with view->sources */
	uint64_t	 vs_last_seen;
	uint64_t	 vs_first_miss;
	uint64_t	 vs_gen;	/* answer that last listed the node */
	unsigned	 vs_misses;
};

struct view_node {
	struct view_node *vn_next;
	struct view_node *vn_prev;
	struct view_node *vn_hnext;
	uint32_t	 vn_hash;
	void		*vn_data;
	struct view_src	 vn_src[VIEW_MAX_SOURCES];
	size_t		 vn_nsrc;
	char		 vn_name[];
};

struct view {
	struct view_opts	 opts;
	view_change_cb		*cb;
	void			*arg;
	struct view_node	*head;
	struct view_node	*tail;
	size_t			 count;
	struct view_node	**buckets;
	size_t			 nbuckets;
	char			**sources;	/* interned source names */
	size_t			 nsources;
	uint64_t		 gen;		/* answers so far */
};

static uint32_t
view_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

struct view *
view_new(const struct view_opts *o, view_change_cb *cb, void *arg)
{
	struct view *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	if (o != NULL)
		v->opts = *o;
	if (v->opts.prune_misses == 0)
		v->opts.prune_misses = VIEW_DEFAULT_PRUNE_MISSES;
	if (v->opts.max_nodes == 0)
		v->opts.max_nodes = VIEW_DEFAULT_MAX_NODES;
	v->cb = cb;
	v->arg = arg;
	v->nbuckets = 256;
	if ((v->buckets = calloc(v->nbuckets, sizeof(*v->buckets))) == NULL) {
		free(v);
		return NULL;
	}
	return v;
}

void
view_free(struct view *v)
{
	struct view_node *n, *next;
	size_t i;

	if (v == NULL)
		return;
	for (n = v->head; n != NULL; n = next) {
		next = n->vn_next;
		free(n);
	}
	for (i = 0; i < v->nsources; i++)
		free(v->sources[i]);
	free(v->sources);
	free(v->buckets);
	free(v);
}

/* The interned copy of a source name, or NULL on ENOMEM. */
static char *
view_intern(struct view *v, const char *source)
{
	char **ns, *s;
	size_t i;

	for (i = 0; i < v->nsources; i++)
		if (strcmp(v->sources[i], source) == 0)
			return v->sources[i];
	if ((s = strdup(source)) == NULL)
		return NULL;
	if ((ns = realloc(v->sources, (v->nsources + 1) * sizeof(*ns))) ==
	    NULL) {
		free(s);
		return NULL;
	}
	v->sources = ns;
	v->sources[v->nsources++] = s;
	return s;
}

struct view_node *
view_find(const struct view *v, const char *name)
{
	uint32_t h = view_hash(name);
	struct view_node *n;

	for (n = v->buckets[h & (v->nbuckets - 1)]; n != NULL;
	    n = n->vn_hnext)
		if (n->vn_hash == h && strcmp(n->vn_name, name) == 0)
			return n;
	return NULL;
}

static void
view_grow(struct view *v)
{
	struct view_node **nb, *n;
	size_t nn = v->nbuckets * 2, b;

	if (v->count < v->nbuckets)
		return;
	if ((nb = calloc(nn, sizeof(*nb))) == NULL)
		return;		/* keep the old table: slower, still right */
	for (n = v->head; n != NULL; n = n->vn_next) {
		b = n->vn_hash & (nn - 1);
		n->vn_hnext = nb[b];
		nb[b] = n;
	}
	free(v->buckets);
	v->buckets = nb;
	v->nbuckets = nn;
}

static struct view_node *
view_add(struct view *v, const char *name)
{
	struct view_node *n;
	size_t len = strlen(name), b;

	if ((n = calloc(1, sizeof(*n) + len + 1)) == NULL)
		return NULL;
	memcpy(n->vn_name, name, len + 1);
	n->vn_hash = view_hash(name);
	n->vn_prev = v->tail;
	if (v->tail != NULL)
		v->tail->vn_next = n;
	else
		v->head = n;
	v->tail = n;
	b = n->vn_hash & (v->nbuckets - 1);
	n->vn_hnext = v->buckets[b];
	v->buckets[b] = n;
	v->count++;
	view_grow(v);
	return n;
}

static void
view_remove(struct view *v, struct view_node *n)
{
	struct view_node **pp = &v->buckets[n->vn_hash & (v->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->vn_hnext)
		if (*pp == n) {
			*pp = n->vn_hnext;
			break;
		}
	if (n->vn_prev != NULL)
		n->vn_prev->vn_next = n->vn_next;
	else
		v->head = n->vn_next;
	if (n->vn_next != NULL)
		n->vn_next->vn_prev = n->vn_prev;
	else
		v->tail = n->vn_prev;
	v->count--;
	if (v->cb != NULL)
		v->cb(v->arg, VIEW_NODE_REMOVED, n);
	free(n);
}

static struct view_src *
view_node_src(struct view_node *n, const char *src)
{
	size_t i;

	for (i = 0; i < n->vn_nsrc; i++)
		if (n->vn_src[i].vs_name == src)
			return &n->vn_src[i];
	return NULL;
}

static void
view_src_drop(struct view_node *n, struct view_src *s)
{
	size_t i = (size_t)(s - n->vn_src);

	memmove(&n->vn_src[i], &n->vn_src[i + 1],
	    (n->vn_nsrc - i - 1) * sizeof(*s));
	n->vn_nsrc--;
}

int
view_answer(struct view *v, const char *source, const char *const *nodes,
    size_t n, uint64_t now)
{
	struct view_node *vn, *next;
	struct view_src *s;
	char *src;
	size_t i;
	int added = 0, full = 0;

	if (nodes == NULL || n == 0)
		return 0;		/* unknown: changes nothing */
	if ((src = view_intern(v, source)) == NULL)
		return CAIRN_ERR_NOMEM;
	v->gen++;
	for (i = 0; i < n; i++) {
		if (nodes[i] == NULL || nodes[i][0] == '\0' ||
		    strlen(nodes[i]) > VIEW_MAX_NAME)
			continue;
		if ((vn = view_find(v, nodes[i])) == NULL) {
			if (v->count >= v->opts.max_nodes) {
				full = 1;
				continue;
			}
			if ((vn = view_add(v, nodes[i])) == NULL)
				return CAIRN_ERR_NOMEM;
			added++;
			/* The source is attached before the callback runs. */
			vn->vn_src[0] = (struct view_src){ src, now, 0, v->gen,
			    0 };
			vn->vn_nsrc = 1;
			if (v->cb != NULL)
				v->cb(v->arg, VIEW_NODE_ADDED, vn);
			continue;
		}
		if ((s = view_node_src(vn, src)) == NULL) {
			if (vn->vn_nsrc == VIEW_MAX_SOURCES)
				continue;
			s = &vn->vn_src[vn->vn_nsrc++];
			s->vs_name = src;
		}
		s->vs_last_seen = now;
		s->vs_gen = v->gen;
		if (s->vs_misses > 0) {
			s->vs_misses = 0;
			s->vs_first_miss = 0;
			if (v->cb != NULL)
				v->cb(v->arg, VIEW_NODE_CHANGED, vn);
		}
	}
	/* Misses for what this source saw before and did not list now. */
	for (vn = v->head; vn != NULL; vn = next) {
		next = vn->vn_next;
		if ((s = view_node_src(vn, src)) == NULL || s->vs_gen == v->gen)
			continue;
		if (s->vs_misses++ == 0)
			s->vs_first_miss = now;
		if (s->vs_misses >= v->opts.prune_misses &&
		    now - s->vs_last_seen >= v->opts.prune_ms) {
			view_src_drop(vn, s);
			if (vn->vn_nsrc == 0)
				view_remove(v, vn);
		} else if (s->vs_misses == 1 && v->cb != NULL)
			v->cb(v->arg, VIEW_NODE_CHANGED, vn);
	}
	return full ? CAIRN_ERR_LIMIT : added;
}

/*
 * Frees the interned names that match (prefix, or exactly when exact);
 * no node refers to them any more.  Sources that come and go (one per
 * libcluster gossip node) would otherwise pile up for ever.
 */
static void
view_unintern(struct view *v, const char *name, int exact)
{
	size_t i, len = strlen(name);

	for (i = 0; i < v->nsources;) {
		if (exact ? strcmp(v->sources[i], name) == 0 :
		    strncmp(v->sources[i], name, len) == 0) {
			free(v->sources[i]);
			v->sources[i] = v->sources[--v->nsources];
		} else
			i++;
	}
}

void
view_forget_source(struct view *v, const char *prefix)
{
	struct view_node *vn, *next;
	size_t i, plen = strlen(prefix);

	for (vn = v->head; vn != NULL; vn = next) {
		next = vn->vn_next;
		for (i = 0; i < vn->vn_nsrc;) {
			if (strncmp(vn->vn_src[i].vs_name, prefix, plen) == 0)
				view_src_drop(vn, &vn->vn_src[i]);
			else
				i++;
		}
		if (vn->vn_nsrc == 0)
			view_remove(v, vn);
	}
	view_unintern(v, prefix, 0);
}

void
view_drop_source(struct view *v, const char *source)
{
	struct view_node *vn, *next;
	size_t i;

	for (vn = v->head; vn != NULL; vn = next) {
		next = vn->vn_next;
		for (i = 0; i < vn->vn_nsrc;) {
			if (strcmp(vn->vn_src[i].vs_name, source) == 0)
				view_src_drop(vn, &vn->vn_src[i]);
			else
				i++;
		}
		if (vn->vn_nsrc == 0)
			view_remove(v, vn);
	}
	view_unintern(v, source, 1);
}

size_t
view_count(const struct view *v)
{
	return v->count;
}

struct view_node *
view_first(const struct view *v)
{
	return v->head;
}

struct view_node *
view_next(const struct view_node *n)
{
	return n->vn_next;
}

const char *
view_node_name(const struct view_node *n)
{
	return n->vn_name;
}

size_t
view_node_nsources(const struct view_node *n)
{
	return n->vn_nsrc;
}

const char *
view_node_source(const struct view_node *n, size_t i, uint64_t *last_seen,
    unsigned *misses)
{
	if (i >= n->vn_nsrc)
		return NULL;
	if (last_seen != NULL)
		*last_seen = n->vn_src[i].vs_last_seen;
	if (misses != NULL)
		*misses = n->vn_src[i].vs_misses;
	return n->vn_src[i].vs_name;
}

void *
view_node_data(const struct view_node *n)
{
	return n->vn_data;
}

void
view_node_set_data(struct view_node *n, void *d)
{
	n->vn_data = d;
}
