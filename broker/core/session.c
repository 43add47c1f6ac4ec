/*
 * Sessions: subscriptions, the outgoing queue and in-flight window, the
 * incoming QoS 2 ids, and the client id table.  See session.h.
 *
 * The subscription list is searched linearly: a client has at most
 * max_subscriptions (default 1000) and only SUBSCRIBE and UNSUBSCRIBE
 * search it.  In-flight lookups by packet id are linear in the window
 * (max_inflight, default 20).
 *
 * Accounting (struct session_acct): each change of a session's
 * subscriptions, queue or window changes the totals in the same
 * function, so that the totals are always the sum over the sessions
 * (check_session.c frees everything and expects zeros).
 */
#include "broker/core/session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_codec.h"
#include "common/err.h"

#define SESSION_QOS2_BITMAP	(65536 / 8)
#define SESSION_TABLE_MIN	64

struct session_table {
	struct session	**st_buckets;
	size_t		  st_nbuckets;	/* a power of two */
	size_t		  st_count;
	uint64_t	  st_seed;
	size_t		  st_sweep;	/* session_table_sweep()'s next bucket */
};

static struct session_out *session_inflight_find(struct session *,
		    uint16_t);

/* Tells the observer, if any (session.h, struct session_obs). */
static void
session_tell(struct session *s, enum session_ev ev,
    const struct session_out *o, struct bytes_view filter, uint8_t qos)
{
	const struct session_obs *ob = s->s_lim.sl_obs;

	if (ob != NULL && ob->sob_cb != NULL)
		ob->sob_cb(ob->sob_arg, s, ev, o, filter, qos);
}

#define SESSION_TELL(s, ev, o)	\
	session_tell((s), (ev), (o), bytes_view_of("", 0), 0)

/* What a session costs before it holds anything. */
static size_t
session_fixed_bytes(const struct session *s)
{
	return sizeof(*s) + s->s_id_len + 1;
}

/* A delivery came (delta 1) or went (-1) from s: the totals follow. */
static void
session_acct_msg(struct session *s, size_t bytes, int delta)
{
	struct session_acct *a = s->s_lim.sl_acct;

	if (a == NULL)
		return;
	if (delta > 0) {
		a->sa_msgs++;
		a->sa_msg_bytes += bytes;
	} else {
		a->sa_msgs--;
		a->sa_msg_bytes -= bytes;
	}
}

struct session *
session_new(const char *id, size_t len, const struct session_limits *lim)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->s_id = malloc(len + 1)) == NULL) {
		free(s);
		return NULL;
	}
	if (len > 0)
		memcpy(s->s_id, id, len);
	s->s_id[len] = '\0';
	s->s_id_len = len;
	s->s_ref.sr_kind = SUB_SESSION;
	s->s_lim = *lim;
	if (s->s_lim.sl_max_inflight == 0)
		s->s_lim.sl_max_inflight = 1;
	s->s_next_id = 1;
	s->s_clean = 1;
	TAILQ_INIT(&s->s_subs);
	TAILQ_INIT(&s->s_queue);
	TAILQ_INIT(&s->s_inflight);
	if (s->s_lim.sl_acct != NULL) {
		s->s_lim.sl_acct->sa_sessions++;
		s->s_lim.sl_acct->sa_fixed_bytes += session_fixed_bytes(s);
	}
	return s;
}

void
session_out_free(struct session_out *o)
{
	if (o == NULL)
		return;
	msg_unref(o->so_msg);
	free(o);
}

static void
session_outq_clear(struct session *s, struct session_outq *q)
{
	struct session_out *o;

	while ((o = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, o, so_entry);
		session_acct_msg(s, msg_bytes(o->so_msg), -1);
		session_out_free(o);
	}
}

