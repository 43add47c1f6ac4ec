/*
 * What flows on an UP link (CLUSTER.md): the snapshot sent when a link
 * comes up (ROUTES_BEGIN, ROUTE_ADD*, ROUTES_END, RETAIN*, CLAIM*,
 * PEERS), route increments, forwards with their acks and resends,
 * retained replication, client-id claims and session moves.
 *
 * Each handler decodes nothing (link.c did), applies the frame to the
 * router, retained store, sessions or the cluster's tables, and sends
 * what it owes.  A peer's bad data (a filter the trie refuses) costs
 * that item only, with a debug line.
 *
 * Client-id claims are kept only while they can decide something: a
 * claim is compared with the one kept for the same id, and a newer one
 * closes a connection of that id here.  So this node keeps its own
 * claims while their client is connected here, and a peer's claim only
 * while a session of that id is here (with none, there is nothing to
 * close; a client that connects here later makes a newer claim of its
 * own) and while that peer is up or away.  Each claim made or received
 * sweeps CLAIM_SWEEP buckets of the table for claims past that
 * (ctab_sweep()), so stale claims go at least as fast as claims come,
 * and the table stays under max_connections + max_sessions.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/broker_int.h"
#include "broker/cluster/cluster_int.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

/* Buckets of the claims table swept per claim made or received. */
#define CLAIM_SWEEP	4

static struct log_rate claims_lr = LOG_RATE_INIT(10);

