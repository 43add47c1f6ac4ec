/*
 * Check units for broker/net/ws: the accept key (RFC 6455's example),
 * the upgrade request and each refusal with its HTTP status, a request
 * fed one byte at a time and every proper prefix of it, and frames
 * through wslay over memory: masked binary frames, fragments, ping and
 * pong, the peer's close, output framing, and each bad frame (text,
 * unmasked, over the cap, a 2^63 length) answered by its close code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/net/ws.h"
#include "common/err.h"

/* paho-mqtt 1.6's request, as it sends it (Host, then its headers). */
static const char paho_req[] =
    "GET /mqtt HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Origin: https://localhost:8080\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: mqtt\r\n\r\n";

/* RFC 6455 section 5.2 opcodes, written out so the test does not
 * lean on wslay's header. */
enum { OP_CONT = 0, OP_TEXT = 1, OP_BIN = 2, OP_CLOSE = 8, OP_PING = 9 };

static const char accept_ok[] =
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

static struct ws_conf conf;
static struct bytes_w app, wire;

static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.wc_max_request = 4096;
	conf.wc_max_frame = 1024;
	bytes_w_init(&app, 1 << 20);
	bytes_w_init(&wire, 1 << 20);
}

static void
teardown(void)
{
	bytes_w_fini(&app);
	bytes_w_fini(&wire);
}

/* wire's bytes as a NUL-ended string (for the HTTP answer). */
static const char *
wire_str(void)
{
	static char s[4096];
	size_t n = wire.len < sizeof(s) - 1 ? wire.len : sizeof(s) - 1;

	memcpy(s, wire.buf, n);
	s[n] = '\0';
	return s;
}

