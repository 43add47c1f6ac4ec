/*
 * Custody across links (CLUSTER.md, "Custody"): a QoS 1/2 FORWARD is
 * acknowledged only once it is queued for every local subscriber it
 * matched, and each side bounds what the other can make it hold.
 *
 * Receiving side.  A forward whose subscribers all take it is acked at
 * once.  One that finds an online subscriber's queue full (the client
 * reads slower than the cluster sends) is held: the sessions that took
 * it keep their copy, the others are owed it, and every later forward
 * of that peer waits behind it (so that a subscriber sees one peer's
 * messages in their order).  A timer (HOLD_RETRY) gives the owed
 * sessions the message as their queues drain; the FORWARD_ACK goes when
 * the last one took it.  Bounds: the peer may have at most the credit we
 * granted in flight, so what it can make us hold is the credit (twice
 * it, counting the forwards of a link that died, is a protocol error);
 * a session that has not taken a held message within
 * forward_hold_timeout (a client that stopped reading) is "stuck": that
 * delivery goes the way a local publish would (the session's limits
 * drop it, counted) and its later ones are not held until its queue
 * has room again, so one client cannot stop a link for long.  An
 * offline session is never waited for: its limits apply as to a local
 * publish.
 *
 * Sending side (cluster_sync.c sends): the receiver's CREDIT says how
 * many forwards may be unacknowledged on the link (cluster_fwdq_*).
 * When a peer's resend buffer reaches max_forward_buffer(_bytes) while
 * its link is up, publishers here are held (broker_hold_publishers():
 * each client's next PUBLISH waits unread) until the buffer is down to
 * three quarters, instead of dropping what the publisher was promised.
 * The buffer's hard cap while up is twice that, or the spool's bytes
 * when larger (cluster_peer_caps()); while the peer is away it is the
 * spool.
 *
 * The store (data_dir): a forward's FORWARD_ACK goes only once the
 * store's batch that holds its queued copies is durable.  custody_ack()
 * is the one place acks go from: it notes the generation the ack waits
 * for (persist_gen(): the open batch) and the ack waits in the peer's
 * p_pend ring, in order, until bh_durable says that generation is
 * durable (custody_durable()).  Without data_dir the generation is 0
 * and the ack goes at once, as before.  The acks of a batch that
 * failed (bh_store_failed, custody_store_failed()) are dropped, never
 * sent: the sender keeps those forwards and resends them on its next
 * link.
 * The ring is bounded as the held forwards are (the credit): a seq seen
 * again while its ack waits is not queued twice.
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/cluster/cluster_int.h"
#include "common/container.h"
#include "common/err.h"
#include "common/fifo.h"
#include "common/log.h"

/* Held forwards are tried again this often (s) while any is held. */
#define HOLD_RETRY		0.002
/* Forwards a retry routes per peer before the next timer tick. */
#define HOLD_SLICE		512

static struct log_rate hold_lr = LOG_RATE_INIT(10);
static struct log_rate stuck_lr = LOG_RATE_INIT(10);
static struct log_rate pubhold_lr = LOG_RATE_INIT(10);

static void	custody_on_retry(struct ev_loop *, ev_timer *, int);
static void	pend_pump(struct cluster *, struct peer *);

int
custody_init(struct cluster *c)
{
	uint64_t inc = 0;

	while (inc == 0) {
		if (getrandom(&inc, sizeof(inc), 0) != (ssize_t)sizeof(inc))
			inc = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	}
	c->c_incarnation = inc;
	ev_init(&c->c_hold_w, custody_on_retry);
	c->c_hold_w.repeat = HOLD_RETRY;
	return ctab_init(&c->c_stuck, inc ^ 0x9e3779b97f4a7c15ull);
}

void
custody_fini(struct cluster *c)
{
	ev_timer_stop(c->c_loop, &c->c_hold_w);
	ctab_fini(&c->c_stuck);
}

const struct cluster_custody_stats *
cluster_custody_get(const struct cluster *c)
{
	return &c->c_cst;
}

void
custody_peer_init(struct peer *p)
{
	TAILQ_INIT(&p->p_held);
}

static void
held_free(struct custody_held *h)
{
	size_t i;

	for (i = 0; i < h->ch_nowed; i++)
		free(h->ch_owed[i].co_id);
	free(h->ch_owed);
	free(h->ch_groups);
	msg_unref(h->ch_msg);
	free(h);
}

