/* hist.h -- a log-linear latency histogram for the benchmarks: constant
 * memory (~35 KiB), O(1) record, mergeable across threads, at most 0.4%
 * relative error (bucket half-width) from 1 ns to ~18 minutes. Values are
 * nanoseconds from the monotonic clock.
 *
 * Layout (HdrHistogram's idea, written for sockkit): values below 256 get
 * one bucket each; above, every power of two [2^m, 2^(m+1)) is split into
 * 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide. */
#ifndef SK_BENCH_HIST_H
#define SK_BENCH_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SK_HIST_SUB_BITS 7
#define SK_HIST_SUB (1u << SK_HIST_SUB_BITS)
/* Largest exponent kept apart: 2^40 ns is about 18 minutes; larger values
 * land in the top bucket (max stays exact). */
#define SK_HIST_MAX_BITS 40
#define SK_HIST_BUCKETS ((SK_HIST_MAX_BITS - SK_HIST_SUB_BITS + 2) * SK_HIST_SUB)

typedef struct sk_hist {
    uint64_t count;
    uint64_t min, max;      /* exact; min is UINT64_MAX while empty */
    long double sum, sumsq; /* exact mean and stddev (not from buckets) */
    uint64_t buckets[SK_HIST_BUCKETS];
} sk_hist_t;

/* Empties h (a zeroed struct is not empty: min must be UINT64_MAX). */
void sk_hist_init(sk_hist_t *h);

/* Records one value in nanoseconds. */
void sk_hist_record(sk_hist_t *h, uint64_t ns);

/* Adds every value of src to dst (per-thread histograms into one). */
void sk_hist_merge(sk_hist_t *dst, const sk_hist_t *src);

/* The bucket index of a value, and the value range [lo, hi] a bucket
 * covers (exposed for the error-bound test). */
size_t sk_hist_index(uint64_t ns);
void sk_hist_bucket_range(size_t idx, uint64_t *lo, uint64_t *hi);

/* The value at percentile p (0 < p <= 100) by nearest rank: the smallest
 * recorded value v such that at least p% of the values are <= v, given as
 * the middle of its bucket clamped to [min, max]. 0 when empty. */
uint64_t sk_hist_percentile(const sk_hist_t *h, double p);

double sk_hist_mean(const sk_hist_t *h);   /* ns; 0 when empty */
double sk_hist_stddev(const sk_hist_t *h); /* ns, population; 0 when empty */

#endif
