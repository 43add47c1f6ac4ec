/*
 * The erl_interface worker (see ei_worker.h): the frame codec, shared by
 * both ends, and the worker's blocking loop, run only in the child.
 *
 * How a job reaches a node: ei_connect_tmo() asks the node's epmd for
 * its port (ei reads ERL_EPMD_PORT itself, which eiw_main() sets to the
 * port the topology's strategy found the node on), connects, and runs the
 * distribution handshake with the cookie.  ei reports failures coarsely,
 * so they are sorted here into the reasons a person can act on:
 *
 *	ERL_NO_PORT / ERL_NO_DAEMON	epmd said no, or could not be reached:
 *					we connect to that epmd ourselves to
 *					tell "not registered" from "no epmd"
 *	ERL_CONNECT_FAIL		the node's port refused: node down
 *	ETIMEDOUT, ERL_TIMEOUT		the deadline passed
 *	EHOSTUNREACH			ei could not resolve the host
 *	EIO after connecting		the node closed the handshake; with a
 *					stock node that is a cookie mismatch
 *
 * The worker has no clock of its own beyond the job's deadline: every ei
 * call gets the time left, and a job past its deadline ends with
 * CAIRN_ERR_TIMEOUT.  A connection that failed or timed out is closed,
 * so a late rpc reply can never be read as the answer to a later call.
 */
#include "agent/ei_worker.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ei.h>

#include "common/clock.h"
#include "common/err.h"
#include "epmd/epmd_client.h"

/* EPMD's port when ERL_EPMD_PORT is not set. */
/* A refused handshake is tried this many times, this far apart. */
#define EIW_REFUSED_TRIES	4
#define EIW_REFUSED_PAUSE_MS	250

#define EIW_EPMD_PORT		4369
/* Longest atom text ei may hand us (255 characters of UTF-8). */
#define EIW_ATOM_LEN		(255 * 4 + 1)
/* Messages drained from an idle connection in one go (ticks, strays). */
#define EIW_DRAIN_MAX		16
/* Replies a job waits for, at most, before giving up on one node. */
#define EIW_RPC_MAX_WAITS	100000

/*
 * Codec
 */

int
eiw_encode_req(struct bytes_w *w, enum eiw_kind kind, uint32_t id,
    uint32_t timeout_ms, const char *node, const char *const *members,
    size_t n)
{
	size_t start = w->len, i, body;

	if (n > UINT16_MAX)
		return w->err = CAIRN_ERR_TOO_BIG;
	bytes_put_u32be(w, 0);
	bytes_put_u8(w, (uint8_t)kind);
	bytes_put_u32be(w, id);
	bytes_put_u32be(w, timeout_ms);
	bytes_put_u16be(w, (uint16_t)strlen(node));
	bytes_put_str(w, node);
	bytes_put_u16be(w, (uint16_t)n);
	for (i = 0; i < n && w->err == 0; i++) {
		bytes_put_u16be(w, (uint16_t)strlen(members[i]));
		bytes_put_str(w, members[i]);
	}
	if (w->err != 0)
		return w->err;
	body = w->len - start - 4;
	if (body > EIW_MAX_FRAME) {
		w->len = start;
		return w->err = CAIRN_ERR_TOO_BIG;
	}
	w->buf[start] = (uint8_t)(body >> 24);
	w->buf[start + 1] = (uint8_t)(body >> 16);
	w->buf[start + 2] = (uint8_t)(body >> 8);
	w->buf[start + 3] = (uint8_t)body;
	return 0;
}

int
eiw_encode_reply(struct bytes_w *w, uint32_t id, int err, const char *msg)
{
	size_t len = strlen(msg);

	if (len > UINT16_MAX)
		len = UINT16_MAX;
	bytes_put_u32be(w, (uint32_t)(4 + 4 + 2 + len));
	bytes_put_u32be(w, id);
	bytes_put_u32be(w, (uint32_t)-err);
	bytes_put_u16be(w, (uint16_t)len);
	bytes_put(w, msg, len);
	return w->err;
}

