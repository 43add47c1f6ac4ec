/*
 * Unit tests for strategies/hosts_erlang: the `.hosts.erlang` term file
 * as net_adm reads it: quoted and bare atoms, comments, white space,
 * and every error with its line and column.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "strategies/hosts_erlang.h"

static int
parse(const char *text, char ***hosts, size_t *n, char *err)
{
	return hosts_erlang_parse(text, strlen(text), hosts, n, err, 256);
}

START_TEST(hosts_erlang__quoted_and_bare)
{
	char **h, err[256];
	size_t n;

	ck_assert_int_eq(parse("'db1.example.com'.\n"
	    "localhost.   % this host\n"
	    "  'host-2' .\n"
	    "x_y@z.", &h, &n, err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(h[0], "db1.example.com");
	ck_assert_str_eq(h[1], "localhost");
	ck_assert_str_eq(h[2], "host-2");
	ck_assert_str_eq(h[3], "x_y@z");
	hosts_erlang_free(h, n);
}
END_TEST

START_TEST(hosts_erlang__empty_and_comments)
{
	char **h, err[256];
	size_t n = 99;

	ck_assert_int_eq(parse("", &h, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	hosts_erlang_free(h, n);
	ck_assert_int_eq(parse("% nothing\n\n   % here\n", &h, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	hosts_erlang_free(h, n);
}
END_TEST

START_TEST(hosts_erlang__errors_name_line_and_col)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "'a'.\n\"b\".\n", "2:1: expected a host name atom" },
		{ "'a'\n", "2:1: expected '.' after 'a'" },
		{ "'abc.\n", "1:6: unterminated quoted atom" },
		{ "Host.\n", "1:1: expected a host name atom" },
		{ "a.b.\n", "1:3: expected white space after '.'" },
		{ "''.\n", "1:3: empty host name" },
		{ "{a, b}.\n", "1:1: expected a host name atom" },
	};
	char **h, err[256];
	size_t n, i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(parse(cases[i].text, &h, &n, err) ==
		    CAIRN_ERR_PROTO, "case %zu accepted", i);
		ck_assert_ptr_null(h);
		ck_assert_msg(strncmp(err, cases[i].err,
		    strlen(cases[i].err)) == 0, "case %zu: got '%s', want '%s'",
		    i, err, cases[i].err);
	}
}
END_TEST

START_TEST(hosts_erlang__long_atom_refused)
{
	char text[600], **h, err[256];
	size_t n;

	memset(text, 'a', 300);
	strcpy(text + 300, ".\n");
	ck_assert_int_eq(parse(text, &h, &n, err), CAIRN_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(err, "longer than 255"));
	memset(text, 'a', 255);
	strcpy(text + 255, ".\n");
	ck_assert_int_eq(parse(text, &h, &n, err), 0);
	ck_assert_uint_eq(strlen(h[0]), 255);
	hosts_erlang_free(h, n);
}
END_TEST

START_TEST(hosts_erlang__no_final_newline)
{
	char **h, err[256];
	size_t n;

	ck_assert_int_eq(parse("a.", &h, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	hosts_erlang_free(h, n);
	ck_assert_int_eq(parse("a.% c", &h, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	hosts_erlang_free(h, n);
}
END_TEST

static Suite *
hosts_erlang_suite(void)
{
	Suite *s = suite_create("hosts_erlang");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hosts_erlang__quoted_and_bare);
	tcase_add_test(tc, hosts_erlang__empty_and_comments);
	tcase_add_test(tc, hosts_erlang__errors_name_line_and_col);
	tcase_add_test(tc, hosts_erlang__long_atom_refused);
	tcase_add_test(tc, hosts_erlang__no_final_newline);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(hosts_erlang_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
