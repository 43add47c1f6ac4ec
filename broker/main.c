/*
 * cairn-broker: one MQTT 3.1.1 / 3.1 broker node on one libev loop.
 *
 *	cairn-broker [-dhnv] [-c file]
 *
 * -c names the YAML file (conf/broker.yaml documents every key), -d
 * stays in the foreground with logs on stderr (or log_file), -h prints
 * the usage, -n checks the file and the files it names (password, ACL,
 * cookie, cluster and listener TLS, log file), prints "configuration
 * OK" and exits, -v raises verbosity (twice for more).
 * SIGINT and SIGTERM stop the broker.  SIGHUP reopens log_file and
 * reloads the configuration (node_reload(); a bad file keeps the
 * running one, with one line saying why); SIGUSR1 only reopens
 * log_file, for logrotate.
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

#include "broker/cluster/link.h"
#include "broker/conf/broker_conf.h"
#include "broker/core/acl.h"
#include "broker/core/passwd.h"
#include "broker/net/tls.h"
#include "broker/node.h"
#include "common/file.h"
#include "common/log.h"
#include "common/sdnotify.h"

#define BROKER_DEFAULT_CONF	"/etc/cairn/broker.yaml"
/* A cookie file is one short line: anything much longer is not one. */
#define BROKER_COOKIE_FILE_MAX	4096
/* A PEM certificate chain, key or CA bundle. */
#define BROKER_PEM_FILE_MAX	(4 * 1024 * 1024)

/* What the signal handlers need. */
struct brokerd {
	const char	*path;		/* the configuration file */
	struct node	*node;
};

/* -h: on stdout, exit 0; a bad option: on stderr, exit 1. */
__attribute__((noreturn)) static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: cairn-broker [-dhnv] [-c file]\n"
	    "\t-c file\tconfiguration (default %s)\n"
	    "\t-d\tstay in the foreground, log to stderr (or log_file)\n"
	    "\t-h\tprint this help and exit\n"
	    "\t-n\tcheck the configuration and the files it names, "
	    "then exit\n"
	    "\t-v\tmore verbose (twice for more)\n"
	    "signals: HUP reloads the configuration and reopens log_file, "
	    "USR1 reopens log_file,\n"
	    "INT and TERM stop the broker\n", BROKER_DEFAULT_CONF);
	exit(status);
}

/*
 * What start would refuse beyond the files: the log file (opened for
 * appending, as start does: it may be created) and every TLS
 * listener's context (certificate and key match, CAs parse, ciphers
 * exist).  0, or -1 with err.
 */
static int
broker_check_tls(const struct broker_conf *c, char *err, size_t errlen)
{
	const struct broker_listener_conf *lc;
	char why[512];
	SSL_CTX *ctx;
	size_t i;

	if (c->bc_log_file != NULL) {
		/* What log_file() will do: open it for appending. */
		int fd = open(c->bc_log_file, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOCTTY, 0640);

		if (fd == -1) {
			snprintf(err, errlen, "log_file %s: %s",
			    c->bc_log_file, strerror(errno));
			return -1;
		}
		close(fd);
	}
	for (i = 0; i < c->bc_nlisten; i++) {
		lc = &c->bc_listeners[i];
		if (!lc->lc_tls)
			continue;
		if ((ctx = tls_ctx_new(&lc->lc_tls_conf, why,
		    sizeof(why))) == NULL) {
			snprintf(err, errlen, "listener %s:%u: %s",
			    lc->lc_addr.host, lc->lc_addr.port, why);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	return 0;
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

/*
 * SIGHUP: the log file first (logrotate's postrotate sends HUP or
 * USR1), then the configuration, read and checked as -n does, then
 * applied by node_reload().  Any failure keeps the running one.
 */
static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	static char err[BROKER_CONF_ERR_LEN];
	struct brokerd *d = w->data;
	struct broker_conf *c;
	char *newlog = NULL;

	if (log_reopen() != 0)
		log_warn("reopen of the log file");
	/* systemd: RELOADING=1 now, READY=1 when done, failed or not. */
	notify_reloading();
	if ((c = broker_conf_load(d->path, err, sizeof(err))) == NULL ||
	    broker_check_files(c, err, sizeof(err)) != 0 ||
	    broker_check_tls(c, err, sizeof(err)) != 0 ||
	    (c->bc_log_file != NULL && (newlog = strdup(c->bc_log_file)) ==
	    NULL)) {
		err[strcspn(err, "\n")] = '\0';
		log_warnx("reload of %s failed, keeping the running "
		    "configuration: %s", d->path, err);
		notify_status("reload failed, running the old configuration");
		broker_conf_free(c);
		notify_ready();
		return;
	}
	if (node_reload(d->node, c, err, sizeof(err)) != 0) {
		err[strcspn(err, "\n")] = '\0';
		log_warnx("reload of %s failed, keeping the running "
		    "configuration: %s", d->path, err);
		notify_status("reload failed, running the old configuration");
	} else {
		if (newlog != NULL && log_file(newlog) != 0)
			log_warn("log_file %s", newlog);
		log_info("reloaded %s", d->path);
		notify_status("accepting MQTT clients");
	}
	free(newlog);
	notify_ready();
}

static void
on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (log_reopen() != 0)
		log_warn("reopen of the log file");
	else
		log_info("log file reopened");
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
	struct brokerd d;
	ev_signal int_w, term_w, hup_w, usr1_w;
	int ch, foreground = 0, check = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "c:dhnv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'h':
			usage(0);
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);
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
	if (broker_check_tls(c, err, sizeof(err)) != 0) {
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
		if (node_check(c, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", path, err);
			broker_conf_free(c);
			return 1;
		}
		broker_conf_free(c);
		printf("configuration OK\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (c->bc_log_file != NULL && log_file(c->bc_log_file) != 0) {
		fprintf(stderr, "%s: log_file %s: %s\n", path, c->bc_log_file,
		    strerror(errno));
		broker_conf_free(c);
		return 1;
	}
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
	d.path = path;
	d.node = n;
	ev_signal_init(&hup_w, on_hup, SIGHUP);
	hup_w.data = &d;
	ev_signal_init(&usr1_w, on_usr1, SIGUSR1);
	ev_signal_start(loop, &hup_w);
	ev_signal_start(loop, &usr1_w);
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
