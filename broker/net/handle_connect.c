/*
 * CONNECT -> CONNACK (MQTT 3.1.1 section 3.1, 3.1 alike): the refusals
 * with their return codes, authentication, the generated client id,
 * takeover of a connected id, clean and persistent sessions, the will,
 * and redelivery of what was in flight when the session was last
 * connected.
 *
 * Order of the checks, each answered with its CONNACK and a close:
 *   1  protocol level not 3 or 4 ("MQTT" 5...)          0x01  (codec)
 *   2  empty id with clean session 0, 3.1 id > 23 bytes 0x02  (codec)
 *   3  id longer than max_client_id_length              0x02
 *   4  keepalive over max_keepalive (as mosquitto)      0x02
 *   5  use_identity_as_username and the client
 *      certificate names nobody (no CN, no SAN)         0x05
 *   6  no user name and allow_anonymous false           0x05
 *   7  user name and password refused by the hook       0x04
 *   8  a new session past max_sessions, or no memory    0x03
 *   9  a new persistent one past max_persistent_sessions 0x03
 *
 * With use_identity_as_username (a TLS listener), the user name is the
 * client certificate's identity and the certificate is the credential,
 * as in mosquitto: CONNECT's user name and password are ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/net/transport.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/log.h"

static void
connect_refuse(struct client *c, uint8_t rc, const char *why)
{
	(void)send_connack(c, 0, rc);
	/* A bad password from one client must not hide max_sessions. */
	client_close_kind(c, 0, why, "CONNECT refused (%u): %s", rc, why);
}

static char *
connect_strdup(struct bytes_view v)
{
	char *s;

	if ((s = malloc(v.len + 1)) == NULL)
		return NULL;
	memcpy(s, v.p, v.len);
	s[v.len] = '\0';
	return s;
}

/* "cairn-" and 16 hex digits, not in use. */
static char *
connect_gen_id(struct broker *b)
{
	char id[CLIENT_GEN_ID_LEN + 1];
	uint64_t x;

	do {
		x = b->b_id_seed += 0x9e3779b97f4a7c15ull;
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 29;
		snprintf(id, sizeof(id), "cairn-%016llx", (unsigned long long)x);
	} while (session_table_find(b->b_sessions, id, strlen(id)) != NULL);
	return strdup(id);
}

/* Resends what was in flight, in order, then the queue. */
static void
connect_redeliver(struct client *c)
{
	struct session_out *o;

	for (o = session_inflight_first(c->c_session); o != NULL;
	    o = session_inflight_next(o)) {
		if (o->so_state == SESSION_OUT_RELEASED) {
			if (send_ack(c, MQTT_PUBREL, o->so_id) != 0)
				return;
		} else if (send_publish(c, o, 1) != 0)
			return;
	}
	client_pump(c);
}

