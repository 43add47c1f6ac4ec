/*
 * Scram: SCRAM-SHA-256, the server's side (contract in scram.h).
 *
 * The exchange is a state machine over one struct in caller storage.
 * The AuthMessage that both proofs sign is client-first-bare ","
 * server-first "," client-final-without-proof; the first two parts are
 * kept in s_am as they are made, so the last step needs no allocation:
 * it appends client-final-without-proof in a stack buffer and runs the
 * HMACs.  Every field is parsed by hand over a bounded message (the
 * grammar is RFC 5802 section 7), never with sscanf or strtok.
 *
 * Crypto is libcrypto's: PBKDF2, HMAC, SHA-256, CRYPTO_memcmp,
 * RAND_bytes.  SASLprep is libidn's (stringprep() with its
 * stringprep_saslprep profile), run in a buffer of ours so that the
 * copies of a password made here can be wiped.  Nothing here logs; the
 * caller maps the result codes to MQTT reason codes.
 */
#include "broker/core/scram.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stringprep.h>

#include "common/base64.h"
#include "common/err.h"
#include "common/utf8.h"

void
scram_init(struct scram *s)
{
	memset(s, 0, sizeof(*s));
	s->s_state = SCRAM_START;
}

void
scram_fini(struct scram *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
	s->s_state = SCRAM_FAILED;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII but ','. */
static int
scram_printable(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

/* Length of the attribute value at p[0..len): up to ',' or the end. */
static size_t
scram_field(const char *p, size_t len)
{
	const char *c = memchr(p, ',', len);

	return c != NULL ? (size_t)(c - p) : len;
}

/*
 * Unescapes saslname p[0..len) into s->s_user: "=2C" is ',', "=3D" is
 * '=', any other '=' is an error.  The hex digits in either case: RFC
 * 5802's grammar writes them as ABNF strings, which are
 * case-insensitive (RFC 5234 2.3), and Perl's Authen::SCRAM sends
 * "=2c".  0 or CAIRN_ERR_PROTO.
 */
static int
scram_unescape_user(struct scram *s, const char *p, size_t len)
{
	size_t i, n = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '=') {
			if (len - i < 3)
				return CAIRN_ERR_PROTO;
			if (p[i + 1] == '2' && (p[i + 2] | 0x20) == 'c')
				c = ',';
			else if (p[i + 1] == '3' && (p[i + 2] | 0x20) == 'd')
				c = '=';
			else
				return CAIRN_ERR_PROTO;
			i += 2;
		}
		if (n == SCRAM_USER_MAX)
			return CAIRN_ERR_PROTO;
		s->s_user[n++] = c;
	}
	if (n == 0 || utf8_count((const uint8_t *)s->s_user, n) < 0)
		return CAIRN_ERR_PROTO;
	s->s_user[n] = '\0';
	s->s_userlen = n;
	return 0;
}

/*
 * Prepares s_user in place with SASLprep as a query (RFC 5802 section
 * 5.1: the server looks up the prepared name).  0; CAIRN_ERR_DENIED when
 * SASLprep refuses the name or leaves nothing of it; CAIRN_ERR_PROTO when
 * the prepared name is over SCRAM_USER_MAX bytes; CAIRN_ERR_NOMEM.
 */
static int
scram_prep_user(struct scram *s)
{
	char *u;
	size_t n;
	int rc;

	rc = scram_saslprep(bytes_view_of(s->s_user, s->s_userlen),
	    SCRAM_PREP_QUERY, &u, NULL);
	if (rc != 0)
		return rc == CAIRN_ERR_NOMEM ? rc : CAIRN_ERR_DENIED;
	n = strlen(u);
	if (n == 0)
		rc = CAIRN_ERR_DENIED;
	else if (n > SCRAM_USER_MAX)
		rc = CAIRN_ERR_PROTO;
	else {
		memcpy(s->s_user, u, n + 1);
		s->s_userlen = n;
	}
	scram_prep_free(u);
	return rc;
}

/*
 * Checks p[0..len) as extensions: 1*(ALPHA "=" 1*value-char), comma-
 * separated.  0 or CAIRN_ERR_PROTO.
 */
