/*
 * The epmd daemon: listeners, connections and requests on one libev loop.
 *
 * Each request follows decode (epmd_codec, pure) -> apply (registry) ->
 * send (queued output).  A connection lives in one of three states:
 *
 *	EPMD_C_READING	collecting one framed request; idle and total timers run
 *	EPMD_C_WRITING	reply queued; closes once it is flushed
 *	EPMD_C_ALIVE	a node registered here; any byte or EOF unregisters it
 *	EPMD_C_WATCH	Cairn's WATCH: registrations streamed until any
 *			byte or EOF; closed past watch_buffer queued bytes
 *
 * What OTP's epmd does that we keep: one request per connection, which
 * replies close it, the local-peer rule for ALIVE2/DUMP/KILL/STOP, the
 * relaxed command check, the texts of every reply.  What we change: no
 * select(2) and FD_SETSIZE ceiling; names are hashed; a stalled reader
 * never blocks anyone (OTP writes with blocking write(2) and sleeps for
 * -delay_write); every limit is named; and every line a peer can cause
 * (a refusal, a bad or timed-out request, the open file limit) is logged
 * the first time, then counted once per EPMD_LOG_INTERVAL (log_rate in
 * common/log.h), so a flood of connections cannot flood the log.
 */
#include "common/container.h"
#include "epmd/epmd.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/sock.h"
#include "epmd/epmd_codec.h"
#include "epmd/epmd_registry.h"

/* Replies bigger than this are refused (NAMES/DUMP with huge tables). */
#define EPMD_MAX_REPLY		(64u * 1024 * 1024)
/* After EMFILE, accepting pauses this long. */
#define EPMD_ACCEPT_BACKOFF	0.1
/* A line a peer can cause: the first, then a count per this many s. */
#define EPMD_LOG_INTERVAL	10
/* A watcher's kernel send buffer (SO_SNDBUF), fixed. */
#define EPMD_WATCH_SNDBUF	(64 * 1024)
/* Kinds of connection-close line with a rate limit each. */
#define EPMD_LOG_KINDS		16

enum epmd_conn_state {
	EPMD_C_READING,		/* reading one framed request */
	EPMD_C_WRITING,		/* flushing the reply, then close */
	EPMD_C_ALIVE,		/* holds a registration until EOF */
	EPMD_C_WATCH,		/* streams registrations until EOF */
};

struct epmd_srv;

struct epmd_conn {
	ev_io			 rd_w;
	ev_io			 wr_w;
	ev_timer		 idle_w;	/* packet_timeout, reset on progress */
	ev_timer		 delay_w;	/* -delay_write */
	struct epmd_srv		*srv;
	struct epmd_conn	*next;
	struct epmd_conn	*prev;
	struct epmd_conn	*wnext;		/* EPMD_C_WATCH: watchers list */
	struct epmd_conn	*wprev;
	int			 fd;
	enum epmd_conn_state	 state;
	int			 local;		/* peer may ALIVE2/DUMP/KILL/STOP */
	int			 exit_after;	/* KILL: stop the loop when sent */
	ev_tstamp		 started;
	ev_tstamp		 active_at;	/* real time of the last progress */
	uint8_t			*in;		/* partial request, or NULL */
	size_t			 got;
	struct bytes_w		 out;
	struct epmd_node	*node;		/* EPMD_C_ALIVE */
	struct sockaddr_storage	 peer_sa;
	char			 peer[SOCK_NTOP_LEN];	/* formatted on first use */
};

struct epmd_listener {
	ev_io			 io_w;
	ev_timer		 delay_w;	/* -delay_accept, EMFILE backoff */
	struct epmd_srv		*srv;
	int			 fd;
	int			 budget;	/* accepts per wake-up, 1..64 */
};

/* The rate limit of one kind of connection-close line. */
struct epmd_log_kind {
	const char		*why;		/* a static reason string */
	struct log_rate		 lr;
};

struct epmd_srv {
	struct ev_loop		*loop;
	const struct epmd_conf	*conf;
	struct epmd_registry	*reg;
	struct epmd_listener	 ls[EPMD_MAX_LISTEN];
	size_t			 nls;
	struct epmd_conn	*conns;
	size_t			 nconns;
	struct epmd_conn	*watchers;	/* EPMD_C_WATCH conns */
	size_t			 nwatchers;
	int			 closing;	/* teardown: no more events */
	size_t			 refused_conns;
	size_t			 refused_names;
	/* Lines a peer can cause, each logged first, then counted. */
	struct log_rate		 accept_lr;	/* EMFILE, ENFILE... */
	struct log_rate		 conns_lr;	/* max_connections */
	struct log_rate		 names_lr;	/* max_names */
	struct log_rate		 alive_lr;	/* ALIVE2 refused */
	struct log_rate		 kill_lr;	/* KILL refused */
	struct log_rate		 watch_lr;	/* WATCH refused or cut off */
	struct log_rate		 partial_lr;	/* EOF mid-request */
	struct log_rate		 nomem_lr;
	struct epmd_log_kind	 close_lr[EPMD_LOG_KINDS];
	size_t			 nclose_lr;
	ev_timer		 log_w;		/* tells the held counts */
	ev_signal		 int_w;
	ev_signal		 term_w;
	int			 exit_code;
	uint8_t			 scratch[EPMD_INBUF_SIZE];
};

