/*
 * The cluster's private header, shared by its files:
 *
 *	cluster.c	peers, links, the listener, redial, membership,
 *			status JSON
 *	cluster_sync.c	what flows on an UP link: the snapshot, routes,
 *			forwards and their acks, retained, claims, sessions,
 *			PEERS
 *	replica.c	session replicas: a session's changes streamed to
 *			its holder, promotion when its owner dies
 *	custody.c	forwards acked once queued, held for full
 *			subscribers, credit, publishers held
 *	cluster_core.c	the pure parts (cluster_core.h, replica_core.h)
 */
#ifndef CAIRN_BROKER_CLUSTER_INT_H
#define CAIRN_BROKER_CLUSTER_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "broker/cluster/cluster.h"
#include "broker/cluster/cluster_core.h"
#include "broker/cluster/link.h"
#include "broker/core/router.h"
#include "common/backoff.h"
#include "common/log.h"

/* glibc's sys/queue.h lacks it (BSD's has it). */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/* Room left in a frame for the fixed fields around a list. */
#define CLUSTER_FRAME_SLACK	1024

/*
 * Custody (custody.c): a QoS 1/2 forward received and not yet queued
 * for every local subscriber it matched, because one of them (online)
 * had a full queue.  Held in arrival order per peer; its FORWARD_ACK
 * goes once the last owed session took it.
 */
struct custody_owed {
	char		*co_id;		/* the session's client id, owned */
	size_t		 co_len;
	struct session_deliv co_deliv;	/* QoS, RETAIN, identifiers */
};

struct custody_held {
	TAILQ_ENTRY(custody_held) ch_entry;
	uint64_t	 ch_seq;
	struct msg	*ch_msg;	/* one reference, owned */
	uint8_t		*ch_groups;	/* the FORWARD's group list, owned */
	size_t		 ch_glen;
	uint16_t	 ch_ngroups;
	int		 ch_routed;	/* matched once; ch_owed is what is left */
	ev_tstamp	 ch_since;	/* loop time it first waited */
	struct custody_owed *ch_owed;
	size_t		 ch_nowed;
	size_t		 ch_capowed;
};
TAILQ_HEAD(custody_heldq, custody_held);

/*
 * A FORWARD_ACK owed once what it promises holds (custody.c): the
 * store's generation cp_gen durable (data_dir).
 */
struct custody_pend {
	uint64_t	 cp_seq;
	uint64_t	 cp_gen;	/* 0: no store to wait for */
	uint64_t	 cp_epoch;	/* replicas' (replica.c); 0: none */
};

/* A replica epoch's mark on one holder: acked once it took `target`. */
struct repl_mark {
	uint64_t	 rm_epoch;
	uint64_t	 rm_target;
};

