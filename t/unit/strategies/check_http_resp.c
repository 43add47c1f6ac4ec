/*
 * Unit tests for strategies/http_resp: HTTP/1.1 responses as the
 * kubernetes and rancher strategies read them, fed whole and one byte at
 * a time; Content-Length, chunked and until-close bodies; interim
 * responses; and every framing a hostile server could try (two lengths,
 * length with chunked, codings we never asked for, long lines, many
 * headers, huge chunk sizes).  And the watch stream's line splitter.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "strategies/http_resp.h"

struct sink {
	char	buf[65536];
	size_t	len;
	int	fail;
};

static int
sink_body(void *arg, const uint8_t *p, size_t n)
{
	struct sink *s = arg;

	if (s->fail)
		return CAIRN_ERR_TOO_BIG;
	ck_assert_uint_le(s->len + n, sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Feeds text whole (step 0) or step bytes at a time; the last rc. */
static int
feed(struct http_resp *r, const char *text, size_t step, size_t *taken)
{
	size_t off = 0, n, used;
	int rc = CAIRN_ERR_NEED_MORE;

	*taken = 0;
	while (off < strlen(text)) {
		n = step == 0 ? strlen(text) - off : step;
		if (n > strlen(text) - off)
			n = strlen(text) - off;
		rc = http_resp_feed(r, (const uint8_t *)text + off, n, &used);
		off += used;
		*taken = off;
		if (rc != CAIRN_ERR_NEED_MORE)
			return rc;
	}
	return rc;
}

static void
whole_and_bytewise(const char *text, int want, int status, const char *body)
{
	struct http_resp r;
	struct sink *s = calloc(1, sizeof(*s));
	size_t step, taken;
	int rc;

	for (step = 0; step <= 1; step++) {
		memset(s, 0, sizeof(*s));
		http_resp_init(&r, sink_body, s);
		rc = feed(&r, text, step, &taken);
		ck_assert_msg(rc == want, "step %zu: rc %d, want %d for %s",
		    step, rc, want, text);
		if (want == 0) {
			ck_assert_int_eq(r.hr_status, status);
			ck_assert_uint_eq(s->len, strlen(body));
			ck_assert(memcmp(s->buf, body, s->len) == 0);
		}
	}
	free(s);
}

START_TEST(http_resp__content_length)
{
	whole_and_bytewise("HTTP/1.1 200 OK\r\nContent-Type: application/json"
	    "\r\nContent-Length: 13\r\n\r\n{\"items\":[]}\n", 0, 200,
	    "{\"items\":[]}\n");
	/* Bare LF line ends, an empty reason, a zero length. */
	whole_and_bytewise("HTTP/1.0 404\nContent-Length: 0\n\n", 0, 404, "");
	whole_and_bytewise("HTTP/1.1 204 No Content\r\n\r\n", 0, 204, "");
}
END_TEST

START_TEST(http_resp__chunked_with_extensions_and_trailers)
{
	whole_and_bytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5;name=v\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n"
	    "X-Trailer: 1\r\n\r\n", 0, 200, "hello 0123456789");
}
END_TEST

