/*
 * The cluster: peers, their links, the cluster listener, redial with
 * backoff, membership (join, leave, remove) and `cluster status`.  See
 * cluster.h and broker/cluster/CLUSTER.md; what flows on an UP link is
 * cluster_sync.c.
 *
 * A peer is a node this one knows by name: found by a strategy
 * (cluster_connect), named in the YAML `peers`, introduced by PEERS, or
 * met on an inbound link once that link is authenticated (never before:
 * a stranger gets no peer entry).  It keeps its resend buffer and dedup window
 * across link flaps.  When its link drops it is away for peer_grace:
 * its routes stay, QoS 1/2 forwards to it wait in its resend buffer and
 * go when the link is back; past the grace its routes and buffer go
 * (peer_grace 0: at once).  Two
 * links to one peer (both sides dialled at once) both finish the
 * handshake; then the one initiated by the node whose name sorts lower
 * stays, or, when one node initiated both, the newer one.
 */
#include "broker/cluster/cluster.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/cluster/cluster_int.h"
#include "agent/ring.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sock.h"

#define CLUSTER_BACKLOG		64
/* The first redial; they double up to redial_max (jittered). */
#define CLUSTER_REDIAL_MIN_MS	200
#define CLUSTER_COOKIE_MAX	1024

static void	cluster_on_accept(struct ev_loop *, ev_io *, int);
static void	peer_on_redial(struct ev_loop *, ev_timer *, int);
static void	peer_on_grace(struct ev_loop *, ev_timer *, int);
static void	peer_set_away(struct cluster *, struct peer *, int);
static void	cluster_on_forget(struct ev_loop *, ev_timer *, int);
static int	ban_any(const struct ctab_ent *, void *);
static struct ctab_ent *cluster_banned(struct cluster *, const char *);
static void	cluster_unban(struct cluster *, const char *);
static const char *cluster_lo_hello(void *, struct link *, const char *,
		    const uint8_t *);
static void	cluster_lo_up(void *, struct link *);
static void	cluster_lo_msg(void *, struct link *, const struct link_msg *);
static void	cluster_lo_drain(void *, struct link *);
static void	cluster_lo_closed(void *, struct link *);

uint64_t
cluster_stamp(struct cluster *c)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (now <= c->c_last_stamp)
		now = c->c_last_stamp + 1;
	c->c_last_stamp = now;
	return now;
}

uint64_t
cluster_now_ms(struct cluster *c)
{
	return (uint64_t)(ev_now(c->c_loop) * 1000.0);
}

/*
 * The cookie: the config's, else the first line of cookie_file or
 * ~/.erlang.cookie, trimmed, which must be readable by its owner only
 * (as erl insists).  0, or -1 with err set.
 */
