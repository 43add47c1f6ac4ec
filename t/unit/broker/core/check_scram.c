/*
 * Unit tests for broker/core/scram: the RFC 7677 exchange (user "user",
 * password "pencil") byte for byte, the credential derivation against
 * the RFC's keys, the fake credential of an unknown user (stable, and it
 * fails after the same steps), the state machine's order, every
 * malformed or refused client-first and client-final, and SASLprep
 * (RFC 4013 section 3's examples and our edges).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "broker/core/scram.h"
#include "common/bytes.h"
#include "common/err.h"

/* RFC 7677 section 3. */
#define V_CFIRST	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define V_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_NONCE		"rOprNGfwEbeRWgbNEkqO" V_SNONCE
#define V_SALT		"W22ZaJ0SNY7soEsUEjb6gQ=="
#define V_SFIRST	"r=" V_NONCE ",s=" V_SALT ",i=4096"
#define V_PROOF		"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_CFINAL	"c=biws,r=" V_NONCE ",p=" V_PROOF
#define V_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* StoredKey and ServerKey of "pencil" with that salt (Python hashlib). */
#define V_STORED	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define V_SERVER	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static void
vector_cred(struct scram_cred *c)
{
	uint8_t salt[SCRAM_SALT_MAX];
	size_t n;

	ck_assert_int_eq(b64_decode(V_SALT, strlen(V_SALT), salt,
	    sizeof(salt), &n, B64_STRICT), 0);
	ck_assert_int_eq(scram_cred_make(sv("pencil"), salt, n, 4096, c), 0);
}

/* 1 if w holds exactly the string s. */
static int
w_is(const struct bytes_w *w, const char *s)
{
	return w->len == strlen(s) && memcmp(w->buf, s, w->len) == 0;
}

/* Runs client-first and server-first of the vector on s. */
static void
vector_first(struct scram *s, struct bytes_w *out)
{
	struct scram_cred c;
	struct bytes_view user;

	vector_cred(&c);
	scram_init(s);
	ck_assert_int_eq(scram_client_first(s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_server_first(s, &c, 1, sv(V_SNONCE), out), 0);
}

/*
 * The client's side, for exchanges the RFC has no vector for: the
 * client-final ("c=biws,r=NONCE,p=PROOF") that proves password (used as
 * given: the client prepares it) for client-first-bare bare and
 * server-first sfirst, into out (at least SCRAM_MSG_MAX bytes).
 */
static void
client_final(const char *bare, const char *sfirst, const char *password,
    char *out)
{
	uint8_t salt[SCRAM_SALT_MAX], salted[SCRAM_KEY_LEN];
	uint8_t ckey[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	char am[3 * SCRAM_MSG_MAX], without[SCRAM_MSG_MAX], salt64[128];
	char proof64[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1], nonce[SCRAM_MSG_MAX];
	unsigned int n;
	size_t saltlen, i;
	int iter;

	ck_assert_int_eq(sscanf(sfirst, "r=%1023[^,],s=%127[^,],i=%d", nonce,
	    salt64, &iter), 3);
	ck_assert_int_eq(b64_decode(salt64, strlen(salt64), salt, sizeof(salt),
	    &saltlen, B64_STRICT), 0);
	ck_assert_int_eq(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    salt, (int)saltlen, iter, EVP_sha256(), SCRAM_KEY_LEN, salted), 1);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN,
	    (const uint8_t *)"Client Key", 10, ckey, &n));
	ck_assert_int_eq(EVP_Digest(ckey, SCRAM_KEY_LEN, stored, &n,
	    EVP_sha256(), NULL), 1);
	ck_assert_int_lt(snprintf(without, sizeof(without), "c=biws,r=%s",
	    nonce), (int)sizeof(without));
	ck_assert_int_lt(snprintf(am, sizeof(am), "%s,%s,%s", bare, sfirst,
	    without), (int)sizeof(am));
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), stored, SCRAM_KEY_LEN,
	    (const uint8_t *)am, strlen(am), sig, &n));
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		sig[i] ^= ckey[i];
	b64_encode(sig, SCRAM_KEY_LEN, proof64);
	ck_assert_int_lt(snprintf(out, SCRAM_MSG_MAX, "%s,p=%s", without,
	    proof64), SCRAM_MSG_MAX);
}