static void
msg_init(struct link_msg *m, enum link_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

static struct bytes_view
view_str(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

/* --- Routes ----------------------------------------------------------- */

void
cluster_on_sub(void *arg, struct bytes_view filter, int delta)
{
	struct cluster *c = arg;
	struct link_msg m;
	int rc;

	if ((rc = cluster_route_count(&c->c_routes, filter, delta)) == 0)
		return;
	/* -1 is a withdrawal on a removal, CAIRN_ERR_NOMEM on an add. */
	if (delta > 0 && rc < 0) {
		log_warnx("cluster: route %.*s not announced: out of memory",
		    (int)filter.len, (const char *)filter.p);
		return;
	}
	msg_init(&m, rc > 0 ? LINK_ROUTE_ADD : LINK_ROUTE_DEL);
	m.u.filter = filter;
	cluster_broadcast(c, &m);
}

static int
route_clear_one(struct ctab_ent *e, void *arg)
{
	struct peer *p = arg;
	struct cluster *c = p->p_cluster;

	(void)router_remote_del(c->c_broker->b_router,
	    bytes_view_of(e->ce_key, e->ce_len), &p->p_rr);
	ctab_del(&p->p_routes, e);
	return 0;
}

void
cluster_peer_routes_clear(struct peer *p)
{
	(void)ctab_foreach(&p->p_routes, route_clear_one, p);
}

static void
route_add(struct cluster *c, struct peer *p, struct bytes_view f)
{
	struct ctab_ent *e;
	int made, rc;

	if ((e = ctab_put(&p->p_routes, f, &made)) == NULL) {
		log_warnx("cluster: route %.*s of %s: out of memory",
		    (int)f.len, (const char *)f.p, p->p_name);
		return;
	}
	e->ce_num = p->p_snap;
	if (!made)
		return;
	if ((rc = router_remote_add(c->c_broker->b_router, f,
	    &p->p_rr)) != 0) {
		log_debug("cluster: route %.*s of %s refused: %s", (int)f.len,
		    (const char *)f.p, p->p_name, cairn_strerror(rc));
		ctab_del(&p->p_routes, e);
	}
}

static void
route_del(struct cluster *c, struct peer *p, struct bytes_view f)
{
	struct ctab_ent *e;

	if ((e = ctab_get(&p->p_routes, f)) == NULL)
		return;
	(void)router_remote_del(c->c_broker->b_router, f, &p->p_rr);
	ctab_del(&p->p_routes, e);
}

/* ROUTES_END: what the snapshot did not name is gone. */
static int
route_reconcile_one(struct ctab_ent *e, void *arg)
{
	struct peer *p = arg;

	if (e->ce_num != p->p_snap)
		(void)route_clear_one(e, p);
	return 0;
}

static int
route_send_one(struct ctab_ent *e, void *arg)
{
	struct link *l = arg;
	struct link_msg m;

	msg_init(&m, LINK_ROUTE_ADD);
	m.u.filter = bytes_view_of(e->ce_key, e->ce_len);
	return link_send(l, &m) == CAIRN_ERR_CLOSED ? 1 : 0;
}

static void	cluster_sync_resend(struct cluster *, struct peer *);
static void	snap_pump(struct cluster *, struct peer *);

/* --- Retained ------------------------------------------------------- */

static int
retain_send(struct cluster *c, struct link *l, const struct msg *msg,
    uint64_t stamp, const char *origin)
{
	struct link_msg m;

	msg_init(&m, LINK_RETAIN);
	m.u.ret.stamp = stamp;
	m.u.ret.origin = view_str(origin);
	m.u.ret.topic = msg_topic(msg);
	m.u.ret.qos = msg->m_qos;
	m.u.ret.payload = msg_payload(msg);
	/* 5.0: what is left of its expiry, and its carried properties. */
	m.u.ret.expiry_ms = msg_expiry_left_ms(msg, clock_ms());
	m.u.ret.props = msg_props(msg);
	return link_send(l, &m);
}

struct retain_walk {
	struct cluster	*c;
	struct link	*l;
};

static void
retain_send_one(struct msg *msg, void *arg)
{
	struct retain_walk *rw = arg;
	struct ctab_ent *e;

	if (rw->l->l_state != LINK_UP)
		return;
	e = ctab_get(&rw->c->c_retained, msg_topic(msg));
	(void)retain_send(rw->c, rw->l, msg, e != NULL ? e->ce_num : 0,
	    e != NULL && e->ce_aux != NULL ? e->ce_aux : rw->c->c_self);
}

/*
 * Records (stamp, origin) for topic: a message's stamp, or with clear
 * set a tombstone (the stamp of a message, if any, goes).  0 or
 * CAIRN_ERR_NOMEM.
 */
static int
retain_stamp(struct cluster *c, struct bytes_view topic, uint64_t stamp,
    const char *origin, int clear)
{
	struct ctab_ent *e;
	int rc;

	if (clear) {
		if ((e = ctab_get(&c->c_retained, topic)) != NULL)
			ctab_del(&c->c_retained, e);
		(void)cluster_tombs_expire(&c->c_tombs, cluster_now_ms(c));
		rc = cluster_tombs_put(&c->c_tombs, topic, stamp, origin,
		    cluster_now_ms(c));
		return rc == CAIRN_ERR_LIMIT ? 0 : rc;
	}
	(void)cluster_tombs_del(&c->c_tombs, topic);
	if ((e = ctab_put(&c->c_retained, topic, NULL)) == NULL)
		return CAIRN_ERR_NOMEM;
	e->ce_num = stamp;
	return ctab_set_aux(&c->c_retained, e, origin);
}

/* The (stamp, origin) of topic's last write here: a message or a clear. */
static struct ctab_ent *
retain_last(struct cluster *c, struct bytes_view topic)
{
	struct ctab_ent *e;

	if ((e = ctab_get(&c->c_retained, topic)) != NULL)
		return e;
	return cluster_tombs_get(&c->c_tombs, topic);
}

static int
tomb_send_one(struct ctab_ent *e, void *arg)
{
	struct retain_walk *rw = arg;
	struct link_msg m;

	msg_init(&m, LINK_RETAIN);
	m.u.ret.stamp = e->ce_num;
	m.u.ret.origin = view_str(e->ce_aux != NULL ? e->ce_aux :
	    rw->c->c_self);
	m.u.ret.topic = bytes_view_of(e->ce_key, e->ce_len);
	m.u.ret.qos = 0;
	m.u.ret.payload = bytes_view_of("", 0);
	return link_send(rw->l, &m) == CAIRN_ERR_CLOSED ? 1 : 0;
}

void
cluster_retained(struct cluster *c, const struct msg *msg)
{
	struct peer *p;
	uint64_t stamp;

	/* $SYS and other $ topics are this node's own. */
	if (c == NULL || c->c_self == NULL || msg->m_topic_len == 0 ||
	    msg->m_topic[0] == '$')
		return;
	stamp = cluster_stamp(c);
	if (retain_stamp(c, msg_topic(msg), stamp, c->c_self,
	    msg->m_payload_len == 0) != 0)
		log_warnx("cluster: retained %s: out of memory for its "
		    "stamp", msg->m_topic);
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL)
			(void)retain_send(c, p->p_link, msg, stamp, c->c_self);
}

/* Peers can fill the store to its limits as clients can. */
static struct log_rate retain_recv_lr = LOG_RATE_INIT(10);

static void
retain_recv(struct cluster *c, struct peer *p, const struct link_retain *r)
{
	struct broker *b = c->c_broker;
	enum retain_limit why;
	struct ctab_ent *e;
	struct msg_args a;
	struct msg *msg;
	char origin[LINK_MAX_NAME + 1];
	int rc;

	memcpy(origin, r->origin.p, r->origin.len);
	origin[r->origin.len] = '\0';
	if (r->topic.p[0] == '$')
		return;
	if ((e = retain_last(c, r->topic)) != NULL &&
	    !cluster_lww_wins(r->stamp, origin, e->ce_num,
	    e->ce_aux != NULL ? e->ce_aux : ""))
		return;		/* ours is newer, or the same write */
	memset(&a, 0, sizeof(a));
	a.ma_topic = r->topic;
	a.ma_payload = r->payload;
	a.ma_props = r->props;
	a.ma_qos = r->qos;
	a.ma_retain = 1;
	a.ma_expire_at = msg_expire_at(clock_ms(), r->expiry_ms);
	if ((msg = msg_new_ex(&a)) == NULL || retain_stamp(c, r->topic, r->stamp, origin,
	    r->payload.len == 0) != 0) {
		msg_unref(msg);
		log_warnx("cluster: retained message from %s: out of memory",
		    p->p_name);
		return;
	}
	if ((rc = retain_store(b->b_retain, msg, &why)) != 0)
		log_rate_warnx(&retain_recv_lr, "cluster: retained message "
		    "on %s from %s not kept: %s%s", msg->m_topic, p->p_name,
		    why != RETAIN_LIMIT_NONE ? retain_limit_name(why) :
		    cairn_strerror(rc), why != RETAIN_LIMIT_NONE ?
		    " reached" : "");
	msg_unref(msg);
}

/* --- Claims and sessions ---------------------------------------------- */

/*
 * c_claims' ce_ptr for a claim of ours made with LINK_CLAIM_KEPT (the
 * claims of other nodes are not sent on, so theirs need no mark).
 */
static const char claim_kept_mark;

static int
claim_send(struct link *l, struct bytes_view id, uint64_t stamp,
    const char *node, uint8_t flags)
{
	struct link_msg m;

	msg_init(&m, LINK_CLAIM);
	m.u.claim.id = id;
	m.u.claim.stamp = stamp;
	m.u.claim.node = view_str(node);
	m.u.claim.flags = flags;
	return link_send(l, &m);
}

/* 1 if claim e can no longer decide anything here (see the top). */
static int
claim_stale(const struct ctab_ent *e, void *arg)
{
	struct cluster *c = arg;
	struct session *s;
	struct peer *p;

	if (e->ce_aux == NULL)
		return 1;
	s = session_table_find(c->c_broker->b_sessions, e->ce_key, e->ce_len);
	if (strcmp(e->ce_aux, c->c_self) == 0)
		return s == NULL || s->s_client == NULL;
	/* A replica held here may become the session: its claim stays. */
	if (s == NULL && !replica_holds(c, bytes_view_of(e->ce_key,
	    e->ce_len)))
		return 1;
	p = cluster_peer_find(c, e->ce_aux);
	return p == NULL || (p->p_link == NULL && !p->p_away);
}

/*
 * Session present after a move (MQTT-3.2.2-2).  A persistent CONNECT
 * with no session here asks every UP peer (SESSION_TAKE); each answers
 * SESSION_DATA (the session moves here) or SESSION_NONE.  The CONNACK
 * waits (broker_connack_defer()) until every peer asked has answered,
 * its link went, or session_take_timeout passed, then says session
 * present 1 if any session data came.  At most one wait per client
 * connecting, each with at most max_peers names.
 */
struct take_wait {
	TAILQ_ENTRY(take_wait)	 tw_entry;	/* c_takes */
	struct cluster		*tw_cluster;
	ev_timer		 tw_timer_w;
	struct peer		**tw_peers;	/* asked; NULL once answered */
	size_t			 tw_npeers;
	size_t			 tw_left;
	int			 tw_moved;
	size_t			 tw_idlen;
	char			 tw_id[];
};

static void	take_wait_on_timer(struct ev_loop *, ev_timer *, int);

static void
take_wait_free(struct cluster *c, struct take_wait *tw)
{
	ev_timer_stop(c->c_loop, &tw->tw_timer_w);
	TAILQ_REMOVE(&c->c_takes, tw, tw_entry);
	c->c_ntakes--;
	free(tw->tw_peers);
	free(tw);
}

/* Every answer is in (or the time is up): the CONNACK goes. */
static void
take_wait_end(struct cluster *c, struct take_wait *tw)
{
	char id[LINK_MAX_NAME + 1];
	size_t len = tw->tw_idlen;
	int moved = tw->tw_moved;

	memcpy(id, tw->tw_id, len + 1);
	take_wait_free(c, tw);
	broker_connack_ready(c->c_broker, id, len, moved);
}

static struct take_wait *
take_wait_find(struct cluster *c, const char *id, size_t len)
{
	struct take_wait *tw;

	TAILQ_FOREACH(tw, &c->c_takes, tw_entry)
		if (tw->tw_idlen == len && memcmp(tw->tw_id, id, len) == 0)
			return tw;
	return NULL;
}

static void
take_wait_start(struct cluster *c, const char *id, size_t len)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	struct take_wait *tw;
	struct peer *p;
	size_t n = 0;

	if (bc->bc_session_take_timeout_ms == 0 || len > LINK_MAX_NAME)
		return;
	/* A client connecting again: the older wait is its no more. */
	if ((tw = take_wait_find(c, id, len)) != NULL)
		take_wait_free(c, tw);
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL)
			n++;
	if (n == 0 || (tw = calloc(1, sizeof(*tw) + len + 1)) == NULL)
		return;
	if ((tw->tw_peers = calloc(n, sizeof(*tw->tw_peers))) == NULL) {
		free(tw);
		return;
	}
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL && tw->tw_npeers < n)
			tw->tw_peers[tw->tw_npeers++] = p;
	tw->tw_left = tw->tw_npeers;
	tw->tw_cluster = c;
	tw->tw_idlen = len;
	memcpy(tw->tw_id, id, len);
	tw->tw_id[len] = '\0';
	if (broker_connack_defer(c->c_broker, id, len) != 0) {
		free(tw->tw_peers);
		free(tw);
		return;
	}
	TAILQ_INSERT_TAIL(&c->c_takes, tw, tw_entry);
	c->c_ntakes++;
	ev_timer_init(&tw->tw_timer_w, take_wait_on_timer,
	    (ev_tstamp)bc->bc_session_take_timeout_ms / 1000.0, 0.);
	ev_timer_start(c->c_loop, &tw->tw_timer_w);
}

