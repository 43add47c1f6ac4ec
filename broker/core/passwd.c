/*
 * Passwd: mosquitto-compatible password files (format and contract in
 * passwd.h).  Entries live in file order, comments included, so that a
 * rewrite changes only the lines it means to; a second array holds the
 * user entries sorted by name for bsearch().  Both arrays share one
 * capacity, so re-sorting after a change never allocates and a failed
 * change leaves the file as it was.
 *
 * This module reads and writes files and calls libcrypto; it never logs.
 */
#include "broker/core/passwd.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "broker/core/scram.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/file.h"
#include "common/utf8.h"

/* The number after the first '$'; do not change (mosquitto's enum). */
enum passwd_type {
	PASSWD_COMMENT = 0,	/* a comment or blank line, kept as text */
	PASSWD_SHA512 = 6,	/* $6$SALT$HASH */
	PASSWD_PBKDF2 = 7,	/* $7$ITER$SALT$HASH */
	/* Cairn's own, $scram-sha-256$...: no number in mosquitto's enum. */
	PASSWD_SCRAM = 256,
};

#define PASSWD_SCRAM_TAG	"$scram-sha-256$"

/* Base64 length of n bytes, with padding, plus a NUL. */

struct passwd_ent {
	char		*pe_user;	/* NULL for a comment */
	char		*pe_text;	/* the hash field, or the comment line */
	size_t		 pe_line;	/* where passwd_parse() found it */
	enum passwd_type pe_type;
	int		 pe_iter;
	size_t		 pe_saltlen;
	uint8_t		 pe_salt[PASSWD_SALT_MAX];
	/* SCRAM: StoredKey then ServerKey. */
	uint8_t		 pe_hash[PASSWD_HASH_LEN];
};

struct passwd_file {
	struct passwd_ent	**pf_ent;	/* every line, in file order */
	size_t			  pf_nent;
	size_t			  pf_cap;	/* of pf_ent and pf_idx */
	struct passwd_ent	**pf_idx;	/* user entries, sorted by name */
	size_t			  pf_nusers;
	struct passwd_ent	  pf_dummy;	/* hashed for unknown users */
	int			  pf_scram_iter; /* largest SCRAM count */
	/* Keys the fake SCRAM credentials of unknown users. */
	uint8_t			  pf_secret[SCRAM_KEY_LEN];
};

/* A user name being looked up: not NUL-terminated. */
struct passwd_key {
	const char	*k_p;
	size_t		 k_len;
};

static void	passwd_errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
passwd_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Hashes password with pe's type, salt and rounds into out: 0 or -1. */
static int
passwd_hash(const struct passwd_ent *pe, struct bytes_view password,
    uint8_t out[PASSWD_HASH_LEN])
{
	const char *pw = password.len > 0 ? (const char *)password.p : "";
	EVP_MD_CTX *ctx = NULL;
	unsigned int n = 0;
	int rc = -1;

	if (password.len > PASSWD_PASSWORD_MAX)
		goto done;
	if (pe->pe_type == PASSWD_SCRAM) {
		struct scram_cred c;
		char *prep = NULL;
		int prc;

		/*
		 * The keys are of the SASLprep'd password (RFC 5802 section
		 * 2.2; a query here).  A password that SASLprep refuses
		 * still costs the KDF, over the bytes given, and fails.
		 */
		prc = scram_saslprep(password, SCRAM_PREP_QUERY, &prep, NULL);
		if (prc == 0)
			password = bytes_view_of(prep, strlen(prep));
		/* Only StoredKey is compared; ServerKey is copied as it is. */
		if (scram_cred_make(password, pe->pe_salt, pe->pe_saltlen,
		    pe->pe_iter, &c) == 0 && prc == 0) {
			memcpy(out, c.sc_stored_key, SCRAM_KEY_LEN);
			memcpy(out + SCRAM_KEY_LEN, pe->pe_hash + SCRAM_KEY_LEN,
			    SCRAM_KEY_LEN);
			rc = 0;
		}
		OPENSSL_cleanse(&c, sizeof(c));
		scram_prep_free(prep);
		goto done;
	}
	if (pe->pe_type == PASSWD_PBKDF2) {
		if (PKCS5_PBKDF2_HMAC(pw, (int)password.len, pe->pe_salt,
		    (int)pe->pe_saltlen, pe->pe_iter, EVP_sha512(),
		    PASSWD_HASH_LEN, out) == 1)
			rc = 0;
		goto done;
	}
	/* mosquitto 1.x: SHA-512 over the password, then the salt. */
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pw, password.len) != 1 ||
	    EVP_DigestUpdate(ctx, pe->pe_salt, pe->pe_saltlen) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != PASSWD_HASH_LEN)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static void
