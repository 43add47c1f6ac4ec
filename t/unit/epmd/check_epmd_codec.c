/*
 * Unit tests for epmd/epmd_codec: framing, every request the daemon
 * decodes (with OTP 25's acceptance rules: erts/epmd/src/epmd_srv.c
 * do_read() and do_request()), the registration checks, every reply
 * byte for byte, and the client side's encoders and decoders.  The
 * byte-level cases of OTP's epmd_SUITE.erl are ported here by name.
 *
 * Byte arrays carry a comment per field.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "epmd/epmd_codec.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A registration of "foo" as OTP 25 sends it (erl_epmd.erl). */
static const uint8_t alive2_foo[] = {
	'x',			/* ALIVE2_REQ */
	0x04, 0xd2,		/* port 1234 */
	77,			/* nodetype: normal ('M') */
	0,			/* protocol: tcp/ip v4 */
	0x00, 0x06,		/* highvsn 6 */
	0x00, 0x05,		/* lowvsn 5 */
	0x00, 0x03,		/* namelen 3 */
	'f', 'o', 'o',		/* name */
	0x00, 0x02,		/* extralen 2 */
	'e', 0x00,		/* extra, NULs allowed */
};

static int
decode(const void *p, size_t len, struct epmd_req *req, const char **why)
{
	int rc;

	*why = NULL;
	rc = epmd_decode_req(bytes_view_of(p, len), req, why);
	/* A plain if: ck_assert records a mark point on every call. */
	if (rc != 0 && *why == NULL)
		ck_abort_msg("failure without a reason");
	return rc;
}

/* Writes an ALIVE2_REQ payload (no frame header) field by field. */
static void
put_alive2(struct bytes_w *w, uint16_t highvsn, const void *name,
    size_t nlen, const void *extra, size_t elen)
{
	bytes_put_u8(w, 'x');
	bytes_put_u16be(w, 4747);		/* port */
	bytes_put_u8(w, 77);			/* nodetype */
	bytes_put_u8(w, 0);			/* protocol */
	bytes_put_u16be(w, highvsn);
	bytes_put_u16be(w, 5);			/* lowvsn */
	bytes_put_u16be(w, (uint16_t)nlen);
	bytes_put(w, name, nlen);
	bytes_put_u16be(w, (uint16_t)elen);
	bytes_put(w, extra, elen);
	ck_assert_int_eq(w->err, 0);
}

/* A name of n copies of the UTF-8 sequence ch (caller frees). */
static uint8_t *
repeat(const char *ch, size_t n, size_t *len)
{
	size_t cl = strlen(ch), i;
	uint8_t *p = malloc(cl * n + 1);

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		memcpy(p + i * cl, ch, cl);
	*len = cl * n;
	return p;
}

/* Framing. */

START_TEST(epmd_codec__frame_ok)
{
	static const uint8_t in[] = {
		0x00, 0x03,		/* length 3 */
		'n', 'x', 'y',		/* payload */
		0x00, 0x01, 'n'		/* the next frame */
	};
	struct bytes_view pl;
	size_t used = 0;

	ck_assert_int_eq(epmd_frame(bytes_view_of(in, sizeof(in)), &pl,
	    &used), 0);
	ck_assert_uint_eq(used, 5);
	ck_assert_ptr_eq(pl.p, in + 2);
	ck_assert_uint_eq(pl.len, 3);
	ck_assert_int_eq(epmd_frame(bytes_view_of(in + used,
	    sizeof(in) - used), &pl, &used), 0);
	ck_assert_uint_eq(used, 3);
	ck_assert_uint_eq(pl.p[0], 'n');
}
END_TEST

START_TEST(epmd_codec__frame_truncated)
{
	static const uint8_t in[] = {
		0x00, 0x05,			/* length 5 */
		'z', 'f', 'o', 'o', 0x00	/* PORT2_REQ "foo" NUL */
	};
	struct bytes_view pl = { NULL, 0 };
	size_t n, used = 77;

	/* Empty, one byte (one_byte), the length only (two_bytes), and
	 * every point inside the payload. */
	for (n = 0; n < sizeof(in); n++) {
		ck_assert_msg(epmd_frame(bytes_view_of(in, n), &pl, &used) ==
		    CAIRN_ERR_NEED_MORE, "prefix %zu", n);
		ck_assert_uint_eq(used, 77);
		ck_assert_ptr_null(pl.p);
	}
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, n), &pl, &used), 0);
	ck_assert_uint_eq(used, sizeof(in));
	ck_assert_int_eq(epmd_frame(bytes_view_of(NULL, 0), &pl, &used),
	    CAIRN_ERR_NEED_MORE);
}
END_TEST

/* epmd_SUITE partial_packet: 100 announced, 16 sent. */
START_TEST(epmd_codec__frame_partial_packet)
{
	uint8_t in[2 + 16];
	struct bytes_view pl;
	size_t used;

	in[0] = 0;
	in[1] = 100;
	memcpy(in + 2, "only a few bytes", 16);
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, sizeof(in)), &pl,
	    &used), CAIRN_ERR_NEED_MORE);
}
END_TEST

/* epmd_SUITE zero_length: ten zero bytes. */
START_TEST(epmd_codec__frame_zero_length)
{
	static const uint8_t in[10] = { 0 };
	struct bytes_view pl;
	size_t used;

	ck_assert_int_eq(epmd_frame(bytes_view_of(in, 2), &pl, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, sizeof(in)), &pl,
	    &used), CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(epmd_codec__frame_max)
{
	uint8_t *in = calloc(1, 2 + EPMD_MAX_PAYLOAD + 1);
	struct bytes_view pl;
	size_t used = 0;

	ck_assert_ptr_nonnull(in);
	/* OTP refuses a frame of INBUF_SIZE bytes or more, header included. */
	ck_assert_int_eq(EPMD_MAX_PAYLOAD + 2, EPMD_INBUF_SIZE - 1);
	in[0] = EPMD_MAX_PAYLOAD >> 8;
	in[1] = EPMD_MAX_PAYLOAD & 0xff;
	in[2] = 'n';
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, 2 + EPMD_MAX_PAYLOAD),
	    &pl, &used), 0);
	ck_assert_uint_eq(used, 2 + EPMD_MAX_PAYLOAD);
	ck_assert_uint_eq(pl.len, EPMD_MAX_PAYLOAD);
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, 1 + EPMD_MAX_PAYLOAD),
	    &pl, &used), CAIRN_ERR_NEED_MORE);
	/* One more is too big, known from the header alone. */
	in[0] = (EPMD_MAX_PAYLOAD + 1) >> 8;
	in[1] = (EPMD_MAX_PAYLOAD + 1) & 0xff;
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, 2), &pl, &used),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(epmd_frame(bytes_view_of(in, 3 + EPMD_MAX_PAYLOAD),
	    &pl, &used), CAIRN_ERR_TOO_BIG);
	free(in);
}
END_TEST

