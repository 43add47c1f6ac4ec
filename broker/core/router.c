/*
 * The router; see router.h.  Routing is two passes: trie_match()
 * collects the deliveries into r_hits (one per session, the highest
 * QoS, using an epoch stamped on the session; one per shared group),
 * then each is handed to the caller.  Collecting first means a deliver
 * callback may change a session's own subscriptions without touching a
 * trie that is being walked.
 *
 * Shared groups are kept on a list searched by "$share/GROUP/FILTER"
 * on SUBSCRIBE, UNSUBSCRIBE and a peer's route changes only; routing
 * reaches a group through its trie entry.  A group's members are local
 * sessions and cluster nodes announcing the same $share filter; the
 * node that routes a message first picks one of them (round robin over
 * both), so a group gets each message once per cluster.  A pick of a
 * node is handed to the forward hook with the group's filter, and that
 * node's router_route_local() picks among its own sessions only.
 */
#include "broker/core/router.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_topic.h"
#include "broker/core/trie.h"
#include "common/err.h"

#define ROUTER_HITS_MIN		16

/*
 * A session's trie entry packs its subscription's options in the
 * entry's byte: the granted QoS, no local, retain as published, and
 * whether it has a subscription identifier (kept in the session's
 * record of the subscription, found by filter when a message matches).
 */
#define RO_QOS		0x03
#define RO_NO_LOCAL	0x04
#define RO_RAP		0x08
#define RO_HAS_ID	0x10

struct share_member {
	struct session	*sm_session;	/* borrowed */
	uint8_t		 sm_qos;
	uint8_t		 sm_rap;
	uint32_t	 sm_sub_id;
};

struct share_group {
	struct sub_ref			 sg_ref;	/* SUB_SHARED */
	TAILQ_ENTRY(share_group)	 sg_entry;
	char				*sg_key;	/* "$share/G/F", owned */
	size_t				 sg_keylen;
	struct bytes_view		 sg_filter;	/* F, inside sg_key */
	struct share_member		*sg_members;
	size_t				 sg_n;
	size_t				 sg_cap;
	struct router_remote		**sg_remotes;	/* nodes with members */
	size_t				 sg_nremote;
	size_t				 sg_capremote;
	size_t				 sg_next;	/* round robin, over
							   members then nodes */
};

/* A group member picked on a node: forwarded with the group's filter. */
struct route_pick {
	struct router_remote	*rp_rr;
	struct share_group	*rp_group;
};

struct route_hit {
	struct session		*rh_session;
	struct session_deliv	 rh_d;
};

struct router {
	struct trie			*r_trie;
	TAILQ_HEAD(, share_group)	 r_groups;
	size_t				 r_count;
	size_t				 r_shared;	/* of r_count: $share */
	uint64_t			 r_epoch;
	struct msg			*r_msg;		/* the one routed */
	char				*r_fbuf;	/* a filter, for sub ids */
	size_t				 r_fbufsz;
	struct route_hit		*r_hits;
	size_t				 r_nhits;
	size_t				 r_caphits;
	int				 r_busy;
	int				 r_local;	/* skip SUB_REMOTE */
	const struct bytes_view		*r_sel;		/* forwarded: groups */
	size_t				 r_nsel;
	struct router_remote		**r_fwd;	/* this route's nodes */
	size_t				 r_nfwd;
	size_t				 r_last_fwd;	/* r_nfwd of the last route */
	size_t				 r_capfwd;
	struct route_pick		*r_picks;	/* groups picked there */
	size_t				 r_npicks;
	size_t				 r_cappicks;
	struct bytes_view		*r_gviews;	/* one node's groups */
	size_t				 r_capgviews;
	router_forward_cb		 r_fwd_cb;
	router_sub_cb			 r_sub_cb;
	void				*r_hook_arg;
};

struct router *
router_new(const uint8_t key[16])
{
	struct router *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	TAILQ_INIT(&r->r_groups);
	if ((r->r_trie = trie_new()) == NULL)
		goto fail;
	if (key != NULL && trie_set_key(r->r_trie, key) != 0)
		goto fail;
	return r;
fail:
	trie_free(r->r_trie);
	free(r);
	return NULL;
}

static void
router_group_free(struct share_group *g)
{
	free(g->sg_members);
	free(g->sg_remotes);
	free(g->sg_key);
	free(g);
}

