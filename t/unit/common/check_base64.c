/*
 * Unit tests for common/base64: RFC 4648's test vectors both ways, what
 * B64_STRICT refuses (SCRAM: missing padding, non-canonical bits) and
 * what the lenient mode still takes (the password file: padding left
 * out), bad characters and lengths, and the max bound.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/err.h"

/* RFC 4648 section 10. */
static const struct {
	const char *in, *out;
} vec[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
	{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static int
dec(const char *s, size_t max, int flags, uint8_t *out, size_t *n)
{
	return b64_decode(s, strlen(s), out, max, n, flags);
}

START_TEST(base64__vectors)
{
	char enc[B64_LEN(8) + 1];
	uint8_t out[8];
	size_t i, n;
	int strict;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		b64_encode((const uint8_t *)vec[i].in, strlen(vec[i].in), enc);
		ck_assert_str_eq(enc, vec[i].out);
		ck_assert_uint_eq(strlen(enc), B64_LEN(strlen(vec[i].in)));
		for (strict = 0; strict <= B64_STRICT; strict++) {
			n = 99;
			ck_assert_int_eq(dec(vec[i].out, sizeof(out), strict,
			    out, &n), 0);
			ck_assert_uint_eq(n, strlen(vec[i].in));
			ck_assert(n == 0 || memcmp(out, vec[i].in, n) == 0);
		}
	}
}
END_TEST

START_TEST(base64__every_byte)
{
	uint8_t in[256], out[256];
	char enc[B64_LEN(256) + 1];
	size_t i, len, n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(255 - i);
	for (len = 0; len <= sizeof(in); len += 1) {
		b64_encode(in, len, enc);
		ck_assert_int_eq(b64_decode(enc, strlen(enc), out, len, &n,
		    B64_STRICT), 0);
		ck_assert_uint_eq(n, len);
		ck_assert(len == 0 || memcmp(in, out, len) == 0);
	}
}
END_TEST

START_TEST(base64__strict_refuses)
{
	uint8_t out[8];
	size_t n;

	/* Padding left out, or short. */
	ck_assert_int_eq(dec("Zg", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
	ck_assert_int_eq(dec("Zg=", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
	ck_assert_int_eq(dec("Zm8", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
	/* Unused bits set: "Zh==" and "Zm9=" are not canonical. */
	ck_assert_int_eq(dec("Zh==", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
	ck_assert_int_eq(dec("Zm9=", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
	/* Three '=' is one too many. */
	ck_assert_int_eq(dec("Z===", 8, B64_STRICT, out, &n), CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(base64__lenient_takes)
{
	uint8_t out[8];
	size_t n;

	ck_assert_int_eq(dec("Zg", 8, 0, out, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(out[0], 'f');
	ck_assert_int_eq(dec("Zm8", 8, 0, out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(out, "fo", 2), 0);
	ck_assert_int_eq(dec("Zm9vYg", 8, 0, out, &n), 0);
	ck_assert_uint_eq(n, 4);
	/* Padding, when there, must still complete the group. */
	ck_assert_int_eq(dec("Zg=", 8, 0, out, &n), CAIRN_ERR_PROTO);
	/* One character alone is never a byte. */
	ck_assert_int_eq(dec("Z", 8, 0, out, &n), CAIRN_ERR_PROTO);
	ck_assert_int_eq(dec("Zm9vY", 8, 0, out, &n), CAIRN_ERR_PROTO);
}
END_TEST

START_TEST(base64__bad_characters_and_max)
{
	uint8_t out[8];
	size_t n;
	int strict;

	for (strict = 0; strict <= B64_STRICT; strict++) {
		ck_assert_int_eq(dec("Zm9v\nYmFy", 8, strict, out, &n),
		    CAIRN_ERR_PROTO);
		ck_assert_int_eq(dec("Zm-v", 8, strict, out, &n),
		    CAIRN_ERR_PROTO);
		ck_assert_int_eq(dec("Zm_v", 8, strict, out, &n),
		    CAIRN_ERR_PROTO);
		ck_assert_int_eq(dec("Zm=v", 8, strict, out, &n),
		    CAIRN_ERR_PROTO);
		ck_assert_int_eq(b64_decode("Zm\0v", 4, out, 8, &n, strict),
		    CAIRN_ERR_PROTO);
		/* max is checked before a byte is written. */
		ck_assert_int_eq(dec("Zm9vYmFy", 5, strict, out, &n),
		    CAIRN_ERR_TOO_BIG);
		ck_assert_int_eq(dec("Zm9vYmFy", 6, strict, out, &n), 0);
		ck_assert_int_eq(dec("Zm9vYg==", 3, strict, out, &n),
		    CAIRN_ERR_TOO_BIG);
	}
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");

	tcase_add_test(tc, base64__vectors);
	tcase_add_test(tc, base64__every_byte);
	tcase_add_test(tc, base64__strict_refuses);
	tcase_add_test(tc, base64__lenient_takes);
	tcase_add_test(tc, base64__bad_characters_and_max);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(base64_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
