/*
 * Unit tests for strategies/gossip_codec: Cairn's heartbeat (plain and
 * AES-256-GCM), every tamper and truncation, keys and rotation, the
 * replay cache, and libcluster's format against bytes made by a real
 * `erl` (OTP 25).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "strategies/gossip_codec.h"

#define LABEL	bytes_view_of("cairn", 5)
#define NOW	1700000000000ull
#define WINDOW	30000ull

static struct bytes_view
sv(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static void
hb_fill(struct gossip_heartbeat *hb, const char *sender, uint64_t ts,
    uint8_t nonce_seed)
{
	/* The third is "n\u0151de@h" in UTF-8 (octal: \x91 would eat "de"). */
	static const char *const nodes[] = { "a@h1", "b@h1",
	    "n\305\221de@h" };
	size_t i;

	memset(hb, 0, sizeof(*hb));
	hb->label = LABEL;
	for (i = 0; i < GOSSIP_NONCE_LEN; i++)
		hb->nonce[i] = (uint8_t)(nonce_seed + i);
	hb->ts_ms = ts;
	hb->sender = sv(sender);
	hb->nnodes = 3;
	for (i = 0; i < 3; i++)
		hb->nodes[i] = sv(nodes[i]);
}

static struct gossip_keyring
ring_of(const char *const *secrets, size_t n)
{
	struct gossip_keyring r;
	size_t i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < n; i++)
		ck_assert_int_eq(gossip_key_derive(secrets[i],
		    strlen(secrets[i]), &r.keys[i]), 0);
	r.n = n;
	return r;
}

/* Encodes hb into w (reset first), sealed with key or plain. */
static void
encode(struct bytes_w *w, const struct gossip_heartbeat *hb,
    const struct gossip_key *key)
{
	bytes_w_reset(w);
	ck_assert_int_eq(gossip_encode_heartbeat(w, hb, key), 0);
}

static int
decode(const struct bytes_w *w, const struct gossip_keyring *ring,
    struct gossip_heartbeat *out, enum gossip_drop *why)
{
	static uint8_t plain[GOSSIP_MAX_PACKET];

	return gossip_decode_heartbeat(bytes_view_of(w->buf, w->len), LABEL,
	    ring, plain, sizeof(plain), out, why);
}

static void
hb_eq(const struct gossip_heartbeat *a, const struct gossip_heartbeat *b)
{
	size_t i;

	ck_assert_uint_eq(a->ts_ms, b->ts_ms);
	ck_assert_uint_eq(a->sender.len, b->sender.len);
	ck_assert_mem_eq(a->sender.p, b->sender.p, a->sender.len);
	ck_assert_mem_eq(a->nonce, b->nonce, GOSSIP_NONCE_LEN);
	ck_assert_uint_eq(a->nnodes, b->nnodes);
	for (i = 0; i < a->nnodes; i++) {
		ck_assert_uint_eq(a->nodes[i].len, b->nodes[i].len);
		ck_assert_mem_eq(a->nodes[i].p, b->nodes[i].p,
		    a->nodes[i].len);
	}
}

/*
 * Cairn's format
 */

START_TEST(gossip_codec__key_derivation_known_answer)
{
	/* HKDF-SHA-256(salt "cairn-gossip", IKM "s3cret",
	 * info "aes-256-gcm v1"), computed with Python's hmac module. */
	static const uint8_t want[32] = {
		0x68, 0x19, 0x0d, 0x3f, 0x8f, 0xf2, 0xe8, 0x33,
		0xd9, 0xc5, 0x84, 0x3d, 0x4d, 0x00, 0x20, 0x73,
		0x5c, 0xee, 0x2d, 0xcd, 0x8a, 0x57, 0xf7, 0x3d,
		0x31, 0x25, 0xa6, 0x33, 0x6c, 0x11, 0x50, 0xad,
	};
	/* SHA-256("s3cret"): libcluster's key for the same secret. */
	static const uint8_t lc[32] = {
		0x1e, 0xc1, 0xc2, 0x6b, 0x50, 0xd5, 0xd3, 0xc5,
		0x8d, 0x95, 0x83, 0x18, 0x1a, 0xf8, 0x07, 0x66,
		0x55, 0xfe, 0x00, 0x75, 0x6b, 0xf7, 0x28, 0x59,
		0x40, 0xba, 0x36, 0x70, 0xf9, 0x9f, 0xcb, 0xa0,
	};
	struct gossip_key k;
	uint8_t key[32];

	ck_assert_int_eq(gossip_key_derive("s3cret", 6, &k), 0);
	ck_assert_mem_eq(k.key, want, 32);
	ck_assert_uint_eq(k.id, 0xd56e5965u);
	ck_assert_int_eq(gossip_lc_key_derive("s3cret", 6, key), 0);
	ck_assert_mem_eq(key, lc, 32);
	ck_assert_int_eq(gossip_key_derive("", 0, &k), CAIRN_ERR_INVAL);
}
END_TEST

