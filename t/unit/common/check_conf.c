/*
 * Unit tests for common/conf: loading (syntax errors with positions,
 * empty and multiple documents, files), every table type with its good
 * values and each bad value's exact message, unknown, duplicate, missing
 * and wrongly typed keys, nested tables, dynamic maps walked with
 * conf_map_foreach(), custom handlers, error collection, and freeing
 * after a partial apply (run under ASan to catch leaks).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct sub {
	unsigned int	 a;
	char		*b;
};

struct cfg {
	bool			 flag;
	int			 level;
	unsigned int		 count;
	unsigned int		 port;
	uint64_t		 interval;
	uint64_t		 timeout;
	uint64_t		 bufsize;
	uint64_t		 maxsize;
	char			*name;
	char			*label;
	struct conf_strlist	 hosts;
	struct conf_strlist	 tags;
	struct conf_hostport	 epmd;
	struct conf_hostport	 peer;
	struct conf_hostport	 listen;
	int			 mode;
	struct sub		 sub;
	int			 pair[2];
	int			 custom_freed;
};

static const struct conf_enum modes[] = {
	{ "epmd", 1 }, { "static", 2 }, { "gossip", 3 }, { NULL, 0 },
};

static const struct conf_key sub_keys[] = {
	{ .name = "a", .type = CONF_UINT, .offset = offsetof(struct sub, a),
	    .flags = CONF_REQUIRED },
	{ .name = "b", .type = CONF_STRING, .offset = offsetof(struct sub, b) },
	{ .name = NULL },
};

/* "N-M": two integers into int[2]; an example of a custom handler. */
static int
pair_handler(struct conf_doc *doc, const yaml_node_t *v, void *field,
    void *arg)
{
	int *p = field;
	const char *s = conf_node_scalar(v);

	(void)arg;
	if (s == NULL)
		return CAIRN_ERR_INVAL;	/* conf_apply says "invalid value" */
	if (sscanf(s, "%d-%d", &p[0], &p[1]) != 2)
		return conf_error(doc, v, "key 'pair': expected N-M, got '%s'",
		    s);
	return 0;
}

/* Counts frees in the struct (field is pair; arg is the counter). */
static void
pair_free(void *field, void *arg)
{
	(void)field;
	(*(int *)arg)++;
}

static int pair_frees;

static const struct conf_key keys[] = {
	{ .name = "flag", .type = CONF_BOOL,
	    .offset = offsetof(struct cfg, flag) },
	{ .name = "level", .type = CONF_INT,
	    .offset = offsetof(struct cfg, level), .imin = -10, .imax = 10 },
	{ .name = "count", .type = CONF_UINT,
	    .offset = offsetof(struct cfg, count) },
	{ .name = "port", .type = CONF_UINT,
	    .offset = offsetof(struct cfg, port), .min = 1, .max = 65535 },
	{ .name = "polling_interval", .type = CONF_DURATION,
	    .offset = offsetof(struct cfg, interval) },
	{ .name = "timeout", .type = CONF_DURATION,
	    .offset = offsetof(struct cfg, timeout), .min = 1000,
	    .max = 3600000 },
	{ .name = "bufsize", .type = CONF_SIZE,
	    .offset = offsetof(struct cfg, bufsize) },
	{ .name = "maxsize", .type = CONF_SIZE,
	    .offset = offsetof(struct cfg, maxsize), .min = 1024,
	    .max = 1024 * 1024 * 1024 },
	{ .name = "name", .type = CONF_STRING,
	    .offset = offsetof(struct cfg, name) },
	{ .name = "label", .type = CONF_STRING,
	    .offset = offsetof(struct cfg, label), .flags = CONF_NONEMPTY },
	{ .name = "hosts", .type = CONF_STRLIST,
	    .offset = offsetof(struct cfg, hosts) },
	{ .name = "tags", .type = CONF_STRLIST,
	    .offset = offsetof(struct cfg, tags), .flags = CONF_NONEMPTY },
	{ .name = "epmd", .type = CONF_HOSTPORT,
	    .offset = offsetof(struct cfg, epmd), .defport = 4369 },
	{ .name = "peer", .type = CONF_HOSTPORT,
	    .offset = offsetof(struct cfg, peer) },
	{ .name = "listen", .type = CONF_HOSTPORT,
	    .offset = offsetof(struct cfg, listen), .min = 0, .max = 65535,
	    .defport = 1883 },
	{ .name = "mode", .type = CONF_ENUM,
	    .offset = offsetof(struct cfg, mode), .names = modes },
	{ .name = "sub", .type = CONF_MAP,
	    .offset = offsetof(struct cfg, sub), .sub = sub_keys },
	{ .name = "pair", .type = CONF_CUSTOM,
	    .offset = offsetof(struct cfg, pair), .fn = pair_handler,
	    .free = pair_free, .arg = &pair_frees },
	{ .name = NULL },
};

static const struct conf_key required_keys[] = {
	{ .name = "name", .type = CONF_STRING, .offset = offsetof(struct cfg, name),
	    .flags = CONF_REQUIRED },
	{ .name = "flag", .type = CONF_BOOL, .offset = offsetof(struct cfg, flag) },
	{ .name = NULL },
};

/* Per-test state, freed by the fixture. */
static struct conf_doc *doc;
static struct cfg cfg;

static void
setup(void)
{
	doc = NULL;
	memset(&cfg, 0, sizeof(cfg));
	pair_frees = 0;
}

static void
teardown(void)
{
	conf_free_fields(keys, &cfg);
	conf_doc_free(doc);
	doc = NULL;
}

/* Loads text as "t.yaml"; the load must succeed. */
static struct conf_doc *
load(const char *text)
{
	struct conf_err err;
	struct conf_doc *d;

	d = conf_doc_load_string("t.yaml", text, strlen(text), &err);
	ck_assert_msg(d != NULL, "load failed: %s", err.msg);
	return d;
}

/* Loads text into doc and applies table to cfg. */
static int
apply_to(const char *text, const struct conf_key *table)
{
	conf_doc_free(doc);
	doc = load(text);
	return conf_apply(doc, conf_doc_root(doc), table, &cfg);
}

static int
apply(const char *text)
{
	return apply_to(text, keys);
}