/* epmd_SUITE too_large: 63000 announced. */
START_TEST(epmd_codec__frame_too_large)
{
	static const uint8_t big[] = { 63000 >> 8, 63000 & 0xff, 'z' };
	static const uint8_t max[] = { 0xff, 0xff };
	struct bytes_view pl;
	size_t used;

	ck_assert_int_eq(epmd_frame(bytes_view_of(big, sizeof(big)), &pl,
	    &used), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(epmd_frame(bytes_view_of(max, sizeof(max)), &pl,
	    &used), CAIRN_ERR_TOO_BIG);
}
END_TEST

/* ALIVE2_REQ. */

START_TEST(epmd_codec__alive2_ok)
{
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode(alive2_foo, sizeof(alive2_foo), &req, &why), 0);
	ck_assert_uint_eq(req.tag, EPMD_ALIVE2_REQ);
	ck_assert_uint_eq(req.alive.port, 1234);
	ck_assert_uint_eq(req.alive.nodetype, 77);
	ck_assert_uint_eq(req.alive.protocol, 0);
	ck_assert_uint_eq(req.alive.highvsn, 6);
	ck_assert_uint_eq(req.alive.lowvsn, 5);
	ck_assert_uint_eq(req.alive.name.len, 3);
	ck_assert_ptr_eq(req.alive.name.p, alive2_foo + 11);
	ck_assert_uint_eq(req.alive.extra.len, 2);
	ck_assert_mem_eq(req.alive.extra.p, "e\0", 2);
	ck_assert_int_eq(epmd_check_alive2(&req.alive, &why), 0);
}
END_TEST

/* Each truncation point gives the reason OTP logs for it. */
START_TEST(epmd_codec__alive2_truncated)
{
	struct epmd_req req;
	const char *why;
	size_t n;

	for (n = 0; n < sizeof(alive2_foo); n++) {
		ck_assert_msg(decode(alive2_foo, n, &req, &why) ==
		    CAIRN_ERR_PROTO, "prefix %zu", n);
		if (n == 0)
			ck_assert_str_eq(why, "empty request");
		else if (n <= 13)	/* OTP: bsize <= 13 */
			ck_assert_msg(strstr(why, "too small") != NULL,
			    "%zu: %s", n, why);
		else if (n < 16)	/* namelen + 13 > bsize */
			ck_assert_msg(strstr(why, "name size") != NULL,
			    "%zu: %s", n, why);
		else			/* extralen + namelen + 13 > bsize */
			ck_assert_msg(strstr(why, "extra info size") != NULL,
			    "%zu: %s", n, why);
	}
}
END_TEST

/* epmd_SUITE alive_req_too_small_1 and _2. */
START_TEST(epmd_codec__alive2_too_small_suite)
{
	static const uint8_t small1[] = {
		'x',		/* ALIVE2_REQ */
		0x12, 0x8b,	/* port 4747 */
		'M', 0,		/* nodetype, protocol */
		0x00, 0x05,	/* highvsn */
		0x00, 0x05,	/* lowvsn */
		0x00, 0x00,	/* namelen 0, and nothing more */
	};
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode(small1, sizeof(small1), &req, &why),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(decode(small1, sizeof(small1) - 2, &req, &why),
	    CAIRN_ERR_PROTO);
}
END_TEST

/* 13 bytes (no name, no extra) is refused; 14 is the least accepted. */
START_TEST(epmd_codec__alive2_minimum)
{
	static const uint8_t thirteen[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x00,		/* namelen 0 */
		0x00, 0x00,		/* extralen 0 */
	};
	static const uint8_t fourteen[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x01, 'a',	/* name "a" */
		0x00, 0x00,		/* extralen 0 */
	};
	static const uint8_t empty_name[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x00,		/* namelen 0 */
		0x00, 0x01, 'E',	/* extra "E" */
	};
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode(thirteen, sizeof(thirteen), &req, &why),
	    CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "too small") != NULL, "%s", why);
	ck_assert_int_eq(decode(fourteen, sizeof(fourteen), &req, &why), 0);
	ck_assert(bytes_view_eq_str(req.alive.name, "a"));
	ck_assert_uint_eq(req.alive.extra.len, 0);
	/* OTP decodes (and registers) an empty name; Cairn decodes it and
	 * refuses it in epmd_check_alive2(), with an error reply. */
	ck_assert_int_eq(decode(empty_name, sizeof(empty_name), &req, &why), 0);
	ck_assert_uint_eq(req.alive.name.len, 0);
	ck_assert_int_eq(epmd_check_alive2(&req.alive, &why),
	    CAIRN_ERR_INVAL);
}
END_TEST

START_TEST(epmd_codec__alive2_lengths_past_end)
{
	static const uint8_t name_past[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0xc8,		/* namelen 200 */
		'f', 'o', 'o',		/* 3 bytes of it */
		0x00, 0x00,
	};
	static const uint8_t name_eats_extralen[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x04,		/* namelen 4: takes one extralen byte */
		'f', 'o', 'o',
		0x00, 0x00,
	};
	static const uint8_t extra_past[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x03, 'f', 'o', 'o',
		0x00, 0x05,		/* extralen 5 */
		'a', 'b',		/* 2 bytes of it */
	};
	static const uint8_t extra_max[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x03, 'f', 'o', 'o',
		0xff, 0xff,		/* extralen 65535 */
	};
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode(name_past, sizeof(name_past), &req, &why),
	    CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "name size") != NULL, "%s", why);
	ck_assert_int_eq(decode(name_eats_extralen, sizeof(name_eats_extralen),
	    &req, &why), CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "name size") != NULL, "%s", why);
	ck_assert_int_eq(decode(extra_past, sizeof(extra_past), &req, &why),
	    CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "extra info size") != NULL, "%s", why);
	ck_assert_int_eq(decode(extra_max, sizeof(extra_max), &req, &why),
	    CAIRN_ERR_PROTO);
}
END_TEST