static void
take_wait_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct take_wait *tw = container_of(w, struct take_wait, tw_timer_w);

	(void)loop;
	(void)revents;
	log_info("client %s: %zu of %zu nodes did not answer for its session "
	    "within session_take_timeout: CONNACK says session present %d",
	    tw->tw_id, tw->tw_left, tw->tw_npeers, tw->tw_moved);
	take_wait_end(tw->tw_cluster, tw);
}

/* p answered for id (moved: with the session), or cannot any more. */
static void
take_wait_answer(struct cluster *c, struct take_wait *tw, struct peer *p,
    int moved)
{
	size_t i;

	for (i = 0; i < tw->tw_npeers; i++) {
		if (tw->tw_peers[i] != p)
			continue;
		tw->tw_peers[i] = NULL;
		tw->tw_left--;
		break;
	}
	if (moved)
		tw->tw_moved = 1;
	if (tw->tw_left == 0)
		take_wait_end(c, tw);
}

void
cluster_sync_peer_gone(struct cluster *c, struct peer *p)
{
	struct take_wait *tw, *n;

	TAILQ_FOREACH_SAFE(tw, &c->c_takes, tw_entry, n)
		take_wait_answer(c, tw, p, 0);
}

void
cluster_claim(struct cluster *c, const char *id, size_t len, int persistent,
    int kept)
{
	struct ctab_ent *e;
	struct link_msg m;
	struct peer *p;
	uint64_t stamp;
	uint8_t flags = kept ? LINK_CLAIM_KEPT : 0;

	if (c == NULL || c->c_self == NULL ||
	    !link_name_valid(bytes_view_of(id, len)))
		return;
	stamp = cluster_stamp(c);
	(void)ctab_sweep(&c->c_claims, CLAIM_SWEEP, claim_stale, c);
	if ((e = ctab_put(&c->c_claims, bytes_view_of(id, len), NULL)) ==
	    NULL || ctab_set_aux(&c->c_claims, e, c->c_self) != 0) {
		log_warnx("cluster: client %s: claim not kept: out of memory",
		    id);
		return;
	}
	e->ce_num = stamp;
	e->ce_ptr = kept ? (void *)(uintptr_t)&claim_kept_mark : NULL;
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL)
			(void)claim_send(p->p_link, bytes_view_of(id, len),
			    stamp, c->c_self, flags);
	if (!persistent)
		return;
	msg_init(&m, LINK_SESSION_TAKE);
	m.u.take_id = bytes_view_of(id, len);
	take_wait_start(c, id, len);
	cluster_broadcast(c, &m);
}

static void
claim_recv(struct cluster *c, struct peer *p, const struct link_claim *cl)
{
	struct broker *b = c->c_broker;
	struct ctab_ent *e;
	struct session *s;
	struct peer *by;
	char node[LINK_MAX_NAME + 1];
	int held;

	memcpy(node, cl->node.p, cl->node.len);
	node[cl->node.len] = '\0';
	if (strcmp(node, c->c_self) == 0)
		return;		/* ours, echoed by a snapshot */
	(void)ctab_sweep(&c->c_claims, CLAIM_SWEEP, claim_stale, c);
	e = ctab_get(&c->c_claims, cl->id);
	/* A replica whose owner is gone becomes the session now. */
	held = replica_wanted(c, cl->id);
	s = session_table_find(b->b_sessions, (const char *)cl->id.p,
	    cl->id.len);
	if (s == NULL && !held) {
		/* Nothing of that id here to close or to keep. */
		if (e != NULL)
			ctab_del(&c->c_claims, e);
		return;
	}
	if (e != NULL && !cluster_lww_wins(cl->stamp, node, e->ce_num,
	    e->ce_aux != NULL ? e->ce_aux : ""))
		return;		/* an older connection: ours stays */
	if (e == NULL && c->c_claims.ct_count >=
	    (size_t)b->b_conf->bc_max_connections + b->b_conf->bc_max_sessions) {
		/* Cannot happen while the rules above hold: a bound all
		 * the same. */
		log_rate_warnx(&claims_lr, "cluster: claim of %.*s from %s "
		    "not kept: %zu claims", (int)cl->id.len,
		    (const char *)cl->id.p, node, c->c_claims.ct_count);
	} else if (e != NULL || (e = ctab_put(&c->c_claims, cl->id,
	    NULL)) != NULL) {
		e->ce_num = cl->stamp;
		e->ce_ptr = NULL;
		(void)ctab_set_aux(&c->c_claims, e, node);
	}
	/* 5.0: the old connection hears why (0x8E), as on one node. */
	if (s != NULL && s->s_client != NULL)
		client_disconnect(s->s_client, MQTT5_RC_SESSION_TAKEN_OVER, 1,
		    "taken over by a connection on node %s", node);
	if (s != NULL && (by = cluster_peer_find(c, node)) != NULL)
		replica_claimed(c, by, cl->id, cl->stamp,
		    (cl->flags & LINK_CLAIM_KEPT) != 0);
}

struct claim_walk {
	struct cluster	*c;
	struct link	*l;
};

static int
claim_send_one(struct ctab_ent *e, void *arg)
{
	struct claim_walk *cw = arg;
	struct cluster *c = cw->c;
	struct session *s;

	if (e->ce_aux == NULL || strcmp(e->ce_aux, c->c_self) != 0)
		return 0;
	/* Only clients still connected here; the others are pruned. */
	s = session_table_find(c->c_broker->b_sessions, e->ce_key, e->ce_len);
	if (s == NULL || s->s_client == NULL) {
		ctab_del(&c->c_claims, e);
		return 0;
	}
	return claim_send(cw->l, bytes_view_of(e->ce_key, e->ce_len),
	    e->ce_num, c->c_self, e->ce_ptr == &claim_kept_mark ?
	    LINK_CLAIM_KEPT : 0) == CAIRN_ERR_CLOSED ? 1 : 0;
}

/*
 * A session moving to a peer: its subscriptions went in the first
 * SESSION_DATA, its messages follow in frames of at most
 * SESSION_MOVE_SLICE bytes, one per loop iteration (the receiver merges
 * each as it comes, so neither node holds its loop for the whole
 * queue).  It is out of the session table and the router from the
 * start; the peer is looked up by name for each slice, since it may be
 * forgotten meanwhile (then the rest is lost, with the log line).  A
 * link that cannot take more is retried every SESSION_MOVE_RETRY.
 * Owned by its watchers' callback, which frees it when done; one still
 * moving when the process exits is not freed (struct cluster has no
 * list of them).
 */
