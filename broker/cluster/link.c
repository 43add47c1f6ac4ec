/*
 * One cluster link; see link.h.  Watcher interest follows the buffers
 * (as client.c): read unless closed, write while output is pending, the
 * connect is in progress, or TLS asks for it.  The output queue is
 * capped at twice lc_soft_out plus one frame: the owner stops queueing
 * at lc_soft_out (link_writable()), so only a peer that stops reading
 * reaches the cap, and the link is closed then.
 *
 * TLS goes through link_io_read()/link_io_write(), which turn OpenSSL's
 * WANT_READ/WANT_WRITE into EAGAIN plus the watcher flags, so the rest
 * of the file does not know whether a link is plain.  OpenSSL's errors
 * are read off its queue right where a call failed, for the log line.
 */
#include "broker/cluster/link.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "broker/cluster/link_hs.h"
#include "broker/core/sub_ref.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"
#include "common/tls.h"

#define LINK_READ_CHUNK		(64 * 1024)
/*
 * Frame bytes handled per loop iteration: a peer that sent a burst (a
 * session move, a snapshot) is handled in slices, the rest on the next
 * iteration, while the socket is not read.
 */
#define LINK_PARSE_SLICE	(256 * 1024)
/* The input buffer of a link before UP: one pre-auth frame and a header. */
#define LINK_PREAUTH_BUF	(LINK_PREAUTH_MAX_FRAME + LINK_HDR_LEN)

static void	link_on_read(struct ev_loop *, ev_io *, int);
static void	link_on_write(struct ev_loop *, ev_io *, int);
static void	link_on_timer(struct ev_loop *, ev_timer *, int);
static void	link_on_free(struct ev_loop *, ev_timer *, int);
static void	link_on_more(struct ev_loop *, ev_idle *, int);
static void	link_tls_step(struct link *);
static void	link_read(struct link *);
static void	link_parse(struct link *);

const char *
link_state_name(const struct link *l)
{
	switch (l->l_state) {
	case LINK_CONNECTING:
		return "connecting";
	case LINK_TLS:
	case LINK_HANDSHAKE:
		return "handshake";
	case LINK_UP:
		return "up";
	case LINK_CLOSED:
		break;
	}
	return "closed";
}

const char *
link_peer_name(const struct link *l)
{
	if (l->l_name != NULL)
		return l->l_name;
	return l->l_hs.hs_peer[0] != '\0' ? l->l_hs.hs_peer : "?";
}

static void
link_watchers(struct link *l)
{
	int want_wr;

	if (l->l_state == LINK_CLOSED)
		return;
	/* Frames left from the last read: no reading until they are done. */
	if (ev_is_active(&l->l_more_w)) {
		if (ev_is_active(&l->l_rd_w))
			ev_io_stop(l->l_loop, &l->l_rd_w);
	} else if (!ev_is_active(&l->l_rd_w) && l->l_state != LINK_CONNECTING)
		ev_io_start(l->l_loop, &l->l_rd_w);
	want_wr = l->l_out.len > 0 || l->l_state == LINK_CONNECTING ||
	    l->l_tls_want_wr;
	if (want_wr && !ev_is_active(&l->l_wr_w))
		ev_io_start(l->l_loop, &l->l_wr_w);
	else if (!want_wr && ev_is_active(&l->l_wr_w))
		ev_io_stop(l->l_loop, &l->l_wr_w);
}

/* OpenSSL's reason for the last failure: common/tls.h. */
static const char *
link_tls_reason(SSL *ssl, char *buf, size_t len, const char *dflt)
{
	return tls_reason(ssl, buf, len, dflt, NULL);
}

/*
 * read(2) or SSL_read: > 0 bytes, 0 at the end, -1 with errno (EAGAIN
 * when TLS needs the socket again; EPROTO with *tls_why for TLS).
 */
static ssize_t
link_io_read(struct link *l, void *buf, size_t len, const char **tls_why,
    char *why, size_t whylen)
{
	int n, e;

	if (l->l_ssl == NULL)
		return read(l->l_fd, buf, len);
	ERR_clear_error();
	if ((n = SSL_read(l->l_ssl, buf, (int)(len > INT32_MAX ? INT32_MAX :
	    len))) > 0)
		return n;
	switch ((e = SSL_get_error(l->l_ssl, n))) {
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		l->l_tls_want_wr = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 && ERR_peek_error() == 0)
			return 0;	/* EOF without close_notify */
		if (ERR_peek_error() == 0)
			return -1;
		break;
	default:
		break;
	}
	*tls_why = link_tls_reason(l->l_ssl, why, whylen, "TLS error");
	errno = EPROTO;
	return -1;
}

