/*
 * MQTT topic names and filters; see mqtt_topic.h for the contracts.
 */
#include "broker/mqtt/mqtt_topic.h"

#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

/* 1 to 65535 bytes of strict UTF-8 without U+0000. */
static int
mqtt_topic_string_ok(struct bytes_view v)
{
	if (v.len == 0 || v.len > MQTT_TOPIC_MAX)
		return 0;
	if (memchr(v.p, '\0', v.len) != NULL)
		return 0;
	return utf8_count(v.p, v.len) >= 0;
}

int
mqtt_topic_name_valid(struct bytes_view name)
{
	size_t i;

	if (!mqtt_topic_string_ok(name))
		return 0;
	for (i = 0; i < name.len; i++)
		if (name.p[i] == '+' || name.p[i] == '#')
			return 0;
	return 1;
}

int
mqtt_topic_filter_valid(struct bytes_view f)
{
	size_t i;

	if (!mqtt_topic_string_ok(f))
		return 0;
	for (i = 0; i < f.len; i++) {
		if (f.p[i] != '+' && f.p[i] != '#')
			continue;
		/* A wildcard fills its level: '/' or an end on both sides. */
		if (i > 0 && f.p[i - 1] != '/')
			return 0;
		if (i + 1 < f.len && f.p[i + 1] != '/')
			return 0;
		/* '#' is the last level. */
		if (f.p[i] == '#' && i + 1 != f.len)
			return 0;
	}
	return 1;
}

/* The end of the level that starts at `off`: the next '/' or the end. */
static size_t
mqtt_topic_level_end(struct bytes_view v, size_t off)
{
	const uint8_t *slash;

	if (off >= v.len)
		return v.len;
	slash = memchr(v.p + off, '/', v.len - off);
	return slash == NULL ? v.len : (size_t)(slash - v.p);
}

int
mqtt_topic_match(struct bytes_view f, struct bytes_view n)
{
	size_t fi = 0, ni = 0, fe, ne;
	int ndone = 0;

	/* [MQTT-4.7.2-1]: "$SYS/x" is not matched by "#" or "+/x". */
	if (n.len > 0 && n.p[0] == '$' && f.len > 0 &&
	    (f.p[0] == '+' || f.p[0] == '#'))
		return 0;
	for (;;) {
		fe = mqtt_topic_level_end(f, fi);
		/* '#' takes whatever is left, including no level at all. */
		if (fe - fi == 1 && f.p[fi] == '#')
			return 1;
		if (ndone)
			return 0;
		ne = mqtt_topic_level_end(n, ni);
		if (!(fe - fi == 1 && f.p[fi] == '+') &&
		    (fe - fi != ne - ni ||
		    (fe > fi && memcmp(f.p + fi, n.p + ni, fe - fi) != 0)))
			return 0;
		if (ne == n.len)
			ndone = 1;
		else
			ni = ne + 1;
		if (fe == f.len)
			return ndone;
		fi = fe + 1;
	}
}

size_t
mqtt_topic_levels(struct bytes_view v)
{
	size_t i, n = 1;

	if (v.len == 0)
		return 0;
	for (i = 0; i < v.len; i++)
		if (v.p[i] == '/')
			n++;
	return n;
}

int
mqtt_topic_share_parse(struct bytes_view f, struct bytes_view *group,
    struct bytes_view *real)
{
	const size_t plen = sizeof(MQTT_SHARE_PREFIX) - 1;
	struct bytes_view g, r;
	size_t i;

	if (f.len < plen || memcmp(f.p, MQTT_SHARE_PREFIX, plen) != 0)
		return 0;
	g.p = f.p + plen;
	for (i = plen; i < f.len && f.p[i] != '/'; i++)
		if (f.p[i] == '+' || f.p[i] == '#')
			return CAIRN_ERR_PROTO;
	g.len = i - plen;
	/* A non-empty group, then '/', then a filter. */
	if (g.len == 0 || i == f.len)
		return CAIRN_ERR_PROTO;
	r = bytes_view_of(f.p + i + 1, f.len - i - 1);
	if (!mqtt_topic_string_ok(g) || !mqtt_topic_filter_valid(r))
		return CAIRN_ERR_PROTO;
	*group = g;
	*real = r;
	return 1;
}
