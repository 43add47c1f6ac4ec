/*
 * c-ares on libev; see resolv.h.
 *
 * The channel tells us which sockets to watch through
 * ARES_OPT_SOCK_STATE_CB; each socket gets a struct resolv_io that
 * embeds its ev_io.  One ev_timer follows ares_timeout() and is re-armed
 * after every call into c-ares.
 *
 * A query lives in two worlds.  The caller sees it until its callback
 * returns or it is cancelled; c-ares holds it as a callback argument
 * until c-ares calls back (an answer, its own timeout, or
 * ARES_EDESTRUCTION from ares_destroy()).  c-ares cannot cancel one
 * query, so a query that is cancelled or passes its deadline first
 * becomes DEAD and is freed when c-ares lets go of it.  Answers are
 * never delivered from inside c-ares: the c-ares callback stores the
 * result and starts a zero-delay timer, whose callback calls the user.
 * This also covers c-ares answering from inside ares_getaddrinfo()
 * (numeric names, /etc/hosts), and numeric names we answer ourselves.
 *
 * Loosely after shadowsocks-libev's src/resolv.c, with one channel for
 * all queries and one ev_io per c-ares socket.
 */
#include "common/container.h"
#include "common/resolv.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <ares.h>

#include "common/err.h"
#include "common/sock.h"

/* DNS class IN and type SRV (RFC 1035, RFC 2782). */
#define RESOLV_C_IN	1
#define RESOLV_T_SRV	33

/* One socket c-ares asked us to watch. */
struct resolv_io {
	ev_io			 io_w;
	struct resolv		*r;
	LIST_ENTRY(resolv_io)	 entry;
};

enum resolv_kind {
	RESOLV_K_ADDR,
	RESOLV_K_SRV,
};

enum resolv_qstate {
	RESOLV_Q_PENDING,	/* waiting for an answer or the deadline */
	RESOLV_Q_READY,		/* result stored; done_w will deliver it */
	RESOLV_Q_CALLING,	/* the caller's callback is running */
	RESOLV_Q_DEAD,		/* answered or cancelled; c-ares may hold it */
};

struct resolv_query {
	struct resolv			*r;	/* NULL: orphaned by resolv_free */
	TAILQ_ENTRY(resolv_query)	 entry;
	enum resolv_kind		 kind;
	enum resolv_qstate		 state;
	int				 in_ares; /* c-ares owes a callback */
	int				 family;
	ev_timer			 deadline_w;
	ev_timer			 done_w;
	resolv_addr_cb			 addr_cb;
	resolv_srv_cb			 srv_cb;
	void				*arg;
	int				 err;
	void				*res;	/* addresses or SRV records */
	size_t				 nres;
	char				 name[];
};

struct resolv {
	struct ev_loop			*loop;
	ares_channel			 channel;
	ev_timer			 timeout_w;
	double				 deadline_s;
	LIST_HEAD(, resolv_io)		 ios;
	TAILQ_HEAD(, resolv_query)	 queries;
};

static void	resolv_rearm(struct resolv *);

/*
 * s seconds from the real now.  libev counts timers from ev_now(), the
 * time the loop last woke up, which lags when a caller starts a query
 * after a long callback or before the loop first runs (ev(3), "The
 * special problem of time updates").
 */
static double
resolv_after(struct ev_loop *loop, double s)
{
	return s + (ev_time() - ev_now(loop));
}

static int
resolv_status_err(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ETIMEOUT:
		return CAIRN_ERR_TIMEOUT;
	case ARES_ENOMEM:
		return CAIRN_ERR_NOMEM;
	default:
		return CAIRN_ERR_DNS;
	}
}

/*
 * Sockets.
 */

static void
on_resolv_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct resolv_io *io = container_of(w, struct resolv_io, io_w);
	struct resolv *r = io->r;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (revents & EV_READ)
		rfd = w->fd;
	if (revents & EV_WRITE)
		wfd = w->fd;
	/* May close the socket and free io through resolv_sock_state(). */
	ares_process_fd(r->channel, rfd, wfd);
	resolv_rearm(r);
}

