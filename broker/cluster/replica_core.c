/*
 * Session replicas, the pure parts; see replica_core.h.
 *
 * What a replica costs against max_replica_bytes: its struct, client
 * id and owner name, each subscription (struct and filter) and each
 * delivery (struct, topic and payload: a message shared by n replicas
 * counts n times, as the session accounts do).
 */
#include "broker/cluster/replica_core.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define RSESS_COST(s)	(sizeof(struct rsess) + sizeof(struct ctab_ent) + \
	(s)->r_ent->ce_len + 1 + ((s)->r_ent->ce_aux != NULL ? \
	strlen((s)->r_ent->ce_aux) + 1 : 0))
#define RSUB_COST(len)	(sizeof(struct rsub) + (len) + 1)
#define RMSG_COST(m)	(sizeof(struct rmsg) + sizeof(struct msg) + \
	msg_bytes(m))

int
replica_ring_set(struct ring *r, const char *self, const char *const *up,
    size_t n)
{
	const char **v;
	size_t i, k = 0;
	int rc;

	if (n == 0)
		return ring_set(r, NULL, 0);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (up[i] != NULL && (self == NULL || strcmp(up[i], self) != 0))
			v[k++] = up[i];
	rc = ring_set(r, v, k);
	free(v);
	return rc;
}

const char *
replica_holder(const struct ring *r, const char *id, size_t len)
{
	return ring_whois(r, id, len);
}

int
rstore_init(struct rstore *st, uint64_t seed, size_t max_bytes)
{
	memset(st, 0, sizeof(*st));
	st->rs_max_bytes = max_bytes;
	return ctab_init(&st->rs_tab, seed);
}

/* Charges or refunds n bytes to the replica and the store. */
static void
rstore_charge(struct rstore *st, struct rsess *s, size_t n, int add)
{
	if (add) {
		s->r_bytes += n;
		st->rs_bytes += n;
	} else {
		s->r_bytes -= n;
		st->rs_bytes -= n;
	}
}

static int
rstore_fits(const struct rstore *st, size_t n)
{
	return st->rs_max_bytes == 0 || (st->rs_bytes <= st->rs_max_bytes &&
	    n <= st->rs_max_bytes - st->rs_bytes);
}

static void
rmsg_free(struct rstore *st, struct rsess *s, struct rmsg *m)
{
	TAILQ_REMOVE(&s->r_msgs, m, rm_entry);
	s->r_nmsgs--;
	rstore_charge(st, s, RMSG_COST(m->rm_msg), 0);
	msg_unref(m->rm_msg);
	free(m);
}

static void
rsub_free(struct rstore *st, struct rsess *s, struct rsub *u)
{
	TAILQ_REMOVE(&s->r_subs, u, rs_entry);
	s->r_nsubs--;
	rstore_charge(st, s, RSUB_COST(u->rs_len), 0);
	free(u);
}

/* Empties a replica of its subscriptions and deliveries. */
static void
rsess_clear(struct rstore *st, struct rsess *s)
{
	struct rmsg *m;
	struct rsub *u;

	while ((m = TAILQ_FIRST(&s->r_msgs)) != NULL)
		rmsg_free(st, s, m);
	while ((u = TAILQ_FIRST(&s->r_subs)) != NULL)
		rsub_free(st, s, u);
}

void
rstore_del(struct rstore *st, struct rsess *s)
{
	rsess_clear(st, s);
	rstore_charge(st, s, RSESS_COST(s), 0);
	ctab_del(&st->rs_tab, s->r_ent);
	free(s);
}

static int
rstore_fini_one(struct ctab_ent *e, void *arg)
{
	rstore_del(arg, e->ce_ptr);
	return 0;
}

void
rstore_fini(struct rstore *st)
{
	if (st->rs_tab.ct_buckets != NULL)
		(void)ctab_foreach(&st->rs_tab, rstore_fini_one, st);
	ctab_fini(&st->rs_tab);
}

struct rsess *
rstore_get(struct rstore *st, const char *id, size_t len)
{
	struct ctab_ent *e;

	e = ctab_get(&st->rs_tab, bytes_view_of(id, len));
	return e != NULL ? e->ce_ptr : NULL;
}

const char *
rsess_id(const struct rsess *s)
{
	return s->r_ent->ce_key;
}

const char *
rsess_owner(const struct rsess *s)
{
	return s->r_ent->ce_aux != NULL ? s->r_ent->ce_aux : "";
}

size_t
rstore_count(const struct rstore *st)
{
	return st->rs_tab.ct_count;
}

static int
rstore_msgs_one(struct ctab_ent *e, void *arg)
{
	*(size_t *)arg += ((struct rsess *)e->ce_ptr)->r_nmsgs;
	return 0;
}