static int
cluster_read_cookie(struct cluster *c, const struct broker_conf *bc,
    char *err, size_t errlen)
{
	char path[1024], why[1200];
	const char *home;
	char *buf;
	size_t n;

	if (bc->bc_cookie != NULL)
		return (c->c_cookie = strdup(bc->bc_cookie)) == NULL ? -1 : 0;
	if (bc->bc_cookie_file != NULL)
		snprintf(path, sizeof(path), "%s", bc->bc_cookie_file);
	else {
		home = getenv("HOME");
		snprintf(path, sizeof(path), "%s/.erlang.cookie",
		    home != NULL ? home : "");
	}
	/* A regular file, owner-only, capped: never a FIFO that hangs us. */
	if (file_read_all(path, CLUSTER_COOKIE_MAX, FILE_F_OWNER_ONLY, &buf,
	    &n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cookie file %s", why);
		return -1;
	}
	n = strcspn(buf, "\r\n");
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		snprintf(err, errlen, "cookie file %s: empty", path);
		return -1;
	}
	c->c_cookie = strdup(buf);
	explicit_bzero(buf, n);
	free(buf);
	if (c->c_cookie == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* What the broker (net) tells the cluster, through struct broker_hooks. */
static void
cluster_hook_retained(void *arg, const struct msg *m)
{
	cluster_retained(arg, m);
}

static void
cluster_hook_durable(void *arg, uint64_t gen)
{
	custody_durable(arg, gen);
}

static void
cluster_hook_store_failed(void *arg, uint64_t gen)
{
	custody_store_failed(arg, gen);
}

static uint64_t
cluster_hook_repl_sent(void *arg)
{
	return replica_sent(arg);
}

static uint64_t
cluster_hook_repl_epoch(void *arg, uint64_t sent)
{
	return replica_pub_epoch(arg, sent);
}

static void
cluster_hook_connected(void *arg, const char *id, size_t len, int persistent,
    int kept)
{
	cluster_claim(arg, id, len, persistent, kept);
}

void
cluster_set_status_cb(struct cluster *c, cluster_status_cb cb, void *arg)
{
	c->c_status_cb = cb;
	c->c_status_arg = arg;
}

struct cluster *
cluster_new(struct broker *b, struct ev_loop *loop, char *err, size_t errlen)
{
	const struct broker_conf *bc = b->b_conf;
	struct broker_hooks hooks;
	struct cluster *c;
	uint64_t seed[3];
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->c_broker = b;
	c->c_loop = loop;
	c->c_fd = -1;
	TAILQ_INIT(&c->c_peers);
	TAILQ_INIT(&c->c_links);
	TAILQ_INIT(&c->c_moves);
	TAILQ_INIT(&c->c_takes);
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed[0] = seed[1] = seed[2] = (uint64_t)time(NULL);
	if (ctab_init(&c->c_routes, seed[0]) != 0 ||
	    ctab_init(&c->c_retained, seed[1]) != 0 ||
	    ctab_init(&c->c_claims, seed[2]) != 0 ||
	    cluster_tombs_init(&c->c_tombs, bc->bc_max_retained_tombstones,
	    bc->bc_retained_tombstone_ttl_ms, seed[1] ^ seed[2]) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Any client can clear any topic: tombstones are capped in bytes. */
	cluster_tombs_set_max_bytes(&c->c_tombs,
	    (size_t)bc->bc_max_retained_tombstone_bytes);
	if (cluster_read_cookie(c, bc, err, errlen) != 0)
		goto fail;
	c->c_lconf.lc_cookie = bytes_view_of(c->c_cookie,
	    strlen(c->c_cookie));
	c->c_lconf.lc_max_frame = (size_t)bc->bc_max_frame;
	c->c_lconf.lc_tick = (ev_tstamp)bc->bc_tick_interval_ms / 1000.0;
	c->c_lconf.lc_dead = (ev_tstamp)bc->bc_dead_after_ms / 1000.0;
	c->c_lconf.lc_handshake = (ev_tstamp)bc->bc_handshake_timeout_ms /
	    1000.0;
	c->c_lconf.lc_soft_out = (size_t)bc->bc_max_frame;
	for (i = 0; i < LINK_PRELOG_KINDS; i++)
		c->c_prelog.lp_kind[i].lr_interval = 10;
	c->c_refuselog.lr_interval = 10;
	c->c_lconf.lc_prelog = &c->c_prelog;
	if (bc->bc_cluster_certfile != NULL &&
	    (c->c_lconf.lc_tls = link_tls_ctx_new(bc->bc_cluster_certfile,
	    bc->bc_cluster_keyfile, bc->bc_cluster_cafile, err,
	    errlen)) == NULL)
		goto fail;
	if (custody_init(c) != 0 ||
	    ctab_init(&c->c_banned, seed[0] ^ seed[2]) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ev_init(&c->c_forget_w, cluster_on_forget);
	ev_prepare_init(&c->c_fwd_w, cluster_sync_on_fwd);
	if (bc->bc_forget_after_ms > 0) {
		/* A sweep every quarter of it, at most every 5s. */
		c->c_forget_w.repeat = (ev_tstamp)bc->bc_forget_after_ms /
		    4000.0;
		if (c->c_forget_w.repeat > 5.0)
			c->c_forget_w.repeat = 5.0;
		ev_timer_again(loop, &c->c_forget_w);
	}
	c->c_lops.lo_hello = cluster_lo_hello;
	c->c_lops.lo_up = cluster_lo_up;
	c->c_lops.lo_msg = cluster_lo_msg;
	c->c_lops.lo_drain = cluster_lo_drain;
	c->c_lops.lo_closed = cluster_lo_closed;
	bytes_w_init(&c->c_gbuf, c->c_lconf.lc_max_frame -
	    CLUSTER_FRAME_SLACK);
	if ((c->c_repl = replica_new(c)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	router_set_hooks(b->b_router, cluster_on_forward, cluster_on_sub, c);
	hooks.bh_retained = cluster_hook_retained;
	hooks.bh_connected = cluster_hook_connected;
	hooks.bh_durable = cluster_hook_durable;
	hooks.bh_store_failed = cluster_hook_store_failed;
	hooks.bh_repl_sent = cluster_hook_repl_sent;
	hooks.bh_repl_epoch = cluster_hook_repl_epoch;
	hooks.bh_arg = c;
	broker_set_hooks(b, &hooks);
	return c;
fail:
	cluster_free(c);
	return NULL;
}

static struct peer *
peer_new(struct cluster *c, const char *name)
{
	struct peer *p;

	if (c->c_npeers >= c->c_broker->b_conf->bc_max_peers)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->p_name = strdup(name)) == NULL ||
	    ctab_init(&p->p_routes, c->c_routes.ct_seed ^ 0x5bd1e995u) != 0) {
		free(p->p_name);
		free(p);
		return NULL;
	}
	p->p_cluster = c;
	p->p_hash = ring_hash(name, strlen(name));
	if (p->p_hash == 0)
		p->p_hash = 1;		/* 0 is "none" on the link */
	p->p_rtt_ms = -1;
	p->p_seen = ev_now(c->c_loop);
	router_remote_init(&p->p_rr);
	/*
	 * Forward seqs start at the wall clock in ms << 20 when the peer is
	 * made, so that they start above what it saw from this node before:
	 * from its last run, or before a `cluster remove` forgot it while
	 * it kept its dedup window.
	 */
	cluster_fwdq_init(&p->p_fwdq, c->c_broker->b_conf->bc_max_forward_buffer,
	    cluster_stamp(c) << 20);
	cluster_fwdq_set_max_bytes(&p->p_fwdq,
	    (size_t)c->c_broker->b_conf->bc_max_forward_buffer_bytes);
	backoff_init(&p->p_backoff, CLUSTER_REDIAL_MIN_MS,
	    c->c_broker->b_conf->bc_redial_max_ms);
	ev_init(&p->p_redial_w, peer_on_redial);
	ev_init(&p->p_grace_w, peer_on_grace);
	cluster_sync_init(p);
	custody_peer_init(p);
	TAILQ_INSERT_TAIL(&c->c_peers, p, p_entry);
	c->c_npeers++;
	return p;
}

/* Forgets p: closes its links, drops its routes and resend buffer. */
static void
peer_free(struct cluster *c, struct peer *p)
{
	struct link *l, *n;

	ev_timer_stop(c->c_loop, &p->p_redial_w);
	ev_timer_stop(c->c_loop, &p->p_grace_w);
	peer_set_away(c, p, 0);
	if (p->p_link != NULL)
		replica_peer_down(c, p, 1);
	cluster_sync_down(c, p);
	if (!c->c_freeing)
		cluster_sync_peer_gone(c, p);
	TAILQ_FOREACH_SAFE(l, &c->c_links, l_entry, n)
		if (l->l_peer == p)
			l->l_peer = NULL;
	if (p->p_link != NULL) {
		l = p->p_link;
		p->p_link = NULL;
		link_close(l, c->c_freeing ? NULL : "peer forgotten");
	}
	if (p->p_dial != NULL) {
		l = p->p_dial;
		p->p_dial = NULL;
		link_close(l, NULL);
	}
	cluster_peer_routes_clear(p);
	ctab_fini(&p->p_routes);
	custody_peer_fini(c, p);
	c->c_cst.cs_drop_forgotten += p->p_fwdq.cq_n;
	cluster_fwdq_fini(&p->p_fwdq);
	TAILQ_REMOVE(&c->c_peers, p, p_entry);
	c->c_npeers--;
	free(p->p_name);
	free(p);
}

void
cluster_free(struct cluster *c)
{
	struct link *l;
	struct peer *p;

	if (c == NULL)
		return;
	c->c_freeing = 1;
	replica_free(c->c_repl);
	c->c_repl = NULL;
	cluster_sync_free(c);
	if (c->c_broker->b_router != NULL)
		router_set_hooks(c->c_broker->b_router, NULL, NULL, NULL);
	broker_set_hooks(c->c_broker, NULL);
	while ((p = TAILQ_FIRST(&c->c_peers)) != NULL) {
		/* No callbacks now: the links go with the cluster. */
		p->p_link = p->p_dial = NULL;
		peer_free(c, p);
	}
	while ((l = TAILQ_FIRST(&c->c_links)) != NULL) {
		TAILQ_REMOVE(&c->c_links, l, l_entry);
		link_destroy(l);
	}
	if (c->c_fd != -1) {
		ev_io_stop(c->c_loop, &c->c_accept_w);
		close(c->c_fd);
	}
	custody_fini(c);
	ev_timer_stop(c->c_loop, &c->c_forget_w);
	ev_prepare_stop(c->c_loop, &c->c_fwd_w);
	ctab_fini(&c->c_banned);
	ctab_fini(&c->c_routes);
	ctab_fini(&c->c_retained);
	ctab_fini(&c->c_claims);
	cluster_tombs_fini(&c->c_tombs);
	SSL_CTX_free(c->c_lconf.lc_tls);
	bytes_w_fini(&c->c_gbuf);
	free(c->c_gviews);
	free(c->c_cookie);
	free(c->c_self);
	free(c);
}

const char *
cluster_node_name(const struct cluster *c)
{
	return c != NULL ? c->c_self : NULL;
}

uint16_t
cluster_port(const struct cluster *c)
{
	return c != NULL ? c->c_port : 0;
}

void
cluster_set_link_cb(struct cluster *c, cluster_link_cb cb, void *arg)
{
	c->c_link_cb = cb;
	c->c_link_arg = arg;
}

void
cluster_set_resolve_cb(struct cluster *c, cluster_resolve_cb cb, void *arg)
{
	c->c_resolve_cb = cb;
	c->c_resolve_arg = arg;
}

struct peer *
cluster_peer_find(struct cluster *c, const char *name)
{
	struct peer *p;

	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (strcmp(p->p_name, name) == 0)
			return p;
	return NULL;
}

/* "name@host:port" into name and address; 0 or CAIRN_ERR_INVAL. */
static int
cluster_split(const char *spec, char *name, size_t namelen,
    struct sockaddr_storage *ss, socklen_t *sl)
{
	struct conf_hostport hp;
	const char *at, *colon;
	size_t n;
	int rc;

	if ((at = strchr(spec, '@')) == NULL || at == spec ||
	    (colon = strrchr(at, ':')) == NULL)
		return CAIRN_ERR_INVAL;
	n = (size_t)(colon - spec);
	if (n >= namelen || n > LINK_MAX_NAME)
		return CAIRN_ERR_INVAL;
	memset(&hp, 0, sizeof(hp));
	if ((rc = conf_parse_hostport(at + 1, 0, &hp)) != 0)
		return rc == CAIRN_ERR_NOMEM ? rc : CAIRN_ERR_INVAL;
	rc = sock_addr_parse(hp.host, hp.port, ss, sl) == 0 ? 0 :
	    CAIRN_ERR_INVAL;
	free(hp.host);
	memcpy(name, spec, n);
	name[n] = '\0';
	return rc;
}

/*
 * node was named by `peers` or `cluster join`: `cluster status` lists
 * it before its first handshake (so that a join that does not get
 * through shows), made here if it is not known yet.
 */
static void
cluster_mark_explicit(struct cluster *c, const char *node)
{
	struct peer *p;

	if ((p = cluster_peer_find(c, node)) == NULL &&
	    (strcmp(node, c->c_self) == 0 || (p = peer_new(c, node)) == NULL))
		return;
	p->p_explicit = 1;
}

static void
cluster_listen(struct cluster *c, int fd, const char *addr)
{
	c->c_fd = fd;
	ev_io_init(&c->c_accept_w, cluster_on_accept, fd, EV_READ);
	ev_io_start(c->c_loop, &c->c_accept_w);
	log_info("cluster: node %s listening on %s", c->c_self, addr);
}

int
cluster_start(struct cluster *c, char *err, size_t errlen)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	struct sockaddr_storage ss;
	socklen_t sl;
	char addr[SOCK_NTOP_LEN], host[200], name[LINK_MAX_NAME + 1];
	size_t i;
	int fd;

	if (sock_addr_parse(bc->bc_cluster_listen.host,
	    bc->bc_cluster_listen.port, &ss, &sl) == -1) {
		snprintf(err, errlen, "cluster_listen %s: not a numeric "
		    "address", bc->bc_cluster_listen.host);
		return -1;
	}
	if ((fd = sock_listen((struct sockaddr *)&ss, sl, CLUSTER_BACKLOG,
	    SOCK_F_REUSEADDR | (ss.ss_family == AF_INET6 ?
	    SOCK_F_V6ONLY : 0))) == -1) {
		snprintf(err, errlen, "cluster_listen %s: %s",
		    sock_ntop((struct sockaddr *)&ss, addr, sizeof(addr)),
		    strerror(errno));
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(err, errlen, "cluster_listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	c->c_port = sock_port((struct sockaddr *)&ss);
	if (bc->bc_node_name != NULL)
		c->c_self = strdup(bc->bc_node_name);
	else {
		/* broker<port>@<short host name>, as CLUSTER.md says. */
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		snprintf(name, sizeof(name), "broker%u@%s", c->c_port, host);
		c->c_self = strdup(name);
	}
	if (c->c_self == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	c->c_lconf.lc_self = c->c_self;
	cluster_listen(c, fd, sock_ntop((struct sockaddr *)&ss, addr,
	    sizeof(addr)));
	for (i = 0; i < bc->bc_peers.n; i++) {
		if (cluster_split(bc->bc_peers.v[i], name, sizeof(name), &ss,
		    &sl) != 0) {
			snprintf(err, errlen, "peers: '%s': expected "
			    "name@address:port", bc->bc_peers.v[i]);
			return -1;
		}
		if (strcmp(name, c->c_self) == 0)
			continue;	/* one list for every node is fine */
		(void)cluster_connect(c, name, (struct sockaddr *)&ss, sl);
		cluster_mark_explicit(c, name);
	}
	return 0;
}

/* 1 if l is an inbound link whose handshake is still running. */
static int
link_pending_in(const struct link *l)
{
	return !l->l_outbound && l->l_state != LINK_UP &&
	    l->l_state != LINK_CLOSED;
}

/*
 * Room for one more inbound handshake from ss, within max_handshakes in
 * total and max_handshakes_per_addr per source address.  Past a cap the
 * oldest pending handshake that has not named a known node gives up its
 * slot (from the same address first): a connection that holds a slot
 * and says nothing, or names a stranger, cannot keep the door shut.  0:
 * room made; -1: every slot is held by a handshake naming a known node.
 */
static int
cluster_hs_room(struct cluster *c, const struct sockaddr *ss)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	struct link *l, *same_old, *any_old;
	size_t total, same;
	int round;

	/* Each round evicts one; two are enough, four bound it anyway. */
	for (round = 0; round < 4; round++) {
		same_old = any_old = NULL;
		total = same = 0;
		TAILQ_FOREACH(l, &c->c_links, l_entry) {
			if (!link_pending_in(l))
				continue;
			total++;
			if (sock_same_addr((const struct sockaddr *)&l->l_ss,
			    ss)) {
				same++;
				if (!l->l_known && same_old == NULL)
					same_old = l;
			}
			if (!l->l_known && any_old == NULL)
				any_old = l;
		}
		if (same >= bc->bc_max_handshakes_per_addr)
			l = same_old;
		else if (total >= bc->bc_max_handshakes)
			l = any_old;
		else
			return 0;
		if (l == NULL)
			return -1;
		c->c_hs_evicted++;
		link_close(l, NULL);	/* lo_closed takes it off c_links */
	}
	return -1;
}

static void
cluster_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cluster *c = container_of(w, struct cluster, c_accept_w);
	struct sockaddr_storage ss;
	socklen_t sl;
	struct link *l;
	char addr[SOCK_NTOP_LEN];
	int fd, i;

	for (i = 0; i < 16; i++) {
		sl = sizeof(ss);
		fd = accept4(c->c_fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_rate_warn(&c->c_refuselog,
				    "cluster: accept");
			return;
		}
		if (cluster_hs_room(c, (struct sockaddr *)&ss) != 0) {
			c->c_hs_refused++;
			log_rate_warnx(&c->c_refuselog, "cluster: link from %s "
			    "refused: every handshake slot (max_handshakes "
			    "%u, max_handshakes_per_addr %u) is held by a "
			    "known node's", sock_ntop((struct sockaddr *)&ss,
			    addr, sizeof(addr)),
			    c->c_broker->b_conf->bc_max_handshakes,
			    c->c_broker->b_conf->bc_max_handshakes_per_addr);
			close(fd);
			continue;
		}
		if ((l = link_new(c->c_loop, &c->c_lconf, &c->c_lops, c, fd,
		    (struct sockaddr *)&ss, sl)) == NULL) {
			log_rate_warn(&c->c_refuselog, "cluster: link from %s",
			    sock_ntop((struct sockaddr *)&ss, addr,
			    sizeof(addr)));
			continue;
		}
		TAILQ_INSERT_TAIL(&c->c_links, l, l_entry);
		c->c_nlinks++;
	}
}

static int
cluster_dial(struct cluster *c, struct peer *p)
{
	struct link *l;

	if (p->p_sl == 0 || p->p_link != NULL || p->p_dial != NULL)
		return 0;
	if ((l = link_new(c->c_loop, &c->c_lconf, &c->c_lops, c, -1,
	    (struct sockaddr *)&p->p_ss, p->p_sl)) == NULL) {
		log_warn("cluster: link to %s", p->p_name);
		return errno == ENOMEM ? CAIRN_ERR_NOMEM : CAIRN_ERR_IO;
	}
	/* The outbound link knows whom it dials before the HELLO. */
	if ((l->l_name = strdup(p->p_name)) == NULL) {
		link_destroy(l);
		return CAIRN_ERR_NOMEM;
	}
	l->l_peer = p;
	p->p_dial = l;
	TAILQ_INSERT_TAIL(&c->c_links, l, l_entry);
	c->c_nlinks++;
	log_debug("cluster: dialling %s at %s", p->p_name, l->l_addr);
	return 0;
}

static void
peer_on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = container_of(w, struct peer, p_redial_w);

	(void)cluster_dial(p->p_cluster, p);
}

static void
peer_redial_later(struct cluster *c, struct peer *p)
{
	uint32_t rnd;

	if (p->p_sl == 0 || c->c_freeing)
		return;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)time(NULL);
	ev_timer_stop(c->c_loop, &p->p_redial_w);
	ev_timer_set(&p->p_redial_w,
	    (ev_tstamp)backoff_next(&p->p_backoff, rnd) / 1000.0, 0.);
	ev_timer_start(c->c_loop, &p->p_redial_w);
}

void
cluster_peer_caps(struct cluster *c, struct peer *p)
{
	const struct broker_conf *bc = c->c_broker->b_conf;

	if (p->p_link != NULL) {
		/*
		 * Up: publishers here wait at max_forward_buffer (custody.c);
		 * twice it is what they may have sent before they noticed,
		 * and a spool just back may hold more (in bytes, the spool's
		 * cap): it drains, with publishers held meanwhile.
		 */
		p->p_fwdq.cq_max = SIZE_MAX;
		cluster_fwdq_set_max_bytes(&p->p_fwdq, (size_t)MAX(
		    2 * bc->bc_max_forward_buffer_bytes,
		    bc->bc_max_peer_spool_bytes));
		if (bc->bc_max_peer_spool_bytes == 0)
			p->p_fwdq.cq_max = 2 * (size_t)bc->bc_max_forward_buffer;
	} else if (bc->bc_max_peer_spool_bytes > 0) {
		/* Away: the spool, bounded in bytes (the oldest go). */
		p->p_fwdq.cq_max = SIZE_MAX;
		cluster_fwdq_set_max_bytes(&p->p_fwdq,
		    (size_t)bc->bc_max_peer_spool_bytes);
	} else {
		p->p_fwdq.cq_max = bc->bc_max_forward_buffer;
		cluster_fwdq_set_max_bytes(&p->p_fwdq,
		    (size_t)bc->bc_max_forward_buffer_bytes);
	}
}

static void
peer_set_away(struct cluster *c, struct peer *p, int away)
{
	if (p->p_away == away)
		return;
	p->p_away = away;
	p->p_rr.rr_away = away;
	if (away)
		c->c_naway++;
	else
		c->c_naway--;
}

/*
 * The grace of an away peer is over: without a spool its routes and
 * buffer go; with one (max_peer_spool_bytes), its routes stay and its
 * QoS 1/2 forwards keep going to the spool until it is back or
 * forgotten.
 */
static void
peer_on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = container_of(w, struct peer, p_grace_w);
	struct cluster *c = p->p_cluster;
	size_t n;

	if (!p->p_away || p->p_link != NULL)
		return;
	if (c->c_broker->b_conf->bc_max_peer_spool_bytes > 0) {
		log_warnx("cluster: node %s not back within peer_grace: its "
		    "routes kept, %zu QoS 1/2 forwards (%zu bytes) spooled "
		    "for it (max_peer_spool_bytes %llu, %llu oldest dropped "
		    "so far)", p->p_name, p->p_fwdq.cq_n, p->p_fwdq.cq_bytes,
		    (unsigned long long)c->c_broker->b_conf->
		    bc_max_peer_spool_bytes,
		    (unsigned long long)p->p_away_dropped);
		return;
	}
	peer_set_away(c, p, 0);
	cluster_peer_routes_clear(p);
	n = cluster_fwdq_clear(&p->p_fwdq);
	p->p_dropped += n;
	log_warnx("cluster: node %s not back within peer_grace: its routes "
	    "removed, %zu buffered forwards dropped (%llu more dropped at "
	    "max_forward_buffer while away)", p->p_name, n,
	    (unsigned long long)p->p_away_dropped);
}

/* p's link dropped: away for peer_grace, or gone at once. */
static void
peer_away(struct cluster *c, struct peer *p)
{
	uint64_t grace = c->c_broker->b_conf->bc_peer_grace_ms;

	if (c->c_freeing)
		return;
	if (grace == 0) {
		/* A dead node's routes go at once. */
		cluster_peer_routes_clear(p);
		return;
	}
	if (p->p_away)
		return;		/* a new link died before its handshake */
	peer_set_away(c, p, 1);
	p->p_away_dropped = 0;
	cluster_peer_caps(c, p);
	custody_sender_check(c, p);
	ev_timer_stop(c->c_loop, &p->p_grace_w);
	ev_timer_set(&p->p_grace_w, (ev_tstamp)grace / 1000.0, 0.);
	ev_timer_start(c->c_loop, &p->p_grace_w);
	log_info("cluster: node %s away: its routes kept and its QoS 1/2 "
	    "forwards buffered for peer_grace %.1fs", p->p_name,
	    (double)grace / 1000.0);
}

/* p's link is up again within the grace: the buffer goes now. */
static void
peer_back(struct cluster *c, struct peer *p)
{
	if (!p->p_away)
		return;
	peer_set_away(c, p, 0);
	ev_timer_stop(c->c_loop, &p->p_grace_w);
	log_info("cluster: node %s back: resending %zu buffered forwards "
	    "(%llu oldest dropped while away, at max_peer_spool_bytes or "
	    "max_forward_buffer)", p->p_name, p->p_fwdq.cq_n,
	    (unsigned long long)p->p_away_dropped);
}

int
cluster_connect(struct cluster *c, const char *node,
    const struct sockaddr *sa, socklen_t salen)
{
	struct peer *p;

	if (c == NULL || c->c_self == NULL)
		return CAIRN_ERR_INVAL;
	if (!link_name_valid(bytes_view_of(node, strlen(node))) ||
	    strchr(node, '@') == NULL || strcmp(node, c->c_self) == 0 ||
	    salen > sizeof(p->p_ss))
		return CAIRN_ERR_INVAL;
	/* Left, or removed: discovery and PEERS do not bring it back. */
	if (c->c_left || cluster_banned(c, node) != NULL)
		return CAIRN_ERR_DENIED;
	if ((p = cluster_peer_find(c, node)) == NULL) {
		if (c->c_npeers >= c->c_broker->b_conf->bc_max_peers)
			return CAIRN_ERR_LIMIT;
		if ((p = peer_new(c, node)) == NULL)
			return CAIRN_ERR_NOMEM;
	}
	memcpy(&p->p_ss, sa, salen);
	p->p_sl = salen;
	p->p_seen = ev_now(c->c_loop);
	if (p->p_link != NULL || p->p_dial != NULL)
		return 0;
	ev_timer_stop(c->c_loop, &p->p_redial_w);
	return cluster_dial(c, p);
}

int
cluster_link_up(struct cluster *c, const char *node)
{
	struct peer *p;

	if (c == NULL || (p = cluster_peer_find(c, node)) == NULL)
		return 0;
	/* Asked by discovery's health check: the node is still listed. */
	p->p_seen = ev_now(c->c_loop);
	return p->p_link != NULL && p->p_link->l_state == LINK_UP;
}

int
cluster_join(struct cluster *c, const char *node)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char name[LINK_MAX_NAME + 1];
	const char *at;
	int rc;

	if (c == NULL || (at = strchr(node, '@')) == NULL)
		return CAIRN_ERR_INVAL;
	/* Joining again ends a leave, and the removal of that node. */
	if (c->c_left)
		log_info("cluster: joining again after a leave");
	c->c_left = 0;
	if (strchr(at, ':') != NULL) {
		if (cluster_split(node, name, sizeof(name), &ss, &sl) != 0)
			return CAIRN_ERR_INVAL;
		cluster_unban(c, name);
		if ((rc = cluster_connect(c, name, (struct sockaddr *)&ss,
		    sl)) == 0)
			cluster_mark_explicit(c, name);
		return rc;
	}
	cluster_unban(c, node);
	if (c->c_resolve_cb == NULL)
		return CAIRN_ERR_NOENT;
	if ((rc = c->c_resolve_cb(c->c_resolve_arg, node)) == 0 &&
	    link_name_valid(bytes_view_of(node, strlen(node))))
		cluster_mark_explicit(c, node);
	return rc;
}

