/*
 * Fuzz target for the gossip codec (strategies/gossip_codec).  One input
 * goes through every decoder:
 *
 *   - as Cairn's heartbeat, with no secret and with the key ring
 *     {"fuzz"}; a packet that decodes must re-encode to the same bytes
 *     (the encoder is canonical and GCM is deterministic for a given
 *     key and nonce), survive a seal/open round trip, and pass the
 *     replay cache once and only once;
 *   - as libcluster's heartbeat, in clear and as IV ++ AES-256-CBC under
 *     SHA-256("fuzz"); a node that decodes must re-encode (same IV) and
 *     decode back to the same name;
 *   - whole, as a term_to_binary(#{node => N}); a node that decodes
 *     must re-encode and decode back to the same name, and to the same
 *     bytes when the input used the canonical atom tags.
 *
 * Seeds in t/fuzz/corpus/gossip/: Cairn packets (plain and sealed with
 * "fuzz") written by the codec's encoder, and libcluster packets and
 * bare terms written by erl (term_to_binary, and crypto for the CBC
 * form).  A broken invariant aborts, which libFuzzer and the replay
 * report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "strategies/gossip_codec.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_SECRET	"fuzz"
#define FUZZ_LABEL	"cairn"

static struct gossip_keyring	fuzz_ring;
static uint8_t			fuzz_lc_key[1][GOSSIP_KEY_LEN];
static uint8_t			fuzz_plain[GOSSIP_MAX_PACKET];
static uint8_t			fuzz_plain2[GOSSIP_MAX_PACKET];
static int			fuzz_ready;

static void
fuzz_init(void)
{
	if (fuzz_ready)
		return;
	FUZZ_ASSERT(gossip_key_derive(FUZZ_SECRET, 4, &fuzz_ring.keys[0]) ==
	    0);
	fuzz_ring.n = 1;
	FUZZ_ASSERT(gossip_lc_key_derive(FUZZ_SECRET, 4, fuzz_lc_key[0]) ==
	    0);
	fuzz_ready = 1;
}

static int
view_eq(struct bytes_view a, struct bytes_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int
hb_eq(const struct gossip_heartbeat *a, const struct gossip_heartbeat *b)
{
	size_t i;

	if (a->ts_ms != b->ts_ms || a->nnodes != b->nnodes ||
	    !view_eq(a->sender, b->sender) || !view_eq(a->label, b->label) ||
	    memcmp(a->nonce, b->nonce, GOSSIP_NONCE_LEN) != 0)
		return 0;
	for (i = 0; i < a->nnodes; i++)
		if (!view_eq(a->nodes[i], b->nodes[i]))
			return 0;
	return 1;
}

static void
fuzz_native(const uint8_t *data, size_t size, const struct gossip_keyring *ring)
{
	static struct gossip_heartbeat hb, back;
	struct gossip_replay *cache;
	enum gossip_drop why;
	struct bytes_w w;
	int rc;

	rc = gossip_decode_heartbeat(bytes_view_of(data, size),
	    bytes_view_of(FUZZ_LABEL, 5), ring, fuzz_plain, sizeof(fuzz_plain),
	    &hb, &why);
	FUZZ_ASSERT((rc == 0) == (why == GOSSIP_OK));
	if (rc != 0)
		return;
	FUZZ_ASSERT(hb.sealed == (ring != NULL && ring->n > 0));
	bytes_w_init(&w, GOSSIP_MAX_PACKET);
	/* Canonical: the same fields make the same bytes. */
	FUZZ_ASSERT(gossip_encode_heartbeat(&w, &hb, hb.sealed ?
	    &ring->keys[0] : NULL) == 0);
	FUZZ_ASSERT(w.len == size && memcmp(w.buf, data, size) == 0);
	/* Sealed with the ring's key, then opened again. */
	bytes_w_reset(&w);
	FUZZ_ASSERT(gossip_encode_heartbeat(&w, &hb, &fuzz_ring.keys[0]) == 0);
	FUZZ_ASSERT(gossip_decode_heartbeat(bytes_view_of(w.buf, w.len),
	    bytes_view_of(FUZZ_LABEL, 5), &fuzz_ring, fuzz_plain2,
	    sizeof(fuzz_plain2), &back, &why) == 0);
	FUZZ_ASSERT(back.sealed && hb_eq(&hb, &back));
	/* A packet passes the replay cache once. */
	FUZZ_ASSERT((cache = gossip_replay_new(64)) != NULL);
	FUZZ_ASSERT(gossip_replay_check(cache, &hb, hb.ts_ms, 1000) ==
	    GOSSIP_OK);
	FUZZ_ASSERT(gossip_replay_check(cache, &hb, hb.ts_ms, 1000) ==
	    GOSSIP_DROP_REPLAY);
	gossip_replay_free(cache);
	bytes_w_fini(&w);
}

