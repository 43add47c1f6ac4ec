/*
 * Helpers shared by the strategies; see strat_util.h.
 */
#include "strategies/strat_util.h"

#include <arpa/inet.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/resolv.h"
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

void
strat_check_resolvers(const struct conf_strlist *resolvers, const char *eg,
    strat_conf_err_fn *err, void *arg)
{
	struct conf_hostport hp;
	unsigned char a[16];
	char why[512];
	size_t i;
	int ok;

	for (i = 0; i < resolvers->n && i < INT_MAX; i++) {
		memset(&hp, 0, sizeof(hp));
		ok = conf_parse_hostport(resolvers->v[i], 53, &hp) == 0 &&
		    (inet_pton(AF_INET, hp.host, a) == 1 ||
		    inet_pton(AF_INET6, hp.host, a) == 1);
		free(hp.host);
		if (ok)
			continue;
		snprintf(why, sizeof(why), "'%.300s' is not an IP address "
		    "with an optional port (%s:53, [fd00::a]:53)",
		    resolvers->v[i], eg);
		err(arg, "resolvers", (int)i, why);
	}
}

int
strat_resolver(struct ev_loop *loop, struct resolv *shared,
    const struct conf_strlist *resolvers, uint64_t timeout_ms,
    struct resolv **own, struct resolv **use, char *err, size_t errlen)
{
	struct resolv_opts ro;
	char servers[1024] = "";
	size_t i;

	*own = NULL;
	*use = NULL;
	if (resolvers->n == 0) {
		if (shared == NULL) {
			snprintf(err, errlen, "no resolver");
			return -1;
		}
		*use = shared;
		return 0;
	}
	for (i = 0; i < resolvers->n; i++) {
		if (i > 0)
			strncat(servers, ",", sizeof(servers) -
			    strlen(servers) - 1);
		strncat(servers, resolvers->v[i], sizeof(servers) -
		    strlen(servers) - 1);
	}
	memset(&ro, 0, sizeof(ro));
	ro.servers = servers;
	ro.no_search = 1;
	ro.deadline_ms = timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms;
	if ((*own = resolv_new(loop, &ro)) == NULL) {
		snprintf(err, errlen, "bad resolvers '%s'", servers);
		return -1;
	}
	*use = *own;
	return 0;
}
