/*
 * Non-blocking EPMD client; see epmd_aclient.h.
 *
 * Both queries and the registration keeper run one exchange at a time
 * over a struct epmd_aconn: a non-blocking connect, a queued request
 * flushed while the socket is writable, and a reply collected into a
 * capped buffer.  The owner embeds the aconn, and its ev_io callback
 * recovers the owner with container_of, then decodes what has arrived
 * with the pure codec.
 *
 * Frees never happen under a running callback of the same object: a
 * query is freed only after its own callback returns (cancelling it from
 * there is a no-op), and a keeper freed from its own callback is marked
 * dead and freed when the callback returns.  Cancelling another query
 * stops its watchers, which also clears any event libev has pending for
 * it, so it can be freed at once.
 */
#include "common/container.h"
#include "epmd/epmd_aclient.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/sock.h"

/* Read size per recv(2). */
#define EPMD_ACONN_CHUNK	4096
/* An ALIVE2 reply is 4 or 6 bytes; a registered epmd sends nothing. */
#define EPMD_AREG_IN_MAX	64

#define EPMD_AREG_DEFAULT_TIMEOUT_S	5.
#define EPMD_AREG_DEFAULT_RETRY_MIN_S	0.1
#define EPMD_AREG_DEFAULT_RETRY_MAX_S	10.

/*
 * s seconds from the real now.  libev counts timers from ev_now(), the
 * time the loop last woke up, which lags when a caller starts a query
 * after a long callback or before the loop first runs (ev(3), "The
 * special problem of time updates").
 */
static double
epmd_after(struct ev_loop *loop, double s)
{
	return s + (ev_time() - ev_now(loop));
}

/*
 * One exchange with an epmd.
 */

struct epmd_aconn {
	struct ev_loop	*loop;
	int		 fd;		/* -1 when closed */
	int		 connecting;	/* connect(2) still in progress */
	int		 eof;		/* the peer closed its side */
	ev_io		 io_w;
	struct bytes_w	 out;		/* request bytes not yet sent */
	struct bytes_w	 in;		/* reply bytes so far */
};

static void
epmd_aconn_init(struct epmd_aconn *c, struct ev_loop *loop,
    void (*cb)(struct ev_loop *, ev_io *, int), size_t in_max)
{
	c->loop = loop;
	c->fd = -1;
	ev_init(&c->io_w, cb);
	/* The largest request (ALIVE2) fits EPMD_INBUF_SIZE. */
	bytes_w_init(&c->out, EPMD_INBUF_SIZE);
	bytes_w_init(&c->in, in_max);
}

/* Watch fd for events (EV_READ, EV_WRITE), or nothing when 0. */
static void
epmd_aconn_watch(struct epmd_aconn *c, int events)
{
	ev_io_stop(c->loop, &c->io_w);
	if (events == 0)
		return;
	ev_io_set(&c->io_w, c->fd, events);
	ev_io_start(c->loop, &c->io_w);
}

/* Closes the socket and empties the buffers; the aconn can be reused. */
static void
epmd_aconn_close(struct epmd_aconn *c)
{
	ev_io_stop(c->loop, &c->io_w);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->connecting = 0;
	c->eof = 0;
	bytes_w_reset(&c->out);
	bytes_w_reset(&c->in);
}

static void
epmd_aconn_fini(struct epmd_aconn *c)
{
	epmd_aconn_close(c);
	bytes_w_fini(&c->out);
	bytes_w_fini(&c->in);
}

/*
 * Starts connecting to sa; the request must already be in c->out.  0,
 * or CAIRN_ERR_IO when connect(2) failed at once.
 */
static int
epmd_aconn_open(struct epmd_aconn *c, const struct sockaddr *sa,
    socklen_t len)
{
	if ((c->fd = sock_connect(sa, len, 1)) == -1)
		return CAIRN_ERR_IO;
	c->connecting = 1;
	epmd_aconn_watch(c, EV_WRITE);
	return 0;
}

