/*
 * Unit tests for common/http: a real libmicrohttpd server on a fresh
 * libev loop per test (checked fixtures), and a plain blocking socket
 * as the client; the loop runs between the client's steps, so every
 * request is served on it as in the programs.  Every wait is bounded.
 */
#include <check.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/http.h"

static struct ev_loop	*loop;
static struct http	*srv;
static int		 calls;
static char		 last_path[256];

static int
on_request(void *arg, const char *path, struct http_reply *r)
{
	calls++;
	snprintf(last_path, sizeof(last_path), "%s", path);
	if (strcmp(path, "/missing") == 0) {
		r->hr_status = 404;
		return bytes_put_str(&r->hr_body, "no\n");
	}
	if (strcmp(path, "/fail") == 0)
		return -1;
	r->hr_type = "text/plain";
	return bytes_printf(&r->hr_body, "path %s\n", path);
}

static int
on_auth(void *arg, const char *user, const char *pass)
{
	return strcmp(user, "ops") == 0 && strcmp(pass, "s3cret") == 0;
}

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	calls = 0;
	last_path[0] = '\0';
}

static void
teardown(void)
{
	http_free(srv);
	srv = NULL;
	ev_loop_destroy(loop);
}

static void
serve(const struct http_conf *c)
{
	char err[256] = "";
	struct http_conf d;

	if (c == NULL) {
		http_conf_defaults(&d);
		c = &d;
	}
	srv = http_new(loop, "127.0.0.1", 0, c, on_request, NULL, err,
	    sizeof(err));
	ck_assert_msg(srv != NULL, "http_new: %s", err);
	ck_assert_uint_ne(http_port(srv), 0);
}

/*
 * Sends req (whole) and returns what came back until EOF (or 3 s), the
 * loop running meanwhile.  The answer is static.
 */
static const char *
roundtrip(const char *req, size_t len)
{
	static char out[65536];
	struct sockaddr_in sin;
	struct pollfd pfd;
	size_t got = 0, sent = 0;
	uint64_t deadline = clock_ms() + 3000;
	ssize_t n;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(http_port(srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	    errno == EINPROGRESS);
	while (clock_ms() < deadline) {
		ev_run(loop, EVRUN_NOWAIT);
		if (sent < len) {
			n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN &&
			    errno != ENOTCONN && errno != EINPROGRESS)
				break;	/* closed on us: read what there is */
		}
		n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
		if (n == 0)
			break;
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != ENOTCONN)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 5);
	}
	close(fd);
	out[got] = '\0';
	return out;
}

static const char *
get(const char *path, const char *headers)
{
	static char req[16384];
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n%s\r\n", path, headers != NULL ? headers :
	    "");
	ck_assert(n > 0 && (size_t)n < sizeof(req));
	return roundtrip(req, (size_t)n);
}

