/*
 * The agent's YAML configuration; see agent_conf.h.  Layout:
 *
 *	cookie: secret           # or cookie_file: PATH; else ~/.erlang.cookie
 *	node_name: cairn_agent   # the agent's own (hidden) node name
 *	quorum: 3
 *	control_socket: /run/cairn-agent.sock
 *	on_change: /usr/local/bin/on-change
 *	prune_misses: 3          # limits and timings, each with a default
 *	prune_after: 15s
 *	...
 *	topologies:
 *	  local:
 *	    strategy: local_epmd
 *	    config: {polling_interval: 5s}
 *	    connector: erlang    # or {type: exec, connect: CMD, ...}
 *	    disconnect_pruned: false
 */
#include "agent/agent_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/sock.h"

#define AGENT_CONF_MAX_FILE	(4 * 1024 * 1024)
#define AGENT_MAX_TOPOLOGIES	64
#define AGENT_COOKIE_MAX	255
/* A cookie file is one short line: anything much longer is not one. */
#define AGENT_COOKIE_FILE_MAX	4096

struct agent_conf_top {
	struct agent_conf	*c;
	char			*cookie;
	char			*cookie_file;
};

static const struct conf_key agent_keys[] = {
	{ .name = "cookie", .type = CONF_STRING,
	  .offset = offsetof(struct agent_conf, ac_cookie),
	  .flags = CONF_NONEMPTY },
	{ .name = "cookie_file", .type = CONF_SKIP },
	{ .name = "node_name", .type = CONF_STRING,
	  .offset = offsetof(struct agent_conf, ac_node_name),
	  .flags = CONF_NONEMPTY },
	{ .name = "quorum", .type = CONF_UINT,
	  .offset = offsetof(struct agent_conf, ac_quorum),
	  .min = 0, .max = 100000 },
	{ .name = "control_socket", .type = CONF_STRING,
	  .offset = offsetof(struct agent_conf, ac_control_socket),
	  .flags = CONF_NONEMPTY },
	{ .name = "on_change", .type = CONF_STRING,
	  .offset = offsetof(struct agent_conf, ac_on_change),
	  .flags = CONF_NONEMPTY },
	{ .name = "prune_misses", .type = CONF_UINT,
	  .offset = offsetof(struct agent_conf, ac_prune_misses),
	  .min = 1, .max = 1000000 },
	{ .name = "prune_after", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_prune_ms),
	  .min = 0, .max = 86400000ull * 30 },
	{ .name = "max_nodes", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_max_nodes),
	  .min = 1, .max = 1000000 },
	{ .name = "connect_concurrency", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_connect_concurrency),
	  .min = 1, .max = 4096 },
	{ .name = "connect_timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_connect_timeout_ms),
	  .min = 10, .max = 3600000 },
	{ .name = "backoff_min", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_backoff_min_ms),
	  .min = 1, .max = 3600000 },
	{ .name = "backoff_max", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_backoff_max_ms),
	  .min = 1, .max = 86400000 },
	{ .name = "health_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_health_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "hook_timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_hook_timeout_ms),
	  .min = 10, .max = 3600000 },
	{ .name = "hook_queue", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_hook_queue),
	  .min = 1, .max = 1000000 },
	{ .name = "control_max_clients", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_max_watchers),
	  .min = 1, .max = 100000 },
	{ .name = "log_every", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_log_every),
	  .min = 1, .max = 1000000 },
	{ .name = "http_listen", .type = CONF_HOSTPORT,
	  .offset = offsetof(struct agent_conf, ac_http_listen),
	  .min = 0, .max = 65535, .defport = AGENT_DEFAULT_HTTP_PORT },
	{ .name = "http_max_connections", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_http_max_connections),
	  .min = 1, .max = 10000 },
	{ .name = "http_timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct agent_conf, ac_http_timeout_ms),
	  .min = 1000, .max = 3600000 },
	{ .name = "http_max_request", .type = CONF_SIZE,
	  .offset = offsetof(struct agent_conf, ac_http_max_request),
	  .min = 1024, .max = 1048576 },
	{ .name = "topologies", .type = CONF_SKIP, .flags = CONF_REQUIRED },
	{ .name = NULL },
};

struct topo_flags {
	bool	disconnect_pruned;
};

struct topo_parse {
	struct agent_conf	*c;
	const char		*text;
	size_t			 len;
	int			 need_cookie;
};

