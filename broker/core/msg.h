/*
 * Messages: one copy of a PUBLISH's topic and payload, shared by every
 * session queue it is routed to, the retained store and the cluster
 * later, through a reference count.  The QoS and retain flag a message
 * was published with are kept; what a receiver gets (its QoS, DUP,
 * RETAIN, packet id) is per delivery and lives with the delivery
 * (struct session_out).  Pure: no I/O, no logging.  Not thread-safe.
 */
#ifndef CAIRN_BROKER_MSG_H
#define CAIRN_BROKER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct msg {
	unsigned int	 m_refs;	/* owners; freed at 0 */
	uint8_t		 m_qos;		/* as published, 0..2 */
	uint8_t		 m_retain;	/* as published */
	size_t		 m_topic_len;
	size_t		 m_payload_len;
	char		*m_topic;	/* NUL-terminated, inside the allocation */
	uint8_t		*m_payload;	/* inside the allocation */
};

/*
 * A message with one reference (the caller's), holding copies of topic
 * and payload in a single allocation.  Borrows both views.  NULL on
 * ENOMEM or when topic and payload sizes overflow.
 */
struct msg	*msg_new(struct bytes_view topic, struct bytes_view payload,
		    uint8_t qos, uint8_t retain);
/* Takes one more reference; returns m. */
struct msg	*msg_ref(struct msg *m);
/* Drops one reference, freeing the message at the last.  Accepts NULL. */
void		 msg_unref(struct msg *m);
/* Bytes a queued copy counts against max_queued_bytes: topic + payload. */
size_t		 msg_bytes(const struct msg *m);
/* Views of the message's topic and payload; valid while it is held. */
struct bytes_view msg_topic(const struct msg *m);
struct bytes_view msg_payload(const struct msg *m);

#endif
