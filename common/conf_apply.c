/*
 * Conf: the table walker.  conf_apply() checks each key of a mapping
 * against a netplan-style table and fills the field at its offset;
 * conf_free_fields() frees what those fields own.  See conf.h.
 */
#include "common/conf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/conf_int.h"
#include "common/err.h"

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
		conf_key_error(doc, v, k->name, "expected %s, got %s", what,
		    conf_node_kind(v));
		return NULL;
	}
	if ((s = conf_node_scalar(v)) == NULL)
		conf_key_error(doc, v, k->name, "must not contain a NUL byte");
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
	conf_quote_node(v, q, sizeof(q));
	fmt(k->min, lo, sizeof(lo));
	fmt(max, hi, sizeof(hi));
	return conf_key_error(doc, v, k->name, "%s '%s' is out of range %s..%s",
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
	rc = conf_parse_int64(s, &n);
	conf_quote_node(v, q, sizeof(q));
	if (rc == CAIRN_ERR_INVAL)
		return conf_key_error(doc, v, k->name,
		    "expected an integer, got '%s'", q);
	if (rc != 0 || n < lo || n > hi)
		return conf_key_error(doc, v, k->name,
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
		fmt = conf_fmt_duration;
		fieldmax = UINT64_MAX;
		break;
	case CONF_SIZE:
		rc = conf_parse_size(s, &n);
		kind = "size";
		expect = "expected a size like 512, 64KiB or 16MiB";
		fmt = conf_fmt_size;
		fieldmax = UINT64_MAX;
		break;
	default:
		rc = conf_parse_uint64(s, &n);
		kind = "value";
		expect = "expected a non-negative integer";
		fmt = conf_fmt_uint;
		fieldmax = UINT_MAX;
		break;
	}
	conf_quote_node(v, q, sizeof(q));
	if (rc == CAIRN_ERR_INVAL)
		return conf_key_error(doc, v, k->name, "%s, got '%s'", expect, q);
	if (rc == CAIRN_ERR_TOO_BIG)
		return conf_key_error(doc, v, k->name, "%s '%s' is too large",
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
		return conf_key_error(doc, v, k->name, "must not be empty");
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
		return conf_key_error(doc, v, k->name, "expected %s, got %s",
		    type_noun(k->type), conf_node_kind(v));
	if (v->type == YAML_SCALAR_NODE) {
		if ((s = want_scalar(doc, k, v, "")) == NULL)
			return CAIRN_ERR_INVAL;
		/* "key:" with nothing after it is the empty list. */
		n = conf_is_empty_plain(v) ? 0 : 1;
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
			conf_key_error(doc, item, k->name,
			    "item %zu: expected a string, got %s", i + 1,
			    conf_node_kind(item));
			bad = 1;
			continue;
		}
		if ((s = conf_node_scalar(item)) == NULL) {
			conf_key_error(doc, item, k->name,
			    "item %zu: must not contain a NUL byte", i + 1);
			bad = 1;
			continue;
		}
		if ((nl.v[nl.n++] = strdup(s)) == NULL)
			goto nomem;
	}
	if (!bad && n == 0 && (k->flags & CONF_NONEMPTY))
		bad = conf_key_error(doc, v, k->name, "must not be empty");
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
	conf_quote_node(v, q, sizeof(q));
	rc = conf_hostport_split(s, &host, &port);
	if (rc == CAIRN_ERR_NOMEM) {
		doc->nomem = 1;
		return rc;
	}
	if (rc != 0)
		return conf_key_error(doc, v, k->name,
		    "expected host:port, [IPv6]:port or host, got '%s'", q);
	if (port == -1) {
		if (k->defport == 0) {
			free(host);
			return conf_key_error(doc, v, k->name,
			    "missing port in '%s'", q);
		}
		port = k->defport;
	} else if ((uint64_t)port < lo || (uint64_t)port > hi) {
		free(host);
		return conf_key_error(doc, v, k->name,
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
	conf_quote_node(v, q, sizeof(q));
	conf_key_error(doc, v, k->name, "expected one of %s, got '%s'",
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
	return conf_key_error(doc, v, k->name, "%s",
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
			conf_quote_node(v, q, sizeof(q));
			return conf_key_error(doc, v, k->name, "expected true/false, "
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
		if (v->type != YAML_MAPPING_NODE && !conf_is_empty_plain(v))
			return conf_key_error(doc, v, k->name, "expected %s, got %s",
			    type_noun(k->type), conf_node_kind(v));
		return conf_apply(doc, v, k->sub, field);
	case CONF_CUSTOM:
		return apply_custom(doc, k, v, field);
	case CONF_SKIP:
		return 0;
	}
	return conf_key_error(doc, v, k->name, "bad key table (type %d)",
	    (int)k->type);
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

	if (m != NULL && m->type != YAML_MAPPING_NODE && !conf_is_empty_plain(m)) {
		conf_error(doc, m, "expected a mapping, got %s",
		    conf_node_kind(m));
		return doc->nomem ? CAIRN_ERR_NOMEM : CAIRN_ERR_INVAL;
	}
	if (doc->depth >= CONF_MAX_DEPTH) {
		conf_error(doc, m, "nested more than %d deep", CONF_MAX_DEPTH);
		return doc->nomem ? CAIRN_ERR_NOMEM : CAIRN_ERR_INVAL;
	}
	doc->depth++;
	n = m == NULL || conf_is_empty_plain(m) ? 0 : conf_map_len(m);
	for (i = 0; i < n && !doc->nomem; i++) {
		if ((key = conf_pair_key(doc, m, i, &kn)) == NULL)
			continue;
		vn = yaml_document_get_node(&doc->ydoc,
		    m->data.mapping.pairs.start[i].value);
		for (k = table; k->name != NULL; k++)
			if (strcmp(k->name, key) == 0)
				break;
		if (k->name == NULL) {
			conf_quote_node(kn, q, sizeof(q));
			conf_key_error(doc, kn, q, "unknown key");
			continue;
		}
		apply_one(doc, k, vn, base);
	}
	for (k = table; k->name != NULL && !doc->nomem; k++)
		if ((k->flags & CONF_REQUIRED) &&
		    conf_map_get(doc, m, k->name) == NULL)
			conf_key_error(doc, m, k->name, "required key is missing");
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
