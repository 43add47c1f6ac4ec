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
 *
 * MQTT 5.0 (3.1, 3.2) on the same listeners: the refusals carry 5.0
 * reason codes (0x85 client id, 0x87 not authorized, 0x86 bad user name
 * or password, 0x97 quota exceeded for the session caps, 0x88 out of
 * memory, 0x8C an authentication method but SCRAM-SHA-256, which
 * handle_auth.c runs before this), a keepalive
 * over max_keepalive is accepted and answered with it as server keep
 * alive, an empty client id is assigned one (assigned client
 * identifier, with clean start 0 too), clean start drops the old
 * session and a session expiry interval of 0 ends the new one at
 * disconnect.  The CONNACK tells the limits from the same keys:
 * receive maximum (max_inflight), maximum packet size
 * (max_packet_size), topic alias maximum (max_topic_alias), maximum QoS
 * (max_qos, when under 2); wildcards, subscription identifiers and
 * shared subscriptions available unless their keys
 * (wildcard_subscriptions, subscription_identifiers,
 * shared_subscriptions) are false; response information
 * (response_information) when the client asks for it.  The
 * client's receive maximum narrows its session's in-flight window; its
 * maximum packet size bounds what is sent to it (send.c), and its topic
 * alias maximum (with max_topic_alias_out) the aliases send.c sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/net/transport.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"

/* The 5.0 reason code for a 3.1.1 CONNACK refusal. */
static uint8_t
connect_rc5(uint8_t rc)
{
	switch (rc) {
	case MQTT_CONNACK_ID_REJECTED:
		return MQTT5_RC_CLIENT_ID_INVALID;
	case MQTT_CONNACK_BAD_AUTH:
		return MQTT5_RC_BAD_USER_OR_PASSWORD;
	case MQTT_CONNACK_NOT_AUTHORIZED:
		return MQTT5_RC_NOT_AUTHORIZED;
	case MQTT_CONNACK_BAD_PROTOCOL:
		return MQTT5_RC_UNSUPPORTED_VERSION;
	default:
		return MQTT5_RC_SERVER_UNAVAILABLE;
	}
}

/* rc is 3.1.1's code, or a 5.0 reason code (>= 0x80) for 5.0 only. */
static void
connect_refuse(struct client *c, uint8_t rc, const char *why)
{
	if (c->c_level == MQTT_LEVEL_5)
		(void)send_connack5_why(c, rc >= 0x80 ? rc : connect_rc5(rc),
		    why);
	else
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
	struct session_out *o, *next;
	int rc;

	for (o = session_inflight_first(c->c_session); o != NULL; o = next) {
		next = session_inflight_next(o);
		if (o->so_state == SESSION_OUT_RELEASED) {
			if (send_ack(c, MQTT_PUBREL, o->so_id) != 0)
				return;
		} else if ((rc = send_publish(c, o, 1)) == 1)
			client_drop_sent(c, o);	/* frees o */
		else if (rc != 0)
			return;
	}
	client_pump(c);
}

/*
 * The will as a message: at 5.0 with its properties (those a PUBLISH
 * carries, not the will delay nor its expiry, which start when it is
 * sent), the publisher's id; c keeps the delay and the expiry.
 */
static struct msg *
connect_will(struct client *c, const struct mqtt_connect *p)
{
	const struct mqtt5_props *wp = &p->will_props;
	struct msg_args a;
	struct msg *m;
	uint8_t *buf = NULL;

	if (p->level != MQTT_LEVEL_5)
		return msg_new(p->will_topic, p->will_message, p->will_qos,
		    p->will_retain);
	c->c_will_delay = wp->will_delay;
	c->c_will_expiry = wp->message_expiry;
	memset(&a, 0, sizeof(a));
	a.ma_topic = p->will_topic;
	a.ma_payload = p->will_message;
	a.ma_qos = p->will_qos;
	a.ma_retain = p->will_retain;
	a.ma_from = bytes_view_of(c->c_id, strlen(c->c_id));
	if (!mqtt5_props_carried_view(wp, &a.ma_props)) {
		if ((buf = malloc(wp->raw.len)) == NULL)
			return NULL;
		a.ma_props = bytes_view_of(buf, mqtt5_props_carry(wp, buf));
	}
	m = msg_new_ex(&a);
	free(buf);
	return m;
}

