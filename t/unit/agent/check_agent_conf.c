/*
 * Unit tests for agent/agent_conf: good files (defaults, every engine
 * key, each strategy's and connector's own keys, the cookie as Erlang
 * finds it) and bad ones, each with its exact FILE:LINE:COL message.
 * Config parsing is pure (text in, struct out), so these need no loop.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"

static char tmpdir[256];
static char err[8192];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_agent_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	setenv("HOME", tmpdir, 1);
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct agent_conf *
parse(const char *text)
{
	err[0] = '\0';
	return agent_conf_parse("a.yaml", text, strlen(text), err,
	    sizeof(err));
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(agent_conf__defaults)
{
	struct agent_conf *c = parse(
	    "topologies:\n"
	    "  t:\n"
	    "    strategy: local_epmd\n"
	    "    connector: none\n");

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->ac_quorum, 1);
	ck_assert_uint_eq(c->ac_prune_misses, 3);
	ck_assert_uint_eq(c->ac_prune_ms, 15000);
	ck_assert_uint_eq(c->ac_connect_timeout_ms, 5000);
	ck_assert_uint_eq(c->ac_connect_concurrency, 8);
	ck_assert_str_eq(c->ac_node_name, "cairn_agent");
	ck_assert_str_eq(c->ac_control_socket, AGENT_DEFAULT_CONTROL_SOCKET);
	ck_assert_ptr_null(c->ac_cookie);	/* none needed */
	ck_assert_uint_eq(c->ac_ntopos, 1);
	ck_assert_str_eq(c->ac_topos[0].at_name, "t");
	ck_assert_str_eq(c->ac_topos[0].at_strat->name, "local_epmd");
	ck_assert_str_eq(c->ac_topos[0].at_conn->name, "none");
	agent_conf_free(c);
}
END_TEST

START_TEST(agent_conf__every_key)
{
	struct agent_conf *c = parse(
	    "cookie: abc\n"
	    "node_name: watcher\n"
	    "quorum: 5\n"
	    "control_socket: /tmp/x.sock\n"
	    "on_change: /bin/true\n"
	    "prune_misses: 7\n"
	    "prune_after: 2m\n"
	    "max_nodes: 50\n"
	    "connect_concurrency: 3\n"
	    "connect_timeout: 750ms\n"
	    "backoff_min: 20ms\n"
	    "backoff_max: 1m\n"
	    "health_interval: 2s\n"
	    "hook_timeout: 3s\n"
	    "hook_queue: 10\n"
	    "control_max_clients: 4\n"
	    "log_every: 100\n"
	    "topologies:\n"
	    "  a:\n"
	    "    strategy: epmd\n"
	    "    config: {hosts: [x@h, y@h], polling_interval: 1s}\n"
	    "    connector: {type: erlang, workers: 2}\n"
	    "    disconnect_pruned: yes\n"
	    "  b:\n"
	    "    strategy: erlang_hosts\n"
	    "    config: {path: /etc/hosts.erlang, timeout: 1s}\n"
	    "    connector: {type: exec, connect: /bin/true, check: /bin/true}\n");

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->ac_cookie, "abc");
	ck_assert_str_eq(c->ac_node_name, "watcher");
	ck_assert_uint_eq(c->ac_quorum, 5);
	ck_assert_str_eq(c->ac_on_change, "/bin/true");
	ck_assert_uint_eq(c->ac_prune_misses, 7);
	ck_assert_uint_eq(c->ac_prune_ms, 120000);
	ck_assert_uint_eq(c->ac_max_nodes, 50);
	ck_assert_uint_eq(c->ac_connect_concurrency, 3);
	ck_assert_uint_eq(c->ac_connect_timeout_ms, 750);
	ck_assert_uint_eq(c->ac_backoff_min_ms, 20);
	ck_assert_uint_eq(c->ac_backoff_max_ms, 60000);
	ck_assert_uint_eq(c->ac_health_ms, 2000);
	ck_assert_uint_eq(c->ac_hook_timeout_ms, 3000);
	ck_assert_uint_eq(c->ac_hook_queue, 10);
	ck_assert_uint_eq(c->ac_max_watchers, 4);
	ck_assert_uint_eq(c->ac_log_every, 100);
	ck_assert_uint_eq(c->ac_ntopos, 2);
	ck_assert_int_eq(c->ac_topos[0].at_disconnect_pruned, 1);
	ck_assert_str_eq(c->ac_topos[0].at_conn->name, "erlang");
	ck_assert_str_eq(c->ac_topos[1].at_strat->name, "erlang_hosts");
	ck_assert_str_eq(c->ac_topos[1].at_conn->name, "exec");
	ck_assert_int_eq(c->ac_topos[1].at_disconnect_pruned, 0);
	/* The reload key is each topology's own text. */
	ck_assert_ptr_nonnull(strstr(c->ac_topos[0].at_canon, "x@h, y@h"));
	ck_assert_ptr_null(strstr(c->ac_topos[0].at_canon, "erlang_hosts"));
	agent_conf_free(c);
}
END_TEST