size_t
cluster_leave(struct cluster *c)
{
	struct peer *p;
	size_t n = 0;

	if (c == NULL)
		return 0;
	c->c_left = 1;
	while ((p = TAILQ_FIRST(&c->c_peers)) != NULL) {
		if (p->p_link != NULL)
			n++;
		peer_free(c, p);
	}
	log_info("cluster: left the cluster, %zu links closed; no link is "
	    "made or accepted until `cluster join`", n);
	return n;
}

int
cluster_remove(struct cluster *c, const char *node)
{
	struct ctab_ent *e;
	struct peer *p;

	if (c == NULL || (p = cluster_peer_find(c, node)) == NULL)
		return CAIRN_ERR_NOENT;
	/* Bounded: one entry per removal, at most max_peers of them. */
	if (c->c_banned.ct_count >= c->c_broker->b_conf->bc_max_peers)
		(void)ctab_sweep(&c->c_banned, c->c_banned.ct_nbuckets,
		    ban_any, NULL);
	if ((e = ctab_put(&c->c_banned, bytes_view_of(node, strlen(node)),
	    NULL)) != NULL)
		e->ce_num = p->p_incarnation;
	log_info("cluster: node %s removed: not linked again until `cluster "
	    "join` or its restart", node);
	peer_free(c, p);
	return 0;
}