/*
 * A whole exchange for client-first-bare bare against cred: the result
 * of client-final when the client proves password.
 */
static int
exchange(const char *bare, const struct scram_cred *cred,
    const char *password)
{
	char first[SCRAM_MSG_MAX], sfirst[SCRAM_OUT_MAX + 1];
	char final[SCRAM_MSG_MAX];
	struct scram s;
	struct bytes_view user;
	struct bytes_w out;
	int rc;

	snprintf(first, sizeof(first), "n,,%s", bare);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(first), &user), 0);
	ck_assert_int_eq(scram_server_first(&s, cred, 1, sv("snonce"), &out),
	    0);
	ck_assert_uint_lt(out.len, sizeof(sfirst));
	memcpy(sfirst, out.buf, out.len);
	sfirst[out.len] = '\0';
	client_final(bare, sfirst, password, final);
	rc = scram_client_final(&s, sv(final), &out);
	scram_fini(&s);
	bytes_w_fini(&out);
	return rc;
}

START_TEST(test_scram__rfc7677_vector)
{
	struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;
	char b64[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];

	vector_cred(&c);
	b64_encode(c.sc_stored_key, SCRAM_KEY_LEN, b64);
	ck_assert_str_eq(b64, V_STORED);
	b64_encode(c.sc_server_key, SCRAM_KEY_LEN, b64);
	ck_assert_str_eq(b64, V_SERVER);

	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(s.s_state, SCRAM_NEED_CRED);
	ck_assert_uint_eq(user.len, 4);
	ck_assert_int_eq(memcmp(user.p, "user", 4), 0);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv(V_SNONCE), &out), 0);
	ck_assert(w_is(&out, V_SFIRST));
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out), 0);
	ck_assert(w_is(&out, V_SFINAL));
	ck_assert_int_eq(s.s_state, SCRAM_DONE);
	/* A replay on a finished exchange is refused. */
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(out.len, 0);
	scram_fini(&s);
	bytes_w_fini(&out);
}
END_TEST

START_TEST(test_scram__wrong_password)
{
	struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;
	uint8_t salt[SCRAM_SALT_MAX];
	size_t n;

	ck_assert_int_eq(b64_decode(V_SALT, strlen(V_SALT), salt,
	    sizeof(salt), &n, B64_STRICT), 0);
	ck_assert_int_eq(scram_cred_make(sv("pencil2"), salt, n, 4096, &c), 0);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv(V_SNONCE), &out), 0);
	/* Same salt and count: the server-first cannot tell them apart. */
	ck_assert(w_is(&out, V_SFIRST));
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out),
	    CAIRN_ERR_AUTH);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(s.s_state, SCRAM_FAILED);
	bytes_w_fini(&out);
}
END_TEST

/* The right keys but marked unknown: still refused. */
START_TEST(test_scram__unknown_never_passes)
{
	struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;

	vector_cred(&c);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_server_first(&s, &c, 0, sv(V_SNONCE), &out), 0);
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out),
	    CAIRN_ERR_AUTH);
	bytes_w_fini(&out);
}
END_TEST

