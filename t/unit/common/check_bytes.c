/*
 * Unit tests for common/bytes: the read cursor's getters (exact reads,
 * short reads that must leave the cursor alone, varints with their
 * boundaries and overlong forms) and the write buffer (fixed and growing,
 * the sticky error, consume, printf, patch).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"

/* Reads with every getter must fail on one byte less and not move. */
START_TEST(bytes__get_u8)
{
	static const uint8_t in[] = { 0xab };
	struct bytes_r r;
	uint8_t v = 0;

	bytes_r_init(&r, in, 0);
	ck_assert_int_eq(bytes_get_u8(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_uint_eq(v, 0);
	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_get_u8(&r, &v), 0);
	ck_assert_uint_eq(v, 0xab);
	ck_assert_uint_eq(r.off, 1);
	ck_assert_uint_eq(bytes_r_left(&r), 0);
	ck_assert_int_eq(bytes_get_u8(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 1);
}
END_TEST

START_TEST(bytes__get_u16be)
{
	static const uint8_t in[] = { 0x12, 0x34, 0xff };
	struct bytes_r r;
	uint16_t v = 0;

	bytes_r_init(&r, in, 1);
	ck_assert_int_eq(bytes_get_u16be(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	bytes_r_init(&r, in, 2);
	ck_assert_int_eq(bytes_get_u16be(&r, &v), 0);
	ck_assert_uint_eq(v, 0x1234);
	ck_assert_uint_eq(r.off, 2);
	/* One byte left: still short, cursor kept. */
	bytes_r_init(&r, in, 3);
	ck_assert_int_eq(bytes_get_u16be(&r, &v), 0);
	ck_assert_int_eq(bytes_get_u16be(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 2);
	ck_assert_uint_eq(v, 0x1234);
}
END_TEST

START_TEST(bytes__get_u32be)
{
	static const uint8_t in[] = { 0xde, 0xad, 0xbe, 0xef };
	struct bytes_r r;
	uint32_t v = 0;

	bytes_r_init(&r, in, 3);
	ck_assert_int_eq(bytes_get_u32be(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_uint_eq(v, 0);
	bytes_r_init(&r, in, 4);
	ck_assert_int_eq(bytes_get_u32be(&r, &v), 0);
	ck_assert_uint_eq(v, 0xdeadbeefu);
	ck_assert_uint_eq(r.off, 4);
}
END_TEST

START_TEST(bytes__get_u64be)
{
	static const uint8_t in[] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};
	struct bytes_r r;
	uint64_t v = 0;

	bytes_r_init(&r, in, 7);
	ck_assert_int_eq(bytes_get_u64be(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	bytes_r_init(&r, in, 8);
	ck_assert_int_eq(bytes_get_u64be(&r, &v), 0);
	ck_assert(v == 0x0123456789abcdefull);
	ck_assert_uint_eq(r.off, 8);
}
END_TEST

START_TEST(bytes__get_view)
{
	static const uint8_t in[] = { 'a', 'b', 'c', 'd' };
	struct bytes_r r;
	struct bytes_view v = { NULL, 0 };

	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_get_view(&r, 5, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_ptr_null(v.p);
	ck_assert_int_eq(bytes_get_view(&r, 0, &v), 0);
	ck_assert_uint_eq(v.len, 0);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_int_eq(bytes_get_view(&r, 3, &v), 0);
	/* A view, not a copy: it points into the input. */
	ck_assert_ptr_eq(v.p, in);
	ck_assert_uint_eq(v.len, 3);
	ck_assert_int_eq(bytes_get_view(&r, 2, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 3);
	ck_assert_int_eq(bytes_get_view(&r, 1, &v), 0);
	ck_assert_ptr_eq(v.p, in + 3);
	ck_assert_uint_eq(bytes_r_left(&r), 0);
}
END_TEST

START_TEST(bytes__get_view16)
{
	static const uint8_t in[] = {
		0x00, 0x03,		/* length 3 */
		'f', 'o', 'o',		/* body */
		0x00, 0x00,		/* length 0 */
		0x00, 0x05, 'x'		/* length 5, one byte of body */
	};
	struct bytes_r r;
	struct bytes_view v;
	size_t n;

	/* Every prefix of the first field is short and leaves off at 0. */
	for (n = 0; n < 5; n++) {
		bytes_r_init(&r, in, n);
		ck_assert_msg(bytes_get_view16(&r, &v) == CAIRN_ERR_NEED_MORE,
		    "prefix %zu", n);
		ck_assert_msg(r.off == 0, "prefix %zu moved to %zu", n, r.off);
	}
	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_get_view16(&r, &v), 0);
	ck_assert_uint_eq(v.len, 3);
	ck_assert_mem_eq(v.p, "foo", 3);
	ck_assert_uint_eq(r.off, 5);
	ck_assert_int_eq(bytes_get_view16(&r, &v), 0);
	ck_assert_uint_eq(v.len, 0);
	ck_assert_uint_eq(r.off, 7);
	/* The header fits but the body does not: back to before the header. */
	ck_assert_int_eq(bytes_get_view16(&r, &v), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 7);
}
END_TEST

START_TEST(bytes__skip)
{
	static const uint8_t in[] = { 1, 2, 3 };
	struct bytes_r r;
	uint8_t b;

	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_skip(&r, 4), CAIRN_ERR_NEED_MORE);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_int_eq(bytes_skip(&r, 2), 0);
	ck_assert_int_eq(bytes_get_u8(&r, &b), 0);
	ck_assert_uint_eq(b, 3);
	ck_assert_int_eq(bytes_skip(&r, 0), 0);
	ck_assert_int_eq(bytes_skip(&r, 1), CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(bytes_skip(&r, SIZE_MAX), CAIRN_ERR_NEED_MORE);
}
END_TEST

START_TEST(bytes__null_input_is_empty)
{
	struct bytes_r r;
	uint8_t b;

	bytes_r_init(&r, NULL, 10);
	ck_assert_uint_eq(bytes_r_left(&r), 0);
	ck_assert_int_eq(bytes_get_u8(&r, &b), CAIRN_ERR_NEED_MORE);
}
END_TEST

START_TEST(bytes__rest)
{
	static const uint8_t in[] = { 'a', 'b', 'c' };
	struct bytes_r r;
	struct bytes_view v;

	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_skip(&r, 1), 0);
	v = bytes_r_rest(&r);
	ck_assert_ptr_eq(v.p, in + 1);
	ck_assert_uint_eq(v.len, 2);
	/* rest does not move the cursor. */
	ck_assert_uint_eq(r.off, 1);
}
END_TEST

START_TEST(bytes__view_eq_str)
{
	struct bytes_view v = bytes_view_of("abc", 3);

	ck_assert_int_eq(bytes_view_eq_str(v, "abc"), 1);
	ck_assert_int_eq(bytes_view_eq_str(v, "ab"), 0);
	ck_assert_int_eq(bytes_view_eq_str(v, "abcd"), 0);
	ck_assert_int_eq(bytes_view_eq_str(v, "abd"), 0);
	ck_assert_int_eq(bytes_view_eq_str(bytes_view_of(NULL, 0), ""), 1);
	ck_assert_int_eq(bytes_view_eq_str(bytes_view_of(NULL, 0), "a"), 0);
}
END_TEST

/* Varints: value and its minimal encoding, at every width boundary. */
static const struct {
	uint32_t	value;
	size_t		len;
	uint8_t		enc[4];
} varints[] = {
	{ 0,		1, { 0x00 } },
	{ 1,		1, { 0x01 } },
	{ 127,		1, { 0x7f } },
	{ 128,		2, { 0x80, 0x01 } },
	{ 300,		2, { 0xac, 0x02 } },
	{ 16383,	2, { 0xff, 0x7f } },
	{ 16384,	3, { 0x80, 0x80, 0x01 } },
	{ 2097151,	3, { 0xff, 0xff, 0x7f } },
	{ 2097152,	4, { 0x80, 0x80, 0x80, 0x01 } },
	{ 268435455,	4, { 0xff, 0xff, 0xff, 0x7f } },
};

START_TEST(bytes__varint_decode)
{
	struct bytes_r r;
	uint32_t v = 0xdeadbeef;
	uint8_t buf[5];

	/* Followed by one more byte that must stay unread. */
	memcpy(buf, varints[_i].enc, varints[_i].len);
	buf[varints[_i].len] = 0x55;
	bytes_r_init(&r, buf, varints[_i].len + 1);
	ck_assert_int_eq(bytes_get_varint(&r, &v), 0);
	ck_assert_uint_eq(v, varints[_i].value);
	ck_assert_uint_eq(r.off, varints[_i].len);
}
END_TEST

START_TEST(bytes__varint_encode)
{
	struct bytes_w w;
	uint8_t buf[4];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(bytes_put_varint(&w, varints[_i].value), 0);
	ck_assert_uint_eq(w.len, varints[_i].len);
	ck_assert_mem_eq(buf, varints[_i].enc, varints[_i].len);
}
END_TEST

START_TEST(bytes__varint_truncated)
{
	struct bytes_r r;
	uint32_t v = 7;
	size_t n;

	for (n = 0; n < varints[_i].len; n++) {
		bytes_r_init(&r, varints[_i].enc, n);
		ck_assert_msg(bytes_get_varint(&r, &v) == CAIRN_ERR_NEED_MORE,
		    "value %u prefix %zu", varints[_i].value, n);
		ck_assert_uint_eq(r.off, 0);
		ck_assert_uint_eq(v, 7);
	}
}
END_TEST

START_TEST(bytes__varint_five_bytes)
{
	static const uint8_t in[] = { 0x80, 0x80, 0x80, 0x80, 0x01 };
	static const uint8_t max[] = { 0xff, 0xff, 0xff, 0xff, 0x7f };
	struct bytes_r r;
	uint32_t v = 7;

	bytes_r_init(&r, in, sizeof(in));
	ck_assert_int_eq(bytes_get_varint(&r, &v), CAIRN_ERR_PROTO);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_uint_eq(v, 7);
	/* Four continuation bytes are already wrong, even before a fifth. */
	bytes_r_init(&r, max, 4);
	ck_assert_int_eq(bytes_get_varint(&r, &v), CAIRN_ERR_PROTO);
	ck_assert_uint_eq(r.off, 0);
}
END_TEST

START_TEST(bytes__varint_overlong)
{
	static const struct {
		size_t	len;
		uint8_t	enc[4];
	} bad[] = {
		{ 2, { 0x80, 0x00 } },			/* 0 in two bytes */
		{ 2, { 0xff, 0x00 } },			/* 127 in two bytes */
		{ 3, { 0x80, 0x80, 0x00 } },		/* 0 in three */
		{ 3, { 0xff, 0xff, 0x00 } },		/* 16383 in three */
		{ 4, { 0x80, 0x80, 0x80, 0x00 } },	/* 0 in four */
	};
	struct bytes_r r;
	uint32_t v = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bytes_r_init(&r, bad[i].enc, bad[i].len);
		ck_assert_msg(bytes_get_varint(&r, &v) == CAIRN_ERR_PROTO,
		    "case %zu", i);
		ck_assert_uint_eq(r.off, 0);
		ck_assert_uint_eq(v, 7);
	}
}
END_TEST

START_TEST(bytes__varint_put_too_large)
{
	struct bytes_w w;
	uint8_t buf[8];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(bytes_put_varint(&w, 268435456u), CAIRN_ERR_INVAL);
	ck_assert_int_eq(bytes_put_varint(&w, UINT32_MAX), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(bytes__put_widths)
{
	static const uint8_t want[] = {
		0x01,					/* u8 */
		0x02, 0x03,				/* u16be */
		0x04, 0x05, 0x06, 0x07,			/* u32be */
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, /* u64be */
		'h', 'i',				/* put */
		'y', 'o',				/* put_view */
		's', 't', 'r'				/* put_str */
	};
	struct bytes_w w;

	bytes_w_init(&w, 1024);
	ck_assert_int_eq(bytes_put_u8(&w, 0x01), 0);
	ck_assert_int_eq(bytes_put_u16be(&w, 0x0203), 0);
	ck_assert_int_eq(bytes_put_u32be(&w, 0x04050607), 0);
	ck_assert_int_eq(bytes_put_u64be(&w, 0x08090a0b0c0d0e0full), 0);
	ck_assert_int_eq(bytes_put(&w, "hi", 2), 0);
	ck_assert_int_eq(bytes_put_view(&w, bytes_view_of("yo", 2)), 0);
	ck_assert_int_eq(bytes_put_str(&w, "str"), 0);
	ck_assert_int_eq(bytes_put(&w, NULL, 0), 0);
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(w.buf, want, sizeof(want));
	ck_assert_int_eq(w.err, 0);
	bytes_w_fini(&w);
	ck_assert_ptr_null(w.buf);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(bytes__fixed_exact_fit)
{
	struct bytes_w w;
	uint8_t buf[4];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(bytes_put_u32be(&w, 0x01020304), 0);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(bytes_put(&w, NULL, 0), 0);
}
END_TEST

START_TEST(bytes__fixed_overflow_sticky)
{
	struct bytes_w w;
	uint8_t buf[5] = { 0 };

	bytes_w_init_fixed(&w, buf, 3);
	ck_assert_int_eq(bytes_put_u16be(&w, 0x0102), 0);
	/* Two more bytes do not fit: nothing of them is written. */
	ck_assert_int_eq(bytes_put_u16be(&w, 0x0304), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 2);
	ck_assert_uint_eq(buf[2], 0);
	ck_assert_int_eq(w.err, CAIRN_ERR_TOO_BIG);
	/* A later put that would fit still fails: the error is sticky. */
	ck_assert_int_eq(bytes_put_u8(&w, 0x05), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(bytes_printf(&w, "%s", ""), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(bytes_put_varint(&w, 1), CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(bytes_w_reserve(&w, 0), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 2);
	ck_assert_uint_eq(buf[2], 0);
	/* Reset clears the error and empties the buffer. */
	bytes_w_reset(&w);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(bytes_put_u8(&w, 0x09), 0);
	ck_assert_uint_eq(buf[0], 0x09);
	/* fini on a fixed buffer keeps the caller's storage. */
	bytes_w_fini(&w);
	ck_assert_ptr_eq(w.buf, buf);
}
END_TEST

START_TEST(bytes__growing_grows)
{
	struct bytes_w w;
	size_t i;

	bytes_w_init(&w, 100000);
	ck_assert_ptr_null(w.buf);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(bytes_put_u32be(&w, (uint32_t)i), 0);
	ck_assert_uint_eq(w.len, 40000);
	ck_assert_uint_ge(w.cap, w.len);
	ck_assert_uint_le(w.cap, w.max);
	for (i = 0; i < 10000; i++) {
		const uint8_t *p = w.buf + 4 * i;
		ck_assert_uint_eq((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3], i);
	}
	bytes_w_fini(&w);
	ck_assert_ptr_null(w.buf);
	ck_assert_uint_eq(w.cap, 0);
	/* Reusable after fini. */
	ck_assert_int_eq(bytes_put_u8(&w, 1), 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(bytes__growing_cap)
{
	struct bytes_w w;
	uint8_t chunk[33];

	memset(chunk, 'x', sizeof(chunk));
	bytes_w_init(&w, 100);
	ck_assert_int_eq(bytes_put(&w, chunk, 33), 0);
	ck_assert_int_eq(bytes_put(&w, chunk, 33), 0);
	ck_assert_int_eq(bytes_put(&w, chunk, 33), 0);
	ck_assert_int_eq(bytes_put_u8(&w, 'y'), 0);
	ck_assert_uint_eq(w.len, 100);
	/* The buffer never allocates past its cap. */
	ck_assert_uint_le(w.cap, 100);
	ck_assert_int_eq(bytes_put_u8(&w, 'z'), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 100);
	ck_assert_int_eq(w.err, CAIRN_ERR_TOO_BIG);
	bytes_w_fini(&w);

	/* One put larger than the cap fails at once and allocates nothing. */
	bytes_w_init(&w, 10);
	ck_assert_int_eq(bytes_put(&w, chunk, 11), CAIRN_ERR_TOO_BIG);
	ck_assert_ptr_null(w.buf);
	bytes_w_fini(&w);

	/* A cap of zero refuses any byte. */
	bytes_w_init(&w, 0);
	ck_assert_int_eq(bytes_put_u8(&w, 1), CAIRN_ERR_TOO_BIG);
	bytes_w_fini(&w);

	/* Size arithmetic must not wrap. */
	bytes_w_init(&w, SIZE_MAX);
	ck_assert_int_eq(bytes_put_u8(&w, 1), 0);
	ck_assert_int_eq(bytes_w_reserve(&w, SIZE_MAX), CAIRN_ERR_TOO_BIG);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(bytes__reserve)
{
	struct bytes_w w;

	bytes_w_init(&w, 1000);
	ck_assert_int_eq(bytes_w_reserve(&w, 500), 0);
	ck_assert_uint_ge(w.cap, 500);
	ck_assert_uint_le(w.cap, 1000);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(bytes_w_reserve(&w, 1001), CAIRN_ERR_TOO_BIG);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(bytes__consume)
{
	struct bytes_w w;

	bytes_w_init(&w, 64);
	ck_assert_int_eq(bytes_put_str(&w, "abcdef"), 0);
	bytes_w_consume(&w, 0);
	ck_assert_uint_eq(w.len, 6);
	bytes_w_consume(&w, 2);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_mem_eq(w.buf, "cdef", 4);
	ck_assert_int_eq(bytes_put_str(&w, "gh"), 0);
	ck_assert_mem_eq(w.buf, "cdefgh", 6);
	bytes_w_consume(&w, 6);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(bytes_put_str(&w, "i"), 0);
	/* More than is there empties the buffer. */
	bytes_w_consume(&w, 100);
	ck_assert_uint_eq(w.len, 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(bytes__printf)
{
	struct bytes_w w;
	char big[300];

	bytes_w_init(&w, 4096);
	ck_assert_int_eq(bytes_put_str(&w, "<"), 0);
	ck_assert_int_eq(bytes_printf(&w, "%s=%d", "port", 4369), 0);
	ck_assert_int_eq(bytes_printf(&w, "%s", ""), 0);
	/* The NUL vsnprintf writes is not kept. */
	ck_assert_uint_eq(w.len, 10);
	ck_assert_mem_eq(w.buf, "<port=4369", 10);
	/* Output longer than the first allocation. */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(bytes_printf(&w, "[%s]", big), 0);
	ck_assert_uint_eq(w.len, 10 + 2 + 299);
	ck_assert_uint_eq(w.buf[10], '[');
	ck_assert_uint_eq(w.buf[w.len - 1], ']');
	bytes_w_fini(&w);
}
END_TEST

START_TEST(bytes__printf_fixed)
{
	struct bytes_w w;
	uint8_t buf[8];

	/* Output that fills the buffer exactly fits: the NUL is not kept. */
	memset(buf, 0xee, sizeof(buf));
	bytes_w_init_fixed(&w, buf, 4);
	ck_assert_int_eq(bytes_printf(&w, "%d", 1234), 0);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_mem_eq(buf, "1234", 4);
	ck_assert_uint_eq(buf[4], 0xee);
	ck_assert_int_eq(w.err, 0);

	/* The same on a growing buffer whose cap is the output's size. */
	bytes_w_init(&w, 4);
	ck_assert_int_eq(bytes_printf(&w, "%d", 5678), 0);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_mem_eq(w.buf, "5678", 4);
	bytes_w_fini(&w);

	/* One byte over fails and writes nothing. */
	memset(buf, 0xee, sizeof(buf));
	bytes_w_init_fixed(&w, buf, 4);
	ck_assert_int_eq(bytes_put_u8(&w, 'a'), 0);
	ck_assert_int_eq(bytes_printf(&w, "%d", 1234), CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(w.len, 1);
	ck_assert_uint_eq(buf[1], 0xee);
	ck_assert_int_eq(w.err, CAIRN_ERR_TOO_BIG);
}
END_TEST

START_TEST(bytes__patch_u16be)
{
	struct bytes_w w;
	uint8_t buf[8];

	bytes_w_init_fixed(&w, buf, sizeof(buf));
	ck_assert_int_eq(bytes_put_u16be(&w, 0), 0);
	ck_assert_int_eq(bytes_put_str(&w, "abc"), 0);
	ck_assert_int_eq(bytes_patch_u16be(&w, 0, 3), 0);
	ck_assert_mem_eq(buf, "\x00\x03" "abc", 5);
	ck_assert_int_eq(bytes_patch_u16be(&w, 3, 0x7879), 0);
	ck_assert_mem_eq(buf, "\x00\x03" "axy", 5);
	/* Out of [0, len): refused, nothing written. */
	ck_assert_int_eq(bytes_patch_u16be(&w, 4, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(bytes_patch_u16be(&w, 5, 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(bytes_patch_u16be(&w, SIZE_MAX, 0), CAIRN_ERR_INVAL);
	ck_assert_mem_eq(buf, "\x00\x03" "axy", 5);
	ck_assert_uint_eq(w.len, 5);
}
END_TEST

static Suite *
bytes_suite(void)
{
	Suite *s = suite_create("bytes");
	TCase *tc;
	int nv = (int)(sizeof(varints) / sizeof(varints[0]));

	tc = tcase_create("reader");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, bytes__get_u8);
	tcase_add_test(tc, bytes__get_u16be);
	tcase_add_test(tc, bytes__get_u32be);
	tcase_add_test(tc, bytes__get_u64be);
	tcase_add_test(tc, bytes__get_view);
	tcase_add_test(tc, bytes__get_view16);
	tcase_add_test(tc, bytes__skip);
	tcase_add_test(tc, bytes__null_input_is_empty);
	tcase_add_test(tc, bytes__rest);
	tcase_add_test(tc, bytes__view_eq_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("varint");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, bytes__varint_decode, 0, nv);
	tcase_add_loop_test(tc, bytes__varint_encode, 0, nv);
	tcase_add_loop_test(tc, bytes__varint_truncated, 0, nv);
	tcase_add_test(tc, bytes__varint_five_bytes);
	tcase_add_test(tc, bytes__varint_overlong);
	tcase_add_test(tc, bytes__varint_put_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, bytes__put_widths);
	tcase_add_test(tc, bytes__fixed_exact_fit);
	tcase_add_test(tc, bytes__fixed_overflow_sticky);
	tcase_add_test(tc, bytes__growing_grows);
	tcase_add_test(tc, bytes__growing_cap);
	tcase_add_test(tc, bytes__reserve);
	tcase_add_test(tc, bytes__consume);
	tcase_add_test(tc, bytes__printf);
	tcase_add_test(tc, bytes__printf_fixed);
	tcase_add_test(tc, bytes__patch_u16be);
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
	sr = srunner_create(bytes_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