static int
scram_check_ext(const char *p, size_t len)
{
	size_t f;

	while (len > 0) {
		f = scram_field(p, len);
		if (f < 3 || p[1] != '=' || !((p[0] >= 'a' && p[0] <= 'z') ||
		    (p[0] >= 'A' && p[0] <= 'Z')))
			return CAIRN_ERR_PROTO;
		if (f == len)
			return 0;
		p += f + 1;
		len -= f + 1;
		if (len == 0)
			return CAIRN_ERR_PROTO;		/* a trailing ',' */
	}
	return 0;
}

/*
 *	client-first	= gs2-header client-first-bare
 *	gs2-header	= ("n" / "y") "," "," ; no p=, no authzid (ours)
 *	client-first-bare = "n=" saslname ",r=" c-nonce ["," extensions]
 */
int
scram_client_first(struct scram *s, struct bytes_view msg,
    struct bytes_view *user)
{
	const char *p = (const char *)msg.p, *bare;
	size_t len = msg.len, f, barelen;
	int rc = CAIRN_ERR_INVAL;

	if (s->s_state != SCRAM_START)
		goto fail;
	rc = CAIRN_ERR_PROTO;
	if (len < 3 || len > SCRAM_MSG_MAX || memchr(p, '\0', len) != NULL)
		goto fail;
	if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',' || p[2] != ',')
		goto fail;
	memcpy(s->s_gs2, p, 3);
	s->s_gs2[3] = '\0';
	bare = p + 3;
	barelen = len - 3;
	p = bare;
	len = barelen;

	/* "n=" saslname "," */
	if (len < 2 || p[0] != 'n' || p[1] != '=')
		goto fail;
	p += 2;
	len -= 2;
	f = scram_field(p, len);
	if (f == len || scram_unescape_user(s, p, f) != 0)
		goto fail;
	p += f + 1;
	len -= f + 1;

	/* "r=" c-nonce ["," extensions] */
	if (len < 3 || p[0] != 'r' || p[1] != '=')
		goto fail;
	p += 2;
	len -= 2;
	f = scram_field(p, len);
	if (f == 0 || !scram_printable(p, f))
		goto fail;
	s->s_cnonceoff = (size_t)(p - bare);
	s->s_cnoncelen = f;
	if (f < len && scram_check_ext(p + f + 1, len - f - 1) != 0)
		goto fail;
	if (f < len && len - f - 1 == 0)
		goto fail;
	/* Well formed: now the name SASLprep makes of it. */
	if ((rc = scram_prep_user(s)) != 0)
		goto fail;

	memcpy(s->s_am, bare, barelen);
	s->s_am[barelen] = ',';
	s->s_amlen = barelen + 1;
	s->s_state = SCRAM_NEED_CRED;
	user->p = (const uint8_t *)s->s_user;
	user->len = s->s_userlen;
	return 0;
fail:
	s->s_state = SCRAM_FAILED;
	return rc;
}

/*
 *	server-first	= "r=" c-nonce s-nonce ",s=" salt ",i=" iteration-count
 */
