/*
 * Fuzz target for the store's on-disk records and keys
 * (broker/store/store_codec): the input is one value or one key as
 * read from the file.  Invariants, each an abort: a value whose frame
 * is accepted decodes with at most its own type's decoder, and what
 * decodes encodes back to exactly the same bytes (a record of an older
 * version: to a record of this one, which does); every other decoder
 * refuses it; a key that decodes is rebuilt byte for byte from its
 * fields.  The seeds (t/fuzz/corpus/store/) are one valid record of
 * each type, made by store_seeds.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/store_codec.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fz_value(const uint8_t *, size_t);

/*
 * What decodes re-encodes to the input, byte for byte; a record of an
 * older version re-encodes in this one, and that record to itself.
 */
static void
fz_same(const struct bytes_w *w, const uint8_t *p, size_t n)
{
	uint8_t *copy;

	FUZZ_ASSERT(w->err == 0);
	if (n >= 2 && p[1] < STORE_FORMAT_VERSION) {
		FUZZ_ASSERT(w->len >= 2 && w->buf[0] == p[0] &&
		    w->buf[1] == STORE_FORMAT_VERSION);
		copy = malloc(w->len);
		FUZZ_ASSERT(copy != NULL);
		memcpy(copy, w->buf, w->len);
		fz_value(copy, w->len);
		free(copy);
		return;
	}
	FUZZ_ASSERT(w->len == n);
	FUZZ_ASSERT(n == 0 || memcmp(w->buf, p, n) == 0);
}

static void
fz_key(const uint8_t *p, size_t n)
{
	struct store_key k;
	uint8_t buf[STORE_KEY_MAX];
	size_t len = 0;

	if (store_key_decode(bytes_view_of(p, n), &k) != 0)
		return;
	switch (k.sk_type) {
	case 'M':
		len = store_key_meta(buf);
		break;
	case 'R':
		len = store_key_retained(buf, k.sk_hash);
		break;
	case 'S':
		len = store_key_session(buf, k.sk_sid, k.sk_kind, k.sk_arg);
		break;
	default:
		FUZZ_ASSERT(0);
	}
	FUZZ_ASSERT(len == n && memcmp(buf, p, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	fz_key(p, n);
	fz_value(p, n);
	return 0;
}

static void
fz_value(const uint8_t *p, size_t n)
{
	struct bytes_view v = bytes_view_of(p, n);
	struct store_meta meta;
	struct store_msg m;
	struct store_session s;
	struct store_sub sb;
	struct store_out o;
	struct bytes_w w;
	uint16_t id;
	int type, ok = 0;

	type = store_rec_type(v, NULL);
	bytes_w_init(&w, 1u << 20);
	if (store_decode_meta(v, &meta) == 0) {
		FUZZ_ASSERT(type == STORE_REC_META);
		ok++;
		FUZZ_ASSERT(store_encode_meta(&w, &meta) == 0);
		fz_same(&w, p, n);
	}
	bytes_w_reset(&w);
	if (store_decode_retained(v, &m) == 0) {
		FUZZ_ASSERT(type == STORE_REC_RETAINED);
		ok++;
		FUZZ_ASSERT(store_encode_retained(&w, &m) == 0);
		fz_same(&w, p, n);
	}
	bytes_w_reset(&w);
	if (store_decode_session(v, &s) == 0) {
		FUZZ_ASSERT(type == STORE_REC_SESSION);
		ok++;
		FUZZ_ASSERT(store_encode_session(&w, &s) == 0);
		fz_same(&w, p, n);
	}
	bytes_w_reset(&w);
	if (store_decode_sub(v, &sb) == 0) {
		FUZZ_ASSERT(type == STORE_REC_SUB);
		ok++;
		FUZZ_ASSERT(store_encode_sub(&w, &sb) == 0);
		fz_same(&w, p, n);
	}
	bytes_w_reset(&w);
	if (store_decode_out(v, &o) == 0) {
		FUZZ_ASSERT(type == STORE_REC_OUT);
		ok++;
		FUZZ_ASSERT(store_encode_out(&w, &o) == 0);
		fz_same(&w, p, n);
	}
	bytes_w_reset(&w);
	if (store_decode_inq2(v, &id) == 0) {
		FUZZ_ASSERT(type == STORE_REC_INQ2);
		ok++;
		FUZZ_ASSERT(store_encode_inq2(&w, id) == 0);
		fz_same(&w, p, n);
	}
	FUZZ_ASSERT(ok <= 1);
	if (type < 0)
		FUZZ_ASSERT(ok == 0);
	bytes_w_fini(&w);
}
