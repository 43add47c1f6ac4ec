/*
 * Passwd: the broker's password file, in mosquitto_passwd's format so
 * that users can bring theirs.  One user a line:
 *
 *	USER:$7$ITER$SALT$HASH	PBKDF2-HMAC-SHA512, ITER rounds (mosquitto 2.x)
 *	USER:$6$SALT$HASH	SHA-512 over password then salt (mosquitto 1.x)
 *	USER:$scram-sha-256$ITER$SALT$STOREDKEY$SERVERKEY
 *				SCRAM-SHA-256 (scram.h), Cairn's own
 *
 * SALT and HASH are standard base64 with '=' padding; SALT decodes to 12
 * bytes (64 is read too: newer mosquitto writes it), HASH to 64.  In a
 * SCRAM line SALT is 8 to 64 bytes (16 written), STOREDKEY and SERVERKEY
 * 32 each, all padded base64; ITER is the PBKDF2-SHA-256 count (4096
 * written, RFC 7677's minimum), over the password as SASLprep (RFC
 * 4013) makes it; printable ASCII passes unchanged, so lines written
 * before SASLprep was applied still work for such passwords.  A SCRAM
 * entry serves both a SCRAM exchange (MQTT 5.0 AUTH) and a plain
 * CONNECT password, which is checked by deriving StoredKey again; a $7$
 * or $6$ entry serves only the plain password, since SCRAM needs keys
 * that only the password gives.  mosquitto does not read SCRAM lines.
 * Lines that start with '#' and blank lines are comments.  Blanks around USER
 * and the hash are trimmed, as mosquitto trims them.  Do not change this
 * format: mosquitto reads what passwd_save() writes.
 *
 * Loading is all-or-nothing: a line that mosquitto would skip with a
 * warning (no ':', an unknown hash type, bad base64, a repeated user) is
 * an error here, reported as "FILE:LINE: problem", and nothing is loaded.
 *
 * passwd_check() costs the same for an unknown user as for a known one:
 * it runs the KDF against a dummy entry and fails.  The comparison is
 * CRYPTO_memcmp().
 *
 * Iterations.  New entries get PASSWD_DEFAULT_ITERATIONS, 101, the same
 * as mosquitto_passwd, unless the caller asks for more (`cairn passwd
 * -I`).  Not OWASP's 210,000 on purpose: the broker checks a password on
 * its one event loop at every CONNECT, before it knows the client, and
 * unknown users pay the same price.  At 210,000 rounds a check takes
 * 100-300 ms of CPU here, so ten CONNECTs a second, with any user name,
 * would stall every client of the node.  Until checks leave the loop and
 * CONNECTs are rate-limited, the count is a per-connect CPU budget first
 * and an offline-cracking cost second.  Operators whose files are well
 * protected and whose connect rate is low may raise it per user; mosquitto
 * reads any count from the line.
 *
 * No logging, no exit.  Needs libcrypto (PKCS5_PBKDF2_HMAC, RAND_bytes).
 */
#ifndef CAIRN_BROKER_PASSWD_H
#define CAIRN_BROKER_PASSWD_H

#include <stddef.h>

#include "broker/core/scram.h"
#include "common/bytes.h"

#define PASSWD_DEFAULT_ITERATIONS	101
/* Salt written for new entries: mosquitto 2.0 reads no other length. */
#define PASSWD_SALT_LEN			12
/* Longest salt read (newer mosquitto writes one as long as the hash). */
#define PASSWD_SALT_MAX			64
#define PASSWD_HASH_LEN			64
/* User names and passwords are MQTT strings: at most 65535 bytes. */
#define PASSWD_USER_MAX			65535
#define PASSWD_PASSWORD_MAX		65535
/* Largest file passwd_load() reads. */
#define PASSWD_MAX_FILE			(64u * 1024 * 1024)

/* A loaded password file; opaque. */
struct passwd_file;

/* An empty file, or NULL when out of memory.  Free with passwd_free(). */
struct passwd_file	*passwd_new(void);

/* Frees pf and everything it owns.  Accepts NULL. */
void	passwd_free(struct passwd_file *pf);

/*
 * Parses text[0..len) as a password file; `name` is used in messages.
 * On success *out is a new passwd_file (the caller frees it) and the
 * result is 0.  On failure *out is unchanged, err holds "NAME:LINE:
 * problem" (when errlen > 0) and the result is CAIRN_ERR_PROTO, or
 * CAIRN_ERR_NOMEM.  Borrows text and name.
 */
