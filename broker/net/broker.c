/*
 * The broker context: listeners, the accept path, the table of
 * sessions, and the two functions every message goes through:
 * broker_publish() (retain, then route) and broker_deliver() (one
 * session's copy: ACL, limits, queue, send).  Connections are client.c;
 * the packets are handle_*.c.
 */
#include "broker/net/broker.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/net/tls.h"
#include "broker/net/transport.h"
#include "broker/net/ws_transport.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

#define BROKER_BACKLOG		511
/* max_connections 0: fds kept for files, epmd, the control socket... */
#define BROKER_FD_RESERVE	64
/* The soft RLIMIT_NOFILE is raised at most this far. */
#define BROKER_FD_MAX		(1024 * 1024)
/* persistent_client_expiration: a sweep slice every second. */
#define BROKER_EXPIRE_EVERY	1.0
#define BROKER_EXPIRE_SLICE	256
/* Retained messages dropped at their expiry per sweep, at most. */
#define BROKER_RETAIN_EXPIRE	4096

/* Out of fds (EMFILE...): accepting pauses this long, as epmd's does. */
#define BROKER_ACCEPT_PAUSE	0.1

static struct log_rate refused_lr = LOG_RATE_INIT(10);
static struct log_rate accept_lr = LOG_RATE_INIT(10);

static void	broker_will_end(struct broker *, struct will_wait *, int);
static struct log_rate tls_busy_lr = LOG_RATE_INIT(10);
static struct log_rate expired_lr = LOG_RATE_INIT(10);

static void
broker_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	/* Hash keys only: on failure fall back to addresses and time. */
	while (len > 0) {
		if ((n = getrandom(p, len, 0)) <= 0) {
			uint64_t x = (uint64_t)(uintptr_t)buf ^
			    (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
			while (len-- > 0) {
				x = x * 6364136223846793005ull + 1;
				*p++ = (uint8_t)(x >> 56);
			}
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

void
broker_set_auth(struct broker *b, const struct broker_auth *a)
{
	if (b->b_auth.ba_free != NULL)
		b->b_auth.ba_free(b->b_auth.ba_arg);
	b->b_auth = *a;
}

/*
 * max_connections 0 and max_sessions 0 (auto): as many connections as
 * the fd limit allows, as mosquitto does, after raising the soft limit
 * to the hard one; minus the listeners, the cluster's links and
 * handshakes, and BROKER_FD_RESERVE files.  One log line says what was
 * chosen.
 */
static void
broker_limits_auto(struct broker_conf *c)
{
	struct rlimit rl;
	uint64_t want, reserve;

	if (c->bc_max_connections == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = rl.rlim_max = 1024;
		want = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > BROKER_FD_MAX ? BROKER_FD_MAX : rl.rlim_max;
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
			rl.rlim_cur = want;
			/* The kernel's nr_open may be lower: keep what is. */
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > BROKER_FD_MAX)
			rl.rlim_cur = BROKER_FD_MAX;
		reserve = BROKER_FD_RESERVE + c->bc_nlisten + (c->bc_cluster ?
		    2 * (uint64_t)c->bc_max_peers + c->bc_max_handshakes : 0);
		/* The HTTP endpoint: its connections, listener and epoll fd. */
		if (c->bc_http_listen.host != NULL)
			reserve += (uint64_t)c->bc_http_max_connections + 2;
		c->bc_max_connections = rl.rlim_cur > reserve + 16 ?
		    (unsigned int)(rl.rlim_cur - reserve) : 16;
		log_info("max_connections %u (auto: RLIMIT_NOFILE %llu, %llu "
		    "kept for listeners, cluster links, HTTP and files)",
		    c->bc_max_connections, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)reserve);
	}
	if (c->bc_max_sessions == 0) {
		want = (uint64_t)c->bc_max_connections +
		    c->bc_max_persistent_sessions;
		c->bc_max_sessions = want > 10000000 ? 10000000 :
		    (unsigned int)want;
		log_info("max_sessions %u (auto: max_connections + "
		    "max_persistent_sessions)", c->bc_max_sessions);
	}
}

struct broker *
broker_new(struct ev_loop *loop, struct broker_conf *c, char *err,
    size_t errlen)
{
	struct broker *b;
	uint8_t key[16];
	uint64_t seed[2];

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		broker_conf_free(c);
		return NULL;
	}
	b->b_loop = loop;
	b->b_conf = c;
	TAILQ_INIT(&b->b_clients);
	TAILQ_INIT(&b->b_dead);
	TAILQ_INIT(&b->b_wills);
	TAILQ_INIT(&b->b_dirty);
	TAILQ_INIT(&b->b_store_waiters);
	TAILQ_INIT(&b->b_repl_waiters);
	b->b_limits.sl_max_inflight = c->bc_max_inflight;
	b->b_limits.sl_max_queued_messages = c->bc_max_queued_messages;
	b->b_limits.sl_max_queued_bytes = c->bc_max_queued_bytes;
	b->b_limits.sl_queue_qos0_offline = c->bc_queue_qos0_offline;
	broker_limits_auto(c);
	b->b_limits.sl_max_sub_bytes = (size_t)c->bc_max_subscription_bytes;
	b->b_limits.sl_acct = &b->b_acct;
	b->b_limits.sl_obs = &b->b_sobs;
	b->b_acct.sa_max_sub_bytes = (size_t)c->bc_max_subscription_bytes_total;
	b->b_acct.sa_max_msg_bytes = (size_t)c->bc_max_queued_bytes_total;
	broker_random(key, sizeof(key));
	broker_random(seed, sizeof(seed));
	b->b_id_seed = seed[0] ^ seed[1];
	if ((b->b_sessions = session_table_new(seed[0])) == NULL ||
	    (b->b_router = router_new(key)) == NULL ||
	    (b->b_retain = retain_new(c->bc_max_retained_messages,
	    seed[1])) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	retain_set_limits(b->b_retain, c->bc_max_retained_messages,
	    (size_t)c->bc_max_retained_bytes,
	    (size_t)c->bc_max_retained_message_size);
	ev_prepare_init(&b->b_prepare_w, NULL);
	return b;
fail:
	broker_free(b);
	return NULL;
}

/* Flushes every dirty client once and frees the closed ones. */
static void
broker_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct broker *b = container_of(w, struct broker, b_prepare_w);
	struct client *c;

	/*
	 * data_dir: an ack whose batch is not yet durable stays unwritten
	 * (client_flush()); persist.c makes its client dirty again then.
	 */
	while ((c = TAILQ_FIRST(&b->b_dirty)) != NULL) {
		TAILQ_REMOVE(&b->b_dirty, c, c_dirty_entry);
		c->c_dirty = 0;
		(void)client_flush(c);
	}
	while ((c = TAILQ_FIRST(&b->b_dead)) != NULL) {
		TAILQ_REMOVE(&b->b_dead, c, c_entry);
		client_free(c);
	}
	/*
	 * This iteration's mutations to the store's writer thread, if it
	 * is idle; else they wait for it (group commit: whatever gathers
	 * while a batch is synced goes in the next one).
	 */
	if (b->b_store != NULL)
		persist_kick(b);
	/* The counts of close lines held back by a flood that stopped. */
	client_log_flush(b);
}