/* The CONNACK properties every 5.0 client is told: the limits. */
static void	connect_send_ack(struct client *, int,
		    struct mqtt5_props *);

static void
connect_ack5(struct client *c, struct mqtt5_props *ack)
{
	const struct broker_conf *conf = c->c_broker->b_conf;

	if (conf->bc_max_inflight < 65535) {
		ack->receive_max = (uint16_t)conf->bc_max_inflight;
		MQTT5_SET(ack, MQTT5_PROP_RECEIVE_MAX);
	}
	if (conf->bc_max_packet_size < UINT32_MAX) {
		ack->max_packet_size = (uint32_t)conf->bc_max_packet_size;
		MQTT5_SET(ack, MQTT5_PROP_MAX_PACKET_SIZE);
	}
	if (c->c_alias_max > 0) {
		ack->topic_alias_max = c->c_alias_max;
		MQTT5_SET(ack, MQTT5_PROP_TOPIC_ALIAS_MAX);
	}
	/* 3.2.2.3.4: only 0 or 1 may be told; absent means 2. */
	if (conf->bc_max_qos < 2) {
		ack->max_qos = (uint8_t)conf->bc_max_qos;
		MQTT5_SET(ack, MQTT5_PROP_MAX_QOS);
	}
	/* Wildcards, subscription identifiers and shared subscriptions:
	 * absent says available (3.2.2.3.11-13), so only a 0 is told. */
	if (!conf->bc_wildcard_subscriptions) {
		ack->wildcard_available = 0;
		MQTT5_SET(ack, MQTT5_PROP_WILDCARD_AVAILABLE);
	}
	if (!conf->bc_subscription_identifiers) {
		ack->sub_id_available = 0;
		MQTT5_SET(ack, MQTT5_PROP_SUB_ID_AVAILABLE);
	}
	if (!conf->bc_shared_subscriptions) {
		ack->shared_available = 0;
		MQTT5_SET(ack, MQTT5_PROP_SHARED_AVAILABLE);
	}
	/* Enhanced authentication's last word: server-final. */
	handle_auth_connack_props(c, ack);
}