int
scram_server_first(struct scram *s, const struct scram_cred *cred,
    int known, struct bytes_view snonce, struct bytes_w *out)
{
	char salt64[SCRAM_B64_LEN(SCRAM_SALT_MAX) + 1];
	char *am;
	int n, rc = CAIRN_ERR_INVAL;
	size_t room;

	bytes_w_reset(out);
	if (s->s_state != SCRAM_NEED_CRED)
		goto fail;
	if (snonce.len == 0 || snonce.len > 64 ||
	    !scram_printable((const char *)snonce.p, snonce.len) ||
	    cred->sc_saltlen == 0 || cred->sc_saltlen > SCRAM_SALT_MAX ||
	    cred->sc_iter < 1)
		goto fail;
	b64_encode(cred->sc_salt, cred->sc_saltlen, salt64);
	am = s->s_am + s->s_amlen;
	room = sizeof(s->s_am) - s->s_amlen;
	/* The client nonce sits at s_am + s_cnonceoff: copy it first. */
	if (room < 2 + s->s_cnoncelen + snonce.len + 1)
		goto fail;
	memcpy(am, "r=", 2);
	memcpy(am + 2, s->s_am + s->s_cnonceoff, s->s_cnoncelen);
	memcpy(am + 2 + s->s_cnoncelen, snonce.p, snonce.len);
	s->s_nonceoff = s->s_amlen + 2;
	s->s_noncelen = s->s_cnoncelen + snonce.len;
	room -= 2 + s->s_noncelen;
	n = snprintf(am + 2 + s->s_noncelen, room, ",s=%s,i=%d,", salt64,
	    cred->sc_iter);
	if (n < 0 || (size_t)n >= room)
		goto fail;
	n += 2 + (int)s->s_noncelen;
	/* Sent without the ',' that joins it to client-final. */
	if ((rc = bytes_put(out, am, (size_t)n - 1)) != 0)
		goto fail;
	s->s_amlen += (size_t)n;
	s->s_cred = *cred;
	s->s_known = known != 0;
	s->s_state = SCRAM_FIRST_SENT;
	return 0;
fail:
	bytes_w_reset(out);
	s->s_state = SCRAM_FAILED;
	return rc;
}

/*
 *	client-final	= "c=" base64(gs2-header) ",r=" nonce
 *			  ["," extensions] ",p=" base64(proof)
 */