START_TEST(http_resp__body_until_close)
{
	struct http_resp r;
	struct sink *s = calloc(1, sizeof(*s));
	size_t taken;

	http_resp_init(&r, sink_body, s);
	ck_assert_int_eq(feed(&r, "HTTP/1.1 200 OK\r\n\r\nabc", 0, &taken),
	    CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(http_resp_eof(&r), 0);
	ck_assert_uint_eq(s->len, 3);
	/* A Content-Length body cut short is not complete. */
	http_resp_init(&r, sink_body, s);
	ck_assert_int_eq(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
	    "\r\nabc", 0, &taken), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(http_resp_eof(&r), CAIRN_ERR_CLOSED);
	free(s);
}
END_TEST

START_TEST(http_resp__interim_skipped_and_rest_not_taken)
{
	struct http_resp r;
	struct sink *s = calloc(1, sizeof(*s));
	const char *t = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\nokEXTRA";
	size_t taken;

	http_resp_init(&r, sink_body, s);
	ck_assert_int_eq(feed(&r, t, 0, &taken), 0);
	ck_assert_int_eq(r.hr_status, 200);
	ck_assert_uint_eq(taken, strlen(t) - 5);
	free(s);
}
END_TEST

START_TEST(http_resp__hostile_framing_refused)
{
	static const struct { const char *text; int rc; } cases[] = {
		{ "HTTP/2 200 OK\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 2000 OK\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 099 x\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		  CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		  CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n",
		  CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "fffffffffffffff\r\n", CAIRN_ERR_TOO_BIG },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n", CAIRN_ERR_PROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "2\r\nabX\r\n", CAIRN_ERR_PROTO },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		whole_and_bytewise(cases[i].text, cases[i].rc, 0, "");
}
END_TEST

START_TEST(http_resp__line_and_header_caps)
{
	struct http_resp r;
	struct bytes_w w;
	size_t i, used;

	bytes_w_init(&w, 1 << 20);
	bytes_put_str(&w, "HTTP/1.1 200 OK\r\nX: ");
	for (i = 0; i < HTTP_MAX_LINE; i++)
		bytes_put_u8(&w, 'a');
	http_resp_init(&r, NULL, NULL);
	ck_assert_int_eq(http_resp_feed(&r, w.buf, w.len, &used),
	    CAIRN_ERR_TOO_BIG);
	/* Every later call refuses. */
	ck_assert_int_eq(http_resp_feed(&r, (const uint8_t *)"\r\n", 2,
	    &used), CAIRN_ERR_PROTO);
	bytes_w_reset(&w);
	bytes_put_str(&w, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i <= HTTP_MAX_HEADERS; i++)
		bytes_printf(&w, "X-%zu: y\r\n", i);
	http_resp_init(&r, NULL, NULL);
	ck_assert_int_eq(http_resp_feed(&r, w.buf, w.len, &used),
	    CAIRN_ERR_TOO_BIG);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(http_resp__body_callback_error_stops)
{
	struct http_resp r;
	struct sink *s = calloc(1, sizeof(*s));
	size_t taken;

	s->fail = 1;
	http_resp_init(&r, sink_body, s);
	ck_assert_int_eq(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "\r\nabc", 0, &taken), CAIRN_ERR_TOO_BIG);
	free(s);
}
END_TEST

struct lines_seen {
	char	v[8][64];
	size_t	n;
};

static int
on_line(void *arg, char *line, size_t len)
{
	struct lines_seen *l = arg;

	ck_assert_uint_eq(strlen(line), len);
	if (strcmp(line, "stop") == 0)
		return CAIRN_ERR_PROTO;
	ck_assert_uint_lt(l->n, 8);
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", line);
	return 0;
}

START_TEST(http_lines__split_caps_and_stop)
{
	struct http_lines hl;
	struct lines_seen seen;
	const char *t = "{\"a\":1}\r\n\n{\"b\"";

	memset(&seen, 0, sizeof(seen));
	http_lines_init(&hl, 16);
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)t, strlen(t),
	    on_line, &seen), 0);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_str_eq(seen.v[0], "{\"a\":1}");
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)":2}\n", 4,
	    on_line, &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_str_eq(seen.v[1], "{\"b\":2}");
	/* Exactly max is fine; one more is not, even without a newline. */
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)
	    "0123456789abcdef\n", 17, on_line, &seen), 0);
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)
	    "0123456789abcdefg", 17, on_line, &seen), CAIRN_ERR_TOO_BIG);
	http_lines_fini(&hl);
	http_lines_init(&hl, 16);
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)"stop\nx\n",
	    7, on_line, &seen), CAIRN_ERR_PROTO);
	ck_assert_int_eq(http_lines_feed(&hl, (const uint8_t *)"a\0b\n", 4,
	    on_line, &seen), CAIRN_ERR_PROTO);
	http_lines_fini(&hl);
}
END_TEST

static Suite *
http_resp_suite(void)
{
	Suite *s = suite_create("http_resp");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, http_resp__content_length);
	tcase_add_test(tc, http_resp__chunked_with_extensions_and_trailers);
	tcase_add_test(tc, http_resp__body_until_close);
	tcase_add_test(tc, http_resp__interim_skipped_and_rest_not_taken);
	tcase_add_test(tc, http_resp__hostile_framing_refused);
	tcase_add_test(tc, http_resp__line_and_header_caps);
	tcase_add_test(tc, http_resp__body_callback_error_stops);
	tcase_add_test(tc, http_lines__split_caps_and_stop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(http_resp_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