/* text must fail with exactly one error, msg. */
static void
apply_fails(const char *text, const char *msg)
{
	ck_assert_msg(apply(text) == CAIRN_ERR_INVAL, "accepted: %s", text);
	ck_assert_str_eq(conf_doc_errors(doc), msg);
	ck_assert_uint_eq(conf_doc_nerrors(doc), 1);
}

/* text must load and apply with no error. */
static void
apply_ok(const char *text)
{
	int rc = apply(text);

	ck_assert_msg(rc == 0, "%s: rc %d: %s", text, rc,
	    conf_doc_errors(doc));
	ck_assert_uint_eq(conf_doc_nerrors(doc), 0);
	ck_assert_str_eq(conf_doc_errors(doc), "");
}

/* Loading text must fail with msg. */
static void
load_fails(const char *text, size_t len, const char *msg)
{
	struct conf_err err;

	ck_assert_ptr_null(conf_doc_load_string("t.yaml", text, len, &err));
	ck_assert_int_eq(err.code, CAIRN_ERR_INVAL);
	ck_assert_str_eq(err.msg, msg);
}

/*
 * Loading.
 */

START_TEST(conf__syntax_error_position)
{
	load_fails("a: 1\n b: 2\n", 11,
	    "t.yaml:2:3: mapping values are not allowed in this context");
	load_fails("a: [1, 2\n", 9, "t.yaml:2:1: did not find expected ',' "
	    "or ']' (while parsing a flow sequence at 1:4)");
	load_fails("a:\n\tb: 1\n", 9, "t.yaml:2:1: found character that "
	    "cannot start any token (while scanning for the next token at "
	    "2:1)");
	load_fails("a: 'x\n", 6, "t.yaml:2:1: found unexpected end of stream "
	    "(while scanning a quoted scalar at 1:4)");
	load_fails("a: *x\n", 6, "t.yaml:1:4: found undefined alias");
}
END_TEST

START_TEST(conf__invalid_utf8_position)
{
	load_fails("a: 1\nb: \xff\n", 9,
	    "t.yaml:2:4: invalid leading UTF-8 octet (#FF)");
}
END_TEST

START_TEST(conf__multiple_documents)
{
	load_fails("a: 1\n---\nb: 2\n", 14,
	    "t.yaml:2:1: expected a single document, found another");
}
END_TEST

START_TEST(conf__empty_document)
{
	static const char *const empty[] = { "", "# only a comment\n", "---\n",
	    "---\n...\n" };
	size_t i;

	for (i = 0; i < NELEM(empty); i++) {
		conf_doc_free(doc);
		doc = load(empty[i]);
		ck_assert_ptr_null(conf_doc_root(doc));
		/* An empty document is an empty mapping. */
		ck_assert_int_eq(conf_apply(doc, NULL, keys, &cfg), 0);
		ck_assert_int_eq(conf_apply(doc, NULL, required_keys, &cfg),
		    CAIRN_ERR_INVAL);
		ck_assert_str_eq(conf_doc_errors(doc),
		    "t.yaml:1:1: key 'name': required key is missing");
	}
}
END_TEST

START_TEST(conf__root_not_mapping)
{
	apply_fails("- a\n- b\n", "t.yaml:1:1: expected a mapping, got a sequence");
	apply_fails("hello\n", "t.yaml:1:1: expected a mapping, got a scalar");
}
END_TEST