/* write(2) or SSL_write, as link_io_read(). */
static ssize_t
link_io_write(struct link *l, const void *buf, size_t len,
    const char **tls_why, char *why, size_t whylen)
{
	int n;

	if (l->l_ssl == NULL)
		return send(l->l_fd, buf, len, MSG_NOSIGNAL);
	ERR_clear_error();
	if ((n = SSL_write(l->l_ssl, buf, (int)(len > INT32_MAX ? INT32_MAX :
	    len))) > 0)
		return n;
	switch (SSL_get_error(l->l_ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_READ:
		l->l_tls_wr_want_rd = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0)
			return -1;
		break;
	default:
		break;
	}
	*tls_why = link_tls_reason(l->l_ssl, why, whylen, "TLS error");
	errno = EPROTO;
	return -1;
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
			fatal("getrandom");	/* no nonce without it */
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Queues what the handshake has to send; -1 when the link closed. */
static int
link_hs_flush(struct link *l)
{
	size_t i;

	for (i = 0; i < l->l_hs.hs_nout; i++)
		if (link_put(l, &l->l_hs.hs_out[i]) != 0)
			return -1;
	l->l_hs.hs_nout = 0;
	return 0;
}

static const char *
link_hs_check_cb(void *arg, const char *name,
    const uint8_t nonce[LINK_NONCE_LEN])
{
	struct link *l = arg;

	return l->l_ops->lo_hello(l->l_owner, l, name, nonce);
}

/* TLS (if any) is done: the cookie handshake starts. */
static void
link_start_handshake(struct link *l)
{
	uint8_t nonce[LINK_NONCE_LEN];

	link_random(nonce, sizeof(nonce));
	link_hs_init(&l->l_hs, l->l_outbound ? LINK_INITIATOR :
	    LINK_RESPONDER, l->l_conf->lc_cookie,
	    bytes_view_of(l->l_conf->lc_self, strlen(l->l_conf->lc_self)),
	    bytes_view_of(l->l_binding, l->l_binding_len), nonce,
	    link_hs_check_cb, l);
	l->l_state = LINK_HANDSHAKE;
	(void)link_hs_flush(l);
}

/*
 * The socket is connected (outbound) or accepted (inbound): TLS or the
 * cookie handshake starts.  An inbound TLS link waits for the client's
 * first bytes.  -1 (nothing closed) when no TLS session can be made.
 */
static int
link_connected(struct link *l)
{
	if (l->l_conf->lc_tls == NULL) {
		link_start_handshake(l);
		return 0;
	}
	if ((l->l_ssl = SSL_new(l->l_conf->lc_tls)) == NULL ||
	    SSL_set_fd(l->l_ssl, l->l_fd) != 1)
		return -1;
	l->l_state = LINK_TLS;
	if (!l->l_outbound) {
		SSL_set_accept_state(l->l_ssl);
		return 0;
	}
	SSL_set_connect_state(l->l_ssl);
	link_tls_step(l);
	return 0;
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
	if (salen > sizeof(l->l_ss))
		salen = sizeof(l->l_ss);
	memcpy(&l->l_ss, sa, salen);
	l->l_sl = salen;
	sock_ntop(sa, l->l_addr, sizeof(l->l_addr));
	bytes_w_init(&l->l_out, 2 * conf->lc_soft_out + conf->lc_max_frame +
	    LINK_HDR_LEN);
	(void)sock_set_nodelay(fd);
	ev_io_init(&l->l_rd_w, link_on_read, fd, EV_READ);
	ev_io_init(&l->l_wr_w, link_on_write, fd, EV_WRITE);
	ev_init(&l->l_timer_w, link_on_timer);
	ev_idle_init(&l->l_more_w, link_on_more);
	l->l_started = l->l_last_rx = l->l_last_tx = ev_now(loop);
	l->l_timer_w.repeat = conf->lc_tick / 2;
	if (l->l_timer_w.repeat > conf->lc_handshake / 4)
		l->l_timer_w.repeat = conf->lc_handshake / 4;
	ev_timer_again(loop, &l->l_timer_w);
	if (outbound) {
		l->l_state = LINK_CONNECTING;
		link_watchers(l);
	} else {
		/* Inbound: nothing here can close the link, only fail. */
		l->l_state = LINK_HANDSHAKE;
		if (link_connected(l) != 0) {
			link_destroy(l);
			errno = ENOMEM;
			return NULL;
		}
		link_watchers(l);
	}
	return l;
}

static void
link_stop(struct link *l)
{
	ev_io_stop(l->l_loop, &l->l_rd_w);
	ev_io_stop(l->l_loop, &l->l_wr_w);
	ev_timer_stop(l->l_loop, &l->l_timer_w);
	ev_idle_stop(l->l_loop, &l->l_more_w);
	if (l->l_ssl != NULL) {
		SSL_free(l->l_ssl);
		l->l_ssl = NULL;
	}
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

/* A slot for the kind of reason `why`: its text, digits left out. */
static size_t
link_kind(const char *why)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *why != '\0'; why++)
		if (*why < '0' || *why > '9')
			h = (h ^ (uint8_t)*why) * 16777619u;
	return h % LINK_PRELOG_KINDS;
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
		/* A stranger's refusals: one rate limit per kind. */
		if (!l->l_outbound && l->l_state != LINK_UP &&
		    l->l_conf->lc_prelog != NULL)
			log_rate_info(&l->l_conf->lc_prelog->lp_kind[
			    link_kind(buf)],
			    "link from %s (%s): closed before "
			    "authentication: %s", link_peer_name(l),
			    l->l_addr, buf);
		else
			log_info("link %s %s (%s): closed: %s",
			    l->l_outbound ? "to" : "from", link_peer_name(l),
			    l->l_addr, buf);
	}
	/* One last try for what is owed (a HELLO before a refusal...). */
	if (l->l_out.len > 0 && l->l_ssl == NULL &&
	    l->l_state != LINK_CONNECTING)
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
link_on_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct link *l = container_of(w, struct link, l_more_w);

	link_parse(l);
	if (l->l_state == LINK_CLOSED)
		return;
	link_watchers(l);
	/* A TLS session may hold more than the socket says. */
	if (!ev_is_active(&l->l_more_w) && l->l_ssl != NULL &&
	    SSL_pending(l->l_ssl) > 0)
		link_read(l);
}

