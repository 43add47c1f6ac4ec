/*
 * TLS for MQTT listeners: a listener's SSL_CTX made from its `tls:` map
 * (broker_conf.h), and the TLS transport (transport.h) of one accepted
 * connection.
 *
 * The handshake runs on the loop like any other I/O: the transport puts
 * the server side in accept state and SSL_read drives the handshake, so
 * a handshake is only more reads and writes of one connection and a slow
 * one never holds another.  Its deadline is the connection's
 * connect_timeout (client.c), which covers the handshake and CONNECT.
 *
 * Sessions resume with stateless tickets (RFC 5077, TLS 1.3's
 * NewSessionTicket), whose keys the context makes at random: nothing is
 * stored per client, so a stranger cannot grow a session cache.  A new
 * context (a reload) has new keys, and older tickets make full
 * handshakes.
 */
#ifndef CAIRN_BROKER_TLS_H
#define CAIRN_BROKER_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "broker/conf/broker_conf.h"
#include "broker/net/transport.h"

/*
 * A server context from tc: certificate chain and key, client CAs
 * (cafile, capath), verification as require_certificate says, minimum
 * version, ciphers.  NULL with the file or setting at fault in err.
 * Free with SSL_CTX_free(); each connection holds a reference of its
 * own, so a reload may free the listener's while connections live.
 */
SSL_CTX		*tls_ctx_new(const struct broker_tls_conf *tc, char *err,
		    size_t errlen);
/*
 * A TLS transport over fd with ctx (a reference is taken).  identity:
 * keep the client certificate's identity (use_identity_as_username).
 * NULL when out of memory.
 */
struct transport *tls_transport_new(SSL_CTX *ctx, int fd, int identity);

#endif
