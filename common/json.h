/*
 * Just enough JSON for events and the control socket: writing strings
 * with escapes into a bytes_w, and reading flat values back for the CLI.
 * Not a general parser.
 */
#ifndef CAIRN_COMMON_JSON_H
#define CAIRN_COMMON_JSON_H

#include <stddef.h>

#include "common/bytes.h"

/* s as a JSON string literal, quotes included; invalid UTF-8 bytes and
 * control characters are escaped as \u00XX. */
int	json_put_str(struct bytes_w *, const char *s);
int	json_put_strn(struct bytes_w *, const char *s, size_t len);

/*
 * Finds "key": in a flat JSON object text and returns its number (for
 * integers) or copies its string value (unescaping \" \\ \n only) into
 * buf.  0, or CAIRN_ERR_NOENT.  For the CLI reading its own agent's
 * output; not for untrusted input.
 */
int	json_get_num(const char *json, const char *key, long long *out);
int	json_get_str(const char *json, const char *key, char *buf, size_t len);

#endif