/* A client frame: fin, opcode, masked or not, payload (len < 2^16). */
static size_t
frame(uint8_t *out, int fin, int op, int mask, const void *p, size_t len)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	const uint8_t *b = p;
	size_t n = 0, i;

	out[n++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (len < 126)
		out[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
	else {
		out[n++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	}
	if (mask) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	for (i = 0; i < len; i++)
		out[n++] = mask ? b[i] ^ key[i % 4] : b[i];
	return n;
}

/* A connection past a good upgrade; wire emptied. */
static struct ws *
open_ws(void)
{
	struct ws *w = ws_new(&conf);

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(ws_input(w, (const uint8_t *)paho_req,
	    strlen(paho_req), &app, &wire), 0);
	ck_assert_int_eq(ws_state(w), WS_OPEN);
	bytes_w_reset(&wire);
	return w;
}

START_TEST(ws__accept_key_rfc6455)
{
	char out[WS_ACCEPT_LEN];

	/* RFC 6455 section 1.3's example. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* Not 16 bytes, bad alphabet, no padding. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25j", 20, out),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZ*==", 24, out),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", 24, out),
	    CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(ws__upgrade_ok)
{
	struct ws *w = ws_new(&conf);

	ck_assert_int_eq(ws_state(w), WS_UPGRADE);
	ck_assert_int_eq(ws_input(w, (const uint8_t *)paho_req,
	    strlen(paho_req), &app, &wire), 0);
	ck_assert_int_eq(ws_state(w), WS_OPEN);
	ck_assert_int_eq(ws_http_status(w), 101);
	ck_assert_str_eq(ws_protocol(w), "mqtt");
	ck_assert_ptr_nonnull(strstr(wire_str(),
	    "HTTP/1.1 101 Switching Protocols\r\n"));
	ck_assert_ptr_nonnull(strstr(wire_str(), accept_ok));
	ck_assert_ptr_nonnull(strstr(wire_str(),
	    "Sec-WebSocket-Protocol: mqtt\r\n"));
	ck_assert_int_eq(app.len, 0);
	ws_free(w);
}
END_TEST

/* One byte per call, and every proper prefix is "read more". */
START_TEST(ws__upgrade_bytewise)
{
	size_t i, len = strlen(paho_req);
	struct ws *w = ws_new(&conf);

	for (i = 0; i < len; i++) {
		ck_assert_int_eq(ws_state(w), WS_UPGRADE);
		ck_assert_uint_eq(wire.len, 0);
		ck_assert_int_eq(ws_input(w, (const uint8_t *)paho_req + i, 1,
		    &app, &wire), 0);
	}
	ck_assert_int_eq(ws_state(w), WS_OPEN);
	ck_assert_ptr_nonnull(strstr(wire_str(), accept_ok));
	ws_free(w);
}
END_TEST

/* MQTT.js asks for mqttv3.1 with protocolVersion 3. */
START_TEST(ws__upgrade_mqttv31)
{
	static const char req[] =
	    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: foo, mqttv3.1\r\n\r\n";
	struct ws *w = ws_new(&conf);

	ck_assert_int_eq(ws_input(w, (const uint8_t *)req, strlen(req), &app,
	    &wire), 0);
	ck_assert_str_eq(ws_protocol(w), "mqttv3.1");
	ck_assert_ptr_nonnull(strstr(wire_str(),
	    "Sec-WebSocket-Protocol: mqttv3.1\r\n"));
	ws_free(w);
}
END_TEST

struct refusal {
	const char	*req;
	int		 status;
};

#define RQ(first, rest) first "\r\nHost: h\r\n" rest "\r\n"
#define GOODH "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Version: 13\r\n"

static const struct refusal refusals[] = {
	/* Not GET. */
	{ RQ("POST /mqtt HTTP/1.1", GOODH), 400 },
	/* HTTP/1.0. */
	{ RQ("GET /mqtt HTTP/1.0", GOODH), 400 },
	/* No Upgrade header: a plain HTTP GET. */
	{ RQ("GET / HTTP/1.1", ""), 426 },
	/* Upgrade to something else. */
	{ RQ("GET / HTTP/1.1", "Upgrade: h2c\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n"), 426 },
	/* Version 8 (hybi-08). */
	{ RQ("GET / HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 8\r\n"), 426 },
	/* No upgrade token in Connection. */
	{ RQ("GET / HTTP/1.1", "Upgrade: websocket\r\nConnection: close\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n"), 400 },
	/* A key of 4 bytes. */
	{ RQ("GET / HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: AAAAAA==\r\nSec-WebSocket-Version: 13\r\n"),
	    400 },
	/* No key. */
	{ RQ("GET / HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"), 400 },
	/* Two keys. */
	{ RQ("GET / HTTP/1.1", GOODH
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), 400 },
	/* Subprotocols but not ours. */
	{ RQ("GET / HTTP/1.1", GOODH "Sec-WebSocket-Protocol: chat\r\n"), 400 },
	/* No Host. */
	{ "GET / HTTP/1.1\r\n" GOODH "\r\n", 400 },
	/* Not HTTP. */
	{ "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", 400 },
	/* A header value over WS_MAX_VALUE. */
	{ RQ("GET / HTTP/1.1", GOODH "Origin: http://"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\r\n"), 400 },
};

START_TEST(ws__upgrade_refused)
{
	const struct refusal *r = &refusals[_i];
	char want[32];
	struct ws *w = ws_new(&conf);
	int rc;

	rc = ws_input(w, (const uint8_t *)r->req, strlen(r->req), &app, &wire);
	ck_assert_msg(rc == CAIRN_ERR_PROTO, "case %d: rc %d", _i, rc);
	ck_assert_int_eq(ws_state(w), WS_CLOSING);
	ck_assert_msg(ws_http_status(w) == r->status, "case %d: %d, not %d",
	    _i, ws_http_status(w), r->status);
	ck_assert_ptr_nonnull(ws_reason(w));
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", r->status);
	ck_assert_msg(strncmp(wire_str(), want, strlen(want)) == 0,
	    "case %d: %s", _i, wire_str());
	if (r->status == 426)
		ck_assert_ptr_nonnull(strstr(wire_str(),
		    "Sec-WebSocket-Version: 13\r\n"));
	/* Sticky: more input changes nothing. */
	ck_assert_int_eq(ws_input(w, (const uint8_t *)"x", 1, &app, &wire),
	    CAIRN_ERR_PROTO);
	ck_assert_uint_eq(app.len, 0);
	ws_free(w);
}
END_TEST

/* The first rule broken is the reason, however the bytes are split
 * (found by fuzz_ws: a repeated header's value went on growing). */
START_TEST(ws__upgrade_first_reason)
{
	char req[1024];
	size_t i, len;
	struct ws *w = ws_new(&conf);
	int rc = 0;

	len = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Host: %0300d\r\n" GOODH "\r\n", 7);
	for (i = 0; i < len && rc == 0; i += 7)
		rc = ws_input(w, (const uint8_t *)req + i,
		    len - i < 7 ? len - i : 7, &app, &wire);
	ck_assert_int_eq(rc, CAIRN_ERR_PROTO);
	ck_assert_str_eq(ws_reason(w), "a header repeated");
	ws_free(w);
}
END_TEST

START_TEST(ws__upgrade_origin)
{
	static char *const origins[] = { "https://example.org",
	    "https://localhost:8080" };
	struct ws *w;

	conf.wc_origins = origins;
	conf.wc_norigins = 2;
	w = ws_new(&conf);
	ck_assert_int_eq(ws_input(w, (const uint8_t *)paho_req,
	    strlen(paho_req), &app, &wire), 0);
	ck_assert_int_eq(ws_http_status(w), 101);
	ws_free(w);

	conf.wc_norigins = 1;
	bytes_w_reset(&wire);
	w = ws_new(&conf);
	ck_assert_int_eq(ws_input(w, (const uint8_t *)paho_req,
	    strlen(paho_req), &app, &wire), CAIRN_ERR_PROTO);
	ck_assert_int_eq(ws_http_status(w), 403);
	ck_assert_str_eq(ws_reason(w), "Origin not allowed");
	ws_free(w);
}
END_TEST

/* A request that never ends is cut at wc_max_request bytes. */
START_TEST(ws__upgrade_cap)
{
	char line[64];
	struct ws *w;
	int i, rc = 0;

	conf.wc_max_request = 512;
	w = ws_new(&conf);
	rc = ws_input(w, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, &app,
	    &wire);
	for (i = 0; i < 100 && rc == 0; i++) {
		snprintf(line, sizeof(line), "X-Pad-%d: 0123456789\r\n", i);
		rc = ws_input(w, (const uint8_t *)line, strlen(line), &app,
		    &wire);
	}
	ck_assert_int_eq(rc, CAIRN_ERR_PROTO);
	ck_assert_int_lt(i, 40);
	ck_assert_int_eq(ws_http_status(w), 400);
	ws_free(w);
}
END_TEST

START_TEST(ws__frames_binary)
{
	uint8_t buf[256];
	size_t n;
	struct ws *w = open_ws();

	/* One CONNECT split over two frames, and a PINGREQ after it in
	 * the same frame as the CONNECT's end: no alignment. */
	n = frame(buf, 1, OP_BIN, 1, "\x10\x0c\x00\x04MQ", 6);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), 0);
	n = frame(buf, 1, OP_BIN, 1, "TT\x04\x02\x00\x3c\x00\x00"
	    "\xc0\x00", 10);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), 0);
	ck_assert_uint_eq(app.len, 16);
	ck_assert_mem_eq(app.buf, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00"
	    "\x00\xc0\x00", 16);
	ck_assert_uint_eq(wire.len, 0);
	ws_free(w);
}
END_TEST

/* A fragmented message with a ping between fragments, fed bytewise. */
START_TEST(ws__frames_fragmented_ping)
{
	uint8_t buf[256];
	size_t n = 0, i;
	struct ws *w = open_ws();

	n += frame(buf + n, 0, OP_BIN, 1, "abc", 3);
	n += frame(buf + n, 1, OP_PING, 1, "hi", 2);
	n += frame(buf + n, 0, OP_CONT, 1, "def", 3);
	n += frame(buf + n, 1, OP_CONT, 1, "g", 1);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ws_input(w, buf + i, 1, &app, &wire), 0);
	ck_assert_uint_eq(app.len, 7);
	ck_assert_mem_eq(app.buf, "abcdefg", 7);
	/* The pong: unmasked, the ping's payload. */
	ck_assert_uint_eq(wire.len, 4);
	ck_assert_mem_eq(wire.buf, "\x8a\x02hi", 4);
	ws_free(w);
}
END_TEST

