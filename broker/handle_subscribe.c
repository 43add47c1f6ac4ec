/*
 * SUBSCRIBE -> SUBACK and UNSUBSCRIBE -> UNSUBACK (MQTT 3.1.1 sections
 * 3.8 and 3.10).  Each filter is granted min(requested, max_qos) or
 * refused with 0x80: over max_topic_levels, a $share filter with a bad
 * group or filter, a new one past max_subscriptions, or no memory.  The
 * SUBACK goes first, then the retained messages of each granted filter,
 * RETAIN set, at min(granted, published) QoS, also for a filter that
 * was already subscribed [MQTT-3.8.4-3].  Shared subscriptions get no
 * retained messages (as MQTT 5 rules for them).
 *
 * SUBSCRIBE is not checked against the ACL (mosquitto's acl_file
 * grants every subscription); each delivery is (broker_deliver()).
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "broker/mqtt_topic.h"
#include "common/err.h"
#include "common/log.h"

struct subscribe_retained {
	struct broker	*b;
	struct session	*s;
	uint8_t		 qos;
};

static void
subscribe_on_retained(struct msg *m, void *arg)
{
	struct subscribe_retained *sr = arg;
	uint8_t qos = m->m_qos < sr->qos ? m->m_qos : sr->qos;

	broker_deliver_retained(sr->b, sr->s, m, qos);
}

/* The SUBACK code for one filter, subscribing it when granted. */
static uint8_t
subscribe_one(struct client *c, struct bytes_view filter, uint8_t qos)
{
	struct broker *b = c->c_broker;
	const struct broker_conf *conf = b->b_conf;
	struct session *s = c->c_session;
	struct bytes_view group, real;
	size_t levels;
	int rc;

	levels = mqtt_topic_levels(filter);
	if (mqtt_topic_share_parse(filter, &group, &real) == 1)
		levels = mqtt_topic_levels(real);
	if (levels > conf->bc_max_topic_levels) {
		log_info("client %s: filter %.*s refused: over "
		    "max_topic_levels %u", c->c_id, (int)filter.len,
		    (const char *)filter.p, conf->bc_max_topic_levels);
		return MQTT_SUBACK_FAILURE;
	}
	if (session_sub_find(s, filter) == NULL &&
	    s->s_nsubs >= conf->bc_max_subscriptions) {
		log_info("client %s: filter %.*s refused: max_subscriptions "
		    "%u reached", c->c_id, (int)filter.len,
		    (const char *)filter.p, conf->bc_max_subscriptions);
		return MQTT_SUBACK_FAILURE;
	}
	if (qos > conf->bc_max_qos)
		qos = (uint8_t)conf->bc_max_qos;
	if ((rc = router_subscribe(b->b_router, s, filter, qos, NULL)) != 0) {
		log_info("client %s: filter %.*s refused: %s", c->c_id,
		    (int)filter.len, (const char *)filter.p,
		    rc == CAIRN_ERR_PROTO ? "bad $share group or filter" :
		    cairn_strerror(rc));
		return MQTT_SUBACK_FAILURE;
	}
	return qos;
}

void
handle_subscribe(struct client *c, const struct mqtt_subscribe *p)
{
	struct subscribe_retained sr;
	struct bytes_view list, filter, group, real;
	uint8_t *codes, qos;
	size_t i;

	if ((codes = malloc(p->count)) == NULL) {
		client_close(c, 1, "out of memory for SUBACK");
		return;
	}
	list = p->list;
	for (i = 0; i < p->count && mqtt_subscribe_next(&list, &filter, &qos);
	    i++)
		codes[i] = subscribe_one(c, filter, qos);
	if (send_suback(c, p->id, codes, p->count) != 0)
		goto done;
	sr.b = c->c_broker;
	sr.s = c->c_session;
	list = p->list;
	for (i = 0; i < p->count && mqtt_subscribe_next(&list, &filter, &qos);
	    i++) {
		if (codes[i] == MQTT_SUBACK_FAILURE ||
		    mqtt_topic_share_parse(filter, &group, &real) != 0)
			continue;
		sr.qos = codes[i];
		retain_match(c->c_broker->b_retain, filter,
		    subscribe_on_retained, &sr);
	}
done:
	free(codes);
}

void
handle_unsubscribe(struct client *c, const struct mqtt_subscribe *p)
{
	struct bytes_view list = p->list, filter;

	/* Unknown filters are fine: UNSUBACK all the same [MQTT-3.10.4-5]. */
	while (mqtt_unsubscribe_next(&list, &filter))
		(void)router_unsubscribe(c->c_broker->b_router, c->c_session,
		    filter);
	(void)send_ack(c, MQTT_UNSUBACK, p->id);
}
