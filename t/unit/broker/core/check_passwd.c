/*
 * Unit tests for broker/passwd: lines written by Debian's
 * mosquitto_passwd 2.0.11 (known answers), the $6$ form, every parse
 * error with its line number, unknown users paying for a KDF run, and
 * save/load round trips (mode 0600, comments kept, links followed).
 *
 * PKCS5_PBKDF2_HMAC is wrapped (-Wl,--wrap) so a test can count KDF
 * runs and see their iteration counts.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "broker/core/passwd.h"
#include "common/bytes.h"
#include "common/err.h"

int	__real_PKCS5_PBKDF2_HMAC(const char *, int, const unsigned char *, int,
	    int, const EVP_MD *, int, unsigned char *);
int	__wrap_PKCS5_PBKDF2_HMAC(const char *, int, const unsigned char *, int,
	    int, const EVP_MD *, int, unsigned char *);

static int kdf_calls;
static int kdf_last_iter;

int
__wrap_PKCS5_PBKDF2_HMAC(const char *pass, int passlen,
    const unsigned char *salt, int saltlen, int iter, const EVP_MD *md,
    int keylen, unsigned char *out)
{
	kdf_calls++;
	kdf_last_iter = iter;
	return __real_PKCS5_PBKDF2_HMAC(pass, passlen, salt, saltlen, iter,
	    md, keylen, out);
}

/*
 * Made with `mosquitto_passwd -b -c FILE alice 'correct horse'`, then
 * -b for bob, `-H sha512` for carol (the 1.x form) and `-I 1000` for
 * dave (mosquitto 2.0.11, Debian 12).  erin has a 64-byte salt, as newer
 * mosquitto writes; made with Python's hashlib.pbkdf2_hmac.
 */
static const char mosq_file[] =
    "alice:$7$101$cDNavr2KQ/KOcZnu$lLD3drdsVbuMxTvithkFHBVmB4SDrN7j/kV8oIH1"
    "lJw9JpscGtV7IXJjwIfzNF0EUAwg0HXWE15zCQNrT0gybA==\n"
    "bob:$7$101$N9N6Ms6zkFltVQta$eVMkiYxBfhoA3OhrynXhh/Iqu95FlkX5V92ePMUNsr"
    "GJocOo9/48iIB/M1bHNQsFdbeS1/2ITppsOgYRN6rA/g==\n"
    "carol:$6$xg158DLSH8a+kGJL$VDONr0+tOoT0lCqbhAvFJaXOYTZTeBUgcHp6iQPe9cOB"
    "WgZoTkgiIlOSk+z550OT5XNT+aRsidRvNHgTI7uWiA==\n"
    "dave:$7$1000$R5hXvONfbFcLdOrH$NIdLpIITSkMApZS2dAYzeXTU0c6ONqLMxS5HU8kC"
    "npHOrHDC+Xtq6mJe+dkfzb0RU1JY/UM0DBV7DjtcJzy5Ow==\n"
    "erin:$7$10$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis"
    "sLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$HjfZKLw7BrLi8/kQEWaDHYo2I3sVyPCLxHrYTyDe"
    "DMWhm4IBYQeovuvcDt9zkyxTomejTCFyIPR5QjkM8jzr8w==\n";

/* A valid $7$ field to build bad lines around. */
#define GOOD_FIELD	"$7$101$cDNavr2KQ/KOcZnu$lLD3drdsVbuMxTvithkFHBVmB4SDrN7j" \
			"/kV8oIH1lJw9JpscGtV7IXJjwIfzNF0EUAwg0HXWE15zCQNrT0gybA=="

/*
 * RFC 7677's user: password "pencil", its salt and count, and the
 * StoredKey and ServerKey they give (Python's hashlib and hmac).
 */
