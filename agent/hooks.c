/*
 * The on_change hook: for every event, `/bin/sh -c CMD` runs with the
 * event as one JSON object on its standard input.  Hooks run one at a
 * time, in event order; each is killed past its timeout; the queue is
 * bounded and drops the oldest event with one log line.
 */
#include "agent/agent_int.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/container.h"
#include "common/log.h"

struct hook_ev {
	struct hook_ev	*next;
	size_t		 len;
	char		 json[];
};

struct hooks {
	struct ev_loop	*loop;
	char		*cmd;
	double		 timeout;
	size_t		 max_queue;
	struct hook_ev	*head;
	struct hook_ev	*tail;
	size_t		 queued;
	size_t		 dropped;
	pid_t		 pid;		/* running hook, or 0 */
	ev_child	 child_w;
	ev_timer	 kill_w;
};

static void	hooks_run_next(struct hooks *);

struct hooks *
hooks_new(struct ev_loop *loop, const char *cmd, uint64_t timeout_ms,
    size_t max_queue)
{
	struct hooks *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->cmd = strdup(cmd)) == NULL) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->timeout = (double)timeout_ms / 1000.;
	h->max_queue = max_queue ? max_queue : 1;
	return h;
}

void
hooks_free(struct hooks *h)
{
	struct hook_ev *e, *next;
	int status;

	if (h == NULL)
		return;
	if (h->pid > 0) {
		ev_child_stop(h->loop, &h->child_w);
		ev_timer_stop(h->loop, &h->kill_w);
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
	}
	for (e = h->head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	free(h->cmd);
	free(h);
}

static void
on_hook_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct hooks *h = container_of(w, struct hooks, child_w);
	int st = w->rstatus;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &h->kill_w);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		log_warnx("on_change hook exited with status %d",
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		log_warnx("on_change hook killed by signal %d", WTERMSIG(st));
	h->pid = 0;
	hooks_run_next(h);
}

static void
on_hook_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hooks *h = container_of(w, struct hooks, kill_w);

	if (h->pid > 0) {
		log_warnx("on_change hook still running after %.1fs: killing "
		    "it", h->timeout);
		kill(h->pid, SIGKILL);
	}
}

static void
hooks_run_next(struct hooks *h)
{
	struct hook_ev *e;
	int fds[2];
	pid_t pid;
	ssize_t n;
	size_t off = 0;

	if (h->pid > 0 || (e = h->head) == NULL)
		return;
	h->head = e->next;
	if (h->head == NULL)
		h->tail = NULL;
	h->queued--;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_warn("on_change hook: pipe");
		free(e);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("on_change hook: fork");
		close(fds[0]);
		close(fds[1]);
		free(e);
		return;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		execl("/bin/sh", "sh", "-c", h->cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	/* One event is far below the pipe's capacity; write it whole. */
	while (off < e->len) {
		n = write(fds[1], e->json + off, e->len - off);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;	/* the hook closed stdin: its business */
		}
		off += (size_t)n;
	}
	close(fds[1]);
	free(e);
	h->pid = pid;
	ev_child_init(&h->child_w, on_hook_exit, pid, 0);
	ev_child_start(h->loop, &h->child_w);
	ev_timer_init(&h->kill_w, on_hook_timeout, h->timeout, 0.);
	ev_timer_start(h->loop, &h->kill_w);
}

void
hooks_event(struct hooks *h, const char *json, size_t len)
{
	struct hook_ev *e, *old;

	if ((e = malloc(sizeof(*e) + len + 1)) == NULL) {
		log_warnx("on_change hook: out of memory: event dropped");
		return;
	}
	e->next = NULL;
	e->len = len + 1;
	memcpy(e->json, json, len);
	e->json[len] = '\n';
	if (h->queued >= h->max_queue) {
		old = h->head;
		h->head = old->next;
		if (h->head == NULL)
			h->tail = NULL;
		free(old);
		h->queued--;
		if (h->dropped++ % 100 == 0)
			log_warnx("on_change hook queue full (%zu): dropped "
			    "the oldest event (%zu so far)", h->max_queue,
			    h->dropped);
	}
	if (h->tail != NULL)
		h->tail->next = e;
	else
		h->head = e;
	h->tail = e;
	h->queued++;
	hooks_run_next(h);
}
