/*
 * One HTTP/1.1 GET on the loop (http_client.h).  A small state machine
 * over one socket and one ev_io whose events follow what the next step
 * waits for (TLS may want to write while we read, and the reverse):
 *
 *	START -> RESOLVING -> CONNECTING -> HANDSHAKE (TLS only)
 *	      -> SENDING -> READING -> done
 *
 * One read event takes at most HC_READ_BUDGET bytes, so a server that
 * floods cannot hold the loop; the rest is read on a later iteration
 * (through the kick timer, since TLS may already hold it decrypted and
 * the socket would not wake us).
 */
#include "common/container.h"
#include "strategies/http_client.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/resolv.h"
#include "common/sock.h"
#include "strategies/http_resp.h"

#define HC_READ_BUDGET	(256 * 1024)

enum hc_state {
	HC_START,
	HC_RESOLVING,
	HC_CONNECTING,
	HC_HANDSHAKE,
	HC_SENDING,
	HC_READING,
};

struct http_client {
	ev_io			 io_w;
	ev_timer		 deadline_w;	/* start to end of headers */
	ev_timer		 idle_w;	/* between reads after them */
	ev_timer		 kick_w;	/* the next step, next iteration */
	struct ev_loop		*loop;
	struct resolv		*resolv;
	struct resolv_query	*q;
	enum hc_state		 state;
	int			 fd;
	SSL_CTX			*ctx;
	SSL			*ssl;
	char			*host;
	char			*ca_file;
	char			*req;
	size_t			 reqlen, reqoff;
	uint16_t		 port;
	uint64_t		 idle_ms;
	struct http_resp	 resp;
	int			 body_err;
	http_client_body_fn	*body;
	http_client_done_fn	*done;
	void			*arg;
};

static void	hc_step(struct http_client *);

static void
hc_free(struct http_client *c)
{
	ev_io_stop(c->loop, &c->io_w);
	ev_timer_stop(c->loop, &c->deadline_w);
	ev_timer_stop(c->loop, &c->idle_w);
	ev_timer_stop(c->loop, &c->kick_w);
	resolv_cancel(c->q);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd != -1)
		close(c->fd);
	free(c->host);
	free(c->ca_file);
	free(c->req);
	free(c);
}

void
http_client_cancel(struct http_client *c)
{
	if (c != NULL)
		hc_free(c);
}

static void
hc_finish(struct http_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
hc_finish(struct http_client *c, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->done(c->arg, err, c->resp.hr_status, why);
	hc_free(c);
}

/* OpenSSL's first queued reason, and the queue cleared. */
static const char *
hc_ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "%s", strerror(errno));
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static void
hc_want(struct http_client *c, int events)
{
	/* libev keeps private bits in events: compare ours only. */
	if ((c->io_w.events & (EV_READ | EV_WRITE)) == events &&
	    ev_is_active(&c->io_w))
		return;
	ev_io_stop(c->loop, &c->io_w);
	ev_io_set(&c->io_w, c->fd, events);
	ev_io_start(c->loop, &c->io_w);
}

static int
hc_body(void *arg, const uint8_t *p, size_t n)
{
	struct http_client *c = arg;

	return c->body != NULL ? c->body(c->arg, c->resp.hr_status, p, n) : 0;
}

static void
hc_on_addr(void *arg, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct http_client *c = arg;
	struct sockaddr_storage ss;
	socklen_t len;

	c->q = NULL;
	if (err != 0) {
		hc_finish(c, err, "%s: %s", c->host, cairn_strerror(err));
		return;
	}
	ss = addrs[0];
	if (ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(c->port);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(c->port);
		len = sizeof(struct sockaddr_in6);
	}
	if ((c->fd = sock_connect((struct sockaddr *)&ss, len, 1)) == -1) {
		hc_finish(c, CAIRN_ERR_IO, "connect %s:%u: %s", c->host,
		    c->port, strerror(errno));
		return;
	}
	c->state = HC_CONNECTING;
	hc_want(c, EV_WRITE);
}

