/*
 * The epmd program's private header: its configuration, and the entry
 * points of its three files (ntpd.h style: the program's table of
 * contents).  Only epmd_main.c, epmd_srv.c and epmd_cli.c include it.
 */
#ifndef CAIRN_EPMD_EPMD_H
#define CAIRN_EPMD_EPMD_H

#include <stddef.h>
#include <stdint.h>

/* OTP's CLOSE_TIMEOUT: seconds a connection may stay idle mid-request. */
#define EPMD_DEFAULT_PACKET_TIMEOUT	60
/* Cairn: seconds a request may take in all, even while making progress. */
#define EPMD_DEFAULT_REQUEST_TIMEOUT	60
#define EPMD_DEFAULT_MAX_CONNECTIONS	65536
/*
 * WATCH (epmd_codec.h): watchers at once, and bytes queued to one.  A
 * watcher is an agent or a broker on this host, a handful; the buffer
 * holds a snapshot of 65,536 short names with room to spare, and a
 * watcher that lets more pile up is closed (it polls, or asks again).
 */
#define EPMD_DEFAULT_MAX_WATCHERS	64
#define EPMD_DEFAULT_WATCH_BUFFER	(4u * 1024 * 1024)
/* OTP's MAX_LISTEN_SOCKETS. */
#define EPMD_MAX_LISTEN			16
/* Client commands wait this long for the local epmd. */
#define EPMD_CLI_TIMEOUT_MS		10000

struct epmd_conf {
	uint16_t	 ec_port;		/* -port, ERL_EPMD_PORT */
	const char	*ec_addresses;		/* -address, ERL_EPMD_ADDRESS */
	int		 ec_debug;		/* number of -d */
	int		 ec_daemon;		/* -daemon */
	int		 ec_relaxed;		/* -relaxed_command_check */
	int		 ec_systemd;		/* -systemd */
	int		 ec_silent;		/* -started */
	unsigned	 ec_packet_timeout;	/* -packet_timeout, seconds */
	unsigned	 ec_request_timeout;	/* -request_timeout, seconds */
	unsigned	 ec_delay_accept;	/* -delay_accept, seconds */
	unsigned	 ec_delay_write;	/* -delay_write, seconds */
	size_t		 ec_max_names;		/* -max_names */
	size_t		 ec_max_connections;	/* -max_connections */
	size_t		 ec_max_unreg;		/* -max_unreg */
	size_t		 ec_max_watchers;	/* -max_watchers */
	size_t		 ec_watch_buffer;	/* -watch_buffer, bytes */
};

/* epmd_srv.c: binds, optionally detaches, serves; returns the exit code. */
int	epmd_srv_run(const struct epmd_conf *);

/* epmd_cli.c: OTP's client commands; each returns the exit code. */
int	epmd_cli_names(const struct epmd_conf *, uint8_t tag);
int	epmd_cli_kill(const struct epmd_conf *);
int	epmd_cli_stop(const struct epmd_conf *, const char *name);

#endif
