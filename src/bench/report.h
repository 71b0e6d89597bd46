/* report.h -- what every benchmark prints: a human table (one result, or
 * several side by side), the `--json` object with the design's keys, and
 * the live progress line on stderr. */
#ifndef SK_BENCH_REPORT_H
#define SK_BENCH_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/hist.h"

/* One measured run. Latency keys apply when hist is set, request keys when
 * has_requests, byte keys when has_bytes. */
typedef struct sk_bench_result {
    const char *label;     /* column title: "tcp", "unix", an endpoint; borrowed */
    double elapsed_s;      /* measured time (warm-up excluded) */
    const sk_hist_t *hist; /* latencies in ns, borrowed; NULL: none */
    uint64_t errors;
    uint64_t requests; /* round trips or requests completed */
    uint64_t bytes;    /* payload bytes moved */
    bool has_requests, has_bytes;
} sk_bench_result_t;

/* Returns a new JSON object (owned; json_decref) with count, errors,
 * mean_us, stddev_us, min_us, p50_us, p90_us, p99_us, p999_us, p9999_us,
 * max_us, requests, req_per_s, bytes, bytes_per_s, gbit_per_s and
 * duration_s, where they apply. NULL only when out of memory. */
json_t *sk_bench_json(const sk_bench_result_t *r);

/* Prints o to stdout on one line and frees it (takes ownership). Returns 0
 * or -ENOMEM / -EIO. */
int sk_bench_json_emit(json_t *o);

/* Prints the human table of one result. */
void sk_bench_print(FILE *f, const sk_bench_result_t *r);

/* Prints n results side by side, one column each, rows that apply to any
 * of them. */
void sk_bench_print_compare(FILE *f, const sk_bench_result_t *r, size_t n);

/* Formats a byte count per second as "2.51 GB/s" (decimal units). */
const char *sk_bench_fmt_rate(double bytes_per_s, char *buf, size_t cap);

/* The live progress line: prints "\r[ 3 s] label: rate unit" on stderr,
 * only when enabled (stderr is a terminal and not --quiet); done() ends the
 * line. */
typedef struct sk_bench_progress {
    bool enabled;
    uint64_t last_count;
    double last_s;
} sk_bench_progress_t;

void sk_bench_progress_init(sk_bench_progress_t *p, bool quiet);
void sk_bench_progress_tick(sk_bench_progress_t *p, double elapsed_s, uint64_t count,
                            const char *unit, uint64_t errors);
void sk_bench_progress_done(sk_bench_progress_t *p);

#endif
