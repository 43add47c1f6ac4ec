/*
 * Check units for broker/retain_index: the wildcard examples and the '$'
 * rule, put/replace/delete and pruning (the byte count returns to that
 * of an empty index), a node with 100,000 children (its hash table) and
 * a topic of 10,000 levels (no recursion), and, under fixed seeds, a
 * comparison with the reference matcher mqtt_topic_match() over random
 * topics and filters, and cursors walked a few nodes at a time while the
 * index changes between calls: no value twice, none that was not there
 * when the cursor was made, every one that was and stayed.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "broker/core/retain_index.h"
#include "common/bytes.h"
#include "common/err.h"

static struct retain_index *ix;
static size_t empty_bytes;

/* Values: addresses inside one array, a fresh one per put. */
#define NVALS	400000
static char vals[NVALS];
static size_t nextval;
#define VAL(i)	((void *)&vals[(i)])
#define VALNO(p) ((size_t)((char *)(p) - vals))

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static void
setup(void)
{
	ix = retain_index_new(42);
	ck_assert_ptr_nonnull(ix);
	empty_bytes = retain_index_bytes(ix);
	nextval = 1;
}

static void
teardown(void)
{
	retain_index_free(ix, NULL);
	ix = NULL;
}

static void *
put(const char *topic)
{
	void *v = VAL(nextval++), *old = (void *)1;

	ck_assert_uint_lt(nextval, NVALS);
	ck_assert_int_eq(retain_index_put(ix, sv(topic), v, &old), 0);
	return v;
}

/* How many values a whole walk of filter returns. */
static size_t
walk_count(const char *filter)
{
	struct retain_index_cursor *c = retain_index_cursor_new(ix, sv(filter));
	size_t n = 0, budget = SIZE_MAX;

	ck_assert_ptr_nonnull(c);
	while (retain_index_cursor_next(c, &budget) != NULL)
		n++;
	ck_assert_int_eq(retain_index_cursor_done(c), 1);
	ck_assert_ptr_null(retain_index_cursor_next(c, &budget));
	retain_index_cursor_free(c);
	return n;
}

START_TEST(retain_index__examples)
{
	static const char *topics[] = {
		"sport/tennis/player1", "sport/tennis/player1/ranking",
		"sport/tennis/player1/score/wimbledon", "sport", "sport/",
		"/finance", "$SYS/monitor/Clients", "$SYS", "a//b", "",
	};
	size_t i;

	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		(void)put(topics[i]);
	ck_assert_uint_eq(retain_index_count(ix), 10);
	ck_assert_uint_eq(walk_count("sport/tennis/player1/#"), 3);
	ck_assert_uint_eq(walk_count("sport/#"), 5);
	ck_assert_uint_eq(walk_count("sport/tennis/+"), 1);
	ck_assert_uint_eq(walk_count("sport/+"), 1);
	ck_assert_uint_eq(walk_count("+/+"), 2);
	ck_assert_uint_eq(walk_count("/+"), 1);
	ck_assert_uint_eq(walk_count("+"), 2);
	ck_assert_uint_eq(walk_count("a/+/b"), 1);
	ck_assert_uint_eq(walk_count("sport"), 1);
	/* '#' and '+' first do not reach '$' topics [MQTT-4.7.2-1]. */
	ck_assert_uint_eq(walk_count("#"), 8);
	ck_assert_uint_eq(walk_count("+/monitor/Clients"), 0);
	ck_assert_uint_eq(walk_count("$SYS/#"), 2);
	ck_assert_uint_eq(walk_count("$SYS/monitor/+"), 1);
	/* A '#' that is not last is no wildcard: it matches nothing. */
	ck_assert_uint_eq(walk_count("#/tennis"), 0);
	ck_assert_ptr_nonnull(retain_index_get(ix, sv("a//b")));
	ck_assert_ptr_null(retain_index_get(ix, sv("a/b")));
	ck_assert_ptr_null(retain_index_get(ix, sv("sport/tennis")));
}
END_TEST

