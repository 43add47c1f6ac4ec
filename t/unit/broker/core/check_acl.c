/*
 * Unit tests for broker/acl: mosquitto's acl_file format and check
 * order (src/security_default.c, src/security.c in mosquitto 2.0): the
 * example file mosquitto ships, patterns with %c and %u, deny, read
 * against write, the anonymous section, wildcards, the '$' rules, and
 * every parse error with its line number.  Checks are tables: a row that
 * fails names its index.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/acl.h"
#include "common/bytes.h"
#include "common/err.h"

#define R	ACL_READ
#define W	ACL_WRITE

struct row {
	const char	*id;
	const char	*user;	/* NULL: no user name */
	const char	*topic;
	int		 access;
	int		 allowed;
};

static struct acl *
parse_ok(const char *text)
{
	struct acl *acl = NULL;
	char err[256] = "";
	int rc;

	rc = acl_parse(text, strlen(text), "acl", &acl, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse: %d %s", rc, err);
	ck_assert_ptr_nonnull(acl);
	return acl;
}

static void
run_rows(const struct acl *acl, const struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		int got = acl_check(acl, r->id, r->user,
		    bytes_view_of(r->topic, strlen(r->topic)), r->access);

		ck_assert_msg(got == r->allowed, "row %zu: id '%s' user '%s' "
		    "%s '%s': got %d", i, r->id, r->user ? r->user : "(none)",
		    r->access == R ? "read" : "write", r->topic, got);
	}
}

#define RUN(acl, rows)	run_rows(acl, rows, sizeof(rows) / sizeof(rows[0]))

/* mosquitto's aclfile.example, as shipped with 2.0. */
static const char example[] =
    "# This affects access control for clients with no username.\n"
    "topic read $SYS/#\n"
    "\n"
    "# This only affects clients with username \"roger\".\n"
    "user roger\n"
    "topic foo/bar\n"
    "\n"
    "# This affects all clients.\n"
    "pattern write $SYS/broker/connection/%c/state\n";

static const struct row example_rows[] = {
	/* Anonymous: read $SYS, nothing else. */
	{ "c1", NULL, "$SYS/broker/uptime", R, 1 },
	{ "c1", NULL, "$SYS", R, 1 },
	{ "c1", NULL, "$SYS/broker/uptime", W, 0 },
	{ "c1", NULL, "foo/bar", R, 0 },
	{ "c1", NULL, "foo/bar", W, 0 },
	/* roger: foo/bar both ways, not $SYS (that was anonymous only). */
	{ "c2", "roger", "foo/bar", R, 1 },
	{ "c2", "roger", "foo/bar", W, 1 },
	{ "c2", "roger", "foo/baz", R, 0 },
	{ "c2", "roger", "foo/bar/x", R, 0 },
	{ "c2", "roger", "$SYS/broker/uptime", R, 0 },
	/* Another user: only the pattern. */
	{ "c3", "sam", "foo/bar", R, 0 },
	/* The pattern: a bridge writes its own state, nobody else's. */
	{ "br1", NULL, "$SYS/broker/connection/br1/state", W, 1 },
	{ "br1", "roger", "$SYS/broker/connection/br1/state", W, 1 },
	{ "br1", NULL, "$SYS/broker/connection/br2/state", W, 0 },
	{ "br1", "sam", "$SYS/broker/connection/br1/state", R, 0 },
	{ "br1", "sam", "$SYS/broker/connection/br1/other", W, 0 },
};

START_TEST(test_acl__mosquitto_example)
{
	struct acl *acl = parse_ok(example);

	RUN(acl, example_rows);
	acl_free(acl);
}
END_TEST

/* mosquitto.conf(5): "pattern write sensor/%u/data". */
static const struct row user_pattern_rows[] = {
	{ "x", "bob", "sensor/bob/data", W, 1 },
	{ "x", "bob", "sensor/bob/data", R, 0 },
	{ "x", "bob", "sensor/alice/data", W, 0 },
	{ "x", "", "sensor//data", W, 1 },
	/* No user name: a pattern with %u never applies. */
	{ "x", NULL, "sensor/%u/data", W, 0 },
	{ "x", NULL, "sensor//data", W, 0 },
	/* A user name with '/' adds levels, as mosquitto substitutes. */
	{ "x", "a/b", "sensor/a/b/data", W, 1 },
};

START_TEST(test_acl__pattern_user)
{
	struct acl *acl = parse_ok("pattern write sensor/%u/data\n");

	RUN(acl, user_pattern_rows);
	acl_free(acl);
}
END_TEST