struct peer {
	TAILQ_ENTRY(peer)	 p_entry;
	struct cluster		*p_cluster;
	char			*p_name;	/* "name@host", owned */
	struct sockaddr_storage	 p_ss;		/* where to dial */
	socklen_t		 p_sl;		/* 0: no address known */
	struct link		*p_link;	/* the UP link, or NULL */
	struct link		*p_dial;	/* our outbound link being set up */
	uint64_t		 p_link_gen;	/* counts UP links */
	struct router_remote	 p_rr;		/* its routes in the trie */
	struct ctab		 p_routes;	/* its filters; num: snapshot mark */
	uint64_t		 p_snap;	/* the snapshot being received */
	struct cluster_dedup	 p_dedup;	/* its forwards seen */
	struct cluster_fwdq	 p_fwdq;	/* our QoS 1/2 forwards to it */
	uint64_t		 p_dropped;	/* forwards lost at a limit */
	int			 p_drop_logged;
	struct backoff		 p_backoff;
	ev_timer		 p_redial_w;
	/*
	 * Away: its link dropped less than peer_grace ago.  Its routes
	 * stay, QoS 1/2 forwards to it wait in p_fwdq (the oldest dropped
	 * past max_forward_buffer, counted in p_away_dropped), QoS 0 ones
	 * are dropped; past the grace its routes and buffer go.
	 */
	int			 p_away;
	uint64_t		 p_away_dropped;
	uint64_t		 p_hash;	/* ring_hash() of p_name */
	int			 p_fwd_due;	/* c_fwd_w sends its buffer */
	/* Custody (custody.c): its forwards held here, in arrival order. */
	struct custody_heldq	 p_held;
	size_t			 p_nheld;
	size_t			 p_held_bytes;
	/* Its FORWARD_ACKs waiting for the store, in order (a ring). */
	struct custody_pend	*p_pend;
	size_t			 p_pend_head;
	size_t			 p_npend;
	size_t			 p_pend_cap;
	/*
	 * Replicas' acks on the current link (replica.c): REPL_* frames
	 * we sent it and it acked (REPL_ACK), frames we took from it and
	 * owe a REPL_ACK for; the epochs waiting on it (a ring).
	 */
	uint64_t		 p_repl_sent;
	uint64_t		 p_repl_acked;
	uint64_t		 p_repl_rcvd;
	int			 p_repl_dirty;	/* sent to in the open epoch */
	int			 p_rack_due;
	struct repl_mark	*p_marks;
	size_t			 p_marks_head;
	size_t			 p_nmarks;
	size_t			 p_marks_cap;
	/* Its buffer is past max_forward_buffer: publishers here wait. */
	int			 p_holding;
	uint64_t		 p_incarnation;	/* its CREDIT's; 0: none yet */
	/* Forward round trip (FORWARD to its ACK), smoothed; < 0: none yet. */
	double			 p_rtt_ms;
	ev_timer		 p_grace_w;
	/*
	 * Listed by `cluster status` only once its handshake completed, or
	 * when named by `peers` or `cluster join`: a node refused for a
	 * wrong cookie stays out of it.
	 */
	int			 p_ever_up;
	int			 p_explicit;
	/*
	 * When a discovery source (cluster_connect(), cluster_link_up(),
	 * PEERS) last named it or its link was up: a peer with no link,
	 * not explicit, unnamed for forget_after is forgotten.
	 */
	ev_tstamp		 p_seen;
	/*
	 * The snapshot going out on p_link in slices (cluster_sync.c):
	 * routes, retained, tombstones, claims, then the resends.  Each
	 * slice stops at SNAP_SLICE entries or when the link is full, and
	 * goes on at the next iteration (p_snap_w) or when the link drains.
	 */
	int			 p_snap_phase;		/* 0: none going */
	size_t			 p_snap_bucket;
	size_t			 p_snap_nbuckets;	/* table size at the start */
	struct retain_index_cursor *p_snap_cur;
	ev_idle			 p_snap_w;
};
TAILQ_HEAD(peer_list, peer);
TAILQ_HEAD(link_list, link);
struct session_move;			/* cluster_sync.c's */
struct replica;				/* replica.c's */
TAILQ_HEAD(session_move_list, session_move);
struct take_wait;			/* cluster_sync.c's */
TAILQ_HEAD(take_wait_list, take_wait);

