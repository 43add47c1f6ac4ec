/*
 * Sessions: what the broker keeps for one client id (MQTT 3.1.1 section
 * 4.1) whether or not the client is connected:
 *
 *   - its subscriptions (filter -> granted QoS), a copy of what the
 *     router put in the trie, so they can be removed and counted;
 *   - the outgoing queue: messages routed to it and not yet sent,
 *     bounded by max_queued_messages and max_queued_bytes;
 *   - the outgoing in-flight window: QoS 1 and 2 PUBLISHes sent and not
 *     yet completed, at most max_inflight, in the order they were first
 *     sent (redelivery order on reconnect [MQTT-4.4.0-1]);
 *   - the incoming QoS 2 packet ids received and not yet released
 *     (PUBREL), so a duplicate PUBLISH is not delivered twice.
 *
 * A table maps client ids to sessions.  Pure: no I/O, clock or logging;
 * the connection that drives a session (client.c) encodes and sends.
 * Messages are held by reference (msg.h): a session takes one reference
 * per queued or in-flight delivery and drops it when the delivery ends.
 *
 * Accounting: every session of a broker adds what it holds to one
 * struct session_acct (its limits point to it): sessions, persistent
 * ones, subscriptions and their bytes, deliveries queued or in flight
 * and their bytes.  The totals have caps of their own, checked beside
 * each session's, so that many sessions together stay bounded too:
 * a subscription past a byte cap is refused (SUBACK 0x80 upstairs), a
 * delivery past one is dropped and counted by reason.
 */
#ifndef CAIRN_BROKER_SESSION_H
#define CAIRN_BROKER_SESSION_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "broker/core/msg.h"
#include "broker/core/sub_ref.h"
#include "common/bytes.h"

/* session_enqueue(): QoS 0 for an offline session, dropped by policy. */
#define SESSION_DROPPED_QOS0	1

/*
 * What a subscription costs against the byte caps: the filter and the
 * session's record of it.  The trie holds about as much again (its
 * levels); the caps count what a client chose, the RSS check in
 * t/integration/broker_caps.py states the overhead.
 */
#define SESSION_SUB_COST(len)	(sizeof(struct session_sub) + (len) + 1)

/*
 * MQTT 5.0 subscription options [MQTT-3.8.3.1] and identifier
 * [MQTT-3.8.2.1.2]; a 3.1.1 subscription is { qos } with the rest 0,
 * and behaves as before.
 */
struct sub_opts {
	uint8_t		qos;		/* granted, 0..2 */
	uint8_t		no_local;	/* not to the publisher's own id */
	uint8_t		rap;		/* retain as published */
	uint8_t		rh;		/* retain handling 0..2 (SUBSCRIBE) */
	uint32_t	sub_id;		/* 0: none, else 1..268435455 */
};
#define SUB_ID_MAX		268435455u	/* a variable byte integer */

/*
 * The subscription identifiers one delivery carries at most: a message
 * matching more of one session's overlapping subscriptions with ids
 * carries the first this many [MQTT-3.3.4-3 allows one PUBLISH with
 * all of them; a bound keeps the work of one message bounded].
 */
#define SESSION_MAX_SUB_IDS	8

/*
 * What one delivery of a message to a session is: the QoS (min of
 * granted and published), the RETAIN flag to send, and the matching
 * subscription identifiers.
 */
struct session_deliv {
	uint8_t		sd_qos;
	uint8_t		sd_retain;
	uint8_t		sd_nids;
	uint32_t	sd_ids[SESSION_MAX_SUB_IDS];
};

/* Why session_enqueue() last refused a delivery (CAIRN_ERR_LIMIT). */
enum session_drop {
	SESSION_DROP_NONE = 0,
	SESSION_DROP_MESSAGES,	/* the session's max_queued_messages */
	SESSION_DROP_BYTES,	/* the session's max_queued_bytes */
	SESSION_DROP_TOTAL,	/* every session's, max_queued_bytes_total */
	SESSION_DROP_EXPIRED,	/* its message expiry passed while queued */
};

/*
 * The totals of every session of one broker, kept by this module; the
 * caps (0: none) are the broker's to set.  Message bytes count each
 * delivery's msg_bytes() (a message shared by n sessions counts n
 * times: an upper bound of the memory, since the copies are shared).
 */
