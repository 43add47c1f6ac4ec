/*
 * One cluster link; see link.h.  Watcher interest follows the buffers
 * (as client.c): read unless closed, write while output is pending or
 * the connect is in progress.  The output queue is capped at twice
 * lc_soft_out plus one frame: the owner stops queueing at lc_soft_out
 * (link_writable()), so only a peer that stops reading reaches the cap,
 * and the link is closed then.
 */
#include "broker/link.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "broker/sub_ref.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

#define LINK_READ_CHUNK		(64 * 1024)

static void	link_on_read(struct ev_loop *, ev_io *, int);
static void	link_on_write(struct ev_loop *, ev_io *, int);
static void	link_on_timer(struct ev_loop *, ev_timer *, int);
static void	link_on_free(struct ev_loop *, ev_timer *, int);

const char *
link_state_name(const struct link *l)
{
	switch (l->l_state) {
	case LINK_CONNECTING:
		return "connecting";
	case LINK_HELLO_WAIT:
	case LINK_AUTH_WAIT:
		return "handshake";
	case LINK_UP:
		return "up";
	case LINK_CLOSED:
		break;
	}
	return "closed";
}

static const char *
link_who(const struct link *l)
{
	return l->l_name != NULL ? l->l_name : "?";
}

static void
link_watchers(struct link *l)
{
	int want_wr;

	if (l->l_state == LINK_CLOSED)
		return;
	if (!ev_is_active(&l->l_rd_w) && l->l_state != LINK_CONNECTING)
		ev_io_start(l->l_loop, &l->l_rd_w);
	want_wr = l->l_out.len > 0 || l->l_state == LINK_CONNECTING;
	if (want_wr && !ev_is_active(&l->l_wr_w))
		ev_io_start(l->l_loop, &l->l_wr_w);
	else if (!want_wr && ev_is_active(&l->l_wr_w))
		ev_io_stop(l->l_loop, &l->l_wr_w);
}

/* Queues m whatever the state (handshake frames too). */
static int
link_put(struct link *l, const struct link_msg *m)
{
	int rc;

	if ((rc = link_encode(&l->l_out, m, l->l_conf->lc_max_frame)) != 0) {
		if (rc == CAIRN_ERR_INVAL)
			return rc;
		link_close(l, "output queue over %zu bytes (%s)",
		    l->l_out.max, cairn_strerror(rc));
		return CAIRN_ERR_CLOSED;
	}
	l->l_frames_out++;
	link_watchers(l);
	return 0;
}

int
link_send(struct link *l, const struct link_msg *m)
{
	if (l->l_state != LINK_UP)
		return CAIRN_ERR_CLOSED;
	return link_put(l, m);
}

int
link_writable(const struct link *l)
{
	return l->l_state == LINK_UP && l->l_out.len < l->l_conf->lc_soft_out;
}

static void
link_random(uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = getrandom(p, len, 0)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fatal("getrandom");	/* no challenge without it */
		}
		p += n;
		len -= (size_t)n;
	}
}

static int
link_send_hello(struct link *l)
{
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.type = LINK_HELLO;
	m.u.hello.version = LINK_VERSION;
	m.u.hello.name = bytes_view_of(l->l_conf->lc_self,
	    strlen(l->l_conf->lc_self));
	memcpy(m.u.hello.challenge, l->l_challenge, LINK_CHALLENGE_LEN);
	l->l_state = LINK_HELLO_WAIT;
	return link_put(l, &m);
}

struct link *
link_new(struct ev_loop *loop, const struct link_conf *conf,
    const struct link_ops *ops, void *owner, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct link *l;
	int outbound = fd == -1;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		if (fd != -1)
			close(fd);
		errno = ENOMEM;
		return NULL;
	}
	if (outbound && (fd = sock_connect(sa, salen, 1)) == -1) {
		free(l);
		return NULL;
	}
	l->l_loop = loop;
	l->l_conf = conf;
	l->l_ops = ops;
	l->l_owner = owner;
	l->l_fd = fd;
	l->l_outbound = outbound;
	sock_ntop(sa, l->l_addr, sizeof(l->l_addr));
	bytes_w_init(&l->l_out, 2 * conf->lc_soft_out + conf->lc_max_frame +
	    LINK_HDR_LEN);
	link_random(l->l_challenge, sizeof(l->l_challenge));
	(void)sock_set_nodelay(fd);
	ev_io_init(&l->l_rd_w, link_on_read, fd, EV_READ);
	ev_io_init(&l->l_wr_w, link_on_write, fd, EV_WRITE);
	ev_init(&l->l_timer_w, link_on_timer);
	l->l_started = l->l_last_rx = l->l_last_tx = ev_now(loop);
	l->l_timer_w.repeat = conf->lc_tick / 2;
	ev_timer_again(loop, &l->l_timer_w);
	if (outbound) {
		l->l_state = LINK_CONNECTING;
		link_watchers(l);
	} else
		(void)link_send_hello(l);
	return l;
}

