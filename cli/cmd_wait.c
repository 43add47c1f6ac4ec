/*
 * cairn wait --quorum N [--timeout 30s] [-s SOCKET]
 *
 * Waits until the agent reports at least N connected members, for init
 * containers and ExecStartPre.  Exits 0 once reached; 1 with a one-line
 * reason on timeout or when the agent cannot be reached.  The agent's
 * own quorum is used when --quorum is not given.
 *
 * An agent started at the same time (an init container beside it) has
 * no socket yet, or a stale one from its last run: while connecting
 * fails with ENOENT or ECONNREFUSED, wait retries every
 * WAIT_RETRY_MS until the timeout.  Any other error is reported at once.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/err.h"

#define WAIT_DEFAULT_TIMEOUT_MS	30000
#define WAIT_MAX_LINE		(1024 * 1024)
#define WAIT_RETRY_MS		100

int
cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "quorum", required_argument, NULL, 'q' },
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	uint64_t timeout = WAIT_DEFAULT_TIMEOUT_MS, deadline;
	long long want = -1, connected = -1, quorum;
	struct bytes_w buf;
	char err[512], state[32] = "unknown", *line, *end;
	int ch, fd, rc;

	while ((ch = getopt_long(argc, argv, "hq:s:t:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: cairn wait [--quorum N] [--timeout 30s] "
			    "[-s SOCKET]\n");
			return 0;
		case 'q':
			want = strtoll(optarg, &end, 10);
			if (*end != '\0' || want < 0) {
				fprintf(stderr, "cairn wait: bad quorum '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			if (conf_parse_duration(optarg, &timeout) != 0) {
				fprintf(stderr, "cairn wait: bad timeout '%s' "
				    "(like 500ms, 30s, 2m)\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: cairn wait [--quorum N] "
			    "[--timeout 30s] [-s SOCKET]\n");
			return 2;
		}
	}
	deadline = clock_ms() + timeout;
	sock = cli_agent_socket(sock);
	while ((fd = cli_agent_open(sock, "watch", err, sizeof(err))) == -1) {
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    clock_ms() + WAIT_RETRY_MS > deadline) {
			fprintf(stderr, "cairn wait: %s%s\n", err, errno ==
			    ENOENT || errno == ECONNREFUSED ? " (timed out "
			    "waiting for it)" : "");
			return 1;
		}
		usleep(WAIT_RETRY_MS * 1000);
	}
	bytes_w_init(&buf, WAIT_MAX_LINE);
	for (;;) {
		if ((rc = cli_read_line(fd, &buf, &line, deadline)) != 0)
			break;
		json_get_num(line, "connected", &connected);
		json_get_str(line, "state", state, sizeof(state));
		if (want < 0 && json_get_num(line, "quorum", &quorum) == 0)
			want = quorum;
		free(line);
		if (want >= 0 && connected >= want) {
			close(fd);
			bytes_w_fini(&buf);
			printf("quorum reached: %lld connected (wanted %lld)\n",
			    connected, want);
			return 0;
		}
	}
	close(fd);
	bytes_w_fini(&buf);
	if (rc == CAIRN_ERR_TIMEOUT)
		fprintf(stderr, "cairn wait: timed out after %llums: %lld of "
		    "%lld connected, cluster %s\n",
		    (unsigned long long)timeout, connected < 0 ? 0 : connected,
		    want, state);
	else
		fprintf(stderr, "cairn wait: lost the agent at %s: %s\n", sock,
		    cairn_strerror(rc));
	return 1;
}
