/*
 * The TLS transport (tls.h): SSL_read and SSL_write behind the
 * transport contract of transport.h, and listener contexts.
 *
 * WANT_READ and WANT_WRITE both ways: SSL_read may need to write
 * (handshake records, a TLS 1.3 key update's answer) and SSL_write may
 * need to read (a handshake not yet over).  Each direction keeps its own
 * bit in t_want: a read that wants the socket writable sets
 * TRANSPORT_WANT_WRITE and the next read clears it; a write that wants
 * it readable sets TRANSPORT_WANT_READ and the next write clears it.
 * client.c keeps the matching watcher on and retries on that event.
 *
 * Writes: client.c hands its whole output buffer to one write per flush,
 * so MQTT packets queued in one loop iteration travel in as few TLS
 * records as their size allows (16 KiB each), never one record per
 * packet.  SSL_MODE_ENABLE_PARTIAL_WRITE lets SSL_write return after
 * each record; this file loops until the buffer is written or the socket
 * is full.  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the retry after
 * WANT_WRITE from a buffer that grew (and moved) meanwhile.
 */
#include "broker/net/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/container.h"
#include "common/tls.h"

/* A client certificate's CN as a user name: MQTT's limit is 65535. */
#define TLS_IDENTITY_MAX	256
#define TLS_REASON_LEN		160

struct tls_transport {
	struct transport	 tt_t;		/* first: container_of */
	SSL			*tt_ssl;
	int			 tt_identity;	/* use_identity_as_username */
	int			 tt_ready;	/* handshake over */
	char			 tt_err[TLS_REASON_LEN];
	char			 tt_id[TLS_IDENTITY_MAX];	/* "": none */
};

#define TT(t)	container_of((t), struct tls_transport, tt_t)
#define TTC(t)	container_of((t), const struct tls_transport, tt_t)

/* The failure of the last call, as transport.h's EPROTO. */
static ssize_t
tls_fail(struct tls_transport *tt, const char *dflt)
{
	(void)tls_reason(tt->tt_ssl, tt->tt_err, sizeof(tt->tt_err), dflt,
	    &tt->tt_t.t_err_kind);
	if (tt->tt_err[0] == '\0' || tt->tt_t.t_err_kind == dflt)
		snprintf(tt->tt_err, sizeof(tt->tt_err), "%s", dflt);
	errno = EPROTO;
	return -1;
}

/* Once per connection, when the handshake is over. */
static void
tls_handshake_done(struct tls_transport *tt)
{
	tt->tt_ready = 1;
	if (tt->tt_identity &&
	    tls_peer_identity(tt->tt_ssl, tt->tt_id, sizeof(tt->tt_id)) != 0)
		tt->tt_id[0] = '\0';
}

static ssize_t
tls_read(struct transport *t, void *buf, size_t len)
{
	struct tls_transport *tt = TT(t);
	int n;

	ERR_clear_error();
	errno = 0;
	t->t_want &= ~TRANSPORT_WANT_WRITE;
	n = SSL_read(tt->tt_ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (!tt->tt_ready && SSL_is_init_finished(tt->tt_ssl))
		tls_handshake_done(tt);
	if (n > 0)
		return n;
	switch (SSL_get_error(tt->tt_ssl, n)) {
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		t->t_want |= TRANSPORT_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		/* EOF without close_notify, or the socket's own errno. */
		if (ERR_peek_error() == 0)
			return errno == 0 ? 0 : -1;
		break;
	default:
		break;
	}
	return tls_fail(tt, tt->tt_ready ? "TLS error" :
	    "TLS handshake failed");
}

static ssize_t
tls_write(struct transport *t, const void *buf, size_t len)
{
	struct tls_transport *tt = TT(t);
	const unsigned char *p = buf;
	size_t done = 0;
	int n;

	t->t_want &= ~TRANSPORT_WANT_READ;
	while (done < len) {
		ERR_clear_error();
		n = SSL_write(tt->tt_ssl, p + done, len - done > INT_MAX ?
		    INT_MAX : (int)(len - done));
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (!tt->tt_ready && SSL_is_init_finished(tt->tt_ssl))
			tls_handshake_done(tt);
		switch (SSL_get_error(tt->tt_ssl, n)) {
		case SSL_ERROR_WANT_READ:
			t->t_want |= TRANSPORT_WANT_READ;
			/* FALLTHROUGH */
		case SSL_ERROR_WANT_WRITE:
			if (done > 0)
				return (ssize_t)done;
			errno = EAGAIN;
			return -1;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0) {
				if (done > 0)
					return (ssize_t)done;
				if (errno == 0)
					errno = EPIPE;
				return -1;
			}
			break;
		default:
			break;
		}
		if (done > 0)
			return (ssize_t)done;
		return tls_fail(tt, "TLS error");
	}
	return (ssize_t)done;
}