START_TEST(retain_index__put_replace_delete)
{
	void *a, *b, *old = NULL;

	retain_index_free(NULL, NULL);
	ck_assert_int_eq(retain_index_put(ix, sv("x"), NULL, NULL),
	    CAIRN_ERR_INVAL);
	a = put("a/b/c");
	ck_assert_ptr_eq(retain_index_get(ix, sv("a/b/c")), a);
	b = VAL(nextval++);
	ck_assert_int_eq(retain_index_put(ix, sv("a/b/c"), b, &old), 0);
	ck_assert_ptr_eq(old, a);
	ck_assert_uint_eq(retain_index_count(ix), 1);
	(void)put("a/b");
	ck_assert_ptr_eq(retain_index_del(ix, sv("a/b/c")), b);
	ck_assert_ptr_null(retain_index_del(ix, sv("a/b/c")));
	ck_assert_ptr_null(retain_index_del(ix, sv("a")));
	ck_assert_uint_eq(retain_index_count(ix), 1);
	ck_assert_ptr_nonnull(retain_index_del(ix, sv("a/b")));
	ck_assert_uint_eq(retain_index_count(ix), 0);
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
}
END_TEST

START_TEST(retain_index__many_children)
{
	char t[32];
	size_t i, budget;
	struct retain_index_cursor *c;

	for (i = 0; i < 100000; i++) {
		snprintf(t, sizeof(t), "dev/%zu/state", i);
		(void)put(t);
	}
	ck_assert_uint_eq(walk_count("dev/+/state"), 100000);
	ck_assert_uint_eq(walk_count("dev/77777/#"), 1);
	ck_assert_ptr_nonnull(retain_index_get(ix, sv("dev/99999/state")));
	/* A budget of 1 node per call still ends, and returns them all. */
	c = retain_index_cursor_new(ix, sv("dev/+/state"));
	ck_assert_ptr_nonnull(c);
	for (i = 0; !retain_index_cursor_done(c); ) {
		budget = 1;
		if (retain_index_cursor_next(c, &budget) != NULL)
			i++;
	}
	retain_index_cursor_free(c);
	ck_assert_uint_eq(i, 100000);
	for (i = 0; i < 100000; i++) {
		snprintf(t, sizeof(t), "dev/%zu/state", i);
		ck_assert_ptr_nonnull(retain_index_del(ix, sv(t)));
	}
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
}
END_TEST

START_TEST(retain_index__deep_topic)
{
	size_t n = 10000, i;
	char *t = malloc(2 * n);

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < n; i++) {
		t[2 * i] = 'x';
		t[2 * i + 1] = '/';
	}
	t[2 * n - 1] = '\0';
	(void)put(t);
	ck_assert_uint_eq(walk_count("#"), 1);
	ck_assert_uint_eq(walk_count("x/#"), 1);
	/* Freed by teardown without recursion. */
	free(t);
}
END_TEST

/* A cursor parked on a node keeps it until it moves on. */
START_TEST(retain_index__cursor_pins)
{
	struct retain_index_cursor *c;
	size_t budget = SIZE_MAX;
	void *v;

	(void)put("p/1");
	(void)put("p/2/deep");
	c = retain_index_cursor_new(ix, sv("p/#"));
	ck_assert_ptr_nonnull(c);
	v = retain_index_cursor_next(c, &budget);
	ck_assert_ptr_nonnull(v);
	/* Delete everything while the cursor stands on one of them. */
	ck_assert_ptr_nonnull(retain_index_del(ix, sv("p/1")));
	ck_assert_ptr_nonnull(retain_index_del(ix, sv("p/2/deep")));
	ck_assert_uint_eq(retain_index_count(ix), 0);
	ck_assert_uint_gt(retain_index_bytes(ix), empty_bytes);
	/* Deleted before the walk reached it: not returned. */
	ck_assert_ptr_null(retain_index_cursor_next(c, &budget));
	ck_assert_int_eq(retain_index_cursor_done(c), 1);
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
	retain_index_cursor_free(c);
	/* A cursor freed mid-walk gives its node back too. */
	(void)put("q/1");
	(void)put("q/2");
	c = retain_index_cursor_new(ix, sv("q/+"));
	budget = SIZE_MAX;
	ck_assert_ptr_nonnull(retain_index_cursor_next(c, &budget));
	ck_assert_ptr_nonnull(retain_index_del(ix, sv("q/1")));
	ck_assert_ptr_nonnull(retain_index_del(ix, sv("q/2")));
	retain_index_cursor_free(c);
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
	/* A put after the cursor is made is skipped, new or replacing. */
	(void)put("r/old");
	(void)put("r/kept");
	c = retain_index_cursor_new(ix, sv("r/#"));
	(void)put("r/new");
	(void)put("r/old");
	budget = SIZE_MAX;
	v = retain_index_cursor_next(c, &budget);
	ck_assert_ptr_eq(v, retain_index_get(ix, sv("r/kept")));
	ck_assert_ptr_null(retain_index_cursor_next(c, &budget));
	retain_index_cursor_free(c);
}
END_TEST

