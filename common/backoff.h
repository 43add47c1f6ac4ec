/*
 * Jittered exponential backoff ("equal jitter"): the n-th delay is
 * d = min(max, min_ms * 2^n), and the wait is d/2 plus a random part of
 * up to d/2, so peers that failed together do not retry together.
 * Pure: the caller supplies the random number.
 */
#ifndef CAIRN_COMMON_BACKOFF_H
#define CAIRN_COMMON_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint64_t	min_ms;
	uint64_t	max_ms;
	unsigned	attempt;	/* failures since the last reset */
};

void		backoff_init(struct backoff *, uint64_t min_ms, uint64_t max_ms);
/* The next wait in ms, in [d/2, d]; counts one more attempt. */
uint64_t	backoff_next(struct backoff *, uint32_t rnd);
void		backoff_reset(struct backoff *);

#endif
