/*
 * A broker node's membership (broker/cluster/CLUSTER.md): what turns a cluster
 * able to link into one that finds its peers and can be operated.
 *
 *	membership --+-- cluster_reg (epmd registration, `extra` mark)
 *	             +-- agent (embedded: strategies -> `cairn` connector
 *	             |     -> cluster_connect / cluster_link_up)
 *	             +-- control socket (the agent's, plus `cluster ...`)
 *	             +-- resolver, and a `cairn` connector of its own for
 *	                 `cluster join name@host` (PORT2, then link)
 *
 * The cluster itself (links, routes) is broker/cluster/cluster.h; this module
 * only drives it.
 */
#ifndef CAIRN_BROKER_MEMBERSHIP_H
#define CAIRN_BROKER_MEMBERSHIP_H

#include <stddef.h>

struct agent;
struct broker_conf;
struct cluster;
struct ev_loop;
struct membership;

/*
 * Membership for cluster cl (borrowed; started, so that its port is
 * known) on loop, from c: control_socket, epmd_port, quorum and the
 * agent topologies (c->bc_agent, which this takes and NULLs; without
 * it the default topology: local_epmd every second on the node's host,
 * with the `cairn` connector).  Registers with epmd and starts the
 * agent and the control socket.  NULL with a reason in err on failure.
 * Free with membership_free() before the cluster.
 */
struct membership *membership_new(struct ev_loop *loop, struct broker_conf *c,
		    struct cluster *cl, char *err, size_t errlen);
/* 1 while the local epmd holds this node's registration. */
int		 membership_registered(const struct membership *);
/* The embedded agent (members, quorum state); borrowed. */
struct agent	*membership_agent(struct membership *);
/* Stops the agent, drops the registration, frees.  Accepts NULL. */
void		 membership_free(struct membership *);

#endif
