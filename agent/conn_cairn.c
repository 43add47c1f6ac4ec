/*
 * The `cairn` connector: joins Cairn broker nodes into one MQTT cluster.
 *
 *	connector:
 *	  type: cairn
 *	  epmd_port: 4369        # default: $ERL_EPMD_PORT or 4369
 *	  brokers: [/run/cairn-broker.sock]   # cairn-agent only, see below
 *
 * Connecting node name@host is: resolve host (the agent's resolver;
 * "localhost" and numeric addresses need no DNS), ask the epmd on that
 * host for name (PORT2), check that the registration's `extra` starts
 * with "cairn-broker/" (a stock Erlang node in the same epmd is "not a
 * Cairn broker: ignored", and the engine logs that once, then every
 * log_every-th time), and then:
 *
 *  - inside cairn-broker (the agent_env lends the broker's cluster as
 *    env->host): start the cluster link to the node's port and wait,
 *    within the connect timeout, for its handshake to finish.  The health
 *    check (connect called again) answers from the link's state and only
 *    goes to epmd again when the link is down.
 *  - inside cairn-agent (no host): ask each local broker listed in
 *    `brokers` (their control sockets) to `cluster join` the node, one
 *    after the other; with no `brokers` the node is only checked to be a
 *    broker, so the agent tracks the brokers it sees.
 *
 * disconnect does nothing: a broker whose peer is pruned drops the link
 * itself when its ticks stop.  Nothing here blocks: names go through
 * common/resolv, epmd through epmd_aclient, control sockets through
 * non-blocking sockets on the loop.
 */
#include "agent/connector.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <yaml.h>

#include "common/conf.h"
#include "common/container.h"
#include "common/err.h"
#include "common/resolv.h"
#include "common/sock.h"
#include "epmd/epmd_aclient.h"
#include "epmd/epmd_codec.h"

/* What a broker puts at the start of its EPMD `extra` (do not change). */
#define CAIRN_BROKER_EXTRA	"cairn-broker/"
/* How often a connect looks at the link while its handshake runs. */
#define CAIRN_LINK_POLL_S	0.05
/* Longest node name: an EPMD name, '@', a DNS name. */
#define CAIRN_NODE_MAX		(EPMD_MAXSYMLEN + 1 + RESOLV_NAME_MAX)
/* Longest reply read from a broker's control socket. */
#define CAIRN_CTL_REPLY_MAX	1024
/* Local brokers one standalone connector asks. */
#define CAIRN_MAX_BROKERS	64

struct cairn_conf {
	char			*type;		/* "cairn", read by agent_conf */
	unsigned		 epmd_port;	/* 0: $ERL_EPMD_PORT or 4369 */
	struct conf_strlist	 brokers;
};

static const struct conf_key cairn_keys[] = {
	{ .name = "type", .type = CONF_SKIP },
	{ .name = "epmd_port", .type = CONF_UINT,
	  .offset = offsetof(struct cairn_conf, epmd_port),
	  .min = 1, .max = 65535 },
	{ .name = "brokers", .type = CONF_STRLIST,
	  .offset = offsetof(struct cairn_conf, brokers) },
	{ .name = NULL },
};

/* A connect's steps, in order. */
enum cairn_phase {
	CP_NOW,		/* the answer is known: deliver it from the loop */
	CP_RESOLVE,	/* looking up the node's host */
	CP_PORT2,	/* asking that host's epmd for the node */
	CP_LINK,	/* the cluster link is starting: polling its state */
	CP_BROKER,	/* cairn-agent: a local broker's control socket */
};

struct cairn_op {
	ev_timer		 timer_w;	/* CP_NOW, CP_LINK polls */
	ev_timer		 deadline_w;
	ev_io			 io_w;		/* CP_BROKER */
	struct connector	*c;
	struct cairn_op		*next;
	conn_done_cb		*cb;
	void			*arg;
	enum cairn_phase	 phase;
	struct resolv_query	*rq;
	struct epmd_aq		*aq;
	double			 timeout;
	int			 err;		/* CP_NOW's answer */
	char			 msg[256];
	/* CP_BROKER: which broker, its socket, the request and reply. */
	size_t			 broker;
	int			 fd;
	char			 req[CAIRN_NODE_MAX + 32];
	size_t			 req_len, req_off;
	uint16_t		 port;		/* the node's, from PORT2 */
	char			 reply[CAIRN_CTL_REPLY_MAX];
	size_t			 reply_len;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 node[CAIRN_NODE_MAX];	/* name@host */
	char			 name[EPMD_MAXSYMLEN + 1];
	const char		*host;		/* into node: after '@' */
};

