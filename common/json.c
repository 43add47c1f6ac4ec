/*
 * Minimal JSON writing and flat reading; see json.h.
 */
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int
json_put_strn(struct bytes_w *w, const char *s, size_t len)
{
	size_t i;

	bytes_put_u8(w, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			bytes_put_u8(w, '\\');
			bytes_put_u8(w, c);
		} else if (c == '\n')
			bytes_put_str(w, "\\n");
		else if (c == '\t')
			bytes_put_str(w, "\\t");
		else if (c < 0x20 || c == 0x7f)
			bytes_printf(w, "\\u%04x", c);
		else
			bytes_put_u8(w, c);
	}
	return bytes_put_u8(w, '"');
}

int
json_put_str(struct bytes_w *w, const char *s)
{
	return json_put_strn(w, s, s != NULL ? strlen(s) : 0);
}

/* Points after `"key":` and any spaces, or NULL. */
static const char *
json_find(const char *json, const char *key)
{
	size_t klen = strlen(key);
	const char *p = json;

	while ((p = strchr(p, '"')) != NULL) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '"') {
			p += klen + 2;
			while (*p == ' ')
				p++;
			if (*p != ':')
				continue;
			p++;
			while (*p == ' ')
				p++;
			return p;
		}
		p++;
	}
	return NULL;
}

int
json_get_num(const char *json, const char *key, long long *out)
{
	const char *p = json_find(json, key);
	char *end;

	if (p == NULL)
		return CAIRN_ERR_NOENT;
	*out = strtoll(p, &end, 10);
	return end == p ? CAIRN_ERR_NOENT : 0;
}

int
json_get_str(const char *json, const char *key, char *buf, size_t len)
{
	const char *p = json_find(json, key);
	size_t n = 0;

	if (p == NULL || *p != '"' || len == 0)
		return CAIRN_ERR_NOENT;
	for (p++; *p != '\0' && *p != '"'; p++) {
		char c = *p;

		if (c == '\\' && p[1] != '\0') {
			p++;
			c = *p == 'n' ? '\n' : *p;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}
