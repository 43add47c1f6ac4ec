/*
 * Refcounted messages; see msg.h.  One malloc holds the struct, the
 * topic (NUL-terminated, for logs and the ACL check) and the payload.
 */
#include "broker/core/msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct msg *
msg_new(struct bytes_view topic, struct bytes_view payload, uint8_t qos,
    uint8_t retain)
{
	struct msg *m;
	size_t size;

	if (topic.len > SIZE_MAX - sizeof(*m) - 1 ||
	    payload.len > SIZE_MAX - sizeof(*m) - 1 - topic.len)
		return NULL;
	size = sizeof(*m) + topic.len + 1 + payload.len;
	if ((m = malloc(size)) == NULL)
		return NULL;
	m->m_refs = 1;
	m->m_qos = qos;
	m->m_retain = retain;
	m->m_topic = (char *)(m + 1);
	m->m_topic_len = topic.len;
	if (topic.len > 0)
		memcpy(m->m_topic, topic.p, topic.len);
	m->m_topic[topic.len] = '\0';
	m->m_payload = (uint8_t *)m->m_topic + topic.len + 1;
	m->m_payload_len = payload.len;
	if (payload.len > 0)
		memcpy(m->m_payload, payload.p, payload.len);
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->m_refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m == NULL)
		return;
	if (--m->m_refs == 0)
		free(m);
}

size_t
msg_bytes(const struct msg *m)
{
	return m->m_topic_len + m->m_payload_len;
}

struct bytes_view
msg_topic(const struct msg *m)
{
	return bytes_view_of(m->m_topic, m->m_topic_len);
}

struct bytes_view
msg_payload(const struct msg *m)
{
	return bytes_view_of(m->m_payload, m->m_payload_len);
}
