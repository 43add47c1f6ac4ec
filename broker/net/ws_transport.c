/*
 * MQTT over WebSockets as a transport: what client.c reads is the MQTT
 * bytes of the peer's binary frames, what it writes goes out as binary
 * frames, and the upgrade, pings, pongs and close frames happen in
 * between without client.c seeing them.  The protocol is ws.c's (pure);
 * this file only moves bytes between it and the layer below: the
 * socket, or the TLS transport for wss.
 *
 * Reads decode in place: the raw bytes are read into the caller's
 * buffer, decoded into wt_app and copied back (a frame's payload is
 * never longer than the frame).  wt_app is drained before the socket
 * is read again, so it holds at most one read's worth.  Writes frame
 * at most WS_WRITE_MAX bytes per call into wt_wire, and take nothing
 * new while wt_wire has bytes the socket would not take (EAGAIN: the
 * caller tries again), so wt_wire stays near one frame; pongs and
 * close frames go through it too, under max_out.
 *
 * The deadline of an unfinished upgrade is the connection's
 * connect_timeout (client.c): no CONNECT can come before the upgrade.
 * A failure (a bad upgrade, a bad frame) is EPROTO with ws.c's reason,
 * which is a static string and so also the kind of the close line's
 * rate limit; the HTTP answer or close frame that says why is written
 * when the connection closes the transport.
 */
#include "broker/net/ws_transport.h"

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/container.h"
#include "common/err.h"

/* Most MQTT bytes put in one frame per write. */
#define WS_WRITE_MAX	(64 * 1024)
/* Decoded bytes held between reads: at most one read's worth. */
#define WS_APP_MAX	(1024 * 1024)

struct ws_tconf {
	struct ws_conf		 tc_conf;	/* wc_origins: tc_origins */
	char			**tc_origins;	/* owned, each owned */
	unsigned int		 tc_refs;
};

struct ws_transport {
	struct transport	 wt_t;
	struct ws_tconf		*wt_tc;		/* a reference */
	struct transport	*wt_lower;	/* owned; NULL: the socket */
	struct ws		*wt_ws;		/* owned */
	struct bytes_w		 wt_app;	/* decoded, not yet read */
	size_t			 wt_app_off;
	struct bytes_w		 wt_wire;	/* frames the socket has not
						   taken yet */
	int			 wt_eof;	/* the peer sent close */
	const char		*wt_err;	/* static; NULL: none */
	int			 wt_errno;
};

#define WT(t)	container_of((t), struct ws_transport, wt_t)

/* Bits the transport needs from the socket, and the lower's. */
static void
ws_tr_want(struct ws_transport *wt)
{
	wt->wt_t.t_want = transport_want(wt->wt_lower);
	if (wt->wt_wire.len > 0 || ws_want_write(wt->wt_ws))
		wt->wt_t.t_want |= TRANSPORT_WANT_WRITE;
}

/*
 * Writes wt_wire (and what wslay still holds) to the layer below, as
 * far as it takes it.  0, or -1 with errno from the layer below
 * (never EAGAIN: that leaves the bytes for later).
 */
