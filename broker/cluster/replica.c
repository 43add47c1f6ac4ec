/*
 * Session replicas on the cluster; see cluster_int.h and CLUSTER.md
 * ("Session replicas").
 *
 * Owner side.  rp_own lists this node's persistent sessions (client id
 * -> the session in ce_ptr, the holder its replica was last sent to in
 * ce_aux, or none).  The broker's session observer (session.h, struct
 * session_obs) tells every change of a session; for one whose replica
 * is in place, each change goes to the holder at once as one REPL_*
 * frame on the link (ordered with everything else on it).  A session
 * whose replica is not in place (new, its holder changed or its link
 * was full) is marked and synced in full by the placement pass: an
 * idle watcher that walks rp_own, REPL_PASS_ENTRIES sessions per loop
 * iteration, stops for the iteration once REPL_PASS_BYTES went out or
 * a link is full (then it goes on when the link drains), and for each
 * session sends REPL_DROP to the old holder and REPL_SESSION and the
 * deliveries (REPL_MSGS frames of at most REPL_SLICE bytes) to the new
 * one.  QoS 0 deliveries are not replicated.
 *
 * Holder side.  REPL_* frames from a peer apply to rp_store
 * (replica_core.h), bounded by max_replica_bytes.  When a peer's link
 * goes down, every replica it owned becomes a local offline session
 * here (promoted) in one go, which the byte cap bounds: subscriptions
 * through the router (so the routes are announced again at once),
 * deliveries restored as they stood (in flight ones with their packet
 * ids, so a released QoS 2 message gets its PUBREL, not a second
 * PUBLISH).  A promoted session is then an ordinary session of this
 * node: it gets its own replica, SESSION_TAKE moves it, and
 * rp_promoted remembers where it came from, so that a CLAIM of it
 * from the node it came from (which was only cut off) takes it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/cluster_int.h"
#include "broker/cluster/replica_core.h"
#include "broker/net/broker_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fifo.h"
#include "common/log.h"

#define REPL_PASS_ENTRIES	64
#define REPL_PASS_BYTES		(1024 * 1024)
#define REPL_SLICE		(256 * 1024)

/* rp_own's ce_num: the replica is not in place at ce_aux. */
#define REPL_DIRTY		1

/*
 * rp_promoted's ce_ptr: when the session was promoted (wall clock ms,
 * as claims' stamps) and the seq of the last delivery restored then
 * (those the node it came from still has, if it was only cut off).
 */
struct rpromo {
	uint64_t	rpr_stamp;
	uint64_t	rpr_mark;
};

struct replica {
	struct cluster	*rp_c;
	struct ring	*rp_ring;	/* over the UP peers */
	int		 rp_ring_stale;
	struct rstore	 rp_store;	/* held for peers */
	struct ctab	 rp_own;	/* our persistent sessions */
	struct ctab	 rp_promoted;	/* id -> the node it came from */
	size_t		 rp_ndirty;	/* rp_own entries marked */
	ev_idle		 rp_pass_w;
	size_t		 rp_pass_bucket;
	int		 rp_pass_again;	/* changes during the pass */
	struct bytes_w	 rp_items;	/* a frame's list, reused */
	struct bytes_w	 rp_ids;	/* REPL_MSGS's trailer for rp_items */
	int		 rp_has_ids;	/* some item of rp_items has ids */
	uint64_t	 rp_nsynced;	/* full syncs sent */
	uint64_t	 rp_npromoted;	/* sessions promoted here */
	uint64_t	 rp_nlost;	/* changes not replicated: a full link */
	struct log_rate	 rp_lr;
	/*
	 * Replicas' acks.  An epoch closes when an ack is made while
	 * REPL_* frames went out since the last one (replica_ack_epoch()):
	 * each holder sent to then gets a mark (the epoch, its frame count
	 * then).  rp_done: every epoch up to it is acked by all its holders
	 * (or their links went: released, counted in rp_nreleased).
	 */
	uint64_t	 rp_epoch;
	uint64_t	 rp_done;
	size_t		 rp_ndirtyp;	/* peers with p_repl_dirty */
	uint64_t	 rp_nreleased;	/* marks let go: their link went */
	uint64_t	 rp_nsent;	/* REPL_* frames sent, all holders */
	uint64_t	 rp_nspooled;	/* not given back: p's spools have them */
	ev_prepare	 rp_ack_w;	/* holder: REPL_ACKs owed */
};

/* Marks kept per holder; past it the newest absorbs the next ones. */
#define REPL_MARKS_MAX		1024

static void	replica_on_pass(struct ev_loop *, ev_idle *, int);
static void	replica_on_ack(struct ev_loop *, ev_prepare *, int);
static void	replica_on_event(void *, struct session *, enum session_ev,
		    const struct session_out *, struct bytes_view, uint8_t);
static void	replica_give_back(struct cluster *, struct peer *,
		    struct ctab_ent *, int);
static uint64_t	replica_close_epoch(struct cluster *);
static void	repl_recompute(struct cluster *);

static int
replica_enabled(const struct cluster *c)
{
	return c->c_broker->b_conf->bc_max_replica_bytes > 0;
}

struct replica *
replica_new(struct cluster *c)
{
	struct replica *rp;
	uint64_t seed = c->c_routes.ct_seed;

	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return NULL;
	rp->rp_c = c;
	rp->rp_ring_stale = 1;
	rp->rp_lr.lr_interval = 10;
	if ((rp->rp_ring = ring_new()) == NULL ||
	    rstore_init(&rp->rp_store, seed ^ 0x9e3779b97f4a7c15ULL,
	    (size_t)c->c_broker->b_conf->bc_max_replica_bytes) != 0 ||
	    ctab_init(&rp->rp_own, seed ^ 0x2545f4914f6cdd1dULL) != 0 ||
	    ctab_init(&rp->rp_promoted, seed ^ 0x632be59bd9b4e019ULL) != 0) {
		replica_free(rp);
		return NULL;
	}
	bytes_w_init(&rp->rp_items, c->c_lconf.lc_max_frame -
	    CLUSTER_FRAME_SLACK);
	bytes_w_init(&rp->rp_ids, c->c_lconf.lc_max_frame -
	    CLUSTER_FRAME_SLACK);
	ev_idle_init(&rp->rp_pass_w, replica_on_pass);
	ev_prepare_init(&rp->rp_ack_w, replica_on_ack);
	if (replica_enabled(c)) {
		c->c_broker->b_sobs.sob_cb = replica_on_event;
		c->c_broker->b_sobs.sob_arg = c;
	}
	return rp;
}

