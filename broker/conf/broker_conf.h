/*
 * cairn-broker's YAML configuration.  conf/broker.yaml documents every
 * key with its default and is the source of truth for the names; the
 * defaults below must agree with it.  Parsing is pure (text in, struct
 * out) and all-or-nothing: every error is reported as FILE:LINE:COL.
 */
#ifndef CAIRN_BROKER_BROKER_CONF_H
#define CAIRN_BROKER_BROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

struct agent_conf;

/* Defaults: keep conf/broker.yaml in step. */
#define BROKER_DEFAULT_PORT			1883
/* A listener's port when its entry names none: the IANA/common ones. */
#define BROKER_DEFAULT_PORT_TLS			8883
#define BROKER_DEFAULT_PORT_WS			8080
#define BROKER_DEFAULT_PORT_WSS			8081
/* A WebSocket upgrade request (request line and headers), bytes. */
#define BROKER_DEFAULT_WS_MAX_REQUEST		8192
#define BROKER_DEFAULT_LISTEN			"127.0.0.1"
#define BROKER_DEFAULT_MAX_PACKET_SIZE		(1024 * 1024)
/* 0: auto, from RLIMIT_NOFILE at start (broker.c, broker_limits_auto). */
#define BROKER_DEFAULT_MAX_CONNECTIONS		0
/* 0: auto, max_connections + max_persistent_sessions. */
#define BROKER_DEFAULT_MAX_SESSIONS		0
#define BROKER_DEFAULT_MAX_PERSISTENT_SESSIONS	100000
#define BROKER_DEFAULT_PERSISTENT_EXPIRATION_MS	0	/* never */
#define BROKER_DEFAULT_MAX_SUBSCRIPTION_BYTES	(256 * 1024)
#define BROKER_DEFAULT_MAX_SUBSCRIPTION_BYTES_TOTAL (256ull * 1024 * 1024)
#define BROKER_DEFAULT_MAX_QUEUED_BYTES_TOTAL	(512ull * 1024 * 1024)
#define BROKER_DEFAULT_MAX_INPUT_BYTES_TOTAL	(256ull * 1024 * 1024)
#define BROKER_DEFAULT_MAX_OUTPUT_BYTES_TOTAL	(512ull * 1024 * 1024)
#define BROKER_DEFAULT_MAX_FORWARD_BUFFER_BYTES	(32ull * 1024 * 1024)
/* Session replicas held for other nodes (0: none held, none placed). */
#define BROKER_DEFAULT_MAX_REPLICA_BYTES	(64ull * 1024 * 1024)
/* Topics of up to 64 KiB: 10000 tombstones alone could be 650 MB. */
#define BROKER_DEFAULT_MAX_RETAINED_TOMBSTONE_BYTES (16ull * 1024 * 1024)
#define BROKER_DEFAULT_MAX_INFLIGHT		20
#define BROKER_DEFAULT_MAX_QUEUED_MESSAGES	1000
#define BROKER_DEFAULT_MAX_QUEUED_BYTES		(16 * 1024 * 1024)
#define BROKER_DEFAULT_MAX_TOPIC_LEVELS		64
#define BROKER_DEFAULT_MAX_SUBSCRIPTIONS	1000
#define BROKER_DEFAULT_MAX_QOS			2
#define BROKER_DEFAULT_MAX_KEEPALIVE		65535
/* MQTT 5.0 topic aliases a client may set on one connection. */
#define BROKER_DEFAULT_MAX_TOPIC_ALIAS		10
/*
 * MQTT 5.0 topic aliases the broker may set on one connection to a
 * client that allows them (the lower of this and the client's maximum);
 * the ceiling keeps a connection's alias table small (mqtt/mqtt_alias.h).
 */
#define BROKER_DEFAULT_MAX_TOPIC_ALIAS_OUT	10
#define BROKER_MAX_TOPIC_ALIAS_OUT		1024
#define BROKER_DEFAULT_MAX_CLIENT_ID_LENGTH	256
#define BROKER_DEFAULT_MAX_OUTPUT_BUFFER	(4 * 1024 * 1024)
#define BROKER_DEFAULT_MAX_RETAINED_MESSAGES	100000
#define BROKER_DEFAULT_MAX_RETAINED_BYTES	(64 * 1024 * 1024)
#define BROKER_DEFAULT_MAX_RETAINED_MESSAGE_SIZE	(256 * 1024)
/* data_dir's LMDB map: address space, not memory; the file grows as used. */
#define BROKER_DEFAULT_STORE_MAX_BYTES		(1024ull * 1024 * 1024)
#define BROKER_DEFAULT_CONNECT_TIMEOUT_MS	10000
/* TLS handshakes in progress, all listeners together. */
#define BROKER_DEFAULT_MAX_TLS_HANDSHAKES	1024
#define BROKER_DEFAULT_SYS_INTERVAL_MS		10000