/* ARES_OPT_SOCK_STATE_CB: start, change or stop watching fd. */
static void
resolv_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolv *r = data;
	struct resolv_io *io;
	int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	LIST_FOREACH(io, &r->ios, entry)
		if (io->io_w.fd == fd)
			break;
	if (events == 0) {
		if (io != NULL) {
			ev_io_stop(r->loop, &io->io_w);
			LIST_REMOVE(io, entry);
			free(io);
		}
		return;
	}
	if (io == NULL) {
		/*
		 * c-ares cannot be told that we failed; its queries on this
		 * socket end at their deadline instead.
		 */
		if ((io = calloc(1, sizeof(*io))) == NULL)
			return;
		io->r = r;
		ev_init(&io->io_w, on_resolv_io);
		LIST_INSERT_HEAD(&r->ios, io, entry);
	} else
		ev_io_stop(r->loop, &io->io_w);
	ev_io_set(&io->io_w, fd, events);
	ev_io_start(r->loop, &io->io_w);
}

static void
on_resolv_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolv *r = container_of(w, struct resolv, timeout_w);

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolv_rearm(r);
}

/* Points the channel timer at c-ares' next deadline, if any. */
static void
resolv_rearm(struct resolv *r)
{
	struct timeval tv, *tvp;

	ev_timer_stop(r->loop, &r->timeout_w);
	if ((tvp = ares_timeout(r->channel, NULL, &tv)) == NULL)
		return;
	/* ares_timeout() counts from the real now, not ev_now(). */
	ev_timer_set(&r->timeout_w, resolv_after(r->loop,
	    (double)tvp->tv_sec + (double)tvp->tv_usec / 1e6), 0.);
	ev_timer_start(r->loop, &r->timeout_w);
}

/*
 * Queries.
 */

/* Unlinks and frees q; the caller has stopped its watchers. */
static void
resolv_query_destroy(struct resolv_query *q)
{
	if (q->r != NULL)
		TAILQ_REMOVE(&q->r->queries, q, entry);
	free(q->res);
	free(q);
}

/* Stores an outcome and schedules its delivery from the loop. */
static void
resolv_query_ready(struct resolv_query *q, int err, void *res, size_t n)
{
	struct ev_loop *loop = q->r->loop;

	q->state = RESOLV_Q_READY;
	q->err = err;
	q->res = res;
	q->nres = n;
	ev_timer_stop(loop, &q->deadline_w);
	ev_timer_set(&q->done_w, 0., 0.);
	ev_timer_start(loop, &q->done_w);
}

/*
 * The c-ares side is done with q.  Returns 1 when its answer is no
 * longer wanted (q passed its deadline, was cancelled or orphaned); a
 * DEAD q is freed here, as nobody else holds it.
 */
static int
resolv_query_ares_done(struct resolv_query *q)
{
	q->in_ares = 0;
	if (q->state == RESOLV_Q_DEAD) {
		resolv_query_destroy(q);
		return 1;
	}
	return q->state != RESOLV_Q_PENDING;
}

static void
on_query_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolv_query *q = container_of(w, struct resolv_query,
	    deadline_w);

	resolv_query_ready(q, CAIRN_ERR_TIMEOUT, NULL, 0);
}

static void
on_query_done(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolv_query *q = container_of(w, struct resolv_query, done_w);
	int err = q->err;

	q->state = RESOLV_Q_CALLING;
	if (q->kind == RESOLV_K_ADDR)
		q->addr_cb(q->arg, err, err == 0 ? q->res : NULL,
		    err == 0 ? q->nres : 0);
	else
		q->srv_cb(q->arg, err, err == 0 ? q->res : NULL,
		    err == 0 ? q->nres : 0);
	/* The callback may have called resolv_free(), orphaning q. */
	q->state = RESOLV_Q_DEAD;
	free(q->res);
	q->res = NULL;
	if (q->r == NULL || !q->in_ares)
		resolv_query_destroy(q);
}

static struct resolv_query *
resolv_query_new(struct resolv *r, const char *name, enum resolv_kind kind,
    void *arg)
{
	struct resolv_query *q;
	size_t len;

	if (r == NULL || name == NULL || (len = strlen(name)) == 0 ||
	    len >= RESOLV_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q) + len + 1)) == NULL)
		return NULL;
	memcpy(q->name, name, len + 1);
	q->r = r;
	q->kind = kind;
	q->state = RESOLV_Q_PENDING;
	q->arg = arg;
	ev_timer_init(&q->deadline_w, on_query_deadline,
	    resolv_after(r->loop, r->deadline_s), 0.);
	ev_timer_init(&q->done_w, on_query_done, 0., 0.);
	TAILQ_INSERT_TAIL(&r->queries, q, entry);
	ev_timer_start(r->loop, &q->deadline_w);
	return q;
}

