/* backends.h -- `bench backends`: the same echo server run on each I/O
 * backend across a ladder of connection counts (mostly idle connections
 * plus a few active ones), measuring round trips per second and p99. */
#ifndef SK_BENCH_BACKENDS_H
#define SK_BENCH_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct sk_backends_point {
    char backend[16];
    unsigned conns;  /* connections held (idle + active) */
    unsigned active; /* of which ping-pong back to back */
    bool ok;         /* measured; else note says why not */
    double elapsed_s;
    uint64_t round_trips, errors;
    double rtt_per_s, p50_us, p99_us;
    char note[240];
} sk_backends_point_t;

typedef struct sk_backends_opts {
    const char *const *backends; /* names; NULL-terminated */
    const unsigned *ladder;      /* connection counts */
    size_t nladder;
    unsigned active;      /* active connections per point (capped at conns) */
    size_t size;          /* message bytes */
    uint64_t duration_ms; /* measured time per point */
    uint64_t warmup_ms;   /* per point */
    bool quiet;
} sk_backends_opts_t;

/* Runs every point in order (backend-major), calling done() after each so
 * the caller can print as it goes. Stops early on Ctrl-C. Returns the
 * number of points filled into out (capacity cap). */
size_t sk_backends_run(const sk_backends_opts_t *o, sk_backends_point_t *out, size_t cap,
                       void (*done)(const sk_backends_point_t *p, void *ctx), void *ctx);

/* Writes the points as CSV with a header line. Returns 0 or -EIO. */
int sk_backends_csv(FILE *f, const sk_backends_point_t *p, size_t n);

/* Writes the two-panel chart (round trips/s and p99 against connections,
 * log x) with one line per backend. Returns 0 or -EIO. */
int sk_backends_svg(FILE *f, const sk_backends_point_t *p, size_t n, const char *note);

#endif
