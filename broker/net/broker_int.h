/*
 * The broker's private header: its structs and the table of contents of
 * the files that make the daemon (as ntpd.h is for ntpd).
 *
 *	broker.c		context, listeners, accept, publish and deliver
 *	client.c		one connection: read, frame, dispatch, flush, close
 *	handle_connect.c	CONNECT -> CONNACK, sessions, takeover
 *	handle_publish.c	PUBLISH and the four acks, both directions
 *	handle_subscribe.c	SUBSCRIBE, UNSUBSCRIBE
 *	send.c			encoders into a client's output buffer, in
 *				the form of the client's protocol level
 *	transport.h		the byte stream under a connection (plain: none)
 *	tls.c			the TLS transport and listener contexts
 *	persist.c		data_dir: what the store keeps, loaded at start
 *
 * Above this layer (broker/cluster/ and the program in broker/) and
 * out of its sight: the cluster, told of retained messages and
 * connections through struct broker_hooks; $SYS (sys.c), the memory
 * snapshot (stats.c) and the password and ACL files (auth.c), which
 * reach the broker through this header and broker_set_auth().
 *
 * Request path: client.c frames and decodes (pure codec) and calls one
 * handle_*(); a handler applies the packet to the session, router or
 * retained store (pure modules) and answers with send_*(), which only
 * appends to the client's output buffer.  Each dirty client is written
 * once per loop iteration, from an ev_prepare watcher.
 */
#ifndef CAIRN_BROKER_BROKER_INT_H
#define CAIRN_BROKER_BROKER_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "broker/net/broker.h"
#include "broker/conf/broker_conf.h"
#include "broker/mqtt/mqtt_alias.h"
#include "broker/mqtt/mqtt_codec.h"
#include "broker/core/msg.h"
#include "broker/core/retain.h"
#include "broker/core/router.h"
#include "broker/core/session.h"
#include "common/bytes.h"
#include "common/sock.h"

struct cluster;
struct store;
struct broker_listener;
struct transport;
struct ws_tconf;
struct sys_load;

/* Read at most this much per read(2). */
#define CLIENT_READ_CHUNK	(16 * 1024)
/* An emptied output buffer up to this size is freed. */
#define CLIENT_OUT_KEEP		128
/* A generated client id: "cairn-" and 16 hex digits. */
#define CLIENT_GEN_ID_LEN	22

/* c_tls_flags */
#define CLIENT_TLS_IDENTITY	0x1	/* use_identity_as_username */
#define CLIENT_TLS_HANDSHAKE	0x2	/* counted in b_tls_handshakes */

/* A connection's life; transitions happen in client.c and handle_connect.c. */
enum client_state {
	CLIENT_NEW = 1,		/* accepted; only CONNECT is allowed */
	CLIENT_CONNECTED,	/* CONNACK 0 sent; a session is attached */
	CLIENT_CLOSED,		/* fd closed, watchers stopped; awaiting free */
};