/* epmd_SUITE name_with_null_inside, for ALIVE2. */
START_TEST(epmd_codec__alive2_nul_in_name)
{
	static const uint8_t nul[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x03, 'f', 0x00, 'o',	/* "f\0o" */
		0x00, 0x00,
	};
	static const uint8_t nul_end[] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x06, 0x00, 0x05,
		0x00, 0x04, 'f', 'o', 'o', 0x00,	/* "foo\0" */
		0x00, 0x00,
	};
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode(nul, sizeof(nul), &req, &why),
	    CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "ascii 0") != NULL, "%s", why);
	ck_assert_int_eq(decode(nul_end, sizeof(nul_end), &req, &why),
	    CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(epmd_codec__alive2_trailing_bytes)
{
	uint8_t in[sizeof(alive2_foo) + 4];
	struct epmd_req req;
	const char *why;

	memcpy(in, alive2_foo, sizeof(alive2_foo));
	memcpy(in + sizeof(alive2_foo), "junk", 4);
	/* OTP ignores what follows extra. */
	ck_assert_int_eq(decode(in, sizeof(in), &req, &why), 0);
	ck_assert(bytes_view_eq_str(req.alive.name, "foo"));
	ck_assert_uint_eq(req.alive.extra.len, 2);
}
END_TEST

/* epmd_SUITE buffer_overrun_1: an extra length with no extra. */
START_TEST(epmd_codec__alive2_buffer_overrun_1)
{
	uint8_t in[18] = {
		'x', 0x12, 0x8b, 'M', 0, 0x00, 0x05, 0x00, 0x05,
		0x00, 0x05, 'g', 'u', 'r', 'k', 'a',
		0x00, 0x00,		/* extralen N, set below */
	};
	struct epmd_req req;
	const char *why;
	unsigned n;

	for (n = 1; n <= 10000; n++) {
		in[16] = (uint8_t)(n >> 8);
		in[17] = (uint8_t)n;
		if (decode(in, sizeof(in), &req, &why) != CAIRN_ERR_PROTO)
			ck_abort_msg("N = %u accepted", n);
	}
}
END_TEST

/*
 * epmd_SUITE buffer_overrun_2: N bytes of 0xff as extra.  N = 1020 is
 * registered; above it the daemon answers an error (while the frame
 * fits) or closes (when it does not).
 */
START_TEST(epmd_codec__alive2_buffer_overrun_2)
{
	struct bytes_w w, f;
	struct bytes_view pl;
	struct epmd_req req;
	uint8_t extra[10000];
	const char *why;
	size_t n, used;
	int rc;

	memset(extra, 0xff, sizeof(extra));
	bytes_w_init(&w, 65536);
	bytes_w_init(&f, 65536);
	for (n = EPMD_MAXSYMLEN; n <= sizeof(extra); n++) {
		bytes_w_reset(&w);
		put_alive2(&w, 5, "gurka", 5, extra, n);
		bytes_w_reset(&f);
		bytes_put_u16be(&f, (uint16_t)w.len);
		bytes_put(&f, w.buf, w.len);
		rc = epmd_frame(bytes_view_of(f.buf, f.len), &pl, &used);
		if (w.len > EPMD_MAX_PAYLOAD) {
			if (rc != CAIRN_ERR_TOO_BIG)
				ck_abort_msg("N = %zu: frame %d", n, rc);
			continue;
		}
		if (rc != 0 || decode(pl.p, pl.len, &req, &why) != 0)
			ck_abort_msg("N = %zu: frame %d", n, rc);
		rc = epmd_check_alive2(&req.alive, &why);
		if (rc != (n == EPMD_MAXSYMLEN ? 0 : CAIRN_ERR_INVAL))
			ck_abort_msg("N = %zu: check %d", n, rc);
	}
	bytes_w_fini(&w);
	bytes_w_fini(&f);
}
END_TEST

/* PORT2_REQ. */

struct port2_case {
	const char	*what;
	const char	*bytes;		/* the payload after the tag */
	size_t		 len;
	int		 rc;
	const char	*name;		/* on success */
};

#define P2(what, s, rc, name)	{ what, s, sizeof(s) - 1, rc, name }

static const struct port2_case port2_cases[] = {
	P2("plain", "foo", 0, "foo"),
	P2("one trailing NUL dropped", "foo\0", 0, "foo"),
	P2("one char", "a", 0, "a"),
	P2("UTF-8", "\xc3\xa9t\xc3\xa9", 0, "\xc3\xa9t\xc3\xa9"),
	P2("empty", "", CAIRN_ERR_PROTO, NULL),
	P2("NUL only", "\0", CAIRN_ERR_PROTO, NULL),
	P2("two NULs", "\0\0", CAIRN_ERR_PROTO, NULL),
	P2("NUL inside", "f\0o", CAIRN_ERR_PROTO, NULL),
	P2("NUL inside, NUL after", "f\0o\0", CAIRN_ERR_PROTO, NULL),
	P2("two trailing NULs", "foo\0\0", CAIRN_ERR_PROTO, NULL),
	P2("bad UTF-8", "f\xff", CAIRN_ERR_PROTO, NULL),
	P2("truncated UTF-8", "f\xc3", CAIRN_ERR_PROTO, NULL),
	P2("truncated UTF-8, NUL", "f\xc3\0", CAIRN_ERR_PROTO, NULL),
	P2("surrogate", "\xed\xa0\x80", CAIRN_ERR_PROTO, NULL),
	P2("overlong", "\xc0\xaf", CAIRN_ERR_PROTO, NULL),
};

START_TEST(epmd_codec__port2_table)
{
	const struct port2_case *c = &port2_cases[_i];
	uint8_t in[64];
	struct epmd_req req;
	const char *why;
	int rc;

	in[0] = 'z';
	memcpy(in + 1, c->bytes, c->len);
	rc = decode(in, 1 + c->len, &req, &why);
	ck_assert_msg(rc == c->rc, "%s: rc %d, want %d", c->what, rc, c->rc);
	if (rc == 0) {
		ck_assert_uint_eq(req.tag, EPMD_PORT2_REQ);
		ck_assert_msg(bytes_view_eq_str(req.name, c->name), "%s",
		    c->what);
		ck_assert_ptr_eq(req.name.p, in + 1);
	}
}
END_TEST

/*
 * OTP 25 counts the NUL after the name (verify_utf8(name, bsize, 0)), so
 * a lookup takes at most 254 characters; checked against OTP 25's epmd,
 * which closes without a reply on a 255-character PORT2_REQ.
 */
START_TEST(epmd_codec__port2_name_chars)
{
	static const char *chars[] = { "a", "\xc3\xa9", "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80" };
	struct bytes_w w;
	struct epmd_req req;
	const char *why;
	uint8_t *name;
	size_t len, n, nul;

	bytes_w_init(&w, 4096);
	for (n = 253; n <= 256; n++) {
		for (nul = 0; nul < 2; nul++) {
			name = repeat(chars[_i], n, &len);
			bytes_w_reset(&w);
			bytes_put_u8(&w, 'z');
			bytes_put(&w, name, len);
			if (nul)
				bytes_put_u8(&w, 0);
			ck_assert_msg(decode(w.buf, w.len, &req, &why) ==
			    (n <= 254 ? 0 : CAIRN_ERR_PROTO),
			    "%zu x '%s' nul %zu", n, chars[_i], nul);
			if (n <= 254)
				ck_assert_uint_eq(req.name.len, len);
			free(name);
		}
	}
	bytes_w_fini(&w);
}
END_TEST

/* STOP_REQ: OTP compares C strings. */
START_TEST(epmd_codec__stop)
{
	struct epmd_req req;
	const char *why;

	ck_assert_int_eq(decode("sfoo", 4, &req, &why), 0);
	ck_assert_uint_eq(req.tag, EPMD_STOP_REQ);
	ck_assert(bytes_view_eq_str(req.name, "foo"));
	ck_assert_int_eq(decode("sfoo\0bar", 8, &req, &why), 0);
	ck_assert(bytes_view_eq_str(req.name, "foo"));
	ck_assert_int_eq(decode("sfoo\0", 5, &req, &why), 0);
	ck_assert(bytes_view_eq_str(req.name, "foo"));
	/* "s" NUL: OTP looks up the empty name and answers NOEXIST. */
	ck_assert_int_eq(decode("s\0", 2, &req, &why), 0);
	ck_assert_uint_eq(req.name.len, 0);
	ck_assert_int_eq(decode("s", 1, &req, &why), CAIRN_ERR_PROTO);
	ck_assert_msg(strstr(why, "too small") != NULL, "%s", why);
	/* No UTF-8 check: a bad name is simply not found. */
	ck_assert_int_eq(decode("s\xff", 2, &req, &why), 0);
	ck_assert_uint_eq(req.name.len, 1);
}
END_TEST

START_TEST(epmd_codec__simple_requests)
{
	static const uint8_t tags[] = { 'n', 'd', 'k' };
	uint8_t in[8];
	struct epmd_req req;
	const char *why;

	in[0] = tags[_i];
	memcpy(in + 1, "\0trail", 6);
	ck_assert_int_eq(decode(in, 1, &req, &why), 0);
	ck_assert_uint_eq(req.tag, tags[_i]);
	/* Trailing bytes are ignored, as OTP does. */
	ck_assert_int_eq(decode(in, 7, &req, &why), 0);
	ck_assert_uint_eq(req.tag, tags[_i]);
}
END_TEST

START_TEST(epmd_codec__garbage)
{
	static const uint8_t tags[] = {
		0x00, 0xff,
		'y', 'v', 'w',		/* reply tags are not requests */
		'a', 'p',		/* OTP's old ALIVE_REQ and PORT_REQ */
		'N', 'X', 'Z',		/* tags are case sensitive */
	};
	struct epmd_req req;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(tags); i++) {
		ck_assert_msg(decode(&tags[i], 1, &req, &why) ==
		    CAIRN_ERR_PROTO, "tag %u", tags[i]);
		ck_assert_str_eq(why, "got garbage");
	}
	ck_assert_int_eq(decode(NULL, 0, &req, &why), CAIRN_ERR_PROTO);
	/* A NULL why is allowed. */
	ck_assert_int_eq(epmd_decode_req(bytes_view_of("q", 1), &req, NULL),
	    CAIRN_ERR_PROTO);
}
END_TEST

