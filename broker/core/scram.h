/*
 * Scram: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as MQTT
 * 5.0 enhanced authentication carries it (authentication method
 * "SCRAM-SHA-256", as EMQX offers it):
 *
 *	CONNECT	 auth data = client-first	n,,n=USER,r=CNONCE
 *	AUTH 0x18 auth data = server-first	r=CNONCE SNONCE,s=SALT,i=ITER
 *	AUTH 0x18 auth data = client-final	c=biws,r=NONCE,p=PROOF
 *	CONNACK 0x00 auth data = server-final	v=SIGNATURE
 *
 * What is accepted, and nothing more: a GS2 header "n,," or "y,," (no
 * channel binding, no authorization identity), no "m=" extension, a user
 * name in saslname form (",", "=" escaped as =2C and =3D; any other '='
 * is an error) of 1 to SCRAM_USER_MAX bytes of UTF-8 without NUL, a
 * printable client nonce, and in client-final the channel binding that
 * repeats our GS2 header ("biws" for "n,,"), the whole nonce and a proof
 * of exactly 32 bytes.  Extensions after the nonce are kept in the
 * AuthMessage and otherwise ignored, as the RFC asks.  Every message is
 * at most SCRAM_MSG_MAX bytes, so a session costs one fixed struct.
 *
 * The server never sees a password: an entry holds StoredKey and
 * ServerKey (struct scram_cred), and checking a proof is three HMACs and
 * a hash, the same work for a user who is not in the file.  For such a
 * user the caller passes a fake credential (scram_cred_fake()): its salt
 * is an HMAC of a server secret and the user name, so asking twice gives
 * the same salt, as it would for a real user, and the proof then fails.
 *
 * User names and passwords are prepared with SASLprep (RFC 4013), as
 * RFC 5802 section 2.2 asks, through libidn's stringprep: the user name
 * of client-first as a query (unassigned code points pass), a password
 * as a stored string (they are refused) before its keys are derived
 * (scram_saslprep()).  SASLprep is the identity on printable ASCII, so
 * such names and passwords are used as they are.
 *
 * Pure: no sockets, no clock, no logging.  Needs libcrypto (HMAC,
 * SHA-256, PBKDF2, RAND_bytes for nonces) and libidn (SASLprep).
 */
#ifndef CAIRN_BROKER_SCRAM_H
#define CAIRN_BROKER_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/base64.h"
#include "common/bytes.h"

/* The MQTT authentication method name; do not change (clients send it). */
#define SCRAM_METHOD		"SCRAM-SHA-256"
#define SCRAM_KEY_LEN		32	/* SHA-256 */
#define SCRAM_SALT_MIN		8
#define SCRAM_SALT_MAX		64
/* Salt written for new entries, and the length of a fake one. */
#define SCRAM_SALT_LEN		16
/* RFC 7677: at least 4096 rounds. */
#define SCRAM_DEFAULT_ITERATIONS	4096
/* Random bytes in our half of the nonce; sent as base64 (32 characters). */
#define SCRAM_SNONCE_RAW	24
#define SCRAM_SNONCE_LEN	32
/* Longest client message, and longest user name once unescaped and
 * prepared. */
#define SCRAM_MSG_MAX		1024
#define SCRAM_USER_MAX		255
/* Longest string scram_saslprep() takes: an MQTT string's. */
#define SCRAM_PREP_MAX		65535
/* Longest server message (server-first with the longest client nonce). */
#define SCRAM_OUT_MAX		(SCRAM_MSG_MAX + 256)

/*
 * SASLprep's two kinds of string (RFC 4013 section 2, after RFC 3454
 * section 7): a query may hold code points that Unicode 3.2 left
 * unassigned, a stored string may not.
 */
enum scram_prep {
	SCRAM_PREP_QUERY = 0,	/* what a peer sends: a user name */
	SCRAM_PREP_STORED,	/* what we keep: a password's keys */
};

/* What the server keeps for a user (RFC 5802 section 3). */
struct scram_cred {
	int		sc_iter;
	size_t		sc_saltlen;
	uint8_t		sc_salt[SCRAM_SALT_MAX];
	uint8_t		sc_stored_key[SCRAM_KEY_LEN];
	uint8_t		sc_server_key[SCRAM_KEY_LEN];
};

enum scram_state {
	SCRAM_START = 0,	/* waiting for client-first */
	SCRAM_NEED_CRED,	/* client-first read: look the user up */
	SCRAM_FIRST_SENT,	/* server-first made: waiting for client-final */
	SCRAM_DONE,		/* proof checked, server-final made */
	SCRAM_FAILED,		/* any error: every later call fails */
};

/*
 * One exchange, in caller storage (about 2 KB): scram_init() it, then
 * scram_client_first(), scram_server_first(), scram_client_final().
 * Holds key material: scram_fini() wipes it.
 */
struct scram {
	enum scram_state s_state;
	int		 s_known;	/* the credential is a real user's */
	char		 s_gs2[4];	/* "n,," or "y,," */
	char		 s_user[SCRAM_USER_MAX + 1];
	size_t		 s_userlen;
	size_t		 s_cnoncelen;	/* client nonce: starts s_am + 2 */
	size_t		 s_cnonceoff;
	/* "client-first-bare,server-first,": the AuthMessage so far. */
	char		 s_am[SCRAM_MSG_MAX + SCRAM_OUT_MAX + 2];
	size_t		 s_amlen;
	size_t		 s_nonceoff;	/* whole nonce, inside s_am */
	size_t		 s_noncelen;
	struct scram_cred s_cred;
};