struct client {
	TAILQ_ENTRY(client)	 c_entry;	/* b_clients or b_dead */
	TAILQ_ENTRY(client)	 c_dirty_entry;	/* b_dirty while c_dirty */
	TAILQ_ENTRY(client)	 c_store_entry;	/* b_store_waiters while
						   c_store_wait */
	struct broker		*c_broker;
	enum client_state	 c_state;
	int			 c_fd;
	/* TLS, WebSockets (transport.h); NULL: plain TCP.  Owned. */
	struct transport	*c_tr;
	/* Its listener (per-listener limits); NULL once that is gone. */
	struct broker_listener	*c_listener;
	ev_io			 c_rd_w;
	ev_io			 c_wr_w;
	ev_timer		 c_ka_w;	/* connect timeout, then keepalive */
	char			 c_addr[SOCK_NTOP_LEN];
	uint8_t			*c_in;		/* unparsed input */
	size_t			 c_in_len;
	size_t			 c_in_cap;
	struct bytes_w		 c_out;		/* capped at 2 x max_output_buffer */
	size_t			 c_out_counted;	/* c_out.len in b_out_bytes */
	int			 c_dirty;
	uint8_t			 c_level;	/* MQTT_LEVEL_31 or _311 */
	/* CLIENT_TLS_* (in c_level's padding: no bigger a client). */
	uint8_t			 c_tls_flags;
	uint16_t		 c_keepalive;	/* seconds, 0: none */
	struct session		*c_session;	/* borrowed from b_sessions */
	char			*c_id;		/* client id, owned (log lines) */
	size_t			 c_id_len;	/* strlen(c_id) */
	char			*c_username;	/* owned, NULL: none */
	struct msg		*c_will;	/* owned; NULL: none */
	uint32_t		 c_will_delay;	/* 5.0 will delay interval (s) */
	uint32_t		 c_will_expiry;	/* 5.0 message expiry of the will */
	const char		*c_broken;	/* a send failed: why; closed at flush */
	/* handle_subscribe.c's work in slices; owned, NULL: none. */
	struct sub_work		*c_sub;
	int			 c_paused;	/* a (UN)SUBSCRIBE is being applied:
					   later input waits */
	/*
	 * MQTT 5.0 (c_level MQTT_LEVEL_5), what CONNECT and CONNACK
	 * agreed; unused at 3.1.x.  c_aliases[1..c_alias_max] are the
	 * client's topic aliases (NUL-terminated copies, owned), the array
	 * made at the first one.
	 */
	uint8_t			 c_problem_info;  /* reason strings allowed */
	uint8_t			 c_resp_info;	  /* response information asked */
	uint16_t		 c_alias_max;	  /* ours, from max_topic_alias */
	uint16_t		 c_in_qos2;	  /* inbound QoS 2 before PUBREL */
	uint32_t		 c_max_out;	  /* client's max packet size; 0: none */
	uint32_t		 c_expiry;	  /* session expiry interval (s) */
	char			**c_aliases;
	/* Aliases we set on topics we send it (mqtt_alias.h): at most
	 * c_alias_out_max (its maximum and max_topic_alias_out); the
	 * table made at the first delivery, owned, NULL: none yet. */
	uint16_t		 c_alias_out_max;
	struct mqtt_alias_out	*c_alias_out;
	/* Enhanced authentication (handle_auth.c); owned, NULL: none. */
	struct client_auth	*c_auth;
	/* Output holds an ack of the store's open batch: written only
	 * once it is committed (persist.c). */
	int			 c_store_wait;
	uint64_t		 c_store_gen;	/* the batch it waits on */
	/* Output holds an ack of a message queued for persistent
	 * sessions whose replicas' holders have not yet taken it: written
	 * once they have (bh_repl_epoch, broker_repl_done()). */
	int			 c_repl_wait;
	uint64_t		 c_repl_epoch;	/* the epoch it waits on */
	TAILQ_ENTRY(client)	 c_repl_entry;	/* b_repl_waiters */
	int			 c_pub_held;	/* a PUBLISH waits for b_pub_hold
					   to end (cluster backpressure) */
	int			 c_connack_wait; /* the cluster looks for its
					   session: CONNACK and input wait */
	uint8_t			 c_connack_ska;	/* then: 5.0 CONNACK says server
					   keep alive (c_keepalive) */
	uint8_t			 c_connack_aci;	/* ... and assigned id (c_id) */
};