static int
ws_tr_flush(struct ws_transport *wt)
{
	ssize_t n;
	int round;

	for (round = 0; round < 2; round++) {
		while (wt->wt_wire.len > 0) {
			n = transport_write(wt->wt_lower, wt->wt_t.t_fd,
			    wt->wt_wire.buf, wt->wt_wire.len);
			if (n > 0) {
				bytes_w_consume(&wt->wt_wire, (size_t)n);
				continue;
			}
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR))
				return 0;
			return -1;
		}
		if (!ws_want_write(wt->wt_ws))
			break;
		if (ws_flush(wt->wt_ws, &wt->wt_wire) == CAIRN_ERR_NOMEM) {
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* Hands out decoded bytes; 0 when there are none. */
static size_t
ws_tr_take(struct ws_transport *wt, void *buf, size_t len)
{
	size_t n = wt->wt_app.len - wt->wt_app_off;

	if (n > len)
		n = len;
	if (n == 0)
		return 0;	/* wt_app.buf may be NULL: no memcpy from it */
	memcpy(buf, wt->wt_app.buf + wt->wt_app_off, n);
	wt->wt_app_off += n;
	if (wt->wt_app_off == wt->wt_app.len) {
		wt->wt_app_off = 0;
		bytes_w_reset(&wt->wt_app);
	}
	return n;
}

static ssize_t
ws_tr_fail(struct ws_transport *wt, const char *why, int err)
{
	wt->wt_err = why;
	wt->wt_errno = err;
	wt->wt_t.t_err_kind = why;
	(void)ws_tr_flush(wt);
	ws_tr_want(wt);
	errno = err;
	return -1;
}

static ssize_t
ws_tr_read(struct transport *t, void *buf, size_t len)
{
	struct ws_transport *wt = WT(t);
	ssize_t n;
	size_t got;
	int rc, saved;

	if (wt->wt_app.len > wt->wt_app_off)
		return (ssize_t)ws_tr_take(wt, buf, len);
	if (wt->wt_err != NULL) {
		errno = wt->wt_errno;
		return -1;
	}
	if (wt->wt_eof)
		return 0;
	if (ws_tr_flush(wt) == -1)
		return ws_tr_fail(wt, "a write failed", errno);
	n = transport_read(wt->wt_lower, t->t_fd, buf, len);
	if (n <= 0) {
		saved = errno;
		if (n == -1 && errno == EPROTO && wt->wt_lower != NULL) {
			/* The TLS below failed: its reason is the one. */
			wt->wt_err = transport_error(wt->wt_lower);
			wt->wt_errno = EPROTO;
			t->t_err_kind = wt->wt_lower->t_err_kind;
		}
		ws_tr_want(wt);
		errno = saved;
		return n;
	}
	rc = ws_input(wt->wt_ws, buf, (size_t)n, &wt->wt_app, &wt->wt_wire);
	if (rc == CAIRN_ERR_CLOSED)
		wt->wt_eof = 1;
	else if (rc == CAIRN_ERR_NOMEM)
		return ws_tr_fail(wt, "out of memory", ENOMEM);
	else if (rc != 0)
		return ws_tr_fail(wt, ws_reason(wt->wt_ws) != NULL ?
		    ws_reason(wt->wt_ws) : "a WebSocket error", EPROTO);
	if (ws_tr_flush(wt) == -1)
		return ws_tr_fail(wt, "a write failed", errno);
	ws_tr_want(wt);
	if ((got = ws_tr_take(wt, buf, len)) > 0)
		return (ssize_t)got;
	if (wt->wt_eof)
		return 0;
	errno = EAGAIN;
	return -1;
}

static ssize_t
ws_tr_write(struct transport *t, const void *buf, size_t len)
{
	struct ws_transport *wt = WT(t);
	size_t take = len < WS_WRITE_MAX ? len : WS_WRITE_MAX;
	int rc;

	if (wt->wt_err != NULL) {
		errno = wt->wt_errno;
		return -1;
	}
	if (ws_state(wt->wt_ws) != WS_OPEN) {
		/* Nothing is owed before the upgrade; nothing after close. */
		errno = ws_state(wt->wt_ws) == WS_UPGRADE ? EAGAIN : EPIPE;
		return -1;
	}
	if (ws_tr_flush(wt) == -1)
		return ws_tr_fail(wt, "a write failed", errno);
	if (wt->wt_wire.len > 0 || ws_want_write(wt->wt_ws)) {
		ws_tr_want(wt);
		errno = EAGAIN;
		return -1;
	}
	rc = ws_output(wt->wt_ws, buf, take, &wt->wt_wire);
	if (rc == CAIRN_ERR_NOMEM)
		return ws_tr_fail(wt, "out of memory", ENOMEM);
	if (ws_tr_flush(wt) == -1)
		return ws_tr_fail(wt, "a write failed", errno);
	ws_tr_want(wt);
	return (ssize_t)take;
}

static size_t
ws_tr_pending(const struct transport *t)
{
	const struct ws_transport *wt = WT(t);

	return wt->wt_app.len - wt->wt_app_off +
	    transport_pending(wt->wt_lower);
}

static const char *
ws_tr_error(const struct transport *t)
{
	const struct ws_transport *wt = WT(t);

	return wt->wt_err != NULL ? wt->wt_err : "protocol error";
}

static const char *
ws_tr_identity(const struct transport *t)
{
	return transport_identity(WT(t)->wt_lower);
}

/*
 * Last words, as far as the socket takes them without blocking: the
 * HTTP answer or close frame of a failure, else a close frame of our
 * own (1000) on an open connection.
 */
static void
ws_tr_close(struct transport *t)
{
	struct ws_transport *wt = WT(t);

	if (wt->wt_err == NULL && !wt->wt_eof)
		(void)ws_close(wt->wt_ws, 1000, &wt->wt_wire);
	(void)ws_tr_flush(wt);
	transport_close(wt->wt_lower);
	ws_free(wt->wt_ws);
	ws_tconf_free(wt->wt_tc);
	bytes_w_fini(&wt->wt_app);
	bytes_w_fini(&wt->wt_wire);
	free(wt);
}

static const struct transport_ops ws_transport_ops = {
	.to_name = "websockets",
	.to_read = ws_tr_read,
	.to_write = ws_tr_write,
	.to_pending = ws_tr_pending,
	.to_error = ws_tr_error,
	.to_identity = ws_tr_identity,
	.to_close = ws_tr_close,
};

struct ws_tconf *
ws_tconf_new(const struct ws_conf *conf)
{
	struct ws_tconf *tc;
	char **v = NULL;
	size_t i;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	tc->tc_conf = *conf;
	tc->tc_conf.wc_origins = NULL;
	tc->tc_conf.wc_norigins = 0;
	if (conf->wc_norigins > 0 &&
	    (v = calloc(conf->wc_norigins, sizeof(*v))) == NULL)
		goto fail;
	tc->tc_conf.wc_origins = v;
	tc->tc_origins = v;
	for (i = 0; i < conf->wc_norigins; i++) {
		if ((v[i] = strdup(conf->wc_origins[i])) == NULL)
			goto fail;
		tc->tc_conf.wc_norigins++;
	}
	tc->tc_refs = 1;
	return tc;
fail:
	tc->tc_refs = 1;
	ws_tconf_free(tc);
	return NULL;
}

void
ws_tconf_free(struct ws_tconf *tc)
{
	size_t i;

	if (tc == NULL || --tc->tc_refs > 0)
		return;
	for (i = 0; i < tc->tc_conf.wc_norigins; i++)
		free(tc->tc_origins[i]);
	free(tc->tc_origins);
	free(tc);
}

struct transport *
ws_transport_new(int fd, struct transport *lower, struct ws_tconf *tc,
    size_t max_out)
{
	struct ws_transport *wt;

	if ((wt = calloc(1, sizeof(*wt))) == NULL)
		return NULL;
	if ((wt->wt_ws = ws_new(&tc->tc_conf)) == NULL) {
		free(wt);
		return NULL;
	}
	wt->wt_tc = tc;
	tc->tc_refs++;
	wt->wt_t.t_ops = &ws_transport_ops;
	wt->wt_t.t_fd = fd;
	wt->wt_lower = lower;
	bytes_w_init(&wt->wt_app, WS_APP_MAX);
	bytes_w_init(&wt->wt_wire, max_out);
	ws_tr_want(wt);
	return &wt->wt_t;
}
