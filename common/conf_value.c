/*
 * Conf: the value parsers (bool, integers, duration, size, host:port)
 * and the formatting of range bounds.  Pure: no YAML, no allocation but
 * the host name.  See conf.h for the syntax.
 */
#include "common/conf.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf_int.h"
#include "common/err.h"

/* Longest host name (RFC 1035 presentation form without the dot). */
#define CONF_HOST_MAX	253

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
int
conf_parse_int64(const char *s, int64_t *out)
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
int
conf_parse_uint64(const char *s, uint64_t *out)
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
int
conf_hostport_split(const char *s, char **host, int64_t *port)
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

	if ((rc = conf_hostport_split(s, &host, &port)) != 0)
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
void
conf_fmt_duration(uint64_t ms, char *buf, size_t len)
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

void
conf_fmt_size(uint64_t b, char *buf, size_t len)
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

void
conf_fmt_uint(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}