static void	epmd_conn_close(struct epmd_conn *, const char *why);
static void	epmd_conn_abort(struct epmd_conn *);
static const char *epmd_conn_peer(struct epmd_conn *);
static void	epmd_conn_flush(struct epmd_conn *);
static void	epmd_listeners_start(struct epmd_srv *);
static void	epmd_listeners_stop(struct epmd_srv *);

/*
 * Connections
 */

/* "addr:port" of the peer, for log lines only: formatted when first
 * needed, so the lookup fast path never pays for it. */
static const char *
epmd_conn_peer(struct epmd_conn *c)
{
	if (c->peer[0] == '\0')
		sock_ntop((struct sockaddr *)&c->peer_sa, c->peer,
		    sizeof(c->peer));
	return c->peer;
}

/*
 * Tells every watcher of a registration change.  A watcher whose queue
 * would pass watch_buffer is closed: it reads too slowly to follow, and
 * holding more for it would let one local client grow the daemon.
 */
static void
epmd_watch_event(struct epmd_srv *s, uint8_t kind, const struct epmd_node *n)
{
	struct epmd_conn *w, *next;

	if (s->closing)
		return;
	for (w = s->watchers; w != NULL; w = next) {
		next = w->wnext;
		if (epmd_encode_watch_event(&w->out, kind, n->n_port,
		    bytes_view_of(n->n_name, n->n_namelen)) != 0) {
			log_rate_warnx(&s->watch_lr, "%s: closing a watcher: "
			    "more than watch_buffer (%zu bytes) unread",
			    epmd_conn_peer(w), s->conf->ec_watch_buffer);
			epmd_conn_abort(w);
			continue;
		}
		/* Events skip -delay_write: it delays replies, not streams. */
		if (!ev_is_active(&w->wr_w))
			epmd_conn_flush(w);
	}
}

static void
epmd_conn_unregister(struct epmd_conn *c)
{
	struct epmd_node *n = c->node;

	if (n == NULL)
		return;
	log_debug("unregistering '%s:%u', port %u", n->n_name,
	    epmd_node_creation(n), n->n_port);
	epmd_watch_event(c->srv, EPMD_WATCH_REMOVED, n);
	epmd_registry_unregister(c->srv->reg, n);
	c->node = NULL;
}

/* The rate limit for why (a static string), found or added. */
static struct log_rate *
epmd_close_lr(struct epmd_srv *s, const char *why)
{
	struct epmd_log_kind *k;
	size_t i;

	for (i = 0; i < s->nclose_lr; i++)
		if (s->close_lr[i].why == why)
			return &s->close_lr[i].lr;
	if (s->nclose_lr == EPMD_LOG_KINDS)
		return &s->close_lr[EPMD_LOG_KINDS - 1].lr;
	k = &s->close_lr[s->nclose_lr++];
	k->why = why;
	k->lr.lr_interval = EPMD_LOG_INTERVAL;
	return &k->lr;
}

/*
 * A watcher dropped for reading too slowly is reset, not closed: what the
 * kernel still holds for it (up to EPMD_WATCH_SNDBUF, behind a zero
 * window) goes at once, instead of lingering in an orphaned socket for as
 * long as the peer keeps its window shut.
 */
static void
epmd_conn_abort(struct epmd_conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	epmd_conn_close(c, NULL);
}

/* The single way out: stops every watcher, unregisters, frees. */
static void
epmd_conn_close(struct epmd_conn *c, const char *why)
{
	struct epmd_srv *s = c->srv;

	if (why != NULL)
		log_rate_warnx(epmd_close_lr(s, why), "%s: %s",
		    epmd_conn_peer(c), why);
	if (c->state == EPMD_C_WATCH) {
		if (c->wprev != NULL)
			c->wprev->wnext = c->wnext;
		else
			s->watchers = c->wnext;
		if (c->wnext != NULL)
			c->wnext->wprev = c->wprev;
		s->nwatchers--;
		c->state = EPMD_C_WRITING;	/* no longer a watcher */
	}
	epmd_conn_unregister(c);
	ev_io_stop(s->loop, &c->rd_w);
	ev_io_stop(s->loop, &c->wr_w);
	ev_timer_stop(s->loop, &c->idle_w);
	ev_timer_stop(s->loop, &c->delay_w);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->in);
	bytes_w_fini(&c->out);
	free(c);
}

