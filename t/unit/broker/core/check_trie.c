/*
 * Unit tests for broker/trie: every wildcard example of MQTT 3.1.1
 * section 4.7 and the '$' rule, empty levels, overlapping subscriptions,
 * add/replace/remove and pruning (the byte count returns to that of an
 * empty trie), 100,000 subscribers on one filter and 100,000 filters,
 * limits, allocation failures at every point (nothing half-inserted),
 * trie_walk() rebuilding exactly the filters added, and a randomized
 * comparison with the reference matcher mqtt_topic_match() under a fixed
 * seed.
 *
 * Allocation failures are injected through the linker's --wrap of
 * malloc, calloc and realloc (see meson.build): fail_after counts down
 * the allocations still allowed, and -1 disables it.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "broker/core/trie.h"
#include "common/bytes.h"
#include "common/err.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);

static long fail_after = -1;

static int
alloc_fails(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t sz)
{
	return alloc_fails() ? NULL : __real_calloc(n, sz);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

static struct trie *t;

static void
setup(void)
{
	fail_after = -1;
	t = trie_new();
	ck_assert_ptr_nonnull(t);
}

static void
teardown(void)
{
	fail_after = -1;
	trie_free(t);
	t = NULL;
}

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

/* Distinct subscriber pointers: addresses inside one array. */
static char subs[200000];
#define SUB(i)	((void *)&subs[(i)])

/* Collects what trie_match() reports. */
struct hit {
	char		 filter[64];
	size_t		 sub;
	uint8_t		 opts;
};

struct hits {
	struct hit	*h;
	size_t		 n;
	size_t		 cap;
};

static void
on_hit(void *sub, uint8_t opts, const struct trie_node *filter, void *arg)
{
	struct hits *hs = arg;
	struct hit *h;

	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? hs->cap * 2 : 16;
		hs->h = realloc(hs->h, hs->cap * sizeof(*hs->h));
		ck_assert_ptr_nonnull(hs->h);
	}
	h = &hs->h[hs->n++];
	ck_assert_uint_lt(trie_filter_str(filter, h->filter,
	    sizeof(h->filter)), sizeof(h->filter));
	h->sub = (size_t)((char *)sub - subs);
	h->opts = opts;
}

static int
hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	int c = strcmp(x->filter, y->filter);

	if (c != 0)
		return c;
	if (x->sub != y->sub)
		return x->sub < y->sub ? -1 : 1;
	return (int)x->opts - (int)y->opts;
}

static void
count_cb(void *sub, uint8_t opts, const struct trie_node *filter, void *arg)
{
	(*(size_t *)arg)++;
}

static size_t
nmatch(const char *topic)
{
	size_t n = 0;

	ck_assert_uint_eq(trie_match(t, sv(topic), count_cb, &n), n);
	return n;
}

static size_t
nnodes(void)
{
	struct trie_stats st;

	trie_stats(t, &st);
	return st.ts_nodes;
}

static size_t
nbytes(void)
{
	struct trie_stats st;

	trie_stats(t, &st);
	return st.ts_bytes;
}

START_TEST(trie__free_null_and_empty)
{
	size_t f = 1, e = 1;

	trie_free(NULL);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 0);
	ck_assert_uint_eq(e, 0);
	trie_count(t, NULL, NULL);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nmatch("a"), 0);
	ck_assert_int_eq(trie_has_match(t, sv("a")), 0);
	ck_assert_int_eq(trie_remove(t, sv("a"), SUB(0)), CAIRN_ERR_NOENT);
	ck_assert_uint_eq(trie_match(t, sv("a"), NULL, NULL), 0);
}
END_TEST

struct match_row {
	const char	*filter;
	const char	*topic;
	int		 match;
};