/*
 * Moves the exchange on after an event: finishes the connect, flushes
 * the request, reads what is there.  0 (look at c->in and c->eof), or
 * CAIRN_ERR_IO / CAIRN_ERR_TOO_BIG / CAIRN_ERR_NOMEM.  Leaves the
 * watcher set for what comes next: writable while output is queued,
 * readable until EOF.
 */
static int
epmd_aconn_io(struct epmd_aconn *c)
{
	size_t room;
	ssize_t n;

	if (c->connecting) {
		if (sock_connect_result(c->fd) == -1)
			return CAIRN_ERR_IO;
		c->connecting = 0;
	}
	while (c->out.len > 0) {
		n = send(c->fd, c->out.buf, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			bytes_w_consume(&c->out, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			epmd_aconn_watch(c, EV_WRITE);
			return 0;
		}
		return CAIRN_ERR_IO;
	}
	while (!c->eof) {
		if ((room = c->in.max - c->in.len) == 0)
			return CAIRN_ERR_TOO_BIG;
		if (bytes_w_reserve(&c->in, room < EPMD_ACONN_CHUNK ? room :
		    EPMD_ACONN_CHUNK) != 0)
			return c->in.err;
		n = recv(c->fd, c->in.buf + c->in.len, c->in.cap - c->in.len,
		    0);
		if (n > 0) {
			c->in.len += (size_t)n;
			continue;
		}
		if (n == 0)
			c->eof = 1;
		else if (errno == EAGAIN || errno == EINTR)
			break;
		else if (errno == ECONNRESET && c->in.len > 0)
			c->eof = 1;	/* a reset after the reply: the reply */
		else
			return CAIRN_ERR_IO;
	}
	epmd_aconn_watch(c, c->eof ? 0 : EV_READ);
	return 0;
}

/*
 * Queries.
 */

enum epmd_aq_kind {
	EPMD_AQ_NAMES,
	EPMD_AQ_PORT2,
};

enum epmd_aq_state {
	EPMD_AQ_RUNNING,	/* connecting, sending or reading */
	EPMD_AQ_CALLING,	/* its callback is running; freed after */
};

struct epmd_aq {
	struct epmd_aconn	 conn;
	ev_timer		 deadline_w;
	ev_timer		 start_w;	/* reports a failed start */
	enum epmd_aq_kind	 kind;
	enum epmd_aq_state	 state;
	int			 start_err;
	epmd_names_cb		 names_cb;
	epmd_port2_cb		 port2_cb;
	void			*arg;
};

static void
epmd_aq_destroy(struct epmd_aq *q)
{
	ev_timer_stop(q->conn.loop, &q->deadline_w);
	ev_timer_stop(q->conn.loop, &q->start_w);
	epmd_aconn_fini(&q->conn);
	free(q);
}

/* Stops the exchange, calls back once and frees q. */
static void
epmd_aq_finish(struct epmd_aq *q, int err, const struct epmd_aq_name *names,
    size_t n, const struct epmd_node_info *info)
{
	ev_timer_stop(q->conn.loop, &q->deadline_w);
	ev_timer_stop(q->conn.loop, &q->start_w);
	ev_io_stop(q->conn.loop, &q->conn.io_w);
	q->state = EPMD_AQ_CALLING;
	if (q->kind == EPMD_AQ_NAMES)
		q->names_cb(q->arg, err, err == 0 ? names : NULL,
		    err == 0 ? n : 0);
	else
		q->port2_cb(q->arg, err, err == 0 ? info : NULL);
	epmd_aq_destroy(q);
}

/*
 * A NAMES reply: a 4-byte port, then "name N at port P\n" lines up to
 * the close.  Each name gets a NUL written over the space after it, so
 * the entries can hand out C strings into the buffer.
 */
static void
epmd_aq_names_done(struct epmd_aq *q)
{
	struct bytes_w *in = &q->conn.in;
	struct epmd_aq_name *names = NULL;
	struct bytes_view line, name;
	uint8_t *p, *end, *nl;
	size_t n = 0, cap = 0;
	uint16_t port;
	int err = 0;

	if (in->len < 4) {
		epmd_aq_finish(q, CAIRN_ERR_PROTO, NULL, 0, NULL);
		return;
	}
	for (p = in->buf + 4, end = in->buf + in->len; p < end; n++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;	/* a last line without its newline */
		line = bytes_view_of(p, (size_t)(nl - p));
		if (epmd_parse_names_line(line, &name, &port) != 0) {
			err = CAIRN_ERR_PROTO;
			break;
		}
		if (n == cap) {
			struct epmd_aq_name *tmp;

			cap = cap == 0 ? 16 : cap * 2;
			if ((tmp = reallocarray(names, cap,
			    sizeof(*names))) == NULL) {
				err = CAIRN_ERR_NOMEM;
				break;
			}
			names = tmp;
		}
		/* name.p points into line, which is in->buf: writable. */
		p[name.p - line.p + name.len] = '\0';
		names[n].name = (const char *)name.p;
		names[n].name_len = name.len;
		names[n].port = port;
		p = nl + 1;
	}
	epmd_aq_finish(q, err, names, n, NULL);
	free(names);
}

/* 1 when the PORT2 reply is complete and q has been answered. */
static int
epmd_aq_port2_try(struct epmd_aq *q)
{
	struct epmd_node_info info;
	size_t used;
	uint8_t result;
	int rc;

	rc = epmd_decode_port2_resp(bytes_view_of(q->conn.in.buf,
	    q->conn.in.len), &result, &info, &used);
	if (rc == CAIRN_ERR_NEED_MORE) {
		if (!q->conn.eof)
			return 0;
		rc = CAIRN_ERR_PROTO;	/* closed before the reply was whole */
	}
	if (rc != 0)
		epmd_aq_finish(q, rc, NULL, 0, NULL);
	else
		epmd_aq_finish(q, 0, NULL, 0, result == 0 ? &info : NULL);
	return 1;
}

static void
on_aq_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epmd_aq *q = container_of(w, struct epmd_aq, conn.io_w);
	int rc;

	if ((rc = epmd_aconn_io(&q->conn)) != 0) {
		epmd_aq_finish(q, rc, NULL, 0, NULL);
		return;
	}
	if (q->kind == EPMD_AQ_PORT2) {
		epmd_aq_port2_try(q);
		return;
	}
	if (q->conn.eof)
		epmd_aq_names_done(q);
}