/*
 * Random topics and filters over a small alphabet, so that they collide
 * often.  Fixed seed.
 */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static const char *flevels[] = { "a", "b", "", "$s", "+", "+", "#", "ab",
	"$SYS" };
static const char *tlevels[] = { "a", "b", "", "$s", "ab", "c", "$SYS" };

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

#define NTOPICS	600

/* The model: each possible topic and its value (NULL: none). */
struct model {
	char	 topic[64];
	void	*val;
};

static void
rand_topic(char *buf)
{
	do
		rand_path(buf, 64, tlevels, sizeof(tlevels) /
		    sizeof(tlevels[0]), 0);
	while (!mqtt_topic_name_valid(sv(buf)));
}

static void
rand_filter(char *buf)
{
	do
		rand_path(buf, 64, flevels, sizeof(flevels) /
		    sizeof(flevels[0]), 1);
	while (!mqtt_topic_filter_valid(sv(buf)));
}

static int
ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

static void
check_filter(const struct model *m, size_t nm, const char *filter)
{
	struct retain_index_cursor *c;
	void **got, **want, *v;
	size_t ngot = 0, nwant = 0, i, budget = SIZE_MAX;

	got = calloc(nm + 1, sizeof(*got));
	want = calloc(nm + 1, sizeof(*want));
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(want);
	for (i = 0; i < nm; i++)
		if (m[i].val != NULL &&
		    mqtt_topic_match(sv(filter), sv(m[i].topic)))
			want[nwant++] = m[i].val;
	c = retain_index_cursor_new(ix, sv(filter));
	ck_assert_ptr_nonnull(c);
	while ((v = retain_index_cursor_next(c, &budget)) != NULL) {
		ck_assert_uint_le(ngot, nm);
		got[ngot++] = v;
	}
	retain_index_cursor_free(c);
	ck_assert_msg(ngot == nwant, "filter \"%s\": %zu values, want %zu",
	    filter, ngot, nwant);
	qsort(got, ngot, sizeof(*got), ptr_cmp);
	qsort(want, nwant, sizeof(*want), ptr_cmp);
	for (i = 0; i < ngot; i++)
		ck_assert_msg(got[i] == want[i], "filter \"%s\": value %zu "
		    "differs", filter, i);
	free(got);
	free(want);
}

/* Fills the model with distinct random topics; none has a value yet. */
static size_t
model_init(struct model *m, size_t n)
{
	size_t k = 0, i, tries;

	for (tries = 0; k < n && tries < 100 * n; tries++) {
		rand_topic(m[k].topic);
		for (i = 0; i < k; i++)
			if (strcmp(m[i].topic, m[k].topic) == 0)
				break;
		if (i == k)
			m[k++].val = NULL;
	}
	return k;
}

static void
model_put(struct model *m)
{
	void *old = (void *)1;
	void *v = VAL(nextval++);

	ck_assert_uint_lt(nextval, NVALS);
	ck_assert_int_eq(retain_index_put(ix, sv(m->topic), v, &old), 0);
	ck_assert_ptr_eq(old, m->val);
	m->val = v;
}

static void
model_del(struct model *m)
{
	ck_assert_ptr_eq(retain_index_del(ix, sv(m->topic)), m->val);
	m->val = NULL;
}

START_TEST(retain_index__random_vs_reference)
{
	struct model *m = calloc(NTOPICS, sizeof(*m));
	char filter[64];
	size_t nm, i, live = 0;

	ck_assert_ptr_nonnull(m);
	nm = model_init(m, NTOPICS);
	ck_assert_uint_gt(nm, 100);
	for (i = 0; i < nm; i++)
		if (rnd(4) != 0) {
			model_put(&m[i]);
			live++;
		}
	ck_assert_uint_eq(retain_index_count(ix), live);
	for (i = 0; i < 1500; i++) {
		rand_filter(filter);
		check_filter(m, nm, filter);
	}
	/* Replace some, delete about half, compare again. */
	for (i = 0; i < nm; i++) {
		if (m[i].val != NULL && rnd(2) == 0)
			model_del(&m[i]);
		else if (rnd(3) == 0)
			model_put(&m[i]);
		if (m[i].val != NULL)
			ck_assert_ptr_eq(retain_index_get(ix, sv(m[i].topic)),
			    m[i].val);
		else
			ck_assert_ptr_null(retain_index_get(ix,
			    sv(m[i].topic)));
	}
	for (i = 0; i < 1500; i++) {
		rand_filter(filter);
		check_filter(m, nm, filter);
	}
	for (i = 0; i < nm; i++)
		if (m[i].val != NULL)
			model_del(&m[i]);
	ck_assert_uint_eq(retain_index_count(ix), 0);
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
	free(m);
}
END_TEST