static void
held_remove(struct cluster *c, struct peer *p, struct custody_held *h)
{
	TAILQ_REMOVE(&p->p_held, h, ch_entry);
	p->p_nheld--;
	p->p_held_bytes -= msg_bytes(h->ch_msg);
	c->c_nheld--;
	held_free(h);
	if (c->c_nheld == 0)
		ev_timer_stop(c->c_loop, &c->c_hold_w);
}

void
custody_peer_fini(struct cluster *c, struct peer *p)
{
	struct custody_held *h;

	/* Never acked: the sender still has them, if it still knows us. */
	while ((h = TAILQ_FIRST(&p->p_held)) != NULL)
		held_remove(c, p, h);
	free(p->p_pend);
	p->p_pend = NULL;
	free(p->p_marks);
	p->p_marks = NULL;
	p->p_nmarks = p->p_marks_cap = p->p_marks_head = 0;
	p->p_npend = p->p_pend_cap = p->p_pend_head = 0;
	if (p->p_holding) {
		p->p_holding = 0;
		if (--c->c_nholding == 0)
			broker_hold_publishers(c->c_broker, 0);
	}
}

void
custody_credit_send(struct cluster *c, struct peer *p)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.type = LINK_CREDIT;
	m.u.credit.forwards = bc->bc_forward_credit;
	m.u.credit.bytes = bc->bc_forward_credit_bytes;
	m.u.credit.incarnation = c->c_incarnation;
	(void)link_send(p->p_link, &m);
	/* Acks that waited for the store while the link was down. */
	pend_pump(c, p);
}

static void
custody_ack_send(struct peer *p, uint64_t seq)
{
	struct link_msg m;

	if (p->p_link == NULL)
		return;		/* the resend on the next link is acked */
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD_ACK;
	m.u.ack_seq = seq;
	(void)link_send(p->p_link, &m);
}

/*
 * The store generation an ack made now waits for: the open batch (what
 * this forward queued is in it; persist.c commits a batch asked for
 * even when empty); 0 without data_dir.
 */
static uint64_t
custody_ack_gen(struct broker *b)
{
	return persist_gen(b);
}

static int
pend_ready(struct cluster *c, const struct custody_pend *cp)
{
	return (cp->cp_gen == 0 || cp->cp_gen <=
	    persist_durable_gen(c->c_broker)) && (cp->cp_epoch == 0 ||
	    cp->cp_epoch <= replica_done_epoch(c));
}

/* Sends p's waiting acks whose store generation is durable, in order. */
static void
pend_pump(struct cluster *c, struct peer *p)
{
	struct custody_pend *cp;

	while (p->p_npend > 0) {
		cp = &p->p_pend[p->p_pend_head];
		if (!pend_ready(c, cp))
			return;
		custody_ack_send(p, cp->cp_seq);
		p->p_pend_head = (p->p_pend_head + 1) % p->p_pend_cap;
		p->p_npend--;
	}
}

static int
pend_push(struct peer *p, const struct custody_pend *cp)
{
	void *base = p->p_pend;
	int rc;

	if (p->p_npend == p->p_pend_cap) {
		rc = fifo_grow(&base, &p->p_pend_cap, &p->p_pend_head,
		    p->p_npend, sizeof(*p->p_pend), 64);
		p->p_pend = base;
		if (rc != 0)
			return rc;
	}
	p->p_pend[(p->p_pend_head + p->p_npend) % p->p_pend_cap] = *cp;
	p->p_npend++;
	return 0;
}

/*
 * The one place a FORWARD_ACK goes from: the forward is queued for
 * every subscriber here.  It goes now, or once the store has those
 * queues (data_dir), behind the acks of p that wait already.
 */
static void
custody_ack(struct cluster *c, struct peer *p, uint64_t seq)
{
	struct custody_pend cp;

	cp.cp_seq = seq;
	cp.cp_gen = custody_ack_gen(c->c_broker);
	cp.cp_epoch = replica_ack_epoch(c);
	if (p->p_npend == 0 && pend_ready(c, &cp)) {
		custody_ack_send(p, seq);
		return;
	}
	if (pend_push(p, &cp) != 0) {
		/* Not acked: the sender resends it on the next link. */
		c->c_cst.cs_drop_nomem++;
		if (p->p_link != NULL)
			link_close(p->p_link, "out of memory for a forward's "
			    "ack");
	}
}

