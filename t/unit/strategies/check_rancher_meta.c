/*
 * Unit tests for strategies/rancher_meta: the Rancher metadata
 * service's /latest/self/service answer into node names, as libcluster's
 * Rancher strategy makes them, and what a bad answer gets.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "strategies/rancher_meta.h"

static int
parse(const char *body, char ***v, size_t *n)
{
	char why[256];

	return rancher_nodes("web", body, strlen(body), v, n, why,
	    sizeof(why));
}

START_TEST(rancher__first_ip_of_each_container)
{
	char **v;
	size_t n;

	ck_assert_int_eq(parse("{\"name\":\"web\",\"containers\":["
	    "{\"name\":\"web-1\",\"ips\":[\"10.42.128.5\",\"10.42.9.9\"],"
	    "\"primary_ip\":\"10.42.1.1\",\"state\":\"running\"},"
	    "{\"name\":\"web-2\",\"primary_ip\":\"10.42.200.17\"},"
	    "{\"name\":\"web-3\",\"ips\":[\"fd00:0::5\"]},"
	    "{\"name\":\"web-4\",\"ips\":[\"10.42.128.5\"]},"
	    "{\"name\":\"no-ip\"},"
	    "{\"name\":\"bad\",\"ips\":[\"10.0.0.1@x\"]},"
	    "{\"name\":\"num\",\"ips\":[42]}"
	    "]}", &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0], "web@10.42.128.5");
	ck_assert_str_eq(v[1], "web@10.42.200.17");
	ck_assert_str_eq(v[2], "web@fd00::5");
	rancher_nodes_free(v, n);
	ck_assert_int_eq(parse("{\"containers\":[]}", &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	rancher_nodes_free(v, n);
}
END_TEST

START_TEST(rancher__bad_answers)
{
	static const char *bad[] = {
		"",
		"not json",
		"{\"containers\":{}}",
		"{\"name\":\"web\"}",
		"[]",
		"{\"containers\":[],\"containers\":[]}",
	};
	char **v;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &v, &n) == CAIRN_ERR_PROTO,
		    "accepted '%s'", bad[i]);
		ck_assert_ptr_null(v);
		ck_assert_uint_eq(n, 0);
	}
}
END_TEST

START_TEST(rancher__too_many_containers)
{
	size_t i, n, len = 32 + (RANCHER_MAX_CONTAINERS + 1) * 3;
	char *body = malloc(len), **v, *p;

	ck_assert_ptr_nonnull(body);
	p = body + sprintf(body, "{\"containers\":[");
	for (i = 0; i <= RANCHER_MAX_CONTAINERS; i++)
		p += sprintf(p, "%s{}", i == 0 ? "" : ",");
	strcpy(p, "]}");
	ck_assert_int_eq(parse(body, &v, &n), CAIRN_ERR_LIMIT);
	free(body);
}
END_TEST

static Suite *
rancher_suite(void)
{
	Suite *s = suite_create("rancher_meta");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rancher__first_ip_of_each_container);
	tcase_add_test(tc, rancher__bad_answers);
	tcase_add_test(tc, rancher__too_many_containers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(rancher_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
