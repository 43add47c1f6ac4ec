/*
 * Unit tests for common/sdnotify: what reaches a NOTIFY_SOCKET (one
 * datagram per call, STATUS kept to one line and bounded, RELOADING's
 * MONOTONIC_USEC within the call), nothing without NOTIFY_SOCKET, and
 * socket activation's checks on the descriptors it is handed.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/sdnotify.h"

static char sock_path[108];

/* A datagram socket standing in for systemd's; NOTIFY_SOCKET names it. */
static int
notify_sock(void)
{
	struct sockaddr_un un;
	int fd;

	snprintf(sock_path, sizeof(sock_path), "/tmp/cairn-sdn-%ld.sock",
	    (long)getpid());
	unlink(sock_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, sock_path, strlen(sock_path));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	setenv("NOTIFY_SOCKET", sock_path, 1);
	return fd;
}

static void
notify_sock_close(int fd)
{
	close(fd);
	unlink(sock_path);
	unsetenv("NOTIFY_SOCKET");
}

/* One datagram, NUL-terminated, or -1 when none is waiting. */
static ssize_t
recv_msg(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

#ifdef HAVE_LIBSYSTEMD
START_TEST(sdnotify__one_datagram_each)
{
	char buf[1024];
	int fd = notify_sock();

	notify_ready();
	ck_assert_int_eq(recv_msg(fd, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "READY=1");
	notify_stopping();
	ck_assert_int_gt(recv_msg(fd, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "STOPPING=1");
	ck_assert_int_eq(recv_msg(fd, buf, sizeof(buf)), -1);
	notify_sock_close(fd);
}
END_TEST

START_TEST(sdnotify__status_is_one_bounded_line)
{
	char buf[2048], big[1000];
	int fd = notify_sock();

	/* Text from a config file: a newline would start READY=1. */
	notify_status("reload failed: %s", "x.yaml:1:1: bad\nREADY=1");
	ck_assert_int_gt(recv_msg(fd, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "STATUS=reload failed: x.yaml:1:1: bad READY=1");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_status("%s", big);
	ck_assert_int_eq(recv_msg(fd, buf, sizeof(buf)), 7 + 256);
	ck_assert_ptr_null(strchr(buf, '\n'));
	notify_sock_close(fd);
}
END_TEST

START_TEST(sdnotify__reloading_has_monotonic_usec)
{
	struct timespec t0, t1;
	unsigned long long us, lo, hi;
	char buf[256];
	int fd = notify_sock();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	notify_reloading();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_gt(recv_msg(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &us),
	    1);
	lo = (unsigned long long)t0.tv_sec * 1000000 + t0.tv_nsec / 1000;
	hi = (unsigned long long)t1.tv_sec * 1000000 + t1.tv_nsec / 1000;
	ck_assert_uint_ge(us, lo);
	ck_assert_uint_le(us, hi);
	notify_sock_close(fd);
}
END_TEST
#endif

START_TEST(sdnotify__nothing_without_notify_socket)
{
	char buf[256];
	int fd = notify_sock();

	unsetenv("NOTIFY_SOCKET");
	notify_ready();
	notify_reloading();
	notify_status("x");
	notify_stopping();
	ck_assert_int_eq(recv_msg(fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	notify_sock_close(fd);
}
END_TEST

#ifdef HAVE_LIBSYSTEMD
/*
 * Hands `sfd` over as fd 3 with LISTEN_FDS=1 for this pid, calls
 * notify_listen_fds(), and puts back whatever fd 3 was (Check's own
 * pipe, in a forked test: no ck_assert while it is away).
 */
static int
listen_fds_with(int sfd, char *err, size_t errlen)
{
	char pid[32];
	int saved, n, dup_ok, env_left, nonblock = 0;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	saved = fcntl(3, F_DUPFD_CLOEXEC, 10);
	dup_ok = dup2(sfd, 3) == 3;
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	n = notify_listen_fds(err, errlen);
	env_left = getenv("LISTEN_FDS") != NULL || getenv("LISTEN_PID") != NULL;
	if (n == 1)
		nonblock = (fcntl(3, F_GETFL) & O_NONBLOCK) != 0;
	if (saved >= 0) {
		dup2(saved, 3);
		close(saved);
	} else
		close(3);
	ck_assert(dup_ok);
	ck_assert_msg(!env_left, "LISTEN_* left in the environment");
	if (n == 1)
		ck_assert_msg(nonblock, "the listener is still blocking");
	return n;
}

START_TEST(sdnotify__listen_fds)
{
	struct sockaddr_in sin;
	char err[256];
	int s;

	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	ck_assert_int_eq(notify_listen_fds(err, sizeof(err)), 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* Bound, not listening: refused, with the reason. */
	ck_assert_int_eq(listen_fds_with(s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a listening stream socket"));
	ck_assert_int_eq(listen(s, 4), 0);
	ck_assert_int_eq(listen_fds_with(s, err, sizeof(err)), 1);
	close(s);

	/* A datagram socket is not a listener either. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(listen_fds_with(s, err, sizeof(err)), -1);
	close(s);
}
END_TEST
#endif

static Suite *
sdnotify_suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("sdnotify");

	tcase_set_timeout(tc, 30);
#ifdef HAVE_LIBSYSTEMD
	tcase_add_test(tc, sdnotify__one_datagram_each);
	tcase_add_test(tc, sdnotify__status_is_one_bounded_line);
	tcase_add_test(tc, sdnotify__reloading_has_monotonic_usec);
	tcase_add_test(tc, sdnotify__listen_fds);
#endif
	tcase_add_test(tc, sdnotify__nothing_without_notify_socket);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(sdnotify_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
