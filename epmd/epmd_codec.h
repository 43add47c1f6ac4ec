/*
 * EPMD wire codec: bytes to structs and back, for both the daemon and the
 * clients.  Pure: no sockets, clock, logging or globals; decoders return
 * views into the caller's buffer and allocate nothing.
 *
 * Every request travels in a frame:
 *
 *	 2 bytes        n bytes
 *	+--------------+------------------+
 *	| n, big-endian| request (tag...) |
 *	+--------------+------------------+
 *
 * Replies carry no length.  Limits are OTP's (erts/epmd/src/epmd_int.h)
 * and are wire-visible: do not change them.
 */
#ifndef CAIRN_EPMD_EPMD_CODEC_H
#define CAIRN_EPMD_EPMD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define EPMD_PORT_NO		4369
/* A name is at most 255 characters of up to 4 UTF-8 bytes each. */
#define EPMD_MAXSYMLEN		(255 * 4)
#define EPMD_MAX_NAME_CHARS	255
/* OTP's INBUF_SIZE, sized for the largest request: a frame (length
 * header included) must be shorter than this. */
#define EPMD_INBUF_SIZE		(3 * EPMD_MAXSYMLEN)
#define EPMD_MAX_PAYLOAD	(EPMD_INBUF_SIZE - 3)
/* Creation sent in a failed ALIVE2 reply, as OTP does. */
#define EPMD_CREATION_ERROR	99

/* Message tags; the first payload byte of a request or a reply. */
enum epmd_tag {
	EPMD_ALIVE2_REQ = 'x',		/* 120 */
	EPMD_ALIVE2_RESP = 'y',		/* 121: 16-bit creation */
	EPMD_ALIVE2_X_RESP = 'v',	/* 118: 32-bit creation, highvsn >= 6 */
	EPMD_PORT2_REQ = 'z',		/* 122 */
	EPMD_PORT2_RESP = 'w',		/* 119 */
	EPMD_NAMES_REQ = 'n',		/* 110 */
	EPMD_DUMP_REQ = 'd',		/* 100 */
	EPMD_KILL_REQ = 'k',		/* 107 */
	EPMD_STOP_REQ = 's',		/* 115 */
	/*
	 * Cairn's own, which OTP never sends and OTP's epmd answers by
	 * closing the connection ("got garbage"): WATCH, below.
	 */
	EPMD_WATCH_REQ = 'C',		/* 67 */
};

/*
 * WATCH (Cairn's extension; do not change, it is on the wire).  A local
 * client asks once and keeps the connection: the daemon streams every
 * registration and unregistration, so a watcher sees a node the moment
 * it registers rather than at its next NAMES poll.
 *
 *	request (framed)	| 2 | 'C' | version (1) |
 *	ack			| 'C' | version (1) |
 *	then events		| kind | port u16 | len u16 | name (len) |
 *
 * kind is '+' (registered), '-' (unregistered) or '=' (end of the
 * snapshot; port and len are 0).  Right after the ack come a '+' for
 * every name registered at that moment, then '=', then live events in
 * the order they happen.  The client sends nothing more: any byte from
 * it, or EOF, ends the watch.  The daemon caps the number of watchers
 * and the bytes queued to each; a watcher past its cap is closed.
 */
#define EPMD_WATCH_VERSION	1
#define EPMD_WATCH_ADDED	'+'
#define EPMD_WATCH_REMOVED	'-'
#define EPMD_WATCH_SYNCED	'='

/* One WATCH event; name views the caller's buffer. */
struct epmd_watch_event {
	uint8_t			kind;	/* EPMD_WATCH_ADDED... */
	uint16_t		port;
	struct bytes_view	name;
};

/* Node types seen in ALIVE2_REQ / PORT2_RESP. */
#define EPMD_NODETYPE_NORMAL	77	/* 'M' */
#define EPMD_NODETYPE_HIDDEN	72	/* 'H' */

/*
 * What a node registers (ALIVE2_REQ) and what a lookup returns
 * (PORT2_RESP).  name and extra are views.
 */
struct epmd_node_info {
	uint16_t		port;
	uint8_t			nodetype;
	uint8_t			protocol;
	uint16_t		highvsn;
	uint16_t		lowvsn;
	struct bytes_view	name;
	struct bytes_view	extra;
};

/* A decoded request.  Fields are set according to tag. */
struct epmd_req {
	uint8_t			tag;	/* enum epmd_tag */
	struct epmd_node_info	alive;	/* EPMD_ALIVE2_REQ */
	struct bytes_view	name;	/* EPMD_PORT2_REQ, EPMD_STOP_REQ */
	uint8_t			version; /* EPMD_WATCH_REQ */
};

/*
 * Finds the first frame in `in`.  On success *payload views the request
 * and *consumed is the frame's size (header included).
 * CAIRN_ERR_NEED_MORE: a prefix of a valid frame.  CAIRN_ERR_PROTO: a
 * zero length.  CAIRN_ERR_TOO_BIG: a frame of EPMD_INBUF_SIZE bytes or
 * more, which OTP refuses too.
 */
int	epmd_frame(struct bytes_view in, struct bytes_view *payload,
	    size_t *consumed);