/* Appends sa to out[0..*n) unless it is there already or out is full. */
static void
resolv_add_addr(struct sockaddr_storage *out, size_t *n,
    const struct sockaddr *sa)
{
	size_t i, len;

	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return;
	for (i = 0; i < *n; i++)
		if (sock_same_addr((const struct sockaddr *)&out[i], sa))
			return;
	if (*n == RESOLV_MAX_ADDRS)
		return;
	memset(&out[*n], 0, sizeof(out[*n]));
	memcpy(&out[*n], sa, len);
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)&out[*n])->sin_port = 0;
	else
		((struct sockaddr_in6 *)&out[*n])->sin6_port = 0;
	(*n)++;
}

static void
on_ares_addr(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct resolv_query *q = arg;
	struct ares_addrinfo_node *node;
	struct sockaddr_storage *out = NULL;
	size_t n = 0;
	int err;

	/* ARES_EDESTRUCTION and ARES_ECANCELLED land here: q is DEAD. */
	if (resolv_query_ares_done(q))
		goto done;
	if ((err = resolv_status_err(status)) == 0) {
		if ((out = calloc(RESOLV_MAX_ADDRS, sizeof(*out))) == NULL)
			err = CAIRN_ERR_NOMEM;
		for (node = ai != NULL ? ai->nodes : NULL;
		    out != NULL && node != NULL; node = node->ai_next)
			if (q->family == AF_UNSPEC ||
			    node->ai_family == q->family)
				resolv_add_addr(out, &n, node->ai_addr);
		if (err == 0 && n == 0)
			err = CAIRN_ERR_DNS;
	}
	if (err != 0) {
		free(out);
		out = NULL;
		n = 0;
	}
	resolv_query_ready(q, err, out, n);
 done:
	if (ai != NULL)
		ares_freeaddrinfo(ai);
}

struct resolv_query *
resolv_query_addr(struct resolv *r, const char *name, int family,
    resolv_addr_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolv_query *q;
	struct sockaddr_storage ss, *out;
	socklen_t sslen;

	if (cb == NULL || (family != AF_UNSPEC && family != AF_INET &&
	    family != AF_INET6)) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = resolv_query_new(r, name, RESOLV_K_ADDR, arg)) == NULL)
		return NULL;
	q->addr_cb = cb;
	q->family = family;

	/* A numeric address needs no DNS, but answers the same way. */
	if (sock_addr_parse(name, 0, &ss, &sslen) == 0) {
		if (family != AF_UNSPEC && ss.ss_family != family) {
			resolv_query_ready(q, CAIRN_ERR_DNS, NULL, 0);
			return q;
		}
		if ((out = malloc(sizeof(*out))) == NULL) {
			resolv_query_ready(q, CAIRN_ERR_NOMEM, NULL, 0);
			return q;
		}
		*out = ss;
		resolv_query_ready(q, 0, out, 1);
		return q;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	/* Sorting (RFC 6724) opens a socket per address; we want a list. */
	hints.ai_flags = ARES_AI_NOSORT;
	q->in_ares = 1;
	/* May call on_ares_addr() before it returns (/etc/hosts). */
	ares_getaddrinfo(r->channel, q->name, NULL, &hints, on_ares_addr, q);
	resolv_rearm(r);
	return q;
}

/* Lower priority first, then higher weight; stable otherwise. */
static int
resolv_srv_before(const struct resolv_srv *a, const struct resolv_srv *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return a->weight > b->weight;
}

static void
on_ares_srv(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct resolv_query *q = arg;
	struct ares_srv_reply *reply = NULL, *s;
	struct resolv_srv *out = NULL, tmp;
	size_t n = 0, i, j;
	int err;

	if (resolv_query_ares_done(q))
		return;
	if ((err = resolv_status_err(status)) == 0)
		err = resolv_status_err(ares_parse_srv_reply(abuf, alen,
		    &reply));
	if (err == 0 && (out = calloc(RESOLV_MAX_SRV, sizeof(*out))) == NULL)
		err = CAIRN_ERR_NOMEM;
	for (s = reply; err == 0 && s != NULL && n < RESOLV_MAX_SRV;
	    s = s->next) {
		if (strlen(s->host) >= RESOLV_NAME_MAX)
			continue;
		out[n].priority = s->priority;
		out[n].weight = s->weight;
		out[n].port = s->port;
		strcpy(out[n].target, s->host);
		n++;
	}
	if (reply != NULL)
		ares_free_data(reply);
	if (err == 0 && n == 0)
		err = CAIRN_ERR_DNS;
	if (err != 0) {
		free(out);
		resolv_query_ready(q, err, NULL, 0);
		return;
	}
	/* Insertion sort: stable, and n is small. */
	for (i = 1; i < n; i++) {
		tmp = out[i];
		for (j = i; j > 0 && resolv_srv_before(&tmp, &out[j - 1]); j--)
			out[j] = out[j - 1];
		out[j] = tmp;
	}
	resolv_query_ready(q, 0, out, n);
}

