/*
 * Fuzz target for broker/core/scram: the server's side of one
 * SCRAM-SHA-256 exchange.  The input is client-first, a 0xff byte, then
 * client-final (0xff is never valid in either, so it cannot hide a
 * message).  The credential is RFC 7677's ("pencil") and our nonce the
 * RFC's, so the RFC's messages pass.  Invariants:
 *
 *   - client-first either fails (state FAILED) or gives a user name of
 *     1 to SCRAM_USER_MAX bytes once SASLprep made it, NUL-terminated,
 *     and state NEED_CRED;
 *   - server-first is made for every accepted client-first, within
 *     SCRAM_OUT_MAX bytes, starting with "r=" and the client's nonce;
 *   - client-final either fails with out empty (state FAILED) or gives
 *     state DONE and "v=" with 44 base64 characters; a second
 *     client-final is always refused;
 *   - a fake (unknown) credential never reaches DONE on the same input.
 *
 * Seeds in t/fuzz/corpus/scram/: the RFC 7677 exchange and variants
 * (tampered nonce, proof, binding; extensions; escaped names; names
 * that SASLprep maps or refuses), made by hand from the RFC.  A broken invariant aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/scram.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

/* RFC 7677's salt, and the keys of "pencil" under it. */
static const char *const fuzz_cred64[3] = {
	"W22ZaJ0SNY7soEsUEjb6gQ==",
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
};

static void
fuzz_cred(struct scram_cred *c)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	c->sc_iter = 4096;
	FUZZ_ASSERT(b64_decode(fuzz_cred64[0], strlen(fuzz_cred64[0]),
	    c->sc_salt, sizeof(c->sc_salt), &c->sc_saltlen, B64_STRICT) == 0);
	FUZZ_ASSERT(b64_decode(fuzz_cred64[1], strlen(fuzz_cred64[1]),
	    c->sc_stored_key, SCRAM_KEY_LEN, &n, B64_STRICT) == 0 &&
	    n == SCRAM_KEY_LEN);
	FUZZ_ASSERT(b64_decode(fuzz_cred64[2], strlen(fuzz_cred64[2]),
	    c->sc_server_key, SCRAM_KEY_LEN, &n, B64_STRICT) == 0 &&
	    n == SCRAM_KEY_LEN);
}

/* One exchange; returns the state it ends in. */
static enum scram_state
fuzz_run(const uint8_t *first, size_t flen, const uint8_t *final,
    size_t finlen, int known)
{
	static struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;
	size_t cnonce;

	fuzz_cred(&c);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	if (scram_client_first(&s, bytes_view_of(first, flen), &user) != 0) {
		FUZZ_ASSERT(s.s_state == SCRAM_FAILED);
		goto done;
	}
	FUZZ_ASSERT(s.s_state == SCRAM_NEED_CRED);
	FUZZ_ASSERT(user.len >= 1 && user.len <= SCRAM_USER_MAX);
	FUZZ_ASSERT(user.p[user.len] == '\0');
	FUZZ_ASSERT(scram_server_first(&s, &c, known,
	    bytes_view_of(FUZZ_SNONCE, strlen(FUZZ_SNONCE)), &out) == 0);
	FUZZ_ASSERT(out.len <= SCRAM_OUT_MAX && out.len > 2);
	FUZZ_ASSERT(memcmp(out.buf, "r=", 2) == 0);
	cnonce = s.s_cnoncelen;
	FUZZ_ASSERT(out.len > 2 + cnonce &&
	    memcmp(out.buf + 2, s.s_am + s.s_cnonceoff, cnonce) == 0);
	if (final == NULL)
		goto done;
	if (scram_client_final(&s, bytes_view_of(final, finlen), &out) != 0) {
		FUZZ_ASSERT(s.s_state == SCRAM_FAILED && out.len == 0);
		goto done;
	}
	FUZZ_ASSERT(known);
	FUZZ_ASSERT(s.s_state == SCRAM_DONE);
	FUZZ_ASSERT(out.len == 2 + SCRAM_B64_LEN(SCRAM_KEY_LEN) &&
	    memcmp(out.buf, "v=", 2) == 0);
	FUZZ_ASSERT(scram_client_final(&s, bytes_view_of(final, finlen),
	    &out) == CAIRN_ERR_INVAL && out.len == 0);
	s.s_state = SCRAM_DONE;
done:
	bytes_w_fini(&out);
	return s.s_state;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep, *final = NULL;
	size_t flen = size, finlen = 0;

	if ((sep = memchr(data, 0xff, size)) != NULL) {
		flen = (size_t)(sep - data);
		final = sep + 1;
		finlen = size - flen - 1;
	}
	fuzz_run(data, flen, final, finlen, 1);
	FUZZ_ASSERT(fuzz_run(data, flen, final, finlen, 0) != SCRAM_DONE);
	return 0;
}