/* The topology's own YAML text, the reload comparison's key. */
static char *
agent_canon(const yaml_node_t *n, const char *text, size_t len)
{
	size_t a = n->start_mark.index, b = n->end_mark.index;

	if (text == NULL)
		return strdup("");
	if (a > len || b > len || b < a)
		a = b = 0;
	return strndup(text + a, b - a);
}

/* Where a strategy's check reports: its config mapping in doc. */
struct topo_check {
	struct conf_doc		*doc;
	const yaml_node_t	*config;
	int			 nomem;
};

/* Puts a strategy's check error at its key's (or list item's) node. */
static void
on_check_err(void *arg, const char *key, int idx, const char *msg)
{
	struct topo_check *tc = arg;
	const yaml_node_t *n = tc->config, *kv, *it;

	if (key != NULL && (kv = conf_map_get(tc->doc, tc->config, key)) !=
	    NULL) {
		n = kv;
		if (idx >= 0 && (it = conf_seq_item(tc->doc, kv,
		    (size_t)idx)) != NULL)
			n = it;
	}
	if ((key != NULL ? conf_error(tc->doc, n, "key '%s': %s", key, msg) :
	    conf_error(tc->doc, n, "%s", msg)) == CAIRN_ERR_NOMEM)
		tc->nomem = 1;
}

static int
agent_parse_connector(struct conf_doc *doc, const yaml_node_t *v,
    struct agent_topology_conf *t)
{
	const char *name;
	const yaml_node_t *type;
	int rc;