struct session_acct {
	size_t		sa_sessions;
	size_t		sa_persistent;		/* clean session 0 */
	size_t		sa_fixed_bytes;		/* structs and client ids */
	size_t		sa_subs;
	size_t		sa_sub_bytes;		/* SESSION_SUB_COST each */
	size_t		sa_max_sub_bytes;	/* cap on sa_sub_bytes */
	size_t		sa_msgs;		/* queued and in flight */
	size_t		sa_msg_bytes;
	size_t		sa_max_msg_bytes;	/* cap on sa_msg_bytes */
	uint64_t	sa_drop_messages;	/* by enum session_drop */
	uint64_t	sa_drop_bytes;
	uint64_t	sa_drop_total;
	uint64_t	sa_drop_expired;	/* expired while queued */
	uint64_t	sa_sub_refused;		/* at a subscription byte cap */
};

/*
 * What happened to a session, told to an observer (the cluster's
 * session replicas, broker/cluster/replica.c) as it happens, so that
 * one hook sees every change whichever path made it.
 */
enum session_ev {
	SESSION_EV_SUB = 1,	/* filter subscribed at qos (new or changed) */
	SESSION_EV_UNSUB,	/* filter unsubscribed */
	SESSION_EV_QUEUED,	/* o queued (its so_seq is new) */
	SESSION_EV_SENT,	/* o (QoS 1/2) got its packet id, in flight */
	SESSION_EV_RELEASED,	/* o (QoS 2) PUBREC'd: PUBREL goes now */
	SESSION_EV_DONE,	/* o is finished (acked, or QoS 0 sent) */
	SESSION_EV_CLEAN,	/* s_clean changed */
	SESSION_EV_FREE,	/* s is being freed */
	SESSION_EV_LEVEL,	/* s_v5, s_has_expiry or s_expiry changed */
	SESSION_EV_ONLINE,	/* a client came (s_client) or went
				   (s_offline_ms): session_set_client() */
};
struct session_out;
struct session;
struct session_obs {
	/* o: the delivery (QUEUED..DONE); filter, qos: SUB and UNSUB. */
	void	(*sob_cb)(void *arg, struct session *s, enum session_ev ev,
		    const struct session_out *o, struct bytes_view filter,
		    uint8_t qos);
	void	*sob_arg;
};

struct session_limits {
	size_t	sl_max_inflight;		/* >= 1 */
	size_t	sl_max_queued_messages;
	size_t	sl_max_queued_bytes;
	size_t	sl_max_sub_bytes;		/* per session; 0: none */
	int	sl_queue_qos0_offline;
	struct session_acct *sl_acct;		/* borrowed; NULL: no totals */
	/* Borrowed; NULL, or a NULL sob_cb: nobody listens. */
	const struct session_obs *sl_obs;
};

/* Where an outgoing delivery stands. */
enum session_out_state {
	SESSION_OUT_QUEUED = 1,	/* in the queue, no packet id yet */
	SESSION_OUT_PUBLISHED,	/* QoS 1/2 PUBLISH sent; await PUBACK/PUBREC */
	SESSION_OUT_RELEASED,	/* QoS 2 PUBREL sent; await PUBCOMP */
};

/* One delivery of a message to this session. */
struct session_out {
	TAILQ_ENTRY(session_out)	 so_entry;
	struct msg			*so_msg;	/* one reference, owned */
	enum session_out_state		 so_state;
	uint16_t			 so_id;		/* 0 while queued */
	uint8_t				 so_qos;	/* min(granted, published) */
	uint8_t				 so_retain;	/* the RETAIN flag to send */
	uint8_t				 so_nids;	/* of so_ids */
	uint64_t			 so_seq;	/* the session's count, from 1 */
	uint64_t			 so_store_seq;	/* its record in data_dir; 0: none */
	uint32_t			 so_ids[];	/* subscription ids */
};
TAILQ_HEAD(session_outq, session_out);