#define SESSION_MOVE_SLICE	(256 * 1024)
#define SESSION_MOVE_RETRY	0.01

struct session_move {
	TAILQ_ENTRY(session_move) sm_entry;	/* c_moves */
	ev_idle		 sm_idle_w;
	ev_timer	 sm_retry_w;
	struct cluster	*sm_cluster;
	struct session	*sm_session;	/* owned, out of the table */
	char		*sm_peer;	/* owned */
	uint32_t	 sm_nsubs;
	uint32_t	 sm_sent;
	uint32_t	 sm_lost;
	uint32_t	 sm_frames;
};

static void	session_move_on_idle(struct ev_loop *, ev_idle *, int);
static void	session_move_on_retry(struct ev_loop *, ev_timer *, int);

static void
session_move_end(struct session_move *mv, const char *why)
{
	struct ev_loop *loop = mv->sm_cluster->c_loop;
	struct session *s = mv->sm_session;
	struct session_out *o;

	while ((o = session_take_first(s)) != NULL) {
		mv->sm_lost++;
		session_out_free(o);
	}
	if (why != NULL)
		log_warnx("client %s: session move to node %s cut short (%s): "
		    "%u subscriptions, %u messages sent, %u lost", s->s_id,
		    mv->sm_peer, why, mv->sm_nsubs, mv->sm_sent, mv->sm_lost);
	else
		log_info("client %s: session moved to node %s (%u "
		    "subscriptions, %u messages in %u frames%s)", s->s_id,
		    mv->sm_peer, mv->sm_nsubs, mv->sm_sent, mv->sm_frames,
		    mv->sm_lost > 0 ? ", some lost at max_frame" : "");
	ev_idle_stop(loop, &mv->sm_idle_w);
	ev_timer_stop(loop, &mv->sm_retry_w);
	TAILQ_REMOVE(&mv->sm_cluster->c_moves, mv, sm_entry);
	session_free(s);
	free(mv->sm_peer);
	free(mv);
}

void
cluster_sync_free(struct cluster *c)
{
	struct session_move *mv;
	struct take_wait *tw;

	while ((mv = TAILQ_FIRST(&c->c_moves)) != NULL)
		session_move_end(mv, "the node is stopping");
	while ((tw = TAILQ_FIRST(&c->c_takes)) != NULL)
		take_wait_free(c, tw);
}

/* One SESSION_DATA of id with subs (may be empty) and up to a slice. */
static int
session_move_frame(struct session_move *mv, struct link *l,
    struct bytes_view subs, uint32_t nsubs)
{
	struct cluster *c = mv->sm_cluster;
	struct session *s = mv->sm_session;
	struct session_out *o;
	struct bytes_w msgs;
	struct link_msg m;
	struct link_smsg sm;
	size_t room = c->c_lconf.lc_max_frame - CLUSTER_FRAME_SLACK;
	uint64_t now = clock_ms();
	uint32_t n = 0;
	int rc;

	bytes_w_init(&msgs, room);
	while (msgs.len < SESSION_MOVE_SLICE &&
	    (o = session_take_first(s)) != NULL) {
		memset(&sm, 0, sizeof(sm));
		sm.qos = o->so_qos;
		sm.topic = msg_topic(o->so_msg);
		sm.payload = msg_payload(o->so_msg);
		sm.v5.from = msg_from(o->so_msg);
		sm.v5.expiry_ms = msg_expiry_left_ms(o->so_msg, now);
		sm.v5.props = msg_props(o->so_msg);
		/* The session's own subscription ids move with it. */
		sm.retain = o->so_retain;
		for (sm.nids = 0; sm.nids < o->so_nids &&
		    sm.nids < LINK_MAX_SUB_IDS; sm.nids++)
			sm.ids[sm.nids] = o->so_ids[sm.nids];
		/* One message past the slice goes if the frame has room. */
		if (o->so_state == SESSION_OUT_QUEUED &&
		    msg_expired(o->so_msg, now))
			s->s_expired++;		/* never sent: it expired */
		else if (subs.len + msgs.len + msg_bytes(o->so_msg) + 64 >
		    room || link_put_session_msg5(&msgs, &sm) != 0)
			mv->sm_lost++;
		else
			n++;
		session_out_free(o);
	}
	msg_init(&m, LINK_SESSION_DATA);
	m.u.sess.id = bytes_view_of(s->s_id, s->s_id_len);
	m.u.sess.nsubs = nsubs;
	m.u.sess.subs = subs;
	m.u.sess.nmsgs = n;
	m.u.sess.msgs = bytes_view_of(msgs.buf, msgs.len);
	m.u.sess.flags = (s->s_has_expiry ? LINK_SESS_EXPIRY : 0) |
	    (s->s_v5 ? LINK_SESS_V5 : 0);
	m.u.sess.expiry = s->s_has_expiry ? s->s_expiry : 0;
	rc = link_send(l, &m);
	bytes_w_fini(&msgs);
	if (rc != 0)
		return rc;
	mv->sm_sent += n;
	mv->sm_frames++;
	return 0;
}

/* The next slice, or the end; called once per loop iteration. */
static void
session_move_step(struct session_move *mv)
{
	struct cluster *c = mv->sm_cluster;
	struct peer *p;

	if ((p = cluster_peer_find(c, mv->sm_peer)) == NULL ||
	    p->p_link == NULL) {
		session_move_end(mv, "its link is down");
		return;
	}
	if (!link_writable(p->p_link)) {
		ev_idle_stop(c->c_loop, &mv->sm_idle_w);
		if (!ev_is_active(&mv->sm_retry_w))
			ev_timer_start(c->c_loop, &mv->sm_retry_w);
		return;
	}
	if (session_move_frame(mv, p->p_link, bytes_view_of("", 0), 0) != 0) {
		session_move_end(mv, "the link refused a frame");
		return;
	}
	if (mv->sm_session->s_ninflight + mv->sm_session->s_queued == 0)
		session_move_end(mv, NULL);
}

static void
session_move_on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	session_move_step(container_of(w, struct session_move, sm_idle_w));
}

static void
session_move_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session_move *mv = container_of(w, struct session_move,
	    sm_retry_w);

	ev_idle_start(loop, &mv->sm_idle_w);
}

/* SESSION_NONE: no session of id here (the CONNACK there may go). */
static void
session_none(struct peer *p, struct bytes_view id)
{
	struct link_msg m;

	if (p->p_link == NULL)
		return;
	msg_init(&m, LINK_SESSION_NONE);
	m.u.take_id = id;
	(void)link_send(p->p_link, &m);
}

/*
 * SESSION_TAKE: the client is on p now.  A persistent session here goes
 * there: its subscriptions in one SESSION_DATA at once, its in-flight
 * and queued messages (in that order) after it, in slices (above).
 */
