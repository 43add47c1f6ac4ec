/*
 * A libev WATCH client (Cairn's epmd extension, epmd_codec.h): one
 * connection to the local epmd that hears every registration and
 * unregistration as it happens, for the local_epmd strategy.
 *
 * The watch keeps the epmd's current names and hands the whole list to
 * its callback after the snapshot and after each batch of events read
 * at once (a burst of registrations is one call), in the shape of a
 * NAMES answer, so a caller that polls with epmd_aq_names() can take
 * either.  OTP's epmd does not know the request and closes the
 * connection: the watch then ends with epmd_aw_acked() false, and the
 * caller polls instead.
 *
 * Bounds: the connect and the ack share one deadline; afterwards the
 * stream may be silent for ever (nothing registers) and has none.  At
 * most EPMD_AW_MAX_NAMES names are kept; an epmd that announces more,
 * or a malformed event, ends the watch with CAIRN_ERR_TOO_BIG or
 * CAIRN_ERR_PROTO.  Callbacks run from the loop, never from inside
 * epmd_aw_start().
 */
#ifndef CAIRN_EPMD_EPMD_AWATCH_H
#define CAIRN_EPMD_EPMD_AWATCH_H

#include <sys/socket.h>

#include <stddef.h>

#include "epmd/epmd_aclient.h"

struct ev_loop;
struct epmd_aw;

/* Names a watch keeps; as many as an epmd's default -max_names. */
#define EPMD_AW_MAX_NAMES	65536

/*
 * err 0: names[0..n) are the epmd's names now (borrowed for the call;
 * n may be 0), and the watch goes on.  err < 0: the watch is over
 * (CAIRN_ERR_CLOSED, _IO, _TIMEOUT, _PROTO, _TOO_BIG, _NOMEM), names is
 * NULL, and the handle is freed when the callback returns; call
 * epmd_aw_acked() in it to tell an epmd without WATCH (0) from one that
 * went away (1).  The callback may call epmd_aw_cancel() on its own
 * handle (then it is freed on return, and no more calls come).
 */
typedef void (*epmd_aw_cb)(void *arg, int err,
    const struct epmd_aq_name *names, size_t n);

/*
 * Starts watching the epmd at addr (copied); timeout_s bounds the
 * connect and the ack.  NULL on a bad argument or no memory (cb never
 * fires).
 */
struct epmd_aw	*epmd_aw_start(struct ev_loop *loop,
		    const struct sockaddr *addr, socklen_t addrlen,
		    double timeout_s, epmd_aw_cb cb, void *arg);
/* 1 once the epmd acknowledged the WATCH request. */
int		 epmd_aw_acked(const struct epmd_aw *);
/* Closes the watch; no callback after it.  NULL is fine. */
void		 epmd_aw_cancel(struct epmd_aw *);

#endif