/* epmd_check_alive2. */

static int
check_name(const void *name, size_t nlen, size_t elen)
{
	static uint8_t extra[2048];
	struct epmd_node_info a;
	const char *why = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(extra, 'e', sizeof(extra));
	a.name = bytes_view_of(name, nlen);
	a.extra = bytes_view_of(extra, elen);
	rc = epmd_check_alive2(&a, &why);
	if (rc != 0)
		ck_assert_ptr_nonnull(why);
	return rc;
}

START_TEST(epmd_codec__check_alive2)
{
	uint8_t *name;
	size_t len;

	ck_assert_int_eq(check_name("foo", 3, 0), 0);
	ck_assert_int_eq(check_name("", 0, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(check_name("f\xff", 2, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(check_name("\xc3", 1, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(check_name("\xed\xa0\x80", 3, 0), CAIRN_ERR_INVAL);
	/* 255 four-byte characters: 1020 bytes, the longest name. */
	name = repeat("\xf0\x9f\x98\x80", 255, &len);
	ck_assert_uint_eq(len, EPMD_MAXSYMLEN);
	ck_assert_int_eq(check_name(name, len, 0), 0);
	free(name);
	name = repeat("\xf0\x9f\x98\x80", 256, &len);
	ck_assert_int_eq(check_name(name, len, 0), CAIRN_ERR_INVAL);
	free(name);
	/* 255 and 256 ASCII characters; 256 two-byte ones (512 bytes). */
	name = repeat("a", 255, &len);
	ck_assert_int_eq(check_name(name, len, 0), 0);
	free(name);
	name = repeat("a", 256, &len);
	ck_assert_int_eq(check_name(name, len, 0), CAIRN_ERR_INVAL);
	free(name);
	name = repeat("\xc3\xa9", 256, &len);
	ck_assert_int_eq(check_name(name, len, 0), CAIRN_ERR_INVAL);
	free(name);
	/* epmd_SUITE alive_req_too_large: 600 characters. */
	name = repeat("a", 600, &len);
	ck_assert_int_eq(check_name(name, len, 0), CAIRN_ERR_INVAL);
	free(name);
	/* extra: up to 1020 bytes, anything in them. */
	ck_assert_int_eq(check_name("foo", 3, 1020), 0);
	ck_assert_int_eq(check_name("foo", 3, 1021), CAIRN_ERR_INVAL);
	ck_assert_int_eq(check_name("foo", 3, 2048), CAIRN_ERR_INVAL);
	/* A NULL why is allowed. */
	{
		struct epmd_node_info a;

		memset(&a, 0, sizeof(a));
		ck_assert_int_eq(epmd_check_alive2(&a, NULL), CAIRN_ERR_INVAL);
	}
}
END_TEST

/* Replies, byte for byte. */

START_TEST(epmd_codec__alive2_resp_bytes)
{
	static const uint8_t x_ok[] = {
		'v',			/* ALIVE2_X_RESP */
		0,			/* result: ok */
		0x01, 0x02, 0x03, 0x04	/* creation, 32 bits */
	};
	static const uint8_t x_err[] = { 'v', 1, 0, 0, 0, 99 };
	static const uint8_t y_ok[] = {
		'y',			/* ALIVE2_RESP */
		0,			/* result: ok */
		0x00, 0x03		/* creation, 16 bits */
	};
	static const uint8_t y_err[] = { 'y', 1, 0x00, 99 };
	uint8_t buf[16];
	struct bytes_w w;

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 0, 0x01020304, 6), 0);
	ck_assert_uint_eq(w.len, sizeof(x_ok));
	ck_assert_mem_eq(buf, x_ok, sizeof(x_ok));

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 1,
	    EPMD_CREATION_ERROR, 6), 0);
	ck_assert_uint_eq(w.len, sizeof(x_err));
	ck_assert_mem_eq(buf, x_err, sizeof(x_err));

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 0, 3, 5), 0);
	ck_assert_uint_eq(w.len, sizeof(y_ok));
	ck_assert_mem_eq(buf, y_ok, sizeof(y_ok));

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 1,
	    EPMD_CREATION_ERROR, 5), 0);
	ck_assert_uint_eq(w.len, sizeof(y_err));
	ck_assert_mem_eq(buf, y_err, sizeof(y_err));

	/* highvsn 7 is new too. */
	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 0, 0x01020304, 7), 0);
	ck_assert_mem_eq(buf, x_ok, sizeof(x_ok));

	/* No room: the writer's error. */
	bytes_w_init_fixed(&w, buf, 5);
	ck_assert_int_eq(epmd_encode_alive2_resp(&w, 0, 1, 6),
	    CAIRN_ERR_TOO_BIG);
}
END_TEST