START_TEST(gossip_codec__round_trip_plain_and_sealed)
{
	static const char *const sec[] = { "s3cret" };
	struct gossip_keyring ring = ring_of(sec, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	struct bytes_w w;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "host1-0000abcd", NOW, 7);
	encode(&w, &hb, NULL);
	/* version, kind, key id, label, nonce, ts, sender, N, 3 names */
	ck_assert_uint_eq(w.len, 1 + 1 + 4 + 1 + 5 + 12 + 8 + 1 + 14 + 2 +
	    5 + 5 + 8);
	ck_assert_uint_eq(w.buf[0], GOSSIP_VERSION);
	ck_assert_uint_eq(w.buf[1], GOSSIP_KIND_PLAIN);
	ck_assert_int_eq(decode(&w, NULL, &out, &why), 0);
	ck_assert_int_eq(why, GOSSIP_OK);
	ck_assert_int_eq(out.sealed, 0);
	hb_eq(&hb, &out);

	encode(&w, &hb, &ring.keys[0]);
	ck_assert_uint_eq(w.len, 1 + 1 + 4 + 1 + 5 + 12 + 8 + 1 + 14 + 2 +
	    5 + 5 + 8 + GOSSIP_TAG_LEN);
	ck_assert_uint_eq(w.buf[1], GOSSIP_KIND_GCM);
	/* The body is not in clear. */
	ck_assert_ptr_null(memmem(w.buf, w.len, "a@h1", 4));
	ck_assert_int_eq(decode(&w, &ring, &out, &why), 0);
	ck_assert_int_eq(out.sealed, 1);
	ck_assert_uint_eq(out.key_id, ring.keys[0].id);
	hb_eq(&hb, &out);

	/* No nodes at all is a valid heartbeat ("alive, nothing here"). */
	hb.nnodes = 0;
	encode(&w, &hb, &ring.keys[0]);
	ck_assert_int_eq(decode(&w, &ring, &out, &why), 0);
	ck_assert_uint_eq(out.nnodes, 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__max_nodes_and_names)
{
	static const char *const sec[] = { "k" };
	struct gossip_keyring ring = ring_of(sec, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	char name[256];
	struct bytes_w w;
	size_t i;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "s", NOW, 1);
	memset(name, 'x', 255);
	name[100] = '@';
	/* The longest name, then enough 200-byte ones to fill the list
	 * (256 of 255 bytes would pass the UDP maximum). */
	hb.nnodes = GOSSIP_MAX_NODES;
	for (i = 0; i < GOSSIP_MAX_NODES; i++)
		hb.nodes[i] = bytes_view_of(name, i == 0 ? 255 : 200);
	encode(&w, &hb, &ring.keys[0]);
	ck_assert_int_eq(decode(&w, &ring, &out, &why), 0);
	ck_assert_uint_eq(out.nnodes, GOSSIP_MAX_NODES);
	ck_assert_uint_eq(out.nodes[0].len, 255);
	hb.nnodes = GOSSIP_MAX_NODES + 1;
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__encode_refuses_bad_fields)
{
	static const char *const bad_names[] = {
		"", "nohost", "@h", "n@", "a\0@h", "a\n@h", "\xc3@h",
	};
	static const size_t bad_lens[] = { 0, 6, 2, 2, 4, 4, 3 };
	struct gossip_heartbeat hb;
	struct bytes_w w;
	char big[300];
	size_t i;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	for (i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		hb_fill(&hb, "s", NOW, 1);
		hb.nodes[1] = bytes_view_of(bad_names[i], bad_lens[i]);
		bytes_w_reset(&w);
		ck_assert_msg(gossip_encode_heartbeat(&w, &hb, NULL) ==
		    CAIRN_ERR_INVAL, "name %zu accepted", i);
	}
	memset(big, 'a', sizeof(big));
	big[1] = '@';
	hb_fill(&hb, "s", NOW, 1);
	hb.nodes[0] = bytes_view_of(big, 256);
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	hb_fill(&hb, "", NOW, 1);
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	hb_fill(&hb, "s", NOW, 1);
	hb.sender = bytes_view_of(big, GOSSIP_MAX_SENDER + 1);
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	hb_fill(&hb, "s", NOW, 1);
	hb.label = bytes_view_of(big, GOSSIP_MAX_LABEL + 1);
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	hb.label = bytes_view_of("", 0);
	ck_assert_int_eq(gossip_encode_heartbeat(&w, &hb, NULL),
	    CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__every_flipped_bit_is_rejected)
{
	static const char *const sec[] = { "s3cret" };
	struct gossip_keyring ring = ring_of(sec, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	struct bytes_w w;
	size_t bit;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "host1-1", NOW, 3);
	encode(&w, &hb, &ring.keys[0]);
	memset(&out, 0xa5, sizeof(out));
	for (bit = 0; bit < w.len * 8; bit++) {
		w.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(decode(&w, &ring, &out, &why) != 0,
		    "bit %zu flipped and accepted", bit);
		ck_assert_msg(why != GOSSIP_OK, "bit %zu: no reason", bit);
		w.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A failed decode leaves the output alone. */
	ck_assert_uint_eq(out.ts_ms, 0xa5a5a5a5a5a5a5a5ull);
	ck_assert_int_eq(decode(&w, &ring, &out, &why), 0);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__every_truncation_is_rejected)
{
	static const char *const sec[] = { "s3cret" };
	struct gossip_keyring ring = ring_of(sec, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	struct bytes_w w;
	size_t len, full;
	int sealed;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	for (sealed = 0; sealed < 2; sealed++) {
		hb_fill(&hb, "host1-2", NOW, 5);
		encode(&w, &hb, sealed ? &ring.keys[0] : NULL);
		full = w.len;
		for (len = 0; len < full; len++) {
			w.len = len;
			ck_assert_msg(decode(&w, sealed ? &ring : NULL, &out,
			    &why) != 0, "%s packet cut at %zu accepted",
			    sealed ? "sealed" : "plain", len);
			/* A cut inside the plain header or body is "need
			 * more"; a sealed packet cut past its header fails
			 * the tag (or is shorter than one). */
			if (!sealed || len < 19 + 5 + GOSSIP_TAG_LEN)
				ck_assert_msg(why == GOSSIP_DROP_TRUNCATED,
				    "cut at %zu: %s", len,
				    gossip_drop_name(why));
			else
				ck_assert_msg(why == GOSSIP_DROP_TAG,
				    "cut at %zu: %s", len,
				    gossip_drop_name(why));
		}
		w.len = full;
		ck_assert_int_eq(decode(&w, sealed ? &ring : NULL, &out, &why),
		    0);
	}
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__header_checks_and_reasons)
{
	static const char *const sec[] = { "s3cret" };
	struct gossip_keyring ring = ring_of(sec, 1), empty = { .n = 0 };
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	uint8_t plain[1024];
	struct bytes_w w;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "s", NOW, 1);
	/* Plain packet, receiver has a secret. */
	encode(&w, &hb, NULL);
	ck_assert_int_eq(decode(&w, &ring, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_PLAIN);
	/* Sealed packet, receiver has none. */
	encode(&w, &hb, &ring.keys[0]);
	ck_assert_int_eq(decode(&w, &empty, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_SEALED);
	/* Another cluster label. */
	ck_assert_int_eq(gossip_decode_heartbeat(bytes_view_of(w.buf, w.len),
	    sv("other"), &ring, plain, sizeof(plain), &out, &why),
	    CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_CLUSTER);
	/* Another version. */
	w.buf[0] = 2;
	ck_assert_int_eq(decode(&w, &ring, &out, &why), CAIRN_ERR_PROTO);
	ck_assert_int_eq(why, GOSSIP_DROP_VERSION);
	/* An unknown kind, and a plain packet with a key id. */
	encode(&w, &hb, NULL);
	w.buf[1] = 2;
	ck_assert_int_eq(decode(&w, NULL, &out, &why), CAIRN_ERR_PROTO);
	ck_assert_int_eq(why, GOSSIP_DROP_MALFORMED);
	w.buf[1] = 0;
	w.buf[5] = 1;
	ck_assert_int_eq(decode(&w, NULL, &out, &why), CAIRN_ERR_PROTO);
	/* Trailing bytes after the body. */
	encode(&w, &hb, NULL);
	bytes_put_u8(&w, 0);
	ck_assert_int_eq(decode(&w, NULL, &out, &why), CAIRN_ERR_PROTO);
	ck_assert_int_eq(why, GOSSIP_DROP_MALFORMED);
	/* libcluster's prefix is named as such. */
	bytes_w_reset(&w);
	bytes_put_str(&w, "heartbeat::\x83");
	ck_assert_int_eq(decode(&w, NULL, &out, &why), CAIRN_ERR_PROTO);
	ck_assert_int_eq(why, GOSSIP_DROP_LIBCLUSTER);
	/* The plaintext buffer must hold the body. */
	encode(&w, &hb, &ring.keys[0]);
	ck_assert_int_eq(gossip_decode_heartbeat(bytes_view_of(w.buf, w.len),
	    LABEL, &ring, plain, 10, &out, &why), CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__wrong_key)
{
	static const char *const a[] = { "right" }, *const b[] = { "wrong" };
	struct gossip_keyring ra = ring_of(a, 1), rb = ring_of(b, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	struct bytes_w w;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "s", NOW, 1);
	encode(&w, &hb, &ra.keys[0]);
	ck_assert_int_eq(decode(&w, &rb, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_KEY);
	/* A key that claims the right id still fails the tag. */
	rb.keys[0].id = ra.keys[0].id;
	ck_assert_int_eq(decode(&w, &rb, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_TAG);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__key_rotation)
{
	static const char *const old1[] = { "old" };
	static const char *const both[] = { "new", "old" };
	static const char *const new1[] = { "new" };
	struct gossip_keyring r_old = ring_of(old1, 1);
	struct gossip_keyring r_both = ring_of(both, 2);
	struct gossip_keyring r_new = ring_of(new1, 1);
	struct gossip_heartbeat hb, out;
	enum gossip_drop why;
	struct bytes_w w;

	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	hb_fill(&hb, "s", NOW, 1);
	/* Step 1, agents move to [new, old] one by one.  One not yet
	 * moved still sends with old: the moved ones accept it. */
	encode(&w, &hb, &r_old.keys[0]);
	ck_assert_int_eq(decode(&w, &r_both, &out, &why), 0);
	/* A rotated agent sends with new: accepted by rotated agents. */
	encode(&w, &hb, &r_both.keys[0]);
	ck_assert_int_eq(decode(&w, &r_both, &out, &why), 0);
	ck_assert_uint_eq(out.key_id, r_new.keys[0].id);
	ck_assert_int_eq(decode(&w, &r_new, &out, &why), 0);
	/* ... and refused by one that only knows old. */
	ck_assert_int_eq(decode(&w, &r_old, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_KEY);
	/* Step 2: old retired: its packets are refused. */
	encode(&w, &hb, &r_old.keys[0]);
	ck_assert_int_eq(decode(&w, &r_new, &out, &why), CAIRN_ERR_AUTH);
	ck_assert_int_eq(why, GOSSIP_DROP_KEY);
	ck_assert_uint_ne(r_old.keys[0].id, r_new.keys[0].id);
	bytes_w_fini(&w);
}
END_TEST

/*
 * Replay cache
 */

START_TEST(gossip_codec__replay_within_window_rejected)
{
	struct gossip_replay *c = gossip_replay_new(1024);
	struct gossip_heartbeat hb, other;

	ck_assert_ptr_nonnull(c);
	hb_fill(&hb, "host1-1", NOW, 9);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW, WINDOW), GOSSIP_OK);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW + 10, WINDOW),
	    GOSSIP_DROP_REPLAY);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW + WINDOW, WINDOW),
	    GOSSIP_DROP_REPLAY);
	/* Past the window the same packet is stale, never fresh again. */
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW + WINDOW + 1,
	    WINDOW), GOSSIP_DROP_STALE);
	/* Same nonce from another sender, another nonce: both fresh. */
	hb_fill(&other, "host2-1", NOW, 9);
	ck_assert_int_eq(gossip_replay_check(c, &other, NOW, WINDOW),
	    GOSSIP_OK);
	hb_fill(&other, "host1-1", NOW, 10);
	ck_assert_int_eq(gossip_replay_check(c, &other, NOW, WINDOW),
	    GOSSIP_OK);
	ck_assert_uint_eq(gossip_replay_count(c), 3);
	gossip_replay_free(c);
	gossip_replay_free(NULL);
}
END_TEST

START_TEST(gossip_codec__stale_and_future_timestamps_rejected)
{
	struct gossip_replay *c = gossip_replay_new(64);
	struct gossip_heartbeat hb;

	hb_fill(&hb, "s", NOW - WINDOW - 1, 1);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW, WINDOW),
	    GOSSIP_DROP_STALE);
	hb_fill(&hb, "s", NOW + WINDOW + 1, 2);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW, WINDOW),
	    GOSSIP_DROP_STALE);
	hb_fill(&hb, "s", NOW - WINDOW, 3);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW, WINDOW), GOSSIP_OK);
	/* A packet from the future is remembered until it is stale too. */
	hb_fill(&hb, "s", NOW + WINDOW, 4);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW, WINDOW), GOSSIP_OK);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW + 2 * WINDOW,
	    WINDOW), GOSSIP_DROP_REPLAY);
	ck_assert_uint_eq(gossip_replay_count(c), 2);
	gossip_replay_free(c);
}
END_TEST

