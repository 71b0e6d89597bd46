/* http_load.h -- the HTTP load generator behind `bench http`: -t threads,
 * each with its own event loop driving its share of -c keep-alive (or
 * one-request) connections. Closed loop: each connection sends its next
 * request when the last response is complete (wrk). Open loop (rate > 0):
 * each connection follows a fixed schedule and latencies are measured from
 * when each request was due (wrk2's coordinated-omission correction, see
 * pace.h). Responses are parsed by proto/http_response.h. */
#ifndef SK_BENCH_HTTP_LOAD_H
#define SK_BENCH_HTTP_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/transport.h"

typedef struct sk_httpl_opts {
    const sk_endpoint_t *ep;
    const char *request; /* the complete request bytes, sent as they are */
    size_t request_len;
    bool head;      /* the method is HEAD (responses have no body) */
    bool keepalive; /* false: a new connection per request */
    unsigned conns, threads;
    uint64_t duration_ms;
    unsigned timeout_ms; /* per request: no complete response within it */
    double rate;         /* total requests/s; 0: closed loop */
    bool quiet;
    /* https: wraps a connected non-blocking socket into a transport whose
     * handshake runs on its first reads and writes; NULL: plain. Returns
     * 0 with *out owned, or a negative errno. */
    int (*wrap)(void *ctx, int fd, sk_transport_t **out);
    void *wrap_ctx;
} sk_httpl_opts_t;

/* Errors by kind, as wrk reports them (plus parse). */
typedef struct sk_httpl_errors {
    uint64_t connect, read, write, timeout, parse, status; /* status: not 2xx */
} sk_httpl_errors_t;

typedef struct sk_httpl_stats {
    sk_hist_t hist;    /* latencies in ns of complete responses */
    uint64_t requests; /* complete responses (any status) */
    uint64_t bytes;    /* response bytes read (heads and bodies) */
    uint64_t connects; /* connections opened */
    sk_httpl_errors_t err;
    uint64_t status[600]; /* responses by status code */
    double elapsed_s;
    bool interrupted;
    char first_error[160];
} sk_httpl_stats_t;

/* The sum of every error kind. */
uint64_t sk_httpl_errors_total(const sk_httpl_errors_t *e);

/* Runs the load for o->duration_ms. Returns 0 with st filled, or a negative
 * code with err filled when it could not start (threads, loops). */
int sk_httpl_run(const sk_httpl_opts_t *o, sk_httpl_stats_t *st, struct sk_err *err);

#endif
