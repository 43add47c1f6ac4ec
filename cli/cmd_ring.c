/*
 * cairn ring [--json] [-s SOCKET]
 * cairn ring whois KEY [--json] [-s SOCKET]
 * cairn ring mine KEY --node NODE [--json] [-s SOCKET]
 *
 * The agent's hash ring (agent/ring.h): its members and leader; the
 * node that owns KEY; whether NODE owns KEY.  Every agent that sees the
 * same connected members answers the same, so a program can shard work
 * by asking its own agent.  `mine` exits 0 when NODE owns KEY, 1 when
 * it does not (or the ring is empty), 2 on an error; the others exit 0
 * with an answer, 1 without one.  --json prints the agent's line.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

#define RING_TIMEOUT_MS		5000
#define RING_MAX_REPLY		(16u * 1024 * 1024)
/* The control socket reads lines of up to 1024 bytes. */
#define RING_MAX_REQ		1000

static void
ring_usage(FILE *f)
{
	fprintf(f, "usage: cairn ring [--json] [-s SOCKET]\n"
	    "       cairn ring whois KEY [--json] [-s SOCKET]\n"
	    "       cairn ring mine KEY --node NODE [--json] [-s SOCKET]\n");
}

/* Sends req, reads one line into *line (malloc'd).  0 or 1 (printed). */
static int
ring_ask(const char *sock, const char *req, char **line)
{
	struct bytes_w buf;
	char err[512];
	int fd, rc;

	if ((fd = cli_agent_open(sock, req, err, sizeof(err))) == -1) {
		fprintf(stderr, "cairn ring: %s\n", err);
		return 1;
	}
	bytes_w_init(&buf, RING_MAX_REPLY);
	rc = cli_read_line(fd, &buf, line, clock_ms() + RING_TIMEOUT_MS);
	close(fd);
	bytes_w_fini(&buf);
	if (rc != 0) {
		fprintf(stderr, "cairn ring: %s: no answer: %s\n", sock,
		    cairn_strerror(rc));
		return 1;
	}
	if (strstr(*line, "\"error\":") != NULL) {
		fprintf(stderr, "cairn ring: the agent says: %s\n", *line);
		free(*line);
		return 1;
	}
	return 0;
}

int
cmd_ring(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "node", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *node = NULL, *sub, *key = NULL;
	char req[RING_MAX_REQ + 64], owner[1100], *line = NULL;
	int ch, json = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "hjn:s:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ring_usage(stdout);
			return 0;
		case 'j':
			json = 1;
			break;
		case 'n':
			node = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			ring_usage(stderr);
			return 2;
		}
	}
	sub = optind < argc ? argv[optind++] : "";
	if (*sub != '\0') {
		if (optind + 1 != argc || (strcmp(sub, "whois") != 0 &&
		    strcmp(sub, "mine") != 0)) {
			ring_usage(stderr);
			return 2;
		}
		key = argv[optind];
	}
	if (key != NULL && (key[0] == '\0' || strlen(key) > RING_MAX_REQ ||
	    strpbrk(key, "\r\n") != NULL)) {
		fprintf(stderr, "cairn ring: KEY must be 1 to %d bytes on one "
		    "line\n", RING_MAX_REQ);
		return 2;
	}
	if (strcmp(sub, "mine") == 0 && (node == NULL || node[0] == '\0' ||
	    strpbrk(node, " \r\n") != NULL || strlen(node) > 255)) {
		fprintf(stderr, "cairn ring mine: --node NODE is required (a "
		    "node name, no spaces)\n");
		return 2;
	}
	sock = cli_agent_socket(sock);
	if (*sub == '\0')
		snprintf(req, sizeof(req), "ring");
	else if (strcmp(sub, "whois") == 0)
		snprintf(req, sizeof(req), "ring whois %s", key);
	else
		snprintf(req, sizeof(req), "ring mine %s %s", node, key);
	if (ring_ask(sock, req, &line) != 0)
		return strcmp(sub, "mine") == 0 ? 2 : 1;
	if (json)
		printf("%s\n", line);
	if (*sub == '\0') {
		if (!json)
			printf("%s\n", line);
	} else if (strcmp(sub, "whois") == 0) {
		if (json_get_str(line, "node", owner, sizeof(owner)) != 0)
			rc = 1;		/* "node":null, an empty ring */
		if (!json)
			printf("%s\n", rc == 0 ? owner : "(empty ring)");
	} else {
		rc = strstr(line, "\"mine\":true") != NULL ? 0 : 1;
		if (!json)
			printf("%s\n", rc == 0 ? "yes" : "no");
	}
	free(line);
	return rc;
}
