/*
 * The cluster's pure parts, kept apart from the links so that they can
 * be tested without sockets (t/unit/broker/check_cluster_core.c):
 *
 *   - ctab: a string-keyed hash table (filters, topics, client ids)
 *     with a number, an owned string and a borrowed pointer per entry:
 *     route refcounts, a peer's announced filters, retained stamps,
 *     claims;
 *   - route refcounts: announce a filter on its first local subscriber,
 *     withdraw it on its last;
 *   - the receiver's dedup window for forward sequence numbers;
 *   - last-writer-wins for retained messages and claims;
 *   - the sender's bounded resend buffer of QoS 1/2 forwards;
 *   - tombstones of cleared retained topics, bounded and expiring.
 *
 * Every store here keeps its bytes (ctab: entries, keys and aux
 * strings; the resend buffer: messages and entries) so that the caps
 * can be in bytes and the status can show them.
 *
 * No I/O, clock, logging or libev.
 */
#ifndef CAIRN_BROKER_CLUSTER_CORE_H
#define CAIRN_BROKER_CLUSTER_CORE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "broker/core/msg.h"
#include "common/bytes.h"

struct ctab_ent {
	struct ctab_ent	*ce_next;	/* the bucket's chain */
	uint64_t	 ce_num;	/* a count, a stamp, a mark */
	char		*ce_aux;	/* owned string (an origin), or NULL */
	void		*ce_ptr;	/* borrowed */
	size_t		 ce_len;
	char		 ce_key[];	/* NUL-terminated */
};

struct ctab {
	struct ctab_ent	**ct_buckets;
	size_t		  ct_nbuckets;	/* a power of two */
	size_t		  ct_count;
	uint64_t	  ct_seed;
	size_t		  ct_bytes;	/* entries, keys, aux strings */
	size_t		  ct_sweep;	/* ctab_sweep()'s next bucket */
};

/* An empty table; 0 or CAIRN_ERR_NOMEM.  Free with ctab_fini(). */
int		 ctab_init(struct ctab *, uint64_t seed);
void		 ctab_fini(struct ctab *);
struct ctab_ent	*ctab_get(const struct ctab *, struct bytes_view key);
/*
 * The entry for key, made (num 0, no aux, no ptr) if missing; *made
 * (if not NULL) says which.  Borrows key (copied).  NULL on ENOMEM.
 */
struct ctab_ent	*ctab_put(struct ctab *, struct bytes_view key, int *made);
/* Removes and frees e (an entry of this table). */
void		 ctab_del(struct ctab *, struct ctab_ent *e);
/* Replaces e's aux (e of table t) with a copy of s; 0 or CAIRN_ERR_NOMEM. */
int		 ctab_set_aux(struct ctab *t, struct ctab_ent *e, const char *s);
/*
 * Calls cb for each entry; cb may ctab_del() the entry it is given,
 * nothing else.  Stops at cb's first nonzero return and returns it.
 */
int		 ctab_foreach(struct ctab *, int (*cb)(struct ctab_ent *,
		    void *), void *arg);
/*
 * A slice of ctab_foreach(): the entries of the buckets from *bucket on,
 * until at least max entries were given or the table ends; *bucket is
 * left past the last bucket done.  1 when the table is done, 0 when
 * more is left, or cb's first nonzero return (<0 or >1 only: cb returns
 * 0 to go on).  A walk across slices sees every entry present from its
 * start to its end at least once as long as ct_nbuckets does not change
 * (compare it between slices and start again when it did).
 */
int		 ctab_foreach_slice(struct ctab *, size_t *bucket, size_t max,
		    int (*cb)(struct ctab_ent *, void *), void *arg);
/*
 * Removes the entries for which stale() returns 1, in at most nbuckets
 * buckets from where the last call stopped (wrapping), so that a table
 * is pruned in bounded slices as it is used.  stale() must not change
 * the table.  Returns the entries removed.
 */
size_t		 ctab_sweep(struct ctab *, size_t nbuckets,
		    int (*stale)(const struct ctab_ent *, void *), void *arg);

/*
 * A local subscription to filter came (delta 1) or went (-1).  Returns
 * 1 when the filter must be announced (its first subscriber), -1 when
 * withdrawn (its last), 0 otherwise, or CAIRN_ERR_NOMEM (nothing
 * changed; an add only).  A removal of an unknown filter is 0.  Mind
 * that CAIRN_ERR_NOMEM is -1 too: tell them apart by delta.
 */
int		 cluster_route_count(struct ctab *routes,
		    struct bytes_view filter, int delta);

