/*
 * The router: the subscription trie of this node and the one function
 * that routes a message to every matching subscriber.
 *
 * The trie's values are struct sub_ref pointers (sub_ref.h):
 *
 *   SUB_SESSION  a local session; the entry's opts is the granted QoS.
 *   SUB_SHARED   a $share/GROUP/FILTER group, one trie entry at FILTER
 *                for all its members: local sessions, and the cluster
 *                nodes that announce the same $share filter.  Each
 *                message goes to one member, once per cluster: round
 *                robin among the sessions that are online and the nodes
 *                (or, when none is, the next session, which queues it if
 *                it is persistent).  A node picked gets the message
 *                through the forward hook with the group's filter, and
 *                its router_route_local() picks one of its own sessions.
 *   SUB_REMOTE   a cluster node (struct router_remote, embedded in the
 *                cluster's peer): router_route() hands the message to the
 *                forward hook once per matching node, however many of
 *                its filters match.  router_route_local() skips them:
 *                a message forwarded by a peer is delivered here only.
 *
 * Overlapping subscriptions (MQTT 3.1.1 section 4.7.2, as mosquitto's
 * default allow_duplicate_messages false): a session whose filters
 * overlap ("a/+" and "a/#") gets one copy, at the highest QoS granted by
 * the matching filters (capped by the published QoS).  A shared group's
 * pick is a delivery of its own, besides any ordinary subscription of
 * the same session.
 *
 * MQTT 5.0 options (struct sub_opts): a subscription with no local does
 * not match a message whose m_from is the session's client id (the
 * others of the session still may); the one copy carries RETAIN if any
 * matching subscription has retain as published, and the identifiers
 * of the matching subscriptions (MQTT 5.0 3.3.4 lets one PUBLISH carry
 * them all; at most SESSION_MAX_SUB_IDS).  Identifiers are local: the
 * cluster never sees them.
 *
 * Pure: no I/O, no logging.  Sessions are borrowed; the router never
 * frees them.
 */
#ifndef CAIRN_BROKER_ROUTER_H
#define CAIRN_BROKER_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/core/msg.h"
#include "broker/core/session.h"
#include "common/bytes.h"

struct router;

/*
 * Receives one delivery from router_route(): session s gets m as d
 * says: d->sd_qos (min of granted and published), d->sd_retain (m's
 * RETAIN where a matching subscription has retain as published, else
 * 0), d->sd_ids (the matching subscriptions' identifiers).  m, s and d
 * are borrowed for the call (take a reference to keep m).  It must not
 * call router_route() nor change the router's subscriptions of any
 * session other than s.
 */
typedef void	(*router_deliver_cb)(struct session *s, struct msg *m,
		    const struct session_deliv *d, void *arg);

/* A cluster node's entry in the trie (SUB_REMOTE); the owner embeds it. */
struct router_remote {
	struct sub_ref	rr_ref;		/* router_remote_init() sets the kind */
	uint64_t	rr_epoch;	/* the router's: one forward per route */
	int		rr_away;	/* set by the cluster: its link is down,
					   so not picked for shared groups (its
					   plain routes still forward) */
};

/*
 * Receives one forward from router_route(): node rr has a route that
 * matches m, or was picked for shared groups: groups[0..ngroups) are
 * their "$share/G/F" filters (ngroups may be 0), for rr to serve with
 * one of its own members each.  Everything is borrowed for the call;
 * the same rules as router_deliver_cb, and it must not change the
 * nodes' routes.
 */
typedef void	(*router_forward_cb)(struct router_remote *rr, struct msg *m,
		    const struct bytes_view *groups, size_t ngroups,
		    void *arg);
/*
 * Told of every local subscription added (delta 1) or removed (-1),
 * with its whole filter ($share/... included), borrowed for the call;
 * the cluster counts them to announce a filter on its first subscriber
 * and withdraw it on its last.  Must not change the router.
 */
typedef void	(*router_sub_cb)(void *arg, struct bytes_view filter,
		    int delta);

/* An empty router; key: 16 bytes for the trie's hash.  NULL on ENOMEM. */
struct router	*router_new(const uint8_t key[16]);
/* Frees the router and its groups, not the sessions.  Accepts NULL. */
void		 router_free(struct router *);