static void
session_take(struct cluster *c, struct peer *p, struct bytes_view id)
{
	struct broker *b = c->c_broker;
	struct session *s;
	struct session_sub *sub;
	struct link_sub ls;
	struct session_move *mv;
	struct bytes_w subs;
	size_t room = c->c_lconf.lc_max_frame - CLUSTER_FRAME_SLACK;
	uint32_t nsubs = 0;

	/* A replica whose owner is gone becomes the session now. */
	(void)replica_wanted(c, id);
	s = session_table_find(b->b_sessions, (const char *)id.p, id.len);
	if (s == NULL || s->s_clean) {
		session_none(p, id);
		return;
	}
	if (s->s_client != NULL)
		client_disconnect(s->s_client, MQTT5_RC_SESSION_TAKEN_OVER, 1,
		    "session moved to node %s", p->p_name);
	if ((s = session_table_find(b->b_sessions, (const char *)id.p,
	    id.len)) == NULL || p->p_link == NULL) {
		session_none(p, id);
		return;
	}
	if ((mv = calloc(1, sizeof(*mv))) == NULL ||
	    (mv->sm_peer = strdup(p->p_name)) == NULL) {
		free(mv);
		log_warnx("client %s: session not moved to %s: out of memory",
		    s->s_id, p->p_name);
		broker_session_drop(b, s);
		session_none(p, id);
		return;
	}
	mv->sm_cluster = c;
	mv->sm_session = s;
	TAILQ_INSERT_TAIL(&c->c_moves, mv, sm_entry);
	ev_idle_init(&mv->sm_idle_w, session_move_on_idle);
	ev_timer_init(&mv->sm_retry_w, session_move_on_retry,
	    SESSION_MOVE_RETRY, 0.);
	bytes_w_init(&subs, room);
	TAILQ_FOREACH(sub, &s->s_subs, ss_entry) {
		ls.filter = bytes_view_of(sub->ss_filter, sub->ss_len);
		ls.qos = sub->ss_qos;
		ls.no_local = sub->ss_no_local;
		ls.rap = sub->ss_rap;
		ls.rh = sub->ss_rh;
		ls.sub_id = sub->ss_sub_id;
		if (link_put_session_sub5(&subs, &ls) == 0)
			nsubs++;
	}
	mv->sm_nsubs = nsubs;
	/* Out of the router and the table now: the client is on p. */
	router_unsubscribe_all(b->b_router, s);
	session_table_remove(b->b_sessions, s);
	if (subs.err != 0 || session_move_frame(mv, p->p_link,
	    bytes_view_of(subs.buf, subs.len), nsubs) != 0) {
		bytes_w_fini(&subs);
		session_move_end(mv, "its subscriptions do not fit max_frame");
		return;
	}
	bytes_w_fini(&subs);
	if (s->s_ninflight + s->s_queued == 0) {
		session_move_end(mv, NULL);
		return;
	}
	ev_idle_start(c->c_loop, &mv->sm_idle_w);
}

void
cluster_session_give(struct cluster *c, struct peer *p, struct bytes_view id)
{
	session_take(c, p, id);
}
static void	session_data_merge(struct cluster *, struct peer *,
		    struct session *, const struct link_session *);

/* SESSION_DATA: merge a moved session into the local one of that id. */
static void
session_data(struct cluster *c, struct peer *p, const struct link_session *d)
{
	struct broker *b = c->c_broker;
	struct take_wait *tw;
	struct session *s;

	s = session_table_find(b->b_sessions, (const char *)d->id.p,
	    d->id.len);
	if (s == NULL || s->s_clean) {
		log_info("client %.*s: session from %s dropped: no "
		    "persistent session here now", (int)d->id.len,
		    (const char *)d->id.p, p->p_name);
		return;
	}
	/*
	 * The session's 5.0 state comes with it (the first frame of a move
	 * and every later one say the same), unless the client is back here
	 * on a connection of its own, whose CONNECT said what holds now.
	 */
	if (!session_online(s)) {
		session_set_level(s, (d->flags & LINK_SESS_V5) != 0,
		    (d->flags & LINK_SESS_EXPIRY) != 0, d->expiry);
	}
	/* Merged before the CONNACK goes, so it says present 1. */
	if ((tw = take_wait_find(c, (const char *)d->id.p,
	    d->id.len)) != NULL) {
		session_data_merge(c, p, s, d);
		take_wait_answer(c, tw, p, 1);
		return;
	}
	session_data_merge(c, p, s, d);
}

static void
session_data_merge(struct cluster *c, struct peer *p, struct session *s,
    const struct link_session *d)
{
	struct broker *b = c->c_broker;
	struct bytes_view list;
	struct session_deliv dl;
	struct link_sub ls;
	struct link_smsg sm;
	struct sub_opts so;
	struct msg_args a;
	struct msg *msg;
	uint64_t now = clock_ms();

	memset(&dl, 0, sizeof(dl));
	list = d->subs;
	while (link_session_sub_next5(&list, &ls)) {
		if (session_sub_find(s, ls.filter) != NULL ||
		    s->s_nsubs >= b->b_conf->bc_max_subscriptions)
			continue;
		memset(&so, 0, sizeof(so));
		so.qos = ls.qos;
		so.no_local = ls.no_local;
		so.rap = ls.rap;
		so.rh = ls.rh;
		so.sub_id = ls.sub_id;
		(void)router_subscribe_opts(b->b_router, s, ls.filter, &so,
		    NULL);
	}
	list = d->msgs;
	while (link_session_msg_next5(&list, &sm)) {
		memset(&a, 0, sizeof(a));
		a.ma_topic = sm.topic;
		a.ma_payload = sm.payload;
		a.ma_props = sm.v5.props;
		a.ma_from = sm.v5.from;
		a.ma_qos = sm.qos;
		/* Re-based on this node's clock: it keeps counting down. */
		a.ma_expire_at = msg_expire_at(now, sm.v5.expiry_ms);
		if ((msg = msg_new_ex(&a)) == NULL)
			break;
		dl.sd_qos = sm.qos;
		dl.sd_retain = sm.retain;
		for (dl.sd_nids = 0; dl.sd_nids < sm.nids &&
		    dl.sd_nids < SESSION_MAX_SUB_IDS; dl.sd_nids++)
			dl.sd_ids[dl.sd_nids] = sm.ids[dl.sd_nids];
		broker_deliver(s, msg, &dl, b);
		msg_unref(msg);
	}
	/* The first frame of a move has the subscriptions; the rest follow
	 * in slices, logged at debug level only. */
	if (d->nsubs > 0)
		log_info("client %s: session taken from node %s (%u "
		    "subscriptions, %u messages so far)", s->s_id, p->p_name,
		    d->nsubs, d->nmsgs);
	else
		log_debug("client %s: %u more messages of the session from "
		    "node %s", s->s_id, d->nmsgs, p->p_name);
}

/* --- Forwards ----------------------------------------------------------- */

/* groups: the encoded list of ngroups $share filters (may be empty). */
static int
forward_send(struct link *l, uint64_t seq, const struct msg *msg,
    uint8_t qos, struct bytes_view groups, uint16_t ngroups)
{
	struct link_msg m;

	msg_init(&m, LINK_FORWARD);
	m.u.fwd.seq = seq;
	m.u.fwd.qos = qos;
	m.u.fwd.retain = msg->m_retain ? 1 : 0;
	m.u.fwd.topic = msg_topic(msg);
	m.u.fwd.payload = msg_payload(msg);
	m.u.fwd.ngroups = ngroups;
	m.u.fwd.groups = groups;
	/*
	 * 5.0: the publisher (for no local there), the expiry left (the
	 * receiver re-bases it on its clock) and the carried properties.
	 * Subscription identifiers stay: they are the receiver's.
	 */
	m.u.fwd.v5.from = msg_from(msg);
	/* The clock only for a message that expires. */
	m.u.fwd.v5.expiry_ms = msg->m_expire_at != 0 ?
	    msg_expiry_left_ms(msg, clock_ms()) : 0;
	m.u.fwd.v5.props = msg_props(msg);
	/* The away nodes whose spools have it too (a promoted session of
	 * theirs here does not give it back to them). */
	while (m.u.fwd.nspooled < MSG_SPOOLED_MAX && qos > 0 &&
	    msg->m_spooled[m.u.fwd.nspooled] != 0) {
		m.u.fwd.spooled[m.u.fwd.nspooled] =
		    msg->m_spooled[m.u.fwd.nspooled];
		m.u.fwd.nspooled++;
	}
	return link_send(l, &m);
}

