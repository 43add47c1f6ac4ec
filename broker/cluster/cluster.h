/*
 * The broker cluster (broker/cluster/CLUSTER.md): this node's peers and their
 * links, route replication, forwards, retained replication, client-id
 * claims and session moves.  One struct cluster per broker, on the
 * broker's loop; the broker creates it when its YAML names a node
 * (node_name, cluster_listen or peers).
 *
 * Two audiences:
 *
 *   - the broker (broker.c, handle_*.c) tells the cluster about local
 *     events: a retained publish, a CONNECT, a persistent session that
 *     may live on another node.  Routes need no call: the cluster hooks
 *     the router (router_set_hooks()).
 *   - the embedded agent's `cairn` connector (agent/conn_cairn.c) and
 *     the control socket (`cairn cluster ...`) drive membership with
 *     cluster_connect(), cluster_link_up(), cluster_join(),
 *     cluster_leave(), cluster_remove() and cluster_status_json().
 *
 * What the cluster does not do: find nodes (strategies and the agent
 * do), register with epmd (cluster_reg.c), parse YAML (broker_conf.c).
 * It logs one line per link event (up, down, wrong cookie, dead).
 */
#ifndef CAIRN_BROKER_CLUSTER_H
#define CAIRN_BROKER_CLUSTER_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "broker/core/msg.h"
#include "common/bytes.h"

struct broker;
struct cluster;

/*
 * Called when the link to `node` comes up (up = 1) or goes down (0).
 * node is borrowed for the call.  The callback may call any cluster_*
 * function except cluster_free().
 */
typedef void	(*cluster_link_cb)(void *arg, const char *node, int up);
/*
 * Asked by cluster_join() for a node given without an address
 * ("name@host"): find its address (epmd PORT2 on host) and call
 * cluster_connect() when it is known.  0 if the lookup started, else a
 * negative CAIRN_ERR_*.  node is borrowed for the call.
 */
typedef int	(*cluster_resolve_cb)(void *arg, const char *node);
/*
 * Appends one JSON value to w for `cluster status` (its "memory"
 * member); the program's (stats.c), which the cluster cannot see.
 */
typedef int	(*cluster_status_cb)(void *arg, struct bytes_w *w);

/*
 * A cluster for broker b on loop.  Borrows b and loop; reads b's config
 * (node_name, cluster_listen, cookie, limits, peers).  Reads the cookie
 * file if the config names one (else ~/.erlang.cookie when no cookie is
 * given).  Sets b's hooks (broker_set_hooks()): retained messages and
 * connections here reach the cluster.  Nothing listens yet.  NULL with
 * a reason in err on failure.  Free with cluster_free() (before b).
 */
struct cluster	*cluster_new(struct broker *b, struct ev_loop *loop,
		    char *err, size_t errlen);
/*
 * Binds cluster_listen, then connects to the static `peers` of the
 * config.  0, or -1 with the reason in err.
 */
int		 cluster_start(struct cluster *, char *err, size_t errlen);
/* Closes every link (no log line each), frees everything.  Accepts NULL. */
void		 cluster_free(struct cluster *);

/* This node's name, "name@host"; borrowed, valid until cluster_free(). */
const char	*cluster_node_name(const struct cluster *);
/* The bound cluster port (after cluster_start()), for epmd; 0 before. */
uint16_t	 cluster_port(const struct cluster *);

/* Hooks for the embedding agent; either may be NULL.  Borrows arg. */
void		 cluster_set_link_cb(struct cluster *, cluster_link_cb,
		    void *arg);
void		 cluster_set_resolve_cb(struct cluster *, cluster_resolve_cb,
		    void *arg);
/* The "memory" member of cluster status; NULL: none.  Borrows arg. */
void		 cluster_set_status_cb(struct cluster *, cluster_status_cb,
		    void *arg);