/* One subscription, by its whole filter ($share/... included). */
struct session_sub {
	TAILQ_ENTRY(session_sub)	 ss_entry;
	uint8_t				 ss_qos;	/* granted */
	uint8_t				 ss_no_local;	/* MQTT 5.0 options */
	uint8_t				 ss_rap;
	uint8_t				 ss_rh;
	uint32_t			 ss_sub_id;	/* 0: none */
	size_t				 ss_len;
	char				 ss_filter[];	/* NUL-terminated */
};
TAILQ_HEAD(session_subq, session_sub);

struct session {
	struct sub_ref		 s_ref;		/* the trie's value: SUB_SESSION */
	char			*s_id;		/* client id, NUL-terminated, owned */
	size_t			 s_id_len;
	struct session_limits	 s_lim;
	int			 s_clean;	/* the current or last connection's flag */
	void			*s_client;	/* the connection, NULL offline; borrowed */
	struct session_subq	 s_subs;
	size_t			 s_nsubs;
	size_t			 s_sub_bytes;	/* SESSION_SUB_COST of each */
	struct session_outq	 s_queue;	/* SESSION_OUT_QUEUED */
	size_t			 s_queued;
	size_t			 s_queued_bytes;
	struct session_outq	 s_inflight;	/* PUBLISHED or RELEASED, send order */
	size_t			 s_ninflight;
	size_t			 s_inflight_bytes;
	enum session_drop	 s_drop_reason;	/* the last refusal's */
	uint64_t		 s_offline_ms;	/* the broker's: when it went
						   offline (expiry); 0 online */
	/*
	 * MQTT 5.0 session expiry interval [MQTT-3.1.2-23], in seconds,
	 * from CONNECT (or a DISCONNECT's change) and s_has_expiry set;
	 * unset, the broker's persistent_client_expiration applies (3.1.1).
	 * SESSION_EXPIRY_NEVER: kept until taken over.
	 */
	uint32_t		 s_expiry;
	uint8_t			 s_has_expiry;
	uint8_t			 s_v5;		/* the last connection was 5.0 */
	uint16_t		 s_next_id;
	uint64_t		 s_next_seq;	/* so_seq of the last delivery */
	uint8_t			*s_in_qos2;	/* bitmap of 65536 ids, or NULL */
	size_t			 s_nin_qos2;
	uint64_t		 s_dropped;	/* deliveries dropped at a limit */
	uint64_t		 s_expired;	/* deliveries that expired queued */
	int			 s_drop_logged;	/* the broker's: one line per burst */
	char			*s_username;	/* last connection's, owned; for ACLs */
	/* The router's, for one route: deliver once, with the highest QoS. */
	uint64_t		 s_route_epoch;
	size_t			 s_route_hit;	/* the route's hit of s */
	struct session		*s_hnext;	/* the table's chain */
	int			 s_in_table;
	uint64_t		 s_store_id;	/* its records in data_dir; 0: none */
};

/*
 * A session for client id[0..len) with limits (copied; their sl_acct
 * is borrowed and counts the session until session_free()), clean
 * session 1, no subscriptions and nothing queued.  Borrows id (copied).
 * NULL on ENOMEM.  Free with session_free().
 */
struct session	*session_new(const char *id, size_t len,
		    const struct session_limits *);
/*
 * Drops every queued and in-flight reference and frees the
 * subscription list and the session.  The caller removes the
 * subscriptions from the router first and takes the session out of its
 * table.  Accepts NULL.
 */
void		 session_free(struct session *);
/* 1 if a connection is attached (s_client != NULL). */
int		 session_online(const struct session *);
/* Sets s_clean, keeping the count of persistent sessions. */
void		 session_set_clean(struct session *, int clean);
/*
 * The protocol level and session expiry interval (has_expiry 0: the
 * broker's persistent_client_expiration); an observer hears of a
 * change (SESSION_EV_LEVEL).
 */
void		 session_set_level(struct session *, int v5, int has_expiry,
		    uint32_t expiry);
/*
 * A client takes s (client not NULL: s_offline_ms 0), or leaves it
 * (NULL: offline from now_ms, the broker's ev_now() in ms); an
 * observer hears of it (SESSION_EV_ONLINE).
 */
void		 session_set_client(struct session *, void *client,
		    uint64_t now_ms);
