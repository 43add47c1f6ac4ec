/*
 * Talking to cairn-agent's control socket from the CLI: connect, send one
 * request line, read lines.  Blocking with poll(2) deadlines: the CLI has
 * no event loop.
 */
#include "cli/cli.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/clock.h"
#include "common/err.h"

const char *
cli_agent_socket(const char *opt)
{
	const char *env = getenv("CAIRN_AGENT_SOCKET");

	if (opt != NULL)
		return opt;
	return env != NULL ? env : AGENT_DEFAULT_CONTROL_SOCKET;
}

int
cli_agent_open(const char *path, const char *req, char *err, size_t errlen)
{
	struct sockaddr_un un;
	size_t len = strlen(req);
	int fd;

	if (strlen(path) >= sizeof(un.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		int e = errno;

		snprintf(err, errlen, "cannot reach the agent at %s: %s "
		    "(is cairn-agent running? -s sets the socket)", path,
		    strerror(e));
		if (fd != -1)
			close(fd);
		errno = e;	/* callers that wait tell ENOENT apart */
		return -1;
	}
	if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
cli_read_line(int fd, struct bytes_w *buf, char **line, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t *nl;
	uint64_t now;
	ssize_t n;
	int rc;

	for (;;) {
		if (buf->len > 0 && (nl = memchr(buf->buf, '\n', buf->len)) !=
		    NULL) {
			size_t l = (size_t)(nl - buf->buf);

			if ((*line = strndup((char *)buf->buf, l)) == NULL)
				return CAIRN_ERR_NOMEM;
			bytes_w_consume(buf, l + 1);
			return 0;
		}
		now = clock_ms();
		if (now >= deadline)
			return CAIRN_ERR_TIMEOUT;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc == 0)
			return CAIRN_ERR_TIMEOUT;
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			return CAIRN_ERR_IO;
		}
		if (bytes_w_reserve(buf, 4096) != 0)
			return CAIRN_ERR_TOO_BIG;
		n = read(fd, buf->buf + buf->len, buf->cap - buf->len);
		if (n == 0)
			return CAIRN_ERR_CLOSED;
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return CAIRN_ERR_IO;
		}
		buf->len += (size_t)n;
	}
}
