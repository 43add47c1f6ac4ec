/*
 * cairn: the command-line tool for people.  Each subcommand lives in its
 * own cmd_<name>.c; this file only dispatches.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct cli_cmd {
	const char	*name;
	int		(*run)(int, char **);
	const char	*help;
};

static const struct cli_cmd cli_cmds[] = {
	{ "cluster", cmd_cluster, "a broker's cluster: status, join, leave, remove" },
	{ "members", cmd_members, "the agent's members, sources and state" },
	{ "names", cmd_names, "list the names each host's epmd holds" },
	{ "passwd", cmd_passwd, "edit a broker password file (mosquitto_passwd)" },
	{ "ring", cmd_ring, "the agent's hash ring: members, whois KEY, mine KEY" },
	{ "wait", cmd_wait, "wait until the agent reports a quorum" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cairn COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		fprintf(f, "    %-10s %s\n", cli_cmds[i].name,
		    cli_cmds[i].help);
	fprintf(f, "\n'cairn COMMAND --help' describes a command.\n");
}

void
cli_json_str(FILE *f, const char *s, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		if (strcmp(argv[1], cli_cmds[i].name) == 0)
			return cli_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cairn: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
