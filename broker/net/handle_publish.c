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
 *
 * MQTT 5.0 adds, before the message is routed: topic aliases (3.3.2.3.4;
 * an alias of 0 or over our topic alias maximum, or one never set, is
 * DISCONNECT 0x94, one never set 0x82; each set alias holds a copy of
 * its topic), the
 * receive maximum (more QoS 2 PUBLISHes awaiting PUBREL than
 * max_inflight: DISCONNECT 0x93), no subscription identifier from a
 * client [MQTT-3.3.4-6] (0x82), QoS over max_qos (0x9B), and a payload
 * format indicator of 1 with a payload that is not UTF-8 (PUBACK or
 * PUBREC 0x99, the message dropped).  The acks carry reason codes: 0x87
 * where the ACL refuses, 0x97 when memory runs out; PUBACK 0x10 when
 * no subscription here nor route to another node matched the topic
 * (PUBREC says 0 then, as mosquitto 2's does).
 *
 * With data_dir, PUBACK, PUBREC and PUBCOMP are appended at once but
 * written only after the commit of what they acknowledge: the message
 * queued for persistent sessions, the retained message, the inbound
 * QoS 2 id (persist_hold(); persist.c).
 */
#include <stdlib.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"

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

/*
 * A 5.0 PUBLISH as a message: the properties it carries (without topic
 * alias, message expiry and subscription identifiers: mqtt5_props.h),
 * the publisher's client id (no local), the absolute expiry.  Routed as
 * broker_publish() does.  0 or CAIRN_ERR_NOMEM.
 */
static int
publish_route5(struct client *c, const struct mqtt_publish *p,
    size_t *matched)
{
	struct msg_args a;
	struct msg *m;
	uint8_t small[256], *buf = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ma_topic = p->topic;
	a.ma_payload = p->payload;
	a.ma_qos = p->qos;
	a.ma_retain = p->retain;
	a.ma_from = bytes_view_of(c->c_id, c->c_id_len);
	if (!mqtt5_props_carried_view(&p->props, &a.ma_props)) {
		/* No more than the block itself, bounded by the packet. */
		if (p->props.raw.len > sizeof(small) &&
		    (buf = malloc(p->props.raw.len)) == NULL)
			return CAIRN_ERR_NOMEM;
		a.ma_props = bytes_view_of(buf != NULL ? buf : small, 0);
		a.ma_props.len = mqtt5_props_carry(&p->props,
		    buf != NULL ? buf : small);
	}
	/* [MQTT-3.3.2-5]: counted from now (0, as absent: no expiry, as
	 * mosquitto reads it). */
	if (p->props.message_expiry > 0)
		a.ma_expire_at = msg_expire_at(clock_ms(),
		    (uint64_t)p->props.message_expiry * 1000);
	m = msg_new_ex(&a);
	free(buf);
	if (m == NULL)
		return CAIRN_ERR_NOMEM;
	rc = broker_publish_msg_n(c->c_broker, m, matched);
	msg_unref(m);
	return rc;
}

/* Routes p; its 5.0 reason code (0 routed, 0x10 no one matched). */
static uint8_t
publish_route(struct client *c, const struct mqtt_publish *p)
{
	size_t matched = 1;
	int rc;

	if (!publish_allowed(c, p->topic)) {
		log_debug("client %s: PUBLISH to %.*s denied", c->c_id,
		    (int)p->topic.len, (const char *)p->topic.p);
		return MQTT5_RC_NOT_AUTHORIZED;
	}
	if (c->c_level == MQTT_LEVEL_5)
		rc = publish_route5(c, p, &matched);
	else
		rc = broker_publish(c->c_broker, p->topic, p->payload, p->qos,
		    p->retain);
	if (rc != 0) {
		log_rate_warnx(&publish_nomem_lr, "client %s: PUBLISH "
		    "dropped: out of memory", c->c_id);
		return MQTT5_RC_QUOTA_EXCEEDED;
	}
	/*
	 * 5.0, as mosquitto 2 says it: no subscription matched here nor a
	 * route to another node (the router's own count, no second walk).
	 * A matching subscriber whose ACL or no local then skips the
	 * message still counts, as in mosquitto.
	 */
	return matched == 0 ? MQTT5_RC_NO_MATCHING_SUBSCRIBERS :
	    MQTT5_RC_SUCCESS;
}

/*
 * A 5.0 PUBLISH's topic alias (3.3.2.3.4): sets it (topic given) or
 * resolves it into *topic (topic empty).  0, or -1 with c closed.
 */
static int
publish_alias(struct client *c, const struct mqtt5_props *props,
    struct bytes_view *topic)
{
	uint16_t a = props->topic_alias;
	char *t;

	if (!MQTT5_HAS(props, MQTT5_PROP_TOPIC_ALIAS))
		return 0;
	if (a == 0 || a > c->c_alias_max) {
		client_disconnect(c, MQTT5_RC_TOPIC_ALIAS_INVALID, 1,
		    "topic alias %u over topic alias maximum %u", a,
		    c->c_alias_max);
		return -1;
	}
	if (topic->len == 0) {
		/* No topic and no mapping: a protocol error (3.3.4). */
		if (c->c_aliases == NULL || c->c_aliases[a] == NULL) {
			client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
			    "topic alias %u never set", a);
			return -1;
		}
		*topic = bytes_view_of(c->c_aliases[a], strlen(c->c_aliases[a]));
		return 0;
	}
	if (c->c_aliases == NULL && (c->c_aliases = calloc(
	    (size_t)c->c_alias_max + 1, sizeof(*c->c_aliases))) == NULL)
		goto nomem;
	if ((t = malloc(topic->len + 1)) == NULL)
		goto nomem;
	memcpy(t, topic->p, topic->len);
	t[topic->len] = '\0';
	free(c->c_aliases[a]);
	c->c_aliases[a] = t;
	return 0;
nomem:
	client_disconnect(c, MQTT5_RC_QUOTA_EXCEEDED, 1,
	    "out of memory for a topic alias");
	return -1;
}

