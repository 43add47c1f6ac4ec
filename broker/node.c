/*
 * A cairn-broker node; see node.h.  The order matters: the cluster is
 * made after the broker (it hooks into its router and its hooks) and
 * freed before it (it unhooks them while the sessions still exist);
 * membership (epmd registration, discovery) starts only once the
 * cluster listens, since it registers the cluster port.
 */
#include "broker/node.h"

#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "broker/cluster/cluster.h"
#include "broker/cluster/membership.h"
#include "broker/net/broker.h"
#include "broker/net/broker_int.h"
#include "broker/stats.h"
#include "common/http.h"
#include "common/log.h"

struct node {
	struct ev_loop		*n_loop;
	struct broker_conf	*n_conf;	/* the broker's, borrowed */
	struct broker		*n_broker;
	struct cluster		*n_cluster;	/* NULL: no cluster keys */
	struct membership	*n_membership;	/* NULL: none (yet) */
	struct endpoint_ctx	 n_ectx;
	struct http		*n_http;	/* NULL: no http_listen */
};

/* `cluster status`'s "memory": the whole node's snapshot. */
static int
node_status_memory(void *arg, struct bytes_w *w)
{
	return broker_stats_json(arg, w);
}

struct node *
node_new(struct ev_loop *loop, struct broker_conf *c, char *err,
    size_t errlen)
{
	struct node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		snprintf(err, errlen, "out of memory");
		broker_conf_free(c);
		return NULL;
	}
	n->n_loop = loop;
	n->n_conf = c;
	if ((n->n_broker = broker_new(loop, c, err, errlen)) == NULL) {
		free(n);
		return NULL;
	}
	if (broker_auth_load(n->n_broker, err, errlen) != 0)
		goto fail;
	/* data_dir: what the node kept, loaded before anyone connects. */
	if (persist_open(n->n_broker, err, errlen) != 0)
		goto fail;
	if (c->bc_cluster) {
		if ((n->n_cluster = cluster_new(n->n_broker, loop, err,
		    errlen)) == NULL)
			goto fail;
		n->n_broker->b_cluster = n->n_cluster;
		cluster_set_status_cb(n->n_cluster, node_status_memory,
		    n->n_broker);
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

int
node_start(struct node *n, char *err, size_t errlen)
{
	/* First, so that probes see "not ready" rather than nothing. */
	n->n_ectx.ec_broker = n->n_broker;
	n->n_ectx.ec_cluster = n->n_cluster;
	if (n->n_conf->bc_http_listen.host != NULL && (n->n_http =
	    endpoint_new(&n->n_ectx, err, errlen)) == NULL)
		return -1;
	if (n->n_http != NULL)
		log_info("http: listening on %s:%u", n->n_conf->bc_http_listen.host,
		    http_port(n->n_http));
	if (broker_start(n->n_broker, err, errlen) != 0)
		return -1;
	if (n->n_cluster != NULL &&
	    cluster_start(n->n_cluster, err, errlen) != 0)
		return -1;
	sys_start(n->n_broker);
	/* A cluster node registers with epmd and finds its peers. */
	if (n->n_cluster != NULL && (n->n_membership = membership_new(
	    n->n_loop, n->n_conf, n->n_cluster, err, errlen)) == NULL)
		return -1;
	n->n_ectx.ec_membership = n->n_membership;
	n->n_ectx.ec_started = 1;
	return 0;
}

void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	http_free(n->n_http);
	membership_free(n->n_membership);
	/* First: the cluster unhooks the router before sessions go. */
	if (n->n_cluster != NULL) {
		n->n_broker->b_cluster = NULL;
		cluster_free(n->n_cluster);
	}
	sys_stop(n->n_broker);
	broker_free(n->n_broker);
	free(n);
}

int
node_check(const struct broker_conf *c, char *err, size_t errlen)
{
	return persist_check(c, err, errlen);
}

int
node_reload(struct node *n, struct broker_conf *c, char *err, size_t errlen)
{
	struct broker_auth a;

	if (broker_auth_build(c, &a, err, errlen) != 0) {
		broker_conf_free(c);
		return -1;
	}
	return broker_reload(n->n_broker, c, &a, err, errlen);
}
