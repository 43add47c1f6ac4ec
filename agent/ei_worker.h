/*
 * The erl_interface worker behind the `erlang` connector, and the small
 * protocol the agent and a worker speak over their socketpair.
 *
 * A worker is a child process forked by the connector (no exec).  It
 * serves one job at a time: it reaches a node as a hidden C node with
 * ei, runs rpc calls on it, and answers with an error code and one line
 * of text.  Every ei call is bounded by the job's deadline.  Between jobs
 * it keeps its ei connections open (one per node, at most
 * EIW_MAX_CONNS) and answers their ticks, so a periodic health check
 * costs one rpc round trip.
 *
 * Frames, both ways: a 4-byte big-endian body length, then the body.
 *
 *	request	 u8	kind		EIW_CONNECT or EIW_DISCONNECT
 *		 u32	id		echoed in the reply
 *		 u32	timeout_ms	the job's deadline, from its start
 *		 u16+	node		length-prefixed, no NUL
 *		 u16	n		count of members
 *		 u16+	member[n]
 *	reply	 u32	id
 *		 u32	-err		0 or a negated CAIRN_ERR_*
 *		 u16+	msg		one line of text
 *
 * The codec is pure (no I/O); eiw_main() is the worker's blocking loop
 * and is only ever run in the child.
 */
#ifndef CAIRN_AGENT_EI_WORKER_H
#define CAIRN_AGENT_EI_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* Largest frame body either way: about 10,000 members of 400 bytes. */
#define EIW_MAX_FRAME		(4 * 1024 * 1024)
/* Longest reply text, NUL included. */
#define EIW_MSG_LEN		512
/* Connections a worker keeps open between jobs (least recently used go). */
#define EIW_MAX_CONNS		64
/* Longest node name ("alive@host"), as ei's MAXNODELEN. */
#define EIW_MAX_NODE		256

enum eiw_kind {
	/* node connects to every member not in its nodes() yet. */
	EIW_CONNECT = 'C',
	/* Every member calls erlang:disconnect_node(node). */
	EIW_DISCONNECT = 'D',
};

/* A decoded request; views borrow the frame body. */
struct eiw_req {
	enum eiw_kind		 kind;
	uint32_t		 id;
	uint32_t		 timeout_ms;
	struct bytes_view	 node;
	uint16_t		 n;
	struct bytes_r		 members;	/* n u16-prefixed names */
};

/* A decoded reply; msg borrows the frame body. */
struct eiw_reply {
	uint32_t		 id;
	int			 err;
	struct bytes_view	 msg;
};

/* What a worker needs; borrowed for the worker's life. */
struct eiw_conf {
	const char	*alive;		/* base of our alive name */
	const char	*host;		/* our host part; NULL: gethostname() */
	const char	*cookie;	/* NULL: ~/.erlang.cookie, as ei does */
	uint16_t	 epmd_port;	/* 0: $ERL_EPMD_PORT or 4369 */
};

/*
 * Appends one request frame to w.  members[0..n) are NUL-terminated and
 * borrowed; the caller has checked that no name is longer than
 * EIW_MAX_NODE - 1 bytes.  0, or CAIRN_ERR_TOO_BIG (past EIW_MAX_FRAME
 * or more than 65,535 members) / CAIRN_ERR_NOMEM, with w's sticky error
 * set.
 */
int	eiw_encode_req(struct bytes_w *w, enum eiw_kind kind, uint32_t id,
	    uint32_t timeout_ms, const char *node, const char *const *members,
	    size_t n);

/* Appends one reply frame to w (msg is cut at 65,535 bytes).  0 or < 0. */
int	eiw_encode_reply(struct bytes_w *w, uint32_t id, int err,
	    const char *msg);

/*
 * The next frame's body in buf[0..len): 0 with *body and *consumed set,
 * CAIRN_ERR_NEED_MORE, or CAIRN_ERR_TOO_BIG (length past EIW_MAX_FRAME).
 */
int	eiw_frame(const uint8_t *buf, size_t len, struct bytes_view *body,
	    size_t *consumed);

/* Decodes a request body: 0 or CAIRN_ERR_PROTO. */
int	eiw_decode_req(struct bytes_view body, struct eiw_req *out);
/* The next member of a decoded request: 0, or CAIRN_ERR_PROTO. */
int	eiw_req_next_member(struct eiw_req *, struct bytes_view *out);
/* Decodes a reply body: 0 or CAIRN_ERR_PROTO. */
int	eiw_decode_reply(struct bytes_view body, struct eiw_reply *out);

/*
 * The worker: serves requests read from fd until the agent closes it,
 * then returns.  Blocks; run it only in the forked child, which then
 * calls _exit().  fd is the child's end of the socketpair, blocking.
 */
void	eiw_main(int fd, const struct eiw_conf *);

#endif