void
router_free(struct router *r)
{
	struct share_group *g;

	if (r == NULL)
		return;
	while ((g = TAILQ_FIRST(&r->r_groups)) != NULL) {
		TAILQ_REMOVE(&r->r_groups, g, sg_entry);
		router_group_free(g);
	}
	trie_free(r->r_trie);
	free(r->r_hits);
	free(r->r_fwd);
	free(r->r_picks);
	free(r->r_gviews);
	free(r->r_fbuf);
	free(r);
}

void
router_set_hooks(struct router *r, router_forward_cb fwd, router_sub_cb sub,
    void *arg)
{
	r->r_fwd_cb = fwd;
	r->r_sub_cb = sub;
	r->r_hook_arg = arg;
}

void
router_remote_init(struct router_remote *rr)
{
	rr->rr_ref.sr_kind = SUB_REMOTE;
	rr->rr_epoch = 0;
	rr->rr_away = 0;
}

static struct share_group *router_group_find(struct router *,
		    struct bytes_view);
static struct share_group *router_group_new(struct router *,
		    struct bytes_view, struct bytes_view);
static void	router_group_drop(struct router *, struct share_group *);

/* Node rr has members of the group of $share filter key (F is real). */
static int
router_share_remote_add(struct router *r, struct bytes_view key,
    struct bytes_view real, struct router_remote *rr)
{
	struct share_group *g;
	struct router_remote **nr;
	size_t i, ncap;

	if ((g = router_group_find(r, key)) == NULL &&
	    (g = router_group_new(r, key, real)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < g->sg_nremote; i++)
		if (g->sg_remotes[i] == rr)
			return 0;
	if (g->sg_nremote == g->sg_capremote) {
		ncap = g->sg_capremote == 0 ? 4 : g->sg_capremote * 2;
		if ((nr = reallocarray(g->sg_remotes, ncap,
		    sizeof(*nr))) == NULL) {
			if (g->sg_n == 0 && g->sg_nremote == 0)
				router_group_drop(r, g);
			return CAIRN_ERR_NOMEM;
		}
		g->sg_remotes = nr;
		g->sg_capremote = ncap;
	}
	g->sg_remotes[g->sg_nremote++] = rr;
	return 0;
}

static int
router_share_remote_del(struct router *r, struct bytes_view key,
    struct router_remote *rr)
{
	struct share_group *g;
	size_t i;

	if ((g = router_group_find(r, key)) == NULL)
		return CAIRN_ERR_NOENT;
	for (i = 0; i < g->sg_nremote; i++)
		if (g->sg_remotes[i] == rr)
			break;
	if (i == g->sg_nremote)
		return CAIRN_ERR_NOENT;
	memmove(&g->sg_remotes[i], &g->sg_remotes[i + 1],
	    (g->sg_nremote - i - 1) * sizeof(*g->sg_remotes));
	g->sg_nremote--;
	/* The round robin index counts members first, then nodes. */
	if (g->sg_next > g->sg_n + i)
		g->sg_next--;
	if (g->sg_n == 0 && g->sg_nremote == 0)
		router_group_drop(r, g);
	return 0;
}

int
router_remote_add(struct router *r, struct bytes_view filter,
    struct router_remote *rr)
{
	struct bytes_view group, real;
	int shared;

	if ((shared = mqtt_topic_share_parse(filter, &group, &real)) < 0)
		return CAIRN_ERR_PROTO;
	if (shared)
		return router_share_remote_add(r, filter, real, rr);
	return trie_add(r->r_trie, filter, &rr->rr_ref, 0, NULL);
}

int
router_remote_del(struct router *r, struct bytes_view filter,
    struct router_remote *rr)
{
	struct bytes_view group, real;
	int shared;