/* Cluster (broker/cluster/CLUSTER.md): off unless node_name, cluster_listen or peers. */
#define BROKER_DEFAULT_CLUSTER_LISTEN		"127.0.0.1"
#define BROKER_DEFAULT_TICK_INTERVAL_MS		1000
#define BROKER_DEFAULT_DEAD_AFTER_MS		5000
#define BROKER_DEFAULT_MAX_FRAME		(4 * 1024 * 1024)
#define BROKER_DEFAULT_MAX_FORWARD_BUFFER	10000
#define BROKER_DEFAULT_MAX_PEERS		64
#define BROKER_DEFAULT_PEER_GRACE_MS		10000
/* Custody across links (broker/cluster/CLUSTER.md, "Custody"). */
#define BROKER_DEFAULT_FORWARD_CREDIT		1000
#define BROKER_DEFAULT_FORWARD_CREDIT_BYTES	(16ull * 1024 * 1024)
#define BROKER_DEFAULT_FORWARD_HOLD_TIMEOUT_MS	30000
#define BROKER_DEFAULT_MAX_PEER_SPOOL_BYTES	(64ull * 1024 * 1024)
#define BROKER_DEFAULT_FORGET_AFTER_MS		300000
#define BROKER_DEFAULT_REDIAL_MAX_MS		10000
#define BROKER_DEFAULT_SESSION_TAKE_TIMEOUT_MS	2000
#define BROKER_DEFAULT_MAX_RETAINED_TOMBSTONES	10000
#define BROKER_DEFAULT_RETAINED_TOMBSTONE_TTL_MS	3600000
#define BROKER_DEFAULT_HANDSHAKE_TIMEOUT_MS	3000
#define BROKER_DEFAULT_MAX_HANDSHAKES		64
#define BROKER_DEFAULT_MAX_HANDSHAKES_PER_ADDR	8

#define BROKER_DEFAULT_QUORUM			1

/* The HTTP endpoint (common/http.h): off unless http_listen is set. */
#define BROKER_DEFAULT_HTTP_PORT		8088

/* Longest error text broker_conf_load() writes, all lines included. */
#define BROKER_CONF_ERR_LEN			8192

/* A listener's `protocol`. */
enum broker_protocol {
	BROKER_PROTO_MQTT = 1,		/* MQTT over TCP (or TLS) */
	BROKER_PROTO_WEBSOCKETS,	/* MQTT over WebSockets (or wss) */
};

/* A listener's `tls: min_version` (OpenSSL's protocol numbers). */
#define BROKER_TLS_1_2		0x0303
#define BROKER_TLS_1_3		0x0304

/* A listener's `tls:` map (mosquitto's per-listener TLS options). */
struct broker_tls_conf {
	char		*tc_certfile;		/* PEM chain; required */
	char		*tc_keyfile;		/* PEM key; required */
	char		*tc_cafile;		/* client CAs, a PEM file */
	char		*tc_capath;		/* ... or a hashed directory */
	bool		 tc_require_certificate;
	bool		 tc_use_identity_as_username;
	int		 tc_min_version;	/* BROKER_TLS_1_2 or _1_3 */
	char		*tc_ciphers;		/* TLS 1.2; NULL: OpenSSL's */
	char		*tc_ciphersuites;	/* TLS 1.3; NULL: OpenSSL's */
};

/*
 * One `listeners:` entry: an address string (MQTT, no TLS) or a map
 * with address, port, protocol, tls and max_connections.
 */
struct broker_listener_conf {
	struct conf_hostport	 lc_addr;
	enum broker_protocol	 lc_protocol;
	unsigned int		 lc_max_connections;	/* 0: only the global */
	bool			 lc_tls;		/* tls: given */
	struct broker_tls_conf	 lc_tls_conf;
	/* websockets: the Origin values allowed (exact); none: any. */
	struct conf_strlist	 lc_origins;
};