/* Counters for $SYS; mosquitto's names in comments. */
struct broker_stats {
	/* MQTT 5.0: deliveries over the client's maximum packet size,
	 * dropped for it as 3.1.4 says. */
	uint64_t	bs_drop_too_large;
	uint64_t	bs_msgs_received;	/* messages/received: packets */
	uint64_t	bs_msgs_sent;		/* messages/sent */
	uint64_t	bs_pub_received;	/* publish/messages/received */
	uint64_t	bs_pub_sent;		/* publish/messages/sent */
	uint64_t	bs_pub_dropped;		/* publish/messages/dropped */
	uint64_t	bs_bytes_received;	/* bytes/received */
	uint64_t	bs_bytes_sent;		/* bytes/sent */
	size_t		bs_clients_max;		/* clients/maximum */
	uint64_t	bs_drop_output;		/* QoS 0 at max_output_buffer */
	uint64_t	bs_drop_output_total;	/* ... at max_output_bytes_total */
	uint64_t	bs_sessions_expired;	/* persistent_client_expiration */
	uint64_t	bs_persistent_refused;	/* max_persistent_sessions */
	/* Per QoS, and payload bytes (publish/bytes/received, .../sent). */
	uint64_t	bs_pub_received_qos[3];
	uint64_t	bs_pub_sent_qos[3];
	uint64_t	bs_pub_bytes_received_qos[3];
	uint64_t	bs_pub_bytes_sent_qos[3];
	uint64_t	bs_connects;		/* CONNECTs accepted (load/connections) */
	uint64_t	bs_sockets;		/* connections accepted (load/sockets) */
	/* data_dir: clients whose acks a failed commit withheld. */
	uint64_t	bs_store_refused;
};

struct broker_listener {
	int		 bl_fd;
	ev_io		 bl_w;
	ev_timer	 bl_pause_w;	/* accept paused: out of fds */
	struct broker	*bl_broker;
	/* Its entry of b_conf's listeners (borrowed). */
	const struct broker_listener_conf *bl_conf;
	/* TLS listeners: the context of new connections; NULL: plain. */
	struct ssl_ctx_st	*bl_ctx;
	/* websockets: settings from bl_conf, shared with its clients. */
	struct ws_tconf	*bl_ws;
	size_t		 bl_nclients;	/* open connections it accepted */
	char		 bl_addr[SOCK_NTOP_LEN];
};

/*
 * A 5.0 will waiting for its delay (3.1.3.2.2): sent when the timer
 * fires or the session ends, whichever comes first; dropped when the
 * client id connects again to its session.  One per client id.
 */
struct will_wait {
	TAILQ_ENTRY(will_wait)	 ww_entry;
	struct broker		*ww_broker;
	ev_timer		 ww_timer;
	struct msg		*ww_msg;	/* owned */
	char			 ww_id[];	/* client id, NUL-terminated */
};
TAILQ_HEAD(will_waitq, will_wait);

