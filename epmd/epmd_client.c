/*
 * Blocking EPMD client; see epmd_client.h.  The socket itself is
 * non-blocking and poll(2) bounds every wait by one deadline.
 */
#include "epmd/epmd_client.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/sock.h"

static int
epmd_client_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int rc;

	for (;;) {
		now = clock_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int
epmd_client_connect_sa(const struct sockaddr *sa, socklen_t len,
    uint64_t deadline)
{
	int fd, saved;

	if ((fd = sock_connect(sa, len, 1)) == -1)
		return -1;
	if (epmd_client_wait(fd, POLLOUT, deadline) == -1 ||
	    sock_connect_result(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
epmd_client_connect(const char *host, uint16_t port, int timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t deadline = clock_ms() + (uint64_t)timeout_ms;
	char portstr[8];
	int fd = -1, saved = ECONNREFUSED, gai;

	if (host == NULL) {
		/* OTP's conn_to_epmd(): IPv6 loopback, then IPv4. */
		sock_addr_parse("::1", port, &ss, &len);
		if ((fd = epmd_client_connect_sa((struct sockaddr *)&ss, len,
		    deadline)) != -1)
			return fd;
		sock_addr_parse("127.0.0.1", port, &ss, &len);
		return epmd_client_connect_sa((struct sockaddr *)&ss, len,
		    deadline);
	}
	if (sock_addr_parse(host, port, &ss, &len) == 0)
		return epmd_client_connect_sa((struct sockaddr *)&ss, len,
		    deadline);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = epmd_client_connect_sa(ai->ai_addr, ai->ai_addrlen,
		    deadline);
		if (fd != -1)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = saved;
	return fd;
}

int
epmd_client_exchange(int fd, struct bytes_view req, struct bytes_w *out,
    int timeout_ms)
{
	uint64_t deadline = clock_ms() + (uint64_t)timeout_ms;
	size_t off = 0;
	ssize_t n;

	while (off < req.len) {
		n = send(fd, req.p + off, req.len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return CAIRN_ERR_IO;
		if (epmd_client_wait(fd, POLLOUT, deadline) == -1)
			return errno == ETIMEDOUT ? CAIRN_ERR_TIMEOUT :
			    CAIRN_ERR_IO;
	}
	for (;;) {
		size_t room = out->max - out->len;

		if (room == 0)
			return 0;	/* out is full: keep what came */
		if (bytes_w_reserve(out, room < 4096 ? room : 4096) != 0)
			return out->err;
		n = recv(fd, out->buf + out->len, out->cap - out->len, 0);
		if (n > 0) {
			out->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR) {
			/* A reset after the reply is still the reply. */
			return errno == ECONNRESET && out->len > 0 ? 0 :
			    CAIRN_ERR_IO;
		}
		if (epmd_client_wait(fd, POLLIN, deadline) == -1)
			return errno == ETIMEDOUT ? CAIRN_ERR_TIMEOUT :
			    CAIRN_ERR_IO;
	}
}

int
epmd_client_names(const char *host, uint16_t port, int timeout_ms,
    uint32_t *epmd_port, struct bytes_w *body)
{
	uint8_t reqbuf[4];
	struct bytes_w req;
	struct bytes_r r;
	int fd, rc;

	bytes_w_init_fixed(&req, reqbuf, sizeof(reqbuf));
	epmd_encode_simple_req(&req, EPMD_NAMES_REQ);
	if ((fd = epmd_client_connect(host, port, timeout_ms)) == -1)
		return errno == ETIMEDOUT ? CAIRN_ERR_TIMEOUT : CAIRN_ERR_IO;
	rc = epmd_client_exchange(fd, bytes_view_of(req.buf, req.len), body,
	    timeout_ms);
	close(fd);
	if (rc != 0)
		return rc;
	bytes_r_init(&r, body->buf, body->len);
	if (bytes_get_u32be(&r, epmd_port) != 0)
		return CAIRN_ERR_PROTO;
	bytes_w_consume(body, 4);
	return 0;
}