START_TEST(gossip_codec__replay_cache_full_fails_closed_then_recycles)
{
	struct gossip_replay *c = gossip_replay_new(64);
	struct gossip_heartbeat hb;
	char sender[32];
	int i, full = 0;

	for (i = 0; i < 200 && !full; i++) {
		snprintf(sender, sizeof(sender), "s%d", i);
		hb_fill(&hb, sender, NOW, 0);
		switch (gossip_replay_check(c, &hb, NOW, WINDOW)) {
		case GOSSIP_OK:
			break;
		case GOSSIP_DROP_CACHE_FULL:
			full = 1;
			break;
		default:
			ck_abort_msg("entry %d: unexpected reason", i);
		}
	}
	ck_assert_msg(full, "a 64-slot cache took 200 live entries");
	ck_assert_uint_le(gossip_replay_count(c), 64);
	/* Once the window has passed, expired slots are reused. */
	hb_fill(&hb, "later", NOW + 2 * WINDOW, 0);
	ck_assert_int_eq(gossip_replay_check(c, &hb, NOW + 2 * WINDOW, WINDOW),
	    GOSSIP_OK);
	gossip_replay_free(c);
}
END_TEST

/*
 * libcluster's format, against bytes from a real erl (OTP 25).
 */

/* erl: term_to_binary(#{node => 'a@b'}).  OTP 25 writes ATOM_EXT. */
static const uint8_t erl_a_at_b[] = {
	0x83,				/* version 131 */
	0x74, 0x00, 0x00, 0x00, 0x01,	/* MAP_EXT, arity 1 */
	0x64, 0x00, 0x04, 'n', 'o', 'd', 'e',	/* ATOM_EXT node */
	0x64, 0x00, 0x03, 'a', '@', 'b',	/* ATOM_EXT 'a@b' */
};