/*
 * Store batch gen failed: the acks waiting on it are never sent (the
 * sender keeps those forwards and resends them on its next link).
 */
void
custody_store_failed(struct cluster *c, uint64_t gen)
{
	struct peer *p;
	size_t i, j, n;

	TAILQ_FOREACH(p, &c->c_peers, p_entry) {
		n = p->p_npend;
		for (i = j = 0; i < n; i++) {
			struct custody_pend cp = p->p_pend[(p->p_pend_head +
			    i) % p->p_pend_cap];

			if (cp.cp_gen == gen) {
				c->c_cst.cs_acks_withheld++;
				continue;
			}
			p->p_pend[(p->p_pend_head + j++) % p->p_pend_cap] = cp;
		}
		p->p_npend = j;
	}
}

void
custody_repl_done(struct cluster *c)
{
	custody_durable(c, 0);
}

void
custody_durable(struct cluster *c, uint64_t gen)
{
	struct peer *p;

	(void)gen;
	TAILQ_FOREACH(p, &c->c_peers, p_entry)
		if (p->p_npend > 0 && p->p_link != NULL)
			pend_pump(c, p);
}

/* A routing pass over one forward: what the full sessions are owed. */
struct custody_pass {
	struct cluster		*cp_c;
	struct custody_held	*cp_h;
	int			 cp_nomem;
};