/* Forgets every removal (ctab_sweep()'s test: all of them). */
static int
ban_any(const struct ctab_ent *e, void *arg)
{
	(void)e;
	(void)arg;
	return 1;
}

static struct ctab_ent *
cluster_banned(struct cluster *c, const char *node)
{
	if (c->c_banned.ct_count == 0)
		return NULL;
	return ctab_get(&c->c_banned, bytes_view_of(node, strlen(node)));
}

static void
cluster_unban(struct cluster *c, const char *node)
{
	struct ctab_ent *e;

	if ((e = cluster_banned(c, node)) != NULL)
		ctab_del(&c->c_banned, e);
}

/*
 * forget_after: a peer with no link that no discovery source named for
 * that long (a killed node epmd no longer lists, a host gone) is
 * forgotten: no longer listed, no longer dialled; its spool is dropped
 * (counted).  Those named by `peers` or `cluster join` stay.
 */
static void
cluster_on_forget(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *c = container_of(w, struct cluster, c_forget_w);
	ev_tstamp after;
	struct peer *p, *n;

	(void)revents;
	after = (ev_tstamp)c->c_broker->b_conf->bc_forget_after_ms / 1000.0;
	TAILQ_FOREACH_SAFE(p, &c->c_peers, p_entry, n) {
		if (p->p_link != NULL || p->p_explicit ||
		    ev_now(loop) - p->p_seen < after)
			continue;
		log_info("cluster: node %s forgotten: no link and named by no "
		    "discovery source for forget_after %.1fs (%zu spooled "
		    "forwards dropped)", p->p_name, after, p->p_fwdq.cq_n);
		c->c_forgotten++;
		peer_free(c, p);
	}
}

