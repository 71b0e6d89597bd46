/* test_report.c -- unit tests for the benchmark report (src/bench/report.c):
 * the --json object carries the design's keys with the right values and
 * only where they apply; the human tables show every applicable row. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/report.h"

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL)
        fail_msg("key %s missing", k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_json_all_keys(void **state)
{
    (void)state;
    sk_hist_t *h = malloc(sizeof(*h));
    sk_hist_init(h);
    for (uint64_t i = 1; i <= 1000; i++)
        sk_hist_record(h, i * 1000); /* 1..1000 us */
    sk_bench_result_t r = {.label = "tcp",
                           .elapsed_s = 2.0,
                           .hist = h,
                           .errors = 3,
                           .requests = 1000,
                           .bytes = 4000000000ull,
                           .has_requests = true,
                           .has_bytes = true};
    json_t *o = sk_bench_json(&r);
    assert_non_null(o);
    static const char *const keys[] = {
        "count",  "errors",   "mean_us",   "p50_us", "p90_us",      "p99_us",    "p999_us",
        "max_us", "requests", "req_per_s", "bytes",  "bytes_per_s", "gbit_per_s"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        (void)num(o, keys[i]);
    assert_true(json_is_integer(json_object_get(o, "count")));
    assert_true(json_is_integer(json_object_get(o, "requests")));
    assert_true(json_is_integer(json_object_get(o, "bytes")));
    assert_int_equal((int)num(o, "count"), 1000);
    assert_int_equal((int)num(o, "errors"), 3);
    assert_true(fabs(num(o, "mean_us") - 500.5) < 0.01);
    assert_true(fabs(num(o, "p50_us") - 500) <= 5);
    assert_true(fabs(num(o, "p99_us") - 990) <= 10);
    assert_true(fabs(num(o, "p999_us") - 999) <= 10);
    assert_true(fabs(num(o, "max_us") - 1000) < 1e-9);
    assert_true(fabs(num(o, "req_per_s") - 500) < 1e-9);
    assert_true(fabs(num(o, "bytes_per_s") - 2e9) < 1e-3);
    assert_true(fabs(num(o, "gbit_per_s") - 16.0) < 1e-9);
    json_decref(o);
    free(h);
}

static void test_json_only_applicable(void **state)
{
    (void)state;
    /* Throughput: bytes but no latencies and no requests. */
    sk_bench_result_t r = {.label = "x", .elapsed_s = 1.0, .bytes = 10, .has_bytes = true};
    json_t *o = sk_bench_json(&r);
    assert_non_null(o);
    assert_null(json_object_get(o, "p50_us"));
    assert_null(json_object_get(o, "count"));
    assert_null(json_object_get(o, "requests"));
    assert_non_null(json_object_get(o, "bytes_per_s"));
    assert_non_null(json_object_get(o, "errors"));
    json_decref(o);
    /* A zero duration (interrupted at once) gives rates of 0, not NaN. */
    r.elapsed_s = 0;
    o = sk_bench_json(&r);
    assert_true(num(o, "bytes_per_s") == 0.0);
    char *s = json_dumps(o, 0);
    assert_non_null(s);
    assert_null(strstr(s, "nan"));
    free(s);
    json_decref(o);
}

static void test_tables(void **state)
{
    (void)state;
    sk_hist_t *h = malloc(sizeof(*h));
    sk_hist_init(h);
    sk_hist_record(h, 15000);
    sk_bench_result_t r[2] = {
        {.label = "tcp", .elapsed_s = 1, .hist = h, .requests = 1, .has_requests = true},
        {.label = "unix", .elapsed_s = 1, .bytes = 5, .has_bytes = true},
    };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sk_bench_print_compare(f, r, 2);
    sk_bench_print(f, &r[0]);
    fclose(f);
    assert_non_null(strstr(buf, "tcp"));
    assert_non_null(strstr(buf, "unix"));
    assert_non_null(strstr(buf, "p99 us"));
    assert_non_null(strstr(buf, "15.00"));
    assert_non_null(strstr(buf, "throughput"));
    free(buf);
    free(h);
    char rb[32];
    assert_string_equal(sk_bench_fmt_rate(2.5e9, rb, sizeof(rb)), "2.5 GB/s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_all_keys),
        cmocka_unit_test(test_json_only_applicable),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
