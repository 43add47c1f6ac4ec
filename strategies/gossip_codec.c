/*
 * The gossip wire codec; see gossip_codec.h for both packet layouts.
 *
 * Crypto is OpenSSL's EVP interface: AES-256-GCM for Cairn's format,
 * AES-256-CBC for libcluster's.  A sealed body is decrypted into the
 * caller's buffer only after the GCM tag checks out, so no unverified
 * plaintext is ever parsed.
 */
#include "strategies/gossip_codec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/err.h"
#include "common/utf8.h"

#define GOSSIP_HKDF_SALT	"cairn-gossip"
#define GOSSIP_HKDF_INFO	"aes-256-gcm v1"

/* Fixed part of the header before the label, and after it. */
#define GOSSIP_HDR_PRE		7	/* version, kind, key id, L */

/* External Term Format tags (erts/emulator/beam/external.h). */
#define ETF_VERSION		131
#define ETF_MAP			116
#define ETF_ATOM		100	/* u16 length, Latin-1 */
#define ETF_SMALL_ATOM		115	/* u8 length, Latin-1 */
#define ETF_ATOM_UTF8		118	/* u16 length, UTF-8 */
#define ETF_SMALL_ATOM_UTF8	119	/* u8 length, UTF-8 */
#define ETF_MAX_ATOM_CHARS	255

/* Slots a replay lookup probes before it calls the table full. */
#define GOSSIP_REPLAY_PROBE	32

const char *
gossip_drop_name(enum gossip_drop d)
{
	static const char *const names[GOSSIP_DROP_NREASONS] = {
		[GOSSIP_OK] = "ok",
		[GOSSIP_DROP_TRUNCATED] = "truncated",
		[GOSSIP_DROP_MALFORMED] = "malformed",
		[GOSSIP_DROP_VERSION] = "version",
		[GOSSIP_DROP_CLUSTER] = "cluster",
		[GOSSIP_DROP_PLAIN] = "unauthenticated",
		[GOSSIP_DROP_SEALED] = "sealed-without-secret",
		[GOSSIP_DROP_KEY] = "unknown-key",
		[GOSSIP_DROP_TAG] = "bad-tag",
		[GOSSIP_DROP_STALE] = "stale",
		[GOSSIP_DROP_REPLAY] = "replay",
		[GOSSIP_DROP_CACHE_FULL] = "replay-cache-full",
		[GOSSIP_DROP_LIBCLUSTER] = "libcluster-format",
		[GOSSIP_DROP_TERM] = "bad-term",
		[GOSSIP_DROP_SELF] = "self",
		[GOSSIP_DROP_TOO_MANY] = "too-many-senders",
	};

	if ((unsigned)d >= GOSSIP_DROP_NREASONS)
		return "?";
	return names[d];
}

/*
 * Text fields: valid UTF-8, no NUL and no C0 control or DEL, so that a
 * name is safe in a log line and a JSON string.
 */
static int
gossip_text_ok(struct bytes_view v, size_t max)
{
	size_t i;

	if (v.len == 0 || v.len > max)
		return 0;
	for (i = 0; i < v.len; i++)
		if (v.p[i] < 0x20 || v.p[i] == 0x7f)
			return 0;
	return utf8_count(v.p, v.len) >= 0;
}

/* A node name: text with an '@' that has something on both sides. */
static int
gossip_name_ok(struct bytes_view v)
{
	const uint8_t *at;

	if (!gossip_text_ok(v, GOSSIP_MAX_NAME))
		return 0;
	at = memchr(v.p, '@', v.len);
	return at != NULL && at != v.p && at != v.p + v.len - 1;
}

/*
 * Keys
 */