static void
link_on_free(struct ev_loop *loop, ev_timer *w, int revents)
{
	link_free(container_of(w, struct link, l_timer_w));
}

/* One handshake frame: to link_hs, and what it says back out. */
static void
link_on_handshake_frame(struct link *l, const struct link_msg *m)
{
	enum link_hs_rc rc;
	const char *name;

	rc = link_hs_input(&l->l_hs, m);
	if (rc == LINK_HS_REFUSED) {
		if (l->l_hs.hs_peer_version != 0 &&
		    l->l_hs.hs_peer_version != LINK_VERSION)
			link_close(l, "the peer speaks link version %u, this "
			    "node %u (every node of a cluster runs one "
			    "release)", l->l_hs.hs_peer_version, LINK_VERSION);
		else
			link_close(l, "%s", l->l_hs.hs_why);
		return;
	}
	if (link_hs_flush(l) != 0)
		return;
	if (rc != LINK_HS_DONE)
		return;
	name = l->l_hs.hs_peer;
	if (l->l_name == NULL || strcmp(l->l_name, name) != 0) {
		free(l->l_name);
		if ((l->l_name = strdup(name)) == NULL) {
			link_close(l, "out of memory");
			return;
		}
	}
	l->l_state = LINK_UP;
	log_info("link %s %s (%s): up%s", l->l_outbound ? "to" : "from",
	    l->l_name, l->l_addr, l->l_ssl != NULL ? " (TLS)" : "");
	l->l_ops->lo_up(l->l_owner, l);
}

static void
link_dispatch(struct link *l, const struct link_msg *m)
{
	switch (l->l_state) {
	case LINK_HANDSHAKE:
		link_on_handshake_frame(l, m);
		return;
	case LINK_UP:
		if (m->type == LINK_HELLO || m->type == LINK_AUTH)
			link_close(l, "protocol error: %s after the handshake",
			    link_type_name(m->type));
		else if (m->type != LINK_TICK)
			l->l_ops->lo_msg(l->l_owner, l, m);
		return;
	case LINK_CONNECTING:
	case LINK_TLS:
	case LINK_CLOSED:
		return;
	}
}

/* The largest frame this link reads now. */
static size_t
link_frame_max(const struct link *l)
{
	return l->l_state == LINK_UP ? l->l_conf->lc_max_frame :
	    LINK_PREAUTH_MAX_FRAME;
}

/*
 * Decodes and dispatches the whole frames of l_in, up to
 * LINK_PARSE_SLICE bytes of them; with more left, l_more_w goes on with
 * them on the next iteration (and reading waits).
 */