/* What s holds, in bytes: fixed part, subscriptions, deliveries. */
size_t		 session_bytes(const struct session *);
/* "max_queued_messages", ... for s_drop_reason; never NULL. */
const char	*session_drop_name(enum session_drop);

/*
 * Queues one delivery of m at qos (0..2) with the given RETAIN bit,
 * taking a reference to m on success.  Returns 0, SESSION_DROPPED_QOS0
 * (QoS 0 for an offline session without sl_queue_qos0_offline; nothing
 * is kept), CAIRN_ERR_LIMIT (the queue is at max_queued_messages or
 * would pass max_queued_bytes, or every session's deliveries would pass
 * the total cap; s_dropped and the total's counter of that reason are
 * counted, s_drop_reason says which) or CAIRN_ERR_NOMEM.
 */
int		 session_enqueue(struct session *, struct msg *m, uint8_t qos,
		    uint8_t retain);
/* session_enqueue() of one delivery d (QoS, RETAIN, subscription ids). */
int		 session_enqueue_d(struct session *, struct msg *m,
		    const struct session_deliv *d);
/*
 * 1 if session_enqueue() of m would not be refused at a limit (the
 * session's queue or the total), else 0.  Changes and counts nothing.
 */
int		 session_room(const struct session *, const struct msg *m);
/*
 * The next delivery to send, taken off the queue, or NULL when the queue
 * is empty or its head is QoS 1/2 and the window is full.  A QoS 1/2
 * delivery gets a packet id not in flight and moves to the in-flight
 * list as SESSION_OUT_PUBLISHED (the session keeps it); a QoS 0 one is
 * the caller's, to free with session_out_free() once sent.
 */
struct session_out *session_next(struct session *);
/*
 * session_next() at now (monotonic ms): queued deliveries whose message
 * expired are dropped on the way (never sent: [MQTT-3.3.2-5]) and
 * counted in sa_drop_expired and s_expired.  session_next() is
 * session_next_at() that never expires anything.
 */
struct session_out *session_next_at(struct session *, uint64_t now);
/*
 * Drops every queued delivery of s whose message expired at now, and
 * returns how many (counted as above): for a session offline, whose
 * queue is not being sent.  O(queue).
 */
size_t		 session_expire_queue(struct session *, uint64_t now);
/*
 * 1 if session_next() would give a delivery now (the queue has one and
 * the window lets its QoS through), else 0.  Does not change s.
 */
int		 session_sendable(const struct session *);
/*
 * Takes the oldest delivery out of s (the first in flight, else the
 * first queued) for a session that moves to another node; it is the
 * caller's, to free with session_out_free().  NULL when s holds none.
 * The counts and totals follow.
 */
struct session_out *session_take_first(struct session *);
/*
 * Frees every delivery of s (in flight or queued) whose message m makes
 * drop(m, arg) say 1, as session_take_first() does (for a session about
 * to move: the observer is not told).  Returns how many.
 */
size_t		 session_take_if(struct session *,
		    int (*drop)(const struct msg *, void *), void *arg);
/*
 * Puts back a delivery as it stood on another node (a session replica
 * promoted here): SESSION_OUT_QUEUED at the end of the queue (as
 * session_enqueue(), caps and all), or PUBLISHED / RELEASED with packet
 * id `id` at the end of the in-flight list, even past max_inflight
 * (they were in flight there: the reconnecting client gets them again,
 * a PUBREL for a released one).  An id already in flight here makes it
 * queued instead.  d: its QoS, RETAIN and subscription identifiers.
 * 0, or session_enqueue()'s errors.  Also for a delivery read back
 * from data_dir.
 */
int		 session_restore(struct session *, struct msg *m,
		    const struct session_deliv *d, enum session_out_state st,
		    uint16_t id);
/* Frees a delivery session_next() gave away (QoS 0). Accepts NULL. */
void		 session_out_free(struct session_out *);

/*
 * The client's answer for an outgoing packet id.
 *   MQTT_PUBACK:  a QoS 1 delivery in flight is done and freed.
 *   MQTT_PUBREC:  a QoS 2 delivery moves to SESSION_OUT_RELEASED (also
 *                 when it already is: a repeated PUBREC); send PUBREL.
 *   MQTT_PUBCOMP: a released QoS 2 delivery is done and freed.
 * Returns 0, or CAIRN_ERR_NOENT when no delivery in flight has that id
 * in a state that takes this answer (the caller ignores it).
 */