START_TEST(test_scram__fake_cred_stable)
{
	uint8_t k1[SCRAM_KEY_LEN], k2[SCRAM_KEY_LEN];
	struct scram_cred a, b, c;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	ck_assert_int_eq(scram_cred_fake(k1, sv("mallory"), 4096, &a), 0);
	ck_assert_int_eq(scram_cred_fake(k1, sv("mallory"), 4096, &b), 0);
	ck_assert_uint_eq(a.sc_saltlen, SCRAM_SALT_LEN);
	ck_assert_int_eq(a.sc_iter, 4096);
	ck_assert_int_eq(memcmp(a.sc_salt, b.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_eq(memcmp(a.sc_stored_key, b.sc_stored_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(memcmp(a.sc_server_key, b.sc_server_key,
	    SCRAM_KEY_LEN), 0);
	/* Another user or another secret: another salt. */
	ck_assert_int_eq(scram_cred_fake(k1, sv("mallorz"), 4096, &c), 0);
	ck_assert_int_ne(memcmp(a.sc_salt, c.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_eq(scram_cred_fake(k2, sv("mallory"), 4096, &c), 0);
	ck_assert_int_ne(memcmp(a.sc_salt, c.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_ne(memcmp(a.sc_stored_key, a.sc_server_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(scram_cred_fake(k1, sv("mallory"), 0, &c),
	    CAIRN_ERR_INVAL);
}
END_TEST

START_TEST(test_scram__escaped_user)
{
	struct scram s;
	struct bytes_view user;

	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s,
	    sv("n,,n=a=2Cb=3Dc\xc3\xa9,r=x"), &user), 0);
	ck_assert_uint_eq(user.len, 7);
	ck_assert_int_eq(memcmp(user.p, "a,b=c\xc3\xa9", 7), 0);
	ck_assert_int_eq(user.p[user.len], '\0');
	/* "y,," (client could bind, thinks we cannot) and extensions. */
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv("y,,n=u,r=abc,x=1,y=2"),
	    &user), 0);
}
END_TEST

START_TEST(test_scram__y_header_binding)
{
	struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;

	vector_cred(&c);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv("y,,n=user,r=abc"), &user),
	    0);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv("def"), &out), 0);
	/* c=biws is "n,,": the client changed its header. */
	ck_assert_int_eq(scram_client_final(&s, sv("c=biws,r=abcdef,p="
	    V_PROOF), &out), CAIRN_ERR_AUTH);
	bytes_w_fini(&out);
}
END_TEST

/*
 * The user name is looked up as SASLprep makes it (a query), while the
 * AuthMessage keeps it as sent; names SASLprep refuses, or maps to
 * nothing, are CAIRN_ERR_DENIED.
 */
static const struct {
	const char	*first;
	int		 rc;
	const char	*user;
} prep_first[] = {
	{ "n,,n=I\xc2\xadX,r=abc", 0, "IX" },		/* U+00AD */
	{ "n,,n=\xe2\x85\xa8,r=abc", 0, "IX" },		/* U+2168 */
	{ "n,,n=\xc2\xaa,r=abc", 0, "a" },			/* U+00AA */
	{ "n,,n=user,r=abc", 0, "user" },
	{ "n,,n=USER,r=abc", 0, "USER" },
	{ "n,,n=a=2Cb\xc2\xa0" "c,r=abc", 0, "a,b c" },	/* escape, NBSP */
	{ "n,,n=a=2cb=3dc,r=abc", 0, "a,b=c" },	/* lower-case hex */
	{ "n,,n=\xc8\xa1,r=abc", 0, "\xc8\xa1" },		/* unassigned */
	{ "n,,n=a\x07,r=abc", CAIRN_ERR_DENIED, NULL },	/* prohibited */
	{ "n,,n=\xd8\xa7" "1,r=abc", CAIRN_ERR_DENIED, NULL },	/* bidi */
	{ "n,,n=\xee\x80\x80,r=abc", CAIRN_ERR_DENIED, NULL },	/* U+E000 */
	{ "n,,n=\xc2\xad,r=abc", CAIRN_ERR_DENIED, NULL },	/* nothing left */
	/* Malformed wins over SASLprep: the message is checked first. */
	{ "n,,n=a\x07,r=ab c", CAIRN_ERR_PROTO, NULL },
	/* 8 x U+FDFA: 24 bytes sent, 264 once prepared. */
	{ "n,,n=\xef\xb7\xba\xef\xb7\xba\xef\xb7\xba\xef\xb7\xba"
	  "\xef\xb7\xba\xef\xb7\xba\xef\xb7\xba\xef\xb7\xba,r=abc",
	  CAIRN_ERR_PROTO, NULL },
};

START_TEST(test_scram__first_saslprep)
{
	struct scram s;
	struct bytes_view user = { NULL, 0 };
	int rc;

	scram_init(&s);
	rc = scram_client_first(&s, sv(prep_first[_i].first), &user);
	ck_assert_msg(rc == prep_first[_i].rc, "case %d: rc %d", _i, rc);
	if (rc != 0) {
		ck_assert_int_eq(s.s_state, SCRAM_FAILED);
		ck_assert_ptr_null(user.p);
		return;
	}
	ck_assert_uint_eq(user.len, strlen(prep_first[_i].user));
	ck_assert_str_eq((const char *)user.p, prep_first[_i].user);
	/* The AuthMessage starts with client-first-bare as it came. */
	ck_assert_int_eq(memcmp(s.s_am, prep_first[_i].first + 3,
	    strlen(prep_first[_i].first) - 3), 0);
}
END_TEST

/* A prepared name in the lookup, the name as sent in the proof. */
START_TEST(test_scram__first_saslprep_exchange)
{
	struct scram_cred c;

	vector_cred(&c);
	ck_assert_int_eq(exchange("n=\xe2\x85\xa8,r=cn", &c, "pencil"), 0);
	ck_assert_int_eq(exchange("n=\xe2\x85\xa8,r=cn", &c, "pencil2"),
	    CAIRN_ERR_AUTH);
}
END_TEST

/*
 * The stored password is "p\u00A0w": its keys are of "p w" (a no-break
 * space maps to a space), so a client that proves with "p w", as a
 * standard client prepares the password, is let in; one that proves
 * with the raw bytes is not (clients prepare, the server cannot).
 */
START_TEST(test_scram__stored_nbsp_client_space)
{
	uint8_t salt[SCRAM_SALT_LEN];
	struct scram_cred c;
	char *prep;

	memset(salt, 0x5a, sizeof(salt));
	ck_assert_int_eq(scram_saslprep(sv("p\xc2\xa0w"), SCRAM_PREP_STORED,
	    &prep, NULL), 0);
	ck_assert_str_eq(prep, "p w");
	ck_assert_int_eq(scram_cred_make(sv(prep), salt, sizeof(salt), 4096,
	    &c), 0);
	scram_prep_free(prep);
	ck_assert_int_eq(exchange("n=user,r=cn", &c, "p w"), 0);
	ck_assert_int_eq(exchange("n=user,r=cn", &c, "p\xc2\xa0w"),
	    CAIRN_ERR_AUTH);
	ck_assert_int_eq(exchange("n=user,r=cn", &c, "pw"), CAIRN_ERR_AUTH);
}
END_TEST

/* Client-first messages that must be refused (CAIRN_ERR_PROTO). */
static const char *const bad_first[] = {
	"",
	"n,",
	"n,,",
	"p=tls-unique,,n=user,r=abc",	/* channel binding */
	"n,a=admin,n=user,r=abc",	/* authorization identity */
	"x,,n=user,r=abc",
	"n,,m=ext,n=user,r=abc",	/* mandatory extension */
	"n,,n=,r=abc",			/* empty user */
	"n,,n=user",			/* no nonce */
	"n,,n=user,",
	"n,,n=user,r=",			/* empty nonce */
	"n,,n=user,r=ab c",		/* space in nonce */
	"n,,n=user,s=abc",
	"n,,n=us=2Dr,r=abc",		/* bad escape */
	"n,,n=user=,r=abc",
	"n,,n=user=2,r=abc",
	"n,,n=\xff\xfe,r=abc",		/* not UTF-8 */
	"n,,n=user,r=abc,",		/* trailing comma */
	"n,,n=user,r=abc,1=x",		/* bad extension */
	"n,,n=user,r=abc,x=",
	"n,,N=user,r=abc",
};

START_TEST(test_scram__bad_first)
{
	struct scram s;
	struct bytes_view user = { NULL, 0 };
	const char *m = bad_first[_i];

	scram_init(&s);
	ck_assert_msg(scram_client_first(&s, sv(m), &user) == CAIRN_ERR_PROTO,
	    "accepted %s", m);
	ck_assert_int_eq(s.s_state, SCRAM_FAILED);
	ck_assert_ptr_null(user.p);
}
END_TEST

START_TEST(test_scram__first_limits)
{
	char buf[SCRAM_MSG_MAX + 2], user[SCRAM_USER_MAX + 2];
	struct scram s;
	struct bytes_view uv;
	struct bytes_w out;
	struct scram_cred c;

	/* A NUL inside. */
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s,
	    bytes_view_of("n,,n=u\0x,r=abc", 14), &uv), CAIRN_ERR_PROTO);
	/* A user of exactly SCRAM_USER_MAX bytes, then one more. */
	memset(user, 'u', sizeof(user));
	user[SCRAM_USER_MAX] = '\0';
	snprintf(buf, sizeof(buf), "n,,n=%s,r=abc", user);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(buf), &uv), 0);
	ck_assert_uint_eq(uv.len, SCRAM_USER_MAX);
	user[SCRAM_USER_MAX] = 'u';
	user[SCRAM_USER_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "n,,n=%s,r=abc", user);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(buf), &uv),
	    CAIRN_ERR_PROTO);
	/* A message of SCRAM_MSG_MAX bytes (a long nonce), then one more. */
	memset(buf, 'r', sizeof(buf));
	memcpy(buf, "n,,n=u,r=", 9);
	buf[SCRAM_MSG_MAX] = '\0';
	vector_cred(&c);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(buf), &uv), 0);
	/* The longest server-first still fits SCRAM_OUT_MAX. */
	ck_assert_int_eq(scram_server_first(&s, &c, 1,
	    sv("0123456789012345678901234567890123456789012345678901234567890123"),
	    &out), 0);
	ck_assert_uint_le(out.len, SCRAM_OUT_MAX);
	buf[SCRAM_MSG_MAX] = 'r';
	buf[SCRAM_MSG_MAX + 1] = '\0';
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(buf), &uv),
	    CAIRN_ERR_PROTO);
	bytes_w_fini(&out);
}
END_TEST

