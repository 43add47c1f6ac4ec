/*
 * cairn cluster status|join NODE|leave|remove NODE [--json] [-s SOCKET]
 *
 * Operates a broker node through its control socket (the broker's
 * `control_socket` key), as EMQX's `emqx ctl cluster` does:
 *
 *	status		this node, its peers, each link's state and routes
 *	join NODE	link to NODE (name@host: its epmd is asked; or
 *			name@host:port), then wait up to --wait seconds
 *			(default 10; 0: do not wait) for the link to be up
 *	leave		close every link; no link is made or accepted
 *			until a join (strategies do not bring peers back)
 *	remove NODE	close the link to NODE and forget its routes; NODE
 *			stays out until joined again or restarted
 *
 * A table by default; --json prints the broker's JSON as it is.  The
 * socket is -s, else $CAIRN_BROKER_SOCKET, else CLUSTER_DEFAULT_SOCKET.
 * Exit status 0 on success, 1 on failure, 2 on bad usage.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

#define CLUSTER_DEFAULT_SOCKET	"/run/cairn-broker.sock"
#define CLUSTER_TIMEOUT_MS	5000
#define CLUSTER_MAX_REPLY	(16u * 1024 * 1024)
#define CLUSTER_DEFAULT_WAIT_S	10
/* How often `join` looks at the status while it waits. */
#define CLUSTER_POLL_MS		200

static const char cluster_usage[] =
    "usage: cairn cluster status [--json] [-s SOCKET]\n"
    "       cairn cluster join NODE [--wait SECONDS] [--json] [-s SOCKET]\n"
    "       cairn cluster leave [--json] [-s SOCKET]\n"
    "       cairn cluster remove NODE [--json] [-s SOCKET]\n";

/* One request, one reply line (malloc'd).  0, or 1 with a message. */
static int
cluster_ask(const char *sock, const char *req, char **reply)
{
	struct bytes_w buf;
	char err[512];
	int fd, rc;

	if ((fd = cli_agent_open(sock, req, err, sizeof(err))) == -1) {
		fprintf(stderr, "cairn cluster: %s\n", err);
		return 1;
	}
	bytes_w_init(&buf, CLUSTER_MAX_REPLY);
	rc = cli_read_line(fd, &buf, reply, clock_ms() + CLUSTER_TIMEOUT_MS);
	close(fd);
	bytes_w_fini(&buf);
	if (rc != 0) {
		fprintf(stderr, "cairn cluster: %s: no answer: %s\n", sock,
		    cairn_strerror(rc));
		return 1;
	}
	return 0;
}

/* A string value after p (the broker's own JSON): just what we print. */
static const char *
cluster_str(const char *p, const char *end, const char *key, char *out,
    size_t len)
{
	char pat[64];
	const char *q;
	size_t n = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((q = strstr(p, pat)) == NULL || (end != NULL && q >= end))
		return p;
	for (q += strlen(pat); *q != '\0' && *q != '"'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		if (n + 1 < len)
			out[n++] = *q;
	}
	out[n] = '\0';
	return q;
}

static long long
cluster_num(const char *p, const char *end, const char *key)
{
	char pat[64];
	const char *q;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((q = strstr(p, pat)) == NULL || (end != NULL && q >= end))
		return -1;
	return strtoll(q + strlen(pat), NULL, 10);
}

/* The peers array's objects, one at a time: the next "{"node":" in it. */
static const char *
cluster_next_peer(const char *doc, const char *p)
{
	if (p == NULL) {
		if ((p = strstr(doc, "\"peers\":[")) == NULL)
			return NULL;
	} else
		p++;
	return strstr(p, "{\"node\":");
}

/* The state of peer node in a status document ("" when absent). */
static void
cluster_peer_state(const char *doc, const char *node, char *state,
    size_t len)
{
	const char *p = NULL, *end;
	char name[512];

	state[0] = '\0';
	while ((p = cluster_next_peer(doc, p)) != NULL) {
		end = strstr(p + 1, "{\"node\":");
		cluster_str(p, end, "node", name, sizeof(name));
		if (strcmp(name, node) == 0) {
			cluster_str(p, end, "state", state, len);
			return;
		}
	}
}

