/*
 * Conf: typed YAML configuration on libyaml's document API, walked with
 * netplan-style key tables (src/parse.c): each entry names a key, its
 * type, the offsetof() of the field it fills, and per-type details
 * (range, enum names, sub-table, handler).  One conf_apply() fills any
 * struct; callers with user-chosen keys (topologies: {NAME: ...}) or with
 * a table picked by another key's value walk the mapping themselves with
 * conf_map_get() and conf_map_foreach().
 *
 * Errors are collected, not returned one at a time: every problem found
 * is kept in the conf_doc as one line
 *
 *	FILE:LINE:COL: key 'x': what is wrong
 *
 * (1-based, pointing at the offending node) and the walk goes on, so a
 * user sees all of them at once.  A caller checks conf_apply()'s result
 * or conf_doc_nerrors() at the end and rejects the whole file if there
 * are any (all-or-nothing: parse into a fresh struct, then swap).
 *
 * Value syntax, decided once here for every daemon:
 *
 *	bool      true/false, yes/no, on/off; any letter case.
 *	int       decimal, optional sign; uint: decimal digits only.
 *	duration  one or more <digits><unit> terms with unit ms, s, m or h,
 *	          summed: 500ms, 5s, 2m, 1h, 1m30s.  Stored as uint64_t
 *	          milliseconds.  A bare number is an error (is 5000 seconds
 *	          or milliseconds?) except 0.
 *	size      <digits> bytes, or <digits><unit> with unit B, KiB, MiB,
 *	          GiB or TiB (powers of 1024): 512, 64KiB, 16MiB.  Stored as
 *	          uint64_t bytes.  k, K, M, KB, MB... are errors on purpose:
 *	          tools disagree on whether they mean 1000 or 1024.
 *	string    any scalar; a NUL byte ("\0") is an error.
 *	strlist   a sequence of scalars, or one scalar (a list of one); an
 *	          empty plain value (key with nothing after it) is [].
 *	hostport  host:port, [IPv6]:port, or host / [IPv6] / bare IPv6
 *	          alone, which takes the key's default port (an error if it
 *	          has none).  host is an IPv4 or IPv6 literal or a name of
 *	          letters, digits, '-', '_' and '.'.
 *	enum      one of the key's names, exact case.
 *	map       a mapping; an empty plain value (key with nothing after
 *	          it) is an empty mapping.
 * Numbers never wrap: a value past uint64_t (99999999999999999999h) or
 * past the key's range is an error.
 *
 * Ownership: a struct filled by conf_apply() owns its strings, lists and
 * host names.  Before the call those fields must be NULL/empty or hold
 * heap memory (a strdup'd default): a new value frees the old one.
 * conf_free_fields() frees all of them, also after a failed apply.
 *
 * Pure apart from reading the file: no logging, no exit.  Aliases are
 * resolved by libyaml; merge keys (<<) are not supported.
 */
#ifndef CAIRN_COMMON_CONF_H
#define CAIRN_COMMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

/* Longest message a failed load returns in struct conf_err. */
#define CONF_ERR_LEN		512
/* Messages kept per document; past it one "too many errors" line. */
#define CONF_MAX_ERRORS		100
/* Largest configuration file conf_doc_load_file() reads. */
#define CONF_MAX_FILE		(4 * 1024 * 1024)

/* A loaded YAML document and the errors found in it; opaque. */
struct conf_doc;

/* Why a load failed. */
struct conf_err {
	int	code;			/* CAIRN_ERR_* */
	char	msg[CONF_ERR_LEN];	/* "FILE:LINE:COL: problem" */
};

enum conf_type {
	CONF_BOOL,	/* bool */
	CONF_INT,	/* int, range imin..imax */
	CONF_UINT,	/* unsigned int, range min..max */
	CONF_DURATION,	/* uint64_t milliseconds, range min..max */
	CONF_SIZE,	/* uint64_t bytes, range min..max */
	CONF_STRING,	/* char *, owned */
	CONF_STRLIST,	/* struct conf_strlist, owned */
	CONF_HOSTPORT,	/* struct conf_hostport, owned; port range min..max */
	CONF_ENUM,	/* int, from names */
	CONF_MAP,	/* an embedded struct filled with the sub table */
	CONF_CUSTOM,	/* fn(doc, value, field, arg); free(field, arg) */
	CONF_SKIP,	/* accepted, not touched: the caller reads it */
};