static void
on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_conn *c = container_of(w, struct epmd_conn, idle_w);
	const struct epmd_conf *cf = c->srv->conf;
	ev_tstamp now = ev_time();
	ev_tstamp idle_left = c->active_at + cf->ec_packet_timeout - now;
	ev_tstamp total_left = c->started + cf->ec_request_timeout - now;

	if (total_left <= 0) {
		epmd_conn_close(c, "closing: request not complete in time");
		return;
	}
	/* The loop's cached time may lag the clock on a busy host: never
	 * close before the peer was really idle for packet_timeout. */
	if (idle_left > 0) {
		w->repeat = idle_left < total_left ? idle_left : total_left;
		ev_timer_again(loop, w);
		return;
	}
	epmd_conn_close(c, "closing because timed out on receive");
}

/* Re-arms the idle timer, never past the request's total deadline. */
static void
epmd_conn_touch(struct epmd_conn *c)
{
	const struct epmd_conf *cf = c->srv->conf;
	ev_tstamp now = ev_now(c->srv->loop);
	ev_tstamp left = c->started + cf->ec_request_timeout - now;
	ev_tstamp idle = cf->ec_packet_timeout;

	c->active_at = ev_time();
	if (left < idle)
		idle = left > 0 ? left : 0.001;
	c->idle_w.repeat = idle;
	ev_timer_again(c->srv->loop, &c->idle_w);
}

static void
on_conn_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_conn *c = container_of(w, struct epmd_conn, delay_w);

	epmd_conn_flush(c);
}

/* Queues the reply in c->out for sending, after -delay_write if set. */
static void
epmd_conn_send(struct epmd_conn *c)
{
	struct epmd_srv *s = c->srv;

	if (c->out.err != 0) {
		epmd_conn_close(c, "reply too large");
		return;
	}
	if (s->conf->ec_delay_write > 0) {
		ev_timer_set(&c->delay_w, s->conf->ec_delay_write, 0.);
		ev_timer_start(s->loop, &c->delay_w);
		return;
	}
	epmd_conn_flush(c);
}

/* Writes what it can; the write watcher runs only while bytes wait. */
static void
epmd_conn_flush(struct epmd_conn *c)
{
	struct epmd_srv *s = c->srv;
	ssize_t n;

	while (c->out.len > 0) {
		n = send(c->fd, c->out.buf, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			bytes_w_consume(&c->out, (size_t)n);
			if (c->state != EPMD_C_ALIVE &&
			    c->state != EPMD_C_WATCH)
				epmd_conn_touch(c);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			ev_io_start(s->loop, &c->wr_w);
			return;
		}
		/* OTP unregisters a node whose ALIVE2 reply failed. */
		log_debug("%s: write failed: %s", epmd_conn_peer(c), strerror(errno));
		epmd_conn_close(c, NULL);
		return;
	}
	ev_io_stop(s->loop, &c->wr_w);
	if (c->exit_after) {
		log_debug("got KILL_REQ - terminates normal");
		epmd_conn_close(c, NULL);
		ev_break(s->loop, EVBREAK_ALL);
		return;
	}
	if (c->state == EPMD_C_WRITING)
		epmd_conn_close(c, NULL);
}

static void
on_conn_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	epmd_conn_flush(container_of(w, struct epmd_conn, wr_w));
}

/*
 * Requests: each handler builds its reply in c->out and sets the state.
 */

static void
epmd_do_alive2(struct epmd_conn *c, const struct epmd_node_info *a)
{
	struct epmd_srv *s = c->srv;
	struct epmd_node *n = NULL;
	const char *why = NULL;
	uint32_t creation = EPMD_CREATION_ERROR;
	uint8_t result = 1;
	int rc;

	rc = epmd_registry_register(s->reg, a, c, c->fd, (uint32_t)time(NULL),
	    &n, &why);
	if (rc == 0) {
		result = 0;
		creation = epmd_node_creation(n);
		c->node = n;
		log_debug("registering '%s:%u', port %u", n->n_name, creation,
		    n->n_port);
		log_debug("type %u proto %u highvsn %u lowvsn %u",
		    n->n_nodetype, n->n_protocol, n->n_highvsn, n->n_lowvsn);
		epmd_watch_event(s, EPMD_WATCH_ADDED, n);
	} else if (rc == CAIRN_ERR_LIMIT) {
		s->refused_names++;
		log_rate_warnx(&s->names_lr, "%s: max_names (%zu) reached: "
		    "refusing %.*s (%zu refused so far)", epmd_conn_peer(c),
		    s->conf->ec_max_names, (int)a->name.len,
		    (const char *)a->name.p, s->refused_names);
	} else
		log_rate_warnx(&s->alive_lr, "%s: ALIVE2_REQ refused: %s",
		    epmd_conn_peer(c), why);
	/*
	 * The connection now lives until the peer closes it, with no idle
	 * timer, keeping only what it needs.  OTP keeps it after an error
	 * reply too (it sets keep whatever node_reg2 said).
	 */
	c->state = EPMD_C_ALIVE;
	free(c->in);
	c->in = NULL;
	ev_timer_stop(s->loop, &c->idle_w);
	epmd_encode_alive2_resp(&c->out, result, creation, a->highvsn);
}

