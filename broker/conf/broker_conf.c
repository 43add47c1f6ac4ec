/*
 * cairn-broker's configuration; see broker_conf.h and conf/broker.yaml.
 * A key table for common/conf.c fills the struct over the defaults; then
 * the listener strings are parsed and the cross-key rules checked, each
 * error at the position of the key that breaks it.
 */
#include "broker/conf/broker_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/http.h"
#include "common/sock.h"

/* The `listeners` entries, as their handler parsed them. */
struct broker_listeners_raw {
	struct broker_listener_conf	*v;
	size_t				 n;
	size_t				 given;	/* entries, bad ones too */
};

/* What the table fills; listen and listeners are joined after. */
struct broker_conf_raw {
	struct broker_conf		 c;
	struct conf_hostport		 listen;
	struct broker_listeners_raw	 listeners;
};

/* One `listeners:` map, before its address and port are joined. */
struct broker_listener_raw {
	char			*address;
	unsigned int		 port;		/* 0: none given */
	int			 protocol;
	unsigned int		 max_connections;
	struct broker_tls_conf	 tls;
	struct conf_strlist	 origins;
};

#define RAW(f)	offsetof(struct broker_conf_raw, f)
#define LRAW(f)	offsetof(struct broker_listener_raw, f)
#define TLS(f)	offsetof(struct broker_tls_conf, f)

static const struct conf_enum broker_protocols[] = {
	{ "mqtt", BROKER_PROTO_MQTT },
	{ "websockets", BROKER_PROTO_WEBSOCKETS },
	{ NULL, 0 },
};

/* mosquitto's tls_version names. */
static const struct conf_enum broker_tls_versions[] = {
	{ "tlsv1.2", BROKER_TLS_1_2 },
	{ "tlsv1.3", BROKER_TLS_1_3 },
	{ NULL, 0 },
};

static const struct conf_key broker_tls_keys[] = {
	{ .name = "certfile", .type = CONF_STRING,
	  .offset = TLS(tc_certfile), .flags = CONF_NONEMPTY | CONF_REQUIRED },
	{ .name = "keyfile", .type = CONF_STRING,
	  .offset = TLS(tc_keyfile), .flags = CONF_NONEMPTY | CONF_REQUIRED },
	{ .name = "cafile", .type = CONF_STRING,
	  .offset = TLS(tc_cafile), .flags = CONF_NONEMPTY },
	{ .name = "capath", .type = CONF_STRING,
	  .offset = TLS(tc_capath), .flags = CONF_NONEMPTY },
	{ .name = "require_certificate", .type = CONF_BOOL,
	  .offset = TLS(tc_require_certificate) },
	{ .name = "use_identity_as_username", .type = CONF_BOOL,
	  .offset = TLS(tc_use_identity_as_username) },
	{ .name = "min_version", .type = CONF_ENUM,
	  .offset = TLS(tc_min_version), .names = broker_tls_versions },
	{ .name = "ciphers", .type = CONF_STRING,
	  .offset = TLS(tc_ciphers), .flags = CONF_NONEMPTY },
	{ .name = "ciphersuites", .type = CONF_STRING,
	  .offset = TLS(tc_ciphersuites), .flags = CONF_NONEMPTY },
	{ .name = NULL },
};

static const struct conf_key broker_listener_keys[] = {
	{ .name = "address", .type = CONF_STRING, .offset = LRAW(address),
	  .flags = CONF_NONEMPTY },
	{ .name = "port", .type = CONF_UINT, .offset = LRAW(port), .min = 1,
	  .max = 65535 },
	{ .name = "protocol", .type = CONF_ENUM, .offset = LRAW(protocol),
	  .names = broker_protocols },
	{ .name = "max_connections", .type = CONF_UINT,
	  .offset = LRAW(max_connections), .min = 0, .max = 1000000 },
	{ .name = "tls", .type = CONF_MAP, .offset = LRAW(tls),
	  .sub = broker_tls_keys },
	{ .name = "allowed_origins", .type = CONF_STRLIST,
	  .offset = LRAW(origins) },
	{ .name = NULL },
};

static int	broker_conf_listeners(struct conf_doc *, const yaml_node_t *,
		    void *, void *);
static void	broker_conf_listeners_free(void *, void *);

