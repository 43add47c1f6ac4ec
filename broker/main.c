/*
 * cairn-broker: one MQTT 3.1.1 / 3.1 broker node on one libev loop.
 *
 *	cairn-broker [-dnv] [-c file]
 *
 * -c names the YAML file (conf/broker.yaml documents every key), -d
 * stays in the foreground with logs on stderr, -n checks the file and
 * the files it names (password, ACL, cookie, cluster TLS), prints
 * "configuration OK" and exits, -v raises verbosity (twice for more).
 * SIGINT and SIGTERM stop the broker.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "broker/cluster/link.h"
#include "broker/conf/broker_conf.h"
#include "broker/core/acl.h"
#include "broker/core/passwd.h"
#include "broker/node.h"
#include "common/file.h"
#include "common/log.h"
#include "common/sdnotify.h"

#define BROKER_DEFAULT_CONF	"/etc/cairn/broker.yaml"
/* A cookie file is one short line: anything much longer is not one. */
#define BROKER_COOKIE_FILE_MAX	4096
/* A PEM certificate chain, key or CA bundle. */
#define BROKER_PEM_FILE_MAX	(4 * 1024 * 1024)

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: cairn-broker [-dnv] [-c file]\n");
	exit(1);
}

/*
 * The files the config names, read as start reads them (common/file.h:
 * a regular file, capped), so that -n refuses what start would and
 * start never blocks on a FIFO.  The cookie file and the cluster's TLS
 * files are checked here as well as read by cluster.c and OpenSSL (a
 * CA directory, c_rehash'd, is fine).  0, or -1 with "PATH: why" in err.
 */
/* A PEM file (may be NULL: nothing to check) is a regular file. */
static int
broker_check_pem(const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;

	if (path == NULL)
		return 0;
	if (file_read_all(path, BROKER_PEM_FILE_MAX, 0, &buf, &len, err,
	    errlen) != 0)
		return -1;
	explicit_bzero(buf, len);
	free(buf);
	return 0;
}

static int
broker_check_files(const struct broker_conf *c, char *err, size_t errlen)
{
	struct passwd_file *pf = NULL;
	struct acl *acl = NULL;
	struct stat st;
	char path[1024], why[1200], *buf;
	const char *home;
	size_t len;

	if (c->bc_password_file != NULL) {
		if (passwd_load(c->bc_password_file, &pf, err, errlen) != 0)
			return -1;
		passwd_free(pf);
	}
	if (c->bc_acl_file != NULL) {
		if (acl_load(c->bc_acl_file, &acl, err, errlen) != 0)
			return -1;
		acl_free(acl);
	}
	if (c->bc_cluster && c->bc_cookie == NULL) {
		if (c->bc_cookie_file != NULL)
			snprintf(path, sizeof(path), "%s", c->bc_cookie_file);
		else {
			home = getenv("HOME");
			snprintf(path, sizeof(path), "%s/.erlang.cookie",
			    home != NULL ? home : "");
		}
		if (file_read_all(path, BROKER_COOKIE_FILE_MAX,
		    FILE_F_OWNER_ONLY, &buf, &len, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "cookie file %s", why);
			return -1;
		}
		explicit_bzero(buf, len);
		free(buf);
	}
	if (broker_check_pem(c->bc_cluster_certfile, err, errlen) != 0 ||
	    broker_check_pem(c->bc_cluster_keyfile, err, errlen) != 0 ||
	    (c->bc_cluster_cafile != NULL &&
	    (stat(c->bc_cluster_cafile, &st) != 0 || !S_ISDIR(st.st_mode)) &&
	    broker_check_pem(c->bc_cluster_cafile, err, errlen) != 0))
		return -1;
	return 0;
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
	static char err[BROKER_CONF_ERR_LEN];
	const char *path = BROKER_DEFAULT_CONF;
	struct broker_conf *c;
	struct node *n;
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
	if (broker_check_files(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		broker_conf_free(c);
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
	if ((n = node_new(loop, c, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* Bind before detaching, so a busy port is an exit status. */
	if (node_start(n, err, sizeof(err)) != 0)
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
	/*
	 * READY once the listeners accept (node_start bound them), not
	 * once epmd has our name: the registration retries on its own
	 * while epmd is down, and MQTT clients are served meanwhile.
	 */
	notify_status("accepting MQTT clients");
	notify_ready();
	ev_run(loop, 0);
	node_free(n);
	ev_loop_destroy(loop);
	return 0;
}