static void
epmd_do_port2(struct epmd_conn *c, struct bytes_view name)
{
	struct epmd_node *n;
	struct epmd_node_info info;

	if ((n = epmd_registry_find(c->srv->reg, name)) != NULL) {
		epmd_node_info(n, &info);
		epmd_encode_port2_resp(&c->out, &info);
	} else
		epmd_encode_port2_err(&c->out);
	c->state = EPMD_C_WRITING;
}

static void
epmd_do_names(struct epmd_conn *c, int dump)
{
	struct epmd_srv *s = c->srv;
	struct epmd_node *n;

	epmd_encode_names_head(&c->out, s->conf->ec_port);
	for (n = epmd_registry_first(s->reg); n != NULL; n = n->n_next) {
		struct bytes_view nm = bytes_view_of(n->n_name, n->n_namelen);

		if (dump)
			epmd_encode_dump_active(&c->out, nm, n->n_port,
			    n->n_fd);
		else
			epmd_encode_names_line(&c->out, nm, n->n_port);
	}
	if (dump) {
		for (n = epmd_registry_first_unreg(s->reg); n != NULL;
		    n = n->n_next)
			epmd_encode_dump_unused(&c->out,
			    bytes_view_of(n->n_name, n->n_namelen), n->n_port,
			    n->n_fd);
	}
	c->state = EPMD_C_WRITING;
}

/*
 * WATCH: the ack, a snapshot of every name, '=', then live events from
 * epmd_watch_event().  The connection keeps no timer (as ALIVE) and its
 * output is capped at watch_buffer from now on.  0, or -1 when c was
 * closed (over max_watchers, or a snapshot past watch_buffer).
 */
static int
epmd_do_watch(struct epmd_conn *c)
{
	struct epmd_srv *s = c->srv;
	struct epmd_node *n;
	int sndbuf;

	if (s->nwatchers >= s->conf->ec_max_watchers) {
		log_rate_warnx(&s->watch_lr, "%s: max_watchers (%zu) reached: "
		    "closing a WATCH", epmd_conn_peer(c),
		    s->conf->ec_max_watchers);
		epmd_conn_close(c, NULL);
		return -1;
	}
	/*
	 * A fixed kernel buffer (no autotuning, which lets a stalled
	 * reader hold megabytes of ours): watch_buffer then bounds what a
	 * slow watcher costs, and it is found out early.
	 */
	sndbuf = EPMD_WATCH_SNDBUF;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	c->out.max = s->conf->ec_watch_buffer;
	epmd_encode_watch_ack(&c->out);
	for (n = epmd_registry_first(s->reg); n != NULL; n = n->n_next)
		epmd_encode_watch_event(&c->out, EPMD_WATCH_ADDED, n->n_port,
		    bytes_view_of(n->n_name, n->n_namelen));
	epmd_encode_watch_event(&c->out, EPMD_WATCH_SYNCED, 0,
	    bytes_view_of(NULL, 0));
	if (c->out.err != 0) {
		log_rate_warnx(&s->watch_lr, "%s: closing a WATCH: the "
		    "snapshot is past watch_buffer (%zu bytes)",
		    epmd_conn_peer(c), s->conf->ec_watch_buffer);
		epmd_conn_close(c, NULL);
		return -1;
	}
	c->state = EPMD_C_WATCH;
	free(c->in);
	c->in = NULL;
	ev_timer_stop(s->loop, &c->idle_w);
	c->wprev = NULL;
	c->wnext = s->watchers;
	if (s->watchers != NULL)
		s->watchers->wprev = c;
	s->watchers = c;
	s->nwatchers++;
	log_debug("%s: watching (%zu watchers)", epmd_conn_peer(c),
	    s->nwatchers);
	return 0;
}

