/*
 * The epmd name registry; see epmd_registry.h.
 *
 * Registered nodes sit on a doubly linked list (newest at the head, the
 * order NAMES prints) and in a chained hash table keyed by name.  Released
 * names sit on a FIFO, also hashed, so a returning name finds its old slot
 * in O(1) and gets the next creation.  One allocation per node holds the
 * struct, the name and the extra data, so a registration costs about
 * sizeof(struct epmd_node) + name + extra bytes, not OTP's fixed 2 KiB.
 */
#include "epmd/epmd_registry.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct epmd_list {
	struct epmd_node	*head;
	struct epmd_node	*tail;
	size_t			 count;
};

struct epmd_registry {
	struct epmd_list	 reg;		/* head = newest */
	struct epmd_list	 unreg;		/* head = oldest */
	struct epmd_node	**buckets;	/* both lists' nodes */
	size_t			 nbuckets;	/* power of two */
	size_t			 nhashed;
	size_t			 max_names;
	size_t			 max_unreg;
};

/* FNV-1a; names come only from local peers, which OTP trusts too. */
static uint32_t
epmd_hash(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

struct epmd_registry *
epmd_registry_new(size_t max_names, size_t max_unreg)
{
	struct epmd_registry *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->max_names = max_names ? max_names : EPMD_DEFAULT_MAX_NAMES;
	r->max_unreg = max_unreg ? max_unreg : EPMD_DEFAULT_MAX_UNREG;
	r->nbuckets = 64;
	if ((r->buckets = calloc(r->nbuckets, sizeof(*r->buckets))) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static void
epmd_list_free(struct epmd_list *l)
{
	struct epmd_node *n, *next;

	for (n = l->head; n != NULL; n = next) {
		next = n->n_next;
		free(n);
	}
	l->head = l->tail = NULL;
	l->count = 0;
}

void
epmd_registry_free(struct epmd_registry *r)
{
	if (r == NULL)
		return;
	epmd_list_free(&r->reg);
	epmd_list_free(&r->unreg);
	free(r->buckets);
	free(r);
}

void
epmd_registry_set_max_unreg(struct epmd_registry *r, size_t max_unreg)
{
	r->max_unreg = max_unreg;
}

static void
epmd_list_push_head(struct epmd_list *l, struct epmd_node *n)
{
	n->n_prev = NULL;
	n->n_next = l->head;
	if (l->head != NULL)
		l->head->n_prev = n;
	else
		l->tail = n;
	l->head = n;
	l->count++;
}

static void
epmd_list_push_tail(struct epmd_list *l, struct epmd_node *n)
{
	n->n_next = NULL;
	n->n_prev = l->tail;
	if (l->tail != NULL)
		l->tail->n_next = n;
	else
		l->head = n;
	l->tail = n;
	l->count++;
}

static void
epmd_list_unlink(struct epmd_list *l, struct epmd_node *n)
{
	if (n->n_prev != NULL)
		n->n_prev->n_next = n->n_next;
	else
		l->head = n->n_next;
	if (n->n_next != NULL)
		n->n_next->n_prev = n->n_prev;
	else
		l->tail = n->n_prev;
	n->n_next = n->n_prev = NULL;
	l->count--;
}

static void
epmd_hash_insert(struct epmd_registry *r, struct epmd_node *n)
{
	size_t b = n->n_hash & (r->nbuckets - 1);

	n->n_hnext = r->buckets[b];
	r->buckets[b] = n;
	r->nhashed++;
}

static void
epmd_hash_remove(struct epmd_registry *r, struct epmd_node *n)
{
	struct epmd_node **pp = &r->buckets[n->n_hash & (r->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->n_hnext) {
		if (*pp == n) {
			*pp = n->n_hnext;
			n->n_hnext = NULL;
			r->nhashed--;
			return;
		}
	}
}

/* Doubles the table when the load passes 1; on ENOMEM keeps the old one. */
static void
epmd_hash_grow(struct epmd_registry *r)
{
	struct epmd_node **nb, *n, *next;
	size_t nn, i, b;

	if (r->nhashed < r->nbuckets || r->nbuckets > SIZE_MAX / 2 /
	    sizeof(*nb))
		return;
	nn = r->nbuckets * 2;
	if ((nb = calloc(nn, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < r->nbuckets; i++) {
		for (n = r->buckets[i]; n != NULL; n = next) {
			next = n->n_hnext;
			b = n->n_hash & (nn - 1);
			n->n_hnext = nb[b];
			nb[b] = n;
		}
	}
	free(r->buckets);
	r->buckets = nb;
	r->nbuckets = nn;
}

/* Any hashed node (registered or released) with that name. */
static struct epmd_node *
epmd_hash_find(const struct epmd_registry *r, struct bytes_view name,
    uint32_t h)
{
	struct epmd_node *n;

	for (n = r->buckets[h & (r->nbuckets - 1)]; n != NULL;
	    n = n->n_hnext) {
		if (n->n_hash == h && n->n_namelen == name.len &&
		    memcmp(n->n_name, name.p, name.len) == 0)
			return n;
	}
	return NULL;
}

struct epmd_node *
epmd_registry_find(const struct epmd_registry *r, struct bytes_view name)
{
	struct epmd_node *n;

	n = epmd_hash_find(r, name, epmd_hash(name.p, name.len));
	return n != NULL && n->n_registered ? n : NULL;
}

/* OTP's bump_creation(): counters 1..3 are kept for old nodes' sake. */
static void
epmd_bump_creation(struct epmd_node *n)
{
	if (++n->n_cr_counter < 4)
		n->n_cr_counter = 4;
}

uint32_t
epmd_node_creation(const struct epmd_node *n)
{
	if (n->n_highvsn >= 6)
		return n->n_cr_counter;
	return n->n_cr_counter % 3 + 1;
}

/* A node block sized for info's name and extra, fields filled. */
static struct epmd_node *
epmd_node_alloc(struct epmd_node *old, const struct epmd_node_info *info)
{
	struct epmd_node *n;
	size_t sz = sizeof(*n) + info->name.len + 1 + info->extra.len + 1;

	if ((n = realloc(old, sz)) == NULL)
		return NULL;
	memcpy(n->n_name, info->name.p, info->name.len);
	n->n_name[info->name.len] = '\0';
	n->n_namelen = (uint16_t)info->name.len;
	n->n_extra = n->n_name + info->name.len + 1;
	if (info->extra.len > 0)
		memcpy(n->n_extra, info->extra.p, info->extra.len);
	n->n_extra[info->extra.len] = '\0';
	n->n_extralen = (uint16_t)info->extra.len;
	n->n_port = info->port;
	n->n_nodetype = info->nodetype;
	n->n_protocol = info->protocol;
	n->n_highvsn = info->highvsn;
	n->n_lowvsn = info->lowvsn;
	return n;
}

int
epmd_registry_register(struct epmd_registry *r,
    const struct epmd_node_info *info, void *owner, int fd, uint32_t now_seed,
    struct epmd_node **out, const char **why)
{
	struct epmd_node *n, *fresh;
	uint32_t h, counter;
	int rc, bump = 1;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	if ((rc = epmd_check_alive2(info, why)) != 0)
		return rc;
	h = epmd_hash(info->name.p, info->name.len);
	n = epmd_hash_find(r, info->name, h);
	if (n != NULL && n->n_registered) {
		*why = "node name already occupied";
		return CAIRN_ERR_EXIST;
	}
	if (r->reg.count >= r->max_names) {
		*why = "too many registered names";
		return CAIRN_ERR_LIMIT;
	}
	if (n != NULL) {
		/* A name seen before: its slot, the next creation. */
		counter = n->n_cr_counter;
	} else if (r->unreg.count > r->max_unreg) {
		/* OTP steals the oldest released slot and its counter. */
		n = r->unreg.head;
		counter = n->n_cr_counter;
		bump = 0;
	} else {
		counter = now_seed;
	}
	if (n != NULL) {
		epmd_hash_remove(r, n);
		epmd_list_unlink(&r->unreg, n);
	}
	if ((fresh = epmd_node_alloc(n, info)) == NULL) {
		if (n != NULL) {
			/* Put the old slot back untouched. */
			epmd_list_push_tail(&r->unreg, n);
			epmd_hash_insert(r, n);
		}
		*why = "out of memory";
		return CAIRN_ERR_NOMEM;
	}
	n = fresh;
	n->n_cr_counter = counter;
	if (bump)
		epmd_bump_creation(n);
	n->n_hash = h;
	n->n_owner = owner;
	n->n_fd = fd;
	n->n_registered = 1;
	epmd_list_push_head(&r->reg, n);
	epmd_hash_insert(r, n);
	epmd_hash_grow(r);
	*out = n;
	return 0;
}

void
epmd_registry_unregister(struct epmd_registry *r, struct epmd_node *n)
{
	if (!n->n_registered)
		return;
	epmd_list_unlink(&r->reg, n);
	n->n_registered = 0;
	n->n_owner = NULL;
	/* OTP lets the FIFO grow past its limit here and trims it only when
	 * a new name steals the oldest slot (node_reg2); DUMP shows the
	 * difference, so Cairn does the same.  It stays bounded: every
	 * released name was registered once, so the FIFO never holds more
	 * than max_names + max_unreg + 1 nodes. */
	epmd_list_push_tail(&r->unreg, n);
}

size_t
epmd_registry_count(const struct epmd_registry *r)
{
	return r->reg.count;
}

size_t
epmd_registry_unreg_count(const struct epmd_registry *r)
{
	return r->unreg.count;
}

struct epmd_node *
epmd_registry_first(const struct epmd_registry *r)
{
	return r->reg.head;
}

struct epmd_node *
epmd_registry_first_unreg(const struct epmd_registry *r)
{
	return r->unreg.head;
}

void
epmd_node_info(const struct epmd_node *n, struct epmd_node_info *info)
{
	info->port = n->n_port;
	info->nodetype = n->n_nodetype;
	info->protocol = n->n_protocol;
	info->highvsn = n->n_highvsn;
	info->lowvsn = n->n_lowvsn;
	info->name = bytes_view_of(n->n_name, n->n_namelen);
	info->extra = bytes_view_of(n->n_extra, n->n_extralen);
}