static void
promo_forget(struct replica *rp, struct ctab_ent *e)
{
	free(e->ce_ptr);
	ctab_del(&rp->rp_promoted, e);
}

static int
promo_forget_one(struct ctab_ent *e, void *arg)
{
	promo_forget(arg, e);
	return 0;
}

void
replica_free(struct replica *rp)
{
	struct cluster *c;

	if (rp == NULL)
		return;
	c = rp->rp_c;
	memset(&c->c_broker->b_sobs, 0, sizeof(c->c_broker->b_sobs));
	ev_idle_stop(c->c_loop, &rp->rp_pass_w);
	ev_prepare_stop(c->c_loop, &rp->rp_ack_w);
	if (rp->rp_store.rs_tab.ct_buckets != NULL)
		rstore_fini(&rp->rp_store);
	if (rp->rp_own.ct_buckets != NULL)
		ctab_fini(&rp->rp_own);
	if (rp->rp_promoted.ct_buckets != NULL) {
		(void)ctab_foreach(&rp->rp_promoted, promo_forget_one, rp);
		ctab_fini(&rp->rp_promoted);
	}
	bytes_w_fini(&rp->rp_items);
	bytes_w_fini(&rp->rp_ids);
	ring_free(rp->rp_ring);
	free(rp);
}

/* --- Placement -------------------------------------------------------- */

static void
replica_ring_update(struct cluster *c)
{
	struct replica *rp = c->c_repl;
	const char **up;
	struct peer *p;
	size_t n = 0;

	if (!rp->rp_ring_stale)
		return;
	if ((up = calloc(c->c_npeers + 1, sizeof(*up))) == NULL)
		return;		/* the old ring stays: tried again later */
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_link != NULL)
			up[n++] = p->p_name;
	if (replica_ring_set(rp->rp_ring, c->c_self, up, n) == 0)
		rp->rp_ring_stale = 0;
	free(up);
}

/* The UP peer that should hold id's replica, or NULL. */
static struct peer *
replica_place(struct cluster *c, const char *id, size_t len)
{
	const char *h;
	struct peer *p;

	replica_ring_update(c);
	if ((h = replica_holder(c->c_repl->rp_ring, id, len)) == NULL ||
	    (p = cluster_peer_find(c, h)) == NULL || p->p_link == NULL)
		return NULL;
	return p;
}

/* The peer id's replica is in place at, UP, or NULL. */
static struct peer *
replica_at(struct cluster *c, const struct ctab_ent *e)
{
	struct peer *p;

	if (e->ce_aux == NULL || (e->ce_num & REPL_DIRTY))
		return NULL;
	if ((p = cluster_peer_find(c, e->ce_aux)) == NULL || p->p_link == NULL)
		return NULL;
	return p;
}

static void
replica_pass_start(struct cluster *c)
{
	struct replica *rp = c->c_repl;

	if (ev_is_active(&rp->rp_pass_w)) {
		rp->rp_pass_again = 1;
		return;
	}
	rp->rp_pass_bucket = 0;
	rp->rp_pass_again = 0;
	ev_idle_start(c->c_loop, &rp->rp_pass_w);
}

static void
replica_mark(struct cluster *c, struct ctab_ent *e)
{
	if (!(e->ce_num & REPL_DIRTY)) {
		e->ce_num |= REPL_DIRTY;
		c->c_repl->rp_ndirty++;
	}
	replica_pass_start(c);
}

static void
replica_unmark(struct cluster *c, struct ctab_ent *e)
{
	if (e->ce_num & REPL_DIRTY) {
		e->ce_num &= ~(uint64_t)REPL_DIRTY;
		c->c_repl->rp_ndirty--;
	}
}

static void
msg_init(struct link_msg *m, enum link_type type, const struct session *s)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->u.repl.id = bytes_view_of(s->s_id, s->s_id_len);
}

/* --- Replicas' acks ---------------------------------------------------- */

/* Every REPL_* frame to a holder goes here: counted for its REPL_ACK. */
static int
repl_send(struct peer *p, const struct link_msg *m)
{
	struct replica *rp = p->p_cluster->c_repl;
	int rc;

	if ((rc = link_send(p->p_link, m)) != 0)
		return rc;
	p->p_repl_sent++;
	rp->rp_nsent++;
	if (!p->p_repl_dirty) {
		p->p_repl_dirty = 1;
		rp->rp_ndirtyp++;
	}
	return 0;
}

/* p's marks from the head. */
#define MARK(p, i)	((p)->p_marks[((p)->p_marks_head + (i)) % \
			    (p)->p_marks_cap])

static void
mark_push(struct replica *rp, struct peer *p, uint64_t epoch)
{
	void *base = p->p_marks;

	if (p->p_nmarks == p->p_marks_cap && p->p_marks_cap <
	    REPL_MARKS_MAX) {
		/* Without memory it stays full: handled below. */
		(void)fifo_grow(&base, &p->p_marks_cap, &p->p_marks_head,
		    p->p_nmarks, sizeof(*p->p_marks), 16);
		p->p_marks = base;
	}
	if (p->p_nmarks == p->p_marks_cap) {
		if (p->p_nmarks == 0) {
			/* No memory for even one: not waited for. */
			rp->rp_nreleased++;
			return;
		}
		/* Bounded: the newest mark waits for this epoch's frames. */
		MARK(p, p->p_nmarks - 1).rm_epoch = epoch;
		MARK(p, p->p_nmarks - 1).rm_target = p->p_repl_sent;
		return;
	}
	MARK(p, p->p_nmarks).rm_epoch = epoch;
	MARK(p, p->p_nmarks).rm_target = p->p_repl_sent;
	p->p_nmarks++;
}