static void
epmd_do_kill(struct epmd_conn *c)
{
	struct epmd_srv *s = c->srv;

	c->state = EPMD_C_WRITING;
	if (!s->conf->ec_relaxed && epmd_registry_count(s->reg) > 0) {
		log_rate_warnx(&s->kill_lr, "%s: disallowed KILL_REQ, live "
		    "nodes", epmd_conn_peer(c));
		bytes_put_str(&c->out, "NO");
		return;
	}
	bytes_put_str(&c->out, "OK");
	log_info("epmd killed by %s", epmd_conn_peer(c));
	c->exit_after = 1;
}

static void
epmd_do_stop(struct epmd_conn *c, struct bytes_view name)
{
	struct epmd_srv *s = c->srv;
	struct epmd_node *n;
	struct epmd_conn *owner;

	c->state = EPMD_C_WRITING;
	if ((n = epmd_registry_find(s->reg, name)) == NULL) {
		/* OTP 25 sends NOEXIST and then STOPPED too. */
		bytes_put_str(&c->out, "NOEXIST");
	} else {
		owner = n->n_owner;
		log_info("%s: stopping %s", epmd_conn_peer(c), n->n_name);
		if (owner != NULL && owner != c)
			epmd_conn_close(owner, NULL);
	}
	bytes_put_str(&c->out, "STOPPED");
}

/* Decode, check the peer's rights, apply, send; may close c. */
static void
epmd_conn_request(struct epmd_conn *c, struct bytes_view payload)
{
	const struct epmd_conf *cf = c->srv->conf;
	struct epmd_req req;
	const char *why = NULL;

	if (epmd_decode_req(payload, &req, &why) != 0) {
		epmd_conn_close(c, why);
		return;
	}
	switch (req.tag) {
	case EPMD_ALIVE2_REQ:
		if (!c->local) {
			epmd_conn_close(c, "ALIVE2_REQ from non local address");
			return;
		}
		epmd_do_alive2(c, &req.alive);
		break;
	case EPMD_PORT2_REQ:
		epmd_do_port2(c, req.name);
		break;
	case EPMD_NAMES_REQ:
		epmd_do_names(c, 0);
		break;
	case EPMD_DUMP_REQ:
		if (!c->local) {
			epmd_conn_close(c, "DUMP_REQ from non local address");
			return;
		}
		epmd_do_names(c, 1);
		break;
	case EPMD_KILL_REQ:
		if (!c->local) {
			epmd_conn_close(c, "KILL_REQ from non local address");
			return;
		}
		epmd_do_kill(c);
		break;
	case EPMD_STOP_REQ:
		if (!c->local) {
			epmd_conn_close(c, "STOP_REQ from non local address");
			return;
		}
		if (!cf->ec_relaxed) {
			epmd_conn_close(c, "disallowed STOP_REQ, no "
			    "relaxed_command_check");
			return;
		}
		epmd_do_stop(c, req.name);
		break;
	case EPMD_WATCH_REQ:
		/* Local only, as ALIVE2: who registers is this host's. */
		if (!c->local) {
			epmd_conn_close(c, "WATCH_REQ from non local address");
			return;
		}
		if (epmd_do_watch(c) == -1)
			return;
		break;
	}
	ev_io_stop(c->srv->loop, &c->rd_w);
	if (c->state == EPMD_C_ALIVE || c->state == EPMD_C_WATCH)
		ev_io_start(c->srv->loop, &c->rd_w);	/* watch for EOF */
	epmd_conn_send(c);
}

static void
epmd_conn_read_alive(struct epmd_conn *c)
{
	uint8_t buf[64];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		log_debug("%s: got more than expected on ALIVE socket",
		    epmd_conn_peer(c));
	epmd_conn_close(c, NULL);
}

/*
 * Reads what the peer sent and, once a frame is whole, serves it.
 * Returns 1 when c waits for more bytes (the caller keeps or starts the
 * read watcher), 0 when c was served or closed (do not touch it).
 */
