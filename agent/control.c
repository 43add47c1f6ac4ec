/*
 * The agent's control socket: a unix stream socket, owner-only (mode
 * 0600), speaking one request line per connection:
 *
 *	members\n	one JSON document (agent_members_json), then close
 *	state\n		one JSON object (agent_state_json), then close
 *	watch\n		the state object, then every event, one per line,
 *			until the client closes
 *
 * and whatever else the embedding program answers (agent_set_request_
 * handler: the broker's `cluster ...` requests), one JSON line each.
 *
 * Output is queued per client and bounded; a watcher that falls more than
 * CONTROL_MAX_QUEUE behind is dropped with one log line, so a stuck
 * client never holds the agent back.  Refusals and drops are logged
 * the first time, then counted (log_rate_*), so a client that loops
 * cannot fill the log.
 *
 * The path is replaced at start only when it is a socket (a stale one
 * from an earlier run); a regular file, a directory, a symbolic link or
 * a FIFO there is refused and left as it was.
 */
#include "agent/agent_int.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent/agent.h"
#include "common/bytes.h"
#include "common/container.h"
#include "common/file.h"
#include "common/log.h"
#include "common/sock.h"

/* The longest request: "cluster remove " and a node name (name@host). */
#define CONTROL_MAX_LINE	1024
#define CONTROL_MAX_QUEUE	(1024 * 1024)
#define CONTROL_IDLE_S		10.

/* Lines a local client can trigger at will: first, then a count. */
static struct log_rate control_refused_lr = LOG_RATE_INIT(10);
static struct log_rate control_dropped_lr = LOG_RATE_INIT(10);

struct control_client {
	ev_io			 rd_w;
	ev_io			 wr_w;
	ev_timer		 idle_w;
	struct control		*ctl;
	struct control_client	*next;
	struct control_client	*prev;
	int			 fd;
	int			 watching;
	int			 close_when_flushed;
	char			 line[CONTROL_MAX_LINE];
	size_t			 got;
	struct bytes_w		 out;
};

struct control {
	ev_io			 io_w;
	struct ev_loop		*loop;
	struct agent		*agent;
	char			*path;
	int			 fd;
	size_t			 max_watchers;
	size_t			 nclients;
	struct control_client	*clients;
};

static void
control_client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;

	ev_io_stop(ctl->loop, &c->rd_w);
	ev_io_stop(ctl->loop, &c->wr_w);
	ev_timer_stop(ctl->loop, &c->idle_w);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl->nclients--;
	bytes_w_fini(&c->out);
	free(c);
}

static void
control_client_flush(struct control_client *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = send(c->fd, c->out.buf, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			bytes_w_consume(&c->out, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			ev_io_start(c->ctl->loop, &c->wr_w);
			return;
		}
		control_client_close(c);
		return;
	}
	ev_io_stop(c->ctl->loop, &c->wr_w);
	if (c->close_when_flushed)
		control_client_close(c);
}

static void
on_client_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	control_client_flush(container_of(w, struct control_client, wr_w));
}

static void
on_client_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	control_client_close(container_of(w, struct control_client, idle_w));
}

static void
control_client_request(struct control_client *c, const char *req)
{
	struct control *ctl = c->ctl;

	ev_timer_stop(ctl->loop, &c->idle_w);
	if (strcmp(req, "members") == 0) {
		agent_members_json(ctl->agent, &c->out);
		bytes_put_u8(&c->out, '\n');
		c->close_when_flushed = 1;
	} else if (strcmp(req, "state") == 0) {
		agent_state_json(ctl->agent, &c->out);
		bytes_put_u8(&c->out, '\n');
		c->close_when_flushed = 1;
	} else if (strcmp(req, "watch") == 0) {
		agent_state_json(ctl->agent, &c->out);
		bytes_put_u8(&c->out, '\n');
		c->watching = 1;
	} else if (agent_ring_request(ctl->agent, req, &c->out))
		c->close_when_flushed = 1;
	else if (agent_host_request(ctl->agent, req, &c->out))
		c->close_when_flushed = 1;
	else {
		bytes_put_str(&c->out, "{\"error\":\"unknown request; try "
		    "members, state, watch, ring, ring whois KEY or ring mine "
		    "NODE KEY\"}\n");
		c->close_when_flushed = 1;
	}
	control_client_flush(c);
}

