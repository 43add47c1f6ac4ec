/*
 * The WATCH client; see epmd_awatch.h.
 *
 * One connection, three phases: connecting and sending the request,
 * waiting for the ack (both under the deadline timer), then streaming.
 * Bytes are decoded as they come with the pure codec; a partial event
 * waits in the input buffer, which never holds more than one event
 * (EPMD_AW_IN_MAX).  The names live in one array of owned strings; the
 * callback gets views of them.
 *
 * A watch ended by an error calls back once and is freed when the
 * callback returns; one cancelled from its own callback is freed then
 * too (w_calling), so the code after a callback never touches freed
 * memory.
 */
#include "common/container.h"
#include "epmd/epmd_awatch.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/sock.h"
#include "epmd/epmd_codec.h"

/* The ack, or one event (5 bytes and a name), plus one read's worth. */
#define EPMD_AW_IN_MAX		(5 + EPMD_MAXSYMLEN + 4096)

struct epmd_aw_entry {
	char		*name;
	size_t		 len;
	uint16_t	 port;
};

struct epmd_aw {
	struct ev_loop		*w_loop;
	ev_io			 w_io;
	ev_timer		 w_deadline;	/* connect + ack; then idle */
	ev_timer		 w_start;	/* reports a failed start */
	int			 w_fd;
	int			 w_connecting;
	int			 w_acked;
	int			 w_synced;	/* the snapshot's '=' seen */
	int			 w_calling;	/* its callback is running */
	int			 w_dead;	/* cancelled in its callback */
	int			 w_start_err;
	struct bytes_w		 w_out;
	struct bytes_w		 w_in;
	struct epmd_aw_entry	*w_names;
	size_t			 w_n;
	size_t			 w_cap;
	epmd_aw_cb		 w_cb;
	void			*w_arg;
};

static void
epmd_aw_free(struct epmd_aw *w)
{
	size_t i;

	ev_io_stop(w->w_loop, &w->w_io);
	ev_timer_stop(w->w_loop, &w->w_deadline);
	ev_timer_stop(w->w_loop, &w->w_start);
	if (w->w_fd != -1)
		close(w->w_fd);
	for (i = 0; i < w->w_n; i++)
		free(w->w_names[i].name);
	free(w->w_names);
	bytes_w_fini(&w->w_out);
	bytes_w_fini(&w->w_in);
	free(w);
}

/* Ends the watch: one last callback with err, then free. */
static void
epmd_aw_end(struct epmd_aw *w, int err)
{
	ev_io_stop(w->w_loop, &w->w_io);
	ev_timer_stop(w->w_loop, &w->w_deadline);
	w->w_calling = 1;
	w->w_cb(w->w_arg, err, NULL, 0);
	epmd_aw_free(w);
}

/* The current names to the callback; 0, or -1 if it cancelled w. */
static int
epmd_aw_report(struct epmd_aw *w)
{
	struct epmd_aq_name *v = NULL;
	size_t i;

	if (w->w_n > 0 && (v = calloc(w->w_n, sizeof(*v))) == NULL) {
		epmd_aw_end(w, CAIRN_ERR_NOMEM);
		return -1;
	}
	for (i = 0; i < w->w_n; i++) {
		v[i].name = w->w_names[i].name;
		v[i].name_len = w->w_names[i].len;
		v[i].port = w->w_names[i].port;
	}
	w->w_calling = 1;
	w->w_cb(w->w_arg, 0, v, w->w_n);
	w->w_calling = 0;
	free(v);
	if (w->w_dead) {
		epmd_aw_free(w);
		return -1;
	}
	return 0;
}

