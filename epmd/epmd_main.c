/*
 * epmd: the Erlang Port Mapper Daemon, and OTP's client commands.
 *
 * The command line is OTP's: single-dash words that getopt cannot parse,
 * read left to right, a client command acting at once (so it must come
 * last), a bad value or unknown word printing usage and exiting 1.
 * Cairn adds named limits in the same style (-max_names,
 * -max_connections, -max_unreg, -request_timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "epmd/epmd.h"
#include "epmd/epmd_codec.h"
#include "epmd/epmd_registry.h"

__attribute__((noreturn)) static void
usage(void)
{
	/* OTP 25's text, then Cairn's limits. */
	fputs(
"usage: epmd [-d|-debug] [DbgExtra...] [-address List]\n"
"            [-port No] [-daemon] [-relaxed_command_check]\n"
"       epmd [-d|-debug] [-port No] [-names|-kill|-stop name]\n"
"\n"
"See the Erlang epmd manual page for info about the usage.\n"
"\n"
"Regular options\n"
"    -address List\n"
"        Let epmd listen only on the comma-separated list of IP\n"
"        addresses (and on the loopback interface).\n"
"    -port No\n"
"        Let epmd listen to another port than default 4369\n"
"    -d\n"
"    -debug\n"
"        Enable debugging. This will give a log to\n"
"        the standard error stream. It will shorten\n"
"        the number of saved used node names to 5.\n"
"\n"
"        If you give more than one debug flag you may\n"
"        get more debugging information.\n"
"    -daemon\n"
"        Start epmd detached (as a daemon)\n"
"    -relaxed_command_check\n"
"        Allow this instance of epmd to be killed with\n"
"        epmd -kill even if there are registered nodes.\n"
"        Also allows forced unregister (epmd -stop).\n"
"    -systemd\n"
"        Wait for socket from systemd. The option makes sense\n"
"        when started from .socket unit.\n"
"\n"
"DbgExtra options\n"
"    -packet_timeout Seconds\n"
"        Set the number of seconds a connection can be\n"
"        inactive before epmd times out and closes the\n"
"        connection (default 60).\n"
"\n"
"    -delay_accept Seconds\n"
"        To simulate a busy server you can insert a\n"
"        delay between epmd gets notified about that\n"
"        a new connection is requested and when the\n"
"        connections gets accepted.\n"
"\n"
"    -delay_write Seconds\n"
"        Also a simulation of a busy server. Inserts\n"
"        a delay before a reply is sent.\n"
"\n"
"Interactive options\n"
"    -names\n"
"        List names registered with the currently running epmd\n"
"    -kill\n"
"        Kill the currently running epmd\n"
"        (only allowed if -names show empty database or\n"
"        -relaxed_command_check was given when epmd was started).\n"
"    -stop Name\n"
"        Forcibly unregisters a name with epmd\n"
"        (only allowed if -relaxed_command_check was given when \n"
"        epmd was started).\n"
"\n"
"Cairn limits\n"
"    -max_names N\n"
"        Refuse registrations past N names (default 65536).\n"
"    -max_connections N\n"
"        Close connections past N open at once (default 65536).\n"
"    -max_unreg N\n"
"        Remember N released names for creation numbering\n"
"        (default 1000, 5 with -d).\n"
"    -max_watchers N\n"
"        Refuse WATCH requests past N watchers (default 64).\n"
"    -watch_buffer Bytes\n"
"        Close a watcher with more than this many bytes of events\n"
"        not yet read (default 4194304).\n"
"    -request_timeout Seconds\n"
"        Close a connection whose request is not complete after\n"
"        this many seconds, even if it makes progress (default 60).\n",
	    stderr);
	exit(1);
}

/* OTP reads numbers with atoi() and treats 0 as an error. */
static unsigned long
epmd_arg_num(int argc, char **argv)
{
	char *end;
	unsigned long v;

	if (argc < 2)
		usage();
	v = strtoul(argv[1], &end, 10);
	if (v == 0 || end == argv[1])
		usage();
	return v;
}