/* MQTT 3.1.1 section 4.7, in the spec's order, then empty levels. */
static const struct match_row match_rows[] = {
	/* 4.7.1.2: multi-level wildcard. */
	{ "sport/tennis/player1/#", "sport/tennis/player1", 1 },
	{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", 1 },
	{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon",
	    1 },
	{ "sport/tennis/player1/#", "sport/tennis", 0 },
	{ "sport/tennis/player1/#", "sport/tennis/player2", 0 },
	{ "sport/#", "sport", 1 },
	{ "sport/#", "sports", 0 },
	{ "#", "sport", 1 },
	{ "#", "sport/tennis/player1", 1 },
	{ "#", "/", 1 },
	{ "#", "a//b", 1 },
	/* 4.7.1.3: single-level wildcard. */
	{ "sport/tennis/+", "sport/tennis/player1", 1 },
	{ "sport/tennis/+", "sport/tennis/player2", 1 },
	{ "sport/tennis/+", "sport/tennis/player1/ranking", 0 },
	{ "sport/tennis/+", "sport/tennis", 0 },
	{ "sport/+", "sport", 0 },
	{ "sport/+", "sport/", 1 },
	{ "+/+", "/finance", 1 },
	{ "/+", "/finance", 1 },
	{ "+", "/finance", 0 },
	{ "+/tennis/#", "sport/tennis/player1", 1 },
	{ "+/tennis/#", "sport/tennis", 1 },
	{ "+/tennis/#", "sport/golf", 0 },
	{ "sport/+/player1", "sport/tennis/player1", 1 },
	{ "sport/+/player1", "sport/tennis/player2", 0 },
	{ "+/#", "a", 1 },
	{ "+/+/#", "a", 0 },
	{ "+", "a", 1 },
	{ "+", "", 1 },
	/* 4.7.2: topics beginning with '$'. */
	{ "#", "$SYS/broker/clients", 0 },
	{ "#", "$SYS", 0 },
	{ "+/monitor/Clients", "$SYS/monitor/Clients", 0 },
	{ "+/#", "$SYS/x", 0 },
	{ "+", "$SYS", 0 },
	{ "$SYS/#", "$SYS/broker/clients", 1 },
	{ "$SYS/#", "$SYS", 1 },
	{ "$SYS/#", "$SYS2/x", 0 },
	{ "$SYS/monitor/+", "$SYS/monitor/Clients", 1 },
	{ "$SYS/+", "$SYS/x", 1 },
	{ "a/$SYS/#", "a/$SYS/x", 1 },
	{ "+/$x", "a/$x", 1 },
	{ "#", "a/$SYS", 1 },
	{ "a/+", "a/$x", 1 },
	/* 4.7.3: case-sensitive, no trimming, '/' alone is two levels. */
	{ "ACCOUNTS", "Accounts", 0 },
	{ "Accounts payable", "Accounts payable", 1 },
	{ "Accounts", "Accounts payable", 0 },
	{ "/", "/", 1 },
	{ "/", "", 0 },
	{ "+/+", "/", 1 },
	{ "+", "/", 0 },
	/* Empty levels. */
	{ "a//b", "a//b", 1 },
	{ "a//b", "a/b", 0 },
	{ "a/b", "a//b", 0 },
	{ "a/+/b", "a//b", 1 },
	{ "a/#", "a//b", 1 },
	{ "+/+/+", "a//b", 1 },
	{ "/a", "/a", 1 },
	{ "/a", "a", 0 },
	{ "+/a", "/a", 1 },
	{ "/#", "/a/b", 1 },
	{ "/#", "a/b", 0 },
	{ "a/", "a/", 1 },
	{ "a/", "a", 0 },
	{ "a/#", "a/", 1 },
	{ "a/+", "a/", 1 },
	{ "//", "//", 1 },
	{ "+//+", "//", 1 },
	{ "#", "//", 1 },
	/* Exact levels. */
	{ "a/b", "a/b/c", 0 },
	{ "a/b/c", "a/b", 0 },
	{ "a/b", "a/b", 1 },
	{ "a/b", "a/bc", 0 },
};
#define NMATCH_ROWS	(int)(sizeof(match_rows) / sizeof(match_rows[0]))

/* One filter, one topic: the trie, the reference and the table agree. */
START_TEST(trie__spec_examples)
{
	const struct match_row *r = &match_rows[_i];
	struct hits hs = { NULL, 0, 0 };
	int was_new = -1;
	size_t n;

	ck_assert_int_eq(trie_add(t, sv(r->filter), SUB(1), 2, &was_new), 0);
	ck_assert_int_eq(was_new, 1);
	n = trie_match(t, sv(r->topic), on_hit, &hs);
	ck_assert_msg(n == (size_t)r->match,
	    "row %d: \"%s\" vs \"%s\": %zu calls, want %d", _i, r->filter,
	    r->topic, n, r->match);
	ck_assert_msg(trie_has_match(t, sv(r->topic)) == r->match,
	    "row %d: has_match", _i);
	ck_assert_msg(mqtt_topic_match(sv(r->filter), sv(r->topic)) ==
	    r->match, "row %d: mqtt_topic_match disagrees", _i);
	if (n == 1) {
		ck_assert_str_eq(hs.h[0].filter, r->filter);
		ck_assert_uint_eq(hs.h[0].sub, 1);
		ck_assert_uint_eq(hs.h[0].opts, 2);
	}
	free(hs.h);
}
END_TEST

/* '$' topics see only filters that spell the '$' level out. */
START_TEST(trie__dollar_topics)
{
	static const char *filters[] = {
		"#", "+", "+/#", "+/x", "$SYS/#", "$SYS/+", "$SYS/x", "$SYS",
	};
	size_t i;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		ck_assert_int_eq(trie_add(t, sv(filters[i]), SUB(i), 0, NULL),
		    0);
	ck_assert_uint_eq(nmatch("$SYS/x"), 3);	/* $SYS/# $SYS/+ $SYS/x */
	ck_assert_uint_eq(nmatch("$SYS"), 2);	/* $SYS/# $SYS */
	ck_assert_uint_eq(nmatch("$SYS/x/y"), 1);
	ck_assert_uint_eq(nmatch("SYS/x"), 3);	/* # +/# +/x, not + */
	ck_assert_uint_eq(nmatch("$other"), 0);
	ck_assert_int_eq(trie_has_match(t, sv("$other")), 0);
	ck_assert_int_eq(trie_has_match(t, sv("$SYS/x/y")), 1);
}
END_TEST

/* One subscriber on overlapping filters gets one call per filter. */
START_TEST(trie__overlapping)
{
	static const char *filters[] = { "a/+", "a/#", "a/b", "#", "+/b" };
	struct hits hs = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(trie_add(t, sv(filters[i]), SUB(7), (uint8_t)i,
		    NULL), 0);
	ck_assert_int_eq(trie_add(t, sv("a/b"), SUB(8), 9, NULL), 0);
	ck_assert_uint_eq(trie_match(t, sv("a/b"), on_hit, &hs), 6);
	qsort(hs.h, hs.n, sizeof(*hs.h), hit_cmp);
	ck_assert_str_eq(hs.h[0].filter, "#");
	ck_assert_uint_eq(hs.h[0].opts, 3);
	ck_assert_str_eq(hs.h[1].filter, "+/b");
	ck_assert_str_eq(hs.h[2].filter, "a/#");
	ck_assert_str_eq(hs.h[3].filter, "a/+");
	ck_assert_str_eq(hs.h[4].filter, "a/b");
	ck_assert_uint_eq(hs.h[4].sub, 7);
	ck_assert_uint_eq(hs.h[4].opts, 2);
	ck_assert_str_eq(hs.h[5].filter, "a/b");
	ck_assert_uint_eq(hs.h[5].sub, 8);
	ck_assert_uint_eq(hs.h[5].opts, 9);
	ck_assert_uint_eq(nmatch("a"), 2);		/* a/# and # */
	ck_assert_uint_eq(nmatch("a/c"), 3);		/* a/+ a/# # */
	free(hs.h);
}
END_TEST

/* Adding an existing pair replaces its options and nothing else. */
START_TEST(trie__add_replaces_opts)
{
	size_t f, e, bytes;
	uint8_t o = 0;
	int was_new = -1;

	ck_assert_int_eq(trie_add(t, sv("a/+/c"), SUB(1), 0, &was_new), 0);
	ck_assert_int_eq(was_new, 1);
	bytes = nbytes();
	ck_assert_int_eq(trie_add(t, sv("a/+/c"), SUB(1), 2, &was_new), 0);
	ck_assert_int_eq(was_new, 0);
	ck_assert_uint_eq(nbytes(), bytes);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 1);
	ck_assert_uint_eq(e, 1);
	ck_assert_int_eq(trie_get(t, sv("a/+/c"), SUB(1), &o), 0);
	ck_assert_uint_eq(o, 2);
	ck_assert_int_eq(trie_get(t, sv("a/+/c"), SUB(1), NULL), 0);
	ck_assert_int_eq(trie_get(t, sv("a/+/c"), SUB(2), &o), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_get(t, sv("a/+"), SUB(1), &o), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_get(t, sv("a/x/c"), SUB(1), &o), CAIRN_ERR_NOENT);
	/* A second subscriber is a second entry on the same filter. */
	ck_assert_int_eq(trie_add(t, sv("a/+/c"), SUB(2), 1, &was_new), 0);
	ck_assert_int_eq(was_new, 1);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 1);
	ck_assert_uint_eq(e, 2);
}
END_TEST

