/*
 * PUBLISH from a client and the acks of both QoS flows (MQTT 3.1.1
 * section 4.3):
 *
 *   receiver side  QoS 1: route, PUBACK.  QoS 2: route the first time a
 *                  packet id is seen, PUBREC every time; PUBREL forgets
 *                  the id and is answered PUBCOMP (method B of 4.3.3:
 *                  delivered once, no copy kept until PUBREL).
 *   sender side    PUBACK ends a QoS 1 delivery; PUBREC moves a QoS 2
 *                  one to "released" and is answered PUBREL; PUBCOMP
 *                  ends it.  Each end frees a slot of the window, so the
 *                  queue is pumped.
 *
 * A PUBLISH the ACL refuses (and any to $SYS or $share topics) is
 * acknowledged as usual and dropped, as mosquitto does for 3.1.1.
 */
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/log.h"

/* Per packet, so a client can repeat it at will: first, then a count. */
static struct log_rate publish_nomem_lr = LOG_RATE_INIT(10);

/* Clients may not write the broker's own topics. */
static int
publish_allowed(struct client *c, struct bytes_view topic)
{
	if ((topic.len >= 4 && memcmp(topic.p, "$SYS", 4) == 0) ||
	    (topic.len >= 6 && memcmp(topic.p, "$share", 6) == 0))
		return 0;
	return broker_acl(c->c_broker, c->c_id, c->c_username, topic,
	    BROKER_ACL_WRITE);
}

static void
publish_route(struct client *c, const struct mqtt_publish *p)
{
	if (!publish_allowed(c, p->topic)) {
		log_debug("client %s: PUBLISH to %.*s denied", c->c_id,
		    (int)p->topic.len, (const char *)p->topic.p);
		return;
	}
	if (broker_publish(c->c_broker, p->topic, p->payload, p->qos,
	    p->retain) != 0)
		log_rate_warnx(&publish_nomem_lr, "client %s: PUBLISH "
		    "dropped: out of memory", c->c_id);
}

void
handle_publish(struct client *c, const struct mqtt_publish *p)
{
	struct broker *b = c->c_broker;
	size_t levels = mqtt_topic_levels(p->topic);
	int rc;

	if (levels > b->b_conf->bc_max_topic_levels) {
		client_close(c, 1, "PUBLISH topic of %zu levels over "
		    "max_topic_levels %u", levels,
		    b->b_conf->bc_max_topic_levels);
		return;
	}
	b->b_stats.bs_pub_received++;
	b->b_stats.bs_pub_received_qos[p->qos % 3]++;
	b->b_stats.bs_pub_bytes_received_qos[p->qos % 3] += p->payload.len;
	switch (p->qos) {
	case 0:
		publish_route(c, p);
		break;
	case 1:
		publish_route(c, p);
		(void)send_ack(c, MQTT_PUBACK, p->id);
		break;
	case 2:
		if ((rc = session_in_qos2(c->c_session, p->id)) < 0) {
			client_close(c, 1, "out of memory for QoS 2 state");
			return;
		}
		if (rc == 1)
			publish_route(c, p);
		(void)send_ack(c, MQTT_PUBREC, p->id);
		break;
	}
}

void
handle_ack(struct client *c, int type, uint16_t id)
{
	struct session *s = c->c_session;

	switch (type) {
	case MQTT_PUBREL:
		/* Answered even when unknown: the sender may have retried. */
		(void)session_in_pubrel(s, id);
		(void)send_ack(c, MQTT_PUBCOMP, id);
		return;
	case MQTT_PUBREC:
		if (session_ack(s, MQTT_PUBREC, id) != 0)
			log_debug("client %s: PUBREC for unknown id %u",
			    c->c_id, id);
		(void)send_ack(c, MQTT_PUBREL, id);
		break;
	default:
		if (session_ack(s, type, id) != 0)
			log_debug("client %s: %s for unknown id %u", c->c_id,
			    type == MQTT_PUBACK ? "PUBACK" : "PUBCOMP", id);
		break;
	}
	client_pump(c);
}
