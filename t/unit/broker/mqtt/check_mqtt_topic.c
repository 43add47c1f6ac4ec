/*
 * Unit tests for broker/mqtt_topic: topic name and filter validity, the
 * reference matcher (every wildcard example of MQTT 3.1.1 section 4.7,
 * plus the '$' rule), level counting and `$share/GROUP/FILTER` parsing.
 * Tests are tables: a row that fails names its index and its strings.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "common/bytes.h"
#include "common/err.h"

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

struct match_row {
	const char	*filter;
	const char	*name;
	int		 match;
};

/* MQTT 3.1.1 section 4.7.1 and 4.7.2, in the spec's order, then more. */
static const struct match_row match_rows[] = {
	/* 4.7.1.2: multi-level wildcard. */
	{ "sport/tennis/player1/#", "sport/tennis/player1", 1 },
	{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", 1 },
	{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", 1 },
	{ "sport/#", "sport", 1 },
	{ "#", "sport", 1 },
	{ "#", "sport/tennis/player1", 1 },
	{ "#", "/", 1 },
	/* 4.7.1.3: single-level wildcard. */
	{ "sport/tennis/+", "sport/tennis/player1", 1 },
	{ "sport/tennis/+", "sport/tennis/player2", 1 },
	{ "sport/tennis/+", "sport/tennis/player1/ranking", 0 },
	{ "sport/+", "sport", 0 },
	{ "sport/+", "sport/", 1 },
	{ "+/+", "/finance", 1 },
	{ "/+", "/finance", 1 },
	{ "+", "/finance", 0 },
	{ "+/tennis/#", "sport/tennis/player1", 1 },
	{ "sport/+/player1", "sport/tennis/player1", 1 },
	/* 4.7.2: topics beginning with '$'. */
	{ "#", "$SYS/broker/clients", 0 },
	{ "+/monitor/Clients", "$SYS/monitor/Clients", 0 },
	{ "$SYS/#", "$SYS/broker/clients", 1 },
	{ "$SYS/#", "$SYS", 1 },
	{ "$SYS/monitor/+", "$SYS/monitor/Clients", 1 },
	{ "+", "$SYS", 0 },
	{ "$SYS/+", "$SYS/x", 1 },
	{ "a/$SYS/#", "a/$SYS/x", 1 },
	{ "+/$x", "a/$x", 1 },
	{ "#", "a/$SYS", 1 },
	/* 4.7.3: case-sensitive, spaces count, empty levels are levels. */
	{ "ACCOUNTS", "Accounts", 0 },
	{ "Accounts payable", "Accounts payable", 1 },
	{ "a//b", "a//b", 1 },
	{ "a/+/b", "a//b", 1 },
	{ "a/b", "a//b", 0 },
	{ "/", "/", 1 },
	{ "+/+", "/", 1 },
	{ "+", "/", 0 },
	{ "/#", "/", 1 },
	{ "/#", "/a/b", 1 },
	{ "/#", "a", 0 },
	/* Exact and prefix mismatches. */
	{ "a", "a", 1 },
	{ "a", "ab", 0 },
	{ "ab", "a", 0 },
	{ "a/b", "a", 0 },
	{ "a", "a/b", 0 },
	{ "a/b/c", "a/b/c", 1 },
	{ "a/b/c", "a/b/d", 0 },
	{ "a/+", "a/b/c", 0 },
	{ "a/+/+", "a/b/c", 1 },
	{ "a/+/#", "a/b", 1 },
	{ "a/+/#", "a", 0 },
	{ "+/#", "a", 1 },
	{ "a/#", "b", 0 },
	{ "a/#", "ab", 0 },
	{ "a/#", "a/", 1 },
	{ "a/", "a", 0 },
	{ "a", "a/", 0 },
	{ "a/", "a/", 1 },
	{ "\xc3\xa9t\xc3\xa9/+", "\xc3\xa9t\xc3\xa9/x", 1 },
};

START_TEST(mqtt_topic__match_table)
{
	const struct match_row *t = &match_rows[_i];

	ck_assert_msg(mqtt_topic_match(sv(t->filter), sv(t->name)) == t->match,
	    "row %d: filter \"%s\" name \"%s\" expected %d", _i, t->filter,
	    t->name, t->match);
	/* Every name in the table is a valid name, every filter a filter. */
	ck_assert_msg(mqtt_topic_filter_valid(sv(t->filter)),
	    "row %d: filter \"%s\" invalid", _i, t->filter);
	ck_assert_msg(mqtt_topic_name_valid(sv(t->name)),
	    "row %d: name \"%s\" invalid", _i, t->name);
}
END_TEST

/* A filter without wildcards matches exactly itself. */
START_TEST(mqtt_topic__match_literal_is_equality)
{
	static const char *names[] = { "a", "a/b", "/a", "a/", "//", "$SYS" };
	size_t i, j;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			ck_assert_int_eq(mqtt_topic_match(sv(names[i]),
			    sv(names[j])), i == j);
}
END_TEST

/*
 * A second matcher, written from the spec's words rather than for speed:
 * split both into levels, then match level by level recursively.
 */
#define REF_MAX_LEVELS	16

static size_t
ref_split(const char *s, size_t len, const char **lv, size_t *ll)
{
	size_t n = 0, start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			lv[n] = s + start;
			ll[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

static int
ref_match_levels(const char **fl, const size_t *fn, size_t nf,
    const char **nl, const size_t *nn, size_t nnames)
{
	if (nf == 0)
		return nnames == 0;
	if (fn[0] == 1 && fl[0][0] == '#')
		return 1;
	if (nnames == 0)
		return 0;
	if (!(fn[0] == 1 && fl[0][0] == '+') &&
	    (fn[0] != nn[0] || memcmp(fl[0], nl[0], fn[0]) != 0))
		return 0;
	return ref_match_levels(fl + 1, fn + 1, nf - 1, nl + 1, nn + 1,
	    nnames - 1);
}

static int
ref_match(const char *f, size_t flen, const char *n, size_t nlen)
{
	const char *fl[REF_MAX_LEVELS], *nl[REF_MAX_LEVELS];
	size_t fn[REF_MAX_LEVELS], nn[REF_MAX_LEVELS], nf, nnames;

	if (n[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return 0;
	nf = ref_split(f, flen, fl, fn);
	nnames = ref_split(n, nlen, nl, nn);
	return ref_match_levels(fl, fn, nf, nl, nn, nnames);
}

/*
 * Every filter and every name of up to 5 characters over "a/$+#" (the
 * valid ones), through both matchers.
 */
START_TEST(mqtt_topic__match_agrees_with_reference)
{
	static const char alpha[] = "a/$+#";
	static char filters[1500][6], names[400][6];
	size_t nf = 0, nnames = 0, len, i, j, k, code, total;
	char s[6];

	for (len = 1; len <= 5; len++) {
		total = 1;
		for (k = 0; k < len; k++)
			total *= 5;
		for (code = 0; code < total; code++) {
			size_t c = code;

			for (k = 0; k < len; k++) {
				s[k] = alpha[c % 5];
				c /= 5;
			}
			s[len] = '\0';
			if (mqtt_topic_filter_valid(bytes_view_of(s, len))) {
				ck_assert_uint_lt(nf, 1500);
				memcpy(filters[nf++], s, len + 1);
			}
			if (mqtt_topic_name_valid(bytes_view_of(s, len))) {
				ck_assert_uint_lt(nnames, 400);
				memcpy(names[nnames++], s, len + 1);
			}
		}
	}
	ck_assert_uint_gt(nf, 500);
	ck_assert_uint_gt(nnames, 300);
	for (i = 0; i < nf; i++) {
		for (j = 0; j < nnames; j++) {
			int got = mqtt_topic_match(sv(filters[i]), sv(names[j]));
			int want = ref_match(filters[i], strlen(filters[i]),
			    names[j], strlen(names[j]));

			ck_assert_msg(got == want, "filter \"%s\" name \"%s\": "
			    "%d, reference %d", filters[i], names[j], got,
			    want);
		}
	}
}
END_TEST

struct valid_row {
	const char	*s;
	size_t		 len;	/* 0: strlen(s) */
	int		 name;	/* valid as a topic name */
	int		 filter;	/* valid as a topic filter */
};

static const struct valid_row valid_rows[] = {
	{ "a", 0, 1, 1 },
	{ "a/b/c", 0, 1, 1 },
	{ "/", 0, 1, 1 },
	{ "//", 0, 1, 1 },
	{ " ", 0, 1, 1 },
	{ "$SYS/x", 0, 1, 1 },
	{ "#", 0, 0, 1 },
	{ "+", 0, 0, 1 },
	{ "a/#", 0, 0, 1 },
	{ "a/+", 0, 0, 1 },
	{ "+/a", 0, 0, 1 },
	{ "+/+/#", 0, 0, 1 },
	{ "/#", 0, 0, 1 },
	{ "/+/", 0, 0, 1 },
	{ "sport/tennis#", 0, 0, 0 },		/* # not alone */
	{ "sport/tennis/#/ranking", 0, 0, 0 },	/* # not last */
	{ "#/a", 0, 0, 0 },
	{ "##", 0, 0, 0 },
	{ "sport+", 0, 0, 0 },			/* + not alone */
	{ "+a", 0, 0, 0 },
	{ "a/+b/c", 0, 0, 0 },
	{ "++", 0, 0, 0 },
	{ "+#", 0, 0, 0 },
	{ "a#", 0, 0, 0 },
	{ "", 0, 0, 0 },			/* empty [MQTT-4.7.3-1] */
	{ "a\0b", 3, 0, 0 },			/* U+0000 [MQTT-4.7.3-2] */
	{ "\xc0\x80", 0, 0, 0 },		/* overlong NUL */
	{ "\xff", 0, 0, 0 },			/* not UTF-8 */
	{ "\xed\xa0\x80", 0, 0, 0 },		/* surrogate U+D800 */
	{ "\xc3", 0, 0, 0 },			/* truncated sequence */
	{ "\xf0\x9f\x98\x80/+", 0, 0, 1 },	/* U+1F600 */
	{ "\xf0\x9f\x98\x80", 0, 1, 1 },
};

START_TEST(mqtt_topic__valid_table)
{
	const struct valid_row *t = &valid_rows[_i];
	struct bytes_view v = bytes_view_of(t->s, t->len ? t->len :
	    strlen(t->s));

	ck_assert_msg(mqtt_topic_name_valid(v) == t->name,
	    "row %d: name_valid(\"%s\") expected %d", _i, t->s, t->name);
	ck_assert_msg(mqtt_topic_filter_valid(v) == t->filter,
	    "row %d: filter_valid(\"%s\") expected %d", _i, t->s, t->filter);
}
END_TEST

/* 65535 bytes is the most a 16-bit length can carry. */
START_TEST(mqtt_topic__length_limit)
{
	char *buf = malloc(MQTT_TOPIC_MAX + 1);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', MQTT_TOPIC_MAX + 1);
	ck_assert_int_eq(mqtt_topic_name_valid(bytes_view_of(buf,
	    MQTT_TOPIC_MAX)), 1);
	ck_assert_int_eq(mqtt_topic_filter_valid(bytes_view_of(buf,
	    MQTT_TOPIC_MAX)), 1);
	ck_assert_int_eq(mqtt_topic_name_valid(bytes_view_of(buf,
	    MQTT_TOPIC_MAX + 1)), 0);
	ck_assert_int_eq(mqtt_topic_filter_valid(bytes_view_of(buf,
	    MQTT_TOPIC_MAX + 1)), 0);
	free(buf);
}
END_TEST

START_TEST(mqtt_topic__levels)
{
	ck_assert_uint_eq(mqtt_topic_levels(sv("")), 0);
	ck_assert_uint_eq(mqtt_topic_levels(sv("a")), 1);
	ck_assert_uint_eq(mqtt_topic_levels(sv("/")), 2);
	ck_assert_uint_eq(mqtt_topic_levels(sv("/a")), 2);
	ck_assert_uint_eq(mqtt_topic_levels(sv("a/b/c")), 3);
	ck_assert_uint_eq(mqtt_topic_levels(sv("a//b")), 3);
	ck_assert_uint_eq(mqtt_topic_levels(sv("a/b/")), 3);
	ck_assert_uint_eq(mqtt_topic_levels(sv("+/#")), 2);
}
END_TEST

struct share_row {
	const char	*in;
	int		 rc;
	const char	*group;
	const char	*filter;
};

static const struct share_row share_rows[] = {
	{ "$share/g/a/b", 1, "g", "a/b" },
	{ "$share/group1/#", 1, "group1", "#" },
	{ "$share/g/+/x", 1, "g", "+/x" },
	{ "$share/g//", 1, "g", "/" },
	{ "$share/\xc3\xa9/t", 1, "\xc3\xa9", "t" },
	{ "a/b", 0, NULL, NULL },			/* not shared */
	{ "$share", 0, NULL, NULL },			/* no '/' after */
	{ "$SHARE/g/t", 0, NULL, NULL },		/* case matters */
	{ "$shared/g/t", 0, NULL, NULL },
	{ "$share/", CAIRN_ERR_PROTO, NULL, NULL },	/* no group */
	{ "$share//t", CAIRN_ERR_PROTO, NULL, NULL },	/* empty group */
	{ "$share/g", CAIRN_ERR_PROTO, NULL, NULL },	/* no filter */
	{ "$share/g/", CAIRN_ERR_PROTO, NULL, NULL },	/* empty filter */
	{ "$share/g+/t", CAIRN_ERR_PROTO, NULL, NULL },	/* + in group */
	{ "$share/+/t", CAIRN_ERR_PROTO, NULL, NULL },
	{ "$share/#/t", CAIRN_ERR_PROTO, NULL, NULL },	/* # in group */
	{ "$share/g/a#", CAIRN_ERR_PROTO, NULL, NULL },	/* bad filter */
	{ "$share/g/#/a", CAIRN_ERR_PROTO, NULL, NULL },
	{ "$share/\xff/t", CAIRN_ERR_PROTO, NULL, NULL },	/* bad UTF-8 */
};

START_TEST(mqtt_topic__share_parse_table)
{
	const struct share_row *t = &share_rows[_i];
	struct bytes_view g = { NULL, 7 }, r = { NULL, 9 };
	int rc;

	rc = mqtt_topic_share_parse(sv(t->in), &g, &r);
	ck_assert_msg(rc == t->rc, "row %d: \"%s\" rc %d expected %d", _i,
	    t->in, rc, t->rc);
	if (rc == 1) {
		ck_assert_msg(bytes_view_eq_str(g, t->group),
		    "row %d: group", _i);
		ck_assert_msg(bytes_view_eq_str(r, t->filter),
		    "row %d: filter", _i);
	} else {
		/* Outputs are left alone. */
		ck_assert_ptr_null(g.p);
		ck_assert_uint_eq(g.len, 7);
		ck_assert_ptr_null(r.p);
		ck_assert_uint_eq(r.len, 9);
	}
}
END_TEST

static Suite *
mqtt_topic_suite(void)
{
	Suite *s = suite_create("mqtt_topic");
	TCase *tc;

	tc = tcase_create("match");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, mqtt_topic__match_table, 0,
	    (int)(sizeof(match_rows) / sizeof(match_rows[0])));
	tcase_add_test(tc, mqtt_topic__match_literal_is_equality);
	tcase_add_test(tc, mqtt_topic__match_agrees_with_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("valid");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, mqtt_topic__valid_table, 0,
	    (int)(sizeof(valid_rows) / sizeof(valid_rows[0])));
	tcase_add_test(tc, mqtt_topic__length_limit);
	tcase_add_test(tc, mqtt_topic__levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("share");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, mqtt_topic__share_parse_table, 0,
	    (int)(sizeof(share_rows) / sizeof(share_rows[0])));
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
	sr = srunner_create(mqtt_topic_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