#define SCRAM_SALT64	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define SCRAM_STORED64	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define SCRAM_SERVER64	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define SCRAM_FIELD	"$scram-sha-256$4096$" SCRAM_SALT64 "$" \
			SCRAM_STORED64 "$" SCRAM_SERVER64

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static struct passwd_file *
parse_ok(const char *text)
{
	struct passwd_file *pf = NULL;
	char err[256] = "";
	int rc;

	rc = passwd_parse(text, strlen(text), "pw", &pf, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse: %d %s", rc, err);
	ck_assert_ptr_nonnull(pf);
	return pf;
}

static int
check(const struct passwd_file *pf, const char *user, const char *pw)
{
	return passwd_check(pf, sv(user), sv(pw));
}

START_TEST(test_passwd__mosquitto_vectors)
{
	struct passwd_file *pf = parse_ok(mosq_file);

	ck_assert_uint_eq(passwd_count(pf), 5);
	ck_assert_int_eq(check(pf, "alice", "correct horse"), 0);
	ck_assert_int_eq(check(pf, "bob", "b0b!"), 0);
	ck_assert_int_eq(check(pf, "carol", "old style"), 0);
	ck_assert_int_eq(check(pf, "dave", "dave pass"), 0);
	ck_assert_int_eq(check(pf, "erin", "long salt"), 0);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__wrong_password)
{
	struct passwd_file *pf = parse_ok(mosq_file);

	ck_assert_int_eq(check(pf, "alice", "correct horsE"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "alice", "correct horse "), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "alice", ""), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "bob", "correct horse"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "carol", "old Style"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "dave", "dave"), CAIRN_ERR_AUTH);
	/* The whole password counts, past a NUL too (mosquitto stops). */
	ck_assert_int_eq(passwd_check(pf, sv("alice"),
	    bytes_view_of("correct horse\0x", 15)), CAIRN_ERR_AUTH);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__unknown_user)
{
	struct passwd_file *pf = parse_ok(mosq_file);

	ck_assert_int_eq(check(pf, "mallory", "correct horse"),
	    CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "", ""), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "Alice", "correct horse"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "alic", "correct horse"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "alicee", "correct horse"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(passwd_check(pf, bytes_view_of("alice\0", 6),
	    sv("correct horse")), CAIRN_ERR_AUTH);
	ck_assert_int_eq(passwd_check(pf, bytes_view_of(NULL, 0),
	    bytes_view_of(NULL, 0)), CAIRN_ERR_AUTH);
	ck_assert_int_eq(passwd_check(NULL, sv("alice"),
	    sv("correct horse")), CAIRN_ERR_AUTH);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__unknown_user_runs_kdf)
{
	struct passwd_file *pf = parse_ok(mosq_file);

	/* An unknown user costs one KDF run at the file's largest count. */
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "mallory", "x"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 1);
	ck_assert_int_eq(kdf_last_iter, 1000);
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "alice", "x"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 1);
	ck_assert_int_eq(kdf_last_iter, 101);
	passwd_free(pf);

	/* An empty file: the default count. */
	pf = parse_ok("");
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "x", "y"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 1);
	ck_assert_int_eq(kdf_last_iter, PASSWD_DEFAULT_ITERATIONS);
	passwd_free(pf);

	/* Only $6$ entries: the dummy is $6$ too (no KDF). */
	pf = parse_ok("carol:$6$xg158DLSH8a+kGJL$VDONr0+tOoT0lCqbhAvFJaXOYTZT"
	    "eBUgcHp6iQPe9cOBWgZoTkgiIlOSk+z550OT5XNT+aRsidRvNHgTI7uWiA==\n");
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "x", "y"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 0);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__comments_blanks_crlf)
{
	struct passwd_file *pf = parse_ok(
	    "# users\n"
	    "\n"
	    "   \t\n"
	    "  # indented comment\n"
	    "  alice  :  " GOOD_FIELD "  \r\n"
	    "#bob:" GOOD_FIELD "\n"
	    "last:" GOOD_FIELD);

	ck_assert_uint_eq(passwd_count(pf), 2);
	ck_assert_int_eq(passwd_has(pf, "alice"), 1);
	ck_assert_int_eq(passwd_has(pf, "#bob"), 0);
	ck_assert_int_eq(passwd_has(pf, "last"), 1);
	ck_assert_int_eq(check(pf, "alice", "correct horse"), 0);
	ck_assert_int_eq(check(pf, "last", "correct horse"), 0);
	passwd_free(pf);
}
END_TEST