static int
epmd_conn_read(struct epmd_conn *c)
{
	struct epmd_srv *s = c->srv;
	struct bytes_view payload;
	uint8_t *buf = c->in != NULL ? c->in : s->scratch;
	size_t consumed;
	ssize_t n;
	int rc;

	/* As OTP: read at most one byte less than the buffer. */
	n = recv(c->fd, buf + c->got, EPMD_INBUF_SIZE - 1 - c->got, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			goto more;
		epmd_conn_close(c, "error in read");
		return 0;
	}
	if (n == 0) {
		if (c->got > 0)
			log_rate_warnx(&s->partial_lr, "%s: got partial "
			    "packet only (%zu bytes)", epmd_conn_peer(c),
			    c->got);
		epmd_conn_close(c, NULL);
		return 0;
	}
	c->got += (size_t)n;
	epmd_conn_touch(c);
	rc = epmd_frame(bytes_view_of(buf, c->got), &payload, &consumed);
	if (rc == CAIRN_ERR_NEED_MORE) {
		if (c->got == EPMD_INBUF_SIZE - 1) {
			epmd_conn_close(c, "invalid packet size");
			return 0;
		}
		goto more;
	}
	if (rc != 0) {
		epmd_conn_close(c, "invalid packet size");
		return 0;
	}
	if (consumed != c->got) {
		epmd_conn_close(c, "got more bytes than the packet holds");
		return 0;
	}
	epmd_conn_request(c, payload);
	return 0;
more:
	/* Partial bytes outlive this call: keep them out of the scratch. */
	if (c->in == NULL && c->got > 0) {
		if ((c->in = malloc(EPMD_INBUF_SIZE)) == NULL) {
			epmd_conn_close(c, "out of memory");
			return 0;
		}
		memcpy(c->in, s->scratch, c->got);
	}
	return 1;
}

static void
on_conn_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epmd_conn *c = container_of(w, struct epmd_conn, rd_w);

	if (c->state == EPMD_C_ALIVE || c->state == EPMD_C_WATCH)
		epmd_conn_read_alive(c);
	else if (c->state == EPMD_C_READING)
		epmd_conn_read(c);
}

static int
epmd_peer_is_local(int fd, const struct sockaddr *peer)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);

	if (sock_is_loopback(peer))
		return 1;
	/* OTP: a connection from this host's own address is local too. */
	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1)
		return 0;
	return sock_same_addr(peer, (struct sockaddr *)&me);
}

/* Accepts one connection; 1 if one was accepted (served or not). */
static int
epmd_accept_one(struct epmd_listener *l)
{
	struct epmd_srv *s = l->srv;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct epmd_conn *c;
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Once, then a count: not a line per backoff. */
			log_rate_warn(&s->accept_lr, "accept");
			epmd_listeners_stop(s);
			ev_timer_set(&l->delay_w, EPMD_ACCEPT_BACKOFF, 0.);
			ev_timer_start(s->loop, &l->delay_w);
		}
		return 0;
	}
	if (s->nconns >= s->conf->ec_max_connections) {
		/* As OTP past its table: close at once, so the peer learns
		 * now rather than at its own timeout. */
		s->refused_conns++;
		log_rate_warnx(&s->conns_lr, "max_connections (%zu) reached: "
		    "closing new connections (%zu so far)",
		    s->conf->ec_max_connections, s->refused_conns);
		close(fd);
		return 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_rate_warnx(&s->nomem_lr, "out of memory: closing a new "
		    "connection");
		close(fd);
		return 1;
	}
	c->srv = s;
	c->fd = fd;
	c->state = EPMD_C_READING;
	c->local = epmd_peer_is_local(fd, (struct sockaddr *)&ss);
	c->started = ev_time();
	c->active_at = c->started;
	c->peer_sa = ss;
	/* Replies are small except NAMES/DUMP of a large table. */
	bytes_w_init(&c->out, EPMD_MAX_REPLY);
	ev_io_init(&c->rd_w, on_conn_readable, fd, EV_READ);
	ev_io_init(&c->wr_w, on_conn_writable, fd, EV_WRITE);
	ev_init(&c->idle_w, on_conn_timer);
	ev_init(&c->delay_w, on_conn_delay);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	log_debug2("%s: %s peer connected", epmd_conn_peer(c),
	    c->local ? "local" : "non-local");
	epmd_conn_touch(c);
	/*
	 * A node sends its request right after connecting, so it is often
	 * here already: serve it now and skip the watcher (an epoll_ctl and
	 * a loop turn); most lookups never touch epoll past accept.
	 */
	if (epmd_conn_read(c) == 1)
		ev_io_start(s->loop, &c->rd_w);
	return 1;
}

/*
 * Listeners
 */

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epmd_listener *l = container_of(w, struct epmd_listener, io_w);
	int i;

	if (l->srv->conf->ec_delay_accept > 0) {
		/* Simulate a busy server without stalling anyone else. */
		ev_io_stop(loop, &l->io_w);
		ev_timer_set(&l->delay_w, l->srv->conf->ec_delay_accept, 0.);
		ev_timer_start(loop, &l->delay_w);
		return;
	}
	/*
	 * Accept up to the listener's budget.  The budget adapts: it doubles
	 * (to 64) while a wake-up finds more connections than it may take,
	 * and falls back to what was found when accept(2) runs dry, so an
	 * idle-ish daemon does not pay an EAGAIN accept per lookup and a
	 * busy one does not pay a loop turn per connection.
	 */
	for (i = 0; i < l->budget && ev_is_active(&l->io_w); i++)
		if (!epmd_accept_one(l))
			break;
	if (i == l->budget)
		l->budget = l->budget < 64 ? l->budget * 2 : 64;
	else
		l->budget = i > 1 ? i : 1;
}