struct connector {
	const struct agent_env	*env;
	uint16_t		 epmd_port;
	char			**brokers;
	size_t			 nbrokers;
	struct cairn_op		*ops;
};

static void	cairn_broker_next(struct cairn_op *);

static uint16_t
cairn_epmd_port(unsigned conf_port)
{
	const char *s = getenv("ERL_EPMD_PORT");
	long v;

	if (conf_port != 0)
		return (uint16_t)conf_port;
	if (s == NULL || (v = strtol(s, NULL, 10)) <= 0 || v > 65535)
		return EPMD_PORT_NO;
	return (uint16_t)v;
}

static void
cairn_conf_init(void *p)
{
	memset(p, 0, sizeof(struct cairn_conf));
}

static void
cairn_conf_free(void *p)
{
	conf_free_fields(cairn_keys, p);
}

/* Stops everything op runs, unlinks and frees it.  No callback. */
static void
cairn_op_free(struct cairn_op *op)
{
	struct connector *c = op->c;
	struct ev_loop *loop = c->env->loop;
	struct cairn_op **pp;

	ev_timer_stop(loop, &op->timer_w);
	ev_timer_stop(loop, &op->deadline_w);
	ev_io_stop(loop, &op->io_w);
	if (op->fd != -1)
		close(op->fd);
	resolv_cancel(op->rq);
	epmd_aq_cancel(op->aq);
	for (pp = &c->ops; *pp != NULL; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	free(op);
}

/* Answers and frees op: the one exit of every connect. */
static void
cairn_done(struct cairn_op *op, int err, const char *msg)
{
	conn_done_cb *cb = op->cb;
	void *arg = op->arg;
	char copy[sizeof(op->msg)];

	snprintf(copy, sizeof(copy), "%s", msg != NULL ? msg : "");
	cairn_op_free(op);
	cb(arg, err, err != 0 ? copy : NULL);
}

/* Answers from the loop with err and msg, as every connector does. */
static void
cairn_later(struct cairn_op *op, int err, const char *msg)
{
	op->phase = CP_NOW;
	op->err = err;
	snprintf(op->msg, sizeof(op->msg), "%s", msg != NULL ? msg : "");
	ev_timer_stop(op->c->env->loop, &op->timer_w);
	ev_timer_set(&op->timer_w, 0., 0.);
	ev_timer_start(op->c->env->loop, &op->timer_w);
}

static void
on_cairn_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cairn_op *op = container_of(w, struct cairn_op, deadline_w);
	const char *why;

	switch (op->phase) {
	case CP_RESOLVE:
		why = "resolving the host timed out";
		break;
	case CP_PORT2:
		why = "its epmd did not answer in time";
		break;
	case CP_LINK:
		why = "the cluster link did not come up in time (wrong "
		    "cookie?)";
		break;
	case CP_BROKER:
		why = "a local broker did not answer in time";
		break;
	default:
		why = "timed out";
		break;
	}
	cairn_done(op, CAIRN_ERR_TIMEOUT, why);
}

static void
on_cairn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cairn_op *op = container_of(w, struct cairn_op, timer_w);
	const struct agent_host *h = op->c->env->host;

	if (op->phase == CP_NOW) {
		cairn_done(op, op->err, op->msg);
		return;
	}
	/* CP_LINK: the link's handshake is running. */
	if (h->ah_link_up(h->ah_arg, op->node))
		cairn_done(op, 0, NULL);
}

/* The node is a broker at addr: link to it, or ask the local brokers. */
static void
cairn_link(struct cairn_op *op)
{
	const struct agent_host *h = op->c->env->host;
	char msg[sizeof(op->msg)];
	int rc;

	if (h == NULL) {
		op->broker = 0;
		cairn_broker_next(op);
		return;
	}
	if ((rc = h->ah_connect(h->ah_arg, op->node,
	    (struct sockaddr *)&op->addr, op->addrlen)) != 0) {
		snprintf(msg, sizeof(msg), "cluster link: %s",
		    cairn_strerror(rc));
		cairn_done(op, rc, msg);
		return;
	}
	if (h->ah_link_up(h->ah_arg, op->node)) {
		cairn_done(op, 0, NULL);
		return;
	}
	op->phase = CP_LINK;
	ev_timer_set(&op->timer_w, CAIRN_LINK_POLL_S, CAIRN_LINK_POLL_S);
	ev_timer_start(op->c->env->loop, &op->timer_w);
}