	if ((shared = mqtt_topic_share_parse(filter, &group, &real)) < 0)
		return CAIRN_ERR_NOENT;
	if (shared)
		return router_share_remote_del(r, filter, rr);
	return trie_remove(r->r_trie, filter, &rr->rr_ref);
}

static void
router_sub_event(struct router *r, struct bytes_view filter, int delta)
{
	if (r->r_sub_cb != NULL)
		r->r_sub_cb(r->r_hook_arg, filter, delta);
}

static struct share_group *
router_group_find(struct router *r, struct bytes_view key)
{
	struct share_group *g;

	TAILQ_FOREACH(g, &r->r_groups, sg_entry)
		if (g->sg_keylen == key.len &&
		    memcmp(g->sg_key, key.p, key.len) == 0)
			return g;
	return NULL;
}

static struct share_member *
router_member_find(struct share_group *g, const struct session *s)
{
	size_t i;

	for (i = 0; i < g->sg_n; i++)
		if (g->sg_members[i].sm_session == s)
			return &g->sg_members[i];
	return NULL;
}

/* A new group for key "$share/GROUP/FILTER", in the trie at FILTER. */
static struct share_group *
router_group_new(struct router *r, struct bytes_view key,
    struct bytes_view real)
{
	struct share_group *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->sg_key = malloc(key.len + 1)) == NULL)
		goto fail;
	memcpy(g->sg_key, key.p, key.len);
	g->sg_key[key.len] = '\0';
	g->sg_keylen = key.len;
	g->sg_filter = bytes_view_of(g->sg_key + (key.len - real.len),
	    real.len);
	g->sg_ref.sr_kind = SUB_SHARED;
	if (trie_add(r->r_trie, g->sg_filter, &g->sg_ref, 0, NULL) != 0)
		goto fail;
	TAILQ_INSERT_TAIL(&r->r_groups, g, sg_entry);
	return g;
fail:
	free(g->sg_key);
	free(g);
	return NULL;
}

static void
router_group_drop(struct router *r, struct share_group *g)
{
	trie_remove(r->r_trie, g->sg_filter, &g->sg_ref);
	TAILQ_REMOVE(&r->r_groups, g, sg_entry);
	router_group_free(g);
}

/* Adds or updates s in the group of a $share filter. */
static void
router_member_set(struct share_member *m, const struct sub_opts *o)
{
	m->sm_qos = o->qos;
	m->sm_rap = o->rap ? 1 : 0;
	m->sm_sub_id = o->sub_id;
}

static int
router_share_add(struct router *r, struct session *s, struct bytes_view key,
    struct bytes_view real, const struct sub_opts *o, int *was_new)
{
	struct share_group *g;
	struct share_member *m, *nm;
	size_t ncap;
	int created = 0;

	if ((g = router_group_find(r, key)) == NULL) {
		if ((g = router_group_new(r, key, real)) == NULL)
			return CAIRN_ERR_NOMEM;
		created = 1;
	}
	if ((m = router_member_find(g, s)) != NULL) {
		router_member_set(m, o);
		*was_new = 0;
		return 0;
	}
	if (g->sg_n == g->sg_cap) {
		ncap = g->sg_cap == 0 ? 4 : g->sg_cap * 2;
		if ((nm = reallocarray(g->sg_members, ncap, sizeof(*nm))) ==
		    NULL) {
			if (created)
				router_group_drop(r, g);
			return CAIRN_ERR_NOMEM;
		}
		g->sg_members = nm;
		g->sg_cap = ncap;
	}
	g->sg_members[g->sg_n].sm_session = s;
	router_member_set(&g->sg_members[g->sg_n], o);
	g->sg_n++;
	r->r_shared++;
	*was_new = 1;
	return 0;
}

static int
router_share_del(struct router *r, struct session *s, struct bytes_view key)
{
	struct share_group *g;
	struct share_member *m;
	size_t i;

	if ((g = router_group_find(r, key)) == NULL ||
	    (m = router_member_find(g, s)) == NULL)
		return CAIRN_ERR_NOENT;
	i = (size_t)(m - g->sg_members);
	memmove(m, m + 1, (g->sg_n - i - 1) * sizeof(*m));
	g->sg_n--;
	r->r_shared--;
	if (g->sg_next > i)
		g->sg_next--;
	if (g->sg_n == 0 && g->sg_nremote == 0)
		router_group_drop(r, g);
	return 0;
}

int
router_subscribe(struct router *r, struct session *s,
    struct bytes_view filter, uint8_t qos, int *was_new)
{
	struct sub_opts o;

	memset(&o, 0, sizeof(o));
	o.qos = qos;
	return router_subscribe_opts(r, s, filter, &o, was_new);
}

static uint8_t
router_pack_opts(const struct sub_opts *o)
{
	return (uint8_t)((o->qos & RO_QOS) | (o->no_local ? RO_NO_LOCAL : 0) |
	    (o->rap ? RO_RAP : 0) | (o->sub_id != 0 ? RO_HAS_ID : 0));
}

int
router_subscribe_opts(struct router *r, struct session *s,
    struct bytes_view filter, const struct sub_opts *o, int *was_new)
{
	struct bytes_view group, real, key;
	int rc, shared, added = 0;

