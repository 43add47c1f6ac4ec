/*
 * Check units for broker/broker_conf: the defaults (as conf/broker.yaml
 * documents them), every key, listeners, and errors with their
 * FILE:LINE:COL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "broker/conf/broker_conf.h"

static char err[BROKER_CONF_ERR_LEN];

static struct broker_conf *
parse(const char *text)
{
	err[0] = '\0';
	return broker_conf_parse("b.yaml", text, strlen(text), err,
	    sizeof(err));
}

/* The text must fail with `want` somewhere in the error. */
static void
bad(const char *text, const char *want)
{
	struct broker_conf *c = parse(text);

	ck_assert_msg(c == NULL, "accepted: %s", text);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'",
	    err, want);
}

START_TEST(broker_conf__defaults)
{
	struct broker_conf *c = parse("");

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->bc_nlisten, 1);
	ck_assert_str_eq(c->bc_listeners[0].lc_addr.host, "127.0.0.1");
	ck_assert_uint_eq(c->bc_listeners[0].lc_addr.port, 1883);
	ck_assert(!c->bc_listen_reuseport);
	ck_assert(c->bc_allow_anonymous);
	ck_assert_ptr_null(c->bc_password_file);
	ck_assert_ptr_null(c->bc_acl_file);
	ck_assert_uint_eq(c->bc_max_packet_size, 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_tls_handshakes, 1024);
	/* 0: auto at start (broker.c). */
	ck_assert_uint_eq(c->bc_max_connections, 0);
	ck_assert_uint_eq(c->bc_max_sessions, 0);
	ck_assert_uint_eq(c->bc_max_persistent_sessions, 100000);
	ck_assert_uint_eq(c->bc_persistent_expiration_ms, 0);
	ck_assert_uint_eq(c->bc_max_subscription_bytes, 256 * 1024);
	ck_assert_uint_eq(c->bc_max_subscription_bytes_total,
	    256ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_queued_bytes_total, 512ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_input_bytes_total, 256ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_output_bytes_total, 512ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_forward_buffer_bytes, 32ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_replica_bytes, 64ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_retained_tombstone_bytes,
	    16ull * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_inflight, 20);
	ck_assert_uint_eq(c->bc_max_queued_messages, 1000);
	ck_assert_uint_eq(c->bc_max_queued_bytes, 16 * 1024 * 1024);
	ck_assert(!c->bc_queue_qos0_offline);
	ck_assert_uint_eq(c->bc_max_topic_levels, 64);
	ck_assert_uint_eq(c->bc_max_subscriptions, 1000);
	ck_assert_uint_eq(c->bc_max_qos, 2);
	ck_assert_uint_eq(c->bc_max_keepalive, 65535);
	ck_assert_uint_eq(c->bc_max_topic_alias_out, 10);
	ck_assert(c->bc_shared_subscriptions);
	ck_assert(c->bc_wildcard_subscriptions);
	ck_assert(c->bc_subscription_identifiers);
	ck_assert_uint_eq(c->bc_max_client_id_length, 256);
	ck_assert_uint_eq(c->bc_max_output_buffer, 4 * 1024 * 1024);
	ck_assert_uint_eq(c->bc_max_retained_messages, 100000);
	ck_assert_uint_eq(c->bc_connect_timeout_ms, 10000);
	ck_assert_uint_eq(c->bc_sys_interval_ms, 10000);
	broker_conf_free(c);
	broker_conf_free(NULL);
}
END_TEST