/*
 * A cursor walked 1 to 4 nodes at a time, with random puts, replaces and
 * deletes between calls.  What it returns: values that were there when
 * it was made (the initial set), that match, each once; and every one of
 * them whose topic was never touched during the walk.
 */
START_TEST(retain_index__cursor_under_changes)
{
	struct model *m = calloc(NTOPICS, sizeof(*m));
	uint8_t *touched = calloc(NTOPICS, 1), *seen = calloc(NVALS, 1);
	void **initial = calloc(NTOPICS, sizeof(*initial));
	struct retain_index_cursor *c;
	char filter[64];
	size_t nm, i, j, round, budget;
	void *v;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(touched);
	ck_assert_ptr_nonnull(seen);
	ck_assert_ptr_nonnull(initial);
	nm = model_init(m, NTOPICS);
	for (round = 0; round < 300; round++) {
		for (i = 0; i < nm; i++)
			if (m[i].val == NULL && rnd(3) == 0)
				model_put(&m[i]);
		rand_filter(filter);
		c = retain_index_cursor_new(ix, sv(filter));
		ck_assert_ptr_nonnull(c);
		memset(touched, 0, NTOPICS);
		for (i = 0; i < nm; i++) {
			initial[i] = m[i].val;
			if (initial[i] != NULL)
				seen[VALNO(initial[i])] = 0;
		}
		while (!retain_index_cursor_done(c)) {
			budget = 1 + rnd(4);
			if ((v = retain_index_cursor_next(c, &budget)) !=
			    NULL) {
				for (i = 0; i < nm; i++)
					if (initial[i] == v)
						break;
				ck_assert_msg(i < nm, "filter %s: a value "
				    "not there at the start", filter);
				ck_assert_msg(m[i].val == v, "filter %s: %s "
				    "returned after a change", filter,
				    m[i].topic);
				ck_assert(mqtt_topic_match(sv(filter),
				    sv(m[i].topic)));
				ck_assert_msg(!seen[VALNO(v)], "filter %s: "
				    "%s twice", filter, m[i].topic);
				seen[VALNO(v)] = 1;
			}
			/* Change a few topics between calls. */
			for (j = rnd(3); j > 0; j--) {
				i = rnd((uint32_t)nm);
				touched[i] = 1;
				if (m[i].val != NULL && rnd(2) == 0)
					model_del(&m[i]);
				else
					model_put(&m[i]);
			}
		}
		retain_index_cursor_free(c);
		for (i = 0; i < nm; i++)
			if (initial[i] != NULL && !touched[i] &&
			    mqtt_topic_match(sv(filter), sv(m[i].topic)))
				ck_assert_msg(seen[VALNO(initial[i])],
				    "filter %s: %s never returned", filter,
				    m[i].topic);
	}
	for (i = 0; i < nm; i++)
		if (m[i].val != NULL)
			model_del(&m[i]);
	ck_assert_uint_eq(retain_index_bytes(ix), empty_bytes);
	free(m);
	free(touched);
	free(seen);
	free(initial);
}
END_TEST

static size_t nfreed;

static void
count_free(void *v)
{
	nfreed++;
}

START_TEST(retain_index__free_tells_values)
{
	(void)put("a");
	(void)put("a/b");
	(void)put("$SYS/x");
	(void)put("c/d/e");
	nfreed = 0;
	retain_index_free(ix, count_free);
	ix = NULL;
	ck_assert_uint_eq(nfreed, 4);
}
END_TEST

static Suite *
retain_index_suite(void)
{
	Suite *s = suite_create("retain_index");
	TCase *tc;

	tc = tcase_create("index");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, retain_index__examples);
	tcase_add_test(tc, retain_index__put_replace_delete);
	tcase_add_test(tc, retain_index__many_children);
	tcase_add_test(tc, retain_index__deep_topic);
	tcase_add_test(tc, retain_index__cursor_pins);
	tcase_add_test(tc, retain_index__free_tells_values);
	suite_add_tcase(s, tc);

	/* Generous timeouts: these run under ASan on busy machines. */
	tc = tcase_create("random");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, retain_index__random_vs_reference);
	tcase_add_test(tc, retain_index__cursor_under_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(retain_index_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