int
scram_client_final(struct scram *s, struct bytes_view msg,
    struct bytes_w *out)
{
	char cb[SCRAM_B64_LEN(3) + 1], sig64[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];
	char am[sizeof(s->s_am) + SCRAM_MSG_MAX];
	const char *p = (const char *)msg.p, *start = p, *proof = NULL;
	uint8_t pr[SCRAM_KEY_LEN + 3], csig[SCRAM_KEY_LEN];
	uint8_t ckey[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	uint8_t ssig[SCRAM_KEY_LEN];
	size_t len = msg.len, f, wplen = 0, prlen = 0, amlen, i;
	unsigned int mdlen;
	int rc = CAIRN_ERR_INVAL, bad = 0, ok;

	bytes_w_reset(out);
	if (s->s_state != SCRAM_FIRST_SENT)
		goto fail;
	rc = CAIRN_ERR_PROTO;
	if (len > SCRAM_MSG_MAX || len < 2 || memchr(p, '\0', len) != NULL)
		goto fail;

	/* "c=" channel binding: must repeat our GS2 header. */
	if (p[0] != 'c' || p[1] != '=')
		goto fail;
	f = scram_field(p + 2, len - 2);
	b64_encode((const uint8_t *)s->s_gs2, 3, cb);
	if (f != strlen(cb) || memcmp(p + 2, cb, f) != 0)
		bad = 1;
	p += 2 + f;
	len -= 2 + f;

	/* ",r=" nonce: all of it, ours included. */
	if (len < 4 || p[0] != ',' || p[1] != 'r' || p[2] != '=')
		goto fail;
	p += 3;
	len -= 3;
	f = scram_field(p, len);
	if (f == 0 || !scram_printable(p, f))
		goto fail;
	if (f != s->s_noncelen || memcmp(p, s->s_am + s->s_nonceoff, f) != 0)
		bad = 1;
	p += f;
	len -= f;

	/* ["," extensions] ",p=" proof, the last attribute. */
	while (len > 0) {
		if (p[0] != ',' || len < 2)
			goto fail;
		p++;
		len--;
		f = scram_field(p, len);
		if (f >= 2 && p[0] == 'p' && p[1] == '=') {
			if (f != len)
				goto fail;
			wplen = (size_t)(p - 1 - start);
			proof = p + 2;
			break;
		}
		if (scram_check_ext(p, f) != 0)
			goto fail;
		p += f;
		len -= f;
	}
	if (proof == NULL || b64_decode(proof, len - 2, pr, sizeof(pr),
	    &prlen, B64_STRICT) != 0 || prlen != SCRAM_KEY_LEN)
		goto fail;

	/* AuthMessage = client-first-bare "," server-first "," c-f-w-p */
	memcpy(am, s->s_am, s->s_amlen);
	memcpy(am + s->s_amlen, start, wplen);
	amlen = s->s_amlen + wplen;

	/*
	 * The same work whatever failed above or whoever the user is:
	 * ClientKey = proof XOR HMAC(StoredKey, AM), and H(ClientKey)
	 * must be StoredKey.
	 */
	rc = CAIRN_ERR_IO;
	if (HMAC(EVP_sha256(), s->s_cred.sc_stored_key, SCRAM_KEY_LEN,
	    (const uint8_t *)am, amlen, csig, &mdlen) == NULL ||
	    mdlen != SCRAM_KEY_LEN)
		goto fail;
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		ckey[i] = pr[i] ^ csig[i];
	if (EVP_Digest(ckey, SCRAM_KEY_LEN, stored, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != SCRAM_KEY_LEN)
		goto fail;
	if (HMAC(EVP_sha256(), s->s_cred.sc_server_key, SCRAM_KEY_LEN,
	    (const uint8_t *)am, amlen, ssig, &mdlen) == NULL ||
	    mdlen != SCRAM_KEY_LEN)
		goto fail;
	ok = CRYPTO_memcmp(stored, s->s_cred.sc_stored_key,
	    SCRAM_KEY_LEN) == 0;
	ok = ok && !bad && s->s_known;
	rc = CAIRN_ERR_AUTH;
	if (!ok)
		goto fail;
	b64_encode(ssig, SCRAM_KEY_LEN, sig64);
	bytes_put(out, "v=", 2);
	bytes_put_str(out, sig64);
	if ((rc = out->err) != 0)
		goto fail;
	s->s_state = SCRAM_DONE;
	rc = 0;
	goto done;
fail:
	bytes_w_reset(out);
	s->s_state = SCRAM_FAILED;
done:
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(csig, sizeof(csig));
	OPENSSL_cleanse(ssig, sizeof(ssig));
	OPENSSL_cleanse(pr, sizeof(pr));
	return rc;
}

int
scram_nonce(char buf[SCRAM_SNONCE_LEN + 1])
{
	uint8_t raw[SCRAM_SNONCE_RAW];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return CAIRN_ERR_IO;
	b64_encode(raw, sizeof(raw), buf);
	return 0;
}

int
scram_cred_make(struct bytes_view password, const uint8_t *salt,
    size_t saltlen, int iter, struct scram_cred *out)
{
	const char *pw = password.len > 0 ? (const char *)password.p : "";
	uint8_t salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	struct scram_cred c;
	unsigned int n;
	int rc = CAIRN_ERR_INVAL;

	memset(&c, 0, sizeof(c));
	if (saltlen == 0 || saltlen > SCRAM_SALT_MAX || iter < 1 ||
	    password.len > INT_MAX)
		return rc;
	rc = CAIRN_ERR_IO;
	c.sc_iter = iter;
	c.sc_saltlen = saltlen;
	memcpy(c.sc_salt, salt, saltlen);
	if (PKCS5_PBKDF2_HMAC(pw, (int)password.len, salt, (int)saltlen, iter,
	    EVP_sha256(), SCRAM_KEY_LEN, salted) != 1)
		goto done;
	if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN,
	    (const uint8_t *)"Client Key", 10, ckey, &n) == NULL ||
	    n != SCRAM_KEY_LEN)
		goto done;
	if (EVP_Digest(ckey, SCRAM_KEY_LEN, c.sc_stored_key, &n, EVP_sha256(),
	    NULL) != 1 || n != SCRAM_KEY_LEN)
		goto done;
	if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN,
	    (const uint8_t *)"Server Key", 10, c.sc_server_key, &n) == NULL ||
	    n != SCRAM_KEY_LEN)
		goto done;
	*out = c;
	rc = 0;
done:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* HMAC-SHA-256(secret, label user) into out: 0 or -1. */
static int
scram_fake_mac(const uint8_t *secret, const char *label,
    struct bytes_view user, uint8_t out[SCRAM_KEY_LEN])
{
	uint8_t buf[8 + SCRAM_USER_MAX];
	size_t ll = strlen(label);
	unsigned int n;