int
gossip_key_derive(const void *secret, size_t len, struct gossip_key *k)
{
	uint8_t prk[SHA256_DIGEST_LENGTH], okm[SHA256_DIGEST_LENGTH];
	uint8_t info[sizeof(GOSSIP_HKDF_INFO)], id[SHA256_DIGEST_LENGTH];
	unsigned int plen = sizeof(prk), olen = sizeof(okm);
	size_t ilen = sizeof(GOSSIP_HKDF_INFO) - 1;

	if (secret == NULL || len == 0)
		return CAIRN_ERR_INVAL;
	/* RFC 5869: PRK = HMAC(salt, IKM); T(1) = HMAC(PRK, info | 0x01). */
	if (HMAC(EVP_sha256(), GOSSIP_HKDF_SALT, sizeof(GOSSIP_HKDF_SALT) - 1,
	    secret, len, prk, &plen) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(info, GOSSIP_HKDF_INFO, ilen);
	info[ilen] = 0x01;
	if (HMAC(EVP_sha256(), prk, plen, info, ilen + 1, okm, &olen) == NULL)
		return CAIRN_ERR_NOMEM;
	if (SHA256(okm, sizeof(okm), id) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(k->key, okm, GOSSIP_KEY_LEN);
	k->id = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 |
	    (uint32_t)id[2] << 8 | id[3];
	return 0;
}

int
gossip_lc_key_derive(const void *secret, size_t len,
    uint8_t key[GOSSIP_KEY_LEN])
{
	if (secret == NULL || len == 0)
		return CAIRN_ERR_INVAL;
	if (SHA256(secret, len, key) == NULL)
		return CAIRN_ERR_NOMEM;
	return 0;
}

/*
 * AES-256-GCM over in[0..len) into out, with ad as associated data.
 * Seal writes the tag; open checks it and returns CAIRN_ERR_AUTH on a
 * mismatch.
 */
static int
gossip_gcm(int seal, const uint8_t *key, const uint8_t *nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	int n, rc = CAIRN_ERR_NOMEM;

	if (len > INT32_MAX || adlen > INT32_MAX)
		return CAIRN_ERR_TOO_BIG;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return CAIRN_ERR_NOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    seal) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GOSSIP_NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, seal) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
		goto done;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto done;
	if (!seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    GOSSIP_TAG_LEN, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		rc = seal ? CAIRN_ERR_NOMEM : CAIRN_ERR_AUTH;
		goto done;
	}
	if (seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    GOSSIP_TAG_LEN, tag) != 1)
		goto done;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/*
 * Cairn's heartbeat
 */

static int
gossip_put_body(struct bytes_w *w, const struct gossip_heartbeat *hb)
{
	size_t i;

	if (!gossip_text_ok(hb->sender, GOSSIP_MAX_SENDER) ||
	    hb->nnodes > GOSSIP_MAX_NODES)
		return CAIRN_ERR_INVAL;
	for (i = 0; i < hb->nnodes; i++)
		if (!gossip_name_ok(hb->nodes[i]))
			return CAIRN_ERR_INVAL;
	bytes_put_u64be(w, hb->ts_ms);
	bytes_put_u8(w, (uint8_t)hb->sender.len);
	bytes_put_view(w, hb->sender);
	bytes_put_u16be(w, (uint16_t)hb->nnodes);
	for (i = 0; i < hb->nnodes; i++) {
		bytes_put_u8(w, (uint8_t)hb->nodes[i].len);
		bytes_put_view(w, hb->nodes[i]);
	}
	return w->err;
}