START_TEST(epmd_codec__port2_resp_bytes)
{
	static const uint8_t ok[] = {
		'w',			/* PORT2_RESP */
		0,			/* result: ok */
		0x04, 0xd2,		/* port 1234 */
		72,			/* nodetype: hidden ('H') */
		0,			/* protocol */
		0x00, 0x06,		/* highvsn */
		0x00, 0x05,		/* lowvsn */
		0x00, 0x03,		/* namelen */
		'f', 'o', 'o',		/* name */
		0x00, 0x05,		/* extralen */
		'A', 'B', 'C', 0, 0	/* extra, NULs kept */
	};
	static const uint8_t empty_extra_tail[] = {
		0x00, 0x00		/* extralen 0, still present */
	};
	static const uint8_t err[] = { 'w', 1 };
	struct epmd_node_info a;
	uint8_t buf[64];
	struct bytes_w w;

	memset(&a, 0, sizeof(a));
	a.port = 1234;
	a.nodetype = EPMD_NODETYPE_HIDDEN;
	a.protocol = 0;
	a.highvsn = 6;
	a.lowvsn = 5;
	a.name = bytes_view_of("foo", 3);
	a.extra = bytes_view_of("ABC\0\0", 5);
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_port2_resp(&w, &a), 0);
	ck_assert_uint_eq(w.len, sizeof(ok));
	ck_assert_mem_eq(buf, ok, sizeof(ok));

	/* epmd_SUITE returns_valid_empty_extra. */
	a.extra = bytes_view_of(NULL, 0);
	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_port2_resp(&w, &a), 0);
	ck_assert_uint_eq(w.len, 17);
	ck_assert_mem_eq(buf + 15, empty_extra_tail, 2);

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_port2_err(&w), 0);
	ck_assert_uint_eq(w.len, sizeof(err));
	ck_assert_mem_eq(buf, err, sizeof(err));

	bytes_w_init_fixed(&w, buf, 10);
	ck_assert_int_eq(epmd_encode_port2_resp(&w, &a), CAIRN_ERR_TOO_BIG);
	bytes_w_init_fixed(&w, buf, 1);
	ck_assert_int_eq(epmd_encode_port2_err(&w), CAIRN_ERR_TOO_BIG);
}
END_TEST

START_TEST(epmd_codec__names_bytes)
{
	static const uint8_t head[] = {
		0x00, 0x00, 0x11, 0x11	/* epmd's port 4369, 32 bits */
	};
	static const char line[] = "name foo at port 1234\n";
	static const char line0[] = "name \xc3\xa9 at port 0\n";
	uint8_t buf[64];
	struct bytes_w w;

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_names_head(&w, EPMD_PORT_NO), 0);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_mem_eq(buf, head, 4);

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_names_line(&w, bytes_view_of("foo", 3),
	    1234), 0);
	ck_assert_uint_eq(w.len, sizeof(line) - 1);
	ck_assert_mem_eq(buf, line, sizeof(line) - 1);

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_names_line(&w,
	    bytes_view_of("\xc3\xa9", 2), 0), 0);
	ck_assert_uint_eq(w.len, sizeof(line0) - 1);
	ck_assert_mem_eq(buf, line0, sizeof(line0) - 1);

	/* A line that exactly fills the buffer fits. */
	bytes_w_init_fixed(&w, buf, sizeof(line) - 1);
	ck_assert_int_eq(epmd_encode_names_line(&w, bytes_view_of("foo", 3),
	    1234), 0);
	ck_assert_mem_eq(buf, line, sizeof(line) - 1);
	bytes_w_init_fixed(&w, buf, sizeof(line) - 2);
	ck_assert_int_eq(epmd_encode_names_line(&w, bytes_view_of("foo", 3),
	    1234), CAIRN_ERR_TOO_BIG);
}
END_TEST

START_TEST(epmd_codec__dump_bytes)
{
	/* Each DUMP line is sent with its C string's NUL. */
	static const char active[] =
	    "active name     <foo> at port 1234, fd = 7\n";
	static const char unused[] =
	    "old/unused name <foo>, port = 1234, fd = 7 \n";
	uint8_t buf[128];
	struct bytes_w w;

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_dump_active(&w, bytes_view_of("foo", 3),
	    1234, 7), 0);
	ck_assert_uint_eq(w.len, sizeof(active));
	ck_assert_mem_eq(buf, active, sizeof(active));

	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_dump_unused(&w, bytes_view_of("foo", 3),
	    1234, 7), 0);
	ck_assert_uint_eq(w.len, sizeof(unused));
	ck_assert_mem_eq(buf, unused, sizeof(unused));

	/* A negative fd (a released name's stale fd) prints as OTP's %d. */
	bytes_w_reset(&w);
	ck_assert_int_eq(epmd_encode_dump_unused(&w, bytes_view_of("b", 1),
	    0, -1), 0);
	ck_assert_mem_eq(buf, "old/unused name <b>, port = 0, fd = -1 \n",
	    sizeof("old/unused name <b>, port = 0, fd = -1 \n"));

	bytes_w_init_fixed(&w, buf, sizeof(active) - 1);
	ck_assert_int_eq(epmd_encode_dump_active(&w, bytes_view_of("foo", 3),
	    1234, 7), CAIRN_ERR_TOO_BIG);
}
END_TEST

/* Client encoders, and the daemon's decoder reading them back. */

static void
frame_decode(const struct bytes_w *w, struct epmd_req *req)
{
	struct bytes_view pl;
	const char *why;
	size_t used;

	ck_assert_int_eq(epmd_frame(bytes_view_of(w->buf, w->len), &pl,
	    &used), 0);
	ck_assert_uint_eq(used, w->len);
	ck_assert_int_eq(decode(pl.p, pl.len, req, &why), 0);
}