/* The client sends CONNECT right behind the request, in one read. */
START_TEST(ws__frames_after_request)
{
	uint8_t buf[1024];
	size_t n = strlen(paho_req);
	struct ws *w = ws_new(&conf);

	memcpy(buf, paho_req, n);
	n += frame(buf + n, 1, OP_BIN, 1, "\xc0\x00", 2);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), 0);
	ck_assert_int_eq(ws_state(w), WS_OPEN);
	ck_assert_uint_eq(app.len, 2);
	ck_assert_mem_eq(app.buf, "\xc0\x00", 2);
	ws_free(w);
}
END_TEST

START_TEST(ws__output)
{
	uint8_t big[300];
	struct ws *w = open_ws();

	ck_assert_int_eq(ws_output(w, (const uint8_t *)"\xd0\x00", 2, &wire),
	    0);
	ck_assert_uint_eq(wire.len, 4);
	ck_assert_mem_eq(wire.buf, "\x82\x02\xd0\x00", 4);
	bytes_w_reset(&wire);
	memset(big, 7, sizeof(big));
	ck_assert_int_eq(ws_output(w, big, sizeof(big), &wire), 0);
	ck_assert_uint_eq(wire.len, 4 + sizeof(big));
	ck_assert_mem_eq(wire.buf, "\x82\x7e\x01\x2c", 4);
	ws_free(w);
}
END_TEST

