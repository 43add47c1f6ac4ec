/*
 * Unit tests for epmd/epmd_registry: registration and lookup, OTP's
 * creation rules (erts/epmd/src/epmd_srv.c node_reg2(), bump_creation(),
 * get_creation()), the released-name FIFO and its slot stealing, the
 * name limit, many names through hash growth, and refusals.  Each test
 * gets a fresh registry from a checked fixture; the ASan build checks
 * that nothing leaks.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "epmd/epmd_codec.h"
#include "epmd/epmd_registry.h"

static struct epmd_registry *reg;

static void
setup(void)
{
	reg = epmd_registry_new(0, 0);
	ck_assert_ptr_nonnull(reg);
}

static void
teardown(void)
{
	epmd_registry_free(reg);
	reg = NULL;
}

static struct epmd_node_info
info_of(const char *name, uint16_t port, uint16_t highvsn)
{
	struct epmd_node_info a;

	memset(&a, 0, sizeof(a));
	a.port = port;
	a.nodetype = EPMD_NODETYPE_NORMAL;
	a.protocol = 0;
	a.highvsn = highvsn;
	a.lowvsn = 5;
	a.name = bytes_view_of(name, strlen(name));
	a.extra = bytes_view_of(NULL, 0);
	return a;
}

/* Registers name on r and fails the test on any error. */
static struct epmd_node *
reg_ok(struct epmd_registry *r, const char *name, uint32_t seed,
    uint16_t highvsn)
{
	struct epmd_node_info a = info_of(name, 4000, highvsn);
	struct epmd_node *n = NULL;
	const char *why = NULL;
	int rc;

	/* A plain if: ck_assert records a mark point on every call, which
	 * adds up over 10,000 names. */
	rc = epmd_registry_register(r, &a, NULL, 9, seed, &n, &why);
	if (rc != 0 || n == NULL)
		ck_abort_msg("register %s: %d (%s)", name, rc,
		    why ? why : "");
	return n;
}

static struct epmd_node *
find(struct epmd_registry *r, const char *name)
{
	return epmd_registry_find(r, bytes_view_of(name, strlen(name)));
}

START_TEST(epmd_registry__register_find)
{
	char name[] = "foo";
	struct epmd_node_info a = info_of(name, 1234, 6), b;
	struct epmd_node *n = NULL;
	const char *why = NULL;
	int owner;

	a.nodetype = EPMD_NODETYPE_HIDDEN;
	a.protocol = 1;
	a.extra = bytes_view_of("x\0y", 3);
	ck_assert_int_eq(epmd_registry_register(reg, &a, &owner, 7, 1000, &n,
	    &why), 0);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(epmd_registry_count(reg), 1);
	ck_assert_ptr_eq(n->n_owner, &owner);
	ck_assert_int_eq(n->n_fd, 7);
	ck_assert_int_eq(n->n_registered, 1);
	ck_assert_uint_eq(n->n_port, 1234);
	ck_assert_uint_eq(n->n_nodetype, EPMD_NODETYPE_HIDDEN);
	ck_assert_uint_eq(n->n_protocol, 1);
	ck_assert_uint_eq(n->n_highvsn, 6);
	ck_assert_uint_eq(n->n_lowvsn, 5);
	ck_assert_uint_eq(n->n_namelen, 3);
	ck_assert_str_eq(n->n_name, "foo");
	ck_assert_uint_eq(n->n_extralen, 3);
	ck_assert_mem_eq(n->n_extra, "x\0y\0", 4);

	/* The registry keeps a copy of the name. */
	name[0] = 'b';
	ck_assert_ptr_eq(find(reg, "foo"), n);
	ck_assert_ptr_null(find(reg, "boo"));
	ck_assert_ptr_null(find(reg, "fo"));
	ck_assert_ptr_null(find(reg, "fooo"));
	ck_assert_ptr_null(find(reg, "FOO"));

	epmd_node_info(n, &b);
	ck_assert_uint_eq(b.port, 1234);
	ck_assert_uint_eq(b.nodetype, EPMD_NODETYPE_HIDDEN);
	ck_assert_uint_eq(b.protocol, 1);
	ck_assert_uint_eq(b.highvsn, 6);
	ck_assert_uint_eq(b.lowvsn, 5);
	ck_assert(bytes_view_eq_str(b.name, "foo"));
	ck_assert_uint_eq(b.extra.len, 3);
	ck_assert_mem_eq(b.extra.p, "x\0y", 3);
}
END_TEST

