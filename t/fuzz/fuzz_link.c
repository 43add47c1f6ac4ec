/*
 * Fuzz target for the cluster link codec (broker/link_codec).  The
 * input is a stream of frames, as a link reads it: each frame that
 * decodes must re-encode to exactly its bytes (the encoder is
 * canonical) and decode again to the same type; the list iterators must
 * walk exactly the counts the decoder checked.  Decoding stops at the
 * first NEED_MORE, PROTO or TOO_BIG, as a link would.
 *
 * The REPL_* frames are also applied to a replica store
 * (replica_core.h) with a small byte cap, as a holder would: its bytes
 * must stay under the cap and go back to 0 when it is emptied.
 *
 * Seeds in t/fuzz/corpus/link/: one frame of each type and a few
 * streams, written by t/fuzz/link_seeds.py from CLUSTER.md's layouts.
 * A broken invariant aborts, which libFuzzer and the replay report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/link_codec.h"
#include "broker/cluster/replica_core.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_FRAME	8192
#define FUZZ_REPLICA_CAP	16384

static void
fuzz_lists(const struct link_msg *m)
{
	struct bytes_view l, a, b;
	uint32_t i;
	uint8_t q;

	struct link_sub sub;
	struct link_smsg sm;
	struct bytes_w w;
	struct bytes_view back;

	if (m->type == LINK_SESSION_DATA) {
		l = m->u.sess.subs;
		for (i = 0; i < m->u.sess.nsubs; i++)
			FUZZ_ASSERT(link_session_sub_next(&l, &a, &q));
		FUZZ_ASSERT(l.len == 0);
		l = m->u.sess.msgs;
		for (i = 0; i < m->u.sess.nmsgs; i++)
			FUZZ_ASSERT(link_session_msg_next(&l, &q, &a, &b));
		FUZZ_ASSERT(l.len == 0);
		/* The 5.0 items re-encode to exactly their bytes. */
		bytes_w_init(&w, FUZZ_MAX_FRAME);
		l = m->u.sess.subs;
		while (link_session_sub_next5(&l, &sub))
			FUZZ_ASSERT(link_put_session_sub5(&w, &sub) == 0);
		l = m->u.sess.msgs;
		while (link_session_msg_next5(&l, &sm))
			FUZZ_ASSERT(link_put_session_msg5(&w, &sm) == 0);
		back = bytes_view_of(w.buf, w.len);
		FUZZ_ASSERT(back.len == m->u.sess.subs.len + m->u.sess.msgs.len);
		FUZZ_ASSERT(back.len == 0 || (memcmp(back.p, m->u.sess.subs.p,
		    m->u.sess.subs.len) == 0 && memcmp(back.p +
		    m->u.sess.subs.len, m->u.sess.msgs.p,
		    m->u.sess.msgs.len) == 0));
		bytes_w_fini(&w);
	} else if (m->type == LINK_REPL_SESSION) {
		l = m->u.repl.items;
		for (i = 0; i < m->u.repl.n; i++)
			FUZZ_ASSERT(link_session_sub_next(&l, &a, &q));
		FUZZ_ASSERT(l.len == 0);
	} else if (m->type == LINK_REPL_MSGS) {
		struct link_repl_msg d;

		l = m->u.repl.items;
		for (i = 0; i < m->u.repl.n; i++)
			FUZZ_ASSERT(link_repl_msg_next(&l, &d));
		FUZZ_ASSERT(l.len == 0);
	} else if (m->type == LINK_REPL_STATE) {
		uint64_t seq;
		uint16_t pid;

		l = m->u.repl.items;
		for (i = 0; i < m->u.repl.n; i++)
			FUZZ_ASSERT(link_repl_state_next(&l, &seq, &q, &pid));
		FUZZ_ASSERT(l.len == 0);
	} else if (m->type == LINK_PEERS) {
		l = m->u.peers.names;
		for (i = 0; i < m->u.peers.n; i++) {
			FUZZ_ASSERT(link_peers_next(&l, &a));
			FUZZ_ASSERT(link_name_valid(a));
		}
		FUZZ_ASSERT(l.len == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_msg m, m2;
	struct bytes_w w;
	struct rstore st;
	struct rsess *rs;
	size_t off = 0, used, used2;
	int rc;

	bytes_w_init(&w, 2 * FUZZ_MAX_FRAME);
	FUZZ_ASSERT(rstore_init(&st, 1, FUZZ_REPLICA_CAP) == 0);
	while (off < size) {
		rc = link_decode(data + off, size - off, FUZZ_MAX_FRAME, &m,
		    &used);
		if (rc != 0) {
			FUZZ_ASSERT(rc == CAIRN_ERR_NEED_MORE ||
			    rc == CAIRN_ERR_PROTO || rc == CAIRN_ERR_TOO_BIG);
			break;
		}
		FUZZ_ASSERT(used >= LINK_HDR_LEN && used <= size - off);
		fuzz_lists(&m);
		bytes_w_reset(&w);
		FUZZ_ASSERT(link_encode(&w, &m, FUZZ_MAX_FRAME) == 0);
		FUZZ_ASSERT(w.len == used);
		FUZZ_ASSERT(memcmp(w.buf, data + off, used) == 0);
		FUZZ_ASSERT(link_decode(w.buf, w.len, FUZZ_MAX_FRAME, &m2,
		    &used2) == 0);
		FUZZ_ASSERT(used2 == used && m2.type == m.type);
		if (m.type >= LINK_REPL_SESSION && m.type <= LINK_REPL_DROP) {
			/* Two owners, so that frames of the other are seen. */
			rc = rstore_apply(&st, (data[off + 4] & 1) ? "a@h" :
			    "b@h", &m, 1000);
			FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_LIMIT);
			FUZZ_ASSERT(st.rs_bytes <= FUZZ_REPLICA_CAP);
		}
		off += used;
	}
	while (st.rs_tab.ct_count > 0) {
		rs = NULL;
		for (used = 0; rs == NULL; used++)
			if (st.rs_tab.ct_buckets[used] != NULL)
				rs = st.rs_tab.ct_buckets[used]->ce_ptr;
		rstore_del(&st, rs);
	}
	FUZZ_ASSERT(st.rs_bytes == 0);
	rstore_fini(&st);
	bytes_w_fini(&w);
	return 0;
}