void
session_free(struct session *s)
{
	struct session_acct *a;
	struct session_sub *sub;

	if (s == NULL)
		return;
	/* One FREE, not an UNSUB per subscription or a DONE per delivery. */
	SESSION_TELL(s, SESSION_EV_FREE, NULL);
	s->s_lim.sl_obs = NULL;
	session_outq_clear(s, &s->s_queue);
	session_outq_clear(s, &s->s_inflight);
	while ((sub = TAILQ_FIRST(&s->s_subs)) != NULL)
		(void)session_sub_del(s, bytes_view_of(sub->ss_filter,
		    sub->ss_len));
	if ((a = s->s_lim.sl_acct) != NULL) {
		a->sa_sessions--;
		a->sa_fixed_bytes -= session_fixed_bytes(s);
		if (!s->s_clean)
			a->sa_persistent--;
	}
	free(s->s_in_qos2);
	free(s->s_username);
	free(s->s_id);
	free(s);
}

int
session_online(const struct session *s)
{
	return s->s_client != NULL;
}

void
session_set_clean(struct session *s, int clean)
{
	struct session_acct *a = s->s_lim.sl_acct;

	int was = s->s_clean;

	clean = clean ? 1 : 0;
	if (a != NULL && clean != s->s_clean) {
		if (clean)
			a->sa_persistent--;
		else
			a->sa_persistent++;
	}
	s->s_clean = clean;
	if (clean != was)
		SESSION_TELL(s, SESSION_EV_CLEAN, NULL);
}

void
session_set_level(struct session *s, int v5, int has_expiry,
    uint32_t expiry)
{
	v5 = v5 ? 1 : 0;
	has_expiry = has_expiry ? 1 : 0;
	expiry = has_expiry ? expiry : 0;
	if (s->s_v5 == v5 && s->s_has_expiry == has_expiry &&
	    s->s_expiry == expiry)
		return;
	s->s_v5 = (uint8_t)v5;
	s->s_has_expiry = (uint8_t)has_expiry;
	s->s_expiry = expiry;
	SESSION_TELL(s, SESSION_EV_LEVEL, NULL);
}

void
session_set_client(struct session *s, void *client, uint64_t now_ms)
{
	int was = s->s_client != NULL;

	s->s_client = client;
	/* Offline counts from now_ms; never 0 (that is "online"). */
	s->s_offline_ms = client != NULL ? 0 : now_ms | 1;
	if (was != (client != NULL))
		SESSION_TELL(s, SESSION_EV_ONLINE, NULL);
}

size_t
session_bytes(const struct session *s)
{
	return session_fixed_bytes(s) + s->s_sub_bytes + s->s_queued_bytes +
	    s->s_inflight_bytes;
}

const char *
session_drop_name(enum session_drop d)
{
	switch (d) {
	case SESSION_DROP_MESSAGES:
		return "max_queued_messages";
	case SESSION_DROP_BYTES:
		return "max_queued_bytes";
	case SESSION_DROP_TOTAL:
		return "max_queued_bytes_total";
	case SESSION_DROP_EXPIRED:
		return "expired";
	case SESSION_DROP_NONE:
		break;
	}
	return "none";
}

int
session_enqueue(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain)
{
	struct session_deliv d;

	d.sd_qos = qos;
	d.sd_retain = retain;
	d.sd_nids = 0;
	return session_enqueue_d(s, m, &d);
}

