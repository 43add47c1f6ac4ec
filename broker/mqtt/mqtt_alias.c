/*
 * The server's outbound topic alias table of one connection (see
 * mqtt_alias.h for the policy).  Layout, in one allocation:
 *
 *	struct mqtt_alias_out
 *	e[0..max]	one entry per alias (e[0] unused): hash, topic
 *	slot[0..mask]	open addressing over the hash: an alias, 0 empty
 *
 * The slot count is a power of two of at least 2 x max, so that a probe
 * ends at an empty slot after a few steps on average even when the
 * table is full; entries are never removed.
 */
#include "broker/mqtt/mqtt_alias.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct mqtt_alias_ent {
	uint32_t	 ae_hash;
	uint16_t	 ae_len;	/* a topic is at most 65535 bytes */
	char		*ae_topic;	/* owned, not NUL-terminated */
};

struct mqtt_alias_out {
	uint16_t		 ao_max;
	uint16_t		 ao_n;		/* e[1..ao_n] are in use */
	size_t			 ao_mask;	/* slots - 1 */
	size_t			 ao_bytes;	/* sum of ae_len */
	struct mqtt_alias_ent	*ao_e;
	uint16_t		*ao_slot;
};

/* FNV-1a, 32 bits: the topics are short and the table small. */
static uint32_t
alias_hash(struct bytes_view v)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < v.len; i++) {
		h ^= v.p[i];
		h *= 16777619u;
	}
	return h;
}

struct mqtt_alias_out *
mqtt_alias_out_new(uint16_t max)
{
	struct mqtt_alias_out *t;
	size_t nslot = 4, esz, ssz;

	if (max == 0)
		return NULL;
	while (nslot < 2 * (size_t)max)
		nslot <<= 1;
	esz = ((size_t)max + 1) * sizeof(struct mqtt_alias_ent);
	ssz = nslot * sizeof(uint16_t);
	if ((t = calloc(1, sizeof(*t) + esz + ssz)) == NULL)
		return NULL;
	t->ao_max = max;
	t->ao_mask = nslot - 1;
	t->ao_e = (struct mqtt_alias_ent *)(t + 1);
	t->ao_slot = (uint16_t *)((char *)t->ao_e + esz);
	return t;
}

void
mqtt_alias_out_free(struct mqtt_alias_out *t)
{
	uint16_t i;

	if (t == NULL)
		return;
	for (i = 1; i <= t->ao_n; i++)
		free(t->ao_e[i].ae_topic);
	free(t);
}

/* The slot of topic (hash h): its alias's, or the empty one it ends at. */
static size_t
alias_probe(const struct mqtt_alias_out *t, struct bytes_view topic,
    uint32_t h)
{
	const struct mqtt_alias_ent *e;
	size_t i = h & t->ao_mask;
	uint16_t a;

	while ((a = t->ao_slot[i]) != 0) {
		e = &t->ao_e[a];
		if (e->ae_hash == h && e->ae_len == topic.len &&
		    memcmp(e->ae_topic, topic.p, topic.len) == 0)
			break;
		i = (i + 1) & t->ao_mask;
	}
	return i;
}

uint16_t
mqtt_alias_out_lookup(const struct mqtt_alias_out *t, struct bytes_view topic,
    int *fresh)
{
	uint16_t a;

	*fresh = 0;
	if (t == NULL || topic.len == 0 || topic.len > UINT16_MAX)
		return 0;
	if ((a = t->ao_slot[alias_probe(t, topic, alias_hash(topic))]) != 0)
		return a;
	if (t->ao_n >= t->ao_max ||
	    topic.len > MQTT_ALIAS_OUT_BYTES - t->ao_bytes)
		return 0;
	*fresh = 1;
	return (uint16_t)(t->ao_n + 1);
}

int
mqtt_alias_out_add(struct mqtt_alias_out *t, struct bytes_view topic,
    uint16_t alias)
{
	struct mqtt_alias_ent *e;
	uint32_t h;
	size_t i;
	char *copy;

	if (t == NULL || topic.len == 0 || topic.len > UINT16_MAX ||
	    t->ao_n >= t->ao_max || alias != t->ao_n + 1 ||
	    topic.len > MQTT_ALIAS_OUT_BYTES - t->ao_bytes)
		return CAIRN_ERR_INVAL;
	h = alias_hash(topic);
	i = alias_probe(t, topic, h);
	if (t->ao_slot[i] != 0)
		return CAIRN_ERR_INVAL;		/* already has one */
	if ((copy = malloc(topic.len)) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(copy, topic.p, topic.len);
	e = &t->ao_e[alias];
	e->ae_hash = h;
	e->ae_len = (uint16_t)topic.len;
	e->ae_topic = copy;
	t->ao_slot[i] = alias;
	t->ao_n = alias;
	t->ao_bytes += topic.len;
	return 0;
}

uint16_t
mqtt_alias_out_count(const struct mqtt_alias_out *t)
{
	return t == NULL ? 0 : t->ao_n;
}

size_t
mqtt_alias_out_bytes(const struct mqtt_alias_out *t)
{
	return t == NULL ? 0 : t->ao_bytes;
}