void
cluster_broadcast(struct cluster *c, const struct link_msg *m)
{
	struct peer *p, *n;

	TAILQ_FOREACH_SAFE(p, &c->c_peers, p_entry, n)
		if (p->p_link != NULL)
			(void)link_send(p->p_link, m);
}

/* Link callbacks. */

static const char *
cluster_lo_hello(void *arg, struct link *l, const char *name,
    const uint8_t *nonce)
{
	struct cluster *c = arg;
	struct link *o;
	struct peer *p;

	if (strchr(name, '@') == NULL)
		return "the peer's name is not name@host";
	if (c->c_left)
		return "this node left the cluster (`cluster join` to link "
		    "again)";
	/* One of our own nonces back, from any of our handshakes: reflection. */
	TAILQ_FOREACH(o, &c->c_links, l_entry)
		if (o != l && o->l_state == LINK_HANDSHAKE &&
		    memcmp(o->l_hs.hs_nonce, nonce, LINK_NONCE_LEN) == 0)
			return "the peer sent the nonce of another of this "
			    "node's handshakes (reflection)";
	if (l->l_outbound) {
		p = l->l_peer;
		if (p == NULL)
			return "peer forgotten";
		if (strcmp(p->p_name, name) != 0)
			return "reached another node than the one dialled";
		return NULL;
	}
	/*
	 * Nothing is made for the peer before it proves the cookie; a
	 * handshake naming a node we know keeps its slot against newcomers
	 * (one such handshake per name: the others can be evicted).
	 */
	if (cluster_peer_find(c, name) != NULL) {
		TAILQ_FOREACH(o, &c->c_links, l_entry)
			if (o != l && o->l_known && link_pending_in(o) &&
			    strcmp(o->l_hs.hs_peer, name) == 0)
				break;
		l->l_known = o == NULL;
	}
	return NULL;
}