/*
 * Links to `node` ("name@host", not this node) at sa (copied).  Starts a
 * non-blocking connect and the handshake, unless a link to node is up
 * or being set up (then nothing changes).  Returns 0 (started, or
 * already there), CAIRN_ERR_INVAL (a bad name, or this node's),
 * CAIRN_ERR_LIMIT (max_peers links), CAIRN_ERR_IO (socket(2) failed;
 * errno), CAIRN_ERR_DENIED (this node left the cluster, or node was
 * removed: cluster_leave(), cluster_remove()) or CAIRN_ERR_NOMEM.  A
 * call counts as node named by discovery (forget_after).  The outcome
 * is told later through the
 * link callback and cluster_link_up(); a node the cluster has been told
 * about is redialled with backoff while the address is good.
 */
int		 cluster_connect(struct cluster *, const char *node,
		    const struct sockaddr *sa, socklen_t salen);
/* 1 if the link to node has finished its handshake, else 0. */
int		 cluster_link_up(struct cluster *, const char *node);

/*
 * `cairn cluster join NODE`: NODE is "name@host:port" (connect there) or
 * "name@host" (ask the resolve callback).  0 or a negative CAIRN_ERR_*
 * (CAIRN_ERR_NOENT: no address and no resolve callback).
 */
int		 cluster_join(struct cluster *, const char *node);
/*
 * `cairn cluster leave`: closes every link and forgets every peer,
 * dropping their routes; until cluster_join(), no link is made or
 * accepted (strategies and PEERS do not bring peers back).  Returns
 * the number of links closed.
 */
size_t		 cluster_leave(struct cluster *);
/*
 * `cairn cluster remove NODE`: closes the link to node and forgets it
 * (its routes go at once); it is not linked again until cluster_join()
 * of it or its restart (a new incarnation).  0 or CAIRN_ERR_NOENT.
 */
int		 cluster_remove(struct cluster *, const char *node);
/*
 * `cairn cluster status`: appends one JSON object (no newline) to w:
 *
 *   {"node":"b1@h","port":4370,"peers":[{"node":"b2@h","state":"up",
 *    "away":false,"dir":"out","routes":3,"forward_pending":0,
 *    "forward_dropped":0,"addr":"127.0.0.1:4371","forward_bytes":0,
 *    "held":0,"holding_publishers":false,"rtt_ms":0.4}],
 *    "custody":{"held_now":0,"held":0,"hold_timeouts":0,
 *    "publisher_holds":0,"publishers_held":false,"dropped":{
 *    "spool_full":0,"buffer_full":0,"forgotten":0,"nomem":0,
 *    "expired":0}},
 *    "routes_local":2,"retained_stamps":1,"claims":1,"tls":false,
 *    "handshakes":{"pending":0,"refused":0,"evicted":0},
 *    "replicas":{"held":1,"held_messages":3,"held_bytes":900,
 *    "max_bytes":67108864,"dropped":0,"refused":0,"owned":2,
 *    "unplaced":0,"synced":2,"promoted":0,"resent":0,
 *    "acks_released":0,"given_back_from_spools":0},
 *    "memory":{...}}
 *
 * replicas (CLUSTER.md, "Session replicas"): held for peers (count,
 * messages, bytes, the cap, messages dropped and replicas refused at
 * it); owned: this node's persistent sessions, unplaced: those whose
 * replica is not in place yet, synced: whole replicas sent, promoted:
 * replicas made sessions here, resent: changes that did not go (a
 * full link) and made a whole resend, acks_released: replica acks
 * waited for and let go (the holder's link went),
 * given_back_from_spools: deliveries of promoted sessions not given
 * back to their node because its spools bring them.
 * handshakes: inbound handshakes in progress now, connections refused
 * at accept for want of a slot, and slots taken back from unproven
 * handshakes for newcomers (CLUSTER.md, "Strangers").
 * rtt_ms is the smoothed forward round trip (null before the first
 * QoS 1/2 forward is acked).
 * state is "connecting", "handshake", "up" or "down" (known, waiting to
 * redial); away is true while a peer whose link dropped is within
 * peer_grace.  Only peers that completed a handshake once, or that
 * `peers` or cluster_join() named, are listed.  0, or w's error (CAIRN_ERR_NOMEM / CAIRN_ERR_TOO_BIG).
 */
