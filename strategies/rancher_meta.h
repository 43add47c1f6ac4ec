/*
 * The rancher strategy's pure half: the Rancher metadata service's
 * answer to GET /latest/self/service (JSON, parsed by jansson) into
 * node names, as libcluster's Cluster.Strategy.Rancher makes them:
 * basename@IP for the first address (`ips`, else `primary_ip`) of each
 * container.  No I/O: what the unit test and the fuzz target drive.
 */
#ifndef CAIRN_STRATEGIES_RANCHER_META_H
#define CAIRN_STRATEGIES_RANCHER_META_H

#include <stddef.h>

/* The most containers one answer may list. */
#define RANCHER_MAX_CONTAINERS	10000

/*
 * body[0..len) into *out (n names, each malloc'd, the array too; free
 * with rancher_nodes_free).  A container without a valid IP address is
 * skipped.  0, CAIRN_ERR_PROTO (not JSON, no `containers` array),
 * CAIRN_ERR_LIMIT (over RANCHER_MAX_CONTAINERS) or CAIRN_ERR_NOMEM, with
 * why saying what.
 */
int	rancher_nodes(const char *basename, const char *body, size_t len,
	    char ***out, size_t *n, char *why, size_t whylen);
void	rancher_nodes_free(char **v, size_t n);

#endif