static int
owed_add(struct custody_held *h, const struct session *s,
    const struct session_deliv *d)
{
	struct custody_owed *n;
	size_t cap;

	if (h->ch_nowed == h->ch_capowed) {
		cap = h->ch_capowed == 0 ? 2 : h->ch_capowed * 2;
		if ((n = reallocarray(h->ch_owed, cap, sizeof(*n))) == NULL)
			return CAIRN_ERR_NOMEM;
		h->ch_owed = n;
		h->ch_capowed = cap;
	}
	if ((h->ch_owed[h->ch_nowed].co_id = malloc(s->s_id_len + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(h->ch_owed[h->ch_nowed].co_id, s->s_id, s->s_id_len + 1);
	h->ch_owed[h->ch_nowed].co_len = s->s_id_len;
	h->ch_owed[h->ch_nowed].co_deliv = *d;
	h->ch_nowed++;
	return 0;
}

/* 1 if s waited past forward_hold_timeout and has no room yet. */
static int
custody_stuck(struct cluster *c, const struct session *s)
{
	struct ctab_ent *e;

	if (c->c_stuck.ct_count == 0 || (e = ctab_get(&c->c_stuck,
	    bytes_view_of(s->s_id, s->s_id_len))) == NULL)
		return 0;
	return 1;
}

/* s took a message: it is not stuck (any more). */
static void
custody_unstuck(struct cluster *c, const struct session *s)
{
	struct ctab_ent *e;

	if (c->c_stuck.ct_count > 0 && (e = ctab_get(&c->c_stuck,
	    bytes_view_of(s->s_id, s->s_id_len))) != NULL)
		ctab_del(&c->c_stuck, e);
}

static void
custody_mark_stuck(struct cluster *c, const struct session *s)
{
	const struct broker_conf *bc = c->c_broker->b_conf;

	/* At most one entry per session: past that, they were freed. */
	if (c->c_stuck.ct_count >= (size_t)bc->bc_max_sessions +
	    bc->bc_max_connections) {
		ctab_fini(&c->c_stuck);
		(void)ctab_init(&c->c_stuck, c->c_incarnation);
	}
	(void)ctab_put(&c->c_stuck, bytes_view_of(s->s_id, s->s_id_len),
	    NULL);
}

/* router_route_local()'s delivery for a forward in custody. */
static void
custody_deliver(struct session *s, struct msg *m,
    const struct session_deliv *d, void *arg)
{
	struct custody_pass *cp = arg;
	struct cluster *c = cp->cp_c;
	struct broker *b = c->c_broker;

	if (broker_deliver_hold(b, s, m, d) == 0) {
		custody_unstuck(c, s);
		return;
	}
	if (custody_stuck(c, s)) {
		/* It stopped reading: a local publish's fate. */
		broker_deliver(s, m, d, b);
		return;
	}
	if (owed_add(cp->cp_h, s, d) != 0) {
		cp->cp_nomem = 1;
		broker_deliver(s, m, d, b);
	}
}

/* The groups of h (or of a FORWARD) as views, in c_gviews. */
static size_t
held_groups(struct cluster *c, struct bytes_view list, uint16_t ngroups)
{
	struct bytes_view *nv;
	size_t n = 0;

	if (ngroups > c->c_capgviews) {
		if ((nv = reallocarray(c->c_gviews, ngroups,
		    sizeof(*nv))) == NULL)
			return 0;
		c->c_gviews = nv;
		c->c_capgviews = ngroups;
	}
	while (n < ngroups && link_forward_group_next(&list, &c->c_gviews[n]))
		n++;
	return n;
}

/* Matches h's message here once; what is owed stays in h. */
static void
held_route(struct cluster *c, struct custody_held *h)
{
	struct broker *b = c->c_broker;
	struct custody_pass cp;

	cp.cp_c = c;
	cp.cp_h = h;
	cp.cp_nomem = 0;
	b->b_stats.bs_pub_received++;
	/*
	 * Matched here only: a forwarded message never goes on, and a
	 * shared group gets it only when the sender picked this node.
	 */
	(void)router_route_local(b->b_router, h->ch_msg, c->c_gviews,
	    held_groups(c, bytes_view_of(h->ch_groups, h->ch_glen),
	    h->ch_ngroups), custody_deliver, &cp);
	h->ch_routed = 1;
	h->ch_since = ev_now(c->c_loop);
	if (cp.cp_nomem)
		log_warnx("cluster: forward %llu: out of memory while held: "
		    "delivered as a local publish",
		    (unsigned long long)h->ch_seq);
}

/*
 * Gives h's owed sessions the message where they have room now; past
 * forward_hold_timeout, a session still full is stuck.  1 when nothing
 * is owed any more.
 */
static int
held_retry(struct cluster *c, struct custody_held *h)
{
	struct broker *b = c->c_broker;
	struct custody_owed *o;
	struct session *s;
	ev_tstamp timeout;
	size_t i = 0;

	timeout = (ev_tstamp)b->b_conf->bc_forward_hold_timeout_ms / 1000.0;
	while (i < h->ch_nowed) {
		o = &h->ch_owed[i];
		s = session_table_find(b->b_sessions, o->co_id, o->co_len);
		if (s != NULL && broker_deliver_hold(b, s, h->ch_msg,
		    &o->co_deliv) != 0) {
			if (ev_now(c->c_loop) - h->ch_since < timeout) {
				i++;
				continue;
			}
			c->c_cst.cs_hold_timeouts++;
			log_rate_warnx(&stuck_lr, "client %s: a forwarded "
			    "message waited forward_hold_timeout %.1fs for "
			    "room in its queue: its limits apply to it and to "
			    "what follows until it reads", s->s_id, timeout);
			custody_mark_stuck(c, s);
			broker_deliver(s, h->ch_msg, &o->co_deliv, b);
		} else if (s != NULL)
			custody_unstuck(c, s);
		/* Taken, gone (nothing to deliver to), or stuck: done. */
		free(o->co_id);
		h->ch_owed[i] = h->ch_owed[--h->ch_nowed];
	}
	return h->ch_nowed == 0;
}

/* Acks what p's held forwards allow, in order; 1 if some are left. */
static int
held_pump(struct cluster *c, struct peer *p)
{
	struct custody_held *h;
	size_t n = 0;

	while ((h = TAILQ_FIRST(&p->p_held)) != NULL) {
		if (!h->ch_routed) {
			if (n++ == HOLD_SLICE)
				return 1;
			held_route(c, h);
			if (h->ch_nowed > 0)
				return 1;
		} else if (!held_retry(c, h))
			return 1;
		custody_ack(c, p, h->ch_seq);
		held_remove(c, p, h);
	}
	return 0;
}

static void
custody_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *c = container_of(w, struct cluster, c_hold_w);
	struct peer *p, *n;

	(void)loop;
	(void)revents;
	TAILQ_FOREACH_SAFE(p, &c->c_peers, p_entry, n)
		if (p->p_nheld > 0)
			(void)held_pump(c, p);
}

/* Appends a held forward to p's; NULL on ENOMEM. */
static struct custody_held *
held_new(struct cluster *c, struct peer *p, const struct link_forward *f)
{
	struct custody_held *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->ch_msg = cluster_forward_msg(f)) == NULL)
		goto fail;
	if (f->ngroups > 0) {
		if ((h->ch_groups = malloc(f->groups.len)) == NULL)
			goto fail;
		memcpy(h->ch_groups, f->groups.p, f->groups.len);
		h->ch_glen = f->groups.len;
		h->ch_ngroups = f->ngroups;
	}
	h->ch_seq = f->seq;
	TAILQ_INSERT_TAIL(&p->p_held, h, ch_entry);
	p->p_nheld++;
	p->p_held_bytes += msg_bytes(h->ch_msg);
	if (c->c_nheld++ == 0)
		ev_timer_again(c->c_loop, &c->c_hold_w);
	return h;
fail:
	msg_unref(h->ch_msg);
	free(h);
	return NULL;
}