START_TEST(agent_conf__errors_name_file_line_col)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "quorum: 3\n",
		  "a.yaml:1:1: key 'topologies': required key is missing" },
		{ "topologies: {}\n",
		  "a.yaml:1:13: key 'topologies': expected a mapping of "
		  "topology names, got an empty one" },
		{ "topologies:\n  t:\n    strategy: gossipy\n",
		  "a.yaml:3:15: key 'strategy': unknown strategy 'gossipy' "
		  "(local_epmd, epmd, erlang_hosts, kubernetes_dns" },
		{ "topologies:\n  t:\n    config: {}\n",
		  "a.yaml:3:5: key 'strategy': required key is missing" },
		{ "topologies:\n  t:\n    strategy: local_epmd\n"
		  "    config: {polling_interval: soon}\n",
		  "a.yaml:4:32: key 'polling_interval': expected a duration "
		  "like 500ms or 5s, got 'soon'" },
		{ "topologies:\n  t:\n    strategy: local_epmd\n"
		  "    config: {colour: red}\n",
		  "a.yaml:4:14: key 'colour': unknown key" },
		{ "topologies:\n  t:\n    strategy: epmd\n    config: {}\n",
		  "key 'hosts': required key is missing" },
		{ "topologies:\n  t:\n    strategy: local_epmd\n"
		  "    connector: telepathy\n",
		  "a.yaml:4:16: key 'connector': unknown connector 'telepathy'" },
		{ "topologies:\n  t:\n    strategy: local_epmd\n"
		  "    connector: {workers: 2}\n",
		  "a.yaml:4:16: key 'connector': missing key 'type'" },
		{ "topologies:\n  t:\n    strategy: local_epmd\n"
		  "    connector: {type: exec}\n",
		  "a.yaml:4:16: key 'connect': required key is missing" },
		{ "quorum: lots\ntopologies:\n  t:\n    strategy: local_epmd\n"
		  "    connector: none\n",
		  "a.yaml:1:9: key 'quorum'" },
		{ "colour: red\ntopologies:\n  t:\n    strategy: local_epmd\n"
		  "    connector: none\n",
		  "a.yaml:1:1: key 'colour': unknown key" },
		{ "backoff_min: 2s\nbackoff_max: 1s\ntopologies:\n  t:\n"
		  "    strategy: local_epmd\n    connector: none\n",
		  "a.yaml:2:14: key 'backoff_max': smaller than backoff_min" },
		{ "topologies:\n  a/b:\n    strategy: local_epmd\n",
		  "a.yaml:2:3: topology name 'a/b' must be non-empty and "
		  "without '/'" },
		{ "topologies: [\n", "a.yaml:2:1:" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(parse(cases[i].text) == NULL, "case %zu accepted",
		    i);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		    "case %zu: want '%s' in:\n%s", i, cases[i].want, err);
	}
}
END_TEST

START_TEST(agent_conf__all_errors_at_once)
{
	ck_assert_ptr_null(parse(
	    "quorum: x\nprune_after: y\ntopologies:\n  t:\n"
	    "    strategy: local_epmd\n    config: {port: 0}\n"
	    "    connector: none\n"));
	ck_assert_ptr_nonnull(strstr(err, "a.yaml:1:9:"));
	ck_assert_ptr_nonnull(strstr(err, "a.yaml:2:14:"));
	ck_assert_ptr_nonnull(strstr(err, "a.yaml:6:20: key 'port'"));
}
END_TEST

/*
 * What start would refuse is refused at parse time, at its key, every
 * one in one run; an error in a topology's own keys hides none of its
 * config's (issue 16).
 */