static void
on_accept_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_listener *l = container_of(w, struct epmd_listener,
	    delay_w);

	if (l->srv->conf->ec_delay_accept > 0) {
		epmd_accept_one(l);
		ev_io_start(loop, &l->io_w);
		return;
	}
	epmd_listeners_start(l->srv);
}

static void
epmd_listeners_start(struct epmd_srv *s)
{
	size_t i;

	for (i = 0; i < s->nls; i++)
		if (!ev_is_active(&s->ls[i].delay_w))
			ev_io_start(s->loop, &s->ls[i].io_w);
}

static void
epmd_listeners_stop(struct epmd_srv *s)
{
	size_t i;

	for (i = 0; i < s->nls; i++)
		ev_io_stop(s->loop, &s->ls[i].io_w);
}

static int
epmd_add_listener(struct epmd_srv *s, int fd)
{
	struct epmd_listener *l;

	if (s->nls >= EPMD_MAX_LISTEN) {
		log_warnx("cannot listen on more than %d IP addresses",
		    EPMD_MAX_LISTEN);
		return -1;
	}
	l = &s->ls[s->nls++];
	l->srv = s;
	l->fd = fd;
	l->budget = 1;
	ev_io_init(&l->io_w, on_accept, fd, EV_READ);
	ev_init(&l->delay_w, on_accept_delay);
	return 0;
}

/*
 * Binds one address.  0 bound, 1 skipped (non-fatal failure), -1 fatal,
 * 2 another epmd already runs there (OTP exits 0 then).
 */
static int
epmd_bind_one(struct epmd_srv *s, const char *addr, int nonfatal)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (sock_addr_parse(addr, s->conf->ec_port, &ss, &len) == -1) {
		log_warnx("cannot parse IP address \"%s\"", addr);
		return -1;
	}
	fd = sock_listen((struct sockaddr *)&ss, len, SOMAXCONN,
	    SOCK_F_REUSEADDR | SOCK_F_V6ONLY);
	if (fd == -1) {
		if (errno == EADDRINUSE) {
			log_debug("there is already a epmd running at port %u "
			    "on ipaddr %s", s->conf->ec_port, addr);
			return 2;
		}
		if (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
		    nonfatal) {
			log_debug("failed to bind on ipaddr %s: %s", addr,
			    strerror(errno));
			return 1;
		}
		log_warn("failed to bind on ipaddr %s", addr);
		return -1;
	}
	if (epmd_add_listener(s, fd) == -1) {
		close(fd);
		return -1;
	}
	return 0;
}

/* OTP skips exactly 127.0.0.1 and ::1 in the list: they are always bound. */
static int
epmd_is_std_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_LOOPBACK);
	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* OTP's rules: loopback always, then the list; or every address. */
static int
epmd_bind_all(struct epmd_srv *s)
{
	const char *list = s->conf->ec_addresses;
	char *tmp, *tok, *save = NULL;
	int rc;

	if (list != NULL && list[strspn(list, " ,")] != '\0') {
		if ((rc = epmd_bind_one(s, "127.0.0.1", 1)) == -1 || rc == 2)
			return rc;
		if ((rc = epmd_bind_one(s, "::1", 1)) == -1 || rc == 2)
			return rc;
		if ((tmp = strdup(list)) == NULL)
			fatal("strdup");
		for (tok = strtok_r(tmp, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save)) {
			struct sockaddr_storage ss;
			socklen_t len;

			if (sock_addr_parse(tok, 0, &ss, &len) == -1) {
				log_warnx("cannot parse IP address \"%s\"",
				    tok);
				free(tmp);
				return -1;
			}
			if (epmd_is_std_loopback(&ss))
				continue;
			if ((rc = epmd_bind_one(s, tok, 0)) == -1 || rc == 2) {
				free(tmp);
				return rc;
			}
		}
		free(tmp);
	} else {
		if ((rc = epmd_bind_one(s, "0.0.0.0", 1)) == -1 || rc == 2)
			return rc;
		if ((rc = epmd_bind_one(s, "::", 1)) == -1 || rc == 2)
			return rc;
	}
	if (s->nls == 0) {
		log_warnx("unable to bind any address");
		return -1;
	}
	return 0;
}

/*
 * Socket activation (-systemd), as OTP's epmd does it: every socket
 * systemd passes is a listener, and there must be at least one.
 */