static const struct conf_key broker_keys[] = {
	{ .name = "listen", .type = CONF_HOSTPORT, .offset = RAW(listen),
	  .defport = BROKER_DEFAULT_PORT },
	{ .name = "listeners", .type = CONF_CUSTOM, .offset = RAW(listeners),
	  .fn = broker_conf_listeners, .free = broker_conf_listeners_free },
	{ .name = "listen_reuseport", .type = CONF_BOOL,
	  .offset = RAW(c.bc_listen_reuseport) },
	{ .name = "allow_anonymous", .type = CONF_BOOL,
	  .offset = RAW(c.bc_allow_anonymous) },
	{ .name = "password_file", .type = CONF_STRING,
	  .offset = RAW(c.bc_password_file), .flags = CONF_NONEMPTY },
	{ .name = "acl_file", .type = CONF_STRING,
	  .offset = RAW(c.bc_acl_file), .flags = CONF_NONEMPTY },
	{ .name = "max_packet_size", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_packet_size), .min = 64,
	  .max = 268435455 + 5 },
	{ .name = "max_connections", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_connections), .min = 0, .max = 1000000 },
	{ .name = "max_sessions", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_sessions), .min = 0, .max = 10000000 },
	{ .name = "max_persistent_sessions", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_persistent_sessions), .min = 0,
	  .max = 10000000 },
	{ .name = "persistent_client_expiration", .type = CONF_DURATION,
	  .offset = RAW(c.bc_persistent_expiration_ms), .min = 0,
	  .max = 31536000000ull * 10 },
	{ .name = "max_subscription_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_subscription_bytes), .min = 1024 },
	{ .name = "max_subscription_bytes_total", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_subscription_bytes_total), .min = 1024 },
	{ .name = "max_queued_bytes_total", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_queued_bytes_total), .min = 1024 },
	{ .name = "max_input_bytes_total", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_input_bytes_total), .min = 1024 },
	{ .name = "max_output_bytes_total", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_output_bytes_total), .min = 1024 },
	{ .name = "max_inflight", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_inflight), .min = 1, .max = 65535 },
	{ .name = "max_queued_messages", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_queued_messages), .min = 0, .max = 10000000 },
	{ .name = "max_queued_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_queued_bytes), .min = 0 },
	{ .name = "queue_qos0_offline", .type = CONF_BOOL,
	  .offset = RAW(c.bc_queue_qos0_offline) },
	{ .name = "max_topic_levels", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_topic_levels), .min = 1, .max = 65535 },
	{ .name = "max_subscriptions", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_subscriptions), .min = 0, .max = 10000000 },
	{ .name = "max_qos", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_qos), .min = 0, .max = 2 },
	{ .name = "max_keepalive", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_keepalive), .min = 0, .max = 65535 },
	{ .name = "max_topic_alias", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_topic_alias), .min = 0, .max = 65535 },
	{ .name = "max_topic_alias_out", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_topic_alias_out), .min = 0,
	  .max = BROKER_MAX_TOPIC_ALIAS_OUT },
	{ .name = "shared_subscriptions", .type = CONF_BOOL,
	  .offset = RAW(c.bc_shared_subscriptions) },
	{ .name = "wildcard_subscriptions", .type = CONF_BOOL,
	  .offset = RAW(c.bc_wildcard_subscriptions) },
	{ .name = "subscription_identifiers", .type = CONF_BOOL,
	  .offset = RAW(c.bc_subscription_identifiers) },
	{ .name = "response_information", .type = CONF_STRING,
	  .offset = RAW(c.bc_response_information), .flags = CONF_NONEMPTY },
	{ .name = "max_client_id_length", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_client_id_length), .min = 23, .max = 65535 },
	{ .name = "max_output_buffer", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_output_buffer), .min = 1024 },
	{ .name = "max_retained_messages", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_retained_messages), .min = 0,
	  .max = 100000000 },
	{ .name = "max_retained_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_retained_bytes), .min = 0 },
	{ .name = "data_dir", .type = CONF_STRING,
	  .offset = RAW(c.bc_data_dir), .flags = CONF_NONEMPTY },
	{ .name = "store_sync", .type = CONF_BOOL,
	  .offset = RAW(c.bc_store_sync) },
	{ .name = "store_max_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_store_max_bytes), .min = 1024 * 1024,
	  .max = 1ull << 40 },
	{ .name = "max_retained_message_size", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_retained_message_size), .min = 0 },
	{ .name = "connect_timeout", .type = CONF_DURATION,
	  .offset = RAW(c.bc_connect_timeout_ms), .min = 100,
	  .max = 3600000 },
	{ .name = "max_tls_handshakes", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_tls_handshakes), .min = 1, .max = 1000000 },
	{ .name = "sys_interval", .type = CONF_DURATION,
	  .offset = RAW(c.bc_sys_interval_ms), .min = 0, .max = 86400000 },
	{ .name = "node_name", .type = CONF_STRING,
	  .offset = RAW(c.bc_node_name), .flags = CONF_NONEMPTY },
	{ .name = "cluster_listen", .type = CONF_HOSTPORT,
	  .offset = RAW(c.bc_cluster_listen), .min = 0, .max = 65535,
	  .defport = 0 },
	{ .name = "cookie", .type = CONF_STRING,
	  .offset = RAW(c.bc_cookie), .flags = CONF_NONEMPTY },
	{ .name = "cookie_file", .type = CONF_STRING,
	  .offset = RAW(c.bc_cookie_file), .flags = CONF_NONEMPTY },
	{ .name = "peers", .type = CONF_STRLIST, .offset = RAW(c.bc_peers) },
	{ .name = "tick_interval", .type = CONF_DURATION,
	  .offset = RAW(c.bc_tick_interval_ms), .min = 10, .max = 600000 },
	{ .name = "dead_after", .type = CONF_DURATION,
	  .offset = RAW(c.bc_dead_after_ms), .min = 50, .max = 3600000 },
	{ .name = "max_frame", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_frame), .min = 1024, .max = 0xffffffffu },
	{ .name = "max_forward_buffer", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_forward_buffer), .min = 1, .max = 10000000 },
	{ .name = "max_forward_buffer_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_forward_buffer_bytes), .min = 1024 },
	{ .name = "max_replica_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_replica_bytes) },
	{ .name = "max_retained_tombstone_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_retained_tombstone_bytes), .min = 1024 },
	{ .name = "max_peers", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_peers), .min = 1, .max = 65535 },
	{ .name = "peer_grace", .type = CONF_DURATION,
	  .offset = RAW(c.bc_peer_grace_ms), .min = 0, .max = 86400000 },
	{ .name = "forward_credit", .type = CONF_UINT,
	  .offset = RAW(c.bc_forward_credit), .min = 1, .max = 1000000 },
	{ .name = "forward_credit_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_forward_credit_bytes), .min = 1024,
	  .max = 0xffffffffu },
	{ .name = "forward_hold_timeout", .type = CONF_DURATION,
	  .offset = RAW(c.bc_forward_hold_timeout_ms), .min = 100,
	  .max = 3600000 },
	{ .name = "max_peer_spool_bytes", .type = CONF_SIZE,
	  .offset = RAW(c.bc_max_peer_spool_bytes), .min = 0 },
	{ .name = "forget_after", .type = CONF_DURATION,
	  .offset = RAW(c.bc_forget_after_ms), .min = 0,
	  .max = 31536000000ull },
	{ .name = "session_take_timeout", .type = CONF_DURATION,
	  .offset = RAW(c.bc_session_take_timeout_ms), .min = 0,
	  .max = 60000 },
	{ .name = "redial_max", .type = CONF_DURATION,
	  .offset = RAW(c.bc_redial_max_ms), .min = 200, .max = 86400000 },
	{ .name = "max_retained_tombstones", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_retained_tombstones), .min = 0,
	  .max = 100000000 },
	{ .name = "retained_tombstone_ttl", .type = CONF_DURATION,
	  .offset = RAW(c.bc_retained_tombstone_ttl_ms), .min = 1000,
	  .max = 31536000000ull },
	{ .name = "handshake_timeout", .type = CONF_DURATION,
	  .offset = RAW(c.bc_handshake_timeout_ms), .min = 100,
	  .max = 600000 },
	{ .name = "max_handshakes", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_handshakes), .min = 1, .max = 65535 },
	{ .name = "max_handshakes_per_addr", .type = CONF_UINT,
	  .offset = RAW(c.bc_max_handshakes_per_addr), .min = 1,
	  .max = 65535 },
	{ .name = "cluster_certfile", .type = CONF_STRING,
	  .offset = RAW(c.bc_cluster_certfile), .flags = CONF_NONEMPTY },
	{ .name = "cluster_keyfile", .type = CONF_STRING,
	  .offset = RAW(c.bc_cluster_keyfile), .flags = CONF_NONEMPTY },
	{ .name = "cluster_cafile", .type = CONF_STRING,
	  .offset = RAW(c.bc_cluster_cafile), .flags = CONF_NONEMPTY },
	{ .name = "control_socket", .type = CONF_STRING,
	  .offset = RAW(c.bc_control_socket), .flags = CONF_NONEMPTY },
	{ .name = "epmd_port", .type = CONF_UINT,
	  .offset = RAW(c.bc_epmd_port), .min = 1, .max = 65535 },
	{ .name = "quorum", .type = CONF_UINT,
	  .offset = RAW(c.bc_quorum), .min = 0, .max = 100000 },
	{ .name = "http_listen", .type = CONF_HOSTPORT,
	  .offset = RAW(c.bc_http_listen), .min = 0, .max = 65535,
	  .defport = BROKER_DEFAULT_HTTP_PORT },
	{ .name = "http_auth", .type = CONF_BOOL,
	  .offset = RAW(c.bc_http_auth) },
	{ .name = "http_max_connections", .type = CONF_UINT,
	  .offset = RAW(c.bc_http_max_connections), .min = 1, .max = 10000 },
	{ .name = "http_timeout", .type = CONF_DURATION,
	  .offset = RAW(c.bc_http_timeout_ms), .min = 1000, .max = 3600000 },
	{ .name = "http_max_request", .type = CONF_SIZE,
	  .offset = RAW(c.bc_http_max_request), .min = 1024,
	  .max = 1048576 },
	{ .name = "log_file", .type = CONF_STRING,
	  .offset = RAW(c.bc_log_file), .flags = CONF_NONEMPTY },
	{ .name = "websockets_max_request", .type = CONF_SIZE,
	  .offset = RAW(c.bc_ws_max_request), .min = 512, .max = 1048576 },
	{ .name = "topologies", .type = CONF_SKIP },
	{ .name = NULL },
};

