/*
 * A histogram after HdrHistogram: values below 128 have a bucket each, and
 * every power of two above is cut into 64 buckets, so a percentile is off
 * by at most 1/64 of its value, whatever the range (1 ns to hours).
 */
#include "bench.h"

/* Bucket of v: v itself below 128; else 64 per power of two. */
static unsigned bucket(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	unsigned k = (unsigned)(63 - __builtin_clzll(v)) - 6;
	return k * 64 + (unsigned)(v >> k);
}

void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* The middle of bucket i. */
static double middle(unsigned i)
{
	if (i < 128)
		return i;
	unsigned k = (i - 64) / 64;
	uint64_t lo = (uint64_t)(i - 64 * k) << k;
	return (double)lo + (double)((UINT64_C(1) << k) - 1) / 2;
}

double bench_hist_at(const struct bench_hist *h, double q)
{
	if (!h->count)
		return 0;
	double want = q * (double)h->count;
	uint64_t rank = (uint64_t)want, seen = 0;
	if ((double)rank < want)
		rank++; /* rounded up: the rank at or above q */
	if (rank < 1)
		rank = 1;
	if (rank >= h->count)
		return (double)h->max;
	for (unsigned i = 0; i < BENCH_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return middle(i) < (double)h->max ? middle(i)
			                                   : (double)h->max;
	}
	return (double)h->max;
}