START_TEST(epmd_codec__alive2_req_roundtrip)
{
	uint8_t want[2 + sizeof(alive2_foo)];
	struct epmd_node_info a;
	struct epmd_req req;
	struct bytes_w w;

	want[0] = 0;
	want[1] = sizeof(alive2_foo);
	memcpy(want + 2, alive2_foo, sizeof(alive2_foo));
	memset(&a, 0, sizeof(a));
	a.port = 1234;
	a.nodetype = EPMD_NODETYPE_NORMAL;
	a.protocol = 0;
	a.highvsn = 6;
	a.lowvsn = 5;
	a.name = bytes_view_of("foo", 3);
	a.extra = bytes_view_of("e\0", 2);
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(epmd_encode_alive2_req(&w, &a), 0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(w.buf, want, sizeof(want));
	frame_decode(&w, &req);
	ck_assert_uint_eq(req.tag, EPMD_ALIVE2_REQ);
	ck_assert_uint_eq(req.alive.port, a.port);
	ck_assert_uint_eq(req.alive.nodetype, a.nodetype);
	ck_assert_uint_eq(req.alive.protocol, a.protocol);
	ck_assert_uint_eq(req.alive.highvsn, a.highvsn);
	ck_assert_uint_eq(req.alive.lowvsn, a.lowvsn);
	ck_assert(bytes_view_eq_str(req.alive.name, "foo"));
	ck_assert_uint_eq(req.alive.extra.len, 2);
	ck_assert_mem_eq(req.alive.extra.p, "e\0", 2);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(epmd_codec__alive2_req_too_big)
{
	struct epmd_node_info a;
	struct bytes_w w;
	uint8_t *big = calloc(1, 0x10000);

	ck_assert_ptr_nonnull(big);
	memset(&a, 0, sizeof(a));
	bytes_w_init(&w, 1 << 20);
	a.name = bytes_view_of(big, 0x10000);
	ck_assert_int_eq(epmd_encode_alive2_req(&w, &a), CAIRN_ERR_TOO_BIG);
	/* Name and extra fit their fields but not the frame length. */
	a.name = bytes_view_of(big, 0x8000);
	a.extra = bytes_view_of(big, 0x8000);
	ck_assert_int_eq(epmd_encode_alive2_req(&w, &a), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 0);
	bytes_w_fini(&w);
	free(big);
}
END_TEST

START_TEST(epmd_codec__port2_req_roundtrip)
{
	static const uint8_t want[] = {
		0x00, 0x04,		/* length */
		'z',			/* PORT2_REQ */
		'f', 'o', 'o'		/* name, no NUL (as erl_epmd) */
	};
	struct epmd_req req;
	struct bytes_w w;
	uint8_t buf[16];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_port2_req(&w, bytes_view_of("foo", 3)),
	    0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	frame_decode(&w, &req);
	ck_assert_uint_eq(req.tag, EPMD_PORT2_REQ);
	ck_assert(bytes_view_eq_str(req.name, "foo"));
}
END_TEST

START_TEST(epmd_codec__stop_req_roundtrip)
{
	static const uint8_t want[] = {
		0x00, 0x04,		/* length */
		's',			/* STOP_REQ */
		'b', 'a', 'r'		/* name */
	};
	struct epmd_req req;
	struct bytes_w w;
	uint8_t buf[16];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_stop_req(&w, bytes_view_of("bar", 3)),
	    0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	frame_decode(&w, &req);
	ck_assert_uint_eq(req.tag, EPMD_STOP_REQ);
	ck_assert(bytes_view_eq_str(req.name, "bar"));
}
END_TEST

START_TEST(epmd_codec__watch_req_roundtrip)
{
	static const uint8_t want[] = {
		0x00, 0x02,		/* length */
		'C',			/* WATCH_REQ (Cairn's) */
		0x01			/* version */
	};
	static const uint8_t v2[] = { 'C', 0x02 }, bare[] = { 'C' };
	struct epmd_req req;
	struct bytes_w w;
	const char *why = NULL;
	uint8_t buf[16];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_watch_req(&w), 0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	frame_decode(&w, &req);
	ck_assert_uint_eq(req.tag, EPMD_WATCH_REQ);
	ck_assert_uint_eq(req.version, EPMD_WATCH_VERSION);
	/* An unknown version, or none, closes the connection. */
	ck_assert_int_eq(epmd_decode_req(bytes_view_of(v2, sizeof(v2)), &req,
	    &why), CAIRN_ERR_PROTO);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(epmd_decode_req(bytes_view_of(bare, sizeof(bare)),
	    &req, &why), CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(epmd_codec__watch_ack_and_events)
{
	static const uint8_t want[] = {
		'C', 0x01,		/* ack, version 1 */
		'+', 0x13, 0x88,	/* registered, port 5000 */
		0x00, 0x03, 'f', 'o', 'o',
		'=', 0x00, 0x00,	/* end of the snapshot */
		0x00, 0x00,
		'-', 0x13, 0x88,	/* unregistered */
		0x00, 0x03, 'f', 'o', 'o',
	};
	struct epmd_watch_event ev;
	struct bytes_view in;
	struct bytes_w w;
	uint8_t buf[64];
	size_t used, i;

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_watch_ack(&w), 0);
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_ADDED, 5000,
	    bytes_view_of("foo", 3)), 0);
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_SYNCED, 0,
	    bytes_view_of(NULL, 0)), 0);
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_REMOVED, 5000,
	    bytes_view_of("foo", 3)), 0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));

	/* Every truncation of the ack and of the first event waits. */
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(epmd_decode_watch_ack(bytes_view_of(want, i),
		    &used), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(epmd_decode_watch_ack(bytes_view_of(want,
	    sizeof(want)), &used), 0);
	ck_assert_uint_eq(used, 2);
	in = bytes_view_of(want + 2, sizeof(want) - 2);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(in.p,
		    i), &ev, &used), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(epmd_decode_watch_event(in, &ev, &used), 0);
	ck_assert_uint_eq(used, 8);
	ck_assert_uint_eq(ev.kind, EPMD_WATCH_ADDED);
	ck_assert_uint_eq(ev.port, 5000);
	ck_assert(bytes_view_eq_str(ev.name, "foo"));
	in.p += used;
	in.len -= used;
	ck_assert_int_eq(epmd_decode_watch_event(in, &ev, &used), 0);
	ck_assert_uint_eq(ev.kind, EPMD_WATCH_SYNCED);
	ck_assert_uint_eq(used, 5);
	in.p += used;
	in.len -= used;
	ck_assert_int_eq(epmd_decode_watch_event(in, &ev, &used), 0);
	ck_assert_uint_eq(ev.kind, EPMD_WATCH_REMOVED);
	ck_assert_uint_eq(used, in.len);
}
END_TEST