/* The pause after EMFILE is over: accept again. */
static void
broker_on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker_listener *l = container_of(w, struct broker_listener,
	    bl_pause_w);

	ev_io_start(loop, &l->bl_w);
}

static void
broker_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct broker_listener *l = container_of(w, struct broker_listener,
	    bl_w);
	struct broker *b = l->bl_broker;
	struct sockaddr_storage ss;
	struct transport *tr, *wtr;
	struct client *cl;
	socklen_t sl;
	char addr[SOCK_NTOP_LEN];
	int fd, i;

	/* A bounded batch, so one busy listener cannot starve the loop. */
	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		fd = accept4(l->bl_fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			/*
			 * Out of fds or buffers: the connection stays in the
			 * backlog and the listener readable, so without a
			 * pause the loop would spin, logging each turn
			 * (93,000 lines in 2 s).  Once, then a count.
			 */
			log_rate_warn(&accept_lr, "accept on %s", l->bl_addr);
			ev_io_stop(loop, &l->bl_w);
			ev_timer_set(&l->bl_pause_w, BROKER_ACCEPT_PAUSE, 0.);
			ev_timer_start(loop, &l->bl_pause_w);
			return;
		}
		if (b->b_nclients >= b->b_conf->bc_max_connections) {
			log_rate_warnx(&refused_lr, "%s: refused, "
			    "max_connections %u reached",
			    sock_ntop((struct sockaddr *)&ss, addr,
			    sizeof(addr)), b->b_conf->bc_max_connections);
			close(fd);
			continue;
		}
		if (l->bl_conf->lc_max_connections > 0 &&
		    l->bl_nclients >= l->bl_conf->lc_max_connections) {
			log_rate_warnx(&refused_lr, "%s: refused, listener "
			    "%s max_connections %u reached",
			    sock_ntop((struct sockaddr *)&ss, addr,
			    sizeof(addr)), l->bl_addr,
			    l->bl_conf->lc_max_connections);
			close(fd);
			continue;
		}
		/*
		 * A handshake costs OpenSSL's memory and our CPU before the
		 * peer has shown anything: at most max_tls_handshakes at
		 * once, over all listeners.
		 */
		if (l->bl_ctx != NULL && b->b_tls_handshakes >=
		    b->b_conf->bc_max_tls_handshakes) {
			log_rate_warnx(&tls_busy_lr, "%s: refused, "
			    "max_tls_handshakes %u in progress",
			    sock_ntop((struct sockaddr *)&ss, addr,
			    sizeof(addr)), b->b_conf->bc_max_tls_handshakes);
			close(fd);
			continue;
		}
		tr = NULL;
		if (l->bl_ctx != NULL && (tr = tls_transport_new(l->bl_ctx,
		    fd, l->bl_conf->lc_tls_conf.tc_use_identity_as_username)) ==
		    NULL) {
			log_rate_warnx(&accept_lr, "accept on %s: out of "
			    "memory for TLS", l->bl_addr);
			close(fd);
			continue;
		}
		/* WebSockets over the socket, or over TLS (wss). */
		if (l->bl_ws != NULL) {
			if ((wtr = ws_transport_new(fd, tr, l->bl_ws,
			    WS_TRANSPORT_MAX_OUT)) == NULL) {
				log_rate_warnx(&accept_lr, "accept on %s: out "
				    "of memory for websockets", l->bl_addr);
				transport_close(tr);
				close(fd);
				continue;
			}
			tr = wtr;
		}
		if ((cl = client_new(b, l, fd, (struct sockaddr *)&ss,
		    tr)) == NULL) {
			log_rate_warnx(&accept_lr, "accept on %s: out of "
			    "memory", l->bl_addr);
			transport_close(tr);
			close(fd);
			continue;
		}
		if (l->bl_ctx != NULL) {
			cl->c_tls_flags = CLIENT_TLS_HANDSHAKE;
			b->b_tls_handshakes++;
			if (l->bl_conf->lc_tls_conf.tc_use_identity_as_username)
				cl->c_tls_flags |= CLIENT_TLS_IDENTITY;
		}
	}
}

