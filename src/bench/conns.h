/* conns.h -- opening many stream connections at a bounded rate: the core
 * of `bench conns` and the idle connections of `bench backends`. Toward a
 * 127.0.0.0/8 address, when one source address runs out of ephemeral ports
 * (EADDRNOTAVAIL) the opener moves on to the next source address
 * (127.0.0.2, 127.0.0.3, ...), binding with IP_BIND_ADDRESS_NO_PORT so the
 * kernel picks the port per 4-tuple. */
#ifndef SK_BENCH_CONNS_H
#define SK_BENCH_CONNS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/endpoint.h"
#include "core/error.h"

typedef struct sk_conns_opts {
    const sk_endpoint_t *ep; /* tcp or unix */
    unsigned n;              /* connections wanted */
    unsigned rate;           /* connect() calls per second; 0: no bound */
    unsigned max_inflight;   /* connects in progress at once; 0: 1000 */
    unsigned timeout_ms;     /* per connect */
    uint64_t max_ms;         /* the whole opening phase; 0: no bound */
    unsigned src_first;      /* first source 127.0.0.X to use (0 or 1: the
                                kernel's default source until it runs out) */
    bool quiet;              /* no progress line */
} sk_conns_opts_t;

typedef struct sk_conns_set {
    int *fds;         /* the open connections (owned) */
    unsigned opened;  /* == count of fds */
    unsigned failed;  /* attempts that failed (refused, timed out, ...) */
    unsigned retried; /* EADDRNOTAVAIL / EAGAIN attempts retried elsewhere or later */
    unsigned sources; /* source addresses used */
    double open_s;    /* from the first connect() to the last success */
    bool interrupted;
    char first_error[160];
} sk_conns_set_t;

/* Opens up to o->n connections. Returns 0 with set filled (possibly with
 * failures), or a negative code with err filled when nothing could be
 * tried (resolution, out of memory). Free with sk_conns_close. */
int sk_conns_open(const sk_conns_opts_t *o, sk_conns_set_t *set, struct sk_err *err);

/* Counts connections of set the peer has closed or reset (a non-blocking
 * peek sees end of stream or an error). */
unsigned sk_conns_count_closed(const sk_conns_set_t *set);

/* Closes every connection and frees the set. */
void sk_conns_close(sk_conns_set_t *set);

/* The fd soft limit after raising it to the hard one, minus a reserve for
 * the process's own needs: how many connections one process may hold. */
unsigned sk_conns_per_process(void);

#endif
