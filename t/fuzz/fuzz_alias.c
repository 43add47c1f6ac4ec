/*
 * Fuzz target for the outbound topic alias table alone
 * (broker/mqtt/mqtt_alias).  The input is a program:
 *
 *	bytes 0-1	max aliases, big-endian (0: the table is NULL, and
 *			every call must say so)
 *	then ops	op byte (mod 5), then its operands:
 *	  0 send	topic: lookup, and add when fresh (what send.c does
 *			for a delivery)
 *	  1 lookup	topic: lookup only (a PUBLISH dropped before it
 *			went out: nothing recorded)
 *	  2 add		topic, alias byte pair: add with that alias, right
 *			or wrong
 *	  3 long	length byte, fill byte: a send of a topic of
 *			1 + 128 * length bytes, to reach the table's byte
 *			limit
 *	  4 huge	a lookup and an add of a topic over 65535 bytes
 *
 * A topic is a length byte (0..31) and that many bytes, each mapped
 * onto "ab/c", so that topics and probe chains collide often.  The
 * model is the list of (topic, alias) pairs recorded.  Invariants, each
 * an abort: a recorded topic looks up to its alias, never fresh; a new
 * topic is offered alias n + 1 exactly when there is room (max and
 * MQTT_ALIAS_OUT_BYTES) and it is not empty, else 0; an add succeeds
 * only for that alias and records it; a wrong add changes nothing; the
 * count and bytes agree with the model after every op; at the end every
 * recorded topic still finds its alias.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mqtt/mqtt_alias.h"
#include "common/bytes.h"
#include "common/err.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_TOPIC	32
#define FZ_HUGE		(UINT16_MAX + 1)

static const char fz_alpha[4] = { 'a', 'b', '/', 'c' };

struct fz_ent {
	char		*topic;		/* owned copy */
	size_t		 len;
};

struct fz {
	const uint8_t		*p;
	size_t			 left;
	struct mqtt_alias_out	*t;
	uint16_t		 max;
	struct fz_ent		*ents;	/* ents[1..n]: alias -> topic */
	size_t			 n;
	size_t			 bytes;
};

static uint8_t	fz_big[FZ_HUGE];

static int
fz_byte(struct fz *f, uint8_t *b)
{
	if (f->left == 0)
		return -1;
	*b = *f->p++;
	f->left--;
	return 0;
}

/* A short topic from the input into buf; -1 at the end of the input. */
static int
fz_topic(struct fz *f, char *buf, struct bytes_view *v)
{
	uint8_t n, b;
	size_t i;

	if (fz_byte(f, &n) != 0)
		return -1;
	n %= FZ_TOPIC;
	for (i = 0; i < n; i++) {
		if (fz_byte(f, &b) != 0)
			return -1;
		buf[i] = fz_alpha[b & 3];
	}
	*v = bytes_view_of(buf, n);
	return 0;
}

/* The model's alias of topic, or 0. */
static uint16_t
fz_find(const struct fz *f, struct bytes_view v)
{
	size_t a;

	for (a = 1; a <= f->n; a++)
		if (f->ents[a].len == v.len &&
		    memcmp(f->ents[a].topic, v.p, v.len) == 0)
			return (uint16_t)a;
	return 0;
}

/* Whether a new topic v would be offered an alias. */
static int
fz_room(const struct fz *f, struct bytes_view v)
{
	return f->t != NULL && v.len > 0 && v.len <= UINT16_MAX &&
	    f->n < f->max && v.len <= MQTT_ALIAS_OUT_BYTES - f->bytes;
}

static void
fz_record(struct fz *f, struct bytes_view v, uint16_t alias)
{
	char *copy;

	FUZZ_ASSERT(alias == f->n + 1);
	if ((copy = malloc(v.len)) == NULL)
		abort();
	memcpy(copy, v.p, v.len);
	f->ents[alias].topic = copy;
	f->ents[alias].len = v.len;
	f->n = alias;
	f->bytes += v.len;
}

/* lookup, checked against the model; its alias and *fresh. */
static uint16_t
fz_lookup(struct fz *f, struct bytes_view v, int *fresh)
{
	uint16_t a = mqtt_alias_out_lookup(f->t, v, fresh), want;

	if (v.len > 0 && v.len <= UINT16_MAX &&
	    (want = fz_find(f, v)) != 0) {
		FUZZ_ASSERT(a == want);
		FUZZ_ASSERT(*fresh == 0);
	} else if (fz_room(f, v)) {
		FUZZ_ASSERT(a == f->n + 1);
		FUZZ_ASSERT(*fresh == 1);
	} else {
		FUZZ_ASSERT(a == 0);
		FUZZ_ASSERT(*fresh == 0);
	}
	return a;
}