static void
forward_dropped(struct peer *p, const char *why)
{
	p->p_dropped++;
	if (!p->p_drop_logged) {
		log_warnx("cluster: forwards to %s dropped: %s", p->p_name,
		    why);
		p->p_drop_logged = 1;
	}
}

void
cluster_sync_pump(struct cluster *c, struct peer *p)
{
	snap_pump(c, p);
	replica_pump(c);
}

/* What the link and the receiver's credit take, in seq order. */
static void
cluster_sync_resend(struct cluster *c, struct peer *p)
{
	struct cluster_fwd *f;

	while (p->p_link != NULL && link_writable(p->p_link) &&
	    (f = cluster_fwdq_sendable(&p->p_fwdq)) != NULL) {
		if (f->cf_msg->m_expire_at != 0 &&
		    msg_expired(f->cf_msg, clock_ms())) {
			/*
			 * MQTT 5.0 message expiry passed while it waited
			 * (away peer, no credit): no subscriber may get it
			 * [MQTT-3.3.2-5], so it does not go again.
			 */
			cluster_fwdq_drop(&p->p_fwdq, f);
			c->c_cst.cs_drop_expired++;
			continue;
		}
		if (forward_send(p->p_link, f->cf_seq, f->cf_msg,
		    f->cf_qos, bytes_view_of(f->cf_groups, f->cf_glen),
		    f->cf_ngroups) != 0)
			return;
		cluster_fwdq_sent(&p->p_fwdq, f);
		f->cf_sent_at = ev_now(c->c_loop);
	}
}

/*
 * The FORWARD_ACK of seq came from p: its round trip, when it is the
 * oldest forward (acks come in order, so it nearly always is; a later
 * one is not looked for, to keep an ack O(1)).
 */
static void
forward_rtt(struct cluster *c, struct peer *p, uint64_t seq)
{
	static const double bounds[] = CLUSTER_RTT_BOUNDS;
	struct cluster_fwd *f = TAILQ_FIRST(&p->p_fwdq.cq_list);
	double ms;
	size_t i;

	if (f == NULL || f->cf_seq != seq || f->cf_sent_at <= 0)
		return;
	ms = (ev_now(c->c_loop) - f->cf_sent_at) * 1000.0;
	if (ms < 0)
		ms = 0;
	for (i = 0; i < CLUSTER_RTT_NBOUNDS && ms > bounds[i]; i++)
		;
	c->c_rtt.cr_bucket[i]++;
	c->c_rtt.cr_sum_ms += ms;
	c->c_rtt.cr_count++;
	p->p_rtt_ms = p->p_rtt_ms < 0 ? ms : p->p_rtt_ms * 0.8 + ms * 0.2;
}

/*
 * The router picked p for the shared groups groups[0..ngroups) (if
 * any) of msg, and/or p has a route that matches: one FORWARD, naming
 * the groups p serves for this message.
 */
void
cluster_on_forward(struct router_remote *rr, struct msg *msg,
    const struct bytes_view *groups, size_t ngroups, void *arg)
{
	struct cluster *c = arg;
	struct peer *p = container_of(rr, struct peer, p_rr);
	struct cluster_fwd *f;
	struct bytes_view gl;
	uint16_t ng = 0;
	size_t i;
	int err;

	bytes_w_reset(&c->c_gbuf);
	for (i = 0; i < ngroups && ng < UINT16_MAX; i++)
		if (link_put_group(&c->c_gbuf, groups[i]) == 0)
			ng++;
	if (c->c_gbuf.err != 0) {
		forward_dropped(p, "shared groups over max_frame");
		return;
	}
	gl = bytes_view_of(c->c_gbuf.buf, c->c_gbuf.len);
	if (msg->m_qos == 0) {
		/* At most once: a link that cannot take it loses it. */
		if (p->p_link == NULL) {
			/* Away: its routes stay, at most once does not wait. */
			p->p_dropped++;
		} else if (!link_writable(p->p_link))
			forward_dropped(p, "QoS 0 and the link is full");
		else if (forward_send(p->p_link, 0, msg, 0, gl, ng) == 0)
			p->p_drop_logged = 0;
		return;
	}
	/*
	 * Spooled for an away peer: noted on the message, so that the
	 * FORWARDs of it to the others say so (a session of p promoted
	 * on one of them is not given it back: p gets it from here).
	 */
	if (p->p_away)
		(void)msg_spool_mark(msg, p->p_hash);
	/* An away peer's spool keeps the newest: the oldest go. */
	while (p->p_away && cluster_fwdq_full(&p->p_fwdq, msg) &&
	    cluster_fwdq_drop_oldest(&p->p_fwdq)) {
		p->p_away_dropped++;
		p->p_dropped++;
		c->c_cst.cs_drop_spool_full++;
	}
	if ((f = cluster_fwdq_push(&p->p_fwdq, msg, msg->m_qos,
	    &err)) == NULL) {
		if (err == CAIRN_ERR_LIMIT)
			c->c_cst.cs_drop_buffer_full++;
		else
			c->c_cst.cs_drop_nomem++;
		forward_dropped(p, err == CAIRN_ERR_LIMIT ?
		    "twice max_forward_buffer(_bytes) reached while "
		    "publishers were held" : "out of memory");
		return;
	}
	if (ng > 0 && cluster_fwd_set_groups(f, gl, ng) != 0)
		log_warnx("cluster: forward to %s: out of memory for its "
		    "shared groups", p->p_name);
	p->p_drop_logged = 0;
	custody_sender_check(c, p);
	if (c->c_naway > 0) {
		/* After the routing: every spool it goes to noted first. */
		p->p_fwd_due = 1;
		if (!ev_is_active(&c->c_fwd_w))
			ev_prepare_start(c->c_loop, &c->c_fwd_w);
		return;
	}
	cluster_sync_pump(c, p);
}

void
cluster_sync_on_fwd(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct cluster *c = container_of(w, struct cluster, c_fwd_w);
	struct peer *p, *next;

	(void)loop;
	(void)revents;
	ev_prepare_stop(c->c_loop, &c->c_fwd_w);
	for (p = TAILQ_FIRST(&c->c_peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, p_entry);
		if (!p->p_fwd_due)
			continue;
		p->p_fwd_due = 0;
		cluster_sync_pump(c, p);
	}
}

/* The groups of a received FORWARD as views into it, in c_gviews. */
static size_t
forward_groups(struct cluster *c, const struct link_forward *f)
{
	struct bytes_view list = f->groups, *nv;
	size_t n = 0;

	if (f->ngroups > c->c_capgviews) {
		if ((nv = reallocarray(c->c_gviews, f->ngroups,
		    sizeof(*nv))) == NULL)
			return 0;
		c->c_gviews = nv;
		c->c_capgviews = f->ngroups;
	}
	while (n < f->ngroups &&
	    link_forward_group_next(&list, &c->c_gviews[n]))
		n++;
	return n;
}

