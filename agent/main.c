/*
 * cairn-agent: discovery strategies from YAML, connectors, a control
 * socket and the on_change hook, for nodes the agent does not live in.
 *
 *	cairn-agent [-dnv] [-c file]
 *
 * -d stays in the foreground (logs on stderr), -n checks the file,
 * prints "configuration OK" and exits, -v raises verbosity.  SIGHUP
 * reloads the file: only changed topologies restart, membership is kept,
 * a bad file keeps the old config with one log line saying why.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "agent/endpoint.h"
#include "common/http.h"
#include "common/file.h"
#include "common/log.h"
#include "common/resolv.h"
#include "common/sdnotify.h"

#define AGENT_DEFAULT_CONF	"/etc/cairn/agent.yaml"
#define AGENT_ERR_LEN		8192

struct agentd {
	struct ev_loop	*loop;
	struct agent	*agent;
	struct resolv	*resolv;
	struct http	*http;		/* NULL: no http_listen */
	const char	*path;
	ev_signal	 hup_w;
	ev_signal	 int_w;
	ev_signal	 term_w;
};

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: cairn-agent [-dnv] [-c file]\n");
	exit(1);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agentd *d = w->data;
	struct agent_conf *c;
	static char err[AGENT_ERR_LEN];

	/* systemd: RELOADING=1 now, READY=1 when done, failed or not. */
	notify_reloading();
	if ((c = agent_conf_load(d->path, err, sizeof(err))) == NULL) {
		err[strcspn(err, "\n")] = '\0';
		log_warnx("reload of %s failed, keeping the old config: %s",
		    d->path, err);
		notify_status("reload failed, running the old config: %s",
		    err);
		notify_ready();
		return;
	}
	if (agent_reload(d->agent, c, err, sizeof(err)) != 0) {
		log_warnx("reload of %s: %s", d->path, err);
		notify_status("reload: %s", err);
	} else {
		log_info("reloaded %s", d->path);
		notify_status("running with %s", d->path);
	}
	notify_ready();
}

static void
on_quit(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("got signal %d, exiting", w->signum);
	notify_stopping();
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static char err[AGENT_ERR_LEN];
	struct agentd d;
	struct agent_conf *c;
	int ch, foreground = 0, check = 0, verbose = 0;

	memset(&d, 0, sizeof(d));
	d.path = AGENT_DEFAULT_CONF;
	while ((ch = getopt(argc, argv, "c:dnv")) != -1) {
		switch (ch) {
		case 'c':
			d.path = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, verbose, "cairn-agent");
	if ((c = agent_conf_load(d.path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		agent_conf_free(c);
		printf("configuration OK\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!foreground) {
		if (file_detach() == -1)
			fatal("daemon");
		log_init(0, verbose, "cairn-agent");
	}
	if ((d.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise the event loop");
	if ((d.resolv = resolv_new(d.loop, NULL)) == NULL)
		fatalx("cannot start the resolver");
	if ((d.agent = agent_new(d.loop, d.resolv, c, err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	if (agent_start(d.agent, err, sizeof(err)) != 0)
		fatalx("%s", err);
	/* c is the agent's now, and still the one loaded (no reload yet). */
	err[0] = '\0';
	if ((d.http = agent_endpoint_new(d.loop, d.agent, c, err,
	    sizeof(err))) == NULL && err[0] != '\0')
		fatalx("%s", err);
	if (d.http != NULL)
		log_info("http: listening on %s:%u", c->ac_http_listen.host,
		    http_port(d.http));
	ev_signal_init(&d.hup_w, on_hup, SIGHUP);
	d.hup_w.data = &d;
	ev_signal_init(&d.int_w, on_quit, SIGINT);
	ev_signal_init(&d.term_w, on_quit, SIGTERM);
	ev_signal_start(d.loop, &d.hup_w);
	ev_signal_start(d.loop, &d.int_w);
	ev_signal_start(d.loop, &d.term_w);
	log_info("started with %s", d.path);
	/* Strategies and the control socket are up: start is done. */
	notify_status("running with %s", d.path);
	notify_ready();
	ev_run(d.loop, 0);
	http_free(d.http);
	agent_free(d.agent);
	resolv_free(d.resolv);
	ev_loop_destroy(d.loop);
	return 0;
}