/* erl: term_to_binary(#{node => 'cairn@host-1'}, [{minor_version, 2}]),
 * OTP 26's default: SMALL_ATOM_UTF8_EXT. */
static const uint8_t erl_small_utf8[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01,
	0x77, 0x04, 'n', 'o', 'd', 'e',
	0x77, 0x0c, 'c', 'a', 'i', 'r', 'n', '@', 'h', 'o', 's', 't', '-', '1',
};

/* erl: term_to_binary(#{node => list_to_atom("n\x{151}de@h")}): a
 * non-Latin-1 atom, so SMALL_ATOM_UTF8_EXT even in OTP 25. */
static const uint8_t erl_utf8_node[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01,
	0x64, 0x00, 0x04, 'n', 'o', 'd', 'e',
	0x77, 0x07, 'n', 0xc5, 0x91, 'd', 'e', '@', 'h',
};

/* Shapes refused, each from erl:
 *   term_to_binary(#{node => list_to_atom("n\x{e9}@h")})  Latin-1 0xe9
 *   term_to_binary(#{node => 'a@b', x => 1})              arity 2
 *   term_to_binary(#{name => 'a@b'})                      key not node
 *   term_to_binary(#{node => <<"a@b">>})                  a binary */
static const uint8_t erl_latin1[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x04, 'n', 'o', 'd',
	'e', 0x64, 0x00, 0x04, 'n', 0xe9, '@', 'h',
};
static const uint8_t erl_arity2[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x02, 0x64, 0x00, 0x04, 'n', 'o', 'd',
	'e', 0x64, 0x00, 0x03, 'a', '@', 'b', 0x64, 0x00, 0x01, 'x', 0x61,
	0x01,
};
static const uint8_t erl_name_key[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x04, 'n', 'a', 'm',
	'e', 0x64, 0x00, 0x03, 'a', '@', 'b',
};
static const uint8_t erl_binary[] = {
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x04, 'n', 'o', 'd',
	'e', 0x6d, 0x00, 0x00, 0x00, 0x03, 'a', '@', 'b',
};

