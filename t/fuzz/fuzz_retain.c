/*
 * Fuzz target for the retained store and its index (broker/retain,
 * broker/retain_index).  The input is a program over a small alphabet:
 *
 *	byte 0		max_messages (1..64)
 *	byte 1		max_retained_bytes: store's empty size + 64 * byte
 *	byte 2		max_message_size (payload bytes)
 *	then ops	op byte, then its operands:
 *	  0 put		topic, payload length byte
 *	  1 clear	topic (an empty payload)
 *	  2 match	filter: retain_match() against mqtt_topic_match()
 *			over the model, message for message
 *	  3 cursor	filter: a new cursor (the old one is freed)
 *	  4 step	budget byte: the cursor walks that many nodes
 *	  5 put5	topic, payload length byte, expiry byte: a put of a
 *			message expiring at 1 + byte (MQTT 5.0)
 *	  6 expire	now byte, max byte: retain_expire(now, max % 8)
 *
 * A topic or filter is a length byte (0..15) and that many bytes, each
 * mapped onto "ab/$+#c/", so that levels, wildcards and '$' collide
 * often; an invalid one is skipped.  The model is the list of retained
 * (topic, message) pairs.  Invariants, each an abort: the store agrees
 * with the model after every op (count, exact lookups); a refused
 * message leaves its topic empty, and the limits hold; every cursor
 * return is a message that matched and was retained when the cursor was
 * made, is still the topic's message, and comes once; at its end every
 * such message whose topic was not touched meanwhile has come; clearing
 * everything gives every byte back; an expiry sweep drops only expired
 * messages, as many as it says, all of them when under its max, and
 * the soonest expiry left is the model's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/msg.h"
#include "broker/mqtt/mqtt_topic.h"
#include "broker/core/retain.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_MODEL	64
#define FZ_TOPIC	16

static const char fz_alpha[8] = { 'a', 'b', '/', '$', '+', '#', 'c', '/' };

struct fz_ent {
	char		 topic[FZ_TOPIC];
	size_t		 len;
	struct msg	*m;		/* NULL: free slot; the store's */
	uint64_t	 at;		/* its expiry (the store may free m) */
	int		 initial;	/* retained when the cursor was made */
	int		 touched;	/* set or cleared since */
	int		 seen;		/* returned by the cursor */
};

struct fz {
	const uint8_t	*p;
	size_t		 left;
	struct retain	*r;
	struct fz_ent	 ents[FZ_MODEL];
	size_t		 max_bytes;
	struct retain_index_cursor *cur;
	char		 cur_filter[FZ_TOPIC];
	size_t		 cur_len;
};

static int
fz_byte(struct fz *f, uint8_t *b)
{
	if (f->left == 0)
		return 0;
	*b = *f->p++;
	f->left--;
	return 1;
}

/* A mapped string into buf (FZ_TOPIC); its length, or -1 at the end. */
static int
fz_string(struct fz *f, char *buf)
{
	uint8_t n, b;
	int i;

	if (!fz_byte(f, &n))
		return -1;
	n %= FZ_TOPIC;
	for (i = 0; i < n; i++) {
		if (!fz_byte(f, &b))
			return -1;
		buf[i] = fz_alpha[b % 8];
	}
	return n;
}

static struct fz_ent *
fz_find(struct fz *f, const char *t, size_t len)
{
	size_t i;

	for (i = 0; i < FZ_MODEL; i++)
		if (f->ents[i].m != NULL && f->ents[i].len == len &&
		    memcmp(f->ents[i].topic, t, len) == 0)
			return &f->ents[i];
	return NULL;
}

static size_t
fz_count(const struct fz *f)
{
	size_t i, n = 0;

	for (i = 0; i < FZ_MODEL; i++)
		n += f->ents[i].m != NULL;
	return n;
}

static void
fz_touch(struct fz_ent *e)
{
	e->touched = 1;
}

/*
 * Stores (or clears, when plen is 0) topic t and mirrors it; the
 * message expires at `at` (0: never).
 */