/* conf_key.flags */
#define CONF_REQUIRED	0x1	/* a missing key is an error */
#define CONF_NONEMPTY	0x2	/* strings and lists: empty is an error */

/* One name of a CONF_ENUM; a table ends with { NULL, 0 }. */
struct conf_enum {
	const char	*name;
	int		 value;
};

/* A CONF_STRLIST field: v[0..n), each owned. */
struct conf_strlist {
	char	**v;
	size_t	  n;
};

/* A CONF_HOSTPORT field.  host has no brackets and is owned. */
struct conf_hostport {
	char		*host;
	uint16_t	 port;
};

/*
 * A CONF_CUSTOM handler.  value is the key's value node (any type),
 * field is base + offset.  Returns 0, or CAIRN_ERR_INVAL after adding
 * an error with conf_error() (conf_apply adds "invalid value" if it did
 * not), or CAIRN_ERR_NOMEM.
 */
typedef int	(*conf_handler_cb)(struct conf_doc *, const yaml_node_t *value,
		    void *field, void *arg);
/* Frees what a CONF_CUSTOM handler stored in field. */
typedef void	(*conf_free_cb)(void *field, void *arg);
/*
 * Called by conf_map_foreach() for each key.  Returns 0, CAIRN_ERR_INVAL
 * (an error was added; the walk goes on) or another negative code (the
 * walk stops and returns it).
 */
typedef int	(*conf_foreach_cb)(struct conf_doc *, const char *key,
		    const yaml_node_t *keynode, const yaml_node_t *value,
		    void *arg);

/*
 * One entry of a key table; a table ends with an entry whose name is
 * NULL.  Fields a type does not use stay zero.  Ranges: max 0 means
 * the field's largest value (min always applies); for CONF_INT, imin
 * and imax both 0 mean INT_MIN..INT_MAX; for CONF_HOSTPORT, min and max
 * both 0 mean ports 1..65535.  A table must not contain itself.
 */
struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 offset;	/* offsetof(struct, field) */
	unsigned int		 flags;		/* CONF_REQUIRED... */
	int64_t			 imin, imax;	/* CONF_INT */
	uint64_t		 min, max;	/* UINT, DURATION, SIZE, port */
	uint16_t		 defport;	/* CONF_HOSTPORT; 0: required */
	const struct conf_enum	*names;		/* CONF_ENUM */
	const struct conf_key	*sub;		/* CONF_MAP */
	conf_handler_cb		 fn;		/* CONF_CUSTOM */
	conf_free_cb		 free;		/* CONF_CUSTOM, optional */
	void			*arg;		/* CONF_CUSTOM */
};

/*
 * Reads and parses the file at path (a regular file of at most
 * CONF_MAX_FILE bytes, read with file_read_all(): a FIFO or a device
 * never blocks); error messages name it as given.  Returns a document to
 * free with conf_doc_free(), or NULL with *err set: CAIRN_ERR_IO (cannot
 * read; errno's text in msg), CAIRN_ERR_TOO_BIG, CAIRN_ERR_INVAL (not a
 * regular file: "FILE: not a regular file (a FIFO)"; YAML syntax,
 * invalid UTF-8, more than one document: "FILE:LINE:COL: libyaml's
 * problem (its context)"), CAIRN_ERR_NOMEM.  err may be NULL.
 */
struct conf_doc	*conf_doc_load_file(const char *path, struct conf_err *err);
/*
 * As conf_doc_load_file(), from text[0..len) (borrowed; need not end in
 * NUL), with name in messages (copied).
 */
struct conf_doc	*conf_doc_load_string(const char *name, const char *text,
		    size_t len, struct conf_err *err);
/* Frees the document, its nodes and errors.  NULL is fine. */
void		 conf_doc_free(struct conf_doc *);

/* The name given at load.  Borrowed from the document. */
const char	*conf_doc_name(const struct conf_doc *);
/*
 * The root node, or NULL for an empty document (only comments, or
 * nothing).  Nodes are borrowed from the document and live as long as
 * it does.
 */
const yaml_node_t *conf_doc_root(struct conf_doc *);

