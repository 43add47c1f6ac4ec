/*
 * Session replicas, the pure parts (CLUSTER.md, "Session replicas"):
 *
 *   - placement: the node that holds the standby replica of a
 *     persistent session is the owner of the client id on the hash ring
 *     (agent/ring.h) over the UP peers of the session's node, itself
 *     excluded, so every node with the same peers places the same way
 *     and a change of members moves only the replicas it must;
 *   - the store a holder keeps: one replica per client id (the owner's
 *     subscriptions and deliveries, by the owner's per-session seq),
 *     changed by the REPL_* frames, bounded in bytes (max_replica_bytes:
 *     a message past it is dropped and counted, the replica marked
 *     incomplete).
 *
 * Pure: no I/O, clock or logging.
 */
#ifndef CAIRN_BROKER_REPLICA_CORE_H
#define CAIRN_BROKER_REPLICA_CORE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "agent/ring.h"
#include "broker/cluster/cluster_core.h"
#include "broker/cluster/link_codec.h"
#include "broker/core/msg.h"

/*
 * Makes r the ring of the members up[0..n) other than self (self may be
 * NULL).  0 or ring_set()'s error (r unchanged then).
 */
int		 replica_ring_set(struct ring *r, const char *self,
		    const char *const *up, size_t n);
/* The holder of client id[0..len)'s replica, NULL with no peer.  Borrowed. */
const char	*replica_holder(const struct ring *r, const char *id,
		    size_t len);

/* One delivery of a replica, in seq order. */
struct rmsg {
	TAILQ_ENTRY(rmsg)	 rm_entry;
	uint64_t		 rm_seq;
	struct msg		*rm_msg;	/* one reference */
	uint8_t			 rm_qos;
	uint8_t			 rm_retain;
	uint8_t			 rm_state;	/* LINK_REPL_QUEUED..RELEASED */
	uint16_t		 rm_pid;
	uint8_t			 rm_nids;	/* subscription identifiers */
	uint32_t		 rm_ids[LINK_MAX_SUB_IDS];
};
TAILQ_HEAD(rmsgq, rmsg);

struct rsub {
	TAILQ_ENTRY(rsub)	 rs_entry;
	uint8_t			 rs_qos;
	uint8_t			 rs_no_local;	/* MQTT 5.0 options */
	uint8_t			 rs_rap;
	uint8_t			 rs_rh;
	uint32_t		 rs_sub_id;
	size_t			 rs_len;
	char			 rs_filter[];	/* NUL-terminated */
};
TAILQ_HEAD(rsubq, rsub);

struct rsess {
	struct ctab_ent		*r_ent;		/* id; ce_aux: the owner node */
	struct rsubq		 r_subs;
	size_t			 r_nsubs;
	struct rmsgq		 r_msgs;
	size_t			 r_nmsgs;
	size_t			 r_bytes;	/* counted in rs_bytes */
	uint64_t		 r_dropped;	/* messages past the cap */
	uint8_t			 r_flags;	/* LINK_SESS_* (REPL_SESSION) */
	uint32_t		 r_expiry;	/* with LINK_SESS_EXPIRY */
	/* rstore_apply()'s clock (ms) when the client left the owner, as
	 * the owner said (LINK_SESS_OFFLINE); 0: online, or not said. */
	uint64_t		 r_offline_at;
};

struct rstore {
	struct ctab	 rs_tab;	/* client id -> struct rsess (ce_ptr) */
	size_t		 rs_bytes;	/* every replica's */
	size_t		 rs_max_bytes;	/* 0: none */
	uint64_t	 rs_dropped;	/* messages past rs_max_bytes */
	uint64_t	 rs_refused;	/* replicas not made: past the cap */
	uint64_t	 rs_stale;	/* frames for no replica, or another owner's */
};

/* 0 or CAIRN_ERR_NOMEM.  Free with rstore_fini(). */
int		 rstore_init(struct rstore *, uint64_t seed, size_t max_bytes);
void		 rstore_fini(struct rstore *);
/*
 * Applies one REPL_* frame from node `owner`.  REPL_SESSION makes the
 * replica of its id anew (any other owner's of that id goes: the
 * session moved); the others apply to a replica of that owner only
 * (else counted in rs_stale and ignored).  0, CAIRN_ERR_LIMIT (at the
 * byte cap: what did not fit is dropped and counted, the rest applied)
 * or CAIRN_ERR_NOMEM.  now: CLOCK_MONOTONIC ms (clock_ms()), from which
 * a message's expiry left is counted again.
 */
int		 rstore_apply(struct rstore *, const char *owner,
		    const struct link_msg *m, uint64_t now);
/* The replica of id, or NULL. */
struct rsess	*rstore_get(struct rstore *, const char *id, size_t len);
/* A replica's client id and owner node (NUL-terminated, borrowed). */
const char	*rsess_id(const struct rsess *);
const char	*rsess_owner(const struct rsess *);
/* Removes and frees one replica. */
void		 rstore_del(struct rstore *, struct rsess *);
/* Replicas held; messages held in all of them. */
size_t		 rstore_count(const struct rstore *);
size_t		 rstore_msgs(const struct rstore *);

#endif