void
handle_connect(struct client *c, const struct mqtt_connect *p)
{
	struct broker *b = c->c_broker;
	const struct broker_conf *conf = b->b_conf;
	struct session *s;
	struct client *old;
	const char *ident;
	int present = 0;

	c->c_level = p->level;
	/* Until this layer speaks 5.0 (properties on every packet), its
	 * clients are told so in their own CONNACK form (3.2.2.2). */
	if (p->level == MQTT_LEVEL_5) {
		connect_refuse(c, MQTT5_RC_UNSUPPORTED_VERSION,
		    "MQTT 5.0 not served yet");
		return;
	}
	if (p->connack_rc == MQTT_CONNACK_BAD_PROTOCOL) {
		connect_refuse(c, p->connack_rc, "unacceptable protocol level");
		return;
	}
	if (p->connack_rc != MQTT_CONNACK_ACCEPTED) {
		connect_refuse(c, p->connack_rc, "client id rejected");
		return;
	}
	if (p->client_id.len > conf->bc_max_client_id_length) {
		connect_refuse(c, MQTT_CONNACK_ID_REJECTED,
		    "client id over max_client_id_length");
		return;
	}
	if (p->keepalive > conf->bc_max_keepalive) {
		connect_refuse(c, MQTT_CONNACK_ID_REJECTED,
		    "keepalive over max_keepalive");
		return;
	}
	if (c->c_tls_flags & CLIENT_TLS_IDENTITY) {
		ident = transport_identity(c->c_tr);
		if (ident == NULL) {
			connect_refuse(c, MQTT_CONNACK_NOT_AUTHORIZED,
			    "use_identity_as_username: no CN or SAN in the "
			    "client certificate");
			return;
		}
		if ((c->c_username = strdup(ident)) == NULL) {
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "out of memory");
			return;
		}
	} else if (!p->has_username && !conf->bc_allow_anonymous) {
		connect_refuse(c, MQTT_CONNACK_NOT_AUTHORIZED,
		    "anonymous, and allow_anonymous is false");
		return;
	}
	if (!(c->c_tls_flags & CLIENT_TLS_IDENTITY) && p->has_username &&
	    (c->c_username = connect_strdup(p->username)) == NULL) {
		connect_refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory");
		return;
	}
	if (!(c->c_tls_flags & CLIENT_TLS_IDENTITY) && p->has_username &&
	    b->b_auth.ba_check_password != NULL &&
	    b->b_auth.ba_check_password(b->b_auth.ba_arg, c->c_username,
	    p->has_password ? p->password : bytes_view_of("", 0)) != 0) {
		connect_refuse(c, MQTT_CONNACK_BAD_AUTH,
		    "bad user name or password");
		return;
	}
	if (p->client_id.len == 0)
		c->c_id = connect_gen_id(b);
	else
		c->c_id = connect_strdup(p->client_id);
	if (c->c_id == NULL) {
		connect_refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory");
		return;
	}
	if (p->will_flag) {
		if (mqtt_topic_levels(p->will_topic) >
		    conf->bc_max_topic_levels) {
			client_close(c, 0, "will topic over max_topic_levels");
			return;
		}
		if (p->will_message.len > conf->bc_max_packet_size ||
		    (c->c_will = msg_new(p->will_topic, p->will_message,
		    p->will_qos, p->will_retain)) == NULL) {
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "out of memory for the will");
			return;
		}
	}

	/* Takeover: the first connection goes [MQTT-3.1.4-2], will and all. */
	s = session_table_find(b->b_sessions, c->c_id, strlen(c->c_id));
	if (s != NULL && (old = s->s_client) != NULL) {
		client_close(old, 1, "taken over by a new connection from %s",
		    c->c_addr);
		s = session_table_find(b->b_sessions, c->c_id,
		    strlen(c->c_id));
	}
	if (s != NULL && p->clean_session) {
		broker_session_drop(b, s);
		s = NULL;
	}
	if (s == NULL) {
		if (session_table_count(b->b_sessions) >= conf->bc_max_sessions) {
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "max_sessions reached");
			return;
		}
		if (!p->clean_session && b->b_acct.sa_persistent >=
		    conf->bc_max_persistent_sessions) {
			b->b_stats.bs_persistent_refused++;
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "max_persistent_sessions reached");
			return;
		}
		if ((s = session_new(c->c_id, strlen(c->c_id),
		    &b->b_limits)) == NULL ||
		    session_table_add(b->b_sessions, s) != 0) {
			session_free(s);
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "out of memory for the session");
			return;
		}
	} else
		present = 1;

	session_set_clean(s, p->clean_session);
	s->s_offline_ms = 0;
	free(s->s_username);
	s->s_username = c->c_username != NULL ? strdup(c->c_username) : NULL;
	s->s_client = c;
	c->c_session = s;
	c->c_state = CLIENT_CONNECTED;
	c->c_keepalive = p->keepalive;
	b->b_stats.bs_connects++;
	if (b->b_nclients > b->b_stats.bs_clients_max)
		b->b_stats.bs_clients_max = b->b_nclients;
	log_debug("client %s (%s): connected, MQTT %s, clean %d, keepalive "
	    "%u, session present %d", c->c_id, c->c_addr,
	    c->c_level == MQTT_LEVEL_31 ? "3.1" : "3.1.1", p->clean_session,
	    p->keepalive, present);
	/* One connection per client id in the cluster; a session may move. */
	if (b->b_hooks.bh_connected != NULL)
		b->b_hooks.bh_connected(b->b_hooks.bh_arg, c->c_id,
		    strlen(c->c_id), !p->clean_session && !present);
	if (c->c_state != CLIENT_CONNECTED)
		return;
	if (send_connack(c, present, MQTT_CONNACK_ACCEPTED) != 0)
		return;
	client_keepalive(c);
	connect_redeliver(c);
}