struct broker {
	struct ev_loop		*b_loop;
	struct broker_conf	*b_conf;
	struct broker_auth	 b_auth;
	struct broker_listener	*b_listeners;
	size_t			 b_nlisteners;
	TAILQ_HEAD(, client)	 b_clients;	/* open connections */
	size_t			 b_nclients;
	/* TLS handshakes in progress (max_tls_handshakes). */
	size_t			 b_tls_handshakes;
	TAILQ_HEAD(, client)	 b_dead;	/* closed, freed by b_prepare_w */
	TAILQ_HEAD(, client)	 b_dirty;	/* output to write this iteration */
	struct will_waitq	 b_wills;	/* delayed 5.0 wills */
	struct session_table	*b_sessions;
	struct session_limits	 b_limits;
	struct session_acct	 b_acct;	/* every session's totals */
	size_t			 b_in_bytes;	/* clients' c_in_cap, summed */
	size_t			 b_out_bytes;	/* clients' c_out_counted, summed */
	struct router		*b_router;
	struct retain		*b_retain;
	struct store		*b_store;	/* data_dir; NULL: none */
	/* persist.c's generations: the open batch's, the newest durable;
	 * b_store_asked: persist_gen() was called for the open batch. */
	uint64_t		 b_store_gen;
	uint64_t		 b_store_durable;
	int			 b_store_asked;
	uint64_t		 b_store_inflight; /* with the writer; 0: none */
	uint64_t		 b_store_fails;	/* batches lost, for the drain */
	TAILQ_HEAD(, client)	 b_store_waiters; /* c_store_wait set */
	TAILQ_HEAD(, client)	 b_repl_waiters; /* c_repl_wait set */
	uint64_t		 b_repl_done;	/* broker_repl_done()'s */
	ev_async		 b_store_async;	/* the writer is done */
	struct broker_stats	 b_stats;
	ev_prepare		 b_prepare_w;	/* flush dirty, free dead */
	ev_timer		 b_sys_w;
	struct sys_load		*b_sys_load;	/* sys.c's; this layer never looks */
	ev_timer		 b_expire_w;	/* persistent_client_expiration */
	ev_tstamp		 b_started;
	uint64_t		 b_id_seed;
	struct broker_hooks	 b_hooks;	/* the layer above's (cluster) */
	/* Every session's observer (b_limits.sl_obs): the cluster's. */
	struct session_obs	 b_sobs;
	/*
	 * The program's cluster, for stats.c's snapshot: set by node.c;
	 * this layer never looks inside it nor calls it.  NULL: none.
	 */
	struct cluster		*b_cluster;
	/* handle_subscribe.c: the (UN)SUBSCRIBE work done from reads in one
	 * loop iteration, all clients together, ends at b_sub_until (ns). */
	unsigned int		 b_sub_iter;
	uint64_t		 b_sub_until;
	/*
	 * The cluster's backpressure (broker_hold_publishers()): while set,
	 * a client's next PUBLISH waits unread (c_pub_held), its other
	 * packets (acks, pings) before it go on.
	 */
	int			 b_pub_hold;
	/* Reads land here first; a client keeps only a partial packet. */
	uint8_t			 b_scratch[CLIENT_READ_CHUNK];
};

/* broker.c */
/*
 * Publishes a message into the broker: retains it (when retain is set),
 * then routes it to every matching subscriber.  Borrows the views.
 * Returns 0 or CAIRN_ERR_NOMEM.
 */
int	broker_publish(struct broker *, struct bytes_view topic,
	    struct bytes_view payload, uint8_t qos, uint8_t retain);
/* broker_publish() of a message made by the caller (5.0: properties,
 * publisher, expiry); borrows m. */
int	broker_publish_msg(struct broker *, struct msg *m);
/*
 * As broker_publish_msg(), and *matched: the local deliveries and the
 * nodes forwarded to (0: no subscriber matched anywhere the routes say).
 */
int	broker_publish_msg_n(struct broker *, struct msg *m,
	    size_t *matched);
/* Queues m for session s (read ACL, limits) and sends what it can. */
void	broker_deliver(struct session *s, struct msg *m,
	    const struct session_deliv *d, void *arg);
/*
 * As broker_deliver() for a QoS 1/2 message a peer node hands over
 * (custody, broker/cluster/CLUSTER.md): when s is online and its queue
 * has no room for m, nothing is done or counted and CAIRN_ERR_LIMIT is
 * returned, so that the caller can hold m and try again as the client
 * drains; else as broker_deliver() (an offline session's queue limits
 * drop, as for a local publish), and 0.
 */
int	broker_deliver_hold(struct broker *, struct session *s,
	    struct msg *m, const struct session_deliv *d);
/*
 * From bh_connected: the CONNACK of the client connected as id waits
 * (its input too) until broker_connack_ready().  0, or CAIRN_ERR_NOENT
 * (no such client connecting: nothing waits).
 */
int	broker_connack_defer(struct broker *, const char *id, size_t len);
/*
 * The cluster's answer for id: CONNACK with session present 1 if
 * `moved` (a session came from another node), else as it was at
 * CONNECT (0: bh_connected is only asked without a local session).
 * Nothing if no client of id waits.
 */
void	broker_connack_ready(struct broker *, const char *id, size_t len,
	    int moved);
/*
 * The cluster's backpressure: hold (1) or release (0) every client's
 * next PUBLISH; a release reads the held clients again.
 */
