/*
 * Fuzz target for the cluster link's handshake state machine
 * (broker/link_hs), from both sides.  The first input byte picks a side:
 *
 *	even	a responder fed the frames that follow (as a stranger
 *		that dialled it would send them)
 *	odd	an initiator fed them (as a stranger it dialled would)
 *
 * The fuzzer does not know the cookie, so neither side may ever come
 * UP; a responder may never send a proof (AUTH) nor more than one HELLO;
 * an initiator sends at most one proof and only after a HELLO; after a
 * refusal nothing more is sent.  Every input then also runs an honest
 * pair whose frames in transit get the input's bytes XORed in: the two
 * sides come UP only when nothing that the transcript covers changed.
 *
 * Seeds in t/fuzz/corpus/link_hs/ (t/fuzz/link_seeds.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/link_codec.h"
#include "broker/cluster/link_hs.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct bytes_view
V(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static void
fuzz_stranger(const uint8_t *data, size_t size, enum link_role role)
{
	static const uint8_t nonce[LINK_NONCE_LEN] = { 0x5a };
	struct link_hs hs;
	struct link_msg m;
	size_t off = 0, used, i, hellos = 0, auths = 0;
	enum link_hs_rc rc;
	int refused = 0;

	link_hs_init(&hs, role, V("secret cookie"), V("self@host"), V(""),
	    nonce, NULL, NULL);
	if (role == LINK_INITIATOR)
		hellos = 1;
	while (off < size) {
		if (link_decode(data + off, size - off, LINK_PREAUTH_MAX_FRAME,
		    &m, &used) != 0)
			break;
		off += used;
		rc = link_hs_input(&hs, &m);
		FUZZ_ASSERT(rc != LINK_HS_DONE);
		FUZZ_ASSERT(hs.hs_state != LINK_HS_UP);
		if (refused)
			FUZZ_ASSERT(rc == LINK_HS_REFUSED);
		if (rc == LINK_HS_REFUSED) {
			refused = 1;
			FUZZ_ASSERT(hs.hs_nout == 0 && hs.hs_why != NULL);
		}
		for (i = 0; i < hs.hs_nout; i++) {
			if (hs.hs_out[i].type == LINK_HELLO)
				hellos++;
			if (hs.hs_out[i].type == LINK_AUTH)
				auths++;
		}
		FUZZ_ASSERT(hellos <= 1);
		if (role == LINK_RESPONDER)
			FUZZ_ASSERT(auths == 0);
		else
			FUZZ_ASSERT(auths <= 1);
	}
}

/* Sends from's frames to `to`, each encoded and XORed with the input. */
static enum link_hs_rc
fuzz_pass(struct link_hs *from, struct link_hs *to, const uint8_t **data,
    size_t *size, int *changed)
{
	enum link_hs_rc rc = LINK_HS_MORE;
	struct link_msg out[2], d;
	uint8_t buf[1024];
	struct bytes_w w;
	size_t i, j, n = from->hs_nout, used;

	memcpy(out, from->hs_out, sizeof(out));
	for (i = 0; i < n; i++) {
		bytes_w_init_fixed(&w, buf, sizeof(buf));
		FUZZ_ASSERT(link_encode(&w, &out[i], sizeof(buf)) == 0);
		/* Bytes 0-4 are the header: the body is what may change. */
		for (j = LINK_HDR_LEN; j < w.len && *size > 0; j++) {
			if (**data != 0)
				*changed = 1;
			buf[j] ^= **data;
			(*data)++;
			(*size)--;
		}
		if (link_decode(buf, w.len, sizeof(buf), &d, &used) != 0)
			return LINK_HS_REFUSED;
		rc = link_hs_input(to, &d);
		if (rc == LINK_HS_REFUSED)
			return rc;
	}
	return rc;
}

static void
fuzz_pair(const uint8_t *data, size_t size)
{
	static const uint8_t ni[LINK_NONCE_LEN] = { 1 }, nr[LINK_NONCE_LEN] =
	    { 2 };
	struct link_hs i, r;
	enum link_hs_rc a, b = LINK_HS_MORE, c = LINK_HS_MORE,
	    d = LINK_HS_MORE;
	int changed = 0;

	link_hs_init(&i, LINK_INITIATOR, V("cookie"), V("a@h"), V(""), ni,
	    NULL, NULL);
	link_hs_init(&r, LINK_RESPONDER, V("cookie"), V("b@h"), V(""), nr,
	    NULL, NULL);
	a = fuzz_pass(&i, &r, &data, &size, &changed);
	if (a != LINK_HS_REFUSED)
		b = fuzz_pass(&r, &i, &data, &size, &changed);
	if (a != LINK_HS_REFUSED && b != LINK_HS_REFUSED)
		c = fuzz_pass(&i, &r, &data, &size, &changed);
	if (c == LINK_HS_DONE)
		d = fuzz_pass(&r, &i, &data, &size, &changed);
	if (!changed) {
		FUZZ_ASSERT(c == LINK_HS_DONE && d == LINK_HS_DONE);
		return;
	}
	/*
	 * Something changed: a side that came UP saw exactly what the
	 * other sent in every field the transcript covers.
	 */
	if (c == LINK_HS_DONE)
		FUZZ_ASSERT(strcmp(r.hs_peer, "a@h") == 0 &&
		    memcmp(r.hs_peer_nonce, ni, LINK_NONCE_LEN) == 0);
	if (d == LINK_HS_DONE)
		FUZZ_ASSERT(strcmp(i.hs_peer, "b@h") == 0 &&
		    memcmp(i.hs_peer_nonce, nr, LINK_NONCE_LEN) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_stranger(data + 1, size - 1, (data[0] & 1) ? LINK_INITIATOR :
	    LINK_RESPONDER);
	fuzz_pair(data + 1, size - 1);
	return 0;
}