struct bad_row {
	const char	*text;
	const char	*err;	/* the whole message */
};

static const struct bad_row bad_rows[] = {
	{ "alice\n", "pw:1: no ':' after the user name" },
	{ "# c\n\nalice " GOOD_FIELD "\n", "pw:3: no ':' after the user name" },
	{ ":" GOOD_FIELD "\n", "pw:1: empty user name" },
	{ "  :" GOOD_FIELD "\n", "pw:1: empty user name" },
	{ "alice:\n", "pw:1: no password hash" },
	{ "alice:   \n", "pw:1: no password hash" },
	{ "alice:secret\n", "pw:1: not a hashed password (mosquitto_passwd "
	    "-U hashes a plain-text file)" },
	{ "alice:$5$abc$def\n", "pw:1: unknown hash type" },
	{ "alice:$77$1$a$b\n", "pw:1: unknown hash type" },
	{ "alice:$7$\n", "pw:1: bad iteration count" },
	{ "alice:$7$0$cDNavr2KQ/KOcZnu$x\n", "pw:1: bad iteration count" },
	{ "alice:$7$-1$cDNavr2KQ/KOcZnu$x\n", "pw:1: bad iteration count" },
	{ "alice:$7$1x$cDNavr2KQ/KOcZnu$x\n", "pw:1: bad iteration count" },
	{ "alice:$7$99999999999$cDNavr2KQ/KOcZnu$x\n",
	    "pw:1: iteration count too large" },
	{ "alice:$7$101$cDNavr2KQ/KOcZnu\n",
	    "pw:1: no '$' between salt and hash" },
	{ "alice:$7$101$cDNa*r2KQ/KOcZnu$x\n", "pw:1: salt is not base64" },
	{ "alice:$7$101$cDNavr2KQ/KOcZ$x\n",
	    "pw:1: salt must decode to 12 or 64 bytes" },
	{ "alice:$7$101$cDNavr2KQ/KOcZnu$lLD3\n",
	    "pw:1: hash must decode to 64 bytes" },
	{ "alice:$7$101$cDNavr2KQ/KOcZnu$lLD3$x\n",
	    "pw:1: hash is not base64" },
	{ "alice:$6$xg158DLSH8a+kGJL$VDONr0+t=Oo\n",
	    "pw:1: hash is not base64" },
	{ "alice:" GOOD_FIELD ":extra\n", "pw:1: ':' in the password hash" },
	{ "a\tb:" GOOD_FIELD "\n", "pw:1: control character in user name" },
	{ "\xc3\x28:" GOOD_FIELD "\n", "pw:1: user name is not valid UTF-8" },
	{ "ok:" GOOD_FIELD "\nalice\0x:" GOOD_FIELD "\n",
	    "pw:2: NUL byte in line" },
	{ "bob:" GOOD_FIELD "\n# x\nalice:" GOOD_FIELD "\nbob:" GOOD_FIELD
	    "\n", "pw:4: user 'bob' repeated (first on line 1)" },
	/* SCRAM lines. */
	{ "u:$scram-sha-256$\n", "pw:1: bad iteration count" },
	{ "u:$scram-sha-256$0$" SCRAM_SALT64 "$a$b\n",
	    "pw:1: bad iteration count" },
	{ "u:$scram-sha-256$4096x$" SCRAM_SALT64 "$a$b\n",
	    "pw:1: bad iteration count" },
	{ "u:$scram-sha-256$99999999999$a$b$c\n",
	    "pw:1: iteration count too large" },
	{ "u:$scram-sha-256$4096$" SCRAM_SALT64 "\n",
	    "pw:1: no '$' between salt and stored key" },
	{ "u:$scram-sha-256$4096$W22ZaJ0SNY7soEsUEjb6gQ$a$b\n",
	    "pw:1: SCRAM salt is not base64 of at most 64 bytes" },
	{ "u:$scram-sha-256$4096$W22ZaJ0=$a$b\n",
	    "pw:1: SCRAM salt must decode to 8 to 64 bytes" },
	{ "u:$scram-sha-256$4096$" SCRAM_SALT64 "$" SCRAM_STORED64 "\n",
	    "pw:1: no '$' between stored key and server key" },
	{ "u:$scram-sha-256$4096$" SCRAM_SALT64 "$" SCRAM_SALT64 "$"
	    SCRAM_SERVER64 "\n",
	    "pw:1: SCRAM stored key must be 32 bytes of base64" },
	{ "u:$scram-sha-256$4096$" SCRAM_SALT64 "$" SCRAM_STORED64 "$"
	    SCRAM_SERVER64 "A\n",
	    "pw:1: SCRAM server key must be 32 bytes of base64" },
	{ "u:$scram-sha-256$4096$" SCRAM_SALT64 "$" SCRAM_STORED64 "$"
	    SCRAM_STORED64 "$x\n",
	    "pw:1: SCRAM server key must be 32 bytes of base64" },
	{ "u:$SCRAM-SHA-256$4096$a$b$c\n", "pw:1: unknown hash type" },
};

