/*
 * The kubernetes strategy's pure half: EndpointSlice JSON
 * (discovery.k8s.io/v1, parsed by jansson) in, node names out.  No I/O,
 * no clock, no logging: what the unit test and the fuzz target drive.
 *
 * A slice table holds, for each EndpointSlice name, the node names of its
 * ready endpoints.  A list response replaces the table; a watch event
 * changes one slice.  The union of all slices is the strategy's answer.
 * Everything from the API is checked before it becomes a name: an
 * address must be an IP address of the slice's addressType, a hostname a
 * DNS label; anything else is skipped.
 */
#ifndef CAIRN_STRATEGIES_K8S_SLICES_H
#define CAIRN_STRATEGIES_K8S_SLICES_H

#include <stddef.h>

/* libcluster's modes (Cluster.Strategy.Kubernetes `mode`). */
enum k8s_mode {
	K8S_MODE_IP,		/* basename@10.1.2.3 */
	K8S_MODE_DNS,		/* basename@10-1-2-3.NS.pod.DOMAIN */
	K8S_MODE_HOSTNAME,	/* basename@HOST.SERVICE.NS.svc.DOMAIN */
};

struct k8s_naming {
	enum k8s_mode	 mode;
	const char	*basename;
	const char	*service;	/* hostname mode needs it */
	const char	*namespace;
	const char	*domain;	/* cluster.local */
};

#define K8S_MAX_NODE_NAME	512
#define K8S_MAX_RV		128	/* a resourceVersion's length */

/*
 * The node name of one endpoint.  0, CAIRN_ERR_PROTO (an address that
 * is not an IP address of family, or a hostname that is not a DNS
 * label), CAIRN_ERR_NOENT (hostname mode and no hostname) or
 * CAIRN_ERR_TOO_BIG.  family is 4 or 6.
 */
int	k8s_node_name(const struct k8s_naming *, int family, const char *addr,
	    const char *hostname, char *buf, size_t len);

struct k8s_slices;

/* At most max_slices slices and max_nodes names over all of them. */
struct k8s_slices *k8s_slices_new(size_t max_slices, size_t max_nodes);
void	k8s_slices_free(struct k8s_slices *);
size_t	k8s_slices_count(const struct k8s_slices *);

/*
 * An EndpointSliceList's body: the table is replaced (only on success)
 * and its metadata.resourceVersion copied into rv (K8S_MAX_RV bytes).
 * 0, CAIRN_ERR_PROTO (not JSON, not a list), CAIRN_ERR_LIMIT (over a
 * cap: nothing changes) or CAIRN_ERR_NOMEM; why says what.
 */
int	k8s_slices_list(struct k8s_slices *, const struct k8s_naming *,
	    const char *body, size_t len, char *rv, char *why, size_t whylen);

enum k8s_event {
	K8S_EV_CHANGED,		/* ADDED, MODIFIED or DELETED applied */
	K8S_EV_SAME,		/* applied, and the union is unchanged */
	K8S_EV_BOOKMARK,	/* only the resourceVersion moved */
	K8S_EV_GONE,		/* 410: the version expired, list again */
	K8S_EV_ERROR,		/* an ERROR event; why says which */
};

/*
 * One line of a watch stream (a WatchEvent).  On success returns the
 * event (>= 0) and, unless it is GONE or ERROR, the object's
 * resourceVersion in rv.  CAIRN_ERR_PROTO for a line that is not a
 * WatchEvent of an EndpointSlice, CAIRN_ERR_LIMIT over a cap (the slice
 * is left as it was).
 */
int	k8s_slices_event(struct k8s_slices *, const struct k8s_naming *,
	    const char *line, size_t len, char *rv, char *why, size_t whylen);

/*
 * The union of every slice's names, sorted, without duplicates: *out is
 * one malloc'd block (pointers, then strings) for one free().  0 or
 * CAIRN_ERR_NOMEM.
 */
int	k8s_slices_nodes(const struct k8s_slices *, char ***out, size_t *n);

#endif