START_TEST(epmd_codec__watch_event_bad)
{
	static const uint8_t bad_kind[] = { '?', 0, 1, 0, 1, 'a' };
	static const uint8_t empty[] = { '+', 0, 1, 0, 0 };
	static const uint8_t nul[] = { '-', 0, 1, 0, 2, 'a', 0 };
	static const uint8_t synced_port[] = { '=', 0, 1, 0, 0 };
	static const uint8_t synced_name[] = { '=', 0, 0, 0, 1, 'a' };
	/* 1021 bytes announced: refused before the name arrives. */
	static const uint8_t too_long[] = { '+', 0, 1, 0x03, 0xfd };
	static const uint8_t bad_ack[] = { 'C', 0x02 }, other[] = { 'w', 1 };
	struct epmd_watch_event ev;
	struct bytes_w w;
	uint8_t buf[2048], name[1021];
	size_t used;

	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(bad_kind,
	    sizeof(bad_kind)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(empty,
	    sizeof(empty)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(nul,
	    sizeof(nul)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(synced_port,
	    sizeof(synced_port)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(synced_name,
	    sizeof(synced_name)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_event(bytes_view_of(too_long,
	    sizeof(too_long)), &ev, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_ack(bytes_view_of(bad_ack,
	    sizeof(bad_ack)), &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_watch_ack(bytes_view_of(other,
	    sizeof(other)), &used), CAIRN_ERR_PROTO);
	/* The encoder refuses what the decoder would. */
	memset(name, 'x', sizeof(name));
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_ADDED, 1,
	    bytes_view_of(name, sizeof(name))), CAIRN_ERR_INVAL);
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_ADDED, 1,
	    bytes_view_of(name, sizeof(name) - 1)), 0);
	ck_assert_int_eq(epmd_encode_watch_event(&w, '?', 1,
	    bytes_view_of("a", 1)), CAIRN_ERR_INVAL);
	ck_assert_int_eq(epmd_encode_watch_event(&w, EPMD_WATCH_SYNCED, 1,
	    bytes_view_of(NULL, 0)), CAIRN_ERR_INVAL);
}
END_TEST

START_TEST(epmd_codec__simple_req_roundtrip)
{
	static const uint8_t tags[] = { 'n', 'd', 'k' };
	struct epmd_req req;
	struct bytes_w w;
	uint8_t buf[8];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_simple_req(&w, tags[_i]), 0);
	ck_assert_uint_eq(w.len, 3);
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_uint_eq(buf[1], 1);
	ck_assert_uint_eq(buf[2], tags[_i]);
	frame_decode(&w, &req);
	ck_assert_uint_eq(req.tag, tags[_i]);
}
END_TEST

START_TEST(epmd_codec__req_name_too_big)
{
	struct bytes_w w;
	uint8_t *big = calloc(1, 0x10000);

	ck_assert_ptr_nonnull(big);
	bytes_w_init(&w, 1 << 20);
	ck_assert_int_eq(epmd_encode_port2_req(&w,
	    bytes_view_of(big, 0xffff)), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(epmd_encode_stop_req(&w,
	    bytes_view_of(big, 0xffff)), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(epmd_encode_port2_req(&w,
	    bytes_view_of(big, 0xfffe)), 0);
	ck_assert_uint_eq(w.len, 2 + 0xffff);	/* header, tag, name */
	bytes_w_fini(&w);
	free(big);
}
END_TEST

/* Client decoders of the daemon's replies. */

START_TEST(epmd_codec__alive2_resp_decode)
{
	static const uint8_t x[] = {
		'v', 0, 0x81, 0x02, 0x03, 0x04,	/* creation 0x81020304 */
		'Z'				/* not part of it */
	};
	static const uint8_t y[] = {
		'y', 1, 0x00, 99,		/* error, creation 99 */
		'Z'
	};
	uint8_t result = 7;
	uint32_t creation = 7;
	size_t n, used = 77;

	for (n = 0; n < 6; n++) {
		ck_assert_msg(epmd_decode_alive2_resp(bytes_view_of(x, n),
		    &result, &creation, &used) == CAIRN_ERR_NEED_MORE,
		    "prefix %zu", n);
		ck_assert_uint_eq(used, 77);
	}
	ck_assert_int_eq(epmd_decode_alive2_resp(bytes_view_of(x, sizeof(x)),
	    &result, &creation, &used), 0);
	ck_assert_uint_eq(result, 0);
	ck_assert_uint_eq(creation, 0x81020304u);
	ck_assert_uint_eq(used, 6);

	used = 77;
	for (n = 0; n < 4; n++) {
		ck_assert_msg(epmd_decode_alive2_resp(bytes_view_of(y, n),
		    &result, &creation, &used) == CAIRN_ERR_NEED_MORE,
		    "prefix %zu", n);
		ck_assert_uint_eq(used, 77);
	}
	ck_assert_int_eq(epmd_decode_alive2_resp(bytes_view_of(y, sizeof(y)),
	    &result, &creation, &used), 0);
	ck_assert_uint_eq(result, 1);
	ck_assert_uint_eq(creation, 99);
	ck_assert_uint_eq(used, 4);

	ck_assert_int_eq(epmd_decode_alive2_resp(bytes_view_of("w\0", 2),
	    &result, &creation, &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(epmd_decode_alive2_resp(bytes_view_of("x", 1),
	    &result, &creation, &used), CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(epmd_codec__alive2_resp_roundtrip)
{
	static const struct {
		uint8_t		result;
		uint32_t	creation;
		uint16_t	highvsn;
		uint32_t	want;	/* what the client reads back */
	} cases[] = {
		{ 0, 0xfedcba98u, 6, 0xfedcba98u },
		{ 0, 4, 6, 4 },
		{ 0, 3, 5, 3 },
		{ 1, EPMD_CREATION_ERROR, 5, EPMD_CREATION_ERROR },
		{ 1, EPMD_CREATION_ERROR, 6, EPMD_CREATION_ERROR },
		{ 0, 0x12345678u, 5, 0x5678 },	/* 16 bits on the wire */
	};
	uint8_t buf[16], result;
	uint32_t creation;
	struct bytes_w w;
	size_t i, used;

	for (i = 0; i < NELEM(cases); i++) {
		bytes_w_init_fixed(&w, buf, sizeof(buf));
		ck_assert_int_eq(epmd_encode_alive2_resp(&w, cases[i].result,
		    cases[i].creation, cases[i].highvsn), 0);
		ck_assert_int_eq(epmd_decode_alive2_resp(bytes_view_of(buf,
		    w.len), &result, &creation, &used), 0);
		ck_assert_uint_eq(used, w.len);
		ck_assert_uint_eq(result, cases[i].result);
		ck_assert_uint_eq(creation, cases[i].want);
	}
}
END_TEST

START_TEST(epmd_codec__port2_resp_decode)
{
	struct epmd_node_info a, b;
	uint8_t buf[64], result = 7;
	struct bytes_w w;
	size_t n, used = 77;

	memset(&a, 0, sizeof(a));
	a.port = 65535;
	a.nodetype = EPMD_NODETYPE_NORMAL;
	a.protocol = 1;
	a.highvsn = 6;
	a.lowvsn = 5;
	a.name = bytes_view_of("n\xc3\xa9", 3);
	a.extra = bytes_view_of("ABC\0\0", 5);
	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(epmd_encode_port2_resp(&w, &a), 0);
	for (n = 0; n < w.len; n++) {
		ck_assert_msg(epmd_decode_port2_resp(bytes_view_of(buf, n),
		    &result, &b, &used) == CAIRN_ERR_NEED_MORE, "prefix %zu", n);
		ck_assert_uint_eq(used, 77);
	}
	/* With a trailing byte that is not part of it. */
	buf[w.len] = 'Z';
	ck_assert_int_eq(epmd_decode_port2_resp(bytes_view_of(buf, w.len + 1),
	    &result, &b, &used), 0);
	ck_assert_uint_eq(used, w.len);
	ck_assert_uint_eq(result, 0);
	ck_assert_uint_eq(b.port, a.port);
	ck_assert_uint_eq(b.nodetype, a.nodetype);
	ck_assert_uint_eq(b.protocol, a.protocol);
	ck_assert_uint_eq(b.highvsn, a.highvsn);
	ck_assert_uint_eq(b.lowvsn, a.lowvsn);
	ck_assert_uint_eq(b.name.len, 3);
	ck_assert_mem_eq(b.name.p, "n\xc3\xa9", 3);
	ck_assert_uint_eq(b.extra.len, 5);
	ck_assert_mem_eq(b.extra.p, "ABC\0\0", 5);

	/* Error form: two bytes. */
	used = 77;
	ck_assert_int_eq(epmd_decode_port2_resp(bytes_view_of("w", 1),
	    &result, &b, &used), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(epmd_decode_port2_resp(bytes_view_of("w\1Z", 3),
	    &result, &b, &used), 0);
	ck_assert_uint_eq(result, 1);
	ck_assert_uint_eq(used, 2);
	ck_assert_int_eq(epmd_decode_port2_resp(bytes_view_of(NULL, 0),
	    &result, &b, &used), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(epmd_decode_port2_resp(bytes_view_of("y\0", 2),
	    &result, &b, &used), CAIRN_ERR_PROTO);
}
END_TEST

/* epmd_parse_names_line. */

static const struct {
	const char	*line;
	const char	*name;		/* NULL: refused */
	unsigned	 port;
} names_lines[] = {
	{ "name foo at port 1234", "foo", 1234 },
	{ "name a at port 0", "a", 0 },
	{ "name x at port 65535", "x", 65535 },
	{ "name \xc3\xa9t\xc3\xa9 at port 9", "\xc3\xa9t\xc3\xa9", 9 },
	{ "name a at port 1 at port 2", "a at port 1", 2 },
	{ "name  at port 1 at port 2", " at port 1", 2 },
	{ "name name at port at port 3", "name at port", 3 },
	{ "name foo at port 00080", "foo", 80 },
	{ "", NULL, 0 },
	{ "name", NULL, 0 },
	{ "name foo", NULL, 0 },
	{ "name foo at port", NULL, 0 },
	{ "name foo at port ", NULL, 0 },
	{ "name foo at port x", NULL, 0 },
	{ "name foo at port 12a", NULL, 0 },
	{ "name foo at port -1", NULL, 0 },
	{ "name foo at port +1", NULL, 0 },
	{ "name foo at port 65536", NULL, 0 },
	{ "name foo at port 99999", NULL, 0 },
	{ "name foo at port 123456", NULL, 0 },
	{ "name foo at port 1234\n", NULL, 0 },
	{ "name foo at port 1234 ", NULL, 0 },
	{ "name foo at  port 1", NULL, 0 },
	{ "name foo  at port 1", "foo ", 1 },
	{ "Name foo at port 1", NULL, 0 },
	{ "namefoo at port 1", NULL, 0 },
	{ " name foo at port 1", NULL, 0 },
	{ "name at port 1", NULL, 0 },
	/* OTP registers an empty name and lists it so; Cairn refuses it. */
	{ "name  at port 5556", NULL, 0 },
	{ "active name     <foo> at port 1234, fd = 7", NULL, 0 },
};

START_TEST(epmd_codec__parse_names_line)
{
	const char *line = names_lines[_i].line;
	struct bytes_view name = { NULL, 0 };
	uint16_t port = 7;
	int rc;

	rc = epmd_parse_names_line(bytes_view_of(line, strlen(line)), &name,
	    &port);
	if (names_lines[_i].name == NULL) {
		ck_assert_msg(rc == CAIRN_ERR_PROTO, "accepted \"%s\"", line);
		ck_assert_ptr_null(name.p);
		ck_assert_uint_eq(port, 7);
		return;
	}
	ck_assert_msg(rc == 0, "refused \"%s\"", line);
	ck_assert_msg(bytes_view_eq_str(name, names_lines[_i].name),
	    "\"%s\": name \"%.*s\"", line, (int)name.len,
	    (const char *)name.p);
	ck_assert_uint_eq(port, names_lines[_i].port);
	ck_assert_ptr_eq(name.p, (const uint8_t *)line + 5);
}
END_TEST

/* What the daemon writes for NAMES, the client parses back. */
START_TEST(epmd_codec__names_line_roundtrip)
{
	static const char *names[] = { "a", "foo", "n at port 7",
	    "\xf0\x9f\x98\x80" };
	static const unsigned ports[] = { 0, 1, 4369, 65535 };
	struct bytes_view name;
	uint16_t port;
	struct bytes_w w;
	size_t i, j;

	bytes_w_init(&w, 4096);
	for (i = 0; i < NELEM(names); i++) {
		for (j = 0; j < NELEM(ports); j++) {
			bytes_w_reset(&w);
			ck_assert_int_eq(epmd_encode_names_line(&w,
			    bytes_view_of(names[i], strlen(names[i])),
			    ports[j]), 0);
			ck_assert_uint_eq(w.buf[w.len - 1], '\n');
			ck_assert_int_eq(epmd_parse_names_line(
			    bytes_view_of(w.buf, w.len - 1), &name, &port), 0);
			ck_assert(bytes_view_eq_str(name, names[i]));
			ck_assert_uint_eq(port, ports[j]);
		}
	}
	bytes_w_fini(&w);
}
END_TEST

static Suite *
epmd_codec_suite(void)
{
	Suite *s = suite_create("epmd_codec");
	TCase *tc;

	tc = tcase_create("frame");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_codec__frame_ok);
	tcase_add_test(tc, epmd_codec__frame_truncated);
	tcase_add_test(tc, epmd_codec__frame_partial_packet);
	tcase_add_test(tc, epmd_codec__frame_zero_length);
	tcase_add_test(tc, epmd_codec__frame_max);
	tcase_add_test(tc, epmd_codec__frame_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, epmd_codec__alive2_ok);
	tcase_add_test(tc, epmd_codec__alive2_truncated);
	tcase_add_test(tc, epmd_codec__alive2_too_small_suite);
	tcase_add_test(tc, epmd_codec__alive2_minimum);
	tcase_add_test(tc, epmd_codec__alive2_lengths_past_end);
	tcase_add_test(tc, epmd_codec__alive2_nul_in_name);
	tcase_add_test(tc, epmd_codec__alive2_trailing_bytes);
	tcase_add_test(tc, epmd_codec__alive2_buffer_overrun_1);
	tcase_add_test(tc, epmd_codec__alive2_buffer_overrun_2);
	tcase_add_loop_test(tc, epmd_codec__port2_table, 0,
	    (int)NELEM(port2_cases));
	tcase_add_loop_test(tc, epmd_codec__port2_name_chars, 0, 4);
	tcase_add_test(tc, epmd_codec__stop);
	tcase_add_loop_test(tc, epmd_codec__simple_requests, 0, 3);
	tcase_add_test(tc, epmd_codec__garbage);
	tcase_add_test(tc, epmd_codec__check_alive2);
	suite_add_tcase(s, tc);

	tc = tcase_create("replies");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_codec__alive2_resp_bytes);
	tcase_add_test(tc, epmd_codec__port2_resp_bytes);
	tcase_add_test(tc, epmd_codec__names_bytes);
	tcase_add_test(tc, epmd_codec__dump_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, epmd_codec__alive2_req_roundtrip);
	tcase_add_test(tc, epmd_codec__alive2_req_too_big);
	tcase_add_test(tc, epmd_codec__port2_req_roundtrip);
	tcase_add_test(tc, epmd_codec__stop_req_roundtrip);
	tcase_add_loop_test(tc, epmd_codec__simple_req_roundtrip, 0, 3);
	tcase_add_test(tc, epmd_codec__watch_req_roundtrip);
	tcase_add_test(tc, epmd_codec__watch_ack_and_events);
	tcase_add_test(tc, epmd_codec__watch_event_bad);
	tcase_add_test(tc, epmd_codec__req_name_too_big);
	tcase_add_test(tc, epmd_codec__alive2_resp_decode);
	tcase_add_test(tc, epmd_codec__alive2_resp_roundtrip);
	tcase_add_test(tc, epmd_codec__port2_resp_decode);
	tcase_add_loop_test(tc, epmd_codec__parse_names_line, 0,
	    (int)NELEM(names_lines));
	tcase_add_test(tc, epmd_codec__names_line_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(epmd_codec_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
