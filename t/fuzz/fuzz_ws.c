/*
 * Fuzz target for broker/net/ws: the upgrade request and the frames
 * after it, as a server reads them.  The first input byte picks a read
 * size (1 to 64 bytes); the rest is fed once whole and once in reads
 * of that size, into two connections.  Invariants:
 *
 *   - a connection ends WS_UPGRADE, WS_OPEN or WS_CLOSING, and says
 *     why when it is closing on an error;
 *   - the MQTT bytes handed on are never more than what was fed;
 *   - how the bytes were split into reads changes nothing: the same
 *     state, HTTP status, reason and MQTT bytes either way, and the
 *     same answer bytes while the connection is open (but for a close
 *     frame with a bad reason: see below).
 *
 * Seeds in t/fuzz/corpus/ws/: the bytes paho-mqtt and MQTT.js send
 * (their upgrade requests and first frames, recorded by
 * t/fuzz/ws_capture.py), and hand-made attacks (unmasked, text, huge
 * lengths, pings).  A broken invariant aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/ws.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *const fuzz_origins[] = { "http://localhost" };

struct fuzz_run {
	struct ws	*w;
	struct bytes_w	 app;
	struct bytes_w	 wire;
	int		 rc;
};

static void
fuzz_feed(struct fuzz_run *r, const struct ws_conf *conf,
    const uint8_t *p, size_t len, size_t step)
{
	size_t off, n;

	FUZZ_ASSERT((r->w = ws_new(conf)) != NULL);
	bytes_w_init(&r->app, 1 << 20);
	bytes_w_init(&r->wire, 1 << 20);
	r->rc = 0;
	for (off = 0; off < len && r->rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		r->rc = ws_input(r->w, p + off, n, &r->app, &r->wire);
	}
	FUZZ_ASSERT(r->rc == 0 || r->rc == CAIRN_ERR_PROTO ||
	    r->rc == CAIRN_ERR_CLOSED || r->rc == CAIRN_ERR_LIMIT);
	FUZZ_ASSERT(r->app.len <= len);
	switch (ws_state(r->w)) {
	case WS_UPGRADE:
		FUZZ_ASSERT(r->rc == 0 && r->app.len == 0 &&
		    ws_http_status(r->w) == 0);
		break;
	case WS_OPEN:
		FUZZ_ASSERT(r->rc == 0 && ws_http_status(r->w) == 101);
		break;
	case WS_CLOSING:
		FUZZ_ASSERT(r->rc != 0 && ws_reason(r->w) != NULL);
		break;
	default:
		FUZZ_ASSERT(0);
	}
}

static int
fuzz_close_utf8(const struct fuzz_run *r)
{
	const char *why = ws_reason(r->w);

	return why != NULL && strstr(why, "not UTF-8") != NULL;
}

static void
fuzz_done(struct fuzz_run *r)
{
	ws_free(r->w);
	bytes_w_fini(&r->app);
	bytes_w_fini(&r->wire);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_conf conf = {
		.wc_max_request = 2048,
		.wc_max_frame = 512,
		.wc_origins = fuzz_origins,
		.wc_norigins = 0,
	};
	struct fuzz_run whole, split;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] & 63) + 1;
	/* Odd first bytes also turn the Origin allow-list on. */
	conf.wc_norigins = data[0] & 0x80 ? 1 : 0;
	data++;
	size--;
	fuzz_feed(&whole, &conf, data, size, size > 0 ? size : 1);
	fuzz_feed(&split, &conf, data, size, step);
	/*
	 * wslay checks a close frame's reason for UTF-8 chunk by chunk,
	 * skipping the first two bytes of each chunk rather than of the
	 * frame, so whether (and when) a bad reason is caught depends on
	 * the reads.  Either way the peer is closing; the rest must agree.
	 */
	if (fuzz_close_utf8(&whole) || fuzz_close_utf8(&split)) {
		fuzz_done(&whole);
		fuzz_done(&split);
		return 0;
	}
	FUZZ_ASSERT(ws_state(whole.w) == ws_state(split.w));
	FUZZ_ASSERT(ws_http_status(whole.w) == ws_http_status(split.w));
	FUZZ_ASSERT(whole.rc == split.rc);
	FUZZ_ASSERT(whole.app.len == split.app.len && (whole.app.len == 0 ||
	    memcmp(whole.app.buf, split.app.buf, whole.app.len) == 0));
	FUZZ_ASSERT(ws_reason(whole.w) == ws_reason(split.w));
	/* A close queued by wslay goes before pongs still queued, so the
	 * answers may differ once the connection is closing. */
	if (ws_state(whole.w) != WS_CLOSING)
		FUZZ_ASSERT(whole.wire.len == split.wire.len &&
		    (whole.wire.len == 0 || memcmp(whole.wire.buf,
		    split.wire.buf, whole.wire.len) == 0));
	fuzz_done(&whole);
	fuzz_done(&split);
	return 0;
}
