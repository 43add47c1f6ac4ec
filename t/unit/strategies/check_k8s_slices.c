/*
 * Unit tests for strategies/k8s_slices: EndpointSlice JSON, shaped as
 * kube-apiserver sends it, into node names.  libcluster's three naming
 * modes; ready, not-ready and unset readiness; IPv6 and FQDN slices; a
 * list replacing the table; watch events (ADDED, MODIFIED, DELETED,
 * BOOKMARK, ERROR 410 and others); and the caps, which leave the table
 * as it was.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "strategies/k8s_slices.h"

static const struct k8s_naming ip_nm = {
	K8S_MODE_IP, "app", "svc", "prod", "cluster.local"
};

/* An EndpointSlice with endpoints eps (a JSON array's inside). */
static char *
slice(const char *name, const char *type, const char *rv, const char *eps)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "{\"kind\":\"EndpointSlice\","
	    "\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"name\":"
	    "\"%s\",\"namespace\":\"prod\",\"resourceVersion\":\"%s\","
	    "\"labels\":{\"kubernetes.io/service-name\":\"svc\"}},"
	    "\"addressType\":\"%s\",\"endpoints\":[%s],\"ports\":[{\"name\":"
	    "\"epmd\",\"port\":4369,\"protocol\":\"TCP\"}]}", name, rv, type,
	    eps), -1);
	return s;
}

static char *
event(const char *type, char *obj)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "{\"type\":\"%s\",\"object\":%s}",
	    type, obj), -1);
	free(obj);
	return s;
}

#define EP(addr, host, ready)						\
	"{\"addresses\":[\"" addr "\"],\"conditions\":{\"ready\":" ready \
	",\"serving\":" ready ",\"terminating\":false},\"hostname\":\"" \
	host "\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"" host "\"}}"

static void
expect_nodes(struct k8s_slices *t, const char *want)
{
	char **v, got[4096] = "";
	size_t n, i;

	ck_assert_int_eq(k8s_slices_nodes(t, &v, &n), 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, v[i]);
	}
	ck_assert_ptr_null(v[n]);
	free(v);
	ck_assert_str_eq(got, want);
}

START_TEST(k8s__node_name_modes)
{
	struct k8s_naming nm = ip_nm;
	char b[K8S_MAX_NODE_NAME];

	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", NULL, b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "app@10.1.2.3");
	/* The canonical form, never the API's own text. */
	ck_assert_int_eq(k8s_node_name(&nm, 6, "fd00:0:0::0a", NULL, b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "app@fd00::a");
	nm.mode = K8S_MODE_DNS;
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", NULL, b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "app@10-1-2-3.prod.pod.cluster.local");
	ck_assert_int_eq(k8s_node_name(&nm, 6, "fd00::a", NULL, b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "app@fd00--a.prod.pod.cluster.local");
	nm.mode = K8S_MODE_HOSTNAME;
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", "myapp-0", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "app@myapp-0.svc.prod.svc.cluster.local");
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", NULL, b,
	    sizeof(b)), CAIRN_ERR_NOENT);
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", "a.b", b,
	    sizeof(b)), CAIRN_ERR_PROTO);
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", "Upper", b,
	    sizeof(b)), CAIRN_ERR_PROTO);
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3", "myapp-0", b, 10),
	    CAIRN_ERR_TOO_BIG);
	nm.mode = K8S_MODE_IP;
	ck_assert_int_eq(k8s_node_name(&nm, 4, "10.1.2.3@evil", NULL, b,
	    sizeof(b)), CAIRN_ERR_PROTO);
	ck_assert_int_eq(k8s_node_name(&nm, 4, "fd00::1", NULL, b,
	    sizeof(b)), CAIRN_ERR_PROTO);
	ck_assert_int_eq(k8s_node_name(&nm, 4, NULL, NULL, b, sizeof(b)),
	    CAIRN_ERR_PROTO);
}
END_TEST

static char *
list_of(const char *rv, char *a, char *b)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "{\"kind\":\"EndpointSliceList\","
	    "\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":"
	    "{\"resourceVersion\":\"%s\"},\"items\":[%s%s%s]}", rv, a,
	    b != NULL ? "," : "", b != NULL ? b : ""), -1);
	free(a);
	free(b);
	return s;
}