static void
broker_conf_defaults(struct broker_conf *c)
{
	c->bc_allow_anonymous = true;
	c->bc_max_packet_size = BROKER_DEFAULT_MAX_PACKET_SIZE;
	c->bc_max_connections = BROKER_DEFAULT_MAX_CONNECTIONS;
	c->bc_max_sessions = BROKER_DEFAULT_MAX_SESSIONS;
	c->bc_max_persistent_sessions = BROKER_DEFAULT_MAX_PERSISTENT_SESSIONS;
	c->bc_persistent_expiration_ms =
	    BROKER_DEFAULT_PERSISTENT_EXPIRATION_MS;
	c->bc_max_subscription_bytes = BROKER_DEFAULT_MAX_SUBSCRIPTION_BYTES;
	c->bc_max_subscription_bytes_total =
	    BROKER_DEFAULT_MAX_SUBSCRIPTION_BYTES_TOTAL;
	c->bc_max_queued_bytes_total = BROKER_DEFAULT_MAX_QUEUED_BYTES_TOTAL;
	c->bc_max_input_bytes_total = BROKER_DEFAULT_MAX_INPUT_BYTES_TOTAL;
	c->bc_max_output_bytes_total = BROKER_DEFAULT_MAX_OUTPUT_BYTES_TOTAL;
	c->bc_max_forward_buffer_bytes = BROKER_DEFAULT_MAX_FORWARD_BUFFER_BYTES;
	c->bc_max_replica_bytes = BROKER_DEFAULT_MAX_REPLICA_BYTES;
	c->bc_max_retained_tombstone_bytes =
	    BROKER_DEFAULT_MAX_RETAINED_TOMBSTONE_BYTES;
	c->bc_max_inflight = BROKER_DEFAULT_MAX_INFLIGHT;
	c->bc_max_queued_messages = BROKER_DEFAULT_MAX_QUEUED_MESSAGES;
	c->bc_max_queued_bytes = BROKER_DEFAULT_MAX_QUEUED_BYTES;
	c->bc_queue_qos0_offline = false;
	c->bc_max_topic_levels = BROKER_DEFAULT_MAX_TOPIC_LEVELS;
	c->bc_max_subscriptions = BROKER_DEFAULT_MAX_SUBSCRIPTIONS;
	c->bc_max_qos = BROKER_DEFAULT_MAX_QOS;
	c->bc_max_keepalive = BROKER_DEFAULT_MAX_KEEPALIVE;
	c->bc_max_topic_alias = BROKER_DEFAULT_MAX_TOPIC_ALIAS;
	c->bc_max_topic_alias_out = BROKER_DEFAULT_MAX_TOPIC_ALIAS_OUT;
	c->bc_shared_subscriptions = true;
	c->bc_wildcard_subscriptions = true;
	c->bc_subscription_identifiers = true;
	c->bc_max_client_id_length = BROKER_DEFAULT_MAX_CLIENT_ID_LENGTH;
	c->bc_max_output_buffer = BROKER_DEFAULT_MAX_OUTPUT_BUFFER;
	c->bc_max_retained_messages = BROKER_DEFAULT_MAX_RETAINED_MESSAGES;
	c->bc_max_retained_bytes = BROKER_DEFAULT_MAX_RETAINED_BYTES;
	c->bc_store_max_bytes = BROKER_DEFAULT_STORE_MAX_BYTES;
	c->bc_store_sync = true;
	c->bc_max_retained_message_size =
	    BROKER_DEFAULT_MAX_RETAINED_MESSAGE_SIZE;
	c->bc_connect_timeout_ms = BROKER_DEFAULT_CONNECT_TIMEOUT_MS;
	c->bc_max_tls_handshakes = BROKER_DEFAULT_MAX_TLS_HANDSHAKES;
	c->bc_sys_interval_ms = BROKER_DEFAULT_SYS_INTERVAL_MS;
	c->bc_tick_interval_ms = BROKER_DEFAULT_TICK_INTERVAL_MS;
	c->bc_dead_after_ms = BROKER_DEFAULT_DEAD_AFTER_MS;
	c->bc_max_frame = BROKER_DEFAULT_MAX_FRAME;
	c->bc_max_forward_buffer = BROKER_DEFAULT_MAX_FORWARD_BUFFER;
	c->bc_max_peers = BROKER_DEFAULT_MAX_PEERS;
	c->bc_peer_grace_ms = BROKER_DEFAULT_PEER_GRACE_MS;
	c->bc_forward_credit = BROKER_DEFAULT_FORWARD_CREDIT;
	c->bc_forward_credit_bytes = BROKER_DEFAULT_FORWARD_CREDIT_BYTES;
	c->bc_forward_hold_timeout_ms = BROKER_DEFAULT_FORWARD_HOLD_TIMEOUT_MS;
	c->bc_max_peer_spool_bytes = BROKER_DEFAULT_MAX_PEER_SPOOL_BYTES;
	c->bc_forget_after_ms = BROKER_DEFAULT_FORGET_AFTER_MS;
	c->bc_redial_max_ms = BROKER_DEFAULT_REDIAL_MAX_MS;
	c->bc_session_take_timeout_ms = BROKER_DEFAULT_SESSION_TAKE_TIMEOUT_MS;
	c->bc_max_retained_tombstones = BROKER_DEFAULT_MAX_RETAINED_TOMBSTONES;
	c->bc_retained_tombstone_ttl_ms =
	    BROKER_DEFAULT_RETAINED_TOMBSTONE_TTL_MS;
	c->bc_handshake_timeout_ms = BROKER_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	c->bc_max_handshakes = BROKER_DEFAULT_MAX_HANDSHAKES;
	c->bc_max_handshakes_per_addr = BROKER_DEFAULT_MAX_HANDSHAKES_PER_ADDR;
	c->bc_quorum = BROKER_DEFAULT_QUORUM;
	c->bc_http_max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	c->bc_http_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
	c->bc_http_max_request = HTTP_DEFAULT_MAX_REQUEST;
	c->bc_ws_max_request = BROKER_DEFAULT_WS_MAX_REQUEST;
}