/* node re-encodes as a term and reads back as itself. */
static void
fuzz_term_round_trip(struct bytes_view node)
{
	struct bytes_view back;
	struct bytes_w w;

	bytes_w_init(&w, 4096);
	FUZZ_ASSERT(gossip_encode_lc_term(&w, node) == 0);
	FUZZ_ASSERT(gossip_decode_lc_term(bytes_view_of(w.buf, w.len),
	    &back) == 0);
	FUZZ_ASSERT(view_eq(node, back));
	bytes_w_fini(&w);
}

static void
fuzz_lc(const uint8_t *data, size_t size, int keyed)
{
	struct bytes_view node, back;
	enum gossip_drop why;
	struct bytes_w w;
	int rc;

	rc = gossip_decode_lc_heartbeat(bytes_view_of(data, size),
	    keyed ? (const uint8_t (*)[GOSSIP_KEY_LEN])fuzz_lc_key : NULL,
	    keyed ? 1 : 0, fuzz_plain, sizeof(fuzz_plain), &node, &why);
	FUZZ_ASSERT((rc == 0) == (why == GOSSIP_OK));
	if (rc != 0)
		return;
	fuzz_term_round_trip(node);
	bytes_w_init(&w, 4096);
	FUZZ_ASSERT(gossip_encode_lc_heartbeat(&w, node, keyed ?
	    fuzz_lc_key[0] : NULL, data) == 0);
	FUZZ_ASSERT(gossip_decode_lc_heartbeat(bytes_view_of(w.buf, w.len),
	    keyed ? (const uint8_t (*)[GOSSIP_KEY_LEN])fuzz_lc_key : NULL,
	    keyed ? 1 : 0, fuzz_plain2, sizeof(fuzz_plain2), &back,
	    &why) == 0);
	FUZZ_ASSERT(view_eq(node, back));
	bytes_w_fini(&w);
}

static void
fuzz_term(const uint8_t *data, size_t size)
{
	struct bytes_view node;
	struct bytes_w w;
	size_t i;
	int canonical = 1;

	if (gossip_decode_lc_term(bytes_view_of(data, size), &node) != 0)
		return;
	fuzz_term_round_trip(node);
	/* ATOM_EXT for ASCII names, SMALL_ATOM_UTF8_EXT otherwise, and
	 * ATOM_EXT for the key: what the encoder writes. */
	for (i = 0; i < node.len; i++)
		if (node.p[i] >= 0x80)
			canonical = 0;
	canonical = data[6] == 100 && (canonical ? data[13] == 100 :
	    data[13] == 119);
	if (!canonical)
		return;
	bytes_w_init(&w, 4096);
	FUZZ_ASSERT(gossip_encode_lc_term(&w, node) == 0);
	FUZZ_ASSERT(w.len == size && memcmp(w.buf, data, size) == 0);
	bytes_w_fini(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	fuzz_native(data, size, NULL);
	fuzz_native(data, size, &fuzz_ring);
	fuzz_lc(data, size, 0);
	if (size >= GOSSIP_LC_IV_LEN)
		fuzz_lc(data, size, 1);
	fuzz_term(data, size);
	return 0;
}