static const struct row client_pattern_rows[] = {
	{ "dev1", NULL, "clients/dev1", R, 1 },
	{ "dev1", NULL, "clients/dev1/a/b", W, 1 },
	{ "dev1", "u", "clients/dev1/x", R, 1 },
	{ "dev1", NULL, "clients/dev2", R, 0 },
	{ "dev1", NULL, "clients", R, 1 },	/* the last pattern */
	{ "dev1", "u", "users/u/dev1", R, 1 },
	{ "dev1", "v", "users/u/dev1", R, 0 },
	{ "dev1", NULL, "users//dev1", R, 0 },
	/* %c and %u twice, and a literal '%'. */
	{ "d", "u", "both/d/u/d/u", R, 1 },
	{ "d", "u", "pct/%x/d", R, 1 },
	/* An id or user name with '+' or '#' gets no pattern at all. */
	{ "+", NULL, "clients/+", R, 0 },
	{ "#", NULL, "clients/x", R, 0 },
	{ "dev1", "#", "clients/dev1", R, 0 },
	{ "dev1", "a+", "clients/dev1", R, 0 },
};

START_TEST(test_acl__pattern_client)
{
	struct acl *acl = parse_ok(
	    "pattern readwrite clients/%c/#\n"
	    "pattern read users/%u/%c\n"
	    "pattern read both/%c/%u/%c/%u\n"
	    "pattern read pct/%x/%c\n"
	    "pattern read clients\n");

	RUN(acl, client_pattern_rows);
	acl_free(acl);
}
END_TEST

START_TEST(test_acl__pattern_long_substitution)
{
	struct acl *acl = parse_ok("pattern read c/%c/%c/x\n");
	char id[301], topic[700];

	/* Past the 256-byte stack buffer: the heap path. */
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(topic, sizeof(topic), "c/%s/%s/x", id, id);
	ck_assert_int_eq(acl_check(acl, id, NULL,
	    bytes_view_of(topic, strlen(topic)), R), 1);
	topic[strlen(topic) - 1] = 'y';
	ck_assert_int_eq(acl_check(acl, id, NULL,
	    bytes_view_of(topic, strlen(topic)), R), 0);
	acl_free(acl);
}
END_TEST

static const struct row deny_rows[] = {
	{ "c", "u", "a/b", R, 1 },
	{ "c", "u", "a/b", W, 1 },
	{ "c", "u", "a/secret", R, 0 },
	{ "c", "u", "a/secret", W, 0 },
	{ "c", "u", "a/secret/x", R, 1 },
	{ "c", "u", "b/hidden/1", R, 0 },
	{ "c", "u", "b/open", R, 1 },
	/* A pattern deny cannot take back what the user's section gave. */
	{ "c", "u", "p/u/x", R, 1 },
	/* ...but it denies where the section is silent. */
	{ "c", "u", "q/u", R, 0 },
	{ "c", "v", "q/v", R, 0 },
	{ "c", "v", "q/w", R, 1 },
};

START_TEST(test_acl__deny)
{
	/* Deny before and after the grant: order does not matter. */
	struct acl *acl = parse_ok(
	    "user u\n"
	    "topic deny b/hidden/#\n"
	    "topic readwrite a/#\n"
	    "topic read b/#\n"
	    "topic deny a/secret\n"
	    "topic read p/#\n"
	    "pattern deny p/%u/#\n"
	    "pattern deny q/%u\n"
	    "pattern read q/#\n");

	RUN(acl, deny_rows);
	acl_free(acl);
}
END_TEST

static const struct row rw_rows[] = {
	{ "c", "u", "r/x", R, 1 },
	{ "c", "u", "r/x", W, 0 },
	{ "c", "u", "w/x", W, 1 },
	{ "c", "u", "w/x", R, 0 },
	{ "c", "u", "rw/x", R, 1 },
	{ "c", "u", "rw/x", W, 1 },
	{ "c", "u", "both", R, 1 },
	{ "c", "u", "both", W, 1 },
	/* A read rule decides nothing for a write: the pattern grants. */
	{ "c", "u", "t", W, 1 },
	{ "c", "u", "t", R, 1 },
	/* Bad access values and bad topic names are denied. */
	{ "c", "u", "rw/x", R | W, 0 },
	{ "c", "u", "rw/x", 0, 0 },
	{ "c", "u", "rw/+", R, 0 },
	{ "c", "u", "rw/#", W, 0 },
	{ "c", "u", "", R, 0 },
};

START_TEST(test_acl__read_write)
{
	struct acl *acl = parse_ok(
	    "user u\n"
	    "topic read r/#\n"
	    "topic write w/#\n"
	    "topic readwrite rw/#\n"
	    "topic both\n"
	    "topic read t\n"
	    "pattern write t\n");

	RUN(acl, rw_rows);
	acl_free(acl);
}
END_TEST