static int
hc_tls_start(struct http_client *c)
{
	X509_VERIFY_PARAM *vp;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char reason[256];

	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1) {
		hc_finish(c, CAIRN_ERR_NOMEM, "TLS: %s",
		    hc_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	if (SSL_CTX_load_verify_locations(c->ctx, c->ca_file, NULL) != 1) {
		hc_finish(c, CAIRN_ERR_INVAL, "CA file %s: %s", c->ca_file,
		    hc_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		hc_finish(c, CAIRN_ERR_NOMEM, "TLS: %s",
		    hc_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	vp = SSL_get0_param(c->ssl);
	if (sock_addr_parse(c->host, 0, &ss, &sslen) == 0) {
		/* An address is checked against the certificate's IP SANs. */
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) != 1) {
			hc_finish(c, CAIRN_ERR_INVAL, "TLS: bad address %s",
			    c->host);
			return -1;
		}
	} else if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1 ||
	    SSL_set1_host(c->ssl, c->host) != 1) {
		hc_finish(c, CAIRN_ERR_INVAL, "TLS: bad host name %s",
		    c->host);
		return -1;
	}
	SSL_set_connect_state(c->ssl);
	c->state = HC_HANDSHAKE;
	return 0;
}

/* Maps an SSL_* result to "wait for that" (1), or finishes (-1). */
static int
hc_ssl_wait(struct http_client *c, int rc, const char *what)
{
	char reason[256];
	long v;

	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		hc_want(c, EV_READ);
		return 1;
	case SSL_ERROR_WANT_WRITE:
		hc_want(c, EV_WRITE);
		return 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		if ((v = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
			hc_finish(c, CAIRN_ERR_AUTH, "TLS %s %s:%u: "
			    "certificate: %s", what, c->host, c->port,
			    X509_verify_cert_error_string(v));
			ERR_clear_error();
		} else
			hc_finish(c, CAIRN_ERR_PROTO, "TLS %s %s:%u: %s",
			    what, c->host, c->port,
			    hc_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
}

static void
hc_headers_done(struct http_client *c)
{
	ev_timer_stop(c->loop, &c->deadline_w);
	if (c->idle_ms > 0) {
		ev_timer_set(&c->idle_w, 0., (double)c->idle_ms / 1000.);
		ev_timer_again(c->loop, &c->idle_w);
	}
}

/* Reads what there is, within the budget.  -1 when finished. */
static int
hc_read(struct http_client *c)
{
	uint8_t buf[16384];
	size_t total = 0, used;
	ssize_t n;
	int rc, head;

	while (total < HC_READ_BUDGET) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_read(c->ssl, buf, sizeof(buf));
			if (rc <= 0) {
				if ((rc = hc_ssl_wait(c, rc, "read")) != 0)
					return rc;
				n = 0;
			} else
				n = rc;
		} else {
			n = read(c->fd, buf, sizeof(buf));
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR)) {
				hc_want(c, EV_READ);
				return 0;
			}
			if (n == -1) {
				hc_finish(c, CAIRN_ERR_IO, "read %s:%u: %s",
				    c->host, c->port, strerror(errno));
				return -1;
			}
		}
		if (n == 0) {
			if (http_resp_eof(&c->resp) == 0)
				hc_finish(c, 0, "ok");
			else
				hc_finish(c, CAIRN_ERR_CLOSED, "%s:%u closed "
				    "the connection mid-response", c->host,
				    c->port);
			return -1;
		}
		total += (size_t)n;
		if (c->idle_ms > 0 && c->resp.hr_state > HTTP_S_HEADER)
			ev_timer_again(c->loop, &c->idle_w);
		head = c->resp.hr_state <= HTTP_S_HEADER;
		rc = http_resp_feed(&c->resp, buf, (size_t)n, &used);
		if (head && c->resp.hr_state > HTTP_S_HEADER)
			hc_headers_done(c);
		if (rc == 0) {
			hc_finish(c, 0, "ok");
			return -1;
		}
		if (rc != CAIRN_ERR_NEED_MORE) {
			hc_finish(c, rc, "%s:%u: %s", c->host, c->port,
			    rc == CAIRN_ERR_PROTO ? "malformed HTTP response" :
			    rc == CAIRN_ERR_TOO_BIG ? "HTTP response over "
			    "its limits" : cairn_strerror(rc));
			return -1;
		}
	}
	/* Over budget: go on next iteration, whatever the socket says. */
	ev_io_stop(c->loop, &c->io_w);
	ev_timer_set(&c->kick_w, 0., 0.);
	ev_timer_start(c->loop, &c->kick_w);
	return 0;
}

