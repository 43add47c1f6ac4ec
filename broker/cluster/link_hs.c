/*
 * The link handshake's state machine; see link_hs.h and CLUSTER.md.
 *
 * Every refusal has its own static reason, for the one log line the
 * link writes.  The order of the checks on a HELLO matters: the version
 * first (so a node of the previous release is told so rather than
 * "malformed"), then the owner's check (name, reflected nonce), and
 * only then does the responder answer.
 */
#include "broker/cluster/link_hs.h"

#include <string.h>

#include <openssl/crypto.h>

#include "common/err.h"

static enum link_hs_rc
hs_refuse(struct link_hs *hs, const char *why)
{
	hs->hs_state = LINK_HS_FAILED;
	hs->hs_why = why;
	hs->hs_nout = 0;
	return LINK_HS_REFUSED;
}

static void
hs_put_hello(struct link_hs *hs)
{
	struct link_msg *m = &hs->hs_out[hs->hs_nout++];

	memset(m, 0, sizeof(*m));
	m->type = LINK_HELLO;
	m->u.hello.version = LINK_VERSION;
	m->u.hello.name = hs->hs_self;
	memcpy(m->u.hello.challenge, hs->hs_nonce, LINK_NONCE_LEN);
}

static void
hs_transcript(const struct link_hs *hs, struct link_transcript *t)
{
	struct bytes_view peer = bytes_view_of(hs->hs_peer,
	    strlen(hs->hs_peer));

	memset(t, 0, sizeof(*t));
	if (hs->hs_role == LINK_INITIATOR) {
		t->version_i = LINK_VERSION;
		t->name_i = hs->hs_self;
		t->nonce_i = hs->hs_nonce;
		t->version_r = hs->hs_peer_version;
		t->name_r = peer;
		t->nonce_r = hs->hs_peer_nonce;
	} else {
		t->version_i = hs->hs_peer_version;
		t->name_i = peer;
		t->nonce_i = hs->hs_peer_nonce;
		t->version_r = LINK_VERSION;
		t->name_r = hs->hs_self;
		t->nonce_r = hs->hs_nonce;
	}
	t->binding = hs->hs_binding;
}

/* Our proof, into the next hs_out slot. */
static int
hs_put_auth(struct link_hs *hs)
{
	struct link_transcript t;
	struct link_msg *m = &hs->hs_out[hs->hs_nout];

	memset(m, 0, sizeof(*m));
	m->type = LINK_AUTH;
	hs_transcript(hs, &t);
	if (link_finished(hs->hs_cookie, hs->hs_role, &t, m->u.mac) != 0)
		return -1;
	hs->hs_nout++;
	return 0;
}

void
link_hs_init(struct link_hs *hs, enum link_role role, struct bytes_view cookie,
    struct bytes_view self, struct bytes_view binding,
    const uint8_t nonce[LINK_NONCE_LEN], link_hs_check check, void *check_arg)
{
	memset(hs, 0, sizeof(*hs));
	hs->hs_role = role;
	hs->hs_state = LINK_HS_HELLO_WAIT;
	hs->hs_cookie = cookie;
	hs->hs_self = self;
	hs->hs_binding = binding;
	hs->hs_check = check;
	hs->hs_check_arg = check_arg;
	memcpy(hs->hs_nonce, nonce, LINK_NONCE_LEN);
	if (role == LINK_INITIATOR)
		hs_put_hello(hs);
}

static enum link_hs_rc
hs_on_hello(struct link_hs *hs, const struct link_hello *h)
{
	const char *why;

	if (h->version != LINK_VERSION) {
		hs->hs_peer_version = h->version;
		return hs_refuse(hs, h->version < LINK_VERSION ?
		    "the peer speaks an older link version (upgrade every "
		    "node)" : "the peer speaks a newer link version");
	}
	/* The codec checked 1..255 bytes of UTF-8 without NUL. */
	if (h->name.len == 0 || h->name.len > LINK_MAX_NAME)
		return hs_refuse(hs, "protocol error: bad name");
	memcpy(hs->hs_peer, h->name.p, h->name.len);
	hs->hs_peer[h->name.len] = '\0';
	hs->hs_peer_version = h->version;
	memcpy(hs->hs_peer_nonce, h->challenge, LINK_NONCE_LEN);
	/* Our own nonce back: somebody replays our HELLO at us. */
	if (CRYPTO_memcmp(hs->hs_peer_nonce, hs->hs_nonce,
	    LINK_NONCE_LEN) == 0)
		return hs_refuse(hs, "the peer sent this link's own nonce back");
	if (h->name.len == hs->hs_self.len &&
	    memcmp(h->name.p, hs->hs_self.p, h->name.len) == 0)
		return hs_refuse(hs, "the peer has this node's name");
	if (hs->hs_check != NULL && (why = hs->hs_check(hs->hs_check_arg,
	    hs->hs_peer, hs->hs_peer_nonce)) != NULL)
		return hs_refuse(hs, why);
	hs->hs_state = LINK_HS_AUTH_WAIT;
	if (hs->hs_role == LINK_RESPONDER) {
		hs_put_hello(hs);
		return LINK_HS_MORE;
	}
	if (hs_put_auth(hs) != 0)
		return hs_refuse(hs, "HMAC failed (libcrypto)");
	return LINK_HS_MORE;
}

static enum link_hs_rc
hs_on_auth(struct link_hs *hs, const uint8_t mac[LINK_MAC_LEN])
{
	struct link_transcript t;
	uint8_t want[LINK_MAC_LEN];
	enum link_role peer = hs->hs_role == LINK_INITIATOR ?
	    LINK_RESPONDER : LINK_INITIATOR;

	hs_transcript(hs, &t);
	if (link_finished(hs->hs_cookie, peer, &t, want) != 0)
		return hs_refuse(hs, "HMAC failed (libcrypto)");
	if (!link_mac_eq(mac, want)) {
		hs->hs_wrong_cookie = 1;
		return hs_refuse(hs, "handshake refused: wrong cookie?");
	}
	if (hs->hs_role == LINK_RESPONDER && hs_put_auth(hs) != 0)
		return hs_refuse(hs, "HMAC failed (libcrypto)");
	hs->hs_state = LINK_HS_UP;
	return LINK_HS_DONE;
}

enum link_hs_rc
link_hs_input(struct link_hs *hs, const struct link_msg *m)
{
	hs->hs_nout = 0;
	switch (hs->hs_state) {
	case LINK_HS_HELLO_WAIT:
		if (m->type == LINK_HELLO)
			return hs_on_hello(hs, &m->u.hello);
		return hs_refuse(hs, "protocol error: a frame other than "
		    "HELLO before HELLO");
	case LINK_HS_AUTH_WAIT:
		if (m->type == LINK_AUTH)
			return hs_on_auth(hs, m->u.mac);
		return hs_refuse(hs, "protocol error: a frame other than "
		    "AUTH before AUTH");
	case LINK_HS_UP:
	case LINK_HS_FAILED:
		break;
	}
	return hs_refuse(hs, "protocol error: a frame after the handshake "
	    "ended");
}