int		 cluster_status_json(struct cluster *, struct bytes_w *w);

/*
 * Forward round trips (a QoS 1/2 FORWARD to its FORWARD_ACK), counted as
 * they happen, for /metrics: a histogram over CLUSTER_RTT_BOUNDS (ms,
 * cumulative as Prometheus wants them is the reader's job), the sum and
 * the count.  A resend counts from when it went out again.
 */
#define CLUSTER_RTT_NBOUNDS	10
#define CLUSTER_RTT_BOUNDS	{ 0.25, 0.5, 1, 2.5, 5, 10, 25, 100, 500, 2500 }
struct cluster_rtt {
	uint64_t	cr_bucket[CLUSTER_RTT_NBOUNDS + 1];	/* last: +Inf */
	double		cr_sum_ms;
	uint64_t	cr_count;
};
const struct cluster_rtt *cluster_rtt_get(const struct cluster *);
/* One peer as /metrics shows it (strings borrowed until the next call). */
struct cluster_peer_info {
	const char	*pi_node;
	const char	*pi_state;	/* as cluster status's */
	int		 pi_up;
	int		 pi_away;
	size_t		 pi_routes;
	size_t		 pi_forward_pending;
	uint64_t	 pi_forward_dropped;
	double		 pi_rtt_ms;	/* < 0: none measured */
};
/*
 * Custody counters (CLUSTER.md, "Custody"), for cluster status,
 * /metrics and $SYS: forwards held here for a full subscriber queue,
 * those that waited past forward_hold_timeout (then queued or dropped
 * by the session's limits), forwards dropped by reason at the sending
 * side, and how often publishers here were held.
 */
struct cluster_custody_stats {
	uint64_t	 cs_held;		/* forwards that had to wait */
	uint64_t	 cs_hold_timeouts;	/* past forward_hold_timeout */
	uint64_t	 cs_drop_spool_full;	/* max_peer_spool_bytes */
	uint64_t	 cs_drop_buffer_full;	/* hard cap while up */
	uint64_t	 cs_drop_forgotten;	/* peer forgotten or removed */
	uint64_t	 cs_drop_nomem;
	uint64_t	 cs_drop_expired;	/* 5.0 expiry passed, unsent */
	uint64_t	 cs_publisher_holds;	/* times publishers were held */
	uint64_t	 cs_acks_withheld;	/* their store batch failed */
};
const struct cluster_custody_stats *cluster_custody_get(
		    const struct cluster *);

/* Calls fn for each peer cluster status lists. */
void		 cluster_peers_each(struct cluster *,
		    void (*fn)(void *arg, const struct cluster_peer_info *),
		    void *arg);
/* Peers whose link is up now. */
size_t		 cluster_peers_up(struct cluster *);

/*
 * Broker side.  Each is a no-op for a NULL cluster, so the broker calls
 * them unconditionally.
 */
/* m was stored as retained here (or cleared, empty payload): replicate. */
void		 cluster_retained(struct cluster *, const struct msg *m);
/*
 * Client id[0..len) connected here: claim it in the cluster (other
 * nodes close their connection of that id).  With persistent set (clean
 * session 0), also asks the peers for the session (SESSION_TAKE); it is
 * merged into the local session of that id when it arrives.  With kept
 * set (clean session 0 and the session was here: never lost, or loaded
 * from data_dir), the claim says so (LINK_CLAIM_KEPT): a copy promoted
 * from its replica on another node comes back with only what was
 * queued there since.
 */
void		 cluster_claim(struct cluster *, const char *id, size_t len,
		    int persistent, int kept);

#endif