/* Client-final messages after the vector's first round, and the result. */
static const struct {
	const char	*m;
	int		 rc;
} bad_final[] = {
	{ "", CAIRN_ERR_PROTO },
	{ "c=biws", CAIRN_ERR_PROTO },
	{ "c=biws,r=" V_NONCE, CAIRN_ERR_PROTO },		/* no proof */
	{ "c=biws,r=" V_NONCE ",p=", CAIRN_ERR_PROTO },
	{ "c=biws,r=" V_NONCE ",p=dHzb", CAIRN_ERR_PROTO },	/* short */
	{ "c=biws,r=" V_NONCE ",p=" V_PROOF "AAAA", CAIRN_ERR_PROTO },
	{ "c=biws,r=" V_NONCE ",p=" V_PROOF ",x=1", CAIRN_ERR_PROTO },
	{ "c=biws,r=" V_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
	    CAIRN_ERR_PROTO },					/* no pad */
	{ "c=biws,r=" V_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=",
	    CAIRN_ERR_PROTO },					/* not canonical */
	{ "c=biws,r=" V_NONCE ",p=dHzbZapWIk4jUhN*Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    CAIRN_ERR_PROTO },
	{ "r=" V_NONCE ",p=" V_PROOF, CAIRN_ERR_PROTO },
	{ "c=biws,p=" V_PROOF, CAIRN_ERR_PROTO },
	{ "c=biws,r=,p=" V_PROOF, CAIRN_ERR_PROTO },
	{ "c=biws,,r=" V_NONCE ",p=" V_PROOF, CAIRN_ERR_PROTO },
	{ "c=biws,r=" V_NONCE ",1=a,p=" V_PROOF, CAIRN_ERR_PROTO },
	/* Well formed but wrong: AUTH. */
	{ "c=eSws,r=" V_NONCE ",p=" V_PROOF, CAIRN_ERR_AUTH },	/* y,, */
	{ "c=biwsx,r=" V_NONCE ",p=" V_PROOF, CAIRN_ERR_AUTH },
	{ "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" V_PROOF, CAIRN_ERR_AUTH },
	{ "c=biws,r=" V_NONCE "x,p=" V_PROOF, CAIRN_ERR_AUTH },
	{ "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p="
	    V_PROOF, CAIRN_ERR_AUTH },				/* tampered */
	{ "c=biws,r=" V_NONCE ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    CAIRN_ERR_AUTH },					/* one bit */
	/* An extension is signed too: adding one breaks the proof. */
	{ "c=biws,r=" V_NONCE ",x=1,p=" V_PROOF, CAIRN_ERR_AUTH },
};

START_TEST(test_scram__bad_final)
{
	struct scram s;
	struct bytes_w out;

	bytes_w_init(&out, SCRAM_OUT_MAX);
	vector_first(&s, &out);
	ck_assert_msg(scram_client_final(&s, sv(bad_final[_i].m), &out) ==
	    bad_final[_i].rc, "%s", bad_final[_i].m);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(s.s_state, SCRAM_FAILED);
	/* Failed is final: even the right answer is refused now. */
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out),
	    CAIRN_ERR_INVAL);
	bytes_w_fini(&out);
}
END_TEST