int
gossip_encode_heartbeat(struct bytes_w *w, const struct gossip_heartbeat *hb,
    const struct gossip_key *key)
{
	size_t start = w->len, body;
	int rc;

	if (!gossip_text_ok(hb->label, GOSSIP_MAX_LABEL))
		return CAIRN_ERR_INVAL;
	bytes_put_u8(w, GOSSIP_VERSION);
	bytes_put_u8(w, key != NULL ? GOSSIP_KIND_GCM : GOSSIP_KIND_PLAIN);
	bytes_put_u32be(w, key != NULL ? key->id : 0);
	bytes_put_u8(w, (uint8_t)hb->label.len);
	bytes_put_view(w, hb->label);
	bytes_put(w, hb->nonce, GOSSIP_NONCE_LEN);
	body = w->len;
	if ((rc = gossip_put_body(w, hb)) != 0 || key == NULL)
		return rc;
	/* Seal in place: the header is the associated data. */
	if ((rc = bytes_w_reserve(w, GOSSIP_TAG_LEN)) != 0)
		return rc;
	if ((rc = gossip_gcm(1, key->key, hb->nonce, w->buf + start,
	    body - start, w->buf + body, w->len - body, w->buf + body,
	    w->buf + w->len)) != 0)
		return rc;
	w->len += GOSSIP_TAG_LEN;
	return 0;
}

/* The body in r, into out; on error out may be partly set. */
static int
gossip_get_body(struct bytes_r *r, struct gossip_heartbeat *out,
    enum gossip_drop *why)
{
	struct bytes_view v;
	uint16_t n;
	uint8_t len;
	size_t i;
	int rc;

	*why = GOSSIP_DROP_TRUNCATED;
	if ((rc = bytes_get_u64be(r, &out->ts_ms)) != 0 ||
	    (rc = bytes_get_u8(r, &len)) != 0 ||
	    (rc = bytes_get_view(r, len, &out->sender)) != 0 ||
	    (rc = bytes_get_u16be(r, &n)) != 0)
		return rc;
	*why = GOSSIP_DROP_MALFORMED;
	if (!gossip_text_ok(out->sender, GOSSIP_MAX_SENDER) ||
	    n > GOSSIP_MAX_NODES)
		return CAIRN_ERR_PROTO;
	for (i = 0; i < n; i++) {
		*why = GOSSIP_DROP_TRUNCATED;
		if ((rc = bytes_get_u8(r, &len)) != 0 ||
		    (rc = bytes_get_view(r, len, &v)) != 0)
			return rc;
		*why = GOSSIP_DROP_MALFORMED;
		if (!gossip_name_ok(v))
			return CAIRN_ERR_PROTO;
		out->nodes[i] = v;
	}
	out->nnodes = n;
	if (bytes_r_left(r) != 0)
		return CAIRN_ERR_PROTO;
	*why = GOSSIP_OK;
	return 0;
}

static const struct gossip_key *
gossip_ring_find(const struct gossip_keyring *ring, uint32_t id)
{
	size_t i;

	for (i = 0; ring != NULL && i < ring->n; i++)
		if (ring->keys[i].id == id)
			return &ring->keys[i];
	return NULL;
}

int
gossip_decode_heartbeat(struct bytes_view pkt, struct bytes_view label,
    const struct gossip_keyring *ring, uint8_t *plain, size_t plainlen,
    struct gossip_heartbeat *out, enum gossip_drop *why)
{
	struct gossip_heartbeat *hb = NULL;
	const struct gossip_key *key;
	struct bytes_view lab, nonce, body;
	struct bytes_r r;
	uint8_t version, kind, llen, tag[GOSSIP_TAG_LEN];
	uint32_t id;
	size_t hdr;
	int rc;