void	broker_hold_publishers(struct broker *, int hold);
/* As broker_deliver(), with the RETAIN flag of a retained message. */
void	broker_deliver_retained(struct broker *, struct session *s,
	    struct msg *m, uint8_t qos);
/* broker_deliver_retained() for a subscription with identifier sub_id. */
void	broker_deliver_retained_id(struct broker *, struct session *s,
	    struct msg *m, uint8_t qos, uint32_t sub_id);
/* 1 if the ACL hook lets the client have access to topic. */
int	broker_acl(struct broker *, const char *client_id,
	    const char *username, struct bytes_view topic, int access);
/*
 * Ends a session: its subscriptions, its table entry, its memory; a
 * delayed will of its client id is sent now (the session ended).
 */
void	broker_session_drop(struct broker *, struct session *);
/*
 * Publishes will w of client id now (delay 0) or after delay seconds
 * (a will_wait, replacing any of that id).  Takes w.
 */
void	broker_will(struct broker *, const char *id, struct msg *w,
	    uint32_t delay);
/* Client id connected to its session again: its delayed will is dropped. */
void	broker_will_cancel(struct broker *, const char *id);

/* client.c */
/*
 * A connection on fd, accepted by l (may be NULL), over transport tr
 * (NULL: plain TCP).  Takes fd and tr; on failure (NULL: out of
 * memory) the caller still owns both.
 */
struct client *client_new(struct broker *, struct broker_listener *l,
	    int fd, const struct sockaddr *, struct transport *tr);
/*
 * Closes c: one log line (reason, unless NULL; rate-limited per kind,
 * the kind being fmt, as a remote party can cause it), a last non-blocking
 * write of what is pending, fd closed, watchers stopped, session
 * detached (and ended if clean), will published when `will` is set and
 * the client has one.  The memory is freed later by the broker, so
 * callers up the stack may still look at c->c_state.
 */
