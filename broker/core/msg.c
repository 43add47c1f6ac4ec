/*
 * Refcounted messages; see msg.h.  One malloc holds the struct, the
 * topic (NUL-terminated, for logs and the ACL check), the payload, the
 * carried properties and the publisher's client id (NUL-terminated).
 */
#include "broker/core/msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct msg *
msg_new_ex(const struct msg_args *a)
{
	struct msg *m;
	size_t size, parts[4], i;
	uint8_t *p;

	parts[0] = a->ma_topic.len;
	parts[1] = a->ma_payload.len;
	parts[2] = a->ma_props.len;
	parts[3] = a->ma_from.len;
	size = sizeof(*m) + 2;		/* two NULs */
	for (i = 0; i < 4; i++) {
		if (parts[i] > SIZE_MAX - size)
			return NULL;
		size += parts[i];
	}
	if ((m = malloc(size)) == NULL)
		return NULL;
	m->m_refs = 1;
	m->m_qos = a->ma_qos;
	m->m_retain = a->ma_retain;
	m->m_expire_at = a->ma_expire_at;
	m->m_retain_slot = SIZE_MAX;
	memset(m->m_spooled, 0, sizeof(m->m_spooled));
	p = (uint8_t *)(m + 1);
	m->m_topic = (char *)p;
	m->m_topic_len = a->ma_topic.len;
	if (a->ma_topic.len > 0)
		memcpy(p, a->ma_topic.p, a->ma_topic.len);
	p[a->ma_topic.len] = '\0';
	p += a->ma_topic.len + 1;
	m->m_payload = p;
	m->m_payload_len = a->ma_payload.len;
	if (a->ma_payload.len > 0)
		memcpy(p, a->ma_payload.p, a->ma_payload.len);
	p += a->ma_payload.len;
	m->m_props = p;
	m->m_props_len = a->ma_props.len;
	if (a->ma_props.len > 0)
		memcpy(p, a->ma_props.p, a->ma_props.len);
	p += a->ma_props.len;
	m->m_from = (char *)p;
	m->m_from_len = a->ma_from.len;
	if (a->ma_from.len > 0)
		memcpy(p, a->ma_from.p, a->ma_from.len);
	p[a->ma_from.len] = '\0';
	return m;
}

struct msg *
msg_new(struct bytes_view topic, struct bytes_view payload, uint8_t qos,
    uint8_t retain)
{
	struct msg_args a;

	memset(&a, 0, sizeof(a));
	a.ma_topic = topic;
	a.ma_payload = payload;
	a.ma_qos = qos;
	a.ma_retain = retain;
	return msg_new_ex(&a);
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
	return m->m_topic_len + m->m_payload_len + m->m_props_len +
	    m->m_from_len;
}

size_t
msg_alloc_size(const struct msg *m)
{
	return sizeof(*m) + 2 + msg_bytes(m);
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

struct bytes_view
msg_props(const struct msg *m)
{
	return bytes_view_of(m->m_props, m->m_props_len);
}

struct bytes_view
msg_from(const struct msg *m)
{
	return bytes_view_of(m->m_from, m->m_from_len);
}

int
msg_expired(const struct msg *m, uint64_t now)
{
	return m->m_expire_at != 0 && now >= m->m_expire_at;
}

uint32_t
msg_expiry_left(const struct msg *m, uint64_t now)
{
	uint64_t left;

	if (m->m_expire_at == 0)
		return 0;
	left = m->m_expire_at > now ? m->m_expire_at - now : 0;
	left = (left + 999) / 1000;
	if (left == 0)
		left = 1;
	return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

uint64_t
msg_expiry_left_ms(const struct msg *m, uint64_t now)
{
	if (m->m_expire_at == 0)
		return 0;
	return m->m_expire_at > now ? m->m_expire_at - now : 1;
}

uint64_t
msg_expire_at(uint64_t now, uint64_t left)
{
	if (left == 0)
		return 0;
	if (left > MSG_EXPIRY_MAX_MS)
		left = MSG_EXPIRY_MAX_MS;
	if (now > UINT64_MAX - left)
		return UINT64_MAX;
	return now + left;
}

int
msg_from_is(const struct msg *m, const char *id, size_t len)
{
	return m->m_from_len == len && len > 0 &&
	    memcmp(m->m_from, id, len) == 0;
}

int
msg_spool_mark(struct msg *m, uint64_t node)
{
	size_t i;

	for (i = 0; i < MSG_SPOOLED_MAX; i++) {
		if (m->m_spooled[i] == node)
			return 1;
		if (m->m_spooled[i] == 0) {
			m->m_spooled[i] = node;
			return 1;
		}
	}
	return 0;
}

int
msg_spooled_for(const struct msg *m, uint64_t node)
{
	size_t i;

	for (i = 0; i < MSG_SPOOLED_MAX && m->m_spooled[i] != 0; i++)
		if (m->m_spooled[i] == node)
			return 1;
	return 0;
}
