/*
 * What the broker's stores hold, in counts and bytes, for the control
 * socket's `cluster status` (a "memory" object) and $SYS (sys.c): one
 * snapshot taken from the counters each store keeps as it changes
 * (session_acct, the cluster's tables, the resend buffers), so taking
 * it costs O(connections + peers), never a walk of the sessions.
 *
 * Bytes are what each store counts against its cap (broker/conf keys):
 * an upper bound of the heap its data takes, not of malloc's overhead
 * nor of the trie's share of subscriptions.  The heap line (glibc's
 * mallinfo2) is what malloc has handed out in total.
 */
#ifndef CAIRN_BROKER_STATS_H
#define CAIRN_BROKER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct broker;

struct broker_mem {
	size_t		bm_connections;		/* open, any state */
	size_t		bm_max_connections;
	size_t		bm_input_bytes;		/* partial packets */
	size_t		bm_max_input_bytes;
	size_t		bm_output_bytes;	/* unwritten */
	size_t		bm_max_output_bytes;
	size_t		bm_sessions;
	size_t		bm_online;		/* a connection attached */
	size_t		bm_persistent;		/* clean session 0 */
	size_t		bm_max_sessions;
	size_t		bm_max_persistent;
	size_t		bm_session_bytes;	/* structs and client ids */
	size_t		bm_subs;
	size_t		bm_sub_bytes;
	size_t		bm_max_sub_bytes;	/* in total */
	uint64_t	bm_sub_refused;		/* at a byte cap */
	size_t		bm_queued;		/* queued and in flight */
	size_t		bm_queued_bytes;
	size_t		bm_max_queued_bytes;	/* in total */
	uint64_t	bm_drop_messages;	/* max_queued_messages */
	uint64_t	bm_drop_bytes;		/* max_queued_bytes */
	uint64_t	bm_drop_total;		/* max_queued_bytes_total */
	uint64_t	bm_drop_output;		/* max_output_buffer (QoS 0) */
	uint64_t	bm_drop_output_total;	/* max_output_bytes_total */
	uint64_t	bm_drop_expired;	/* message expiry, while queued */
	uint64_t	bm_retained_expired;	/* retained, at their expiry */
	uint64_t	bm_expired;		/* persistent_client_expiration */
	uint64_t	bm_persistent_refused;	/* max_persistent_sessions */
	size_t		bm_retained;
	size_t		bm_retained_bytes;	/* messages and index */
	uint64_t	bm_retained_refused;	/* at any retained limit */
	/* The cluster's (all 0 without one). */
	int		bm_cluster;
	size_t		bm_claims;
	size_t		bm_claim_bytes;
	size_t		bm_tombstones;
	size_t		bm_tombstone_bytes;
	size_t		bm_routes;		/* local filters announced */
	size_t		bm_route_bytes;
	size_t		bm_peer_routes;		/* peers' filters */
	size_t		bm_peer_route_bytes;
	size_t		bm_forward;		/* resend buffers, all peers */
	size_t		bm_forward_bytes;
	uint64_t	bm_forward_dropped;
	/* malloc's own count; bm_heap_ok 0 where there is none. */
	int		bm_heap_ok;
	size_t		bm_heap;
};

/* Fills *m from b's counters (borrowed for the call); cannot fail. */
void	broker_mem_get(struct broker *b, struct broker_mem *m);
/*
 * Appends one JSON object (no newline) with the snapshot to w:
 *
 *   {"connections":{"count":3,"max":1047000,"input_bytes":0,
 *    "max_input_bytes":268435456,"output_bytes":0,
 *    "max_output_bytes":536870912},
 *    "sessions":{"count":5,"online":3,"offline":2,"persistent":2,
 *     "max":1147000,"max_persistent":100000,"bytes":1520},
 *    "subscriptions":{"count":4,"bytes":300,"max_bytes":268435456,
 *     "refused":0},
 *    "queued":{"messages":0,"bytes":0,"max_bytes":536870912,
 *     "dropped":{"max_queued_messages":0,"max_queued_bytes":0,
 *     "max_queued_bytes_total":0,"max_output_buffer":0,
 *     "max_output_bytes_total":0,"expired":0}},
 *    "expired":0,"persistent_refused":0,
 *    "retained":{"count":1,"bytes":900,"refused":0,"expired":0},
 *    "claims":{"count":3,"bytes":290},
 *    "tombstones":{"count":0,"bytes":0},
 *    "routes":{"local":2,"local_bytes":120,"peers":2,"peers_bytes":120},
 *    "forward":{"messages":0,"bytes":0,"dropped":0},
 *    "heap":{"current":1234567}}
 *
 * The cluster's members (claims, tombstones, routes, forward) only with
 * a cluster; heap only where malloc tells.  0, or w's error.
 */
int	broker_stats_json(struct broker *b, struct bytes_w *w);

#endif