/* The 5.0 checks before routing; 0, -1 with c closed, or an ack code. */
static int
publish_check5(struct client *c, struct mqtt_publish *p)
{
	const struct mqtt5_props *props = &p->props;

	if (props->n_sub_ids > 0) {
		client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
		    "subscription identifier in a client's PUBLISH");
		return -1;
	}
	if (p->qos > c->c_broker->b_conf->bc_max_qos) {
		client_disconnect(c, MQTT5_RC_QOS_NOT_SUPPORTED, 1,
		    "PUBLISH QoS %u over max_qos %u", p->qos,
		    c->c_broker->b_conf->bc_max_qos);
		return -1;
	}
	if (publish_alias(c, props, &p->topic) != 0)
		return -1;
	/* 3.3.2.3.2: the receiver MAY check; issue 13 asks it. */
	if (props->payload_format == 1 &&
	    utf8_count(p->payload.p, p->payload.len) < 0)
		return MQTT5_RC_PAYLOAD_FORMAT_INVALID;
	return 0;
}

void
handle_publish(struct client *c, struct mqtt_publish *p)
{
	struct broker *b = c->c_broker;
	size_t levels;
	int rc, why = 0;
	uint64_t sent;

	if (c->c_level == MQTT_LEVEL_5 && (why = publish_check5(c, p)) < 0)
		return;
	levels = mqtt_topic_levels(p->topic);

	if (levels > b->b_conf->bc_max_topic_levels) {
		client_close(c, 1, "PUBLISH topic of %zu levels over "
		    "max_topic_levels %u", levels,
		    b->b_conf->bc_max_topic_levels);
		return;
	}
	b->b_stats.bs_pub_received++;
	b->b_stats.bs_pub_received_qos[p->qos % 3]++;
	b->b_stats.bs_pub_bytes_received_qos[p->qos % 3] += p->payload.len;
	sent = p->qos > 0 ? repl_sent(b) : 0;
	switch (p->qos) {
	case 0:
		if (why == 0)
			(void)publish_route(c, p);
		break;
	case 1:
		if (why == 0)
			why = publish_route(c, p);
		(void)send_ack_rc(c, MQTT_PUBACK, p->id, (uint8_t)why);
		if (b->b_store != NULL)
			persist_hold(c);
		/* And until the replicas of the sessions it went to have it
		 * (CLUSTER.md, "Replicas' acks"). */
		repl_hold(c, sent);
		break;
	case 2:
		/* 4.3.3: a PUBREC of 0x80 or more ends the exchange. */
		if (why != 0) {
			(void)send_ack_rc(c, MQTT_PUBREC, p->id, (uint8_t)why);
			break;
		}
		if ((rc = session_in_qos2(c->c_session, p->id)) < 0) {
			client_disconnect(c, MQTT5_RC_QUOTA_EXCEEDED, 1,
			    "out of memory for QoS 2 state");
			return;
		}
		if (rc == 1 && c->c_level == MQTT_LEVEL_5 &&
		    ++c->c_in_qos2 > b->b_conf->bc_max_inflight) {
			client_disconnect(c, MQTT5_RC_RECEIVE_MAX_EXCEEDED, 1,
			    "over receive maximum %u", b->b_conf->bc_max_inflight);
			return;
		}
		if (rc == 1) {
			if (b->b_store != NULL && c->c_session->s_store_id != 0)
				persist_inq2(b, c->c_session, p->id, 1);
			why = publish_route(c, p);
			/* 0x10 on PUBACK only, as mosquitto 2 (its PUBREC
			 * says 0): a client written against it may take
			 * any PUBREC code but 0 as a failure. */
			if (why == MQTT5_RC_NO_MATCHING_SUBSCRIBERS)
				why = MQTT5_RC_SUCCESS;
		}
		/* 5.0: a refused message is not awaited (4.3.3), so a
		 * PUBREL for it finds no id. */
		if (why >= 0x80 && c->c_level == MQTT_LEVEL_5 &&
		    session_in_pubrel(c->c_session, p->id) == 0) {
			if (c->c_in_qos2 > 0)
				c->c_in_qos2--;
			if (b->b_store != NULL && c->c_session->s_store_id != 0)
				persist_inq2(b, c->c_session, p->id, 0);
		}
		(void)send_ack_rc(c, MQTT_PUBREC, p->id, (uint8_t)why);
		if (b->b_store != NULL)
			persist_hold(c);
		repl_hold(c, sent);
		break;
	}
}