	*why = GOSSIP_DROP_MALFORMED;
	if (pkt.len > GOSSIP_MAX_PACKET)
		return CAIRN_ERR_TOO_BIG;
	bytes_r_init(&r, pkt.p, pkt.len);
	*why = GOSSIP_DROP_TRUNCATED;
	if ((rc = bytes_get_u8(&r, &version)) != 0)
		return rc;
	if (version != GOSSIP_VERSION) {
		*why = pkt.len >= GOSSIP_LC_PREFIX_LEN &&
		    memcmp(pkt.p, GOSSIP_LC_PREFIX, GOSSIP_LC_PREFIX_LEN) == 0 ?
		    GOSSIP_DROP_LIBCLUSTER : GOSSIP_DROP_VERSION;
		return CAIRN_ERR_PROTO;
	}
	if ((rc = bytes_get_u8(&r, &kind)) != 0 ||
	    (rc = bytes_get_u32be(&r, &id)) != 0 ||
	    (rc = bytes_get_u8(&r, &llen)) != 0 ||
	    (rc = bytes_get_view(&r, llen, &lab)) != 0 ||
	    (rc = bytes_get_view(&r, GOSSIP_NONCE_LEN, &nonce)) != 0)
		return rc;
	hdr = r.off;
	*why = GOSSIP_DROP_MALFORMED;
	if (kind != GOSSIP_KIND_PLAIN && kind != GOSSIP_KIND_GCM)
		return CAIRN_ERR_PROTO;
	if ((kind == GOSSIP_KIND_PLAIN) != (id == 0))
		return CAIRN_ERR_PROTO;
	if (!gossip_text_ok(lab, GOSSIP_MAX_LABEL))
		return CAIRN_ERR_PROTO;
	*why = GOSSIP_DROP_CLUSTER;
	if (lab.len != label.len || memcmp(lab.p, label.p, lab.len) != 0)
		return CAIRN_ERR_AUTH;
	if (kind == GOSSIP_KIND_PLAIN && ring != NULL && ring->n > 0) {
		*why = GOSSIP_DROP_PLAIN;
		return CAIRN_ERR_AUTH;
	}
	if (kind == GOSSIP_KIND_GCM && (ring == NULL || ring->n == 0)) {
		*why = GOSSIP_DROP_SEALED;
		return CAIRN_ERR_AUTH;
	}
	/* Decode into a scratch copy so that *out stays as it was on error. */
	if ((hb = malloc(sizeof(*hb))) == NULL) {
		*why = GOSSIP_DROP_MALFORMED;
		return CAIRN_ERR_NOMEM;
	}
	memset(hb, 0, sizeof(*hb));
	hb->label = lab;
	memcpy(hb->nonce, nonce.p, GOSSIP_NONCE_LEN);
	hb->key_id = id;
	hb->sealed = kind == GOSSIP_KIND_GCM;
	if (kind == GOSSIP_KIND_GCM) {
		*why = GOSSIP_DROP_TRUNCATED;
		if (bytes_r_left(&r) < GOSSIP_TAG_LEN) {
			rc = CAIRN_ERR_NEED_MORE;
			goto fail;
		}
		*why = GOSSIP_DROP_KEY;
		if ((key = gossip_ring_find(ring, id)) == NULL) {
			rc = CAIRN_ERR_AUTH;
			goto fail;
		}
		body = bytes_view_of(pkt.p + hdr,
		    pkt.len - hdr - GOSSIP_TAG_LEN);
		*why = GOSSIP_DROP_MALFORMED;
		if (plain == NULL || plainlen < body.len) {
			rc = CAIRN_ERR_INVAL;
			goto fail;
		}
		*why = GOSSIP_DROP_TAG;
		memcpy(tag, body.p + body.len, GOSSIP_TAG_LEN);
		if ((rc = gossip_gcm(0, key->key, nonce.p, pkt.p, hdr, body.p,
		    body.len, plain, tag)) != 0)
			goto fail;
		bytes_r_init(&r, plain, body.len);
	}
	if ((rc = gossip_get_body(&r, hb, why)) != 0)
		goto fail;
	memcpy(out, hb, sizeof(*hb));
	free(hb);
	return 0;
fail:
	free(hb);
	return rc;
}

/*
 * libcluster's heartbeat
 */

