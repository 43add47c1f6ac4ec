/*
 * The hash ring; see ring.h for the rules, which are on the wire in the
 * sense that every node must compute the same thing.
 *
 * Invariants: r_names holds the members sorted and unique; r_points
 * holds RING_POINTS points per member, sorted by (hash, member index),
 * and member indexes follow name order, so the order of points is a
 * function of the set alone.  ring_set() builds a new pair of arrays
 * and swaps them in only when all of it succeeded.
 */
#include "agent/ring.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct ring_point {
	uint64_t	 rp_hash;
	uint32_t	 rp_member;	/* index into r_names */
};

struct ring {
	char			**r_names;
	size_t			  r_n;
	struct ring_point	 *r_points;
	size_t			  r_npoints;
};

#define RING_FNV_OFFSET		0xcbf29ce484222325ULL
#define RING_FNV_PRIME		0x100000001b3ULL

static uint64_t
ring_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= RING_FNV_PRIME;
	}
	return h;
}

static uint64_t
ring_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

uint64_t
ring_hash(const void *p, size_t len)
{
	return ring_mix(ring_fnv(RING_FNV_OFFSET, p, len));
}

/* Point i of a member: hash(name, 0x00, i as u32 big-endian). */
static uint64_t
ring_point_hash(const char *name, uint32_t i)
{
	unsigned char tail[5];
	uint64_t h;

	tail[0] = 0;
	tail[1] = (unsigned char)(i >> 24);
	tail[2] = (unsigned char)(i >> 16);
	tail[3] = (unsigned char)(i >> 8);
	tail[4] = (unsigned char)i;
	h = ring_fnv(RING_FNV_OFFSET, name, strlen(name));
	return ring_mix(ring_fnv(h, tail, sizeof(tail)));
}

static int
ring_cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
ring_cmp_point(const void *a, const void *b)
{
	const struct ring_point *x = a, *y = b;

	if (x->rp_hash != y->rp_hash)
		return x->rp_hash < y->rp_hash ? -1 : 1;
	return x->rp_member < y->rp_member ? -1 : x->rp_member > y->rp_member;
}

struct ring *
ring_new(void)
{
	return calloc(1, sizeof(struct ring));
}

static void
ring_clear(char **names, size_t n, struct ring_point *points)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(points);
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	ring_clear(r->r_names, r->r_n, r->r_points);
	free(r);
}

int
ring_set(struct ring *r, const char *const *members, size_t n)
{
	char **names = NULL;
	struct ring_point *points = NULL;
	size_t i, k = 0, p = 0;
	uint32_t j;

	if (n > RING_MAX_MEMBERS)
		return CAIRN_ERR_LIMIT;
	if (n > 0 && (names = calloc(n, sizeof(*names))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (members[i] == NULL || members[i][0] == '\0')
			continue;
		if ((names[k] = strdup(members[i])) == NULL)
			goto nomem;
		k++;
	}
	if (k > 0)
		qsort(names, k, sizeof(*names), ring_cmp_name);
	for (i = 0, n = k, k = 0; i < n; i++) {
		if (k > 0 && strcmp(names[k - 1], names[i]) == 0) {
			free(names[i]);
			continue;
		}
		names[k++] = names[i];
	}
	if (k > 0 && (points = calloc(k * RING_POINTS,
	    sizeof(*points))) == NULL)
		goto nomem;
	for (i = 0; i < k; i++)
		for (j = 0; j < RING_POINTS; j++) {
			points[p].rp_hash = ring_point_hash(names[i], j);
			points[p++].rp_member = (uint32_t)i;
		}
	if (p > 0)
		qsort(points, p, sizeof(*points), ring_cmp_point);
	ring_clear(r->r_names, r->r_n, r->r_points);
	r->r_names = names;
	r->r_n = k;
	r->r_points = points;
	r->r_npoints = p;
	return 0;
nomem:
	/* names[0..k) are the live copies at either jump. */
	ring_clear(names, k, points);
	return CAIRN_ERR_NOMEM;
}

size_t
ring_size(const struct ring *r)
{
	return r->r_n;
}

const char *
ring_member(const struct ring *r, size_t i)
{
	return i < r->r_n ? r->r_names[i] : NULL;
}

const char *
ring_whois(const struct ring *r, const void *key, size_t len)
{
	uint64_t h;
	size_t lo = 0, hi = r->r_npoints, mid;

	if (r->r_npoints == 0)
		return NULL;
	h = ring_hash(key, len);
	/* The first point at or after h; past the top, the first of all. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->r_points[mid].rp_hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->r_npoints)
		lo = 0;
	return r->r_names[r->r_points[lo].rp_member];
}

const char *
ring_leader(const struct ring *r)
{
	return r->r_n > 0 ? r->r_names[0] : NULL;
}