/*
 * libcluster's encrypted heartbeat, made by erl with its exact scheme:
 *   Key = crypto:hash(sha256, <<"s3cret">>),
 *   IV = list_to_binary(lists:seq(1, 16)),
 *   M = <<"heartbeat::", (term_to_binary(#{node => 'lc1@host'}))/binary>>,
 *   P = 16 - byte_size(M) rem 16,
 *   C = crypto:crypto_one_time(aes_256_cbc, Key, IV,
 *       <<M/binary, (binary:copy(<<P>>, P))/binary>>, true),
 *   <<IV/binary, C/binary>>.
 */
static const uint8_t erl_cbc[] = {
	/* IV */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	/* AES-256-CBC, three blocks */
	0x8a, 0x58, 0xc9, 0xce, 0xcb, 0x24, 0xfa, 0x73,
	0x6e, 0x6d, 0x11, 0x3e, 0x58, 0x1d, 0xe0, 0x44,
	0xd7, 0x51, 0xed, 0xe9, 0x27, 0x41, 0x8f, 0xf7,
	0x8c, 0x1b, 0x25, 0xee, 0x4b, 0x63, 0x90, 0xc9,
	0x5c, 0xe8, 0xfa, 0x3f, 0x5a, 0x84, 0x0e, 0xb0,
	0x18, 0x74, 0x38, 0x1e, 0xea, 0x19, 0x80, 0x7d,
};

