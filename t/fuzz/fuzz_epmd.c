/*
 * Fuzz target for the EPMD codec (epmd/epmd_codec).  One input goes
 * through every decoder:
 *
 *   - as a byte stream, frame after frame through epmd_frame() and
 *     epmd_decode_req(), and also whole as one request payload;
 *   - each decoded request through epmd_check_alive2(), then back out
 *     through the client encoders: the re-encoding must frame, decode to
 *     the same fields, and equal the input's bytes (encoders are
 *     canonical);
 *   - the daemon's replies for it (PORT2_RESP, ALIVE2 replies, a NAMES
 *     line) through the client decoders, which must read them back;
 *   - whole through the client decoders epmd_decode_alive2_resp(),
 *     epmd_decode_port2_resp() and epmd_parse_names_line(), whose
 *     results must re-encode to the bytes they came from;
 *   - as a WATCH stream (Cairn's extension): an ack, then events one
 *     after another, each re-encoding to its bytes, a proper prefix of
 *     each being "need more".
 *
 * A broken invariant aborts, which libFuzzer and the replay report.
 * Built with -fsanitize=fuzzer under clang, or with t/fuzz/replay.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "epmd/epmd_codec.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Room for any frame or reply these inputs can produce. */
#define FUZZ_WMAX	(1 << 17)

