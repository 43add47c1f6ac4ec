/*
 * Private to common/conf*.c: the document's body and the helpers that
 * conf.c (document, errors), conf_apply.c (table walker) and
 * conf_value.c (value parsers) share.  Not a public header.
 */
#ifndef CAIRN_COMMON_CONF_INT_H
#define CAIRN_COMMON_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

/* Longest user value quoted back in a message, in bytes. */
#define CONF_QUOTE_MAX	64
/* Room for a quoted value: each byte may become \xNN, plus "...". */
#define CONF_QUOTE_LEN	(CONF_QUOTE_MAX * 4 + 8)
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


/* conf.c */

/* Adds "FILE:LINE:COL: key 'key': <message>"; as conf_error(). */
int		 conf_key_error(struct conf_doc *, const yaml_node_t *,
		    const char *key, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* A scalar's text for a message (escaped, cut), in out[CONF_QUOTE_LEN]. */
void		 conf_quote_node(const yaml_node_t *, char *out, size_t outlen);
/* "key:" with nothing after it. */
int		 conf_is_empty_plain(const yaml_node_t *);
/* Pairs in a mapping node. */
size_t		 conf_map_len(const yaml_node_t *);
/*
 * The key of pair i of mapping m, or NULL after adding an error if it
 * is not a string or repeats an earlier key.  *keynode is its node.
 */
const char	*conf_pair_key(struct conf_doc *, const yaml_node_t *m,
		    size_t i, const yaml_node_t **keynode);

/* conf_value.c: as the conf_parse_*() of conf.h. */

int		 conf_parse_int64(const char *, int64_t *);
int		 conf_parse_uint64(const char *, uint64_t *);
/*
 * Splits host:port forms into a malloc'd host (*host, the caller's)
 * and *port: -1 if absent, else the digits, saturated at INT64_MAX.
 * 0, CAIRN_ERR_INVAL or CAIRN_ERR_NOMEM.
 */
int		 conf_hostport_split(const char *, char **host, int64_t *port);
/* Bounds for range messages, in the largest unit that is exact. */
void		 conf_fmt_duration(uint64_t ms, char *, size_t);
void		 conf_fmt_size(uint64_t bytes, char *, size_t);
void		 conf_fmt_uint(uint64_t, char *, size_t);

#endif