/* 3.1.2.11.6: response information only when asked and configured. */
static void
connect_response_info(struct client *c, struct mqtt5_props *ack)
{
	const char *ri = c->c_broker->b_conf->bc_response_information;

	if (!c->c_resp_info || ri == NULL ||
	    strlen(ri) > MQTT_STRING_MAX)
		return;
	ack->response_info = bytes_view_of(ri, strlen(ri));
	MQTT5_SET(ack, MQTT5_PROP_RESPONSE_INFO);
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

	struct mqtt5_props ack;
	uint16_t keepalive = p->keepalive;
	int v5 = p->level == MQTT_LEVEL_5, clean = p->clean_session;

	/* A level this codec does not know is answered in 3.1.1's form. */
	c->c_level = p->connack_rc == MQTT_CONNACK_BAD_PROTOCOL ?
	    MQTT_LEVEL_311 : p->level;
	mqtt5_props_init(&ack);
	if (v5) {
		c->c_problem_info = p->props.request_problem;
		c->c_resp_info = p->props.request_response;
		c->c_max_out = p->props.max_packet_size;
		c->c_expiry = p->props.session_expiry;
		c->c_alias_max = (uint16_t)conf->bc_max_topic_alias;
		/* 3.1.2.11.5: none unless it allows them. */
		c->c_alias_out_max = p->props.topic_alias_max <
		    conf->bc_max_topic_alias_out ? p->props.topic_alias_max :
		    (uint16_t)conf->bc_max_topic_alias_out;
		/* 3.1.2.11.2: a session ends at disconnect when 0. */
		clean = c->c_expiry == 0;
		/* handle_auth.c ran the exchange, or refused the method. */
		if (MQTT5_HAS(&p->props, MQTT5_PROP_AUTH_METHOD) &&
		    !handle_auth_ok(c)) {
			connect_refuse(c, MQTT5_RC_BAD_AUTH_METHOD,
			    "authentication method not supported");
			return;
		}
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
	/* 5.0: none (0) is more than a max_keepalive under 65535. */
	if (p->keepalive > conf->bc_max_keepalive || (v5 &&
	    p->keepalive == 0 && conf->bc_max_keepalive < 65535)) {
		if (!v5) {
			connect_refuse(c, MQTT_CONNACK_ID_REJECTED,
			    "keepalive over max_keepalive");
			return;
		}
		/* 3.2.2.3.14: the server's keep alive is the one used. */
		keepalive = (uint16_t)conf->bc_max_keepalive;
		ack.server_keep_alive = keepalive;
		MQTT5_SET(&ack, MQTT5_PROP_SERVER_KEEP_ALIVE);
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
	} else if (handle_auth_ok(c)) {
		/* Enhanced authentication set c_username (handle_auth.c). */
	} else if (!p->has_username && !conf->bc_allow_anonymous) {
		connect_refuse(c, MQTT_CONNACK_NOT_AUTHORIZED,
		    "anonymous, and allow_anonymous is false");
		return;
	}
	if (!(c->c_tls_flags & CLIENT_TLS_IDENTITY) && !handle_auth_ok(c) &&
	    p->has_username &&
	    (c->c_username = connect_strdup(p->username)) == NULL) {
		connect_refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory");
		return;
	}
	if (!(c->c_tls_flags & CLIENT_TLS_IDENTITY) && !handle_auth_ok(c) &&
	    p->has_username && b->b_auth.ba_check_password != NULL &&
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
	c->c_id_len = strlen(c->c_id);
	if (v5 && p->client_id.len == 0) {
		ack.assigned_client_id = bytes_view_of(c->c_id,
		    strlen(c->c_id));
		MQTT5_SET(&ack, MQTT5_PROP_ASSIGNED_CLIENT_ID);
	}
	if (p->will_flag) {
		if (mqtt_topic_levels(p->will_topic) >
		    conf->bc_max_topic_levels) {
			client_close(c, 0, "will topic over max_topic_levels");
			return;
		}
		if (p->will_message.len > conf->bc_max_packet_size ||
		    (c->c_will = connect_will(c, p)) == NULL) {
			connect_refuse(c, MQTT_CONNACK_UNAVAILABLE,
			    "out of memory for the will");
			return;
		}
		/* A will's payload format is the publisher's promise too. */
		if (v5 && p->will_props.payload_format == 1 &&
		    utf8_count(p->will_message.p, p->will_message.len) < 0) {
			connect_refuse(c, MQTT5_RC_PAYLOAD_FORMAT_INVALID,
			    "will payload is not UTF-8");
			return;
		}
	}

	/* Takeover: the first connection goes [MQTT-3.1.4-2], will and all. */
	s = session_table_find(b->b_sessions, c->c_id, strlen(c->c_id));
	if (s != NULL && (old = s->s_client) != NULL) {
		client_disconnect(old, MQTT5_RC_SESSION_TAKEN_OVER, 1,
		    "taken over by a new connection from %s", c->c_addr);
		s = session_table_find(b->b_sessions, c->c_id,
		    strlen(c->c_id));
	}
	if (s != NULL && p->clean_session) {	/* 5.0: clean start */
		broker_session_drop(b, s);
		s = NULL;
	}
	if (s == NULL) {
		if (session_table_count(b->b_sessions) >= conf->bc_max_sessions) {
			connect_refuse(c, v5 ? MQTT5_RC_QUOTA_EXCEEDED :
			    MQTT_CONNACK_UNAVAILABLE, "max_sessions reached");
			return;
		}
		if (!clean && b->b_acct.sa_persistent >=
		    conf->bc_max_persistent_sessions) {
			b->b_stats.bs_persistent_refused++;
			connect_refuse(c, v5 ? MQTT5_RC_QUOTA_EXCEEDED :
			    MQTT_CONNACK_UNAVAILABLE,
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
	} else {
		present = 1;
		/* Back before its will's delay ran out: no will (3.1.3.2.2). */
		broker_will_cancel(b, c->c_id);
	}

	session_set_clean(s, clean);
	/* 5.0: the session's own expiry interval; 3.1.x: the broker's. */
	session_set_level(s, v5, v5, v5 ? c->c_expiry : 0);
	/* The client's receive maximum narrows the window (3.3.4); a 3.1.1
	 * client on a session a 5.0 one had gets max_inflight back. */
	s->s_lim.sl_max_inflight = b->b_limits.sl_max_inflight;
	if (v5 && p->props.receive_max > 0 &&
	    p->props.receive_max < s->s_lim.sl_max_inflight)
		s->s_lim.sl_max_inflight = p->props.receive_max;
	free(s->s_username);
	s->s_username = c->c_username != NULL ? strdup(c->c_username) : NULL;
	session_set_client(s, c, 0);
	c->c_session = s;
	c->c_state = CLIENT_CONNECTED;
	c->c_keepalive = keepalive;
	b->b_stats.bs_connects++;
	if (b->b_nclients > b->b_stats.bs_clients_max)
		b->b_stats.bs_clients_max = b->b_nclients;
	log_debug("client %s (%s): connected, MQTT %s, clean %d, keepalive "
	    "%u, session present %d", c->c_id, c->c_addr,
	    c->c_level == MQTT_LEVEL_31 ? "3.1" : v5 ? "5.0" : "3.1.1",
	    p->clean_session, keepalive, present);
	/* One connection per client id in the cluster; a session may move. */
	if (b->b_hooks.bh_connected != NULL)
		b->b_hooks.bh_connected(b->b_hooks.bh_arg, c->c_id,
		    strlen(c->c_id), !clean && !present, !clean && present);
	/* The cluster may answer later: broker_connack_defer(). */
	if (c->c_state != CLIENT_CONNECTED)
		return;
	if (c->c_connack_wait) {
		/* What of ack connect_accept() cannot derive again. */
		c->c_connack_ska = MQTT5_HAS(&ack,
		    MQTT5_PROP_SERVER_KEEP_ALIVE);
		c->c_connack_aci = MQTT5_HAS(&ack,
		    MQTT5_PROP_ASSIGNED_CLIENT_ID);
		return;
	}
	/* data_dir: a persistent session is stored before its CONNACK. */
	if (b->b_store != NULL)
		persist_session(b, s);
	connect_send_ack(c, present, &ack);
}

/* CONNACK (3.1.x or 5.0 with ack), then keepalive and redelivery. */
static void
connect_send_ack(struct client *c, int present, struct mqtt5_props *ack)
{
	struct broker *b = c->c_broker;
	int v5 = c->c_level == MQTT_LEVEL_5;

	if (v5) {
		connect_ack5(c, ack);
		connect_response_info(c, ack);
	}
	if ((v5 ? send_connack5(c, present, MQTT5_RC_SUCCESS, ack) :
	    send_connack(c, present, MQTT_CONNACK_ACCEPTED)) != 0)
		return;
	if (b->b_store != NULL)
		persist_hold(c);
	client_keepalive(c);
	connect_redeliver(c);
}

void
connect_accept(struct client *c, int present)
{
	struct broker *b = c->c_broker;
	struct mqtt5_props ack;

	/* data_dir: as in handle_connect(), with what the cluster merged. */
	if (b->b_store != NULL && c->c_session != NULL)
		persist_session(b, c->c_session);
	mqtt5_props_init(&ack);
	if (c->c_connack_ska) {
		ack.server_keep_alive = c->c_keepalive;
		MQTT5_SET(&ack, MQTT5_PROP_SERVER_KEEP_ALIVE);
	}
	if (c->c_connack_aci) {
		ack.assigned_client_id = bytes_view_of(c->c_id,
		    strlen(c->c_id));
		MQTT5_SET(&ack, MQTT5_PROP_ASSIGNED_CLIENT_ID);
	}
	connect_send_ack(c, present, &ack);
}
