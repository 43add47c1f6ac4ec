/*
 * The `erlang` connector: clusters stock Erlang/Elixir nodes from
 * outside, as libcluster does from inside.  To connect node N with the
 * members of the view, a worker reaches N as a hidden C node with the
 * cookie (erl_interface), reads erlang:nodes(), and asks N to
 * net_kernel:connect_node(M) for every member M it is not connected to
 * yet.  To take N out, every other member is asked to
 * erlang:disconnect_node(N).  The stock nodes run no clustering code.
 *
 *	connector:
 *	  type: erlang
 *	  workers: 4          # worker processes = jobs in parallel, 1..64
 *	  timeout: 5s         # a job's deadline when the caller gives none
 *	  node_name: cairn    # our alive name (base), or alive@host
 *
 * ei blocks, so it never runs on the loop.  Jobs go to a pool of worker
 * processes forked from the agent (no exec), each serving one job at a
 * time over a socketpair with the framed protocol of ei_worker.h.  Why
 * fork without exec rather than a separate cairn-ei-worker program:
 * there is no helper binary to install, find and keep in version step
 * with the agent (cairn-agent and cairn-broker both embed this), the
 * cookie reaches the worker as memory rather than through argv or the
 * environment, and the protocol never crosses a version boundary.  The
 * costs are handled in ce_child(): the child closes every inherited
 * descriptor but its socketpair end (sockets such as an epmd
 * registration must not outlive the agent in a worker), resets signal
 * handlers and the mask that libev set up, asks to be killed when the
 * agent dies, and never returns into agent code.
 *
 * Each worker names itself "<alive>_<its pid>@<host>" (host from
 * node_name, else gethostname(), shortened for short-name nodes), so
 * names are unique on this host and every worker is its own hidden node.
 *
 * Deadlines: a job's deadline runs from connect()/disconnect().  While it
 * waits for a worker its timer fails it with CAIRN_ERR_TIMEOUT at the
 * deadline; once running, the worker bounds every ei call by the time
 * left, and the timer becomes the backstop: a worker still busy
 * CONN_ERLANG_GRACE_MS past the deadline is killed by pid and reaped, its
 * job fails with CAIRN_ERR_TIMEOUT, and the slot is refilled on demand.
 *
 * Callbacks run only from the loop, never inside connect(),
 * disconnect() or cancel().  A callback may call destroy(): the
 * connector then frees itself once the callback returns.
 */
#include "agent/conn_erlang.h"

#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "agent/connector.h"
#include "agent/ei_worker.h"
#include "common/bytes.h"
#include "common/conf.h"
#include "common/container.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

/* Reads per wakeup from one worker, so one cannot starve the loop. */
#define CE_READS_PER_WAKEUP	16
/* Reaping a killed worker: tries, and the pause between them. */
#define CE_REAP_TRIES		200
#define CE_REAP_PAUSE_NS	5000000L
/* The fd a worker finds its socketpair end on. */
#define CE_CHILD_FD		3

struct erlang_conf {
	char		*type;		/* "erlang", read by the agent */
	unsigned int	 workers;
	uint64_t	 timeout_ms;
	char		*node_name;
};

static const struct conf_key erlang_keys[] = {
	{ .name = "type", .type = CONF_SKIP },
	{ .name = "workers", .type = CONF_UINT,
	  .offset = offsetof(struct erlang_conf, workers),
	  .min = 1, .max = 64 },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct erlang_conf, timeout_ms),
	  .min = 1, .max = 3600 * 1000 },
	{ .name = "node_name", .type = CONF_STRING,
	  .offset = offsetof(struct erlang_conf, node_name),
	  .flags = CONF_NONEMPTY },
	{ .name = NULL },
};

struct ce_job {
	TAILQ_ENTRY(ce_job)	 cj_entry;	/* queue, while waiting */
	struct connector	*cj_ce;
	struct ce_worker	*cj_worker;	/* NULL while waiting */
	ev_timer		 cj_timer_w;	/* deadline, then kill */
	uint64_t		 cj_deadline;	/* ev_now() + timeout, in ms */
	uint32_t		 cj_id;
	int			 cj_cancelled;
	conn_done_cb		*cj_cb;
	void			*cj_arg;
	char			*cj_node;
	struct bytes_w		 cj_req;	/* the frame, minus timeout */
	size_t			 cj_tmo_off;	/* where timeout_ms sits */
};