START_TEST(trie__remove_absent)
{
	ck_assert_int_eq(trie_add(t, sv("a/b"), SUB(1), 0, NULL), 0);
	ck_assert_int_eq(trie_remove(t, sv("a/b"), SUB(2)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a"), SUB(1)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a/b/c"), SUB(1)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a/+"), SUB(1)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a/#"), SUB(1)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("#/b"), SUB(1)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a/b"), NULL), CAIRN_ERR_NOENT);
	ck_assert_int_eq(trie_remove(t, sv("a/b"), SUB(1)), 0);
	ck_assert_int_eq(trie_remove(t, sv("a/b"), SUB(1)), CAIRN_ERR_NOENT);
}
END_TEST

START_TEST(trie__invalid)
{
	size_t bytes = nbytes();

	ck_assert_int_eq(trie_add(t, sv("a"), NULL, 0, NULL), CAIRN_ERR_INVAL);
	ck_assert_int_eq(trie_add(t, sv("a/#/b"), SUB(1), 0, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(trie_add(t, sv("#/"), SUB(1), 0, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
}
END_TEST

/* Removing everything frees every node and every table. */
START_TEST(trie__prune_returns_memory)
{
	static const char *filters[] = {
		"a/b/c/d", "a/b", "a/+/c", "a/#", "#", "+", "/", "//",
		"a//b", "x/y/z/+/#", "$SYS/#", "a/b/c/e", "a/b/c/f",
	};
	size_t i, j, n = sizeof(filters) / sizeof(filters[0]), bytes, f, e;
	char name[32];

	bytes = nbytes();
	for (i = 0; i < n; i++)
		for (j = 0; j < 3; j++)
			ck_assert_int_eq(trie_add(t, sv(filters[i]), SUB(j), 0,
			    NULL), 0);
	/* Many siblings, so a child table grows and then shrinks. */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "a/b/k%zu", i);
		ck_assert_int_eq(trie_add(t, sv(name), SUB(0), 0, NULL), 0);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "a/b/k%zu", i);
		ck_assert_int_eq(trie_remove(t, sv(name), SUB(0)), 0);
	}
	/* Removing "a/b/c/d" keeps "a/b" and the siblings of "d". */
	for (j = 0; j < 3; j++)
		ck_assert_int_eq(trie_remove(t, sv("a/b/c/d"), SUB(j)), 0);
	ck_assert_uint_eq(nmatch("a/b/c/d"), 6);	/* a/# and #, 3 each */
	ck_assert_uint_eq(nmatch("a/b/c/e"), 9);
	ck_assert_uint_eq(nmatch("a/b"), 9);	/* a/b a/# # */
	for (i = 1; i < n; i++)
		for (j = 0; j < 3; j++)
			ck_assert_int_eq(trie_remove(t, sv(filters[i]), SUB(j)),
			    0);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 0);
	ck_assert_uint_eq(e, 0);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
	ck_assert_uint_eq(nmatch("a/b"), 0);
}
END_TEST

