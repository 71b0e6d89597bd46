/* hist.c -- the log-linear latency histogram (see hist.h). */
#include "bench/hist.h"

#include <math.h>
#include <string.h>

void sk_hist_init(sk_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t sk_hist_index(uint64_t ns)
{
    if (ns < 2 * SK_HIST_SUB)
        return (size_t)ns;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    if (msb > SK_HIST_MAX_BITS)
        return SK_HIST_BUCKETS - 1;
    /* The top bit plus SUB_BITS below it choose the bucket: mantissa is in
     * [SUB, 2 SUB), and each octave above the linear part adds SUB buckets. */
    unsigned shift = msb - SK_HIST_SUB_BITS;
    uint64_t mantissa = ns >> shift;
    return (size_t)(shift + 1) * SK_HIST_SUB + (size_t)(mantissa - SK_HIST_SUB);
}

void sk_hist_bucket_range(size_t idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < 2 * SK_HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    unsigned shift = (unsigned)(idx / SK_HIST_SUB) - 1;
    uint64_t mantissa = SK_HIST_SUB + idx % SK_HIST_SUB;
    *lo = mantissa << shift;
    *hi = *lo + ((uint64_t)1 << shift) - 1;
}

void sk_hist_record(sk_hist_t *h, uint64_t ns)
{
    h->buckets[sk_hist_index(ns)]++;
    h->count++;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    long double v = (long double)ns;
    h->sum += v;
    h->sumsq += v * v;
}

void sk_hist_merge(sk_hist_t *dst, const sk_hist_t *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum += src->sum;
    dst->sumsq += src->sumsq;
}

uint64_t sk_hist_percentile(const sk_hist_t *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    /* Nearest rank: the ceil(p/100 * n)-th smallest value, at least the
     * first. */
    double r = ceil(p / 100.0 * (double)h->count);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
    uint64_t seen = 0;
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            sk_hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}

double sk_hist_mean(const sk_hist_t *h)
{
    return h->count == 0 ? 0.0 : (double)(h->sum / (long double)h->count);
}

double sk_hist_stddev(const sk_hist_t *h)
{
    if (h->count == 0)
        return 0.0;
    long double n = (long double)h->count;
    long double mean = h->sum / n;
    long double var = h->sumsq / n - mean * mean;
    return var > 0 ? (double)sqrtl(var) : 0.0;
}