/* The same heartbeat in clear: M above. */
static const uint8_t erl_plain_hb[] = {
	'h', 'e', 'a', 'r', 't', 'b', 'e', 'a', 't', ':', ':',
	0x83, 0x74, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x04, 'n', 'o', 'd',
	'e', 0x64, 0x00, 0x08, 'l', 'c', '1', '@', 'h', 'o', 's', 't',
};

START_TEST(gossip_codec__lc_term_decode_erl_vectors)
{
	static const struct {
		const uint8_t *p;
		size_t len;
		const char *node;	/* NULL: refused */
	} cases[] = {
		{ erl_a_at_b, sizeof(erl_a_at_b), "a@b" },
		{ erl_small_utf8, sizeof(erl_small_utf8), "cairn@host-1" },
		{ erl_utf8_node, sizeof(erl_utf8_node), "n\305\221de@h" },
		{ erl_latin1, sizeof(erl_latin1), NULL },
		{ erl_arity2, sizeof(erl_arity2), NULL },
		{ erl_name_key, sizeof(erl_name_key), NULL },
		{ erl_binary, sizeof(erl_binary), NULL },
	};
	struct bytes_view node;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		node = bytes_view_of(NULL, 0);
		rc = gossip_decode_lc_term(bytes_view_of(cases[i].p,
		    cases[i].len), &node);
		if (cases[i].node == NULL) {
			ck_assert_msg(rc == CAIRN_ERR_PROTO,
			    "case %zu: rc %d", i, rc);
			ck_assert_ptr_null(node.p);
			continue;
		}
		ck_assert_msg(rc == 0, "case %zu: rc %d", i, rc);
		ck_assert_msg(bytes_view_eq_str(node, cases[i].node),
		    "case %zu: wrong node", i);
	}
}
END_TEST