/* 100,000 subscribers on one filter: each added and removed in O(1). */
START_TEST(trie__many_subscribers)
{
	const size_t n = 100000;
	struct hits hs = { NULL, 0, 0 };
	size_t i, f, e, bytes = nbytes();
	uint8_t o;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(trie_add(t, sv("s/+/t"), SUB(i), (uint8_t)(i & 3),
		    NULL), 0);
	ck_assert_int_eq(trie_add(t, sv("s/x/t"), SUB(0), 1, NULL), 0);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 2);
	ck_assert_uint_eq(e, n + 1);
	ck_assert_uint_eq(trie_match(t, sv("s/x/t"), on_hit, &hs), n + 1);
	qsort(hs.h, hs.n, sizeof(*hs.h), hit_cmp);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(hs.h[i].filter, "s/+/t");
		ck_assert_uint_eq(hs.h[i].sub, i);
		ck_assert_uint_eq(hs.h[i].opts, i & 3);
	}
	free(hs.h);
	/* Remove the even ones, then check both halves. */
	for (i = 0; i < n; i += 2)
		ck_assert_int_eq(trie_remove(t, sv("s/+/t"), SUB(i)), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(trie_get(t, sv("s/+/t"), SUB(i), &o),
		    i % 2 ? 0 : CAIRN_ERR_NOENT);
	ck_assert_uint_eq(nmatch("s/y/t"), n / 2);
	for (i = 1; i < n; i += 2)
		ck_assert_int_eq(trie_remove(t, sv("s/+/t"), SUB(i)), 0);
	ck_assert_int_eq(trie_remove(t, sv("s/x/t"), SUB(0)), 0);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
}
END_TEST

/* 100,000 filters: a match still finds exactly the ones that match. */
START_TEST(trie__many_filters)
{
	const size_t n = 100000;
	size_t i, f, e, bytes = nbytes();
	char name[48];

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dev/%zu/%s", i,
		    i % 3 == 0 ? "+" : i % 3 == 1 ? "#" : "temp");
		ck_assert_int_eq(trie_add(t, sv(name), SUB(i), 0, NULL), 0);
	}
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, n);
	ck_assert_uint_eq(e, n);
	ck_assert_uint_eq(nmatch("dev/3/temp"), 1);
	ck_assert_uint_eq(nmatch("dev/4/temp"), 1);
	ck_assert_uint_eq(nmatch("dev/5/temp"), 1);
	ck_assert_uint_eq(nmatch("dev/4"), 1);
	ck_assert_uint_eq(nmatch("dev/3"), 0);
	ck_assert_uint_eq(nmatch("dev/100000/temp"), 0);
	ck_assert_int_eq(trie_has_match(t, sv("dev/99999/x")), 1);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dev/%zu/%s", i,
		    i % 3 == 0 ? "+" : i % 3 == 1 ? "#" : "temp");
		ck_assert_int_eq(trie_remove(t, sv(name), SUB(i)), 0);
	}
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
}
END_TEST