/*
 * Drops s when it has been offline for its session expiry interval
 * (5.0) or persistent_client_expiration (3.1.1), and the messages of an
 * offline session's queue that expired (no client pumps it).
 */
static void
broker_expire_one(struct session *s, void *arg)
{
	struct broker *b = arg;
	uint64_t now = (uint64_t)(ev_now(b->b_loop) * 1000.0);

	if (s->s_client == NULL && s->s_queued > 0)
		(void)session_expire_queue(s, clock_ms());
	if (!session_expiry_due(s, now, b->b_conf->bc_persistent_expiration_ms))
		return;
	log_rate_info(&expired_lr, "client %s: offline session expired (%s)",
	    s->s_id, s->s_has_expiry ? "session expiry interval" :
	    "persistent_client_expiration");
	b->b_stats.bs_sessions_expired++;
	broker_session_drop(b, s);
}

/* One slice of the expiry sweep: a full pass in about a minute. */
static void
broker_on_expire(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b = container_of(w, struct broker, b_expire_w);
	size_t n = session_table_buckets(b->b_sessions) / 60;

	(void)session_table_sweep(b->b_sessions, n < BROKER_EXPIRE_SLICE ?
	    BROKER_EXPIRE_SLICE : n, broker_expire_one, b);
	(void)retain_expire(b->b_retain, clock_ms(), BROKER_RETAIN_EXPIRE);
	(void)log_rate_flush(&expired_lr, "offline session expired");
	(void)log_rate_flush(&refused_lr, "refused at max_connections");
	(void)log_rate_flush(&accept_lr, "accept failures");
	(void)log_rate_flush(&tls_busy_lr, "refused at max_tls_handshakes");
}

static void
broker_swap_str(char **a, char **b)
{
	char *t = *a;

	*a = *b;
	*b = t;
}

/* lc's address as a listener's bl_addr says it; 0 or -1. */
static int
broker_listener_addr(const struct broker_listener_conf *lc, char *buf,
    size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (sock_addr_parse(lc->lc_addr.host, lc->lc_addr.port, &ss,
	    &sl) == -1)
		return -1;
	sock_ntop((struct sockaddr *)&ss, buf, len);
	return 0;
}

/*
 * Opens listener l for lc: its TLS context (from the files, every time:
 * a reload picks up rotated certificates) and its socket, or takes fd
 * (>= 0: the socket of the same address, kept across a reload).  The
 * watchers are set, not started.  0, or -1 with err (l holds nothing).
 */