START_TEST(epmd_registry__unregister)
{
	struct epmd_node *n = reg_ok(reg, "foo", 1000, 6);

	epmd_registry_unregister(reg, n);
	ck_assert_ptr_null(find(reg, "foo"));
	ck_assert_uint_eq(epmd_registry_count(reg), 0);
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 1);
	ck_assert_ptr_null(epmd_registry_first(reg));
	ck_assert_ptr_eq(epmd_registry_first_unreg(reg), n);
	ck_assert_int_eq(n->n_registered, 0);
	ck_assert_ptr_null(n->n_owner);
	ck_assert_str_eq(n->n_name, "foo");
	/* A second unregister of the same node does nothing. */
	epmd_registry_unregister(reg, n);
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 1);
	ck_assert_uint_eq(epmd_registry_count(reg), 0);
}
END_TEST

START_TEST(epmd_registry__duplicate)
{
	struct epmd_node_info a = info_of("foo", 5555, 6);
	struct epmd_node *n = reg_ok(reg, "foo", 1000, 6), *m = NULL;
	const char *why = NULL;

	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 8, 2000, &m,
	    &why), CAIRN_ERR_EXIST);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(epmd_registry_count(reg), 1);
	ck_assert_ptr_eq(find(reg, "foo"), n);
	ck_assert_uint_eq(n->n_port, 4000);
	ck_assert_uint_eq(n->n_cr_counter, 1001);
	/* A NULL why is allowed. */
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 8, 2000, &m,
	    NULL), CAIRN_ERR_EXIST);
}
END_TEST

START_TEST(epmd_registry__names_order)
{
	struct epmd_node *a = reg_ok(reg, "a", 10, 6);
	struct epmd_node *b = reg_ok(reg, "b", 10, 6);
	struct epmd_node *c = reg_ok(reg, "c", 10, 6);

	/* NAMES lists the newest first, as OTP's list head insertion. */
	ck_assert_ptr_eq(epmd_registry_first(reg), c);
	ck_assert_ptr_eq(epmd_node_next(c), b);
	ck_assert_ptr_eq(epmd_node_next(b), a);
	ck_assert_ptr_null(epmd_node_next(a));
	epmd_registry_unregister(reg, b);
	ck_assert_ptr_eq(epmd_registry_first(reg), c);
	ck_assert_ptr_eq(epmd_node_next(c), a);
	ck_assert_ptr_null(epmd_node_next(a));
	b = reg_ok(reg, "b", 10, 6);
	ck_assert_ptr_eq(epmd_registry_first(reg), b);
	ck_assert_ptr_eq(epmd_node_next(b), c);
}
END_TEST

/* OTP: cr_counter = time(NULL), then bump_creation(): seed + 1. */
START_TEST(epmd_registry__creation_new_name)
{
	struct epmd_node *n = reg_ok(reg, "foo", 1700000000u, 6);

	ck_assert_uint_eq(n->n_cr_counter, 1700000001u);
	ck_assert_uint_eq(epmd_node_creation(n), 1700000001u);
}
END_TEST

/* A released name comes back with its counter bumped; the seed is not
 * used. */
START_TEST(epmd_registry__creation_reregister)
{
	struct epmd_node *n = reg_ok(reg, "foo", 1000, 6);
	uint32_t want = 1001;
	int i;

	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(epmd_node_creation(n), want);
		epmd_registry_unregister(reg, n);
		n = reg_ok(reg, "foo", 5000 + (uint32_t)i, 6);
		want++;
	}
	ck_assert_uint_eq(epmd_node_creation(n), 1006);
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 0);
}
END_TEST

/* Counters below 4 become 4: 1..3 are old nodes' creations. */
START_TEST(epmd_registry__creation_floor)
{
	static const struct {
		uint32_t	seed;
		uint32_t	want;
	} cases[] = {
		{ 0, 4 }, { 1, 4 }, { 2, 4 }, { 3, 4 }, { 4, 5 },
		{ UINT32_MAX, 4 },		/* wraps to 0, then 4 */
		{ UINT32_MAX - 1, UINT32_MAX },
	};
	struct epmd_node *n;
	char name[16];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		n = reg_ok(reg, name, cases[i].seed, 6);
		ck_assert_msg(epmd_node_creation(n) == cases[i].want,
		    "seed %u: %u", cases[i].seed, epmd_node_creation(n));
	}
	/* A counter at UINT32_MAX wraps on re-register, to 4 again. */
	epmd_registry_unregister(reg, n);
	n = reg_ok(reg, name, 0, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 4);
}
END_TEST

