/*
 * The `erlang` connector's extras beyond struct connector_ops (which
 * exports it as connector_erlang): what tests and diagnostics may ask
 * about its worker pool.
 */
#ifndef CAIRN_AGENT_CONN_ERLANG_H
#define CAIRN_AGENT_CONN_ERLANG_H

#include <sys/types.h>

#include <stddef.h>

struct connector;

/* Defaults of the connector's keys (see conn_erlang.c). */
#define CONN_ERLANG_DEFAULT_WORKERS	4
#define CONN_ERLANG_DEFAULT_TIMEOUT_MS	5000
/* How long past its deadline a worker may run before it is killed. */
#define CONN_ERLANG_GRACE_MS		1000
/* Jobs waiting for a worker, at most; past it connect() fails. */
#define CONN_ERLANG_MAX_QUEUE		4096

/*
 * The pid of worker i (0 <= i < workers), or -1 if that slot has no
 * live worker (workers start on demand).  c must come from
 * connector_erlang.create; borrowed.
 */
pid_t	conn_erlang_worker_pid(const struct connector *c, size_t i);

#endif
