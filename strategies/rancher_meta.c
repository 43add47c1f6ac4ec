/*
 * The Rancher metadata answer into node names (rancher_meta.h), with
 * jansson; every value is type-checked, every address parsed and
 * printed back in its canonical form before it becomes a name.
 */
#include "strategies/rancher_meta.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

void
rancher_nodes_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
rancher_nodes(const char *basename, const char *body, size_t len,
    char ***out, size_t *nout, char *why, size_t whylen)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char canon[INET6_ADDRSTRLEN], **v;
	json_error_t je;
	json_t *j, *cs, *c;
	const char *ip;
	size_t i, k, n = 0;
	int af;

	*out = NULL;
	*nout = 0;
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(why, whylen, "bad JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
		return CAIRN_ERR_PROTO;
	}
	cs = json_object_get(j, "containers");
	if (!json_is_array(cs)) {
		snprintf(why, whylen, "no containers in the service");
		json_decref(j);
		return CAIRN_ERR_PROTO;
	}
	if (json_array_size(cs) > RANCHER_MAX_CONTAINERS) {
		snprintf(why, whylen, "%zu containers, over the cap of %d",
		    json_array_size(cs), RANCHER_MAX_CONTAINERS);
		json_decref(j);
		return CAIRN_ERR_LIMIT;
	}
	if ((v = calloc(json_array_size(cs) + 1, sizeof(*v))) == NULL) {
		json_decref(j);
		return CAIRN_ERR_NOMEM;
	}
	json_array_foreach(cs, i, c) {
		/* libcluster takes the first of `ips`. */
		ip = json_string_value(json_array_get(json_object_get(c,
		    "ips"), 0));
		if (ip == NULL)
			ip = json_string_value(json_object_get(c,
			    "primary_ip"));
		if (ip == NULL)
			continue;
		af = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
		if (inet_pton(af, ip, bin) != 1 ||
		    inet_ntop(af, bin, canon, sizeof(canon)) == NULL)
			continue;
		if (asprintf(&v[n], "%s@%s", basename, canon) == -1) {
			json_decref(j);
			rancher_nodes_free(v, n);
			return CAIRN_ERR_NOMEM;
		}
		for (k = 0; k < n; k++)
			if (strcmp(v[k], v[n]) == 0)
				break;
		if (k < n)
			free(v[n]);	/* two containers, one address */
		else
			n++;
	}
	json_decref(j);
	*out = v;
	*nout = n;
	return 0;
}