/*
 * Forward sequence numbers seen from one peer: the highest and a
 * window of the 64 below it.
 */
struct cluster_dedup {
	uint64_t	cd_high;	/* 0: none yet */
	uint64_t	cd_bits;	/* bit i: cd_high - 1 - i seen */
};

/*
 * 1 if seq is new (and records it), 0 if it was seen or is older than
 * the window (treated as seen: the sender resends in order, so a seq
 * that far behind was delivered).  Sequence numbers start at 1.
 */
int		 cluster_dedup_check(struct cluster_dedup *, uint64_t seq);

/*
 * 1 if the write (stamp_a, origin_a) wins over (stamp_b, origin_b):
 * a later stamp, or the same stamp and a greater origin name (bytewise),
 * so every node picks the same one.  Also the rule for claims: the
 * newest connection wins.
 */
int		 cluster_lww_wins(uint64_t stamp_a, const char *origin_a,
		    uint64_t stamp_b, const char *origin_b);

/* One QoS 1/2 forward waiting for its FORWARD_ACK. */
struct cluster_fwd {
	TAILQ_ENTRY(cluster_fwd) cf_entry;
	uint64_t	 cf_seq;
	struct msg	*cf_msg;	/* one reference, owned */
	uint8_t		 cf_qos;
	uint64_t	 cf_sent_gen;	/* link generation it went out on */
	double		 cf_sent_at;	/* loop time (s) it last went out */
	uint8_t		*cf_groups;	/* FORWARD's group list, owned */
	size_t		 cf_glen;
	uint16_t	 cf_ngroups;	/* 0: none */
};
TAILQ_HEAD(cluster_fwdq_head, cluster_fwd);

/*
 * The resend buffer of one peer, in seq order, at most cq_max entries
 * and cq_max_bytes bytes (CLUSTER_FWD_COST each).
 *
 * Credit (CLUSTER.md, "Custody"): on the link of generation cq_gen the
 * receiver takes at most cq_credit forwards and cq_credit_bytes bytes
 * sent and not yet acknowledged (cq_infl, cq_infl_bytes; a forward
 * bigger than the byte credit goes alone).  Sends are in seq order:
 * cq_next is the first entry not sent on this link, so that finding
 * the next one to send costs O(1) however many wait for their ack.
 * No credit (0, until the link's CREDIT arrives): nothing goes.
 */
struct cluster_fwdq {
	struct cluster_fwdq_head cq_list;
	size_t		 cq_n;
	size_t		 cq_max;
	uint64_t	 cq_next_seq;
	size_t		 cq_bytes;
	size_t		 cq_max_bytes;	/* 0: no byte cap */
	uint64_t	 cq_gen;	/* the link's; 0: none yet */
	struct cluster_fwd *cq_next;	/* first unsent on cq_gen, NULL: none */
	size_t		 cq_credit;
	uint64_t	 cq_credit_bytes;
	size_t		 cq_infl;
	size_t		 cq_infl_bytes;
};

/* What one forward costs against max_forward_buffer_bytes. */
#define CLUSTER_FWD_COST(m)	(sizeof(struct cluster_fwd) + msg_bytes(m))

/* An empty buffer of at most max entries; no byte cap until set. */
void		 cluster_fwdq_init(struct cluster_fwdq *, size_t max,
		    uint64_t first_seq);
/* Sets the byte cap (0: none); what is held stays. */
void		 cluster_fwdq_set_max_bytes(struct cluster_fwdq *,
		    size_t max_bytes);
/* 1 if pushing m would pass cq_max or cq_max_bytes, else 0. */
int		 cluster_fwdq_full(const struct cluster_fwdq *,
		    const struct msg *m);
/* Drops every entry's message reference. */
void		 cluster_fwdq_fini(struct cluster_fwdq *);
/*
 * Appends m (taking a reference) with the next seq; returns the entry,
 * or NULL when full (cluster_fwdq_full(): CAIRN_ERR_LIMIT in *err) or
 * out of memory.
 */
struct cluster_fwd *cluster_fwdq_push(struct cluster_fwdq *, struct msg *m,
		    uint8_t qos, int *err);
/*
 * Gives f a copy of the shared groups it serves (link_forward.groups:
 * n encoded items), resent with it.  0 or CAIRN_ERR_NOMEM (f unchanged).
 */
int		 cluster_fwd_set_groups(struct cluster_fwd *f,
		    struct bytes_view list, uint16_t n);