passwd_ent_free(struct passwd_ent *pe)
{
	if (pe == NULL)
		return;
	free(pe->pe_user);
	free(pe->pe_text);
	OPENSSL_cleanse(pe, sizeof(*pe));
	free(pe);
}

static int
passwd_cmp_ent(const void *a, const void *b)
{
	const struct passwd_ent *x = *(struct passwd_ent *const *)a;
	const struct passwd_ent *y = *(struct passwd_ent *const *)b;

	return strcmp(x->pe_user, y->pe_user);
}

static int
passwd_cmp_key(const void *key, const void *elem)
{
	const struct passwd_key *k = key;
	const struct passwd_ent *pe = *(struct passwd_ent *const *)elem;
	size_t ulen = strlen(pe->pe_user), n;
	int c;

	n = k->k_len < ulen ? k->k_len : ulen;
	/* An empty view may have no pointer: memcmp() must not see it. */
	if (n > 0 && (c = memcmp(k->k_p, pe->pe_user, n)) != 0)
		return c;
	return k->k_len < ulen ? -1 : k->k_len > ulen;
}

static struct passwd_ent *
passwd_find(const struct passwd_file *pf, const char *p, size_t len)
{
	struct passwd_key k = { p, len };
	struct passwd_ent **pe;

	if (pf->pf_nusers == 0)
		return NULL;
	pe = bsearch(&k, pf->pf_idx, pf->pf_nusers, sizeof(*pe),
	    passwd_cmp_key);
	return pe != NULL ? *pe : NULL;
}

/*
 * Sorts the user index again and sets up the dummy entry that unknown
 * users are checked against: the KDF of the entry with the largest
 * count in the file, PBKDF2-SHA512 ($7$) or PBKDF2-SHA256 (SCRAM), so
 * an unknown user is never cheaper than a known one; or $6$ when the
 * file holds only $6$ entries.  Also notes the largest SCRAM count, the
 * one that unknown users get in a SCRAM exchange.  Never allocates.
 */
static void
passwd_reindex(struct passwd_file *pf)
{
	struct passwd_ent *d = &pf->pf_dummy;
	size_t i, n = 0;
	int iter = 0, sha512 = 0, scram = 0;

	for (i = 0; i < pf->pf_nent; i++) {
		struct passwd_ent *pe = pf->pf_ent[i];

		if (pe->pe_user == NULL)
			continue;
		pf->pf_idx[n++] = pe;
		if (pe->pe_type == PASSWD_PBKDF2 && pe->pe_iter > iter)
			iter = pe->pe_iter;
		if (pe->pe_type == PASSWD_SCRAM && pe->pe_iter > scram)
			scram = pe->pe_iter;
		if (pe->pe_type == PASSWD_SHA512)
			sha512 = 1;
	}
	pf->pf_nusers = n;
	pf->pf_scram_iter = scram > 0 ? scram : SCRAM_DEFAULT_ITERATIONS;
	if (n > 1)
		qsort(pf->pf_idx, n, sizeof(*pf->pf_idx), passwd_cmp_ent);
	/* The dummy's salt is PASSWD_SALT_LEN random bytes: valid for all. */
	if (scram > iter) {
		d->pe_type = PASSWD_SCRAM;
		d->pe_iter = scram;
	} else if (iter == 0 && sha512) {
		d->pe_type = PASSWD_SHA512;
	} else {
		d->pe_type = PASSWD_PBKDF2;
		d->pe_iter = iter > 0 ? iter : PASSWD_DEFAULT_ITERATIONS;
	}
}