/* Frees what one listener's conf owns (not lc itself). */
static void
broker_listener_conf_fini(struct broker_listener_conf *lc)
{
	size_t i;

	free(lc->lc_addr.host);
	conf_free_fields(broker_tls_keys, &lc->lc_tls_conf);
	for (i = 0; i < lc->lc_origins.n; i++)
		free(lc->lc_origins.v[i]);
	free(lc->lc_origins.v);
	memset(lc, 0, sizeof(*lc));
}

static void
broker_conf_listeners_free(void *field, void *arg)
{
	struct broker_listeners_raw *l = field;
	size_t i;

	for (i = 0; i < l->n; i++)
		broker_listener_conf_fini(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->given = 0;
}

/*
 * One `listeners:` map into lc.  The port: `port`, or the one in
 * `address`, or the default of the protocol (1883 mqtt, 8883 mqtt with
 * tls, 8080 websockets, 8081 with tls).
 */
static int
broker_conf_listener_map(struct conf_doc *doc, const yaml_node_t *v,
    size_t idx, struct broker_listener_conf *lc)
{
	struct broker_listener_raw r;
	const yaml_node_t *an;
	const struct broker_tls_conf *t;
	uint16_t defport;
	int rc, tls, bad = 0;

	memset(&r, 0, sizeof(r));
	r.protocol = BROKER_PROTO_MQTT;
	r.tls.tc_min_version = BROKER_TLS_1_2;
	rc = conf_apply(doc, v, broker_listener_keys, &r);
	if (rc == CAIRN_ERR_NOMEM)
		goto out;
	bad = rc != 0;
	tls = conf_map_get(doc, v, "tls") != NULL;
	t = &r.tls;
	if (r.protocol != BROKER_PROTO_WEBSOCKETS && r.origins.n > 0)
		bad = conf_error(doc, conf_map_get(doc, v, "allowed_origins"),
		    "key 'listeners': item %zu: allowed_origins needs "
		    "protocol websockets", idx + 1);
	if (tls && t->tc_require_certificate && t->tc_cafile == NULL &&
	    t->tc_capath == NULL)
		bad = conf_error(doc, conf_map_get(doc, v, "tls"),
		    "key 'listeners': item %zu: tls: require_certificate "
		    "needs cafile or capath", idx + 1);
	if (tls && t->tc_use_identity_as_username &&
	    !t->tc_require_certificate)
		bad = conf_error(doc, conf_map_get(doc, v, "tls"),
		    "key 'listeners': item %zu: tls: "
		    "use_identity_as_username needs require_certificate",
		    idx + 1);
	if (r.protocol == BROKER_PROTO_WEBSOCKETS)
		defport = tls ? BROKER_DEFAULT_PORT_WSS : BROKER_DEFAULT_PORT_WS;
	else
		defport = tls ? BROKER_DEFAULT_PORT_TLS : BROKER_DEFAULT_PORT;
	an = conf_map_get(doc, v, "address");
	rc = conf_parse_hostport(r.address != NULL ? r.address :
	    BROKER_DEFAULT_LISTEN, 0, &lc->lc_addr);
	if (rc == 0 && r.port != 0) {
		bad = conf_error(doc, an, "key 'listeners': item %zu: a port "
		    "in address and a port key", idx + 1);
		rc = 0;
	} else if (rc != 0 && rc != CAIRN_ERR_NOMEM) {
		free(lc->lc_addr.host);
		lc->lc_addr.host = NULL;
		rc = conf_parse_hostport(r.address != NULL ? r.address :
		    BROKER_DEFAULT_LISTEN, r.port != 0 ? (uint16_t)r.port :
		    defport, &lc->lc_addr);
		if (rc == CAIRN_ERR_INVAL)
			bad = conf_error(doc, an, "key 'listeners': item %zu: "
			    "address '%s': expected host, [v6], host:port "
			    "or [v6]:port", idx + 1, r.address);
	}
	if (rc == CAIRN_ERR_NOMEM)
		goto out;
	lc->lc_protocol = (enum broker_protocol)r.protocol;
	lc->lc_max_connections = r.max_connections;
	lc->lc_tls = tls;
	lc->lc_tls_conf = r.tls;
	memset(&r.tls, 0, sizeof(r.tls));
	lc->lc_origins = r.origins;
	memset(&r.origins, 0, sizeof(r.origins));
	rc = bad ? CAIRN_ERR_INVAL : 0;
out:
	free(r.address);
	conf_free_fields(broker_tls_keys, &r.tls);
	while (r.origins.n > 0)
		free(r.origins.v[--r.origins.n]);
	free(r.origins.v);
	return rc;
}

/*
 * `listeners`: one entry or a sequence of them; each entry an address
 * string (MQTT, no TLS, port 1883 when none) or a map.
 */
static int
broker_conf_listeners(struct conf_doc *doc, const yaml_node_t *v,
    void *field, void *arg)
{
	struct broker_listeners_raw nl = { NULL, 0, 0 }, *l = field;
	struct broker_listener_conf *lc;
	const yaml_node_t *item;
	const char *str;
	size_t i, n;
	int rc, bad = 0;

	if (v->type == YAML_SEQUENCE_NODE)
		n = conf_seq_len(v);
	else
		n = v->type == YAML_SCALAR_NODE &&
		    conf_node_scalar(v) != NULL &&
		    conf_node_scalar(v)[0] == '\0' ? 0 : 1;
	if (n > 0 && (nl.v = calloc(n, sizeof(*nl.v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		item = v->type == YAML_SEQUENCE_NODE ?
		    conf_seq_item(doc, v, i) : v;
		lc = &nl.v[nl.n];
		if (item->type == YAML_MAPPING_NODE) {
			rc = broker_conf_listener_map(doc, item, i, lc);
		} else if ((str = conf_node_scalar(item)) != NULL) {
			lc->lc_protocol = BROKER_PROTO_MQTT;
			rc = conf_parse_hostport(str, BROKER_DEFAULT_PORT,
			    &lc->lc_addr);
			if (rc == CAIRN_ERR_INVAL)
				conf_error(doc, item, "key 'listeners': item "
				    "%zu '%s': expected host:port, [v6]:port "
				    "or a host", i + 1, str);
		} else
			rc = conf_error(doc, item, "key 'listeners': item "
			    "%zu: expected an address or a mapping, got %s",
			    i + 1, conf_node_kind(item));
		if (rc == CAIRN_ERR_NOMEM) {
			broker_listener_conf_fini(lc);
			broker_conf_listeners_free(&nl, NULL);
			return rc;
		}
		if (rc != 0) {
			broker_listener_conf_fini(lc);
			bad = 1;
			continue;
		}
		nl.n++;
	}
	broker_conf_listeners_free(l, NULL);
	nl.given = n;
	*l = nl;
	return bad ? CAIRN_ERR_INVAL : 0;
}

void
broker_conf_free(struct broker_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->bc_nlisten; i++)
		broker_listener_conf_fini(&c->bc_listeners[i]);
	free(c->bc_listeners);
	free(c->bc_password_file);
	free(c->bc_data_dir);
	free(c->bc_response_information);
	free(c->bc_acl_file);
	free(c->bc_log_file);
	free(c->bc_node_name);
	free(c->bc_cluster_listen.host);
	free(c->bc_cookie);
	free(c->bc_cookie_file);
	for (i = 0; i < c->bc_peers.n; i++)
		free(c->bc_peers.v[i]);
	free(c->bc_peers.v);
	free(c->bc_cluster_certfile);
	free(c->bc_cluster_keyfile);
	free(c->bc_cluster_cafile);
	free(c->bc_control_socket);
	free(c->bc_http_listen.host);
	agent_conf_free(c->bc_agent);
	free(c);
}

/* Appends lc (taken: emptied on success) to c's listeners. */
static int
broker_conf_add_listen(struct broker_conf *c, struct broker_listener_conf *lc)
{
	struct broker_listener_conf *n;

	if ((n = reallocarray(c->bc_listeners, c->bc_nlisten + 1,
	    sizeof(*n))) == NULL)
		return CAIRN_ERR_NOMEM;
	c->bc_listeners = n;
	c->bc_listeners[c->bc_nlisten++] = *lc;
	memset(lc, 0, sizeof(*lc));
	return 0;
}

/* An MQTT listener without TLS on hp (taken). */
static int
broker_conf_add_plain(struct broker_conf *c, struct conf_hostport *hp)
{
	struct broker_listener_conf lc;
	int rc;

	memset(&lc, 0, sizeof(lc));
	lc.lc_addr = *hp;
	lc.lc_protocol = BROKER_PROTO_MQTT;
	if ((rc = broker_conf_add_listen(c, &lc)) == 0)
		hp->host = NULL;
	return rc;
}

/* The cluster keys: on when any names a node; peers are name@host:port. */
static int
broker_conf_check_cluster(struct conf_doc *doc, struct broker_conf *c)
{
	const yaml_node_t *root = conf_doc_root(doc);
	struct conf_hostport hp;
	struct sockaddr_storage hss;
	socklen_t hlen;
	const char *at;
	size_t i;
	int rc;

	c->bc_cluster = c->bc_node_name != NULL ||
	    c->bc_cluster_listen.host != NULL || c->bc_peers.n > 0;
	if (c->bc_node_name != NULL && ((at = strchr(c->bc_node_name,
	    '@')) == NULL || at == c->bc_node_name || at[1] == '\0' ||
	    strlen(c->bc_node_name) > 255))
		conf_error(doc, conf_map_get(doc, root, "node_name"),
		    "key 'node_name': expected name@host (at most 255 bytes)");
	for (i = 0; i < c->bc_peers.n; i++) {
		memset(&hp, 0, sizeof(hp));
		at = strchr(c->bc_peers.v[i], '@');
		rc = at == NULL || at == c->bc_peers.v[i] ? CAIRN_ERR_INVAL :
		    conf_parse_hostport(at + 1, 0, &hp);
		free(hp.host);
		if (rc == CAIRN_ERR_NOMEM)
			return rc;
		if (rc != 0)
			conf_error(doc, conf_map_get(doc, root, "peers"),
			    "key 'peers': item %zu '%s': expected "
			    "name@host:port", i + 1, c->bc_peers.v[i]);
	}
	if (c->bc_cluster && c->bc_cluster_listen.host == NULL &&
	    (c->bc_cluster_listen.host = strdup(
	    BROKER_DEFAULT_CLUSTER_LISTEN)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (c->bc_dead_after_ms <= c->bc_tick_interval_ms)
		conf_error(doc, conf_map_get(doc, root, "dead_after"),
		    "key 'dead_after': must be more than tick_interval");
	if (c->bc_cluster && c->bc_max_frame < c->bc_max_packet_size + 64)
		conf_error(doc, conf_map_get(doc, root, "max_frame"),
		    "key 'max_frame': less than max_packet_size + 64");
	if ((c->bc_cluster_certfile != NULL) !=
	    (c->bc_cluster_keyfile != NULL) ||
	    (c->bc_cluster_certfile != NULL) !=
	    (c->bc_cluster_cafile != NULL))
		conf_error(doc, conf_map_get(doc, root, "cluster_certfile") ?
		    conf_map_get(doc, root, "cluster_certfile") :
		    conf_map_get(doc, root, "cluster_keyfile") ?
		    conf_map_get(doc, root, "cluster_keyfile") :
		    conf_map_get(doc, root, "cluster_cafile"),
		    "cluster TLS needs cluster_certfile, cluster_keyfile and "
		    "cluster_cafile together (links are mutually "
		    "authenticated)");
	/* http_new() binds a numeric address: -n says so before a start. */
	if (c->bc_http_listen.host != NULL && sock_addr_parse(
	    c->bc_http_listen.host, c->bc_http_listen.port, &hss, &hlen) != 0)
		conf_error(doc, conf_map_get(doc, root, "http_listen"),
		    "key 'http_listen': expected a numeric address:port");
	/* The status page's password is the MQTT users'. */
	if (c->bc_http_auth && c->bc_password_file == NULL)
		conf_error(doc, conf_map_get(doc, root, "http_auth"),
		    "key 'http_auth': needs password_file");
	return 0;
}

/* The agent's topologies (agent/agent_conf.h), with their own keys. */
static int
broker_conf_topologies(struct conf_doc *doc, struct broker_conf *c)
{
	const yaml_node_t *tn;
	int rc;

	if ((tn = conf_map_get(doc, conf_doc_root(doc), "topologies")) ==
	    NULL)
		return 0;
	if ((c->bc_agent = calloc(1, sizeof(*c->bc_agent))) == NULL)
		return CAIRN_ERR_NOMEM;
	agent_conf_defaults(c->bc_agent);
	rc = agent_conf_topologies(doc, tn, NULL, 0, c->bc_agent, NULL);
	return rc == CAIRN_ERR_NOMEM ? rc : 0;
}

/* Listeners and the rules that tie keys together. */
static int
broker_conf_check(struct conf_doc *doc, struct broker_conf_raw *raw)
{
	const yaml_node_t *root = conf_doc_root(doc), *n;
	struct broker_conf *c = &raw->c;
	struct conf_hostport hp;
	size_t i;
	int rc;

	if (raw->listen.host != NULL &&
	    (rc = broker_conf_add_plain(c, &raw->listen)) != 0)
		return rc;
	n = conf_map_get(doc, root, "listeners");
	for (i = 0; i < raw->listeners.n; i++)
		if ((rc = broker_conf_add_listen(c,
		    &raw->listeners.v[i])) != 0)
			return rc;
	if (c->bc_nlisten == 0 && n == NULL) {
		hp.host = strdup(BROKER_DEFAULT_LISTEN);
		hp.port = BROKER_DEFAULT_PORT;
		if (hp.host == NULL)
			return CAIRN_ERR_NOMEM;
		if ((rc = broker_conf_add_plain(c, &hp)) != 0) {
			free(hp.host);
			return rc;
		}
	} else if (c->bc_nlisten == 0 && raw->listeners.given == 0)
		conf_error(doc, n, "key 'listeners': no address to listen on");
	if ((rc = broker_conf_check_cluster(doc, c)) != 0)
		return rc;
	if ((rc = broker_conf_topologies(doc, c)) != 0)
		return rc;
	if (c->bc_max_output_buffer < c->bc_max_packet_size)
		conf_error(doc, conf_map_get(doc, root, "max_output_buffer") ?
		    conf_map_get(doc, root, "max_output_buffer") :
		    conf_map_get(doc, root, "max_packet_size"),
		    "key 'max_output_buffer': %llu is less than "
		    "max_packet_size %llu",
		    (unsigned long long)c->bc_max_output_buffer,
		    (unsigned long long)c->bc_max_packet_size);
	return 0;
}

static struct broker_conf *
broker_conf_from_doc(struct conf_doc *doc, char *err, size_t errlen)
{
	struct broker_conf_raw raw;
	struct broker_conf *c = NULL;
	const char *msg;
	size_t i;
	int rc;

	memset(&raw, 0, sizeof(raw));
	broker_conf_defaults(&raw.c);
	rc = conf_apply(doc, conf_doc_root(doc), broker_keys, &raw);
	if (rc != CAIRN_ERR_NOMEM)
		rc = broker_conf_check(doc, &raw);
	if (rc == CAIRN_ERR_NOMEM) {
		snprintf(err, errlen, "%s: out of memory", conf_doc_name(doc));
		goto fail;
	}
	if (conf_doc_nerrors(doc) > 0) {
		msg = conf_doc_errors(doc);
		snprintf(err, errlen, "%s", msg != NULL ? msg :
		    "out of memory");
		goto fail;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", conf_doc_name(doc));
		goto fail;
	}
	*c = raw.c;
	memset(&raw.c, 0, sizeof(raw.c));
fail:
	/* On success raw.c was emptied: this frees only the leftovers. */
	conf_free_fields(broker_keys, &raw);
	for (i = 0; i < raw.c.bc_nlisten; i++)
		broker_listener_conf_fini(&raw.c.bc_listeners[i]);
	free(raw.c.bc_listeners);
	agent_conf_free(raw.c.bc_agent);
	return c;
}

struct broker_conf *
broker_conf_parse(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct conf_doc *doc;
	struct conf_err cerr;
	struct broker_conf *c;

	if ((doc = conf_doc_load_string(name, text, len, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return NULL;
	}
	c = broker_conf_from_doc(doc, err, errlen);
	conf_doc_free(doc);
	return c;
}

struct broker_conf *
broker_conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_doc *doc;
	struct conf_err cerr;
	struct broker_conf *c;

	if ((doc = conf_doc_load_file(path, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return NULL;
	}
	c = broker_conf_from_doc(doc, err, errlen);
	conf_doc_free(doc);
	return c;
}

/* 1 if the key's field differs between a and b. */
static int
broker_conf_field_differs(const struct conf_key *k,
    const struct broker_conf *a, const struct broker_conf *b)
{
	/* RAW(c.x) is offsetof(struct broker_conf, x): c comes first. */
	const char *fa = (const char *)a + k->offset;
	const char *fb = (const char *)b + k->offset;
	const struct conf_strlist *la, *lb;
	const struct conf_hostport *ha, *hb;
	const char *sa, *sb;
	size_t i;

	switch (k->type) {
	case CONF_BOOL:
		return *(const bool *)fa != *(const bool *)fb;
	case CONF_UINT:
		return *(const unsigned int *)fa != *(const unsigned int *)fb;
	case CONF_DURATION:
	case CONF_SIZE:
		return *(const uint64_t *)fa != *(const uint64_t *)fb;
	case CONF_STRING:
		sa = *(char *const *)fa;
		sb = *(char *const *)fb;
		return (sa == NULL) != (sb == NULL) ||
		    (sa != NULL && strcmp(sa, sb) != 0);
	case CONF_STRLIST:
		la = (const struct conf_strlist *)fa;
		lb = (const struct conf_strlist *)fb;
		if (la->n != lb->n)
			return 1;
		for (i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]) != 0)
				return 1;
		return 0;
	case CONF_HOSTPORT:
		ha = (const struct conf_hostport *)fa;
		hb = (const struct conf_hostport *)fb;
		return ha->port != hb->port || (ha->host == NULL) !=
		    (hb->host == NULL) || (ha->host != NULL &&
		    strcmp(ha->host, hb->host) != 0);
	default:
		return 0;
	}
}

void
broker_conf_diff(const struct broker_conf *a, const struct broker_conf *b,
    void (*cb)(const char *key, void *arg), void *arg)
{
	const struct conf_key *k;

	for (k = broker_keys; k->name != NULL; k++) {
		if (k->offset < sizeof(struct broker_conf) &&
		    broker_conf_field_differs(k, a, b))
			cb(k->name, arg);
	}
}
