/*
 * Retained messages (MQTT 3.1.1 section 3.3.1.3): the last message
 * published with RETAIN on each topic, sent to each new subscription
 * whose filter matches.  A retained PUBLISH with an empty payload clears
 * its topic.  At most max_messages topics are kept.
 *
 * A hash table of topic -> message.  A filter without wildcards is one
 * lookup; a filter with '+' or '#' scans every retained topic with
 * mqtt_topic_match(), which is paid per SUBSCRIBE, never per PUBLISH.
 * Pure: no I/O, no logging.
 */
#ifndef CAIRN_BROKER_RETAIN_H
#define CAIRN_BROKER_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/msg.h"
#include "common/bytes.h"

struct retain;

/* Called once per retained message matching a filter; m is borrowed. */
typedef void	(*retain_match_cb)(struct msg *m, void *arg);

/*
 * An empty store of at most max_messages topics; the hash is keyed with
 * seed.  NULL on ENOMEM.  Free with retain_free().
 */
struct retain	*retain_new(size_t max_messages, uint64_t seed);
/* Drops every message's reference and frees the store.  Accepts NULL. */
void		 retain_free(struct retain *);

/*
 * Stores m as its topic's retained message, taking a reference and
 * dropping the old one's, or clears the topic when m's payload is empty.
 * Returns 0, CAIRN_ERR_LIMIT (a new topic past max_messages: not
 * stored) or CAIRN_ERR_NOMEM.
 */
int		 retain_set(struct retain *, struct msg *m);
/*
 * Calls cb for each retained message whose topic `filter` matches (a
 * valid filter, not $share), and returns how many.  cb must not change
 * the store.
 */
size_t		 retain_match(struct retain *, struct bytes_view filter,
		    retain_match_cb cb, void *arg);
/* The retained message of exactly `topic`, or NULL; borrowed. */
struct msg	*retain_get(struct retain *, struct bytes_view topic);
size_t		 retain_count(const struct retain *);

#endif