uint64_t
replica_ack_epoch(struct cluster *c)
{
	struct replica *rp = c->c_repl;

	if (rp == NULL)
		return 0;
	(void)replica_close_epoch(c);
	return rp->rp_epoch > rp->rp_done ? rp->rp_epoch : 0;
}

/*
 * Closes an epoch if REPL_* frames went out since the last one: each
 * holder sent to gets a mark.  Returns it, or 0 when there was none to
 * close or every holder has acked its frames already (then no mark is
 * made: one would wait for a REPL_ACK that no frame calls for).
 */
static uint64_t
replica_close_epoch(struct cluster *c)
{
	struct replica *rp = c->c_repl;
	struct peer *p;
	int marked = 0;

	if (rp->rp_ndirtyp == 0)
		return 0;
	rp->rp_epoch++;
	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		if (!p->p_repl_dirty)
			continue;
		p->p_repl_dirty = 0;
		if (p->p_repl_acked >= p->p_repl_sent)
			continue;
		mark_push(rp, p, rp->rp_epoch);
		marked = 1;
	}
	rp->rp_ndirtyp = 0;
	if (!marked) {
		/* Nothing waits on it: done as soon as the older ones. */
		repl_recompute(c);
		return 0;
	}
	return rp->rp_epoch;
}

uint64_t
replica_sent(const struct cluster *c)
{
	return c->c_repl != NULL ? c->c_repl->rp_nsent : 0;
}

uint64_t
replica_pub_epoch(struct cluster *c, uint64_t sent)
{
	if (c->c_repl == NULL || c->c_repl->rp_nsent == sent)
		return 0;
	return replica_close_epoch(c);
}

uint64_t
replica_done_epoch(const struct cluster *c)
{
	return c->c_repl != NULL ? c->c_repl->rp_done : 0;
}

/* The epochs every holder acked: what waited on them goes. */
static void
repl_recompute(struct cluster *c)
{
	struct replica *rp = c->c_repl;
	struct peer *p;
	uint64_t done = rp->rp_epoch;

	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_nmarks > 0 && MARK(p, 0).rm_epoch - 1 < done)
			done = MARK(p, 0).rm_epoch - 1;
	if (done > rp->rp_done) {
		rp->rp_done = done;
		custody_repl_done(c);
		broker_repl_done(c->c_broker, done);
	}
}

/* p's link went (or p): its marks are let go, its counts start anew. */
static void
repl_peer_reset(struct cluster *c, struct peer *p, int gone)
{
	struct replica *rp = c->c_repl;

	rp->rp_nreleased += p->p_nmarks;
	p->p_nmarks = 0;
	p->p_marks_head = 0;
	if (p->p_repl_dirty) {
		p->p_repl_dirty = 0;
		rp->rp_ndirtyp--;
	}
	p->p_repl_sent = p->p_repl_acked = p->p_repl_rcvd = 0;
	p->p_rack_due = 0;
	(void)gone;	/* p_marks is freed with p (custody_peer_fini()) */
	if (!c->c_freeing)
		repl_recompute(c);
}

void
replica_acked(struct cluster *c, struct peer *p, uint64_t n)
{
	if (c->c_repl == NULL)
		return;
	if (n < p->p_repl_acked || n > p->p_repl_sent) {
		link_close(p->p_link, "protocol error: REPL_ACK %llu of %llu "
		    "replica frames sent (%llu acked before)",
		    (unsigned long long)n,
		    (unsigned long long)p->p_repl_sent,
		    (unsigned long long)p->p_repl_acked);
		return;
	}
	p->p_repl_acked = n;
	while (p->p_nmarks > 0 && MARK(p, 0).rm_target <= n) {
		p->p_marks_head = (p->p_marks_head + 1) % p->p_marks_cap;
		p->p_nmarks--;
	}
	repl_recompute(c);
}

/* Holder: one REPL_ACK per owner per loop iteration, at its end. */
static void
replica_on_ack(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct replica *rp = container_of(w, struct replica, rp_ack_w);
	struct link_msg m;
	struct peer *p;

	(void)revents;
	TAILQ_FOREACH(p, &rp->rp_c->c_peers, p_entry) {
		if (!p->p_rack_due)
			continue;
		p->p_rack_due = 0;
		if (p->p_link == NULL)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = LINK_REPL_ACK;
		m.u.repl_acked = p->p_repl_rcvd;
		(void)link_send(p->p_link, &m);
	}
	ev_prepare_stop(loop, w);
}

static int
replica_send_drop(struct peer *p, const char *id, size_t len)
{
	struct link_msg m;

	if (p == NULL || p->p_link == NULL)
		return 0;
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_DROP;
	m.u.repl.id = bytes_view_of(id, len);
	return repl_send(p, &m);
}

static int
replica_put_out(struct bytes_w *w, const struct session_out *o)
{
	struct link_repl_msg d;

	memset(&d, 0, sizeof(d));
	d.seq = o->so_seq;
	d.qos = o->so_qos;
	d.retain = o->so_retain;
	switch (o->so_state) {
	case SESSION_OUT_PUBLISHED:
		d.state = LINK_REPL_PUBLISHED;
		d.pid = o->so_id;
		break;
	case SESSION_OUT_RELEASED:
		d.state = LINK_REPL_RELEASED;
		d.pid = o->so_id;
		break;
	default:
		d.state = LINK_REPL_QUEUED;
		break;
	}
	d.topic = msg_topic(o->so_msg);
	d.payload = msg_payload(o->so_msg);
	d.v5.from = msg_from(o->so_msg);
	d.v5.props = msg_props(o->so_msg);
	/* What is left of it: the holder counts down from when it gets it. */
	d.v5.expiry_ms = msg_expiry_left_ms(o->so_msg, clock_ms());
	return link_put_repl_msg(w, &d);
}