	if ((shared = mqtt_topic_share_parse(filter, &group, &real)) < 0)
		return CAIRN_ERR_PROTO;
	/* No local on a shared subscription is a protocol error [MQTT-3.8.3-4]. */
	if (shared && o->no_local)
		return CAIRN_ERR_PROTO;
	if (o->qos > 2 || o->rh > 2 || o->sub_id > SUB_ID_MAX)
		return CAIRN_ERR_INVAL;
	/* The byte caps first: a refused filter never reaches the trie. */
	if ((rc = session_sub_room(s, filter)) != 0)
		return rc;
	if (shared) {
		key = filter;
		rc = router_share_add(r, s, key, real, o, &added);
	} else
		rc = trie_add(r->r_trie, filter, &s->s_ref,
		    router_pack_opts(o), &added);
	if (rc != 0)
		return rc;
	if ((rc = session_sub_set_opts(s, filter, o, NULL)) != 0) {
		/* Undo, so that the trie and the session agree. */
		if (added && shared)
			router_share_del(r, s, key);
		else if (added)
			trie_remove(r->r_trie, filter, &s->s_ref);
		return rc;
	}
	if (added) {
		r->r_count++;
		router_sub_event(r, filter, 1);
	}
	if (was_new != NULL)
		*was_new = added;
	return 0;
}

int
router_unsubscribe(struct router *r, struct session *s,
    struct bytes_view filter)
{
	struct bytes_view group, real, key;
	int shared;

	/* The session's copy goes last: filter may point into it. */
	if (session_sub_find(s, filter) == NULL)
		return CAIRN_ERR_NOENT;
	shared = mqtt_topic_share_parse(filter, &group, &real);
	if (shared == 1) {
		key = filter;
		router_share_del(r, s, key);
	} else
		trie_remove(r->r_trie, filter, &s->s_ref);
	router_sub_event(r, filter, -1);
	(void)session_sub_del(s, filter);
	r->r_count--;
	return 0;
}

void
router_unsubscribe_all(struct router *r, struct session *s)
{
	struct session_sub *sub;

	while ((sub = TAILQ_FIRST(&s->s_subs)) != NULL)
		router_unsubscribe(r, s,
		    bytes_view_of(sub->ss_filter, sub->ss_len));
}

int
router_sub_gets_retained(struct bytes_view filter, const struct sub_opts *o,
    int was_new)
{
	struct bytes_view group, real;

	/* Never on a shared subscription [MQTT-4.8.2, 3.8.3.1]. */
	if (mqtt_topic_share_parse(filter, &group, &real) != 0)
		return 0;
	switch (o->rh) {
	case 0:
		return 1;
	case 1:
		return was_new;
	default:
		return 0;
	}
}

/* A new hit for s, zeroed; NULL on ENOMEM. */
static struct route_hit *
router_hit(struct router *r, struct session *s)
{
	struct route_hit *nh;
	size_t ncap;

	if (r->r_nhits == r->r_caphits) {
		ncap = r->r_caphits == 0 ? ROUTER_HITS_MIN : r->r_caphits * 2;
		if ((nh = reallocarray(r->r_hits, ncap, sizeof(*nh))) == NULL)
			return NULL;
		r->r_hits = nh;
		r->r_caphits = ncap;
	}
	nh = &r->r_hits[r->r_nhits++];
	memset(nh, 0, sizeof(*nh));
	nh->rh_session = s;
	return nh;
}

/* Adds a subscription identifier to a delivery: once, and bounded. */
static void
router_hit_id(struct route_hit *h, uint32_t id)
{
	size_t i;

	if (id == 0)
		return;
	for (i = 0; i < h->rh_d.sd_nids; i++)
		if (h->rh_d.sd_ids[i] == id)
			return;
	if (h->rh_d.sd_nids < SESSION_MAX_SUB_IDS)
		h->rh_d.sd_ids[h->rh_d.sd_nids++] = id;
}

/* The subscription identifier of s's subscription at trie node f. */
static uint32_t
router_sub_id(struct router *r, struct session *s,
    const struct trie_node *f)
{
	struct session_sub *sub;
	size_t len;
	char *nb;

	len = trie_filter_str(f, r->r_fbuf, r->r_fbufsz);
	if (len >= r->r_fbufsz) {
		if ((nb = realloc(r->r_fbuf, len + 1)) == NULL)
			return 0;
		r->r_fbuf = nb;
		r->r_fbufsz = len + 1;
		(void)trie_filter_str(f, r->r_fbuf, r->r_fbufsz);
	}
	if ((sub = session_sub_find(s, bytes_view_of(r->r_fbuf, len))) ==
	    NULL)
		return 0;
	return sub->ss_sub_id;
}