static void
gossip_put_atom(struct bytes_w *w, struct bytes_view a)
{
	size_t i;
	int ascii = 1;

	for (i = 0; i < a.len; i++)
		if (a.p[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		bytes_put_u8(w, ETF_ATOM);
		bytes_put_u16be(w, (uint16_t)a.len);
	} else {
		bytes_put_u8(w, ETF_SMALL_ATOM_UTF8);
		bytes_put_u8(w, (uint8_t)a.len);
	}
	bytes_put_view(w, a);
}

int
gossip_encode_lc_term(struct bytes_w *w, struct bytes_view node)
{
	/* A UTF-8 atom of up to 255 characters may be up to 1020 bytes;
	 * node names are capped at 255 bytes, which fits SMALL_ATOM_UTF8. */
	if (!gossip_name_ok(node))
		return CAIRN_ERR_INVAL;
	bytes_put_u8(w, ETF_VERSION);
	bytes_put_u8(w, ETF_MAP);
	bytes_put_u32be(w, 1);
	gossip_put_atom(w, bytes_view_of("node", 4));
	gossip_put_atom(w, node);
	return w->err;
}

/* One atom: its bytes, ASCII or UTF-8. */
static int
gossip_get_atom(struct bytes_r *r, struct bytes_view *a)
{
	uint8_t tag, len8;
	uint16_t len16;
	size_t i, len;
	int rc;

	if ((rc = bytes_get_u8(r, &tag)) != 0)
		return rc;
	switch (tag) {
	case ETF_ATOM:
	case ETF_ATOM_UTF8:
		if ((rc = bytes_get_u16be(r, &len16)) != 0)
			return rc;
		len = len16;
		break;
	case ETF_SMALL_ATOM:
	case ETF_SMALL_ATOM_UTF8:
		if ((rc = bytes_get_u8(r, &len8)) != 0)
			return rc;
		len = len8;
		break;
	default:
		return CAIRN_ERR_PROTO;
	}
	if ((rc = bytes_get_view(r, len, a)) != 0)
		return rc;
	if (tag == ETF_ATOM || tag == ETF_SMALL_ATOM) {
		/* Latin-1: only its ASCII subset is the same in UTF-8. */
		if (len > ETF_MAX_ATOM_CHARS)
			return CAIRN_ERR_PROTO;
		for (i = 0; i < len; i++)
			if (a->p[i] >= 0x80)
				return CAIRN_ERR_PROTO;
	} else if (utf8_count(a->p, len) < 0 ||
	    utf8_count(a->p, len) > ETF_MAX_ATOM_CHARS)
		return CAIRN_ERR_PROTO;
	return 0;
}

int
gossip_decode_lc_term(struct bytes_view term, struct bytes_view *node)
{
	struct bytes_view key, val;
	struct bytes_r r;
	uint8_t version, tag;
	uint32_t arity;
	int rc;

	bytes_r_init(&r, term.p, term.len);
	if ((rc = bytes_get_u8(&r, &version)) != 0)
		return rc;
	if (version != ETF_VERSION)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u8(&r, &tag)) != 0)
		return rc;
	if (tag != ETF_MAP)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u32be(&r, &arity)) != 0)
		return rc;
	if (arity != 1)
		return CAIRN_ERR_PROTO;
	if ((rc = gossip_get_atom(&r, &key)) != 0)
		return rc;
	if (!bytes_view_eq_str(key, "node"))
		return CAIRN_ERR_PROTO;
	if ((rc = gossip_get_atom(&r, &val)) != 0)
		return rc;
	if (bytes_r_left(&r) != 0 || !gossip_name_ok(val))
		return CAIRN_ERR_PROTO;
	*node = val;
	return 0;
}

/* AES-256-CBC with PKCS#7 padding, in[0..len) into out. */
static int
gossip_cbc(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
    size_t len, uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx;
	int n1 = 0, n2 = 0, rc = CAIRN_ERR_NOMEM;

	if (len > INT32_MAX)
		return CAIRN_ERR_TOO_BIG;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return CAIRN_ERR_NOMEM;
	/* OpenSSL's padding check is PKCS#7's: 1..16 bytes, all equal. */
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv,
	    enc) != 1)
		goto done;
	if (EVP_CipherUpdate(ctx, out, &n1, in, (int)len) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1) {
		rc = enc ? CAIRN_ERR_NOMEM : CAIRN_ERR_AUTH;
		goto done;
	}
	*outlen = (size_t)n1 + (size_t)n2;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