static int
on_walk_len(struct bytes_view filter, void *sub, uint8_t opts, void *arg)
{
	ck_assert_uint_eq(filter.len, *(size_t *)arg);
	return 7;
}

/* Depth needs no recursion in add, remove, match, walk or free. */
START_TEST(trie__deep_filter)
{
	const size_t levels = 100000;
	char *f = malloc(levels * 2);
	size_t i, len = levels * 2 - 1, bytes = nbytes();

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < levels; i++) {
		f[2 * i] = 'a';
		f[2 * i + 1] = '/';
	}
	f[levels * 2 - 1] = '\0';
	ck_assert_int_eq(trie_add(t, sv(f), SUB(1), 0, NULL), 0);
	ck_assert_uint_eq(nnodes(), levels + 1);
	ck_assert_uint_eq(nmatch(f), 1);
	ck_assert_int_eq(trie_walk(t, on_walk_len, &len), 7);
	f[levels * 2 - 2] = '#';
	ck_assert_int_eq(trie_add(t, sv(f), SUB(2), 0, NULL), 0);
	f[levels * 2 - 2] = 'a';
	ck_assert_uint_eq(nmatch(f), 2);
	ck_assert_int_eq(trie_remove(t, sv(f), SUB(1)), 0);
	ck_assert_uint_eq(nnodes(), levels + 1);
	f[levels * 2 - 2] = '#';
	ck_assert_int_eq(trie_remove(t, sv(f), SUB(2)), 0);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
	/* Left for trie_free() in teardown, deep. */
	ck_assert_int_eq(trie_add(t, sv(f), SUB(2), 0, NULL), 0);
	free(f);
}
END_TEST

/* Collects trie_walk() output as sorted strings. */
struct walk_out {
	char	**s;
	size_t	  n;
	size_t	  cap;
	size_t	  stop_at;	/* 0: never */
};

static int
on_walk(struct bytes_view filter, void *sub, uint8_t opts, void *arg)
{
	struct walk_out *w = arg;
	char *s;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->s = realloc(w->s, w->cap * sizeof(*w->s));
		ck_assert_ptr_nonnull(w->s);
	}
	s = malloc(filter.len + 32);
	ck_assert_ptr_nonnull(s);
	if (filter.len > 0)
		memcpy(s, filter.p, filter.len);
	snprintf(s + filter.len, 32, "|%zu|%u", (size_t)((char *)sub - subs),
	    opts);
	w->s[w->n++] = s;
	if (w->stop_at != 0 && w->n == w->stop_at)
		return 42;
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_out_free(struct walk_out *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->s[i]);
	free(w->s);
}

/* The walk rebuilds each (filter, subscriber, opts) exactly once. */
START_TEST(trie__walk_rebuilds_filters)
{
	static const char *filters[] = {
		"a", "a/b", "a/+", "a/#", "#", "+", "/", "//", "/a", "a/",
		"a//b", "+/+/#", "$SYS/#", "x/y/z", "x/y/z/w", "",
	};
	struct walk_out w = { NULL, 0, 0, 0 };
	char **want = NULL, buf[64];
	size_t i, j, n = sizeof(filters) / sizeof(filters[0]), nwant = 0;

	ck_assert_int_eq(trie_walk(t, on_walk, &w), 0);
	ck_assert_uint_eq(w.n, 0);
	want = calloc(n * 3 + 300, sizeof(*want));
	ck_assert_ptr_nonnull(want);
	for (i = 0; i < n; i++)
		for (j = 0; j < 1 + i % 3; j++) {
			ck_assert_int_eq(trie_add(t, sv(filters[i]), SUB(j),
			    (uint8_t)i, NULL), 0);
			snprintf(buf, sizeof(buf), "%s|%zu|%zu", filters[i], j,
			    i);
			want[nwant++] = strdup(buf);
		}
	/* A filter with a set of subscribers, not an array. */
	for (j = 0; j < 300; j++) {
		ck_assert_int_eq(trie_add(t, sv("big/+"), SUB(j), 1, NULL), 0);
		snprintf(buf, sizeof(buf), "big/+|%zu|1", j);
		want[nwant++] = strdup(buf);
	}
	ck_assert_int_eq(trie_walk(t, on_walk, &w), 0);
	ck_assert_uint_eq(w.n, nwant);
	qsort(want, nwant, sizeof(*want), str_cmp);
	qsort(w.s, w.n, sizeof(*w.s), str_cmp);
	for (i = 0; i < nwant; i++)
		ck_assert_str_eq(w.s[i], want[i]);
	walk_out_free(&w);
	/* A nonzero return stops the walk and comes back. */
	memset(&w, 0, sizeof(w));
	w.stop_at = 5;
	ck_assert_int_eq(trie_walk(t, on_walk, &w), 42);
	ck_assert_uint_eq(w.n, 5);
	walk_out_free(&w);
	for (i = 0; i < nwant; i++)
		free(want[i]);
	free(want);
}
END_TEST

