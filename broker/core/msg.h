/*
 * Messages: one copy of a PUBLISH's topic and payload, shared by every
 * session queue it is routed to, the retained store and the cluster
 * later, through a reference count.  The QoS and retain flag a message
 * was published with are kept; what a receiver gets (its QoS, DUP,
 * RETAIN, packet id) is per delivery and lives with the delivery
 * (struct session_out).  Pure: no I/O, no logging.  Not thread-safe.
 *
 * MQTT 5.0 adds, inside the same allocation:
 *   - m_props: the PUBLISH's properties that travel with the message
 *     unchanged (payload format indicator, content type, response topic,
 *     correlation data, user properties, in the order received), encoded
 *     as on the wire without the property-length prefix.  Never a topic
 *     alias, a subscription identifier nor the message expiry interval:
 *     those are per delivery.  Empty for a 3.1.1 publish.
 *   - m_from: the publisher's client id, so that a subscription with no
 *     local [MQTT-3.8.3-3] skips it, here and on other nodes.
 *   - m_expire_at: when the message expires [MQTT-3.3.2-5], in ms of
 *     CLOCK_MONOTONIC (clock_ms()); 0 = never.  Whoever sends it writes
 *     what is left (msg_expiry_left()); a queued copy past it is dropped.
 */
#ifndef CAIRN_BROKER_MSG_H
#define CAIRN_BROKER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define MSG_SPOOLED_MAX	2

struct msg {
	unsigned int	 m_refs;	/* owners; freed at 0 */
	uint8_t		 m_qos;		/* as published, 0..2 */
	uint8_t		 m_retain;	/* as published */
	size_t		 m_topic_len;
	size_t		 m_payload_len;
	size_t		 m_props_len;
	size_t		 m_from_len;
	uint64_t	 m_expire_at;	/* monotonic ms; 0: never */
	size_t		 m_retain_slot;	/* the retained store's (retain.c) */
	char		*m_topic;	/* NUL-terminated, inside the allocation */
	uint8_t		*m_payload;	/* inside the allocation */
	uint8_t		*m_props;	/* inside the allocation */
	char		*m_from;	/* NUL-terminated, inside the allocation */
	/*
	 * The cluster's: nodes (ring_hash() of their names, 0: none) that
	 * get this message from a spool as well, for it was routed to them
	 * while they were away (CLUSTER.md, "Session replicas").
	 */
	uint64_t	 m_spooled[MSG_SPOOLED_MAX];
};

/* What msg_new_ex() copies into a message; every view is borrowed. */
struct msg_args {
	struct bytes_view	ma_topic;
	struct bytes_view	ma_payload;
	struct bytes_view	ma_props;	/* carried properties, or empty */
	struct bytes_view	ma_from;	/* publisher's client id, or empty */
	uint8_t			ma_qos;
	uint8_t			ma_retain;
	uint64_t		ma_expire_at;	/* monotonic ms; 0: never */
};

/* The largest m_expire_at offset honoured: MQTT's u32 seconds, in ms. */
#define MSG_EXPIRY_MAX_MS	((uint64_t)UINT32_MAX * 1000)

/*
 * A message with one reference (the caller's), holding copies of every
 * view of a in a single allocation.  NULL on ENOMEM or when the sizes
 * overflow.
 */
struct msg	*msg_new_ex(const struct msg_args *a);
/* msg_new_ex() with no properties, no publisher and no expiry. */
struct msg	*msg_new(struct bytes_view topic, struct bytes_view payload,
		    uint8_t qos, uint8_t retain);
/* Takes one more reference; returns m. */
struct msg	*msg_ref(struct msg *m);
/* Drops one reference, freeing the message at the last.  Accepts NULL. */
void		 msg_unref(struct msg *m);
/*
 * Bytes a queued copy counts against max_queued_bytes: topic, payload,
 * properties and publisher id.
 */
size_t		 msg_bytes(const struct msg *m);
/* What the one allocation of m holds (struct included). */
size_t		 msg_alloc_size(const struct msg *m);
/* Views of the message's parts; valid while it is held. */
struct bytes_view msg_topic(const struct msg *m);
struct bytes_view msg_payload(const struct msg *m);
struct bytes_view msg_props(const struct msg *m);
struct bytes_view msg_from(const struct msg *m);

/* 1 if m has an expiry and now (monotonic ms) is at or past it. */
int		 msg_expired(const struct msg *m, uint64_t now);
/*
 * The message expiry interval to send at now: the seconds left, rounded
 * up (so a message is never sent with 0 left), or 0 when m has no
 * expiry.  Call it for a message msg_expired() says is live.
 */
uint32_t	 msg_expiry_left(const struct msg *m, uint64_t now);
/*
 * The ms left at now for the cluster link (relative, so that it keeps
 * counting down on the receiving node's clock): 0 when m has no expiry,
 * at least 1 otherwise.
 */
uint64_t	 msg_expiry_left_ms(const struct msg *m, uint64_t now);
/*
 * The m_expire_at for an expiry of `left` ms from now (0: never), capped
 * at MSG_EXPIRY_MAX_MS; never 0 when left > 0.
 */
uint64_t	 msg_expire_at(uint64_t now, uint64_t left);
/* 1 if m was published by client id `id` (for no local), else 0. */
int		 msg_from_is(const struct msg *m, const char *id, size_t len);
/*
 * Notes that node (a ring_hash(), not 0) gets m from a spool as well;
 * past MSG_SPOOLED_MAX nodes the rest are not noted.  1 if it is noted.
 */
int		 msg_spool_mark(struct msg *m, uint64_t node);
/* 1 if node was noted by msg_spool_mark(). */
int		 msg_spooled_for(const struct msg *m, uint64_t node);

#endif