gossip_encode_lc_heartbeat(struct bytes_w *w, struct bytes_view node,
    const uint8_t *key, const uint8_t iv[GOSSIP_LC_IV_LEN])
{
	uint8_t msg[GOSSIP_LC_PREFIX_LEN + 16 + GOSSIP_MAX_NAME];
	struct bytes_w m;
	size_t start = w->len, clen;
	int rc;

	if (key == NULL) {
		bytes_put(w, GOSSIP_LC_PREFIX, GOSSIP_LC_PREFIX_LEN);
		return gossip_encode_lc_term(w, node);
	}
	bytes_w_init_fixed(&m, msg, sizeof(msg));
	bytes_put(&m, GOSSIP_LC_PREFIX, GOSSIP_LC_PREFIX_LEN);
	if ((rc = gossip_encode_lc_term(&m, node)) != 0)
		return rc;
	bytes_put(w, iv, GOSSIP_LC_IV_LEN);
	/* Padding adds 1 to 16 bytes. */
	if ((rc = bytes_w_reserve(w, m.len + 16)) != 0)
		return rc;
	if ((rc = gossip_cbc(1, key, iv, m.buf, m.len, w->buf + w->len,
	    &clen)) != 0) {
		w->len = start;
		return rc;
	}
	w->len += clen;
	return 0;
}

/* "heartbeat::" and a term, into *node. */
static int
gossip_lc_payload(struct bytes_view msg, struct bytes_view *node,
    enum gossip_drop *why)
{
	int rc;

	if (msg.len < GOSSIP_LC_PREFIX_LEN ||
	    memcmp(msg.p, GOSSIP_LC_PREFIX, GOSSIP_LC_PREFIX_LEN) != 0) {
		*why = msg.len < GOSSIP_LC_PREFIX_LEN &&
		    memcmp(msg.p, GOSSIP_LC_PREFIX, msg.len) == 0 ?
		    GOSSIP_DROP_TRUNCATED : GOSSIP_DROP_LIBCLUSTER;
		return *why == GOSSIP_DROP_TRUNCATED ? CAIRN_ERR_NEED_MORE :
		    CAIRN_ERR_PROTO;
	}
	msg.p += GOSSIP_LC_PREFIX_LEN;
	msg.len -= GOSSIP_LC_PREFIX_LEN;
	if ((rc = gossip_decode_lc_term(msg, node)) != 0) {
		*why = GOSSIP_DROP_TERM;
		return rc;
	}
	*why = GOSSIP_OK;
	return 0;
}

int
gossip_decode_lc_heartbeat(struct bytes_view pkt,
    const uint8_t (*keys)[GOSSIP_KEY_LEN], size_t nkeys, uint8_t *plain,
    size_t plainlen, struct bytes_view *node, enum gossip_drop *why)
{
	struct bytes_view ct, n;
	size_t i, len;
	int rc;

	if (pkt.len > GOSSIP_MAX_PACKET) {
		*why = GOSSIP_DROP_MALFORMED;
		return CAIRN_ERR_TOO_BIG;
	}
	if (nkeys == 0) {
		if ((rc = gossip_lc_payload(pkt, &n, why)) == 0)
			*node = n;
		return rc;
	}
	*why = GOSSIP_DROP_TRUNCATED;
	if (pkt.len < GOSSIP_LC_IV_LEN + 16)
		return CAIRN_ERR_NEED_MORE;
	ct = bytes_view_of(pkt.p + GOSSIP_LC_IV_LEN,
	    pkt.len - GOSSIP_LC_IV_LEN);
	*why = GOSSIP_DROP_MALFORMED;
	if (ct.len % 16 != 0)
		return CAIRN_ERR_PROTO;
	if (plain == NULL || plainlen < ct.len)
		return CAIRN_ERR_INVAL;
	*why = GOSSIP_DROP_TAG;
	rc = CAIRN_ERR_AUTH;
	for (i = 0; i < nkeys; i++) {
		if (gossip_cbc(0, keys[i], pkt.p, ct.p, ct.len, plain,
		    &len) != 0)
			continue;
		/* A wrong key that still unpads fails on the prefix. */
		if ((rc = gossip_lc_payload(bytes_view_of(plain, len), &n,
		    why)) == 0) {
			*node = n;
			return 0;
		}
		if (*why == GOSSIP_DROP_LIBCLUSTER ||
		    *why == GOSSIP_DROP_TRUNCATED) {
			*why = GOSSIP_DROP_TAG;
			rc = CAIRN_ERR_AUTH;
		}
	}
	return rc;
}

