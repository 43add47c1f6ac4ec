/*
 * Private to agent/: the hook runner and the control socket, which the
 * engine (agent.c) drives.
 */
#ifndef CAIRN_AGENT_AGENT_INT_H
#define CAIRN_AGENT_AGENT_INT_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct agent;
struct bytes_w;

/* hooks.c: runs `sh -c CMD` with each event on stdin, one at a time. */
struct hooks;
struct hooks	*hooks_new(struct ev_loop *, const char *cmd,
		    uint64_t timeout_ms, size_t max_queue);
void		 hooks_free(struct hooks *);
/* Queues one event (copied); drops the oldest past max_queue. */
void		 hooks_event(struct hooks *, const char *json, size_t len);

/* control.c: a unix socket (owner-only) serving members/state/watch. */
struct control;
struct control	*control_new(struct ev_loop *, struct agent *,
		    const char *path, size_t max_watchers, char *err,
		    size_t errlen);
void		 control_free(struct control *);
/* Sends one event line to every watcher. */
void		 control_event(struct control *, const char *json, size_t len);
/* The state object that opens every watch stream (agent.c). */
int		 agent_state_json(const struct agent *, struct bytes_w *);
/* The embedding program's answer to req: 1 if it gave one (agent.c). */
int		 agent_host_request(struct agent *, const char *req,
		    struct bytes_w *out);

#endif