static int
broker_listener_open(struct broker *b, struct broker_listener *l,
    const struct broker_listener_conf *lc, int fd, char *err, size_t errlen)
{
	const struct broker_conf *c = b->b_conf;
	struct sockaddr_storage ss;
	struct ws_conf wc;
	socklen_t sl;
	char tbuf[512];

	memset(l, 0, sizeof(*l));
	l->bl_fd = -1;
	if (sock_addr_parse(lc->lc_addr.host, lc->lc_addr.port, &ss,
	    &sl) == -1) {
		snprintf(err, errlen, "listen %s:%u: not a numeric address",
		    lc->lc_addr.host, lc->lc_addr.port);
		return -1;
	}
	sock_ntop((struct sockaddr *)&ss, l->bl_addr, sizeof(l->bl_addr));
	if (lc->lc_tls && (l->bl_ctx = tls_ctx_new(&lc->lc_tls_conf, tbuf,
	    sizeof(tbuf))) == NULL) {
		snprintf(err, errlen, "listen %s: %s", l->bl_addr, tbuf);
		return -1;
	}
	/*
	 * WebSockets: a frame carries at most one whole packet of the
	 * largest size (its fixed header is at most 5 bytes); browsers and
	 * paho send one packet per frame.
	 */
	wc.wc_max_request = c->bc_ws_max_request;
	wc.wc_max_frame = (uint64_t)c->bc_max_packet_size + 5;
	wc.wc_origins = lc->lc_origins.v;
	wc.wc_norigins = lc->lc_origins.n;
	if (lc->lc_protocol == BROKER_PROTO_WEBSOCKETS &&
	    (l->bl_ws = ws_tconf_new(&wc)) == NULL) {
		snprintf(err, errlen, "listen %s: out of memory", l->bl_addr);
		SSL_CTX_free(l->bl_ctx);
		l->bl_ctx = NULL;
		return -1;
	}
	/*
	 * listen_reuseport: several nodes on one host share the port; the
	 * kernel spreads connections over them and the cluster makes them
	 * one broker.
	 */
	if (fd == -1 && (fd = sock_listen((struct sockaddr *)&ss, sl,
	    BROKER_BACKLOG, SOCK_F_REUSEADDR |
	    (c->bc_listen_reuseport ? SOCK_F_REUSEPORT : 0) |
	    (ss.ss_family == AF_INET6 ? SOCK_F_V6ONLY : 0))) == -1) {
		snprintf(err, errlen, "listen %s: %s", l->bl_addr,
		    strerror(errno));
		SSL_CTX_free(l->bl_ctx);
		l->bl_ctx = NULL;
		ws_tconf_free(l->bl_ws);
		l->bl_ws = NULL;
		return -1;
	}
	l->bl_fd = fd;
	l->bl_broker = b;
	l->bl_conf = lc;
	ev_io_init(&l->bl_w, broker_on_accept, l->bl_fd, EV_READ);
	ev_init(&l->bl_pause_w, broker_on_accept_pause);
	return 0;
}

static void
broker_listener_log(const struct broker *b, const struct broker_listener *l,
    const char *what)
{
	log_info("%s %s (%s%s)%s", what, l->bl_addr,
	    l->bl_conf->lc_protocol == BROKER_PROTO_WEBSOCKETS ?
	    "websockets" : "mqtt", l->bl_ctx != NULL ? ", tls" : "",
	    b->b_conf->bc_listen_reuseport ? " (SO_REUSEPORT)" : "");
}

