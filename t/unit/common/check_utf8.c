/*
 * Unit tests for common/utf8: the strict validator that names go
 * through (OTP's verify_utf8 rules): counts of valid text, overlong
 * forms, surrogates, values past U+10FFFF, truncated sequences, and an
 * exhaustive comparison with a plain reference decoder.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

struct utf8_case {
	const char	*what;
	const char	*bytes;
	size_t		 len;
	long		 want;	/* code points, or -1 */
};

#define U(what, s, want)	{ what, s, sizeof(s) - 1, want }

static const struct utf8_case valid[] = {
	U("empty", "", 0),
	U("ascii", "abc", 3),
	U("NUL is a character", "a\0b", 3),
	U("DEL", "\x7f", 1),
	U("U+0080, lowest 2-byte", "\xc2\x80", 1),
	U("U+00E9", "\xc3\xa9", 1),
	U("U+07FF, highest 2-byte", "\xdf\xbf", 1),
	U("U+0800, lowest 3-byte", "\xe0\xa0\x80", 1),
	U("U+20AC", "\xe2\x82\xac", 1),
	U("U+D7FF, below the surrogates", "\xed\x9f\xbf", 1),
	U("U+E000, above the surrogates", "\xee\x80\x80", 1),
	U("U+FFFF, highest 3-byte", "\xef\xbf\xbf", 1),
	U("U+10000, lowest 4-byte", "\xf0\x90\x80\x80", 1),
	U("U+1D11E", "\xf0\x9d\x84\x9e", 1),
	U("U+10FFFF, highest", "\xf4\x8f\xbf\xbf", 1),
	U("mixed widths", "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e" "z", 5),
};

static const struct utf8_case invalid[] = {
	U("lone continuation 80", "\x80", -1),
	U("lone continuation BF", "a\xbf", -1),
	U("overlong NUL C0 80", "\xc0\x80", -1),
	U("overlong C1 BF", "\xc1\xbf", -1),
	U("overlong 3-byte E0 80 80", "\xe0\x80\x80", -1),
	U("overlong 3-byte E0 9F BF", "\xe0\x9f\xbf", -1),
	U("overlong 4-byte F0 80 80 80", "\xf0\x80\x80\x80", -1),
	U("overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf", -1),
	U("surrogate U+D800", "\xed\xa0\x80", -1),
	U("surrogate U+DBFF", "\xed\xaf\xbf", -1),
	U("surrogate U+DC00", "\xed\xb0\x80", -1),
	U("surrogate U+DFFF", "\xed\xbf\xbf", -1),
	U("surrogate pair CESU-8", "\xed\xa0\xbd\xed\xb8\x80", -1),
	U("U+110000", "\xf4\x90\x80\x80", -1),
	U("F5 lead", "\xf5\x80\x80\x80", -1),
	U("F7 lead", "\xf7\xbf\xbf\xbf", -1),
	U("5-byte F8", "\xf8\x88\x80\x80\x80", -1),
	U("6-byte FC", "\xfc\x84\x80\x80\x80\x80", -1),
	U("FE", "\xfe", -1),
	U("FF", "\xff", -1),
	U("truncated 2-byte", "\xc3", -1),
	U("truncated 2-byte then ascii", "\xc3" "a", -1),
	U("truncated 3-byte at 1", "\xe2", -1),
	U("truncated 3-byte at 2", "\xe2\x82", -1),
	U("truncated 4-byte at 1", "\xf0", -1),
	U("truncated 4-byte at 2", "\xf0\x9d", -1),
	U("truncated 4-byte at 3", "\xf0\x9d\x84", -1),
	U("bad 2nd of 2", "\xc3\x28", -1),
	U("bad 2nd of 3", "\xe2\x28\xa1", -1),
	U("bad 3rd of 3", "\xe2\x82\x28", -1),
	U("bad 2nd of 4", "\xf0\x28\x8c\xbc", -1),
	U("bad 3rd of 4", "\xf0\x90\x28\xbc", -1),
	U("bad 4th of 4", "\xf0\x90\x8c\x28", -1),
	U("valid then truncated", "abc\xc3", -1),
	U("NUL inside a sequence", "\xe2\x00\xac", -1),
};

START_TEST(utf8__valid)
{
	const struct utf8_case *c = &valid[_i];

	ck_assert_msg(utf8_count((const uint8_t *)c->bytes, c->len) == c->want,
	    "%s: got %ld, want %ld", c->what,
	    utf8_count((const uint8_t *)c->bytes, c->len), c->want);
}
END_TEST