/* Room for n more entries in both arrays; on failure nothing changes. */
static int
passwd_reserve(struct passwd_file *pf, size_t n)
{
	struct passwd_ent **ent, **idx;
	size_t cap;

	if (pf->pf_cap - pf->pf_nent >= n)
		return 0;
	if (pf->pf_nent > SIZE_MAX / 2 / sizeof(*ent) - n)
		return CAIRN_ERR_NOMEM;
	cap = pf->pf_cap > 0 ? pf->pf_cap * 2 : 16;
	if (cap < pf->pf_nent + n)
		cap = pf->pf_nent + n;
	if ((ent = reallocarray(pf->pf_ent, cap, sizeof(*ent))) == NULL)
		return CAIRN_ERR_NOMEM;
	pf->pf_ent = ent;
	/* pf_cap grows only once both arrays have. */
	if ((idx = reallocarray(pf->pf_idx, cap, sizeof(*idx))) == NULL)
		return CAIRN_ERR_NOMEM;
	pf->pf_idx = idx;
	pf->pf_cap = cap;
	return 0;
}

struct passwd_file *
passwd_new(void)
{
	struct passwd_file *pf;

	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return NULL;
	/* The dummy never matches; a random salt keeps it from being known. */
	pf->pf_dummy.pe_saltlen = PASSWD_SALT_LEN;
	if (RAND_bytes(pf->pf_dummy.pe_salt, PASSWD_SALT_LEN) != 1)
		memset(pf->pf_dummy.pe_salt, 0x5a, PASSWD_SALT_LEN);
	pf->pf_dummy.pe_type = PASSWD_PBKDF2;
	pf->pf_dummy.pe_iter = PASSWD_DEFAULT_ITERATIONS;
	pf->pf_scram_iter = SCRAM_DEFAULT_ITERATIONS;
	/* passwd_parse() replaces it with one derived from the file. */
	if (RAND_bytes(pf->pf_secret, sizeof(pf->pf_secret)) != 1)
		memset(pf->pf_secret, 0xa5, sizeof(pf->pf_secret));
	return pf;
}

void
passwd_free(struct passwd_file *pf)
{
	size_t i;

	if (pf == NULL)
		return;
	for (i = 0; i < pf->pf_nent; i++)
		passwd_ent_free(pf->pf_ent[i]);
	free(pf->pf_ent);
	free(pf->pf_idx);
	free(pf);
}