static const struct row anon_rows[] = {
	{ "c", NULL, "anon/x", R, 1 },
	{ "c", NULL, "anon/x", W, 1 },
	{ "c", NULL, "named/x", R, 0 },
	/* "" is a user name, not anonymous. */
	{ "c", "", "anon/x", R, 0 },
	{ "c", "u", "named/x", R, 1 },
	{ "c", "u", "anon/x", R, 0 },
	/* A user with no section gets nothing here (no patterns). */
	{ "c", "nobody", "anon/x", R, 0 },
	{ "c", "nobody", "named/x", R, 0 },
	/* Sections of a repeated user are one. */
	{ "c", "u", "later/x", W, 1 },
	{ "c", "u", "later/x", R, 0 },
	{ "c", "v", "v1", R, 1 },
	/* User names with blanks inside, and exact case. */
	{ "c", "two words", "spaced", R, 1 },
	{ "c", "U", "named/x", R, 0 },
};

START_TEST(test_acl__anonymous_and_users)
{
	struct acl *acl = parse_ok(
	    "topic anon/#\n"
	    "user u\n"
	    "topic read named/#\n"
	    "user v\n"
	    "topic read v1\n"
	    "  user   two words  \n"
	    "topic read spaced\n"
	    "user u\n"
	    "topic write later/#\n");

	RUN(acl, anon_rows);
	acl_free(acl);
}
END_TEST

START_TEST(test_acl__empty_user_line_is_error)
{
	struct acl *acl = NULL;
	char err[256];

	ck_assert_int_eq(acl_parse("user \n", 6, "acl", &acl, err,
	    sizeof(err)), CAIRN_ERR_PROTO);
	ck_assert_str_eq(err, "acl:1: missing user name");
}
END_TEST

static const struct row wildcard_rows[] = {
	{ "c", "u", "a", R, 1 },
	{ "c", "u", "a/b/c", R, 1 },
	{ "c", "u", "x/1/y", R, 1 },
	{ "c", "u", "x/1/2/y", R, 0 },
	{ "c", "u", "x//y", R, 1 },
	{ "c", "u", "b/x", R, 1 },
	{ "c", "w", "anything/at/all", R, 1 },
	/* '#' and '+' first do not reach '$' topics. */
	{ "c", "w", "$SYS/broker/uptime", R, 0 },
	{ "c", "w", "$other/x", R, 0 },
	{ "c", "u", "$SYS/x", R, 0 },
	{ "c", "u", "$other/x", R, 0 },
	{ "c", "u", "$other/y", R, 1 },
	{ "c", "u", "$SYS/broker/load", R, 1 },
	{ "c", "u", "$SYS/broker/load/x", R, 0 },
	/* $SYS is never written, even with a rule that says so... */
	{ "c", "u", "$SYS/broker/load", W, 0 },
	/* ...but another '$' topic may be. */
	{ "c", "u", "$other/y", W, 1 },
	{ "c", "u", "$sharf", W, 1 },
	/* $share names are neither read nor written, whatever the rules. */
	{ "c", "u", "$share/g/a", R, 0 },
	{ "c", "u", "$share/g/a", W, 0 },
	{ "c", "u", "$shared", W, 0 },
};

START_TEST(test_acl__wildcards_and_dollar)
{
	struct acl *acl = parse_ok(
	    "user u\n"
	    "topic a/#\n"
	    "topic x/+/y\n"
	    "topic +/x\n"
	    "topic $other/y\n"
	    "topic readwrite $SYS/broker/load\n"
	    "topic $share/#\n"
	    "topic $shared\n"
	    "topic $sharf\n"
	    "user w\n"
	    "topic #\n");

	RUN(acl, wildcard_rows);
	acl_free(acl);
}
END_TEST

static const struct row no_file_rows[] = {
	{ "c", NULL, "a/b", R, 1 },
	{ "c", "u", "a/b", W, 1 },
	{ "c", NULL, "$SYS/broker/uptime", R, 1 },
	{ "c", NULL, "$SYS/broker/uptime", W, 0 },
	{ "c", NULL, "$SYSX", W, 0 },
	{ "c", NULL, "$SYS/broker/connection/c/state", W, 1 },
	{ "c", NULL, "$SYS/broker/connection/c/state/x", W, 0 },
	{ "c", NULL, "$share/g/t", R, 0 },
	{ "c", NULL, "$other", W, 1 },
	{ "c", NULL, "a/+", W, 0 },
};