static void
fz_set(struct fz *f, const char *t, size_t len, size_t plen, uint64_t at)
{
	static const uint8_t zeros[256];
	struct fz_ent *e = fz_find(f, t, len);
	struct msg_args a;
	struct msg *m;
	enum retain_limit why;
	size_t i;
	int rc;

	if (!mqtt_topic_name_valid(bytes_view_of(t, len)))
		return;
	if (e == NULL && plen > 0 && fz_count(f) == FZ_MODEL)
		return;
	memset(&a, 0, sizeof(a));
	a.ma_topic = bytes_view_of(t, len);
	a.ma_payload = bytes_view_of(zeros, plen);
	a.ma_qos = 1;
	a.ma_retain = 1;
	a.ma_expire_at = at;
	m = msg_new_ex(&a);
	FUZZ_ASSERT(m != NULL);
	rc = retain_store(f->r, m, &why);
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_LIMIT ||
	    rc == CAIRN_ERR_TOO_BIG);
	FUZZ_ASSERT((rc == 0) == (why == RETAIN_LIMIT_NONE));
	if (e != NULL) {
		fz_touch(e);
		e->m = NULL;
	}
	if (rc == 0 && plen > 0) {
		if (e == NULL) {
			for (i = 0; f->ents[i].m != NULL; i++)
				continue;
			e = &f->ents[i];
			memset(e, 0, sizeof(*e));
			memcpy(e->topic, t, len);
			e->len = len;
			e->touched = 1;
		}
		e->m = m;
		e->at = at;
		FUZZ_ASSERT(retain_get(f->r, msg_topic(m)) == m);
	} else
		FUZZ_ASSERT(retain_get(f->r, bytes_view_of(t, len)) == NULL);
	FUZZ_ASSERT(retain_bytes(f->r) <= f->max_bytes);
	FUZZ_ASSERT(retain_count(f->r) == fz_count(f));
	msg_unref(m);
}

struct fz_match {
	struct fz	*f;
	struct bytes_view filter;
	size_t		 n;
	uint8_t		 hit[FZ_MODEL];
};

static void
fz_on_match(struct msg *m, void *arg)
{
	struct fz_match *fm = arg;
	size_t i;

	for (i = 0; i < FZ_MODEL; i++)
		if (fm->f->ents[i].m == m)
			break;
	FUZZ_ASSERT(i < FZ_MODEL);
	FUZZ_ASSERT(!fm->hit[i]);
	FUZZ_ASSERT(mqtt_topic_match(fm->filter, msg_topic(m)));
	fm->hit[i] = 1;
	fm->n++;
}

static void
fz_match(struct fz *f, const char *flt, size_t len)
{
	struct fz_match fm;
	size_t i, want = 0;

	memset(&fm, 0, sizeof(fm));
	fm.f = f;
	fm.filter = bytes_view_of(flt, len);
	if (!mqtt_topic_filter_valid(fm.filter))
		return;
	FUZZ_ASSERT(retain_match(f->r, fm.filter, fz_on_match, &fm) == fm.n);
	for (i = 0; i < FZ_MODEL; i++)
		if (f->ents[i].m != NULL &&
		    mqtt_topic_match(fm.filter, msg_topic(f->ents[i].m)))
			want++;
	FUZZ_ASSERT(fm.n == want);
}

/* The end of a cursor: every untouched match of its start has come. */
static void
fz_cursor_end(struct fz *f)
{
	size_t i;

	if (f->cur == NULL)
		return;
	if (retain_index_cursor_done(f->cur))
		for (i = 0; i < FZ_MODEL; i++)
			FUZZ_ASSERT(!f->ents[i].initial ||
			    f->ents[i].touched || f->ents[i].seen);
	retain_cursor_free(f->cur);
	f->cur = NULL;
}

static void
fz_cursor(struct fz *f, const char *flt, size_t len)
{
	struct bytes_view fv = bytes_view_of(flt, len);
	size_t i;

	fz_cursor_end(f);
	if (!mqtt_topic_filter_valid(fv))
		return;
	f->cur = retain_cursor_new(f->r, fv);
	FUZZ_ASSERT(f->cur != NULL);
	memcpy(f->cur_filter, flt, len);
	f->cur_len = len;
	for (i = 0; i < FZ_MODEL; i++) {
		f->ents[i].initial = f->ents[i].m != NULL &&
		    mqtt_topic_match(fv, msg_topic(f->ents[i].m));
		f->ents[i].touched = 0;
		f->ents[i].seen = 0;
	}
}

/* The soonest expiry in the model, 0 if none. */
static uint64_t
fz_next_expiry(const struct fz *f)
{
	uint64_t at = 0;
	size_t i;

	for (i = 0; i < FZ_MODEL; i++)
		if (f->ents[i].m != NULL && f->ents[i].at != 0 &&
		    (at == 0 || f->ents[i].at < at))
			at = f->ents[i].at;
	return at;
}