/* Applies one event to the names.  0 or a CAIRN_ERR_*. */
static int
epmd_aw_apply(struct epmd_aw *w, const struct epmd_watch_event *ev)
{
	struct epmd_aw_entry *e, *ne;
	size_t i;

	for (i = 0; i < w->w_n; i++)
		if (w->w_names[i].len == ev->name.len &&
		    memcmp(w->w_names[i].name, ev->name.p, ev->name.len) == 0)
			break;
	if (ev->kind == EPMD_WATCH_REMOVED) {
		if (i < w->w_n) {
			free(w->w_names[i].name);
			w->w_names[i] = w->w_names[--w->w_n];
		}
		return 0;
	}
	if (i < w->w_n) {
		w->w_names[i].port = ev->port;
		return 0;
	}
	if (w->w_n == EPMD_AW_MAX_NAMES)
		return CAIRN_ERR_TOO_BIG;
	if (w->w_n == w->w_cap) {
		size_t ncap = w->w_cap ? w->w_cap * 2 : 16;

		if ((ne = realloc(w->w_names, ncap * sizeof(*ne))) == NULL)
			return CAIRN_ERR_NOMEM;
		w->w_names = ne;
		w->w_cap = ncap;
	}
	e = &w->w_names[w->w_n];
	if ((e->name = malloc(ev->name.len + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(e->name, ev->name.p, ev->name.len);
	e->name[ev->name.len] = '\0';
	e->len = ev->name.len;
	e->port = ev->port;
	w->w_n++;
	return 0;
}

/*
 * Decodes what w_in holds.  *changed is set when the names changed
 * after the snapshot (or the snapshot ended).  0, or a CAIRN_ERR_*.
 */
static int
epmd_aw_parse(struct epmd_aw *w, int *changed)
{
	struct epmd_watch_event ev;
	size_t used;
	int rc;

	if (!w->w_acked) {
		rc = epmd_decode_watch_ack(bytes_view_of(w->w_in.buf,
		    w->w_in.len), &used);
		if (rc == CAIRN_ERR_NEED_MORE)
			return 0;
		if (rc != 0)
			return rc;
		bytes_w_consume(&w->w_in, used);
		w->w_acked = 1;
		ev_timer_stop(w->w_loop, &w->w_deadline);
	}
	for (;;) {
		rc = epmd_decode_watch_event(bytes_view_of(w->w_in.buf,
		    w->w_in.len), &ev, &used);
		if (rc == CAIRN_ERR_NEED_MORE)
			return 0;
		if (rc != 0)
			return rc;
		if (ev.kind == EPMD_WATCH_SYNCED) {
			w->w_synced = 1;
			*changed = 1;
		} else {
			if ((rc = epmd_aw_apply(w, &ev)) != 0)
				return rc;
			if (w->w_synced)
				*changed = 1;
		}
		bytes_w_consume(&w->w_in, used);
	}
}

static void
on_aw_io(struct ev_loop *loop, ev_io *io, int revents)
{
	struct epmd_aw *w = container_of(io, struct epmd_aw, w_io);
	int changed = 0, rc;
	ssize_t n;

	if (w->w_connecting) {
		if (sock_connect_result(w->w_fd) == -1) {
			epmd_aw_end(w, CAIRN_ERR_IO);
			return;
		}
		w->w_connecting = 0;
	}
	while (w->w_out.len > 0) {
		n = send(w->w_fd, w->w_out.buf, w->w_out.len, MSG_NOSIGNAL);
		if (n > 0) {
			bytes_w_consume(&w->w_out, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;		/* still writable-watched */
		epmd_aw_end(w, CAIRN_ERR_IO);
		return;
	}
	if (revents & EV_WRITE) {
		ev_io_stop(loop, io);
		ev_io_set(io, w->w_fd, EV_READ);
		ev_io_start(loop, io);
	}
	for (;;) {
		if (bytes_w_reserve(&w->w_in, 4096) != 0) {
			epmd_aw_end(w, CAIRN_ERR_PROTO);
			return;
		}
		n = recv(w->w_fd, w->w_in.buf + w->w_in.len, 4096, 0);
		if (n > 0) {
			w->w_in.len += (size_t)n;
			if ((rc = epmd_aw_parse(w, &changed)) != 0) {
				epmd_aw_end(w, rc);
				return;
			}
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		/* EOF or reset: OTP's epmd before the ack; a restart after. */
		if (changed && epmd_aw_report(w) == -1)
			return;
		epmd_aw_end(w, n == 0 ? CAIRN_ERR_CLOSED : CAIRN_ERR_IO);
		return;
	}
	if (changed)
		epmd_aw_report(w);
}

static void
on_aw_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
	epmd_aw_end(container_of(t, struct epmd_aw, w_deadline),
	    CAIRN_ERR_TIMEOUT);
}

static void
on_aw_start(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct epmd_aw *w = container_of(t, struct epmd_aw, w_start);

	epmd_aw_end(w, w->w_start_err);
}

struct epmd_aw *
epmd_aw_start(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addrlen, double timeout_s, epmd_aw_cb cb, void *arg)
{
	struct epmd_aw *w;

	if (loop == NULL || addr == NULL || cb == NULL || timeout_s <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_loop = loop;
	w->w_fd = -1;
	w->w_cb = cb;
	w->w_arg = arg;
	bytes_w_init(&w->w_out, 16);
	bytes_w_init(&w->w_in, EPMD_AW_IN_MAX);
	ev_init(&w->w_io, on_aw_io);
	/* From the real now: the loop's time may lag (ev(3)). */
	ev_timer_init(&w->w_deadline, on_aw_deadline,
	    timeout_s + (ev_time() - ev_now(loop)), 0.);
	ev_timer_init(&w->w_start, on_aw_start, 0., 0.);
	if ((w->w_start_err = epmd_encode_watch_req(&w->w_out)) == 0 &&
	    (w->w_fd = sock_connect(addr, addrlen, 1)) == -1)
		w->w_start_err = CAIRN_ERR_IO;
	if (w->w_start_err != 0) {
		ev_timer_start(loop, &w->w_start);
		return w;
	}
	w->w_connecting = 1;
	ev_io_set(&w->w_io, w->w_fd, EV_WRITE);
	ev_io_start(loop, &w->w_io);
	ev_timer_start(loop, &w->w_deadline);
	return w;
}

int
epmd_aw_acked(const struct epmd_aw *w)
{
	return w->w_acked;
}

void
epmd_aw_cancel(struct epmd_aw *w)
{
	if (w == NULL)
		return;
	if (w->w_calling) {
		w->w_dead = 1;
		return;
	}
	epmd_aw_free(w);
}