/*
 * Delivery o as the next item of a REPL_MSGS frame: rp_items, and its
 * subscription identifiers in rp_ids (the trailer, sent when any item
 * has some).  0, or the item was not written (rp_items as before).
 */
static int
replica_put_item(struct replica *rp, const struct session_out *o)
{
	size_t len = rp->rp_items.len;

	if (replica_put_out(&rp->rp_items, o) != 0) {
		rp->rp_items.err = 0;
		rp->rp_items.len = len;
		return CAIRN_ERR_INVAL;
	}
	if (link_put_repl_ids(&rp->rp_ids, o->so_nids > LINK_MAX_SUB_IDS ?
	    LINK_MAX_SUB_IDS : o->so_nids, o->so_ids) != 0) {
		rp->rp_ids.err = 0;
		rp->rp_items.len = len;
		return CAIRN_ERR_INVAL;
	}
	if (o->so_nids > 0)
		rp->rp_has_ids = 1;
	return 0;
}

/* REPL_MSGS over what replica_put_item() gathered. */
static void
replica_msgs_frame(struct replica *rp, struct link_msg *m, uint32_t n)
{
	m->u.repl.n = n;
	m->u.repl.items = bytes_view_of(rp->rp_items.buf, rp->rp_items.len);
	if (rp->rp_has_ids)
		m->u.repl.ids = bytes_view_of(rp->rp_ids.buf, rp->rp_ids.len);
}

static void
replica_items_reset(struct replica *rp)
{
	bytes_w_reset(&rp->rp_items);
	bytes_w_reset(&rp->rp_ids);
	rp->rp_has_ids = 0;
}

/* A subscription as SESSION_DATA's items have it (5.0 options too). */
static int
replica_put_sub(struct bytes_w *w, const struct session_sub *sub)
{
	struct link_sub ls;

	memset(&ls, 0, sizeof(ls));
	ls.filter = bytes_view_of(sub->ss_filter, sub->ss_len);
	ls.qos = sub->ss_qos;
	ls.no_local = sub->ss_no_local;
	ls.rap = sub->ss_rap;
	ls.rh = sub->ss_rh;
	ls.sub_id = sub->ss_sub_id;
	return link_put_session_sub5(w, &ls);
}

/* Sends the REPL_MSGS frame of the n items in rp_items; empties it. */
static int
replica_flush_msgs(struct cluster *c, struct peer *p, const struct session *s,
    uint32_t *n, size_t *sent)
{
	struct replica *rp = c->c_repl;
	struct link_msg m;
	int rc;

	if (*n == 0)
		return 0;
	msg_init(&m, LINK_REPL_MSGS, s);
	replica_msgs_frame(rp, &m, *n);
	rc = repl_send(p, &m);
	*sent += rp->rp_items.len + rp->rp_ids.len;
	replica_items_reset(rp);
	*n = 0;
	return rc;
}

/*
 * The whole of s to p: REPL_SESSION with its subscriptions, then its
 * deliveries (in flight, then queued: seq order) in slices.  Adds the
 * bytes sent to *sent.  0 or link_send()'s error.
 */
static int
replica_sync(struct cluster *c, struct peer *p, struct session *s,
    size_t *sent)
{
	struct replica *rp = c->c_repl;
	struct session_sub *sub;
	struct session_out *o;
	struct session_outq *q;
	struct link_msg m;
	size_t room = c->c_lconf.lc_max_frame - CLUSTER_FRAME_SLACK;
	uint32_t n = 0;
	uint64_t now;
	int rc, pass;

	replica_items_reset(rp);
	TAILQ_FOREACH(sub, &s->s_subs, ss_entry)
		if (replica_put_sub(&rp->rp_items, sub) == 0)
			n++;
	msg_init(&m, LINK_REPL_SESSION, s);
	m.u.repl.n = n;
	m.u.repl.items = bytes_view_of(rp->rp_items.buf, rp->rp_items.len);
	/* 5.0: its level and session expiry interval go with it. */
	m.u.repl.sess_flags = (s->s_has_expiry ? LINK_SESS_EXPIRY : 0) |
	    (s->s_v5 ? LINK_SESS_V5 : 0);
	m.u.repl.sess_expiry = s->s_has_expiry ? s->s_expiry : 0;
	if (s->s_client == NULL && s->s_offline_ms != 0) {
		/* How long the client has been away: expiry counts on. */
		now = (uint64_t)(ev_now(c->c_loop) * 1000.0);
		m.u.repl.sess_flags |= LINK_SESS_OFFLINE;
		m.u.repl.sess_offline_ms = now > s->s_offline_ms ?
		    now - s->s_offline_ms : 0;
		if (m.u.repl.sess_offline_ms > LINK_EXPIRY_MAX_MS)
			m.u.repl.sess_offline_ms = LINK_EXPIRY_MAX_MS;
	}
	if (rp->rp_items.err != 0) {
		/* More subscriptions than a frame: the first that fit. */
		rp->rp_items.err = 0;
	}
	rc = repl_send(p, &m);
	*sent += rp->rp_items.len;
	replica_items_reset(rp);
	n = 0;
	if (rc != 0)
		return rc;
	for (pass = 0; pass < 2; pass++) {
		q = pass == 0 ? &s->s_inflight : &s->s_queue;
		TAILQ_FOREACH(o, q, so_entry) {
			if (o->so_qos == 0)
				continue;
			if (rp->rp_items.len + rp->rp_ids.len +
			    msg_bytes(o->so_msg) + 64 + 33 > room ||
			    rp->rp_items.len >= REPL_SLICE)
				if ((rc = replica_flush_msgs(c, p, s, &n,
				    sent)) != 0)
					return rc;
			if (replica_put_item(rp, o) == 0)
				n++;
		}
	}
	if ((rc = replica_flush_msgs(c, p, s, &n, sent)) != 0)
		return rc;
	rp->rp_nsynced++;
	return 0;
}

