/*
 * The cairn-broker program: the top layer of broker/, which wires the
 * layers below into one node (docs/ARCHITECTURE.md, "Layers"):
 *
 *	node.c		a node: the broker (net/), its cluster (cluster/),
 *			membership, $SYS and the auth files, made, started
 *			and freed in order
 *	auth.c		password_file and acl_file behind struct broker_auth
 *	sys.c		$SYS/broker/... statistics
 *	stats.c		the memory snapshot (stats.h), for $SYS and
 *			`cluster status`
 *	endpoint.c	the HTTP endpoint (http_listen): /metrics, /healthz,
 *			/readyz, /api/v1/..., the status page
 *	main.c		options, -n, detach, signals, the loop
 *
 * Everything here may include anything below it; nothing below includes
 * this folder's headers (t/layers.py checks it).
 */
#ifndef CAIRN_BROKER_NODE_H
#define CAIRN_BROKER_NODE_H

#include <stddef.h>

#include <ev.h>

#include "broker/conf/broker_conf.h"

struct broker;
struct broker_auth;
struct cluster;
struct membership;
struct node;

/*
 * A node on loop with configuration c (taken: freed by node_free(), or
 * here on failure): the broker with its password and ACL files loaded,
 * and the cluster when the config names one.  Nothing listens yet.
 * NULL with the reason in err.
 */
struct node	*node_new(struct ev_loop *loop, struct broker_conf *c,
		    char *err, size_t errlen);
/*
 * Binds the MQTT listeners and the cluster listener, starts $SYS, then
 * registers with epmd and starts discovery (membership).  0, or -1 with
 * the reason in err.
 */
int		 node_start(struct node *, char *err, size_t errlen);
/* Stops and frees all of it, the cluster before the broker.  NULL ok. */
void		 node_free(struct node *);
/*
 * -n's checks of what start would open beyond the files: data_dir is a
 * writable directory (or can be made) and its store, if any, opens and
 * reads whole.  0, or -1 with err.
 */
int		 node_check(const struct broker_conf *c, char *err,
		    size_t errlen);
/*
 * SIGHUP: applies c (taken) to the running node: the password and ACL
 * files read again, then broker_reload().  All or nothing: 0, or -1
 * with err and the node as it was.
 */
int		 node_reload(struct node *, struct broker_conf *c, char *err,
		    size_t errlen);

/* auth.c: loads password_file and acl_file into the broker's hooks. */
int		 broker_auth_load(struct broker *, char *err, size_t errlen);
/*
 * The hooks of c's password and ACL files, read now, into a (the caller
 * owns them: broker_set_auth() or a->ba_free).  0, or -1 with err.
 */
int		 broker_auth_build(const struct broker_conf *c,
		    struct broker_auth *a, char *err, size_t errlen);

/* endpoint.c: what the HTTP endpoint reads (borrowed), set by node.c. */
struct endpoint_ctx {
	struct broker		*ec_broker;
	struct cluster		*ec_cluster;	/* NULL: none */
	struct membership	*ec_membership;	/* NULL: none (yet) */
	int			 ec_started;	/* node_start() went through */
};
struct http;
/* Listens on http_listen; NULL with the reason in err. */
struct http	*endpoint_new(struct endpoint_ctx *, char *err, size_t errlen);
/* Why the node is not ready (a static string), or NULL when it is. */
const char	*endpoint_not_ready(struct endpoint_ctx *);

/* sys.c */
void		 sys_start(struct broker *);
void		 sys_stop(struct broker *);
void		 sys_publish(struct broker *);

#endif