static void
on_aq_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_aq *q = container_of(w, struct epmd_aq, deadline_w);

	epmd_aq_finish(q, CAIRN_ERR_TIMEOUT, NULL, 0, NULL);
}

static void
on_aq_start(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_aq *q = container_of(w, struct epmd_aq, start_w);

	epmd_aq_finish(q, q->start_err, NULL, 0, NULL);
}

/*
 * Common start: q->conn.out holds the request.  A failure to connect is
 * reported from the loop, like any later one.
 */
static struct epmd_aq *
epmd_aq_start(struct epmd_aq *q, const struct sockaddr *addr,
    socklen_t addrlen, double timeout_s)
{
	int rc;

	ev_timer_init(&q->deadline_w, on_aq_deadline,
	    epmd_after(q->conn.loop, timeout_s), 0.);
	ev_timer_init(&q->start_w, on_aq_start, 0., 0.);
	if (q->conn.out.err != 0)
		rc = q->conn.out.err;
	else
		rc = epmd_aconn_open(&q->conn, addr, addrlen);
	if (rc != 0) {
		q->start_err = rc;
		ev_timer_start(q->conn.loop, &q->start_w);
		return q;
	}
	ev_timer_start(q->conn.loop, &q->deadline_w);
	return q;
}

static int
epmd_aq_args_ok(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addrlen, double timeout_s, int have_cb)
{
	if (loop == NULL || addr == NULL || !have_cb || !(timeout_s > 0) ||
	    addrlen > sizeof(struct sockaddr_storage) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static struct epmd_aq *
epmd_aq_new(struct ev_loop *loop, enum epmd_aq_kind kind, size_t in_max,
    void *arg)
{
	struct epmd_aq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	epmd_aconn_init(&q->conn, loop, on_aq_io, in_max);
	q->kind = kind;
	q->state = EPMD_AQ_RUNNING;
	q->arg = arg;
	return q;
}

struct epmd_aq *
epmd_aq_names(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addrlen, double timeout_s, epmd_names_cb cb, void *arg)
{
	struct epmd_aq *q;

	if (!epmd_aq_args_ok(loop, addr, addrlen, timeout_s, cb != NULL))
		return NULL;
	if ((q = epmd_aq_new(loop, EPMD_AQ_NAMES, EPMD_AQ_NAMES_MAX,
	    arg)) == NULL)
		return NULL;
	q->names_cb = cb;
	epmd_encode_simple_req(&q->conn.out, EPMD_NAMES_REQ);
	return epmd_aq_start(q, addr, addrlen, timeout_s);
}

struct epmd_aq *
epmd_aq_port2(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addrlen, const char *name, double timeout_s, epmd_port2_cb cb,
    void *arg)
{
	struct epmd_aq *q;
	size_t len;

	if (!epmd_aq_args_ok(loop, addr, addrlen, timeout_s, cb != NULL))
		return NULL;
	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > EPMD_MAXSYMLEN) {
		errno = EINVAL;
		return NULL;
	}
	/* A reply carries the name and up to EPMD_MAXSYMLEN of extra. */
	if ((q = epmd_aq_new(loop, EPMD_AQ_PORT2, EPMD_INBUF_SIZE,
	    arg)) == NULL)
		return NULL;
	q->port2_cb = cb;
	epmd_encode_port2_req(&q->conn.out, bytes_view_of(name, len));
	return epmd_aq_start(q, addr, addrlen, timeout_s);
}

void
epmd_aq_cancel(struct epmd_aq *q)
{
	if (q == NULL || q->state == EPMD_AQ_CALLING)
		return;
	epmd_aq_destroy(q);
}

/*
 * The registration keeper.
 */

enum epmd_areg_state {
	EPMD_AREG_S_WAITING,	/* timer_w runs until the next attempt */
	EPMD_AREG_S_ASKING,	/* connect, ALIVE2_REQ, reply; timer_w bounds it */
	EPMD_AREG_S_ALIVE,	/* registered: the open connection is the lease */
};

struct epmd_areg {
	struct epmd_aconn	 conn;
	ev_timer		 timer_w;
	enum epmd_areg_state	 state;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct epmd_node_info	 info;		/* views into name, extra */
	uint8_t			*name;
	uint8_t			*extra;
	double			 timeout_s;
	struct backoff		 backoff;
	unsigned int		 seed;
	uint32_t		 creation;
	int			 in_cb;		/* inside the callback */
	int			 dead;		/* freed from the callback */
	epmd_areg_cb		 cb;
	void			*arg;
};

static void
epmd_areg_destroy(struct epmd_areg *reg)
{
	ev_timer_stop(reg->conn.loop, &reg->timer_w);
	epmd_aconn_fini(&reg->conn);
	free(reg->name);
	free(reg->extra);
	free(reg);
}

/* Reports st; 1 when reg was freed by its callback: touch nothing. */
static int
epmd_areg_emit(struct epmd_areg *reg, const struct epmd_areg_status *st)
{
	reg->in_cb++;
	reg->cb(reg->arg, st);
	reg->in_cb--;
	if (reg->dead && reg->in_cb == 0) {
		epmd_areg_destroy(reg);
		return 1;
	}
	return reg->dead;
}

/* Drops the connection and waits a backoff before the next attempt. */
static void
epmd_areg_retry(struct epmd_areg *reg, int err)
{
	struct epmd_areg_status st;
	uint64_t ms;

	epmd_aconn_close(&reg->conn);
	ms = backoff_next(&reg->backoff, (uint32_t)rand_r(&reg->seed));
	reg->state = EPMD_AREG_S_WAITING;
	ev_timer_stop(reg->conn.loop, &reg->timer_w);
	ev_timer_set(&reg->timer_w, epmd_after(reg->conn.loop,
	    (double)ms / 1e3), 0.);
	ev_timer_start(reg->conn.loop, &reg->timer_w);
	memset(&st, 0, sizeof(st));
	st.event = EPMD_AREG_RETRYING;
	st.err = err;
	st.retry_ms = ms;
	epmd_areg_emit(reg, &st);
}

static void
epmd_areg_attempt(struct epmd_areg *reg)
{
	int rc;

	reg->state = EPMD_AREG_S_ASKING;
	epmd_aconn_close(&reg->conn);
	if ((rc = epmd_encode_alive2_req(&reg->conn.out, &reg->info)) != 0 ||
	    (rc = epmd_aconn_open(&reg->conn, (struct sockaddr *)&reg->addr,
	    reg->addrlen)) != 0) {
		epmd_areg_retry(reg, rc);
		return;
	}
	ev_timer_set(&reg->timer_w, epmd_after(reg->conn.loop,
	    reg->timeout_s), 0.);
	ev_timer_start(reg->conn.loop, &reg->timer_w);
}

/* An ALIVE2 reply arrived: registered, or refused. */
static void
epmd_areg_answer(struct epmd_areg *reg, uint8_t result, uint32_t creation)
{
	struct epmd_areg_status st;

	ev_timer_stop(reg->conn.loop, &reg->timer_w);
	memset(&st, 0, sizeof(st));
	if (result != 0) {
		epmd_aconn_close(&reg->conn);
		st.event = EPMD_AREG_REFUSED;
		st.err = CAIRN_ERR_EXIST;
		if (epmd_areg_emit(reg, &st))
			return;
		epmd_areg_retry(reg, CAIRN_ERR_EXIST);
		return;
	}
	reg->state = EPMD_AREG_S_ALIVE;
	reg->creation = creation;
	backoff_reset(&reg->backoff);
	bytes_w_reset(&reg->conn.in);
	st.event = EPMD_AREG_REGISTERED;
	st.creation = creation;
	epmd_areg_emit(reg, &st);
}

static void
on_areg_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epmd_areg *reg = container_of(w, struct epmd_areg, conn.io_w);
	struct epmd_areg_status st;
	uint32_t creation;
	size_t used;
	uint8_t result;
	int rc;

	if ((rc = epmd_aconn_io(&reg->conn)) == 0 &&
	    reg->state == EPMD_AREG_S_ASKING) {
		rc = epmd_decode_alive2_resp(bytes_view_of(reg->conn.in.buf,
		    reg->conn.in.len), &result, &creation, &used);
		if (rc == 0) {
			epmd_areg_answer(reg, result, creation);
			return;
		}
		if (rc == CAIRN_ERR_NEED_MORE)
			rc = reg->conn.eof ? CAIRN_ERR_CLOSED : 0;
	}
	if (rc == 0 && reg->state == EPMD_AREG_S_ALIVE) {
		/* epmd sends nothing more; drop anything it does send. */
		bytes_w_reset(&reg->conn.in);
		if (reg->conn.eof)
			rc = CAIRN_ERR_CLOSED;
	}
	if (rc == 0)
		return;
	if (reg->state == EPMD_AREG_S_ALIVE) {
		epmd_aconn_close(&reg->conn);
		reg->state = EPMD_AREG_S_WAITING;
		memset(&st, 0, sizeof(st));
		st.event = EPMD_AREG_LOST;
		st.err = rc;
		if (epmd_areg_emit(reg, &st))
			return;
	}
	epmd_areg_retry(reg, rc);
}