void
handle_disconnect5(struct client *c, const struct mqtt_disconnect *d)
{
	const struct mqtt5_props *props = &d->props;

	/* 3.14.2.2.2: from 0 at CONNECT to non-zero is a protocol error. */
	if (MQTT5_HAS(props, MQTT5_PROP_SESSION_EXPIRY)) {
		if (c->c_expiry == 0 && props->session_expiry != 0) {
			client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
			    "DISCONNECT sets a session expiry after 0");
			return;
		}
		c->c_expiry = props->session_expiry;
		if (c->c_session != NULL) {
			session_set_clean(c->c_session, c->c_expiry == 0);
			session_set_level(c->c_session, c->c_session->s_v5, 1,
			    c->c_expiry);
		}
	}
	log_debug("client %s (%s): DISCONNECT 0x%02x", c->c_id, c->c_addr,
	    d->rc);
	/* 0x04 asks for the will (3.14.2.1); any other code does not. */
	client_close(c, d->rc == MQTT5_RC_DISCONNECT_WITH_WILL, NULL);
}

void
handle_ack(struct client *c, int type, uint16_t id)
{
	struct session *s = c->c_session;
	struct broker *b = c->c_broker;
	uint64_t seq = 0;

	switch (type) {
	case MQTT_PUBREL:
		/* Answered even when unknown: the sender may have retried
		 * (5.0: 0x92, packet identifier not found). */
		if (session_in_pubrel(s, id) == 0) {
			if (c->c_in_qos2 > 0)
				c->c_in_qos2--;
			if (b->b_store != NULL && s->s_store_id != 0)
				persist_inq2(b, s, id, 0);
			(void)send_ack(c, MQTT_PUBCOMP, id);
		} else
			(void)send_ack_rc(c, MQTT_PUBCOMP, id,
			    MQTT5_RC_PACKET_ID_NOT_FOUND);
		/* Until the id is gone from disk, a new PUBLISH with it
		 * would be taken for a duplicate after a restart. */
		if (b->b_store != NULL)
			persist_hold(c);
		return;
	case MQTT_PUBREC:
		if (session_ack(s, MQTT_PUBREC, id) != 0)
			log_debug("client %s: PUBREC for unknown id %u",
			    c->c_id, id);
		else if (b->b_store != NULL && s->s_store_id != 0)
			persist_released(b, s, id);
		(void)send_ack(c, MQTT_PUBREL, id);
		/* The PUBREL once "released" is on disk: after a restart
		 * the broker sends PUBREL again, never the PUBLISH. */
		if (b->b_store != NULL)
			persist_hold(c);
		break;
	default:
		if (b->b_store != NULL && s->s_store_id != 0)
			seq = persist_ack_seq(s, type, id);
		if (session_ack(s, type, id) != 0)
			log_debug("client %s: %s for unknown id %u", c->c_id,
			    type == MQTT_PUBACK ? "PUBACK" : "PUBCOMP", id);
		else if (seq != 0)
			persist_out_done(b, s, seq);
		break;
	}
	client_pump(c);
}