/* The node that initiated l. */
static const char *
cluster_initiator(struct cluster *c, const struct link *l)
{
	return l->l_outbound ? c->c_self : l->l_name;
}

static void
cluster_lo_up(void *arg, struct link *l)
{
	struct cluster *c = arg;
	struct peer *p = l->l_peer;
	struct link *old;
	const char *io, *in;

	if (!l->l_outbound && p == NULL) {
		/*
		 * A removed node: its CREDIT (its first frame) says whether
		 * it restarted since; nothing is made for it until then.
		 */
		if (cluster_banned(c, l->l_name) != NULL) {
			l->l_ban_check = 1;
			return;
		}
		/* Authenticated now: the peer may have an entry. */
		if ((p = cluster_peer_find(c, l->l_name)) == NULL &&
		    (p = peer_new(c, l->l_name)) == NULL) {
			link_close(l, "max_peers %u reached (or out of memory)",
			    c->c_broker->b_conf->bc_max_peers);
			return;
		}
		l->l_peer = p;
	}
	if (p == NULL) {
		link_close(l, "peer forgotten");
		return;
	}
	if (p->p_dial == l)
		p->p_dial = NULL;
	if ((old = p->p_link) != NULL) {
		/* Simultaneous connect: the same choice on both sides. */
		io = cluster_initiator(c, old);
		in = cluster_initiator(c, l);
		if (strcmp(io, in) != 0 && strcmp(io, in) < 0) {
			link_close(l, "duplicate link: keeping the one %s "
			    "initiated", io);
			return;
		}
		p->p_link = NULL;
		link_close(old, "duplicate link: keeping the one %s "
		    "initiated", in);
	}
	p->p_link = l;
	p->p_link_gen++;
	p->p_ever_up = 1;
	p->p_seen = ev_now(c->c_loop);
	peer_back(c, p);
	backoff_reset(&p->p_backoff);
	ev_timer_stop(c->c_loop, &p->p_redial_w);
	cluster_sync_up(c, p);
	if (p->p_link == l)
		replica_peer_up(c, p);
	if (p->p_link == l && c->c_link_cb != NULL)
		c->c_link_cb(c->c_link_arg, p->p_name, 1);
	if (p->p_link == l)
		cluster_sync_peers_all(c);
}