/*
 * Puts e's replica where it belongs now.  0, or 1 when the link there
 * cannot take it now (e stays marked).
 */
static int
replica_settle(struct cluster *c, struct ctab_ent *e, size_t *sent)
{
	struct session *s = e->ce_ptr;
	struct peer *p, *old;

	p = replica_place(c, e->ce_key, e->ce_len);
	if (e->ce_aux != NULL && (p == NULL || strcmp(e->ce_aux,
	    p->p_name) != 0)) {
		/* Moved away from the old holder: it forgets its copy. */
		old = cluster_peer_find(c, e->ce_aux);
		(void)replica_send_drop(old, e->ce_key, e->ce_len);
		free(e->ce_aux);
		e->ce_aux = NULL;
	}
	if (p == NULL) {
		/* No peer to hold it: in place as far as it can be. */
		replica_unmark(c, e);
		return 0;
	}
	if (e->ce_aux != NULL && !(e->ce_num & REPL_DIRTY))
		return 0;
	if (!link_writable(p->p_link))
		return 1;
	if (ctab_set_aux(&c->c_repl->rp_own, e, p->p_name) != 0)
		return 1;
	if (replica_sync(c, p, s, sent) != 0) {
		/* The link closed: its down event marks what was there. */
		free(e->ce_aux);
		e->ce_aux = NULL;
		return 1;
	}
	replica_unmark(c, e);
	return 0;
}

struct pass_walk {
	struct cluster	*c;
	size_t		 sent;
	int		 blocked;
};

static int
replica_pass_one(struct ctab_ent *e, void *arg)
{
	struct pass_walk *pw = arg;

	if (replica_settle(pw->c, e, &pw->sent) != 0)
		pw->blocked = 1;
	/* 2: ctab_foreach_slice() stops for this iteration. */
	return pw->sent >= REPL_PASS_BYTES ? 2 : 0;
}

static void
replica_on_pass(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct replica *rp = container_of(w, struct replica, rp_pass_w);
	struct pass_walk pw;

	pw.c = rp->rp_c;
	pw.sent = 0;
	pw.blocked = 0;
	/* 0: more buckets, 2: the byte budget; next iteration either way. */
	if (ctab_foreach_slice(&rp->rp_own, &rp->rp_pass_bucket,
	    REPL_PASS_ENTRIES, replica_pass_one, &pw) != 1)
		return;
	/* A full pass.  Again if something changed meanwhile; a session
	 * still marked waits for a link to drain (replica_pump()). */
	rp->rp_pass_bucket = 0;
	if (rp->rp_pass_again && !pw.blocked) {
		rp->rp_pass_again = 0;
		return;
	}
	rp->rp_pass_again = 0;
	ev_idle_stop(loop, w);
}

/* --- Owner side: the session observer ---------------------------------- */

static void
replica_own_add(struct cluster *c, struct session *s)
{
	struct replica *rp = c->c_repl;
	struct ctab_ent *e;
	size_t sent = 0;

	if ((e = ctab_put(&rp->rp_own, bytes_view_of(s->s_id, s->s_id_len),
	    NULL)) == NULL) {
		log_rate_warnx(&rp->rp_lr, "client %s: no replica: out of "
		    "memory", s->s_id);
		return;
	}
	e->ce_ptr = s;
	if (!(e->ce_num & REPL_DIRTY)) {
		e->ce_num |= REPL_DIRTY;
		rp->rp_ndirty++;
	}
	/* Most new sessions are empty: sync at once when the link can. */
	if (replica_settle(c, e, &sent) != 0)
		replica_pass_start(c);
}

static void
replica_own_del(struct cluster *c, struct session *s)
{
	struct replica *rp = c->c_repl;
	struct ctab_ent *e;

	if ((e = ctab_get(&rp->rp_own, bytes_view_of(s->s_id,
	    s->s_id_len))) == NULL || e->ce_ptr != s)
		return;
	if (e->ce_aux != NULL)
		(void)replica_send_drop(cluster_peer_find(c, e->ce_aux),
		    e->ce_key, e->ce_len);
	replica_unmark(c, e);
	ctab_del(&rp->rp_own, e);
}