START_TEST(test_scram__order)
{
	struct scram s;
	struct scram_cred c;
	struct bytes_view user;
	struct bytes_w out;

	vector_cred(&c);
	bytes_w_init(&out, SCRAM_OUT_MAX);
	/* client-final first. */
	scram_init(&s);
	ck_assert_int_eq(scram_client_final(&s, sv(V_CFINAL), &out),
	    CAIRN_ERR_INVAL);
	/* server-first before client-first. */
	scram_init(&s);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv(V_SNONCE), &out),
	    CAIRN_ERR_INVAL);
	/* client-first twice. */
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user),
	    CAIRN_ERR_INVAL);
	/* A bad server nonce: ',' or empty. */
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv("a,b"), &out),
	    CAIRN_ERR_INVAL);
	scram_init(&s);
	ck_assert_int_eq(scram_client_first(&s, sv(V_CFIRST), &user), 0);
	ck_assert_int_eq(scram_server_first(&s, &c, 1, sv(""), &out),
	    CAIRN_ERR_INVAL);
	bytes_w_fini(&out);
}
END_TEST

START_TEST(test_scram__nonce)
{
	char a[SCRAM_SNONCE_LEN + 1], b[SCRAM_SNONCE_LEN + 1];

	ck_assert_int_eq(scram_nonce(a), 0);
	ck_assert_int_eq(scram_nonce(b), 0);
	ck_assert_uint_eq(strlen(a), SCRAM_SNONCE_LEN);
	ck_assert_ptr_null(strchr(a, ','));
	ck_assert_str_ne(a, b);
}
END_TEST