static void
link_stop(struct link *l)
{
	ev_io_stop(l->l_loop, &l->l_rd_w);
	ev_io_stop(l->l_loop, &l->l_wr_w);
	ev_timer_stop(l->l_loop, &l->l_timer_w);
	if (l->l_fd != -1)
		close(l->l_fd);
	l->l_fd = -1;
	l->l_state = LINK_CLOSED;
}

static void
link_free(struct link *l)
{
	bytes_w_fini(&l->l_out);
	free(l->l_in);
	free(l->l_name);
	free(l);
}

void
link_close(struct link *l, const char *why, ...)
{
	char buf[256];
	va_list ap;

	if (l->l_state == LINK_CLOSED)
		return;
	if (why != NULL) {
		va_start(ap, why);
		vsnprintf(buf, sizeof(buf), why, ap);
		va_end(ap);
		log_info("link %s %s (%s): closed: %s",
		    l->l_outbound ? "to" : "from", link_who(l), l->l_addr,
		    buf);
	}
	/* One last try for what is owed (the AUTH before a refusal...). */
	if (l->l_out.len > 0 && l->l_state != LINK_CONNECTING)
		(void)send(l->l_fd, l->l_out.buf, l->l_out.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	link_stop(l);
	l->l_ops->lo_closed(l->l_owner, l);
	/* Freed on the next iteration, by the timer: never under a callback. */
	ev_timer_init(&l->l_timer_w, link_on_free, 0., 0.);
	ev_timer_start(l->l_loop, &l->l_timer_w);
}

void
link_destroy(struct link *l)
{
	if (l == NULL)
		return;
	link_stop(l);
	ev_timer_stop(l->l_loop, &l->l_timer_w);
	link_free(l);
}

static void
link_on_free(struct ev_loop *loop, ev_timer *w, int revents)
{
	link_free(container_of(w, struct link, l_timer_w));
}

/* The peer's HELLO: check it, answer with our AUTH. */
static void
link_on_hello(struct link *l, const struct link_hello *h)
{
	struct link_msg m;
	const char *why;
	char *name;

	if (l->l_got_hello) {
		link_close(l, "protocol error: a second HELLO");
		return;
	}
	l->l_got_hello = 1;
	if ((name = malloc(h->name.len + 1)) == NULL) {
		link_close(l, "out of memory");
		return;
	}
	memcpy(name, h->name.p, h->name.len);
	name[h->name.len] = '\0';
	free(l->l_name);
	l->l_name = name;
	memcpy(l->l_peer_challenge, h->challenge, LINK_CHALLENGE_LEN);
	if ((why = l->l_ops->lo_hello(l->l_owner, l, name)) != NULL) {
		link_close(l, "%s", why);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = LINK_AUTH;
	if (link_mac(l->l_conf->lc_cookie, l->l_peer_challenge,
	    bytes_view_of(l->l_conf->lc_self, strlen(l->l_conf->lc_self)),
	    bytes_view_of(name, strlen(name)), m.u.mac) != 0) {
		link_close(l, "HMAC failed (libcrypto)");
		return;
	}
	l->l_state = LINK_AUTH_WAIT;
	(void)link_put(l, &m);
}

static void
link_on_auth(struct link *l, const uint8_t mac[LINK_MAC_LEN])
{
	uint8_t want[LINK_MAC_LEN];

	if (!l->l_got_hello) {
		link_close(l, "protocol error: AUTH before HELLO");
		return;
	}
	if (link_mac(l->l_conf->lc_cookie, l->l_challenge,
	    bytes_view_of(l->l_name, strlen(l->l_name)),
	    bytes_view_of(l->l_conf->lc_self, strlen(l->l_conf->lc_self)),
	    want) != 0) {
		link_close(l, "HMAC failed (libcrypto)");
		return;
	}
	if (!link_mac_eq(mac, want)) {
		link_close(l, "handshake refused: wrong cookie?");
		return;
	}
	l->l_state = LINK_UP;
	log_info("link %s %s (%s): up", l->l_outbound ? "to" : "from",
	    l->l_name, l->l_addr);
	l->l_ops->lo_up(l->l_owner, l);
}

static void
link_dispatch(struct link *l, const struct link_msg *m)
{
	switch (l->l_state) {
	case LINK_HELLO_WAIT:
		if (m->type == LINK_HELLO)
			link_on_hello(l, &m->u.hello);
		else
			link_close(l, "protocol error: %s during the handshake",
			    link_type_name(m->type));
		return;
	case LINK_AUTH_WAIT:
		if (m->type == LINK_AUTH)
			link_on_auth(l, m->u.mac);
		else
			link_close(l, "protocol error: %s during the handshake",
			    link_type_name(m->type));
		return;
	case LINK_UP:
		if (m->type == LINK_HELLO || m->type == LINK_AUTH)
			link_close(l, "protocol error: %s after the handshake",
			    link_type_name(m->type));
		else if (m->type != LINK_TICK)
			l->l_ops->lo_msg(l->l_owner, l, m);
		return;
	case LINK_CONNECTING:
	case LINK_CLOSED:
		return;
	}
}

/* Decodes and dispatches every whole frame of l_in. */
static void
link_parse(struct link *l)
{
	struct link_msg m;
	size_t off = 0, used;
	int rc;

	while (l->l_state != LINK_CLOSED) {
		rc = link_decode(l->l_in + off, l->l_in_len - off,
		    l->l_conf->lc_max_frame, &m, &used);
		if (rc == CAIRN_ERR_NEED_MORE)
			break;
		if (rc == CAIRN_ERR_TOO_BIG) {
			link_close(l, "frame over max_frame %zu",
			    l->l_conf->lc_max_frame);
			return;
		}
		if (rc != 0) {
			link_close(l, "malformed frame (%s)",
			    cairn_strerror(rc));
			return;
		}
		l->l_frames_in++;
		link_dispatch(l, &m);
		off += used;
	}
	if (l->l_state == LINK_CLOSED)
		return;
	if (off > 0) {
		memmove(l->l_in, l->l_in + off, l->l_in_len - off);
		l->l_in_len -= off;
	}
}

static void
link_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link *l = container_of(w, struct link, l_rd_w);
	size_t want = l->l_conf->lc_max_frame + 4, ncap;
	uint8_t *n;
	ssize_t r;

	if (l->l_in_cap - l->l_in_len < LINK_READ_CHUNK &&
	    l->l_in_cap < want) {
		ncap = l->l_in_cap == 0 ? LINK_READ_CHUNK : l->l_in_cap * 2;
		if (ncap > want)
			ncap = want;
		if ((n = realloc(l->l_in, ncap)) == NULL) {
			link_close(l, "out of memory for input");
			return;
		}
		l->l_in = n;
		l->l_in_cap = ncap;
	}
	r = read(l->l_fd, l->l_in + l->l_in_len, l->l_in_cap - l->l_in_len);
	if (r == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		link_close(l, "read: %s", strerror(errno));
		return;
	}
	if (r == 0) {
		link_close(l, l->l_state == LINK_AUTH_WAIT ?
		    "closed by the peer during the handshake (wrong cookie?)" :
		    "closed by the peer");
		return;
	}
	l->l_in_len += (size_t)r;
	l->l_last_rx = ev_now(loop);
	link_parse(l);
}

static void
link_flush(struct link *l)
{
	size_t before = l->l_out.len;
	ssize_t n;

	if (l->l_out.len == 0)
		return;
	n = send(l->l_fd, l->l_out.buf, l->l_out.len, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			link_close(l, "write: %s", strerror(errno));
		return;
	}
	bytes_w_consume(&l->l_out, (size_t)n);
	l->l_last_tx = ev_now(l->l_loop);
	if (l->l_state == LINK_UP && before >= l->l_conf->lc_soft_out &&
	    l->l_out.len < l->l_conf->lc_soft_out)
		l->l_ops->lo_drain(l->l_owner, l);
}

static void
link_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link *l = container_of(w, struct link, l_wr_w);

	if (l->l_state == LINK_CONNECTING) {
		if (sock_connect_result(l->l_fd) != 0) {
			link_close(l, "connect: %s", strerror(errno));
			return;
		}
		l->l_last_rx = ev_now(loop);
		if (link_send_hello(l) != 0)
			return;
	}
	link_flush(l);
	link_watchers(l);
}

/* Handshake deadline, ticks, dead peers. */
static void
link_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = container_of(w, struct link, l_timer_w);
	const struct link_conf *c = l->l_conf;
	ev_tstamp now = ev_now(loop);
	struct link_msg m;

	if (l->l_state != LINK_UP) {
		if (now - l->l_started >= c->lc_dead)
			link_close(l, "handshake timed out after %.1fs",
			    c->lc_dead);
		return;
	}
	if (now - l->l_last_rx >= c->lc_dead) {
		link_close(l, "dead: nothing heard for %.1fs", c->lc_dead);
		return;
	}
	if (now - l->l_last_tx >= c->lc_tick && l->l_out.len == 0) {
		memset(&m, 0, sizeof(m));
		m.type = LINK_TICK;
		(void)link_put(l, &m);
		/* Counted as sent when queued: a stuck socket is not idle. */
		l->l_last_tx = now;
	}
}
