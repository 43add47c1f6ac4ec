/*
 * Encoders into a client's output buffer (mosquitto's send_*.c, in one
 * file: each is a few lines over the pure codec), in the form of the
 * client's protocol level: an MQTT 5.0 client gets property blocks and
 * reason codes, a 3.1.x client the forms it knows.  Nothing here writes
 * to the socket; broker.c's ev_prepare flushes each dirty client once
 * per loop iteration.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "common/clock.h"
#include "common/err.h"

static int
send_done(struct client *c, int rc)
{
	if (c->c_state == CLIENT_CLOSED)
		return -1;
	if (rc == 0) {
		c->c_broker->b_stats.bs_msgs_sent++;
		client_dirty(c);
		return 0;
	}
	if (c->c_broken == NULL)
		c->c_broken = rc == CAIRN_ERR_TOO_BIG ? "output buffer full "
		    "(twice max_output_buffer): not reading" :
		    rc == CAIRN_ERR_NOMEM ? "out of memory" :
		    "cannot encode a packet";
	client_dirty(c);
	return -1;
}

int
send_connack(struct client *c, int session_present, uint8_t rc)
{
	return send_done(c, mqtt_encode_connack(&c->c_out, c->c_level,
	    session_present, rc));
}

/*
 * Reason strings (3.1.2.11.7): a short one on a refusal, on PUBACK,
 * PUBREC, PUBCOMP and SUBACK only while the client's Request Problem
 * Information is 1 (the default), on CONNACK and DISCONNECT always
 * (the spec allows them there whatever it asked).  Never at the cost
 * of the client's Maximum Packet Size (3.1.2.11.4): a packet the string
 * would take past it is written again without.  1 if p now has one.
 */
static int
send_why(const struct client *c, struct mqtt5_props *p, const char *why,
    int always)
{
	size_t len;

	if (why == NULL || (!always && !c->c_problem_info) ||
	    (len = strlen(why)) == 0 || len > MQTT_STRING_MAX)
		return 0;
	p->reason_string = bytes_view_of(why, len);
	MQTT5_SET(p, MQTT5_PROP_REASON_STRING);
	return 1;
}

/*
 * After a packet with a reason string was appended at `before`: 1 if it
 * is over the client's maximum, the packet then taken back out and the
 * string dropped from p, for the caller to encode again.
 */
static int
send_why_over(struct client *c, size_t before, int rc, struct mqtt5_props *p)
{
	if (rc != 0 || c->c_max_out == 0 || c->c_out.err != 0 ||
	    c->c_out.len - before <= c->c_max_out)
		return 0;
	c->c_out.len = before;
	p->present &= ~((uint64_t)1 << MQTT5_PROP_REASON_STRING);
	p->reason_string = bytes_view_of(NULL, 0);
	return 1;
}

int
send_connack5(struct client *c, int session_present, uint8_t rc,
    const struct mqtt5_props *props)
{
	return send_done(c, mqtt_encode_connack5(&c->c_out, session_present,
	    rc, props));
}

int
send_connack5_why(struct client *c, uint8_t rc, const char *why)
{
	struct mqtt5_props props;
	size_t before = c->c_out.len;
	int err;

	mqtt5_props_init(&props);
	if (!send_why(c, &props, why, 1))
		return send_connack5(c, 0, rc, NULL);
	err = mqtt_encode_connack5(&c->c_out, 0, rc, &props);
	if (send_why_over(c, before, err, &props))
		err = mqtt_encode_connack5(&c->c_out, 0, rc, NULL);
	return send_done(c, err);
}

int
send_auth(struct client *c, uint8_t rc, const struct mqtt5_props *props)
{
	return send_done(c, mqtt_encode_disconnect5(&c->c_out, MQTT_AUTH, rc,
	    props));
}

/*
 * A 5.0 PUBLISH: the message's carried properties as they came, the
 * message expiry interval left (rounded up), the matching subscription
 * identifiers, a topic alias when the client allows them
 * (mqtt_alias.h: the topic and a new alias the first time, then an
 * empty topic name and the alias); its size checked against the
 * client's maximum.  A new alias is recorded only once its PUBLISH is
 * in the output buffer: a dropped one never told the client.  Borrows
 * p, the caller's, and may empty its topic (p is not copied: this runs
 * for every delivery).
 */
static int
send_publish5(struct client *c, struct mqtt_publish *p,
    const struct session_out *o)
{
	struct mqtt5_props props;
	const struct msg *m = o->so_msg;
	size_t i, size;
	uint16_t alias = 0;
	int fresh = 0, rc;

	if (c->c_alias_out_max > 0) {
		/* The table at the first delivery; without memory, none. */
		if (c->c_alias_out == NULL && (c->c_alias_out =
		    mqtt_alias_out_new(c->c_alias_out_max)) == NULL)
			c->c_alias_out_max = 0;
		alias = mqtt_alias_out_lookup(c->c_alias_out, p->topic, &fresh);
	}
	if (alias == 0 && m->m_expire_at == 0 && o->so_nids == 0) {
		/*
		 * Nothing of this delivery's own, as for most: the
		 * message's properties as they were encoded when it was
		 * published, no block to build.
		 */
		if (c->c_max_out > 0 && mqtt_publish5_carried_size(p,
		    msg_props(m)) > c->c_max_out) {
			c->c_broker->b_stats.bs_drop_too_large++;
			return 1;
		}
		return send_done(c, mqtt_encode_publish5_carried(&c->c_out, p,
		    msg_props(m)));
	}
	mqtt5_props_init(&props);
	if (alias != 0) {
		props.topic_alias = alias;
		MQTT5_SET(&props, MQTT5_PROP_TOPIC_ALIAS);
		if (!fresh)
			p->topic = bytes_view_of(NULL, 0);
	}
	props.user = msg_props(m);
	if (m->m_expire_at != 0) {
		props.message_expiry = msg_expiry_left(m, clock_ms());
		MQTT5_SET(&props, MQTT5_PROP_MESSAGE_EXPIRY);
	}
	for (i = 0; i < o->so_nids && i < MQTT5_SUB_IDS_MAX; i++)
		props.sub_ids[i] = o->so_ids[i];
	props.n_sub_ids = i;
	if (c->c_max_out > 0) {
		size = mqtt_publish5_size(p, &props);
		if (size > c->c_max_out && fresh) {
			/* Its new alias's 3 bytes may be what is too many. */
			props.present &=
			    ~((uint64_t)1 << MQTT5_PROP_TOPIC_ALIAS);
			fresh = 0;
			size = mqtt_publish5_size(p, &props);
		}
		if (size > c->c_max_out) {
			c->c_broker->b_stats.bs_drop_too_large++;
			return 1;
		}
	}
	rc = send_done(c, mqtt_encode_publish5(&c->c_out, p, &props));
	if (rc == 0 && fresh)
		(void)mqtt_alias_out_add(c->c_alias_out, p->topic, alias);
	return rc;
}

