/*
 * The HTTP endpoint; see http.h.
 *
 * The loop drives MHD through two watchers: an ev_io on the epoll fd
 * that MHD_USE_EPOLL keeps (it is readable whenever MHD has a socket to
 * serve: the listener, a request coming in, a reply to write) and an
 * ev_timer set from MHD_get_timeout() after every MHD_run(), so that
 * idle connections are closed at hc_timeout_ms and buffered work is not
 * left waiting for the next event.  MHD_get_fdset() would need a watcher
 * per socket; the epoll fd needs one.
 *
 * A request is answered in the first call of the access handler: no
 * body is read (GET and HEAD only), nothing is kept between calls.
 */
#include "common/http.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <microhttpd.h>

#include "common/sock.h"

struct http {
	struct ev_loop		*h_loop;
	struct MHD_Daemon	*h_mhd;
	int			 h_fd;		/* listener; MHD closes it */
	uint16_t		 h_port;
	struct http_conf	 h_conf;
	http_handler_cb		 h_handler;
	void			*h_arg;
	ev_io			 h_io;
	ev_timer		 h_timer;
};

void
http_conf_defaults(struct http_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->hc_max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	c->hc_max_per_addr = HTTP_DEFAULT_MAX_PER_ADDR;
	c->hc_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
	c->hc_max_request = HTTP_DEFAULT_MAX_REQUEST;
	c->hc_realm = "cairn";
}

/* After MHD_run(): wake again when MHD says, or never. */
static void
http_rearm(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	ev_timer_stop(h->h_loop, &h->h_timer);
	if (MHD_get_timeout(h->h_mhd, &ms) != MHD_YES)
		return;
	ev_timer_set(&h->h_timer, (ev_tstamp)ms / 1000.0, 0.);
	ev_timer_start(h->h_loop, &h->h_timer);
}

static void
http_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http *h = w->data;

	(void)MHD_run(h->h_mhd);
	http_rearm(h);
}

static void
http_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http *h = w->data;

	(void)MHD_run(h->h_mhd);
	http_rearm(h);
}

/*
 * The Origin of a request from a page served from a loopback address
 * (another node's status page on this host), or NULL.  Only those may
 * read the API cross-origin: a page from anywhere else (a web site the
 * operator has open) may not, and a DNS-rebound name is not a loopback
 * literal.
 */
static const char *
http_loopback_origin(struct MHD_Connection *conn, const char *url)
{
	static const char *const hosts[] = { "http://127.0.0.1",
	    "http://localhost", "http://[::1]" };
	const char *o, *rest;
	size_t i, n;

	if (strncmp(url, "/api/", 5) != 0 || (o = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, "Origin")) == NULL)
		return NULL;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		n = strlen(hosts[i]);
		if (strncmp(o, hosts[i], n) != 0)
			continue;
		rest = o + n;
		if (*rest == '\0')
			return o;
		if (*rest == ':' && rest[1] != '\0' &&
		    strspn(rest + 1, "0123456789") == strlen(rest + 1) &&
		    strlen(rest + 1) <= 5)
			return o;
	}
	return NULL;
}

