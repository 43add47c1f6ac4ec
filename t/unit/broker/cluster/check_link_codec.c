/*
 * Check units for broker/link_codec: every frame type round trips,
 * every truncation of a frame is NEED_MORE, bad fields are PROTO, the
 * length cap is TOO_BIG, the encoder refuses what would not decode;
 * the handshake proofs (link_finished) match a vector computed apart
 * (Python's hmac/hashlib, RFC 5869 HKDF by hand) and every field of the
 * transcript changes them; and the handshake state machine (link_hs)
 * links two honest ends and refuses a wrong cookie, a reflected proof,
 * a reflected nonce, an old version and frames out of order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "broker/cluster/link_codec.h"
#include "broker/cluster/link_hs.h"
#include "common/bytes.h"
#include "common/err.h"

#define MAXF	(64 * 1024)

static struct bytes_view
V(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

/* Encodes m, decodes it, re-encodes the result: same bytes. */
static void
roundtrip(const struct link_msg *m)
{
	struct bytes_w a, b;
	struct link_msg d;
	size_t used, i;

	bytes_w_init(&a, MAXF * 2);
	bytes_w_init(&b, MAXF * 2);
	ck_assert_int_eq(link_encode(&a, m, MAXF), 0);
	ck_assert_int_eq(link_decode(a.buf, a.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(used, a.len);
	ck_assert_int_eq(d.type, m->type);
	ck_assert_int_eq(link_encode(&b, &d, MAXF), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.buf, b.buf, a.len);
	for (i = 0; i < a.len; i++)
		ck_assert_int_eq(link_decode(a.buf, i, MAXF, &d, &used),
		    CAIRN_ERR_NEED_MORE);
	bytes_w_fini(&a);
	bytes_w_fini(&b);
}

START_TEST(link_codec__roundtrip_every_type)
{
	struct link_msg m;
	struct bytes_w l1, l2;

	memset(&m, 0, sizeof(m));
	m.type = LINK_HELLO;
	m.u.hello.version = LINK_VERSION;
	m.u.hello.name = V("b1@host");
	memset(m.u.hello.challenge, 0xab, LINK_CHALLENGE_LEN);
	roundtrip(&m);
	m.type = LINK_AUTH;
	memset(m.u.mac, 0x11, LINK_MAC_LEN);
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_TICK;
	roundtrip(&m);
	m.type = LINK_ROUTES_BEGIN;
	roundtrip(&m);
	m.type = LINK_ROUTES_END;
	roundtrip(&m);
	m.type = LINK_ROUTE_ADD;
	m.u.filter = V("a/+/#");
	roundtrip(&m);
	m.type = LINK_ROUTE_DEL;
	m.u.filter = V("$share/g/a/b");
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.seq = 0x0102030405060708ull;
	m.u.fwd.qos = 2;
	m.u.fwd.retain = 1;
	m.u.fwd.topic = V("a/b");
	m.u.fwd.payload = V("");
	roundtrip(&m);
	m.u.fwd.payload = V("hello");
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD_ACK;
	m.u.ack_seq = 42;
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_RETAIN;
	m.u.ret.stamp = 1700000000000ull;
	m.u.ret.origin = V("b2@h");
	m.u.ret.topic = V("r/t");
	m.u.ret.qos = 1;
	m.u.ret.payload = V("x");
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_CLAIM;
	m.u.claim.id = V("client-1");
	m.u.claim.stamp = 7;
	m.u.claim.node = V("b1@h");
	roundtrip(&m);
	m.u.claim.flags = LINK_CLAIM_KEPT;	/* the optional byte */
	roundtrip(&m);
	{
		/* The byte, when there, is a known flag and not 0. */
		struct link_msg d;
		struct bytes_w w;
		size_t used;

		bytes_w_init(&w, MAXF);
		ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
		ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
		ck_assert_uint_eq(d.u.claim.flags, LINK_CLAIM_KEPT);
		w.buf[w.len - 1] = 0;
		ck_assert_int_ne(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
		w.buf[w.len - 1] = 0x02;
		ck_assert_int_ne(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
		bytes_w_fini(&w);
	}
	m.u.claim.flags = 0;
	memset(&m, 0, sizeof(m));
	m.type = LINK_SESSION_TAKE;
	m.u.take_id = V("client-1");
	roundtrip(&m);
	m.type = LINK_SESSION_NONE;
	roundtrip(&m);
	bytes_w_init(&l1, MAXF);
	bytes_w_init(&l2, MAXF);
	ck_assert_int_eq(link_put_session_sub(&l1, V("a/#"), 1), 0);
	ck_assert_int_eq(link_put_session_sub(&l1, V("b"), 2), 0);
	ck_assert_int_eq(link_put_session_msg(&l2, 1, V("a/x"), V("p")), 0);
	memset(&m, 0, sizeof(m));
	m.type = LINK_SESSION_DATA;
	m.u.sess.id = V("client-1");
	m.u.sess.nsubs = 2;
	m.u.sess.subs = bytes_view_of(l1.buf, l1.len);
	m.u.sess.nmsgs = 1;
	m.u.sess.msgs = bytes_view_of(l2.buf, l2.len);
	roundtrip(&m);
	/* A count that does not match its list is refused. */
	m.u.sess.nsubs = 3;
	{
		struct bytes_w w;

		bytes_w_init(&w, MAXF);
		ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
		ck_assert_uint_eq(w.len, 0);
		bytes_w_fini(&w);
	}
	bytes_w_reset(&l1);
	ck_assert_int_eq(link_put_peer(&l1, V("b2@h 127.0.0.1:4370")), 0);
	ck_assert_int_eq(link_put_peer(&l1, V("b3@h")), 0);
	memset(&m, 0, sizeof(m));
	m.type = LINK_PEERS;
	m.u.peers.n = 2;
	m.u.peers.names = bytes_view_of(l1.buf, l1.len);
	roundtrip(&m);
	bytes_w_fini(&l1);
	bytes_w_fini(&l2);
	memset(&m, 0, sizeof(m));
	m.type = LINK_CREDIT;
	m.u.credit.forwards = 1000;
	m.u.credit.bytes = 16u << 20;
	m.u.credit.incarnation = 0x1122334455667788ull;
	roundtrip(&m);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_ACK;
	m.u.repl_acked = 0x0102030405060708ull;
	roundtrip(&m);
}
END_TEST

/* REPL_ACK: a u64 count, exactly; one byte short or over is refused. */
START_TEST(link_codec__repl_ack)
{
	static const uint8_t ok[] = { 0, 0, 0, 9, LINK_REPL_ACK,
	    0, 0, 0, 0, 0, 0, 0x01, 0x02 };	/* 258 frames taken */
	static const uint8_t shortb[] = { 0, 0, 0, 8, LINK_REPL_ACK,
	    0, 0, 0, 0, 0, 0, 0x01 };
	static const uint8_t longb[] = { 0, 0, 0, 10, LINK_REPL_ACK,
	    0, 0, 0, 0, 0, 0, 0x01, 0x02, 0 };
	struct link_msg m;
	size_t used;

	ck_assert_int_eq(link_decode(ok, sizeof(ok), MAXF, &m, &used), 0);
	ck_assert_uint_eq(used, sizeof(ok));
	ck_assert_int_eq(m.type, LINK_REPL_ACK);
	ck_assert_uint_eq(m.u.repl_acked, 258);
	ck_assert_int_eq(link_decode(shortb, sizeof(shortb), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(longb, sizeof(longb), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
}
END_TEST

/*
 * CREDIT: forwards u32 (at least 1), bytes u64, incarnation u64 (not
 * 0); a credit of no forward would stop the sender for good, so it does
 * not decode (nor encode).
 */
START_TEST(link_codec__credit)
{
	static const uint8_t ok[] = { 0, 0, 0, 21, LINK_CREDIT,
	    0, 0, 0x03, 0xe8,			/* forwards 1000 */
	    0, 0, 0, 0, 0, 0x10, 0, 0,		/* bytes 1 MiB */
	    0, 0, 0, 0, 0, 0, 0, 7 };		/* incarnation 7 */
	static const uint8_t zero[] = { 0, 0, 0, 21, LINK_CREDIT,
	    0, 0, 0, 0,				/* forwards 0 */
	    0, 0, 0, 0, 0, 0x10, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 7 };
	static const uint8_t noinc[] = { 0, 0, 0, 21, LINK_CREDIT,
	    0, 0, 0x03, 0xe8,
	    0, 0, 0, 0, 0, 0x10, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0 };		/* incarnation 0 */
	static const uint8_t shortb[] = { 0, 0, 0, 13, LINK_CREDIT,
	    0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0, 0x10, 0, 0 };	/* no incarnation */
	struct link_msg m;
	struct bytes_w w;
	size_t used;

	ck_assert_int_eq(link_decode(ok, sizeof(ok), MAXF, &m, &used), 0);
	ck_assert_uint_eq(used, sizeof(ok));
	ck_assert_int_eq(m.type, LINK_CREDIT);
	ck_assert_uint_eq(m.u.credit.forwards, 1000);
	ck_assert_uint_eq(m.u.credit.bytes, 1u << 20);
	ck_assert_uint_eq(m.u.credit.incarnation, 7);
	ck_assert_int_eq(link_decode(zero, sizeof(zero), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(noinc, sizeof(noinc), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(shortb, sizeof(shortb), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	memset(&m, 0, sizeof(m));
	m.type = LINK_CREDIT;
	bytes_w_init(&w, MAXF);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	bytes_w_fini(&w);
}
END_TEST

/*
 * FORWARD's shared groups: the list is there only when not empty, holds
 * $share filters only, and its items walk back out.
 */
START_TEST(link_codec__forward_groups)
{
	struct link_msg m, d;
	struct bytes_w l, f;
	struct bytes_view list, g;
	size_t used;
	/* FORWARD seq 0, qos 0, retain 0, topic "t", payload "" */
	static const uint8_t base[] = { 0, 0, 0, 18, LINK_FORWARD,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 't', 0, 0, 0, 0 };
	uint8_t buf[64];

	bytes_w_init(&l, 1024);
	ck_assert_int_eq(link_put_group(&l, V("$share/g/t")), 0);
	ck_assert_int_eq(link_put_group(&l, V("$share/h/+")), 0);
	ck_assert_int_eq(link_put_group(&l, V("t")), CAIRN_ERR_INVAL);
	ck_assert_int_eq(link_put_group(&l, V("$share/g")), CAIRN_ERR_INVAL);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.seq = 7;
	m.u.fwd.qos = 1;
	m.u.fwd.topic = V("t");
	m.u.fwd.payload = V("x");
	m.u.fwd.ngroups = 2;
	m.u.fwd.groups = bytes_view_of(l.buf, l.len);
	roundtrip(&m);
	bytes_w_init(&f, MAXF);
	ck_assert_int_eq(link_encode(&f, &m, MAXF), 0);
	ck_assert_int_eq(link_decode(f.buf, f.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.ngroups, 2);
	list = d.u.fwd.groups;
	ck_assert(link_forward_group_next(&list, &g));
	ck_assert(bytes_view_eq_str(g, "$share/g/t"));
	ck_assert(link_forward_group_next(&list, &g));
	ck_assert(bytes_view_eq_str(g, "$share/h/+"));
	ck_assert(!link_forward_group_next(&list, &g));
	/* The count must match the list. */
	m.u.fwd.ngroups = 1;
	ck_assert_int_eq(link_encode(&f, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.fwd.ngroups = 3;
	ck_assert_int_eq(link_encode(&f, &m, MAXF), CAIRN_ERR_INVAL);
	bytes_w_fini(&f);
	bytes_w_fini(&l);

	/* No list: the first release's bytes. */
	ck_assert_int_eq(link_decode(base, sizeof(base), MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.ngroups, 0);
	/* A list of 0 groups is not canonical. */
	memcpy(buf, base, sizeof(base));
	buf[3] += 2;
	buf[sizeof(base)] = 0;
	buf[sizeof(base) + 1] = 0;
	ck_assert_int_eq(link_decode(buf, sizeof(base) + 2, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* One group "a/b": not a $share filter. */
	buf[3] = 18 + 2 + 5;
	buf[sizeof(base) + 1] = 1;
	memcpy(buf + sizeof(base) + 2, "\0\3a/b", 5);
	ck_assert_int_eq(link_decode(buf, sizeof(base) + 7, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* One group "$share/g/b". */
	buf[3] = 18 + 2 + 12;
	memcpy(buf + sizeof(base) + 2, "\0\12$share/g/b", 12);
	ck_assert_int_eq(link_decode(buf, sizeof(base) + 14, MAXF, &d, &used),
	    0);
	ck_assert_uint_eq(d.u.fwd.ngroups, 1);
	/* A count of 2 with one item: runs past the body. */
	buf[sizeof(base) + 1] = 2;
	ck_assert_int_eq(link_decode(buf, sizeof(base) + 14, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
}
END_TEST

/* Carried properties: content type "c", user property k=v. */
static const char carried[] = "\x03\x00\x01" "c" "\x26\x00\x01k\x00\x01v";
#define CARRIED_LEN	(sizeof(carried) - 1)

/* Encodes m into a fresh buffer: 0 or the encoder's error. */
static int
enc(struct bytes_w *w, const struct link_msg *m)
{
	bytes_w_reset(w);
	return link_encode(w, m, MAXF);
}

START_TEST(link_codec__forward_v5)
{
	struct link_msg m, d;
	struct bytes_w w, l;
	size_t used, len31;

	bytes_w_init(&w, MAXF);
	bytes_w_init(&l, 1024);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.seq = 9;
	m.u.fwd.qos = 1;
	m.u.fwd.retain = 1;
	m.u.fwd.topic = V("req/x");
	m.u.fwd.payload = V("ping");
	/* 3.1.1: no trailer, the bytes of before. */
	ck_assert_int_eq(enc(&w, &m), 0);
	len31 = w.len;
	ck_assert_uint_eq(len31, 4 + 1 + 8 + 2 + 2 + 5 + 4 + 4);
	/* Each 5.0 part alone brings the trailer, and round trips. */
	m.u.fwd.v5.from = V("client-1");
	roundtrip(&m);
	m.u.fwd.v5.from = V("");
	m.u.fwd.v5.expiry_ms = 1;
	roundtrip(&m);
	m.u.fwd.v5.expiry_ms = 0;
	m.u.fwd.v5.props = bytes_view_of(carried, CARRIED_LEN);
	roundtrip(&m);
	m.u.fwd.v5.from = V("client-1");
	m.u.fwd.v5.expiry_ms = LINK_EXPIRY_MAX_MS;
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_uint_eq(w.len, len31 + 2 + 2 + 8 + 8 + 1 + CARRIED_LEN);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.ngroups, 0);
	ck_assert(bytes_view_eq_str(d.u.fwd.v5.from, "client-1"));
	ck_assert_uint_eq(d.u.fwd.v5.expiry_ms, LINK_EXPIRY_MAX_MS);
	ck_assert_uint_eq(d.u.fwd.v5.props.len, CARRIED_LEN);
	ck_assert_mem_eq(d.u.fwd.v5.props.p, carried, CARRIED_LEN);
	/* With groups too. */
	ck_assert_int_eq(link_put_group(&l, V("$share/g/req/+")), 0);
	m.u.fwd.ngroups = 1;
	m.u.fwd.groups = bytes_view_of(l.buf, l.len);
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.ngroups, 1);
	ck_assert(bytes_view_eq_str(d.u.fwd.v5.from, "client-1"));
	/* The encoder refuses what would not decode; w is left as it was. */
	m.u.fwd.ngroups = 0;
	m.u.fwd.groups = bytes_view_of("", 0);
	m.u.fwd.v5.expiry_ms = LINK_EXPIRY_MAX_MS + 1;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	m.u.fwd.v5.expiry_ms = 5;
	m.u.fwd.v5.from = bytes_view_of("a\0b", 3);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.fwd.v5.from = V("\xff");
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.fwd.v5.from = V("c");
	/* Per delivery, never carried: expiry, topic alias, sub id. */
	m.u.fwd.v5.props = bytes_view_of("\x02\x00\x00\x00\x05", 5);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	m.u.fwd.v5.props = bytes_view_of("\x23\x00\x01", 3);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.fwd.v5.props = bytes_view_of("\x0b\x05", 2);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	/* Not a property block: a string that runs past it, a bad id. */
	m.u.fwd.v5.props = bytes_view_of("\x03\x00\x09" "c", 4);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.fwd.v5.props = bytes_view_of("\x7f\x00", 2);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	/* A property twice that may be there once. */
	m.u.fwd.v5.props = bytes_view_of("\x01\x01\x01\x00", 4);
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
	bytes_w_fini(&l);
}
END_TEST

/* FORWARD's spool list: the away nodes that get the message too. */
START_TEST(link_codec__forward_spooled)
{
	/* FORWARD seq 0, qos 1, retain 0, topic "t", payload "" */
	static const uint8_t base[] = { 0, 0, 0, 18, LINK_FORWARD,
	    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 't', 0, 0, 0, 0 };
	struct link_msg m, d;
	struct bytes_w w;
	uint8_t buf[128];
	size_t n, used, len31;

	bytes_w_init(&w, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.seq = 9;
	m.u.fwd.qos = 1;
	m.u.fwd.topic = V("a/b");
	m.u.fwd.payload = V("x");
	ck_assert_int_eq(enc(&w, &m), 0);
	len31 = w.len;
	/* With no 5.0 part: groups 0, an empty 5.0 part, then the list. */
	m.u.fwd.nspooled = 1;
	m.u.fwd.spooled[0] = 0x0102030405060708ULL;
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_uint_eq(w.len, len31 + 2 + 2 + 8 + 1 + 1 + 8);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.nspooled, 1);
	ck_assert(d.u.fwd.spooled[0] == 0x0102030405060708ULL);
	ck_assert_uint_eq(d.u.fwd.v5.from.len + d.u.fwd.v5.expiry_ms +
	    d.u.fwd.v5.props.len, 0);
	/* Two, with a 5.0 part. */
	m.u.fwd.nspooled = 2;
	m.u.fwd.spooled[1] = 7;
	m.u.fwd.v5.from = V("pub");
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.nspooled, 2);
	ck_assert(d.u.fwd.spooled[1] == 7);
	ck_assert(bytes_view_eq_str(d.u.fwd.v5.from, "pub"));
	/* The encoder refuses a hash of 0 and more than the maximum. */
	m.u.fwd.spooled[1] = 0;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.fwd.spooled[1] = 7;
	m.u.fwd.nspooled = LINK_MAX_SPOOLED + 1;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	bytes_w_fini(&w);

	/* The decoder, by hand-made bytes after groups 0 and an empty
	 * 5.0 part (from "", expiry 0, no properties). */
#define SP(bytes, len) do {						\
	memcpy(buf, base, sizeof(base));				\
	memcpy(buf + sizeof(base), "\0\0" "\0\0" "\0\0\0\0\0\0\0\0" "\0", 13);\
	memcpy(buf + sizeof(base) + 13, (bytes), (len));		\
	n = sizeof(base) + 13 + (len);					\
	buf[3] = (uint8_t)(n - 4);					\
} while (0)
	SP("\1" "\0\0\0\0\0\0\0\5", 9);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.nspooled, 1);
	ck_assert(d.u.fwd.spooled[0] == 5);
	/* A count of 0, past the maximum, a hash of 0, cut short, and a
	 * byte after the list. */
	SP("\0", 1);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	SP("\3" "\0\0\0\0\0\0\0\5" "\0\0\0\0\0\0\0\6"
	    "\0\0\0\0\0\0\0\7", 25);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	SP("\1" "\0\0\0\0\0\0\0\0", 9);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	SP("\2" "\0\0\0\0\0\0\0\5", 9);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	SP("\1" "\0\0\0\0\0\0\0\5" "x", 10);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
#undef SP
}
END_TEST

/* What the decoder refuses in FORWARD's trailer, by hand-made bytes. */
START_TEST(link_codec__forward_v5_refusals)
{
	/* FORWARD seq 0, qos 0, retain 0, topic "t", payload "" */
	static const uint8_t base[] = { 0, 0, 0, 18, LINK_FORWARD,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 't', 0, 0, 0, 0 };
	struct link_msg d;
	uint8_t buf[128];
	size_t n, used;

#define TRAILER(bytes, len) do {					\
	memcpy(buf, base, sizeof(base));				\
	memcpy(buf + sizeof(base), (bytes), (len));			\
	n = sizeof(base) + (len);					\
	buf[3] = (uint8_t)(n - 4);					\
} while (0)
	/* groups 0, from "", expiry 0, props empty: an empty trailer. */
	TRAILER("\0\0" "\0\0" "\0\0\0\0\0\0\0\0" "\0", 13);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* The same with expiry 1: fine. */
	TRAILER("\0\0" "\0\0" "\0\0\0\0\0\0\0\1" "\0", 13);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.fwd.v5.expiry_ms, 1);
	/* A trailer cut short: the frame is whole, so PROTO. */
	TRAILER("\0\0" "\0\0" "\0\0\0\0\0\0\0\1", 12);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* Trailing bytes after the trailer. */
	TRAILER("\0\0" "\0\0" "\0\0\0\0\0\0\0\1" "\0" "x", 14);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* Expiry past MQTT's u32 seconds. */
	TRAILER("\0\0" "\0\0" "\0\0\x03\xe8\0\0\0\0" "\0", 13);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* A publisher id with a NUL. */
	TRAILER("\0\0" "\0\2a\0" "\0\0\0\0\0\0\0\1" "\0", 15);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* A message expiry property inside the carried block. */
	TRAILER("\0\0" "\0\1a" "\0\0\0\0\0\0\0\0" "\5\2\0\0\0\5", 19);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* A payload format indicator of 2 (only 0 or 1). */
	TRAILER("\0\0" "\0\1a" "\0\0\0\0\0\0\0\0" "\2\1\2", 16);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* The same with 1: fine. */
	TRAILER("\0\0" "\0\1a" "\0\0\0\0\0\0\0\0" "\2\1\1", 16);
	ck_assert_int_eq(link_decode(buf, n, MAXF, &d, &used), 0);
	ck_assert(bytes_view_eq_str(d.u.fwd.v5.from, "a"));
	ck_assert_uint_eq(d.u.fwd.v5.props.len, 2);
#undef TRAILER
}
END_TEST

START_TEST(link_codec__retain_v5)
{
	struct link_msg m, d;
	struct bytes_w w;
	size_t used, len31;

	bytes_w_init(&w, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_RETAIN;
	m.u.ret.stamp = 5;
	m.u.ret.origin = V("n@h");
	m.u.ret.topic = V("r/t");
	m.u.ret.qos = 1;
	m.u.ret.payload = V("kept");
	ck_assert_int_eq(enc(&w, &m), 0);
	len31 = w.len;
	m.u.ret.expiry_ms = 60000;
	roundtrip(&m);
	m.u.ret.props = bytes_view_of(carried, CARRIED_LEN);
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_uint_eq(w.len, len31 + 8 + 1 + CARRIED_LEN);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.ret.expiry_ms, 60000);
	ck_assert_mem_eq(d.u.ret.props.p, carried, CARRIED_LEN);
	/* An empty trailer is not canonical. */
	bytes_w_reset(&w);
	m.u.ret.expiry_ms = 0;
	m.u.ret.props = bytes_view_of("", 0);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_uint_eq(w.len, len31);
	bytes_put(&w, "\0\0\0\0\0\0\0\0\0", 9);
	w.buf[3] += 9;
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	m.u.ret.expiry_ms = LINK_EXPIRY_MAX_MS + 1;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(link_codec__session_data_v5)
{
	struct link_msg m, d;
	struct bytes_w w, subs, msgs;
	struct bytes_view l;
	struct link_sub sub, gs;
	struct link_smsg sm, gm;
	size_t used;

	bytes_w_init(&w, MAXF);
	bytes_w_init(&subs, MAXF);
	bytes_w_init(&msgs, MAXF);
	memset(&sub, 0, sizeof(sub));
	sub.filter = V("a/#");
	sub.qos = 2;
	sub.no_local = 1;
	sub.rap = 1;
	sub.rh = 2;
	sub.sub_id = LINK_SUB_ID_MAX;
	ck_assert_int_eq(link_put_session_sub5(&subs, &sub), 0);
	ck_assert_int_eq(link_put_session_sub(&subs, V("$share/g/b"), 1), 0);
	/* Refused items leave the list as it was. */
	sub.sub_id = LINK_SUB_ID_MAX + 1;
	ck_assert_int_eq(link_put_session_sub5(&subs, &sub), CAIRN_ERR_INVAL);
	sub.sub_id = 1;
	sub.rh = 3;
	ck_assert_int_eq(link_put_session_sub5(&subs, &sub), CAIRN_ERR_INVAL);
	sub.rh = 0;
	sub.filter = V("$share/g/x");
	ck_assert_int_eq(link_put_session_sub5(&subs, &sub), CAIRN_ERR_INVAL);
	memset(&sm, 0, sizeof(sm));
	sm.qos = 1;
	sm.topic = V("a/x");
	sm.payload = V("queued");
	sm.v5.from = V("client-9");
	sm.v5.expiry_ms = 5000;
	sm.v5.props = bytes_view_of(carried, CARRIED_LEN);
	sm.retain = 1;
	sm.nids = 2;
	sm.ids[0] = 77;
	sm.ids[1] = LINK_SUB_ID_MAX;
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), 0);
	ck_assert_int_eq(link_put_session_msg(&msgs, 0, V("a/y"), V("")), 0);
	used = msgs.len;
	sm.v5.props = bytes_view_of("\x02\x00\x00\x00\x05", 5);
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), CAIRN_ERR_INVAL);
	sm.v5.props = bytes_view_of("", 0);
	sm.ids[1] = 0;
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), CAIRN_ERR_INVAL);
	sm.ids[1] = LINK_SUB_ID_MAX + 1;
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), CAIRN_ERR_INVAL);
	sm.ids[1] = 1;
	sm.nids = LINK_MAX_SUB_IDS + 1;
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), CAIRN_ERR_INVAL);
	sm.nids = 1;
	sm.retain = 2;
	ck_assert_int_eq(link_put_session_msg5(&msgs, &sm), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(msgs.len, used);
	memset(&m, 0, sizeof(m));
	m.type = LINK_SESSION_DATA;
	m.u.sess.id = V("client-5");
	m.u.sess.nsubs = 2;
	m.u.sess.subs = bytes_view_of(subs.buf, subs.len);
	m.u.sess.nmsgs = 2;
	m.u.sess.msgs = bytes_view_of(msgs.buf, msgs.len);
	m.u.sess.flags = LINK_SESS_EXPIRY | LINK_SESS_V5;
	m.u.sess.expiry = 3600;
	roundtrip(&m);
	ck_assert_int_eq(enc(&w, &m), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.sess.flags, LINK_SESS_EXPIRY | LINK_SESS_V5);
	ck_assert_uint_eq(d.u.sess.expiry, 3600);
	l = d.u.sess.subs;
	ck_assert(link_session_sub_next5(&l, &gs));
	ck_assert(bytes_view_eq_str(gs.filter, "a/#"));
	ck_assert_uint_eq(gs.qos, 2);
	ck_assert_uint_eq(gs.no_local, 1);
	ck_assert_uint_eq(gs.rap, 1);
	ck_assert_uint_eq(gs.rh, 2);
	ck_assert_uint_eq(gs.sub_id, LINK_SUB_ID_MAX);
	ck_assert(link_session_sub_next5(&l, &gs));
	ck_assert(bytes_view_eq_str(gs.filter, "$share/g/b"));
	ck_assert_uint_eq(gs.no_local + gs.rap + gs.rh + gs.sub_id, 0);
	ck_assert(!link_session_sub_next5(&l, &gs));
	l = d.u.sess.msgs;
	ck_assert(link_session_msg_next5(&l, &gm));
	ck_assert(bytes_view_eq_str(gm.v5.from, "client-9"));
	ck_assert_uint_eq(gm.v5.expiry_ms, 5000);
	ck_assert_mem_eq(gm.v5.props.p, carried, CARRIED_LEN);
	ck_assert_uint_eq(gm.retain, 1);
	ck_assert_uint_eq(gm.nids, 2);
	ck_assert_uint_eq(gm.ids[0], 77);
	ck_assert_uint_eq(gm.ids[1], LINK_SUB_ID_MAX);
	ck_assert(link_session_msg_next5(&l, &gm));
	ck_assert(bytes_view_eq_str(gm.topic, "a/y"));
	ck_assert_uint_eq(gm.v5.from.len + gm.v5.expiry_ms + gm.v5.props.len +
	    gm.retain + gm.nids, 0);
	ck_assert(!link_session_msg_next5(&l, &gm));
	/* Session flags: unknown bits, or an expiry without its flag. */
	m.u.sess.flags = 4;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.sess.flags = LINK_SESS_V5;
	ck_assert_int_eq(enc(&w, &m), CAIRN_ERR_INVAL);
	m.u.sess.expiry = 0;
	roundtrip(&m);
	/* The decoder refuses the same, by patching the bytes. */
	ck_assert_int_eq(enc(&w, &m), 0);
	w.buf[w.len - 1] = 1;		/* expiry 1 without the flag */
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	w.buf[w.len - 1] = 0;
	w.buf[w.len - 5] = 0x80;	/* an unknown flag */
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* A subscription's options byte with retain handling 3. */
	ck_assert_int_eq(enc(&w, &m), 0);
	/* header 5, id 2+8, nsubs 4, filter 2+3, qos 1: then options. */
	ck_assert_uint_eq(w.buf[5 + 10 + 4 + 5 + 1], 1 | 2 | 2 << 2);
	w.buf[5 + 10 + 4 + 5 + 1] = 3 << 2;
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	w.buf[5 + 10 + 4 + 5 + 1] = 0x10;
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	w.buf[5 + 10 + 4 + 5 + 1] = 0;
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	bytes_w_fini(&w);
	bytes_w_fini(&subs);
	bytes_w_fini(&msgs);
}
END_TEST

/*
 * The replica frames: each round trips, its items walk back out, and
 * what would not make sense is refused both ways: a packet id on a
 * queued delivery or none on a sent one, a released QoS 1, a state
 * past DONE, an unsubscribe QoS other than 0x80, a count that does not
 * match its list.
 */
START_TEST(link_codec__repl_frames)
{
	struct link_msg m, d;
	struct link_repl_msg rm, got;
	struct bytes_w l, w;
	struct bytes_view list;
	uint64_t seq;
	uint16_t pid;
	uint8_t state;
	size_t used;
	/* REPL_SUB "c" "a" qos 3, options 0, subscription id 0 */
	static const uint8_t badsub[] = { 0, 0, 0, 13, LINK_REPL_SUB,
	    0, 1, 'c', 0, 1, 'a', 3, 0, 0, 0, 0, 0 };
	/* REPL_STATE "c", 1 item: seq 1, DONE, packet id 5 */
	static const uint8_t donepid[] = { 0, 0, 0, 19, LINK_REPL_STATE,
	    0, 1, 'c', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
	    LINK_REPL_DONE, 0, 5 };
	/* REPL_MSGS "c", 1 item: seq 1, qos 1, retain 0, QUEUED, id 7,
	 * no publisher id, no expiry, no properties */
	static const uint8_t queuedpid[] = { 0, 0, 0, 39, LINK_REPL_MSGS,
	    0, 1, 'c', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0,
	    LINK_REPL_QUEUED, 0, 7, 0, 1, 't', 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t buf[64];

	bytes_w_init(&l, MAXF);
	bytes_w_init(&w, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_DROP;
	m.u.repl.id = V("client-1");
	roundtrip(&m);
	m.type = LINK_REPL_SUB;
	m.u.repl.filter = V("a/+");
	m.u.repl.qos = 2;
	roundtrip(&m);
	m.u.repl.qos = LINK_REPL_UNSUB;
	roundtrip(&m);
	m.u.repl.qos = 3;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	ck_assert_int_eq(link_put_session_sub(&l, V("a/#"), 1), 0);
	ck_assert_int_eq(link_put_session_sub(&l, V("b"), 2), 0);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_SESSION;
	m.u.repl.id = V("client-1");
	m.u.repl.n = 2;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	roundtrip(&m);
	/* The 5.0 trailer: level and session expiry interval. */
	m.u.repl.sess_flags = LINK_SESS_EXPIRY | LINK_SESS_V5;
	m.u.repl.sess_expiry = 3600;
	roundtrip(&m);
	bytes_w_reset(&w);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.repl.sess_flags, LINK_SESS_EXPIRY | LINK_SESS_V5);
	ck_assert_uint_eq(d.u.repl.sess_expiry, 3600);
	m.u.repl.sess_flags = LINK_SESS_V5;	/* an expiry without its flag */
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.repl.sess_flags = 0x08;
	m.u.repl.sess_expiry = 0;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.repl.sess_flags = LINK_SESS_V5;
	roundtrip(&m);
	/* Offline for 2.5 s: the u64 after the expiry. */
	m.u.repl.sess_flags = LINK_SESS_V5 | LINK_SESS_OFFLINE;
	m.u.repl.sess_offline_ms = 2500;
	roundtrip(&m);
	bytes_w_reset(&w);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.repl.sess_flags, LINK_SESS_V5 | LINK_SESS_OFFLINE);
	ck_assert_uint_eq(d.u.repl.sess_offline_ms, 2500);
	/* Cut short: the u64 is due. */
	ck_assert_int_eq(link_decode(w.buf, w.len - 1, MAXF, &d, &used),
	    CAIRN_ERR_NEED_MORE);
	m.u.repl.sess_offline_ms = LINK_EXPIRY_MAX_MS + 1;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.repl.sess_offline_ms = 0;
	m.u.repl.sess_flags = LINK_SESS_V5;
	roundtrip(&m);
	m.u.repl.sess_flags = 0;
	bytes_w_reset(&w);
	m.u.repl.n = 0;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.repl.items = V("");
	roundtrip(&m);

	bytes_w_reset(&l);
	memset(&rm, 0, sizeof(rm));
	rm.seq = 1;
	rm.qos = 1;
	rm.topic = V("a/x");
	rm.payload = V("p1");
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), 0);
	rm.seq = 2;
	rm.qos = 2;
	rm.retain = 1;
	rm.state = LINK_REPL_RELEASED;
	rm.pid = 9;
	/* A 5.0 message: publisher, expiry left, a content type. */
	rm.v5.from = V("pub-1");
	rm.v5.expiry_ms = 5000;
	rm.v5.props = bytes_view_of("\x03\x00\x01x", 4);
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), 0);
	memset(&rm.v5, 0, sizeof(rm.v5));
	/* Refused items leave the list as it was. */
	used = l.len;
	rm.qos = 1;		/* released QoS 1 */
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), CAIRN_ERR_INVAL);
	rm.qos = 2;
	rm.pid = 0;		/* released without a packet id */
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), CAIRN_ERR_INVAL);
	rm.state = LINK_REPL_DONE;	/* not a state of a held delivery */
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), CAIRN_ERR_INVAL);
	rm.state = LINK_REPL_PUBLISHED;
	rm.pid = 3;
	rm.qos = 0;		/* a QoS 0 delivery is never in flight */
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), CAIRN_ERR_INVAL);
	rm.qos = 1;
	rm.topic = V("a/#");	/* not a topic name */
	ck_assert_int_eq(link_put_repl_msg(&l, &rm), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(l.len, used);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_MSGS;
	m.u.repl.id = V("client-1");
	m.u.repl.n = 2;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	roundtrip(&m);
	m.u.repl.n = 3;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.repl.n = 2;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	list = d.u.repl.items;
	ck_assert(link_repl_msg_next(&list, &got));
	ck_assert(got.seq == 1 && got.qos == 1 && got.state ==
	    LINK_REPL_QUEUED && got.pid == 0 && got.retain == 0);
	ck_assert(bytes_view_eq_str(got.topic, "a/x"));
	ck_assert(bytes_view_eq_str(got.payload, "p1"));
	ck_assert(link_repl_msg_next(&list, &got));
	ck_assert(got.seq == 2 && got.qos == 2 && got.state ==
	    LINK_REPL_RELEASED && got.pid == 9 && got.retain == 1);
	ck_assert(bytes_view_eq_str(got.v5.from, "pub-1"));
	ck_assert(got.v5.expiry_ms == 5000 && got.v5.props.len == 4);
	ck_assert(!link_repl_msg_next(&list, &got));
	/* The trailer: each delivery's subscription identifiers. */
	{
		static const uint32_t two[] = { 9, 268435455 };
		struct bytes_w ids;
		struct bytes_view il;
		uint32_t gotids[LINK_MAX_SUB_IDS];
		uint8_t nids;

		bytes_w_init(&ids, MAXF);
		ck_assert_int_eq(link_put_repl_ids(&ids, 0, NULL), 0);
		ck_assert_int_eq(link_put_repl_ids(&ids, 2, two), 0);
		m.u.repl.ids = bytes_view_of(ids.buf, ids.len);
		roundtrip(&m);
		bytes_w_reset(&w);
		ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
		ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used),
		    0);
		il = d.u.repl.ids;
		ck_assert(link_repl_ids_next(&il, &nids, gotids) && nids == 0);
		ck_assert(link_repl_ids_next(&il, &nids, gotids) && nids == 2);
		ck_assert(gotids[0] == 9 && gotids[1] == 268435455);
		ck_assert(!link_repl_ids_next(&il, &nids, gotids));
		/* An entry short, one over, an identifier 0: refused. */
		m.u.repl.ids = bytes_view_of(ids.buf, 1);
		ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
		ck_assert_int_eq(link_put_repl_ids(&ids, 0, NULL), 0);
		m.u.repl.ids = bytes_view_of(ids.buf, ids.len);
		ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
		ck_assert_int_eq(link_put_repl_ids(&ids, 1, (uint32_t[]){ 0 }),
		    CAIRN_ERR_INVAL);
		bytes_w_fini(&ids);
		m.u.repl.ids = V("");
	}

	bytes_w_reset(&l);
	ck_assert_int_eq(link_put_repl_state(&l, 1, LINK_REPL_DONE, 0), 0);
	ck_assert_int_eq(link_put_repl_state(&l, 2, LINK_REPL_PUBLISHED, 4),
	    0);
	ck_assert_int_eq(link_put_repl_state(&l, 3, LINK_REPL_DONE, 4),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(link_put_repl_state(&l, 3, LINK_REPL_RELEASED, 0),
	    CAIRN_ERR_INVAL);
	ck_assert_int_eq(link_put_repl_state(&l, 3, LINK_REPL_QUEUED, 0),
	    CAIRN_ERR_INVAL);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_STATE;
	m.u.repl.id = V("client-1");
	m.u.repl.n = 2;
	m.u.repl.items = bytes_view_of(l.buf, l.len);
	roundtrip(&m);
	bytes_w_reset(&w);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	list = d.u.repl.items;
	ck_assert(link_repl_state_next(&list, &seq, &state, &pid));
	ck_assert(seq == 1 && state == LINK_REPL_DONE && pid == 0);
	ck_assert(link_repl_state_next(&list, &seq, &state, &pid));
	ck_assert(seq == 2 && state == LINK_REPL_PUBLISHED && pid == 4);
	ck_assert(!link_repl_state_next(&list, &seq, &state, &pid));

	/* Malformed on the wire. */
	ck_assert_int_eq(link_decode(badsub, sizeof(badsub), MAXF, &d,
	    &used), CAIRN_ERR_PROTO);
	memcpy(buf, badsub, sizeof(badsub));
	buf[11] = LINK_REPL_UNSUB;
	ck_assert_int_eq(link_decode(buf, sizeof(badsub), MAXF, &d, &used), 0);
	buf[12] = 1;		/* an unsubscribe with options */
	ck_assert_int_eq(link_decode(buf, sizeof(badsub), MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	buf[11] = 1;		/* QoS 1, no local */
	ck_assert_int_eq(link_decode(buf, sizeof(badsub), MAXF, &d, &used), 0);
	ck_assert(d.u.repl.qos == 1 && d.u.repl.opts == 1);
	buf[12] = 3 << 2;	/* retain handling 3 */
	ck_assert_int_eq(link_decode(buf, sizeof(badsub), MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(donepid, sizeof(donepid), MAXF, &d,
	    &used), CAIRN_ERR_PROTO);
	memcpy(buf, donepid, sizeof(donepid));
	buf[sizeof(donepid) - 1] = 0;
	ck_assert_int_eq(link_decode(buf, sizeof(donepid), MAXF, &d, &used),
	    0);
	buf[sizeof(donepid) - 3] = LINK_REPL_DONE + 1;
	ck_assert_int_eq(link_decode(buf, sizeof(donepid), MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* A count of 2 with one item runs past the body. */
	memcpy(buf, donepid, sizeof(donepid));
	buf[sizeof(donepid) - 1] = 0;
	buf[11] = 2;
	ck_assert_int_eq(link_decode(buf, sizeof(donepid), MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(queuedpid, sizeof(queuedpid), MAXF, &d,
	    &used), CAIRN_ERR_PROTO);
	memcpy(buf, queuedpid, sizeof(queuedpid));
	buf[24] = 0;
	ck_assert_int_eq(link_decode(buf, sizeof(queuedpid), MAXF, &d, &used),
	    0);
	buf[21] = 2;		/* retain 2 */
	ck_assert_int_eq(link_decode(buf, sizeof(queuedpid), MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* REPL_DROP with an empty id. */
	memcpy(buf, "\0\0\0\3\23\0\0", 7);
	ck_assert_int_eq(link_decode(buf, 7, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_str_eq(link_type_name(LINK_REPL_DROP), "REPL_DROP");
	bytes_w_fini(&l);
	bytes_w_fini(&w);
}
END_TEST

/* REPL_STATE's trailer: the client came (0) or went (offline, ms). */
START_TEST(link_codec__repl_state_online)
{
	struct link_msg m, d;
	struct bytes_w w;
	size_t used;
	/* REPL_STATE "c", no item, then the trailer */
	uint8_t buf[32] = { 0, 0, 0, 0, LINK_REPL_STATE, 0, 1, 'c',
	    0, 0, 0, 0 };

	bytes_w_init(&w, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_REPL_STATE;
	m.u.repl.id = V("c");
	m.u.repl.items = V("");
	roundtrip(&m);			/* no trailer */
	m.u.repl.has_online = 1;
	roundtrip(&m);			/* online */
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_uint_eq(w.len, 12 + 1);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.repl.has_online, 1);
	ck_assert_uint_eq(d.u.repl.sess_flags, 0);
	m.u.repl.sess_flags = LINK_SESS_OFFLINE;
	m.u.repl.sess_offline_ms = 7;
	roundtrip(&m);			/* offline for 7 ms */
	bytes_w_reset(&w);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_uint_eq(w.len, 12 + 1 + 8);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_uint_eq(d.u.repl.sess_offline_ms, 7);
	/* Only LINK_SESS_OFFLINE there. */
	m.u.repl.sess_flags = LINK_SESS_OFFLINE | LINK_SESS_V5;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	buf[3] = 8 + 1;
	buf[12] = LINK_SESS_V5;
	ck_assert_int_eq(link_decode(buf, 13, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	/* Offline without its u64; a byte after an online trailer. */
	buf[12] = LINK_SESS_OFFLINE;
	ck_assert_int_eq(link_decode(buf, 13, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	buf[3] = 8 + 2;
	buf[12] = 0;
	buf[13] = 1;
	ck_assert_int_eq(link_decode(buf, 14, MAXF, &d, &used),
	    CAIRN_ERR_PROTO);
	bytes_w_fini(&w);
}
END_TEST

START_TEST(link_codec__decode_refusals)
{
	struct link_msg m;
	size_t used;
	/* length 0 */
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	/* length 1, type 99 */
	static const uint8_t badtype[] = { 0, 0, 0, 1, 99 };
	/* TICK with one trailing byte */
	static const uint8_t trailing[] = { 0, 0, 0, 2, LINK_TICK, 0 };
	/* ROUTE_ADD "a/#/b": '#' not last */
	static const uint8_t badfilter[] = { 0, 0, 0, 8, LINK_ROUTE_ADD,
	    0, 5, 'a', '/', '#', '/', 'b' };
	/* SESSION_TAKE with a NUL in the id */
	static const uint8_t nul[] = { 0, 0, 0, 5, LINK_SESSION_TAKE,
	    0, 2, 'a', 0 };
	/* FORWARD_ACK whose seq runs past the body */
	static const uint8_t shortbody[] = { 0, 0, 0, 3, LINK_FORWARD_ACK,
	    0, 0, 0, 0, 0, 0, 0, 0 };
	/* HELLO of version 0 */
	uint8_t hello[4 + 1 + 1 + 2 + 1 + 32];
	/* length max_frame + 1: known from 4 bytes */
	static const uint8_t big[] = { 0, 1, 0, 1 };

	ck_assert_int_eq(link_decode(zero, sizeof(zero), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(badtype, sizeof(badtype), MAXF, &m,
	    &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(trailing, sizeof(trailing), MAXF, &m,
	    &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(badfilter, sizeof(badfilter), MAXF, &m,
	    &used), CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(nul, sizeof(nul), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	ck_assert_int_eq(link_decode(shortbody, sizeof(shortbody), MAXF, &m,
	    &used), CAIRN_ERR_PROTO);
	memset(hello, 0, sizeof(hello));
	hello[3] = (uint8_t)(sizeof(hello) - 4);
	hello[4] = LINK_HELLO;
	hello[5] = 0;
	hello[7] = 1;
	hello[8] = 'a';
	ck_assert_int_eq(link_decode(hello, sizeof(hello), MAXF, &m, &used),
	    CAIRN_ERR_PROTO);
	hello[5] = LINK_VERSION;
	ck_assert_int_eq(link_decode(hello, sizeof(hello), MAXF, &m, &used),
	    0);
	ck_assert_int_eq(link_decode(big, sizeof(big), MAXF, &m, &used),
	    CAIRN_ERR_TOO_BIG);
	ck_assert_int_eq(link_decode(big, 3, MAXF, &m, &used),
	    CAIRN_ERR_NEED_MORE);
}
END_TEST

START_TEST(link_codec__max_frame_exact)
{
	struct link_msg m, d;
	struct bytes_w w;
	uint8_t *payload;
	size_t used, fixed = 1 + 8 + 1 + 1 + 2 + 1 + 4;

	/* A FORWARD of topic "t" whose frame length is exactly MAXF. */
	payload = calloc(1, MAXF);
	ck_assert_ptr_nonnull(payload);
	bytes_w_init(&w, MAXF * 2);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.topic = V("t");
	m.u.fwd.payload = bytes_view_of(payload, MAXF - fixed);
	ck_assert_int_eq(link_encode(&w, &m, MAXF), 0);
	ck_assert_uint_eq(w.len, 4 + MAXF);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF, &d, &used), 0);
	ck_assert_int_eq(link_decode(w.buf, w.len, MAXF - 1, &d, &used),
	    CAIRN_ERR_TOO_BIG);
	bytes_w_reset(&w);
	m.u.fwd.payload.len++;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	bytes_w_fini(&w);
	free(payload);
}
END_TEST

START_TEST(link_codec__encode_refusals)
{
	struct link_msg m;
	struct bytes_w w;

	bytes_w_init(&w, MAXF);
	memset(&m, 0, sizeof(m));
	m.type = LINK_FORWARD;
	m.u.fwd.topic = V("a/+");	/* a wildcard in a topic name */
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.fwd.topic = V("a");
	m.u.fwd.qos = 3;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	memset(&m, 0, sizeof(m));
	m.type = LINK_CLAIM;
	m.u.claim.id = V("");
	m.u.claim.node = V("n@h");
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.u.claim.id = V("c");
	m.u.claim.flags = 0x02;			/* no such flag */
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	m.type = (enum link_type)0;
	ck_assert_int_eq(link_encode(&w, &m, MAXF), CAIRN_ERR_INVAL);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(link_name_valid(V("\xff")), 0);
	bytes_w_fini(&w);
}
END_TEST

static uint8_t N1[LINK_NONCE_LEN], N2[LINK_NONCE_LEN];

static void
tr_init(struct link_transcript *t)
{
	memset(N1, 1, sizeof(N1));
	memset(N2, 2, sizeof(N2));
	memset(t, 0, sizeof(*t));
	/* The vector below is of a version 2 transcript: fixed, not LINK_VERSION. */
	t->version_i = t->version_r = 2;
	t->name_i = V("a@h");
	t->nonce_i = N1;
	t->name_r = V("b@h");
	t->nonce_r = N2;
}

START_TEST(link_codec__finished_vector)
{
	/* Made with Python's hmac and hashlib (HKDF per RFC 5869). */
	static const uint8_t want_i[] = {
	    0xef, 0x34, 0xb8, 0x13, 0x9b, 0x40, 0xdf, 0x49, 0x61, 0x95, 0xd2,
	    0xf5, 0x2c, 0xff, 0x78, 0x47, 0x5e, 0x20, 0x1a, 0x80, 0x2d, 0x14,
	    0x17, 0xbc, 0x9e, 0x5e, 0x3c, 0xa9, 0x1c, 0xfc, 0x17, 0x8a };
	static const uint8_t want_r[] = {
	    0x65, 0x96, 0x09, 0x4f, 0x17, 0x29, 0x2f, 0x03, 0x47, 0x0d, 0x04,
	    0xe5, 0x66, 0x39, 0x4d, 0x40, 0x4f, 0x66, 0xbf, 0xd6, 0x44, 0x6b,
	    0x59, 0x9f, 0xd5, 0x24, 0x18, 0x29, 0xaf, 0xad, 0x60, 0x50 };
	struct link_transcript t;
	uint8_t a[LINK_MAC_LEN];

	tr_init(&t);
	ck_assert_int_eq(link_finished(V("cookie"), LINK_INITIATOR, &t, a), 0);
	ck_assert_mem_eq(a, want_i, LINK_MAC_LEN);
	ck_assert_int_eq(link_finished(V("cookie"), LINK_RESPONDER, &t, a), 0);
	ck_assert_mem_eq(a, want_r, LINK_MAC_LEN);
}
END_TEST

/* Every field of the transcript, the cookie and the role change the MAC. */
START_TEST(link_codec__finished_every_field)
{
	struct link_transcript t;
	uint8_t base[LINK_MAC_LEN], b[LINK_MAC_LEN], n[LINK_NONCE_LEN];
	static const uint8_t bind[LINK_BINDING_LEN] = { 9 };
	int f;

	tr_init(&t);
	ck_assert_int_eq(link_finished(V("cookie"), LINK_INITIATOR, &t, base),
	    0);
	for (f = 0; f < 11; f++) {
		tr_init(&t);
		memcpy(n, N1, sizeof(n));
		n[LINK_NONCE_LEN - 1] ^= 0x80;
		switch (f) {
		case 0: t.version_i = 3; break;
		case 1: t.name_i = V("a@H"); break;
		case 2: t.nonce_i = n; break;
		case 3: t.version_r = 1; break;
		case 4: t.name_r = V("b@hh"); break;
		case 5: t.nonce_r = n; break;
		case 6: t.binding = bytes_view_of(bind, sizeof(bind)); break;
		/* Splicing a byte from one name into the next one. */
		case 7: t.name_i = V("a@"); t.name_r = V("hb@h"); break;
		/* The names swapped (a reflected transcript). */
		case 8: t.name_i = V("b@h"); t.name_r = V("a@h"); break;
		case 9: break;	/* the cookie, below */
		case 10: break;	/* the role, below */
		}
		ck_assert_int_eq(link_finished(f == 9 ? V("cookiE") :
		    V("cookie"), f == 10 ? LINK_RESPONDER : LINK_INITIATOR,
		    &t, b), 0);
		ck_assert_msg(!link_mac_eq(base, b), "field %d: same MAC", f);
	}
	/* And the same inputs give the same MAC. */
	tr_init(&t);
	ck_assert_int_eq(link_finished(V("cookie"), LINK_INITIATOR, &t, b), 0);
	ck_assert(link_mac_eq(base, b));
}
END_TEST

/* Passes the frames of one side's hs_out to the other, through the codec. */
static enum link_hs_rc
hs_pass(struct link_hs *from, struct link_hs *to)
{
	enum link_hs_rc rc = LINK_HS_MORE;
	struct link_msg out[2], d;
	struct bytes_w w;
	size_t i, n = from->hs_nout, used;

	memcpy(out, from->hs_out, sizeof(out));
	for (i = 0; i < n; i++) {
		bytes_w_init(&w, 4096);
		ck_assert_int_eq(link_encode(&w, &out[i], 4096), 0);
		ck_assert_int_eq(link_decode(w.buf, w.len, 4096, &d, &used), 0);
		rc = link_hs_input(to, &d);
		bytes_w_fini(&w);
		if (rc == LINK_HS_REFUSED)
			break;
	}
	return rc;
}

static void
hs_pair(struct link_hs *i, struct link_hs *r, const char *ci, const char *cr)
{
	memset(N1, 1, sizeof(N1));
	memset(N2, 2, sizeof(N2));
	link_hs_init(i, LINK_INITIATOR, V(ci), V("a@h"), V(""), N1, NULL,
	    NULL);
	link_hs_init(r, LINK_RESPONDER, V(cr), V("b@h"), V(""), N2, NULL,
	    NULL);
}

START_TEST(link_hs__honest_pair)
{
	struct link_hs i, r;

	hs_pair(&i, &r, "cookie", "cookie");
	ck_assert_uint_eq(i.hs_nout, 1);	/* HELLO_I */
	ck_assert_uint_eq(r.hs_nout, 0);	/* the responder waits */
	ck_assert_int_eq(hs_pass(&i, &r), LINK_HS_MORE);
	ck_assert_uint_eq(r.hs_nout, 1);	/* HELLO_R, no proof yet */
	ck_assert_int_eq(r.hs_out[0].type, LINK_HELLO);
	ck_assert_int_eq(hs_pass(&r, &i), LINK_HS_MORE);
	ck_assert_int_eq(i.hs_out[0].type, LINK_AUTH);
	ck_assert_int_eq(hs_pass(&i, &r), LINK_HS_DONE);
	ck_assert_str_eq(r.hs_peer, "a@h");
	ck_assert_int_eq(hs_pass(&r, &i), LINK_HS_DONE);
	ck_assert_str_eq(i.hs_peer, "b@h");
	ck_assert_int_eq(i.hs_state, LINK_HS_UP);
	ck_assert_int_eq(r.hs_state, LINK_HS_UP);
}
END_TEST

START_TEST(link_hs__wrong_cookie)
{
	struct link_hs i, r;

	hs_pair(&i, &r, "cookie", "other");
	ck_assert_int_eq(hs_pass(&i, &r), LINK_HS_MORE);
	ck_assert_int_eq(hs_pass(&r, &i), LINK_HS_MORE);
	ck_assert_int_eq(hs_pass(&i, &r), LINK_HS_REFUSED);
	ck_assert(r.hs_wrong_cookie);
	ck_assert_uint_eq(r.hs_nout, 0);	/* no proof for a stranger */
}
END_TEST

/*
 * Reflection: the initiator's own proof sent back to it as the
 * responder's, and the responder's HELLO nonce echoed as the
 * initiator's: both refused.
 */
START_TEST(link_hs__reflection)
{
	struct link_hs i, r, r2;
	struct link_msg m;

	hs_pair(&i, &r, "cookie", "cookie");
	(void)hs_pass(&i, &r);
	(void)hs_pass(&r, &i);
	ck_assert_int_eq(i.hs_out[0].type, LINK_AUTH);
	m = i.hs_out[0];
	ck_assert_int_eq(link_hs_input(&i, &m), LINK_HS_REFUSED);
	ck_assert(i.hs_wrong_cookie);

	/* Our own nonce in a HELLO. */
	hs_pair(&i, &r, "cookie", "cookie");
	m = r.hs_out[0];
	(void)hs_pass(&i, &r);
	m = r.hs_out[0];
	m.u.hello.name = V("c@h");
	link_hs_init(&r2, LINK_RESPONDER, V("cookie"), V("b@h"), V(""), N2,
	    NULL, NULL);
	memset(&m, 0, sizeof(m));
	m.type = LINK_HELLO;
	m.u.hello.version = LINK_VERSION;
	m.u.hello.name = V("c@h");
	memcpy(m.u.hello.challenge, N2, LINK_NONCE_LEN);
	ck_assert_int_eq(link_hs_input(&r2, &m), LINK_HS_REFUSED);
	ck_assert_uint_eq(r2.hs_nout, 0);
	/* Our own name. */
	link_hs_init(&r2, LINK_RESPONDER, V("cookie"), V("b@h"), V(""), N2,
	    NULL, NULL);
	m.u.hello.name = V("b@h");
	m.u.hello.challenge[0] ^= 1;
	ck_assert_int_eq(link_hs_input(&r2, &m), LINK_HS_REFUSED);
}
END_TEST

static const char *
refuse_check(void *arg, const char *name, const uint8_t *nonce)
{
	return strcmp(name, "a@h") == 0 ? (const char *)arg : NULL;
}

START_TEST(link_hs__order_version_check)
{
	struct link_hs i, r;
	struct link_msg m;

	/* AUTH first. */
	link_hs_init(&r, LINK_RESPONDER, V("c"), V("b@h"), V(""), N2, NULL,
	    NULL);
	memset(&m, 0, sizeof(m));
	m.type = LINK_AUTH;
	ck_assert_int_eq(link_hs_input(&r, &m), LINK_HS_REFUSED);
	/* Anything after a refusal. */
	ck_assert_int_eq(link_hs_input(&r, &m), LINK_HS_REFUSED);
	/* Version 1. */
	hs_pair(&i, &r, "c", "c");
	m = i.hs_out[0];
	m.u.hello.version = 1;
	ck_assert_int_eq(link_hs_input(&r, &m), LINK_HS_REFUSED);
	ck_assert_ptr_nonnull(strstr(r.hs_why, "older link version"));
	/* The owner's check. */
	hs_pair(&i, &r, "c", "c");
	r.hs_check = refuse_check;
	r.hs_check_arg = (void *)"not this one";
	ck_assert_int_eq(hs_pass(&i, &r), LINK_HS_REFUSED);
	ck_assert_str_eq(r.hs_why, "not this one");
	/* A second HELLO where AUTH is due. */
	hs_pair(&i, &r, "c", "c");
	m = i.hs_out[0];
	ck_assert_int_eq(link_hs_input(&r, &m), LINK_HS_MORE);
	m.u.hello.challenge[3] ^= 1;
	ck_assert_int_eq(link_hs_input(&r, &m), LINK_HS_REFUSED);
}
END_TEST

static Suite *
link_codec_suite(void)
{
	Suite *s = suite_create("link_codec");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, link_codec__roundtrip_every_type);
	tcase_add_test(tc, link_codec__forward_groups);
	tcase_add_test(tc, link_codec__forward_v5);
	tcase_add_test(tc, link_codec__forward_v5_refusals);
	tcase_add_test(tc, link_codec__forward_spooled);
	tcase_add_test(tc, link_codec__repl_state_online);
	tcase_add_test(tc, link_codec__retain_v5);
	tcase_add_test(tc, link_codec__session_data_v5);
	tcase_add_test(tc, link_codec__repl_frames);
	tcase_add_test(tc, link_codec__credit);
	tcase_add_test(tc, link_codec__repl_ack);
	tcase_add_test(tc, link_codec__decode_refusals);
	tcase_add_test(tc, link_codec__max_frame_exact);
	tcase_add_test(tc, link_codec__encode_refusals);
	tcase_add_test(tc, link_codec__finished_vector);
	tcase_add_test(tc, link_codec__finished_every_field);
	suite_add_tcase(s, tc);
	tc = tcase_create("handshake");
	tcase_add_test(tc, link_hs__honest_pair);
	tcase_add_test(tc, link_hs__wrong_cookie);
	tcase_add_test(tc, link_hs__reflection);
	tcase_add_test(tc, link_hs__order_version_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(link_codec_suite());
	int nf;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