static int
passwd_isblank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* Trims blanks off both ends of [*p, *p + *len). */
static void
passwd_trim(const char **p, size_t *len)
{
	while (*len > 0 && passwd_isblank(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && passwd_isblank((*p)[*len - 1]))
		(*len)--;
}

/*
 * Decodes $scram-sha-256$ITER$SALT$STOREDKEY$SERVERKEY (the tag already
 * checked) into pe: base64 as RFC 4648, padded; SALT 8 to 64 bytes, the
 * keys 32 each.  NULL or what is wrong.
 */
/* "ROUNDS$" at *sp: pe_iter, *sp past the '$'; NULL or what is wrong. */
static const char *
passwd_decode_iter(const char **sp, const char *end, struct passwd_ent *pe)
{
	const char *s = *sp, *d;
	long iter = 0;

	for (d = s; d < end && *d >= '0' && *d <= '9'; d++) {
		iter = iter * 10 + (*d - '0');
		if (iter > INT_MAX)
			return "iteration count too large";
	}
	if (d == s || d == end || *d != '$' || iter < 1)
		return "bad iteration count";
	pe->pe_iter = (int)iter;
	*sp = d + 1;
	return NULL;
}

static const char *
passwd_decode_scram(const char *f, const char *end, struct passwd_ent *pe)
{
	const char *s = f + strlen(PASSWD_SCRAM_TAG), *d, *e;
	size_t n;

	pe->pe_type = PASSWD_SCRAM;
	if ((e = passwd_decode_iter(&s, end, pe)) != NULL)
		return e;
	if ((d = memchr(s, '$', (size_t)(end - s))) == NULL)
		return "no '$' between salt and stored key";
	if (b64_decode(s, (size_t)(d - s), pe->pe_salt,
	    sizeof(pe->pe_salt), &n, B64_STRICT) != 0)
		return "SCRAM salt is not base64 of at most 64 bytes";
	if (n < SCRAM_SALT_MIN)
		return "SCRAM salt must decode to 8 to 64 bytes";
	pe->pe_saltlen = n;
	s = d + 1;
	if ((d = memchr(s, '$', (size_t)(end - s))) == NULL)
		return "no '$' between stored key and server key";
	if (b64_decode(s, (size_t)(d - s), pe->pe_hash, SCRAM_KEY_LEN,
	    &n, B64_STRICT) != 0 || n != SCRAM_KEY_LEN)
		return "SCRAM stored key must be 32 bytes of base64";
	s = d + 1;
	if (b64_decode(s, (size_t)(end - s), pe->pe_hash + SCRAM_KEY_LEN,
	    SCRAM_KEY_LEN, &n, B64_STRICT) != 0 || n != SCRAM_KEY_LEN)
		return "SCRAM server key must be 32 bytes of base64";
	return NULL;
}

/* 1 if p[0..len) holds a byte below 0x20 or 0x7f. */
static int
passwd_has_control(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 1;
	return 0;
}

/*
 * Decodes the hash field f[0..len) into pe.  NULL on success, else what
 * is wrong with it.
 */
static const char *
passwd_decode_field(const char *f, size_t len, struct passwd_ent *pe)
{
	const char *end = f + len, *s, *d, *e;
	size_t n;

	if (len >= strlen(PASSWD_SCRAM_TAG) && memcmp(f, PASSWD_SCRAM_TAG,
	    strlen(PASSWD_SCRAM_TAG)) == 0)
		return passwd_decode_scram(f, end, pe);
	if (len < 3 || f[0] != '$' || f[2] != '$')
		return f[0] == '$' ? "unknown hash type" :
		    "not a hashed password (mosquitto_passwd -U hashes "
		    "a plain-text file)";
	if (f[1] == '7')
		pe->pe_type = PASSWD_PBKDF2;
	else if (f[1] == '6')
		pe->pe_type = PASSWD_SHA512;
	else
		return "unknown hash type";
	s = f + 3;
	if (pe->pe_type == PASSWD_PBKDF2 &&
	    (e = passwd_decode_iter(&s, end, pe)) != NULL)
		return e;
	if ((d = memchr(s, '$', (size_t)(end - s))) == NULL)
		return "no '$' between salt and hash";
	if (b64_decode(s, (size_t)(d - s), pe->pe_salt, sizeof(pe->pe_salt),
	    &n, 0) != 0)
		return "salt is not base64";
	if (n != PASSWD_SALT_LEN && n != PASSWD_SALT_MAX)
		return "salt must decode to 12 or 64 bytes";
	pe->pe_saltlen = n;
	s = d + 1;
	if (b64_decode(s, (size_t)(end - s), pe->pe_hash, sizeof(pe->pe_hash),
	    &n, 0) != 0)
		return "hash is not base64";
	if (n != PASSWD_HASH_LEN)
		return "hash must decode to 64 bytes";
	return NULL;
}

/*
 * Parses one line p[0..len) (no newline) into a new entry.  NULL on
 * success with *out set, else what is wrong (*out is then NULL, and
 * *nomem tells an allocation failure apart).
 */
static const char *
passwd_parse_line(const char *p, size_t len, struct passwd_ent **out,
    int *nomem)
{
	struct passwd_ent *pe = NULL;
	const char *user, *field, *colon, *why = NULL;
	size_t ulen, flen, skip = len;

	*out = NULL;
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		goto nomem;
	user = p;
	passwd_trim(&user, &skip);
	if (memchr(p, '\0', len) != NULL) {
		why = "NUL byte in line";
		goto fail;
	}
	if (skip == 0 || user[0] == '#') {
		/* Kept as it is, so that a rewrite keeps it. */
		if ((pe->pe_text = strndup(p, len)) == NULL)
			goto nomem;
		*out = pe;
		return NULL;
	}
	if ((colon = memchr(p, ':', len)) == NULL) {
		why = "no ':' after the user name";
		goto fail;
	}
	ulen = (size_t)(colon - p);
	user = p;
	passwd_trim(&user, &ulen);
	field = colon + 1;
	flen = (size_t)(p + len - field);
	passwd_trim(&field, &flen);
	if (ulen == 0)
		why = "empty user name";
	else if (ulen > PASSWD_USER_MAX)
		why = "user name longer than 65535 bytes";
	else if (utf8_count((const uint8_t *)user, ulen) < 0)
		why = "user name is not valid UTF-8";
	else if (passwd_has_control(user, ulen))
		why = "control character in user name";
	else if (flen == 0)
		why = "no password hash";
	else if (memchr(field, ':', flen) != NULL)
		why = "':' in the password hash";
	else
		why = passwd_decode_field(field, flen, pe);
	if (why != NULL)
		goto fail;
	if ((pe->pe_user = strndup(user, ulen)) == NULL ||
	    (pe->pe_text = strndup(field, flen)) == NULL)
		goto nomem;
	*out = pe;
	return NULL;
nomem:
	*nomem = 1;
	why = "out of memory";
fail:
	passwd_ent_free(pe);
	return why;
}

int
passwd_parse(const char *text, size_t len, const char *name,
    struct passwd_file **out, char *err, size_t errlen)
{
	struct passwd_file *pf;
	struct passwd_ent *pe;
	const char *p = text, *end = text + len, *nl, *why;
	size_t line = 0, i;
	int nomem = 0, rc = CAIRN_ERR_PROTO;

	if ((pf = passwd_new()) == NULL) {
		passwd_errf(err, errlen, "%s: out of memory", name);
		return CAIRN_ERR_NOMEM;
	}
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (passwd_reserve(pf, 1) != 0) {
			nomem = 1;
			why = "out of memory";
		} else {
			why = passwd_parse_line(p, (size_t)(nl - p), &pe,
			    &nomem);
		}
		if (why != NULL) {
			passwd_errf(err, errlen, "%s:%zu: %s", name, line, why);
			goto fail;
		}
		pe->pe_line = line;
		pf->pf_ent[pf->pf_nent++] = pe;
		p = nl < end ? nl + 1 : end;
	}
	passwd_reindex(pf);
	/*
	 * The fake SCRAM salts of unknown users hang on this secret: from
	 * the file, so they stay the same across restarts and reloads of
	 * the same file, as real users' salts do; secret, because the file
	 * holds every user's salt and keys.
	 */
	if (HMAC(EVP_sha256(), "cairn scram unknown user", 24,
	    (const unsigned char *)(len > 0 ? text : ""), len, pf->pf_secret,
	    NULL) == NULL) {
		passwd_errf(err, errlen, "%s: HMAC failed (libcrypto)", name);
		goto fail;
	}
	for (i = 1; i < pf->pf_nusers; i++) {
		struct passwd_ent *a = pf->pf_idx[i - 1], *b = pf->pf_idx[i];

		if (strcmp(a->pe_user, b->pe_user) == 0) {
			if (a->pe_line > b->pe_line) {
				pe = a;
				a = b;
				b = pe;
			}
			passwd_errf(err, errlen, "%s:%zu: user '%.64s' "
			    "repeated (first on line %zu)", name, b->pe_line,
			    b->pe_user, a->pe_line);
			goto fail;
		}
	}
	*out = pf;
	return 0;
fail:
	passwd_free(pf);
	return nomem ? CAIRN_ERR_NOMEM : rc;
}