START_TEST(k8s__list_ready_only_and_union)
{
	struct k8s_slices *t = k8s_slices_new(10, 100);
	char rv[K8S_MAX_RV] = "", why[256], *l;

	/* Not ready: out.  No ready condition at all: "nil is true". */
	l = list_of("900", slice("s-a", "IPv4", "1", EP("10.0.0.2", "p2",
	    "true") "," EP("10.0.0.3", "p3", "false") ","
	    "{\"addresses\":[\"10.0.0.4\"],\"conditions\":{}}"),
	    slice("s-b", "IPv6", "2", EP("fd00::9", "p9", "true") ","
	    EP("10.0.0.5", "p5", "true")));
	ck_assert_int_eq(k8s_slices_list(t, &ip_nm, l, strlen(l), rv, why,
	    sizeof(why)), 0);
	free(l);
	ck_assert_str_eq(rv, "900");
	ck_assert_uint_eq(k8s_slices_count(t), 2);
	/* The IPv4 address in an IPv6 slice is not an IPv6 address. */
	expect_nodes(t, "app@10.0.0.2 app@10.0.0.4 app@fd00::9");
	/* An FQDN slice and a slice without endpoints name nobody. */
	l = list_of("901", slice("s-c", "FQDN", "3", EP("a.example.com",
	    "x", "true")), strdup("{\"metadata\":{\"name\":\"s-d\"},"
	    "\"addressType\":\"IPv4\"}"));
	ck_assert_int_eq(k8s_slices_list(t, &ip_nm, l, strlen(l), rv, why,
	    sizeof(why)), 0);
	free(l);
	ck_assert_uint_eq(k8s_slices_count(t), 2);
	expect_nodes(t, "");
	k8s_slices_free(t);
}
END_TEST

START_TEST(k8s__list_refusals_keep_the_table)
{
	struct k8s_slices *t = k8s_slices_new(2, 3);
	char rv[K8S_MAX_RV] = "", why[256], *l, *tmp;
	static const char *bad[] = {
		"not json",
		"[]",
		"{\"items\":[]}",				/* no version */
		"{\"metadata\":{\"resourceVersion\":\"1 2\"},\"items\":[]}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[1]}",
		("{\"metadata\":{\"resourceVersion\":\"1\",\"resourceVersion\":"
		    "\"2\"},\"items\":[]}"),
	};
	size_t i;

	l = list_of("7", slice("s-a", "IPv4", "1", EP("10.0.0.2", "p2",
	    "true")), NULL);
	ck_assert_int_eq(k8s_slices_list(t, &ip_nm, l, strlen(l), rv, why,
	    sizeof(why)), 0);
	free(l);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(k8s_slices_list(t, &ip_nm, bad[i],
		    strlen(bad[i]), rv, why, sizeof(why)) == CAIRN_ERR_PROTO,
		    "accepted %s", bad[i]);
		ck_assert_str_eq(rv, "7");
	}
	/* Over max_slices, then over max_nodes. */
	l = list_of("8", slice("a", "IPv4", "1", ""), slice("b", "IPv4", "1",
	    ""));
	l[strlen(l) - 2] = '\0';	/* "]}" */
	ck_assert_int_ne(asprintf(&tmp, "%s,%s]}", l, "{\"metadata\":"
	    "{\"name\":\"c\"},\"addressType\":\"IPv4\"}"), -1);
	free(l);
	l = tmp;
	ck_assert_int_eq(k8s_slices_list(t, &ip_nm, l, strlen(l), rv, why,
	    sizeof(why)), CAIRN_ERR_LIMIT);
	free(l);
	l = list_of("8", slice("a", "IPv4", "1", EP("10.0.0.1", "a", "true")
	    "," EP("10.0.0.2", "b", "true")), slice("b", "IPv4", "1",
	    EP("10.0.0.3", "c", "true") "," EP("10.0.0.4", "d", "true")));
	ck_assert_int_eq(k8s_slices_list(t, &ip_nm, l, strlen(l), rv, why,
	    sizeof(why)), CAIRN_ERR_LIMIT);
	free(l);
	ck_assert_str_eq(rv, "7");
	expect_nodes(t, "app@10.0.0.2");
	k8s_slices_free(t);
}
END_TEST

