/*
 * Conf: YAML loading, the table walker and the value parsers.  See
 * conf.h for the syntax and the contracts.
 *
 * Every error goes through doc_verror(), which prefixes the position and
 * the key and keeps the line; nothing here stops at the first error
 * except allocation failure, which is sticky in doc->nomem.
 */
#include "common/conf.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/err.h"

/* Longest user value quoted back in a message, in bytes. */
#define CONF_QUOTE_MAX	64
/* Room for a quoted value: each byte may become \xNN, plus "...". */
#define CONF_QUOTE_LEN	(CONF_QUOTE_MAX * 4 + 8)
/* Longest host name (RFC 1035 presentation form without the dot). */
#define CONF_HOST_MAX	253
/* Nested conf_apply() calls; a self-referencing alias (&a {x: *a})
 * under a recursive table would otherwise never end. */
#define CONF_MAX_DEPTH	32

#define MS_PER_S	1000ULL
#define MS_PER_M	(60 * MS_PER_S)
#define MS_PER_H	(60 * MS_PER_M)

struct conf_doc {
	char		*name;
	yaml_document_t	 ydoc;
	int		 loaded;	/* ydoc must be deleted */
	char		**errs;
	size_t		 nerrs;		/* kept in errs */
	size_t		 ntotal;	/* added, kept or not */
	char		*joined;	/* cache for conf_doc_errors() */
	int		 nomem;		/* an allocation failed: sticky */
	int		 depth;		/* of conf_apply() calls */
};