	if ((name = conf_node_scalar(v)) == NULL) {
		if (v == NULL || v->type != YAML_MAPPING_NODE)
			return conf_error(doc, v, "key 'connector': expected "
			    "a connector name or a mapping with 'type', got "
			    "%s", conf_node_kind(v));
		if ((type = conf_map_get(doc, v, "type")) == NULL ||
		    (name = conf_node_scalar(type)) == NULL)
			return conf_error(doc, v, "key 'connector': missing "
			    "key 'type' (none, exec, erlang or cairn)");
	}
	if ((t->at_conn = connector_find(name)) == NULL)
		return conf_error(doc, v, "key 'connector': unknown connector "
		    "'%s' (none, exec, erlang or cairn)", name);
	if (t->at_conn->conf_size > 0 &&
	    (t->at_conn_conf = calloc(1, t->at_conn->conf_size)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (t->at_conn->conf_init != NULL)
		t->at_conn->conf_init(t->at_conn_conf);
	if (v->type == YAML_MAPPING_NODE) {
		if (t->at_conn->keys == NULL)
			return conf_apply(doc, v, (const struct conf_key[]){
			    { .name = "type", .type = CONF_SKIP },
			    { .name = NULL } }, NULL);
		if ((rc = conf_apply(doc, v, t->at_conn->keys,
		    t->at_conn_conf)) != 0)
			return rc;
	}
	/* What create() would refuse, as for a strategy's config. */
	if (t->at_conn->check != NULL) {
		struct topo_check tc = { doc, v, 0 };

		t->at_conn->check(t->at_conn_conf, on_check_err, &tc);
		if (tc.nomem)
			return CAIRN_ERR_NOMEM;
	}
	return 0;
}

static int
on_topology(struct conf_doc *doc, const char *key, const yaml_node_t *kn,
    const yaml_node_t *v, void *arg)
{
	struct topo_parse *tp = arg;
	struct agent_conf *c = tp->c;
	struct agent_topology_conf *t, *nt;
	const yaml_node_t *sn, *cn;
	const char *sname;
	/* The topology's own keys; strategy and connector keys follow. */
	static const struct conf_key topo_keys[] = {
		{ .name = "strategy", .type = CONF_SKIP,
		  .flags = CONF_REQUIRED },
		{ .name = "config", .type = CONF_SKIP },
		{ .name = "connector", .type = CONF_SKIP },
		{ .name = "disconnect_pruned", .type = CONF_BOOL,
		  .offset = offsetof(struct topo_flags, disconnect_pruned) },
		{ .name = NULL },
	};
	struct topo_flags flags = { false };
	int rc;

	if (c->ac_ntopos == AGENT_MAX_TOPOLOGIES)
		return conf_error(doc, kn, "more than %d topologies",
		    AGENT_MAX_TOPOLOGIES);
	if (strchr(key, '/') != NULL || key[0] == '\0')
		return conf_error(doc, kn, "topology name '%s' must be "
		    "non-empty and without '/'", key);
	if ((nt = realloc(c->ac_topos, (c->ac_ntopos + 1) * sizeof(*nt))) ==
	    NULL)
		return CAIRN_ERR_NOMEM;
	c->ac_topos = nt;
	t = &c->ac_topos[c->ac_ntopos++];
	memset(t, 0, sizeof(*t));
	if ((t->at_name = strdup(key)) == NULL ||
	    (t->at_canon = agent_canon(v, tp->text, tp->len)) == NULL)
		return CAIRN_ERR_NOMEM;
	/*
	 * An error in the topology's own keys is reported and the walk goes
	 * on into its strategy and connector, so that one run shows every
	 * error of the file.
	 */
	if ((rc = conf_apply(doc, v, topo_keys, &flags)) != 0 &&
	    rc != CAIRN_ERR_INVAL)
		return rc;
	t->at_disconnect_pruned = flags.disconnect_pruned;
	if ((sn = conf_map_get(doc, v, "strategy")) == NULL)
		return CAIRN_ERR_INVAL;	/* reported as missing */
	if ((sname = conf_node_scalar(sn)) == NULL)
		return conf_error(doc, sn, "key 'strategy': expected a "
		    "strategy name, got %s", conf_node_kind(sn));
	if ((t->at_strat = strat_find(sname)) == NULL) {
		char names[256] = "";
		size_t i;

		for (i = 0; strat_all[i] != NULL; i++) {
			strncat(names, i ? ", " : "", sizeof(names) -
			    strlen(names) - 1);
			strncat(names, strat_all[i]->name, sizeof(names) -
			    strlen(names) - 1);
		}
		return conf_error(doc, sn, "key 'strategy': unknown strategy "
		    "'%s' (%s)", sname, names);
	}
	if ((t->at_strat_conf = calloc(1, t->at_strat->conf_size + 1)) ==
	    NULL)
		return CAIRN_ERR_NOMEM;
	if (t->at_strat->conf_init != NULL)
		t->at_strat->conf_init(t->at_strat_conf);
	cn = conf_map_get(doc, v, "config");
	if ((rc = conf_apply(doc, cn, t->at_strat->keys, t->at_strat_conf)) !=
	    0 && rc != CAIRN_ERR_INVAL)
		return rc;
	/* Values the table cannot judge: what start() would refuse. */
	if (t->at_strat->check != NULL) {
		struct topo_check tc = { doc, cn, 0 };

		t->at_strat->check(t->at_strat_conf, on_check_err, &tc);
		if (tc.nomem)
			return CAIRN_ERR_NOMEM;
	}
	cn = conf_map_get(doc, v, "connector");
	if (cn == NULL) {
		t->at_conn = &connector_erlang;
		if (t->at_conn->conf_size > 0 && (t->at_conn_conf = calloc(1,
		    t->at_conn->conf_size)) == NULL)
			return CAIRN_ERR_NOMEM;
		if (t->at_conn->conf_init != NULL)
			t->at_conn->conf_init(t->at_conn_conf);
	} else if ((rc = agent_parse_connector(doc, cn, t)) != 0 &&
	    rc != CAIRN_ERR_INVAL)
		return rc;
	if (t->at_conn == &connector_erlang)
		tp->need_cookie = 1;
	return 0;
}

int
agent_conf_topologies(struct conf_doc *doc, const yaml_node_t *tn,
    const char *text, size_t len, struct agent_conf *c, int *need_cookie)
{
	struct topo_parse tp;
	int rc;

	memset(&tp, 0, sizeof(tp));
	tp.c = c;
	tp.text = text;
	tp.len = len;
	if (tn == NULL || tn->type != YAML_MAPPING_NODE ||
	    tn->data.mapping.pairs.start == tn->data.mapping.pairs.top)
		return conf_error(doc, tn, "key 'topologies': expected a "
		    "mapping of topology names, got %s", tn != NULL &&
		    tn->type == YAML_MAPPING_NODE ? "an empty one" :
		    conf_node_kind(tn));
	rc = conf_map_foreach(doc, tn, on_topology, &tp);
	if (need_cookie != NULL)
		*need_cookie = tp.need_cookie;
	return rc;
}

/*
 * Reads an Erlang cookie file as Erlang does: owner-only, first line; a
 * regular file of at most AGENT_COOKIE_FILE_MAX bytes (common/file.h).
 */
static int
agent_read_cookie(const char *path, char **out, char *err, size_t errlen)
{
	char *buf, why[1100];
	size_t n, len;
	int rc;

	if ((rc = file_read_all(path, AGENT_COOKIE_FILE_MAX,
	    FILE_F_OWNER_ONLY, &buf, &len, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "cookie file %s", why);
		return rc;
	}
	n = strcspn(buf, "\r\n");
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (buf[0] == '\0' || strlen(buf) > AGENT_COOKIE_MAX) {
		snprintf(err, errlen, "cookie file %s: no cookie on its first "
		    "line (1 to %d characters)", path, AGENT_COOKIE_MAX);
		explicit_bzero(buf, len);
		free(buf);
		return CAIRN_ERR_INVAL;
	}
	*out = strdup(buf);
	explicit_bzero(buf, len);
	free(buf);
	return *out == NULL ? CAIRN_ERR_NOMEM : 0;
}

struct agent_conf *
agent_conf_parse(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct sockaddr_storage hss;
	socklen_t hlen;
	struct conf_err cerr;
	struct conf_doc *doc;
	struct agent_conf *c;
	const yaml_node_t *root, *tn, *cf;
	char path[1024], cookie_err[1200];
	const char *home, *s;
	int need_cookie = 0;

	err[0] = '\0';
	if ((doc = conf_doc_load_string(name, text, len, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conf_doc_free(doc);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	agent_conf_defaults(c);
	root = conf_doc_root(doc);
	conf_apply(doc, root, agent_keys, c);
	if ((tn = conf_map_get(doc, root, "topologies")) != NULL &&
	    agent_conf_topologies(doc, tn, text, len, c, &need_cookie) ==
	    CAIRN_ERR_NOMEM)
		conf_error(doc, NULL, "out of memory");
	cf = conf_map_get(doc, root, "cookie_file");
	if (cf != NULL && conf_node_scalar(cf) == NULL)
		conf_error(doc, cf, "key 'cookie_file': expected a path, got "
		    "%s", conf_node_kind(cf));
	if (conf_doc_nerrors(doc) == 0 && c->ac_cookie == NULL &&
	    (cf != NULL || need_cookie)) {
		if ((s = conf_node_scalar(cf)) == NULL) {
			home = getenv("HOME");
			snprintf(path, sizeof(path), "%s/.erlang.cookie",
			    home != NULL ? home : "");
			s = path;
		}
		if (agent_read_cookie(s, &c->ac_cookie, cookie_err,
		    sizeof(cookie_err)) != 0)
			conf_error(doc, cf, "%s", cookie_err);
	}
	if ((c->ac_node_name == NULL && (c->ac_node_name =
	    strdup("cairn_agent")) == NULL) ||
	    (c->ac_control_socket == NULL && (c->ac_control_socket =
	    strdup(AGENT_DEFAULT_CONTROL_SOCKET)) == NULL))
		conf_error(doc, NULL, "out of memory");
	if (c->ac_backoff_max_ms < c->ac_backoff_min_ms)
		conf_error(doc, conf_map_get(doc, root, "backoff_max"),
		    "key 'backoff_max': smaller than backoff_min");
	/* The endpoint binds a numeric address: -n says so before a start. */
	if (c->ac_http_listen.host != NULL && sock_addr_parse(
	    c->ac_http_listen.host, c->ac_http_listen.port, &hss, &hlen) != 0)
		conf_error(doc, conf_map_get(doc, root, "http_listen"),
		    "key 'http_listen': expected a numeric address:port");
	if (conf_doc_nerrors(doc) > 0) {
		snprintf(err, errlen, "%s", conf_doc_errors(doc));
		conf_doc_free(doc);
		agent_conf_free(c);
		return NULL;
	}
	conf_doc_free(doc);
	return c;
}

struct agent_conf *
agent_conf_load(const char *path, char *err, size_t errlen)
{
	struct agent_conf *c;
	char *buf;
	size_t n;
	int rc;

	/* A regular file only, and capped: a FIFO never blocks a reload. */
	if ((rc = file_read_all(path, AGENT_CONF_MAX_FILE, 0, &buf, &n, err,
	    errlen)) != 0)
		return NULL;
	c = agent_conf_parse(path, buf, n, err, errlen);
	free(buf);
	return c;
}