void	scram_init(struct scram *s);
/* Wipes s; it may be scram_init()ed again. */
void	scram_fini(struct scram *s);

/*
 * Reads client-first (CONNECT's authentication data).  On success the
 * state is SCRAM_NEED_CRED and *user is the user name, unescaped then
 * prepared (SASLprep as a query), a view into s (NUL-terminated at
 * user->p[user->len]): the name to look up.  CAIRN_ERR_PROTO for
 * anything malformed or refused above (channel binding asked for, an
 * authorization identity, a name with NUL or bad UTF-8, too long before
 * or after SASLprep); CAIRN_ERR_DENIED for a well-formed name that
 * SASLprep refuses (a prohibited character, a bidirectional rule
 * broken) or that it maps to nothing; CAIRN_ERR_NOMEM; CAIRN_ERR_INVAL
 * when called in another state.  On error the state is SCRAM_FAILED.
 * The AuthMessage keeps the name as the client sent it.  Borrows msg.
 */
int	scram_client_first(struct scram *s, struct bytes_view msg,
	    struct bytes_view *user);

/*
 * Makes server-first into out (cleared first; at least SCRAM_OUT_MAX
 * bytes of room, or CAIRN_ERR_TOO_BIG) from the user's credential, or a
 * fake one (known = 0: the exchange then always fails at
 * scram_client_final(), after the same work).  snonce is our half of the
 * nonce: printable ASCII, no ',', 1 to 64 bytes (scram_nonce() makes
 * one; tests pass the RFC's).  0, CAIRN_ERR_INVAL (bad state or
 * argument).  Copies cred.
 */
int	scram_server_first(struct scram *s, const struct scram_cred *cred,
	    int known, struct bytes_view snonce, struct bytes_w *out);

/*
 * Reads client-final and checks the proof.  0: the user is who they
 * claim, out holds server-final ("v=...") and the state is SCRAM_DONE.
 * CAIRN_ERR_AUTH: well formed but the proof, the nonce or the channel
 * binding is wrong, or the user is not known.  CAIRN_ERR_PROTO:
 * malformed.  CAIRN_ERR_INVAL: bad state (a second client-final, a replay
 * on a finished exchange).  The proof is compared with CRYPTO_memcmp().
 * On error the state is SCRAM_FAILED and out is empty.
 */
int	scram_client_final(struct scram *s, struct bytes_view msg,
	    struct bytes_w *out);

/*
 * Our half of a nonce: SCRAM_SNONCE_RAW random bytes in base64, NUL-
 * terminated in buf.  0, or CAIRN_ERR_IO when there is no randomness.
 */
int	scram_nonce(char buf[SCRAM_SNONCE_LEN + 1]);

/*
 * Derives a user's entry from a password (SaltedPassword by PBKDF2-HMAC-
 * SHA-256, then ClientKey, StoredKey, ServerKey).  salt is 1 to
 * SCRAM_SALT_MAX bytes, iter 1 to INT_MAX.  0, CAIRN_ERR_INVAL, or
 * CAIRN_ERR_IO when libcrypto fails.  The password is used as the bytes
 * given: a caller prepares it first with scram_saslprep() (RFC 5802
 * section 2.2; the RFC's "pencil" is the same either way).
 */
int	scram_cred_make(struct bytes_view password, const uint8_t *salt,
	    size_t saltlen, int iter, struct scram_cred *out);

/*
 * The credential of a user who does not exist: salt = the first
 * SCRAM_SALT_LEN bytes of HMAC-SHA-256(secret, "salt" user), keys from
 * the same HMAC with other labels, iter as given.  The same secret and
 * user always give the same answer.  0 or CAIRN_ERR_IO.
 */
int	scram_cred_fake(const uint8_t secret[SCRAM_KEY_LEN],
	    struct bytes_view user, int iter, struct scram_cred *out);

/*
 * SASLprep (RFC 4013) of in, in the given mode, by libidn: non-ASCII
 * spaces become U+0020, the characters "commonly mapped to nothing"
 * (U+00AD, U+200C and U+200D...) go, then NFKC, then the prohibited
 * characters (controls, ASCII's too; private use; non-characters...)
 * and RFC 3454's bidirectional rule are checked.  Printable ASCII
 * (0x20-0x7e) comes out unchanged.
 *
 * 0: *out is a new NUL-terminated UTF-8 string (possibly empty) that the
 * caller frees with scram_prep_free().  CAIRN_ERR_DENIED: SASLprep
 * refuses in (not UTF-8, a NUL, a prohibited character, the
 * bidirectional rule, an unassigned code point in SCRAM_PREP_STORED),
 * with *why (when why is not NULL) a static English reason.
 * CAIRN_ERR_TOO_BIG: over SCRAM_PREP_MAX bytes.  CAIRN_ERR_NOMEM.  On
 * error *out is NULL.  Borrows in; the copies made here are wiped
 * before they are freed (libidn's own UCS-4 copies are not).
 */
int	scram_saslprep(struct bytes_view in, enum scram_prep mode, char **out,
	    const char **why);

/* Wipes and frees what scram_saslprep() made.  Accepts NULL. */
void	scram_prep_free(char *p);

/* Padded base64 of n bytes (common/base64.h), without the NUL. */
#define SCRAM_B64_LEN(n)	B64_LEN(n)

#endif