static int	doc_verror(struct conf_doc *, const yaml_node_t *,
		    const char *, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static int	key_error(struct conf_doc *, const yaml_node_t *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static void	load_err(struct conf_err *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* "key:" with nothing after it: an empty plain scalar. */
static int
is_empty_plain(const yaml_node_t *node)
{
	return node != NULL && node->type == YAML_SCALAR_NODE &&
	    node->data.scalar.length == 0 &&
	    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/*
 * Copies s[0..len) into out for a message: printable ASCII and UTF-8
 * as is, other bytes as \xNN, cut at CONF_QUOTE_MAX bytes (on a
 * character boundary) with "...".
 */
static void
quote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0, n = len;

	if (n > CONF_QUOTE_MAX) {
		n = CONF_QUOTE_MAX;
		/* Do not cut a UTF-8 sequence: back off its tail bytes. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (n < len && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Byte offset to 1-based line and column (in characters). */
static void
offset_pos(const char *text, size_t len, size_t off, size_t *line,
    size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

static void
load_err(struct conf_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Fills err from a failed libyaml parser. */
static void
parser_err(const yaml_parser_t *p, const char *name, const char *text,
    size_t len, struct conf_err *err)
{
	size_t line, col;
	const char *problem;

	problem = p->problem != NULL ? p->problem : "syntax error";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		load_err(err, CAIRN_ERR_NOMEM, "%s: out of memory", name);
		break;
	case YAML_READER_ERROR:
		/* The reader has no mark, only a byte offset. */
		offset_pos(text, len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			load_err(err, CAIRN_ERR_INVAL, "%s:%zu:%zu: %s (#%X)",
			    name, line, col, problem,
			    (unsigned)p->problem_value);
		else
			load_err(err, CAIRN_ERR_INVAL, "%s:%zu:%zu: %s",
			    name, line, col, problem);
		break;
	default:
		if (p->context != NULL)
			load_err(err, CAIRN_ERR_INVAL,
			    "%s:%zu:%zu: %s (%s at %zu:%zu)", name,
			    p->problem_mark.line + 1,
			    p->problem_mark.column + 1, problem, p->context,
			    p->context_mark.line + 1,
			    p->context_mark.column + 1);
		else
			load_err(err, CAIRN_ERR_INVAL, "%s:%zu:%zu: %s", name,
			    p->problem_mark.line + 1,
			    p->problem_mark.column + 1, problem);
		break;
	}
}

struct conf_doc *
conf_doc_load_string(const char *name, const char *text, size_t len,
    struct conf_err *err)
{
	struct conf_doc *doc;
	yaml_parser_t parser;
	yaml_document_t extra;
	int parser_ok = 0;

	if ((doc = calloc(1, sizeof(*doc))) == NULL ||
	    (doc->name = strdup(name)) == NULL)
		goto nomem;
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	parser_ok = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	if (!yaml_parser_load(&parser, &doc->ydoc)) {
		parser_err(&parser, name, text, len, err);
		goto fail;
	}
	doc->loaded = 1;
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		parser_err(&parser, name, text, len, err);
		goto fail;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		load_err(err, CAIRN_ERR_INVAL,
		    "%s:%zu:%zu: expected a single document, found another",
		    name, extra.start_mark.line + 1,
		    extra.start_mark.column + 1);
		yaml_document_delete(&extra);
		goto fail;
	}
	yaml_document_delete(&extra);
	yaml_parser_delete(&parser);
	return doc;

nomem:
	load_err(err, CAIRN_ERR_NOMEM, "%s: out of memory", name);
fail:
	if (parser_ok)
		yaml_parser_delete(&parser);
	conf_doc_free(doc);
	return NULL;
}

struct conf_doc *
conf_doc_load_file(const char *path, struct conf_err *err)
{
	struct conf_doc *doc = NULL;
	FILE *fp;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "re")) == NULL) {
		load_err(err, CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			if (cap > CONF_MAX_FILE) {
				load_err(err, CAIRN_ERR_TOO_BIG,
				    "%s: larger than %d bytes", path,
				    CONF_MAX_FILE);
				goto done;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				load_err(err, CAIRN_ERR_NOMEM,
				    "%s: out of memory", path);
				goto done;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		load_err(err, CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (len > CONF_MAX_FILE) {
		load_err(err, CAIRN_ERR_TOO_BIG, "%s: larger than %d bytes",
		    path, CONF_MAX_FILE);
		goto done;
	}
	doc = conf_doc_load_string(path, buf, len, err);
done:
	free(buf);
	fclose(fp);
	return doc;
}

void
conf_doc_free(struct conf_doc *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	if (doc->loaded)
		yaml_document_delete(&doc->ydoc);
	for (i = 0; i < doc->nerrs; i++)
		free(doc->errs[i]);
	free(doc->errs);
	free(doc->joined);
	free(doc->name);
	free(doc);
}

const char *
conf_doc_name(const struct conf_doc *doc)
{
	return doc->name;
}

const yaml_node_t *
conf_doc_root(struct conf_doc *doc)
{
	const yaml_node_t *root = yaml_document_get_root_node(&doc->ydoc);

	/* A bare "---" holds one empty scalar: no configuration either. */
	return is_empty_plain(root) ? NULL : root;
}

size_t
conf_doc_nerrors(const struct conf_doc *doc)
{
	return doc->nerrs;
}

const char *
conf_doc_error(const struct conf_doc *doc, size_t i)
{
	return i < doc->nerrs ? doc->errs[i] : NULL;
}

const char *
conf_doc_errors(struct conf_doc *doc)
{
	size_t i, len = 0, off = 0, n;

	if (doc->joined != NULL)
		return doc->joined;
	for (i = 0; i < doc->nerrs; i++)
		len += strlen(doc->errs[i]) + 1;
	if ((doc->joined = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < doc->nerrs; i++) {
		n = strlen(doc->errs[i]);
		memcpy(doc->joined + off, doc->errs[i], n);
		off += n;
		if (i + 1 < doc->nerrs)
			doc->joined[off++] = '\n';
	}
	doc->joined[off] = '\0';
	return doc->joined;
}

void
conf_node_pos(const yaml_node_t *node, size_t *line, size_t *col)
{
	*line = node == NULL ? 1 : node->start_mark.line + 1;
	*col = node == NULL ? 1 : node->start_mark.column + 1;
}

const char *
conf_node_kind(const yaml_node_t *node)
{
	if (node == NULL)
		return "nothing";
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

const char *
conf_node_scalar(const yaml_node_t *node)
{
	const char *s;

	if (node == NULL || node->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)node->data.scalar.value;
	if (strlen(s) != node->data.scalar.length)
		return NULL;
	return s;
}

/* Keeps one formatted line; past the cap, one "too many" line. */
static int
doc_keep(struct conf_doc *doc, char *line)
{
	char **nerrs;

	doc->ntotal++;
	free(doc->joined);
	doc->joined = NULL;
	if (doc->nerrs == CONF_MAX_ERRORS) {
		free(line);
		return CAIRN_ERR_INVAL;
	}
	if (doc->nerrs == CONF_MAX_ERRORS - 1) {
		free(line);
		if (asprintf(&line, "%s: too many errors, giving up on the rest",
		    doc->name) == -1) {
			doc->nomem = 1;
			return CAIRN_ERR_NOMEM;
		}
	}
	nerrs = reallocarray(doc->errs, doc->nerrs + 1, sizeof(*doc->errs));
	if (nerrs == NULL) {
		free(line);
		doc->nomem = 1;
		return CAIRN_ERR_NOMEM;
	}
	doc->errs = nerrs;
	doc->errs[doc->nerrs++] = line;
	return CAIRN_ERR_INVAL;
}

static int
doc_verror(struct conf_doc *doc, const yaml_node_t *node, const char *key,
    const char *fmt, va_list ap)
{
	char *msg, *line;
	size_t l, c;
	int rc;

	if (vasprintf(&msg, fmt, ap) == -1) {
		doc->ntotal++;
		doc->nomem = 1;
		return CAIRN_ERR_NOMEM;
	}
	conf_node_pos(node, &l, &c);
	if (key != NULL)
		rc = asprintf(&line, "%s:%zu:%zu: key '%s': %s", doc->name, l,
		    c, key, msg);
	else
		rc = asprintf(&line, "%s:%zu:%zu: %s", doc->name, l, c, msg);
	free(msg);
	if (rc == -1) {
		doc->ntotal++;
		doc->nomem = 1;
		return CAIRN_ERR_NOMEM;
	}
	return doc_keep(doc, line);
}

int
conf_error(struct conf_doc *doc, const yaml_node_t *node, const char *fmt,
    ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = doc_verror(doc, node, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int
key_error(struct conf_doc *doc, const yaml_node_t *node, const char *key,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = doc_verror(doc, node, key, fmt, ap);
	va_end(ap);
	return rc;
}

/* The scalar's text quoted for a message. */
static void
quote_node(const yaml_node_t *node, char *out, size_t outlen)
{
	quote((const char *)node->data.scalar.value,
	    node->data.scalar.length, out, outlen);
}

/*
 * Value parsers.
 */

int
conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return CAIRN_ERR_INVAL;
}

/*
 * Reads a run of decimal digits at *sp into *v and moves *sp past it.
 * CAIRN_ERR_INVAL if there is no digit; *over is set (and *v is
 * meaningless) if the number does not fit in uint64_t, but the digits
 * are still consumed so that syntax errors later on win.
 */
static int
get_digits(const char **sp, uint64_t *v, int *over)
{
	const char *s = *sp;
	uint64_t n = 0;
	unsigned d;

	if (!isdigit((unsigned char)*s))
		return CAIRN_ERR_INVAL;
	for (; isdigit((unsigned char)*s); s++) {
		d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			*over = 1;
		else
			n = n * 10 + d;
	}
	*v = n;
	*sp = s;
	return 0;
}

/* *acc += n * mult, setting *over on overflow. */
static void
add_scaled(uint64_t *acc, uint64_t n, uint64_t mult, int *over)
{
	if (*over)
		return;
	if (n > UINT64_MAX / mult || n * mult > UINT64_MAX - *acc) {
		*over = 1;
		return;
	}
	*acc += n * mult;
}

int
conf_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char	*unit;
		uint64_t	 mult;
	} units[] = {
		/* "ms" before "m": the longest match wins. */
		{ "ms", 1 }, { "s", MS_PER_S }, { "m", MS_PER_M },
		{ "h", MS_PER_H },
	};
	uint64_t total = 0, n, last = UINT64_MAX;
	size_t i, ulen;
	int over = 0;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0')
		return CAIRN_ERR_INVAL;
	while (*s != '\0') {
		if (get_digits(&s, &n, &over) != 0)
			return CAIRN_ERR_INVAL;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, ulen) == 0)
				break;
		}
		/* A bare number, an unknown unit, or units out of order. */
		if (i == sizeof(units) / sizeof(units[0]) ||
		    units[i].mult >= last)
			return CAIRN_ERR_INVAL;
		s += ulen;
		last = units[i].mult;
		add_scaled(&total, n, units[i].mult, &over);
	}
	if (over)
		return CAIRN_ERR_TOO_BIG;
	*ms = total;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char	*unit;
		uint64_t	 mult;
	} units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
		{ "TiB", 1ULL << 40 },
	};
	uint64_t n, total = 0;
	size_t i;
	int over = 0;

	if (get_digits(&s, &n, &over) != 0)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].unit) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return CAIRN_ERR_INVAL;
	add_scaled(&total, n, units[i].mult, &over);
	if (over)
		return CAIRN_ERR_TOO_BIG;
	*bytes = total;
	return 0;
}

/* Decimal with an optional sign, into int64_t. */
static int
parse_int64(const char *s, int64_t *out)
{
	uint64_t n;
	int neg = 0, over = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (get_digits(&s, &n, &over) != 0 || *s != '\0')
		return CAIRN_ERR_INVAL;
	if (over || n > (uint64_t)INT64_MAX + neg)
		return CAIRN_ERR_TOO_BIG;
	/* -2^63 is representable; negate in unsigned, then convert. */
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

/* Decimal digits only, into uint64_t. */
static int
parse_uint64(const char *s, uint64_t *out)
{
	uint64_t n;
	int over = 0;

	if (get_digits(&s, &n, &over) != 0 || *s != '\0')
		return CAIRN_ERR_INVAL;
	if (over)
		return CAIRN_ERR_TOO_BIG;
	*out = n;
	return 0;
}

static int
is_ipv6(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static int
is_hostname(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONF_HOST_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/*
 * Splits s into a malloc'd host and a port.  *port is -1 when s has no
 * port, UINT64_MAX-saturated digits otherwise (the caller checks the
 * range).  0, CAIRN_ERR_INVAL or CAIRN_ERR_NOMEM.
 */
static int
hostport_split(const char *s, char **host, int64_t *port)
{
	const char *h, *rb, *colon, *p;
	size_t hlen;
	uint64_t n;
	int over = 0;

	*port = -1;
	if (s[0] == '[') {
		if ((rb = strchr(s, ']')) == NULL)
			return CAIRN_ERR_INVAL;
		h = s + 1;
		hlen = (size_t)(rb - h);
		if (!is_ipv6(h, hlen))
			return CAIRN_ERR_INVAL;
		p = rb + 1;
		if (*p != '\0' && *p++ != ':')
			return CAIRN_ERR_INVAL;
		if (rb[1] == '\0')
			p = NULL;
	} else if ((colon = strchr(s, ':')) == NULL) {
		h = s;
		hlen = strlen(s);
		p = NULL;
		if (!is_hostname(h, hlen))
			return CAIRN_ERR_INVAL;
	} else if (strchr(colon + 1, ':') != NULL) {
		/* Two colons or more: a bare IPv6 address, no port. */
		h = s;
		hlen = strlen(s);
		p = NULL;
		if (!is_ipv6(h, hlen))
			return CAIRN_ERR_INVAL;
	} else {
		h = s;
		hlen = (size_t)(colon - s);
		p = colon + 1;
		if (!is_hostname(h, hlen))
			return CAIRN_ERR_INVAL;
	}
	if (p != NULL) {
		if (get_digits(&p, &n, &over) != 0 || *p != '\0')
			return CAIRN_ERR_INVAL;
		*port = over || n > INT64_MAX ? INT64_MAX : (int64_t)n;
	}
	if ((*host = strndup(h, hlen)) == NULL)
		return CAIRN_ERR_NOMEM;
	return 0;
}

int
conf_parse_hostport(const char *s, uint16_t defport,
    struct conf_hostport *out)
{
	char *host;
	int64_t port;
	int rc;

	if ((rc = hostport_split(s, &host, &port)) != 0)
		return rc;
	if (port == -1)
		port = defport;
	if (port < 1 || port > UINT16_MAX) {
		free(host);
		return CAIRN_ERR_INVAL;
	}
	out->host = host;
	out->port = (uint16_t)port;
	return 0;
}

/*
 * Formatting bounds for range messages: the largest unit that divides
 * the value exactly.
 */
static void
fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % MS_PER_H == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / MS_PER_H));
	else if (ms != 0 && ms % MS_PER_M == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / MS_PER_M));
	else if (ms != 0 && ms % MS_PER_S == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / MS_PER_S));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static void
