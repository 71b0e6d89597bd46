/* test_hist.c -- unit tests for the latency histogram (src/bench/hist.c):
 * bucket error bound over 100 ns..100 s, percentiles against a sorted
 * reference on known distributions, exact mean/stddev, merge, edges. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/hist.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    /* xorshift64: deterministic, so a failure reproduces. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double urand(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of a sorted array. */
static uint64_t ref_percentile(const uint64_t *v, size_t n, double p)
{
    if (p >= 100.0)
        return v[n - 1];
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

static void assert_close(uint64_t got, uint64_t want, double rel)
{
    double err = fabs((double)got - (double)want);
    if (err > rel * (double)want + 0.5)
        fail_msg("got %llu, want %llu (error %.4f%% > %.2f%%)", (unsigned long long)got,
                 (unsigned long long)want, 100.0 * err / (double)want, 100.0 * rel);
}

static sk_hist_t *hist_new(void)
{
    sk_hist_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    sk_hist_init(h);
    return h;
}

/* Every bucket from 100 ns to 100 s is at most 1/128 of its lower bound
 * wide, so its middle is within 0.4% of any value in it; indices are
 * contiguous and ranges tile the axis without gaps. */
static void test_bucket_error_bound(void **state)
{
    (void)state;
    size_t first = sk_hist_index(100), last = sk_hist_index(100000000000ull);
    assert_true(last < SK_HIST_BUCKETS);
    uint64_t prev_hi = 0;
    for (size_t i = 0; i <= last; i++) {
        uint64_t lo, hi;
        sk_hist_bucket_range(i, &lo, &hi);
        if (i > 0)
            assert_int_equal(lo, prev_hi + 1);
        prev_hi = hi;
        assert_int_equal(sk_hist_index(lo), i);
        assert_int_equal(sk_hist_index(hi), i);
        if (i >= first) {
            uint64_t mid = lo + (hi - lo) / 2;
            assert_true((double)(hi - lo) <= (double)lo / 128.0);
            assert_true(fabs((double)mid - (double)lo) <= 0.01 * (double)lo);
            assert_true(fabs((double)hi - (double)mid) <= 0.01 * (double)hi);
        }
    }
    /* Random values: the reported single value is within 1%. */
    sk_hist_t *h = hist_new();
    for (int k = 0; k < 2000; k++) {
        uint64_t v = (uint64_t)(pow(10.0, urand() * 9.0) * 100.0); /* 100 ns..100 s */
        sk_hist_init(h);
        sk_hist_record(h, v);
        sk_hist_record(h, UINT64_MAX / 4); /* so min/max clamping does not hide errors */
        sk_hist_record(h, 1);
        assert_close(sk_hist_percentile(h, 50), v, 0.01);
    }
    free(h);
    /* Values beyond the top octave land in the last bucket; max stays exact. */
    assert_int_equal(sk_hist_index(UINT64_MAX), SK_HIST_BUCKETS - 1);
}

static void check_against_reference(sk_hist_t *h, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    static const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        assert_close(sk_hist_percentile(h, ps[i]), ref_percentile(v, n, ps[i]), 0.01);
    assert_int_equal(h->count, n);
    assert_int_equal(h->min, v[0]);
    assert_int_equal(h->max, v[n - 1]);
    long double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++)
        sum += (long double)v[i];
    long double mean = sum / (long double)n;
    for (size_t i = 0; i < n; i++)
        sq += ((long double)v[i] - mean) * ((long double)v[i] - mean);
    double sd = (double)sqrtl(sq / (long double)n);
    assert_true(fabs(sk_hist_mean(h) - (double)mean) <= 1e-9 * (double)mean);
    assert_true(fabs(sk_hist_stddev(h) - sd) <= 1e-6 * sd + 1e-6);
}

static void test_uniform(void **state)
{
    (void)state;
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof(*v));
    sk_hist_t *h = hist_new();
    for (size_t i = 0; i < n; i++) {
        v[i] = 10000 + rng() % 90000; /* 10..100 us */
        sk_hist_record(h, v[i]);
    }
    check_against_reference(h, v, n);
    free(v);
    free(h);
}

