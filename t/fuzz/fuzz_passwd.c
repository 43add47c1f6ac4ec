/*
 * Fuzz target for broker/core/passwd: the password file parser, every
 * line form ($7$, $6$, $scram-sha-256$, comments) and its errors.
 * Invariants:
 *
 *   - a refused file leaves the output unchanged and says why, as
 *     "NAME:LINE: ..." with a line number in the file;
 *   - an accepted file's users are all found again (passwd_has), and a
 *     SCRAM lookup always gives a credential with a salt of 8 to 64
 *     bytes and a count of at least 1, fake or not;
 *   - the fake credential of a name is the same when asked twice.
 *
 * No KDF runs (a fuzzed count could be 2^31).  Seeds in
 * t/fuzz/corpus/passwd/: lines from mosquitto_passwd 2.0.11 and
 * `cairn passwd --scram`, and broken ones.  A broken invariant aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/passwd.h"
#include "broker/core/scram.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_cred_ok(const struct scram_cred *c)
{
	FUZZ_ASSERT(c->sc_saltlen >= SCRAM_SALT_MIN &&
	    c->sc_saltlen <= SCRAM_SALT_MAX);
	FUZZ_ASSERT(c->sc_iter >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passwd_file *pf = (struct passwd_file *)&pf, *orig = pf;
	struct scram_cred a, b;
	char err[256] = "", user[64];
	const char *p, *nl, *colon;
	size_t line, n;
	int rc;

	rc = passwd_parse((const char *)data, size, "f", &pf, err,
	    sizeof(err));
	if (rc != 0) {
		FUZZ_ASSERT(pf == orig);
		FUZZ_ASSERT(rc == CAIRN_ERR_PROTO || rc == CAIRN_ERR_NOMEM);
		FUZZ_ASSERT(strncmp(err, "f:", 2) == 0);
		line = strtoul(err + 2, NULL, 10);
		FUZZ_ASSERT(line >= 1 && line <= size + 1);
		return 0;
	}
	/* Every "USER:" line with a short plain name is a user. */
	for (p = (const char *)data; p < (const char *)data + size; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)((const char *)data + size - p));
		if (nl == NULL)
			nl = (const char *)data + size;
		colon = memchr(p, ':', (size_t)(nl - p));
		n = colon != NULL ? (size_t)(colon - p) : 0;
		if (n > 0 && n < sizeof(user) && p[0] > ' ' && p[0] != '#' &&
		    p[n - 1] > ' ' && memchr(p, '\0', n) == NULL) {
			memcpy(user, p, n);
			user[n] = '\0';
			FUZZ_ASSERT(passwd_has(pf, user));
			passwd_scram_cred(pf, bytes_view_of(user, n), &a);
			fuzz_cred_ok(&a);
		}
		if (nl == (const char *)data + size)
			break;
	}
	FUZZ_ASSERT(passwd_scram_cred(pf, bytes_view_of("\x01nobody", 7), &a)
	    == CAIRN_ERR_NOENT);
	FUZZ_ASSERT(passwd_scram_cred(pf, bytes_view_of("\x01nobody", 7), &b)
	    == CAIRN_ERR_NOENT);
	fuzz_cred_ok(&a);
	FUZZ_ASSERT(memcmp(a.sc_salt, b.sc_salt, SCRAM_SALT_LEN) == 0 &&
	    a.sc_iter == b.sc_iter);
	passwd_free(pf);
	return 0;
}
