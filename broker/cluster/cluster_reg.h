/*
 * The broker node's registration with its host's epmd (broker/cluster/CLUSTER.md):
 * the part of node_name before '@', at the cluster listener's port,
 * marked as a Cairn broker in EPMD's `extra` so that the `cairn`
 * connector can tell brokers from stock Erlang nodes in the same epmd.
 *
 * A thin layer over epmd_areg (epmd/epmd_aclient.h), which keeps the
 * registration alive and registers again when the epmd restarts; this
 * module adds the broker's fields and one log line per event.
 */
#ifndef CAIRN_BROKER_CLUSTER_REG_H
#define CAIRN_BROKER_CLUSTER_REG_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct cluster_reg;

/* The registration's fields (do not change: `cairn` reads the extra). */
#define CLUSTER_REG_NODETYPE	77		/* 'M', an MQTT broker */
#define CLUSTER_REG_PROTOCOL	0
#define CLUSTER_REG_HIGHVSN	6
#define CLUSTER_REG_LOWVSN	5
#define CLUSTER_REG_EXTRA	"cairn-broker/1"
/* RETRYING lines logged: the first, then every Nth in a row. */
#define CLUSTER_REG_LOG_EVERY	10

/*
 * Registers node ("name@host"; borrowed for the call) with the epmd at
 * 127.0.0.1:epmd_port (0: $ERL_EPMD_PORT, else 4369) as listening on
 * port, and keeps it registered until cluster_reg_free().  The first
 * attempt runs from the loop.  Returns NULL with a reason in err when
 * the name is not a valid EPMD name, or on no memory.
 */
struct cluster_reg *cluster_reg_new(struct ev_loop *loop, const char *node,
		    uint16_t port, uint16_t epmd_port, char *err,
		    size_t errlen);
/* 1 while the epmd holds the name. */
int		 cluster_reg_registered(const struct cluster_reg *);
/* Drops the registration and frees.  Accepts NULL. */
void		 cluster_reg_free(struct cluster_reg *);

#endif
