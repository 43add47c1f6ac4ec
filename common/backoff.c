/*
 * Jittered exponential backoff; see backoff.h.
 */
#include "common/backoff.h"

void
backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms)
{
	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->attempt = 0;
}

uint64_t
backoff_next(struct backoff *b, uint32_t rnd)
{
	uint64_t d = b->min_ms;
	unsigned i;

	for (i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	return d / 2 + (uint64_t)rnd % (d - d / 2 + 1);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