/* wire_out full: wslay keeps the rest, ws_flush() hands it on. */
START_TEST(ws__output_backpressure)
{
	uint8_t big[100];
	struct bytes_w small;
	struct ws *w = open_ws();

	bytes_w_init(&small, 40);
	memset(big, 7, sizeof(big));
	ck_assert_int_eq(ws_output(w, big, sizeof(big), &small), 0);
	ck_assert_uint_eq(small.len, 40);
	ck_assert_int_eq(ws_want_write(w), 1);
	bytes_w_reset(&small);
	ck_assert_int_eq(ws_flush(w, &small), 0);
	bytes_w_reset(&small);
	ck_assert_int_eq(ws_flush(w, &small), 0);
	ck_assert_uint_eq(small.len, 102 - 80);
	ck_assert_int_eq(ws_want_write(w), 0);
	bytes_w_fini(&small);
	ws_free(w);
}
END_TEST

/* The close frame in wire: 0x88, length 2, the code. */
static void
assert_closed_with(uint16_t code)
{
	ck_assert_uint_ge(wire.len, 4);
	ck_assert_uint_eq(wire.buf[0], 0x88);
	ck_assert_uint_eq(wire.buf[2], code >> 8);
	ck_assert_uint_eq(wire.buf[3], code & 0xff);
}

START_TEST(ws__frames_text_refused)
{
	uint8_t buf[64];
	size_t n;
	struct ws *w = open_ws();

	n = frame(buf, 1, OP_TEXT, 1, "hello", 5);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), CAIRN_ERR_PROTO);
	ck_assert_int_eq(ws_state(w), WS_CLOSING);
	ck_assert_uint_eq(app.len, 0);
	assert_closed_with(1003);
	ck_assert_ptr_nonnull(strstr(ws_reason(w), "text"));
	ws_free(w);
}
END_TEST

START_TEST(ws__frames_unmasked_refused)
{
	uint8_t buf[64];
	size_t n;
	struct ws *w = open_ws();

	n = frame(buf, 1, OP_BIN, 0, "\xc0\x00", 2);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), CAIRN_ERR_PROTO);
	ck_assert_uint_eq(app.len, 0);
	assert_closed_with(1002);
	ck_assert_ptr_nonnull(strstr(ws_reason(w), "unmasked"));
	ws_free(w);
}
END_TEST

