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

int
send_connack5(struct client *c, int session_present, uint8_t rc,
    const struct mqtt5_props *props)
{
	return send_done(c, mqtt_encode_connack5(&c->c_out, session_present,
	    rc, props));
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
 * in the output buffer: a dropped one never told the client.
 */
static int
send_publish5(struct client *c, const struct mqtt_publish *pub,
    const struct session_out *o)
{
	struct mqtt5_props props;
	struct mqtt_publish p = *pub;
	const struct msg *m = o->so_msg;
	size_t i;
	uint16_t alias = 0;
	int fresh = 0, rc;

	if (c->c_alias_out_max > 0) {
		/* The table at the first delivery; without memory, none. */
		if (c->c_alias_out == NULL && (c->c_alias_out =
		    mqtt_alias_out_new(c->c_alias_out_max)) == NULL)
			c->c_alias_out_max = 0;
		alias = mqtt_alias_out_lookup(c->c_alias_out, p.topic, &fresh);
	}
	mqtt5_props_init(&props);
	if (alias != 0) {
		props.topic_alias = alias;
		MQTT5_SET(&props, MQTT5_PROP_TOPIC_ALIAS);
		if (!fresh)
			p.topic = bytes_view_of(NULL, 0);
	}
	props.user = msg_props(m);
	if (m->m_expire_at != 0) {
		props.message_expiry = msg_expiry_left(m, clock_ms());
		MQTT5_SET(&props, MQTT5_PROP_MESSAGE_EXPIRY);
	}
	for (i = 0; i < o->so_nids && i < MQTT5_SUB_IDS_MAX; i++)
		props.sub_ids[i] = o->so_ids[i];
	props.n_sub_ids = i;
	if (c->c_max_out > 0 && mqtt_publish5_size(&p, &props) > c->c_max_out &&
	    fresh) {
		/* Its new alias's 3 bytes may be what is too many. */
		props.present &= ~((uint64_t)1 << MQTT5_PROP_TOPIC_ALIAS);
		fresh = 0;
	}
	if (c->c_max_out > 0 && mqtt_publish5_size(&p, &props) > c->c_max_out) {
		c->c_broker->b_stats.bs_drop_too_large++;
		return 1;
	}
	rc = send_done(c, mqtt_encode_publish5(&c->c_out, &p, &props));
	if (rc == 0 && fresh)
		(void)mqtt_alias_out_add(c->c_alias_out, p.topic, alias);
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
	if (c->c_level == MQTT_LEVEL_5)
		return send_done(c, mqtt_encode_ack5(&c->c_out, type, id, rc,
		    NULL));
	return send_done(c, mqtt_encode_ack(&c->c_out, type, id));
}

int
send_suback(struct client *c, uint16_t id, const uint8_t *codes, size_t n)
{
	if (c->c_level == MQTT_LEVEL_5)
		return send_done(c, mqtt_encode_suback5(&c->c_out, MQTT_SUBACK,
		    id, codes, n, NULL));
	return send_done(c, mqtt_encode_suback(&c->c_out, id, codes, n));
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
send_disconnect(struct client *c, uint8_t rc)
{
	if (c->c_level != MQTT_LEVEL_5)
		return 0;
	return send_done(c, mqtt_encode_disconnect5(&c->c_out,
	    MQTT_DISCONNECT, rc, NULL));
}

int
send_empty(struct client *c, enum mqtt_type type)
{
	return send_done(c, mqtt_encode_empty(&c->c_out, type));
}