int
session_enqueue_d(struct session *s, struct msg *m,
    const struct session_deliv *d)
{
	uint8_t qos = d->sd_qos;
	size_t nids = d->sd_nids > SESSION_MAX_SUB_IDS ? SESSION_MAX_SUB_IDS :
	    d->sd_nids;
	struct session_acct *a = s->s_lim.sl_acct;
	struct session_out *o;
	size_t bytes = msg_bytes(m);
	enum session_drop why = SESSION_DROP_NONE;

	if (qos == 0 && !session_online(s) && !s->s_lim.sl_queue_qos0_offline)
		return SESSION_DROPPED_QOS0;
	if (s->s_queued >= s->s_lim.sl_max_queued_messages)
		why = SESSION_DROP_MESSAGES;
	else if (bytes > s->s_lim.sl_max_queued_bytes - s->s_queued_bytes)
		why = SESSION_DROP_BYTES;
	else if (a != NULL && a->sa_max_msg_bytes > 0 &&
	    (a->sa_msg_bytes >= a->sa_max_msg_bytes ||
	    bytes > a->sa_max_msg_bytes - a->sa_msg_bytes))
		why = SESSION_DROP_TOTAL;
	if (why != SESSION_DROP_NONE) {
		s->s_dropped++;
		s->s_drop_reason = why;
		if (a != NULL && why == SESSION_DROP_MESSAGES)
			a->sa_drop_messages++;
		else if (a != NULL && why == SESSION_DROP_BYTES)
			a->sa_drop_bytes++;
		else if (a != NULL)
			a->sa_drop_total++;
		return CAIRN_ERR_LIMIT;
	}
	if ((o = calloc(1, sizeof(*o) + nids * sizeof(o->so_ids[0]))) == NULL)
		return CAIRN_ERR_NOMEM;
	o->so_msg = msg_ref(m);
	o->so_state = SESSION_OUT_QUEUED;
	o->so_qos = qos > 2 ? 2 : qos;
	o->so_retain = d->sd_retain ? 1 : 0;
	o->so_nids = (uint8_t)nids;
	if (nids > 0)
		memcpy(o->so_ids, d->sd_ids, nids * sizeof(o->so_ids[0]));
	o->so_seq = ++s->s_next_seq;
	TAILQ_INSERT_TAIL(&s->s_queue, o, so_entry);
	s->s_queued++;
	s->s_queued_bytes += bytes;
	session_acct_msg(s, bytes, 1);
	SESSION_TELL(s, SESSION_EV_QUEUED, o);
	return 0;
}

int
session_restore(struct session *s, struct msg *m,
    const struct session_deliv *d, enum session_out_state st, uint16_t id)
{
	struct session_out *o;
	size_t bytes = msg_bytes(m);
	size_t nids = d->sd_nids > SESSION_MAX_SUB_IDS ? SESSION_MAX_SUB_IDS :
	    d->sd_nids;
	uint8_t qos = d->sd_qos > 2 ? 2 : d->sd_qos;

	if (st == SESSION_OUT_QUEUED || id == 0 || qos == 0 ||
	    (st == SESSION_OUT_RELEASED && qos != 2) ||
	    session_inflight_find(s, id) != NULL)
		return session_enqueue_d(s, m, d);
	if ((o = calloc(1, sizeof(*o) + nids * sizeof(o->so_ids[0]))) == NULL)
		return CAIRN_ERR_NOMEM;
	o->so_msg = msg_ref(m);
	o->so_state = st;
	o->so_id = id;
	o->so_qos = qos;
	o->so_retain = d->sd_retain ? 1 : 0;
	o->so_nids = (uint8_t)nids;
	if (nids > 0)
		memcpy(o->so_ids, d->sd_ids, nids * sizeof(o->so_ids[0]));
	o->so_seq = ++s->s_next_seq;
	TAILQ_INSERT_TAIL(&s->s_inflight, o, so_entry);
	s->s_ninflight++;
	s->s_inflight_bytes += bytes;
	session_acct_msg(s, bytes, 1);
	/* As queued then sent (then released): an observer sees it all. */
	SESSION_TELL(s, SESSION_EV_QUEUED, o);
	SESSION_TELL(s, SESSION_EV_SENT, o);
	if (st == SESSION_OUT_RELEASED)
		SESSION_TELL(s, SESSION_EV_RELEASED, o);
	return 0;
}

int
session_room(const struct session *s, const struct msg *m)
{
	const struct session_acct *a = s->s_lim.sl_acct;
	size_t bytes = msg_bytes(m);

	if (s->s_queued >= s->s_lim.sl_max_queued_messages ||
	    bytes > s->s_lim.sl_max_queued_bytes - s->s_queued_bytes)
		return 0;
	return a == NULL || a->sa_max_msg_bytes == 0 ||
	    (a->sa_msg_bytes < a->sa_max_msg_bytes &&
	    bytes <= a->sa_max_msg_bytes - a->sa_msg_bytes);
}

static struct session_out *
session_inflight_find(struct session *s, uint16_t id)
{
	struct session_out *o;

	TAILQ_FOREACH(o, &s->s_inflight, so_entry)
		if (o->so_id == id)
			return o;
	return NULL;
}