TAILQ_HEAD(ce_jobq, ce_job);

struct ce_worker {
	struct connector	*cw_ce;
	pid_t			 cw_pid;	/* -1: no worker in this slot */
	int			 cw_fd;
	ev_io			 cw_rd_w;
	ev_io			 cw_wr_w;
	struct bytes_w		 cw_out;
	struct bytes_w		 cw_in;
	struct ce_job		*cw_job;
};

struct connector {
	struct ev_loop		*ce_loop;
	const char		*ce_cookie;	/* borrowed from the env */
	uint16_t		 ce_epmd_port;	/* the strategy's; 0: ei's */
	char			*ce_alive;
	char			*ce_host;	/* NULL: gethostname() */
	unsigned int		 ce_nworkers;
	uint64_t		 ce_timeout_ms;
	struct ce_worker	*ce_workers;
	struct ce_jobq		 ce_queue;
	size_t			 ce_nqueued;
	uint32_t		 ce_next_id;
	ev_timer		 ce_kick_w;	/* dispatches outside callers */
	char			**ce_members;	/* last view, for disconnect */
	size_t			 ce_nmembers;
	int			 ce_busy;	/* callbacks running */
	int			 ce_dying;	/* destroy() called in one */
};

static void	ce_dispatch(struct connector *);
static void	ce_worker_stop(struct ce_worker *);

/*
 * Config
 */

static void
erlang_conf_init(void *p)
{
	struct erlang_conf *cf = p;

	memset(cf, 0, sizeof(*cf));
	cf->workers = CONN_ERLANG_DEFAULT_WORKERS;
	cf->timeout_ms = CONN_ERLANG_DEFAULT_TIMEOUT_MS;
}

static void
erlang_conf_free(void *p)
{
	conf_free_fields(erlang_keys, p);
}

/* "alive" or "alive@host"; alive of letters, digits, '_' and '-'. */
static int
ce_valid_alive(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 200)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* A node name ei can take: "alive@host", shorter than EIW_MAX_NODE. */
static int
ce_valid_node(const char *node)
{
	const char *at;
	size_t len;

	if (node == NULL || (len = strlen(node)) == 0 || len >= EIW_MAX_NODE)
		return 0;
	at = strchr(node, '@');
	return at != NULL && at != node && at[1] != '\0';
}

/*
 * Jobs
 */

/* Frees a job that is in no queue and on no worker. */
static void
ce_job_free(struct ce_job *j)
{
	if (j == NULL)
		return;
	ev_timer_stop(j->cj_ce->ce_loop, &j->cj_timer_w);
	bytes_w_fini(&j->cj_req);
	free(j->cj_node);
	free(j);
}

/*
 * Ends job j: unlinks it, frees it and, unless cancelled, calls its
 * callback.  Returns 1 if the callback destroyed the connector: the
 * caller must then return at once without touching it.
 */
static int
ce_job_finish(struct ce_job *j, int err, const char *msg)
{
	struct connector *ce = j->cj_ce;
	conn_done_cb *cb = j->cj_cb;
	void *arg = j->cj_arg;
	char text[EIW_MSG_LEN];
	int cancelled = j->cj_cancelled;

	/* msg may live in a buffer the callback could free (destroy). */
	snprintf(text, sizeof(text), "%s", msg != NULL ? msg : "");
	if (j->cj_worker != NULL)
		j->cj_worker->cw_job = NULL;
	else {
		TAILQ_REMOVE(&ce->ce_queue, j, cj_entry);
		ce->ce_nqueued--;
	}
	ce_job_free(j);
	if (cancelled || cb == NULL)
		return 0;
	ce->ce_busy++;
	cb(arg, err, text);
	ce->ce_busy--;
	if (ce->ce_dying) {
		if (ce->ce_busy == 0) {
			free(ce->ce_workers);
			free(ce);
		}
		return 1;
	}
	return 0;
}