static void
on_port2(void *arg, int err, const struct epmd_node_info *info)
{
	struct cairn_op *op = arg;
	size_t plen = strlen(CAIRN_BROKER_EXTRA);
	char msg[sizeof(op->msg)];

	op->aq = NULL;
	if (err != 0) {
		snprintf(msg, sizeof(msg), "epmd at %s port %u: %s", op->host,
		    sock_port((struct sockaddr *)&op->addr),
		    cairn_strerror(err));
		cairn_done(op, err, msg);
		return;
	}
	if (info == NULL) {
		snprintf(msg, sizeof(msg), "not registered with the epmd at "
		    "%s", op->host);
		cairn_done(op, CAIRN_ERR_NOENT, msg);
		return;
	}
	if (info->extra.len < plen ||
	    memcmp(info->extra.p, CAIRN_BROKER_EXTRA, plen) != 0) {
		cairn_done(op, CAIRN_ERR_PROTO, "not a Cairn broker: ignored");
		return;
	}
	if (op->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&op->addr)->sin_port =
		    htons(info->port);
	else
		((struct sockaddr_in6 *)&op->addr)->sin6_port =
		    htons(info->port);
	op->port = info->port;
	cairn_link(op);
}

static void
cairn_port2(struct cairn_op *op, const struct sockaddr_storage *a)
{
	const struct connector *c = op->c;

	memcpy(&op->addr, a, sizeof(op->addr));
	if (a->ss_family == AF_INET) {
		op->addrlen = sizeof(struct sockaddr_in);
		((struct sockaddr_in *)&op->addr)->sin_port =
		    htons(c->epmd_port);
	} else {
		op->addrlen = sizeof(struct sockaddr_in6);
		((struct sockaddr_in6 *)&op->addr)->sin6_port =
		    htons(c->epmd_port);
	}
	op->phase = CP_PORT2;
	op->aq = epmd_aq_port2(c->env->loop, (struct sockaddr *)&op->addr,
	    op->addrlen, op->name, op->timeout, on_port2, op);
	if (op->aq == NULL)
		cairn_done(op, CAIRN_ERR_NOMEM, "out of memory");
}

static void
on_resolved(void *arg, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct cairn_op *op = arg;
	char msg[sizeof(op->msg)];
	size_t i;

	op->rq = NULL;
	if (err != 0) {
		snprintf(msg, sizeof(msg), "host %s: %s", op->host,
		    cairn_strerror(err));
		cairn_done(op, err, msg);
		return;
	}
	/* epmd listens on IPv4 first: prefer an IPv4 address. */
	for (i = 0; i < n; i++)
		if (addrs[i].ss_family == AF_INET)
			break;
	cairn_port2(op, i < n ? &addrs[i] : &addrs[0]);
}

/*
 * cairn-agent: one local broker's control socket.  Sends "cluster join
 * NODE" and reads the one-line reply; {"ok":true...} (or "self":true,
 * from the broker that is the node) moves on to the next broker,
 * anything else fails the connect with the broker's error.
 */
static void
on_broker_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cairn_op *op = container_of(w, struct cairn_op, io_w);
	const char *sock = op->c->brokers[op->broker];
	char msg[sizeof(op->msg)], *nl;
	ssize_t n;

	if (op->req_off < op->req_len) {
		n = send(op->fd, op->req + op->req_off,
		    op->req_len - op->req_off, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			goto broken;
		op->req_off += (size_t)n;
		if (op->req_off == op->req_len) {
			ev_io_stop(loop, w);
			ev_io_set(w, op->fd, EV_READ);
			ev_io_start(loop, w);
		}
		return;
	}
	n = recv(op->fd, op->reply + op->reply_len,
	    sizeof(op->reply) - 1 - op->reply_len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		op->reply_len += (size_t)n;
		op->reply[op->reply_len] = '\0';
		if ((nl = strchr(op->reply, '\n')) == NULL &&
		    op->reply_len < sizeof(op->reply) - 1)
			return;
		if (nl != NULL)
			*nl = '\0';
	}
	if (op->reply_len == 0)
		goto broken;
	/* A broker that is the node itself answers "self": skip it. */
	if (strncmp(op->reply, "{\"ok\":true", 10) != 0 &&
	    strstr(op->reply, "\"self\":true") == NULL) {
		snprintf(msg, sizeof(msg), "broker at %s: %.200s", sock,
		    op->reply);
		cairn_done(op, CAIRN_ERR_IO, msg);
		return;
	}
	ev_io_stop(loop, w);
	close(op->fd);
	op->fd = -1;
	op->broker++;
	cairn_broker_next(op);
	return;
broken:
	snprintf(msg, sizeof(msg), "broker at %s: %s", sock,
	    n == 0 ? "closed without an answer" : strerror(errno));
	cairn_done(op, CAIRN_ERR_IO, msg);
}

