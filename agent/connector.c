/*
 * The connector table: one line per agent/conn_<name>.c.
 */
#include "agent/connector.h"

#include <string.h>

static const struct connector_ops *const connector_all[] = {
	&connector_none,
	&connector_exec,
	&connector_erlang,
	&connector_cairn,
	NULL,
};

const struct connector_ops *
connector_find(const char *name)
{
	size_t i;

	for (i = 0; connector_all[i] != NULL; i++)
		if (strcmp(connector_all[i]->name, name) == 0)
			return connector_all[i];
	return NULL;
}
