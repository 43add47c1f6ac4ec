/*
 * The fuzz targets' invariant check: a broken one prints where and
 * what, then aborts, so that libFuzzer (or the replay runner) keeps the
 * input as a crash.  Unlike assert(3), never compiled out.
 */
#ifndef CAIRN_T_FUZZ_ASSERT_H
#define CAIRN_T_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

#endif