START_TEST(utf8__invalid)
{
	const struct utf8_case *c = &invalid[_i];

	ck_assert_msg(utf8_count((const uint8_t *)c->bytes, c->len) == -1,
	    "%s: got %ld, want -1", c->what,
	    utf8_count((const uint8_t *)c->bytes, c->len));
}
END_TEST

/* The length given is honoured: bytes past it are never read. */
START_TEST(utf8__length_bounds)
{
	static const uint8_t s[] = { 'a', 0xc3, 0xa9 };

	ck_assert_int_eq(utf8_count(s, 0), 0);
	ck_assert_int_eq(utf8_count(s, 1), 1);
	ck_assert_int_eq(utf8_count(s, 2), -1);
	ck_assert_int_eq(utf8_count(s, 3), 2);
	ck_assert_int_eq(utf8_count(NULL, 0), 0);
}
END_TEST

/* 255 four-byte characters, the longest node name: 1020 bytes. */
START_TEST(utf8__long_counts)
{
	uint8_t buf[1024];
	size_t i;

	for (i = 0; i < 255; i++)
		memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
	ck_assert_int_eq(utf8_count(buf, 1020), 255);
	ck_assert_int_eq(utf8_count(buf, 1019), -1);
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(utf8_count(buf, sizeof(buf)), 1024);
}
END_TEST

/*
 * The exhaustive loops check with a plain if: each ck_assert records a
 * mark point, which a million times over is slow under ASan.
 *
 * A reference decoder written from the Unicode definition: the code
 * point's value decides its one legal length.  1 valid, 0 not.
 */
static int
ref_valid(const uint8_t *p, size_t len)
{
	uint32_t cp;
	size_t need, i;

	if (p[0] < 0x80)
		need = 1, cp = p[0];
	else if ((p[0] & 0xe0) == 0xc0)
		need = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		need = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		need = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len != need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) ||
	    (need == 4 && cp < 0x10000))
		return 0;	/* overlong */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	return cp <= 0x10ffff;
}

START_TEST(utf8__exhaustive_2_and_3)
{
	uint8_t s[3];
	unsigned a, b, c;
	long got;

	for (a = 0x80; a < 0x100; a++) {
		for (b = 0; b < 0x100; b++) {
			s[0] = (uint8_t)a;
			s[1] = (uint8_t)b;
			got = utf8_count(s, 2);
			/* A lead byte of 80 or more never stands alone. */
			if (got != (ref_valid(s, 2) ? 1 : -1))
				ck_abort_msg("%02x %02x: %ld", a, b, got);
		}
	}
	for (a = 0xe0; a < 0xf0; a++) {
		for (b = 0; b < 0x100; b++) {
			for (c = 0; c < 0x100; c++) {
				s[0] = (uint8_t)a;
				s[1] = (uint8_t)b;
				s[2] = (uint8_t)c;
				got = utf8_count(s, 3);
				if (got != (ref_valid(s, 3) ? 1 : -1))
					ck_abort_msg("%02x %02x %02x: %ld",
					    a, b, c, got);
			}
		}
	}
}
END_TEST

START_TEST(utf8__exhaustive_4)
{
	static const uint8_t tails[] = { 0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xff };
	uint8_t s[4];
	unsigned a, b, c, d;
	long got;

	/* Every lead from F0 to FF, every second byte, sample tails. */
	for (a = 0xf0; a < 0x100; a++) {
		for (b = 0; b < 0x100; b++) {
			for (c = 0; c < sizeof(tails); c++) {
				for (d = 0; d < sizeof(tails); d++) {
					s[0] = (uint8_t)a;
					s[1] = (uint8_t)b;
					s[2] = tails[c];
					s[3] = tails[d];
					got = utf8_count(s, 4);
					if (got != (ref_valid(s, 4) ? 1 : -1))
						ck_abort_msg("%02x %02x %02x "
						    "%02x: %ld", s[0], s[1],
						    s[2], s[3], got);
				}
			}
		}
	}
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc;

	tc = tcase_create("table");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, utf8__valid, 0,
	    (int)(sizeof(valid) / sizeof(valid[0])));
	tcase_add_loop_test(tc, utf8__invalid, 0,
	    (int)(sizeof(invalid) / sizeof(invalid[0])));
	tcase_add_test(tc, utf8__length_bounds);
	tcase_add_test(tc, utf8__long_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("exhaustive");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, utf8__exhaustive_2_and_3);
	tcase_add_test(tc, utf8__exhaustive_4);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(utf8_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
