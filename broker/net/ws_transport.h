/*
 * MQTT over WebSockets as a transport (transport.h): the upgrade and
 * the frames of ws.c between a connection and its socket, or between a
 * connection and the TLS transport under it (wss).
 */
#ifndef CAIRN_BROKER_NET_WS_TRANSPORT_H
#define CAIRN_BROKER_NET_WS_TRANSPORT_H

#include <stddef.h>

#include "broker/net/transport.h"
#include "broker/net/ws.h"

/* max_out for ws_transport_new(): one frame of a write, and pongs. */
#define WS_TRANSPORT_MAX_OUT	(128 * 1024)

/*
 * A listener's WebSocket settings, shared by its connections: a
 * connection keeps the settings it was accepted with across a reload
 * that frees the listener and its configuration.  Refcounted.
 */
struct ws_tconf;

/*
 * A copy of conf (its origin strings too), with one reference for the
 * caller.  NULL when memory runs out.
 */
struct ws_tconf		*ws_tconf_new(const struct ws_conf *conf);
/* Drops one reference (NULL is fine); the last frees it. */
void			 ws_tconf_free(struct ws_tconf *);

/*
 * A WebSocket transport on fd (borrowed) over lower (NULL: the socket
 * itself; else taken, and closed with it), with a reference of its own
 * to tc.  max_out caps the frames waiting for the socket.  Returns NULL
 * when memory runs out; lower is then still the caller's.
 */
struct transport	*ws_transport_new(int fd, struct transport *lower,
			    struct ws_tconf *tc, size_t max_out);

#endif
