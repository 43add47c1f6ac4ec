/*
 * MQTT topic names and topic filters (MQTT 3.1.1 section 4.7): the
 * validity rules, the reference matcher, and `$share/GROUP/FILTER`
 * parsing.  The codec validates with these, and the topic trie must
 * agree with mqtt_topic_match() on every input.
 *
 * A topic is split into levels at each '/'; "a//b" has three levels, the
 * middle one empty, and "/a" has two.  Wildcards: '+' stands for exactly
 * one level, '#' for the rest of the levels including none ("a/#" matches
 * "a").  Pure: no allocation, every view is borrowed.
 */
#ifndef CAIRN_BROKER_MQTT_TOPIC_H
#define CAIRN_BROKER_MQTT_TOPIC_H

#include <stddef.h>

#include "common/bytes.h"

/* A topic is a 16-bit length-prefixed string on the wire. */
#define MQTT_TOPIC_MAX		65535
/* The prefix of a shared subscription filter. */
#define MQTT_SHARE_PREFIX	"$share/"

/*
 * 1 if `name` may be a PUBLISH topic name (or a will topic): 1 to 65535
 * bytes of strict UTF-8 with no U+0000 [MQTT-1.5.3-2], and no '+' or '#'
 * [MQTT-3.3.2-2].  Else 0.
 */
int	mqtt_topic_name_valid(struct bytes_view name);

/*
 * 1 if `filter` may be a SUBSCRIBE or UNSUBSCRIBE topic filter: 1 to
 * 65535 bytes of strict UTF-8 with no U+0000; '#' only as the whole last
 * level [MQTT-4.7.1-2]; '+' only as a whole level [MQTT-4.7.1-3].  Else 0.
 * A `$share/...` filter is valid here as an ordinary filter; see
 * mqtt_topic_share_parse() for its stricter shape.
 */
int	mqtt_topic_filter_valid(struct bytes_view filter);

/*
 * 1 if `filter` matches `name`, else 0.  The reference matcher: the trie
 * must agree with it.  A name that starts with '$' is not matched by a
 * filter that starts with '+' or '#' [MQTT-4.7.2-1].  `filter` must be
 * valid (mqtt_topic_filter_valid()) and `name` a topic name; on other
 * input the result is 0 or 1 but means nothing.  Borrows both views.
 */
int	mqtt_topic_match(struct bytes_view filter, struct bytes_view name);

/* Number of levels: one more than the number of '/', 0 for an empty view. */
size_t	mqtt_topic_levels(struct bytes_view topic);

/*
 * Splits a shared subscription filter `$share/GROUP/FILTER`.
 *   1: `filter` starts with "$share/"; *group views GROUP (non-empty, no
 *      '/', '+' or '#') and *real views FILTER (a valid filter).
 *   0: `filter` does not start with "$share/"; outputs unchanged.
 *   CAIRN_ERR_PROTO: it starts with "$share/" but GROUP or FILTER is
 *      missing or invalid; outputs unchanged.
 * Both outputs view into `filter`.
 */
int	mqtt_topic_share_parse(struct bytes_view filter,
	    struct bytes_view *group, struct bytes_view *real);

#endif