START_TEST(http__serves_on_the_loop)
{
	const char *a;

	serve(NULL);
	a = get("/x/y?q=1", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 200", 12) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "\r\n\r\npath /x/y\n"));
	ck_assert_str_eq(last_path, "/x/y");
	ck_assert_int_eq(calls, 1);
	a = get("/missing", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404", 12) == 0, "%s", a);
	a = get("/fail", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 500", 12) == 0, "%s", a);
}
END_TEST

START_TEST(http__get_only)
{
	static const char post[] = "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\nConnection: close\r\n\r\nabc";
	const char *a;

	serve(NULL);
	a = roundtrip(post, sizeof(post) - 1);
	ck_assert_msg(strncmp(a, "HTTP/1.1 405", 12) == 0, "%s", a);
	ck_assert_int_eq(calls, 0);
}
END_TEST

START_TEST(http__request_size_capped)
{
	struct http_conf c;
	char *big;
	const char *a;
	size_t i, n = 8000;

	http_conf_defaults(&c);
	c.hc_max_request = 2048;
	serve(&c);
	big = malloc(n + 64);
	ck_assert_ptr_nonnull(big);
	i = (size_t)snprintf(big, 64, "X-Big: ");
	memset(big + i, 'a', n);
	memcpy(big + i + n, "\r\n", 3);
	a = get("/", big);
	free(big);
	/* MHD answers 431 when its pool is full, or closes. */
	ck_assert_msg(a[0] == '\0' || strncmp(a, "HTTP/1.1 431", 12) == 0,
	    "%.80s", a);
	ck_assert_int_eq(calls, 0);
	a = get("/", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 200", 12) == 0, "%s", a);
}
END_TEST

START_TEST(http__basic_auth_and_open_paths)
{
	struct http_conf c;
	const char *a;

	http_conf_defaults(&c);
	c.hc_auth = on_auth;
	c.hc_open_paths = "/healthz /readyz";
	serve(&c);
	a = get("/metrics", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 401", 12) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Basic realm=\"cairn\""));
	/* ops:wrong */
	a = get("/metrics", "Authorization: Basic b3BzOndyb25n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.1 401", 12) == 0, "%s", a);
	/* ops:s3cret */
	a = get("/metrics", "Authorization: Basic b3BzOnMzY3JldA==\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.1 200", 12) == 0, "%s", a);
	a = get("/healthz", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 200", 12) == 0, "%s", a);
	/* A prefix of an open path is not open. */
	a = get("/health", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 401", 12) == 0, "%s", a);
	a = get("/healthzz", NULL);
	ck_assert_msg(strncmp(a, "HTTP/1.1 401", 12) == 0, "%s", a);
}
END_TEST

START_TEST(http__cors_only_for_loopback_pages)
{
	static const struct {
		const char	*origin;
		int		 allowed;
	} cases[] = {
		{ "http://127.0.0.1", 1 },
		{ "http://127.0.0.1:8088", 1 },
		{ "http://localhost:1", 1 },
		{ "http://[::1]:65535", 1 },
		{ "http://127.0.0.1.evil.example", 0 },
		{ "http://127.0.0.1:80x", 0 },
		{ "http://127.0.0.1:", 0 },
		{ "http://127.0.0.1:123456", 0 },
		{ "http://localhost.evil.example:80", 0 },
		{ "https://evil.example", 0 },
		{ "null", 0 },
	};
	char hdr[256];
	const char *a;
	size_t i;

	serve(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(hdr, sizeof(hdr), "Origin: %s\r\n", cases[i].origin);
		a = get("/api/v1/status", hdr);
		ck_assert_msg((strstr(a, "Access-Control-Allow-Origin") !=
		    NULL) == cases[i].allowed, "case %zu %s: %s", i,
		    cases[i].origin, a);
	}
	/* Not on the page or the metrics, whatever the origin. */
	a = get("/metrics", "Origin: http://127.0.0.1\r\n");
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Origin"));
}
END_TEST

START_TEST(http__bad_listen_address)
{
	struct http_conf c;
	char err[256] = "";

	http_conf_defaults(&c);
	ck_assert_ptr_null(http_new(loop, "localhost", 0, &c, on_request,
	    NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "numeric") != NULL, "%s", err);
}
END_TEST

START_TEST(http__prom_label_escapes)
{
	struct bytes_w w;

	bytes_w_init(&w, 1024);
	ck_assert_int_eq(http_prom_label(&w, "a\"b\\c\nd"), 0);
	ck_assert_uint_eq(w.len, 10);
	ck_assert(memcmp(w.buf, "a\\\"b\\\\c\\nd", 10) == 0);
	bytes_w_reset(&w);
	ck_assert_int_eq(http_prom_head(&w, "x_total", "counter", "X."), 0);
	ck_assert_uint_eq(w.len, strlen("# HELP x_total X.\n# TYPE x_total "
	    "counter\n"));
	bytes_w_fini(&w);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, http__serves_on_the_loop);
	tcase_add_test(tc, http__get_only);
	tcase_add_test(tc, http__request_size_capped);
	tcase_add_test(tc, http__basic_auth_and_open_paths);
	tcase_add_test(tc, http__cors_only_for_loopback_pages);
	tcase_add_test(tc, http__bad_listen_address);
	tcase_add_test(tc, http__prom_label_escapes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(http_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