static void
capture_node(void *sub, uint8_t opts, const struct trie_node *filter,
    void *arg)
{
	*(const struct trie_node **)arg = filter;
}

START_TEST(trie__filter_str_truncates)
{
	const struct trie_node *n = NULL;
	char buf[16];

	ck_assert_int_eq(trie_add(t, sv("ab/+/#"), SUB(1), 0, NULL), 0);
	ck_assert_uint_eq(trie_match(t, sv("ab/c/d"), capture_node, &n), 1);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(trie_filter_str(n, NULL, 0), 6);
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(trie_filter_str(n, buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "ab/+/#");
	ck_assert_uint_eq(trie_filter_str(n, buf, 1), 6);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(trie_filter_str(n, buf, 3), 6);
	ck_assert_str_eq(buf, "ab");
	ck_assert_uint_eq(trie_filter_str(n, buf, 4), 6);
	ck_assert_str_eq(buf, "ab/");
	ck_assert_uint_eq(trie_filter_str(n, buf, 6), 6);
	ck_assert_str_eq(buf, "ab/+/");
	ck_assert_uint_eq(trie_filter_str(n, buf, 7), 6);
	ck_assert_str_eq(buf, "ab/+/#");
}
END_TEST

START_TEST(trie__limits)
{
	size_t nodes, bytes, f, e;
	int was_new;

	trie_set_limits(t, 2, 3);
	ck_assert_int_eq(trie_add(t, sv("f/1"), SUB(1), 0, NULL), 0);
	ck_assert_int_eq(trie_add(t, sv("f/1"), SUB(2), 0, NULL), 0);
	ck_assert_int_eq(trie_add(t, sv("f/2"), SUB(1), 0, NULL), 0);
	nodes = nnodes();
	bytes = nbytes();
	/* A third filter, then a fourth entry, are refused untouched. */
	ck_assert_int_eq(trie_add(t, sv("g/3/x"), SUB(1), 0, NULL),
	    CAIRN_ERR_LIMIT);
	ck_assert_int_eq(trie_add(t, sv("f/2"), SUB(2), 0, NULL),
	    CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(nnodes(), nodes);
	ck_assert_uint_eq(nbytes(), bytes);
	/* Replacing an existing pair is not a new entry. */
	ck_assert_int_eq(trie_add(t, sv("f/1"), SUB(1), 2, &was_new), 0);
	ck_assert_int_eq(was_new, 0);
	/* Room again once something goes. */
	ck_assert_int_eq(trie_remove(t, sv("f/1"), SUB(2)), 0);
	ck_assert_int_eq(trie_add(t, sv("f/2"), SUB(2), 0, NULL), 0);
	ck_assert_int_eq(trie_add(t, sv("g/3"), SUB(2), 0, NULL),
	    CAIRN_ERR_LIMIT);
	/* Lowering below the count keeps what is there. */
	trie_set_limits(t, 1, 1);
	trie_count(t, &f, &e);
	ck_assert_uint_eq(f, 2);
	ck_assert_uint_eq(e, 3);
	ck_assert_int_eq(trie_add(t, sv("f/1"), SUB(3), 0, NULL),
	    CAIRN_ERR_LIMIT);
	trie_set_limits(t, SIZE_MAX, SIZE_MAX);
	ck_assert_int_eq(trie_add(t, sv("f/1"), SUB(3), 0, NULL), 0);
}
END_TEST

START_TEST(trie__set_key)
{
	static const uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

	ck_assert_int_eq(trie_set_key(t, key), 0);
	ck_assert_int_eq(trie_add(t, sv("a/b"), SUB(1), 0, NULL), 0);
	ck_assert_int_eq(trie_set_key(t, key), CAIRN_ERR_EXIST);
	ck_assert_uint_eq(nmatch("a/b"), 1);
	ck_assert_int_eq(trie_remove(t, sv("a/b"), SUB(1)), 0);
	ck_assert_int_eq(trie_set_key(t, key), 0);
}
END_TEST

/* A state of the trie to compare before and after a failed call. */
struct snap {
	struct trie_stats	st;
	size_t			m[4];
};

static const char *snap_topics[] = { "a/b/c", "a/x", "k/k1/z", "q" };

static void
take_snap(struct snap *s)
{
	size_t i;

	trie_stats(t, &s->st);
	for (i = 0; i < 4; i++)
		s->m[i] = nmatch(snap_topics[i]);
}

static void
check_snap(const struct snap *s, int k)
{
	struct snap now;

	take_snap(&now);
	ck_assert_msg(memcmp(s, &now, sizeof(now)) == 0,
	    "state changed after failure at allocation %d: nodes %zu/%zu "
	    "bytes %zu/%zu entries %zu/%zu", k, s->st.ts_nodes,
	    now.st.ts_nodes, s->st.ts_bytes, now.st.ts_bytes,
	    s->st.ts_entries, now.st.ts_entries);
}

/*
 * Every allocation of an add, failed in turn: each failure returns NOMEM
 * and leaves the trie exactly as it was; then the add succeeds.
 */
static void
add_under_failures(const char *filter, void *sub)
{
	struct snap before;
	long k;
	int rc;

	take_snap(&before);
	for (k = 0; ; k++) {
		fail_after = k;
		rc = trie_add(t, sv(filter), sub, 1, NULL);
		fail_after = -1;
		if (rc == 0)
			break;
		ck_assert_int_eq(rc, CAIRN_ERR_NOMEM);
		check_snap(&before, (int)k);
	}
	ck_assert_int_eq(trie_get(t, sv(filter), sub, NULL), 0);
}

START_TEST(trie__nomem_leaves_no_trace)
{
	struct trie *t2;
	char name[32];
	size_t i;
	int rc;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(trie_add(t, sv("a/b/c"), SUB(i), 0, NULL), 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "k/k%zu", i);
		ck_assert_int_eq(trie_add(t, sv(name), SUB(0), 0, NULL), 0);
	}
	/* New levels under an existing node, down to a new '#'. */
	add_under_failures("a/b/x/y/+/#", SUB(1));
	/* The ninth subscriber turns the array into a set. */
	add_under_failures("a/b/c", SUB(8));
	/* A fourth sibling grows the child table. */
	add_under_failures("k/k3/z", SUB(0));
	/* A brand-new first level. */
	add_under_failures("q", SUB(0));
	add_under_failures("+/+", SUB(0));
	/* The walk's buffer may fail too; it says so. */
	fail_after = 0;
	rc = trie_walk(t, on_walk, NULL);
	fail_after = -1;
	ck_assert_int_eq(rc, CAIRN_ERR_NOMEM);
	/* trie_new() fails cleanly at each of its allocations. */
	for (i = 0; i < 2; i++) {
		fail_after = (long)i;
		t2 = trie_new();
		fail_after = -1;
		ck_assert_ptr_null(t2);
	}
}
END_TEST

/*
 * Random filters and topics over a small alphabet (so that they collide
 * often), compared pair by pair with mqtt_topic_match().  Fixed seed.
 */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static const char *flevels[] = { "a", "b", "", "$s", "+", "+", "#", "ab" };
static const char *tlevels[] = { "a", "b", "", "$s", "ab", "c" };

static void
rand_path(char *buf, size_t size, const char **pool, size_t npool,
    int filter)
{
	size_t n = 1 + rnd(5), i, len = 0;
	const char *lv;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		do
			lv = pool[rnd((uint32_t)npool)];
		while (filter && i + 1 < n && strcmp(lv, "#") == 0);
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i ? "/" : "", lv);
	}
}

