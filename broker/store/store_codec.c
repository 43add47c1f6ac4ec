/*
 * The store's records and keys; see store_codec.h for the layouts.
 * Encoders validate what they write as the decoders do, so that a
 * record this code wrote is one it reads back.
 */
#include "broker/store/store_codec.h"

#include <stdint.h>
#include <string.h>

#include "common/err.h"

/* The check's key: fixed, it guards against damage, not an attacker. */
static const uint8_t store_check_key[STORE_HASH_KEY_LEN] = {
	'c', 'a', 'i', 'r', 'n', '-', 's', 't', 'o', 'r', 'e', '-', 'r', 'e',
	'c', '1',
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t x = 0;
	int i;

	for (i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

uint64_t
store_hash(const uint8_t key[STORE_HASH_KEY_LEN], struct bytes_view in)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b;
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	const uint8_t *p = in.p;
	size_t left = in.len;
	int i;

	b = (uint64_t)in.len << 56;
	for (; left >= 8; p += 8, left -= 8) {
		m = le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = (int)left - 1; i >= 0; i--)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
put64(uint8_t *p, uint64_t x)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)x;
		x >>= 8;
	}
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < 8; i++)
		x = x << 8 | p[i];
	return x;
}

size_t
store_key_meta(uint8_t *buf)
{
	buf[0] = 'M';
	return 1;
}

size_t
store_key_retained(uint8_t *buf, uint64_t topic_hash)
{
	buf[0] = 'R';
	put64(buf + 1, topic_hash);
	return 9;
}

size_t
store_key_session_prefix(uint8_t *buf, uint64_t sid)
{
	buf[0] = 'S';
	put64(buf + 1, sid);
	return 9;
}

size_t
store_key_session(uint8_t *buf, uint64_t sid, uint8_t kind, uint64_t arg)
{
	size_t n = store_key_session_prefix(buf, sid);

	buf[n++] = kind;
	switch (kind) {
	case STORE_SK_SUB:
	case STORE_SK_OUT:
		put64(buf + n, arg);
		n += 8;
		break;
	case STORE_SK_INQ2:
		buf[n++] = (uint8_t)(arg >> 8);
		buf[n++] = (uint8_t)arg;
		break;
	default:
		break;
	}
	return n;
}

int
store_key_decode(struct bytes_view k, struct store_key *out)
{
	memset(out, 0, sizeof(*out));
	if (k.len == 0)
		return CAIRN_ERR_PROTO;
	out->sk_type = k.p[0];
	switch (k.p[0]) {
	case 'M':
		return k.len == 1 ? 0 : CAIRN_ERR_PROTO;
	case 'R':
		if (k.len != 9)
			return CAIRN_ERR_PROTO;
		out->sk_hash = get64(k.p + 1);
		return 0;
	case 'S':
		if (k.len < 10)
			return CAIRN_ERR_PROTO;
		out->sk_sid = get64(k.p + 1);
		out->sk_kind = k.p[9];
		switch (k.p[9]) {
		case STORE_SK_HEADER:
			return k.len == 10 ? 0 : CAIRN_ERR_PROTO;
		case STORE_SK_SUB:
		case STORE_SK_OUT:
			if (k.len != 18)
				return CAIRN_ERR_PROTO;
			out->sk_arg = get64(k.p + 10);
			return 0;
		case STORE_SK_INQ2:
			if (k.len != 12)
				return CAIRN_ERR_PROTO;
			out->sk_arg = (uint64_t)k.p[10] << 8 | k.p[11];
			return out->sk_arg != 0 ? 0 : CAIRN_ERR_PROTO;
		}
		return CAIRN_ERR_PROTO;
	}
	return CAIRN_ERR_PROTO;
}

/* --- frames ------------------------------------------------------------ */

/* Starts a value: remembers where it starts. */
static size_t
rec_begin(struct bytes_w *w, enum store_rec type)
{
	size_t start = w->len;

	(void)bytes_put_u8(w, (uint8_t)type);
	(void)bytes_put_u8(w, STORE_FORMAT_VERSION);
	return start;
}

/* Ends a value begun at start: appends its check. */
static int
rec_end(struct bytes_w *w, size_t start)
{
	uint64_t h;

	if (w->err != 0)
		return w->err;
	h = store_hash(store_check_key, bytes_view_of(w->buf + start,
	    w->len - start));
	(void)bytes_put_u32be(w, (uint32_t)h);
	return w->err;
}