START_TEST(k8s__watch_events)
{
	struct k8s_slices *t = k8s_slices_new(10, 100);
	char rv[K8S_MAX_RV] = "", why[256], *e;

	e = event("ADDED", slice("s-a", "IPv4", "11", EP("10.0.0.2", "p2",
	    "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_CHANGED);
	free(e);
	ck_assert_str_eq(rv, "11");
	expect_nodes(t, "app@10.0.0.2");
	/* The same endpoints again (a port changed): nothing to say. */
	e = event("MODIFIED", slice("s-a", "IPv4", "12", EP("10.0.0.2", "p2",
	    "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_SAME);
	free(e);
	ck_assert_str_eq(rv, "12");
	e = event("MODIFIED", slice("s-a", "IPv4", "13", EP("10.0.0.2", "p2",
	    "false") "," EP("10.0.0.7", "p7", "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_CHANGED);
	free(e);
	expect_nodes(t, "app@10.0.0.7");
	e = strdup("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":"
	    "\"EndpointSlice\",\"metadata\":{\"resourceVersion\":\"99\","
	    "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}");
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_BOOKMARK);
	free(e);
	ck_assert_str_eq(rv, "99");
	expect_nodes(t, "app@10.0.0.7");
	e = event("DELETED", slice("s-a", "IPv4", "100", ""));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_CHANGED);
	free(e);
	expect_nodes(t, "");
	ck_assert_uint_eq(k8s_slices_count(t), 0);
	k8s_slices_free(t);
}
END_TEST

START_TEST(k8s__watch_errors)
{
	struct k8s_slices *t = k8s_slices_new(1, 2);
	char rv[K8S_MAX_RV] = "5", why[256], *e;
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
	    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"too old resource version: 1 (2)\",\"reason\":"
	    "\"Expired\",\"code\":410}}";
	const char *other = "{\"type\":\"ERROR\",\"object\":{\"kind\":"
	    "\"Status\",\"code\":500,\"message\":\"etcd\"}}";
	static const char *bad[] = {
		"{\"type\":\"ADDED\"}",
		"{\"type\":\"EXPLODED\",\"object\":{\"metadata\":"
		    "{\"resourceVersion\":\"6\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":"
		    "{\"resourceVersion\":\"6\"}}}",
		"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
		    "{\"resourceVersion\":\"6&watch=0\"}}}",
		"{\"type\":\"ADDED\",\"object\":{",
	};
	size_t i;

	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, gone, strlen(gone), rv,
	    why, sizeof(why)), K8S_EV_GONE);
	ck_assert(strstr(why, "410") != NULL);
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, other, strlen(other),
	    rv, why, sizeof(why)), K8S_EV_ERROR);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(k8s_slices_event(t, &ip_nm, bad[i],
		    strlen(bad[i]), rv, why, sizeof(why)) == CAIRN_ERR_PROTO,
		    "accepted %s", bad[i]);
	ck_assert_str_eq(rv, "5");
	/* Caps: a second slice, then too many endpoints in one. */
	e = event("ADDED", slice("s-a", "IPv4", "11", EP("10.0.0.2", "p2",
	    "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), K8S_EV_CHANGED);
	free(e);
	e = event("ADDED", slice("s-b", "IPv4", "12", EP("10.0.0.3", "p3",
	    "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), CAIRN_ERR_LIMIT);
	free(e);
	e = event("MODIFIED", slice("s-a", "IPv4", "13", EP("10.0.0.2", "p2",
	    "true") "," EP("10.0.0.3", "p3", "true") "," EP("10.0.0.4", "p4",
	    "true")));
	ck_assert_int_eq(k8s_slices_event(t, &ip_nm, e, strlen(e), rv, why,
	    sizeof(why)), CAIRN_ERR_LIMIT);
	free(e);
	expect_nodes(t, "app@10.0.0.2");
	k8s_slices_free(t);
}
END_TEST

static Suite *
k8s_suite(void)
{
	Suite *s = suite_create("k8s_slices");
	TCase *tc = tcase_create("slices");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, k8s__node_name_modes);
	tcase_add_test(tc, k8s__list_ready_only_and_union);
	tcase_add_test(tc, k8s__list_refusals_keep_the_table);
	tcase_add_test(tc, k8s__watch_events);
	tcase_add_test(tc, k8s__watch_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(k8s_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