int
eiw_frame(const uint8_t *buf, size_t len, struct bytes_view *body,
    size_t *consumed)
{
	struct bytes_r r;
	uint32_t n;
	int rc;

	bytes_r_init(&r, buf, len);
	if ((rc = bytes_get_u32be(&r, &n)) != 0)
		return rc;
	if (n > EIW_MAX_FRAME)
		return CAIRN_ERR_TOO_BIG;
	if ((rc = bytes_get_view(&r, n, body)) != 0)
		return rc;
	*consumed = r.off;
	return 0;
}

int
eiw_decode_req(struct bytes_view body, struct eiw_req *out)
{
	struct bytes_r r;
	uint8_t kind;

	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_u8(&r, &kind) != 0 ||
	    bytes_get_u32be(&r, &out->id) != 0 ||
	    bytes_get_u32be(&r, &out->timeout_ms) != 0 ||
	    bytes_get_view16(&r, &out->node) != 0 ||
	    bytes_get_u16be(&r, &out->n) != 0)
		return CAIRN_ERR_PROTO;
	if (kind != EIW_CONNECT && kind != EIW_DISCONNECT)
		return CAIRN_ERR_PROTO;
	out->kind = (enum eiw_kind)kind;
	bytes_r_init(&out->members, r.p + r.off, bytes_r_left(&r));
	return 0;
}

int
eiw_req_next_member(struct eiw_req *req, struct bytes_view *out)
{
	return bytes_get_view16(&req->members, out) == 0 ? 0 : CAIRN_ERR_PROTO;
}