/* add, checked against the model. */
static void
fz_add(struct fz *f, struct bytes_view v, uint16_t alias)
{
	int ok = fz_room(f, v) && alias == f->n + 1 &&
	    fz_find(f, v) == 0;
	int rc = mqtt_alias_out_add(f->t, v, alias);

	if (!ok) {
		FUZZ_ASSERT(rc == CAIRN_ERR_INVAL);
		return;
	}
	/* Out of memory leaves the table as it was. */
	FUZZ_ASSERT(rc == 0 || rc == CAIRN_ERR_NOMEM);
	if (rc == 0)
		fz_record(f, v, alias);
}

/* send.c's order: lookup, then add the fresh alias once it went out. */
static void
fz_send(struct fz *f, struct bytes_view v)
{
	uint16_t a;
	int fresh;

	a = fz_lookup(f, v, &fresh);
	if (fresh)
		fz_add(f, v, a);
}

static void
fz_check(const struct fz *f)
{
	FUZZ_ASSERT(mqtt_alias_out_count(f->t) == f->n);
	FUZZ_ASSERT(mqtt_alias_out_bytes(f->t) == f->bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct bytes_view v;
	char buf[FZ_TOPIC];
	uint8_t op, b0, b1;
	size_t a, len;
	int fresh;

	if (size < 2)
		return 0;
	memset(&f, 0, sizeof(f));
	f.max = (uint16_t)(data[0] << 8 | data[1]);
	f.p = data + 2;
	f.left = size - 2;
	f.t = mqtt_alias_out_new(f.max);
	if (f.max == 0)
		FUZZ_ASSERT(f.t == NULL);
	else if (f.t == NULL)
		return 0;	/* out of memory: nothing to check */
	/* At most one alias per topic byte of the limit. */
	len = f.max < MQTT_ALIAS_OUT_BYTES ? f.max : MQTT_ALIAS_OUT_BYTES;
	if ((f.ents = calloc(len + 1, sizeof(*f.ents))) == NULL)
		abort();
	while (fz_byte(&f, &op) == 0) {
		switch (op % 5) {
		case 0:
			if (fz_topic(&f, buf, &v) != 0)
				goto out;
			fz_send(&f, v);
			break;
		case 1:
			if (fz_topic(&f, buf, &v) != 0)
				goto out;
			(void)fz_lookup(&f, v, &fresh);
			break;
		case 2:
			if (fz_topic(&f, buf, &v) != 0 ||
			    fz_byte(&f, &b0) != 0 || fz_byte(&f, &b1) != 0)
				goto out;
			fz_add(&f, v, (uint16_t)(b0 << 8 | b1));
			break;
		case 3:
			if (fz_byte(&f, &b0) != 0 || fz_byte(&f, &b1) != 0)
				goto out;
			len = 1 + 128 * (size_t)b0;
			memset(fz_big, fz_alpha[b1 & 3], len);
			/* The last byte tells long topics apart. */
			fz_big[len - 1] = b1;
			fz_send(&f, bytes_view_of(fz_big, len));
			break;
		case 4:
			memset(fz_big, 'a', FZ_HUGE);
			v = bytes_view_of(fz_big, FZ_HUGE);
			FUZZ_ASSERT(mqtt_alias_out_lookup(f.t, v, &fresh) ==
			    0 && fresh == 0);
			FUZZ_ASSERT(mqtt_alias_out_add(f.t, v,
			    (uint16_t)(f.n + 1)) == CAIRN_ERR_INVAL);
			break;
		}
		fz_check(&f);
	}
out:
	fz_check(&f);
	for (a = 1; a <= f.n; a++) {
		v = bytes_view_of(f.ents[a].topic, f.ents[a].len);
		FUZZ_ASSERT(mqtt_alias_out_lookup(f.t, v, &fresh) == a);
		FUZZ_ASSERT(fresh == 0);
		free(f.ents[a].topic);
	}
	free(f.ents);
	mqtt_alias_out_free(f.t);
	return 0;
}
