/*
 * The strategy table: one line per strategies/<name>.c.
 */
#include "strategies/strat.h"

#include <string.h>

const struct strat_ops *const strat_all[] = {
	&strat_local_epmd,
	&strat_epmd,
	&strat_erlang_hosts,
	&strat_kubernetes_dns,
	&strat_kubernetes_dnssrv,
	&strat_gossip,
	&strat_kubernetes,
	&strat_rancher,
	&strat_dns,
	NULL,
};

const struct strat_ops *
strat_find(const char *name)
{
	size_t i;

	for (i = 0; strat_all[i] != NULL; i++)
		if (strcmp(strat_all[i]->name, name) == 0)
			return strat_all[i];
	return NULL;
}
