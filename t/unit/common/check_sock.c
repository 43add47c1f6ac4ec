/*
 * Unit tests for common/sock: numeric address parsing (IPv4, IPv6,
 * bracketed IPv6), text forms, loopback detection (including IPv4-mapped
 * IPv6, which a dual-stack listener reports for 127.0.0.1), address
 * comparison, and one listen/connect round on the loopback.
 */
#include <check.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/sock.h"

static struct sockaddr *
parse(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
	socklen_t len = 0;

	ck_assert_msg(sock_addr_parse(host, port, ss, &len) == 0,
	    "parse %s", host);
	if (ss->ss_family == AF_INET)
		ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	else
		ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	return (struct sockaddr *)ss;
}

START_TEST(sock__parse_v4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	parse("192.0.2.7", 4369, &ss);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(ntohs(s4->sin_port), 4369);
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0xc0000207u);
	ck_assert_uint_eq(sock_port((struct sockaddr *)&ss), 4369);
}
END_TEST

START_TEST(sock__parse_v6)
{
	static const uint8_t want[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	parse("2001:db8::1", 80, &ss);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_mem_eq(&s6->sin6_addr, want, 16);
	ck_assert_uint_eq(ntohs(s6->sin6_port), 80);

	parse("[2001:db8::1]", 81, &ss);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_mem_eq(&s6->sin6_addr, want, 16);
	ck_assert_uint_eq(sock_port((struct sockaddr *)&ss), 81);
}
END_TEST

START_TEST(sock__parse_bad)
{
	static const char *bad[] = {
		"", "localhost", "1.2.3", "1.2.3.256", "[1.2.3.4]", "[::1",
		"::1]", "[]", "::g", "1.2.3.4:80", "[::1]:80",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(sock_addr_parse(bad[i], 1, &ss, &len) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
}
END_TEST

START_TEST(sock__ntop)
{
	struct sockaddr_storage ss;
	struct sockaddr_storage un;
	char buf[SOCK_NTOP_LEN];

	ck_assert_str_eq(sock_ntop(parse("127.0.0.1", 4369, &ss), buf,
	    sizeof(buf)), "127.0.0.1:4369");
	ck_assert_str_eq(sock_ntop_addr(parse("10.1.2.3", 1, &ss), buf,
	    sizeof(buf)), "10.1.2.3");
	ck_assert_str_eq(sock_ntop(parse("::1", 65535, &ss), buf,
	    sizeof(buf)), "[::1]:65535");
	ck_assert_str_eq(sock_ntop_addr(parse("[fe80::1:2]", 0, &ss), buf,
	    sizeof(buf)), "fe80::1:2");
	/* The longest form fits SOCK_NTOP_LEN. */
	ck_assert_str_eq(sock_ntop(parse(
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535, &ss),
	    buf, sizeof(buf)),
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	ck_assert_str_eq(sock_ntop_addr((struct sockaddr *)&un, buf,
	    sizeof(buf)), "unknown");
	ck_assert_uint_eq(sock_port((struct sockaddr *)&un), 0);
}
END_TEST

START_TEST(sock__loopback)
{
	static const struct {
		const char	*addr;
		int		 loop;
	} cases[] = {
		{ "127.0.0.1", 1 },
		{ "127.255.255.254", 1 },
		{ "127.1.2.3", 1 },
		{ "126.255.255.255", 0 },
		{ "128.0.0.1", 0 },
		{ "0.0.0.0", 0 },
		{ "10.0.0.1", 0 },
		{ "::1", 1 },
		{ "::", 0 },
		{ "::2", 0 },
		{ "::ffff:127.0.0.1", 1 },	/* v4-mapped loopback */
		{ "::ffff:127.9.9.9", 1 },
		{ "::ffff:10.0.0.1", 0 },
		{ "::127.0.0.1", 0 },		/* v4-compatible: not mapped */
		{ "fe80::1", 0 },
	};
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(sock_is_loopback(parse(cases[i].addr, 1, &ss)) ==
		    cases[i].loop, "%s", cases[i].addr);
}
END_TEST

START_TEST(sock__same_addr)
{
	struct sockaddr_storage a, b;

	/* Ports are ignored. */
	ck_assert(sock_same_addr(parse("10.0.0.1", 1, &a),
	    parse("10.0.0.1", 2, &b)));
	ck_assert(!sock_same_addr(parse("10.0.0.1", 1, &a),
	    parse("10.0.0.2", 1, &b)));
	ck_assert(sock_same_addr(parse("::1", 1, &a), parse("[::1]", 9, &b)));
	ck_assert(!sock_same_addr(parse("::1", 1, &a), parse("::2", 1, &b)));
	/* Different families never match, even for the "same" host. */
	ck_assert(!sock_same_addr(parse("127.0.0.1", 1, &a),
	    parse("::ffff:127.0.0.1", 1, &b)));
}
END_TEST

START_TEST(sock__listen_connect_loopback)
{
	struct sockaddr_storage ss;
	struct sockaddr_storage bound;
	socklen_t len, blen = sizeof(bound);
	int lfd, cfd, afd;
	char buf[SOCK_NTOP_LEN];

	ck_assert_int_eq(sock_addr_parse("127.0.0.1", 0, &ss, &len), 0);
	lfd = sock_listen((struct sockaddr *)&ss, len, 4, SOCK_F_REUSEADDR);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&bound, &blen), 0);
	ck_assert_uint_ne(sock_port((struct sockaddr *)&bound), 0);
	cfd = sock_connect((struct sockaddr *)&bound, blen, 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(sock_connect_result(cfd), 0);
	ck_assert_int_eq(sock_set_nodelay(cfd), 0);
	ck_assert_int_eq(sock_set_nonblock(cfd), 0);
	ck_assert_int_eq(sock_set_cloexec(cfd), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	blen = sizeof(bound);
	ck_assert_int_eq(getpeername(afd, (struct sockaddr *)&bound, &blen), 0);
	ck_assert(sock_is_loopback((struct sockaddr *)&bound));
	sock_ntop((struct sockaddr *)&bound, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "127.0.0.1:", 10) == 0, "%s", buf);
	close(afd);
	close(cfd);
	close(lfd);
}
END_TEST

static Suite *
sock_suite(void)
{
	Suite *s = suite_create("sock");
	TCase *tc;

	tc = tcase_create("addr");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, sock__parse_v4);
	tcase_add_test(tc, sock__parse_v6);
	tcase_add_test(tc, sock__parse_bad);
	tcase_add_test(tc, sock__ntop);
	tcase_add_test(tc, sock__loopback);
	tcase_add_test(tc, sock__same_addr);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, sock__listen_connect_loopback);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(sock_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
