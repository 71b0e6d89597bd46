/* throughput.c -- bulk sender threads (see throughput.h). Each thread owns
 * a blocking socket and one buffer and calls write(2) in a loop, like
 * iperf3's sender, so the figure is what the kernel's loopback path takes;
 * the counters are per thread and read by the main thread each second. */
#include "bench/throughput.h"
#include "bench/bench.h"
#include "bench/report.h"
#include "core/alloc.h"
#include "core/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct sender {
    int fd;
    size_t size;
    pthread_t tid;
    bool started;
    /* Written by the sender, read by the main thread. */
    uint64_t bytes, writes;
    int error; /* negative errno once the connection failed */
};

static volatile int stop_all;

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char *buf = sk_malloc(s->size);
    if (buf == NULL) {
        __atomic_store_n(&s->error, -ENOMEM, __ATOMIC_RELAXED);
        return NULL;
    }
    /* Bytes that change, so a sink that compresses or dedups cannot
     * cheat; written once, outside the measured loop. */
    for (size_t i = 0; i < s->size; i++)
        buf[i] = (char)(i * 131u + 7u);
    while (!__atomic_load_n(&stop_all, __ATOMIC_RELAXED)) {
        ssize_t n = write(s->fd, buf, s->size);
        if (n > 0) {
            __atomic_store_n(&s->bytes, s->bytes + (uint64_t)n, __ATOMIC_RELAXED);
            __atomic_store_n(&s->writes, s->writes + 1, __ATOMIC_RELAXED);
            continue;
        }
        /* SO_SNDTIMEO makes a stuck sink return EAGAIN so the stop flag is
         * seen; a signal gives EINTR. */
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        __atomic_store_n(&s->error, n < 0 ? -errno : -EPIPE, __ATOMIC_RELAXED);
        break;
    }
    sk_free(buf);
    return NULL;
}

static double cpu_now(double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static uint64_t sum_bytes(struct sender *s, unsigned n, uint64_t *writes)
{
    uint64_t b = 0, w = 0;
    for (unsigned i = 0; i < n; i++) {
        b += __atomic_load_n(&s[i].bytes, __ATOMIC_RELAXED);
        w += __atomic_load_n(&s[i].writes, __ATOMIC_RELAXED);
    }
    if (writes != NULL)
        *writes = w;
    return b;
}

/* What the progress line needs, once a second. */
struct tick_ctx {
    struct sender *s;
    unsigned n;
    sk_bench_progress_t *prog;
    uint64_t t0_ns, b0;
};

static void on_tick(void *data)
{
    struct tick_ctx *t = data;
    sk_bench_progress_tick(t->prog, sk_bench_secs(t->t0_ns, sk_clock_ns()),
                           sum_bytes(t->s, t->n, NULL) - t->b0, "B/s", 0);
}

int sk_tput_run(const sk_tput_opts_t *o, sk_tput_stats_t *st, struct sk_err *err)
{
    memset(st, 0, sizeof(*st));
    struct sender *s = sk_calloc(o->streams, sizeof(*s));
    if (s == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < o->streams; i++)
        s[i].fd = -1;
    for (; n < o->streams; n++) {
        sk_connect_opts_t co = {.timeout_ms = 5000};
        int fd = sk_endpoint_connect(o->ep, &co, err);
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        s[n].fd = fd;
        s[n].size = o->size;
    }
    stop_all = 0;
    for (unsigned i = 0; i < n; i++) {
        int e = pthread_create(&s[i].tid, NULL, sender_main, &s[i]);
        if (e != 0) {
            rc = sk_err_set(err, -e, "cannot start sender thread: %s", strerror(e));
            goto out;
        }
        s[i].started = true;
    }
    sk_bench_progress_t prog;
    sk_bench_progress_init(&prog, o->quiet);
    uint64_t t0 = sk_clock_ns();
    sk_bench_wait(t0 + o->warmup_ms * 1000000ull, NULL, NULL);
    double sys0, usr0 = cpu_now(&sys0);
    uint64_t w0, b0 = sum_bytes(s, n, &w0);
    uint64_t m0 = sk_clock_ns();
    struct tick_ctx tc = {.s = s, .n = n, .prog = &prog, .t0_ns = m0, .b0 = b0};
    if (!sk_bench_interrupted)
        sk_bench_wait(m0 + o->duration_ms * 1000000ull, on_tick, &tc);
    uint64_t w1, b1 = sum_bytes(s, n, &w1);
    uint64_t m1 = sk_clock_ns();
    double sys1, usr1 = cpu_now(&sys1);
    sk_bench_progress_done(&prog);
    st->bytes = b1 - b0;
    st->writes = w1 - w0;
    st->elapsed_s = sk_bench_secs(m0, m1);
    st->cpu_user_s = usr1 - usr0;
    st->cpu_sys_s = sys1 - sys0;
    st->interrupted = sk_bench_interrupted != 0;
out:
    __atomic_store_n(&stop_all, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < o->streams; i++) {
        if (s[i].started)
            pthread_join(s[i].tid, NULL);
        if (s[i].error < 0) {
            st->errors++;
            if (st->first_error[0] == '\0')
                snprintf(st->first_error, sizeof(st->first_error), "stream %u: %s", i,
                         sk_strerror(s[i].error));
        }
        if (s[i].fd >= 0)
            close(s[i].fd);
    }
    sk_free(s);
    return rc;
}
