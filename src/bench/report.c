/* report.c -- human tables, the --json object and the progress line of the
 * benchmarks (see report.h). Latencies are kept in ns and shown in us. */
#include "bench/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static int set_real(json_t *o, const char *k, double v)
{
    return json_object_set_new(o, k, json_real(v));
}

static int set_int(json_t *o, const char *k, uint64_t v)
{
    return json_object_set_new(o, k, json_integer((json_int_t)v));
}

json_t *sk_bench_json(const sk_bench_result_t *r)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    double secs = r->elapsed_s > 0 ? r->elapsed_s : 0;
    rc |= set_real(o, "duration_s", secs);
    rc |= set_int(o, "errors", r->errors);
    if (r->hist != NULL) {
        const sk_hist_t *h = r->hist;
        rc |= set_int(o, "count", h->count);
        rc |= set_real(o, "mean_us", sk_hist_mean(h) / 1000.0);
        rc |= set_real(o, "stddev_us", sk_hist_stddev(h) / 1000.0);
        rc |= set_real(o, "min_us", h->count ? us(h->min) : 0.0);
        rc |= set_real(o, "p50_us", us(sk_hist_percentile(h, 50)));
        rc |= set_real(o, "p90_us", us(sk_hist_percentile(h, 90)));
        rc |= set_real(o, "p99_us", us(sk_hist_percentile(h, 99)));
        rc |= set_real(o, "p999_us", us(sk_hist_percentile(h, 99.9)));
        rc |= set_real(o, "p9999_us", us(sk_hist_percentile(h, 99.99)));
        rc |= set_real(o, "max_us", us(h->max));
    }
    if (r->has_requests) {
        rc |= set_int(o, "requests", r->requests);
        rc |= set_real(o, "req_per_s", secs > 0 ? (double)r->requests / secs : 0.0);
    }
    if (r->has_bytes) {
        double bps = secs > 0 ? (double)r->bytes / secs : 0.0;
        rc |= set_int(o, "bytes", r->bytes);
        rc |= set_real(o, "bytes_per_s", bps);
        rc |= set_real(o, "gbit_per_s", bps * 8.0 / 1e9);
    }
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int sk_bench_json_emit(json_t *o)
{
    if (o == NULL)
        return -ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (s == NULL)
        return -ENOMEM;
    int rc = (puts(s) < 0 || fflush(stdout) != 0) ? -EIO : 0;
    free(s);
    return rc;
}

