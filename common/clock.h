/*
 * Monotonic time in milliseconds, for deadlines and backoff.  Wall time
 * stays with time(3) where a protocol wants it (epmd's creation seed).
 */
#ifndef CAIRN_COMMON_CLOCK_H
#define CAIRN_COMMON_CLOCK_H

#include <stdint.h>

uint64_t	clock_ms(void);

#endif