static void
put_view16(struct bytes_w *w, struct bytes_view v)
{
	(void)bytes_put_u16be(w, (uint16_t)v.len);
	if (v.len > 0)
		(void)bytes_put(w, v.p, v.len);
}

int
store_rec_type(struct bytes_view v, uint8_t *version)
{
	uint64_t h;
	uint32_t check;

	if (v.len < STORE_REC_OVERHEAD)
		return CAIRN_ERR_PROTO;
	if (version != NULL)
		*version = v.p[1];
	if (v.p[0] < STORE_REC_META || v.p[0] > STORE_REC_INQ2 ||
	    v.p[1] < STORE_FORMAT_OLDEST || v.p[1] > STORE_FORMAT_VERSION)
		return CAIRN_ERR_PROTO;
	check = (uint32_t)v.p[v.len - 4] << 24 |
	    (uint32_t)v.p[v.len - 3] << 16 | (uint32_t)v.p[v.len - 2] << 8 |
	    v.p[v.len - 1];
	h = store_hash(store_check_key, bytes_view_of(v.p, v.len - 4));
	if ((uint32_t)h != check)
		return CAIRN_ERR_PROTO;
	return v.p[0];
}

/*
 * Checks v's frame for type and sets r over its body; *ver gets the
 * record's version.
 */
static int
rec_open(struct bytes_view v, enum store_rec type, struct bytes_r *r,
    uint8_t *ver)
{
	if (store_rec_type(v, ver) != (int)type)
		return CAIRN_ERR_PROTO;
	bytes_r_init(r, v.p + 2, v.len - STORE_REC_OVERHEAD);
	return 0;
}

static void
put_view32(struct bytes_w *w, struct bytes_view v)
{
	(void)bytes_put_u32be(w, (uint32_t)v.len);
	if (v.len > 0)
		(void)bytes_put(w, v.p, v.len);
}

