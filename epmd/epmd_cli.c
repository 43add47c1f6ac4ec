/*
 * OTP's epmd client commands: -names, -started, -dump, -kill, -stop.
 * Output, streams and exit codes are OTP's (erts/epmd/src/epmd_cli.c):
 * scripts parse them.  Do not change the texts.
 */
#include "epmd/epmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "epmd/epmd_client.h"
#include "epmd/epmd_codec.h"

/* Replies to KILL and STOP are at most this long. */
#define EPMD_CLI_SHORT_REPLY	16
/* A NAMES or DUMP reply is read up to this size. */
#define EPMD_CLI_MAX_REPLY	(256u * 1024 * 1024)

static int
epmd_cli_connect(const struct epmd_conf *c)
{
	int fd;

	if ((fd = epmd_client_connect(NULL, c->ec_port,
	    EPMD_CLI_TIMEOUT_MS)) == -1 && !c->ec_silent)
		fprintf(stderr, "epmd: Cannot connect to local epmd\n");
	return fd;
}

int
epmd_cli_names(const struct epmd_conf *c, uint8_t tag)
{
	uint8_t reqbuf[4];
	struct bytes_w req, out;
	struct bytes_r r;
	uint32_t port;
	int fd, rc;

	if ((fd = epmd_cli_connect(c)) == -1)
		return 1;
	bytes_w_init_fixed(&req, reqbuf, sizeof(reqbuf));
	epmd_encode_simple_req(&req, tag);
	bytes_w_init(&out, EPMD_CLI_MAX_REPLY);
	rc = epmd_client_exchange(fd, bytes_view_of(req.buf, req.len), &out,
	    EPMD_CLI_TIMEOUT_MS);
	close(fd);
	bytes_r_init(&r, out.buf, out.len);
	if (bytes_get_u32be(&r, &port) != 0) {
		if (!c->ec_silent)
			printf("epmd: no response from local epmd\n");
		bytes_w_fini(&out);
		return 1;
	}
	if (!c->ec_silent) {
		printf("epmd: up and running on port %u with data:\n", port);
		/* Names may be UTF-8; DUMP lines end in NUL: write raw. */
		fwrite(out.buf + 4, 1, out.len - 4, stdout);
	}
	fflush(stdout);
	bytes_w_fini(&out);
	(void)rc;
	return 0;
}

/* Sends req and reads up to want bytes of reply into buf; bytes read. */
static int
epmd_cli_short(const struct epmd_conf *c, struct bytes_w *req, char *buf,
    size_t want)
{
	struct bytes_w out;
	int fd;
	size_t n;

	if ((fd = epmd_cli_connect(c)) == -1)
		return -2;
	bytes_w_init(&out, want);
	if (epmd_client_exchange(fd, bytes_view_of(req->buf, req->len), &out,
	    EPMD_CLI_TIMEOUT_MS) != 0 && out.len == 0) {
		close(fd);
		bytes_w_fini(&out);
		return -1;
	}
	close(fd);
	n = out.len < want ? out.len : want;
	if (n > 0)
		memcpy(buf, out.buf, n);
	bytes_w_fini(&out);
	return (int)n;
}

int
epmd_cli_kill(const struct epmd_conf *c)
{
	uint8_t reqbuf[4];
	struct bytes_w req;
	char buf[EPMD_CLI_SHORT_REPLY];
	int n;

	bytes_w_init_fixed(&req, reqbuf, sizeof(reqbuf));
	epmd_encode_simple_req(&req, EPMD_KILL_REQ);
	n = epmd_cli_short(c, &req, buf, 2);
	if (n == -2)
		return 1;
	if (n == 2) {
		if (buf[0] == 'O' && buf[1] == 'K') {
			printf("Killed\n");
			return 0;
		}
		printf("Killing not allowed - living nodes in database.\n");
		return 1;
	}
	if (n < 0) {
		printf("epmd: failed to read answer from local epmd\n");
		return 1;
	}
	buf[n] = '\0';
	printf("epmd: local epmd responded with <%s>\n", buf);
	return 1;
}

int
epmd_cli_stop(const struct epmd_conf *c, const char *name)
{
	uint8_t reqbuf[1024];
	struct bytes_w req;
	char buf[EPMD_CLI_SHORT_REPLY];
	size_t len = strlen(name);
	int n;

	if (len > 1000) {
		printf("epmd: Name too long!");
		return 1;
	}
	bytes_w_init_fixed(&req, reqbuf, sizeof(reqbuf));
	epmd_encode_stop_req(&req, bytes_view_of(name, len));
	n = epmd_cli_short(c, &req, buf, 7);
	if (n == -2)
		return 1;
	if (n == 7) {
		buf[7] = '\0';
		printf("%s\n", buf);
		return 0;
	}
	if (n < 0) {
		printf("epmd: failed to read answer from local epmd\n");
		return 1;
	}
	buf[n] = '\0';
	printf("epmd: local epmd responded with <%s>\n", buf);
	return 1;
}