static void
fz_expire(struct fz *f, uint64_t now, size_t max)
{
	struct fz_ent *e;
	size_t i, n, gone = 0, left = 0;

	FUZZ_ASSERT(retain_next_expiry(f->r) == fz_next_expiry(f));
	n = retain_expire(f->r, now, max);
	FUZZ_ASSERT(n <= max);
	for (i = 0; i < FZ_MODEL; i++) {
		e = &f->ents[i];
		if (e->m == NULL)
			continue;
		/* A message the sweep dropped is freed: the model's copy of
		 * its topic and expiry are what is left to check. */
		if (retain_get(f->r, bytes_view_of(e->topic, e->len)) != NULL) {
			left += e->at != 0 && e->at <= now;
			continue;
		}
		FUZZ_ASSERT(e->at != 0 && e->at <= now);
		fz_touch(e);
		e->m = NULL;
		gone++;
	}
	FUZZ_ASSERT(gone == n);
	FUZZ_ASSERT(n == max || left == 0);
	FUZZ_ASSERT(retain_count(f->r) == fz_count(f));
	FUZZ_ASSERT(retain_next_expiry(f->r) == fz_next_expiry(f));
}

static void
fz_step(struct fz *f, size_t budget)
{
	struct msg *m;
	size_t i;

	if (f->cur == NULL)
		return;
	while ((m = retain_cursor_next(f->cur, &budget)) != NULL) {
		for (i = 0; i < FZ_MODEL; i++)
			if (f->ents[i].m == m)
				break;
		FUZZ_ASSERT(i < FZ_MODEL);
		FUZZ_ASSERT(f->ents[i].initial && !f->ents[i].seen);
		f->ents[i].seen = 1;
	}
	if (retain_index_cursor_done(f->cur))
		fz_cursor_end(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	char buf[FZ_TOPIC];
	uint8_t b0, b1, b2, op, n, x;
	size_t empty, i;
	int len;

	memset(&f, 0, sizeof(f));
	f.p = data;
	f.left = size;
	if (!fz_byte(&f, &b0) || !fz_byte(&f, &b1) || !fz_byte(&f, &b2))
		return 0;
	f.r = retain_new(1 + b0 % 64, 7);
	FUZZ_ASSERT(f.r != NULL);
	empty = retain_bytes(f.r);
	f.max_bytes = empty + 64 * (size_t)b1;
	retain_set_limits(f.r, 1 + b0 % 64, f.max_bytes, b2);
	while (fz_byte(&f, &op)) {
		switch (op % 7) {
		case 0:
			if ((len = fz_string(&f, buf)) < 0 || !fz_byte(&f, &n))
				goto out;
			fz_set(&f, buf, (size_t)len, n, 0);
			break;
		case 1:
			if ((len = fz_string(&f, buf)) < 0)
				goto out;
			fz_set(&f, buf, (size_t)len, 0, 0);
			break;
		case 2:
			if ((len = fz_string(&f, buf)) < 0)
				goto out;
			fz_match(&f, buf, (size_t)len);
			break;
		case 3:
			if ((len = fz_string(&f, buf)) < 0)
				goto out;
			fz_cursor(&f, buf, (size_t)len);
			break;
		case 4:
			if (!fz_byte(&f, &n))
				goto out;
			fz_step(&f, n % 8);
			break;
		case 5:
			if ((len = fz_string(&f, buf)) < 0 ||
			    !fz_byte(&f, &n) || !fz_byte(&f, &x))
				goto out;
			fz_set(&f, buf, (size_t)len, n, 1 + (uint64_t)x);
			break;
		case 6:
			if (!fz_byte(&f, &n) || !fz_byte(&f, &x))
				goto out;
			fz_expire(&f, n, x % 8);
			break;
		}
	}
out:
	/* Walk what is left to its end, then clear everything. */
	fz_step(&f, SIZE_MAX);
	fz_cursor_end(&f);
	for (i = 0; i < FZ_MODEL; i++)
		if (f.ents[i].m != NULL)
			fz_set(&f, f.ents[i].topic, f.ents[i].len, 0, 0);
	FUZZ_ASSERT(retain_count(f.r) == 0);
	FUZZ_ASSERT(retain_bytes(f.r) == empty);
	retain_free(f.r);
	return 0;
}