START_TEST(ws__frames_oversize_refused)
{
	uint8_t buf[2048];
	size_t n;
	struct ws *w = open_ws();

	memset(buf + 1000, 'x', 1025);
	n = frame(buf, 1, OP_BIN, 1, buf + 1000, 1025);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), CAIRN_ERR_PROTO);
	ck_assert_uint_eq(app.len, 0);
	assert_closed_with(1009);
	ws_free(w);
}
END_TEST

/* A 64-bit length with its top bit set: malformed, nothing read. */
START_TEST(ws__frames_huge_length)
{
	static const uint8_t huge[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0,
	    1, 2, 3, 4 };
	/* wslay looks at a frame's length with its first payload byte. */
	static const uint8_t big[] = { 0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0,
	    1, 2, 3, 4, 0x55 };
	struct ws *w = open_ws();

	ck_assert_int_eq(ws_input(w, huge, sizeof(huge), &app, &wire),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(ws_state(w), WS_CLOSING);
	ws_free(w);
	bytes_w_reset(&wire);
	/* 4 GiB: within the format, over the cap. */
	w = open_ws();
	ck_assert_int_eq(ws_input(w, big, sizeof(big), &app, &wire),
	    CAIRN_ERR_PROTO);
	assert_closed_with(1009);
	ck_assert_uint_eq(app.len, 0);
	ws_free(w);
}
END_TEST

START_TEST(ws__frames_peer_close)
{
	uint8_t buf[64];
	size_t n;
	struct ws *w = open_ws();

	n = frame(buf, 1, OP_CLOSE, 1, "\x03\xe8", 2);
	ck_assert_int_eq(ws_input(w, buf, n, &app, &wire), CAIRN_ERR_CLOSED);
	ck_assert_int_eq(ws_state(w), WS_CLOSING);
	assert_closed_with(1000);
	ws_free(w);
}
END_TEST

/* Pings from a peer that never reads its pongs: cut past the limit. */
START_TEST(ws__frames_ping_flood)
{
	uint8_t buf[64];
	struct bytes_w tiny;
	size_t n;
	int i, rc = 0;
	struct ws *w = open_ws();

	bytes_w_init(&tiny, 8);
	n = frame(buf, 1, OP_PING, 1, "0123456789", 10);
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = ws_input(w, buf, n, &app, &tiny);
	ck_assert_int_eq(rc, CAIRN_ERR_LIMIT);
	ck_assert_int_le(i, WS_MAX_QUEUED + 2);
	bytes_w_fini(&tiny);
	ws_free(w);
}
END_TEST

START_TEST(ws__close_ours)
{
	struct ws *w = open_ws();

	ck_assert_int_eq(ws_close(w, 1001, &wire), 0);
	assert_closed_with(1001);
	ck_assert_int_eq(ws_state(w), WS_CLOSING);
	ck_assert_int_eq(ws_output(w, (const uint8_t *)"x", 1, &wire),
	    CAIRN_ERR_INVAL);
	ws_free(w);
	ws_free(NULL);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("upgrade");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ws__accept_key_rfc6455);
	tcase_add_test(tc, ws__upgrade_ok);
	tcase_add_test(tc, ws__upgrade_bytewise);
	tcase_add_test(tc, ws__upgrade_mqttv31);
	tcase_add_loop_test(tc, ws__upgrade_refused, 0,
	    (int)(sizeof(refusals) / sizeof(refusals[0])));
	tcase_add_test(tc, ws__upgrade_first_reason);
	tcase_add_test(tc, ws__upgrade_origin);
	tcase_add_test(tc, ws__upgrade_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ws__frames_binary);
	tcase_add_test(tc, ws__frames_fragmented_ping);
	tcase_add_test(tc, ws__frames_after_request);
	tcase_add_test(tc, ws__output);
	tcase_add_test(tc, ws__output_backpressure);
	tcase_add_test(tc, ws__frames_text_refused);
	tcase_add_test(tc, ws__frames_unmasked_refused);
	tcase_add_test(tc, ws__frames_oversize_refused);
	tcase_add_test(tc, ws__frames_huge_length);
	tcase_add_test(tc, ws__frames_peer_close);
	tcase_add_test(tc, ws__frames_ping_flood);
	tcase_add_test(tc, ws__close_ours);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ws_suite());
	int nf;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