/* highvsn < 6: creation is counter % 3 + 1, so 1..3, cycling. */
START_TEST(epmd_registry__creation_old_node)
{
	struct epmd_node *n = reg_ok(reg, "old", 1000, 5);
	uint32_t prev, c;
	int i;

	ck_assert_uint_eq(n->n_cr_counter, 1001);
	ck_assert_uint_eq(epmd_node_creation(n), 1001 % 3 + 1);
	prev = epmd_node_creation(n);
	for (i = 0; i < 9; i++) {
		epmd_registry_unregister(reg, n);
		n = reg_ok(reg, "old", 0, 5);
		c = epmd_node_creation(n);
		ck_assert_uint_ge(c, 1);
		ck_assert_uint_le(c, 3);
		ck_assert_uint_eq(c, n->n_cr_counter % 3 + 1);
		ck_assert_uint_ne(c, prev);
		prev = c;
	}
	/* The same slot registered by a new node shows the whole counter. */
	epmd_registry_unregister(reg, n);
	n = reg_ok(reg, "old", 0, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 1011);
	/* Seeds 0..3 give counter 4: creation 2. */
	n = reg_ok(reg, "zero", 0, 5);
	ck_assert_uint_eq(epmd_node_creation(n), 2);
}
END_TEST

/* DUMP lists released names oldest first. */
START_TEST(epmd_registry__released_fifo_order)
{
	struct epmd_node *a = reg_ok(reg, "a", 10, 6);
	struct epmd_node *b = reg_ok(reg, "b", 20, 6);
	struct epmd_node *c = reg_ok(reg, "c", 30, 6);
	struct epmd_node *n;

	epmd_registry_unregister(reg, b);
	epmd_registry_unregister(reg, a);
	epmd_registry_unregister(reg, c);
	n = epmd_registry_first_unreg(reg);
	ck_assert_str_eq(n->n_name, "b");
	n = epmd_node_next(n);
	ck_assert_str_eq(n->n_name, "a");
	n = epmd_node_next(n);
	ck_assert_str_eq(n->n_name, "c");
	ck_assert_ptr_null(epmd_node_next(n));
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 3);

	/* "a" leaves the middle of the FIFO when it comes back. */
	a = reg_ok(reg, "a", 0, 6);
	ck_assert_uint_eq(epmd_node_creation(a), 12);
	n = epmd_registry_first_unreg(reg);
	ck_assert_str_eq(n->n_name, "b");
	ck_assert_str_eq(epmd_node_next(n)->n_name, "c");
	ck_assert_ptr_null(epmd_node_next(epmd_node_next(n)));
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 2);
	/* And is not found twice. */
	ck_assert_ptr_eq(find(reg, "a"), a);
	ck_assert_ptr_null(find(reg, "b"));
}
END_TEST

/*
 * OTP: when more than MAX_UNREG_COUNT names are released, a new name
 * takes the oldest released slot and keeps its counter, not bumped.
 */
START_TEST(epmd_registry__max_unreg_steal)
{
	struct epmd_registry *r = epmd_registry_new(0, 2);
	struct epmd_node *a, *b, *c, *e, *n;

	ck_assert_ptr_nonnull(r);
	a = reg_ok(r, "a", 100, 6);
	b = reg_ok(r, "b", 200, 6);
	c = reg_ok(r, "c", 300, 6);
	epmd_registry_unregister(r, a);
	epmd_registry_unregister(r, b);
	/* Two released: at the limit, not over it; a new name is seeded. */
	n = reg_ok(r, "d", 400, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 401);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 2);
	epmd_registry_unregister(r, c);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 3);

	/* Over the limit: "e" gets a's slot and counter, unbumped. */
	e = reg_ok(r, "e", 999, 6);
	ck_assert_uint_eq(epmd_node_creation(e), 101);
	ck_assert_str_eq(e->n_name, "e");
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 2);
	n = epmd_registry_first_unreg(r);
	ck_assert_str_eq(n->n_name, "b");
	ck_assert_str_eq(epmd_node_next(n)->n_name, "c");
	ck_assert_ptr_eq(find(r, "e"), e);

	/* "a" was forgotten with its slot: it is a new name again. */
	n = reg_ok(r, "a", 50, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 51);

	/* A released name over the limit takes its own slot, bumped. */
	epmd_registry_unregister(r, e);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 3);
	n = reg_ok(r, "c", 0, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 302);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 2);
	epmd_registry_free(r);
}
END_TEST