static enum MHD_Result
http_send(struct MHD_Connection *conn, int status, const char *type,
    const void *body, size_t len, const char *origin)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	if ((resp = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type", type);
	(void)MHD_add_response_header(resp, "Cache-Control", "no-store");
	(void)MHD_add_response_header(resp, "X-Content-Type-Options",
	    "nosniff");
	if (origin != NULL) {
		(void)MHD_add_response_header(resp,
		    "Access-Control-Allow-Origin", origin);
		(void)MHD_add_response_header(resp, "Vary", "Origin");
	}
	rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* 1 if url is one of the space-separated paths. */
static int
http_open_path(const char *paths, const char *url)
{
	size_t n = strlen(url), len;

	while (paths != NULL && *paths != '\0') {
		len = strcspn(paths, " ");
		if (len == n && strncmp(paths, url, n) == 0)
			return 1;
		paths += len;
		paths += strspn(paths, " ");
	}
	return 0;
}

static int
http_authorized(struct http *h, struct MHD_Connection *conn, const char *url)
{
	char *user, *pass = NULL;
	int ok;

	if (h->h_conf.hc_auth == NULL)
		return 1;
	if (http_open_path(h->h_conf.hc_open_paths, url))
		return 1;
	if ((user = MHD_basic_auth_get_username_password(conn, &pass)) ==
	    NULL)
		return 0;
	ok = pass != NULL && h->h_conf.hc_auth(h->h_conf.hc_auth_arg, user,
	    pass);
	MHD_free(user);
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	return ok;
}

static enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	static const char denied[] = "authorization required\n";
	struct http *h = cls;
	struct http_reply r;
	struct MHD_Response *resp;
	enum MHD_Result rc;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return http_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "text/plain", "GET only\n", 9, NULL);
	if (!http_authorized(h, conn, url)) {
		if ((resp = MHD_create_response_from_buffer(sizeof(denied) - 1,
		    (void *)denied, MHD_RESPMEM_PERSISTENT)) == NULL)
			return MHD_NO;
		rc = MHD_queue_basic_auth_fail_response(conn,
		    h->h_conf.hc_realm, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	r.hr_status = 200;
	r.hr_type = "text/plain; charset=utf-8";
	bytes_w_init(&r.hr_body, HTTP_MAX_REPLY);
	if (h->h_handler(h->h_arg, url, &r) != 0 || r.hr_body.err != 0)
		rc = http_send(conn, 500, "text/plain", "internal error\n", 15,
		    NULL);
	else
		rc = http_send(conn, r.hr_status, r.hr_type, r.hr_body.buf,
		    r.hr_body.len, http_loopback_origin(conn, url));
	bytes_w_fini(&r.hr_body);
	return rc;
}

struct http *
http_new(struct ev_loop *loop, const char *host, uint16_t port,
    const struct http_conf *c, http_handler_cb handler, void *arg,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	struct http *h;
	char addr[128];
	int epfd;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->h_loop = loop;
	h->h_conf = *c;
	h->h_handler = handler;
	h->h_arg = arg;
	h->h_fd = -1;
	if (sock_addr_parse(host, port, &ss, &sslen) != 0) {
		snprintf(err, errlen, "http_listen %s: not a numeric address",
		    host);
		goto fail;
	}
	if ((h->h_fd = sock_listen((struct sockaddr *)&ss, sslen, 64,
	    SOCK_F_REUSEADDR)) < 0) {
		snprintf(err, errlen, "http_listen %s: %s",
		    sock_ntop((struct sockaddr *)&ss, addr, sizeof(addr)),
		    strerror(errno));
		goto fail;
	}
	sslen = sizeof(ss);
	if (getsockname(h->h_fd, (struct sockaddr *)&ss, &sslen) == 0)
		h->h_port = sock_port((struct sockaddr *)&ss);
	/*
	 * No MHD_USE_ERROR_LOG: MHD would log a line per bad request.  The
	 * memory limit bounds the request line and headers (431 past it).
	 */
	h->h_mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL,
	    http_on_request, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->h_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->hc_max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->hc_max_per_addr,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((c->hc_timeout_ms + 999) / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->hc_max_request,
	    MHD_OPTION_END);
	if (h->h_mhd == NULL) {
		snprintf(err, errlen, "http_listen: cannot start the "
		    "HTTP server");
		goto fail;
	}
	h->h_fd = -1;		/* MHD's now */
	if ((info = MHD_get_daemon_info(h->h_mhd,
	    MHD_DAEMON_INFO_EPOLL_FD)) == NULL) {
		snprintf(err, errlen, "http_listen: no epoll fd");
		goto fail;
	}
	epfd = info->epoll_fd;
	ev_io_init(&h->h_io, http_on_io, epfd, EV_READ);
	h->h_io.data = h;
	ev_init(&h->h_timer, http_on_timer);
	h->h_timer.data = h;
	ev_io_start(loop, &h->h_io);
	http_rearm(h);
	return h;
fail:
	http_free(h);
	return NULL;
}

uint16_t
http_port(const struct http *h)
{
	return h->h_port;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->h_mhd != NULL) {
		ev_io_stop(h->h_loop, &h->h_io);
		ev_timer_stop(h->h_loop, &h->h_timer);
		MHD_stop_daemon(h->h_mhd);
	}
	if (h->h_fd != -1)
		close(h->h_fd);
	free(h);
}

int
http_prom_head(struct bytes_w *w, const char *name, const char *type,
    const char *help)
{
	return bytes_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

int
http_prom_label(struct bytes_w *w, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			bytes_put_u8(w, '\\');
		if (*v == '\n') {
			bytes_put_str(w, "\\n");
			continue;
		}
		bytes_put_u8(w, (uint8_t)*v);
	}
	return w->err;
}