/* The next packet id not in flight; the window is never full here. */
static uint16_t
session_alloc_id(struct session *s)
{
	uint16_t id;

	do {
		id = s->s_next_id++;
		if (s->s_next_id == 0)
			s->s_next_id = 1;
	} while (session_inflight_find(s, id) != NULL);
	return id;
}

/*
 * Takes delivery o out of its list (in flight, or queued) with its
 * counts and totals; the caller has o.
 */
static void
session_out_unlink(struct session *s, struct session_out *o, int inflight)
{
	if (inflight) {
		TAILQ_REMOVE(&s->s_inflight, o, so_entry);
		s->s_ninflight--;
		s->s_inflight_bytes -= msg_bytes(o->so_msg);
	} else {
		TAILQ_REMOVE(&s->s_queue, o, so_entry);
		s->s_queued--;
		s->s_queued_bytes -= msg_bytes(o->so_msg);
	}
	session_acct_msg(s, msg_bytes(o->so_msg), -1);
}

struct session_out *
session_take_first(struct session *s)
{
	struct session_out *o;
	int inflight = 1;

	if ((o = TAILQ_FIRST(&s->s_inflight)) == NULL) {
		inflight = 0;
		if ((o = TAILQ_FIRST(&s->s_queue)) == NULL)
			return NULL;
	}
	session_out_unlink(s, o, inflight);
	return o;
}

size_t
session_take_if(struct session *s, int (*drop)(const struct msg *, void *),
    void *arg)
{
	struct session_out *o, *next;
	size_t n = 0;
	int inflight;

	for (inflight = 1; inflight >= 0; inflight--)
		for (o = TAILQ_FIRST(inflight ? &s->s_inflight :
		    &s->s_queue); o != NULL; o = next) {
			next = TAILQ_NEXT(o, so_entry);
			if (!drop(o->so_msg, arg))
				continue;
			session_out_unlink(s, o, inflight);
			session_out_free(o);
			n++;
		}
	return n;
}

int
session_sendable(const struct session *s)
{
	const struct session_out *o;

	if ((o = TAILQ_FIRST(&s->s_queue)) == NULL)
		return 0;
	return o->so_qos == 0 || s->s_ninflight < s->s_lim.sl_max_inflight;
}

/* Drops queued delivery o, whose message expired. */
static void
session_drop_expired(struct session *s, struct session_out *o)
{
	struct session_acct *a = s->s_lim.sl_acct;

	session_out_unlink(s, o, 0);
	s->s_expired++;
	if (a != NULL)
		a->sa_drop_expired++;
	SESSION_TELL(s, SESSION_EV_DONE, o);
	session_out_free(o);
}

struct session_out *
session_next(struct session *s)
{
	return session_next_at(s, 0);
}

struct session_out *
session_next_at(struct session *s, uint64_t now)
{
	struct session_out *o;

	while ((o = TAILQ_FIRST(&s->s_queue)) != NULL && now != 0 &&
	    msg_expired(o->so_msg, now))
		session_drop_expired(s, o);
	if (o == NULL)
		return NULL;
	if (o->so_qos > 0 && s->s_ninflight >= s->s_lim.sl_max_inflight)
		return NULL;
	TAILQ_REMOVE(&s->s_queue, o, so_entry);
	s->s_queued--;
	s->s_queued_bytes -= msg_bytes(o->so_msg);
	if (o->so_qos == 0) {
		/* The caller's now: it leaves the session's accounts. */
		session_acct_msg(s, msg_bytes(o->so_msg), -1);
		SESSION_TELL(s, SESSION_EV_DONE, o);
		return o;
	}
	o->so_id = session_alloc_id(s);
	o->so_state = SESSION_OUT_PUBLISHED;
	TAILQ_INSERT_TAIL(&s->s_inflight, o, so_entry);
	s->s_ninflight++;
	s->s_inflight_bytes += msg_bytes(o->so_msg);
	SESSION_TELL(s, SESSION_EV_SENT, o);
	return o;
}