START_TEST(broker_conf__every_key)
{
	struct broker_conf *c = parse(
	    "listen: 127.0.0.1:1999\n"
	    "listeners: [\"[::1]:2000\", 127.0.0.2]\n"
	    "listen_reuseport: true\n"
	    "allow_anonymous: false\n"
	    "password_file: /p\n"
	    "acl_file: /a\n"
	    "max_packet_size: 64KiB\n"
	    "max_connections: 10\n"
	    "max_sessions: 20\n"
	    "max_inflight: 3\n"
	    "max_queued_messages: 5\n"
	    "max_queued_bytes: 1MiB\n"
	    "queue_qos0_offline: yes\n"
	    "max_topic_levels: 8\n"
	    "max_subscriptions: 7\n"
	    "max_topic_alias_out: 0\n"
	    "shared_subscriptions: false\n"
	    "wildcard_subscriptions: no\n"
	    "subscription_identifiers: false\n"
	    "max_qos: 1\n"
	    "max_keepalive: 60\n"
	    "max_client_id_length: 23\n"
	    "max_output_buffer: 128KiB\n"
	    "max_retained_messages: 0\n"
	    "connect_timeout: 2s\n"
	    "sys_interval: 0\n");

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_nlisten, 3);
	ck_assert_uint_eq(c->bc_listeners[0].lc_addr.port, 1999);
	ck_assert_str_eq(c->bc_listeners[1].lc_addr.host, "::1");
	ck_assert_uint_eq(c->bc_listeners[1].lc_addr.port, 2000);
	ck_assert_str_eq(c->bc_listeners[2].lc_addr.host, "127.0.0.2");
	ck_assert_uint_eq(c->bc_listeners[2].lc_addr.port, 1883);
	ck_assert(c->bc_listen_reuseport);
	ck_assert(!c->bc_allow_anonymous);
	ck_assert_str_eq(c->bc_password_file, "/p");
	ck_assert_str_eq(c->bc_acl_file, "/a");
	ck_assert_uint_eq(c->bc_max_packet_size, 65536);
	ck_assert_uint_eq(c->bc_max_connections, 10);
	ck_assert_uint_eq(c->bc_max_sessions, 20);
	ck_assert_uint_eq(c->bc_max_inflight, 3);
	ck_assert_uint_eq(c->bc_max_queued_messages, 5);
	ck_assert_uint_eq(c->bc_max_queued_bytes, 1024 * 1024);
	ck_assert(c->bc_queue_qos0_offline);
	ck_assert_uint_eq(c->bc_max_topic_levels, 8);
	ck_assert_uint_eq(c->bc_max_subscriptions, 7);
	ck_assert_uint_eq(c->bc_max_qos, 1);
	ck_assert_uint_eq(c->bc_max_keepalive, 60);
	ck_assert_uint_eq(c->bc_max_topic_alias_out, 0);
	ck_assert(!c->bc_shared_subscriptions);
	ck_assert(!c->bc_wildcard_subscriptions);
	ck_assert(!c->bc_subscription_identifiers);
	ck_assert_uint_eq(c->bc_max_client_id_length, 23);
	ck_assert_uint_eq(c->bc_max_output_buffer, 128 * 1024);
	ck_assert_uint_eq(c->bc_max_retained_messages, 0);
	ck_assert_uint_eq(c->bc_connect_timeout_ms, 2000);
	ck_assert_uint_eq(c->bc_sys_interval_ms, 0);
	broker_conf_free(c);
}
END_TEST

START_TEST(broker_conf__errors_with_position)
{
	bad("max_inflight: 0\n", "b.yaml:1:15:");
	bad("allow_anonymous: true\nmax_qos: 3\n", "b.yaml:2:10:");
	bad("shared_subscriptions: maybe\n", "b.yaml:1:23:");
	bad("max_topic_alias_out: 1025\n", "b.yaml:1:22:");
	bad("nonsense: 1\n", "b.yaml:1:1:");
	bad("sys_interval: 5\n", "b.yaml:1:15:");
	bad("max_packet_size: 1MB\n", "b.yaml:1:18:");
	bad("listen: 127.0.0.1:99999\n", "b.yaml:1:9:");
	bad("listeners: [127.0.0.1:1, \"a b:1\"]\n",
	    "b.yaml:1:26: key 'listeners': item 2");
	bad("listeners: []\n", "no address to listen on");
	bad("max_packet_size: 8MiB\n", "key 'max_output_buffer'");
	bad("password_file: \"\"\n", "b.yaml:1:16:");
	bad("- a\n- b\n", "b.yaml:1:1:");
	bad("a: [\n", "b.yaml:");
}
END_TEST

