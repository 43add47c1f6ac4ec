/*
 * TLS helpers over OpenSSL shared by every TLS user in Cairn (the
 * cluster's links, the broker's MQTT listeners): one reader of
 * OpenSSL's error queue, so that every refusal is logged with the same
 * words, and a peer certificate's identity.  No I/O, no logging.
 *
 * Why OpenSSL: it is already the project's crypto library (password
 * hashes, link handshakes), it is what mosquitto and OTP link, and its
 * non-blocking SSL_read/SSL_write with WANT_READ/WANT_WRITE fit a libev
 * loop as they are.
 */
#ifndef CAIRN_COMMON_TLS_H
#define CAIRN_COMMON_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * OpenSSL's reason for the last failure, in buf: the peer certificate's
 * verify result first when ssl is given and it failed ("peer
 * certificate refused: certificate has expired"), else the last error
 * of the queue, else dflt.  Clears the error queue.  When kind is not
 * NULL, *kind is a static string naming the kind of failure (OpenSSL's
 * own text for it, or dflt), for a rate limit per kind.  Returns buf or
 * dflt.
 */
const char	*tls_reason(SSL *ssl, char *buf, size_t len, const char *dflt,
		    const char **kind);
/*
 * The identity of ssl's verified peer certificate, in buf: its
 * subject's CN, or else its first DNS or e-mail subjectAltName
 * (mosquitto's use_identity_as_username takes the CN).  0, or -1 when
 * there is no certificate, no such name, or it does not fit or holds a
 * NUL byte.
 */
int		 tls_peer_identity(SSL *ssl, char *buf, size_t len);

#endif