static int
epmd_systemd_fds(struct epmd_srv *s)
{
	char err[128];
	int n, i;

	if ((n = notify_listen_fds(err, sizeof(err))) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (n == 0) {
		log_warnx("systemd provides no sockets");
		return -1;
	}
	if (n > EPMD_MAX_LISTEN) {
		log_warnx("cannot listen on more than %d IP addresses",
		    EPMD_MAX_LISTEN);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (epmd_add_listener(s, 3 + i) == -1)
			return -1;
	return 0;
}

static int
epmd_daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		return -1;
	signal(SIGHUP, SIG_IGN);
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	umask(0);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("got signal %d, exiting", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* The counts held back by a flood that has stopped. */
static void
on_log_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_srv *s = container_of(w, struct epmd_srv, log_w);
	size_t i;

	(void)log_rate_flush(&s->accept_lr, "accept: too many open files");
	(void)log_rate_flush(&s->conns_lr, "max_connections reached");
	(void)log_rate_flush(&s->names_lr, "max_names reached");
	(void)log_rate_flush(&s->alive_lr, "ALIVE2_REQ refused");
	(void)log_rate_flush(&s->kill_lr, "disallowed KILL_REQ");
	(void)log_rate_flush(&s->partial_lr, "partial packet only");
	(void)log_rate_flush(&s->nomem_lr, "out of memory");
	for (i = 0; i < s->nclose_lr; i++)
		(void)log_rate_flush(&s->close_lr[i].lr, s->close_lr[i].why);
}

static void
epmd_srv_teardown(struct epmd_srv *s)
{
	size_t i;

	s->closing = 1;
	while (s->conns != NULL)
		epmd_conn_close(s->conns, NULL);
	for (i = 0; i < s->nls; i++) {
		ev_io_stop(s->loop, &s->ls[i].io_w);
		ev_timer_stop(s->loop, &s->ls[i].delay_w);
		close(s->ls[i].fd);
	}
	epmd_registry_free(s->reg);
}

int
epmd_srv_run(const struct epmd_conf *conf)
{
	static struct epmd_srv srv;
	struct epmd_srv *s = &srv;
	long nofile;
	int rc;

	s->conf = conf;
	s->accept_lr.lr_interval = s->conns_lr.lr_interval =
	    s->names_lr.lr_interval = s->alive_lr.lr_interval =
	    s->kill_lr.lr_interval = s->partial_lr.lr_interval =
	    s->nomem_lr.lr_interval = EPMD_LOG_INTERVAL;
	signal(SIGPIPE, SIG_IGN);
	nofile = sock_raise_nofile((long)conf->ec_max_connections + 64);
	if (nofile > 0 && (size_t)nofile < conf->ec_max_connections + 64)
		log_debug("open file limit is %ld: fewer than max_connections"
		    " (%zu) may be served", nofile, conf->ec_max_connections);
	if ((s->reg = epmd_registry_new(conf->ec_max_names,
	    conf->ec_max_unreg)) == NULL)
		fatalx("epmd: Insufficient memory");
	if (conf->ec_systemd)
		rc = epmd_systemd_fds(s);
	else
		rc = epmd_bind_all(s);
	if (rc != 0) {
		epmd_srv_teardown(s);
		return rc == 2 ? 0 : 1;
	}
	if (conf->ec_daemon) {
		if (epmd_daemonize() == -1)
			fatal("cannot detach");
		log_init(0, conf->ec_debug, "epmd");
	}
	if ((s->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise the event loop");
	ev_signal_init(&s->int_w, on_signal, SIGINT);
	ev_signal_init(&s->term_w, on_signal, SIGTERM);
	ev_signal_start(s->loop, &s->int_w);
	ev_signal_start(s->loop, &s->term_w);
	ev_timer_init(&s->log_w, on_log_timer, EPMD_LOG_INTERVAL,
	    EPMD_LOG_INTERVAL);
	ev_timer_start(s->loop, &s->log_w);
	epmd_listeners_start(s);
	/*
	 * Only with -systemd, as OTP: an epmd that `erl` starts inherits
	 * the NOTIFY_SOCKET of the service that runs erl (RabbitMQ's is
	 * Type=notify, NotifyAccess=all) and must not say READY for it.
	 */
	if (conf->ec_systemd) {
		notify_status("Processing port mapping requests...");
		notify_ready();
	}
	log_debug("epmd running - daemon = %d, port %u", conf->ec_daemon,
	    conf->ec_port);
	ev_run(s->loop, 0);
	if (conf->ec_systemd)
		notify_stopping();
	epmd_srv_teardown(s);
	ev_loop_destroy(s->loop);
	return s->exit_code;
}