START_TEST(test_passwd__scram_entry)
{
	struct passwd_file *pf = parse_ok("# rfc 7677\nuser:" SCRAM_FIELD
	    "\nalice:" GOOD_FIELD "\n");
	struct scram_cred c;
	char b64[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];

	ck_assert_uint_eq(passwd_count(pf), 2);
	ck_assert_int_eq(passwd_scram_cred(pf, sv("user"), &c), 0);
	ck_assert_int_eq(c.sc_iter, 4096);
	b64_encode(c.sc_salt, c.sc_saltlen, b64);
	ck_assert_str_eq(b64, SCRAM_SALT64);
	b64_encode(c.sc_stored_key, SCRAM_KEY_LEN, b64);
	ck_assert_str_eq(b64, SCRAM_STORED64);
	b64_encode(c.sc_server_key, SCRAM_KEY_LEN, b64);
	ck_assert_str_eq(b64, SCRAM_SERVER64);
	/* A plain CONNECT password against a SCRAM entry: one KDF run. */
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "user", "pencil"), 0);
	ck_assert_int_eq(kdf_calls, 1);
	ck_assert_int_eq(kdf_last_iter, 4096);
	ck_assert_int_eq(check(pf, "user", "pencil "), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "alice", "correct horse"), 0);
	/* An unknown user pays for the largest count, SCRAM's here. */
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "mallory", "pencil"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 1);
	ck_assert_int_eq(kdf_last_iter, 4096);
	/* A $7$ user has no SCRAM keys: a fake credential. */
	ck_assert_int_eq(passwd_scram_cred(pf, sv("alice"), &c),
	    CAIRN_ERR_NOENT);
	ck_assert_uint_eq(c.sc_saltlen, SCRAM_SALT_LEN);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__scram_fake_cred)
{
	const char *text = "user:" SCRAM_FIELD "\nbig:$scram-sha-256$9000$"
	    SCRAM_SALT64 "$" SCRAM_STORED64 "$" SCRAM_SERVER64 "\n";
	struct passwd_file *a = parse_ok(text), *b = parse_ok(text);
	struct passwd_file *other = parse_ok("user:" SCRAM_FIELD "\n");
	struct scram_cred ca, cb, cc;

	kdf_calls = 0;
	ck_assert_int_eq(passwd_scram_cred(a, sv("mallory"), &ca),
	    CAIRN_ERR_NOENT);
	/* No KDF: a fake credential costs HMACs only, like a real lookup. */
	ck_assert_int_eq(kdf_calls, 0);
	ck_assert_int_eq(ca.sc_iter, 9000);
	ck_assert_uint_eq(ca.sc_saltlen, SCRAM_SALT_LEN);
	/* The same file loaded again (a reload) gives the same salt... */
	ck_assert_int_eq(passwd_scram_cred(b, sv("mallory"), &cb),
	    CAIRN_ERR_NOENT);
	ck_assert_int_eq(memcmp(ca.sc_salt, cb.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_eq(memcmp(ca.sc_stored_key, cb.sc_stored_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(cb.sc_iter, 9000);
	/* ...another name or another file another one. */
	ck_assert_int_eq(passwd_scram_cred(a, sv("mallorx"), &cc),
	    CAIRN_ERR_NOENT);
	ck_assert_int_ne(memcmp(ca.sc_salt, cc.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_eq(passwd_scram_cred(other, sv("mallory"), &cc),
	    CAIRN_ERR_NOENT);
	ck_assert_int_ne(memcmp(ca.sc_salt, cc.sc_salt, SCRAM_SALT_LEN), 0);
	ck_assert_int_eq(cc.sc_iter, 4096);
	passwd_free(a);
	passwd_free(b);
	passwd_free(other);
}
END_TEST

START_TEST(test_passwd__scram_set_round_trip)
{
	struct passwd_file *pf = passwd_new(), *back;
	char dir[] = "/tmp/check_passwd.XXXXXX", path[64], err[256];
	struct scram_cred c, made;
	FILE *f;
	char line[512];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	ck_assert_int_eq(passwd_set_scram(pf, "sam", sv("s3cret"), 4096), 0);
	ck_assert_int_eq(passwd_set(pf, "pat", sv("p"), 101), 0);
	ck_assert_int_eq(passwd_set_scram(pf, "a:b", sv("x"), 4096),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(passwd_set_scram(pf, "sam", sv("x"), 0),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(passwd_save(pf, path, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_int_eq(strncmp(line, "sam:$scram-sha-256$4096$", 24), 0);
	ck_assert_int_eq(passwd_load(path, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(check(back, "sam", "s3cret"), 0);
	ck_assert_int_eq(check(back, "pat", "p"), 0);
	/* The keys read back are the ones the password derives. */
	ck_assert_int_eq(passwd_scram_cred(back, sv("sam"), &c), 0);
	ck_assert_int_eq(scram_cred_make(sv("s3cret"), c.sc_salt,
	    c.sc_saltlen, c.sc_iter, &made), 0);
	ck_assert_uint_eq(c.sc_saltlen, SCRAM_SALT_LEN);
	ck_assert_int_eq(memcmp(c.sc_stored_key, made.sc_stored_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(memcmp(c.sc_server_key, made.sc_server_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(passwd_scram_cred(back, sv("pat"), &c),
	    CAIRN_ERR_NOENT);
	passwd_free(back);
	passwd_free(pf);
	unlink(path);
	rmdir(dir);
}
END_TEST

/*
 * A SCRAM entry's keys are of the password as SASLprep makes it: a
 * no-break space is a space (RFC 4013 section 2.1), so "p\u00A0w" and
 * "p w" are one password, for a SCRAM client and a plain CONNECT alike.
 */
START_TEST(test_passwd__scram_saslprep)
{
	struct passwd_file *pf = passwd_new();
	struct scram_cred c, made;

	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(passwd_set_scram(pf, "nb", sv("p\xc2\xa0w"), 4096),
	    0);
	ck_assert_int_eq(passwd_scram_cred(pf, sv("nb"), &c), 0);
	ck_assert_int_eq(scram_cred_make(sv("p w"), c.sc_salt, c.sc_saltlen,
	    c.sc_iter, &made), 0);
	ck_assert_int_eq(memcmp(c.sc_stored_key, made.sc_stored_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(memcmp(c.sc_server_key, made.sc_server_key,
	    SCRAM_KEY_LEN), 0);
	ck_assert_int_eq(check(pf, "nb", "p w"), 0);
	ck_assert_int_eq(check(pf, "nb", "p\xc2\xa0w"), 0);
	ck_assert_int_eq(check(pf, "nb", "p\xe2\x80\x83w"), 0); /* U+2003 */
	ck_assert_int_eq(check(pf, "nb", "pw"), CAIRN_ERR_AUTH);
	/* NFKC: U+2168 ROMAN NUMERAL NINE is "IX". */
	ck_assert_int_eq(passwd_set_scram(pf, "ix", sv("\xe2\x85\xa8"), 4096),
	    0);
	ck_assert_int_eq(check(pf, "ix", "IX"), 0);
	/* What SASLprep refuses is not stored, and pf is unchanged. */
	ck_assert_int_eq(passwd_set_scram(pf, "bell", sv("a\x07"), 4096),
	    CAIRN_ERR_DENIED);
	ck_assert_int_eq(passwd_set_scram(pf, "bidi", sv("\xd8\xa7" "1"),
	    4096), CAIRN_ERR_DENIED);
	ck_assert_int_eq(passwd_set_scram(pf, "new", sv("\xc8\xa1"), 4096),
	    CAIRN_ERR_DENIED);			/* unassigned: stored */
	ck_assert_int_eq(passwd_set_scram(pf, "bad", sv("\xff"), 4096),
	    CAIRN_ERR_DENIED);
	ck_assert_uint_eq(passwd_count(pf), 2);
	/* A plain password SASLprep refuses still costs the KDF, and fails. */
	kdf_calls = 0;
	ck_assert_int_eq(check(pf, "nb", "p w\x07"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(kdf_calls, 1);
	/* $7$ entries are mosquitto's: bytes as given, no SASLprep. */
	ck_assert_int_eq(passwd_set(pf, "m", sv("p\xc2\xa0w"), 101), 0);
	ck_assert_int_eq(check(pf, "m", "p\xc2\xa0w"), 0);
	ck_assert_int_eq(check(pf, "m", "p w"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(passwd_set(pf, "m", sv("a\x07"), 101), 0);
	passwd_free(pf);
}
END_TEST

START_TEST(test_passwd__malformed)
{
	const struct bad_row *r = &bad_rows[_i];
	struct passwd_file *pf = (struct passwd_file *)&pf;
	struct passwd_file *orig = pf;
	char err[256] = "";
	size_t len = strlen(r->text);
	int rc;

	/* The NUL row: measure past the embedded NUL. */
	if (strstr(r->err, "NUL") != NULL)
		len += 1 + strlen(r->text + len + 1);
	rc = passwd_parse(r->text, len, "pw", &pf, err, sizeof(err));
	ck_assert_msg(rc == CAIRN_ERR_PROTO, "row %d: rc %d", _i, rc);
	ck_assert_msg(pf == orig, "row %d: output changed", _i);
	ck_assert_msg(strcmp(err, r->err) == 0, "row %d: '%s', want '%s'",
	    _i, err, r->err);
}
END_TEST

START_TEST(test_passwd__user_valid)
{
	ck_assert_int_eq(passwd_user_valid("alice"), 1);
	ck_assert_int_eq(passwd_user_valid("a b"), 1);
	ck_assert_int_eq(passwd_user_valid("\xc3\xa9t\xc3\xa9"), 1);
	ck_assert_int_eq(passwd_user_valid(""), 0);
	ck_assert_int_eq(passwd_user_valid("a:b"), 0);
	ck_assert_int_eq(passwd_user_valid("#a"), 0);
	ck_assert_int_eq(passwd_user_valid(" a"), 0);
	ck_assert_int_eq(passwd_user_valid("a "), 0);
	ck_assert_int_eq(passwd_user_valid("a\tb"), 0);
	ck_assert_int_eq(passwd_user_valid("a\nb"), 0);
	ck_assert_int_eq(passwd_user_valid("a\x7f"), 0);
	ck_assert_int_eq(passwd_user_valid("\xc3\x28"), 0);
}
END_TEST

START_TEST(test_passwd__set_check_delete)
{
	struct passwd_file *pf = passwd_new();

	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(passwd_set(pf, "u1", sv("p1"), 101), 0);
	ck_assert_int_eq(passwd_set(pf, "u2", sv(""), 7), 0);
	ck_assert_uint_eq(passwd_count(pf), 2);
	ck_assert_int_eq(check(pf, "u1", "p1"), 0);
	ck_assert_int_eq(check(pf, "u2", ""), 0);
	ck_assert_int_eq(check(pf, "u2", "x"), CAIRN_ERR_AUTH);
	/* Update. */
	ck_assert_int_eq(passwd_set(pf, "u1", sv("p1b"), 101), 0);
	ck_assert_uint_eq(passwd_count(pf), 2);
	ck_assert_int_eq(check(pf, "u1", "p1"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "u1", "p1b"), 0);
	/* Refusals leave the file as it was. */
	ck_assert_int_eq(passwd_set(pf, "a:b", sv("x"), 101), CAIRN_ERR_INVAL);
	ck_assert_int_eq(passwd_set(pf, "u3", sv("x"), 0), CAIRN_ERR_INVAL);
	ck_assert_int_eq(passwd_set(pf, "u3", bytes_view_of("x",
	    PASSWD_PASSWORD_MAX + 1), 1), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(passwd_count(pf), 2);
	/* Delete. */
	ck_assert_int_eq(passwd_delete(pf, "u1"), 0);
	ck_assert_int_eq(passwd_delete(pf, "u1"), CAIRN_ERR_NOENT);
	ck_assert_int_eq(passwd_has(pf, "u1"), 0);
	ck_assert_int_eq(check(pf, "u1", "p1b"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(pf, "u2", ""), 0);
	ck_assert_uint_eq(passwd_count(pf), 1);
	passwd_free(pf);
	passwd_free(NULL);
}
END_TEST

/* A fresh directory for files; removed by rmtree(). */
static char *
tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	ck_assert_int_ne(asprintf(&dir, "%s/check_passwd.XXXXXX",
	    base != NULL ? base : P_tmpdir), -1);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void
rmtree(char *dir)
{
	char *cmd;

	ck_assert_int_ne(asprintf(&cmd, "rm -rf '%s'", dir), -1);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(dir);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_passwd__round_trip)
{
	char *dir = tmpdir(), *path, *text, err[256] = "";
	struct passwd_file *pf = parse_ok("# header\n\n" "carol:$6$xg158DLSH8a"
	    "+kGJL$VDONr0+tOoT0lCqbhAvFJaXOYTZTeBUgcHp6iQPe9cOBWgZoTkgiIlOSk+"
	    "z550OT5XNT+aRsidRvNHgTI7uWiA==\n" "alice:" GOOD_FIELD "\n");
	struct passwd_file *back = NULL;
	struct stat st;

	ck_assert_int_ne(asprintf(&path, "%s/pw", dir), -1);
	ck_assert_int_eq(passwd_set(pf, "zed", sv("zz"), 2000), 0);
	ck_assert_int_eq(passwd_set(pf, "carol", sv("new"), 101), 0);
	ck_assert_int_eq(passwd_save(pf, path, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);

	/* Order and comments kept; carol updated in place, as $7$. */
	text = slurp(path);
	ck_assert_msg(strncmp(text, "# header\n\ncarol:$7$101$", 23) == 0,
	    "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "\nalice:" GOOD_FIELD "\nzed:$7$2000$"));
	free(text);

	ck_assert_int_eq(passwd_load(path, &back, err, sizeof(err)), 0);
	ck_assert_uint_eq(passwd_count(back), 3);
	ck_assert_int_eq(check(back, "carol", "new"), 0);
	ck_assert_int_eq(check(back, "carol", "old style"), CAIRN_ERR_AUTH);
	ck_assert_int_eq(check(back, "alice", "correct horse"), 0);
	ck_assert_int_eq(check(back, "zed", "zz"), 0);

	/* Save again over an existing file with other bits: still 0600. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(passwd_delete(back, "alice"), 0);
	ck_assert_int_eq(passwd_save(back, path, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	text = slurp(path);
	ck_assert_ptr_null(strstr(text, "alice"));
	free(text);

	passwd_free(back);
	passwd_free(pf);
	free(path);
	rmtree(dir);
}
END_TEST

START_TEST(test_passwd__written_format)
{
	struct passwd_file *pf = passwd_new(), *back;
	char *dir = tmpdir(), *path, *text, err[256] = "";
	size_t n;

	ck_assert_int_ne(asprintf(&path, "%s/pw", dir), -1);
	ck_assert_int_eq(passwd_set(pf, "u", sv("p"), 101), 0);
	ck_assert_int_eq(passwd_save(pf, path, err, sizeof(err)), 0);
	/* u:$7$101$ + 16 base64 (12 bytes) + $ + 88 base64 (64 bytes). */
	text = slurp(path);
	n = strlen(text);
	ck_assert_uint_eq(n, strlen("u:$7$101$") + 16 + 1 + 88 + 1);
	ck_assert_int_eq(strncmp(text, "u:$7$101$", 9), 0);
	ck_assert_int_eq(text[9 + 16], '$');
	ck_assert_int_eq(strcmp(text + n - 3, "==\n"), 0);
	free(text);
	/* A missing file and a directory fail with the path named. */
	ck_assert_int_eq(passwd_load("no/such/file", &back, err, sizeof(err)),
	    CAIRN_ERR_IO);
	ck_assert_str_eq(err, "no/such/file: No such file or directory");
	ck_assert_int_eq(passwd_save(pf, "no/such/dir/pw", err, sizeof(err)),
	    CAIRN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	passwd_free(pf);
	free(path);
	rmtree(dir);
}
END_TEST

START_TEST(test_passwd__save_follows_link)
{
	struct passwd_file *pf = passwd_new(), *back = NULL;
	char *dir = tmpdir(), *target, *link, err[256] = "";
	struct stat st;

	ck_assert_int_ne(asprintf(&target, "%s/real", dir), -1);
	ck_assert_int_ne(asprintf(&link, "%s/link", dir), -1);
	/* A dangling link first: its target is created. */
	ck_assert_int_eq(symlink("real", link), 0);
	ck_assert_int_eq(passwd_set(pf, "u", sv("p"), 1), 0);
	ck_assert_int_eq(passwd_save(pf, link, err, sizeof(err)), 0);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(passwd_load(target, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(check(back, "u", "p"), 0);
	passwd_free(back);
	/* Again, now that the target exists. */
	ck_assert_int_eq(passwd_set(pf, "v", sv("q"), 1), 0);
	ck_assert_int_eq(passwd_save(pf, link, err, sizeof(err)), 0);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(passwd_load(target, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(check(back, "v", "q"), 0);
	passwd_free(back);
	passwd_free(pf);
	free(target);
	free(link);
	rmtree(dir);
}
END_TEST

static Suite *
passwd_suite(void)
{
	Suite *s = suite_create("passwd");
	TCase *tc;

	tc = tcase_create("check");
	tcase_add_test(tc, test_passwd__mosquitto_vectors);
	tcase_add_test(tc, test_passwd__wrong_password);
	tcase_add_test(tc, test_passwd__unknown_user);
	tcase_add_test(tc, test_passwd__unknown_user_runs_kdf);
	tcase_add_test(tc, test_passwd__scram_entry);
	tcase_add_test(tc, test_passwd__scram_fake_cred);
	tcase_add_test(tc, test_passwd__scram_set_round_trip);
	tcase_add_test(tc, test_passwd__scram_saslprep);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_passwd__comments_blanks_crlf);
	tcase_add_loop_test(tc, test_passwd__malformed, 0,
	    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("edit");
	tcase_add_test(tc, test_passwd__user_valid);
	tcase_add_test(tc, test_passwd__set_check_delete);
	tcase_add_test(tc, test_passwd__round_trip);
	tcase_add_test(tc, test_passwd__written_format);
	tcase_add_test(tc, test_passwd__save_follows_link);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(passwd_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