static void
on_job_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ce_job *j = container_of(t, struct ce_job, cj_timer_w);
	struct ce_worker *w = j->cj_worker;
	struct connector *ce = j->cj_ce;
	char msg[EIW_MSG_LEN];

	if (w == NULL) {
		snprintf(msg, sizeof(msg), "%s: timed out waiting for a free "
		    "worker", j->cj_node);
		ce_job_finish(j, CAIRN_ERR_TIMEOUT, msg);
		return;
	}
	log_warnx("%s: erlang worker %ld overran its deadline by %d ms; "
	    "killed", j->cj_node, (long)w->cw_pid, CONN_ERLANG_GRACE_MS);
	snprintf(msg, sizeof(msg), "%s: no answer in time; worker killed",
	    j->cj_node);
	ce_worker_stop(w);
	if (ce_job_finish(j, CAIRN_ERR_TIMEOUT, msg))
		return;
	ce_dispatch(ce);
}

/*
 * Workers
 */

/* Closes every descriptor from lowest up (close_range, else /proc). */
static void
ce_close_from(int lowest)
{
	struct dirent *de;
	DIR *d;
	long fd;
	char *end;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0)
		return;
#endif
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &end, 10);
		if (*end != '\0' || de->d_name[0] == '.' || fd < lowest ||
		    fd == dirfd(d))
			continue;
		close((int)fd);
	}
	closedir(d);
}

/* The forked worker: never returns. */
static void
ce_child(struct connector *ce, int fd, pid_t parent)
{
	struct eiw_conf conf;
	sigset_t all;
	int sig;

	/* Dies with the agent, so a worker never outlives it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* A node that vanishes mid-write must be an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (fd != CE_CHILD_FD) {
		if (dup2(fd, CE_CHILD_FD) == -1)
			_exit(1);
		close(fd);
	}
	ce_close_from(CE_CHILD_FD + 1);
	conf.alive = ce->ce_alive;
	conf.host = ce->ce_host;
	conf.cookie = ce->ce_cookie;
	conf.epmd_port = ce->ce_epmd_port;
	eiw_main(CE_CHILD_FD, &conf);
	_exit(0);
}

/*
 * Reaps worker pid, killing it first if it is still running.  waitpid()
 * comes first: if someone else (libev's SIGCHLD handler on the default
 * loop) reaped it already, the pid may be reused and must not be killed.
 */
static void
ce_reap(pid_t pid)
{
	struct timespec pause = { 0, CE_REAP_PAUSE_NS };
	int i, st;
	pid_t r;

	for (i = 0; i < CE_REAP_TRIES; i++) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r == -1 && errno == ECHILD))
			return;
		if (r == -1 && errno == EINTR)
			continue;
		if (i == 0)
			kill(pid, SIGKILL);
		nanosleep(&pause, NULL);
	}
	log_warnx("erlang worker %ld: not reaped after SIGKILL", (long)pid);
}

/* Ends the worker in slot w (if any); its job, if any, stays on it. */
static void
ce_worker_stop(struct ce_worker *w)
{
	struct connector *ce = w->cw_ce;

	if (w->cw_pid == -1)
		return;
	ev_io_stop(ce->ce_loop, &w->cw_rd_w);
	ev_io_stop(ce->ce_loop, &w->cw_wr_w);
	ce_reap(w->cw_pid);
	close(w->cw_fd);
	w->cw_fd = -1;
	w->cw_pid = -1;
	bytes_w_reset(&w->cw_out);
	bytes_w_reset(&w->cw_in);
}

/* The worker died or spoke nonsense: fail its job, free the slot. */
static int
ce_worker_lost(struct ce_worker *w, const char *why)
{
	struct ce_job *j = w->cw_job;
	char msg[EIW_MSG_LEN];

	log_warnx("erlang worker %ld: %s", (long)w->cw_pid, why);
	ce_worker_stop(w);
	if (j == NULL)
		return 0;
	snprintf(msg, sizeof(msg), "%s: worker lost (%s)", j->cj_node, why);
	return ce_job_finish(j, CAIRN_ERR_IO, msg);
}

/* Handles the frames in w's input; 1 if the connector is gone. */
static int
ce_worker_replies(struct ce_worker *w)
{
	struct eiw_reply rep;
	struct bytes_view body;
	size_t used;
	char msg[EIW_MSG_LEN];
	int rc;

	while ((rc = eiw_frame(w->cw_in.buf, w->cw_in.len, &body,
	    &used)) == 0) {
		if (eiw_decode_reply(body, &rep) != 0 || w->cw_job == NULL ||
		    rep.id != w->cw_job->cj_id)
			return ce_worker_lost(w, "unexpected reply");
		snprintf(msg, sizeof(msg), "%.*s", (int)rep.msg.len,
		    (const char *)rep.msg.p);
		bytes_w_consume(&w->cw_in, used);
		if (ce_job_finish(w->cw_job, rep.err, msg))
			return 1;
	}
	if (rc != CAIRN_ERR_NEED_MORE)
		return ce_worker_lost(w, "reply too big");
	return 0;
}

