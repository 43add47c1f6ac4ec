/*
 * cairn members [--json] [-s SOCKET]
 *
 * Asks the agent for its members: each node, the sources that saw it and
 * how long ago, connected or not, the last error, and the cluster state.
 * --json prints the agent's document as it is, for scripts.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

#define MEMBERS_TIMEOUT_MS	5000
#define MEMBERS_MAX_REPLY	(64u * 1024 * 1024)

/* A cursor over the agent's own JSON: just what this printer needs. */
static const char *
members_str(const char *p, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *q;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((q = strstr(p, pat)) == NULL) {
		out[0] = '\0';
		return p;
	}
	for (q += strlen(pat); *q != '\0' && *q != '"'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		if (n + 1 < len)
			out[n++] = *q;
	}
	out[n] = '\0';
	return q;
}

static void
members_print(const char *doc)
{
	char state[32], node[512], topo[128], src[512], lasterr[256];
	const char *p, *end, *s;
	long long connected = 0, quorum = 0;

	members_str(doc, "state", state, sizeof(state));
	json_get_num(doc, "connected", &connected);
	json_get_num(doc, "quorum", &quorum);
	printf("cluster %s: %lld connected, quorum %lld\n\n", state,
	    connected, quorum);
	printf("%-32s %-10s %-12s %s\n", "NODE", "CONNECTED", "TOPOLOGY",
	    "SOURCES (last seen) / LAST ERROR");
	p = strstr(doc, "\"members\":[");
	while (p != NULL && (p = strstr(p, "{\"node\":")) != NULL) {
		/* One member object ends where the next one starts. */
		end = strstr(p + 1, "{\"node\":");
		members_str(p, "node", node, sizeof(node));
		members_str(p, "topology", topo, sizeof(topo));
		printf("%-32s %-10s %-12s", node,
		    strstr(p, "\"connected\":true") != NULL &&
		    (end == NULL || strstr(p, "\"connected\":true") < end) ?
		    "yes" : "no", topo);
		for (s = p; (s = strstr(s, "{\"source\":")) != NULL &&
		    (end == NULL || s < end); s++) {
			long long ago = 0;

			members_str(s, "source", src, sizeof(src));
			json_get_num(s, "last_seen_ms_ago", &ago);
			printf(" %s (%.1fs)", src, (double)ago / 1000.);
		}
		members_str(p, "last_error", lasterr, sizeof(lasterr));
		if (lasterr[0] != '\0' && (end == NULL ||
		    strstr(p, "\"last_error\":") < end))
			printf(" / %s", lasterr);
		printf("\n");
		p++;
	}
}

int
cmd_members(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	struct bytes_w buf;
	char err[512], *line = NULL;
	int ch, json = 0, fd, rc;

	while ((ch = getopt_long(argc, argv, "hjs:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: cairn members [--json] [-s SOCKET]\n");
			return 0;
		case 'j':
			json = 1;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			fprintf(stderr, "usage: cairn members [--json] "
			    "[-s SOCKET]\n");
			return 2;
		}
	}
	sock = cli_agent_socket(sock);
	if ((fd = cli_agent_open(sock, "members", err, sizeof(err))) == -1) {
		fprintf(stderr, "cairn members: %s\n", err);
		return 1;
	}
	bytes_w_init(&buf, MEMBERS_MAX_REPLY);
	rc = cli_read_line(fd, &buf, &line, clock_ms() + MEMBERS_TIMEOUT_MS);
	close(fd);
	bytes_w_fini(&buf);
	if (rc != 0) {
		fprintf(stderr, "cairn members: %s: no answer: %s\n", sock,
		    cairn_strerror(rc));
		return 1;
	}
	if (json)
		printf("%s\n", line);
	else
		members_print(line);
	free(line);
	return 0;
}