static void
link_parse(struct link *l)
{
	struct link_msg m;
	size_t off = 0, used;
	int rc;

	ev_idle_stop(l->l_loop, &l->l_more_w);
	/* A TLS record (handshake, TLS 1.x) where a frame should be. */
	if (l->l_ssl == NULL && l->l_state == LINK_HANDSHAKE &&
	    l->l_frames_in == 0 && l->l_in_len >= 2 && l->l_in[0] == 0x16 &&
	    l->l_in[1] == 0x03) {
		link_close(l, "the peer speaks TLS and this node does not "
		    "(cluster_certfile: every node alike)");
		return;
	}
	while (l->l_state != LINK_CLOSED) {
		rc = link_decode(l->l_in + off, l->l_in_len - off,
		    link_frame_max(l), &m, &used);
		if (rc == CAIRN_ERR_NEED_MORE)
			break;
		if (rc == CAIRN_ERR_TOO_BIG) {
			link_close(l, "frame over %s %zu",
			    l->l_state == LINK_UP ? "max_frame" :
			    "the pre-authentication limit", link_frame_max(l));
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
		if (off >= LINK_PARSE_SLICE && l->l_state != LINK_CLOSED &&
		    off < l->l_in_len) {
			ev_idle_start(l->l_loop, &l->l_more_w);
			break;
		}
	}
	if (l->l_state == LINK_CLOSED)
		return;
	if (off > 0) {
		memmove(l->l_in, l->l_in + off, l->l_in_len - off);
		l->l_in_len -= off;
	}
}

/* Room to read into: a small buffer before UP, up to a frame after. */
static int
link_room(struct link *l)
{
	size_t want, ncap;
	uint8_t *n;

	want = l->l_state == LINK_UP ? l->l_conf->lc_max_frame + LINK_HDR_LEN :
	    LINK_PREAUTH_BUF;
	if (l->l_in_cap - l->l_in_len >= LINK_READ_CHUNK ||
	    l->l_in_cap >= want)
		return l->l_in_cap > l->l_in_len ? 0 : -1;
	ncap = l->l_in_cap == 0 ? LINK_READ_CHUNK : l->l_in_cap * 2;
	if (ncap > want)
		ncap = want;
	if ((n = realloc(l->l_in, ncap)) == NULL) {
		link_close(l, "out of memory for input");
		return -1;
	}
	l->l_in = n;
	l->l_in_cap = ncap;
	return 0;
}

static void
link_read(struct link *l)
{
	char tbuf[256];
	const char *tls_why = NULL;
	ssize_t r;
	int rounds;

	/* A TLS session may hold decrypted bytes past one read: drain it. */
	for (rounds = 0; rounds < 64 && l->l_state != LINK_CLOSED; rounds++) {
		if (link_room(l) != 0) {
			if (l->l_state != LINK_CLOSED)
				link_close(l, "input buffer full");
			return;
		}
		r = link_io_read(l, l->l_in + l->l_in_len,
		    l->l_in_cap - l->l_in_len, &tls_why, tbuf, sizeof(tbuf));
		if (r == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			if (tls_why != NULL)
				link_close(l, "TLS: %s", tls_why);
			else
				link_close(l, "read: %s", strerror(errno));
			return;
		}
		if (r == 0) {
			link_close(l, l->l_state == LINK_HANDSHAKE &&
			    l->l_hs.hs_state == LINK_HS_AUTH_WAIT ?
			    "closed by the peer during the handshake (wrong "
			    "cookie?)" : "closed by the peer");
			return;
		}
		l->l_in_len += (size_t)r;
		l->l_last_rx = ev_now(l->l_loop);
		link_parse(l);
		if (l->l_ssl == NULL || SSL_pending(l->l_ssl) == 0 ||
		    ev_is_active(&l->l_more_w))
			break;
	}
	link_watchers(l);
}

static void
link_flush(struct link *l)
{
	char tbuf[256];
	const char *tls_why = NULL;
	size_t before = l->l_out.len;
	ssize_t n;

	if (l->l_out.len == 0)
		return;
	n = link_io_write(l, l->l_out.buf, l->l_out.len, &tls_why, tbuf,
	    sizeof(tbuf));
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (tls_why != NULL)
			link_close(l, "TLS: %s", tls_why);
		else
			link_close(l, "write: %s", strerror(errno));
		return;
	}
	bytes_w_consume(&l->l_out, (size_t)n);
	l->l_last_tx = ev_now(l->l_loop);
	if (l->l_state == LINK_UP && before >= l->l_conf->lc_soft_out &&
	    l->l_out.len < l->l_conf->lc_soft_out)
		l->l_ops->lo_drain(l->l_owner, l);
}