static void
on_areg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct epmd_areg *reg = container_of(w, struct epmd_areg, timer_w);

	if (reg->state == EPMD_AREG_S_WAITING)
		epmd_areg_attempt(reg);
	else if (reg->state == EPMD_AREG_S_ASKING)
		epmd_areg_retry(reg, CAIRN_ERR_TIMEOUT);
}

static uint8_t *
epmd_areg_dup(struct bytes_view v)
{
	uint8_t *p;

	/* One spare byte so that an empty view still allocates. */
	if ((p = malloc(v.len + 1)) != NULL && v.len > 0)
		memcpy(p, v.p, v.len);
	return p;
}

struct epmd_areg *
epmd_areg_new(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addrlen, const struct epmd_node_info *info,
    const struct epmd_areg_opts *opts, epmd_areg_cb cb, void *arg)
{
	static const struct epmd_areg_opts defaults;
	struct epmd_areg *reg;
	double min_s, max_s;

	if (opts == NULL)
		opts = &defaults;
	if (info == NULL || epmd_check_alive2(info, NULL) != 0 ||
	    !epmd_aq_args_ok(loop, addr, addrlen, 1., cb != NULL) ||
	    opts->timeout_s < 0 || opts->retry_min_s < 0 ||
	    opts->retry_max_s < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return NULL;
	epmd_aconn_init(&reg->conn, loop, on_areg_io, EPMD_AREG_IN_MAX);
	ev_init(&reg->timer_w, on_areg_timer);
	memcpy(&reg->addr, addr, addrlen);
	reg->addrlen = addrlen;
	reg->info = *info;
	if ((reg->name = epmd_areg_dup(info->name)) == NULL ||
	    (reg->extra = epmd_areg_dup(info->extra)) == NULL) {
		epmd_areg_destroy(reg);
		return NULL;
	}
	reg->info.name.p = reg->name;
	reg->info.extra.p = reg->extra;
	reg->timeout_s = opts->timeout_s > 0 ? opts->timeout_s :
	    EPMD_AREG_DEFAULT_TIMEOUT_S;
	min_s = opts->retry_min_s > 0 ? opts->retry_min_s :
	    EPMD_AREG_DEFAULT_RETRY_MIN_S;
	max_s = opts->retry_max_s > 0 ? opts->retry_max_s :
	    EPMD_AREG_DEFAULT_RETRY_MAX_S;
	backoff_init(&reg->backoff, (uint64_t)(min_s * 1e3),
	    (uint64_t)(max_s * 1e3));
	/* Jitter only: nodes that lost one epmd should not retry in step. */
	reg->seed = (unsigned int)(clock_ms() ^ (uint64_t)getpid() ^
	    (uint64_t)(uintptr_t)reg);
	reg->cb = cb;
	reg->arg = arg;
	/* The first attempt starts from the loop. */
	reg->state = EPMD_AREG_S_WAITING;
	ev_timer_set(&reg->timer_w, 0., 0.);
	ev_timer_start(loop, &reg->timer_w);
	return reg;
}

int
epmd_areg_registered(const struct epmd_areg *reg, uint32_t *creation)
{
	if (reg == NULL || reg->dead || reg->state != EPMD_AREG_S_ALIVE)
		return 0;
	if (creation != NULL)
		*creation = reg->creation;
	return 1;
}

void
epmd_areg_free(struct epmd_areg *reg)
{
	if (reg == NULL || reg->dead)
		return;
	if (reg->in_cb > 0) {
		/* Closed now, freed when the callback returns. */
		ev_timer_stop(reg->conn.loop, &reg->timer_w);
		epmd_aconn_close(&reg->conn);
		reg->dead = 1;
		return;
	}
	epmd_areg_destroy(reg);
}