int	passwd_parse(const char *text, size_t len, const char *name,
	    struct passwd_file **out, char *err, size_t errlen);

/*
 * Reads and parses the file at path, as passwd_parse().  A file that
 * cannot be read is CAIRN_ERR_IO ("PATH: strerror"), one that is not a
 * regular file (a FIFO, a directory, a device) CAIRN_ERR_INVAL ("PATH: not
 * a regular file (a FIFO)"), one larger than PASSWD_MAX_FILE
 * CAIRN_ERR_TOO_BIG ("PATH: over N bytes"); common/file.h's rules.
 */
int	passwd_load(const char *path, struct passwd_file **out, char *err,
	    size_t errlen);

/*
 * Checks a CONNECT's user name and password: 0 if user is in the file
 * and password hashes to its entry, else CAIRN_ERR_AUTH (also for an
 * unknown user, after the same work as for a known one, and when the
 * KDF itself fails).  The whole password is hashed; mosquitto stops at
 * its first NUL byte.  Against a SCRAM entry the password is prepared
 * with SASLprep (a query) first, as its keys were; one that SASLprep
 * refuses fails after the same KDF.  Borrows everything.
 */
int	passwd_check(const struct passwd_file *pf, struct bytes_view user,
	    struct bytes_view password);

/* 1 if user has an entry, else 0. */
int	passwd_has(const struct passwd_file *pf, const char *user);

/* Number of users. */
size_t	passwd_count(const struct passwd_file *pf);

/*
 * 1 if user may be written to a password file: 1 to PASSWD_USER_MAX
 * bytes of UTF-8, no control character, no ':', no blank at either end
 * (mosquitto trims them) and no '#' first (a comment).  Else 0.
 */
int	passwd_user_valid(const char *user);

/*
 * Sets user's password: a new $7$ entry with a fresh random salt and
 * `iterations` rounds (1 to INT_MAX).  An existing user keeps its place
 * in the file; a new one goes at the end.  0, CAIRN_ERR_INVAL (user not
 * passwd_user_valid(), password longer than PASSWD_PASSWORD_MAX, bad
 * iterations), CAIRN_ERR_NOMEM, or CAIRN_ERR_IO (no random bytes); on
 * failure pf is unchanged.  Borrows user and password (copies the hash,
 * never the password).
 */
int	passwd_set(struct passwd_file *pf, const char *user,
	    struct bytes_view password, int iterations);

/*
 * As passwd_set(), but the entry is a SCRAM-SHA-256 one (random 16-byte
 * salt, `iterations` rounds of PBKDF2-SHA-256; SCRAM_DEFAULT_ITERATIONS
 * is the RFC's minimum) whose keys are of the password as SASLprep
 * makes it (scram_saslprep(), a stored string: RFC 5802 section 2.2).
 * CAIRN_ERR_DENIED too, when SASLprep refuses the password (not UTF-8,
 * a control or other prohibited character, the bidirectional rule, an
 * unassigned code point).  The user name is written as given.
 */
int	passwd_set_scram(struct passwd_file *pf, const char *user,
	    struct bytes_view password, int iterations);

/*
 * The SCRAM credential of user for a SCRAM exchange: 0 with *out set when
 * user has a SCRAM entry.  Else CAIRN_ERR_NOENT, and *out is still a
 * credential, a fake one (scram_cred_fake()) that no proof matches: its
 * salt comes from a secret derived from the whole file (so it stays the
 * same across reloads of an unchanged file) and the user name, and its
 * count is the largest SCRAM count in the file, so that the server-first
 * the client sees looks like a real user's.  A user with a $7$ or $6$
 * entry gets a fake one too.  Borrows everything.
 */
int	passwd_scram_cred(const struct passwd_file *pf, struct bytes_view user,
	    struct scram_cred *out);

/* Removes user: 0, or CAIRN_ERR_NOENT if it has no entry. */
int	passwd_delete(struct passwd_file *pf, const char *user);

/*
 * Writes pf to path atomically: a temporary file in the same directory,
 * mode 0600 (and the old file's owner when we may set it), fsync, rename
 * over path, fsync of the directory.  A symbolic link at path is
 * followed, so its target is replaced.  Comments and blank lines read by
 * passwd_parse() are kept, and entries keep their text and order.
 * 0, or CAIRN_ERR_IO / CAIRN_ERR_NOMEM with err set ("PATH: why"); on
 * failure path is untouched and the temporary file is removed.
 */
int	passwd_save(const struct passwd_file *pf, const char *path,
	    char *err, size_t errlen);

#endif