/* Number of error lines kept (at most CONF_MAX_ERRORS). */
size_t		 conf_doc_nerrors(const struct conf_doc *);
/* Error line i (0-based, < conf_doc_nerrors()); borrowed.  NULL past. */
const char	*conf_doc_error(const struct conf_doc *, size_t i);
/*
 * All error lines joined by '\n' (no trailing newline); "" if none,
 * NULL if out of memory.  Borrowed; valid until the next error is added
 * or the document is freed.
 */
const char	*conf_doc_errors(struct conf_doc *);

/*
 * Adds "FILE:LINE:COL: <message>" at node's start (1:1 if node is NULL).
 * Returns CAIRN_ERR_INVAL, so a handler can return it, or
 * CAIRN_ERR_NOMEM if the message could not be kept.
 */
int		 conf_error(struct conf_doc *, const yaml_node_t *node,
		    const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Fills the struct at base from mapping with table.  Each key of the
 * mapping must be in the table (else "unknown key"), appear once, and
 * hold a value of the entry's type; each CONF_REQUIRED key must be
 * there.  CONF_SKIP keys are only checked for presence and uniqueness.
 * A NULL mapping (empty document) is an empty mapping; any other
 * non-mapping node is an error.  All errors are added to doc.
 *
 * Returns 0, CAIRN_ERR_INVAL if this call added an error, or
 * CAIRN_ERR_NOMEM.  On failure fields may be partly set; free them with
 * conf_free_fields() either way.
 */
int		 conf_apply(struct conf_doc *, const yaml_node_t *mapping,
		    const struct conf_key *table, void *base);
/*
 * Frees every string, list and host name the table's fields own at base
 * (recursing into CONF_MAP, calling CONF_CUSTOM free hooks) and leaves
 * them NULL/empty.  Safe on a zeroed or partly filled struct, and twice.
 */
void		 conf_free_fields(const struct conf_key *table, void *base);

/*
 * The value for key in mapping, or NULL if mapping is NULL, not a
 * mapping, or has no such key.  The first one if repeated (conf_apply
 * and conf_map_foreach report repeats).  Borrowed.
 */
const yaml_node_t *conf_map_get(struct conf_doc *, const yaml_node_t *mapping,
		    const char *key);
/*
 * Calls cb for each key of mapping in document order.  Keys that are
 * not strings and repeated keys are errors and are not passed on; a
 * non-mapping node is an error, a NULL one is empty.  Returns 0,
 * CAIRN_ERR_INVAL if any error was added here or by cb, or the first
 * other negative code from cb, which stops the walk.
 */
int		 conf_map_foreach(struct conf_doc *, const yaml_node_t *mapping,
		    conf_foreach_cb cb, void *arg);
/*
 * The items of a sequence node, for callers that walk a list of
 * mappings (cairn-broker's listeners): conf_seq_len() is 0 for any
 * other node; conf_seq_item() is item i (0-based), or NULL past the end
 * or for a non-sequence.  Borrowed.
 */
size_t		 conf_seq_len(const yaml_node_t *);
const yaml_node_t *conf_seq_item(struct conf_doc *, const yaml_node_t *seq,
		    size_t i);
/*
 * The text of a scalar node (NUL-terminated, borrowed), or NULL if node
 * is NULL, not a scalar, or holds a NUL byte.
 */
const char	*conf_node_scalar(const yaml_node_t *);
/* "a scalar", "a sequence", "a mapping" or "nothing" (NULL): for messages. */
const char	*conf_node_kind(const yaml_node_t *);
/*
 * Line and column (1-based) of node's start; 1:1 for NULL.
 */
void		 conf_node_pos(const yaml_node_t *, size_t *line, size_t *col);

/*
 * The value parsers behind the table types, for command-line flags.
 * Each returns 0, CAIRN_ERR_INVAL (not that syntax) or
 * CAIRN_ERR_TOO_BIG (past uint64_t); *out is set only on success.
 */
int		 conf_parse_bool(const char *, bool *out);
int		 conf_parse_duration(const char *, uint64_t *ms);
int		 conf_parse_size(const char *, uint64_t *bytes);
/*
 * host:port, [v6]:port, host, [v6] or bare v6 (see above); defport 0
 * means a port is required.  The port must be in 1..65535 (0 is
 * CAIRN_ERR_INVAL).  On success out->host is malloc'd and the caller
 * owns it; CAIRN_ERR_NOMEM possible.
 */
int		 conf_parse_hostport(const char *, uint16_t defport,
		    struct conf_hostport *out);

#endif
