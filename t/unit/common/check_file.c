/*
 * Unit tests for common/file: file_read_all() reads a regular file (and
 * one behind a symbolic link) and refuses, at once and with a message
 * naming the file, a FIFO with no writer, a directory, /dev/zero, a
 * socket, a missing file, a file over the cap and, with
 * FILE_F_OWNER_ONLY, a group-readable one.  Each case runs in a fresh
 * temporary directory (checked fixture); the TCase timeout turns a
 * blocking open or an endless read into a failure.
 */
#include <check.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/file.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_file.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static const char *
in_dir(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Expects rc and an error that starts with path and contains want. */
static void
expect_refused(const char *path, size_t max, int flags, int rc,
    const char *want)
{
	char *buf = (char *)1, err[512], prefix[256];
	size_t len = 99;
	double t0 = now();

	err[0] = '\0';
	ck_assert_int_eq(file_read_all(path, max, flags, &buf, &len, err,
	    sizeof(err)), rc);
	ck_assert_msg(now() - t0 < 1.0, "%s: took %.2fs", path, now() - t0);
	ck_assert_ptr_null(buf);
	ck_assert_uint_eq(len, 0);
	snprintf(prefix, sizeof(prefix), "%s: ", path);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error does not name the file: %s", err);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"",
	    want, err);
}

START_TEST(file__regular_ok)
{
	char *buf, err[256];
	size_t len;
	const char *p = in_dir("a.yaml");

	write_file(p, "key: value\n", 11, 0644);
	ck_assert_int_eq(file_read_all(p, 1024, 0, &buf, &len, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_str_eq(buf, "key: value\n");
	free(buf);
	/* Empty: a valid empty string. */
	p = in_dir("empty");
	write_file(p, "", 0, 0600);
	ck_assert_int_eq(file_read_all(p, 1024, FILE_F_OWNER_ONLY, &buf,
	    &len, NULL, 0), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(buf, "");
	free(buf);
}
END_TEST

START_TEST(file__exactly_max_and_bigger_than_a_chunk)
{
	static char big[20000];
	char *buf;
	size_t len;
	const char *p = in_dir("big");

	memset(big, 'x', sizeof(big));
	write_file(p, big, sizeof(big), 0600);
	ck_assert_int_eq(file_read_all(p, sizeof(big), 0, &buf, &len, NULL,
	    0), 0);
	ck_assert_uint_eq(len, sizeof(big));
	ck_assert_int_eq(memcmp(buf, big, sizeof(big)), 0);
	ck_assert_int_eq(buf[len], '\0');
	free(buf);
}
END_TEST

START_TEST(file__symlink_to_regular_ok)
{
	char *buf;
	size_t len;
	char p[128], link[128];

	snprintf(p, sizeof(p), "%s", in_dir("real"));
	write_file(p, "secret\n", 7, 0600);
	snprintf(link, sizeof(link), "%s", in_dir("link"));
	ck_assert_int_eq(symlink(p, link), 0);
	ck_assert_int_eq(file_read_all(link, 64, FILE_F_OWNER_ONLY, &buf,
	    &len, NULL, 0), 0);
	ck_assert_str_eq(buf, "secret\n");
	free(buf);
}
END_TEST

START_TEST(file__fifo_refused)
{
	char p[128];

	snprintf(p, sizeof(p), "%s", in_dir("fifo"));
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	expect_refused(p, 1024, 0, CAIRN_ERR_INVAL,
	    "not a regular file (a FIFO)");
	/* Behind a symbolic link too. */
	ck_assert_int_eq(symlink(p, in_dir("to_fifo")), 0);
	expect_refused(in_dir("to_fifo"), 1024, 0, CAIRN_ERR_INVAL,
	    "not a regular file (a FIFO)");
}
END_TEST

START_TEST(file__directory_refused)
{
	expect_refused(dir, 1024, 0, CAIRN_ERR_INVAL,
	    "not a regular file (a directory)");
}
END_TEST

START_TEST(file__dev_zero_refused)
{
	expect_refused("/dev/zero", 1024, 0, CAIRN_ERR_INVAL,
	    "not a regular file (a character device)");
}
END_TEST

START_TEST(file__socket_refused)
{
	struct sockaddr_un un;
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s", in_dir("sock"));
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(p), sizeof(un.sun_path));
	memcpy(un.sun_path, p, strlen(p));
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	expect_refused(p, 1024, 0, CAIRN_ERR_INVAL,
	    "not a regular file (a socket)");
	close(fd);
}
END_TEST

START_TEST(file__over_cap_refused)
{
	static char big[5000];
	const char *p = in_dir("big");

	memset(big, 'y', sizeof(big));
	write_file(p, big, sizeof(big), 0644);
	expect_refused(p, sizeof(big) - 1, 0, CAIRN_ERR_TOO_BIG,
	    "over 4999 bytes");
	expect_refused(p, 10, 0, CAIRN_ERR_TOO_BIG, "over 10 bytes");
}
END_TEST

START_TEST(file__missing_and_owner_only)
{
	char *buf;
	size_t len;
	const char *p = in_dir("cookie");

	expect_refused(in_dir("nothing"), 64, 0, CAIRN_ERR_IO,
	    "No such file or directory");
	ck_assert_int_eq(errno, ENOENT);
	write_file(p, "abc\n", 4, 0640);
	expect_refused(p, 64, FILE_F_OWNER_ONLY, CAIRN_ERR_INVAL,
	    "must be accessible by owner only");
	/* Without the flag the same file reads. */
	ck_assert_int_eq(file_read_all(p, 64, 0, &buf, &len, NULL, 0), 0);
	free(buf);
}
END_TEST

START_TEST(file__kind_names)
{
	ck_assert_str_eq(file_kind(S_IFIFO | 0600), "a FIFO");
	ck_assert_str_eq(file_kind(S_IFDIR | 0755), "a directory");
	ck_assert_str_eq(file_kind(S_IFREG | 0644), "a regular file");
	ck_assert_str_eq(file_kind(S_IFLNK | 0777), "a symbolic link");
}
END_TEST

static Suite *
file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file_read_all");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, file__regular_ok);
	tcase_add_test(tc, file__exactly_max_and_bigger_than_a_chunk);
	tcase_add_test(tc, file__symlink_to_regular_ok);
	tcase_add_test(tc, file__fifo_refused);
	tcase_add_test(tc, file__directory_refused);
	tcase_add_test(tc, file__dev_zero_refused);
	tcase_add_test(tc, file__socket_refused);
	tcase_add_test(tc, file__over_cap_refused);
	tcase_add_test(tc, file__missing_and_owner_only);
	tcase_add_test(tc, file__kind_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(file_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