/*
 * Picks the group member for one message: the next online session, or
 * (with nodes set) the next of the sessions and the nodes that announce
 * the group, a node counting as online unless it is away (its link
 * dropped; its routes stay for the cluster's peer_grace).
 * Returns the index: below sg_n a session, else node index - sg_n.
 * The group has at least one candidate.
 */
static size_t
router_share_pick(struct share_group *g, int nodes)
{
	size_t i, k, n = g->sg_n + (nodes ? g->sg_nremote : 0);

	for (i = 0; i < n; i++) {
		k = (g->sg_next + i) % n;
		if (k >= g->sg_n ? !g->sg_remotes[k - g->sg_n]->rr_away :
		    session_online(g->sg_members[k].sm_session)) {
			g->sg_next = (k + 1) % n;
			return k;
		}
	}
	/* Nobody online: the next one's session queues it (or drops it). */
	k = g->sg_next % n;
	g->sg_next = (k + 1) % n;
	return k;
}

/* 1 if a forwarded message names g's filter among the groups to serve. */
static int
router_sel_has(const struct router *r, const struct share_group *g)
{
	size_t i;

	for (i = 0; i < r->r_nsel; i++)
		if (r->r_sel[i].len == g->sg_keylen &&
		    memcmp(r->r_sel[i].p, g->sg_key, g->sg_keylen) == 0)
			return 1;
	return 0;
}

/* Adds rr to this route's nodes, once. */
static int
router_fwd_add(struct router *r, struct router_remote *rr)
{
	struct router_remote **nf;
	size_t ncap;

	if (rr->rr_epoch == r->r_epoch)
		return 0;
	if (r->r_nfwd == r->r_capfwd) {
		ncap = r->r_capfwd == 0 ? ROUTER_HITS_MIN : r->r_capfwd * 2;
		if ((nf = reallocarray(r->r_fwd, ncap, sizeof(*nf))) == NULL)
			return CAIRN_ERR_NOMEM;
		r->r_fwd = nf;
		r->r_capfwd = ncap;
	}
	rr->rr_epoch = r->r_epoch;
	r->r_fwd[r->r_nfwd++] = rr;
	return 0;
}

/* Group g picked node rr for this message. */
static void
router_pick_remote(struct router *r, struct share_group *g,
    struct router_remote *rr)
{
	struct route_pick *np;
	size_t ncap;

	if (r->r_npicks == r->r_cappicks) {
		ncap = r->r_cappicks == 0 ? ROUTER_HITS_MIN :
		    r->r_cappicks * 2;
		if ((np = reallocarray(r->r_picks, ncap, sizeof(*np))) ==
		    NULL)
			return;
		r->r_picks = np;
		r->r_cappicks = ncap;
	}
	if (router_fwd_add(r, rr) != 0)
		return;
	r->r_picks[r->r_npicks].rp_rr = rr;
	r->r_picks[r->r_npicks].rp_group = g;
	r->r_npicks++;
}