struct pair {
	char	 filter[64];
	size_t	 sub;
	uint8_t	 opts;
	int	 live;
};

static void
check_topic(const struct pair *p, size_t np, const char *topic)
{
	struct hits got = { NULL, 0, 0 }, want = { NULL, 0, 0 };
	size_t i;

	want.h = calloc(np + 1, sizeof(*want.h));
	ck_assert_ptr_nonnull(want.h);
	for (i = 0; i < np; i++) {
		if (!p[i].live ||
		    !mqtt_topic_match(sv(p[i].filter), sv(topic)))
			continue;
		strcpy(want.h[want.n].filter, p[i].filter);
		want.h[want.n].sub = p[i].sub;
		want.h[want.n].opts = p[i].opts;
		want.n++;
	}
	ck_assert_uint_eq(trie_match(t, sv(topic), on_hit, &got), got.n);
	ck_assert_msg(got.n == want.n, "topic \"%s\": %zu matches, want %zu",
	    topic, got.n, want.n);
	ck_assert_int_eq(trie_has_match(t, sv(topic)), want.n > 0);
	qsort(got.h, got.n, sizeof(*got.h), hit_cmp);
	qsort(want.h, want.n, sizeof(*want.h), hit_cmp);
	for (i = 0; i < got.n; i++)
		ck_assert_msg(hit_cmp(&got.h[i], &want.h[i]) == 0,
		    "topic \"%s\": got %s/%zu, want %s/%zu", topic,
		    got.h[i].filter, got.h[i].sub, want.h[i].filter,
		    want.h[i].sub);
	free(got.h);
	free(want.h);
}

