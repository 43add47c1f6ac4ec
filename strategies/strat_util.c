/*
 * Helpers shared by the strategies; see strat_util.h.
 */
#include "strategies/strat_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "epmd/epmd_codec.h"

uint16_t
strat_epmd_port(void)
{
	const char *s = getenv("ERL_EPMD_PORT");
	long v;

	if (s == NULL || (v = strtol(s, NULL, 10)) <= 0 || v > 65535)
		return EPMD_PORT_NO;
	return (uint16_t)v;
}

void
strat_short_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) == -1 || buf[0] == '\0')
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	buf[strcspn(buf, ".")] = '\0';
}

int
strat_node_list(const char *const *names, const size_t *lens, size_t n,
    const char *host, const char *skip_prefix, char ***out, size_t *nout)
{
	size_t i, k = 0, bytes = 0, hlen = strlen(host);
	size_t plen = skip_prefix != NULL ? strlen(skip_prefix) : 0;
	char **v, *p;

	for (i = 0; i < n; i++)
		bytes += lens[i] + 1 + hlen + 1;
	if ((v = malloc((n + 1) * sizeof(*v) + bytes)) == NULL)
		return CAIRN_ERR_NOMEM;
	p = (char *)(v + n + 1);
	for (i = 0; i < n; i++) {
		if (plen > 0 && lens[i] >= plen &&
		    memcmp(names[i], skip_prefix, plen) == 0)
			continue;
		v[k++] = p;
		memcpy(p, names[i], lens[i]);
		p += lens[i];
		*p++ = '@';
		memcpy(p, host, hlen);
		p += hlen;
		*p++ = '\0';
	}
	v[k] = NULL;
	*out = v;
	*nout = k;
	return 0;
}
