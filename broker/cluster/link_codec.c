/*
 * The cluster link codec; see link_codec.h.  Each body has a decoder
 * over a bytes_r cursor limited to the body, so a field that runs past
 * the body is CAIRN_ERR_PROTO (the frame is complete, so nothing more
 * will come), and one encoder writing the same fields in order.
 */
#include "broker/cluster/link_codec.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "broker/mqtt/mqtt5_props.h"
#include "broker/mqtt/mqtt_codec.h"
#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/utf8.h"

static const char *const link_type_names[] = {
	"unknown", "HELLO", "AUTH", "TICK", "ROUTE_ADD", "ROUTE_DEL",
	"ROUTES_BEGIN", "ROUTES_END", "FORWARD", "FORWARD_ACK", "RETAIN",
	"CLAIM", "SESSION_TAKE", "SESSION_DATA", "PEERS", "REPL_SESSION",
	"REPL_SUB", "REPL_MSGS", "REPL_STATE", "REPL_DROP", "CREDIT",
	"SESSION_NONE", "REPL_ACK",
};

const char *
link_type_name(int type)
{
	if (type < 1 || type > LINK_TYPE_MAX)
		return "unknown";
	return link_type_names[type];
}

int
link_name_valid(struct bytes_view v)
{
	if (v.len < 1 || v.len > LINK_MAX_NAME)
		return 0;
	if (memchr(v.p, '\0', v.len) != NULL)
		return 0;
	return utf8_count(v.p, v.len) >= 0;
}

static int
link_topic_valid(struct bytes_view v)
{
	return v.len > 0 && mqtt_topic_name_valid(v);
}

static int
link_filter_valid(struct bytes_view v)
{
	return v.len > 0 && mqtt_topic_filter_valid(v);
}

/* A shared subscription's filter, "$share/GROUP/FILTER". */
static int
link_share_valid(struct bytes_view v)
{
	struct bytes_view group, real;

	return v.len <= UINT16_MAX && link_filter_valid(v) &&
	    mqtt_topic_share_parse(v, &group, &real) == 1;
}

/*
 * Field getters inside a complete body: running short is malformed.
 * Each returns 0 or CAIRN_ERR_PROTO.
 */
static int
get_u8(struct bytes_r *r, uint8_t *v)
{
	return bytes_get_u8(r, v) == 0 ? 0 : CAIRN_ERR_PROTO;
}

static int
get_u16(struct bytes_r *r, uint16_t *v)
{
	return bytes_get_u16be(r, v) == 0 ? 0 : CAIRN_ERR_PROTO;
}

static int
get_u32(struct bytes_r *r, uint32_t *v)
{
	return bytes_get_u32be(r, v) == 0 ? 0 : CAIRN_ERR_PROTO;
}

static int
get_u64(struct bytes_r *r, uint64_t *v)
{
	return bytes_get_u64be(r, v) == 0 ? 0 : CAIRN_ERR_PROTO;
}

static int
get_name(struct bytes_r *r, struct bytes_view *v)
{
	if (bytes_get_view16(r, v) != 0 || !link_name_valid(*v))
		return CAIRN_ERR_PROTO;
	return 0;
}

static int
get_topic(struct bytes_r *r, struct bytes_view *v)
{
	if (bytes_get_view16(r, v) != 0 || !link_topic_valid(*v))
		return CAIRN_ERR_PROTO;
	return 0;
}

static int
get_filter(struct bytes_r *r, struct bytes_view *v)
{
	if (bytes_get_view16(r, v) != 0 || !link_filter_valid(*v))
		return CAIRN_ERR_PROTO;
	return 0;
}

