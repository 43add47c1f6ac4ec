/*
 * A non-blocking EPMD client on libev, for the agent and the broker.
 *
 * Queries (NAMES, PORT2) each open one TCP connection to an epmd, send
 * one request, read the reply and close; each is bounded by its own
 * deadline.  A registration keeper (epmd_areg) holds an ALIVE2
 * registration open for as long as it lives and registers again when
 * the epmd restarts or the name frees up, which stock Erlang nodes never
 * do.
 *
 * Callbacks always run from the loop, never from inside the call that
 * started the operation, so a connect refused at once looks like one
 * refused later.  A callback may start or cancel any query and free any
 * keeper, its own included.  Addresses are numeric here; names go
 * through common/resolv first.
 *
 * Error codes: CAIRN_ERR_IO (connect refused or reset, a socket call
 * failed), CAIRN_ERR_TIMEOUT (the deadline passed), CAIRN_ERR_PROTO (a
 * malformed or truncated reply), CAIRN_ERR_TOO_BIG (a NAMES reply over
 * EPMD_AQ_NAMES_MAX), CAIRN_ERR_NOMEM.  The blocking client for
 * command-line tools is epmd_client.h.
 */
#ifndef CAIRN_EPMD_EPMD_ACLIENT_H
#define CAIRN_EPMD_EPMD_ACLIENT_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "epmd/epmd_codec.h"

struct ev_loop;
struct epmd_aq;
struct epmd_areg;

/* Largest NAMES reply read (4-byte port plus lines) before giving up. */
#define EPMD_AQ_NAMES_MAX	(1024 * 1024)

/*
 * One NAMES entry.  name is NUL-terminated, name_len bytes long, and
 * points into the reply buffer: valid only during the callback.
 */
struct epmd_aq_name {
	const char	*name;
	size_t		 name_len;
	uint16_t	 port;
};

/*
 * NAMES answer.  err is 0 or a CAIRN_ERR_* (see above).  On 0,
 * names[0..n) lists the epmd's registrations in its order (n may be 0);
 * on error names is NULL and n is 0.  Borrowed for the call.
 */
typedef void (*epmd_names_cb)(void *arg, int err,
    const struct epmd_aq_name *names, size_t n);

/*
 * PORT2 answer.  err is 0 or a CAIRN_ERR_*.  On 0, info is the node, or
 * NULL when the epmd answered that the name is not registered.  info and
 * the bytes its name and extra view are borrowed for the call.
 */
typedef void (*epmd_port2_cb)(void *arg, int err,
    const struct epmd_node_info *info);

/*
 * Starts a NAMES query to the epmd at addr (copied), bounded by
 * timeout_s seconds (> 0).  Returns a handle valid until cb has
 * returned or epmd_aq_cancel(); NULL (cb never fires) on a bad argument
 * (errno EINVAL) or no memory.  cb fires exactly once, from the loop.
 */
struct epmd_aq	*epmd_aq_names(struct ev_loop *loop, const struct sockaddr *addr,
		    socklen_t addrlen, double timeout_s, epmd_names_cb cb,
		    void *arg);

/*
 * Starts a PORT2 query for name (copied; 1 to EPMD_MAXSYMLEN bytes, no
 * NUL) at addr.  Handle and callback rules as for epmd_aq_names().
 */
struct epmd_aq	*epmd_aq_port2(struct ev_loop *loop, const struct sockaddr *addr,
		    socklen_t addrlen, const char *name, double timeout_s,
		    epmd_port2_cb cb, void *arg);

/*
 * Cancels q: its socket closes, its callback never fires, and q is
 * invalid afterwards.  Safe from any callback.  NULL is fine, and so is
 * q from inside its own callback (nothing happens).  Never pass a handle
 * whose callback has already returned.
 */
void		 epmd_aq_cancel(struct epmd_aq *q);

/* What an epmd_areg reports. */
enum epmd_areg_event {
	EPMD_AREG_REGISTERED,	/* the epmd took the name: creation is set */
	EPMD_AREG_LOST,		/* the registration's connection closed */
	EPMD_AREG_REFUSED,	/* the epmd said no (the name is taken) */
	EPMD_AREG_RETRYING,	/* an attempt failed: err; next in retry_ms */
};

struct epmd_areg_status {
	enum epmd_areg_event	event;
	int			err;		/* RETRYING, LOST: why */
	uint32_t		creation;	/* REGISTERED */
	uint64_t		retry_ms;	/* RETRYING */
};

/*
 * Called for each event, in order: REGISTERED, then LOST when the epmd
 * goes away; REFUSED; and RETRYING after every failed attempt (a
 * connect or I/O error, a timeout, a refusal) and after LOST.  st is
 * borrowed for the call.  The callback may call epmd_areg_free().
 */
typedef void (*epmd_areg_cb)(void *arg, const struct epmd_areg_status *st);

struct epmd_areg_opts {
	double		timeout_s;	/* connect + ALIVE2 reply; 0: 5 s */
	double		retry_min_s;	/* first backoff; 0: 0.1 s */
	double		retry_max_s;	/* backoff cap; 0: 10 s */
};

/*
 * Registers info (copied: name, extra and all fields) with the epmd at
 * addr (copied) and keeps it registered: a lost connection or a refusal
 * leads to another attempt after a jittered exponential backoff, which
 * resets once registered.  The first attempt starts from the loop.
 * opts may be NULL.  Returns NULL when info fails epmd_check_alive2()
 * or addr is bad (errno EINVAL), or on no memory.  Free with
 * epmd_areg_free(), which also drops the registration.
 */
struct epmd_areg *epmd_areg_new(struct ev_loop *loop,
		    const struct sockaddr *addr, socklen_t addrlen,
		    const struct epmd_node_info *info,
		    const struct epmd_areg_opts *opts, epmd_areg_cb cb,
		    void *arg);

/* 1 while the epmd holds the registration, and its creation. */
int		 epmd_areg_registered(const struct epmd_areg *reg,
		    uint32_t *creation);

/*
 * Closes the registration's connection (the epmd drops the name), stops
 * every watcher and frees reg; no callback fires afterwards.  NULL is
 * fine.  Safe from inside reg's own callback.
 */
void		 epmd_areg_free(struct epmd_areg *reg);

#endif