size_t
session_expire_queue(struct session *s, uint64_t now)
{
	struct session_out *o, *next;
	size_t n = 0;

	for (o = TAILQ_FIRST(&s->s_queue); o != NULL; o = next) {
		next = TAILQ_NEXT(o, so_entry);
		if (msg_expired(o->so_msg, now)) {
			session_drop_expired(s, o);
			n++;
		}
	}
	return n;
}

int
session_ack(struct session *s, int type, uint16_t id)
{
	struct session_out *o;

	if ((o = session_inflight_find(s, id)) == NULL)
		return CAIRN_ERR_NOENT;
	switch (type) {
	case MQTT_PUBACK:
		if (o->so_qos != 1)
			return CAIRN_ERR_NOENT;
		break;
	case MQTT_PUBREC:
		if (o->so_qos != 2)
			return CAIRN_ERR_NOENT;
		if (o->so_state != SESSION_OUT_RELEASED) {
			o->so_state = SESSION_OUT_RELEASED;
			SESSION_TELL(s, SESSION_EV_RELEASED, o);
		}
		return 0;
	case MQTT_PUBCOMP:
		if (o->so_qos != 2 || o->so_state != SESSION_OUT_RELEASED)
			return CAIRN_ERR_NOENT;
		break;
	default:
		return CAIRN_ERR_NOENT;
	}
	TAILQ_REMOVE(&s->s_inflight, o, so_entry);
	s->s_ninflight--;
	s->s_inflight_bytes -= msg_bytes(o->so_msg);
	session_acct_msg(s, msg_bytes(o->so_msg), -1);
	SESSION_TELL(s, SESSION_EV_DONE, o);
	session_out_free(o);
	return 0;
}

struct session_out *
session_inflight_first(struct session *s)
{
	return TAILQ_FIRST(&s->s_inflight);
}

struct session_out *
session_inflight_next(struct session_out *o)
{
	return TAILQ_NEXT(o, so_entry);
}