struct msg *
cluster_forward_msg(const struct link_forward *f)
{
	struct msg_args a;
	struct msg *m;
	uint8_t i;

	memset(&a, 0, sizeof(a));
	a.ma_topic = f->topic;
	a.ma_payload = f->payload;
	a.ma_props = f->v5.props;
	a.ma_from = f->v5.from;
	a.ma_qos = f->qos;
	a.ma_retain = f->retain;
	a.ma_expire_at = msg_expire_at(clock_ms(), f->v5.expiry_ms);
	if ((m = msg_new_ex(&a)) != NULL)
		for (i = 0; i < f->nspooled; i++)
			(void)msg_spool_mark(m, f->spooled[i]);
	return m;
}

static void
forward_recv(struct cluster *c, struct peer *p, const struct link_forward *f)
{
	struct broker *b = c->c_broker;
	struct msg *msg;

	if (f->seq != 0) {
		/* QoS 1/2: acked once queued here (custody.c). */
		custody_forward(c, p, f);
		return;
	}
	if ((msg = cluster_forward_msg(f)) == NULL) {
		log_warnx("cluster: forward from %s dropped: out of memory",
		    p->p_name);
		return;
	}
	b->b_stats.bs_pub_received++;
	/*
	 * Matched here only: a forwarded message never goes on, and a
	 * shared group gets it only when the sender picked this node.
	 */
	(void)router_route_local(b->b_router, msg, c->c_gviews,
	    forward_groups(c, f), broker_deliver, b);
	msg_unref(msg);
}

/* --- PEERS ------------------------------------------------------------ */

/* "name" or "name addr:port": what this node knows of where n listens. */
static int
peers_put(struct bytes_w *w, const char *name, const struct sockaddr *sa)
{
	char buf[LINK_MAX_NAME + 1], addr[SOCK_NTOP_LEN];

	if (sa == NULL)
		snprintf(buf, sizeof(buf), "%s", name);
	else if ((size_t)snprintf(buf, sizeof(buf), "%s %s", name,
	    sock_ntop(sa, addr, sizeof(addr))) >= sizeof(buf))
		snprintf(buf, sizeof(buf), "%s", name);
	return link_put_peer(w, view_str(buf));
}

static void
peers_send(struct cluster *c, struct peer *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct bytes_w w;
	struct link_msg m;
	struct peer *p;
	uint16_t n = 0;

	bytes_w_init(&w, c->c_lconf.lc_max_frame - CLUSTER_FRAME_SLACK);
	/* This node first, at the address its peer reached it on. */
	if (getsockname(to->p_link->l_fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port =
			    htons(c->c_port);
		else if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    htons(c->c_port);
		if (peers_put(&w, c->c_self, (struct sockaddr *)&ss) == 0)
			n++;
	}
	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		if (p == to || p->p_link == NULL || n == UINT16_MAX)
			continue;
		if (peers_put(&w, p->p_name, p->p_sl > 0 ?
		    (struct sockaddr *)&p->p_ss : NULL) == 0)
			n++;
	}
	msg_init(&m, LINK_PEERS);
	m.u.peers.n = n;
	m.u.peers.names = bytes_view_of(w.buf, w.len);
	if (w.err == 0)
		(void)link_send(to->p_link, &m);
	bytes_w_fini(&w);
}

void
cluster_sync_peers_all(struct cluster *c)
{
	struct peer *p, *n;

	TAILQ_FOREACH_SAFE(p, &c->c_peers, p_entry, n)
		if (p->p_link != NULL)
			peers_send(c, p);
}

static void
peers_recv(struct cluster *c, struct peer *from, const struct link_peers *pl)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct bytes_view list = pl->names, v;
	struct peer *p;
	char buf[LINK_MAX_NAME + 1], *sp, *colon;
	struct conf_hostport hp;

	while (link_peers_next(&list, &v)) {
		memcpy(buf, v.p, v.len);
		buf[v.len] = '\0';
		sl = 0;
		if ((sp = strchr(buf, ' ')) != NULL) {
			*sp++ = '\0';
			memset(&hp, 0, sizeof(hp));
			if ((colon = strrchr(sp, ':')) != NULL &&
			    conf_parse_hostport(sp, 0, &hp) == 0 &&
			    sock_addr_parse(hp.host, hp.port, &ss, &sl) != 0)
				sl = 0;
			free(hp.host);
		}
		if (strcmp(buf, c->c_self) == 0 || strchr(buf, '@') == NULL)
			continue;
		p = cluster_peer_find(c, buf);
		/* The sender's own entry tells where to redial it. */
		if (p == from && sl > 0 && from->p_sl == 0) {
			memcpy(&from->p_ss, &ss, sl);
			from->p_sl = sl;
		}
		if (p != NULL && (p->p_link != NULL || p->p_dial != NULL))
			continue;
		if (sl > 0)
			(void)cluster_connect(c, buf, (struct sockaddr *)&ss,
			    sl);
		else if (c->c_resolve_cb != NULL)
			(void)c->c_resolve_cb(c->c_resolve_arg, buf);
	}
}

/* --- The snapshot and the dispatch ------------------------------------- */

/*
 * The snapshot goes out in slices: SNAP_SLICE entries, or less when the
 * link fills (its output queue holds about two frames: a 64 MiB
 * retained store in one go would overflow it and close the link).  A
 * slice that ended on its count goes on at the next loop iteration; one
 * that ended on a full link goes on when the link drains
 * (cluster_sync_pump()).  Tables that grew or shrank their buckets
 * between slices are walked again from the start (a duplicate ROUTE_ADD,
 * RETAIN or CLAIM is harmless; a missed one is not); the retained store
 * has a cursor that stays valid across changes.
 */
#define SNAP_SLICE	512

enum {
	SNAP_NONE = 0,
	SNAP_ROUTES,
	SNAP_RETAINED,
	SNAP_TOMBS,
	SNAP_CLAIMS,
};

static void	snap_on_idle(struct ev_loop *, ev_idle *, int);

void
cluster_sync_init(struct peer *p)
{
	ev_idle_init(&p->p_snap_w, snap_on_idle);
}

void
cluster_sync_down(struct cluster *c, struct peer *p)
{
	ev_idle_stop(c->c_loop, &p->p_snap_w);
	retain_cursor_free(p->p_snap_cur);
	p->p_snap_cur = NULL;
	p->p_snap_phase = SNAP_NONE;
}

/* Enters phase (a ctab walk from bucket 0 of t, when t is given). */
static void
snap_phase(struct peer *p, int phase, const struct ctab *t)
{
	p->p_snap_phase = phase;
	p->p_snap_bucket = 0;
	p->p_snap_nbuckets = t != NULL ? t->ct_nbuckets : 0;
}

/* One slice of ctab t for the current phase: 1 done, 0 more, -1 closed. */
static int
snap_table(struct peer *p, struct ctab *t, int (*cb)(struct ctab_ent *,
    void *), void *arg)
{
	int rc;

	if (t->ct_nbuckets != p->p_snap_nbuckets) {
		/* Rehashed between slices: again from the start. */
		p->p_snap_bucket = 0;
		p->p_snap_nbuckets = t->ct_nbuckets;
	}
	rc = ctab_foreach_slice(t, &p->p_snap_bucket, SNAP_SLICE, cb, arg);
	if (rc == 0 || rc == 1)
		return rc;
	return -1;
}