static void
on_worker_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ce_worker *w = container_of(io, struct ce_worker, cw_rd_w);
	struct connector *ce = w->cw_ce;
	ssize_t n;
	int i;

	for (i = 0; i < CE_READS_PER_WAKEUP; i++) {
		if (bytes_w_reserve(&w->cw_in, 4096) != 0) {
			if (ce_worker_lost(w, "reply too big"))
				return;
			break;
		}
		n = read(w->cw_fd, w->cw_in.buf + w->cw_in.len,
		    w->cw_in.cap - w->cw_in.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (ce_worker_lost(w, n == 0 ? "exited" :
			    strerror(errno)))
				return;
			break;
		}
		w->cw_in.len += (size_t)n;
		if (ce_worker_replies(w))
			return;
		if (w->cw_pid == -1)
			break;
	}
	ce_dispatch(ce);
}

static void
on_worker_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ce_worker *w = container_of(io, struct ce_worker, cw_wr_w);
	ssize_t n;

	while (w->cw_out.len > 0) {
		n = write(w->cw_fd, w->cw_out.buf, w->cw_out.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (ce_worker_lost(w, strerror(errno)) == 0)
				ce_dispatch(w->cw_ce);
			return;
		}
		bytes_w_consume(&w->cw_out, (size_t)n);
	}
	ev_io_stop(loop, io);
}

/* Starts a worker in slot w.  0, or CAIRN_ERR_IO with errno. */
static int
ce_worker_spawn(struct ce_worker *w)
{
	struct connector *ce = w->cw_ce;
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return CAIRN_ERR_IO;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return CAIRN_ERR_IO;
	}
	if (pid == 0) {
		close(sv[0]);
		ce_child(ce, sv[1], parent);
		/* NOTREACHED */
	}
	close(sv[1]);
	if (sock_set_nonblock(sv[0]) == -1) {
		close(sv[0]);
		ce_reap(pid);
		return CAIRN_ERR_IO;
	}
	w->cw_pid = pid;
	w->cw_fd = sv[0];
	ev_io_init(&w->cw_rd_w, on_worker_read, w->cw_fd, EV_READ);
	ev_io_init(&w->cw_wr_w, on_worker_write, w->cw_fd, EV_WRITE);
	ev_io_start(ce->ce_loop, &w->cw_rd_w);
	log_debug("erlang worker %ld started", (long)pid);
	return 0;
}

/* Hands j to idle worker w; its deadline timer becomes the kill timer. */
static void
ce_job_start(struct ce_worker *w, struct ce_job *j, uint64_t now)
{
	struct connector *ce = w->cw_ce;
	uint64_t left = j->cj_deadline - now;
	uint8_t *p;

	TAILQ_REMOVE(&ce->ce_queue, j, cj_entry);
	ce->ce_nqueued--;
	j->cj_worker = w;
	w->cw_job = j;
	p = j->cj_req.buf + j->cj_tmo_off;
	p[0] = (uint8_t)(left >> 24);
	p[1] = (uint8_t)(left >> 16);
	p[2] = (uint8_t)(left >> 8);
	p[3] = (uint8_t)left;
	bytes_put(&w->cw_out, j->cj_req.buf, j->cj_req.len);
	ev_io_start(ce->ce_loop, &w->cw_wr_w);
	ev_timer_stop(ce->ce_loop, &j->cj_timer_w);
	ev_timer_set(&j->cj_timer_w,
	    (double)(left + CONN_ERLANG_GRACE_MS) / 1000., 0.);
	ev_timer_start(ce->ce_loop, &j->cj_timer_w);
}

static uint64_t
ce_now_ms(struct connector *ce)
{
	return (uint64_t)(ev_now(ce->ce_loop) * 1000.);
}