int		 session_ack(struct session *, int type, uint16_t id);
/* In-flight deliveries in send order, for redelivery on reconnect. */
struct session_out *session_inflight_first(struct session *);
struct session_out *session_inflight_next(struct session_out *);

/*
 * Incoming QoS 2: a PUBLISH with packet id `id` arrived.  Returns 1 if
 * the id was not pending (deliver the message, then it is pending), 0
 * if it was (a duplicate: acknowledge only), or CAIRN_ERR_NOMEM.
 */
int		 session_in_qos2(struct session *, uint16_t id);
/* PUBREL for `id`: 0 if it was pending (no more), else CAIRN_ERR_NOENT. */
int		 session_in_pubrel(struct session *, uint16_t id);

/*
 * Records subscription `filter` at qos, replacing the QoS of an
 * existing one; *was_new (if not NULL) tells which.  Borrows filter
 * (copied).  0, CAIRN_ERR_LIMIT (a new one would pass the session's or
 * the total's subscription bytes; counted in sa_sub_refused) or
 * CAIRN_ERR_NOMEM.  The count limit (max_subscriptions) is the caller's.
 */
int		 session_sub_set(struct session *, struct bytes_view filter,
		    uint8_t qos, int *was_new);
/* session_sub_set() with every MQTT 5.0 option (all replaced). */
int		 session_sub_set_opts(struct session *, struct bytes_view filter,
		    const struct sub_opts *, int *was_new);
/* The options of a subscription. */
void		 session_sub_opts(const struct session_sub *, struct sub_opts *);
/*
 * 0 if `filter` is subscribed already or a new subscription of it fits
 * the byte caps, else CAIRN_ERR_LIMIT (counted as session_sub_set()
 * does), so that the router can refuse before touching its trie.
 */
int		 session_sub_room(struct session *, struct bytes_view filter);
/* Removes subscription `filter`: 0 or CAIRN_ERR_NOENT. */
int		 session_sub_del(struct session *, struct bytes_view filter);
/* The subscription with that filter, or NULL; borrowed. */
struct session_sub *session_sub_find(struct session *, struct bytes_view);

/*
 * Session expiry [MQTT-3.1.2-23]: 1 if s, offline since s_offline_ms
 * (the broker's clock, ms, nonzero), is due for removal at now, given
 * the broker's default for sessions without an interval of their own
 * (persistent_client_expiration, ms; 0: never).  A session online, or
 * one never offline, is never due.
 */
#define SESSION_EXPIRY_NEVER	UINT32_MAX
int		 session_expiry_due(const struct session *, uint64_t now,
		    uint64_t default_ms);

/*
 * Client id -> session.  The table borrows its sessions; freeing it
 * frees none of them.  Lookups cost O(1) on average; the hash is keyed
 * with `seed` so clients cannot choose colliding ids.
 */
struct session_table;

struct session_table *session_table_new(uint64_t seed);
void		 session_table_free(struct session_table *);
struct session	*session_table_find(struct session_table *, const char *id,
		    size_t len);
/* 0, CAIRN_ERR_EXIST (that id is in) or CAIRN_ERR_NOMEM. */
int		 session_table_add(struct session_table *, struct session *);
/* Takes s out if it is in; never fails. */
void		 session_table_remove(struct session_table *, struct session *);
size_t		 session_table_count(const struct session_table *);
/* Any session of the table, or NULL when empty (for teardown). */
struct session	*session_table_any(struct session_table *);
/*
 * Visits the sessions of at most nbuckets buckets, from where the last
 * call stopped (a cursor kept by the table, wrapping at the end), so
 * that a periodic sweep costs a bounded slice per call.  cb may take
 * the session it is given out of the table and free it, nothing else.
 * Returns the sessions visited.
 */
size_t		 session_table_sweep(struct session_table *, size_t nbuckets,
		    void (*cb)(struct session *, void *), void *arg);
/* The number of buckets: a full sweep is this many buckets. */
size_t		 session_table_buckets(const struct session_table *);

#endif
