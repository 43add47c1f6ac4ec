/*
 * Growing a ring of fixed-size elements kept by its owner as (base,
 * cap, head, n): element i from the head is at (head + i) % cap.  Only
 * the growth lives here; pushing and popping are one line each where
 * the ring is used.
 */
#ifndef CAIRN_COMMON_FIFO_H
#define CAIRN_COMMON_FIFO_H

#include <stddef.h>

/*
 * Doubles *cap (or makes it `first` when 0) into a new array holding
 * the n elements of `size` bytes in order from its start; *head becomes
 * 0 and the old array is freed.  0, or CAIRN_ERR_NOMEM (or
 * CAIRN_ERR_INVAL on overflow) with the ring untouched.
 */
int	fifo_grow(void **base, size_t *cap, size_t *head, size_t n,
	    size_t size, size_t first);

#endif