/* One step of the TLS handshake; on success the cookie handshake. */
static void
link_tls_step(struct link *l)
{
	char tbuf[256];
	int n;

	ERR_clear_error();
	l->l_tls_want_wr = 0;
	if ((n = SSL_do_handshake(l->l_ssl)) == 1) {
		if (SSL_export_keying_material(l->l_ssl, l->l_binding,
		    LINK_BINDING_LEN, LINK_EXPORTER_LABEL,
		    strlen(LINK_EXPORTER_LABEL), NULL, 0, 0) != 1) {
			link_close(l, "TLS: no keying material to bind");
			return;
		}
		l->l_binding_len = LINK_BINDING_LEN;
		link_start_handshake(l);
		link_watchers(l);
		return;
	}
	switch (SSL_get_error(l->l_ssl, n)) {
	case SSL_ERROR_WANT_READ:
		break;
	case SSL_ERROR_WANT_WRITE:
		l->l_tls_want_wr = 1;
		break;
	default:
		(void)link_tls_reason(l->l_ssl, tbuf, sizeof(tbuf),
		    "closed by the peer");
		link_close(l, "TLS handshake: %s%s", tbuf,
		    strstr(tbuf, "wrong version number") != NULL ||
		    strstr(tbuf, "packet length too long") != NULL ?
		    " (the peer speaks plain links? cluster_certfile: every "
		    "node alike)" : "");
		return;
	}
	link_watchers(l);
}

static void
link_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link *l = container_of(w, struct link, l_rd_w);

	if (l->l_state == LINK_TLS) {
		link_tls_step(l);
		return;
	}
	if (l->l_tls_wr_want_rd) {
		l->l_tls_wr_want_rd = 0;
		link_flush(l);
		if (l->l_state == LINK_CLOSED)
			return;
	}
	link_read(l);
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
		if (link_connected(l) != 0) {
			link_close(l, "TLS: cannot make a session (out of "
			    "memory?)");
			return;
		}
		if (l->l_state == LINK_CLOSED || l->l_state == LINK_TLS)
			return;
	} else if (l->l_state == LINK_TLS) {
		link_tls_step(l);
		return;
	}
	if (l->l_tls_want_wr) {
		/* SSL_read wanted to write (a key update): read again. */
		l->l_tls_want_wr = 0;
		link_read(l);
		if (l->l_state == LINK_CLOSED)
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
		if (now - l->l_started >= c->lc_handshake)
			link_close(l, "handshake timed out after %.1fs",
			    c->lc_handshake);
		return;
	}
	if (l->l_timer_w.repeat < c->lc_tick / 2) {
		/* Up: the handshake's finer period is no longer needed. */
		l->l_timer_w.repeat = c->lc_tick / 2;
		ev_timer_again(loop, &l->l_timer_w);
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

SSL_CTX *
link_tls_ctx_new(const char *certfile, const char *keyfile,
    const char *cafile, char *err, size_t errlen)
{
	char tbuf[256];
	struct stat st;
	SSL_CTX *ctx;
	const char *what = "TLS context";
	int rc;

	ERR_clear_error();
	/* OpenSSL says "system lib" for a missing file: say it first. */
	if (access(certfile, R_OK) != 0 || access(keyfile, R_OK) != 0 ||
	    access(cafile, R_OK) != 0) {
		what = access(certfile, R_OK) != 0 ? certfile :
		    access(keyfile, R_OK) != 0 ? keyfile : cafile;
		snprintf(err, errlen, "cluster TLS: %s: %s", what,
		    strerror(errno));
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL)
		goto fail;
	what = "TLS 1.3";
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto fail;
	what = certfile;
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1)
		goto fail;
	what = keyfile;
	if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	what = cafile;
	if (stat(cafile, &st) == 0 && S_ISDIR(st.st_mode))
		rc = SSL_CTX_load_verify_locations(ctx, NULL, cafile);
	else
		rc = SSL_CTX_load_verify_locations(ctx, cafile, NULL);
	if (rc != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/*
	 * Links are long-lived: no tickets, no cache to grow.  A peer
	 * killed without close_notify is "closed by the peer", as on a
	 * plain link (the cookie proof already authenticated it).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
fail:
	snprintf(err, errlen, "cluster TLS: %s: %s", what,
	    link_tls_reason(NULL, tbuf, sizeof(tbuf), strerror(errno)));
	SSL_CTX_free(ctx);
	return NULL;
}