static size_t
tls_pending(const struct transport *t)
{
	int n = SSL_pending(TTC(t)->tt_ssl);

	return n > 0 ? (size_t)n : 0;
}

static const char *
tls_error(const struct transport *t)
{
	return TTC(t)->tt_err[0] != '\0' ? TTC(t)->tt_err : "TLS error";
}

static const char *
tls_identity(const struct transport *t)
{
	const struct tls_transport *tt = TTC(t);

	return tt->tt_ready && tt->tt_id[0] != '\0' ? tt->tt_id : NULL;
}

static int
tls_ready(const struct transport *t)
{
	return TTC(t)->tt_ready;
}

static void
tls_close(struct transport *t)
{
	struct tls_transport *tt = TT(t);

	/* close_notify if the socket takes it now; never wait for one. */
	if (tt->tt_ready) {
		ERR_clear_error();
		(void)SSL_shutdown(tt->tt_ssl);
	}
	ERR_clear_error();
	SSL_free(tt->tt_ssl);
	free(tt);
}

static const struct transport_ops tls_ops = {
	.to_name = "tls",
	.to_read = tls_read,
	.to_write = tls_write,
	.to_pending = tls_pending,
	.to_error = tls_error,
	.to_identity = tls_identity,
	.to_ready = tls_ready,
	.to_close = tls_close,
};

struct transport *
tls_transport_new(SSL_CTX *ctx, int fd, int identity)
{
	struct tls_transport *tt;

	if ((tt = calloc(1, sizeof(*tt))) == NULL)
		return NULL;
	ERR_clear_error();
	if ((tt->tt_ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(tt->tt_ssl, fd) != 1) {
		ERR_clear_error();
		SSL_free(tt->tt_ssl);
		free(tt);
		return NULL;
	}
	SSL_set_accept_state(tt->tt_ssl);
	tt->tt_t.t_ops = &tls_ops;
	tt->tt_t.t_fd = fd;
	tt->tt_identity = identity;
	return &tt->tt_t;
}

SSL_CTX *
tls_ctx_new(const struct broker_tls_conf *tc, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "cairn-broker";
	STACK_OF(X509_NAME) *cas;
	char tbuf[256];
	SSL_CTX *ctx = NULL;
	const char *what = "TLS context", *f;

	ERR_clear_error();
	/* OpenSSL says "system lib" for a missing file: say it first. */
	if (access(f = tc->tc_certfile, R_OK) != 0 ||
	    access(f = tc->tc_keyfile, R_OK) != 0 ||
	    (tc->tc_cafile != NULL && access(f = tc->tc_cafile, R_OK) != 0) ||
	    (tc->tc_capath != NULL && access(f = tc->tc_capath, R_OK) != 0)) {
		snprintf(err, errlen, "tls: %s: %s", f, strerror(errno));
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	what = "min_version";
	if (SSL_CTX_set_min_proto_version(ctx, tc->tc_min_version) != 1)
		goto fail;
	what = "ciphers";
	if (tc->tc_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, tc->tc_ciphers) != 1)
		goto fail;
	what = "ciphersuites";
	if (tc->tc_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, tc->tc_ciphersuites) != 1)
		goto fail;
	what = tc->tc_certfile;
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->tc_certfile) != 1)
		goto fail;
	what = tc->tc_keyfile;
	if (SSL_CTX_use_PrivateKey_file(ctx, tc->tc_keyfile,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (tc->tc_cafile != NULL || tc->tc_capath != NULL) {
		what = tc->tc_cafile != NULL ? tc->tc_cafile : tc->tc_capath;
		if (SSL_CTX_load_verify_locations(ctx, tc->tc_cafile,
		    tc->tc_capath) != 1)
			goto fail;
		/* Tell clients which CAs we take (CertificateRequest). */
		if (tc->tc_cafile != NULL &&
		    (cas = SSL_load_client_CA_file(tc->tc_cafile)) != NULL)
			SSL_CTX_set_client_CA_list(ctx, cas);
	}
	/* mosquitto's rule: verify only when a certificate is required. */
	SSL_CTX_set_verify(ctx, tc->tc_require_certificate ?
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT :
	    SSL_VERIFY_NONE, NULL);
	/*
	 * Resumption by stateless tickets only: no server-side cache that
	 * strangers could fill.  The id context is required to resume a
	 * session whose client was verified.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	what = "session id context";
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx,
	    sizeof(sid_ctx) - 1) != 1)
		goto fail;
	/*
	 * Idle connections give their 34 KiB of record buffers back; a
	 * peer killed without close_notify is a plain EOF.  No
	 * renegotiation (a CPU lever for the client).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	return ctx;
fail:
	snprintf(err, errlen, "tls: %s: %s", what,
	    tls_reason(NULL, tbuf, sizeof(tbuf), "invalid", NULL));
	SSL_CTX_free(ctx);
	return NULL;
}
