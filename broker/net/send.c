/*
 * Encoders into a client's output buffer (mosquitto's send_*.c, in one
 * file: each is a few lines over the pure codec).  Nothing here writes
 * to the socket; broker.c's ev_prepare flushes each dirty client once
 * per loop iteration.
 */
#include <stddef.h>
#include <stdint.h>

#include "broker/net/broker_int.h"
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
	if ((rc = send_done(c, mqtt_encode_publish(&c->c_out, &p))) == 0) {
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
	return send_done(c, mqtt_encode_ack(&c->c_out, type, id));
}

int
send_suback(struct client *c, uint16_t id, const uint8_t *codes, size_t n)
{
	return send_done(c, mqtt_encode_suback(&c->c_out, id, codes, n));
}

int
send_empty(struct client *c, enum mqtt_type type)
{
	return send_done(c, mqtt_encode_empty(&c->c_out, type));
}