/* A worker with no job, else an empty slot, else NULL. */
static struct ce_worker *
ce_worker_free_slot(struct connector *ce)
{
	struct ce_worker *empty = NULL;
	unsigned int i;

	for (i = 0; i < ce->ce_nworkers; i++) {
		if (ce->ce_workers[i].cw_pid == -1) {
			if (empty == NULL)
				empty = &ce->ce_workers[i];
		} else if (ce->ce_workers[i].cw_job == NULL)
			return &ce->ce_workers[i];
	}
	return empty;
}

/*
 * Gives waiting jobs to idle workers, starting workers as needed.  Each
 * turn starts or ends one job, so the loop is bounded by the queue.
 */
static void
ce_dispatch(struct connector *ce)
{
	struct ce_worker *w;
	struct ce_job *j;
	char msg[EIW_MSG_LEN];
	uint64_t now;

	while ((j = TAILQ_FIRST(&ce->ce_queue)) != NULL) {
		if ((w = ce_worker_free_slot(ce)) == NULL)
			return;
		now = ce_now_ms(ce);
		if (j->cj_deadline <= now) {
			snprintf(msg, sizeof(msg), "%s: timed out waiting for "
			    "a free worker", j->cj_node);
			if (ce_job_finish(j, CAIRN_ERR_TIMEOUT, msg))
				return;
			continue;
		}
		if (w->cw_pid == -1 && ce_worker_spawn(w) != 0) {
			snprintf(msg, sizeof(msg), "%s: cannot start a worker: "
			    "%s", j->cj_node, strerror(errno));
			if (ce_job_finish(j, CAIRN_ERR_IO, msg))
				return;
			continue;
		}
		ce_job_start(w, j, now);
	}
}

static void
on_kick(struct ev_loop *loop, ev_timer *t, int revents)
{
	ce_dispatch(container_of(t, struct connector, ce_kick_w));
}

/*
 * Queues a job.  members[0..n) are borrowed; invalid names are left out.
 * 0, or CAIRN_ERR_INVAL / _NOMEM / _TOO_BIG / _LIMIT.
 */
static int
ce_submit(struct connector *ce, enum eiw_kind kind, const char *node,
    const char *const *members, size_t n, double timeout, conn_done_cb *cb,
    void *arg)
{
	const char **valid = NULL;
	struct ce_job *j = NULL;
	uint64_t tmo;
	size_t i, nvalid = 0;
	int rc;

	if (ce->ce_dying || !ce_valid_node(node))
		return CAIRN_ERR_INVAL;
	if (ce->ce_nqueued >= CONN_ERLANG_MAX_QUEUE)
		return CAIRN_ERR_LIMIT;
	if (timeout > 0.)
		tmo = timeout > 86400. ? 86400000 : (uint64_t)(timeout * 1000.);
	else
		tmo = ce->ce_timeout_ms;
	if (tmo == 0)
		tmo = 1;
	if (n > 0 && (valid = calloc(n, sizeof(*valid))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (ce_valid_node(members[i]))
			valid[nvalid++] = members[i];
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->cj_node = strdup(node)) == NULL) {
		rc = CAIRN_ERR_NOMEM;
		goto fail;
	}
	j->cj_ce = ce;
	j->cj_id = ++ce->ce_next_id;
	j->cj_cb = cb;
	j->cj_arg = arg;
	j->cj_deadline = ce_now_ms(ce) + tmo;
	/* Frame: length (4), kind (1), id (4), then timeout_ms. */
	j->cj_tmo_off = 4 + 1 + 4;
	bytes_w_init(&j->cj_req, 4 + EIW_MAX_FRAME);
	if ((rc = eiw_encode_req(&j->cj_req, kind, j->cj_id, 0, node, valid,
	    nvalid)) != 0)
		goto fail;
	ev_timer_init(&j->cj_timer_w, on_job_timer, (double)tmo / 1000., 0.);
	ev_timer_start(ce->ce_loop, &j->cj_timer_w);
	TAILQ_INSERT_TAIL(&ce->ce_queue, j, cj_entry);
	ce->ce_nqueued++;
	free(valid);
	ev_timer_start(ce->ce_loop, &ce->ce_kick_w);
	return 0;

fail:
	if (j != NULL) {
		bytes_w_fini(&j->cj_req);
		free(j->cj_node);
		free(j);
	}
	free(valid);
	return rc;
}

