/*
 * A blocking EPMD client for command-line tools (`epmd -names`, `cairn
 * names`).  Each call opens one connection, sends one request and reads
 * the reply, bounded by a deadline in milliseconds.  Never use it on an
 * event loop: the agent and broker have their own non-blocking client.
 */
#ifndef CAIRN_EPMD_EPMD_CLIENT_H
#define CAIRN_EPMD_EPMD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "epmd/epmd_codec.h"

/*
 * Connects to host's epmd on port.  host NULL means the local epmd, as
 * OTP's client finds it: ::1 first, then 127.0.0.1.  Otherwise host is a
 * numeric address or a name (getaddrinfo; every address is tried).
 * Returns a non-blocking fd, or -1 with errno (ETIMEDOUT past the deadline).
 */
int	epmd_client_connect(const char *host, uint16_t port, int timeout_ms);

/*
 * Sends req (a whole frame) on fd and reads the reply until the peer
 * closes or out reaches its cap.  0, or CAIRN_ERR_IO / CAIRN_ERR_TIMEOUT
 * with errno.  out keeps whatever arrived.
 */
int	epmd_client_exchange(int fd, struct bytes_view req, struct bytes_w *out,
	    int timeout_ms);

/*
 * NAMES: *epmd_port and the reply body (lines) in body.  0,
 * CAIRN_ERR_IO (connect or I/O failed; errno), CAIRN_ERR_TIMEOUT, or
 * CAIRN_ERR_PROTO (the reply was shorter than the 4-byte port).
 */
int	epmd_client_names(const char *host, uint16_t port, int timeout_ms,
	    uint32_t *epmd_port, struct bytes_w *body);

#endif
