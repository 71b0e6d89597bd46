/* rtt.h -- the ping-pong engine behind `bench rtt`, the round-trip samples
 * of `bench conns` and the active connections of `bench backends`: one
 * thread drives many connections through the event loop; each sends a
 * message, waits for its echo, checks every byte, records the round trip
 * and sends the next (or waits for its interval). Datagrams carry a
 * sequence number so a late reply is told apart from a wrong one. */
#ifndef SK_BENCH_RTT_H
#define SK_BENCH_RTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/loop.h"
#include "core/transport.h"

/* Wraps a connected, blocking stream socket into a transport (TLS) and
 * completes its handshake. Returns 0 with *out owned, or a negative code
 * with err filled. NULL hook: plain transport. */
typedef int (*sk_rtt_wrap_fn)(void *ctx, int fd, sk_transport_t **out, struct sk_err *err);

typedef struct sk_rtt_opts {
    const sk_endpoint_t *ep;
    size_t size;          /* message bytes (>= 8 for datagrams) */
    unsigned conns;       /* connections opened by the engine */
    uint64_t duration_ms; /* measured time */
    uint64_t warmup_ms;   /* before it, not recorded */
    unsigned timeout_ms;  /* per message: a datagram counts as lost, a stream
                             connection as stalled (error, reconnect) */
    unsigned interval_ms; /* 0: back to back; else one message per interval */
    const int *fds;       /* optional connected stream sockets to use instead of
                             opening conns (borrowed, not closed) */
    size_t nfds;
    const struct sk_backend *backend; /* client loop backend; NULL: epoll */
    sk_rtt_wrap_fn wrap;
    void *wrap_ctx;
    bool quiet; /* no progress line */
    bool verbose;
} sk_rtt_opts_t;

typedef struct sk_rtt_stats {
    sk_hist_t hist;        /* round trips in ns, measured phase only */
    uint64_t round_trips;  /* verified round trips */
    uint64_t errors;       /* wrong + closed + stalled + I/O errors (+ lost) */
    uint64_t wrong;        /* echoes that differed from what was sent */
    uint64_t lost;         /* datagrams without a reply within the timeout */
    uint64_t late;         /* replies that came after their timeout */
    uint64_t closed;       /* connections the peer closed or reset */
    uint64_t stalled;      /* stream round trips over the timeout */
    uint64_t bytes;        /* payload bytes sent and verified (both ways) */
    unsigned conns_open;   /* connections alive at the end */
    double elapsed_s;      /* measured seconds */
    bool interrupted;      /* Ctrl-C ended the run */
    char first_error[160]; /* the first failure, in words */
} sk_rtt_stats_t;

/* Runs the ping-pong. Returns 0 (stats filled, possibly with errors) or a
 * negative code when nothing could be measured (no connection opened),
 * with err filled. */
int sk_rtt_run(const sk_rtt_opts_t *o, sk_rtt_stats_t *st, struct sk_err *err);

#endif