/* Removed nodes dial in until they are told apart by a restart. */
static struct log_rate ban_lr = LOG_RATE_INIT(10);

/* The first frame of a removed node's link: its CREDIT, or it goes. */
static void
cluster_ban_check(struct cluster *c, struct link *l, const struct link_msg *m)
{
	struct ctab_ent *e = cluster_banned(c, l->l_name);

	l->l_ban_check = 0;
	if (e != NULL && (m->type != LINK_CREDIT || e->ce_num == 0 ||
	    e->ce_num == m->u.credit.incarnation)) {
		log_rate_info(&ban_lr, "cluster: link from %s (%s) refused: "
		    "removed by `cluster remove` (until `cluster join` or its "
		    "restart)", l->l_name, l->l_addr);
		link_close(l, NULL);
		return;
	}
	if (e != NULL) {
		log_info("cluster: node %s restarted since its removal: "
		    "linked again", l->l_name);
		ctab_del(&c->c_banned, e);
	}
	cluster_lo_up(c, l);
	if (l->l_state == LINK_UP && l->l_peer != NULL)
		cluster_lo_msg(c, l, m);
}

static void
cluster_lo_msg(void *arg, struct link *l, const struct link_msg *m)
{
	struct peer *p = l->l_peer;

	if (p == NULL && l->l_ban_check) {
		cluster_ban_check(arg, l, m);
		return;
	}
	if (p == NULL || p->p_link != l)
		return;		/* a duplicate about to close */
	cluster_sync_msg(arg, p, m);
}

static void
cluster_lo_drain(void *arg, struct link *l)
{
	struct peer *p = l->l_peer;

	if (p != NULL && p->p_link == l)
		cluster_sync_pump(arg, p);
}