/*
 * Sends what the link takes of the snapshot.  1 when it is all out, 0
 * when more is left (the idle watcher or a drain goes on), -1 when the
 * link closed.
 */
static int
snap_step(struct cluster *c, struct peer *p)
{
	struct link *l = p->p_link;
	struct retain_walk rw;
	struct claim_walk cw;
	struct link_msg m;
	struct msg *msg = NULL;
	size_t budget, sent;
	int rc;

	while (p->p_snap_phase != SNAP_NONE) {
		if (l == NULL || l->l_state != LINK_UP)
			return -1;
		if (!link_writable(l))
			return 0;	/* the drain goes on */
		switch (p->p_snap_phase) {
		case SNAP_ROUTES:
			rc = snap_table(p, &c->c_routes, route_send_one, l);
			if (rc != 1)
				break;
			msg_init(&m, LINK_ROUTES_END);
			if (link_send(l, &m) != 0)
				return -1;
			snap_phase(p, SNAP_RETAINED, NULL);
			if ((p->p_snap_cur = retain_cursor_new(
			    c->c_broker->b_retain, bytes_view_of("#",
			    1))) == NULL) {
				log_warnx("cluster: snapshot to %s: out of "
				    "memory: retained messages not sent",
				    p->p_name);
				snap_phase(p, SNAP_TOMBS, &c->c_tombs.ctt_tab);
			}
			continue;
		case SNAP_RETAINED:
			rw.c = c;
			rw.l = l;
			budget = 4 * SNAP_SLICE;
			for (sent = 0; sent < SNAP_SLICE && link_writable(l);
			    sent++) {
				if ((msg = retain_cursor_next_at(
				    c->c_broker->b_retain, p->p_snap_cur,
				    &budget, clock_ms())) == NULL)
					break;
				retain_send_one(msg, &rw);
			}
			if (l->l_state != LINK_UP)
				return -1;
			if (msg != NULL || budget == 0) {
				rc = 0;
				break;
			}
			retain_cursor_free(p->p_snap_cur);
			p->p_snap_cur = NULL;
			/* The clears too, so that one made during a split holds. */
			(void)cluster_tombs_expire(&c->c_tombs,
			    cluster_now_ms(c));
			snap_phase(p, SNAP_TOMBS, &c->c_tombs.ctt_tab);
			continue;
		case SNAP_TOMBS:
			rw.c = c;
			rw.l = l;
			rc = snap_table(p, &c->c_tombs.ctt_tab, tomb_send_one,
			    &rw);
			if (rc == 1) {
				snap_phase(p, SNAP_CLAIMS, &c->c_claims);
				continue;
			}
			break;
		case SNAP_CLAIMS:
			cw.c = c;
			cw.l = l;
			rc = snap_table(p, &c->c_claims, claim_send_one, &cw);
			if (rc == 1) {
				p->p_snap_phase = SNAP_NONE;
				continue;
			}
			break;
		default:
			rc = 1;
			p->p_snap_phase = SNAP_NONE;
			break;
		}
		if (rc < 0 || l->l_state != LINK_UP)
			return -1;
		if (rc == 0 && link_writable(l)) {
			/* The slice's count ran out: the next iteration. */
			ev_idle_start(c->c_loop, &p->p_snap_w);
			return 0;
		}
		if (rc == 0)
			return 0;
	}
	return 1;
}

/* Snapshot, then what was not acknowledged on the last link. */
static void
snap_pump(struct cluster *c, struct peer *p)
{
	int rc;

	ev_idle_stop(c->c_loop, &p->p_snap_w);
	if (p->p_snap_phase != SNAP_NONE) {
		if ((rc = snap_step(c, p)) < 0) {
			cluster_sync_down(c, p);
			return;
		}
		if (rc == 0)
			return;
	}
	cluster_sync_resend(c, p);
}

static void
snap_on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct peer *p = container_of(w, struct peer, p_snap_w);

	snap_pump(p->p_cluster, p);
}

void
cluster_sync_up(struct cluster *c, struct peer *p)
{
	struct link_msg m;

	cluster_sync_down(c, p);
	/* Our credit first: the peer sends no forward before it. */
	custody_credit_send(c, p);
	if (p->p_link == NULL)
		return;
	cluster_fwdq_link(&p->p_fwdq, p->p_link_gen);
	cluster_peer_caps(c, p);
	custody_sender_check(c, p);
	msg_init(&m, LINK_ROUTES_BEGIN);
	if (link_send(p->p_link, &m) != 0)
		return;
	snap_phase(p, SNAP_ROUTES, &c->c_routes);
	snap_pump(c, p);
}

void
cluster_sync_msg(struct cluster *c, struct peer *p, const struct link_msg *m)
{
	struct take_wait *tw;

	switch (m->type) {
	case LINK_ROUTES_BEGIN:
		p->p_snap++;
		break;
	case LINK_ROUTES_END:
		(void)ctab_foreach(&p->p_routes, route_reconcile_one, p);
		break;
	case LINK_ROUTE_ADD:
		route_add(c, p, m->u.filter);
		break;
	case LINK_ROUTE_DEL:
		route_del(c, p, m->u.filter);
		break;
	case LINK_FORWARD:
		forward_recv(c, p, &m->u.fwd);
		break;
	case LINK_FORWARD_ACK:
		forward_rtt(c, p, m->u.ack_seq);
		if (cluster_fwdq_ack(&p->p_fwdq, m->u.ack_seq) != 0) {
			log_debug("cluster: %s acked unknown seq %llu",
			    p->p_name, (unsigned long long)m->u.ack_seq);
			break;
		}
		/* Its credit is back: more may go. */
		cluster_sync_pump(c, p);
		custody_sender_check(c, p);
		break;
	case LINK_CREDIT:
		p->p_incarnation = m->u.credit.incarnation;
		cluster_fwdq_credit(&p->p_fwdq, m->u.credit.forwards,
		    m->u.credit.bytes);
		cluster_sync_pump(c, p);
		break;
	case LINK_RETAIN:
		retain_recv(c, p, &m->u.ret);
		break;
	case LINK_CLAIM:
		claim_recv(c, p, &m->u.claim);
		break;
	case LINK_SESSION_TAKE:
		session_take(c, p, m->u.take_id);
		break;
	case LINK_SESSION_DATA:
		session_data(c, p, &m->u.sess);
		break;
	case LINK_SESSION_NONE:
		if ((tw = take_wait_find(c, (const char *)m->u.take_id.p,
		    m->u.take_id.len)) != NULL)
			take_wait_answer(c, tw, p, 0);
		break;
	case LINK_PEERS:
		peers_recv(c, p, &m->u.peers);
		break;
	case LINK_REPL_SESSION:
	case LINK_REPL_SUB:
	case LINK_REPL_MSGS:
	case LINK_REPL_STATE:
	case LINK_REPL_DROP:
		replica_recv(c, p, m);
		break;
	case LINK_REPL_ACK:
		replica_acked(c, p, m->u.repl_acked);
		break;
	default:
		break;
	}
}