static void
replica_on_event(void *arg, struct session *s, enum session_ev ev,
    const struct session_out *o, struct bytes_view filter, uint8_t qos)
{
	struct cluster *c = arg;
	struct replica *rp = c->c_repl;
	struct ctab_ent *e;
	struct session_sub *sub;
	struct link_msg m;
	struct peer *p;
	uint8_t state = LINK_REPL_DONE;
	uint16_t pid = 0;
	int rc;

	if (rp == NULL || c->c_freeing)
		return;
	switch (ev) {
	case SESSION_EV_CLEAN:
		if (s->s_clean)
			replica_own_del(c, s);
		else if (s->s_in_table)
			replica_own_add(c, s);
		return;
	case SESSION_EV_LEVEL:
		/* Rare (a CONNECT or DISCONNECT that changed it): whole. */
		if (!s->s_clean && (e = ctab_get(&rp->rp_own,
		    bytes_view_of(s->s_id, s->s_id_len))) != NULL &&
		    e->ce_ptr == s)
			replica_mark(c, e);
		return;
	case SESSION_EV_FREE:
		replica_own_del(c, s);
		if ((e = ctab_get(&rp->rp_promoted, bytes_view_of(s->s_id,
		    s->s_id_len))) != NULL)
			promo_forget(rp, e);
		return;
	default:
		break;
	}
	if (s->s_clean || (e = ctab_get(&rp->rp_own, bytes_view_of(s->s_id,
	    s->s_id_len))) == NULL || e->ce_ptr != s)
		return;
	if ((p = replica_at(c, e)) == NULL) {
		/* Not in place: the pass sends the whole when it can. */
		if (e->ce_aux != NULL || replica_place(c, s->s_id,
		    s->s_id_len) != NULL)
			replica_mark(c, e);
		return;
	}
	replica_items_reset(rp);
	switch (ev) {
	case SESSION_EV_SUB:
	case SESSION_EV_UNSUB:
		msg_init(&m, LINK_REPL_SUB, s);
		m.u.repl.filter = filter;
		m.u.repl.qos = LINK_REPL_UNSUB;
		if (ev == SESSION_EV_SUB && (sub = session_sub_find(s,
		    filter)) != NULL) {
			m.u.repl.qos = sub->ss_qos;
			m.u.repl.opts = (sub->ss_no_local ? 1 : 0) |
			    (sub->ss_rap ? 2 : 0) | (uint8_t)(sub->ss_rh << 2);
			m.u.repl.sub_id = sub->ss_sub_id;
		} else if (ev == SESSION_EV_SUB)
			return;
		break;
	case SESSION_EV_QUEUED:
		if (o->so_qos == 0)
			return;
		msg_init(&m, LINK_REPL_MSGS, s);
		if (replica_put_item(rp, o) != 0) {
			replica_mark(c, e);
			return;
		}
		replica_msgs_frame(rp, &m, 1);
		break;
	case SESSION_EV_SENT:
	case SESSION_EV_RELEASED:
	case SESSION_EV_DONE:
		if (o->so_qos == 0)
			return;
		if (ev != SESSION_EV_DONE) {
			state = ev == SESSION_EV_SENT ? LINK_REPL_PUBLISHED :
			    LINK_REPL_RELEASED;
			pid = o->so_id;
		}
		msg_init(&m, LINK_REPL_STATE, s);
		(void)link_put_repl_state(&rp->rp_items, o->so_seq, state, pid);
		m.u.repl.n = 1;
		m.u.repl.items = bytes_view_of(rp->rp_items.buf,
		    rp->rp_items.len);
		break;
	case SESSION_EV_ONLINE:
		/* No delivery: the trailer says the client came or went. */
		msg_init(&m, LINK_REPL_STATE, s);
		m.u.repl.has_online = 1;
		m.u.repl.sess_flags = s->s_client == NULL ?
		    LINK_SESS_OFFLINE : 0;
		break;
	default:
		return;
	}
	if ((rc = repl_send(p, &m)) != 0) {
		/* Closed (overflow) or not encodable: sent whole later. */
		rp->rp_nlost++;
		free(e->ce_aux);
		e->ce_aux = NULL;
		replica_mark(c, e);
	}
}

/* --- Membership -------------------------------------------------------- */

void
replica_peer_up(struct cluster *c, struct peer *p)
{
	struct replica *rp = c->c_repl;

	if (rp == NULL || !replica_enabled(c))
		return;
	rp->rp_ring_stale = 1;
	/*
	 * Every session is looked at again (the pass is sliced): those
	 * whose holder is now p move there, the others stay as they are
	 * (replica_settle() keeps a replica in place).
	 */
	replica_pass_start(c);
}

struct promote_walk {
	struct cluster	*c;
	const char	*owner;
	size_t		 sessions;
	size_t		 msgs;
	size_t		 failed;
};

static struct log_rate promote_lr = LOG_RATE_INIT(10);