static int
view_eq(struct bytes_view a, struct bytes_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* v lies inside in. */
static int
view_in(struct bytes_view v, struct bytes_view in)
{
	if (v.len == 0)
		return 1;
	return v.p >= in.p && v.len <= in.len &&
	    (size_t)(v.p - in.p) <= in.len - v.len;
}

static int
info_eq(const struct epmd_node_info *a, const struct epmd_node_info *b)
{
	return a->port == b->port && a->nodetype == b->nodetype &&
	    a->protocol == b->protocol && a->highvsn == b->highvsn &&
	    a->lowvsn == b->lowvsn && view_eq(a->name, b->name) &&
	    view_eq(a->extra, b->extra);
}

/* The daemon's replies to a good ALIVE2, read back by a client. */
static void
fuzz_alive2_replies(const struct epmd_node_info *a)
{
	struct epmd_node_info back;
	struct bytes_w w;
	uint32_t creation, want;
	uint8_t result;
	size_t used;

	bytes_w_init(&w, FUZZ_WMAX);
	FUZZ_ASSERT(epmd_encode_port2_resp(&w, a) == 0);
	FUZZ_ASSERT(epmd_decode_port2_resp(bytes_view_of(w.buf, w.len),
	    &result, &back, &used) == 0);
	FUZZ_ASSERT(result == 0 && used == w.len && info_eq(a, &back));

	/* Any creation the request's bytes suggest. */
	want = (uint32_t)a->port << 16 | a->lowvsn;
	bytes_w_reset(&w);
	FUZZ_ASSERT(epmd_encode_alive2_resp(&w, 0, want, a->highvsn) == 0);
	FUZZ_ASSERT(w.len == (a->highvsn >= 6 ? 6u : 4u));
	FUZZ_ASSERT(epmd_decode_alive2_resp(bytes_view_of(w.buf, w.len),
	    &result, &creation, &used) == 0);
	FUZZ_ASSERT(result == 0 && used == w.len);
	FUZZ_ASSERT(creation == (a->highvsn >= 6 ? want : (want & 0xffff)));
	bytes_w_fini(&w);
}

/* NAMES line for a looked-up name: what the daemon writes, a client
 * parses back (empty names are not registered, so not listed). */
static void
fuzz_names_line(struct bytes_view name, unsigned port)
{
	struct bytes_view got;
	struct bytes_w w;
	uint16_t gport;

	bytes_w_init(&w, FUZZ_WMAX);
	FUZZ_ASSERT(epmd_encode_names_line(&w, name, port) == 0);
	FUZZ_ASSERT(w.len > 0 && w.buf[w.len - 1] == '\n');
	FUZZ_ASSERT(epmd_parse_names_line(bytes_view_of(w.buf, w.len - 1),
	    &got, &gport) == 0);
	FUZZ_ASSERT(view_eq(got, name) && gport == port);
	bytes_w_fini(&w);
}

/* Re-encodes a decoded request with the client encoders. */
static void
fuzz_roundtrip(struct bytes_view payload, const struct epmd_req *req)
{
	struct bytes_view pl;
	struct epmd_req back;
	struct bytes_w w;
	size_t used, n;
	int rc;

	bytes_w_init(&w, FUZZ_WMAX);
	switch (req->tag) {
	case EPMD_ALIVE2_REQ:
		rc = epmd_encode_alive2_req(&w, &req->alive);
		/* Canonical: the input up to the end of extra. */
		n = 13 + req->alive.name.len + req->alive.extra.len;
		break;
	case EPMD_PORT2_REQ:
		rc = epmd_encode_port2_req(&w, req->name);
		/* The input without its optional trailing NUL. */
		n = 1 + req->name.len;
		break;
	case EPMD_STOP_REQ:
		rc = epmd_encode_stop_req(&w, req->name);
		/* The input up to the name's first NUL. */
		n = 1 + req->name.len;
		break;
	case EPMD_WATCH_REQ:
		/* The tag and the version; trailing bytes are ignored. */
		rc = epmd_encode_watch_req(&w);
		n = 2;
		break;
	default:
		rc = epmd_encode_simple_req(&w, req->tag);
		n = 1;
		break;
	}
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(w.len == 2 + n && n <= payload.len);
	FUZZ_ASSERT(memcmp(w.buf + 2, payload.p, n) == 0);
	FUZZ_ASSERT(epmd_frame(bytes_view_of(w.buf, w.len), &pl, &used) == 0);
	FUZZ_ASSERT(used == w.len);
	rc = epmd_decode_req(pl, &back, NULL);
	if ((req->tag == EPMD_STOP_REQ && req->name.len == 0) ||
	    (req->tag == EPMD_ALIVE2_REQ && n <= 13)) {
		/*
		 * The input was longer than its canonical form, which alone
		 * is too short: "s" NUL decodes to an empty name but "s" is
		 * refused; an ALIVE2 with neither name nor extra passes OTP's
		 * size check (over 13 bytes) only with trailing bytes.
		 */
		FUZZ_ASSERT(rc == CAIRN_ERR_PROTO);
		bytes_w_fini(&w);
		return;
	}
	FUZZ_ASSERT(rc == 0 && back.tag == req->tag);
	switch (req->tag) {
	case EPMD_ALIVE2_REQ:
		FUZZ_ASSERT(info_eq(&back.alive, &req->alive));
		break;
	case EPMD_PORT2_REQ:
	case EPMD_STOP_REQ:
		FUZZ_ASSERT(view_eq(back.name, req->name));
		break;
	}
	bytes_w_fini(&w);
}

/* One request payload through the daemon's decoder. */
static void
fuzz_request(struct bytes_view payload)
{
	struct epmd_req req;
	const char *why = NULL;
	int rc;

	rc = epmd_decode_req(payload, &req, &why);
	if (rc != 0) {
		FUZZ_ASSERT(rc == CAIRN_ERR_PROTO && why != NULL);
		return;
	}
	FUZZ_ASSERT(payload.len >= 1 && req.tag == payload.p[0]);
	switch (req.tag) {
	case EPMD_ALIVE2_REQ:
		FUZZ_ASSERT(payload.len > 13);
		FUZZ_ASSERT(view_in(req.alive.name, payload));
		FUZZ_ASSERT(view_in(req.alive.extra, payload));
		FUZZ_ASSERT(req.alive.name.len == 0 ||
		    memchr(req.alive.name.p, '\0', req.alive.name.len) == NULL);
		rc = epmd_check_alive2(&req.alive, &why);
		FUZZ_ASSERT(rc == 0 || (rc == CAIRN_ERR_INVAL && why != NULL));
		if (rc == 0) {
			FUZZ_ASSERT(req.alive.name.len >= 1 &&
			    req.alive.name.len <= EPMD_MAXSYMLEN &&
			    req.alive.extra.len <= EPMD_MAXSYMLEN);
			fuzz_alive2_replies(&req.alive);
		}
		break;
	case EPMD_PORT2_REQ:
		FUZZ_ASSERT(req.name.len >= 1 && view_in(req.name, payload));
		FUZZ_ASSERT(req.name.len <= EPMD_MAXSYMLEN);
		fuzz_names_line(req.name, payload.len & 0xffff);
		break;
	case EPMD_STOP_REQ:
		FUZZ_ASSERT(view_in(req.name, payload));
		break;
	case EPMD_NAMES_REQ:
	case EPMD_DUMP_REQ:
	case EPMD_KILL_REQ:
		break;
	case EPMD_WATCH_REQ:
		FUZZ_ASSERT(payload.len >= 2 &&
		    req.version == EPMD_WATCH_VERSION);
		break;
	default:
		FUZZ_ASSERT(req.tag == EPMD_NAMES_REQ);	/* unknown tag */
	}
	fuzz_roundtrip(payload, &req);
}

/* The input as replies a client reads. */
static void
fuzz_replies(struct bytes_view in)
{
	struct epmd_node_info a;
	struct bytes_view name;
	struct bytes_w w;
	uint32_t creation;
	uint16_t port;
	uint8_t result;
	size_t used;
	int rc;

	bytes_w_init(&w, FUZZ_WMAX);
	rc = epmd_decode_alive2_resp(in, &result, &creation, &used);
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_NEED_MORE ||
	    rc == CAIRN_ERR_PROTO);
	if (rc == 0) {
		FUZZ_ASSERT(used <= in.len);
		FUZZ_ASSERT(epmd_encode_alive2_resp(&w, result, creation,
		    in.p[0] == EPMD_ALIVE2_X_RESP ? 6 : 5) == 0);
		FUZZ_ASSERT(w.len == used && memcmp(w.buf, in.p, used) == 0);
	}

	bytes_w_reset(&w);
	rc = epmd_decode_port2_resp(in, &result, &a, &used);
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_NEED_MORE ||
	    rc == CAIRN_ERR_PROTO);
	if (rc == 0 && result == 0) {
		FUZZ_ASSERT(used <= in.len);
		FUZZ_ASSERT(view_in(a.name, in) && view_in(a.extra, in));
		FUZZ_ASSERT(epmd_encode_port2_resp(&w, &a) == 0);
		FUZZ_ASSERT(w.len == used && memcmp(w.buf, in.p, used) == 0);
	} else if (rc == 0)
		FUZZ_ASSERT(used == 2);

	/* A NAMES line parses back from its own encoding; only a port
	 * with leading zeros has another spelling. */
	bytes_w_reset(&w);
	rc = epmd_parse_names_line(in, &name, &port);
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_PROTO);
	if (rc == 0) {
		FUZZ_ASSERT(name.len >= 1 && view_in(name, in));
		fuzz_names_line(name, port);
	}
	bytes_w_fini(&w);
}

