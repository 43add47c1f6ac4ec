/*
 * Conf: the document (loading, collected errors, node helpers) and
 * mapping walks shared by conf_apply() and conf_map_foreach().  The
 * table walker is in conf_apply.c, the value parsers in conf_value.c;
 * see conf.h for the syntax and the contracts.
 *
 * Every error goes through doc_verror(), which prefixes the position and
 * the key and keeps the line; nothing here stops at the first error
 * except allocation failure, which is sticky in doc->nomem.
 */
#include "common/conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/conf_int.h"
#include "common/err.h"
#include "common/file.h"

static int	doc_verror(struct conf_doc *, const yaml_node_t *,
		    const char *, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	load_err(struct conf_err *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* "key:" with nothing after it: an empty plain scalar. */
int
conf_is_empty_plain(const yaml_node_t *node)
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
	struct conf_doc *doc;
	char *buf, msg[CONF_ERR_LEN];
	size_t len;
	int rc;

	/* A regular file only, and capped (common/file.h). */
	if ((rc = file_read_all(path, CONF_MAX_FILE, 0, &buf, &len, msg,
	    sizeof(msg))) != 0) {
		load_err(err, rc, "%s", msg);
		return NULL;
	}
	doc = conf_doc_load_string(path, buf, len, err);
	free(buf);
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
	return conf_is_empty_plain(root) ? NULL : root;
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

int
conf_key_error(struct conf_doc *doc, const yaml_node_t *node, const char *key,
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
void
conf_quote_node(const yaml_node_t *node, char *out, size_t outlen)
{
	quote((const char *)node->data.scalar.value,
	    node->data.scalar.length, out, outlen);
}

/*
 * The key text of pair i of mapping m, or NULL after adding an error if
 * the key is not a string or repeats an earlier key.
 */
const char *
conf_pair_key(struct conf_doc *doc, const yaml_node_t *m, size_t i,
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
	conf_quote_node(kn, q, sizeof(q));
	if ((key = conf_node_scalar(kn)) == NULL) {
		conf_key_error(doc, kn, q, "must not contain a NUL byte");
		return NULL;
	}
	for (j = 0; j < i; j++) {
		pp = pairs + j;
		prev = yaml_document_get_node(&doc->ydoc, pp->key);
		pk = conf_node_scalar(prev);
		if (pk != NULL && strcmp(pk, key) == 0) {
			conf_key_error(doc, kn, q,
			    "duplicate key, first at %zu:%zu",
			    prev->start_mark.line + 1,
			    prev->start_mark.column + 1);
			return NULL;
		}
	}
	return key;
}

size_t
conf_map_len(const yaml_node_t *m)
{
	return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
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

	if (m != NULL && m->type != YAML_MAPPING_NODE && !conf_is_empty_plain(m))
		return conf_error(doc, m, "expected a mapping, got %s",
		    conf_node_kind(m));
	n = m == NULL || conf_is_empty_plain(m) ? 0 : conf_map_len(m);
	for (i = 0; i < n && !doc->nomem; i++) {
		if ((key = conf_pair_key(doc, m, i, &kn)) == NULL)
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

size_t
conf_seq_len(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
}

const yaml_node_t *
conf_seq_item(struct conf_doc *doc, const yaml_node_t *n, size_t i)
{
	if (i >= conf_seq_len(n))
		return NULL;
	return yaml_document_get_node(&doc->ydoc,
	    n->data.sequence.items.start[i]);
}