START_TEST(agent_conf__start_checks_at_parse)
{
	static const char *want[] = {
		"a.yaml:6:23: key 'multicast_addr'",
		"a.yaml:8:16: key 'secrets': set secret or secrets, not both",
		"a.yaml:13:34: key 'resolvers': 'not-an-ip'",
		"a.yaml:17:5: key 'oops': unknown key",
		"a.yaml:19:20: key 'hosts': 'not a node'",
		"a.yaml:22:16: key 'connector': exec needs a connect command",
		"a.yaml:25:42: key 'node_name': bad node name",
	};
	size_t i;

	ck_assert_ptr_null(parse(
	    "cookie: c\n"
	    "topologies:\n"
	    "  g:\n"
	    "    strategy: gossip\n"
	    "    config:\n"
	    "      multicast_addr: 999.1.1.1\n"
	    "      secret: a\n"
	    "      secrets: [b, c]\n"
	    "    connector: none\n"
	    "  k:\n"
	    "    strategy: kubernetes_dns\n"
	    "    config: {service: s, application_name: a,\n"
	    "      resolvers: [\"10.0.0.1:53\", \"not-an-ip\"]}\n"
	    "    connector: none\n"
	    "  e:\n"
	    "    strategy: epmd\n"
	    "    oops: 1\n"
	    "    config:\n"
	    "      hosts: [a@b, \"not a node\"]\n"
	    "  x:\n"
	    "    strategy: local_epmd\n"
	    "    connector: exec\n"
	    "  y:\n"
	    "    strategy: local_epmd\n"
	    "    connector: {type: erlang, node_name: \"bad name\"}\n"));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(err, want[i]) != NULL,
		    "want '%s' in:\n%s", want[i], err);
}
END_TEST

/* ip_family: A by default (as libcluster), and only the three names. */
START_TEST(agent_conf__ip_family)
{
	struct agent_conf *c;

	c = parse("topologies:\n  k:\n    strategy: kubernetes_dns\n"
	    "    config: {service: s, application_name: a, "
	    "ip_family: both}\n    connector: none\n");
	ck_assert_msg(c != NULL, "%s", err);
	agent_conf_free(c);
	ck_assert_ptr_null(parse("topologies:\n  k:\n"
	    "    strategy: kubernetes_dns\n"
	    "    config: {service: s, application_name: a, "
	    "ip_family: ipv4}\n    connector: none\n"));
	ck_assert_ptr_nonnull(strstr(err, "a.yaml:4:58: key 'ip_family'"));
}
END_TEST

START_TEST(agent_conf__cookie_as_erlang_finds_it)
{
	struct agent_conf *c;
	static const char topo[] = "topologies:\n  t:\n"
	    "    strategy: local_epmd\n";
	char text[512];

	/* No cookie anywhere, and the erlang connector needs one. */
	ck_assert_ptr_null(parse(topo));
	ck_assert_ptr_nonnull(strstr(err, ".erlang.cookie"));
	/* ~/.erlang.cookie, owner-only: its first line, trimmed. */
	write_file(".erlang.cookie", "homecookie  \nsecond line\n", 0400);
	c = parse(topo);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->ac_cookie, "homecookie");
	agent_conf_free(c);
	/* Readable by others: refused, as Erlang refuses it. */
	write_file(".erlang.cookie", "homecookie\n", 0644);
	ck_assert_ptr_null(parse(topo));
	ck_assert_ptr_nonnull(strstr(err, "must be accessible by owner only"));
	/* cookie_file wins over HOME; cookie wins over both. */
	write_file("other.cookie", "filecookie\n", 0600);
	snprintf(text, sizeof(text), "cookie_file: %s/other.cookie\n%s",
	    tmpdir, topo);
	c = parse(text);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->ac_cookie, "filecookie");
	agent_conf_free(c);
	snprintf(text, sizeof(text), "cookie: inline\n%s", topo);
	c = parse(text);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->ac_cookie, "inline");
	agent_conf_free(c);
	/* An empty cookie file. */
	write_file("empty.cookie", "\n", 0600);
	snprintf(text, sizeof(text), "cookie_file: %s/empty.cookie\n%s",
	    tmpdir, topo);
	ck_assert_ptr_null(parse(text));
	ck_assert_ptr_nonnull(strstr(err, "no cookie on its first line"));
}
END_TEST

START_TEST(agent_conf__load_file)
{
	struct agent_conf *c;
	char path[512];

	write_file("agent.yaml", "topologies:\n  t:\n    strategy: "
	    "local_epmd\n    connector: none\n", 0644);
	snprintf(path, sizeof(path), "%s/agent.yaml", tmpdir);
	c = agent_conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	agent_conf_free(c);
	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	ck_assert_ptr_null(agent_conf_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

static Suite *
agent_conf_suite(void)
{
	Suite *s = suite_create("agent_conf");
	TCase *tc = tcase_create("agent_conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, agent_conf__defaults);
	tcase_add_test(tc, agent_conf__every_key);
	tcase_add_test(tc, agent_conf__errors_name_file_line_col);
	tcase_add_test(tc, agent_conf__all_errors_at_once);
	tcase_add_test(tc, agent_conf__start_checks_at_parse);
	tcase_add_test(tc, agent_conf__ip_family);
	tcase_add_test(tc, agent_conf__cookie_as_erlang_finds_it);
	tcase_add_test(tc, agent_conf__load_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(agent_conf_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