static int
get_bytes32(struct bytes_r *r, struct bytes_view *v)
{
	uint32_t n;

	if (get_u32(r, &n) != 0 || bytes_get_view(r, n, v) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

static int
get_qos(struct bytes_r *r, uint8_t *qos)
{
	if (get_u8(r, qos) != 0 || *qos > 2)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* A publisher's client id on the link: may be empty, UTF-8, no NUL. */
static int
link_from_valid(struct bytes_view v)
{
	if (v.len == 0)
		return 1;
	if (v.len > UINT16_MAX || memchr(v.p, '\0', v.len) != NULL)
		return 0;
	return utf8_count(v.p, v.len) >= 0;
}

/*
 * A message's carried properties: a PUBLISH's property block that the
 * MQTT 5.0 decoder accepts, holding none of the per-delivery ones.
 * *props is the block without its length.
 */
static int
get_props(struct bytes_r *r, struct bytes_view *props)
{
	struct mqtt5_props p;
	const char *why;

	if (mqtt5_props_decode(r, MQTT_PUBLISH, &p, &why) != 0 ||
	    MQTT5_HAS(&p, MQTT5_PROP_TOPIC_ALIAS) ||
	    MQTT5_HAS(&p, MQTT5_PROP_MESSAGE_EXPIRY) ||
	    MQTT5_HAS(&p, MQTT5_PROP_SUB_ID))
		return CAIRN_ERR_PROTO;
	*props = p.raw;
	return 0;
}

static int
get_expiry(struct bytes_r *r, uint64_t *ms)
{
	if (get_u64(r, ms) != 0 || *ms > LINK_EXPIRY_MAX_MS)
		return CAIRN_ERR_PROTO;
	return 0;
}

/*	msg5	from str16 | expiry u64 | property block */
static int
get_msg5(struct bytes_r *r, struct link_msg5 *v)
{
	if (bytes_get_view16(r, &v->from) != 0 || !link_from_valid(v->from) ||
	    get_expiry(r, &v->expiry_ms) != 0 || get_props(r, &v->props) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

static int
msg5_empty(const struct link_msg5 *v)
{
	return v->from.len == 0 && v->expiry_ms == 0 && v->props.len == 0;
}

/*	sub	filter str16 | qos u8 | options u8 | sub id u32 */
static int
get_sub5(struct bytes_r *r, struct link_sub *s)
{
	struct bytes_view group, real;
	uint8_t o;

	if (get_filter(r, &s->filter) != 0 || get_qos(r, &s->qos) != 0 ||
	    get_u8(r, &o) != 0 || (o & ~0x0f) != 0 || get_u32(r, &s->sub_id) ||
	    s->sub_id > LINK_SUB_ID_MAX)
		return CAIRN_ERR_PROTO;
	s->no_local = o & 1;
	s->rap = (o >> 1) & 1;
	s->rh = (o >> 2) & 3;
	if (s->rh > 2)
		return CAIRN_ERR_PROTO;
	/* No local on a shared subscription is refused at SUBSCRIBE. */
	if (s->no_local &&
	    mqtt_topic_share_parse(s->filter, &group, &real) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	smsg	qos u8 | topic str16 | payload bytes32 | msg5 |
 *		flags u8 (bit 0 retain) | nids u8 | nids x sub id u32
 */
static int
get_smsg5(struct bytes_r *r, struct link_smsg *m)
{
	uint8_t f, i;

	if (get_qos(r, &m->qos) != 0 || get_topic(r, &m->topic) != 0 ||
	    get_bytes32(r, &m->payload) != 0 || get_msg5(r, &m->v5) != 0 ||
	    get_u8(r, &f) != 0 || (f & ~1) != 0 || get_u8(r, &m->nids) != 0 ||
	    m->nids > LINK_MAX_SUB_IDS)
		return CAIRN_ERR_PROTO;
	m->retain = f;
	for (i = 0; i < m->nids; i++)
		if (get_u32(r, &m->ids[i]) != 0 || m->ids[i] == 0 ||
		    m->ids[i] > LINK_SUB_ID_MAX)
			return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	HELLO	version u8 (>= 1) | name str16 | nonce [32]
 */
static int
decode_hello(struct bytes_r *r, struct link_hello *h)
{
	struct bytes_view c;

	if (get_u8(r, &h->version) != 0 || h->version == 0 ||
	    get_name(r, &h->name) != 0 ||
	    bytes_get_view(r, LINK_CHALLENGE_LEN, &c) != 0)
		return CAIRN_ERR_PROTO;
	memcpy(h->challenge, c.p, LINK_CHALLENGE_LEN);
	return 0;
}

/*
 *	FORWARD	seq u64 | qos u8 | retain u8 (0/1) | topic str16 |
 *		payload bytes32 |
 *		[ ngroups u16 | ngroups x $share filter str16 |
 *		  [ msg5 (not empty) ] ]
 *
 * The group list is there when the sender picked the receiver for
 * shared groups or a 5.0 trailer follows; otherwise an empty list is
 * written as no list (canonical).
 */
static int
decode_forward(struct bytes_r *r, struct link_forward *f)
{
	struct bytes_view v;
	size_t start;
	uint16_t i;

	if (get_u64(r, &f->seq) != 0 || get_qos(r, &f->qos) != 0 ||
	    get_u8(r, &f->retain) != 0 || f->retain > 1 ||
	    get_topic(r, &f->topic) != 0 || get_bytes32(r, &f->payload) != 0)
		return CAIRN_ERR_PROTO;
	if (bytes_r_left(r) == 0)
		return 0;
	if (get_u16(r, &f->ngroups) != 0)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < f->ngroups; i++)
		if (bytes_get_view16(r, &v) != 0 || !link_share_valid(v))
			return CAIRN_ERR_PROTO;
	f->groups = bytes_view_of(r->p + start, r->off - start);
	if (bytes_r_left(r) == 0)
		return f->ngroups > 0 ? 0 : CAIRN_ERR_PROTO;
	if (get_msg5(r, &f->v5) != 0)
		return CAIRN_ERR_PROTO;
	if (bytes_r_left(r) == 0)
		return msg5_empty(&f->v5) ? CAIRN_ERR_PROTO : 0;
	/* The spool list: then an empty 5.0 part is canonical. */
	if (get_u8(r, &f->nspooled) != 0 || f->nspooled == 0 ||
	    f->nspooled > LINK_MAX_SPOOLED)
		return CAIRN_ERR_PROTO;
	for (i = 0; i < f->nspooled; i++)
		if (get_u64(r, &f->spooled[i]) != 0 || f->spooled[i] == 0)
			return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	RETAIN	stamp u64 | origin str16 | topic str16 | qos u8 |
 *		payload bytes32 (empty: clear) |
 *		[ expiry u64 | property block (not both empty) ]
 */
static int
decode_retain(struct bytes_r *r, struct link_retain *t)
{
	if (get_u64(r, &t->stamp) != 0 || get_name(r, &t->origin) != 0 ||
	    get_topic(r, &t->topic) != 0 || get_qos(r, &t->qos) != 0 ||
	    get_bytes32(r, &t->payload) != 0)
		return CAIRN_ERR_PROTO;
	if (bytes_r_left(r) == 0)
		return 0;
	if (get_expiry(r, &t->expiry_ms) != 0 || get_props(r, &t->props) != 0 ||
	    (t->expiry_ms == 0 && t->props.len == 0))
		return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	CLAIM	client id str16 | stamp u64 | node str16 [| flags u8]
 *
 * The flags are sent only when not 0 (a claim from a node before them
 * decodes as 0); an unknown flag is refused.
 */
static int
decode_claim(struct bytes_r *r, struct link_claim *c)
{
	if (get_name(r, &c->id) != 0 || get_u64(r, &c->stamp) != 0 ||
	    get_name(r, &c->node) != 0)
		return CAIRN_ERR_PROTO;
	c->flags = 0;
	if (bytes_r_left(r) == 0)
		return 0;
	if (get_u8(r, &c->flags) != 0 || c->flags == 0 ||
	    (c->flags & ~LINK_CLAIM_KEPT) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	SESSION_DATA	client id str16 |
 *			nsubs u32 | nsubs x sub |
 *			nmsgs u32 | nmsgs x smsg |
 *			flags u8 | expiry u32
 */
static int
decode_session(struct bytes_r *r, struct link_session *s)
{
	struct link_sub sub;
	struct link_smsg sm;
	size_t start;
	uint32_t i;

	if (get_name(r, &s->id) != 0 || get_u32(r, &s->nsubs) != 0)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < s->nsubs; i++)
		if (get_sub5(r, &sub) != 0)
			return CAIRN_ERR_PROTO;
	s->subs = bytes_view_of(r->p + start, r->off - start);
	if (get_u32(r, &s->nmsgs) != 0)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < s->nmsgs; i++)
		if (get_smsg5(r, &sm) != 0)
			return CAIRN_ERR_PROTO;
	s->msgs = bytes_view_of(r->p + start, r->off - start);
	if (get_u8(r, &s->flags) != 0 || get_u32(r, &s->expiry) != 0 ||
	    (s->flags & ~(LINK_SESS_EXPIRY | LINK_SESS_V5)) != 0 ||
	    (!(s->flags & LINK_SESS_EXPIRY) && s->expiry != 0))
		return CAIRN_ERR_PROTO;
	return 0;
}

/*
 *	PEERS	n u16 | n x node name str16
 */
static int
decode_peers(struct bytes_r *r, struct link_peers *p)
{
	struct bytes_view v;
	size_t start;
	uint16_t i;

	if (get_u16(r, &p->n) != 0)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < p->n; i++)
		if (get_name(r, &v) != 0)
			return CAIRN_ERR_PROTO;
	p->names = bytes_view_of(r->p + start, r->off - start);
	return 0;
}

/*
 * One REPL_MSGS item: seq u64 | qos u8 | retain u8 | state u8 |
 * packet id u16 | topic str16 | payload bytes32.  A queued delivery has
 * no packet id, a sent one has one and QoS 1/2, a released one QoS 2.
 */
static int
get_repl_msg(struct bytes_r *r, struct link_repl_msg *d)
{
	if (get_u64(r, &d->seq) != 0 || get_qos(r, &d->qos) != 0 ||
	    get_u8(r, &d->retain) != 0 || d->retain > 1 ||
	    get_u8(r, &d->state) != 0 || get_u16(r, &d->pid) != 0 ||
	    get_topic(r, &d->topic) != 0 || get_bytes32(r, &d->payload) != 0 ||
	    get_msg5(r, &d->v5) != 0)
		return CAIRN_ERR_PROTO;
	switch (d->state) {
	case LINK_REPL_QUEUED:
		return d->pid == 0 ? 0 : CAIRN_ERR_PROTO;
	case LINK_REPL_PUBLISHED:
		return d->pid != 0 && d->qos > 0 ? 0 : CAIRN_ERR_PROTO;
	case LINK_REPL_RELEASED:
		return d->pid != 0 && d->qos == 2 ? 0 : CAIRN_ERR_PROTO;
	}
	return CAIRN_ERR_PROTO;
}

/* One REPL_STATE item: seq u64 | state u8 (1..3) | packet id u16. */
static int
get_repl_state(struct bytes_r *r, uint64_t *seq, uint8_t *state,
    uint16_t *pid)
{
	if (get_u64(r, seq) != 0 || get_u8(r, state) != 0 ||
	    get_u16(r, pid) != 0)
		return CAIRN_ERR_PROTO;
	switch (*state) {
	case LINK_REPL_PUBLISHED:
	case LINK_REPL_RELEASED:
		return *pid != 0 ? 0 : CAIRN_ERR_PROTO;
	case LINK_REPL_DONE:
		return *pid == 0 ? 0 : CAIRN_ERR_PROTO;
	}
	return CAIRN_ERR_PROTO;
}

/* One entry of REPL_MSGS's trailer: nids u8 | nids x id u32. */
static int
get_repl_ids(struct bytes_r *r, uint8_t *nids, uint32_t *ids)
{
	uint8_t i;

	if (get_u8(r, nids) != 0 || *nids > LINK_MAX_SUB_IDS)
		return CAIRN_ERR_PROTO;
	for (i = 0; i < *nids; i++)
		if (get_u32(r, &ids[i]) != 0 || ids[i] == 0 ||
		    ids[i] > LINK_SUB_ID_MAX)
			return CAIRN_ERR_PROTO;
	return 0;
}

/* REPL_SESSION's trailer: not 0, known flags, an expiry only with its flag. */
static int
repl_sess_flags_check(uint8_t flags, uint32_t expiry)
{
	return flags != 0 && (flags & ~(LINK_SESS_EXPIRY | LINK_SESS_V5 |
	    LINK_SESS_OFFLINE)) == 0 &&
	    ((flags & LINK_SESS_EXPIRY) || expiry == 0) ? 0 : CAIRN_ERR_PROTO;
}

/*
 * The trailer of REPL_SESSION or REPL_MSGS (n items) at r, if any bytes
 * are left; 0 or CAIRN_ERR_PROTO.
 */
static int
get_repl_trailer(struct bytes_r *r, enum link_type type, struct link_repl *p)
{
	uint32_t ids[LINK_MAX_SUB_IDS], i;
	size_t start;
	uint8_t nids;

	p->sess_flags = 0;
	p->sess_expiry = 0;
	p->sess_offline_ms = 0;
	p->has_online = 0;
	p->ids = bytes_view_of(NULL, 0);
	if (bytes_r_left(r) == 0)
		return 0;
	if (type == LINK_REPL_SESSION) {
		if (get_u8(r, &p->sess_flags) != 0 ||
		    get_u32(r, &p->sess_expiry) != 0 ||
		    repl_sess_flags_check(p->sess_flags, p->sess_expiry) != 0)
			return CAIRN_ERR_PROTO;
		if ((p->sess_flags & LINK_SESS_OFFLINE) &&
		    get_expiry(r, &p->sess_offline_ms) != 0)
			return CAIRN_ERR_PROTO;
		return 0;
	}
	if (type == LINK_REPL_STATE) {
		/* Online (0) or offline for sess_offline_ms. */
		p->has_online = 1;
		if (get_u8(r, &p->sess_flags) != 0 ||
		    (p->sess_flags & ~LINK_SESS_OFFLINE) != 0)
			return CAIRN_ERR_PROTO;
		if ((p->sess_flags & LINK_SESS_OFFLINE) &&
		    get_expiry(r, &p->sess_offline_ms) != 0)
			return CAIRN_ERR_PROTO;
		return 0;
	}
	if (type != LINK_REPL_MSGS)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < p->n; i++)
		if (get_repl_ids(r, &nids, ids) != 0)
			return CAIRN_ERR_PROTO;
	p->ids = bytes_view_of(r->p + start, r->off - start);
	return 0;
}

/*
 * REPL_SUB's qos, options and subscription id, as SESSION_DATA's
 * subscriptions have them, or an unsubscribe (0x80) with neither.
 */
static int
repl_sub_check(const struct link_repl *p)
{
	struct bytes_view group, real;

	if (p->qos == LINK_REPL_UNSUB)
		return p->opts == 0 && p->sub_id == 0 ? 0 : CAIRN_ERR_PROTO;
	if (p->qos > 2 || (p->opts & ~0x0f) != 0 || ((p->opts >> 2) & 3) > 2 ||
	    p->sub_id > LINK_SUB_ID_MAX)
		return CAIRN_ERR_PROTO;
	if ((p->opts & 1) &&
	    mqtt_topic_share_parse(p->filter, &group, &real) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* The REPL_* bodies (link_codec.h); every one starts with the id. */
static int
decode_repl(struct bytes_r *r, enum link_type type, struct link_repl *p)
{
	struct link_repl_msg d;
	struct link_sub sub;
	size_t start;
	uint64_t seq;
	uint32_t i;
	uint16_t pid;
	uint8_t state;

	if (get_name(r, &p->id) != 0)
		return CAIRN_ERR_PROTO;
	switch (type) {
	case LINK_REPL_DROP:
		return 0;
	case LINK_REPL_SUB:
		if (get_filter(r, &p->filter) != 0 || get_u8(r, &p->qos) != 0 ||
		    get_u8(r, &p->opts) != 0 || get_u32(r, &p->sub_id) != 0 ||
		    repl_sub_check(p) != 0)
			return CAIRN_ERR_PROTO;
		return 0;
	default:
		break;
	}
	if (get_u32(r, &p->n) != 0)
		return CAIRN_ERR_PROTO;
	start = r->off;
	for (i = 0; i < p->n; i++) {
		if (type == LINK_REPL_SESSION) {
			if (get_sub5(r, &sub) != 0)
				return CAIRN_ERR_PROTO;
		} else if (type == LINK_REPL_MSGS) {
			if (get_repl_msg(r, &d) != 0)
				return CAIRN_ERR_PROTO;
		} else if (get_repl_state(r, &seq, &state, &pid) != 0)
			return CAIRN_ERR_PROTO;
	}
	p->items = bytes_view_of(r->p + start, r->off - start);
	return get_repl_trailer(r, type, p);
}

static int
decode_body(struct bytes_r *r, struct link_msg *m)
{
	struct bytes_view v;

	switch (m->type) {
	case LINK_HELLO:
		return decode_hello(r, &m->u.hello);
	case LINK_AUTH:
		if (bytes_get_view(r, LINK_MAC_LEN, &v) != 0)
			return CAIRN_ERR_PROTO;
		memcpy(m->u.mac, v.p, LINK_MAC_LEN);
		return 0;
	case LINK_TICK:
	case LINK_ROUTES_BEGIN:
	case LINK_ROUTES_END:
		return 0;
	case LINK_ROUTE_ADD:
	case LINK_ROUTE_DEL:
		return get_filter(r, &m->u.filter);
	case LINK_FORWARD:
		return decode_forward(r, &m->u.fwd);
	case LINK_FORWARD_ACK:
		return get_u64(r, &m->u.ack_seq);
	case LINK_REPL_ACK:
		return get_u64(r, &m->u.repl_acked);
	case LINK_RETAIN:
		return decode_retain(r, &m->u.ret);
	case LINK_CLAIM:
		return decode_claim(r, &m->u.claim);
	case LINK_SESSION_TAKE:
	case LINK_SESSION_NONE:
		return get_name(r, &m->u.take_id);
	case LINK_SESSION_DATA:
		return decode_session(r, &m->u.sess);
	case LINK_PEERS:
		return decode_peers(r, &m->u.peers);
	case LINK_REPL_SESSION:
	case LINK_REPL_SUB:
	case LINK_REPL_MSGS:
	case LINK_REPL_STATE:
	case LINK_REPL_DROP:
		return decode_repl(r, m->type, &m->u.repl);
	case LINK_CREDIT:
		if (bytes_get_u32be(r, &m->u.credit.forwards) != 0 ||
		    get_u64(r, &m->u.credit.bytes) != 0 ||
		    get_u64(r, &m->u.credit.incarnation) != 0 ||
		    m->u.credit.forwards == 0 || m->u.credit.incarnation == 0)
			return CAIRN_ERR_PROTO;
		return 0;
	}
	return CAIRN_ERR_PROTO;
}

int
link_decode(const uint8_t *in, size_t len, size_t max_frame,
    struct link_msg *out, size_t *consumed)
{
	struct bytes_r r, body;
	struct link_msg m;
	uint32_t flen;
	uint8_t type;
	int rc;

	bytes_r_init(&r, in, len);
	if (bytes_get_u32be(&r, &flen) != 0)
		return CAIRN_ERR_NEED_MORE;
	if (flen == 0)
		return CAIRN_ERR_PROTO;
	if (flen > max_frame)
		return CAIRN_ERR_TOO_BIG;
	if (bytes_r_left(&r) < flen)
		return CAIRN_ERR_NEED_MORE;
	(void)bytes_get_u8(&r, &type);
	if (type < 1 || type > LINK_TYPE_MAX)
		return CAIRN_ERR_PROTO;
	memset(&m, 0, sizeof(m));
	m.type = (enum link_type)type;
	bytes_r_init(&body, in + 5, flen - 1);
	if ((rc = decode_body(&body, &m)) != 0)
		return rc;
	if (bytes_r_left(&body) != 0)
		return CAIRN_ERR_PROTO;
	*out = m;
	*consumed = 4 + (size_t)flen;
	return 0;
}

/* Encoders.  Validation mirrors the decoders, so what goes out decodes. */

static int
put_str16(struct bytes_w *w, struct bytes_view v)
{
	if (v.len > UINT16_MAX)
		return CAIRN_ERR_INVAL;
	bytes_put_u16be(w, (uint16_t)v.len);
	return bytes_put_view(w, v);
}

static int
put_bytes32(struct bytes_w *w, struct bytes_view v)
{
	if (v.len > UINT32_MAX)
		return CAIRN_ERR_INVAL;
	bytes_put_u32be(w, (uint32_t)v.len);
	return bytes_put_view(w, v);
}

/*
 * Writes a property block: the length, then the carried properties, and
 * checks what was written as the decoder will (so that what goes out
 * decodes).  0, CAIRN_ERR_INVAL or w's error; on INVAL, w->len is where
 * it was.
 */
static int
put_props(struct bytes_w *w, struct bytes_view props)
{
	struct bytes_view v;
	struct bytes_r r;
	size_t start = w->len;

	if (props.len > 268435455u)	/* the largest varint */
		return CAIRN_ERR_INVAL;
	bytes_put_varint(w, (uint32_t)props.len);
	bytes_put_view(w, props);
	if (w->err != 0)
		return w->err;
	if (props.len == 0)
		return 0;
	bytes_r_init(&r, w->buf + start, w->len - start);
	if (get_props(&r, &v) != 0) {
		w->len = start;
		return CAIRN_ERR_INVAL;
	}
	return 0;
}

static int
msg5_check(const struct link_msg5 *v)
{
	return link_from_valid(v->from) && v->expiry_ms <= LINK_EXPIRY_MAX_MS ?
	    0 : CAIRN_ERR_INVAL;
}

static int
put_msg5(struct bytes_w *w, const struct link_msg5 *v)
{
	put_str16(w, v->from);
	bytes_put_u64be(w, v->expiry_ms);
	return put_props(w, v->props);
}

static int
sub5_check(const struct link_sub *s)
{
	struct bytes_view group, real;

	if (!link_filter_valid(s->filter) || s->filter.len > UINT16_MAX ||
	    s->qos > 2 || s->no_local > 1 || s->rap > 1 || s->rh > 2 ||
	    s->sub_id > LINK_SUB_ID_MAX)
		return CAIRN_ERR_INVAL;
	if (s->no_local &&
	    mqtt_topic_share_parse(s->filter, &group, &real) != 0)
		return CAIRN_ERR_INVAL;
	return 0;
}

int
link_put_session_sub5(struct bytes_w *w, const struct link_sub *s)
{
	if (sub5_check(s) != 0)
		return CAIRN_ERR_INVAL;
	put_str16(w, s->filter);
	bytes_put_u8(w, s->qos);
	bytes_put_u8(w, (uint8_t)(s->no_local | s->rap << 1 | s->rh << 2));
	return bytes_put_u32be(w, s->sub_id);
}

int
link_put_session_msg5(struct bytes_w *w, const struct link_smsg *m)
{
	size_t start = w->len;
	uint8_t i;
	int rc;

	if (m->qos > 2 || !link_topic_valid(m->topic) ||
	    m->topic.len > UINT16_MAX || m->payload.len > UINT32_MAX ||
	    msg5_check(&m->v5) != 0 || m->retain > 1 ||
	    m->nids > LINK_MAX_SUB_IDS)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < m->nids; i++)
		if (m->ids[i] == 0 || m->ids[i] > LINK_SUB_ID_MAX)
			return CAIRN_ERR_INVAL;
	bytes_put_u8(w, m->qos);
	put_str16(w, m->topic);
	put_bytes32(w, m->payload);
	if ((rc = put_msg5(w, &m->v5)) == CAIRN_ERR_INVAL) {
		w->len = start;
		return rc;
	}
	bytes_put_u8(w, m->retain);
	bytes_put_u8(w, m->nids);
	for (i = 0; i < m->nids; i++)
		bytes_put_u32be(w, m->ids[i]);
	return w->err;
}

int
link_put_session_sub(struct bytes_w *w, struct bytes_view filter,
    uint8_t qos)
{
	struct link_sub s;

	memset(&s, 0, sizeof(s));
	s.filter = filter;
	s.qos = qos;
	return link_put_session_sub5(w, &s);
}

int
link_put_session_msg(struct bytes_w *w, uint8_t qos, struct bytes_view topic,
    struct bytes_view payload)
{
	struct link_smsg m;

	memset(&m, 0, sizeof(m));
	m.qos = qos;
	m.topic = topic;
	m.payload = payload;
	return link_put_session_msg5(w, &m);
}

int
link_put_group(struct bytes_w *w, struct bytes_view filter)
{
	if (!link_share_valid(filter))
		return CAIRN_ERR_INVAL;
	return put_str16(w, filter);
}

int
link_put_peer(struct bytes_w *w, struct bytes_view name)
{
	if (!link_name_valid(name))
		return CAIRN_ERR_INVAL;
	return put_str16(w, name);
}

int
link_put_repl_msg(struct bytes_w *w, const struct link_repl_msg *d)
{
	struct bytes_r r;
	struct link_repl_msg x;
	size_t start = w->len;
	int rc;

	if (d->topic.len > UINT16_MAX || d->payload.len > UINT32_MAX)
		return CAIRN_ERR_INVAL;
	bytes_put_u64be(w, d->seq);
	bytes_put_u8(w, d->qos);
	bytes_put_u8(w, d->retain);
	bytes_put_u8(w, d->state);
	bytes_put_u16be(w, d->pid);
	put_str16(w, d->topic);
	put_bytes32(w, d->payload);
	if (msg5_check(&d->v5) != 0) {
		w->len = start;
		return CAIRN_ERR_INVAL;
	}
	if ((rc = put_msg5(w, &d->v5)) != 0)
		return rc;
	/* What the decoder would refuse never goes out. */
	bytes_r_init(&r, w->buf + start, w->len - start);
	if (get_repl_msg(&r, &x) != 0) {
		w->len = start;
		return CAIRN_ERR_INVAL;
	}
	return 0;
}

int
link_put_repl_state(struct bytes_w *w, uint64_t seq, uint8_t state,
    uint16_t pid)
{
	if ((state != LINK_REPL_PUBLISHED && state != LINK_REPL_RELEASED &&
	    state != LINK_REPL_DONE) || ((state == LINK_REPL_DONE) !=
	    (pid == 0)))
		return CAIRN_ERR_INVAL;
	bytes_put_u64be(w, seq);
	bytes_put_u8(w, state);
	return bytes_put_u16be(w, pid);
}

/* 0 if the n items of a REPL_* list decode exactly, else INVAL. */
static int
encode_check_repl(const struct link_msg *m)
{
	const struct link_repl *p = &m->u.repl;
	struct bytes_r r;
	struct link_repl_msg d;
	struct link_sub sub;
	uint32_t ids[LINK_MAX_SUB_IDS];
	uint64_t seq;
	uint32_t i;
	uint16_t pid;
	uint8_t state, nids;

	if (!link_name_valid(p->id))
		return CAIRN_ERR_INVAL;
	switch (m->type) {
	case LINK_REPL_DROP:
		return 0;
	case LINK_REPL_SUB:
		return link_filter_valid(p->filter) &&
		    p->filter.len <= UINT16_MAX && repl_sub_check(p) == 0 ? 0 :
		    CAIRN_ERR_INVAL;
	default:
		break;
	}
	bytes_r_init(&r, p->items.p, p->items.len);
	for (i = 0; i < p->n; i++) {
		if (m->type == LINK_REPL_SESSION) {
			if (get_sub5(&r, &sub) != 0)
				return CAIRN_ERR_INVAL;
		} else if (m->type == LINK_REPL_MSGS) {
			if (get_repl_msg(&r, &d) != 0)
				return CAIRN_ERR_INVAL;
		} else if (get_repl_state(&r, &seq, &state, &pid) != 0)
			return CAIRN_ERR_INVAL;
	}
	if (bytes_r_left(&r) != 0)
		return CAIRN_ERR_INVAL;
	if (m->type == LINK_REPL_SESSION && p->sess_flags != 0 &&
	    repl_sess_flags_check(p->sess_flags, p->sess_expiry) != 0)
		return CAIRN_ERR_INVAL;
	if (m->type == LINK_REPL_STATE && p->has_online &&
	    (p->sess_flags & ~LINK_SESS_OFFLINE) != 0)
		return CAIRN_ERR_INVAL;
	if ((m->type == LINK_REPL_SESSION || (m->type == LINK_REPL_STATE &&
	    p->has_online)) && (p->sess_flags & LINK_SESS_OFFLINE) &&
	    p->sess_offline_ms > LINK_EXPIRY_MAX_MS)
		return CAIRN_ERR_INVAL;
	if (p->ids.len == 0)
		return 0;
	if (m->type != LINK_REPL_MSGS)
		return CAIRN_ERR_INVAL;
	bytes_r_init(&r, p->ids.p, p->ids.len);
	for (i = 0; i < p->n; i++)
		if (get_repl_ids(&r, &nids, ids) != 0)
			return CAIRN_ERR_INVAL;
	return bytes_r_left(&r) == 0 ? 0 : CAIRN_ERR_INVAL;
}

/* Checks what the decoder would refuse; 0 or CAIRN_ERR_INVAL. */
static int
encode_check(const struct link_msg *m)
{
	struct bytes_view l, a;
	struct link_sub sub;
	struct link_smsg sm;
	struct bytes_r r;
	uint32_t i;

	switch (m->type) {
	case LINK_HELLO:
		return m->u.hello.version != 0 &&
		    link_name_valid(m->u.hello.name) ? 0 : CAIRN_ERR_INVAL;
	case LINK_AUTH:
	case LINK_TICK:
	case LINK_ROUTES_BEGIN:
	case LINK_ROUTES_END:
	case LINK_FORWARD_ACK:
	case LINK_REPL_ACK:
		return 0;
	case LINK_ROUTE_ADD:
	case LINK_ROUTE_DEL:
		return link_filter_valid(m->u.filter) &&
		    m->u.filter.len <= UINT16_MAX ? 0 : CAIRN_ERR_INVAL;
	case LINK_FORWARD:
		if (m->u.fwd.qos > 2 || m->u.fwd.retain > 1 ||
		    !link_topic_valid(m->u.fwd.topic) ||
		    m->u.fwd.topic.len > UINT16_MAX ||
		    m->u.fwd.payload.len > UINT32_MAX)
			return CAIRN_ERR_INVAL;
		l = m->u.fwd.groups;
		for (i = 0; i < m->u.fwd.ngroups; i++)
			if (!link_forward_group_next(&l, &a) ||
			    !link_share_valid(a))
				return CAIRN_ERR_INVAL;
		if (msg5_check(&m->u.fwd.v5) != 0 ||
		    m->u.fwd.nspooled > LINK_MAX_SPOOLED)
			return CAIRN_ERR_INVAL;
		for (i = 0; i < m->u.fwd.nspooled; i++)
			if (m->u.fwd.spooled[i] == 0)
				return CAIRN_ERR_INVAL;
		return l.len == 0 ? 0 : CAIRN_ERR_INVAL;
	case LINK_RETAIN:
		return m->u.ret.qos <= 2 && link_name_valid(m->u.ret.origin) &&
		    link_topic_valid(m->u.ret.topic) &&
		    m->u.ret.topic.len <= UINT16_MAX &&
		    m->u.ret.payload.len <= UINT32_MAX &&
		    m->u.ret.expiry_ms <= LINK_EXPIRY_MAX_MS ?
		    0 : CAIRN_ERR_INVAL;
	case LINK_CLAIM:
		return link_name_valid(m->u.claim.id) &&
		    link_name_valid(m->u.claim.node) &&
		    (m->u.claim.flags & ~LINK_CLAIM_KEPT) == 0 ?
		    0 : CAIRN_ERR_INVAL;
	case LINK_SESSION_TAKE:
	case LINK_SESSION_NONE:
		return link_name_valid(m->u.take_id) ? 0 : CAIRN_ERR_INVAL;
	case LINK_SESSION_DATA:
		/* The lists must hold exactly their counts of valid items. */
		if (!link_name_valid(m->u.sess.id))
			return CAIRN_ERR_INVAL;
		if ((m->u.sess.flags & ~(LINK_SESS_EXPIRY | LINK_SESS_V5)) !=
		    0 || (!(m->u.sess.flags & LINK_SESS_EXPIRY) &&
		    m->u.sess.expiry != 0))
			return CAIRN_ERR_INVAL;
		bytes_r_init(&r, m->u.sess.subs.p, m->u.sess.subs.len);
		for (i = 0; i < m->u.sess.nsubs; i++)
			if (get_sub5(&r, &sub) != 0)
				return CAIRN_ERR_INVAL;
		if (bytes_r_left(&r) != 0)
			return CAIRN_ERR_INVAL;
		bytes_r_init(&r, m->u.sess.msgs.p, m->u.sess.msgs.len);
		for (i = 0; i < m->u.sess.nmsgs; i++)
			if (get_smsg5(&r, &sm) != 0)
				return CAIRN_ERR_INVAL;
		return bytes_r_left(&r) == 0 ? 0 : CAIRN_ERR_INVAL;
	case LINK_PEERS:
		l = m->u.peers.names;
		for (i = 0; i < m->u.peers.n; i++)
			if (!link_peers_next(&l, &a) || !link_name_valid(a))
				return CAIRN_ERR_INVAL;
		return l.len == 0 ? 0 : CAIRN_ERR_INVAL;
	case LINK_REPL_SESSION:
	case LINK_REPL_SUB:
	case LINK_REPL_MSGS:
	case LINK_REPL_STATE:
	case LINK_REPL_DROP:
		return encode_check_repl(m);
	case LINK_CREDIT:
		return m->u.credit.forwards > 0 &&
		    m->u.credit.incarnation != 0 ? 0 : CAIRN_ERR_INVAL;
	}
	return CAIRN_ERR_INVAL;
}

static int
encode_body(struct bytes_w *w, const struct link_msg *m)
{
	switch (m->type) {
	case LINK_HELLO:
		bytes_put_u8(w, m->u.hello.version);
		put_str16(w, m->u.hello.name);
		bytes_put(w, m->u.hello.challenge, LINK_CHALLENGE_LEN);
		break;
	case LINK_AUTH:
		bytes_put(w, m->u.mac, LINK_MAC_LEN);
		break;
	case LINK_TICK:
	case LINK_ROUTES_BEGIN:
	case LINK_ROUTES_END:
		break;
	case LINK_ROUTE_ADD:
	case LINK_ROUTE_DEL:
		put_str16(w, m->u.filter);
		break;
	case LINK_FORWARD:
		bytes_put_u64be(w, m->u.fwd.seq);
		bytes_put_u8(w, m->u.fwd.qos);
		bytes_put_u8(w, m->u.fwd.retain);
		put_str16(w, m->u.fwd.topic);
		put_bytes32(w, m->u.fwd.payload);
		if (m->u.fwd.ngroups > 0 || !msg5_empty(&m->u.fwd.v5) ||
		    m->u.fwd.nspooled > 0) {
			bytes_put_u16be(w, m->u.fwd.ngroups);
			bytes_put_view(w, m->u.fwd.groups);
		}
		if (m->u.fwd.nspooled > 0) {
			uint8_t i;

			if (put_msg5(w, &m->u.fwd.v5) != 0)
				return CAIRN_ERR_INVAL;
			bytes_put_u8(w, m->u.fwd.nspooled);
			for (i = 0; i < m->u.fwd.nspooled; i++)
				bytes_put_u64be(w, m->u.fwd.spooled[i]);
			break;
		}
		if (!msg5_empty(&m->u.fwd.v5))
			return put_msg5(w, &m->u.fwd.v5);
		break;
	case LINK_FORWARD_ACK:
		bytes_put_u64be(w, m->u.ack_seq);
		break;
	case LINK_REPL_ACK:
		bytes_put_u64be(w, m->u.repl_acked);
		break;
	case LINK_RETAIN:
		bytes_put_u64be(w, m->u.ret.stamp);
		put_str16(w, m->u.ret.origin);
		put_str16(w, m->u.ret.topic);
		bytes_put_u8(w, m->u.ret.qos);
		put_bytes32(w, m->u.ret.payload);
		if (m->u.ret.expiry_ms != 0 || m->u.ret.props.len != 0) {
			bytes_put_u64be(w, m->u.ret.expiry_ms);
			return put_props(w, m->u.ret.props);
		}
		break;
	case LINK_CLAIM:
		put_str16(w, m->u.claim.id);
		bytes_put_u64be(w, m->u.claim.stamp);
		put_str16(w, m->u.claim.node);
		if (m->u.claim.flags != 0)
			bytes_put_u8(w, m->u.claim.flags);
		break;
	case LINK_SESSION_TAKE:
	case LINK_SESSION_NONE:
		put_str16(w, m->u.take_id);
		break;
	case LINK_SESSION_DATA:
		put_str16(w, m->u.sess.id);
		bytes_put_u32be(w, m->u.sess.nsubs);
		bytes_put_view(w, m->u.sess.subs);
		bytes_put_u32be(w, m->u.sess.nmsgs);
		bytes_put_view(w, m->u.sess.msgs);
		bytes_put_u8(w, m->u.sess.flags);
		bytes_put_u32be(w, m->u.sess.expiry);
		break;
	case LINK_PEERS:
		bytes_put_u16be(w, m->u.peers.n);
		bytes_put_view(w, m->u.peers.names);
		break;
	case LINK_REPL_SESSION:
	case LINK_REPL_SUB:
	case LINK_REPL_MSGS:
	case LINK_REPL_STATE:
	case LINK_REPL_DROP:
		put_str16(w, m->u.repl.id);
		if (m->type == LINK_REPL_SUB) {
			put_str16(w, m->u.repl.filter);
			bytes_put_u8(w, m->u.repl.qos);
			bytes_put_u8(w, m->u.repl.opts);
			bytes_put_u32be(w, m->u.repl.sub_id);
		} else if (m->type != LINK_REPL_DROP) {
			bytes_put_u32be(w, m->u.repl.n);
			bytes_put_view(w, m->u.repl.items);
			if (m->type == LINK_REPL_SESSION &&
			    m->u.repl.sess_flags != 0) {
				bytes_put_u8(w, m->u.repl.sess_flags);
				bytes_put_u32be(w, m->u.repl.sess_expiry);
				if (m->u.repl.sess_flags & LINK_SESS_OFFLINE)
					bytes_put_u64be(w,
					    m->u.repl.sess_offline_ms);
			} else if (m->type == LINK_REPL_STATE &&
			    m->u.repl.has_online) {
				bytes_put_u8(w, m->u.repl.sess_flags);
				if (m->u.repl.sess_flags & LINK_SESS_OFFLINE)
					bytes_put_u64be(w,
					    m->u.repl.sess_offline_ms);
			} else if (m->type == LINK_REPL_MSGS)
				bytes_put_view(w, m->u.repl.ids);
		}
		break;
	case LINK_CREDIT:
		bytes_put_u32be(w, m->u.credit.forwards);
		bytes_put_u64be(w, m->u.credit.bytes);
		bytes_put_u64be(w, m->u.credit.incarnation);
		break;
	}
	return 0;
}

int
link_encode(struct bytes_w *w, const struct link_msg *m, size_t max_frame)
{
	size_t start = w->len, flen;
	int rc;

	if (w->err != 0)
		return w->err;
	if ((rc = encode_check(m)) != 0)
		return rc;
	bytes_put_u32be(w, 0);
	bytes_put_u8(w, (uint8_t)m->type);
	rc = encode_body(w, m);
	if (w->err != 0 || rc != 0) {
		if (w->err != 0)
			rc = w->err;
		w->len = start;
		w->err = 0;
		return rc;
	}
	flen = w->len - start - 4;
	if (flen > max_frame || flen > UINT32_MAX) {
		w->len = start;
		return CAIRN_ERR_INVAL;
	}
	w->buf[start] = (uint8_t)(flen >> 24);
	w->buf[start + 1] = (uint8_t)(flen >> 16);
	w->buf[start + 2] = (uint8_t)(flen >> 8);
	w->buf[start + 3] = (uint8_t)flen;
	return 0;
}

int
link_session_sub_next5(struct bytes_view *list, struct link_sub *s)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (get_sub5(&r, s) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
link_session_msg_next5(struct bytes_view *list, struct link_smsg *m)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (get_smsg5(&r, m) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
link_session_sub_next(struct bytes_view *list, struct bytes_view *filter,
    uint8_t *qos)
{
	struct link_sub s;

	if (!link_session_sub_next5(list, &s))
		return 0;
	*filter = s.filter;
	*qos = s.qos;
	return 1;
}

int
link_session_msg_next(struct bytes_view *list, uint8_t *qos,
    struct bytes_view *topic, struct bytes_view *payload)
{
	struct link_smsg m;

	if (!link_session_msg_next5(list, &m))
		return 0;
	*qos = m.qos;
	*topic = m.topic;
	*payload = m.payload;
	return 1;
}

int
link_repl_msg_next(struct bytes_view *list, struct link_repl_msg *d)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (get_repl_msg(&r, d) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
link_put_repl_ids(struct bytes_w *w, uint8_t nids, const uint32_t *ids)
{
	uint8_t i;

	if (nids > LINK_MAX_SUB_IDS)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < nids; i++)
		if (ids[i] == 0 || ids[i] > LINK_SUB_ID_MAX)
			return CAIRN_ERR_INVAL;
	bytes_put_u8(w, nids);
	for (i = 0; i < nids; i++)
		bytes_put_u32be(w, ids[i]);
	return w->err;
}

int
link_repl_ids_next(struct bytes_view *list, uint8_t *nids, uint32_t *ids)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (get_repl_ids(&r, nids, ids) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
link_repl_state_next(struct bytes_view *list, uint64_t *seq,
    uint8_t *state, uint16_t *pid)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (get_repl_state(&r, seq, state, pid) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

int
link_forward_group_next(struct bytes_view *list, struct bytes_view *filter)
{
	return link_peers_next(list, filter);
}

int
link_peers_next(struct bytes_view *list, struct bytes_view *name)
{
	struct bytes_r r;

	bytes_r_init(&r, list->p, list->len);
	if (bytes_get_view16(&r, name) != 0)
		return 0;
	*list = bytes_r_rest(&r);
	return 1;
}

static void
put_lp(struct bytes_w *w, const void *p, size_t len)
{
	bytes_put_u32be(w, (uint32_t)len);
	bytes_put(w, p, len);
}

void
link_transcript_put(struct bytes_w *w, const struct link_transcript *t)
{
	put_lp(w, LINK_LABEL, strlen(LINK_LABEL));
	put_lp(w, &t->version_i, 1);
	put_lp(w, t->name_i.p, t->name_i.len);
	put_lp(w, t->nonce_i, LINK_NONCE_LEN);
	put_lp(w, &t->version_r, 1);
	put_lp(w, t->name_r.p, t->name_r.len);
	put_lp(w, t->nonce_r, LINK_NONCE_LEN);
	put_lp(w, t->binding.p, t->binding.len);
}

/* HKDF-SHA-256 of the cookie with LINK_LABEL as salt, expanded by info. */
static int
link_key(struct bytes_view cookie, const char *info, uint8_t key[32])
{
	static const uint8_t empty[1];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM p[5], *q = p;
	int rc = CAIRN_ERR_NOMEM;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto fail;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(cookie.len > 0 ? cookie.p : empty), cookie.len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)LINK_LABEL, strlen(LINK_LABEL));
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*q = OSSL_PARAM_construct_end();
	rc = EVP_KDF_derive(kctx, key, 32, p) == 1 ? 0 : CAIRN_ERR_INVAL;
fail:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

int
link_finished(struct bytes_view cookie, enum link_role prover,
    const struct link_transcript *t, uint8_t out[LINK_MAC_LEN])
{
	uint8_t key[32], hash[32];
	unsigned int hl = 0, ml = 0;
	struct bytes_w w;
	int rc;

	if (t->nonce_i == NULL || t->nonce_r == NULL)
		return CAIRN_ERR_INVAL;
	bytes_w_init(&w, 4096);
	link_transcript_put(&w, t);
	if (w.err != 0) {
		bytes_w_fini(&w);
		return CAIRN_ERR_NOMEM;
	}
	rc = link_key(cookie, prover == LINK_INITIATOR ?
	    LINK_LABEL_INITIATOR : LINK_LABEL_RESPONDER, key);
	if (rc == 0 && (EVP_Digest(w.buf, w.len, hash, &hl, EVP_sha256(),
	    NULL) != 1 || hl != sizeof(hash) ||
	    HMAC(EVP_sha256(), key, sizeof(key), hash, sizeof(hash), out,
	    &ml) == NULL || ml != LINK_MAC_LEN))
		rc = CAIRN_ERR_INVAL;
	OPENSSL_cleanse(key, sizeof(key));
	bytes_w_fini(&w);
	return rc;
}

int
link_mac_eq(const uint8_t a[LINK_MAC_LEN], const uint8_t b[LINK_MAC_LEN])
{
	return CRYPTO_memcmp(a, b, LINK_MAC_LEN) == 0;
}