void	client_close(struct client *c, int will, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * client_close() with the rate limit of its line chosen by kind (a
 * static string, e.g. the reason) rather than by fmt: every close line
 * is logged the first time of its kind, then counted.
 */
void	client_close_kind(struct client *c, int will, const void *kind,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Says the counts of close lines held back (at most once a second). */
void	client_log_flush(struct broker *);
/* Frees a closed client (broker's b_prepare_w only). */
void	client_free(struct client *);
/* Writes pending output once; -1 if the client was closed. */
int	client_flush(struct client *);
/* Marks c for the flush of this iteration. */
void	client_dirty(struct client *);
/* Sends queued deliveries while the window and output buffer allow. */
void	client_pump(struct client *);
/*
 * A delivery send_publish() would not send (over a 5.0 client's
 * maximum packet size) is done with as if sent and acknowledged.
 */
void	client_drop_sent(struct client *, struct session_out *);
/* 1 if c holds output while every client's is at the total's cap. */
int	client_out_over(const struct client *);
/* Restarts the keepalive timer (1.5 x keepalive) or stops it. */
void	client_keepalive(struct client *);
/*
 * c_paused was cleared: handles the whole packets waiting in c's input
 * buffer and reads again.  c may be closed on return (check c_state).
 */
void	client_input_resume(struct client *);

/*
 * persist.c: data_dir.  Every function but persist_check(),
 * persist_open(), persist_close(), persist_commit() and persist_ack_seq()
 * is called only with b_store set (the caller's NULL check), and the
 * session ones only for a session with s_store_id set (persistent and
 * stored), but persist_session().
 */
/* -n: the store opens read-only and every record decodes.  0 or -1. */
int	persist_check(const struct broker_conf *, char *err, size_t errlen);
/* Opens data_dir's store and loads it into b (before broker_start()). */
int	persist_open(struct broker *, char *err, size_t errlen);
/* Commits what is pending and closes the store. */
void	persist_close(struct broker *);
/*
 * Waits until every batch made so far is durable or failed (at close):
 * 0, or -1 when one failed (its clients closed).
 */
int	persist_commit(struct broker *);
/*
 * The end of a loop iteration: hands the open batch to the store's
 * writer thread if it is idle (an empty batch someone asked for is
 * durable at once when nothing is in hand).
 */
void	persist_kick(struct broker *);
/* 1 while the store has a batch not yet committed. */
int	persist_pending(const struct broker *);
/*
 * c was just given an ack: its output waits until every batch made
 * so far is durable (c_store_gen), on b_store_waiters.
 */
void	persist_hold(struct client *);
/* 1 while c's output waits for a batch. */
int	persist_waiting(const struct client *);
/* c is no longer held (closed, or its batch is durable). */
void	persist_unhold(struct client *);
/*
 * broker.c: c was just given an ack for a message it published: when
 * replica frames went out since repl_sent() said sent (taken before
 * the message was routed), its output also waits until they are acked
 * by their holders (bh_repl_epoch), on b_repl_waiters.
 * repl_waiting(): 1 while it does; repl_unhold(): no longer (closed,
 * or acked).
 */
uint64_t repl_sent(struct broker *);
void	repl_hold(struct client *, uint64_t sent);
int	repl_waiting(const struct client *);
void	repl_unhold(struct client *);
/*
 * The durability contract (the cluster's custody waits on it too).
 * persist_gen(): the generation of the store batch that mutations made
 * now go into; 0 when there is no data_dir, and then nothing is ever
 * to be waited for.  persist_durable_gen(): the newest generation that
 * is durable (committed and, with store_sync true, synced); every
 * batch up to it is, but for the ones that failed.  Whoever holds an
 * ack for what it just stored takes g = persist_gen() and sends the
 * ack once persist_durable_gen() >= g (the hook bh_durable says when),
 * unless bh_store_failed named g first: then the ack is never sent.
 * A batch asked for by persist_gen() is committed even if it holds no
 * mutation, so a waiter on it is always answered one way or the other.
 */
uint64_t persist_gen(struct broker *);
uint64_t persist_durable_gen(const struct broker *);
void	persist_retained(struct broker *, const struct msg *m);
/* s (re)connected: stored when persistent (header, subs, deliveries). */
void	persist_session(struct broker *, struct session *);
void	persist_session_drop(struct broker *, struct session *);
void	persist_sub(struct broker *, struct session *,
	    struct bytes_view filter, uint8_t qos);
void	persist_unsub(struct broker *, struct session *,
	    struct bytes_view filter);
/* A QoS 1/2 delivery queued, or a QoS 2 one sent (its packet id). */
void	persist_out(struct broker *, struct session *, struct session_out *);
/* s's QoS 2 delivery `id` got its PUBREC: stored as released. */
void	persist_released(struct broker *, struct session *, uint16_t id);
/* The so_store_seq of s's in-flight delivery `id`, or 0. */
uint64_t persist_ack_seq(struct session *, int type, uint16_t id);
void	persist_out_done(struct broker *, struct session *, uint64_t seq);
void	persist_inq2(struct broker *, struct session *, uint16_t id,
	    int add);

/* handle_connect.c */
void	handle_connect(struct client *, const struct mqtt_connect *);
/* handle_auth.c: MQTT 5.0 enhanced authentication (SCRAM-SHA-256) */
/*
 * For a CONNECT just decoded (hdr and body: its bytes, copied to decode
 * again later): 0 when handle_connect() is to go on (no method, or the
 * exchange is done), 1 when the exchange took it (AUTH sent, or
 * refused: c is closed).
 */
int	handle_auth_connect(struct client *, const struct mqtt_hdr *,
	    struct bytes_view body, const struct mqtt_connect *);
/* An AUTH packet, before CONNACK or once connected. */
void	handle_auth(struct client *, const struct mqtt_disconnect *);
/* 1 once enhanced authentication succeeded (c_username is its user). */
int	handle_auth_ok(const struct client *);
/* 1 while the CONNECT's exchange runs: only AUTH may come. */
int	handle_auth_pending(const struct client *);
/* Adds the method and server-final to a success CONNACK's props. */
void	handle_auth_connack_props(const struct client *,
	    struct mqtt5_props *);
/* Another packet during the exchange: CONNACK 0x82 and close. */
void	handle_auth_refuse(struct client *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	handle_auth_free(struct client *);
/*
 * A CONNACK that waited for the cluster (c_connack_wait): accepted with
 * session present, then keepalive and redelivery.
 */
void	connect_accept(struct client *, int present);
/* handle_publish.c */
/* Borrows the packet; a 5.0 topic alias is resolved into its topic. */
void	handle_publish(struct client *, struct mqtt_publish *);
void	handle_ack(struct client *, int type, uint16_t id);
/* 5.0 DISCONNECT from the client (closes it). */
void	handle_disconnect5(struct client *, const struct mqtt_disconnect *);
/* handle_subscribe.c */
void	handle_subscribe(struct client *, const struct mqtt_subscribe *);
void	handle_unsubscribe(struct client *, const struct mqtt_subscribe *);
/*
 * A SUBSCRIBE or UNSUBSCRIBE with many filters is applied, and the
 * retained messages of a SUBSCRIBE are sent, in slices of about half a
 * millisecond per loop iteration.  subscribe_resume(): c's output or
 * session queue drained (client_pump()), so retained messages may go
 * on.  subscribe_cancel(): c is closing; drops what is left.
 */
void	subscribe_resume(struct client *);
void	subscribe_cancel(struct client *);
/* Tells the held counts of its rate-limited lines (client_log_flush()). */
void	subscribe_log_flush(void);

/*
 * send.c: each appends one packet to c's output buffer and marks c
 * dirty.  When the packet does not fit (twice max_output_buffer) or
 * memory runs out, c->c_broken says why and c is closed by its next
 * flush or read, never inside the send: a send may run while the
 * router is delivering, and closing publishes a will.  0, or -1 when c
 * is broken.
 */
int	send_connack(struct client *, int session_present, uint8_t rc);
/* 5.0 CONNACK with properties (the caller builds them). */
int	send_connack5(struct client *, int session_present, uint8_t rc,
	    const struct mqtt5_props *);
/*
 * A delivery.  For a 5.0 client over its maximum packet size: 1, and
 * nothing is sent: the caller drops it as if sent [MQTT-3.1.2-25].
 */
int	send_publish(struct client *, struct session_out *, int dup);
/* An ack; rc (a 5.0 reason code) is sent to a 5.0 client only. */
int	send_ack(struct client *, enum mqtt_type, uint16_t id);
int	send_ack_rc(struct client *, enum mqtt_type, uint16_t id, uint8_t rc);
/* SUBACK; for UNSUBACK at 5.0 too (codes per filter). */
int	send_suback(struct client *, uint16_t id, const uint8_t *codes,
	    size_t n);
int	send_unsuback(struct client *, uint16_t id, const uint8_t *codes,
	    size_t n);
int	send_empty(struct client *, enum mqtt_type);
/*
 * 5.0 DISCONNECT with reason rc and reason string why (a short static
 * string, NULL: none), nothing at 3.1.x.  Reason strings, here and on
 * the refusals of the acks and of CONNACK, follow the client's Request
 * Problem Information and Maximum Packet Size (send.c).
 */
int	send_disconnect(struct client *, uint8_t rc, const char *why);
/* A refusing 5.0 CONNACK (rc >= 0x80) saying why (static, or NULL). */
int	send_connack5_why(struct client *, uint8_t rc, const char *why);
/* 5.0 AUTH with reason rc and properties (method, data). */
int	send_auth(struct client *, uint8_t rc, const struct mqtt5_props *);

/*
 * client.c, 5.0: tells a 5.0 client why (DISCONNECT rc) and closes it
 * as client_close() does; a 3.1.x client is just closed.
 */
void	client_disconnect(struct client *c, uint8_t rc, int will,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));


#endif