START_TEST(trie__random_vs_reference)
{
	const size_t np = 2000, ntopics = 2000;
	struct pair *p = calloc(np, sizeof(*p));
	char topic[64];
	size_t i, j, live = 0, filters, entries, bytes = nbytes();
	int was_new, seen;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < np; i++) {
		do
			rand_path(p[i].filter, sizeof(p[i].filter), flevels,
			    sizeof(flevels) / sizeof(flevels[0]), 1);
		while (!mqtt_topic_filter_valid(sv(p[i].filter)));
		p[i].sub = rnd(40);
		p[i].opts = (uint8_t)rnd(3);
		ck_assert_int_eq(trie_add(t, sv(p[i].filter), SUB(p[i].sub),
		    p[i].opts, &was_new), 0);
		/* A pair seen before is replaced: only the newest is live. */
		seen = 0;
		for (j = 0; j < i; j++)
			if (p[j].live && p[j].sub == p[i].sub &&
			    strcmp(p[j].filter, p[i].filter) == 0) {
				p[j].live = 0;
				live--;
				seen = 1;
			}
		ck_assert_int_eq(was_new, !seen);
		p[i].live = 1;
		live++;
	}
	trie_count(t, &filters, &entries);
	ck_assert_uint_eq(entries, live);
	for (i = 0; i < ntopics; i++) {
		do
			rand_path(topic, sizeof(topic), tlevels,
			    sizeof(tlevels) / sizeof(tlevels[0]), 0);
		while (!mqtt_topic_name_valid(sv(topic)));
		check_topic(p, np, topic);
	}
	/* Remove about half, then compare again. */
	for (i = 0; i < np; i++) {
		if (!p[i].live || rnd(2) == 0)
			continue;
		ck_assert_int_eq(trie_remove(t, sv(p[i].filter), SUB(p[i].sub)),
		    0);
		p[i].live = 0;
		live--;
	}
	trie_count(t, NULL, &entries);
	ck_assert_uint_eq(entries, live);
	for (i = 0; i < ntopics / 2; i++) {
		do
			rand_path(topic, sizeof(topic), tlevels,
			    sizeof(tlevels) / sizeof(tlevels[0]), 0);
		while (!mqtt_topic_name_valid(sv(topic)));
		check_topic(p, np, topic);
	}
	for (i = 0; i < np; i++)
		if (p[i].live)
			ck_assert_int_eq(trie_remove(t, sv(p[i].filter),
			    SUB(p[i].sub)), 0);
	ck_assert_uint_eq(nnodes(), 1);
	ck_assert_uint_eq(nbytes(), bytes);
	free(p);
}
END_TEST

static Suite *
trie_suite(void)
{
	Suite *s = suite_create("trie");
	TCase *tc;

	tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, trie__free_null_and_empty);
	tcase_add_loop_test(tc, trie__spec_examples, 0, NMATCH_ROWS);
	tcase_add_test(tc, trie__dollar_topics);
	tcase_add_test(tc, trie__overlapping);
	suite_add_tcase(s, tc);

	/* Generous timeouts: these run under ASan on busy machines. */
	tc = tcase_create("random");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, trie__random_vs_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("update");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, trie__add_replaces_opts);
	tcase_add_test(tc, trie__remove_absent);
	tcase_add_test(tc, trie__invalid);
	tcase_add_test(tc, trie__prune_returns_memory);
	tcase_add_test(tc, trie__many_subscribers);
	tcase_add_test(tc, trie__many_filters);
	tcase_add_test(tc, trie__deep_filter);
	tcase_add_test(tc, trie__limits);
	tcase_add_test(tc, trie__set_key);
	tcase_add_test(tc, trie__nomem_leaves_no_trace);
	suite_add_tcase(s, tc);

	tc = tcase_create("walk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, trie__walk_rebuilds_filters);
	tcase_add_test(tc, trie__filter_str_truncates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Forked children must not flush a copy of our buffered output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(trie_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