int
session_in_qos2(struct session *s, uint16_t id)
{
	uint8_t bit = (uint8_t)(1u << (id & 7));

	if (s->s_in_qos2 == NULL &&
	    (s->s_in_qos2 = calloc(1, SESSION_QOS2_BITMAP)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (s->s_in_qos2[id >> 3] & bit)
		return 0;
	s->s_in_qos2[id >> 3] |= bit;
	s->s_nin_qos2++;
	return 1;
}

int
session_in_pubrel(struct session *s, uint16_t id)
{
	uint8_t bit = (uint8_t)(1u << (id & 7));

	if (s->s_in_qos2 == NULL || (s->s_in_qos2[id >> 3] & bit) == 0)
		return CAIRN_ERR_NOENT;
	s->s_in_qos2[id >> 3] &= (uint8_t)~bit;
	/* Give the bitmap back once nothing is pending. */
	if (--s->s_nin_qos2 == 0) {
		free(s->s_in_qos2);
		s->s_in_qos2 = NULL;
	}
	return 0;
}

struct session_sub *
session_sub_find(struct session *s, struct bytes_view filter)
{
	struct session_sub *sub;

	TAILQ_FOREACH(sub, &s->s_subs, ss_entry)
		if (sub->ss_len == filter.len &&
		    memcmp(sub->ss_filter, filter.p, filter.len) == 0)
			return sub;
	return NULL;
}

/* 0 if a new subscription of len bytes fits both byte caps. */
static int
session_sub_fits(struct session *s, size_t len)
{
	struct session_acct *a = s->s_lim.sl_acct;
	size_t cost;

	if (len > SIZE_MAX / 2)
		return CAIRN_ERR_LIMIT;
	cost = SESSION_SUB_COST(len);
	if ((s->s_lim.sl_max_sub_bytes > 0 &&
	    (s->s_sub_bytes >= s->s_lim.sl_max_sub_bytes ||
	    cost > s->s_lim.sl_max_sub_bytes - s->s_sub_bytes)) ||
	    (a != NULL && a->sa_max_sub_bytes > 0 &&
	    (a->sa_sub_bytes >= a->sa_max_sub_bytes ||
	    cost > a->sa_max_sub_bytes - a->sa_sub_bytes))) {
		if (a != NULL)
			a->sa_sub_refused++;
		return CAIRN_ERR_LIMIT;
	}
	return 0;
}

int
session_sub_room(struct session *s, struct bytes_view filter)
{
	if (session_sub_find(s, filter) != NULL)
		return 0;
	return session_sub_fits(s, filter.len);
}

int
session_sub_set(struct session *s, struct bytes_view filter, uint8_t qos,
    int *was_new)
{
	struct sub_opts o;

	memset(&o, 0, sizeof(o));
	o.qos = qos;
	return session_sub_set_opts(s, filter, &o, was_new);
}

static void
session_sub_put_opts(struct session_sub *sub, const struct sub_opts *o)
{
	sub->ss_qos = o->qos;
	sub->ss_no_local = o->no_local ? 1 : 0;
	sub->ss_rap = o->rap ? 1 : 0;
	sub->ss_rh = o->rh;
	sub->ss_sub_id = o->sub_id;
}

void
session_sub_opts(const struct session_sub *sub, struct sub_opts *o)
{
	o->qos = sub->ss_qos;
	o->no_local = sub->ss_no_local;
	o->rap = sub->ss_rap;
	o->rh = sub->ss_rh;
	o->sub_id = sub->ss_sub_id;
}

int
session_sub_set_opts(struct session *s, struct bytes_view filter,
    const struct sub_opts *opts, int *was_new)
{
	struct session_acct *a = s->s_lim.sl_acct;
	struct session_sub *sub;
	int rc, changed;

	if ((sub = session_sub_find(s, filter)) != NULL) {
		changed = sub->ss_qos != opts->qos;
		session_sub_put_opts(sub, opts);
		if (changed)
			session_tell(s, SESSION_EV_SUB, NULL, filter,
			    sub->ss_qos);
		if (was_new != NULL)
			*was_new = 0;
		return 0;
	}
	if ((rc = session_sub_fits(s, filter.len)) != 0)
		return rc;
	if ((sub = malloc(SESSION_SUB_COST(filter.len))) == NULL)
		return CAIRN_ERR_NOMEM;
	session_sub_put_opts(sub, opts);
	sub->ss_len = filter.len;
	memcpy(sub->ss_filter, filter.p, filter.len);
	sub->ss_filter[filter.len] = '\0';
	TAILQ_INSERT_TAIL(&s->s_subs, sub, ss_entry);
	s->s_nsubs++;
	s->s_sub_bytes += SESSION_SUB_COST(filter.len);
	if (a != NULL) {
		a->sa_subs++;
		a->sa_sub_bytes += SESSION_SUB_COST(filter.len);
	}
	if (was_new != NULL)
		*was_new = 1;
	session_tell(s, SESSION_EV_SUB, NULL, filter, opts->qos);
	return 0;
}

int
session_sub_del(struct session *s, struct bytes_view filter)
{
	struct session_acct *a = s->s_lim.sl_acct;
	struct session_sub *sub;

	if ((sub = session_sub_find(s, filter)) == NULL)
		return CAIRN_ERR_NOENT;
	TAILQ_REMOVE(&s->s_subs, sub, ss_entry);
	s->s_nsubs--;
	s->s_sub_bytes -= SESSION_SUB_COST(sub->ss_len);
	if (a != NULL) {
		a->sa_subs--;
		a->sa_sub_bytes -= SESSION_SUB_COST(sub->ss_len);
	}
	session_tell(s, SESSION_EV_UNSUB, NULL, filter, 0);
	free(sub);
	return 0;
}

int
session_expiry_due(const struct session *s, uint64_t now,
    uint64_t default_ms)
{
	uint64_t after;

	if (s->s_client != NULL || s->s_offline_ms == 0)
		return 0;
	if (s->s_has_expiry) {
		if (s->s_expiry == SESSION_EXPIRY_NEVER)
			return 0;
		after = (uint64_t)s->s_expiry * 1000;
	} else if ((after = default_ms) == 0)
		return 0;
	return now >= s->s_offline_ms && now - s->s_offline_ms >= after;
}

/* The table: chained buckets, doubled when the load passes 1. */

static uint64_t
session_hash(const struct session_table *t, const char *id, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->st_seed;
	size_t i;

	/* FNV-1a over a seeded basis, with a final mix of the seed. */
	for (i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 0x100000001b3ull;
	}
	h ^= t->st_seed >> 17;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

struct session_table *
session_table_new(uint64_t seed)
{
	struct session_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->st_nbuckets = SESSION_TABLE_MIN;
	if ((t->st_buckets = calloc(t->st_nbuckets, sizeof(*t->st_buckets))) ==
	    NULL) {
		free(t);
		return NULL;
	}
	t->st_seed = seed;
	return t;
}

void
session_table_free(struct session_table *t)
{
	if (t == NULL)
		return;
	free(t->st_buckets);
	free(t);
}

struct session *
session_table_find(struct session_table *t, const char *id, size_t len)
{
	struct session *s;

	s = t->st_buckets[session_hash(t, id, len) & (t->st_nbuckets - 1)];
	for (; s != NULL; s = s->s_hnext)
		if (s->s_id_len == len && memcmp(s->s_id, id, len) == 0)
			return s;
	return NULL;
}

static void
session_table_grow(struct session_table *t)
{
	struct session **nb, *s, *next;
	size_t n = t->st_nbuckets * 2, i, b;

	/* Growing is an optimisation: without memory the chains grow. */
	if (n < t->st_nbuckets || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->st_nbuckets; i++) {
		for (s = t->st_buckets[i]; s != NULL; s = next) {
			next = s->s_hnext;
			b = session_hash(t, s->s_id, s->s_id_len) & (n - 1);
			s->s_hnext = nb[b];
			nb[b] = s;
		}
	}
	free(t->st_buckets);
	t->st_buckets = nb;
	t->st_nbuckets = n;
}

int
session_table_add(struct session_table *t, struct session *s)
{
	size_t b;

	if (session_table_find(t, s->s_id, s->s_id_len) != NULL)
		return CAIRN_ERR_EXIST;
	if (t->st_count >= t->st_nbuckets)
		session_table_grow(t);
	b = session_hash(t, s->s_id, s->s_id_len) & (t->st_nbuckets - 1);
	s->s_hnext = t->st_buckets[b];
	t->st_buckets[b] = s;
	s->s_in_table = 1;
	t->st_count++;
	return 0;
}

void
session_table_remove(struct session_table *t, struct session *s)
{
	struct session **pp;
	size_t b;

	if (!s->s_in_table)
		return;
	b = session_hash(t, s->s_id, s->s_id_len) & (t->st_nbuckets - 1);
	for (pp = &t->st_buckets[b]; *pp != NULL; pp = &(*pp)->s_hnext) {
		if (*pp == s) {
			*pp = s->s_hnext;
			s->s_hnext = NULL;
			s->s_in_table = 0;
			t->st_count--;
			return;
		}
	}
}

size_t
session_table_count(const struct session_table *t)
{
	return t->st_count;
}

struct session *
session_table_any(struct session_table *t)
{
	size_t i;

	for (i = 0; i < t->st_nbuckets; i++)
		if (t->st_buckets[i] != NULL)
			return t->st_buckets[i];
	return NULL;
}

size_t
session_table_sweep(struct session_table *t, size_t nbuckets,
    void (*cb)(struct session *, void *), void *arg)
{
	struct session *s, *next;
	size_t i, n = 0;

	/* A grown table only moves the cursor's meaning: it wraps. */
	for (i = 0; i < nbuckets && i < t->st_nbuckets; i++) {
		if (t->st_sweep >= t->st_nbuckets)
			t->st_sweep = 0;
		for (s = t->st_buckets[t->st_sweep]; s != NULL; s = next) {
			next = s->s_hnext;
			n++;
			cb(s, arg);
		}
		t->st_sweep++;
	}
	return n;
}

size_t
session_table_buckets(const struct session_table *t)
{
	return t->st_nbuckets;
}
