/*
 * MQTT over WebSockets (RFC 6455), the pure part: the HTTP/1.1 upgrade
 * request (parsed by libhttp-parser) and its answer, then frames in and
 * out through libwslay's event API over memory.  Bytes in, bytes out:
 * no socket, no loop, no clock, no logging (the transport in client.c
 * does the I/O and the deadline, and logs once).
 *
 * A connection's life:
 *
 *	WS_UPGRADE	reading the request; at most wc_max_request bytes
 *	WS_OPEN		101 written; binary frames carry MQTT bytes
 *	WS_CLOSING	an error answer (HTTP 4xx) or a close frame is in
 *			wire_out: write it, then close the socket
 *
 * Binary frames' payloads are handed on as they arrive, with no regard
 * for MQTT packet boundaries (MQTT 3.1.1 section 6: a frame may hold
 * part of a packet or several).  Text frames, unmasked frames, reserved
 * bits, frames over wc_max_frame and malformed frames end the
 * connection with a close frame (1003, 1002, 1002, 1009, 1002).
 * Pings are answered by wslay; a peer that sends pings without reading
 * the pongs is closed past WS_MAX_QUEUED answers.
 */
#ifndef CAIRN_BROKER_NET_WS_H
#define CAIRN_BROKER_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* Pongs and close frames wslay may hold unsent before the peer is cut. */
#define WS_MAX_QUEUED		64
/* The longest header value kept (Origin, Sec-WebSocket-Protocol...). */
#define WS_MAX_VALUE		256
/* Accept key: base64 of a SHA-1, with its NUL. */
#define WS_ACCEPT_LEN		29

enum ws_state {
	WS_UPGRADE = 1,		/* reading the HTTP upgrade request */
	WS_OPEN,		/* frames both ways */
	WS_CLOSING,		/* last words queued: flush, then close */
};

struct ws_conf {
	size_t		 wc_max_request;	/* upgrade request, bytes */
	uint64_t	 wc_max_frame;		/* one frame's payload, bytes */
	/* Allowed Origin values, exact (scheme://host[:port]); borrowed.
	 * None: any Origin, or none, is accepted. */
	char *const	*wc_origins;
	size_t		 wc_norigins;
};

struct ws;

/*
 * A connection in WS_UPGRADE.  Borrows conf, which must outlive it.
 * Returns NULL when memory runs out; free with ws_free().
 */
struct ws	*ws_new(const struct ws_conf *conf);
void		 ws_free(struct ws *);

/*
 * Feeds len bytes read from the peer.  In WS_UPGRADE, parses the
 * request; when it is complete, appends the answer (101, or 400, 403
 * or 426) to wire_out, and goes on to frames with what follows it.  In
 * WS_OPEN, appends binary payload bytes to app (MQTT input) and what
 * wslay answers (pong, close) to wire_out.  Consumes all of p.
 *
 * Returns 0 (read more), or CAIRN_ERR_PROTO: the peer is done for, the
 * state is WS_CLOSING, ws_reason() says why, and wire_out holds the
 * last words (an HTTP answer or a close frame) to write before closing.
 * CAIRN_ERR_TOO_BIG when app or wire_out is at its cap, CAIRN_ERR_NOMEM.
 * Once it has failed, every later call returns the same code.
 */
int		 ws_input(struct ws *, const uint8_t *p, size_t len,
		    struct bytes_w *app, struct bytes_w *wire_out);

/*
 * Frames p[0..len) (MQTT bytes) as one binary message into wire_out.
 * Only in WS_OPEN (else CAIRN_ERR_INVAL).  Returns 0,
 * CAIRN_ERR_TOO_BIG (wire_out at its cap) or CAIRN_ERR_NOMEM.
 */
int		 ws_output(struct ws *, const uint8_t *p, size_t len,
		    struct bytes_w *wire_out);

/*
 * Writes into wire_out what wslay still holds (a message that did not
 * fit, a pong), as far as it fits.  0 or an error as ws_output().
 */
int		 ws_flush(struct ws *, struct bytes_w *wire_out);
/* 1 while wslay holds frames not yet in a wire_out. */
int		 ws_want_write(const struct ws *);

/*
 * Queues a close frame (code, e.g. 1000 or 1001) into wire_out, when
 * the connection is open; the state becomes WS_CLOSING.  0 or an error.
 */
int		 ws_close(struct ws *, uint16_t code, struct bytes_w *wire_out);

enum ws_state	 ws_state(const struct ws *);
/* Why the connection failed (a static string), or NULL. */
const char	*ws_reason(const struct ws *);
/* The HTTP status answered to the upgrade (101, 400, 403, 426), or 0. */
int		 ws_http_status(const struct ws *);
/* The subprotocol chosen ("mqtt", "mqttv3.1") or "" (none asked). */
const char	*ws_protocol(const struct ws *);

/*
 * Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2: base64 of the
 * SHA-1 of the key and the GUID) into out (WS_ACCEPT_LEN bytes, NUL
 * ended).  0, or CAIRN_ERR_PROTO when key is not the base64 of 16
 * bytes.
 */
int		 ws_accept_key(const char *key, size_t keylen,
		    char out[WS_ACCEPT_LEN]);

#endif