static void test_lognormal_with_tail(void **state)
{
    (void)state;
    size_t n = 300000;
    uint64_t *v = malloc(n * sizeof(*v));
    sk_hist_t *h = hist_new();
    for (size_t i = 0; i < n; i++) {
        /* Box-Muller normal, exp() of it around 20 us, plus rare 1-50 ms
         * stalls: the shape of a loaded server's round trips. */
        double z = sqrt(-2.0 * log(urand() + 1e-300)) * cos(2.0 * M_PI * urand());
        double x = 20000.0 * exp(0.5 * z);
        if (rng() % 1000 == 0)
            x = 1e6 + urand() * 49e6;
        v[i] = (uint64_t)x;
        sk_hist_record(h, v[i]);
    }
    check_against_reference(h, v, n);
    free(v);
    free(h);
}

static void test_exact_small_values(void **state)
{
    (void)state;
    /* Below 256 ns every value has its own bucket: percentiles are exact. */
    sk_hist_t *h = hist_new();
    for (uint64_t x = 1; x <= 100; x++)
        sk_hist_record(h, x);
    assert_int_equal(sk_hist_percentile(h, 50), 50);
    assert_int_equal(sk_hist_percentile(h, 90), 90);
    assert_int_equal(sk_hist_percentile(h, 99), 99);
    assert_int_equal(sk_hist_percentile(h, 100), 100);
    assert_int_equal(sk_hist_percentile(h, 0.001), 1);
    assert_true(fabs(sk_hist_mean(h) - 50.5) < 1e-9);
    /* Population stddev of 1..100 is sqrt((100^2 - 1) / 12). */
    assert_true(fabs(sk_hist_stddev(h) - sqrt(9999.0 / 12.0)) < 1e-6);
    free(h);
}

static void test_constant_and_empty(void **state)
{
    (void)state;
    sk_hist_t *h = hist_new();
    assert_int_equal(sk_hist_percentile(h, 50), 0);
    assert_true(sk_hist_mean(h) == 0.0);
    assert_true(sk_hist_stddev(h) == 0.0);
    for (int i = 0; i < 1000; i++)
        sk_hist_record(h, 123456789);
    /* min/max clamping makes a constant distribution exact. */
    assert_int_equal(sk_hist_percentile(h, 50), 123456789);
    assert_int_equal(sk_hist_percentile(h, 99.99), 123456789);
    assert_true(sk_hist_stddev(h) < 1e-3);
    free(h);
}

static void test_merge(void **state)
{
    (void)state;
    size_t n = 100000;
    uint64_t *v = malloc(2 * n * sizeof(*v));
    sk_hist_t *a = hist_new(), *b = hist_new(), *all = hist_new();
    for (size_t i = 0; i < 2 * n; i++) {
        /* Two different distributions, as two threads would see. */
        v[i] = i < n ? 5000 + rng() % 1000 : 1000000 + rng() % 9000000;
        sk_hist_record(i < n ? a : b, v[i]);
        sk_hist_record(all, v[i]);
    }
    sk_hist_t *m = hist_new();
    sk_hist_merge(m, a);
    sk_hist_merge(m, b);
    assert_memory_equal(m->buckets, all->buckets, sizeof(m->buckets));
    assert_int_equal(m->count, all->count);
    assert_int_equal(m->min, all->min);
    assert_int_equal(m->max, all->max);
    check_against_reference(m, v, 2 * n);
    /* Merging an empty histogram changes nothing (min stays). */
    sk_hist_t *e = hist_new();
    sk_hist_merge(m, e);
    assert_int_equal(m->min, all->min);
    free(v);
    free(a);
    free(b);
    free(all);
    free(m);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_error_bound),  cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_lognormal_with_tail), cmocka_unit_test(test_exact_small_values),
        cmocka_unit_test(test_constant_and_empty),  cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