static void
epmd_conf_defaults(struct epmd_conf *c)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->ec_port = EPMD_PORT_NO;
	if ((s = getenv("ERL_EPMD_PORT")) != NULL)
		c->ec_port = (uint16_t)atoi(s);
	c->ec_addresses = getenv("ERL_EPMD_ADDRESS");
	c->ec_relaxed = getenv("ERL_EPMD_RELAXED_COMMAND_CHECK") != NULL;
	c->ec_packet_timeout = EPMD_DEFAULT_PACKET_TIMEOUT;
	c->ec_request_timeout = EPMD_DEFAULT_REQUEST_TIMEOUT;
	c->ec_max_names = EPMD_DEFAULT_MAX_NAMES;
	c->ec_max_connections = EPMD_DEFAULT_MAX_CONNECTIONS;
	c->ec_max_watchers = EPMD_DEFAULT_MAX_WATCHERS;
	c->ec_watch_buffer = EPMD_DEFAULT_WATCH_BUFFER;
}

int
main(int argc, char **argv)
{
	struct epmd_conf c;
	unsigned long v;

	epmd_conf_defaults(&c);
	argc--;
	argv++;
	while (argc > 0) {
		const char *a = argv[0];

		if (strcmp(a, "-debug") == 0 || strcmp(a, "-d") == 0) {
			c.ec_debug++;
			argc--, argv++;
		} else if (strcmp(a, "-packet_timeout") == 0) {
			c.ec_packet_timeout = (unsigned)epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-request_timeout") == 0) {
			c.ec_request_timeout = (unsigned)epmd_arg_num(argc,
			    argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-delay_accept") == 0) {
			c.ec_delay_accept = (unsigned)epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-delay_write") == 0) {
			c.ec_delay_write = (unsigned)epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-max_names") == 0) {
			c.ec_max_names = epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-max_connections") == 0) {
			c.ec_max_connections = epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-max_unreg") == 0) {
			c.ec_max_unreg = epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-max_watchers") == 0) {
			c.ec_max_watchers = epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-watch_buffer") == 0) {
			c.ec_watch_buffer = epmd_arg_num(argc, argv);
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-daemon") == 0) {
			c.ec_daemon = 1;
			argc--, argv++;
		} else if (strcmp(a, "-relaxed_command_check") == 0) {
			c.ec_relaxed = 1;
			argc--, argv++;
		} else if (strcmp(a, "-systemd") == 0) {
			c.ec_systemd = 1;
			argc--, argv++;
		} else if (strcmp(a, "-address") == 0) {
			if (argc < 2)
				usage();
			c.ec_addresses = argv[1];
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-port") == 0) {
			v = epmd_arg_num(argc, argv);
			if (v > 65535)
				usage();
			c.ec_port = (uint16_t)v;
			argc -= 2, argv += 2;
		} else if (strcmp(a, "-names") == 0 ||
		    strcmp(a, "-started") == 0 || strcmp(a, "-dump") == 0) {
			if (argc != 1)
				usage();
			c.ec_silent = strcmp(a, "-started") == 0;
			return epmd_cli_names(&c, strcmp(a, "-dump") == 0 ?
			    EPMD_DUMP_REQ : EPMD_NAMES_REQ);
		} else if (strcmp(a, "-kill") == 0) {
			if (argc != 1)
				usage();
			return epmd_cli_kill(&c);
		} else if (strcmp(a, "-stop") == 0) {
			if (argc != 2)
				usage();
			return epmd_cli_stop(&c, argv[1]);
		} else
			usage();
	}
	if (c.ec_max_unreg == 0)
		c.ec_max_unreg = c.ec_debug ? EPMD_DEBUG_MAX_UNREG :
		    EPMD_DEFAULT_MAX_UNREG;
	if (c.ec_request_timeout < c.ec_packet_timeout)
		c.ec_request_timeout = c.ec_packet_timeout;
	log_init(!c.ec_daemon, c.ec_debug, "epmd");
	log_settimestamps(1);
	return epmd_srv_run(&c);
}