static void
cairn_broker_next(struct cairn_op *op)
{
	struct connector *c = op->c;
	struct sockaddr_un un;
	struct sockaddr_storage ss;
	socklen_t sl;
	char msg[sizeof(op->msg)];
	const char *sock;
	int n;

	if (op->broker == c->nbrokers) {
		cairn_done(op, 0, NULL);
		return;
	}
	sock = c->brokers[op->broker];
	op->phase = CP_BROKER;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, sock, strlen(sock));	/* checked at create */
	if ((op->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    (connect(op->fd, (struct sockaddr *)&un, sizeof(un)) == -1 &&
	    errno != EAGAIN && errno != EINPROGRESS)) {
		snprintf(msg, sizeof(msg), "broker at %s: %s", sock,
		    strerror(errno));
		cairn_done(op, CAIRN_ERR_IO, msg);
		return;
	}
	/*
	 * The broker would ask its own epmd again, which need not be the one
	 * that answered here (another epmd_port): when the host is an IPv4
	 * address, hand over the port PORT2 gave (name@host:port).
	 */
	if (strchr(op->host, ':') == NULL &&
	    sock_addr_parse(op->host, 0, &ss, &sl) == 0)
		n = snprintf(op->req, sizeof(op->req), "cluster join %s:%u\n",
		    op->node, (unsigned)op->port);
	else
		n = snprintf(op->req, sizeof(op->req), "cluster join %s\n",
		    op->node);
	op->req_len = (size_t)n;
	op->req_off = 0;
	op->reply_len = 0;
	ev_io_init(&op->io_w, on_broker_io, op->fd, EV_WRITE);
	ev_io_start(c->env->loop, &op->io_w);
}

static void
cairn_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct cairn_conf *cf = p;
	struct sockaddr_un un;
	char why[256];
	size_t i, n = cf != NULL ? cf->brokers.n : 0;

	if (n > CAIRN_MAX_BROKERS) {
		snprintf(why, sizeof(why), "more than %d brokers",
		    CAIRN_MAX_BROKERS);
		err(arg, "brokers", -1, why);
	}
	for (i = 0; i < n && i < INT_MAX; i++)
		if (strlen(cf->brokers.v[i]) >= sizeof(un.sun_path)) {
			snprintf(why, sizeof(why), "socket path longer than "
			    "%zu bytes", sizeof(un.sun_path) - 1);
			err(arg, "brokers", (int)i, why);
		}
}

static struct connector *
cairn_create(const struct agent_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct cairn_conf *cf = p;
	struct sockaddr_un un;
	struct connector *c;
	size_t i, n = cf != NULL ? cf->brokers.n : 0;

	if (n > CAIRN_MAX_BROKERS) {
		snprintf(err, errlen, "more than %d brokers",
		    CAIRN_MAX_BROKERS);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (strlen(cf->brokers.v[i]) >= sizeof(un.sun_path)) {
			snprintf(err, errlen, "broker socket path too long: "
			    "%s", cf->brokers.v[i]);
			return NULL;
		}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (n > 0 && (c->brokers = calloc(n, sizeof(*c->brokers))) ==
	    NULL))
		goto nomem;
	for (i = 0; i < n; i++) {
		if ((c->brokers[i] = strdup(cf->brokers.v[i])) == NULL)
			goto nomem;
		c->nbrokers++;
	}
	c->env = env;
	/* Its own key first, then the port the strategy found nodes on. */
	c->epmd_port = cairn_epmd_port(cf != NULL && cf->epmd_port != 0 ?
	    cf->epmd_port : env->epmd_port);
	return c;
nomem:
	if (c != NULL) {
		for (i = 0; i < c->nbrokers; i++)
			free(c->brokers[i]);
		free(c->brokers);
		free(c);
	}
	snprintf(err, errlen, "out of memory");
	return NULL;
}