int
broker_start(struct broker *b, char *err, size_t errlen)
{
	const struct broker_conf *c = b->b_conf;
	struct broker_listener *l;
	size_t i;

	if ((b->b_listeners = calloc(c->bc_nlisten,
	    sizeof(*b->b_listeners))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < c->bc_nlisten; i++) {
		l = &b->b_listeners[b->b_nlisteners];
		if (broker_listener_open(b, l, &c->bc_listeners[i], -1, err,
		    errlen) != 0)
			return -1;
		ev_io_start(b->b_loop, &l->bl_w);
		b->b_nlisteners++;
		broker_listener_log(b, l, "listening on");
	}
	ev_prepare_init(&b->b_prepare_w, broker_on_prepare);
	ev_prepare_start(b->b_loop, &b->b_prepare_w);
	b->b_started = ev_now(b->b_loop);
	ev_timer_init(&b->b_expire_w, broker_on_expire, BROKER_EXPIRE_EVERY,
	    BROKER_EXPIRE_EVERY);
	/*
	 * Always on: a 5.0 session brings its own expiry interval, and
	 * messages expire in offline queues and the retained store.
	 */
	ev_timer_start(b->b_loop, &b->b_expire_w);
	return 0;
}

/*
 * The keys a reload applies (besides listen, listeners and the auth
 * files, which broker_reload() handles itself): limits that are read
 * when a connection or packet asks for them, so they apply to what
 * comes next.  log_file is the program's (main.c reopens it).  Keep
 * conf/broker.yaml's "Reload" section in step.
 */
static const char *const broker_reloadable[] = {
	"allow_anonymous", "password_file", "acl_file", "max_connections",
	"max_keepalive", "max_client_id_length", "max_qos", "max_topic_alias",
	"max_topic_levels", "max_subscriptions", "connect_timeout",
	"max_tls_handshakes", "log_file", NULL,
};

static void
broker_reload_changed(const char *key, void *arg)
{
	size_t i;

	for (i = 0; broker_reloadable[i] != NULL; i++)
		if (strcmp(broker_reloadable[i], key) == 0) {
			log_info("reload: %s changed", key);
			return;
		}
	log_warnx("reload: %s changed, but applies only at the next "
	    "restart", key);
}

/* Closes l's socket and frees its context (clients keep their own). */
static void
broker_listener_close(struct broker *b, struct broker_listener *l)
{
	ev_io_stop(b->b_loop, &l->bl_w);
	ev_timer_stop(b->b_loop, &l->bl_pause_w);
	if (l->bl_fd != -1)
		close(l->bl_fd);
	l->bl_fd = -1;
	SSL_CTX_free(l->bl_ctx);
	l->bl_ctx = NULL;
	ws_tconf_free(l->bl_ws);
	l->bl_ws = NULL;
}

int
broker_reload(struct broker *b, struct broker_conf *nc,
    const struct broker_auth *a, char *err, size_t errlen)
{
	struct broker_conf *oc = b->b_conf;
	struct broker_listener *nl = NULL, *ol = b->b_listeners;
	struct broker_listener_conf *tlc;
	struct client *c;
	size_t i, j, n = 0, *from = NULL, tn;
	int *kept = NULL, fd;
	char addr[SOCK_NTOP_LEN];

	/* Start's derived values stand unless the new file sets them. */
	if (nc->bc_max_connections == 0)
		nc->bc_max_connections = oc->bc_max_connections;
	if (nc->bc_max_sessions == 0)
		nc->bc_max_sessions = oc->bc_max_sessions;
	if ((nl = calloc(nc->bc_nlisten, sizeof(*nl))) == NULL ||
	    (from = calloc(nc->bc_nlisten, sizeof(*from))) == NULL ||
	    (kept = calloc(b->b_nlisteners + 1, sizeof(*kept))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Everything that can fail first: contexts, new sockets. */
	for (n = 0; n < nc->bc_nlisten; n++) {
		from[n] = SIZE_MAX;
		fd = -1;
		for (j = 0; j < b->b_nlisteners; j++) {
			if (kept[j] || ol[j].bl_conf->lc_protocol !=
			    nc->bc_listeners[n].lc_protocol)
				continue;
			if (broker_listener_addr(&nc->bc_listeners[n], addr,
			    sizeof(addr)) == 0 &&
			    strcmp(addr, ol[j].bl_addr) == 0) {
				kept[j] = 1;
				from[n] = j;
				fd = ol[j].bl_fd;
				break;
			}
		}
		if (broker_listener_open(b, &nl[n], &nc->bc_listeners[n], fd,
		    err, errlen) != 0) {
			if (from[n] != SIZE_MAX)
				kept[from[n]] = 0;
			goto fail;
		}
	}
	/* Commit: nothing below fails. */
	broker_conf_diff(oc, nc, broker_reload_changed, NULL);
	for (i = 0; i < nc->bc_nlisten; i++) {
		if (from[i] != SIZE_MAX) {
			nl[i].bl_nclients = ol[from[i]].bl_nclients;
			ol[from[i]].bl_fd = -1;	/* moved */
		}
	}
	TAILQ_FOREACH(c, &b->b_clients, c_entry) {
		if (c->c_listener == NULL)
			continue;
		j = (size_t)(c->c_listener - ol);
		c->c_listener = NULL;
		for (i = 0; i < nc->bc_nlisten; i++)
			if (from[i] == j)
				c->c_listener = &nl[i];
	}
	for (j = 0; j < b->b_nlisteners; j++) {
		if (!kept[j])
			log_info("reload: no longer listening on %s",
			    ol[j].bl_addr);
		broker_listener_close(b, &ol[j]);
	}
	free(ol);
	/* The listeners' conf moves to the running one; nl points there. */
	tlc = oc->bc_listeners;
	tn = oc->bc_nlisten;
	oc->bc_listeners = nc->bc_listeners;
	oc->bc_nlisten = nc->bc_nlisten;
	nc->bc_listeners = tlc;
	nc->bc_nlisten = tn;
	b->b_listeners = nl;
	b->b_nlisteners = oc->bc_nlisten;
	for (i = 0; i < b->b_nlisteners; i++) {
		ev_io_start(b->b_loop, &nl[i].bl_w);
		broker_listener_log(b, &nl[i], from[i] != SIZE_MAX ?
		    "reload: listening on" : "reload: now listening on");
	}
	/* The reloadable keys; the strings swap, nc frees the old ones. */
	oc->bc_allow_anonymous = nc->bc_allow_anonymous;
	oc->bc_max_connections = nc->bc_max_connections;
	oc->bc_max_keepalive = nc->bc_max_keepalive;
	oc->bc_max_topic_alias = nc->bc_max_topic_alias;
	oc->bc_max_client_id_length = nc->bc_max_client_id_length;
	oc->bc_max_qos = nc->bc_max_qos;
	oc->bc_max_topic_levels = nc->bc_max_topic_levels;
	oc->bc_max_subscriptions = nc->bc_max_subscriptions;
	oc->bc_connect_timeout_ms = nc->bc_connect_timeout_ms;
	oc->bc_max_tls_handshakes = nc->bc_max_tls_handshakes;
	broker_swap_str(&oc->bc_password_file, &nc->bc_password_file);
	broker_swap_str(&oc->bc_acl_file, &nc->bc_acl_file);
	broker_swap_str(&oc->bc_log_file, &nc->bc_log_file);
	broker_set_auth(b, a);
	broker_conf_free(nc);
	free(from);
	free(kept);
	return 0;
fail:
	for (i = 0; i < n; i++) {
		if (from[i] != SIZE_MAX)
			nl[i].bl_fd = -1;	/* still the old listener's */
		broker_listener_close(b, &nl[i]);
	}
	free(nl);
	free(from);
	free(kept);
	if (a->ba_free != NULL)
		a->ba_free(a->ba_arg);
	broker_conf_free(nc);
	return -1;
}

void
broker_free(struct broker *b)
{
	struct client *c;
	struct session *s;
	struct will_wait *ww;
	size_t i;

	if (b == NULL)
		return;
	/* The cluster and $SYS, above, were stopped by their owner. */
	memset(&b->b_hooks, 0, sizeof(b->b_hooks));
	memset(&b->b_sobs, 0, sizeof(b->b_sobs));
	/* The acks owed go out with the last writes below. */
	(void)persist_commit(b);
	if (ev_is_active(&b->b_expire_w))
		ev_timer_stop(b->b_loop, &b->b_expire_w);
	if (ev_is_active(&b->b_prepare_w))
		ev_prepare_stop(b->b_loop, &b->b_prepare_w);
	for (i = 0; i < b->b_nlisteners; i++)
		broker_listener_close(b, &b->b_listeners[i]);
	/* Before the listeners go: a closing client counts down its own.
	 * A 5.0 client is told why (0x8B, server shutting down). */
	while ((c = TAILQ_FIRST(&b->b_clients)) != NULL)
		client_disconnect(c, MQTT5_RC_SERVER_SHUTTING_DOWN, 0, NULL);
	free(b->b_listeners);
	while ((c = TAILQ_FIRST(&b->b_dead)) != NULL) {
		TAILQ_REMOVE(&b->b_dead, c, c_entry);
		client_free(c);
	}
	/* Not sent: the server goes away, not the sessions' clients. */
	while ((ww = TAILQ_FIRST(&b->b_wills)) != NULL)
		broker_will_end(b, ww, 0);
	/* Closed before the sessions are freed: they stay on disk. */
	persist_close(b);
	if (b->b_sessions != NULL) {
		while ((s = session_table_any(b->b_sessions)) != NULL)
			broker_session_drop(b, s);
	}
	session_table_free(b->b_sessions);
	router_free(b->b_router);
	retain_free(b->b_retain);
	if (b->b_auth.ba_free != NULL)
		b->b_auth.ba_free(b->b_auth.ba_arg);
	broker_conf_free(b->b_conf);
	free(b);
}

void
broker_set_hooks(struct broker *b, const struct broker_hooks *h)
{
	if (h != NULL)
		b->b_hooks = *h;
	else {
		memset(&b->b_hooks, 0, sizeof(b->b_hooks));
		/* No replicas any more: nothing to wait for. */
		broker_repl_done(b, UINT64_MAX);
	}
}

/* --- Acks that wait for the session replicas' holders ------------------ */

uint64_t
repl_sent(struct broker *b)
{
	return b->b_hooks.bh_repl_sent != NULL ?
	    b->b_hooks.bh_repl_sent(b->b_hooks.bh_arg) : 0;
}

void
repl_hold(struct client *c, uint64_t sent)
{
	struct broker *b = c->c_broker;
	uint64_t epoch;

	if (b->b_hooks.bh_repl_epoch == NULL ||
	    (epoch = b->b_hooks.bh_repl_epoch(b->b_hooks.bh_arg, sent)) == 0 ||
	    epoch <= b->b_repl_done)
		return;
	repl_unhold(c);
	c->c_repl_wait = 1;
	c->c_repl_epoch = epoch;
	TAILQ_INSERT_TAIL(&b->b_repl_waiters, c, c_repl_entry);
}

int
repl_waiting(const struct client *c)
{
	return c->c_repl_wait && c->c_repl_epoch > c->c_broker->b_repl_done;
}

void
repl_unhold(struct client *c)
{
	if (!c->c_repl_wait)
		return;
	TAILQ_REMOVE(&c->c_broker->b_repl_waiters, c, c_repl_entry);
	c->c_repl_wait = 0;
}

void
broker_repl_done(struct broker *b, uint64_t done)
{
	struct client *c, *next;

	if (done > b->b_repl_done)
		b->b_repl_done = done;
	for (c = TAILQ_FIRST(&b->b_repl_waiters); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_repl_entry);
		if (c->c_repl_epoch > b->b_repl_done)
			continue;
		repl_unhold(c);
		client_dirty(c);
	}
}

static struct will_wait *
broker_will_find(struct broker *b, const char *id)
{
	struct will_wait *ww;

	TAILQ_FOREACH(ww, &b->b_wills, ww_entry)
		if (strcmp(ww->ww_id, id) == 0)
			return ww;
	return NULL;
}

/* Takes ww off the list; publishes its will first when `send`. */
static void
broker_will_end(struct broker *b, struct will_wait *ww, int send)
{
	TAILQ_REMOVE(&b->b_wills, ww, ww_entry);
	ev_timer_stop(b->b_loop, &ww->ww_timer);
	if (send)
		(void)broker_publish_msg(b, ww->ww_msg);
	msg_unref(ww->ww_msg);
	free(ww);
}

static void
broker_on_will(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct will_wait *ww = container_of(w, struct will_wait, ww_timer);

	broker_will_end(ww->ww_broker, ww, 1);
}

void
broker_will(struct broker *b, const char *id, struct msg *w, uint32_t delay)
{
	struct will_wait *ww;
	size_t len = strlen(id);

	if ((ww = broker_will_find(b, id)) != NULL)
		broker_will_end(b, ww, 1);
	if (delay == 0 || (ww = malloc(sizeof(*ww) + len + 1)) == NULL) {
		/* Out of memory: sooner rather than never. */
		(void)broker_publish_msg(b, w);
		msg_unref(w);
		return;
	}
	ww->ww_broker = b;
	ww->ww_msg = w;
	memcpy(ww->ww_id, id, len + 1);
	ev_timer_init(&ww->ww_timer, broker_on_will, (ev_tstamp)delay, 0.);
	ev_timer_start(b->b_loop, &ww->ww_timer);
	TAILQ_INSERT_TAIL(&b->b_wills, ww, ww_entry);
}

void
broker_will_cancel(struct broker *b, const char *id)
{
	struct will_wait *ww;

	if (!TAILQ_EMPTY(&b->b_wills) && (ww = broker_will_find(b, id)) != NULL)
		broker_will_end(b, ww, 0);
}

void
broker_session_drop(struct broker *b, struct session *s)
{
	struct will_wait *ww;

	if (!TAILQ_EMPTY(&b->b_wills) &&
	    (ww = broker_will_find(b, s->s_id)) != NULL)
		broker_will_end(b, ww, 1);
	if (b->b_store != NULL && s->s_store_id != 0)
		persist_session_drop(b, s);
	router_unsubscribe_all(b->b_router, s);
	session_table_remove(b->b_sessions, s);
	session_free(s);
}

int
broker_acl(struct broker *b, const char *client_id, const char *username,
    struct bytes_view topic, int access)
{
	if (b->b_auth.ba_check_acl == NULL)
		return 1;
	return b->b_auth.ba_check_acl(b->b_auth.ba_arg, client_id, username,
	    topic, access);
}

/* Queues one copy for s; the common part of live and retained copies. */
static void
broker_enqueue(struct broker *b, struct session *s, struct msg *m,
    const struct session_deliv *d)
{
	uint8_t qos = d->sd_qos;
	struct client *c = s->s_client;
	const char *why = "out of memory";
	int rc;

	if (!broker_acl(b, s->s_id, s->s_username, msg_topic(m),
	    BROKER_ACL_READ))
		return;
	/* A slow reader loses QoS 0 first; QoS 1/2 wait in its queue. */
	if (c != NULL && qos == 0 &&
	    c->c_out.len >= b->b_conf->bc_max_output_buffer) {
		rc = CAIRN_ERR_LIMIT;
		why = "max_output_buffer";
		b->b_stats.bs_drop_output++;
	} else if (c != NULL && qos == 0 && client_out_over(c)) {
		rc = CAIRN_ERR_LIMIT;
		why = "max_output_bytes_total";
		b->b_stats.bs_drop_output_total++;
	} else if ((rc = session_enqueue_d(s, m, d)) == CAIRN_ERR_LIMIT)
		why = session_drop_name(s->s_drop_reason);
	if (rc == 0) {
		s->s_drop_logged = 0;
		/* Kept before it can be sent: session_next() may take it. */
		if (b->b_store != NULL && s->s_store_id != 0 && qos > 0)
			persist_out(b, s, TAILQ_LAST(&s->s_queue,
			    session_outq));
	} else if (rc == CAIRN_ERR_LIMIT || rc == CAIRN_ERR_NOMEM) {
		b->b_stats.bs_pub_dropped++;
		if (!s->s_drop_logged) {
			log_warnx("client %s: dropping messages (%s): queue "
			    "%zu messages, %zu bytes, output %zu bytes",
			    s->s_id, why, s->s_queued,
			    s->s_queued_bytes, c != NULL ? c->c_out.len : 0);
			s->s_drop_logged = 1;
		}
		return;
	}
	if (c != NULL)
		client_pump(c);
}

void
broker_deliver(struct session *s, struct msg *m,
    const struct session_deliv *d, void *arg)
{
	broker_enqueue(arg, s, m, d);
}

int
broker_deliver_hold(struct broker *b, struct session *s, struct msg *m,
    const struct session_deliv *d)
{
	if (d->sd_qos > 0 && s->s_client != NULL && !session_room(s, m))
		return CAIRN_ERR_LIMIT;
	broker_enqueue(b, s, m, d);
	return 0;
}

/* The client connecting as id whose CONNACK waits, or NULL. */
static struct client *
broker_connack_client(struct broker *b, const char *id, size_t len)
{
	struct session *s;
	struct client *c;

	if ((s = session_table_find(b->b_sessions, id, len)) == NULL ||
	    (c = s->s_client) == NULL || c->c_state != CLIENT_CONNECTED)
		return NULL;
	return c;
}

int
broker_connack_defer(struct broker *b, const char *id, size_t len)
{
	struct client *c;

	if ((c = broker_connack_client(b, id, len)) == NULL)
		return CAIRN_ERR_NOENT;
	c->c_connack_wait = 1;
	c->c_paused = 1;
	return 0;
}

void
broker_connack_ready(struct broker *b, const char *id, size_t len,
    int moved)
{
	struct client *c;

	if ((c = broker_connack_client(b, id, len)) == NULL ||
	    !c->c_connack_wait)
		return;
	c->c_connack_wait = 0;
	c->c_paused = 0;
	connect_accept(c, moved ? 1 : 0);
	if (c->c_state == CLIENT_CONNECTED)
		client_input_resume(c);
}

void
broker_hold_publishers(struct broker *b, int hold)
{
	struct client *c, *n;

	if (b->b_pub_hold == (hold != 0))
		return;
	b->b_pub_hold = hold != 0;
	if (hold)
		return;
	/* A resumed client may publish and hold everyone again: it stops
	 * at its next PUBLISH, as the others will. */
	for (c = TAILQ_FIRST(&b->b_clients); c != NULL; c = n) {
		n = TAILQ_NEXT(c, c_entry);
		if (!c->c_pub_held || c->c_state == CLIENT_CLOSED)
			continue;
		c->c_pub_held = 0;
		client_input_resume(c);
	}
}

void
broker_deliver_retained(struct broker *b, struct session *s, struct msg *m,
    uint8_t qos)
{
	broker_deliver_retained_id(b, s, m, qos, 0);
}

void
broker_deliver_retained_id(struct broker *b, struct session *s,
    struct msg *m, uint8_t qos, uint32_t sub_id)
{
	struct session_deliv d;

	d.sd_qos = qos;
	d.sd_retain = 1;
	d.sd_nids = sub_id != 0 ? 1 : 0;
	d.sd_ids[0] = sub_id;
	broker_enqueue(b, s, m, &d);
}

/* A client can push the retained store to its limits at will. */
static struct log_rate retain_lr = LOG_RATE_INIT(10);

int
broker_publish(struct broker *b, struct bytes_view topic,
    struct bytes_view payload, uint8_t qos, uint8_t retain)
{
	struct msg *m;
	int rc;

	if ((m = msg_new(topic, payload, qos, retain)) == NULL)
		return CAIRN_ERR_NOMEM;
	rc = broker_publish_msg(b, m);
	msg_unref(m);
	return rc;
}

int
broker_publish_msg(struct broker *b, struct msg *m)
{
	return broker_publish_msg_n(b, m, NULL);
}

int
broker_publish_msg_n(struct broker *b, struct msg *m, size_t *matched)
{
	size_t n;
	struct bytes_view topic = msg_topic(m);
	enum retain_limit why;
	struct msg *clr;
	uint8_t qos = m->m_qos, retain = m->m_retain;
	int rc;

	if (retain && (rc = retain_store(b->b_retain, m, &why)) != 0) {
		log_rate_warnx(&retain_lr, "retained message on %s (%zu "
		    "bytes) not kept, delivered live only: %s%s", m->m_topic,
		    m->m_payload_len, why != RETAIN_LIMIT_NONE ?
		    retain_limit_name(why) : cairn_strerror(rc),
		    why != RETAIN_LIMIT_NONE ? " reached" : "");
		/*
		 * Refused at a limit, the topic has no retained message
		 * here any more: the other nodes clear it too, rather than
		 * keep the older message this one dropped.
		 */
		if (why != RETAIN_LIMIT_NONE && (clr = msg_new(topic,
		    bytes_view_of("", 0), qos, 1)) != NULL) {
			if (b->b_store != NULL)
				persist_retained(b, clr);
			if (b->b_hooks.bh_retained != NULL)
				b->b_hooks.bh_retained(b->b_hooks.bh_arg, clr);
			msg_unref(clr);
		}
	} else if (retain) {
		if (b->b_store != NULL)
			persist_retained(b, m);
		if (b->b_hooks.bh_retained != NULL)
			b->b_hooks.bh_retained(b->b_hooks.bh_arg, m);
	}
	/* Forwarded copies carry RETAIN 0 [MQTT-3.3.1-9]. */
	n = router_route(b->b_router, m, broker_deliver, b);
	if (matched != NULL)
		*matched = n + router_last_forwards(b->b_router);
	return 0;
}