/* FORWARD_ACK seq: frees that entry; 0 or CAIRN_ERR_NOENT. */
int		 cluster_fwdq_ack(struct cluster_fwdq *, uint64_t seq);
/*
 * A new link (generation gen, counting up from 1) carries the forwards:
 * nothing is in flight on it, every entry is to be sent again from the
 * oldest, and no credit until the link's CREDIT (cluster_fwdq_credit()).
 */
void		 cluster_fwdq_link(struct cluster_fwdq *, uint64_t gen);
/* The receiver's CREDIT on the current link: forwards (>= 1), bytes. */
void		 cluster_fwdq_credit(struct cluster_fwdq *, size_t forwards,
		    uint64_t bytes);
/*
 * The next entry to send on the current link if the credit lets it go
 * now, else NULL (all sent, or out of credit).  Borrowed.
 */
struct cluster_fwd *cluster_fwdq_sendable(const struct cluster_fwdq *);
/* f (what cluster_fwdq_sendable() gave) went out: it takes credit. */
void		 cluster_fwdq_sent(struct cluster_fwdq *, struct cluster_fwd *f);

/*
 * Frees the oldest entry (an away peer's buffer is full: the newest
 * matter more); 1 if there was one, else 0.
 */
int		 cluster_fwdq_drop_oldest(struct cluster_fwdq *);
/*
 * Frees f, an entry of q (its message expired: not sent again); the
 * seqs go on, and the receiver's dedup takes the gap.
 */
void		 cluster_fwdq_drop(struct cluster_fwdq *, struct cluster_fwd *f);
/*
 * Frees every entry; the seqs go on from where they were, so that the
 * peer's dedup window never takes a new forward for an old one.
 * Returns how many were dropped.
 */
size_t		 cluster_fwdq_clear(struct cluster_fwdq *);

/*
 * Tombstones: cleared retained topics with the (stamp, origin) of the
 * clear, so that a clear made on one side of a netsplit wins over an
 * older retained message of the other side after the heal (last writer
 * wins, as for the messages).  At most ct_max, the oldest dropped
 * first; each expires ttl ms after it was made (then a peer that still
 * holds the old message can bring it back: a split longer than the ttl
 * is not reconciled for clears).
 */
struct cluster_tomb {
	TAILQ_ENTRY(cluster_tomb) ctb_entry;
	struct ctab_ent	*ctb_ent;	/* its entry: topic, stamp, origin */
	uint64_t	 ctb_at;	/* when made (caller's clock, ms) */
};
TAILQ_HEAD(cluster_tomb_head, cluster_tomb);

struct cluster_tombs {
	struct ctab		 ctt_tab;	/* topic -> tomb (ce_ptr) */
	struct cluster_tomb_head ctt_list;	/* oldest first */
	size_t			 ctt_max;	/* 0: none kept */
	uint64_t		 ctt_ttl;	/* ms */
	size_t			 ctt_max_bytes;	/* of ctt_tab; 0: no cap */
};

/* 0 or CAIRN_ERR_NOMEM.  Free with cluster_tombs_fini(). */
int		 cluster_tombs_init(struct cluster_tombs *, size_t max,
		    uint64_t ttl_ms, uint64_t seed);
/*
 * Caps the tombstones' bytes too (topics can be 64 KiB: max entries
 * alone do not bound them); the oldest go first past it.  0: no cap.
 */
void		 cluster_tombs_set_max_bytes(struct cluster_tombs *,
		    size_t max_bytes);
/* What the tombstones hold, in bytes (entries, topics, origins). */
size_t		 cluster_tombs_bytes(const struct cluster_tombs *);
void		 cluster_tombs_fini(struct cluster_tombs *);
/*
 * Records the clear of topic at (stamp, origin) made at now (replacing
 * any tombstone of topic), dropping the oldest past max.  0, or
 * CAIRN_ERR_NOMEM (nothing changed), or CAIRN_ERR_LIMIT (max is 0).
 */
int		 cluster_tombs_put(struct cluster_tombs *,
		    struct bytes_view topic, uint64_t stamp,
		    const char *origin, uint64_t now);
/* topic's tombstone (ce_num: stamp, ce_aux: origin), or NULL. */
struct ctab_ent	*cluster_tombs_get(const struct cluster_tombs *,
		    struct bytes_view topic);
/* Forgets topic's tombstone (the topic was set again); 1 if there was. */
int		 cluster_tombs_del(struct cluster_tombs *,
		    struct bytes_view topic);
/* Drops the tombstones made more than ttl before now; returns how many. */
size_t		 cluster_tombs_expire(struct cluster_tombs *, uint64_t now);

#endif