static void
cluster_lo_closed(void *arg, struct link *l)
{
	struct cluster *c = arg;
	struct peer *p = l->l_peer;

	TAILQ_REMOVE(&c->c_links, l, l_entry);
	c->c_nlinks--;
	if (p == NULL)
		return;
	if (p->p_dial == l)
		p->p_dial = NULL;
	if (p->p_link == l) {
		p->p_link = NULL;
		cluster_sync_down(c, p);
		if (!c->c_freeing)
			cluster_sync_peer_gone(c, p);
		peer_away(c, p);
		replica_peer_down(c, p, 0);
		if (c->c_link_cb != NULL && !c->c_freeing)
			c->c_link_cb(c->c_link_arg, p->p_name, 0);
	}
	if (p->p_link == NULL && p->p_dial == NULL)
		peer_redial_later(c, p);
}

int
cluster_status_json(struct cluster *c, struct bytes_w *w)
{
	struct peer *p;
	struct link *l;
	const char *state;
	size_t npend;
	int first = 1;

	bytes_put_str(w, "{\"node\":");
	json_put_str(w, c->c_self != NULL ? c->c_self : "");
	bytes_printf(w, ",\"port\":%u,\"peers\":[", c->c_port);
	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		/* Not a node that never got through, unless asked for. */
		if (!p->p_ever_up && !p->p_explicit)
			continue;
		l = p->p_link != NULL ? p->p_link : p->p_dial;
		state = l != NULL ? link_state_name(l) : "down";
		bytes_put_str(w, first ? "{\"node\":" : ",{\"node\":");
		first = 0;
		json_put_str(w, p->p_name);
		bytes_put_str(w, ",\"state\":");
		json_put_str(w, state);
		bytes_printf(w, ",\"away\":%s", p->p_away ? "true" : "false");
		bytes_put_str(w, ",\"dir\":");
		json_put_str(w, l == NULL ? "" : l->l_outbound ? "out" : "in");
		bytes_printf(w, ",\"routes\":%zu,\"forward_pending\":%zu,"
		    "\"forward_dropped\":%llu,\"addr\":",
		    p->p_routes.ct_count, p->p_fwdq.cq_n,
		    (unsigned long long)p->p_dropped);
		json_put_str(w, l != NULL ? l->l_addr : "");
		bytes_printf(w, ",\"forward_bytes\":%zu,\"held\":%zu,"
		    "\"acks_waiting\":%zu,\"holding_publishers\":%s",
		    p->p_fwdq.cq_bytes, p->p_nheld, p->p_npend,
		    p->p_holding ? "true" : "false");
		if (p->p_rtt_ms >= 0)
			bytes_printf(w, ",\"rtt_ms\":%.3f", p->p_rtt_ms);
		else
			bytes_put_str(w, ",\"rtt_ms\":null");
		bytes_put_str(w, "}");
	}
	npend = 0;
	TAILQ_FOREACH(l, &c->c_links, l_entry)
		if (link_pending_in(l))
			npend++;
	bytes_printf(w, "],\"custody\":{\"held_now\":%zu,\"held\":%llu,"
	    "\"hold_timeouts\":%llu,\"publisher_holds\":%llu,"
	    "\"acks_withheld\":%llu,"
	    "\"publishers_held\":%s,\"dropped\":{\"spool_full\":%llu,"
	    "\"buffer_full\":%llu,\"forgotten\":%llu,\"nomem\":%llu,"
	    "\"expired\":%llu}}",
	    c->c_nheld, (unsigned long long)c->c_cst.cs_held,
	    (unsigned long long)c->c_cst.cs_hold_timeouts,
	    (unsigned long long)c->c_cst.cs_publisher_holds,
	    (unsigned long long)c->c_cst.cs_acks_withheld,
	    c->c_nholding > 0 ? "true" : "false",
	    (unsigned long long)c->c_cst.cs_drop_spool_full,
	    (unsigned long long)c->c_cst.cs_drop_buffer_full,
	    (unsigned long long)c->c_cst.cs_drop_forgotten,
	    (unsigned long long)c->c_cst.cs_drop_nomem,
	    (unsigned long long)c->c_cst.cs_drop_expired);
	bytes_printf(w, ",\"routes_local\":%zu,\"retained_stamps\":%zu,"
	    "\"claims\":%zu,\"tls\":%s,\"handshakes\":{\"pending\":%zu,"
	    "\"refused\":%llu,\"evicted\":%llu},",
	    c->c_routes.ct_count,
	    c->c_retained.ct_count, c->c_claims.ct_count,
	    c->c_lconf.lc_tls != NULL ? "true" : "false", npend,
	    (unsigned long long)c->c_hs_refused,
	    (unsigned long long)c->c_hs_evicted);
	replica_status_json(c, w);
	bytes_put_str(w, ",\"memory\":");
	if (c->c_status_cb != NULL)
		(void)c->c_status_cb(c->c_status_arg, w);
	else
		bytes_put_str(w, "{}");
	bytes_put_str(w, "}");
	return w->err;
}

const struct cluster_rtt *
cluster_rtt_get(const struct cluster *c)
{
	return &c->c_rtt;
}

void
cluster_peers_each(struct cluster *c,
    void (*fn)(void *arg, const struct cluster_peer_info *), void *arg)
{
	struct cluster_peer_info pi;
	struct peer *p;
	struct link *l;

	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		if (!p->p_ever_up && !p->p_explicit)
			continue;
		l = p->p_link != NULL ? p->p_link : p->p_dial;
		memset(&pi, 0, sizeof(pi));
		pi.pi_node = p->p_name;
		pi.pi_state = l != NULL ? link_state_name(l) : "down";
		pi.pi_up = p->p_link != NULL;
		pi.pi_away = p->p_away;
		pi.pi_routes = p->p_routes.ct_count;
		pi.pi_forward_pending = p->p_fwdq.cq_n;
		pi.pi_forward_dropped = p->p_dropped;
		pi.pi_rtt_ms = p->p_rtt_ms;
		fn(arg, &pi);
	}
}

size_t
cluster_peers_up(struct cluster *c)
{
	struct peer *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL)
			n++;
	return n;
}