size_t
rstore_msgs(const struct rstore *st)
{
	size_t n = 0;

	(void)ctab_foreach((struct ctab *)&st->rs_tab, rstore_msgs_one, &n);
	return n;
}

static struct rsub *
rsub_find(struct rsess *s, struct bytes_view f)
{
	struct rsub *u;

	TAILQ_FOREACH(u, &s->r_subs, rs_entry)
		if (u->rs_len == f.len && memcmp(u->rs_filter, f.p, f.len) == 0)
			return u;
	return NULL;
}

static void
rsub_set(struct rsub *u, const struct link_sub *o)
{
	u->rs_qos = o->qos;
	u->rs_no_local = o->no_local;
	u->rs_rap = o->rap;
	u->rs_rh = o->rh;
	u->rs_sub_id = o->sub_id;
}

/*
 * Subscribes o->filter with its options, or unsubscribes it (o->qos
 * LINK_REPL_UNSUB).
 */
static int
rsess_sub(struct rstore *st, struct rsess *s, const struct link_sub *o)
{
	struct bytes_view f = o->filter;
	struct rsub *u;

	if ((u = rsub_find(s, f)) != NULL) {
		if (o->qos == LINK_REPL_UNSUB)
			rsub_free(st, s, u);
		else
			rsub_set(u, o);
		return 0;
	}
	if (o->qos == LINK_REPL_UNSUB)
		return 0;
	if (!rstore_fits(st, RSUB_COST(f.len))) {
		st->rs_dropped++;
		return CAIRN_ERR_LIMIT;
	}
	if ((u = malloc(sizeof(*u) + f.len + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	rsub_set(u, o);
	u->rs_len = f.len;
	memcpy(u->rs_filter, f.p, f.len);
	u->rs_filter[f.len] = '\0';
	TAILQ_INSERT_TAIL(&s->r_subs, u, rs_entry);
	s->r_nsubs++;
	rstore_charge(st, s, RSUB_COST(f.len), 1);
	return 0;
}

/*
 * Adds one delivery.  Seqs only grow: one at or below the last held is
 * a repeat (dropped as stale).
 */
static int
rsess_msg(struct rstore *st, struct rsess *s, const struct link_repl_msg *d,
    uint8_t nids, const uint32_t *ids, uint64_t now)
{
	struct rmsg *m, *last;
	struct msg *msg;
	struct msg_args a;
	size_t cost;

	if ((last = TAILQ_LAST(&s->r_msgs, rmsgq)) != NULL &&
	    d->seq <= last->rm_seq) {
		st->rs_stale++;
		return 0;
	}
	cost = sizeof(struct rmsg) + sizeof(struct msg) + d->topic.len +
	    d->payload.len + d->v5.from.len + d->v5.props.len;
	if (!rstore_fits(st, cost)) {
		s->r_dropped++;
		st->rs_dropped++;
		return CAIRN_ERR_LIMIT;
	}
	memset(&a, 0, sizeof(a));
	a.ma_topic = d->topic;
	a.ma_payload = d->payload;
	a.ma_props = d->v5.props;
	a.ma_from = d->v5.from;
	a.ma_qos = d->qos;
	a.ma_retain = d->retain;
	/* The expiry goes on counting down from here. */
	a.ma_expire_at = msg_expire_at(now, d->v5.expiry_ms);
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (msg = msg_new_ex(&a)) == NULL) {
		free(m);
		return CAIRN_ERR_NOMEM;
	}
	m->rm_seq = d->seq;
	m->rm_msg = msg;
	m->rm_qos = d->qos;
	m->rm_retain = d->retain;
	m->rm_state = d->state;
	m->rm_pid = d->pid;
	m->rm_nids = nids > LINK_MAX_SUB_IDS ? LINK_MAX_SUB_IDS : nids;
	memcpy(m->rm_ids, ids, m->rm_nids * sizeof(m->rm_ids[0]));
	TAILQ_INSERT_TAIL(&s->r_msgs, m, rm_entry);
	s->r_nmsgs++;
	rstore_charge(st, s, RMSG_COST(msg), 1);
	return 0;
}

/*
 * A delivery changed state.  Looked up from the oldest: the owner
 * finishes deliveries about in the order it queued them, so the one
 * sought is near the front.
 */
static void
rsess_state(struct rstore *st, struct rsess *s, uint64_t seq, uint8_t state,
    uint16_t pid)
{
	struct rmsg *m;

	TAILQ_FOREACH(m, &s->r_msgs, rm_entry) {
		if (m->rm_seq > seq)
			break;
		if (m->rm_seq != seq)
			continue;
		if (state == LINK_REPL_DONE)
			rmsg_free(st, s, m);
		else if (state == LINK_REPL_RELEASED && m->rm_qos != 2)
			st->rs_stale++;
		else {
			m->rm_state = state;
			m->rm_pid = pid;
		}
		return;
	}
	/* Dropped at the cap, or never had: nothing to change. */
	st->rs_stale++;
}

/* REPL_SESSION: the replica of id from owner, anew. */
static int
rstore_session(struct rstore *st, const char *owner, const struct link_repl *p,
    struct rsess **out)
{
	struct ctab_ent *e;
	struct rsess *s;
	int made;

	if ((e = ctab_get(&st->rs_tab, p->id)) != NULL) {
		s = e->ce_ptr;
		rsess_clear(st, s);
		s->r_dropped = 0;
		rstore_charge(st, s, RSESS_COST(s), 0);
		if (ctab_set_aux(&st->rs_tab, e, owner) != 0) {
			rstore_charge(st, s, RSESS_COST(s), 1);
			rstore_del(st, s);
			return CAIRN_ERR_NOMEM;
		}
		rstore_charge(st, s, RSESS_COST(s), 1);
		*out = s;
		return 0;
	}
	if (!rstore_fits(st, sizeof(struct rsess) + sizeof(struct ctab_ent) +
	    p->id.len + strlen(owner) + 2)) {
		st->rs_refused++;
		return CAIRN_ERR_LIMIT;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((e = ctab_put(&st->rs_tab, p->id, &made)) == NULL ||
	    ctab_set_aux(&st->rs_tab, e, owner) != 0) {
		if (e != NULL)
			ctab_del(&st->rs_tab, e);
		free(s);
		return CAIRN_ERR_NOMEM;
	}
	TAILQ_INIT(&s->r_subs);
	TAILQ_INIT(&s->r_msgs);
	s->r_ent = e;
	e->ce_ptr = s;
	rstore_charge(st, s, RSESS_COST(s), 1);
	*out = s;
	return 0;
}

/* When the client left, on this clock: 0 when online. */
static uint64_t
rsess_offline_at(const struct link_repl *p, uint64_t now)
{
	if (!(p->sess_flags & LINK_SESS_OFFLINE))
		return 0;
	return now > p->sess_offline_ms + 1 ? now - p->sess_offline_ms : 1;
}

int
rstore_apply(struct rstore *st, const char *owner, const struct link_msg *m,
    uint64_t now)
{
	const struct link_repl *p = &m->u.repl;
	struct link_repl_msg d;
	struct link_sub sub;
	struct bytes_view list, idl;
	uint32_t ids[LINK_MAX_SUB_IDS];
	uint8_t nids;
	struct rsess *s = NULL;
	struct ctab_ent *e;
	uint64_t seq;
	uint16_t pid;
	uint8_t state;
	int rc = 0, rc1;

	if (m->type == LINK_REPL_SESSION) {
		if ((rc = rstore_session(st, owner, p, &s)) != 0)
			return rc;
		s->r_flags = p->sess_flags & ~LINK_SESS_OFFLINE;
		s->r_expiry = p->sess_expiry;
		s->r_offline_at = rsess_offline_at(p, now);
		list = p->items;
		while (link_session_sub_next5(&list, &sub))
			if ((rc1 = rsess_sub(st, s, &sub)) != 0)
				rc = rc1;
		return rc;
	}
	if ((e = ctab_get(&st->rs_tab, p->id)) == NULL ||
	    e->ce_aux == NULL || strcmp(e->ce_aux, owner) != 0) {
		st->rs_stale++;
		return 0;
	}
	s = e->ce_ptr;
	switch (m->type) {
	case LINK_REPL_DROP:
		rstore_del(st, s);
		break;
	case LINK_REPL_SUB:
		memset(&sub, 0, sizeof(sub));
		sub.filter = p->filter;
		sub.qos = p->qos;
		sub.no_local = p->opts & 1;
		sub.rap = (p->opts >> 1) & 1;
		sub.rh = (p->opts >> 2) & 3;
		sub.sub_id = p->sub_id;
		rc = rsess_sub(st, s, &sub);
		break;
	case LINK_REPL_MSGS:
		list = p->items;
		idl = p->ids;
		while (link_repl_msg_next(&list, &d)) {
			/* The trailer, when sent, has an entry per item. */
			if (idl.len == 0 || !link_repl_ids_next(&idl, &nids, ids))
				nids = 0;
			if ((rc1 = rsess_msg(st, s, &d, nids, ids, now)) != 0)
				rc = rc1;
		}
		break;
	case LINK_REPL_STATE:
		list = p->items;
		while (link_repl_state_next(&list, &seq, &state, &pid))
			rsess_state(st, s, seq, state, pid);
		if (p->has_online)
			s->r_offline_at = rsess_offline_at(p, now);
		break;
	default:
		break;
	}
	return rc;
}