int
eiw_decode_reply(struct bytes_view body, struct eiw_reply *out)
{
	struct bytes_r r;
	uint32_t neg;

	bytes_r_init(&r, body.p, body.len);
	if (bytes_get_u32be(&r, &out->id) != 0 ||
	    bytes_get_u32be(&r, &neg) != 0 ||
	    bytes_get_view16(&r, &out->msg) != 0 || bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	if (neg > 1000)
		return CAIRN_ERR_PROTO;
	out->err = -(int)neg;
	return 0;
}

/*
 * The worker
 */

/* One cached ei connection. */
struct eiw_conn {
	char		 ec_node[EIW_MAX_NODE];	/* "" when the slot is free */
	int		 ec_fd;
	uint64_t	 ec_used;		/* job counter, for LRU */
	ei_cnode	 ec_cnode;
};

struct eiw {
	const struct eiw_conf	*w_conf;
	uint64_t		 w_jobs;
	char			 w_host[EIW_MAX_NODE];
	struct eiw_conn		 w_conns[EIW_MAX_CONNS];
};

/* Milliseconds left before deadline; 0 once it has passed. */
static unsigned
eiw_left(uint64_t deadline)
{
	uint64_t now = clock_ms();

	if (now >= deadline)
		return 0;
	if (deadline - now > UINT_MAX)
		return UINT_MAX;
	return (unsigned)(deadline - now);
}

static void
eiw_conn_drop(struct eiw_conn *c)
{
	if (c->ec_node[0] == '\0')
		return;
	ei_close_connection(c->ec_fd);
	c->ec_fd = -1;
	c->ec_node[0] = '\0';
}

/*
 * Reads what an idle connection has: ticks (ei answers them) and stray
 * messages (ignored).  Drops the connection when the node closed it.
 */
static void
eiw_conn_service(struct eiw_conn *c)
{
	struct pollfd pfd;
	erlang_msg msg;
	ei_x_buff x;
	int i, r;

	if (ei_x_new(&x) != 0) {
		eiw_conn_drop(c);
		return;
	}
	for (i = 0; i < EIW_DRAIN_MAX; i++) {
		pfd.fd = c->ec_fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			break;
		r = ei_xreceive_msg_tmo(c->ec_fd, &msg, &x, 1000);
		if (r == ERL_ERROR) {
			eiw_conn_drop(c);
			break;
		}
	}
	ei_x_free(&x);
}

/* Splits "alive@host": the host part, or NULL if there is no '@'. */
static const char *
eiw_host_of(const char *node)
{
	const char *at = strchr(node, '@');

	return at == NULL ? NULL : at + 1;
}

/*
 * Tells "not registered" from "no epmd there" after ei failed to get a
 * port: connects to host's epmd (ERL_EPMD_PORT, as ei) and hangs up.
 */
static int
eiw_diagnose_epmd(const char *node, uint64_t deadline, char *msg,
    size_t msglen)
{
	const char *host = eiw_host_of(node), *env;
	unsigned long port = EIW_EPMD_PORT;
	char *end;
	int fd, ms;

	if ((env = getenv("ERL_EPMD_PORT")) != NULL && *env != '\0') {
		port = strtoul(env, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			port = EIW_EPMD_PORT;
	}
	ms = (int)(eiw_left(deadline) > INT_MAX ? INT_MAX : eiw_left(deadline));
	if (ms == 0) {
		snprintf(msg, msglen, "%s: timed out asking epmd on %s", node,
		    host);
		return CAIRN_ERR_TIMEOUT;
	}
	if ((fd = epmd_client_connect(host, (uint16_t)port, ms)) == -1) {
		if (errno == ETIMEDOUT) {
			snprintf(msg, msglen, "%s: timed out reaching epmd on "
			    "%s port %lu", node, host, port);
			return CAIRN_ERR_TIMEOUT;
		}
		snprintf(msg, msglen, "%s: cannot reach epmd on %s port %lu: "
		    "%s", node, host, port, strerror(errno));
		return CAIRN_ERR_IO;
	}
	close(fd);
	snprintf(msg, msglen, "%s: not registered with epmd on %s", node,
	    host);
	return CAIRN_ERR_NOENT;
}

/* Our node names for talking to node: "<alive>_<pid>@<host>". */
static int
eiw_cnode_init(struct eiw *w, ei_cnode *ec, const char *node)
{
	char alive[EIW_MAX_NODE], self[EIW_MAX_NODE], host[EIW_MAX_NODE];
	const char *theirs = eiw_host_of(node);
	char *dot;
	int n;

	snprintf(host, sizeof(host), "%s", w->w_host);
	/* Short names (no dot in their host) want a short host from us. */
	if (theirs != NULL && strchr(theirs, '.') == NULL &&
	    (dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	n = snprintf(alive, sizeof(alive), "%s_%ld", w->w_conf->alive,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(alive) || n > EI_MAXALIVELEN)
		return -1;
	n = snprintf(self, sizeof(self), "%s@%s", alive, host);
	if (n < 0 || (size_t)n >= sizeof(self))
		return -1;
	if (ei_connect_xinit(ec, host, alive, self, NULL, w->w_conf->cookie,
	    (unsigned)getpid()) < 0)
		return -1;
	return 0;
}

/*
 * A connection to node, cached or new.  *fresh says which.  0, or a
 * CAIRN_ERR_* with the reason in msg.
 */
static int
eiw_open(struct eiw *w, const char *node, uint64_t deadline,
    struct eiw_conn **out, int *fresh, char *msg, size_t msglen)
{
	struct eiw_conn *c, *lru = NULL;
	char name[EIW_MAX_NODE];
	unsigned ms;
	size_t i;
	int fd, e, tries;

	for (i = 0; i < EIW_MAX_CONNS; i++) {
		c = &w->w_conns[i];
		if (c->ec_node[0] != '\0' && strcmp(c->ec_node, node) == 0) {
			eiw_conn_service(c);
			if (c->ec_node[0] == '\0')
				break;
			c->ec_used = w->w_jobs;
			*out = c;
			*fresh = 0;
			return 0;
		}
	}
	for (i = 0; i < EIW_MAX_CONNS; i++) {
		c = &w->w_conns[i];
		if (c->ec_node[0] == '\0') {
			lru = c;
			break;
		}
		if (lru == NULL || c->ec_used < lru->ec_used)
			lru = c;
	}
	eiw_conn_drop(lru);
	if (eiw_cnode_init(w, &lru->ec_cnode, node) == -1) {
		snprintf(msg, msglen, "%s: cannot set up our node name",
		    node);
		return CAIRN_ERR_INVAL;
	}
	if ((ms = eiw_left(deadline)) == 0) {
		snprintf(msg, msglen, "%s: timed out before connecting", node);
		return CAIRN_ERR_TIMEOUT;
	}
	/*
	 * ei reads any status but "ok" as a refusal (EIO), including the
	 * "alive" a node answers while it still holds our previous
	 * connection under this name (we just dropped it; a node that was
	 * stopped has not noticed yet).  So a refusal is tried again a few
	 * times, EIW_REFUSED_PAUSE_MS apart, while time is left: a wrong
	 * cookie is refused every time and is reported as such.
	 */
	for (tries = 0; tries < EIW_REFUSED_TRIES; tries++) {
		if (tries > 0)
			usleep(EIW_REFUSED_PAUSE_MS * 1000);
		snprintf(name, sizeof(name), "%s", node);
		erl_errno = 0;
		fd = ei_connect_tmo(&lru->ec_cnode, name, ms);
		e = erl_errno;
		if (fd >= 0 || e != EIO || (ms = eiw_left(deadline)) <
		    EIW_REFUSED_PAUSE_MS + 50)
			break;
		ms -= EIW_REFUSED_PAUSE_MS;
	}
	if (fd >= 0) {
		snprintf(lru->ec_node, sizeof(lru->ec_node), "%s", node);
		lru->ec_fd = fd;
		lru->ec_used = w->w_jobs;
		*out = lru;
		*fresh = 1;
		return 0;
	}
	/*
	 * ei reports a handshake that ran out of time as EIO on some paths,
	 * like a refusal: a refusal comes back at once, so a failure at the
	 * deadline is a timeout (a stopped node), not a wrong cookie.
	 */
	if (fd == ERL_TIMEOUT || e == ETIMEDOUT ||
	    (e == EIO && eiw_left(deadline) < 50)) {
		snprintf(msg, msglen, "%s: timed out connecting", node);
		return CAIRN_ERR_TIMEOUT;
	}
	if (fd == ERL_NO_PORT || fd == ERL_NO_DAEMON)
		return eiw_diagnose_epmd(node, deadline, msg, msglen);
	if (fd == ERL_CONNECT_FAIL) {
		snprintf(msg, msglen, "%s: connection refused (node down?)",
		    node);
		return CAIRN_ERR_IO;
	}
	if (e == EHOSTUNREACH) {
		snprintf(msg, msglen, "%s: cannot resolve host %s", node,
		    eiw_host_of(node));
		return CAIRN_ERR_DNS;
	}
	if (e == EIO) {
		snprintf(msg, msglen, "%s: handshake refused (wrong cookie?)",
		    node);
		return CAIRN_ERR_AUTH;
	}
	snprintf(msg, msglen, "%s: cannot connect: %s", node,
	    e != 0 ? strerror(e) : "unknown ei error");
	return CAIRN_ERR_IO;
}

/* Sends rpc:call(mod, fun, args) without waiting.  0 or CAIRN_ERR_CLOSED. */
static int
eiw_rpc_send(struct eiw_conn *c, const char *mod, const char *fun,
    const ei_x_buff *args)
{
	char m[64], f[64];

	snprintf(m, sizeof(m), "%s", mod);
	snprintf(f, sizeof(f), "%s", fun);
	if (ei_rpc_to(&c->ec_cnode, c->ec_fd, m, f, args->buff,
	    args->index) < 0)
		return CAIRN_ERR_CLOSED;
	return 0;
}

/*
 * Waits for the next {rex, Reply}: 0 with *idx at Reply in x->buff,
 * CAIRN_ERR_TIMEOUT, or CAIRN_ERR_CLOSED.  Ticks and other messages are
 * skipped.
 */
static int
eiw_rpc_recv(struct eiw_conn *c, uint64_t deadline, ei_x_buff *x, int *idx)
{
	char atom[EIW_ATOM_LEN];
	erlang_msg msg;
	unsigned ms;
	int i, r, ver, arity;

	for (i = 0; i < EIW_RPC_MAX_WAITS; i++) {
		if ((ms = eiw_left(deadline)) == 0)
			return CAIRN_ERR_TIMEOUT;
		if (ms > INT_MAX)
			ms = INT_MAX;
		r = ei_rpc_from(&c->ec_cnode, c->ec_fd, (int)ms, &msg, x);
		if (r == ERL_TICK)
			continue;
		if (r == ERL_TIMEOUT)
			return CAIRN_ERR_TIMEOUT;
		if (r < 0)
			return erl_errno == ETIMEDOUT ? CAIRN_ERR_TIMEOUT :
			    CAIRN_ERR_CLOSED;
		*idx = 0;
		if (ei_decode_version(x->buff, idx, &ver) == 0 &&
		    ei_decode_tuple_header(x->buff, idx, &arity) == 0 &&
		    arity == 2 &&
		    ei_decode_atom_as(x->buff, idx, atom, sizeof(atom),
		    ERLANG_UTF8, NULL, NULL) == 0 && strcmp(atom, "rex") == 0)
			return 0;
	}
	return CAIRN_ERR_TIMEOUT;
}

/* args = [Atom] */
static int
eiw_args_atom(ei_x_buff *args, const char *atom, size_t len)
{
	args->index = 0;
	if (ei_x_encode_list_header(args, 1) != 0 ||
	    ei_x_encode_atom_len_as(args, atom, (int)len, ERLANG_UTF8,
	    ERLANG_UTF8) != 0 ||
	    ei_x_encode_empty_list(args) != 0)
		return CAIRN_ERR_NOMEM;
	return 0;
}

/* A set of node names: a flat array, searched linearly. */
struct eiw_names {
	char	(*v)[EIW_MAX_NODE];
	size_t	  n;
};

static int
eiw_names_has(const struct eiw_names *s, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && memcmp(s->v[i], p, len) == 0)
			return 1;
	return 0;
}

/*
 * Decodes a list of atoms at *idx into s (replacing it).  0,
 * CAIRN_ERR_PROTO (not a list of atoms: {badrpc, _}), CAIRN_ERR_NOMEM.
 */
static int
eiw_decode_names(const char *buf, int *idx, struct eiw_names *s)
{
	char atom[EIW_ATOM_LEN];
	int i, arity, type, size;
	void *v;

	s->n = 0;
	if (ei_get_type(buf, idx, &type, &size) != 0)
		return CAIRN_ERR_PROTO;
	if (type == ERL_NIL_EXT)
		return 0;
	if (ei_decode_list_header(buf, idx, &arity) != 0 || arity < 0)
		return CAIRN_ERR_PROTO;
	if ((v = realloc(s->v, ((size_t)arity + 1) * sizeof(*s->v))) == NULL)
		return CAIRN_ERR_NOMEM;
	s->v = v;
	for (i = 0; i < arity; i++) {
		if (ei_decode_atom_as(buf, idx, atom, sizeof(atom),
		    ERLANG_UTF8, NULL, NULL) != 0)
			return CAIRN_ERR_PROTO;
		if (strlen(atom) < EIW_MAX_NODE)
			memcpy(s->v[s->n++], atom, strlen(atom) + 1);
	}
	return 0;
}

/* rpc erlang:nodes() on c into s.  0 or CAIRN_ERR_*. */
static int
eiw_nodes(struct eiw_conn *c, uint64_t deadline, ei_x_buff *args,
    ei_x_buff *x, struct eiw_names *s)
{
	int rc, idx;

	args->index = 0;
	if (ei_x_encode_empty_list(args) != 0)
		return CAIRN_ERR_NOMEM;
	if ((rc = eiw_rpc_send(c, "erlang", "nodes", args)) != 0)
		return rc;
	if ((rc = eiw_rpc_recv(c, deadline, x, &idx)) != 0)
		return rc;
	return eiw_decode_names(x->buff, &idx, s);
}

/* Appends text to msg (cut at its size). */
static void	eiw_msg_add(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
eiw_msg_add(char *msg, size_t msglen, const char *fmt, ...)
{
	size_t len = strlen(msg);
	va_list ap;

	if (len + 1 >= msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + len, msglen - len, fmt, ap);
	va_end(ap);
}

static const char *
eiw_rpc_err(int rc)
{
	switch (rc) {
	case CAIRN_ERR_TIMEOUT:
		return "timed out";
	case CAIRN_ERR_CLOSED:
		return "connection lost";
	case CAIRN_ERR_PROTO:
		return "unexpected rpc reply";
	default:
		return cairn_strerror(rc);
	}
}

/*
 * EIW_CONNECT: reads node's nodes(), asks it to connect_node() every
 * member not in it (all calls sent first, then the replies collected, so
 * members are tried in parallel), and reads nodes() again if any failed
 * to name them.  Succeeds when node answered, whatever its members did:
 * an unreachable member fails its own connect.
 */
static int
eiw_job_connect(struct eiw *w, struct eiw_req *req, const char *node,
    uint64_t deadline, char *msg, size_t msglen)
{
	struct eiw_names have = { NULL, 0 };
	struct eiw_conn *c = NULL;
	struct bytes_view m;
	struct bytes_r members;
	ei_x_buff args, x;
	size_t want = 0, asked = 0, failed = 0, i;
	int rc, fresh, attempt, idx, ok;
	char atom[EIW_ATOM_LEN];

	memset(&args, 0, sizeof(args));
	memset(&x, 0, sizeof(x));
	if (ei_x_new(&args) != 0 || ei_x_new(&x) != 0) {
		rc = CAIRN_ERR_NOMEM;
		snprintf(msg, msglen, "%s: out of memory", node);
		goto done;
	}
	/* A cached connection may have died quietly: one retry on a new one. */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = eiw_open(w, node, deadline, &c, &fresh, msg,
		    msglen)) != 0)
			goto done;
		if ((rc = eiw_nodes(c, deadline, &args, &x, &have)) == 0)
			break;
		eiw_conn_drop(c);
		if (rc != CAIRN_ERR_CLOSED || fresh)
			break;
	}
	if (rc != 0) {
		snprintf(msg, msglen, "%s: nodes(): %s", node, eiw_rpc_err(rc));
		goto done;
	}

	members = req->members;
	for (i = 0; i < req->n; i++) {
		if (eiw_req_next_member(req, &m) != 0)
			break;
		if (m.len == 0 || m.len >= EIW_MAX_NODE ||
		    bytes_view_eq_str(m, node))
			continue;
		want++;
		if (eiw_names_has(&have, m.p, m.len))
			continue;
		if ((rc = eiw_args_atom(&args, (const char *)m.p,
		    m.len)) != 0 ||
		    (rc = eiw_rpc_send(c, "net_kernel", "connect_node",
		    &args)) != 0) {
			eiw_conn_drop(c);
			snprintf(msg, msglen, "%s: connect_node(): %s", node,
			    eiw_rpc_err(rc));
			goto done;
		}
		asked++;
	}
	for (i = 0; i < asked; i++) {
		if ((rc = eiw_rpc_recv(c, deadline, &x, &idx)) != 0) {
			/* A late reply must not meet the next job: close. */
			eiw_conn_drop(c);
			snprintf(msg, msglen, "%s: connect_node(): %s", node,
			    eiw_rpc_err(rc));
			goto done;
		}
		ok = ei_decode_atom_as(x.buff, &idx, atom, sizeof(atom),
		    ERLANG_UTF8, NULL, NULL) == 0 && strcmp(atom, "true") == 0;
		if (!ok)
			failed++;
	}
	snprintf(msg, msglen, "%s: connected to %zu of %zu members", node,
	    want - failed, want);
	if (failed > 0 && eiw_nodes(c, deadline, &args, &x, &have) == 0) {
		/* Name the ones still missing (as many as fit). */
		req->members = members;
		eiw_msg_add(msg, msglen, "; not to");
		for (i = 0; i < req->n; i++) {
			if (eiw_req_next_member(req, &m) != 0)
				break;
			if (m.len == 0 || m.len >= EIW_MAX_NODE ||
			    bytes_view_eq_str(m, node) ||
			    eiw_names_has(&have, m.p, m.len))
				continue;
			eiw_msg_add(msg, msglen, " %.*s", (int)m.len,
			    (const char *)m.p);
		}
	}
	rc = 0;
done:
	ei_x_free(&args);
	ei_x_free(&x);
	free(have.v);
	return rc;
}

/*
 * EIW_DISCONNECT: every member calls erlang:disconnect_node(node).  A
 * member that cannot be reached is named in msg but does not fail the
 * job (it is not connected to anything then); the deadline does.
 */
static int
eiw_job_disconnect(struct eiw *w, struct eiw_req *req, const char *node,
    uint64_t deadline, char *msg, size_t msglen)
{
	char member[EIW_MAX_NODE], why[EIW_MSG_LEN], first[EIW_MSG_LEN];
	struct eiw_conn *c;
	struct bytes_view m;
	ei_x_buff args, x;
	size_t want = 0, done_n = 0, i;
	int rc = 0, fresh, idx;

	first[0] = '\0';
	memset(&args, 0, sizeof(args));
	memset(&x, 0, sizeof(x));
	if (ei_x_new(&args) != 0 || ei_x_new(&x) != 0) {
		rc = CAIRN_ERR_NOMEM;
		snprintf(msg, msglen, "%s: out of memory", node);
		goto done;
	}
	if ((rc = eiw_args_atom(&args, node, strlen(node))) != 0)
		goto done;
	for (i = 0; i < req->n; i++) {
		if (eiw_req_next_member(req, &m) != 0)
			break;
		if (m.len == 0 || m.len >= EIW_MAX_NODE ||
		    bytes_view_eq_str(m, node))
			continue;
		want++;
		memcpy(member, m.p, m.len);
		member[m.len] = '\0';
		why[0] = '\0';
		if ((rc = eiw_open(w, member, deadline, &c, &fresh, why,
		    sizeof(why))) == 0) {
			if ((rc = eiw_rpc_send(c, "erlang", "disconnect_node",
			    &args)) == 0)
				rc = eiw_rpc_recv(c, deadline, &x, &idx);
			if (rc != 0) {
				eiw_conn_drop(c);
				snprintf(why, sizeof(why), "%s: %s", member,
				    eiw_rpc_err(rc));
			}
		}
		if (rc == 0)
			done_n++;
		else if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", why);
		if (eiw_left(deadline) == 0) {
			rc = CAIRN_ERR_TIMEOUT;
			snprintf(msg, msglen, "%s: timed out after "
			    "disconnecting from %zu members", node, done_n);
			goto done;
		}
	}
	rc = 0;
	snprintf(msg, msglen, "%s: disconnected from %zu of %zu members",
	    node, done_n, want);
	if (first[0] != '\0')
		eiw_msg_add(msg, msglen, "; %s", first);
done:
	ei_x_free(&args);
	ei_x_free(&x);
	return rc;
}

/* Reads exactly len bytes: 0, or -1 on EOF or error. */
static int
eiw_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
eiw_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Runs one request body and writes the reply.  -1 ends the worker. */
static int
eiw_serve(struct eiw *w, int fd, struct bytes_view body)
{
	char msg[EIW_MSG_LEN], node[EIW_MAX_NODE];
	struct bytes_w out;
	struct eiw_req req;
	uint64_t deadline;
	int rc;

	if (eiw_decode_req(body, &req) != 0)
		return -1;
	w->w_jobs++;
	deadline = clock_ms() + req.timeout_ms;
	msg[0] = '\0';
	if (req.node.len == 0 || req.node.len >= sizeof(node) ||
	    memchr(req.node.p, '@', req.node.len) == NULL) {
		rc = CAIRN_ERR_INVAL;
		snprintf(msg, sizeof(msg), "bad node name");
	} else {
		memcpy(node, req.node.p, req.node.len);
		node[req.node.len] = '\0';
		if (req.kind == EIW_CONNECT)
			rc = eiw_job_connect(w, &req, node, deadline, msg,
			    sizeof(msg));
		else
			rc = eiw_job_disconnect(w, &req, node, deadline, msg,
			    sizeof(msg));
	}
	bytes_w_init(&out, EIW_MAX_FRAME);
	eiw_encode_reply(&out, req.id, rc, msg);
	rc = out.err == 0 ? eiw_write_full(fd, out.buf, out.len) : -1;
	bytes_w_fini(&out);
	return rc;
}

void
eiw_main(int fd, const struct eiw_conf *conf)
{
	struct pollfd pfd[1 + EIW_MAX_CONNS];
	struct eiw_conn *slot[1 + EIW_MAX_CONNS];
	struct bytes_view body;
	struct eiw *w;
	uint8_t hdr[4], *buf = NULL;
	uint32_t len;
	size_t i, n;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	w->w_conf = conf;
	for (i = 0; i < EIW_MAX_CONNS; i++)
		w->w_conns[i].ec_fd = -1;
	if (conf->host != NULL)
		snprintf(w->w_host, sizeof(w->w_host), "%s", conf->host);
	else if (gethostname(w->w_host, sizeof(w->w_host) - 1) == -1 ||
	    w->w_host[0] == '\0')
		snprintf(w->w_host, sizeof(w->w_host), "localhost");
	/*
	 * ei asks epmd at ERL_EPMD_PORT: the port the topology's strategy
	 * found its nodes on becomes ours.  This process is the worker
	 * alone (forked per connector), so no one else sees the change.
	 */
	if (conf->epmd_port != 0) {
		char port[8];

		snprintf(port, sizeof(port), "%u", (unsigned)conf->epmd_port);
		if (setenv("ERL_EPMD_PORT", port, 1) == -1)
			goto out;
	}
	if (ei_init() != 0)
		goto out;

	/* Runs until the agent hangs up (or kills us). */
	for (;;) {
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		for (i = 0, n = 1; i < EIW_MAX_CONNS; i++) {
			if (w->w_conns[i].ec_node[0] == '\0')
				continue;
			pfd[n].fd = w->w_conns[i].ec_fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			slot[n++] = &w->w_conns[i];
		}
		rc = poll(pfd, n, -1);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			break;
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0)
				eiw_conn_service(slot[i]);
		if (pfd[0].revents == 0)
			continue;
		if (eiw_read_full(fd, hdr, 4) == -1)
			break;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len > EIW_MAX_FRAME || (buf = malloc(len + 1)) == NULL)
			break;
		if (eiw_read_full(fd, buf, len) == -1)
			break;
		body = bytes_view_of(buf, len);
		if (eiw_serve(w, fd, body) == -1)
			break;
		free(buf);
		buf = NULL;
	}
out:
	free(buf);
	for (i = 0; i < EIW_MAX_CONNS; i++)
		eiw_conn_drop(&w->w_conns[i]);
	free(w);
}