struct broker_conf {
	/* The addresses to listen on: listen, then listeners. */
	struct broker_listener_conf	*bc_listeners;
	size_t			 bc_nlisten;
	bool			 bc_listen_reuseport;	/* SO_REUSEPORT on them */
	bool			 bc_allow_anonymous;
	char			*bc_password_file;	/* NULL: none */
	char			*bc_acl_file;		/* NULL: none */
	char			*bc_log_file;		/* NULL: stderr/syslog */
	uint64_t		 bc_max_packet_size;
	unsigned int		 bc_max_connections;	/* 0: auto at start */
	unsigned int		 bc_max_sessions;	/* 0: auto at start */
	unsigned int		 bc_max_persistent_sessions;
	uint64_t		 bc_persistent_expiration_ms;	/* 0: never */
	uint64_t		 bc_max_subscription_bytes;	/* per session */
	uint64_t		 bc_max_subscription_bytes_total;
	uint64_t		 bc_max_queued_bytes_total;
	uint64_t		 bc_max_input_bytes_total;	/* partial packets */
	uint64_t		 bc_max_output_bytes_total;	/* unwritten */
	uint64_t		 bc_max_forward_buffer_bytes;	/* per peer */
	uint64_t		 bc_max_replica_bytes;	/* all replicas held */
	uint64_t		 bc_max_retained_tombstone_bytes;
	unsigned int		 bc_max_inflight;
	unsigned int		 bc_max_queued_messages;
	uint64_t		 bc_max_queued_bytes;
	bool			 bc_queue_qos0_offline;
	unsigned int		 bc_max_topic_levels;
	unsigned int		 bc_max_subscriptions;
	unsigned int		 bc_max_qos;
	unsigned int		 bc_max_keepalive;
	unsigned int		 bc_max_topic_alias;	/* MQTT 5.0 */
	unsigned int		 bc_max_topic_alias_out; /* 5.0, server's */
	bool			 bc_shared_subscriptions;	/* 5.0 caps */
	bool			 bc_wildcard_subscriptions;
	bool			 bc_subscription_identifiers;
	char			*bc_response_information; /* 5.0; NULL: none */
	unsigned int		 bc_max_client_id_length;
	uint64_t		 bc_max_output_buffer;
	unsigned int		 bc_max_retained_messages;
	uint64_t		 bc_max_retained_bytes;	/* messages and index */
	char			*bc_data_dir;		/* NULL: nothing on disk */
	uint64_t		 bc_store_max_bytes;	/* data_dir's map */
	bool			 bc_store_sync;		/* fsync each commit */
	uint64_t		 bc_max_retained_message_size;	/* payload */
	uint64_t		 bc_connect_timeout_ms;
	unsigned int		 bc_max_tls_handshakes;	/* in progress */
	uint64_t		 bc_sys_interval_ms;	/* 0: no $SYS */
	/* Cluster; see conf/broker.yaml. */
	bool			 bc_cluster;		/* any key below given */
	char			*bc_node_name;		/* NULL: broker<port>@host */
	struct conf_hostport	 bc_cluster_listen;	/* port 0: any */
	char			*bc_cookie;		/* NULL: cookie_file */
	char			*bc_cookie_file;	/* NULL: ~/.erlang.cookie */
	struct conf_strlist	 bc_peers;		/* "name@host:port" */
	uint64_t		 bc_tick_interval_ms;
	uint64_t		 bc_dead_after_ms;
	uint64_t		 bc_max_frame;
	unsigned int		 bc_max_forward_buffer;	/* per peer */
	unsigned int		 bc_max_peers;
	uint64_t		 bc_peer_grace_ms;	/* 0: routes go at once */
	unsigned int		 bc_forward_credit;	/* granted per link */
	uint64_t		 bc_forward_credit_bytes;
	uint64_t		 bc_forward_hold_timeout_ms;
	uint64_t		 bc_max_peer_spool_bytes;	/* 0: no spool */
	uint64_t		 bc_forget_after_ms;	/* 0: never */
	uint64_t		 bc_redial_max_ms;
	uint64_t		 bc_session_take_timeout_ms;	/* 0: no wait */
	unsigned int		 bc_max_retained_tombstones;
	uint64_t		 bc_retained_tombstone_ttl_ms;
	/* Links before authentication (broker/cluster/CLUSTER.md, "Strangers"). */
	uint64_t		 bc_handshake_timeout_ms;
	unsigned int		 bc_max_handshakes;	/* inbound, in total */
	unsigned int		 bc_max_handshakes_per_addr;
	/* TLS 1.3 on every link: all three, or none (plain links). */
	char			*bc_cluster_certfile;
	char			*bc_cluster_keyfile;
	char			*bc_cluster_cafile;	/* file or directory */
	/* Membership (broker/cluster/membership.h); see conf/broker.yaml. */
	char			*bc_control_socket;	/* NULL: none */
	unsigned int		 bc_epmd_port;		/* 0: $ERL_EPMD_PORT, 4369 */
	unsigned int		 bc_quorum;
	/* HTTP endpoint: metrics, probes, API, status page. */
	struct conf_hostport	 bc_http_listen;	/* host NULL: off */
	bool			 bc_http_auth;		/* password_file's users */
	unsigned int		 bc_http_max_connections;
	uint64_t		 bc_http_timeout_ms;
	uint64_t		 bc_http_max_request;	/* line and headers */
	uint64_t		 bc_ws_max_request;	/* WebSocket upgrade */
	/* `topologies`, parsed by agent_conf; NULL: the default one. */
	struct agent_conf	*bc_agent;
};

/*
 * Reads and checks the file at path.  Returns a config to free with
 * broker_conf_free(), or NULL with every problem in err (lines
 * "FILE:LINE:COL: ...", joined by newlines; truncated to errlen).
 */
struct broker_conf *broker_conf_load(const char *path, char *err,
		    size_t errlen);
/* As broker_conf_load(), from text[0..len) (borrowed), named `name`. */
struct broker_conf *broker_conf_parse(const char *name, const char *text,
		    size_t len, char *err, size_t errlen);
/*
 * Calls cb with the name of each key whose value differs between a and
 * b (a reload's old and new configurations).  listen, listeners and
 * topologies are not compared (the caller compares listeners itself);
 * neither is a value that start derives (max_connections 0).
 */
void		 broker_conf_diff(const struct broker_conf *a,
		    const struct broker_conf *b,
		    void (*cb)(const char *key, void *arg), void *arg);
/* Frees c and everything it owns.  Accepts NULL. */
void		 broker_conf_free(struct broker_conf *c);

#endif