int
send_publish(struct client *c, struct session_out *o, int dup)
{
	struct mqtt_publish p;
	int rc;

	p.qos = o->so_qos;
	p.dup = dup && o->so_qos > 0;
	p.retain = o->so_retain;
	p.id = o->so_qos > 0 ? o->so_id : 0;
	p.topic = msg_topic(o->so_msg);
	p.payload = msg_payload(o->so_msg);
	if (c->c_level == MQTT_LEVEL_5)
		rc = send_publish5(c, &p, o);
	else
		rc = send_done(c, mqtt_encode_publish(&c->c_out, &p));
	if (rc == 0) {
		c->c_broker->b_stats.bs_pub_sent++;
		c->c_broker->b_stats.bs_pub_sent_qos[p.qos % 3]++;
		c->c_broker->b_stats.bs_pub_bytes_sent_qos[p.qos % 3] +=
		    p.payload.len;
	}
	return rc;
}

int
send_ack(struct client *c, enum mqtt_type type, uint16_t id)
{
	return send_ack_rc(c, type, id, 0);
}

int
send_ack_rc(struct client *c, enum mqtt_type type, uint16_t id, uint8_t rc)
{
	struct mqtt5_props props;
	size_t before = c->c_out.len;
	int err;

	if (c->c_level != MQTT_LEVEL_5)
		return send_done(c, mqtt_encode_ack(&c->c_out, type, id));
	/* A refusal says why: the reason code's name is short enough. */
	if (rc < 0x80)
		return send_done(c, mqtt_encode_ack5(&c->c_out, type, id, rc,
		    NULL));
	mqtt5_props_init(&props);
	if (!send_why(c, &props, mqtt5_rc_name(rc), 0))
		return send_done(c, mqtt_encode_ack5(&c->c_out, type, id, rc,
		    NULL));
	err = mqtt_encode_ack5(&c->c_out, type, id, rc, &props);
	if (send_why_over(c, before, err, &props))
		err = mqtt_encode_ack5(&c->c_out, type, id, rc, NULL);
	return send_done(c, err);
}

int
send_suback(struct client *c, uint16_t id, const uint8_t *codes, size_t n)
{
	struct mqtt5_props props;
	size_t before = c->c_out.len, i;
	int err;

	if (c->c_level != MQTT_LEVEL_5)
		return send_done(c, mqtt_encode_suback(&c->c_out, id, codes,
		    n));
	/* One string per packet: the first refused filter's code. */
	for (i = 0; i < n && codes[i] < 0x80; i++)
		continue;
	mqtt5_props_init(&props);
	if (i == n || !send_why(c, &props, mqtt5_rc_name(codes[i]), 0))
		return send_done(c, mqtt_encode_suback5(&c->c_out,
		    MQTT_SUBACK, id, codes, n, NULL));
	err = mqtt_encode_suback5(&c->c_out, MQTT_SUBACK, id, codes, n,
	    &props);
	if (send_why_over(c, before, err, &props))
		err = mqtt_encode_suback5(&c->c_out, MQTT_SUBACK, id, codes,
		    n, NULL);
	return send_done(c, err);
}

int
send_unsuback(struct client *c, uint16_t id, const uint8_t *codes, size_t n)
{
	if (c->c_level == MQTT_LEVEL_5)
		return send_done(c, mqtt_encode_suback5(&c->c_out,
		    MQTT_UNSUBACK, id, codes, n, NULL));
	return send_done(c, mqtt_encode_ack(&c->c_out, MQTT_UNSUBACK, id));
}

int
send_disconnect(struct client *c, uint8_t rc, const char *why)
{
	struct mqtt5_props props;
	size_t before = c->c_out.len;
	int err;

	if (c->c_level != MQTT_LEVEL_5)
		return 0;
	mqtt5_props_init(&props);
	if (!send_why(c, &props, why, 1))
		return send_done(c, mqtt_encode_disconnect5(&c->c_out,
		    MQTT_DISCONNECT, rc, NULL));
	err = mqtt_encode_disconnect5(&c->c_out, MQTT_DISCONNECT, rc, &props);
	if (send_why_over(c, before, err, &props))
		err = mqtt_encode_disconnect5(&c->c_out, MQTT_DISCONNECT, rc,
		    NULL);
	return send_done(c, err);
}

int
send_empty(struct client *c, enum mqtt_type type)
{
	return send_done(c, mqtt_encode_empty(&c->c_out, type));
}