static void
on_client_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_client *c = container_of(w, struct control_client,
	    rd_w);
	char *nl;
	ssize_t n;

	n = recv(c->fd, c->line + c->got, sizeof(c->line) - 1 - c->got, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || c->watching) {
		/* EOF, error, or a watcher talking: done with it. */
		control_client_close(c);
		return;
	}
	c->got += (size_t)n;
	c->line[c->got] = '\0';
	if ((nl = strchr(c->line, '\n')) == NULL) {
		if (c->got == sizeof(c->line) - 1)
			control_client_close(c);
		return;
	}
	*nl = '\0';
	if (nl > c->line && nl[-1] == '\r')
		nl[-1] = '\0';
	control_client_request(c, c->line);
}

static void
on_control_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = container_of(w, struct control, io_w);
	struct control_client *c;
	int fd;

	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (ctl->nclients >= ctl->max_watchers ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_rate_warnx(&control_refused_lr, "control socket: %zu "
		    "clients: refusing another", ctl->nclients);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	bytes_w_init(&c->out, CONTROL_MAX_QUEUE);
	ev_io_init(&c->rd_w, on_client_readable, fd, EV_READ);
	ev_io_init(&c->wr_w, on_client_writable, fd, EV_WRITE);
	ev_timer_init(&c->idle_w, on_client_idle, CONTROL_IDLE_S, 0.);
	c->next = ctl->clients;
	if (ctl->clients != NULL)
		ctl->clients->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	ev_io_start(loop, &c->rd_w);
	ev_timer_start(loop, &c->idle_w);
}

struct control *
control_new(struct ev_loop *loop, struct agent *agent, const char *path,
    size_t max_watchers, char *err, size_t errlen)
{
	struct control *ctl;
	struct sockaddr_un un;
	struct stat st;
	mode_t old;

	if (strlen(path) >= sizeof(un.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return NULL;
	}
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = strdup(path)) == NULL) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->loop = loop;
	ctl->agent = agent;
	ctl->max_watchers = max_watchers ? max_watchers : 1;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, path, strlen(path));
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (ctl->fd == -1) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto fail;
	}
	/*
	 * A stale socket from a previous run is replaced; anything else
	 * at the path (a regular file, a directory, a symbolic link, a
	 * FIFO) is someone's file, and is left alone.
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and "
			    "is %s, not a socket: refusing to replace it",
			    path, file_kind(st.st_mode));
			goto fail;
		}
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "control socket %s: %s", path,
			    strerror(errno));
			goto fail;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	old = umask(0077);
	if (bind(ctl->fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		umask(old);
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(ctl->fd, 16) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	ev_io_init(&ctl->io_w, on_control_accept, ctl->fd, EV_READ);
	ev_io_start(loop, &ctl->io_w);
	return ctl;
fail:
	if (ctl->fd != -1)
		close(ctl->fd);
	free(ctl->path);
	free(ctl);
	return NULL;
}

void
control_free(struct control *ctl)
{
	struct stat st;

	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		control_client_close(ctl->clients);
	ev_io_stop(ctl->loop, &ctl->io_w);
	close(ctl->fd);
	/* Ours unless replaced since: never remove what is not a socket. */
	if (lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

void
control_event(struct control *ctl, const char *json, size_t len)
{
	struct control_client *c, *next;

	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->watching)
			continue;
		if (bytes_put(&c->out, json, len) != 0 ||
		    bytes_put_u8(&c->out, '\n') != 0) {
			log_rate_warnx(&control_dropped_lr, "control socket: "
			    "a watcher fell %d bytes behind: dropping it",
			    CONTROL_MAX_QUEUE);
			control_client_close(c);
			continue;
		}
		control_client_flush(c);
	}
}