/*
 * SASLprep: RFC 4013 section 3's examples, then our edges.  want is
 * the prepared string, or NULL when SASLprep must refuse the input.
 */
static const struct {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	enum scram_prep	 mode;
	const char	*want;
} prep_vec[] = {
	/* RFC 4013 section 3. */
	{ "I\xc2\xadX", 0, SCRAM_PREP_STORED, "IX" },	/* SOFT HYPHEN */
	{ "user", 0, SCRAM_PREP_STORED, "user" },
	{ "USER", 0, SCRAM_PREP_STORED, "USER" },	/* no case folding */
	{ "\xc2\xaa", 0, SCRAM_PREP_STORED, "a" },	/* U+00AA, NFKC */
	{ "\xe2\x85\xa8", 0, SCRAM_PREP_STORED, "IX" },	/* U+2168, NFKC */
	{ "\x07", 0, SCRAM_PREP_STORED, NULL },		/* prohibited */
	{ "\xd8\xa7" "1", 0, SCRAM_PREP_STORED, NULL },	/* bidi: U+0627 1 */
	/* Non-ASCII spaces become U+0020; zero-width ones go. */
	{ "p\xc2\xa0w", 0, SCRAM_PREP_STORED, "p w" },	/* U+00A0 */
	{ "p\xe3\x80\x80w", 0, SCRAM_PREP_QUERY, "p w" },	/* U+3000 */
	{ "p\xe2\x80\x8dw", 0, SCRAM_PREP_QUERY, "pw" },	/* U+200D */
	/* NFKC: a composed and a decomposed e-acute meet. */
	{ "caf\xc3\xa9", 0, SCRAM_PREP_STORED, "caf\xc3\xa9" },
	{ "cafe\xcc\x81", 0, SCRAM_PREP_STORED, "caf\xc3\xa9" },
	{ "\xef\xbc\xa1", 0, SCRAM_PREP_QUERY, "A" },	/* U+FF21 */
	/* U+0221, unassigned in Unicode 3.2: a query only. */
	{ "\xc8\xa1", 0, SCRAM_PREP_QUERY, "\xc8\xa1" },
	{ "\xc8\xa1", 0, SCRAM_PREP_STORED, NULL },
	/* Prohibited: DEL, a private-use and a non-ASCII control. */
	{ "a\x7f", 0, SCRAM_PREP_QUERY, NULL },
	{ "\xee\x80\x80", 0, SCRAM_PREP_QUERY, NULL },	/* U+E000 */
	{ "\xc2\x85", 0, SCRAM_PREP_QUERY, NULL },	/* U+0085 */
	{ "a\tb", 0, SCRAM_PREP_QUERY, NULL },
	/* A right-to-left string that obeys the rule passes. */
	{ "\xd8\xa7\xd8\xa8", 0, SCRAM_PREP_STORED, "\xd8\xa7\xd8\xa8" },
	/* Not UTF-8, and a NUL inside. */
	{ "\xff\xfe", 0, SCRAM_PREP_QUERY, NULL },
	{ "\xc0\xaf", 0, SCRAM_PREP_QUERY, NULL },	/* overlong '/' */
	{ "a\0b", 3, SCRAM_PREP_QUERY, NULL },
	/* Empty in, empty out; mapped to nothing, empty out. */
	{ "", 0, SCRAM_PREP_STORED, "" },
	{ "\xc2\xad", 0, SCRAM_PREP_STORED, "" },
};

