/*
 * trie_bench: match cost of broker/trie against the number of filters.
 *
 * For each size N the trie holds N filters over device ids,
 * "dev/<i>/sensor/temp", "dev/<i>/+/temp", "dev/<i>/#" and
 * "dev/<i>/sensor/+" in turn, so that every topic "dev/<j>/sensor/temp"
 * with j < N matches exactly one filter whatever N is.  It then times
 * trie_match() on such topics (a hit), trie_has_match() on them, and
 * trie_match() on ids past N (a miss), and, side by side, a linear scan
 * of all filters with the reference matcher mqtt_topic_match(), which is
 * what a broker without a trie does.  A flat trie column and a scan
 * column that grows with N is the claim.  Times are per topic, from
 * CLOCK_MONOTONIC: the best of 5 runs of at least 30 ms each.
 *
 * Usage: trie_bench [max_filters]   (default 100000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/mqtt/mqtt_topic.h"
#include "broker/core/trie.h"
#include "common/bytes.h"

#define NTOPICS		1024
#define MIN_NS		30000000.0	/* each run lasts at least this long */
#define REPS		5

static char	topics[NTOPICS][48];
static char	misses[NTOPICS][48];

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static void
filter_of(char *buf, size_t size, size_t i)
{
	switch (i % 4) {
	case 0:
		snprintf(buf, size, "dev/%zu/sensor/temp", i);
		break;
	case 1:
		snprintf(buf, size, "dev/%zu/+/temp", i);
		break;
	case 2:
		snprintf(buf, size, "dev/%zu/#", i);
		break;
	default:
		snprintf(buf, size, "dev/%zu/sensor/+", i);
		break;
	}
}

static void
on_match(void *sub, uint8_t opts, const struct trie_node *filter, void *arg)
{
	(*(size_t *)arg)++;
}

enum op { OP_MATCH, OP_HAS, OP_MISS };

/*
 * Nanoseconds per topic for op, the best of REPS runs of at least
 * MIN_NS each (the minimum is what the code costs; the rest is other
 * load on the machine); *hits is the matches per topic.
 */
static double
time_trie(const struct trie *t, enum op op, double *hits)
{
	double t0, el, best = 0;
	size_t n, i, calls, r;

	for (r = 0; r < REPS; r++) {
		n = calls = 0;
		t0 = now_ns();
		do {
			for (i = 0; i < NTOPICS; i++) {
				if (op == OP_HAS)
					n += (size_t)trie_has_match(t,
					    bytes_view_of(topics[i],
					    strlen(topics[i])));
				else
					(void)trie_match(t, op == OP_MISS ?
					    bytes_view_of(misses[i],
					    strlen(misses[i])) :
					    bytes_view_of(topics[i],
					    strlen(topics[i])), on_match, &n);
			}
			calls += NTOPICS;
			el = now_ns() - t0;
		} while (el < MIN_NS);
		if (r == 0 || el / (double)calls < best)
			best = el / (double)calls;
		*hits = (double)n / (double)calls;
	}
	return best;
}

/* The same with a linear scan of every filter. */
static double
time_scan(char (*filters)[48], size_t nf, double *hits)
{
	double t0, el, best = 0;
	size_t n, calls, i, j, r;

	for (r = 0; r < REPS; r++) {
		n = calls = 0;
		t0 = now_ns();
		do {
			i = calls % NTOPICS;
			for (j = 0; j < nf; j++)
				n += (size_t)mqtt_topic_match(
				    bytes_view_of(filters[j],
				    strlen(filters[j])),
				    bytes_view_of(topics[i],
				    strlen(topics[i])));
			calls++;
			el = now_ns() - t0;
		} while (el < MIN_NS);
		if (r == 0 || el / (double)calls < best)
			best = el / (double)calls;
		*hits = (double)n / (double)calls;
	}
	return best;
}

int
main(int argc, char *argv[])
{
	static const size_t sizes[] = { 1, 1000, 10000, 100000, 1000000 };
	char (*filters)[48];
	struct trie *t;
	struct trie_stats st;
	size_t max = 100000, s, i, n;
	double match, has, miss, scan, h1, h2, h3, h4, add;

	if (argc > 1)
		max = strtoul(argv[1], NULL, 10);
	if ((filters = calloc(max, sizeof(*filters))) == NULL)
		return 1;
	printf("%9s %11s %11s %11s %13s %9s %8s %10s\n", "filters",
	    "match ns", "has ns", "miss ns", "scan ns", "scan/trie",
	    "hits", "B/filter");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		n = sizes[s];
		if (n > max)
			break;
		if ((t = trie_new()) == NULL)
			return 1;
		trie_set_limits(t, SIZE_MAX, SIZE_MAX);
		add = now_ns();
		for (i = 0; i < n; i++) {
			filter_of(filters[i], sizeof(filters[i]), i);
			if (trie_add(t, bytes_view_of(filters[i],
			    strlen(filters[i])), &filters[i], 1, NULL) != 0)
				return 1;
		}
		add = (now_ns() - add) / (double)n;
		for (i = 0; i < NTOPICS; i++) {
			snprintf(topics[i], sizeof(topics[i]),
			    "dev/%u/sensor/temp", rnd((uint32_t)n));
			snprintf(misses[i], sizeof(misses[i]),
			    "dev/%zu/sensor/temp", n + rnd((uint32_t)n));
		}
		match = time_trie(t, OP_MATCH, &h1);
		has = time_trie(t, OP_HAS, &h2);
		miss = time_trie(t, OP_MISS, &h3);
		scan = time_scan(filters, n, &h4);
		trie_stats(t, &st);
		if (h1 != 1.0 || h2 != 1.0 || h3 != 0.0 || h4 != 1.0) {
			fprintf(stderr, "trie_bench: wrong hit counts\n");
			return 1;
		}
		printf("%9zu %11.1f %11.1f %11.1f %13.1f %9.0f %8.1f %10.1f"
		    "   (add %.0f ns)\n", n, match, has, miss, scan,
		    scan / match, h1, (double)st.ts_bytes / (double)n, add);
		trie_free(t);
	}
	free(filters);
	return 0;
}