struct cluster {
	struct broker		*c_broker;	/* borrowed */
	struct ev_loop		*c_loop;
	char			*c_self;	/* owned */
	char			*c_cookie;	/* owned */
	uint16_t		 c_port;
	int			 c_fd;		/* the listener, -1: none */
	ev_io			 c_accept_w;
	struct link_conf	 c_lconf;
	struct link_ops		 c_lops;
	struct peer_list	 c_peers;
	size_t			 c_npeers;
	size_t			 c_naway;	/* peers with p_away */
	/*
	 * While a peer is away, QoS 1/2 forwards to the others go at the
	 * end of the loop iteration (cluster_sync.c), once the routing of
	 * their message has noted every spool it went to.
	 */
	ev_prepare		 c_fwd_w;
	struct link_list	 c_links;	/* every link, any state */
	size_t			 c_nlinks;
	struct ctab		 c_routes;	/* local filter -> subscribers */
	struct ctab		 c_retained;	/* topic -> stamp, origin */
	struct cluster_tombs	 c_tombs;	/* cleared retained topics */
	struct ctab		 c_claims;	/* client id -> stamp, node */
	uint64_t		 c_last_stamp;	/* stamps never go back */
	struct bytes_w		 c_gbuf;	/* a FORWARD's group list */
	struct bytes_view	*c_gviews;	/* a received one, decoded */
	size_t			 c_capgviews;
	cluster_link_cb		 c_link_cb;
	void			*c_link_arg;
	cluster_resolve_cb	 c_resolve_cb;
	void			*c_resolve_arg;
	cluster_status_cb	 c_status_cb;
	void			*c_status_arg;
	int			 c_freeing;
	struct session_move_list c_moves;	/* sessions going out in slices */
	/* CONNACKs waiting for the peers' SESSION_DATA or SESSION_NONE. */
	struct take_wait_list	 c_takes;
	size_t			 c_ntakes;
	/* Strangers (CLUSTER.md): their one rate limit, and what we refused. */
	struct link_prelog	 c_prelog;	/* lines of inbound links before UP */
	struct log_rate		 c_refuselog;	/* connections refused at accept */
	uint64_t		 c_hs_refused;	/* accepted, closed at once: no slot */
	uint64_t		 c_hs_evicted;	/* slots taken back for a newcomer */
	/* Forward round trips, all peers (cluster_rtt_get()). */
	struct cluster_rtt	 c_rtt;
	struct replica		*c_repl;	/* replica.c's */
	/* Custody (custody.c). */
	uint64_t		 c_incarnation;	/* this run's, random, not 0 */
	ev_timer		 c_hold_w;	/* retries held forwards */
	size_t			 c_nheld;	/* held forwards, all peers */
	size_t			 c_nholding;	/* peers with p_holding set */
	struct ctab		 c_stuck;	/* client ids past forward_hold_timeout */
	struct cluster_custody_stats c_cst;
	/*
	 * Membership that sticks: after `cluster leave` no link is made or
	 * accepted until `cluster join`; a node removed by `cluster remove`
	 * is in c_banned (ce_num: its incarnation then, 0 unknown) until
	 * joined again or seen with another incarnation (restarted).
	 */
	int			 c_left;
	struct ctab		 c_banned;
	ev_timer		 c_forget_w;	/* forget_after sweeps */
	uint64_t		 c_forgotten;	/* peers forgotten so far */
};

/* cluster.c */
struct peer	*cluster_peer_find(struct cluster *, const char *name);
/* A stamp in ms of wall time, strictly above the last one given. */
uint64_t	 cluster_stamp(struct cluster *);
/* Sends m on every UP link. */
void		 cluster_broadcast(struct cluster *, const struct link_msg *m);
/* Drops every route peer p announced, from the trie and its table. */
void		 cluster_peer_routes_clear(struct peer *);
/* Sets p's resend buffer caps for its state: up, away (spool), gone. */
void		 cluster_peer_caps(struct cluster *, struct peer *p);
/* ms on the loop's clock, for tombstones' ages. */
uint64_t	 cluster_now_ms(struct cluster *);

/* custody.c */
/* c's custody state (c_hold_w, c_stuck); 0 or CAIRN_ERR_NOMEM. */
int		 custody_init(struct cluster *);
void		 custody_fini(struct cluster *);
/* A new peer's (peer_new()), and its held forwards dropped (peer_free()). */
void		 custody_peer_init(struct peer *);
void		 custody_peer_fini(struct cluster *, struct peer *);
/* p's link just came up: our CREDIT goes first. */
void		 custody_credit_send(struct cluster *, struct peer *);
/* A QoS 1/2 FORWARD from p (seq != 0): dedup, deliver or hold, ack. */
void		 custody_forward(struct cluster *, struct peer *,
		    const struct link_forward *f);
/*
 * p's resend buffer changed (push, ack, link up or down, forgotten):
 * hold or release the publishers here (broker_hold_publishers()).
 */
void		 custody_sender_check(struct cluster *, struct peer *);
/* data_dir: the store's generation gen is durable (bh_durable). */
void		 custody_durable(struct cluster *, uint64_t gen);
/* data_dir: the store's batch gen failed (bh_store_failed). */
void		 custody_store_failed(struct cluster *, uint64_t gen);
/* Replica epochs up to the given one are acked: send what waited. */
void		 custody_repl_done(struct cluster *);

/* cluster_sync.c */
/* The link to p just came up: snapshot, resends, PEERS. */
void		 cluster_sync_up(struct cluster *, struct peer *p);
/* One frame from an UP link to p. */
void		 cluster_sync_msg(struct cluster *, struct peer *p,
		    const struct link_msg *m);