void
custody_forward(struct cluster *c, struct peer *p,
    const struct link_forward *f)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	struct cluster_dedup seen = p->p_dedup;
	struct custody_held *h;

	if (!cluster_dedup_check(&seen, f->seq)) {
		/*
		 * Seen.  Acked again (the first ack may have been lost),
		 * unless it is still held: every seq from the first held
		 * one on arrived after it, so is held too, and its ack
		 * comes when it is queued.
		 */
		if (((h = TAILQ_FIRST(&p->p_held)) == NULL ||
		    f->seq < h->ch_seq) && (p->p_npend == 0 ||
		    f->seq < p->p_pend[p->p_pend_head].cp_seq))
			custody_ack(c, p, f->seq);
		return;
	}
	/*
	 * The peer may have the credit we granted in flight; twice that
	 * held (a dead link's and a new one's) is all it can make us keep.
	 */
	if (p->p_nheld + p->p_npend >= 2 * (size_t)bc->bc_forward_credit ||
	    p->p_held_bytes >= 2 * bc->bc_forward_credit_bytes) {
		link_close(p->p_link, "protocol error: forwards past the "
		    "credit granted (%zu held)", p->p_nheld);
		return;
	}
	if ((h = held_new(c, p, f)) == NULL) {
		/* Not seen: the resend on the next link gets another try. */
		c->c_cst.cs_drop_nomem++;
		link_close(p->p_link, "out of memory for a forward");
		return;
	}
	p->p_dedup = seen;
	if (p->p_nheld > 1)
		return;		/* behind the held ones, in order */
	held_route(c, h);
	if (h->ch_nowed == 0) {
		custody_ack(c, p, h->ch_seq);
		held_remove(c, p, h);
		return;
	}
	c->c_cst.cs_held++;
	log_rate_info(&hold_lr, "cluster: forwards from %s held: a "
	    "subscriber's queue here is full (they are acked as it drains)",
	    p->p_name);
}

void
custody_sender_check(struct cluster *c, struct peer *p)
{
	const struct broker_conf *bc = c->c_broker->b_conf;
	const struct cluster_fwdq *q = &p->p_fwdq;
	int over, under;

	over = p->p_link != NULL && !p->p_away &&
	    (q->cq_n >= bc->bc_max_forward_buffer ||
	    q->cq_bytes >= bc->bc_max_forward_buffer_bytes);
	under = p->p_link == NULL || p->p_away ||
	    (q->cq_n <= bc->bc_max_forward_buffer / 4 * 3 &&
	    q->cq_bytes <= bc->bc_max_forward_buffer_bytes / 4 * 3);
	if (!p->p_holding && over) {
		p->p_holding = 1;
		if (c->c_nholding++ == 0) {
			c->c_cst.cs_publisher_holds++;
			log_rate_info(&pubhold_lr, "cluster: %zu forwards to %s "
			    "await its acks (max_forward_buffer): publishers "
			    "here wait", q->cq_n, p->p_name);
			broker_hold_publishers(c->c_broker, 1);
		}
	} else if (p->p_holding && under) {
		p->p_holding = 0;
		if (--c->c_nholding == 0)
			broker_hold_publishers(c->c_broker, 0);
	}
}
