/*
 * One cluster link: a TCP connection to a peer node, inbound (accepted
 * on the cluster listener) or outbound (to host:port), optionally in
 * TLS 1.3, with the handshake of link_hs.h on the cookie, framing
 * (link_codec), ticks, a dead timer and a bounded output queue.  What
 * the frames mean after the handshake is the owner's (cluster.c),
 * through struct link_ops.
 *
 *	outbound: CONNECTING -> [TLS] -> HANDSHAKE -> UP -> CLOSED
 *	inbound:                [TLS] -> HANDSHAKE -> UP -> CLOSED
 *
 * Before UP a link is a stranger's: it reads frames of at most
 * LINK_PREAUTH_MAX_FRAME into a buffer of that size, has lc_handshake
 * seconds to finish, and every line it logs goes through lc_prelog when
 * it is inbound: one rate limit per kind of reason (the reason's text
 * hashed into LINK_PRELOG_KINDS slots), so a flood of one kind does not
 * hide the first line of another.  Only an UP link's
 * buffer grows to lc_max_frame.
 *
 * One ev_timer per link serves the handshake deadline, the ticks (a
 * TICK after tick_interval without output) and the dead check (nothing
 * read for dead_after).  A closed link is freed by the same timer on
 * the next loop iteration, so callbacks up the stack may still look at
 * l_state.
 */
#ifndef CAIRN_BROKER_LINK_H
#define CAIRN_BROKER_LINK_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include <openssl/ssl.h>

#include "broker/cluster/link_codec.h"
#include "broker/cluster/link_hs.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/sock.h"

enum link_state {
	LINK_CONNECTING = 1,	/* outbound: connect(2) in progress */
	LINK_TLS,		/* the TLS handshake runs */
	LINK_HANDSHAKE,		/* the cookie handshake (l_hs) runs */
	LINK_UP,		/* authenticated: frames go to the owner */
	LINK_CLOSED,		/* fd closed, watchers stopped; freed soon */
};

#define LINK_PRELOG_KINDS	16

/* Rate limits for the lines of strangers' links, one per kind of reason. */
struct link_prelog {
	struct log_rate	 lp_kind[LINK_PRELOG_KINDS];
};

/* What every link of a node shares; borrowed by the links. */
struct link_conf {
	const char	*lc_self;		/* this node's name */
	struct bytes_view lc_cookie;
	size_t		 lc_max_frame;
	ev_tstamp	 lc_tick;		/* seconds */
	ev_tstamp	 lc_dead;		/* seconds */
	ev_tstamp	 lc_handshake;		/* seconds, TLS included */
	size_t		 lc_soft_out;		/* output over this: "full" */
	SSL_CTX		*lc_tls;		/* NULL: plain TCP */
	struct link_prelog *lc_prelog;		/* inbound links before UP */
};

struct link;

struct link_ops {
	/*
	 * The peer's HELLO named `name` (valid, NUL-terminated, borrowed)
	 * with `nonce`: NULL to go on, or a static reason to close (a
	 * nonce of one of our own handshakes, an outbound link reaching
	 * another node than asked...).  Nothing may be kept for the peer
	 * yet: it has proved nothing.
	 */
	const char	*(*lo_hello)(void *owner, struct link *, const char *name,
			    const uint8_t nonce[LINK_NONCE_LEN]);
	/* The handshake finished: the link is UP. */
	void		 (*lo_up)(void *owner, struct link *);
	/* One frame after the handshake (TICK excluded); m borrowed. */
	void		 (*lo_msg)(void *owner, struct link *,
			    const struct link_msg *m);
	/* The output queue fell under lc_soft_out: send more. */
	void		 (*lo_drain)(void *owner, struct link *);
	/*
	 * The link closed (its state is LINK_CLOSED): forget it.  Called
	 * once; the link is freed after the current loop iteration.
	 */
	void		 (*lo_closed)(void *owner, struct link *);
};

struct link {
	TAILQ_ENTRY(link)	 l_entry;	/* the owner's list */
	struct ev_loop		*l_loop;
	const struct link_conf	*l_conf;
	const struct link_ops	*l_ops;
	void			*l_owner;
	void			*l_peer;	/* the owner's, NULL: none */
	enum link_state		 l_state;
	int			 l_outbound;
	int			 l_fd;
	ev_io			 l_rd_w;
	ev_io			 l_wr_w;
	ev_timer		 l_timer_w;	/* deadline, tick, dead, free */
	ev_idle			 l_more_w;	/* frames left past a slice */
	ev_tstamp		 l_last_rx;
	ev_tstamp		 l_last_tx;
	ev_tstamp		 l_started;
	struct sockaddr_storage	 l_ss;		/* the peer's address */
	socklen_t		 l_sl;
	char			 l_addr[SOCK_NTOP_LEN];
	char			*l_name;	/* the peer's, once UP (or dialled) */
	int			 l_known;	/* owner's mark: HELLO named a known node */
	int			 l_ban_check;	/* owner's mark: UP, a removed node's
						   name: its CREDIT decides */
	struct link_hs		 l_hs;		/* until UP */
	SSL			*l_ssl;		/* NULL: plain */
	int			 l_tls_want_wr;	/* TLS wants the socket writable */
	int			 l_tls_wr_want_rd;	/* SSL_write wants a read */
	uint8_t			 l_binding[LINK_BINDING_LEN];
	size_t			 l_binding_len;
	uint8_t			*l_in;
	size_t			 l_in_len;
	size_t			 l_in_cap;
	struct bytes_w		 l_out;
	uint64_t		 l_frames_in;
	uint64_t		 l_frames_out;
};

/*
 * An inbound link on accepted socket fd (non-blocking), or an outbound
 * one connecting to sa (copied) when fd is -1.  Borrows conf, ops and
 * owner.  NULL with errno set (socket or connect failure, ENOMEM); fd
 * is closed on failure.  The link is running: it sends HELLO when it
 * can and reports through ops.
 */
struct link	*link_new(struct ev_loop *, const struct link_conf *,
		    const struct link_ops *, void *owner, int fd,
		    const struct sockaddr *sa, socklen_t salen);
/*
 * Queues one frame (an UP link only; dropped otherwise).  0,
 * CAIRN_ERR_INVAL (m does not encode), or CAIRN_ERR_CLOSED (the link
 * was closed now: its output queue overflowed; lo_closed was called).
 */
int		 link_send(struct link *, const struct link_msg *m);
/* 1 when the output queue is under lc_soft_out. */
int		 link_writable(const struct link *);
/*
 * Closes l: one log line when why is not NULL ("link to NAME (ADDR):
 * closed: why"), watchers stopped, fd closed, lo_closed called, the
 * memory freed on the next loop iteration.  Nothing when closed already.
 */
void		 link_close(struct link *, const char *why, ...)
		    __attribute__((format(printf, 2, 3)));
/* Closes l without the owner's callback or log line, and frees it now. */
void		 link_destroy(struct link *);
/* "connecting", "handshake", "up", "closed". */
const char	*link_state_name(const struct link *);
/* The peer's name as known so far: its HELLO's, the one dialled, "?". */
const char	*link_peer_name(const struct link *);

/*
 * A TLS 1.3 context for links: this node's certificate chain and key,
 * the CA file or directory peers must chain to, peer certificates
 * required both ways.  NULL with the reason in err (file and OpenSSL's
 * words).  Free with SSL_CTX_free().
 */
SSL_CTX		*link_tls_ctx_new(const char *certfile, const char *keyfile,
		    const char *cafile, char *err, size_t errlen);

#endif
