/*
 * Transport: the byte stream under one MQTT connection.  client.c does
 * every read and write of a connection through the functions below, so
 * that TLS (tls.c) and WebSockets sit between the socket and the MQTT
 * framing without client.c knowing which is there.
 *
 * A plain TCP connection has no transport object at all (NULL): the
 * inline functions below then call read(2) and send(2) directly, so the
 * plain path costs one predictable branch and nothing else.  A layered
 * transport (WebSockets over TLS) keeps its own lower transport, which
 * may itself be NULL (WebSockets over plain TCP), and calls these same
 * functions on it.
 *
 * The contract of every implementation, mirrored on read(2) and send(2):
 *
 *	read	> 0 bytes of application data, 0 at the end of the stream
 *		(the peer closed), -1 with errno: EAGAIN when nothing can be
 *		read now (the fd's readiness, or t_want, says when to try
 *		again), EPROTO when the transport's protocol failed (the
 *		reason in transport_error()), or the socket's errno.
 *	write	> 0 bytes taken (possibly fewer than given), -1 with errno as
 *		read.  After EAGAIN the caller retries with the same bytes
 *		first (more may follow them; the buffer may move: TLS's
 *		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER rule).
 *	pending	bytes already read from the socket and decoded but not yet
 *		returned by read: the fd will not become readable for them,
 *		so the caller reads again without waiting (client_watchers).
 *	want	what the transport needs from the socket regardless of the
 *		caller's own wishes: TRANSPORT_WANT_READ (a TLS write that
 *		must first read a record, a handshake waiting for the peer),
 *		TRANSPORT_WANT_WRITE (a TLS read that must first write,
 *		handshake records or a key update).  The caller keeps the
 *		matching watcher on while the bit is set, and on that event
 *		retries both its read and its flush.
 *	close	frees the transport and its lower transport; never closes
 *		the fd (the connection owns it).  A TLS close_notify is sent
 *		when the socket takes it without blocking.
 *
 * Nothing here logs: a failure is returned with its reason, and the
 * connection logs one rate-limited line when it closes.
 */
#ifndef CAIRN_BROKER_TRANSPORT_H
#define CAIRN_BROKER_TRANSPORT_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <unistd.h>

/* transport_want() bits. */
#define TRANSPORT_WANT_READ	0x1
#define TRANSPORT_WANT_WRITE	0x2

struct transport;

struct transport_ops {
	const char	*to_name;	/* "tls", "websockets": log lines */
	ssize_t		(*to_read)(struct transport *, void *buf, size_t len);
	ssize_t		(*to_write)(struct transport *, const void *buf,
			    size_t len);
	size_t		(*to_pending)(const struct transport *);
	/* The reason of the last EPROTO; never NULL. */
	const char	*(*to_error)(const struct transport *);
	/*
	 * The peer's authenticated identity (a client certificate's CN or
	 * SAN for use_identity_as_username), or NULL.  Borrowed.
	 */
	const char	*(*to_identity)(const struct transport *);
	/* 1 once the transport's own handshake is over (TLS, HTTP upgrade). */
	int		(*to_ready)(const struct transport *);
	void		(*to_close)(struct transport *);
};

/*
 * The part every implementation starts with (embedded first in its own
 * struct, found back with container_of).
 */
struct transport {
	const struct transport_ops	*t_ops;
	int				 t_fd;		/* borrowed */
	int				 t_want;	/* TRANSPORT_WANT_* */
	/*
	 * With EPROTO: a static string naming the kind of failure (an
	 * expired certificate, an unknown CA...), so that the close line
	 * of each kind has its own rate limit.
	 */
	const char			*t_err_kind;
};

static inline ssize_t
transport_read(struct transport *t, int fd, void *buf, size_t len)
{
	if (t == NULL)
		return read(fd, buf, len);
	return t->t_ops->to_read(t, buf, len);
}

static inline ssize_t
transport_write(struct transport *t, int fd, const void *buf, size_t len)
{
	if (t == NULL)
		return send(fd, buf, len, MSG_NOSIGNAL);
	return t->t_ops->to_write(t, buf, len);
}

static inline size_t
transport_pending(const struct transport *t)
{
	return t == NULL ? 0 : t->t_ops->to_pending(t);
}

static inline int
transport_want(const struct transport *t)
{
	return t == NULL ? 0 : t->t_want;
}

/* The reason of the last EPROTO, or "protocol error" for plain TCP. */
static inline const char *
transport_error(const struct transport *t)
{
	return t == NULL ? "protocol error" : t->t_ops->to_error(t);
}

/* See to_identity; NULL for plain TCP. */
static inline const char *
transport_identity(const struct transport *t)
{
	return t == NULL || t->t_ops->to_identity == NULL ? NULL :
	    t->t_ops->to_identity(t);
}

/* See to_ready; plain TCP is always ready. */
static inline int
transport_ready(const struct transport *t)
{
	return t == NULL || t->t_ops->to_ready == NULL ||
	    t->t_ops->to_ready(t);
}

/* Frees t (NULL is fine); the fd stays open. */
static inline void
transport_close(struct transport *t)
{
	if (t != NULL)
		t->t_ops->to_close(t);
}

#endif