struct resolv_query *
resolv_query_srv(struct resolv *r, const char *name, resolv_srv_cb cb,
    void *arg)
{
	struct resolv_query *q;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = resolv_query_new(r, name, RESOLV_K_SRV, arg)) == NULL)
		return NULL;
	q->srv_cb = cb;
	q->in_ares = 1;
	ares_search(r->channel, q->name, RESOLV_C_IN, RESOLV_T_SRV,
	    on_ares_srv, q);
	resolv_rearm(r);
	return q;
}

void
resolv_cancel(struct resolv_query *q)
{
	if (q == NULL || q->state == RESOLV_Q_CALLING ||
	    q->state == RESOLV_Q_DEAD)
		return;
	ev_timer_stop(q->r->loop, &q->deadline_w);
	ev_timer_stop(q->r->loop, &q->done_w);
	q->state = RESOLV_Q_DEAD;
	free(q->res);
	q->res = NULL;
	if (!q->in_ares)
		resolv_query_destroy(q);
}

/*
 * The resolver.
 */

struct resolv *
resolv_new(struct ev_loop *loop, const struct resolv_opts *opts)
{
	static const struct resolv_opts defaults;
	struct ares_options ao;
	struct resolv *r;
	int mask, deadline_ms, rc;

	if (loop == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (opts == NULL)
		opts = &defaults;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->loop = loop;
	LIST_INIT(&r->ios);
	TAILQ_INIT(&r->queries);
	ev_init(&r->timeout_w, on_resolv_timeout);
	deadline_ms = opts->deadline_ms > 0 ? opts->deadline_ms :
	    RESOLV_DEFAULT_DEADLINE_MS;
	r->deadline_s = (double)deadline_ms / 1e3;

	/* Counted by c-ares; undone in resolv_free(). */
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	memset(&ao, 0, sizeof(ao));
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	ao.sock_state_cb = resolv_sock_state;
	ao.sock_state_cb_data = r;
	ao.timeout = opts->timeout_ms > 0 ? opts->timeout_ms :
	    RESOLV_DEFAULT_TIMEOUT_MS;
	ao.tries = opts->tries > 0 ? opts->tries : RESOLV_DEFAULT_TRIES;
	if (opts->no_search) {
		/* Zero domains set explicitly: resolv.conf's are not read. */
		ao.domains = NULL;
		ao.ndomains = 0;
		mask |= ARES_OPT_DOMAINS;
	}
	if ((rc = ares_init_options(&r->channel, &ao, mask)) != ARES_SUCCESS)
		goto fail;
	if (opts->servers != NULL &&
	    ares_set_servers_ports_csv(r->channel, opts->servers) !=
	    ARES_SUCCESS) {
		ares_destroy(r->channel);
		rc = ARES_EBADSTR;
		goto fail;
	}
	return r;
 fail:
	ares_library_cleanup();
	free(r);
	errno = rc == ARES_ENOMEM ? ENOMEM : EINVAL;
	return NULL;
}

void
resolv_free(struct resolv *r)
{
	struct resolv_query *q, *tq;
	struct resolv_io *io;

	if (r == NULL)
		return;
	TAILQ_FOREACH(q, &r->queries, entry) {
		ev_timer_stop(r->loop, &q->deadline_w);
		ev_timer_stop(r->loop, &q->done_w);
		if (q->state != RESOLV_Q_CALLING)
			q->state = RESOLV_Q_DEAD;
	}
	/*
	 * Every query c-ares holds comes back with ARES_EDESTRUCTION and,
	 * being DEAD, is freed there.  Sockets are reported closed.
	 */
	ares_destroy(r->channel);
	for (q = TAILQ_FIRST(&r->queries); q != NULL; q = tq) {
		tq = TAILQ_NEXT(q, entry);
		if (q->state == RESOLV_Q_CALLING) {
			/* on_query_done() frees it once the callback returns. */
			TAILQ_REMOVE(&r->queries, q, entry);
			q->r = NULL;
		} else
			resolv_query_destroy(q);
	}
	while ((io = LIST_FIRST(&r->ios)) != NULL) {
		ev_io_stop(r->loop, &io->io_w);
		LIST_REMOVE(io, entry);
		free(io);
	}
	ev_timer_stop(r->loop, &r->timeout_w);
	ares_library_cleanup();
	free(r);
}
