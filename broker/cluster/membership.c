/*
 * A broker node's membership; see membership.h.
 *
 * The control socket is the embedded agent's (agent/control.c: members,
 * state, watch), extended through agent_set_request_handler() with
 *
 *	cluster status		cluster_status_json()
 *	cluster join NODE	cluster_join(): NODE is name@host (PORT2 at
 *				host's epmd, through the resolve callback
 *				below) or name@host:port
 *	cluster leave		cluster_leave(): every link closed
 *	cluster remove NODE	cluster_remove()
 *
 * each answered with one JSON line: status as cluster.h documents it,
 * the others {"ok":true,...} or {"ok":false,"error":"..."}.  A join
 * answers once the lookup has started; `cairn cluster join` then waits
 * for the link in `cluster status`.
 */
#include "broker/cluster/membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "agent/connector.h"
#include "broker/conf/broker_conf.h"
#include "broker/cluster/cluster.h"
#include "broker/cluster/cluster_reg.h"
#include "common/bytes.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/resolv.h"

/* The default topology polls the local epmd this often (ms). */
#define MEMBERSHIP_POLL_MS	1000
/* A `cluster join name@host` lookup and link get this long (s). */
#define MEMBERSHIP_JOIN_TIMEOUT	10.
/* The agent's hidden-node prefix: strategies skip such names. */
#define MEMBERSHIP_AGENT_NAME	"cairn_agent"

/* A `cluster join name@host` in progress. */
struct mb_join {
	struct mb_join		*next;
	struct membership	*m;
	char			 node[];
};

struct membership {
	struct ev_loop		*loop;
	struct cluster		*cl;
	struct resolv		*resolv;
	struct cluster_reg	*reg;
	struct agent		*agent;
	struct agent_host	 host;
	struct agent_env	 env;		/* for join's own connector */
	struct connector	*join;
	struct mb_join		*joins;
};

static int
mb_connect(void *arg, const char *node, const struct sockaddr *sa,
    socklen_t salen)
{
	struct membership *m = arg;

	return cluster_connect(m->cl, node, sa, salen);
}

static int
mb_link_up(void *arg, const char *node)
{
	struct membership *m = arg;

	return cluster_link_up(m->cl, node);
}