/* One replica becomes a local offline session (or merges into one). */
static int
replica_promote(struct cluster *c, struct rsess *r, size_t *nmsgs)
{
	struct broker *b = c->c_broker;
	const struct broker_conf *bc = b->b_conf;
	struct replica *rp = c->c_repl;
	char id[LINK_MAX_NAME + 1];
	size_t len;
	struct ctab_ent *e;
	struct session *s;
	struct rsub *u;
	struct rmsg *m;
	struct sub_opts so;
	struct session_deliv d;
	enum session_out_state st;
	struct peer *p;
	char owner[LINK_MAX_NAME + 1];
	uint64_t now, away;

	/* Copies: the replica goes before the end. */
	snprintf(id, sizeof(id), "%s", rsess_id(r));
	len = strlen(id);
	snprintf(owner, sizeof(owner), "%s", rsess_owner(r));
	if ((s = session_table_find(b->b_sessions, id, len)) != NULL &&
	    s->s_clean) {
		/* The client came back here with clean session 1. */
		rstore_del(&rp->rp_store, r);
		return 0;
	}
	if (s == NULL) {
		if (session_table_count(b->b_sessions) >= bc->bc_max_sessions ||
		    b->b_acct.sa_persistent >= bc->bc_max_persistent_sessions ||
		    (s = session_new(id, len, &b->b_limits)) == NULL ||
		    session_table_add(b->b_sessions, s) != 0) {
			session_free(s);
			rstore_del(&rp->rp_store, r);
			return -1;
		}
		/*
		 * Offline since the client left the owner, when the owner
		 * said (LINK_SESS_OFFLINE), else from now: the session
		 * expiry interval (5.0) or persistent_client_expiration
		 * counts from there.
		 */
		now = (uint64_t)(ev_now(c->c_loop) * 1000.0);
		away = r->r_offline_at != 0 ? clock_ms() : 0;
		away = away > r->r_offline_at ? away - r->r_offline_at : 0;
		s->s_offline_ms = (now > away ? now - away : 0) | 1;
		session_set_clean(s, 0);
		/* 5.0: the session expiry interval it had. */
		s->s_v5 = (r->r_flags & LINK_SESS_V5) ? 1 : 0;
		s->s_has_expiry = (r->r_flags & LINK_SESS_EXPIRY) ? 1 : 0;
		s->s_expiry = s->s_has_expiry ? r->r_expiry : 0;
	}
	TAILQ_FOREACH(u, &r->r_subs, rs_entry) {
		if (session_sub_find(s, bytes_view_of(u->rs_filter,
		    u->rs_len)) != NULL || s->s_nsubs >= bc->bc_max_subscriptions)
			continue;
		memset(&so, 0, sizeof(so));
		so.qos = u->rs_qos;
		so.no_local = u->rs_no_local;
		so.rap = u->rs_rap;
		so.rh = u->rs_rh;
		so.sub_id = u->rs_sub_id;
		(void)router_subscribe_opts(b->b_router, s,
		    bytes_view_of(u->rs_filter, u->rs_len), &so, NULL);
	}
	TAILQ_FOREACH(m, &r->r_msgs, rm_entry) {
		/*
		 * A client connected here already had its CONNACK: it
		 * gets them as new messages.
		 */
		st = SESSION_OUT_QUEUED;
		if (s->s_client == NULL && m->rm_state == LINK_REPL_PUBLISHED)
			st = SESSION_OUT_PUBLISHED;
		else if (s->s_client == NULL &&
		    m->rm_state == LINK_REPL_RELEASED)
			st = SESSION_OUT_RELEASED;
		memset(&d, 0, sizeof(d));
		d.sd_qos = m->rm_qos;
		d.sd_retain = m->rm_retain;
		d.sd_nids = m->rm_nids;
		memcpy(d.sd_ids, m->rm_ids, m->rm_nids * sizeof(d.sd_ids[0]));
		if (session_restore(s, m->rm_msg, &d, st, m->rm_pid) == 0)
			(*nmsgs)++;
	}
	if (r->r_dropped > 0)
		log_rate_warnx(&promote_lr, "client %s: session from %s "
		    "promoted without %llu messages (max_replica_bytes)", id,
		    owner, (unsigned long long)r->r_dropped);
	rstore_del(&rp->rp_store, r);
	if ((e = ctab_put(&rp->rp_promoted, bytes_view_of(id, len),
	    NULL)) != NULL) {
		if (e->ce_ptr == NULL)
			e->ce_ptr = calloc(1, sizeof(struct rpromo));
		if (e->ce_ptr == NULL ||
		    ctab_set_aux(&rp->rp_promoted, e, owner) != 0)
			promo_forget(rp, e);
		else {
			((struct rpromo *)e->ce_ptr)->rpr_stamp =
			    cluster_stamp(c);
			((struct rpromo *)e->ce_ptr)->rpr_mark = s->s_next_seq;
		}
	}
	rp->rp_npromoted++;
	if (s->s_client != NULL) {
		client_pump(s->s_client);
		return 0;
	}
	/* Claimed meanwhile by an UP node: the client is there. */
	if ((e = ctab_get(&c->c_claims, bytes_view_of(id, len))) != NULL &&
	    e->ce_aux != NULL && strcmp(e->ce_aux, c->c_self) != 0 &&
	    (p = cluster_peer_find(c, e->ce_aux)) != NULL && p->p_link != NULL)
		cluster_session_give(c, p, bytes_view_of(id, len));
	return 0;
}

static int
replica_promote_one(struct ctab_ent *e, void *arg)
{
	struct promote_walk *pw = arg;
	struct rsess *r = e->ce_ptr;

	if (strcmp(rsess_owner(r), pw->owner) != 0)
		return 0;
	if (replica_promote(pw->c, r, &pw->msgs) != 0)
		pw->failed++;
	else
		pw->sessions++;
	return 0;
}

void
replica_peer_down(struct cluster *c, struct peer *p, int gone)
{
	struct replica *rp = c->c_repl;
	struct promote_walk pw;
	struct link *l;

	if (rp == NULL)
		return;
	repl_peer_reset(c, p, gone);
	if (c->c_freeing)
		return;
	rp->rp_ring_stale = 1;
	if (gone) {
		/* Out of the ring before it leaves the list. */
		l = p->p_link;
		p->p_link = NULL;
		replica_ring_update(c);
		p->p_link = l;
	}
	/* Ours held by p move to the next node of the ring. */
	if (replica_enabled(c))
		replica_pass_start(c);
	if (rstore_count(&rp->rp_store) == 0)
		return;
	memset(&pw, 0, sizeof(pw));
	pw.c = c;
	pw.owner = p->p_name;
	(void)ctab_foreach(&rp->rp_store.rs_tab, replica_promote_one, &pw);
	if (pw.sessions + pw.failed > 0)
		log_info("cluster: node %s is down: %zu sessions taken over "
		    "from their replicas here (%zu messages)%s", p->p_name,
		    pw.sessions, pw.msgs, pw.failed > 0 ? ", some refused at "
		    "max_sessions or out of memory" : "");
}

/* --- Holder side -------------------------------------------------------- */

void
replica_recv(struct cluster *c, struct peer *p, const struct link_msg *m)
{
	struct replica *rp = c->c_repl;
	int rc;

	struct ctab_ent *e;

	if (rp == NULL)
		return;
	/* Taken: acked at the end of this loop iteration. */
	p->p_repl_rcvd++;
	if (!p->p_rack_due) {
		p->p_rack_due = 1;
		ev_prepare_start(c->c_loop, &rp->rp_ack_w);
	}
	/*
	 * The node a session promoted here came from sends its replica
	 * again: it was cut off and kept the session, which is the one
	 * that goes on.
	 */
	if (m->type == LINK_REPL_SESSION && (e = ctab_get(&rp->rp_promoted,
	    m->u.repl.id)) != NULL && e->ce_aux != NULL &&
	    strcmp(e->ce_aux, p->p_name) == 0)
		replica_give_back(c, p, e, 1);
	if ((rc = rstore_apply(&rp->rp_store, p->p_name, m, clock_ms())) != 0)
		log_rate_warnx(&rp->rp_lr, "cluster: replica of client %.*s "
		    "from %s: %s (%zu bytes held; %llu messages dropped, "
		    "%llu replicas refused so far)", (int)m->u.repl.id.len,
		    (const char *)m->u.repl.id.p, p->p_name,
		    rc == CAIRN_ERR_LIMIT ? "max_replica_bytes reached" :
		    cairn_strerror(rc), rp->rp_store.rs_bytes,
		    (unsigned long long)rp->rp_store.rs_dropped,
		    (unsigned long long)rp->rp_store.rs_refused);
}