/* The input as a WATCH stream: the ack, then events. */
static void
fuzz_watch(struct bytes_view in)
{
	struct epmd_watch_event ev, back;
	struct bytes_w w;
	size_t used, used2;
	int rc;

	bytes_w_init(&w, FUZZ_WMAX);
	rc = epmd_decode_watch_ack(in, &used);
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_NEED_MORE ||
	    rc == CAIRN_ERR_PROTO);
	if (rc == 0) {
		FUZZ_ASSERT(epmd_encode_watch_ack(&w) == 0 && w.len == used &&
		    memcmp(w.buf, in.p, used) == 0);
		in.p += used;
		in.len -= used;
	}
	while ((rc = epmd_decode_watch_event(in, &ev, &used)) == 0) {
		FUZZ_ASSERT(used >= 5 && used <= in.len &&
		    view_in(ev.name, in));
		bytes_w_reset(&w);
		FUZZ_ASSERT(epmd_encode_watch_event(&w, ev.kind, ev.port,
		    ev.name) == 0);
		FUZZ_ASSERT(w.len == used && memcmp(w.buf, in.p, used) == 0);
		/* Every proper prefix waits for more. */
		FUZZ_ASSERT(epmd_decode_watch_event(bytes_view_of(in.p,
		    used - 1), &back, &used2) == CAIRN_ERR_NEED_MORE);
		in.p += used;
		in.len -= used;
	}
	FUZZ_ASSERT(rc == CAIRN_ERR_NEED_MORE || rc == CAIRN_ERR_PROTO);
	bytes_w_fini(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes_view in = bytes_view_of(data, size), pl;
	size_t used;
	int rc;

	/* A stream of frames, as the daemon reads a connection. */
	while ((rc = epmd_frame(in, &pl, &used)) == 0) {
		FUZZ_ASSERT(used >= 3 && used <= in.len &&
		    used < EPMD_INBUF_SIZE && pl.len == used - 2);
		fuzz_request(pl);
		in.p += used;
		in.len -= used;
	}
	FUZZ_ASSERT(rc == CAIRN_ERR_NEED_MORE || rc == CAIRN_ERR_PROTO ||
	    rc == CAIRN_ERR_TOO_BIG);

	/* The whole input as one payload, so seeds need no framing; only
	 * sizes a frame can carry. */
	if (size <= EPMD_MAX_PAYLOAD)
		fuzz_request(bytes_view_of(data, size));
	fuzz_replies(bytes_view_of(data, size));
	fuzz_watch(bytes_view_of(data, size));
	return 0;
}