const char *sk_bench_fmt_rate(double bps, char *buf, size_t cap)
{
    static const char *const units[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
    size_t u = 0;
    while (bps >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        bps /= 1000.0;
        u++;
    }
    snprintf(buf, cap, "%.3g %s", bps, units[u]);
    return buf;
}

/* One row of the table: a title and a value per result (NULL: not
 * applicable, printed as "-"). */
typedef void (*cell_fn)(const sk_bench_result_t *r, char *buf, size_t cap);

static void cell_requests(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%llu", (unsigned long long)r->requests);
}

static void cell_rate(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%.1f", r->elapsed_s > 0 ? (double)r->requests / r->elapsed_s : 0.0);
}

static void cell_bytes(const sk_bench_result_t *r, char *b, size_t n)
{
    sk_bench_fmt_rate(r->elapsed_s > 0 ? (double)r->bytes / r->elapsed_s : 0.0, b, n);
}

static void cell_gbit(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%.3f", r->elapsed_s > 0 ? (double)r->bytes * 8.0 / r->elapsed_s / 1e9 : 0.0);
}

static void cell_errors(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%llu", (unsigned long long)r->errors);
}

static void cell_count(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%llu", (unsigned long long)r->hist->count);
}

static void cell_mean(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%.2f", sk_hist_mean(r->hist) / 1000.0);
}

static void cell_stddev(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%.2f", sk_hist_stddev(r->hist) / 1000.0);
}

static void pct(const sk_bench_result_t *r, char *b, size_t n, double p)
{
    snprintf(b, n, "%.2f", us(sk_hist_percentile(r->hist, p)));
}

static void cell_p50(const sk_bench_result_t *r, char *b, size_t n)
{
    pct(r, b, n, 50);
}

static void cell_p90(const sk_bench_result_t *r, char *b, size_t n)
{
    pct(r, b, n, 90);
}

static void cell_p99(const sk_bench_result_t *r, char *b, size_t n)
{
    pct(r, b, n, 99);
}

static void cell_p999(const sk_bench_result_t *r, char *b, size_t n)
{
    pct(r, b, n, 99.9);
}

static void cell_p9999(const sk_bench_result_t *r, char *b, size_t n)
{
    pct(r, b, n, 99.99);
}

static void cell_max(const sk_bench_result_t *r, char *b, size_t n)
{
    snprintf(b, n, "%.2f", us(r->hist->max));
}

enum need { NEED_NONE, NEED_REQ, NEED_BYTES, NEED_HIST };

static const struct row {
    const char *title;
    enum need need;
    cell_fn fn;
} rows[] = {
    {"requests", NEED_REQ, cell_requests},  {"requests/s", NEED_REQ, cell_rate},
    {"throughput", NEED_BYTES, cell_bytes}, {"Gbit/s", NEED_BYTES, cell_gbit},
    {"errors", NEED_NONE, cell_errors},     {"latency count", NEED_HIST, cell_count},
    {"mean us", NEED_HIST, cell_mean},      {"stddev us", NEED_HIST, cell_stddev},
    {"p50 us", NEED_HIST, cell_p50},        {"p90 us", NEED_HIST, cell_p90},
    {"p99 us", NEED_HIST, cell_p99},        {"p99.9 us", NEED_HIST, cell_p999},
    {"p99.99 us", NEED_HIST, cell_p9999},   {"max us", NEED_HIST, cell_max},
};

static bool applies(const sk_bench_result_t *r, enum need need)
{
    switch (need) {
    case NEED_REQ:
        return r->has_requests;
    case NEED_BYTES:
        return r->has_bytes;
    case NEED_HIST:
        return r->hist != NULL && r->hist->count > 0;
    default:
        return true;
    }
}

void sk_bench_print_compare(FILE *f, const sk_bench_result_t *r, size_t n)
{
    fprintf(f, "%-14s", "");
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %14s", r[i].label != NULL ? r[i].label : "");
    fputc('\n', f);
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        bool any = false;
        for (size_t i = 0; i < n; i++)
            any |= applies(&r[i], rows[k].need);
        if (!any)
            continue;
        fprintf(f, "%-14s", rows[k].title);
        for (size_t i = 0; i < n; i++) {
            char cell[64] = "-";
            if (applies(&r[i], rows[k].need))
                rows[k].fn(&r[i], cell, sizeof(cell));
            fprintf(f, " %14s", cell);
        }
        fputc('\n', f);
    }
    fflush(f);
}

void sk_bench_print(FILE *f, const sk_bench_result_t *r)
{
    fprintf(f, "%s: %.2f s measured\n", r->label != NULL ? r->label : "result", r->elapsed_s);
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        if (!applies(r, rows[k].need))
            continue;
        char cell[64];
        rows[k].fn(r, cell, sizeof(cell));
        fprintf(f, "  %-14s %s\n", rows[k].title, cell);
    }
    fflush(f);
}

void sk_bench_progress_init(sk_bench_progress_t *p, bool quiet)
{
    memset(p, 0, sizeof(*p));
    p->enabled = !quiet && isatty(STDERR_FILENO);
}

void sk_bench_progress_tick(sk_bench_progress_t *p, double elapsed_s, uint64_t count,
                            const char *unit, uint64_t errors)
{
    if (!p->enabled)
        return;
    double dt = elapsed_s - p->last_s;
    double rate = dt > 0 ? (double)(count - p->last_count) / dt : 0.0;
    if (strcmp(unit, "B/s") == 0) {
        char b[32];
        fprintf(stderr, "\r\033[K[%4.0f s] %s, %llu errors", elapsed_s,
                sk_bench_fmt_rate(rate, b, sizeof(b)), (unsigned long long)errors);
    } else {
        fprintf(stderr, "\r\033[K[%4.0f s] %.0f %s, %llu errors", elapsed_s, rate, unit,
                (unsigned long long)errors);
    }
    p->last_count = count;
    p->last_s = elapsed_s;
}

void sk_bench_progress_done(sk_bench_progress_t *p)
{
    if (p->enabled && p->last_s > 0)
        fputs("\r\033[K", stderr);
}
