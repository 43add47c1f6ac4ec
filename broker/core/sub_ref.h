/*
 * What the subscription trie holds: a pointer to a struct sub_ref, whose
 * kind says who receives what a filter matches.  The router's one
 * routing function switches on it, and the cluster adds its kind there.
 * Each owner embeds its sub_ref (struct session, struct share_group), so
 * the router gets back to the owner with container_of().
 */
#ifndef CAIRN_BROKER_SUB_REF_H
#define CAIRN_BROKER_SUB_REF_H

#include <stddef.h>

#include "common/container.h"

enum sub_kind {
	SUB_SESSION = 1,	/* a local session (struct session) */
	SUB_SHARED,		/* a $share group (struct share_group) */
	SUB_REMOTE,		/* a cluster node (struct router_remote) */
};

struct sub_ref {
	enum sub_kind	 sr_kind;
};

#endif