/*
 * The ops
 */

static void
ce_members_clear(struct connector *ce)
{
	size_t i;

	for (i = 0; i < ce->ce_nmembers; i++)
		free(ce->ce_members[i]);
	free(ce->ce_members);
	ce->ce_members = NULL;
	ce->ce_nmembers = 0;
}

/* Remembers the view's members for disconnect(); keeps the old on ENOMEM. */
static void
ce_members_set(struct connector *ce, const char *const *members, size_t n)
{
	char **v;
	size_t i;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if ((v[i] = strdup(members[i])) == NULL) {
			while (i-- > 0)
				free(v[i]);
			free(v);
			return;
		}
	}
	ce_members_clear(ce);
	ce->ce_members = v;
	ce->ce_nmembers = n;
}

/* node_name, when given; the agent's own is its base otherwise. */
static void
erlang_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct erlang_conf *cf = p;
	const char *at;
	char why[320];

	if (cf == NULL || cf->node_name == NULL)
		return;
	at = strchr(cf->node_name, '@');
	if (!ce_valid_alive(cf->node_name, at != NULL ?
	    (size_t)(at - cf->node_name) : strlen(cf->node_name)) ||
	    (at != NULL && !ce_valid_node(cf->node_name))) {
		snprintf(why, sizeof(why), "bad node name \"%.200s\" (letters, "
		    "digits, '_' and '-', then optionally @host)",
		    cf->node_name);
		err(arg, "node_name", -1, why);
	}
}

static struct connector *
erlang_create(const struct agent_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct erlang_conf *cf = p;
	struct connector *ce = NULL;
	const char *base, *at;
	unsigned int i;

	base = cf != NULL && cf->node_name != NULL ? cf->node_name :
	    env->self_name != NULL ? env->self_name : "cairn";
	at = strchr(base, '@');
	if (!ce_valid_alive(base, at != NULL ? (size_t)(at - base) :
	    strlen(base)) || (at != NULL && !ce_valid_node(base))) {
		snprintf(err, errlen, "erlang: bad node name \"%s\"", base);
		return NULL;
	}
	if ((ce = calloc(1, sizeof(*ce))) == NULL)
		goto nomem;
	ce->ce_loop = env->loop;
	ce->ce_cookie = env->cookie;
	ce->ce_epmd_port = env->epmd_port;
	ce->ce_nworkers = cf != NULL ? cf->workers :
	    CONN_ERLANG_DEFAULT_WORKERS;
	ce->ce_timeout_ms = cf != NULL ? cf->timeout_ms :
	    CONN_ERLANG_DEFAULT_TIMEOUT_MS;
	if (ce->ce_nworkers < 1 || ce->ce_nworkers > 64 ||
	    ce->ce_timeout_ms == 0) {
		snprintf(err, errlen, "erlang: workers must be 1..64 and "
		    "timeout above 0");
		free(ce);
		return NULL;
	}
	if ((ce->ce_alive = at != NULL ? strndup(base, (size_t)(at - base)) :
	    strdup(base)) == NULL)
		goto nomem;
	if (at != NULL && (ce->ce_host = strdup(at + 1)) == NULL)
		goto nomem;
	if ((ce->ce_workers = calloc(ce->ce_nworkers,
	    sizeof(*ce->ce_workers))) == NULL)
		goto nomem;
	for (i = 0; i < ce->ce_nworkers; i++) {
		ce->ce_workers[i].cw_ce = ce;
		ce->ce_workers[i].cw_pid = -1;
		ce->ce_workers[i].cw_fd = -1;
		bytes_w_init(&ce->ce_workers[i].cw_out, 4 + EIW_MAX_FRAME);
		bytes_w_init(&ce->ce_workers[i].cw_in, 4 + EIW_MAX_FRAME);
	}
	TAILQ_INIT(&ce->ce_queue);
	ev_timer_init(&ce->ce_kick_w, on_kick, 0., 0.);
	return ce;

nomem:
	snprintf(err, errlen, "erlang: out of memory");
	if (ce != NULL) {
		free(ce->ce_alive);
		free(ce->ce_host);
		free(ce);
	}
	return NULL;
}