/* Listener maps: ports by protocol and TLS, the TLS keys, the rules. */
START_TEST(broker_conf__listener_maps)
{
	struct broker_conf *c = parse(
	    "listeners:\n"
	    "  - 127.0.0.1:1999\n"
	    "  - address: 0.0.0.0\n"
	    "    max_connections: 5\n"
	    "    tls:\n"
	    "      certfile: /c.pem\n"
	    "      keyfile: /k.pem\n"
	    "      cafile: /ca.pem\n"
	    "      require_certificate: true\n"
	    "      use_identity_as_username: true\n"
	    "      min_version: tlsv1.3\n"
	    "      ciphersuites: TLS_AES_128_GCM_SHA256\n"
	    "  - address: \"[::1]:2000\"\n"
	    "    protocol: mqtt\n"
	    "  - port: 3000\n");
	const struct broker_listener_conf *l;

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_nlisten, 4);
	l = &c->bc_listeners[0];
	ck_assert_uint_eq(l->lc_addr.port, 1999);
	ck_assert(!l->lc_tls);
	ck_assert_int_eq(l->lc_protocol, BROKER_PROTO_MQTT);
	l = &c->bc_listeners[1];
	ck_assert_str_eq(l->lc_addr.host, "0.0.0.0");
	ck_assert_uint_eq(l->lc_addr.port, 8883);
	ck_assert_uint_eq(l->lc_max_connections, 5);
	ck_assert(l->lc_tls);
	ck_assert_str_eq(l->lc_tls_conf.tc_certfile, "/c.pem");
	ck_assert_str_eq(l->lc_tls_conf.tc_keyfile, "/k.pem");
	ck_assert_str_eq(l->lc_tls_conf.tc_cafile, "/ca.pem");
	ck_assert_ptr_null(l->lc_tls_conf.tc_capath);
	ck_assert(l->lc_tls_conf.tc_require_certificate);
	ck_assert(l->lc_tls_conf.tc_use_identity_as_username);
	ck_assert_int_eq(l->lc_tls_conf.tc_min_version, BROKER_TLS_1_3);
	ck_assert_str_eq(l->lc_tls_conf.tc_ciphersuites,
	    "TLS_AES_128_GCM_SHA256");
	ck_assert_ptr_null(l->lc_tls_conf.tc_ciphers);
	l = &c->bc_listeners[2];
	ck_assert_str_eq(l->lc_addr.host, "::1");
	ck_assert_uint_eq(l->lc_addr.port, 2000);
	l = &c->bc_listeners[3];
	ck_assert_str_eq(l->lc_addr.host, "127.0.0.1");
	ck_assert_uint_eq(l->lc_addr.port, 3000);
	broker_conf_free(c);

	c = parse("listeners: {address: 127.0.0.2, tls: {certfile: c, "
	    "keyfile: k}}\n");
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_nlisten, 1);
	ck_assert_uint_eq(c->bc_listeners[0].lc_addr.port, 8883);
	ck_assert_int_eq(c->bc_listeners[0].lc_tls_conf.tc_min_version,
	    BROKER_TLS_1_2);
	broker_conf_free(c);

	/* WebSockets: ports 8080 and 8081 (tls), the Origin allow-list. */
	c = parse("listeners:\n"
	    "  - {protocol: websockets}\n"
	    "  - {protocol: websockets, tls: {certfile: c, keyfile: k}}\n"
	    "  - protocol: websockets\n"
	    "    port: 9001\n"
	    "    allowed_origins: [\"https://a.example\", http://b:8000]\n"
	    "websockets_max_request: 4KiB\n");
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_nlisten, 3);
	ck_assert_int_eq(c->bc_listeners[0].lc_protocol,
	    BROKER_PROTO_WEBSOCKETS);
	ck_assert_uint_eq(c->bc_listeners[0].lc_addr.port, 8080);
	ck_assert_uint_eq(c->bc_listeners[0].lc_origins.n, 0);
	ck_assert_uint_eq(c->bc_listeners[1].lc_addr.port, 8081);
	l = &c->bc_listeners[2];
	ck_assert_uint_eq(l->lc_addr.port, 9001);
	ck_assert_uint_eq(l->lc_origins.n, 2);
	ck_assert_str_eq(l->lc_origins.v[0], "https://a.example");
	ck_assert_str_eq(l->lc_origins.v[1], "http://b:8000");
	ck_assert_uint_eq(c->bc_ws_max_request, 4096);
	broker_conf_free(c);
	c = parse("listen: 127.0.0.1:1883\n");
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_ws_max_request, BROKER_DEFAULT_WS_MAX_REQUEST);
	broker_conf_free(c);

	bad("listeners:\n  - address: 1.2.3.4:5\n    port: 6\n",
	    "b.yaml:2:14: key 'listeners': item 1: a port in address");
	bad("listeners:\n  - address: \"a b\"\n",
	    "b.yaml:2:14: key 'listeners': item 1: address 'a b'");
	bad("listeners:\n  - allowed_origins: [http://a]\n",
	    "b.yaml:2:22: key 'listeners': item 1: allowed_origins needs "
	    "protocol websockets");
	bad("listeners:\n  - {protocol: websockets, allowed_origins: {a: 1}}"
	    "\n", "b.yaml:2:");
	bad("websockets_max_request: 100\n", "b.yaml:1:25:");
	bad("listeners:\n  - protocol: coap\n", "b.yaml:2:15:");
	bad("listeners:\n  - tls: {certfile: c}\n", "keyfile");
	bad("listeners:\n  - tls: {certfile: c, keyfile: k, "
	    "require_certificate: yes}\n", "needs cafile or capath");
	bad("listeners:\n  - tls: {certfile: c, keyfile: k, cafile: a, "
	    "use_identity_as_username: yes}\n", "needs require_certificate");
	bad("listeners:\n  - tls: {certfile: c, keyfile: k, "
	    "min_version: tlsv1.1}\n", "b.yaml:2:49:");
	bad("listeners:\n  - tls: {certfile: c, keyfile: k, bogus: 1}\n",
	    "bogus");
	bad("listeners:\n  - [a]\n", "b.yaml:2:5: key 'listeners': item 1: "
	    "expected an address or a mapping");
}
END_TEST

START_TEST(broker_conf__all_errors_at_once)
{
	ck_assert_ptr_null(parse("max_inflight: 0\nmax_qos: 9\n"));
	ck_assert_ptr_nonnull(strstr(err, "b.yaml:1:"));
	ck_assert_ptr_nonnull(strstr(err, "\nb.yaml:2:"));
}
END_TEST

START_TEST(broker_conf__load_file)
{
	char path[] = "/tmp/check_broker_conf.XXXXXX";
	struct broker_conf *c;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("listen: 127.0.0.1:1884\n", f);
	fclose(f);
	c = broker_conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->bc_listeners[0].lc_addr.port, 1884);
	broker_conf_free(c);
	unlink(path);
	ck_assert_ptr_null(broker_conf_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

static Suite *
broker_conf_suite(void)
{
	Suite *su = suite_create("broker_conf");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, broker_conf__defaults);
	tcase_add_test(tc, broker_conf__every_key);
	tcase_add_test(tc, broker_conf__errors_with_position);
	tcase_add_test(tc, broker_conf__listener_maps);
	tcase_add_test(tc, broker_conf__all_errors_at_once);
	tcase_add_test(tc, broker_conf__load_file);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(broker_conf_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
