/*
 * One cluster link: a TCP connection to a peer node, inbound (accepted
 * on the cluster listener) or outbound (to host:port), with the mutual
 * HMAC handshake on the cookie, framing (link_codec), ticks, a dead
 * timer and a bounded output queue.  What the frames mean after the
 * handshake is the owner's (cluster.c), through struct link_ops.
 *
 *	outbound: CONNECTING -> HELLO_WAIT -> AUTH_WAIT -> UP -> CLOSED
 *	inbound:                HELLO_WAIT -> AUTH_WAIT -> UP -> CLOSED
 *
 * Both sides send HELLO first (the outbound one as soon as the connect
 * completes, the inbound one on accept), then AUTH as soon as they have
 * the other's HELLO, and are UP once the other's AUTH checks.  A wrong
 * AUTH closes the link with one log line ("wrong cookie?"); the other
 * side sees the close before its AUTH is answered and logs the same.
 *
 * One ev_timer per link serves the handshake deadline (dead_after),
 * the ticks (a TICK after tick_interval without output) and the dead
 * check (nothing read for dead_after).  A closed link is freed by the
 * same timer on the next loop iteration, so callbacks up the stack may
 * still look at l_state.
 */
#ifndef CAIRN_BROKER_LINK_H
#define CAIRN_BROKER_LINK_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "broker/link_codec.h"
#include "common/bytes.h"
#include "common/sock.h"

enum link_state {
	LINK_CONNECTING = 1,	/* outbound: connect(2) in progress */
	LINK_HELLO_WAIT,	/* our HELLO is out; waiting for theirs */
	LINK_AUTH_WAIT,		/* our AUTH is out; waiting for theirs */
	LINK_UP,		/* authenticated: frames go to the owner */
	LINK_CLOSED,		/* fd closed, watchers stopped; freed soon */
};

/* What every link of a node shares; borrowed by the links. */
struct link_conf {
	const char	*lc_self;		/* this node's name */
	struct bytes_view lc_cookie;
	size_t		 lc_max_frame;
	ev_tstamp	 lc_tick;		/* seconds */
	ev_tstamp	 lc_dead;		/* seconds */
	size_t		 lc_soft_out;		/* output over this: "full" */
};

struct link;

struct link_ops {
	/*
	 * The peer's HELLO named `name` (valid, NUL-terminated, borrowed):
	 * 0 to go on, or a static reason to close (this node's own name,
	 * an outbound link reaching another node than asked...).
	 */
	const char	*(*lo_hello)(void *owner, struct link *, const char *name);
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
	ev_tstamp		 l_last_rx;
	ev_tstamp		 l_last_tx;
	ev_tstamp		 l_started;
	char			 l_addr[SOCK_NTOP_LEN];
	char			*l_name;	/* the peer's, after its HELLO */
	int			 l_got_hello;
	uint8_t			 l_challenge[LINK_CHALLENGE_LEN];	/* ours */
	uint8_t			 l_peer_challenge[LINK_CHALLENGE_LEN];
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

#endif
