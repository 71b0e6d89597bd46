/* throughput.h -- the bulk sender behind `bench throughput`: N threads,
 * each with its own stream connection, write fixed-size buffers into a
 * sink as fast as the socket takes them. */
#ifndef SK_BENCH_THROUGHPUT_H
#define SK_BENCH_THROUGHPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/endpoint.h"
#include "core/error.h"

typedef struct sk_tput_opts {
    const sk_endpoint_t *ep; /* a stream endpoint (tcp, unix) */
    size_t size;             /* bytes per write */
    unsigned streams;        /* connections, one thread each */
    uint64_t duration_ms, warmup_ms;
    bool quiet;
} sk_tput_opts_t;

typedef struct sk_tput_stats {
    uint64_t bytes;  /* accepted by the kernel during the measured time */
    uint64_t writes; /* write calls that moved bytes */
    uint64_t errors; /* connections that failed while sending */
    double elapsed_s;
    double cpu_user_s, cpu_sys_s; /* this process (the sender), measured time */
    bool interrupted;
    char first_error[160];
} sk_tput_stats_t;

/* Connects every stream, then sends for warmup + duration. Returns 0 with
 * st filled, or a negative code with err filled when a connection cannot
 * be opened. */
int sk_tput_run(const sk_tput_opts_t *o, sk_tput_stats_t *st, struct sk_err *err);

#endif