fmt_size(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t m = 1ULL << (10 * (i + 1));

		if (b != 0 && b % m == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(b / m), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)b);
}

static void
fmt_uint(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

/*
 * The table walker.
 */

static void *
field_of(void *base, const struct conf_key *k)
{
	return (char *)base + k->offset;
}

/* What a type wants, for "expected X, got a sequence". */
static const char *
type_noun(enum conf_type t)
{
	switch (t) {
	case CONF_BOOL:
		return "a boolean";
	case CONF_INT:
	case CONF_UINT:
		return "an integer";
	case CONF_DURATION:
		return "a duration";
	case CONF_SIZE:
		return "a size";
	case CONF_STRING:
		return "a string";
	case CONF_STRLIST:
		return "a string or a sequence of strings";
	case CONF_HOSTPORT:
		return "host:port";
	case CONF_ENUM:
		return "a name";
	case CONF_MAP:
		return "a mapping";
	default:
		return "a value";
	}
}

/*
 * The text of value if it is a scalar without NUL bytes; otherwise adds
 * the error and returns NULL.
 */
static const char *
want_scalar(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, const char *what)
{
	const char *s;

	if (v->type != YAML_SCALAR_NODE) {
		key_error(doc, v, k->name, "expected %s, got %s", what,
		    conf_node_kind(v));
		return NULL;
	}
	if ((s = conf_node_scalar(v)) == NULL)
		key_error(doc, v, k->name, "must not contain a NUL byte");
	return s;
}

/* Range check for the unsigned kinds; fmt prints a bound. */
static int
check_urange(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, const char *kind, uint64_t n, uint64_t fieldmax,
    void (*fmt)(uint64_t, char *, size_t))
{
	char q[CONF_QUOTE_LEN], lo[32], hi[32];
	uint64_t max = k->max == 0 ? fieldmax : k->max;

	if (n >= k->min && n <= max)
		return 0;
	quote_node(v, q, sizeof(q));
	fmt(k->min, lo, sizeof(lo));
	fmt(max, hi, sizeof(hi));
	return key_error(doc, v, k->name, "%s '%s' is out of range %s..%s",
	    kind, q, lo, hi);
}

static int
apply_int(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	char q[CONF_QUOTE_LEN];
	const char *s;
	int64_t n, lo = k->imin, hi = k->imax;
	int rc;

	if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
		return CAIRN_ERR_INVAL;
	if (lo == 0 && hi == 0) {
		lo = INT_MIN;
		hi = INT_MAX;
	}
	rc = parse_int64(s, &n);
	quote_node(v, q, sizeof(q));
	if (rc == CAIRN_ERR_INVAL)
		return key_error(doc, v, k->name,
		    "expected an integer, got '%s'", q);
	if (rc != 0 || n < lo || n > hi)
		return key_error(doc, v, k->name,
		    "value '%s' is out of range %lld..%lld", q, (long long)lo,
		    (long long)hi);
	*(int *)field = (int)n;
	return 0;
}

static int
apply_unsigned(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	char q[CONF_QUOTE_LEN];
	const char *s, *kind, *expect;
	void (*fmt)(uint64_t, char *, size_t);
	uint64_t n, fieldmax;
	int rc;

	if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
		return CAIRN_ERR_INVAL;
	switch (k->type) {
	case CONF_DURATION:
		rc = conf_parse_duration(s, &n);
		kind = "duration";
		expect = "expected a duration like 500ms or 5s";
		fmt = fmt_duration;
		fieldmax = UINT64_MAX;
		break;
	case CONF_SIZE:
		rc = conf_parse_size(s, &n);
		kind = "size";
		expect = "expected a size like 512, 64KiB or 16MiB";
		fmt = fmt_size;
		fieldmax = UINT64_MAX;
		break;
	default:
		rc = parse_uint64(s, &n);
		kind = "value";
		expect = "expected a non-negative integer";
		fmt = fmt_uint;
		fieldmax = UINT_MAX;
		break;
	}
	quote_node(v, q, sizeof(q));
	if (rc == CAIRN_ERR_INVAL)
		return key_error(doc, v, k->name, "%s, got '%s'", expect, q);
	if (rc == CAIRN_ERR_TOO_BIG)
		return key_error(doc, v, k->name, "%s '%s' is too large",
		    kind, q);
	if (check_urange(doc, k, v, kind, n, fieldmax, fmt) != 0)
		return CAIRN_ERR_INVAL;
	if (k->type == CONF_UINT)
		*(unsigned int *)field = (unsigned int)n;
	else
		*(uint64_t *)field = n;
	return 0;
}

static int
apply_string(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	const char *s;
	char *copy, **fp = field;

	if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
		return CAIRN_ERR_INVAL;
	if (*s == '\0' && (k->flags & CONF_NONEMPTY))
		return key_error(doc, v, k->name, "must not be empty");
	if ((copy = strdup(s)) == NULL) {
		doc->nomem = 1;
		return CAIRN_ERR_NOMEM;
	}
	free(*fp);
	*fp = copy;
	return 0;
}

static void
strlist_free(struct conf_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
apply_strlist(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	struct conf_strlist nl = { NULL, 0 }, *l = field;
	const yaml_node_item_t *it;
	const yaml_node_t *item;
	const char *s;
	size_t i, n;
	int bad = 0;

	if (v->type == YAML_MAPPING_NODE)
		return key_error(doc, v, k->name, "expected %s, got %s",
		    type_noun(k->type), conf_node_kind(v));
	if (v->type == YAML_SCALAR_NODE) {
		if ((s = want_scalar(doc, k, v, "")) == NULL)
			return CAIRN_ERR_INVAL;
		/* "key:" with nothing after it is the empty list. */
		n = is_empty_plain(v) ? 0 : 1;
	} else
		n = (size_t)(v->data.sequence.items.top -
		    v->data.sequence.items.start);
	if (n > 0 && (nl.v = calloc(n, sizeof(*nl.v))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (v->type == YAML_SCALAR_NODE)
			item = v;
		else {
			it = v->data.sequence.items.start + i;
			item = yaml_document_get_node(&doc->ydoc, *it);
		}
		if (item->type != YAML_SCALAR_NODE) {
			key_error(doc, item, k->name,
			    "item %zu: expected a string, got %s", i + 1,
			    conf_node_kind(item));
			bad = 1;
			continue;
		}
		if ((s = conf_node_scalar(item)) == NULL) {
			key_error(doc, item, k->name,
			    "item %zu: must not contain a NUL byte", i + 1);
			bad = 1;
			continue;
		}
		if ((nl.v[nl.n++] = strdup(s)) == NULL)
			goto nomem;
	}
	if (!bad && n == 0 && (k->flags & CONF_NONEMPTY))
		bad = key_error(doc, v, k->name, "must not be empty");
	if (bad) {
		strlist_free(&nl);
		return CAIRN_ERR_INVAL;
	}
	strlist_free(l);
	*l = nl;
	return 0;
nomem:
	strlist_free(&nl);
	doc->nomem = 1;
	return CAIRN_ERR_NOMEM;
}

static int
apply_hostport(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	struct conf_hostport *hp = field;
	char q[CONF_QUOTE_LEN], *host = NULL;
	const char *s;
	int64_t port;
	uint64_t lo = k->min, hi = k->max;
	int rc;

	if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
		return CAIRN_ERR_INVAL;
	if (lo == 0 && hi == 0)
		lo = 1;
	if (hi == 0 || hi > UINT16_MAX)
		hi = UINT16_MAX;
	quote_node(v, q, sizeof(q));
	rc = hostport_split(s, &host, &port);
	if (rc == CAIRN_ERR_NOMEM) {
		doc->nomem = 1;
		return rc;
	}
	if (rc != 0)
		return key_error(doc, v, k->name,
		    "expected host:port, [IPv6]:port or host, got '%s'", q);
	if (port == -1) {
		if (k->defport == 0) {
			free(host);
			return key_error(doc, v, k->name,
			    "missing port in '%s'", q);
		}
		port = k->defport;
	} else if ((uint64_t)port < lo || (uint64_t)port > hi) {
		free(host);
		return key_error(doc, v, k->name,
		    "port in '%s' is out of range %llu..%llu", q,
		    (unsigned long long)lo, (unsigned long long)hi);
	}
	free(hp->host);
	hp->host = host;
	hp->port = (uint16_t)port;
	return 0;
}

static int
apply_enum(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	char q[CONF_QUOTE_LEN], *list = NULL, *nlist;
	const struct conf_enum *e;
	const char *s;

	if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
		return CAIRN_ERR_INVAL;
	for (e = k->names; e != NULL && e->name != NULL; e++) {
		if (strcmp(s, e->name) == 0) {
			*(int *)field = e->value;
			return 0;
		}
	}
	for (e = k->names; e != NULL && e->name != NULL; e++) {
		if (asprintf(&nlist, "%s%s%s", list == NULL ? "" : list,
		    list == NULL ? "" : ", ", e->name) == -1) {
			free(list);
			doc->nomem = 1;
			return CAIRN_ERR_NOMEM;
		}
		free(list);
		list = nlist;
	}
	quote_node(v, q, sizeof(q));
	key_error(doc, v, k->name, "expected one of %s, got '%s'",
	    list == NULL ? "(none)" : list, q);
	free(list);
	return CAIRN_ERR_INVAL;
}

static int
apply_custom(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *field)
{
	size_t before = doc->ntotal;
	int rc;

	rc = k->fn(doc, v, field, k->arg);
	if (rc == 0 || doc->ntotal != before)
		return rc;
	if (rc == CAIRN_ERR_NOMEM) {
		doc->nomem = 1;
		return rc;
	}
	return key_error(doc, v, k->name, "%s",
	    rc == CAIRN_ERR_INVAL ? "invalid value" : cairn_strerror(rc));
}

static int
apply_one(struct conf_doc *doc, const struct conf_key *k,
    const yaml_node_t *v, void *base)
{
	void *field = field_of(base, k);
	const char *s;
	char q[CONF_QUOTE_LEN];

	switch (k->type) {
	case CONF_BOOL:
		if ((s = want_scalar(doc, k, v, type_noun(k->type))) == NULL)
			return CAIRN_ERR_INVAL;
		if (conf_parse_bool(s, field) != 0) {
			quote_node(v, q, sizeof(q));
			return key_error(doc, v, k->name, "expected true/false, "
			    "yes/no or on/off, got '%s'", q);
		}
		return 0;
	case CONF_INT:
		return apply_int(doc, k, v, field);
	case CONF_UINT:
	case CONF_DURATION:
	case CONF_SIZE:
		return apply_unsigned(doc, k, v, field);
	case CONF_STRING:
		return apply_string(doc, k, v, field);
	case CONF_STRLIST:
		return apply_strlist(doc, k, v, field);
	case CONF_HOSTPORT:
		return apply_hostport(doc, k, v, field);
	case CONF_ENUM:
		return apply_enum(doc, k, v, field);
	case CONF_MAP:
		if (v->type != YAML_MAPPING_NODE && !is_empty_plain(v))
			return key_error(doc, v, k->name, "expected %s, got %s",
			    type_noun(k->type), conf_node_kind(v));
		return conf_apply(doc, v, k->sub, field);
	case CONF_CUSTOM:
		return apply_custom(doc, k, v, field);
	case CONF_SKIP:
		return 0;
	}
	return key_error(doc, v, k->name, "bad key table (type %d)",
	    (int)k->type);
}

/*
 * The key text of pair i of mapping m, or NULL after adding an error if
 * the key is not a string or repeats an earlier key.
 */
static const char *
pair_key(struct conf_doc *doc, const yaml_node_t *m, size_t i,
    const yaml_node_t **keynode)
{
	const yaml_node_pair_t *pairs = m->data.mapping.pairs.start, *pp;
	const yaml_node_t *kn, *prev;
	const char *key, *pk;
	char q[CONF_QUOTE_LEN];
	size_t j;

	kn = yaml_document_get_node(&doc->ydoc, pairs[i].key);
	*keynode = kn;
	if (kn == NULL || kn->type != YAML_SCALAR_NODE) {
		conf_error(doc, kn, "mapping keys must be strings, got %s",
		    conf_node_kind(kn));
		return NULL;
	}
	quote_node(kn, q, sizeof(q));
	if ((key = conf_node_scalar(kn)) == NULL) {
		key_error(doc, kn, q, "must not contain a NUL byte");
		return NULL;
	}
	for (j = 0; j < i; j++) {
		pp = pairs + j;
		prev = yaml_document_get_node(&doc->ydoc, pp->key);
		pk = conf_node_scalar(prev);
		if (pk != NULL && strcmp(pk, key) == 0) {
			key_error(doc, kn, q, "duplicate key, first at %zu:%zu",
			    prev->start_mark.line + 1,
			    prev->start_mark.column + 1);
			return NULL;
		}
	}
	return key;
}

static size_t
map_len(const yaml_node_t *m)
{
	return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

int
conf_apply(struct conf_doc *doc, const yaml_node_t *m,
    const struct conf_key *table, void *base)
{
	const struct conf_key *k;
	const yaml_node_t *kn, *vn;
	const char *key;
	char q[CONF_QUOTE_LEN];
	size_t before = doc->ntotal, i, n;

	if (m != NULL && m->type != YAML_MAPPING_NODE && !is_empty_plain(m)) {
		conf_error(doc, m, "expected a mapping, got %s",
		    conf_node_kind(m));
		return doc->nomem ? CAIRN_ERR_NOMEM : CAIRN_ERR_INVAL;
	}
	if (doc->depth >= CONF_MAX_DEPTH) {
		conf_error(doc, m, "nested more than %d deep", CONF_MAX_DEPTH);
		return doc->nomem ? CAIRN_ERR_NOMEM : CAIRN_ERR_INVAL;
	}
	doc->depth++;
	n = m == NULL || is_empty_plain(m) ? 0 : map_len(m);
	for (i = 0; i < n && !doc->nomem; i++) {
		if ((key = pair_key(doc, m, i, &kn)) == NULL)
			continue;
		vn = yaml_document_get_node(&doc->ydoc,
		    m->data.mapping.pairs.start[i].value);
		for (k = table; k->name != NULL; k++)
			if (strcmp(k->name, key) == 0)
				break;
		if (k->name == NULL) {
			quote_node(kn, q, sizeof(q));
			key_error(doc, kn, q, "unknown key");
			continue;
		}
		apply_one(doc, k, vn, base);
	}
	for (k = table; k->name != NULL && !doc->nomem; k++)
		if ((k->flags & CONF_REQUIRED) &&
		    conf_map_get(doc, m, k->name) == NULL)
			key_error(doc, m, k->name, "required key is missing");
	doc->depth--;
	if (doc->nomem)
		return CAIRN_ERR_NOMEM;
	return doc->ntotal != before ? CAIRN_ERR_INVAL : 0;
}

void
conf_free_fields(const struct conf_key *table, void *base)
{
	const struct conf_key *k;
	void *field;

	for (k = table; k->name != NULL; k++) {
		field = field_of(base, k);
		switch (k->type) {
		case CONF_STRING:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case CONF_STRLIST:
			strlist_free(field);
			break;
		case CONF_HOSTPORT:
			free(((struct conf_hostport *)field)->host);
			((struct conf_hostport *)field)->host = NULL;
			break;
		case CONF_MAP:
			conf_free_fields(k->sub, field);
			break;
		case CONF_CUSTOM:
			if (k->free != NULL)
				k->free(field, k->arg);
			break;
		default:
			break;
		}
	}
}

const yaml_node_t *
conf_map_get(struct conf_doc *doc, const yaml_node_t *m, const char *key)
{
	const yaml_node_pair_t *p;
	const char *s;

	if (m == NULL || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	    p++) {
		s = conf_node_scalar(yaml_document_get_node(&doc->ydoc,
		    p->key));
		if (s != NULL && strcmp(s, key) == 0)
			return yaml_document_get_node(&doc->ydoc, p->value);
	}
	return NULL;
}

int
conf_map_foreach(struct conf_doc *doc, const yaml_node_t *m,
    conf_foreach_cb cb, void *arg)
{
	const yaml_node_t *kn, *vn;
	const char *key;
	size_t before = doc->ntotal, i, n;
	int rc, inval = 0;

	if (m != NULL && m->type != YAML_MAPPING_NODE && !is_empty_plain(m))
		return conf_error(doc, m, "expected a mapping, got %s",
		    conf_node_kind(m));
	n = m == NULL || is_empty_plain(m) ? 0 : map_len(m);
	for (i = 0; i < n && !doc->nomem; i++) {
		if ((key = pair_key(doc, m, i, &kn)) == NULL)
			continue;
		vn = yaml_document_get_node(&doc->ydoc,
		    m->data.mapping.pairs.start[i].value);
		rc = cb(doc, key, kn, vn, arg);
		if (rc == CAIRN_ERR_INVAL)
			inval = 1;
		else if (rc < 0)
			return rc;
	}
	if (doc->nomem)
		return CAIRN_ERR_NOMEM;
	return inval || doc->ntotal != before ? CAIRN_ERR_INVAL : 0;
}