/* The FIFO never holds more than max_unreg + 1 names. */
START_TEST(epmd_registry__max_unreg_trim)
{
	struct epmd_registry *r = epmd_registry_new(0, 2);
	struct epmd_node *nodes[6], *n;
	char name[8];
	int i;

	ck_assert_ptr_nonnull(r);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		nodes[i] = reg_ok(r, name, 1000 * (uint32_t)(i + 1), 6);
	}
	/* OTP's node_unreg() keeps every released name, past the limit. */
	for (i = 0; i < 6; i++)
		epmd_registry_unregister(r, nodes[i]);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 6);
	ck_assert_str_eq(epmd_registry_first_unreg(r)->n_name, "n0");
	/* Each new name over the limit steals the oldest slot and its
	 * counter, unbumped: n0's, then n1's, then n2's ... */
	n = reg_ok(r, "x0", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 1001);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 5);
	n = reg_ok(r, "x1", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 2001);
	n = reg_ok(r, "x2", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 3001);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 3);
	/* Still over the limit (3 > 2): one more steal. */
	n = reg_ok(r, "x3", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 4001);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 2);
	/* At the limit no more are stolen: a fresh slot. */
	n = reg_ok(r, "x4", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 8);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 2);
	/* A stolen name is new again: n0 gets a fresh counter. */
	n = reg_ok(r, "n0", 50, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 51);
	/* n4 is still remembered: its creation is bumped. */
	n = reg_ok(r, "n4", 7, 6);
	ck_assert_uint_eq(epmd_node_creation(n), 5002);
	epmd_registry_free(r);
}
END_TEST

START_TEST(epmd_registry__max_names)
{
	struct epmd_registry *r = epmd_registry_new(3, 0);
	struct epmd_node_info d = info_of("d", 1, 6);
	struct epmd_node *a, *n = NULL;
	const char *why = NULL;

	ck_assert_ptr_nonnull(r);
	a = reg_ok(r, "a", 10, 6);
	reg_ok(r, "b", 10, 6);
	reg_ok(r, "c", 10, 6);
	ck_assert_int_eq(epmd_registry_register(r, &d, NULL, 1, 10, &n, &why),
	    CAIRN_ERR_LIMIT);
	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(epmd_registry_count(r), 3);
	ck_assert_ptr_null(find(r, "d"));
	/* A duplicate is still EXIST when full. */
	d = info_of("a", 1, 6);
	ck_assert_int_eq(epmd_registry_register(r, &d, NULL, 1, 10, &n, &why),
	    CAIRN_ERR_EXIST);
	/* Released names do not count. */
	epmd_registry_unregister(r, a);
	reg_ok(r, "d", 10, 6);
	ck_assert_uint_eq(epmd_registry_count(r), 3);
	/* Full again: a released name cannot come back either. */
	d = info_of("a", 1, 6);
	ck_assert_int_eq(epmd_registry_register(r, &d, NULL, 1, 10, &n, &why),
	    CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(epmd_registry_unreg_count(r), 1);
	ck_assert_str_eq(epmd_registry_first_unreg(r)->n_name, "a");
	epmd_registry_free(r);
}
END_TEST

START_TEST(epmd_registry__many_names)
{
	enum { N = 10000 };
	struct epmd_node **nodes = calloc(N, sizeof(*nodes));
	struct epmd_node *n;
	char name[32];
	size_t i, count;

	ck_assert_ptr_nonnull(nodes);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node_%zu", i);
		nodes[i] = reg_ok(reg, name, (uint32_t)i, 6);
	}
	ck_assert_uint_eq(epmd_registry_count(reg), N);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node_%zu", i);
		if (find(reg, name) != nodes[i])
			ck_abort_msg("%s not found", name);
	}
	ck_assert_ptr_null(find(reg, "node_10000"));
	/* NAMES walks all of them, newest first. */
	count = 0;
	for (n = epmd_registry_first(reg); n != NULL; n = epmd_node_next(n)) {
		if (count >= N || n != nodes[N - 1 - count])
			ck_abort_msg("NAMES order broken at %zu", count);
		count++;
	}
	ck_assert_uint_eq(count, N);
	/* Release the even ones; the odd ones stay found. */
	for (i = 0; i < N; i += 2)
		epmd_registry_unregister(reg, nodes[i]);
	ck_assert_uint_eq(epmd_registry_count(reg), N / 2);
	/* As OTP, releasing keeps every name; only new names trim. */
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), N / 2);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node_%zu", i);
		if (find(reg, name) != (i % 2 ? nodes[i] : NULL))
			ck_abort_msg("%s: wrong lookup", name);
	}
	/* Every even name registers again (bumped or seeded anew). */
	for (i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "node_%zu", i);
		nodes[i] = reg_ok(reg, name, 1000000, 6);
	}
	ck_assert_uint_eq(epmd_registry_count(reg), N);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node_%zu", i);
		if (find(reg, name) != nodes[i])
			ck_abort_msg("%s not found again", name);
	}
	free(nodes);
}
END_TEST