START_TEST(conf__load_file)
{
	char path[] = P_tmpdir "/check_conf_XXXXXX";
	static const char text[] = "name: from-file\nport: 99999\n";
	struct conf_err err;
	int fd;
	char want[256];

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	doc = conf_doc_load_file(path, &err);
	unlink(path);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(conf_doc_name(doc), path);
	ck_assert_int_eq(conf_apply(doc, conf_doc_root(doc), keys, &cfg),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(cfg.name, "from-file");
	snprintf(want, sizeof(want),
	    "%s:2:7: key 'port': value '99999' is out of range 1..65535", path);
	ck_assert_str_eq(conf_doc_errors(doc), want);
}
END_TEST

START_TEST(conf__load_file_missing)
{
	struct conf_err err;

	ck_assert_ptr_null(conf_doc_load_file("no-such-conf.yaml", &err));
	ck_assert_int_eq(err.code, CAIRN_ERR_IO);
	ck_assert_str_eq(err.msg, "no-such-conf.yaml: No such file or directory");
	/* err may be NULL. */
	ck_assert_ptr_null(conf_doc_load_file("no-such-conf.yaml", NULL));
}
END_TEST

/*
 * Scalars.
 */

static const struct {
	const char	*text;
	bool		 value;
} bools[] = {
	{ "true", true }, { "True", true }, { "TRUE", true },
	{ "yes", true }, { "Yes", true }, { "on", true }, { "ON", true },
	{ "false", false }, { "False", false }, { "no", false },
	{ "NO", false }, { "off", false }, { "Off", false },
};

START_TEST(conf__bool_spellings)
{
	char text[64];

	snprintf(text, sizeof(text), "flag: %s\n", bools[_i].text);
	cfg.flag = !bools[_i].value;
	apply_ok(text);
	ck_assert_int_eq(cfg.flag, bools[_i].value);
}
END_TEST

START_TEST(conf__bool_bad)
{
	bool b = true;

	apply_fails("flag: maybe\n", "t.yaml:1:7: key 'flag': expected "
	    "true/false, yes/no or on/off, got 'maybe'");
	apply_fails("flag: 1\n", "t.yaml:1:7: key 'flag': expected "
	    "true/false, yes/no or on/off, got '1'");
	apply_fails("flag: [yes]\n",
	    "t.yaml:1:7: key 'flag': expected a boolean, got a sequence");
	ck_assert_int_eq(conf_parse_bool("y", &b), CAIRN_ERR_INVAL);
	ck_assert_int_eq(conf_parse_bool("", &b), CAIRN_ERR_INVAL);
	ck_assert_int_eq(conf_parse_bool("truee", &b), CAIRN_ERR_INVAL);
	ck_assert_int_eq(b, true);
}
END_TEST

START_TEST(conf__int_range)
{
	apply_ok("level: -10\ncount: 0\n");
	ck_assert_int_eq(cfg.level, -10);
	apply_ok("level: 10\n");
	ck_assert_int_eq(cfg.level, 10);
	apply_ok("level: +7\n");
	ck_assert_int_eq(cfg.level, 7);
	apply_ok("level: '-0'\n");
	ck_assert_int_eq(cfg.level, 0);
	apply_fails("level: 11\n",
	    "t.yaml:1:8: key 'level': value '11' is out of range -10..10");
	apply_fails("level: -11\n",
	    "t.yaml:1:8: key 'level': value '-11' is out of range -10..10");
	apply_fails("level: 99999999999999999999\n", "t.yaml:1:8: key 'level': "
	    "value '99999999999999999999' is out of range -10..10");
	apply_fails("level: x1\n",
	    "t.yaml:1:8: key 'level': expected an integer, got 'x1'");
	apply_fails("level: 1.5\n",
	    "t.yaml:1:8: key 'level': expected an integer, got '1.5'");
	apply_fails("level: ' 1'\n",
	    "t.yaml:1:8: key 'level': expected an integer, got ' 1'");
	apply_fails("level: '-'\n",
	    "t.yaml:1:8: key 'level': expected an integer, got '-'");
}
END_TEST

START_TEST(conf__uint_range)
{
	apply_ok("count: 4294967295\nport: 1\n");
	ck_assert_uint_eq(cfg.count, 4294967295u);
	ck_assert_uint_eq(cfg.port, 1);
	apply_ok("port: 65535\n");
	ck_assert_uint_eq(cfg.port, 65535);
	apply_fails("count: 4294967296\n", "t.yaml:1:8: key 'count': "
	    "value '4294967296' is out of range 0..4294967295");
	apply_fails("port: 0\n",
	    "t.yaml:1:7: key 'port': value '0' is out of range 1..65535");
	apply_fails("port: 65536\n",
	    "t.yaml:1:7: key 'port': value '65536' is out of range 1..65535");
	apply_fails("port: -1\n", "t.yaml:1:7: key 'port': expected a "
	    "non-negative integer, got '-1'");
	apply_fails("port: +1\n", "t.yaml:1:7: key 'port': expected a "
	    "non-negative integer, got '+1'");
	apply_fails("count: 0x10\n", "t.yaml:1:8: key 'count': expected a "
	    "non-negative integer, got '0x10'");
}
END_TEST

static const struct {
	const char	*text;
	uint64_t	 ms;
} durations[] = {
	{ "0", 0 }, { "0ms", 0 }, { "0s", 0 }, { "1ms", 1 }, { "500ms", 500 },
	{ "5s", 5000 }, { "2m", 120000 }, { "1h", 3600000 },
	{ "1h30m", 5400000 }, { "1m30s500ms", 90500 }, { "90s", 90000 },
	{ "007s", 7000 },
	{ "18446744073709551615ms", UINT64_MAX },
	{ "5124095576030h", 5124095576030ULL * 3600000 },
};

START_TEST(conf__duration_good)
{
	char text[128];
	uint64_t ms = 1;

	ck_assert_int_eq(conf_parse_duration(durations[_i].text, &ms), 0);
	ck_assert_uint_eq(ms, durations[_i].ms);
	snprintf(text, sizeof(text), "polling_interval: %s\n",
	    durations[_i].text);
	apply_ok(text);
	ck_assert_uint_eq(cfg.interval, durations[_i].ms);
}
END_TEST

/* Not a duration: no unit, bad unit, spaces, fractions, signs, order. */
static const char *const bad_durations[] = {
	"", "fast", "5000", "00", "5 s", " 5s", "5s ", "1.5s", "-1s", "+1s",
	"5S", "5sec", "1d", "ms", "s5", "1s1h", "5s5s", "1m1m", "1msm",
	"1h30", "1_000ms",
};

START_TEST(conf__duration_bad)
{
	uint64_t ms = 42;

	ck_assert_msg(conf_parse_duration(bad_durations[_i], &ms) ==
	    CAIRN_ERR_INVAL, "accepted '%s'", bad_durations[_i]);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

START_TEST(conf__duration_messages)
{
	apply_fails("polling_interval: fast\n", "t.yaml:1:19: key "
	    "'polling_interval': expected a duration like 500ms or 5s, got "
	    "'fast'");
	/* Nested: the position is the value's, in the whole file. */
	conf_doc_free(doc);
	doc = load("\n\n\n\n\n\nagent:\n  polling_interval: fast\n");
	ck_assert_int_eq(conf_apply(doc, conf_map_get(doc, conf_doc_root(doc),
	    "agent"), keys, &cfg), CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc), "t.yaml:8:21: key "
	    "'polling_interval': expected a duration like 500ms or 5s, got "
	    "'fast'");
	apply_fails("polling_interval: 5000\n", "t.yaml:1:19: key "
	    "'polling_interval': expected a duration like 500ms or 5s, got "
	    "'5000'");
	apply_fails("polling_interval: {a: 1}\n", "t.yaml:1:19: key "
	    "'polling_interval': expected a duration, got a mapping");
}
END_TEST

START_TEST(conf__duration_overflow)
{
	uint64_t ms = 42;

	ck_assert_int_eq(conf_parse_duration("99999999999999999999h", &ms),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(conf_parse_duration("18446744073709551616ms", &ms),
	    CAIRN_ERR_TOO_BIG);
	/* The product overflows. */
	ck_assert_int_eq(conf_parse_duration("5124095576031h", &ms),
	    CAIRN_ERR_TOO_BIG);
	/* Each term fits, the sum does not. */
	ck_assert_int_eq(conf_parse_duration("5124095576030h2000s", &ms),
	    CAIRN_ERR_TOO_BIG);
	/* A syntax error after an overflow is still a syntax error. */
	ck_assert_int_eq(conf_parse_duration("99999999999999999999hx", &ms),
	    CAIRN_ERR_INVAL);
	ck_assert_uint_eq(ms, 42);
	apply_fails("polling_interval: 99999999999999999999h\n", "t.yaml:1:19: "
	    "key 'polling_interval': duration '99999999999999999999h' is too "
	    "large");
}
END_TEST

START_TEST(conf__duration_range)
{
	apply_ok("timeout: 1s\n");
	ck_assert_uint_eq(cfg.timeout, 1000);
	apply_ok("timeout: 1h\n");
	ck_assert_uint_eq(cfg.timeout, 3600000);
	apply_fails("timeout: 999ms\n", "t.yaml:1:10: key 'timeout': "
	    "duration '999ms' is out of range 1s..1h");
	apply_fails("timeout: 1h1ms\n", "t.yaml:1:10: key 'timeout': "
	    "duration '1h1ms' is out of range 1s..1h");
}
END_TEST

static const struct {
	const char	*text;
	uint64_t	 bytes;
} sizes[] = {
	{ "0", 0 }, { "512", 512 }, { "512B", 512 }, { "1KiB", 1024 },
	{ "64KiB", 65536 }, { "16MiB", 16777216 }, { "1GiB", 1073741824 },
	{ "2TiB", 2199023255552ULL }, { "18446744073709551615", UINT64_MAX },
	{ "16777215TiB", 16777215ULL << 40 },
};

START_TEST(conf__size_good)
{
	char text[128];
	uint64_t b = 1;

	ck_assert_int_eq(conf_parse_size(sizes[_i].text, &b), 0);
	ck_assert_uint_eq(b, sizes[_i].bytes);
	snprintf(text, sizeof(text), "bufsize: %s\n", sizes[_i].text);
	apply_ok(text);
	ck_assert_uint_eq(cfg.bufsize, sizes[_i].bytes);
}
END_TEST

/* SI and bare-letter suffixes are refused on purpose. */
static const char *const bad_sizes[] = {
	"", "big", "64k", "64K", "64KB", "64kB", "16M", "16MB", "1G", "1GB",
	"64kib", "64KIB", "64 KiB", "KiB", "-1", "+1", "1.5MiB", "1KiBB",
	"1KiB1B", " 1",
};

START_TEST(conf__size_bad)
{
	uint64_t b = 42;

	ck_assert_msg(conf_parse_size(bad_sizes[_i], &b) == CAIRN_ERR_INVAL,
	    "accepted '%s'", bad_sizes[_i]);
	ck_assert_uint_eq(b, 42);
}
END_TEST

START_TEST(conf__size_messages)
{
	uint64_t b = 42;

	apply_fails("bufsize: 64k\n", "t.yaml:1:10: key 'bufsize': expected "
	    "a size like 512, 64KiB or 16MiB, got '64k'");
	apply_fails("bufsize: [1]\n", "t.yaml:1:10: key 'bufsize': expected "
	    "a size, got a sequence");
	ck_assert_int_eq(conf_parse_size("18446744073709551616", &b),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(conf_parse_size("16777216TiB", &b),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_uint_eq(b, 42);
	apply_fails("bufsize: 16777216TiB\n", "t.yaml:1:10: key 'bufsize': "
	    "size '16777216TiB' is too large");
	apply_ok("maxsize: 1KiB\n");
	ck_assert_uint_eq(cfg.maxsize, 1024);
	apply_ok("maxsize: 1024MiB\n");
	ck_assert_uint_eq(cfg.maxsize, 1u << 30);
	apply_fails("maxsize: 2GiB\n", "t.yaml:1:10: key 'maxsize': "
	    "size '2GiB' is out of range 1KiB..1GiB");
	apply_fails("maxsize: 1023\n", "t.yaml:1:10: key 'maxsize': "
	    "size '1023' is out of range 1KiB..1GiB");
}
END_TEST

START_TEST(conf__string)
{
	apply_ok("name: plain\nlabel: \"double quoted\"\n");
	ck_assert_str_eq(cfg.name, "plain");
	ck_assert_str_eq(cfg.label, "double quoted");
	apply_ok("name: ''\n");
	ck_assert_str_eq(cfg.name, "");
	apply_ok("name: |\n  two\n  lines\n");
	ck_assert_str_eq(cfg.name, "two\nlines\n");
	/* Anchors and aliases are resolved. */
	apply_ok("name: &n shared\nlabel: *n\n");
	ck_assert_str_eq(cfg.label, "shared");
	apply_fails("label: ''\n", "t.yaml:1:8: key 'label': must not be empty");
	apply_fails("name: \"a\\0b\"\n",
	    "t.yaml:1:7: key 'name': must not contain a NUL byte");
	apply_fails("name: [a, b]\n",
	    "t.yaml:1:7: key 'name': expected a string, got a sequence");
}
END_TEST

/* A new value frees the old one (a strdup'd default); ASan checks. */
START_TEST(conf__string_replaces_default)
{
	cfg.name = strdup("default");
	ck_assert_ptr_nonnull(cfg.name);
	apply_ok("name: set\n");
	ck_assert_str_eq(cfg.name, "set");
	/* A failed value leaves the old one in place. */
	cfg.label = strdup("kept");
	ck_assert_ptr_nonnull(cfg.label);
	ck_assert_int_eq(apply("label: ''\n"), CAIRN_ERR_INVAL);
	ck_assert_str_eq(cfg.label, "kept");
}
END_TEST

START_TEST(conf__strlist)
{
	apply_ok("hosts: [a, b, c]\n");
	ck_assert_uint_eq(cfg.hosts.n, 3);
	ck_assert_str_eq(cfg.hosts.v[0], "a");
	ck_assert_str_eq(cfg.hosts.v[2], "c");
	apply_ok("hosts:\n  - x\n  - 'y z'\n");
	ck_assert_uint_eq(cfg.hosts.n, 2);
	ck_assert_str_eq(cfg.hosts.v[1], "y z");
	/* One scalar is a list of one. */
	apply_ok("hosts: only\n");
	ck_assert_uint_eq(cfg.hosts.n, 1);
	ck_assert_str_eq(cfg.hosts.v[0], "only");
	/* A quoted empty string is one empty item. */
	apply_ok("hosts: ''\n");
	ck_assert_uint_eq(cfg.hosts.n, 1);
	ck_assert_str_eq(cfg.hosts.v[0], "");
	apply_ok("hosts: []\n");
	ck_assert_uint_eq(cfg.hosts.n, 0);
	ck_assert_ptr_null(cfg.hosts.v);
	apply_ok("hosts:\n");
	ck_assert_uint_eq(cfg.hosts.n, 0);
}
END_TEST

START_TEST(conf__strlist_bad)
{
	apply_fails("tags: []\n", "t.yaml:1:7: key 'tags': must not be empty");
	apply_fails("tags:\n", "t.yaml:1:6: key 'tags': must not be empty");
	apply_fails("hosts: {a: 1}\n", "t.yaml:1:8: key 'hosts': expected a "
	    "string or a sequence of strings, got a mapping");
	ck_assert_int_eq(apply("hosts:\n  - a\n  - {b: 1}\n  - [c]\n"),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:3:5: key 'hosts': item 2: expected a string, got a mapping\n"
	    "t.yaml:4:5: key 'hosts': item 3: expected a string, got a "
	    "sequence");
	/* Nothing is stored from a bad list. */
	ck_assert_uint_eq(cfg.hosts.n, 0);
}
END_TEST

static const struct {
	const char	*text;
	const char	*host;
	uint16_t	 port;
} hostports[] = {
	{ "a.example:4370", "a.example", 4370 },
	{ "a.example", "a.example", 4369 },
	{ "localhost:1", "localhost", 1 },
	{ "10.0.0.1:80", "10.0.0.1", 80 },
	{ "10.0.0.1", "10.0.0.1", 4369 },
	{ "[::1]:4370", "::1", 4370 },
	{ "[::1]", "::1", 4369 },
	{ "[fe80::1:2]:65535", "fe80::1:2", 65535 },
	{ "::1", "::1", 4369 },
	{ "2001:db8::7", "2001:db8::7", 4369 },
	{ "my_host-2", "my_host-2", 4369 },
};

START_TEST(conf__hostport_forms)
{
	char text[128];

	snprintf(text, sizeof(text), "epmd: '%s'\n", hostports[_i].text);
	apply_ok(text);
	ck_assert_str_eq(cfg.epmd.host, hostports[_i].host);
	ck_assert_uint_eq(cfg.epmd.port, hostports[_i].port);
}
END_TEST

static const char *const bad_hostports[] = {
	"", "host:", ":80", "[::1", "[::1]x", "[::1]:", "[zz]:1", "[]:1",
	"a b:1", "host:x", "host:-1", "1:2:3", "host:80:81", "h\xc3\xa9:1",
	"[10.0.0.1]:1",
};

START_TEST(conf__hostport_bad)
{
	char text[128], want[256];
	struct conf_hostport hp = { NULL, 0 };

	ck_assert_int_eq(conf_parse_hostport(bad_hostports[_i], 4369, &hp),
	    CAIRN_ERR_INVAL);
	ck_assert_ptr_null(hp.host);
	snprintf(text, sizeof(text), "epmd: '%s'\n", bad_hostports[_i]);
	snprintf(want, sizeof(want), "t.yaml:1:7: key 'epmd': expected "
	    "host:port, [IPv6]:port or host, got '%s'", bad_hostports[_i]);
	apply_fails(text, want);
}
END_TEST

START_TEST(conf__hostport_port)
{
	struct conf_hostport hp = { NULL, 0 };

	apply_fails("epmd: host:0\n", "t.yaml:1:7: key 'epmd': port in "
	    "'host:0' is out of range 1..65535");
	apply_fails("epmd: host:65536\n", "t.yaml:1:7: key 'epmd': port in "
	    "'host:65536' is out of range 1..65535");
	apply_fails("epmd: '[::1]:99999999999999999999'\n", "t.yaml:1:7: key "
	    "'epmd': port in '[::1]:99999999999999999999' is out of range "
	    "1..65535");
	/* No default port: one must be given. */
	apply_fails("peer: host\n",
	    "t.yaml:1:7: key 'peer': missing port in 'host'");
	apply_ok("peer: host:1\n");
	ck_assert_uint_eq(cfg.peer.port, 1);
	/* A key may allow port 0 (listen on any port). */
	apply_ok("listen: '[::]:0'\n");
	ck_assert_str_eq(cfg.listen.host, "::");
	ck_assert_uint_eq(cfg.listen.port, 0);
	apply_ok("listen: 0.0.0.0\n");
	ck_assert_uint_eq(cfg.listen.port, 1883);
	apply_fails("epmd: [a]\n",
	    "t.yaml:1:7: key 'epmd': expected host:port, got a sequence");
	/* The parser for flags. */
	ck_assert_int_eq(conf_parse_hostport("h", 0, &hp), CAIRN_ERR_INVAL);
	ck_assert_int_eq(conf_parse_hostport("h:0", 0, &hp), CAIRN_ERR_INVAL);
	ck_assert_int_eq(conf_parse_hostport("[::1]:5", 0, &hp), 0);
	ck_assert_str_eq(hp.host, "::1");
	ck_assert_uint_eq(hp.port, 5);
	free(hp.host);
}
END_TEST

START_TEST(conf__enum)
{
	apply_ok("mode: gossip\n");
	ck_assert_int_eq(cfg.mode, 3);
	apply_ok("mode: epmd\n");
	ck_assert_int_eq(cfg.mode, 1);
	apply_fails("mode: dns\n", "t.yaml:1:7: key 'mode': expected one of "
	    "epmd, static, gossip, got 'dns'");
	apply_fails("mode: EPMD\n", "t.yaml:1:7: key 'mode': expected one of "
	    "epmd, static, gossip, got 'EPMD'");
	apply_fails("mode: {}\n",
	    "t.yaml:1:7: key 'mode': expected a name, got a mapping");
}
END_TEST

/* Control bytes are escaped and long values cut in messages. */
START_TEST(conf__message_quoting)
{
	char text[256], want[256], xs[128];

	apply_fails("mode: \"a\\tb\\\\\"\n", "t.yaml:1:7: key 'mode': "
	    "expected one of epmd, static, gossip, got 'a\\x09b\\x5c'");
	/* 80 bytes: the first 64 and "...". */
	memset(xs, 'x', 80);
	xs[80] = '\0';
	snprintf(text, sizeof(text), "mode: %s\n", xs);
	snprintf(want, sizeof(want), "t.yaml:1:7: key 'mode': expected one "
	    "of epmd, static, gossip, got '%.64s...'", xs);
	apply_fails(text, want);
	/* 63 bytes and a 2-byte character: the cut backs off to 63. */
	snprintf(text, sizeof(text), "mode: %.63s\xc3\xa9\n", xs);
	snprintf(want, sizeof(want), "t.yaml:1:7: key 'mode': expected one "
	    "of epmd, static, gossip, got '%.63s...'", xs);
	apply_fails(text, want);
}
END_TEST

/*
 * Keys and tables.
 */

START_TEST(conf__unknown_key)
{
	apply_fails("name: x\npollin: 5s\n",
	    "t.yaml:2:1: key 'pollin': unknown key");
	/* The known key is still applied. */
	ck_assert_str_eq(cfg.name, "x");
	apply_fails("[a]: 1\n",
	    "t.yaml:1:1: mapping keys must be strings, got a sequence");
}
END_TEST

START_TEST(conf__wrong_type)
{
	apply_fails("name:\n  - a\n", "t.yaml:2:3: key 'name': expected a "
	    "string, got a sequence");
	apply_fails("count: {a: 1}\n",
	    "t.yaml:1:8: key 'count': expected an integer, got a mapping");
	apply_fails("sub: 5\n",
	    "t.yaml:1:6: key 'sub': expected a mapping, got a scalar");
}
END_TEST

START_TEST(conf__duplicate_key)
{
	apply_fails("name: first\nflag: on\nname: second\n",
	    "t.yaml:3:1: key 'name': duplicate key, first at 1:1");
	/* The first one stands; the repeat is not applied. */
	ck_assert_str_eq(cfg.name, "first");
	apply_fails("{sub: {a: 1, a: 2}}\n",
	    "t.yaml:1:14: key 'a': duplicate key, first at 1:8");
	ck_assert_uint_eq(cfg.sub.a, 1);
}
END_TEST

START_TEST(conf__missing_required)
{
	ck_assert_int_eq(apply_to("flag: yes\n", required_keys),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:1:1: key 'name': required key is missing");
	ck_assert_int_eq(cfg.flag, true);
	ck_assert_int_eq(apply_to("name: n\n", required_keys), 0);
}
END_TEST

START_TEST(conf__nested)
{
	apply_ok("sub:\n  a: 7\n  b: inner\nname: outer\n");
	ck_assert_uint_eq(cfg.sub.a, 7);
	ck_assert_str_eq(cfg.sub.b, "inner");
	ck_assert_int_eq(apply("sub:\n  b: x\n  c: 1\n"), CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:3:3: key 'c': unknown key\n"
	    "t.yaml:2:3: key 'a': required key is missing");
	/* An empty value is an empty mapping. */
	ck_assert_int_eq(apply("sub:\n"), CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:1:5: key 'a': required key is missing");
}
END_TEST

START_TEST(conf__errors_collected)
{
	size_t i;
	static const char *const want[] = {
		"t.yaml:1:7: key 'flag': expected true/false, yes/no or "
		    "on/off, got 'perhaps'",
		"t.yaml:2:1: key 'colour': unknown key",
		"t.yaml:3:7: key 'port': value '0' is out of range 1..65535",
		"t.yaml:5:6: key 'a': expected a non-negative integer, "
		    "got 'b'",
		"t.yaml:6:1: key 'flag': duplicate key, first at 1:1",
	};

	ck_assert_int_eq(apply("flag: perhaps\ncolour: red\nport: 0\n"
	    "sub:\n  a: b\nflag: no\nname: fine\n"), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(conf_doc_nerrors(doc), NELEM(want));
	for (i = 0; i < NELEM(want); i++)
		ck_assert_str_eq(conf_doc_error(doc, i), want[i]);
	ck_assert_ptr_null(conf_doc_error(doc, NELEM(want)));
	ck_assert_str_eq(conf_doc_errors(doc), "t.yaml:1:7: key 'flag': "
	    "expected true/false, yes/no or on/off, got 'perhaps'\n"
	    "t.yaml:2:1: key 'colour': unknown key\n"
	    "t.yaml:3:7: key 'port': value '0' is out of range 1..65535\n"
	    "t.yaml:5:6: key 'a': expected a non-negative integer, got 'b'\n"
	    "t.yaml:6:1: key 'flag': duplicate key, first at 1:1");
	/* Good keys are still set. */
	ck_assert_str_eq(cfg.name, "fine");
}
END_TEST

START_TEST(conf__too_many_errors)
{
	char *text, *p;
	size_t i, n = CONF_MAX_ERRORS + 50;

	text = malloc(n * 16);
	ck_assert_ptr_nonnull(text);
	for (p = text, i = 0; i < n; i++)
		p += sprintf(p, "k%zu: 1\n", i);
	ck_assert_int_eq(apply(text), CAIRN_ERR_INVAL);
	free(text);
	ck_assert_uint_eq(conf_doc_nerrors(doc), CONF_MAX_ERRORS);
	ck_assert_str_eq(conf_doc_error(doc, 0),
	    "t.yaml:1:1: key 'k0': unknown key");
	ck_assert_str_eq(conf_doc_error(doc, CONF_MAX_ERRORS - 1),
	    "t.yaml: too many errors, giving up on the rest");
	/* Still INVAL after the cap. */
	ck_assert_int_eq(conf_error(doc, NULL, "one more"), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(conf_doc_nerrors(doc), CONF_MAX_ERRORS);
}
END_TEST

START_TEST(conf__custom_handler)
{
	apply_ok("pair: 3-4\n");
	ck_assert_int_eq(cfg.pair[0], 3);
	ck_assert_int_eq(cfg.pair[1], 4);
	apply_fails("pair: 34\n", "t.yaml:1:7: key 'pair': expected N-M, got '34'");
	/* INVAL without a message gets a generic one. */
	apply_fails("pair: [1]\n", "t.yaml:1:7: key 'pair': invalid value");
	/* The free hook runs from conf_free_fields. */
	conf_free_fields(keys, &cfg);
	ck_assert_int_eq(pair_frees, 1);
}
END_TEST

static const struct conf_key skip_keys[] = {
	{ .name = "strategy", .type = CONF_ENUM,
	    .offset = offsetof(struct cfg, mode), .names = modes,
	    .flags = CONF_REQUIRED },
	{ .name = "config", .type = CONF_SKIP, .flags = CONF_REQUIRED },
	{ .name = "connector", .type = CONF_STRING,
	    .offset = offsetof(struct cfg, name) },
	{ .name = NULL },
};

START_TEST(conf__skip_key)
{
	/* CONF_SKIP takes any node and leaves it to the caller. */
	ck_assert_int_eq(apply_to("config: {x: [1]}\nstrategy: static\n",
	    skip_keys), 0);
	ck_assert_int_eq(cfg.mode, 2);
	ck_assert_int_eq(apply_to("strategy: static\nconfig: 1\n"
	    "config: 2\n", skip_keys), CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:3:1: key 'config': duplicate key, first at 2:1");
	ck_assert_int_eq(apply_to("strategy: static\n", skip_keys),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:1:1: key 'config': required key is missing");
}
END_TEST

/*
 * Dynamic maps: topologies whose names are the user's and whose config
 * table depends on the strategy, as the agent reads them.
 */

struct topo {
	int			 strategy;
	char			*connector;
	struct conf_strlist	 hosts;		/* static */
	uint64_t		 interval;	/* epmd */
};

static const struct conf_key topo_keys[] = {
	{ .name = "strategy", .type = CONF_ENUM,
	    .offset = offsetof(struct topo, strategy), .names = modes,
	    .flags = CONF_REQUIRED },
	{ .name = "config", .type = CONF_SKIP },
	{ .name = "connector", .type = CONF_STRING,
	    .offset = offsetof(struct topo, connector) },
	{ .name = NULL },
};

static const struct conf_key static_keys[] = {
	{ .name = "hosts", .type = CONF_STRLIST,
	    .offset = offsetof(struct topo, hosts), .flags = CONF_REQUIRED },
	{ .name = NULL },
};

static const struct conf_key epmd_keys[] = {
	{ .name = "polling_interval", .type = CONF_DURATION,
	    .offset = offsetof(struct topo, interval) },
	{ .name = NULL },
};

struct topos {
	char		*names[8];
	struct topo	 t[8];
	size_t		 n;
	int		 stop_at;	/* return CAIRN_ERR_LIMIT at this call */
};

static const struct conf_key *
topo_config_keys(int strategy)
{
	return strategy == 1 ? epmd_keys : strategy == 2 ? static_keys : NULL;
}

static int
on_topology(struct conf_doc *d, const char *key, const yaml_node_t *kn,
    const yaml_node_t *v, void *arg)
{
	struct topos *ts = arg;
	struct topo *t;
	const struct conf_key *ck;
	int rc;

	if ((int)ts->n + 1 == ts->stop_at)
		return CAIRN_ERR_LIMIT;
	if (ts->n == NELEM(ts->t))
		return conf_error(d, kn, "topology '%s': too many", key);
	t = &ts->t[ts->n];
	ts->names[ts->n++] = strdup(key);
	if ((rc = conf_apply(d, v, topo_keys, t)) != 0)
		return rc;
	if ((ck = topo_config_keys(t->strategy)) == NULL)
		return conf_error(d, conf_map_get(d, v, "strategy"),
		    "topology '%s': strategy has no config", key);
	return conf_apply(d, conf_map_get(d, v, "config"), ck, t);
}

static void
topos_free(struct topos *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->names[i]);
		conf_free_fields(topo_keys, &ts->t[i]);
		conf_free_fields(static_keys, &ts->t[i]);
		conf_free_fields(epmd_keys, &ts->t[i]);
	}
}

START_TEST(conf__foreach_dynamic)
{
	struct topos ts;
	const yaml_node_t *root;

	memset(&ts, 0, sizeof(ts));
	doc = load("topologies:\n"
	    "  local:\n"
	    "    strategy: epmd\n"
	    "    config:\n"
	    "      polling_interval: 2s\n"
	    "  farm:\n"
	    "    config: {hosts: [a, b]}\n"
	    "    strategy: static\n"
	    "    connector: erl\n");
	root = conf_doc_root(doc);
	ck_assert_ptr_nonnull(root);
	ck_assert_ptr_nonnull(conf_map_get(doc, root, "topologies"));
	ck_assert_ptr_null(conf_map_get(doc, root, "nope"));
	ck_assert_int_eq(conf_map_foreach(doc, conf_map_get(doc, root,
	    "topologies"), on_topology, &ts), 0);
	ck_assert_uint_eq(ts.n, 2);
	ck_assert_str_eq(ts.names[0], "local");
	ck_assert_uint_eq(ts.t[0].interval, 2000);
	ck_assert_str_eq(ts.names[1], "farm");
	ck_assert_int_eq(ts.t[1].strategy, 2);
	ck_assert_str_eq(ts.t[1].connector, "erl");
	ck_assert_uint_eq(ts.t[1].hosts.n, 2);
	ck_assert_str_eq(ts.t[1].hosts.v[1], "b");
	topos_free(&ts);
}
END_TEST

START_TEST(conf__foreach_errors)
{
	struct topos ts;

	memset(&ts, 0, sizeof(ts));
	doc = load("local:\n"
	    "  strategy: epmd\n"
	    "  config:\n"
	    "    polling_interval: soon\n"
	    "farm:\n"
	    "  strategy: static\n"
	    "  config: {}\n"
	    "local: {strategy: gossip}\n"
	    "[x]: 1\n"
	    "g:\n"
	    "  strategy: gossip\n");
	ck_assert_int_eq(conf_map_foreach(doc, conf_doc_root(doc),
	    on_topology, &ts), CAIRN_ERR_INVAL);
	/* The repeat and the non-string key are not passed on. */
	ck_assert_uint_eq(ts.n, 3);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:4:23: key 'polling_interval': expected a duration like "
	    "500ms or 5s, got 'soon'\n"
	    "t.yaml:7:11: key 'hosts': required key is missing\n"
	    "t.yaml:8:1: key 'local': duplicate key, first at 1:1\n"
	    "t.yaml:9:1: mapping keys must be strings, got a sequence\n"
	    "t.yaml:11:13: topology 'g': strategy has no config");
	topos_free(&ts);
}
END_TEST

START_TEST(conf__foreach_stops)
{
	struct topos ts;

	memset(&ts, 0, sizeof(ts));
	ts.stop_at = 2;
	doc = load("a: {strategy: epmd}\nb: {strategy: epmd}\n"
	    "c: {strategy: epmd}\n");
	ck_assert_int_eq(conf_map_foreach(doc, conf_doc_root(doc),
	    on_topology, &ts), CAIRN_ERR_LIMIT);
	ck_assert_uint_eq(ts.n, 1);
	topos_free(&ts);
	/* NULL is an empty map; a non-mapping is an error. */
	memset(&ts, 0, sizeof(ts));
	ck_assert_int_eq(conf_map_foreach(doc, NULL, on_topology, &ts), 0);
	ck_assert_int_eq(conf_map_foreach(doc, conf_map_get(doc,
	    conf_doc_root(doc), "a"), on_topology, &ts), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(ts.n, 1);
	topos_free(&ts);
}
END_TEST

START_TEST(conf__node_helpers)
{
	const yaml_node_t *root, *n;
	size_t line, col;

	doc = load("a: text\nb: [1]\nc: \"x\\0y\"\n");
	root = conf_doc_root(doc);
	ck_assert_ptr_null(conf_node_scalar(root));
	ck_assert_str_eq(conf_node_kind(root), "a mapping");
	ck_assert_str_eq(conf_node_kind(NULL), "nothing");
	n = conf_map_get(doc, root, "a");
	ck_assert_str_eq(conf_node_scalar(n), "text");
	ck_assert_str_eq(conf_node_kind(n), "a scalar");
	n = conf_map_get(doc, root, "b");
	ck_assert_ptr_null(conf_node_scalar(n));
	ck_assert_str_eq(conf_node_kind(n), "a sequence");
	conf_node_pos(n, &line, &col);
	ck_assert_uint_eq(line, 2);
	ck_assert_uint_eq(col, 4);
	conf_node_pos(NULL, &line, &col);
	ck_assert_uint_eq(line, 1);
	ck_assert_uint_eq(col, 1);
	/* A NUL byte hides the scalar. */
	ck_assert_ptr_null(conf_node_scalar(conf_map_get(doc, root, "c")));
	ck_assert_ptr_null(conf_map_get(doc, n, "a"));
	ck_assert_ptr_null(conf_map_get(doc, NULL, "a"));
	ck_assert_int_eq(conf_error(doc, n, "custom %d", 42), CAIRN_ERR_INVAL);
	ck_assert_int_eq(conf_error(doc, NULL, "at the start"),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:2:4: custom 42\nt.yaml:1:1: at the start");
}
END_TEST

/* A self-referencing alias under a recursive table stops. */
struct deep {
	struct deep_inner {
		int	x;
	} in;
};

static const struct conf_key loop_keys[] = {
	{ .name = "x", .type = CONF_MAP, .offset = 0, .sub = loop_keys },
	{ .name = NULL },
};

START_TEST(conf__recursive_alias)
{
	struct deep d;

	memset(&d, 0, sizeof(d));
	doc = load("&a {x: *a}\n");
	ck_assert_int_eq(conf_apply(doc, conf_doc_root(doc), loop_keys, &d),
	    CAIRN_ERR_INVAL);
	ck_assert_str_eq(conf_doc_errors(doc),
	    "t.yaml:1:1: nested more than 32 deep");
}
END_TEST

/* All fields set, then an error: everything must still be freed. */
START_TEST(conf__free_after_partial)
{
	ck_assert_int_eq(apply("name: a\nlabel: b\nhosts: [x, y]\n"
	    "epmd: h:1\nsub: {a: 1, b: c}\nport: 0\n"), CAIRN_ERR_INVAL);
	ck_assert_str_eq(cfg.sub.b, "c");
	conf_free_fields(keys, &cfg);
	ck_assert_ptr_null(cfg.name);
	ck_assert_ptr_null(cfg.sub.b);
	ck_assert_ptr_null(cfg.hosts.v);
	ck_assert_uint_eq(cfg.hosts.n, 0);
	ck_assert_ptr_null(cfg.epmd.host);
	/* Twice is fine; the teardown frees a third time. */
	conf_free_fields(keys, &cfg);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, conf__syntax_error_position);
	tcase_add_test(tc, conf__invalid_utf8_position);
	tcase_add_test(tc, conf__multiple_documents);
	tcase_add_test(tc, conf__empty_document);
	tcase_add_test(tc, conf__root_not_mapping);
	tcase_add_test(tc, conf__load_file);
	tcase_add_test(tc, conf__load_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("types");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, conf__bool_spellings, 0, (int)NELEM(bools));
	tcase_add_test(tc, conf__bool_bad);
	tcase_add_test(tc, conf__int_range);
	tcase_add_test(tc, conf__uint_range);
	tcase_add_loop_test(tc, conf__duration_good, 0, (int)NELEM(durations));
	tcase_add_loop_test(tc, conf__duration_bad, 0,
	    (int)NELEM(bad_durations));
	tcase_add_test(tc, conf__duration_messages);
	tcase_add_test(tc, conf__duration_overflow);
	tcase_add_test(tc, conf__duration_range);
	tcase_add_loop_test(tc, conf__size_good, 0, (int)NELEM(sizes));
	tcase_add_loop_test(tc, conf__size_bad, 0, (int)NELEM(bad_sizes));
	tcase_add_test(tc, conf__size_messages);
	tcase_add_test(tc, conf__string);
	tcase_add_test(tc, conf__string_replaces_default);
	tcase_add_test(tc, conf__strlist);
	tcase_add_test(tc, conf__strlist_bad);
	tcase_add_loop_test(tc, conf__hostport_forms, 0, (int)NELEM(hostports));
	tcase_add_loop_test(tc, conf__hostport_bad, 0,
	    (int)NELEM(bad_hostports));
	tcase_add_test(tc, conf__hostport_port);
	tcase_add_test(tc, conf__enum);
	tcase_add_test(tc, conf__message_quoting);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, conf__unknown_key);
	tcase_add_test(tc, conf__wrong_type);
	tcase_add_test(tc, conf__duplicate_key);
	tcase_add_test(tc, conf__missing_required);
	tcase_add_test(tc, conf__nested);
	tcase_add_test(tc, conf__errors_collected);
	tcase_add_test(tc, conf__too_many_errors);
	tcase_add_test(tc, conf__custom_handler);
	tcase_add_test(tc, conf__skip_key);
	tcase_add_test(tc, conf__recursive_alias);
	tcase_add_test(tc, conf__free_after_partial);
	suite_add_tcase(s, tc);

	tc = tcase_create("dynamic");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, conf__foreach_dynamic);
	tcase_add_test(tc, conf__foreach_errors);
	tcase_add_test(tc, conf__foreach_stops);
	tcase_add_test(tc, conf__node_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Forked children must not flush a copy of our buffered output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(conf_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