int
replica_wanted(struct cluster *c, struct bytes_view id)
{
	struct replica *rp = c->c_repl;
	struct rsess *r;
	struct peer *p;
	size_t nmsgs = 0;

	if (rp == NULL || (r = rstore_get(&rp->rp_store, (const char *)id.p,
	    id.len)) == NULL)
		return 0;
	if ((p = cluster_peer_find(c, rsess_owner(r))) != NULL &&
	    p->p_link != NULL)
		return 1;	/* the owner answers */
	if (replica_promote(c, r, &nmsgs) == 0)
		log_info("client %.*s: session taken over from its replica "
		    "here (%zu messages)", (int)id.len, (const char *)id.p,
		    nmsgs);
	return 0;
}

/*
 * Gives a session promoted here (entry e of rp_promoted) to p, UP.
 * With `same` (p is the node it came from, and still has what the
 * replica had: it was only cut off), the deliveries restored at the
 * promotion stay behind, so only what was queued here since goes.
 */
/* session_take_if(): m also went to the spool for p (the peer). */
static int
give_back_spooled(const struct msg *m, void *arg)
{
	const struct peer *p = arg;

	return msg_spooled_for(m, p->p_hash);
}

static void
replica_give_back(struct cluster *c, struct peer *p, struct ctab_ent *e,
    int same)
{
	struct replica *rp = c->c_repl;
	struct rpromo pr = *(struct rpromo *)e->ce_ptr;
	struct session *s;
	struct session_out *o;
	char id[LINK_MAX_NAME + 1];
	size_t len = e->ce_len, n = 0, spooled = 0;

	memcpy(id, e->ce_key, len + 1);
	promo_forget(rp, e);
	s = session_table_find(c->c_broker->b_sessions, id, len);
	if (s == NULL || s->s_client != NULL || s->s_clean)
		return;
	while (same && ((o = TAILQ_FIRST(&s->s_inflight)) != NULL ||
	    (o = TAILQ_FIRST(&s->s_queue)) != NULL) && o->so_seq <= pr.rpr_mark) {
		session_out_free(session_take_first(s));
		n++;
	}
	/*
	 * What was queued here since, and also went to p's spool on its
	 * node (p was away when it was routed): p gets it from there.
	 */
	if (same && (spooled = session_take_if(s, give_back_spooled,
	    p)) > 0)
		rp->rp_nspooled += spooled;
	log_info("client %s: session given back to node %s%s", id, p->p_name,
	    same ? " (it was cut off, not gone)" : "");
	if (same && n + spooled > 0)
		log_debug("client %s: %zu messages it has already kept here, "
		    "%zu it gets from spools", id, n, spooled);
	cluster_session_give(c, p, bytes_view_of(id, len));
}

void
replica_claimed(struct cluster *c, struct peer *p, struct bytes_view id,
    uint64_t stamp, int kept)
{
	struct replica *rp = c->c_repl;
	struct ctab_ent *e;
	const struct rpromo *pr;

	if (rp == NULL || p->p_link == NULL ||
	    (e = ctab_get(&rp->rp_promoted, id)) == NULL)
		return;
	pr = e->ce_ptr;
	/*
	 * The node it came from kept the session: the client connected
	 * there since before the promotion (it was cut off), or it says so
	 * (LINK_CLAIM_KEPT: the session was there when the client came
	 * back, never lost or loaded from data_dir after a restart).
	 * Otherwise the client reconnected there, to a node that lost it:
	 * the whole copy goes.
	 */
	replica_give_back(c, p, e, e->ce_aux != NULL &&
	    strcmp(e->ce_aux, p->p_name) == 0 &&
	    (kept || stamp < pr->rpr_stamp));
}

int
replica_holds(struct cluster *c, struct bytes_view id)
{
	return c->c_repl != NULL && rstore_get(&c->c_repl->rp_store,
	    (const char *)id.p, id.len) != NULL;
}

void
replica_pump(struct cluster *c)
{
	if (c->c_repl != NULL && c->c_repl->rp_ndirty > 0)
		replica_pass_start(c);
}

void
replica_status_json(struct cluster *c, struct bytes_w *w)
{
	struct replica *rp = c->c_repl;

	if (rp == NULL) {
		bytes_put_str(w, "\"replicas\":null");
		return;
	}
	bytes_printf(w, "\"replicas\":{\"held\":%zu,\"held_messages\":%zu,"
	    "\"held_bytes\":%zu,\"max_bytes\":%zu,\"dropped\":%llu,"
	    "\"refused\":%llu,\"owned\":%zu,\"unplaced\":%zu,"
	    "\"synced\":%llu,\"promoted\":%llu,\"resent\":%llu,"
	    "\"acks_released\":%llu,\"given_back_from_spools\":%llu}",
	    rstore_count(&rp->rp_store), rstore_msgs(&rp->rp_store),
	    rp->rp_store.rs_bytes, rp->rp_store.rs_max_bytes,
	    (unsigned long long)rp->rp_store.rs_dropped,
	    (unsigned long long)rp->rp_store.rs_refused,
	    rp->rp_own.ct_count, rp->rp_ndirty,
	    (unsigned long long)rp->rp_nsynced,
	    (unsigned long long)rp->rp_npromoted,
	    (unsigned long long)rp->rp_nlost,
	    (unsigned long long)rp->rp_nreleased,
	    (unsigned long long)rp->rp_nspooled);
}
