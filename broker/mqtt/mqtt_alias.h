/*
 * MQTT 5.0 topic aliases a server sets on one connection (3.3.2.3.4):
 * the table of topic -> alias of what was already sent, so that the
 * next PUBLISH of a topic carries an empty topic name and the alias.
 *
 * Policy: assign until full, then send the full topic.  An alias, once
 * given to a topic, keeps it for the life of the connection; a topic
 * that finds the table full (max aliases, or MQTT_ALIAS_OUT_BYTES of
 * topics) goes out whole, as it would with no aliases.  Why not LRU:
 * a replacement costs as many bytes as the full topic (it has to carry
 * it) plus the alias, a stream over more topics than aliases would
 * replace on nearly every message and gain nothing, and a replacement
 * means an allocation and a free on the delivery path; with this
 * policy a connection allocates at most max topic copies in its life.
 *
 * The lookup is one hash of the topic and a probe of an open-addressing
 * table of at least twice max slots; nothing is ever removed, so no
 * tombstones.  Pure: no sockets, clock, logging or globals.
 */
#ifndef CAIRN_BROKER_MQTT_ALIAS_H
#define CAIRN_BROKER_MQTT_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* A connection's aliased topics hold at most this many bytes in all. */
#define MQTT_ALIAS_OUT_BYTES	(16 * 1024)

struct mqtt_alias_out;

/*
 * A table for up to max aliases (1..65535): one allocation, topic
 * copies come with mqtt_alias_out_add().  NULL when max is 0 or memory
 * runs out.  Free with mqtt_alias_out_free().
 */
struct mqtt_alias_out *mqtt_alias_out_new(uint16_t max);
/* Frees t and its topic copies; NULL is fine. */
void	mqtt_alias_out_free(struct mqtt_alias_out *t);

/*
 * The alias for topic (borrowed).  A topic already in the table: its
 * alias, *fresh = 0 (send an empty topic name with it).  A new topic
 * with room left: the alias it would get, *fresh = 1 (send the topic
 * with it, then mqtt_alias_out_add() once it is sent).  No room, or an
 * empty topic: 0 (send the topic, no alias).
 */
uint16_t mqtt_alias_out_lookup(const struct mqtt_alias_out *t,
	    struct bytes_view topic, int *fresh);
/*
 * Records topic (copied) under alias, which must be the one
 * mqtt_alias_out_lookup() just gave it fresh.  0, CAIRN_ERR_INVAL (not
 * that alias) or CAIRN_ERR_NOMEM (t unchanged: the topic simply goes
 * out whole next time; a client that was sent the alias anyway is only
 * told it again with another topic, which the spec allows).
 */
int	mqtt_alias_out_add(struct mqtt_alias_out *t, struct bytes_view topic,
	    uint16_t alias);
/* Aliases given so far, and the bytes of their topics. */
uint16_t mqtt_alias_out_count(const struct mqtt_alias_out *t);
size_t	mqtt_alias_out_bytes(const struct mqtt_alias_out *t);

#endif