static void
mb_join_unlink(struct mb_join *j)
{
	struct mb_join **pp;

	for (pp = &j->m->joins; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
}

/* A `cluster join name@host` lookup ended. */
static void
on_join_done(void *arg, int err, const char *msg)
{
	struct mb_join *j = arg;

	if (err == 0)
		log_info("cluster join %s: linked", j->node);
	else
		log_warnx("cluster join %s: %s", j->node,
		    msg != NULL ? msg : cairn_strerror(err));
	mb_join_unlink(j);
	free(j);
}

/* cluster_join() without a port: PORT2 at the node's epmd, then link. */
static int
on_resolve(void *arg, const char *node)
{
	struct membership *m = arg;
	struct mb_join *j;
	size_t len = strlen(node);
	int rc;

	if ((j = malloc(sizeof(*j) + len + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	j->m = m;
	memcpy(j->node, node, len + 1);
	j->next = m->joins;
	m->joins = j;
	rc = connector_cairn.connect(m->join, node, NULL, 0,
	    MEMBERSHIP_JOIN_TIMEOUT, on_join_done, j);
	if (rc != 0) {
		mb_join_unlink(j);
		free(j);
	}
	return rc;
}

static void
mb_reply_error(struct bytes_w *out, const char *what, int rc)
{
	bytes_put_str(out, "{\"ok\":false,\"error\":");
	json_put_str(out, what != NULL ? what : cairn_strerror(rc));
	bytes_put_str(out, "}\n");
}

/* The `cluster ...` requests of the control socket. */
static int
on_request(void *arg, const char *req, struct bytes_w *out)
{
	struct membership *m = arg;
	const char *node;
	size_t n;
	int rc;

	if (strncmp(req, "cluster", 7) != 0 || (req[7] != ' ' &&
	    req[7] != '\0'))
		return 0;
	req += 7;
	req += strspn(req, " ");
	if (strcmp(req, "status") == 0 || req[0] == '\0') {
		cluster_status_json(m->cl, out);
		bytes_put_u8(out, '\n');
	} else if (strncmp(req, "join ", 5) == 0) {
		node = req + 5 + strspn(req + 5, " ");
		n = strlen(cluster_node_name(m->cl));
		if (strncmp(node, cluster_node_name(m->cl), n) == 0 &&
		    (node[n] == '\0' || node[n] == ':')) {
			/* Not an error for an agent asking every local broker
			 * to join a node: "self" says this one is that node. */
			bytes_put_str(out, "{\"ok\":false,\"self\":true,"
			    "\"error\":\"this node\"}\n");
			return 1;
		}
		if ((rc = cluster_join(m->cl, node)) != 0) {
			mb_reply_error(out, rc == CAIRN_ERR_INVAL ?
			    "not a node name (name@host or name@host:port), "
			    "or this node" : NULL, rc);
			return 1;
		}
		log_info("control: cluster join %s", node);
		bytes_put_str(out, "{\"ok\":true,\"node\":");
		json_put_str(out, node);
		bytes_put_str(out, ",\"result\":\"joining\"}\n");
	} else if (strcmp(req, "leave") == 0) {
		n = cluster_leave(m->cl);
		log_info("control: cluster leave: %zu links closed", n);
		bytes_printf(out, "{\"ok\":true,\"closed\":%zu}\n", n);
	} else if (strncmp(req, "remove ", 7) == 0) {
		node = req + 7 + strspn(req + 7, " ");
		if ((rc = cluster_remove(m->cl, node)) != 0) {
			mb_reply_error(out, rc == CAIRN_ERR_NOENT ?
			    "no such peer" : NULL, rc);
			return 1;
		}
		log_info("control: cluster remove %s", node);
		bytes_put_str(out, "{\"ok\":true,\"node\":");
		json_put_str(out, node);
		bytes_put_str(out, "}\n");
	} else
		mb_reply_error(out, "unknown cluster request; try status, "
		    "join NODE, leave or remove NODE", 0);
	return 1;
}

/* The agent's events, at debug level: the engine logs the lines that
 * matter itself. */
static void
on_agent_event(void *arg, const char *json, size_t len)
{
	log_debug("agent: %.*s", (int)len, json);
}

/* The default agent: one topology, the local epmd, the cairn connector. */
static struct agent_conf *
mb_default_conf(const char *node, unsigned epmd_port, char *err,
    size_t errlen)
{
	const char *host = strchr(node, '@');
	char text[1024], port[64] = "", cport[64] = "";
	int n;

	host = host != NULL ? host + 1 : "localhost";
	if (strpbrk(host, "\"\\\n") != NULL) {
		snprintf(err, errlen, "node name %s: odd host part", node);
		return NULL;
	}
	if (epmd_port != 0) {
		snprintf(port, sizeof(port), ", port: %u", epmd_port);
		snprintf(cport, sizeof(cport), ", epmd_port: %u", epmd_port);
	}
	n = snprintf(text, sizeof(text),
	    "topologies:\n"
	    "  local:\n"
	    "    strategy: local_epmd\n"
	    "    config: {polling_interval: %ums, host: \"%s\"%s}\n"
	    "    connector: {type: cairn%s}\n",
	    MEMBERSHIP_POLL_MS, host, port, cport);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "node name %s: too long", node);
		return NULL;
	}
	return agent_conf_parse("(default topology)", text, (size_t)n, err,
	    errlen);
}

static struct agent_conf *
mb_agent_conf(struct broker_conf *c, const char *node, char *err,
    size_t errlen)
{
	struct agent_conf *ac;

	if (c->bc_agent != NULL) {
		ac = c->bc_agent;
		c->bc_agent = NULL;
	} else if ((ac = mb_default_conf(node, c->bc_epmd_port, err,
	    errlen)) == NULL)
		return NULL;
	free(ac->ac_node_name);
	free(ac->ac_control_socket);
	free(ac->ac_self_node);
	ac->ac_control_socket = NULL;
	ac->ac_self_node = NULL;
	if ((ac->ac_node_name = strdup(MEMBERSHIP_AGENT_NAME)) == NULL ||
	    (ac->ac_self_node = strdup(node)) == NULL ||
	    (c->bc_control_socket != NULL && (ac->ac_control_socket =
	    strdup(c->bc_control_socket)) == NULL) ||
	    (ac->ac_cookie == NULL && c->bc_cookie != NULL &&
	    (ac->ac_cookie = strdup(c->bc_cookie)) == NULL)) {
		agent_conf_free(ac);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ac->ac_self_counts = 1;
	ac->ac_quorum = c->bc_quorum;
	return ac;
}

struct membership *
membership_new(struct ev_loop *loop, struct broker_conf *c,
    struct cluster *cl, char *err, size_t errlen)
{
	const char *node = cluster_node_name(cl);
	struct membership *m;
	struct agent_conf *ac;
	char why[256];

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->loop = loop;
	m->cl = cl;
	m->host.ah_connect = mb_connect;
	m->host.ah_link_up = mb_link_up;
	m->host.ah_arg = m;
	if ((m->resolv = resolv_new(loop, NULL)) == NULL) {
		snprintf(err, errlen, "cannot start the resolver");
		goto fail;
	}
	m->env.loop = loop;
	m->env.resolv = m->resolv;
	m->env.self_name = MEMBERSHIP_AGENT_NAME;
	m->env.host = &m->host;
	if ((m->join = connector_cairn.create(&m->env, NULL, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "cluster join: %s", why);
		goto fail;
	}
	cluster_set_resolve_cb(cl, on_resolve, m);
	if ((m->reg = cluster_reg_new(loop, node, cluster_port(cl),
	    (uint16_t)c->bc_epmd_port, err, errlen)) == NULL)
		goto fail;
	if ((ac = mb_agent_conf(c, node, err, errlen)) == NULL)
		goto fail;
	if ((m->agent = agent_new(loop, m->resolv, ac, err, errlen)) == NULL)
		goto fail;
	agent_set_host(m->agent, &m->host);
	agent_set_request_handler(m->agent, on_request, m);
	agent_set_listener(m->agent, on_agent_event, m);
	if (agent_start(m->agent, err, errlen) != 0)
		goto fail;
	return m;
fail:
	membership_free(m);
	return NULL;
}

void
membership_free(struct membership *m)
{
	if (m == NULL)
		return;
	agent_free(m->agent);
	if (m->cl != NULL)
		cluster_set_resolve_cb(m->cl, NULL, NULL);
	while (m->joins != NULL) {
		struct mb_join *j = m->joins;

		connector_cairn.cancel(m->join, j);
		m->joins = j->next;
		free(j);
	}
	if (m->join != NULL)
		connector_cairn.destroy(m->join);
	cluster_reg_free(m->reg);
	resolv_free(m->resolv);
	free(m);
}

int
membership_registered(const struct membership *m)
{
	return m->reg != NULL && cluster_reg_registered(m->reg);
}

struct agent *
membership_agent(struct membership *m)
{
	return m->agent;
}