/*
 * Decodes one request payload (what epmd_frame returned).  0, or
 * CAIRN_ERR_PROTO with *why set to a static reason; OTP's epmd closes
 * the connection without a reply in each of those cases:
 *   ALIVE2_REQ  13 bytes or fewer, a name or extra length past the end,
 *               a NUL in the name (trailing bytes after extra are allowed);
 *   PORT2_REQ   one trailing NUL is dropped; then an empty name, a NUL in
 *               the name, bad UTF-8, or over 254 characters (OTP
 *               counts the NUL after the name as a 255th);
 *   STOP_REQ    an empty name; the name ends at its first NUL;
 *   NAMES, DUMP, KILL  any bytes after the tag are ignored;
 *   WATCH       no version byte, or a version other than 1 (Cairn's);
 *   any other tag is garbage.
 * Name checks that OTP answers with an error reply rather than a close
 * are in epmd_check_alive2().
 */
int	epmd_decode_req(struct bytes_view payload, struct epmd_req *out,
	    const char **why);

/*
 * Checks an ALIVE2 registration as OTP's node_reg2() does: the name is
 * 1 to 255 characters of valid UTF-8 in at most EPMD_MAXSYMLEN bytes, and
 * extra is at most EPMD_MAXSYMLEN bytes.  0 or CAIRN_ERR_INVAL with *why.
 * (OTP registers an empty name; Cairn refuses it.)  The daemon answers a
 * failure with an error reply.
 */
int	epmd_check_alive2(const struct epmd_node_info *, const char **why);

/* Replies, written by the daemon.  Each returns 0 or w's error. */

/* ALIVE2_X_RESP (tag, result, creation u32) when highvsn >= 6, else
 * ALIVE2_RESP (tag, result, creation u16). result is 0 for success. */
int	epmd_encode_alive2_resp(struct bytes_w *, uint8_t result,
	    uint32_t creation, uint16_t highvsn);
/* PORT2_RESP success: w, 0, port, type, proto, high, low, name16, extra16. */
int	epmd_encode_port2_resp(struct bytes_w *, const struct epmd_node_info *);
/* PORT2_RESP failure: w, 1. */
int	epmd_encode_port2_err(struct bytes_w *);
/* NAMES and DUMP replies start with epmd's own port as a u32. */
int	epmd_encode_names_head(struct bytes_w *, uint32_t epmd_port);
/* "name NAME at port PORT\n" -- parsed by erl_epmd: do not change. */
int	epmd_encode_names_line(struct bytes_w *, struct bytes_view name,
	    unsigned port);
/* "active name     <NAME> at port PORT, fd = FD\n" and a NUL. */
int	epmd_encode_dump_active(struct bytes_w *, struct bytes_view name,
	    unsigned port, int fd);
/* "old/unused name <NAME>, port = PORT, fd = FD \n" and a NUL. */
int	epmd_encode_dump_unused(struct bytes_w *, struct bytes_view name,
	    unsigned port, int fd);

/* WATCH's ack: 'C', version. */
int	epmd_encode_watch_ack(struct bytes_w *);
/*
 * One WATCH event.  CAIRN_ERR_INVAL for an unknown kind, a '+' or '-'
 * with an empty name or one past EPMD_MAXSYMLEN bytes, or a '=' with a
 * name; else 0 or w's error.
 */
int	epmd_encode_watch_event(struct bytes_w *, uint8_t kind, uint16_t port,
	    struct bytes_view name);

/* Requests, written by clients; each includes the 2-byte length. */

int	epmd_encode_alive2_req(struct bytes_w *, const struct epmd_node_info *);
int	epmd_encode_port2_req(struct bytes_w *, struct bytes_view name);
/* WATCH: 'C' and the version, framed. */
int	epmd_encode_watch_req(struct bytes_w *);
/* NAMES, DUMP or KILL: a one-byte request. */
int	epmd_encode_simple_req(struct bytes_w *, uint8_t tag);
/* STOP: 's' and the name, as OTP's epmd -stop sends it. */
int	epmd_encode_stop_req(struct bytes_w *, struct bytes_view name);

/* Replies, read by clients.  NEED_MORE until complete; PROTO otherwise. */

/* ALIVE2_RESP or ALIVE2_X_RESP: *result (0 ok) and *creation. */
int	epmd_decode_alive2_resp(struct bytes_view in, uint8_t *result,
	    uint32_t *creation, size_t *consumed);
/* PORT2_RESP: *result; on 0 *info views the node. */
int	epmd_decode_port2_resp(struct bytes_view in, uint8_t *result,
	    struct epmd_node_info *info, size_t *consumed);
/*
 * WATCH's ack at the start of in: 0 with *consumed, NEED_MORE, or
 * CAIRN_ERR_PROTO (another tag or version).
 */
int	epmd_decode_watch_ack(struct bytes_view in, size_t *consumed);
/*
 * The next WATCH event in in: 0 with *ev (views into in) and *consumed,
 * NEED_MORE for a prefix of one, or CAIRN_ERR_PROTO: an unknown kind, a
 * '+'/'-' with an empty name, a name past EPMD_MAXSYMLEN bytes or with a
 * NUL, a '=' with a port or a name.
 */
int	epmd_decode_watch_event(struct bytes_view in,
	    struct epmd_watch_event *ev, size_t *consumed);
/*
 * One line of a NAMES reply body, "name N at port P\n" without the
 * newline.  0, or CAIRN_ERR_PROTO for any other shape.
 */
int	epmd_parse_names_line(struct bytes_view line, struct bytes_view *name,
	    uint16_t *port);

#endif