int
passwd_load(const char *path, struct passwd_file **out, char *err,
    size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	/* A regular file only, and capped (common/file.h). */
	if ((rc = file_read_all(path, PASSWD_MAX_FILE, 0, &buf, &len, err,
	    errlen)) != 0)
		return rc;
	rc = passwd_parse(buf, len, path, out, err, errlen);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

int
passwd_check(const struct passwd_file *pf, struct bytes_view user,
    struct bytes_view password)
{
	const struct passwd_ent *pe;
	uint8_t hash[PASSWD_HASH_LEN];
	int known, ok;

	if (pf == NULL)
		return CAIRN_ERR_AUTH;
	pe = passwd_find(pf, (const char *)user.p, user.len);
	known = pe != NULL;
	if (pe == NULL)
		pe = &pf->pf_dummy;
	/* The same work for an unknown user; the dummy's result is dropped. */
	ok = passwd_hash(pe, password, hash) == 0;
	ok = CRYPTO_memcmp(hash, pe->pe_hash, sizeof(hash)) == 0 && ok &&
	    known;
	OPENSSL_cleanse(hash, sizeof(hash));
	return ok ? 0 : CAIRN_ERR_AUTH;
}

int
passwd_has(const struct passwd_file *pf, const char *user)
{
	return passwd_find(pf, user, strlen(user)) != NULL;
}

size_t
passwd_count(const struct passwd_file *pf)
{
	return pf->pf_nusers;
}

int
passwd_user_valid(const char *user)
{
	size_t len = strlen(user);

	return len > 0 && len <= PASSWD_USER_MAX &&
	    utf8_count((const uint8_t *)user, len) >= 0 &&
	    !passwd_has_control(user, len) && strchr(user, ':') == NULL &&
	    user[0] != '#' && !passwd_isblank(user[0]) &&
	    !passwd_isblank(user[len - 1]);
}

/* Makes pe_text for a new $7$ or SCRAM entry: 0 or -1. */
static int
passwd_format(struct passwd_ent *pe)
{
	char salt64[B64_LEN(PASSWD_SALT_MAX) + 1];
	char hash64[B64_LEN(PASSWD_HASH_LEN) + 1];
	char skey64[B64_LEN(SCRAM_KEY_LEN) + 1];
	int n;

	b64_encode(pe->pe_salt, pe->pe_saltlen, salt64);
	if (pe->pe_type == PASSWD_SCRAM) {
		b64_encode(pe->pe_hash, SCRAM_KEY_LEN, hash64);
		b64_encode(pe->pe_hash + SCRAM_KEY_LEN, SCRAM_KEY_LEN, skey64);
		n = asprintf(&pe->pe_text, "%s%d$%s$%s$%s", PASSWD_SCRAM_TAG,
		    pe->pe_iter, salt64, hash64, skey64);
	} else {
		b64_encode(pe->pe_hash, PASSWD_HASH_LEN, hash64);
		n = asprintf(&pe->pe_text, "$%d$%d$%s$%s", PASSWD_PBKDF2,
		    pe->pe_iter, salt64, hash64);
	}
	if (n == -1) {
		pe->pe_text = NULL;
		return -1;
	}
	return 0;
}

/* passwd_set() and passwd_set_scram(): type is the entry's. */
static int
passwd_set_type(struct passwd_file *pf, const char *user,
    struct bytes_view password, int iterations, enum passwd_type type)
{
	struct passwd_ent *pe = NULL, *old;
	struct scram_cred c;
	char *prep = NULL;
	size_t i;
	int rc = CAIRN_ERR_INVAL;

	if (!passwd_user_valid(user) || password.len > PASSWD_PASSWORD_MAX ||
	    iterations < 1)
		goto fail;
	rc = CAIRN_ERR_NOMEM;
	if ((pe = calloc(1, sizeof(*pe))) == NULL ||
	    (pe->pe_user = strdup(user)) == NULL)
		goto fail;
	pe->pe_type = type;
	pe->pe_iter = iterations;
	pe->pe_saltlen = type == PASSWD_SCRAM ? SCRAM_SALT_LEN :
	    PASSWD_SALT_LEN;
	if (RAND_bytes(pe->pe_salt, (int)pe->pe_saltlen) != 1) {
		rc = CAIRN_ERR_IO;
		goto fail;
	}
	if (type == PASSWD_SCRAM) {
		/* A stored string: unassigned code points are refused. */
		if ((rc = scram_saslprep(password, SCRAM_PREP_STORED, &prep,
		    NULL)) != 0)
			goto fail;
		rc = CAIRN_ERR_NOMEM;
		if (scram_cred_make(bytes_view_of(prep, strlen(prep)),
		    pe->pe_salt, pe->pe_saltlen, iterations, &c) != 0)
			goto fail;
		scram_prep_free(prep);
		prep = NULL;
		memcpy(pe->pe_hash, c.sc_stored_key, SCRAM_KEY_LEN);
		memcpy(pe->pe_hash + SCRAM_KEY_LEN, c.sc_server_key,
		    SCRAM_KEY_LEN);
		OPENSSL_cleanse(&c, sizeof(c));
	} else if (passwd_hash(pe, password, pe->pe_hash) != 0)
		goto fail;
	if (passwd_format(pe) != 0)
		goto fail;
	if ((old = passwd_find(pf, user, strlen(user))) != NULL) {
		for (i = 0; pf->pf_ent[i] != old; i++)
			continue;
		pf->pf_ent[i] = pe;
		passwd_ent_free(old);
	} else {
		if ((rc = passwd_reserve(pf, 1)) != 0)
			goto fail;
		pf->pf_ent[pf->pf_nent++] = pe;
	}
	passwd_reindex(pf);
	return 0;
fail:
	scram_prep_free(prep);
	passwd_ent_free(pe);
	return rc;
}

int
passwd_set(struct passwd_file *pf, const char *user,
    struct bytes_view password, int iterations)
{
	return passwd_set_type(pf, user, password, iterations, PASSWD_PBKDF2);
}

int
passwd_set_scram(struct passwd_file *pf, const char *user,
    struct bytes_view password, int iterations)
{
	return passwd_set_type(pf, user, password, iterations, PASSWD_SCRAM);
}

int
passwd_scram_cred(const struct passwd_file *pf, struct bytes_view user,
    struct scram_cred *out)
{
	const struct passwd_ent *pe;

	/*
	 * The fake is made for every user, known or not, so that a lookup
	 * costs the same three HMACs either way.  Same salt for the same
	 * name, every time: see pf_secret.
	 */
	if (scram_cred_fake(pf->pf_secret, user, pf->pf_scram_iter, out) != 0)
		memset(out, 0, sizeof(*out));
	pe = passwd_find(pf, (const char *)user.p, user.len);
	if (pe == NULL || pe->pe_type != PASSWD_SCRAM)
		return CAIRN_ERR_NOENT;
	memset(out, 0, sizeof(*out));
	out->sc_iter = pe->pe_iter;
	out->sc_saltlen = pe->pe_saltlen;
	memcpy(out->sc_salt, pe->pe_salt, pe->pe_saltlen);
	memcpy(out->sc_stored_key, pe->pe_hash, SCRAM_KEY_LEN);
	memcpy(out->sc_server_key, pe->pe_hash + SCRAM_KEY_LEN, SCRAM_KEY_LEN);
	return 0;
}

int
passwd_delete(struct passwd_file *pf, const char *user)
{
	struct passwd_ent *old;
	size_t i;

	if ((old = passwd_find(pf, user, strlen(user))) == NULL)
		return CAIRN_ERR_NOENT;
	for (i = 0; pf->pf_ent[i] != old; i++)
		continue;
	memmove(&pf->pf_ent[i], &pf->pf_ent[i + 1],
	    (pf->pf_nent - i - 1) * sizeof(*pf->pf_ent));
	pf->pf_nent--;
	passwd_ent_free(old);
	passwd_reindex(pf);
	return 0;
}

/* Writes all of buf to fd: 0 or -1 with errno. */
static int
passwd_write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The file a write to path should replace: path with every link
 * resolved, or, when path does not exist yet, path itself or the target
 * of the dangling link it is.  Malloc'd; NULL with errno on failure.
 */
static char *
passwd_target(const char *path)
{
	char *real, *link = NULL, *dir = NULL, *out = NULL;
	struct stat st;
	ssize_t n;

	if ((real = realpath(path, NULL)) != NULL || errno != ENOENT)
		return real;
	if (lstat(path, &st) == -1 || !S_ISLNK(st.st_mode))
		return strdup(path);
	if ((link = malloc(PATH_MAX)) == NULL ||
	    (n = readlink(path, link, PATH_MAX - 1)) == -1)
		goto done;
	link[n] = '\0';
	if (link[0] == '/') {
		out = strdup(link);
	} else {
		if ((dir = strdup(path)) == NULL)
			goto done;
		if (asprintf(&out, "%s/%s", dirname(dir), link) == -1)
			out = NULL;
	}
done:
	free(link);
	free(dir);
	return out;
}

int
passwd_save(const struct passwd_file *pf, const char *path, char *err,
    size_t errlen)
{
	struct bytes_w w;
	struct stat st;
	char *real = NULL, *tmp = NULL, *dir = NULL;
	size_t i;
	int fd = -1, dfd = -1, rc = CAIRN_ERR_NOMEM;

	bytes_w_init(&w, PASSWD_MAX_FILE);
	for (i = 0; i < pf->pf_nent; i++) {
		const struct passwd_ent *pe = pf->pf_ent[i];

		if (pe->pe_user != NULL)
			bytes_printf(&w, "%s:%s\n", pe->pe_user, pe->pe_text);
		else
			bytes_printf(&w, "%s\n", pe->pe_text);
	}
	if (w.err != 0) {
		rc = w.err;
		passwd_errf(err, errlen, "%s: %s", path, cairn_strerror(rc));
		goto fail;
	}
	/* Replace a link's target, not the link (mosquitto_passwd does). */
	if ((real = passwd_target(path)) == NULL) {
		rc = errno == ENOMEM ? CAIRN_ERR_NOMEM : CAIRN_ERR_IO;
		passwd_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (asprintf(&tmp, "%s.XXXXXX", real) == -1) {
		tmp = NULL;
		goto fail;
	}
	if ((dir = strdup(real)) == NULL)
		goto fail;
	rc = CAIRN_ERR_IO;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		passwd_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto fail;
	}
	/* Keep the owner, so a file edited as root stays the broker's. */
	if (stat(real, &st) == 0 && fchown(fd, st.st_uid, st.st_gid) == -1)
		errno = 0;
	if (fchmod(fd, 0600) == -1 || passwd_write_all(fd, w.buf, w.len) ||
	    fsync(fd) == -1) {
		passwd_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		passwd_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, real) == -1) {
		passwd_errf(err, errlen, "%s: %s", real, strerror(errno));
		goto fail;
	}
	free(tmp);
	tmp = NULL;
	/* The rename is durable once the directory is. */
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1)
		fsync(dfd);
	rc = 0;
fail:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp != NULL)
		unlink(tmp);
	if (w.buf != NULL)
		OPENSSL_cleanse(w.buf, w.cap);
	bytes_w_fini(&w);
	free(tmp);
	free(dir);
	free(real);
	return rc;
}