static void
hc_step(struct http_client *c)
{
	ssize_t n;
	int rc;

	switch (c->state) {
	case HC_START:
		c->state = HC_RESOLVING;
		c->q = resolv_query_addr(c->resolv, c->host, AF_UNSPEC,
		    hc_on_addr, c);
		if (c->q == NULL)
			hc_finish(c, CAIRN_ERR_DNS, "cannot resolve %s",
			    c->host);
		return;
	case HC_RESOLVING:
		return;
	case HC_CONNECTING:
		if (sock_connect_result(c->fd) == -1) {
			if (errno == EINPROGRESS || errno == EALREADY)
				return;
			hc_finish(c, CAIRN_ERR_IO, "connect %s:%u: %s",
			    c->host, c->port, strerror(errno));
			return;
		}
		if (c->ca_file != NULL) {
			if (hc_tls_start(c) == -1)
				return;
		} else
			c->state = HC_SENDING;
		hc_step(c);
		return;
	case HC_HANDSHAKE:
		ERR_clear_error();
		if ((rc = SSL_do_handshake(c->ssl)) != 1) {
			if (hc_ssl_wait(c, rc, "handshake") == 0)
				hc_finish(c, CAIRN_ERR_CLOSED, "%s:%u closed "
				    "during the TLS handshake", c->host,
				    c->port);
			return;
		}
		c->state = HC_SENDING;
		/* FALLTHROUGH */
	case HC_SENDING:
		while (c->reqoff < c->reqlen) {
			if (c->ssl != NULL) {
				ERR_clear_error();
				rc = SSL_write(c->ssl, c->req + c->reqoff,
				    (int)(c->reqlen - c->reqoff));
				if (rc <= 0) {
					if (hc_ssl_wait(c, rc, "write") == 0)
						hc_finish(c, CAIRN_ERR_CLOSED,
						    "%s:%u closed", c->host,
						    c->port);
					return;
				}
				n = rc;
			} else {
				n = write(c->fd, c->req + c->reqoff,
				    c->reqlen - c->reqoff);
				if (n == -1 && (errno == EAGAIN ||
				    errno == EINTR)) {
					hc_want(c, EV_WRITE);
					return;
				}
				if (n == -1) {
					hc_finish(c, CAIRN_ERR_IO, "write "
					    "%s:%u: %s", c->host, c->port,
					    strerror(errno));
					return;
				}
			}
			c->reqoff += (size_t)n;
		}
		c->state = HC_READING;
		/* FALLTHROUGH */
	case HC_READING:
		(void)hc_read(c);
		return;
	}
}

static void
hc_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	hc_step(container_of(w, struct http_client, io_w));
}

static void
hc_on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *c = container_of(w, struct http_client, kick_w);

	hc_step(c);
}

static void
hc_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *c = container_of(w, struct http_client,
	    deadline_w);

	hc_finish(c, CAIRN_ERR_TIMEOUT, "%s:%u: no response in time",
	    c->host, c->port);
}

static void
hc_on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *c = container_of(w, struct http_client, idle_w);

	hc_finish(c, CAIRN_ERR_TIMEOUT, "%s:%u: silent for too long",
	    c->host, c->port);
}

struct http_client *
http_client_get(const struct http_client_opts *o)
{
	struct http_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	c->loop = o->loop;
	c->resolv = o->resolv;
	c->port = o->port;
	c->idle_ms = o->idle_ms;
	c->body = o->body;
	c->done = o->done;
	c->arg = o->arg;
	c->reqlen = strlen(o->request);
	if ((c->host = strdup(o->host)) == NULL ||
	    (c->req = strdup(o->request)) == NULL ||
	    (o->ca_file != NULL &&
	    (c->ca_file = strdup(o->ca_file)) == NULL)) {
		hc_free(c);
		return NULL;
	}
	http_resp_init(&c->resp, hc_body, c);
	ev_io_init(&c->io_w, hc_on_io, -1, 0);
	ev_timer_init(&c->deadline_w, hc_on_deadline,
	    (double)o->timeout_ms / 1000., 0.);
	ev_timer_init(&c->idle_w, hc_on_idle, 0., 0.);
	ev_timer_init(&c->kick_w, hc_on_kick, 0., 0.);
	ev_timer_start(c->loop, &c->deadline_w);
	/* The first step runs from the loop: done never fires from here. */
	ev_timer_start(c->loop, &c->kick_w);
	return c;
}

int
http_query_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			if (o + 1 >= len)
				return CAIRN_ERR_TOO_BIG;
			buf[o++] = (char)ch;
		} else {
			if (o + 3 >= len)
				return CAIRN_ERR_TOO_BIG;
			buf[o++] = '%';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	if (o >= len)
		return CAIRN_ERR_TOO_BIG;
	buf[o] = '\0';
	return 0;
}
