/*
 * cairn-broker: one MQTT 3.1.1 / 3.1 broker node on one libev loop.
 *
 *	cairn-broker [-dnv] [-c file]
 *
 * -c names the YAML file (conf/broker.yaml documents every key), -d
 * stays in the foreground with logs on stderr, -n checks the file,
 * prints "configuration OK" and exits, -v raises verbosity (twice for
 * more).  SIGINT and SIGTERM stop the broker.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "broker/broker.h"
#include "broker/broker_conf.h"
#include "broker/link.h"
#include "broker/membership.h"
#include "common/file.h"
#include "common/log.h"

#define BROKER_DEFAULT_CONF	"/etc/cairn/broker.yaml"

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: cairn-broker [-dnv] [-c file]\n");
	exit(1);
}

static void
on_quit(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("got signal %d, exiting", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static char err[BROKER_CONF_ERR_LEN];
	const char *path = BROKER_DEFAULT_CONF;
	struct broker_conf *c;
	struct broker *b;
	struct membership *mb = NULL;
	struct ev_loop *loop;
	ev_signal int_w, term_w;
	int ch, foreground = 0, check = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "c:dnv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
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
	log_init(1, verbose, "cairn-broker");
	if ((c = broker_conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		/* What start would refuse: the cluster's TLS files. */
		if (c->bc_cluster_certfile != NULL) {
			SSL_CTX *ctx = link_tls_ctx_new(c->bc_cluster_certfile,
			    c->bc_cluster_keyfile, c->bc_cluster_cafile, err,
			    sizeof(err));

			if (ctx == NULL) {
				fprintf(stderr, "%s: %s\n", path, err);
				broker_conf_free(c);
				return 1;
			}
			SSL_CTX_free(ctx);
		}
		broker_conf_free(c);
		printf("configuration OK\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise the event loop");
	if ((b = broker_new(loop, c, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* Bind before detaching, so a busy port is an exit status. */
	if (broker_start(b, err, sizeof(err)) != 0)
		fatalx("%s", err);
	/* A cluster node registers with epmd and finds its peers. */
	if (broker_cluster(b) != NULL && (mb = membership_new(loop, c,
	    broker_cluster(b), err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (!foreground) {
		if (file_detach() == -1)
			fatal("daemon");
		log_init(0, verbose, "cairn-broker");
	}
	ev_signal_init(&int_w, on_quit, SIGINT);
	ev_signal_init(&term_w, on_quit, SIGTERM);
	ev_signal_start(loop, &int_w);
	ev_signal_start(loop, &term_w);
	ev_run(loop, 0);
	membership_free(mb);
	broker_free(b);
	ev_loop_destroy(loop);
	return 0;
}
