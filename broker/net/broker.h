/*
 * The broker node: listeners, connections, sessions, the router, the
 * retained store and $SYS, all on one libev loop.  This is what main.c
 * calls; the pieces inside are in broker_int.h.
 *
 * Security is a small interface, struct broker_auth, so the password
 * file and ACL modules (or anything else) plug in without the broker
 * knowing their formats.
 */
#ifndef CAIRN_BROKER_BROKER_H
#define CAIRN_BROKER_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "broker/conf/broker_conf.h"
#include "common/bytes.h"

/* Access asked of broker_acl_cb. */
#define BROKER_ACL_READ		0x1	/* deliver a message to the client */
#define BROKER_ACL_WRITE	0x2	/* accept a PUBLISH or will from it */

/*
 * Checks a CONNECT's user name (NUL-terminated) and password (binary,
 * possibly empty): 0 to accept, anything else to answer CONNACK 4.
 */
typedef int	(*broker_password_cb)(void *arg, const char *username,
		    struct bytes_view password);
/*
 * 1 if client_id (with username, NULL when none was given) may have
 * `access` (one BROKER_ACL_* bit) to the topic name, else 0.
 */
typedef int	(*broker_acl_cb)(void *arg, const char *client_id,
		    const char *username, struct bytes_view topic, int access);

/*
 * The SCRAM-SHA-256 credential of user (core/scram.h) for MQTT 5.0
 * enhanced authentication: 0 with *out set for a known user, anything
 * else for an unknown one, with *out still set to a fake credential
 * that no proof matches and that is the same for the same name.
 */
struct scram_cred;
typedef int	(*broker_scram_cb)(void *arg, struct bytes_view user,
		    struct scram_cred *out);

struct broker_auth {
	broker_password_cb	 ba_check_password;	/* NULL: no check */
	broker_acl_cb		 ba_check_acl;		/* NULL: allow all */
	broker_scram_cb		 ba_scram_cred;		/* NULL: no SCRAM */
	void			*ba_arg;		/* borrowed */
	void			(*ba_free)(void *arg);	/* NULL: none */
};

struct broker;
struct msg;

/*
 * What the broker tells the layer above it (the cluster, broker/cluster/),
 * which sets these: net knows nothing of it.  A NULL member: nobody
 * listens (a node without a cluster).
 */
struct broker_hooks {
	/* A message was retained here, or a topic cleared (empty payload). */
	void	(*bh_retained)(void *arg, const struct msg *m);
	/*
	 * Client id[0..len) connected here, before its CONNACK; persistent:
	 * clean session 0 and no session of that id here; kept: clean
	 * session 0 and the session was here (never lost, or loaded from
	 * data_dir).
	 */
	void	(*bh_connected)(void *arg, const char *id, size_t len,
		    int persistent, int kept);
	/*
	 * data_dir: every store batch up to gen is durable (committed and,
	 * with store_sync true, synced) but for the ones bh_store_failed
	 * named; called on the loop, each time persist_durable_gen()
	 * advances (broker_int.h).
	 */
	void	(*bh_durable)(void *arg, uint64_t gen);
	/*
	 * data_dir: batch gen was not stored (the map is full, I/O): what
	 * waited on it is never acknowledged.  Called before any later
	 * bh_durable whose gen passes it.
	 */
	void	(*bh_store_failed)(void *arg, uint64_t gen);
	/*
	 * Session replicas (the cluster's).  bh_repl_sent: how many
	 * replica frames went out so far.  bh_repl_epoch: the epoch an ack
	 * to a local publisher made now waits for when frames went out
	 * since sent (the deliveries its PUBLISH queued), 0 for none.  The
	 * layer calls broker_repl_done() as epochs are acked.
	 */
	uint64_t (*bh_repl_sent)(void *arg);
	uint64_t (*bh_repl_epoch)(void *arg, uint64_t sent);
	void	*bh_arg;
};

/*
 * A broker on `loop` with configuration c (the broker takes it and
 * frees it in broker_free()).  Nothing listens yet, and no password or
 * ACL is checked until broker_set_auth().  NULL with a reason in err on
 * failure (c is freed then too).
 */
struct broker	*broker_new(struct ev_loop *loop, struct broker_conf *c,
		    char *err, size_t errlen);
/*
 * Replaces the security hooks (the broker calls a->ba_free on the old
 * ones and owns the new ones).  For callers with their own checks.
 */
void		 broker_set_auth(struct broker *, const struct broker_auth *a);
/* Replaces the hooks (copied); NULL: none. */
void		 broker_set_hooks(struct broker *, const struct broker_hooks *h);
/*
 * Every replica epoch up to done is acked by its holders (or let go):
 * the clients whose acks waited on them are written.
 */
void		 broker_repl_done(struct broker *, uint64_t done);
/* Binds every listener and starts the timers: 0, or -1 with err set. */
int		 broker_start(struct broker *, char *err, size_t errlen);
/*
 * Applies the configuration nc (taken; freed here either way) to a
 * running broker, for SIGHUP: listeners added and removed (a kept
 * address keeps its socket, so no connection waits), every TLS
 * listener's certificate, key and CAs read again, the limits that apply
 * to new connections and packets (broker.c's broker_reloadable), and
 * the security hooks a (taken, as broker_set_auth()).  Connections and
 * sessions stay.  Each other key that changed is logged as needing a
 * restart.  All or nothing: 0, or -1 with err and the broker as it was
 * (a freed too).
 */
int		 broker_reload(struct broker *, struct broker_conf *nc,
		    const struct broker_auth *a, char *err, size_t errlen);
/*
 * Closes every connection (no wills: the broker is going away), frees
 * every session, message and the config.  Accepts NULL.
 */
void		 broker_free(struct broker *);

#endif
