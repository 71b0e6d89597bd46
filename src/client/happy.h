/* happy.h -- connecting to a host's addresses the RFC 8305 ("Happy
 * Eyeballs v2") way: addresses interleaved by family, a new attempt started
 * every 250 ms (or at once when one fails) while earlier ones continue, the
 * first to connect wins. Every attempt is recorded so the caller can tell
 * the whole story (-v) and say in words why nothing connected. */
#ifndef SK_CLIENT_HAPPY_H
#define SK_CLIENT_HAPPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/endpoint.h"

/* RFC 8305 §5: the recommended Connection Attempt Delay. */
#define SK_HAPPY_DELAY_MS 250

/* One connection attempt. */
typedef struct sk_happy_attempt {
    sk_addr_t addr;
    int result;        /* 0 won, a negative errno (-ETIMEDOUT: its own timeout),
                          SK_AGAIN: not tried, 1: abandoned when another won */
    uint64_t start_us; /* since the race began */
    uint64_t end_us;
} sk_happy_attempt_t;

typedef struct sk_happy_opts {
    unsigned delay_ms;    /* between attempt starts; 0: SK_HAPPY_DELAY_MS */
    unsigned timeout_ms;  /* per address; 0: none */
    uint64_t deadline_us; /* sk_clock_us() bound on the whole race; 0: none */
    /* Called when an attempt starts (result SK_AGAIN) and when it ends. */
    void (*on_attempt)(void *ctx, const sk_happy_attempt_t *a);
    void *ctx;
} sk_happy_opts_t;

/* Reorders addrs in place as RFC 8305 §4 asks: families alternate, starting
 * with the family of the first address (getaddrinfo's RFC 6724 choice), and
 * the order within each family is kept. */
void sk_happy_order(sk_addr_t *addrs, size_t n);

/* Races connections to addrs[0, n) (in that order) and fills attempts[0,
 * n). Returns the connected socket (non-blocking, close-on-exec) with
 * *winner set, or a negative errno: the common failure when all failed
 * alike (-ECONNREFUSED, -ETIMEDOUT, ...), -EHOSTUNREACH when they differ,
 * -ETIME when deadline_us passed first. */
int sk_happy_connect(const sk_addr_t *addrs, size_t n, const sk_happy_opts_t *o,
                     sk_happy_attempt_t *attempts, size_t *winner);

#endif
