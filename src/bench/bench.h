/* bench.h -- what the benchmarks share: Ctrl-C handling that stops the
 * measuring loops and keeps what was gathered, and child servers started
 * from this same binary (`--compare`, `bench backends`). */
#ifndef SK_BENCH_BENCH_H
#define SK_BENCH_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/loop.h"

/* Set by SIGINT/SIGTERM once sk_bench_signals() is installed. */
extern volatile sig_atomic_t sk_bench_interrupted;

/* Installs the SIGINT/SIGTERM handlers and ignores SIGPIPE. */
void sk_bench_signals(void);

/* Registers a loop to be woken (sk_loop_wake) on a signal; its wake
 * callback should check sk_bench_interrupted. Returns 0 or -ENOSPC (at
 * most 256 loops). unwatch before freeing the loop. */
int sk_bench_watch(sk_loop_t *loop);
void sk_bench_unwatch(sk_loop_t *loop);

/* A `sockkit serve ...` child of this binary. */
#define SK_BENCH_SERVER_EPS 8
typedef struct sk_bench_server {
    pid_t pid;
    int errfd; /* read end of its stderr */
    int neps;
    char eps[SK_BENCH_SERVER_EPS][128]; /* its `listening on EP` lines */
} sk_bench_server_t;

/* Starts /proc/self/exe with argv (argv[0] is ignored; e.g. {"sockkit",
 * "serve", "echo", "--workers", "1", "tcp://127.0.0.1:0", NULL}) and waits
 * up to timeout_ms for `want` `listening on` lines. Returns 0, or a negative
 * code with err saying what the child printed. */
int sk_bench_server_start(sk_bench_server_t *s, char *const argv[], int want, unsigned timeout_ms,
                          struct sk_err *err);

/* Stops the child (SIGTERM, then SIGKILL after 3 s) and reaps it. */
void sk_bench_server_stop(sk_bench_server_t *s);

/* The resident set size of process pid in KiB (VmRSS), or a negative
 * errno. */
long sk_bench_rss_kb(pid_t pid);

/* Sleeps until until_ns (sk_clock_ns time) or Ctrl-C, waking at least
 * every 50 ms; calls tick(ctx) about once a second when tick is given
 * (progress lines of the thread-based benchmarks). */
void sk_bench_wait(uint64_t until_ns, void (*tick)(void *ctx), void *ctx);

/* Seconds between two sk_clock_ns() readings. */
static inline double sk_bench_secs(uint64_t from_ns, uint64_t to_ns)
{
    return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e9 : 0.0;
}

#endif