static void
router_on_match(void *sub, uint8_t opts, const struct trie_node *filter,
    void *arg)
{
	struct router *r = arg;
	struct sub_ref *ref = sub;
	struct session *s;
	struct share_group *g;
	struct share_member *m;
	struct router_remote *rr;
	struct route_hit *h;
	size_t k;

	switch (ref->sr_kind) {
	case SUB_SESSION:
		s = container_of(ref, struct session, s_ref);
		/* No local: not back to the publisher [MQTT-3.8.3-3]. */
		if ((opts & RO_NO_LOCAL) &&
		    msg_from_is(r->r_msg, s->s_id, s->s_id_len))
			return;
		if (s->s_route_epoch == r->r_epoch)
			h = &r->r_hits[s->s_route_hit];
		else {
			if ((h = router_hit(r, s)) == NULL)
				return;
			s->s_route_epoch = r->r_epoch;
			s->s_route_hit = r->r_nhits - 1;
		}
		if ((opts & RO_QOS) > h->rh_d.sd_qos)
			h->rh_d.sd_qos = opts & RO_QOS;
		/* Retain as published [MQTT-3.3.1-12], else 0 [-13]. */
		if (opts & RO_RAP)
			h->rh_d.sd_retain |= r->r_msg->m_retain;
		if (opts & RO_HAS_ID)
			router_hit_id(h, router_sub_id(r, s, filter));
		break;
	case SUB_SHARED:
		g = container_of(ref, struct share_group, sg_ref);
		/*
		 * A forwarded message: serve the groups its sender picked
		 * this node for, among the sessions here only.
		 */
		if (r->r_sel != NULL && !router_sel_has(r, g))
			return;
		if (r->r_local && g->sg_n == 0)
			return;
		k = router_share_pick(g, !r->r_local);
		if (k >= g->sg_n) {
			router_pick_remote(r, g, g->sg_remotes[k - g->sg_n]);
			return;
		}
		m = &g->sg_members[k];
		/* A pick is a delivery of its own (see router.h). */
		if ((h = router_hit(r, m->sm_session)) == NULL)
			return;
		h->rh_d.sd_qos = m->sm_qos;
		if (m->sm_rap)
			h->rh_d.sd_retain = r->r_msg->m_retain;
		router_hit_id(h, m->sm_sub_id);
		break;
	case SUB_REMOTE:
		rr = container_of(ref, struct router_remote, rr_ref);
		if (!r->r_local)
			(void)router_fwd_add(r, rr);
		break;
	}
}

/* Calls the forward hook for node rr with the groups it was picked for. */
static void
router_forward(struct router *r, struct router_remote *rr, struct msg *m)
{
	struct bytes_view *nv;
	size_t i, n = 0, ncap;

	for (i = 0; i < r->r_npicks; i++) {
		if (r->r_picks[i].rp_rr != rr)
			continue;
		if (n == r->r_capgviews) {
			ncap = n == 0 ? ROUTER_HITS_MIN : n * 2;
			if ((nv = reallocarray(r->r_gviews, ncap,
			    sizeof(*nv))) == NULL)
				break;
			r->r_gviews = nv;
			r->r_capgviews = ncap;
		}
		r->r_gviews[n++] = bytes_view_of(r->r_picks[i].rp_group->sg_key,
		    r->r_picks[i].rp_group->sg_keylen);
	}
	r->r_fwd_cb(rr, m, r->r_gviews, n, r->r_hook_arg);
}

static size_t
router_route_one(struct router *r, struct msg *m, int local,
    const struct bytes_view *sel, size_t nsel, router_deliver_cb deliver,
    void *arg)
{
	struct route_hit *h;
	size_t i, n;

	if (r->r_busy)
		return 0;	/* a deliver callback routed: a bug of the caller */
	r->r_busy = 1;
	r->r_epoch++;
	r->r_nhits = 0;
	r->r_nfwd = 0;
	r->r_npicks = 0;
	r->r_local = local || r->r_fwd_cb == NULL;
	r->r_sel = local ? sel : NULL;
	r->r_nsel = local ? nsel : 0;
	r->r_msg = m;
	trie_match(r->r_trie, msg_topic(m), router_on_match, r);
	n = r->r_nhits;
	for (i = 0; i < n; i++) {
		h = &r->r_hits[i];
		if (h->rh_d.sd_qos > m->m_qos)
			h->rh_d.sd_qos = m->m_qos;
		deliver(h->rh_session, m, &h->rh_d, arg);
	}
	for (i = 0; i < r->r_nfwd; i++)
		router_forward(r, r->r_fwd[i], m);
	r->r_last_fwd = r->r_nfwd;
	r->r_nhits = 0;
	r->r_nfwd = 0;
	r->r_npicks = 0;
	r->r_sel = NULL;
	r->r_nsel = 0;
	r->r_msg = NULL;
	r->r_busy = 0;
	return n;
}

size_t
router_route(struct router *r, struct msg *m, router_deliver_cb deliver,
    void *arg)
{
	return router_route_one(r, m, 0, NULL, 0, deliver, arg);
}

size_t
router_route_local(struct router *r, struct msg *m,
    const struct bytes_view *groups, size_t ngroups,
    router_deliver_cb deliver, void *arg)
{
	static const struct bytes_view none;

	return router_route_one(r, m, 1, groups != NULL ? groups : &none,
	    ngroups, deliver, arg);
}

size_t
router_last_forwards(const struct router *r)
{
	return r->r_last_fwd;
}

size_t
router_count(const struct router *r)
{
	return r->r_count;
}

size_t
router_shared_count(const struct router *r)
{
	return r->r_shared;
}