	memcpy(buf, label, ll);
	if (user.len > 0)
		memcpy(buf + ll, user.p, user.len);
	return HMAC(EVP_sha256(), secret, SCRAM_KEY_LEN, buf, ll + user.len,
	    out, &n) != NULL && n == SCRAM_KEY_LEN ? 0 : -1;
}

int
scram_cred_fake(const uint8_t secret[SCRAM_KEY_LEN], struct bytes_view user,
    int iter, struct scram_cred *out)
{
	uint8_t mac[SCRAM_KEY_LEN];

	if (user.len > SCRAM_USER_MAX || iter < 1)
		return CAIRN_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	/* Distinct labels, so no part can be computed from another. */
	if (scram_fake_mac(secret, "salt", user, mac) != 0 ||
	    scram_fake_mac(secret, "stored", user, out->sc_stored_key) != 0 ||
	    scram_fake_mac(secret, "server", user, out->sc_server_key) != 0)
		return CAIRN_ERR_IO;
	memcpy(out->sc_salt, mac, SCRAM_SALT_LEN);
	out->sc_saltlen = SCRAM_SALT_LEN;
	out->sc_iter = iter;
	return 0;
}

/* Why SASLprep refused a string, from libidn's code. */
static const char *
scram_prep_why(int rc)
{
	switch (rc) {
	case STRINGPREP_CONTAINS_UNASSIGNED:
		return "an unassigned code point";
	case STRINGPREP_CONTAINS_PROHIBITED:
		return "a prohibited character (RFC 4013 section 2.3)";
	case STRINGPREP_BIDI_BOTH_L_AND_RAL:
	case STRINGPREP_BIDI_LEADTRAIL_NOT_RAL:
	case STRINGPREP_BIDI_CONTAINS_PROHIBITED:
		return "mixed or misplaced right-to-left characters "
		    "(RFC 3454 section 6)";
	default:
		return "refused by SASLprep";
	}
}

void
scram_prep_free(char *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, strlen(p));
	free(p);
}

int
scram_saslprep(struct bytes_view in, enum scram_prep mode, char **out,
    const char **why)
{
	Stringprep_profile_flags flags;
	const char *reason = NULL;
	char *buf = NULL;
	size_t size;
	int rc = CAIRN_ERR_DENIED, src;

	*out = NULL;
	if (in.len > SCRAM_PREP_MAX)
		return CAIRN_ERR_TOO_BIG;
	/* libidn reads a C string: a NUL would cut it short. */
	if (in.len > 0 && memchr(in.p, '\0', in.len) != NULL) {
		reason = "a NUL character";
		goto fail;
	}
	if (utf8_count(in.p, in.len) < 0) {
		reason = "not valid UTF-8";
		goto fail;
	}
	flags = mode == SCRAM_PREP_STORED ? STRINGPREP_NO_UNASSIGNED : 0;
	/*
	 * stringprep() works in place and says when the result does not
	 * fit.  NFKC can make a string longer (U+FDFA is 18 code points):
	 * start at twice the input and grow, up to 32 times it.
	 */
	for (size = 2 * in.len + 16; size <= 32 * in.len + 64; size *= 2) {
		if ((buf = malloc(size)) == NULL) {
			rc = CAIRN_ERR_NOMEM;
			goto fail;
		}
		if (in.len > 0)
			memcpy(buf, in.p, in.len);
		buf[in.len] = '\0';
		src = stringprep(buf, size, flags, stringprep_saslprep);
		if (src == STRINGPREP_OK) {
			*out = buf;
			return 0;
		}
		OPENSSL_cleanse(buf, size);
		free(buf);
		buf = NULL;
		if (src == STRINGPREP_MALLOC_ERROR) {
			rc = CAIRN_ERR_NOMEM;
			goto fail;
		}
		if (src != STRINGPREP_TOO_SMALL_BUFFER) {
			reason = scram_prep_why(src);
			goto fail;
		}
	}
	/* Never reached for real Unicode: no code point grows that much. */
	reason = "too long once prepared";
fail:
	if (why != NULL && reason != NULL)
		*why = reason;
	return rc;
}