/*
 * Replay cache
 */

struct gossip_replay_slot {
	uint64_t	hash;		/* of sender and nonce */
	uint64_t	expires_ms;	/* timestamp + window */
	uint8_t		nonce[GOSSIP_NONCE_LEN];
	uint8_t		used;		/* 0: never held an entry */
};

struct gossip_replay {
	struct gossip_replay_slot	*slots;
	size_t				 mask;
	size_t				 count;
};

struct gossip_replay *
gossip_replay_new(size_t want)
{
	struct gossip_replay *c;
	size_t n = 64;

	while (n < want && n < ((size_t)1 << 24))
		n <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->slots = calloc(n, sizeof(*c->slots))) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

void
gossip_replay_free(struct gossip_replay *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c);
}

size_t
gossip_replay_count(const struct gossip_replay *c)
{
	return c->count;
}

/* FNV-1a, 64 bits, over the sender id, a separator and the nonce. */
static uint64_t
gossip_replay_hash(const struct gossip_heartbeat *hb)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < hb->sender.len; i++)
		h = (h ^ hb->sender.p[i]) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (i = 0; i < GOSSIP_NONCE_LEN; i++)
		h = (h ^ hb->nonce[i]) * 1099511628211ull;
	return h;
}

enum gossip_drop
gossip_replay_check(struct gossip_replay *c, const struct gossip_heartbeat *hb,
    uint64_t now_ms, uint64_t window_ms)
{
	struct gossip_replay_slot *s, *free_slot = NULL;
	uint64_t h;
	size_t i;

	if (hb->ts_ms > now_ms ? hb->ts_ms - now_ms > window_ms :
	    now_ms - hb->ts_ms > window_ms)
		return GOSSIP_DROP_STALE;
	h = gossip_replay_hash(hb);
	/*
	 * An entry sits at the first free slot of its probe run when it is
	 * added, and a slot never goes back to unused, so the run can stop
	 * at an unused slot.  Expired slots are reused.
	 */
	for (i = 0; i < GOSSIP_REPLAY_PROBE; i++) {
		s = &c->slots[(h + i) & c->mask];
		if (!s->used) {
			if (free_slot == NULL)
				free_slot = s;
			break;
		}
		if (s->expires_ms < now_ms) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (s->hash == h &&
		    memcmp(s->nonce, hb->nonce, GOSSIP_NONCE_LEN) == 0)
			return GOSSIP_DROP_REPLAY;
	}
	if (free_slot == NULL)
		return GOSSIP_DROP_CACHE_FULL;
	if (!free_slot->used)
		c->count++;
	free_slot->used = 1;
	free_slot->hash = h;
	/* Saturate: a timestamp near the top of the range must not wrap
	 * into an entry that is already expired. */
	free_slot->expires_ms = hb->ts_ms > UINT64_MAX - window_ms ?
	    UINT64_MAX : hb->ts_ms + window_ms;
	memcpy(free_slot->nonce, hb->nonce, GOSSIP_NONCE_LEN);
	return GOSSIP_OK;
}
