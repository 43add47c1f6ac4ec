/*
 * Socket helpers; see sock.h.
 */
#include "common/sock.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
sock_set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
sock_set_cloexec(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

int
sock_set_nodelay(int fd)
{
	int on = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int
sock_listen(const struct sockaddr *sa, socklen_t salen, int backlog,
    int flags)
{
	int fd, on = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if ((flags & SOCK_F_REUSEADDR) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & SOCK_F_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & SOCK_F_V6ONLY) && sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, sa, salen) == -1)
		goto fail;
	if (listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
sock_connect(const struct sockaddr *sa, socklen_t salen, int nonblock)
{
	int fd, saved;
	int type = SOCK_STREAM | SOCK_CLOEXEC;

	if (nonblock)
		type |= SOCK_NONBLOCK;
	if ((fd = socket(sa->sa_family, type, 0)) == -1)
		return -1;
	if (connect(fd, sa, salen) == -1 &&
	    !(nonblock && errno == EINPROGRESS)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
sock_addr_parse(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
	    n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

const char *
sock_ntop_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(buf, len, "unknown");
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
	return buf;
}

uint16_t
sock_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

const char *
sock_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	sock_ntop_addr(sa, a, sizeof(a));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, sock_port(sa));
	else
		snprintf(buf, len, "%s:%u", a, sock_port(sa));
	return buf;
}

int
sock_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->
		    sin_addr.s_addr);
		return (a & 0xff000000u) == 0x7f000000u;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return 0;
}

int
sock_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return IN6_ARE_ADDR_EQUAL(
		    &((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr);
	return 0;
}

long
sock_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (want <= 0 || (rlim_t)want > rl.rlim_max)
		want = (long)rl.rlim_max;
	if ((rlim_t)want > rl.rlim_cur) {
		rl.rlim_cur = (rlim_t)want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	return (long)rl.rlim_cur;
}
