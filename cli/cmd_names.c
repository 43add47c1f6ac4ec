/*
 * cairn names [--json] [--port N] [--timeout MS] [HOST...]
 *
 * Asks each host's epmd (default: the local one) for NAMES and prints
 * one table of name, host and port, or a JSON array for scripts.  A host
 * that cannot be reached gets one line on stderr naming it and why, and
 * the exit status is 1; the other hosts are still listed.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "epmd/epmd_client.h"
#include "epmd/epmd_codec.h"

#define NAMES_DEFAULT_TIMEOUT_MS	5000
/* A NAMES reply is read up to this size. */
#define NAMES_MAX_REPLY			(64u * 1024 * 1024)

struct names_row {
	const char	*host;
	const uint8_t	*name;
	size_t		 namelen;
	uint16_t	 port;
};

static void
names_usage(FILE *f)
{
	fprintf(f, "usage: cairn names [--json] [--port N] [--timeout MS] "
	    "[HOST...]\n"
	    "  Lists the names registered with each HOST's epmd "
	    "(default: localhost).\n"
	    "  --port N       epmd's port (default $ERL_EPMD_PORT or 4369)\n"
	    "  --timeout MS   per host (default %d)\n"
	    "  --json         one JSON array of {name, host, port}\n",
	    NAMES_DEFAULT_TIMEOUT_MS);
}

static int
names_add_host(const char *host, uint16_t port, int timeout,
    struct bytes_w *body, struct names_row **rows, size_t *nrows,
    size_t *caprows)
{
	uint32_t eport;
	size_t off = 0;
	int rc;

	rc = epmd_client_names(strcmp(host, "localhost") == 0 ? NULL : host,
	    port, timeout, &eport, body);
	if (rc != 0) {
		fprintf(stderr, "cairn names: %s: cannot query epmd on port "
		    "%u: %s\n", host, port, rc == CAIRN_ERR_PROTO ?
		    "no reply" : rc == CAIRN_ERR_TIMEOUT ? "timed out" :
		    strerror(errno));
		return -1;
	}
	while (off < body->len) {
		const uint8_t *nl = memchr(body->buf + off, '\n',
		    body->len - off);
		size_t end = nl != NULL ? (size_t)(nl - body->buf) : body->len;
		struct bytes_view name;
		uint16_t nport;

		if (epmd_parse_names_line(bytes_view_of(body->buf + off,
		    end - off), &name, &nport) == 0) {
			if (*nrows == *caprows) {
				size_t nc = *caprows ? *caprows * 2 : 16;
				struct names_row *nr;

				if ((nr = reallocarray(*rows, nc,
				    sizeof(*nr))) == NULL) {
					fprintf(stderr, "cairn names: out of "
					    "memory\n");
					return -1;
				}
				*rows = nr;
				*caprows = nc;
			}
			(*rows)[(*nrows)++] = (struct names_row){ host,
			    name.p, name.len, nport };
		}
		off = end + 1;
	}
	return 0;
}

int
cmd_names(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("ERL_EPMD_PORT");
	static const char *local[] = { "localhost" };
	struct bytes_w *bodies = NULL;
	struct names_row *rows = NULL;
	size_t nrows = 0, caprows = 0, i, w_name = 4, w_host = 4;
	const char **hosts;
	int json = 0, timeout = NAMES_DEFAULT_TIMEOUT_MS, ch, nhosts, status = 0;
	unsigned long port = env != NULL ? strtoul(env, NULL, 10) : EPMD_PORT_NO;
	char *end;

	while ((ch = getopt_long(argc, argv, "hjp:t:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			names_usage(stdout);
			return 0;
		case 'j':
			json = 1;
			break;
		case 'p':
			port = strtoul(optarg, &end, 10);
			if (*end != '\0' || port == 0 || port > 65535) {
				fprintf(stderr, "cairn names: bad port '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 't':
			timeout = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || timeout <= 0) {
				fprintf(stderr, "cairn names: bad timeout "
				    "'%s'\n", optarg);
				return 2;
			}
			break;
		default:
			names_usage(stderr);
			return 2;
		}
	}
	if (port == 0 || port > 65535)
		port = EPMD_PORT_NO;
	hosts = optind < argc ? (const char **)argv + optind : local;
	nhosts = optind < argc ? argc - optind : 1;
	if ((bodies = calloc((size_t)nhosts, sizeof(*bodies))) == NULL) {
		fprintf(stderr, "cairn names: out of memory\n");
		return 1;
	}
	for (ch = 0; ch < nhosts; ch++) {
		bytes_w_init(&bodies[ch], NAMES_MAX_REPLY);
		if (names_add_host(hosts[ch], (uint16_t)port, timeout,
		    &bodies[ch], &rows, &nrows, &caprows) != 0)
			status = 1;
	}
	if (json) {
		printf("[");
		for (i = 0; i < nrows; i++) {
			printf("%s{\"name\":", i ? "," : "");
			cli_json_str(stdout, (const char *)rows[i].name,
			    rows[i].namelen);
			printf(",\"host\":");
			cli_json_str(stdout, rows[i].host,
			    strlen(rows[i].host));
			printf(",\"port\":%u}", rows[i].port);
		}
		printf("]\n");
	} else {
		for (i = 0; i < nrows; i++) {
			if (rows[i].namelen > w_name)
				w_name = rows[i].namelen;
			if (strlen(rows[i].host) > w_host)
				w_host = strlen(rows[i].host);
		}
		printf("%-*s  %-*s  %s\n", (int)w_name, "NAME", (int)w_host,
		    "HOST", "PORT");
		for (i = 0; i < nrows; i++)
			printf("%-*.*s  %-*s  %u\n", (int)w_name,
			    (int)rows[i].namelen, (const char *)rows[i].name,
			    (int)w_host, rows[i].host, rows[i].port);
	}
	for (ch = 0; ch < nhosts; ch++)
		bytes_w_fini(&bodies[ch]);
	free(bodies);
	free(rows);
	return status;
}