START_TEST(epmd_registry__invalid)
{
	static uint8_t extra[1021];
	struct epmd_node_info a;
	struct epmd_node *n = NULL;
	const char *why;
	char longname[257];

	a = info_of("", 1, 6);
	why = NULL;
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1, &n, &why),
	    CAIRN_ERR_INVAL);
	ck_assert_ptr_nonnull(why);
	a = info_of("bad\xff", 1, 6);
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1, &n, &why),
	    CAIRN_ERR_INVAL);
	memset(longname, 'a', 256);
	longname[256] = '\0';
	a = info_of(longname, 1, 6);
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1, &n, &why),
	    CAIRN_ERR_INVAL);
	a = info_of("foo", 1, 6);
	a.extra = bytes_view_of(extra, sizeof(extra));
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1, &n, NULL),
	    CAIRN_ERR_INVAL);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(epmd_registry_count(reg), 0);
	ck_assert_uint_eq(epmd_registry_unreg_count(reg), 0);
	/* The longest valid name and extra. */
	longname[255] = '\0';
	a = info_of(longname, 1, 6);
	a.extra = bytes_view_of(extra, sizeof(extra) - 1);
	ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1, &n, NULL),
	    0);
	ck_assert_uint_eq(n->n_namelen, 255);
	ck_assert_uint_eq(n->n_extralen, 1020);
}
END_TEST

/* A slot reused for the same name resizes for the new extra. */
START_TEST(epmd_registry__reuse_resizes)
{
	static uint8_t big[1020];
	struct epmd_node_info a = info_of("foo", 1, 6);
	struct epmd_node *n = NULL;
	size_t sizes[] = { 1020, 0, 7, 1020, 1 };
	size_t i;

	memset(big, 'x', sizeof(big));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		a.port = (uint16_t)(100 + i);
		a.extra = bytes_view_of(big, sizes[i]);
		ck_assert_int_eq(epmd_registry_register(reg, &a, NULL, 1, 1000,
		    &n, NULL), 0);
		ck_assert_uint_eq(n->n_extralen, sizes[i]);
		ck_assert_uint_eq(n->n_port, 100 + i);
		ck_assert_str_eq(n->n_name, "foo");
		ck_assert_uint_eq((unsigned char)n->n_extra[sizes[i]], 0);
		ck_assert_uint_eq(epmd_node_creation(n), 1001 + i);
		ck_assert_ptr_eq(find(reg, "foo"), n);
		epmd_registry_unregister(reg, n);
	}
}
END_TEST

START_TEST(epmd_registry__free_null)
{
	epmd_registry_free(NULL);
}
END_TEST

static Suite *
epmd_registry_suite(void)
{
	Suite *s = suite_create("epmd_registry");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_registry__register_find);
	tcase_add_test(tc, epmd_registry__unregister);
	tcase_add_test(tc, epmd_registry__duplicate);
	tcase_add_test(tc, epmd_registry__names_order);
	tcase_add_test(tc, epmd_registry__invalid);
	tcase_add_test(tc, epmd_registry__reuse_resizes);
	tcase_add_test(tc, epmd_registry__free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("creation");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_registry__creation_new_name);
	tcase_add_test(tc, epmd_registry__creation_reregister);
	tcase_add_test(tc, epmd_registry__creation_floor);
	tcase_add_test(tc, epmd_registry__creation_old_node);
	suite_add_tcase(s, tc);

	tc = tcase_create("released");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_registry__released_fifo_order);
	tcase_add_test(tc, epmd_registry__max_unreg_steal);
	tcase_add_test(tc, epmd_registry__max_unreg_trim);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, epmd_registry__max_names);
	tcase_add_test(tc, epmd_registry__many_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(epmd_registry_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