START_TEST(test_acl__no_file)
{
	RUN(NULL, no_file_rows);
}
END_TEST

static const struct row empty_rows[] = {
	{ "c", NULL, "a/b", R, 0 },
	{ "c", "u", "a/b", W, 0 },
	{ "c", NULL, "$SYS/broker/uptime", R, 0 },
};

START_TEST(test_acl__empty_file_denies)
{
	struct acl *acl = parse_ok("# nothing\n\n   \n\t# indented\n");

	RUN(acl, empty_rows);
	acl_free(acl);
}
END_TEST

static const struct row syntax_rows[] = {
	{ "c", NULL, "a b", R, 1 },
	{ "c", NULL, "a b", W, 0 },
	{ "c", NULL, "read", R, 1 },
	{ "c", NULL, "read", W, 1 },
	{ "c", NULL, "t", W, 1 },
	{ "c", NULL, "crlf", R, 1 },
	{ "c", NULL, "last", R, 1 },
};

START_TEST(test_acl__syntax)
{
	/* Trailing blanks and CR go; blanks inside a topic stay. */
	struct acl *acl = parse_ok(
	    "topic read a b   \n"
	    "topic read\n"
	    "  topic\twrite\t t\n"
	    "topic read crlf\r\n"
	    "topic read last");

	RUN(acl, syntax_rows);
	acl_free(acl);
}
END_TEST

struct bad_row {
	const char	*text;
	const char	*err;
};

static const struct bad_row bad_rows[] = {
	{ "topic\n", "acl:1: empty topic" },
	{ "# c\n\ntopic   \n", "acl:3: empty topic" },
	{ "pattern\n", "acl:1: empty topic" },
	{ "topic foo bar\n",
	    "acl:1: unknown access (read, write, readwrite or deny)" },
	{ "topic Read a\n",
	    "acl:1: unknown access (read, write, readwrite or deny)" },
	{ "user\n", "acl:1: missing user name" },
	{ "users x\n", "acl:1: unknown keyword (topic, pattern or user)" },
	{ "Topic a\n", "acl:1: unknown keyword (topic, pattern or user)" },
	{ "topic read a/#/b\n", "acl:1: invalid topic filter" },
	{ "topic read a+\n", "acl:1: invalid topic filter" },
	{ "topic a\npattern write a/b#\n", "acl:2: invalid topic filter" },
	{ "topic read \xc3\x28\n", "acl:1: invalid topic filter" },
	{ "topic a\ntopic b\0c\n", "acl:2: NUL byte in line" },
};

START_TEST(test_acl__malformed)
{
	const struct bad_row *r = &bad_rows[_i];
	struct acl *acl = (struct acl *)&acl, *orig = acl;
	char err[256] = "";
	size_t len = strlen(r->text);
	int rc;

	if (strstr(r->err, "NUL") != NULL)
		len += 1 + strlen(r->text + len + 1);
	rc = acl_parse(r->text, len, "acl", &acl, err, sizeof(err));
	ck_assert_msg(rc == CAIRN_ERR_PROTO, "row %d: rc %d", _i, rc);
	ck_assert_msg(acl == orig, "row %d: output changed", _i);
	ck_assert_msg(strcmp(err, r->err) == 0, "row %d: '%s', want '%s'",
	    _i, err, r->err);
}
END_TEST

START_TEST(test_acl__load)
{
	struct acl *acl = NULL;
	char err[256] = "";

	ck_assert_int_eq(acl_load("no/such/acl", &acl, err, sizeof(err)),
	    CAIRN_ERR_IO);
	ck_assert_str_eq(err, "no/such/acl: No such file or directory");
	ck_assert_ptr_null(acl);
	acl_free(NULL);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc;

	tc = tcase_create("check");
	tcase_add_test(tc, test_acl__mosquitto_example);
	tcase_add_test(tc, test_acl__pattern_user);
	tcase_add_test(tc, test_acl__pattern_client);
	tcase_add_test(tc, test_acl__pattern_long_substitution);
	tcase_add_test(tc, test_acl__deny);
	tcase_add_test(tc, test_acl__read_write);
	tcase_add_test(tc, test_acl__anonymous_and_users);
	tcase_add_test(tc, test_acl__wildcards_and_dollar);
	tcase_add_test(tc, test_acl__no_file);
	tcase_add_test(tc, test_acl__empty_file_denies);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_acl__syntax);
	tcase_add_test(tc, test_acl__empty_user_line_is_error);
	tcase_add_loop_test(tc, test_acl__malformed, 0,
	    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	tcase_add_test(tc, test_acl__load);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(acl_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