static void
cluster_print_status(const char *doc)
{
	char node[512], state[32], dir[16], addr[128];
	const char *p = NULL, *end;
	size_t npeers = 0, nup = 0;

	while ((p = cluster_next_peer(doc, p)) != NULL) {
		end = strstr(p + 1, "{\"node\":");
		cluster_str(p, end, "state", state, sizeof(state));
		npeers++;
		nup += strcmp(state, "up") == 0;
	}
	cluster_str(doc, strstr(doc, "\"peers\":"), "node", node,
	    sizeof(node));
	printf("node %s (cluster port %lld): %zu of %zu peers up, %lld local "
	    "routes\n\n", node, cluster_num(doc, strstr(doc, "\"peers\":"),
	    "port"), nup, npeers, cluster_num(doc, NULL, "routes_local"));
	printf("%-32s %-10s %-4s %-22s %7s %7s\n", "NODE", "STATE", "DIR",
	    "ADDRESS", "ROUTES", "PENDING");
	printf("%-32s %-10s %-4s %-22s %7s %7s\n", node, "self", "-", "-",
	    "-", "-");
	p = NULL;
	while ((p = cluster_next_peer(doc, p)) != NULL) {
		end = strstr(p + 1, "{\"node\":");
		cluster_str(p, end, "node", node, sizeof(node));
		cluster_str(p, end, "state", state, sizeof(state));
		cluster_str(p, end, "dir", dir, sizeof(dir));
		cluster_str(p, end, "addr", addr, sizeof(addr));
		printf("%-32s %-10s %-4s %-22s %7lld %7lld\n", node, state,
		    dir[0] != '\0' ? dir : "-", addr[0] != '\0' ? addr : "-",
		    cluster_num(p, end, "routes"),
		    cluster_num(p, end, "forward_pending"));
	}
}

/* After a join: wait for the link to NODE (no ":port") to be up. */
static int
cluster_wait_up(const char *sock, const char *node, long wait_s, int json)
{
	uint64_t deadline = clock_ms() + (uint64_t)wait_s * 1000;
	char name[1024], state[32] = "", *doc;
	size_t n;

	/* name@host:port is linked as name@host. */
	n = strcspn(node, ":");
	snprintf(name, sizeof(name), "%.*s", (int)n, node);
	for (;;) {
		if (cluster_ask(sock, "cluster status", &doc) != 0)
			return 1;
		cluster_peer_state(doc, name, state, sizeof(state));
		free(doc);
		if (strcmp(state, "up") == 0) {
			if (!json)
				printf("%s: link up\n", name);
			return 0;
		}
		if (clock_ms() >= deadline)
			break;
		usleep(CLUSTER_POLL_MS * 1000);
	}
	fprintf(stderr, "cairn cluster join: %s: %s after %lds (see the "
	    "broker's log)\n", name, state[0] != '\0' ? state :
	    "no link", wait_s);
	return 1;
}

int
cmd_cluster(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *env, *verb, *node = NULL;
	char req[1100], *reply = NULL, *end;
	long wait_s = CLUSTER_DEFAULT_WAIT_S;
	int ch, json = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "hjs:w:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(cluster_usage, stdout);
			return 0;
		case 'j':
			json = 1;
			break;
		case 's':
			sock = optarg;
			break;
		case 'w':
			wait_s = strtol(optarg, &end, 10);
			if (*end != '\0' || wait_s < 0 || wait_s > 86400) {
				fprintf(stderr, "cairn cluster: --wait: "
				    "seconds, 0 to 86400\n");
				return 2;
			}
			break;
		default:
			fputs(cluster_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(cluster_usage, stderr);
		return 2;
	}
	verb = argv[optind++];
	if (strcmp(verb, "join") == 0 || strcmp(verb, "remove") == 0) {
		if (optind >= argc || strlen(argv[optind]) > 1024 ||
		    strpbrk(argv[optind], " \n\r") != NULL) {
			fputs(cluster_usage, stderr);
			return 2;
		}
		node = argv[optind++];
	} else if (strcmp(verb, "status") != 0 && strcmp(verb, "leave") !=
	    0) {
		fprintf(stderr, "cairn cluster: unknown command '%s'\n", verb);
		fputs(cluster_usage, stderr);
		return 2;
	}
	if (optind != argc) {
		fputs(cluster_usage, stderr);
		return 2;
	}
	if (sock == NULL)
		sock = (env = getenv("CAIRN_BROKER_SOCKET")) != NULL ? env :
		    CLUSTER_DEFAULT_SOCKET;
	snprintf(req, sizeof(req), "cluster %s%s%s", verb,
	    node != NULL ? " " : "", node != NULL ? node : "");
	if (cluster_ask(sock, req, &reply) != 0)
		return 1;
	if (strncmp(reply, "{\"ok\":false", 11) == 0 ||
	    strncmp(reply, "{\"error\"", 8) == 0) {
		char msg[512];

		if (json)
			printf("%s\n", reply);
		cluster_str(reply, NULL, "error", msg, sizeof(msg));
		fprintf(stderr, "cairn cluster %s: %s\n", verb, msg);
		free(reply);
		return 1;
	}
	if (json)
		printf("%s\n", reply);
	else if (strcmp(verb, "status") == 0)
		cluster_print_status(reply);
	else if (strcmp(verb, "leave") == 0)
		printf("left the cluster: %lld links closed\n",
		    cluster_num(reply, NULL, "closed"));
	else if (strcmp(verb, "remove") == 0)
		printf("removed %s\n", node);
	else if (wait_s == 0)
		printf("joining %s\n", node);
	free(reply);
	if (strcmp(verb, "join") == 0 && wait_s > 0)
		rc = cluster_wait_up(sock, node, wait_s, json);
	return rc;
}