/*
 * Subscribes session s to `filter` (a valid filter, $share/... allowed)
 * at granted qos, in the trie and in the session's list; an existing
 * subscription gets the new QoS.  *was_new (if not NULL) tells which.
 * Borrows filter.  Returns 0, CAIRN_ERR_PROTO (a $share filter with a
 * bad group or filter), CAIRN_ERR_LIMIT (the trie's limits, or a new
 * filter past the session's or every session's subscription bytes:
 * session_sub_room()) or CAIRN_ERR_NOMEM; on failure nothing changed.
 */
int		 router_subscribe(struct router *, struct session *s,
		    struct bytes_view filter, uint8_t qos, int *was_new);
/*
 * router_subscribe() with MQTT 5.0 options (struct sub_opts; replaced
 * whole on an existing subscription).  Also CAIRN_ERR_PROTO for no local
 * on a $share filter [MQTT-3.8.3-4], CAIRN_ERR_INVAL for a QoS or retain
 * handling over 2 or an identifier over SUB_ID_MAX.
 */
int		 router_subscribe_opts(struct router *, struct session *s,
		    struct bytes_view filter, const struct sub_opts *o,
		    int *was_new);
/*
 * 1 if a subscription just made (was_new: it did not exist before) is
 * sent the retained messages its filter matches: by retain handling 0
 * always, 1 if new, 2 never [MQTT-3.3.1-9..11]; never for a $share
 * filter [MQTT-4.8.2].  Retained messages sent for a SUBSCRIBE carry
 * RETAIN 1 whatever retain as published says.
 */
int		 router_sub_gets_retained(struct bytes_view filter,
		    const struct sub_opts *o, int was_new);
/* Removes one subscription of s: 0 or CAIRN_ERR_NOENT. */
int		 router_unsubscribe(struct router *, struct session *s,
		    struct bytes_view filter);
/* Removes every subscription of s (clean session end). */
void		 router_unsubscribe_all(struct router *, struct session *s);

/*
 * Routes m to every subscriber whose filter matches m's topic: calls
 * deliver once per local delivery (see above) and returns the number of
 * deliveries.  Not reentrant.
 */
size_t		 router_route(struct router *, struct msg *m,
		    router_deliver_cb deliver, void *arg);
/*
 * The nodes the last router_route() (or _local(): 0) handed its message
 * to through the forward hook: with its return, whether anyone matched
 * (MQTT 5.0's "no matching subscribers" costs no second walk).
 */
size_t		 router_last_forwards(const struct router *);

/*
 * Installs the cluster's hooks (either may be NULL; arg borrowed).
 */
void		 router_set_hooks(struct router *, router_forward_cb fwd,
		    router_sub_cb sub, void *arg);
void		 router_remote_init(struct router_remote *);
/*
 * Adds node rr's route for `filter` (a valid filter): 0 (also when it
 * was there), CAIRN_ERR_PROTO, CAIRN_ERR_LIMIT or CAIRN_ERR_NOMEM.  For
 * $share/G/F, rr becomes a member of that group (in the trie at F, apart
 * from a route F of the same node).  Borrows filter; rr stays until
 * router_remote_del().
 */
int		 router_remote_add(struct router *, struct bytes_view filter,
		    struct router_remote *rr);
/* Removes that route: 0 or CAIRN_ERR_NOENT. */
int		 router_remote_del(struct router *, struct bytes_view filter,
		    struct router_remote *rr);
/*
 * As router_route() for local subscribers only: for a message a peer
 * forwarded, which is never forwarded again.  Of the shared groups,
 * only those whose "$share/G/F" filter is in groups[0..ngroups) (the
 * ones the sender picked this node for) get it, each at one of its
 * sessions here; groups may be NULL when ngroups is 0.
 */
size_t		 router_route_local(struct router *, struct msg *m,
		    const struct bytes_view *groups, size_t ngroups,
		    router_deliver_cb deliver, void *arg);

/* Subscriptions held (session filters plus group memberships). */
size_t		 router_count(const struct router *);
/* Of those, the $share/GROUP/FILTER ones (local members of groups). */
size_t		 router_shared_count(const struct router *);

#endif