/* p's link can take more: resend what it has not had. */
void		 cluster_sync_pump(struct cluster *, struct peer *p);
/* c_fwd_w: the forwards held back while the routing ran go now. */
void		 cluster_sync_on_fwd(struct ev_loop *, ev_prepare *, int);
/* A new peer's watchers (peer_new()). */
void		 cluster_sync_init(struct peer *p);
/* p is being freed or its link closed: the snapshot going out stops. */
void		 cluster_sync_down(struct cluster *, struct peer *p);
/* Ends every session move still going (cluster_free()). */
void		 cluster_sync_free(struct cluster *);
/*
 * The persistent session id here, offline, goes to p (as a SESSION_TAKE
 * from p would move it).
 */
void		 cluster_session_give(struct cluster *, struct peer *p,
		    struct bytes_view id);
/* p's link went or p is forgotten: it answers no SESSION_TAKE. */
void		 cluster_sync_peer_gone(struct cluster *, struct peer *p);
/* Sends PEERS to every UP peer (a link came up). */
void		 cluster_sync_peers_all(struct cluster *);
/* A received FORWARD's message (5.0 parts, expiry re-based here). */
struct msg	*cluster_forward_msg(const struct link_forward *f);
/* The router's hooks. */
void		 cluster_on_forward(struct router_remote *, struct msg *m,
		    const struct bytes_view *groups, size_t ngroups,
		    void *arg);
void		 cluster_on_sub(void *arg, struct bytes_view filter, int delta);

/*
 * replica.c: session replicas (CLUSTER.md, "Session replicas"): each
 * persistent session of this node has a standby copy on one peer, the
 * holder, placed by the hash ring over the UP peers (replica_core.h);
 * this node streams every change of the session to it as it happens
 * (REPL_* frames), and holds the replicas of its peers' sessions.  When
 * an owner's link goes down, the replicas held of its sessions become
 * local offline sessions here (promoted): their routes come back at
 * once, so what is published meanwhile is queued, and a client that
 * connects anywhere gets the session by the usual SESSION_TAKE.
 *
 * The replicas of cluster c; sets the broker's session observer.  NULL
 * on ENOMEM.  replica_free() clears the observer (accepts NULL).
 */
struct replica	*replica_new(struct cluster *c);
void		 replica_free(struct replica *);

/* p's link came up: the ring changes, some replicas move to it. */
void		 replica_peer_up(struct cluster *, struct peer *p);
/*
 * p's link went down, or p is forgotten (gone = 1, p leaves the list
 * after the call): the ring changes, our replicas on p go elsewhere,
 * and the replicas held of p's sessions are promoted.
 */
void		 replica_peer_down(struct cluster *, struct peer *p, int gone);
/*
 * The replica epoch an ack made now waits for (0: none): every REPL_*
 * frame sent so far must be acked by its holder first (REPL_ACK).
 */
uint64_t	 replica_ack_epoch(struct cluster *);
/*
 * The epoch a local publisher's PUBACK/PUBREC made now waits for: 0
 * when no replica frame went out since replica_sent() said `sent`
 * (before the PUBLISH was routed), else the epoch closed now.
 */
uint64_t	 replica_pub_epoch(struct cluster *, uint64_t sent);
/* REPL_* frames sent to every holder so far (this run). */
uint64_t	 replica_sent(const struct cluster *);
/* Every epoch up to this one is acked (or let go). */
uint64_t	 replica_done_epoch(const struct cluster *);
/* REPL_ACK n from p. */
void		 replica_acked(struct cluster *, struct peer *p, uint64_t n);
/* A REPL_* frame from p. */
void		 replica_recv(struct cluster *, struct peer *p,
		    const struct link_msg *m);
/*
 * Client id wants its session (a CLAIM or SESSION_TAKE): a replica of
 * it whose owner is not UP is promoted now.  1 if a replica of id is
 * held here still (its owner is up), else 0.
 */
int		 replica_wanted(struct cluster *, struct bytes_view id);
/*
 * A CLAIM of id by p (UP) made at stamp was applied: a session promoted
 * here and still offline goes to it (its node came back, or the client
 * reconnected there).  kept: p says it had the session all along
 * (LINK_CLAIM_KEPT).
 */
void		 replica_claimed(struct cluster *, struct peer *p,
		    struct bytes_view id, uint64_t stamp, int kept);
/* 1 if a replica of id is held here (no side effect). */
int		 replica_holds(struct cluster *, struct bytes_view id);
/* A link drained: replicas waiting for room go on. */
void		 replica_pump(struct cluster *);
/* Appends `"replicas":{...}` (no comma) for cluster status. */
void		 replica_status_json(struct cluster *, struct bytes_w *w);

#endif