START_TEST(gossip_codec__lc_term_encode_matches_erl)
{
	struct bytes_w w;

	bytes_w_init(&w, 4096);
	ck_assert_int_eq(gossip_encode_lc_term(&w, sv("a@b")), 0);
	ck_assert_uint_eq(w.len, sizeof(erl_a_at_b));
	ck_assert_mem_eq(w.buf, erl_a_at_b, w.len);
	bytes_w_reset(&w);
	ck_assert_int_eq(gossip_encode_lc_term(&w, sv("n\305\221de@h")), 0);
	ck_assert_uint_eq(w.len, sizeof(erl_utf8_node));
	ck_assert_mem_eq(w.buf, erl_utf8_node, w.len);
	bytes_w_reset(&w);
	ck_assert_int_eq(gossip_encode_lc_term(&w, sv("nohost")),
	    CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(gossip_codec__lc_term_every_truncation_and_tag)
{
	struct bytes_view node;
	uint8_t buf[sizeof(erl_a_at_b)];
	size_t len, i;
	int rc;

	for (len = 0; len < sizeof(erl_a_at_b); len++) {
		rc = gossip_decode_lc_term(bytes_view_of(erl_a_at_b, len),
		    &node);
		ck_assert_msg(rc == CAIRN_ERR_NEED_MORE,
		    "cut at %zu: rc %d", len, rc);
	}
	/* Any other value of a tag or length byte is refused. */
	for (i = 0; i < sizeof(buf); i++) {
		memcpy(buf, erl_a_at_b, sizeof(buf));
		buf[i] ^= 0x80;
		ck_assert_msg(gossip_decode_lc_term(bytes_view_of(buf,
		    sizeof(buf)), &node) != 0, "byte %zu changed, accepted",
		    i);
	}
	/* A trailing byte. */
	{
		uint8_t more[sizeof(erl_a_at_b) + 1];

		memcpy(more, erl_a_at_b, sizeof(erl_a_at_b));
		more[sizeof(erl_a_at_b)] = 0;
		ck_assert_int_eq(gossip_decode_lc_term(bytes_view_of(more,
		    sizeof(more)), &node), CAIRN_ERR_PROTO);
	}
}
END_TEST

START_TEST(gossip_codec__lc_heartbeat_plain)
{
	struct bytes_view node;
	enum gossip_drop why;
	struct bytes_w w;
	size_t len;

	ck_assert_int_eq(gossip_decode_lc_heartbeat(bytes_view_of(erl_plain_hb,
	    sizeof(erl_plain_hb)), NULL, 0, NULL, 0, &node, &why), 0);
	ck_assert(bytes_view_eq_str(node, "lc1@host"));
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(gossip_encode_lc_heartbeat(&w, sv("lc1@host"), NULL,
	    NULL), 0);
	ck_assert_uint_eq(w.len, sizeof(erl_plain_hb));
	ck_assert_mem_eq(w.buf, erl_plain_hb, w.len);
	bytes_w_fini(&w);
	for (len = 0; len < sizeof(erl_plain_hb); len++)
		ck_assert_msg(gossip_decode_lc_heartbeat(bytes_view_of(
		    erl_plain_hb, len), NULL, 0, NULL, 0, &node, &why) != 0,
		    "cut at %zu accepted", len);
	/* Cairn's own packets are not libcluster's. */
	ck_assert_int_ne(gossip_decode_lc_heartbeat(bytes_view_of("\x01\x00",
	    2), NULL, 0, NULL, 0, &node, &why), 0);
	ck_assert_int_eq(why, GOSSIP_DROP_LIBCLUSTER);
}
END_TEST

START_TEST(gossip_codec__lc_heartbeat_cbc_matches_erl)
{
	static const uint8_t iv[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16 };
	uint8_t keys[2][GOSSIP_KEY_LEN], plain[256], buf[sizeof(erl_cbc)];
	struct bytes_view node;
	enum gossip_drop why;
	struct bytes_w w;
	size_t len;

	ck_assert_int_eq(gossip_lc_key_derive("wrong", 5, keys[0]), 0);
	ck_assert_int_eq(gossip_lc_key_derive("s3cret", 6, keys[1]), 0);
	/* Decodes with the right key, also second in a ring. */
	ck_assert_int_eq(gossip_decode_lc_heartbeat(bytes_view_of(erl_cbc,
	    sizeof(erl_cbc)), (const uint8_t (*)[GOSSIP_KEY_LEN])&keys[1], 1,
	    plain, sizeof(plain), &node, &why), 0);
	ck_assert(bytes_view_eq_str(node, "lc1@host"));
	ck_assert_int_eq(gossip_decode_lc_heartbeat(bytes_view_of(erl_cbc,
	    sizeof(erl_cbc)), (const uint8_t (*)[GOSSIP_KEY_LEN])keys, 2,
	    plain, sizeof(plain), &node, &why), 0);
	/* The wrong key alone fails. */
	ck_assert_int_ne(gossip_decode_lc_heartbeat(bytes_view_of(erl_cbc,
	    sizeof(erl_cbc)), (const uint8_t (*)[GOSSIP_KEY_LEN])keys, 1,
	    plain, sizeof(plain), &node, &why), 0);
	ck_assert_int_eq(why, GOSSIP_DROP_TAG);
	/* Our encoder makes erl's bytes for the same IV. */
	bytes_w_init(&w, 4096);
	ck_assert_int_eq(gossip_encode_lc_heartbeat(&w, sv("lc1@host"),
	    keys[1], iv), 0);
	ck_assert_uint_eq(w.len, sizeof(erl_cbc));
	ck_assert_mem_eq(w.buf, erl_cbc, w.len);
	bytes_w_fini(&w);
	/* Every truncation fails (not a whole block, or bad padding). */
	for (len = 0; len < sizeof(erl_cbc); len++)
		ck_assert_msg(gossip_decode_lc_heartbeat(bytes_view_of(erl_cbc,
		    len), (const uint8_t (*)[GOSSIP_KEY_LEN])&keys[1], 1,
		    plain, sizeof(plain), &node, &why) != 0,
		    "cut at %zu accepted", len);
	/* CBC has no MAC: a flipped bit in the last block breaks the
	 * padding, and one in the IV's first bytes breaks the prefix. */
	memcpy(buf, erl_cbc, sizeof(buf));
	buf[sizeof(buf) - 1] ^= 1;
	ck_assert_int_ne(gossip_decode_lc_heartbeat(bytes_view_of(buf,
	    sizeof(buf)), (const uint8_t (*)[GOSSIP_KEY_LEN])&keys[1], 1,
	    plain, sizeof(plain), &node, &why), 0);
	memcpy(buf, erl_cbc, sizeof(buf));
	buf[0] ^= 1;
	ck_assert_int_ne(gossip_decode_lc_heartbeat(bytes_view_of(buf,
	    sizeof(buf)), (const uint8_t (*)[GOSSIP_KEY_LEN])&keys[1], 1,
	    plain, sizeof(plain), &node, &why), 0);
	ck_assert_int_eq(why, GOSSIP_DROP_TAG);
}
END_TEST

START_TEST(gossip_codec__drop_names)
{
	int i;

	for (i = 0; i < GOSSIP_DROP_NREASONS; i++) {
		ck_assert_ptr_nonnull(gossip_drop_name(i));
		ck_assert_str_ne(gossip_drop_name(i), "?");
	}
	ck_assert_str_eq(gossip_drop_name(GOSSIP_DROP_NREASONS), "?");
	ck_assert_str_eq(gossip_drop_name(GOSSIP_DROP_REPLAY), "replay");
}
END_TEST

static Suite *
gossip_codec_suite(void)
{
	Suite *s = suite_create("gossip_codec");
	TCase *tc;

	tc = tcase_create("cairn");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gossip_codec__key_derivation_known_answer);
	tcase_add_test(tc, gossip_codec__round_trip_plain_and_sealed);
	tcase_add_test(tc, gossip_codec__max_nodes_and_names);
	tcase_add_test(tc, gossip_codec__encode_refuses_bad_fields);
	tcase_add_test(tc, gossip_codec__every_flipped_bit_is_rejected);
	tcase_add_test(tc, gossip_codec__every_truncation_is_rejected);
	tcase_add_test(tc, gossip_codec__header_checks_and_reasons);
	tcase_add_test(tc, gossip_codec__wrong_key);
	tcase_add_test(tc, gossip_codec__key_rotation);
	tcase_add_test(tc, gossip_codec__drop_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gossip_codec__replay_within_window_rejected);
	tcase_add_test(tc, gossip_codec__stale_and_future_timestamps_rejected);
	tcase_add_test(tc,
	    gossip_codec__replay_cache_full_fails_closed_then_recycles);
	suite_add_tcase(s, tc);

	tc = tcase_create("libcluster");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gossip_codec__lc_term_decode_erl_vectors);
	tcase_add_test(tc, gossip_codec__lc_term_encode_matches_erl);
	tcase_add_test(tc, gossip_codec__lc_term_every_truncation_and_tag);
	tcase_add_test(tc, gossip_codec__lc_heartbeat_plain);
	tcase_add_test(tc, gossip_codec__lc_heartbeat_cbc_matches_erl);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(gossip_codec_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