static int
cairn_connect(struct connector *c, const char *node,
    const char *const *members, size_t n, double timeout, conn_done_cb *cb,
    void *arg)
{
	const struct agent_host *h = c->env->host;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct cairn_op *op;
	char *at;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return CAIRN_ERR_NOMEM;
	op->c = c;
	op->cb = cb;
	op->arg = arg;
	op->fd = -1;
	op->timeout = timeout > 0 ? timeout : 5.;
	op->next = c->ops;
	c->ops = op;
	ev_init(&op->timer_w, on_cairn_timer);
	ev_timer_init(&op->deadline_w, on_cairn_deadline, op->timeout, 0.);
	ev_timer_start(c->env->loop, &op->deadline_w);
	snprintf(op->node, sizeof(op->node), "%s", node);
	/* Health check: a link that is up answers without epmd. */
	if (h != NULL && h->ah_link_up(h->ah_arg, op->node)) {
		cairn_later(op, 0, NULL);
		return 0;
	}
	if (strlen(node) >= sizeof(op->node) ||
	    (at = strchr(op->node, '@')) == NULL || at == op->node ||
	    at[1] == '\0') {
		cairn_later(op, CAIRN_ERR_INVAL, "not a node name "
		    "(name@host)");
		return 0;
	}
	if ((size_t)(at - op->node) > EPMD_MAXSYMLEN) {
		cairn_later(op, CAIRN_ERR_INVAL, "name longer than epmd "
		    "allows");
		return 0;
	}
	memcpy(op->name, op->node, (size_t)(at - op->node));
	op->name[at - op->node] = '\0';
	op->host = at + 1;
	if (sock_addr_parse(op->host, 0, &ss, &sl) == 0 ||
	    (c->env->resolv == NULL && strcmp(op->host, "localhost") == 0 &&
	    sock_addr_parse("127.0.0.1", 0, &ss, &sl) == 0)) {
		cairn_port2(op, &ss);
		return 0;
	}
	if (c->env->resolv == NULL) {
		cairn_later(op, CAIRN_ERR_DNS, "no resolver for a host name");
		return 0;
	}
	op->phase = CP_RESOLVE;
	op->rq = resolv_query_addr(c->env->resolv, op->host, AF_UNSPEC,
	    on_resolved, op);
	if (op->rq == NULL) {
		cairn_op_free(op);
		return CAIRN_ERR_NOMEM;
	}
	return 0;
}

static int
cairn_disconnect(struct connector *c, const char *node, double timeout,
    conn_done_cb *cb, void *arg)
{
	struct cairn_op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return CAIRN_ERR_NOMEM;
	op->c = c;
	op->cb = cb;
	op->arg = arg;
	op->fd = -1;
	op->next = c->ops;
	c->ops = op;
	ev_init(&op->timer_w, on_cairn_timer);
	ev_init(&op->deadline_w, on_cairn_deadline);
	cairn_later(op, 0, NULL);
	return 0;
}

static void
cairn_cancel(struct connector *c, void *arg)
{
	struct cairn_op *op, *next;

	for (op = c->ops; op != NULL; op = next) {
		next = op->next;
		if (op->arg == arg)
			cairn_op_free(op);
	}
}

static void
cairn_destroy(struct connector *c)
{
	size_t i;

	while (c->ops != NULL)
		cairn_op_free(c->ops);
	for (i = 0; i < c->nbrokers; i++)
		free(c->brokers[i]);
	free(c->brokers);
	free(c);
}

const struct connector_ops connector_cairn = {
	.name = "cairn",
	.keys = cairn_keys,
	.conf_size = sizeof(struct cairn_conf),
	.conf_init = cairn_conf_init,
	.conf_free = cairn_conf_free,
	.check = cairn_check,
	.create = cairn_create,
	.connect = cairn_connect,
	.disconnect = cairn_disconnect,
	.cancel = cairn_cancel,
	.destroy = cairn_destroy,
};