static int
get_view32(struct bytes_r *r, struct bytes_view *v)
{
	uint32_t n;

	if (bytes_get_u32be(r, &n) != 0 || bytes_get_view(r, n, v) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* --- messages ---------------------------------------------------------- */

static int
msg_valid(const struct store_msg *m)
{
	return m->smg_qos <= 2 && m->smg_retain <= 1 &&
	    m->smg_topic.len >= 1 && m->smg_topic.len <= UINT16_MAX &&
	    m->smg_payload.len <= UINT32_MAX &&
	    m->smg_from.len <= UINT16_MAX && m->smg_props.len <= UINT32_MAX;
}

static void
msg_put(struct bytes_w *w, const struct store_msg *m)
{
	(void)bytes_put_u8(w, m->smg_qos);
	(void)bytes_put_u8(w, m->smg_retain);
	put_view16(w, m->smg_topic);
	put_view32(w, m->smg_payload);
	(void)bytes_put_u64be(w, m->smg_expire_ms);
	put_view16(w, m->smg_from);
	put_view32(w, m->smg_props);
}

static int
msg_get(struct bytes_r *r, uint8_t ver, struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (bytes_get_u8(r, &m->smg_qos) != 0 ||
	    bytes_get_u8(r, &m->smg_retain) != 0 ||
	    bytes_get_view16(r, &m->smg_topic) != 0 ||
	    get_view32(r, &m->smg_payload) != 0)
		return CAIRN_ERR_PROTO;
	if (ver >= 2 && (bytes_get_u64be(r, &m->smg_expire_ms) != 0 ||
	    bytes_get_view16(r, &m->smg_from) != 0 ||
	    get_view32(r, &m->smg_props) != 0))
		return CAIRN_ERR_PROTO;
	return msg_valid(m) ? 0 : CAIRN_ERR_PROTO;
}

/* --- meta -------------------------------------------------------------- */

int
store_encode_meta(struct bytes_w *w, const struct store_meta *m)
{
	size_t start;

	if (m->sm_node.len > UINT16_MAX)
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_META);
	(void)bytes_put(w, STORE_MAGIC, STORE_MAGIC_LEN);
	(void)bytes_put_u32be(w, m->sm_version);
	put_view16(w, m->sm_node);
	(void)bytes_put(w, m->sm_hash_key, STORE_HASH_KEY_LEN);
	return rec_end(w, start);
}

int
store_decode_meta(struct bytes_view v, struct store_meta *m)
{
	struct bytes_view magic, key;
	struct bytes_r r;

	if (rec_open(v, STORE_REC_META, &r, NULL) != 0 ||
	    bytes_get_view(&r, STORE_MAGIC_LEN, &magic) != 0 ||
	    memcmp(magic.p, STORE_MAGIC, STORE_MAGIC_LEN) != 0 ||
	    bytes_get_u32be(&r, &m->sm_version) != 0 ||
	    bytes_get_view16(&r, &m->sm_node) != 0 ||
	    bytes_get_view(&r, STORE_HASH_KEY_LEN, &key) != 0 ||
	    bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	memcpy(m->sm_hash_key, key.p, STORE_HASH_KEY_LEN);
	return m->sm_version >= STORE_FORMAT_OLDEST &&
	    m->sm_version <= STORE_FORMAT_VERSION ? 0 : CAIRN_ERR_PROTO;
}

/* --- retained ---------------------------------------------------------- */

int
store_encode_retained(struct bytes_w *w, const struct store_msg *m)
{
	size_t start;

	if (!msg_valid(m))
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_RETAINED);
	msg_put(w, m);
	return rec_end(w, start);
}

int
store_decode_retained(struct bytes_view v, struct store_msg *m)
{
	struct bytes_r r;
	uint8_t ver;

	if (rec_open(v, STORE_REC_RETAINED, &r, &ver) != 0 ||
	    msg_get(&r, ver, m) != 0 || bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* --- session header ---------------------------------------------------- */

int
store_encode_session(struct bytes_w *w, const struct store_session *s)
{
	size_t start;

	if (s->ss_id.len == 0 || s->ss_id.len > UINT16_MAX ||
	    s->ss_username.len > UINT16_MAX ||
	    (!s->ss_has_username && s->ss_username.len != 0))
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_SESSION);
	put_view16(w, s->ss_id);
	(void)bytes_put_u8(w, (s->ss_has_username ? 1 : 0) |
	    (s->ss_v5 ? 2 : 0));
	put_view16(w, s->ss_username);
	(void)bytes_put_u64be(w, s->ss_created_ms);
	(void)bytes_put_u64be(w, s->ss_seen_ms);
	(void)bytes_put_u32be(w, s->ss_expiry);
	return rec_end(w, start);
}

int
store_decode_session(struct bytes_view v, struct store_session *s)
{
	struct bytes_r r;
	uint8_t flags, ver;

	if (rec_open(v, STORE_REC_SESSION, &r, &ver) != 0 ||
	    bytes_get_view16(&r, &s->ss_id) != 0 ||
	    bytes_get_u8(&r, &flags) != 0 ||
	    bytes_get_view16(&r, &s->ss_username) != 0 ||
	    bytes_get_u64be(&r, &s->ss_created_ms) != 0 ||
	    bytes_get_u64be(&r, &s->ss_seen_ms) != 0 ||
	    bytes_get_u32be(&r, &s->ss_expiry) != 0 ||
	    bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	if (s->ss_id.len == 0 || flags > (ver >= 2 ? 3 : 1) ||
	    ((flags & 1) == 0 && s->ss_username.len != 0))
		return CAIRN_ERR_PROTO;
	s->ss_has_username = flags & 1;
	s->ss_v5 = (flags & 2) != 0;
	return 0;
}

/* --- subscription ------------------------------------------------------ */

/* Options: the known bits only, retain handling 0..2. */
static int
sub_opts_valid(uint8_t o)
{
	return (o & ~(STORE_SUB_NO_LOCAL | STORE_SUB_RAP |
	    3 << STORE_SUB_RH_SHIFT)) == 0 &&
	    (o >> STORE_SUB_RH_SHIFT & 3) <= 2;
}

int
store_encode_sub(struct bytes_w *w, const struct store_sub *s)
{
	size_t start;

	if (s->ssb_qos > 2 || !sub_opts_valid(s->ssb_opts) ||
	    s->ssb_filter.len == 0 || s->ssb_filter.len > UINT16_MAX ||
	    s->ssb_sub_id > STORE_SUB_ID_MAX)
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_SUB);
	(void)bytes_put_u8(w, s->ssb_qos);
	(void)bytes_put_u8(w, s->ssb_opts);
	put_view16(w, s->ssb_filter);
	(void)bytes_put_u32be(w, s->ssb_sub_id);
	return rec_end(w, start);
}

int
store_decode_sub(struct bytes_view v, struct store_sub *s)
{
	struct bytes_r r;
	uint8_t ver;

	s->ssb_sub_id = 0;
	if (rec_open(v, STORE_REC_SUB, &r, &ver) != 0 ||
	    bytes_get_u8(&r, &s->ssb_qos) != 0 ||
	    bytes_get_u8(&r, &s->ssb_opts) != 0 ||
	    bytes_get_view16(&r, &s->ssb_filter) != 0 ||
	    (ver >= 2 && bytes_get_u32be(&r, &s->ssb_sub_id) != 0) ||
	    bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	if (s->ssb_qos > 2 || s->ssb_filter.len == 0 ||
	    (ver < 2 ? s->ssb_opts != 0 : !sub_opts_valid(s->ssb_opts)) ||
	    s->ssb_sub_id > STORE_SUB_ID_MAX)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* --- delivery ---------------------------------------------------------- */

static int
out_valid(const struct store_out *o)
{
	unsigned int i;

	if (o->so_qos < 1 || o->so_qos > 2 || o->so_retain > 1 ||
	    o->so_nids > STORE_MAX_SUB_IDS)
		return 0;
	for (i = 0; i < o->so_nids; i++)
		if (o->so_ids[i] == 0 || o->so_ids[i] > STORE_SUB_ID_MAX)
			return 0;
	switch (o->so_state) {
	case STORE_OUT_QUEUED:
		return o->so_id == 0;
	case STORE_OUT_PUBLISHED:
		return o->so_id != 0;
	case STORE_OUT_RELEASED:
		return o->so_id != 0 && o->so_qos == 2;
	}
	return 0;
}

int
store_encode_out(struct bytes_w *w, const struct store_out *o)
{
	size_t start;
	unsigned int i;

	if (!out_valid(o) || !msg_valid(&o->so_msg))
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_OUT);
	(void)bytes_put_u8(w, o->so_state);
	(void)bytes_put_u16be(w, o->so_id);
	(void)bytes_put_u8(w, o->so_qos);
	(void)bytes_put_u8(w, o->so_retain);
	msg_put(w, &o->so_msg);
	(void)bytes_put_u8(w, o->so_nids);
	for (i = 0; i < o->so_nids; i++)
		(void)bytes_put_u32be(w, o->so_ids[i]);
	return rec_end(w, start);
}

int
store_decode_out(struct bytes_view v, struct store_out *o)
{
	struct bytes_r r;
	unsigned int i;
	uint8_t ver;

	o->so_nids = 0;
	if (rec_open(v, STORE_REC_OUT, &r, &ver) != 0 ||
	    bytes_get_u8(&r, &o->so_state) != 0 ||
	    bytes_get_u16be(&r, &o->so_id) != 0 ||
	    bytes_get_u8(&r, &o->so_qos) != 0 ||
	    bytes_get_u8(&r, &o->so_retain) != 0 ||
	    msg_get(&r, ver, &o->so_msg) != 0)
		return CAIRN_ERR_PROTO;
	if (ver >= 2) {
		if (bytes_get_u8(&r, &o->so_nids) != 0 ||
		    o->so_nids > STORE_MAX_SUB_IDS)
			return CAIRN_ERR_PROTO;
		for (i = 0; i < o->so_nids; i++)
			if (bytes_get_u32be(&r, &o->so_ids[i]) != 0)
				return CAIRN_ERR_PROTO;
	}
	if (bytes_r_left(&r) != 0)
		return CAIRN_ERR_PROTO;
	return out_valid(o) ? 0 : CAIRN_ERR_PROTO;
}

/* --- inbound QoS 2 ----------------------------------------------------- */

int
store_encode_inq2(struct bytes_w *w, uint16_t id)
{
	size_t start;

	if (id == 0)
		return CAIRN_ERR_INVAL;
	start = rec_begin(w, STORE_REC_INQ2);
	(void)bytes_put_u16be(w, id);
	return rec_end(w, start);
}

int
store_decode_inq2(struct bytes_view v, uint16_t *id)
{
	struct bytes_r r;

	if (rec_open(v, STORE_REC_INQ2, &r, NULL) != 0 ||
	    bytes_get_u16be(&r, id) != 0 || bytes_r_left(&r) != 0 ||
	    *id == 0)
		return CAIRN_ERR_PROTO;
	return 0;
}

const char *
store_rec_name(int type)
{
	switch (type) {
	case STORE_REC_META:
		return "meta";
	case STORE_REC_RETAINED:
		return "retained message";
	case STORE_REC_SESSION:
		return "session";
	case STORE_REC_SUB:
		return "subscription";
	case STORE_REC_OUT:
		return "queued message";
	case STORE_REC_INQ2:
		return "inbound QoS 2 id";
	}
	return "unknown record";
}
