/*
 * The name registry of an epmd daemon: registered nodes, and a bounded
 * FIFO of released names that keeps each name's creation moving when it
 * registers again (OTP's nodes.reg / nodes.unreg).
 *
 * Lookups by name are O(1) (a hash table; OTP walks a list).  Iteration
 * order is OTP's: registered nodes newest first, released names oldest
 * first.  Pure data structure: no I/O, no logging, no clock (the caller
 * passes the time used to seed a new name's creation).
 */
#ifndef CAIRN_EPMD_EPMD_REGISTRY_H
#define CAIRN_EPMD_EPMD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "epmd/epmd_codec.h"

/* OTP keeps this many released names (5 when debugging). */
#define EPMD_DEFAULT_MAX_UNREG		1000
#define EPMD_DEBUG_MAX_UNREG		5
#define EPMD_DEFAULT_MAX_NAMES		65536

struct epmd_registry;

/*
 * A registered (or released) node.  Read-only to callers; name and extra
 * are NUL-terminated copies owned by the registry.
 */
struct epmd_node {
	struct epmd_node	*n_next;	/* reg: newer to older; unreg: FIFO */
	struct epmd_node	*n_prev;
	struct epmd_node	*n_hnext;	/* hash chain */
	void			*n_owner;	/* caller's handle (connection) */
	int			 n_fd;		/* shown by DUMP */
	int			 n_registered;
	uint32_t		 n_hash;
	uint32_t		 n_cr_counter;
	uint16_t		 n_port;
	uint8_t			 n_nodetype;
	uint8_t			 n_protocol;
	uint16_t		 n_highvsn;
	uint16_t		 n_lowvsn;
	uint16_t		 n_namelen;
	uint16_t		 n_extralen;
	char			*n_extra;	/* points into n_name's block */
	char			 n_name[];	/* name NUL extra NUL */
};

/*
 * A registry holding at most max_names registered names and max_unreg
 * released ones (values of 0 take the defaults above).  NULL on ENOMEM.
 */
struct epmd_registry *epmd_registry_new(size_t max_names, size_t max_unreg);
/* Frees every node.  Accepts NULL. */
void	epmd_registry_free(struct epmd_registry *);
void	epmd_registry_set_max_unreg(struct epmd_registry *, size_t);

/*
 * Registers info (copied) for owner, as OTP's node_reg2(): a name seen
 * before gets its old slot with the creation bumped; a new name gets a
 * counter seeded from now_seed (the wall clock), or when the released
 * FIFO is over its limit, the oldest released slot and its counter.
 * Returns 0 and *out, or CAIRN_ERR_EXIST (name registered),
 * CAIRN_ERR_INVAL (epmd_check_alive2 failed; *why set),
 * CAIRN_ERR_LIMIT (max_names reached), CAIRN_ERR_NOMEM.
 */
int	epmd_registry_register(struct epmd_registry *,
	    const struct epmd_node_info *info, void *owner, int fd,
	    uint32_t now_seed, struct epmd_node **out, const char **why);
/* Moves a registered node to the released FIFO.  The pointer stays valid
 * until the FIFO overflows or the registry is freed; do not keep it. */
void	epmd_registry_unregister(struct epmd_registry *, struct epmd_node *);
/* The registered node with that name, or NULL. */
struct epmd_node *epmd_registry_find(const struct epmd_registry *,
	    struct bytes_view name);
size_t	epmd_registry_count(const struct epmd_registry *);
size_t	epmd_registry_unreg_count(const struct epmd_registry *);

/* Registered nodes, newest first, as NAMES lists them. */
struct epmd_node *epmd_registry_first(const struct epmd_registry *);
/* Released names, oldest first, as DUMP lists them. */
struct epmd_node *epmd_registry_first_unreg(const struct epmd_registry *);
static inline struct epmd_node *
epmd_node_next(const struct epmd_node *n)
{
	return n->n_next;
}

/* The creation a node is told: 32 bits for highvsn >= 6, else 1..3. */
uint32_t epmd_node_creation(const struct epmd_node *);
/* info view of a registered node (for PORT2_RESP). */
void	epmd_node_info(const struct epmd_node *, struct epmd_node_info *);

#endif
