/*
 * The cluster link's handshake as a pure state machine (CLUSTER.md,
 * "The handshake"): frames in, frames out, a verdict.  No I/O, clock,
 * logging or allocation; link.c drives it with the frames of one
 * connection, the fuzzer and the unit tests with frames of their own.
 *
 *	initiator (dialled)              responder (accepted)
 *	HELLO_I  ------------------->    checks version, name, nonce
 *	         <-------------------    HELLO_R
 *	AUTH_I   ------------------->    checks AUTH_I (constant time)
 *	         <-------------------    AUTH_R
 *	checks AUTH_R: UP                UP
 *
 * The responder says nothing before a valid HELLO_I and proves nothing
 * before the initiator has: a stranger gets one HELLO_R and no MAC.
 * Each proof is link_finished() of its role over the same transcript,
 * so a proof made in one role is never valid in the other (reflection),
 * and both fresh nonces are in it (replay, splicing).  The owner's
 * check (hs_check) refuses a nonce it has outstanding on any of its own
 * handshakes, its own name, and names it will not link to.
 */
#ifndef CAIRN_BROKER_LINK_HS_H
#define CAIRN_BROKER_LINK_HS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/cluster/link_codec.h"
#include "common/bytes.h"

enum link_hs_state {
	LINK_HS_HELLO_WAIT = 1,	/* waiting for the peer's HELLO */
	LINK_HS_AUTH_WAIT,	/* waiting for the peer's AUTH */
	LINK_HS_UP,		/* the peer proved the cookie */
	LINK_HS_FAILED,		/* hs_why says why; close the link */
};

/* What link_hs_input() returns. */
enum link_hs_rc {
	LINK_HS_MORE = 0,	/* send hs_out[0..hs_nout), wait for more */
	LINK_HS_DONE,		/* send hs_out[0..hs_nout), then the link is UP */
	LINK_HS_REFUSED,	/* close; hs_why (static) says why */
};

/*
 * The owner's look at the peer's HELLO before the handshake goes on:
 * name (NUL-terminated, valid UTF-8, borrowed) and nonce.  NULL to go
 * on, or a static reason to refuse.
 */
typedef const char *(*link_hs_check)(void *arg, const char *name,
		    const uint8_t nonce[LINK_NONCE_LEN]);

struct link_hs {
	enum link_role		 hs_role;
	enum link_hs_state	 hs_state;
	struct bytes_view	 hs_cookie;	/* borrowed */
	struct bytes_view	 hs_self;	/* borrowed */
	struct bytes_view	 hs_binding;	/* borrowed; empty: plain */
	link_hs_check		 hs_check;	/* NULL: none */
	void			*hs_check_arg;
	uint8_t			 hs_nonce[LINK_NONCE_LEN];	/* ours */
	uint8_t			 hs_peer_nonce[LINK_NONCE_LEN];
	uint8_t			 hs_peer_version;
	char			 hs_peer[LINK_MAX_NAME + 1];	/* its name */
	const char		*hs_why;
	int			 hs_wrong_cookie;	/* hs_why is a bad AUTH */
	/* What to send after an input: views into this struct. */
	struct link_msg		 hs_out[2];
	size_t			 hs_nout;
};

/*
 * Starts a handshake in `role` as node `self`, with a fresh random
 * nonce (the caller's: getrandom) and the channel binding (empty on a
 * plain link).  cookie, self and binding are borrowed for the whole
 * handshake.  An initiator's HELLO is then in hs_out[0] (hs_nout 1); a
 * responder has nothing to send.
 */
void	link_hs_init(struct link_hs *, enum link_role role,
	    struct bytes_view cookie, struct bytes_view self,
	    struct bytes_view binding, const uint8_t nonce[LINK_NONCE_LEN],
	    link_hs_check check, void *check_arg);
/*
 * One frame received while the handshake runs.  Fills hs_out/hs_nout
 * and returns what to do (above).  After LINK_HS_REFUSED or LINK_HS_DONE
 * it refuses everything.
 */
enum link_hs_rc link_hs_input(struct link_hs *, const struct link_msg *m);

#endif