START_TEST(test_scram__saslprep_vectors)
{
	const char *in = prep_vec[_i].in, *want = prep_vec[_i].want;
	size_t len = prep_vec[_i].len != 0 ? prep_vec[_i].len : strlen(in);
	const char *why = NULL;
	char *out = (char *)1;
	int rc;

	rc = scram_saslprep(bytes_view_of(in, len), prep_vec[_i].mode, &out,
	    &why);
	if (want == NULL) {
		ck_assert_msg(rc == CAIRN_ERR_DENIED, "vector %d: rc %d", _i,
		    rc);
		ck_assert_ptr_null(out);
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_msg(rc == 0, "vector %d: rc %d (%s)", _i, rc,
	    why != NULL ? why : "");
	ck_assert_msg(strcmp(out, want) == 0, "vector %d: got \"%s\"", _i,
	    out);
	scram_prep_free(out);
}
END_TEST

/* Printable ASCII is unchanged, so existing files keep working. */
START_TEST(test_scram__saslprep_ascii_identity)
{
	char in[0x7f - 0x20 + 1], *out;
	int c;

	for (c = 0x20; c < 0x7f; c++)
		in[c - 0x20] = (char)c;
	in[sizeof(in) - 1] = '\0';
	ck_assert_int_eq(scram_saslprep(bytes_view_of(in, strlen(in)),
	    SCRAM_PREP_STORED, &out, NULL), 0);
	ck_assert_str_eq(out, in);
	scram_prep_free(out);
	/* Every control character is refused, ASCII's included. */
	for (c = 0x01; c < 0x20; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		ck_assert_msg(scram_saslprep(bytes_view_of(in, 1),
		    SCRAM_PREP_QUERY, &out, NULL) == CAIRN_ERR_DENIED,
		    "0x%02x passed", c);
	}
	scram_prep_free(NULL);
}
END_TEST

/* The largest input, one byte more, and an input that grows. */
START_TEST(test_scram__saslprep_limits)
{
	char *big, *out;
	size_t i;

	ck_assert_ptr_nonnull(big = malloc(SCRAM_PREP_MAX + 1));
	memset(big, 'x', SCRAM_PREP_MAX + 1);
	ck_assert_int_eq(scram_saslprep(bytes_view_of(big, SCRAM_PREP_MAX),
	    SCRAM_PREP_STORED, &out, NULL), 0);
	ck_assert_uint_eq(strlen(out), SCRAM_PREP_MAX);
	scram_prep_free(out);
	ck_assert_int_eq(scram_saslprep(bytes_view_of(big,
	    SCRAM_PREP_MAX + 1), SCRAM_PREP_STORED, &out, NULL),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_ptr_null(out);
	/* U+FDFA is 3 bytes in and 33 out: past the first buffer. */
	for (i = 0; i + 3 <= 300; i += 3)
		memcpy(big + i, "\xef\xb7\xba", 3);
	ck_assert_int_eq(scram_saslprep(bytes_view_of(big, 300),
	    SCRAM_PREP_QUERY, &out, NULL), 0);
	ck_assert_uint_eq(strlen(out), 100 * 33);
	scram_prep_free(out);
	free(big);
}
END_TEST

static Suite *
scram_suite(void)
{
	Suite *s = suite_create("scram");
	TCase *tc;

	tc = tcase_create("exchange");
	tcase_add_test(tc, test_scram__rfc7677_vector);
	tcase_add_test(tc, test_scram__wrong_password);
	tcase_add_test(tc, test_scram__unknown_never_passes);
	tcase_add_test(tc, test_scram__fake_cred_stable);
	tcase_add_test(tc, test_scram__escaped_user);
	tcase_add_test(tc, test_scram__y_header_binding);
	tcase_add_test(tc, test_scram__order);
	tcase_add_test(tc, test_scram__nonce);
	suite_add_tcase(s, tc);

	tc = tcase_create("saslprep");
	tcase_add_loop_test(tc, test_scram__saslprep_vectors, 0,
	    (int)(sizeof(prep_vec) / sizeof(prep_vec[0])));
	tcase_add_test(tc, test_scram__saslprep_ascii_identity);
	tcase_add_test(tc, test_scram__saslprep_limits);
	tcase_add_loop_test(tc, test_scram__first_saslprep, 0,
	    (int)(sizeof(prep_first) / sizeof(prep_first[0])));
	tcase_add_test(tc, test_scram__first_saslprep_exchange);
	tcase_add_test(tc, test_scram__stored_nbsp_client_space);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_scram__bad_first, 0,
	    (int)(sizeof(bad_first) / sizeof(bad_first[0])));
	tcase_add_test(tc, test_scram__first_limits);
	tcase_add_loop_test(tc, test_scram__bad_final, 0,
	    (int)(sizeof(bad_final) / sizeof(bad_final[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(scram_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