/*
 * Connects node with members (see connector.h).  Cheap when nothing
 * changed: one rpc on a kept connection.  Fails (through cb) when node
 * cannot be reached; members that node cannot reach are named in msg
 * but do not fail it.  Returns 0 (cb will fire once, from the loop) or
 * CAIRN_ERR_INVAL (bad node name), _NOMEM, _TOO_BIG, _LIMIT (cb never
 * fires).
 */
static int
erlang_connect(struct connector *ce, const char *node,
    const char *const *members, size_t n, double timeout, conn_done_cb *cb,
    void *arg)
{
	int rc;

	if ((rc = ce_submit(ce, EIW_CONNECT, node, members, n, timeout, cb,
	    arg)) == 0)
		ce_members_set(ce, members, n);
	return rc;
}

/*
 * Asks every member of the last view (the members given to the latest
 * connect) but node to disconnect node, and forgets node.  Returns as
 * erlang_connect().
 */
static int
erlang_disconnect(struct connector *ce, const char *node, double timeout,
    conn_done_cb *cb, void *arg)
{
	size_t i;
	int rc;

	if ((rc = ce_submit(ce, EIW_DISCONNECT, node,
	    (const char *const *)ce->ce_members, ce->ce_nmembers, timeout,
	    cb, arg)) != 0)
		return rc;
	for (i = 0; i < ce->ce_nmembers; i++) {
		if (strcmp(ce->ce_members[i], node) == 0) {
			free(ce->ce_members[i]);
			ce->ce_members[i] = ce->ce_members[--ce->ce_nmembers];
			break;
		}
	}
	return 0;
}

/*
 * Drops every job whose arg is arg: waiting ones now, running ones when
 * their answer comes (it is discarded).  Never calls a callback.
 */
static void
erlang_cancel(struct connector *ce, void *arg)
{
	struct ce_job *j, *next;
	unsigned int i;

	for (j = TAILQ_FIRST(&ce->ce_queue); j != NULL; j = next) {
		next = TAILQ_NEXT(j, cj_entry);
		if (j->cj_arg != arg)
			continue;
		TAILQ_REMOVE(&ce->ce_queue, j, cj_entry);
		ce->ce_nqueued--;
		ce_job_free(j);
	}
	for (i = 0; i < ce->ce_nworkers; i++)
		if (ce->ce_workers[i].cw_job != NULL &&
		    ce->ce_workers[i].cw_job->cj_arg == arg)
			ce->ce_workers[i].cw_job->cj_cancelled = 1;
}

/*
 * Kills every worker by pid and reaps it, drops every job without a
 * callback, and frees the connector (after the running callback, if
 * called from one).
 */
static void
erlang_destroy(struct connector *ce)
{
	struct ce_worker *w;
	struct ce_job *j;
	unsigned int i;

	if (ce == NULL || ce->ce_dying)
		return;
	ce->ce_dying = 1;
	ev_timer_stop(ce->ce_loop, &ce->ce_kick_w);
	while ((j = TAILQ_FIRST(&ce->ce_queue)) != NULL) {
		TAILQ_REMOVE(&ce->ce_queue, j, cj_entry);
		ce_job_free(j);
	}
	for (i = 0; i < ce->ce_nworkers; i++) {
		w = &ce->ce_workers[i];
		ce_worker_stop(w);
		if (w->cw_job != NULL) {
			ce_job_free(w->cw_job);
			w->cw_job = NULL;
		}
		bytes_w_fini(&w->cw_out);
		bytes_w_fini(&w->cw_in);
	}
	ce_members_clear(ce);
	free(ce->ce_alive);
	free(ce->ce_host);
	if (ce->ce_busy == 0) {
		free(ce->ce_workers);
		free(ce);
	}
}

pid_t
conn_erlang_worker_pid(const struct connector *ce, size_t i)
{
	if (ce == NULL || i >= ce->ce_nworkers)
		return -1;
	return ce->ce_workers[i].cw_pid;
}

const struct connector_ops connector_erlang = {
	.name = "erlang",
	.keys = erlang_keys,
	.conf_size = sizeof(struct erlang_conf),
	.conf_init = erlang_conf_init,
	.conf_free = erlang_conf_free,
	.check = erlang_check,
	.create = erlang_create,
	.connect = erlang_connect,
	.disconnect = erlang_disconnect,
	.cancel = erlang_cancel,
	.destroy = erlang_destroy,
};
