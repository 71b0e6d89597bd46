/*
 * pingpong.c -- a minimal round-trip latency client for any stream echo
 * server. It sends one message, waits for the whole echo, and times each
 * round trip with CLOCK_MONOTONIC. It is the client side of bench/rtt-echo.sh
 * and does not use sockkit's code, so both sockkit and the floor server are
 * measured by the same independent yardstick.
 *
 * Usage: pingpong [-s SIZE] [-n COUNT] [-w WARMUP] [-b] [-t SECS] [--json] EP
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench-ep.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: pingpong [options] tcp:HOST:PORT | unix:PATH\n"
               "  -s SIZE    message size in bytes (default 64)\n"
               "  -n COUNT   measured round trips (default 100000)\n"
               "  -w COUNT   warm-up round trips, not measured (default 1000)\n"
               "  -b         busy-poll: non-blocking socket, spin on EAGAIN\n"
               "  -t SECS    give up if one round trip takes longer (default 10)\n"
               "  --json     print one JSON object instead of key=value pairs\n");
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_ep(const struct bench_ep *ep)
{
    if (ep->is_unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("socket");
            return -1;
        }
        if (connect(fd, (const struct sockaddr *)&ep->sun, ep->sun_len) < 0) {
            perror("connect");
            close(fd);
            return -1;
        }
        return fd;
    }

    struct addrinfo *list;
    if (bench_ep_resolve(ep, false, &list) < 0)
        return -1;
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        fprintf(stderr, "connect %s:%s: %s\n", ep->host, ep->port, strerror(err));
        return -1;
    }
    /* Without TCP_NODELAY, Nagle plus delayed ACK can add ~40 ms to a reply. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        perror("setsockopt TCP_NODELAY");
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Sends LEN bytes. In busy-poll mode the socket is non-blocking and EAGAIN
 * just spins; a 64-byte message never fills the send buffer in practice.
 * Returns 0 or -1 with errno set.
 */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Receives exactly LEN bytes. Returns 0, or -1 with errno set (0 means the
 * peer closed early, EAGAIN means no echo in time: SO_RCVTIMEO expired in
 * blocking mode, or DEADLINE passed while spinning in busy-poll mode).
 */
static int recv_all(int fd, char *buf, size_t len, bool busy, uint64_t deadline)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* The vDSO clock costs tens of ns, far below a loopback round trip. */
            if (busy && errno == EAGAIN && (deadline == 0 || now_ns() < deadline))
                continue;
            return -1;
        }
        if (n == 0) {
            errno = 0;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array: the smallest value >= P% of samples. */
static double pct_us(const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)sorted[rank - 1] / 1000.0;
}

int main(int argc, char **argv)
{
    size_t size = 64;
    long count = 100000;
    long warmup = 1000;
    long timeout_s = 10;
    bool busy = false;
    bool json = false;

    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:n:w:bt:h", longopts, NULL)) != -1) {
        char *end = NULL;
        long v = 0;
        if (optarg != NULL) {
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v < 0) {
                fprintf(stderr, "pingpong: -%c: '%s' is not a non-negative number\n", c, optarg);
                return 2;
            }
        }
        switch (c) {
        case 's':
            if (v < 1 || v > (1 << 24)) {
                fprintf(stderr, "pingpong: -s must be 1..16777216\n");
                return 2;
            }
            size = (size_t)v;
            break;
        case 'n':
            if (v < 1) {
                fprintf(stderr, "pingpong: -n must be at least 1\n");
                return 2;
            }
            count = v;
            break;
        case 'w':
            warmup = v;
            break;
        case 't':
            timeout_s = v;
            break;
        case 'b':
            busy = true;
            break;
        case 'J':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }

    struct bench_ep ep;
    if (bench_ep_parse(argv[optind], &ep) < 0)
        return 2;

    signal(SIGPIPE, SIG_IGN);
    int fd = connect_ep(&ep);
    if (fd < 0)
        return 1;

    if (busy) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            perror("fcntl O_NONBLOCK");
            return 1;
        }
    } else if (timeout_s > 0) {
        /* A stalled server must end the run with an error, not hang it. */
        struct timeval tv = {.tv_sec = timeout_s, .tv_usec = 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }

    char *out = malloc(size);
    char *in = malloc(size);
    uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));
    if (out == NULL || in == NULL || rtt == NULL) {
        fprintf(stderr, "pingpong: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < size; i++)
        out[i] = (char)('a' + i % 26);

    /*
     * The first byte carries a sequence number so an echo that returns a
     * stale or foreign message is caught: a fast wrong answer is not a result.
     */
    long total = warmup + count;
    for (long i = 0; i < total; i++) {
        out[0] = (char)(i & 0x7f);
        uint64_t t0 = now_ns();
        if (send_all(fd, out, size) < 0) {
            fprintf(stderr, "pingpong: send #%ld: %s\n", i, strerror(errno));
            return 1;
        }
        uint64_t deadline = busy && timeout_s > 0 ? t0 + (uint64_t)timeout_s * 1000000000u : 0;
        if (recv_all(fd, in, size, busy, deadline) < 0) {
            if (errno == 0)
                fprintf(stderr, "pingpong: server closed the connection at #%ld\n", i);
            else if (errno == EAGAIN)
                fprintf(stderr, "pingpong: no echo within %lds at #%ld\n", timeout_s, i);
            else
                fprintf(stderr, "pingpong: recv #%ld: %s\n", i, strerror(errno));
            return 1;
        }
        uint64_t t1 = now_ns();
        if (memcmp(in, out, size) != 0) {
            fprintf(stderr, "pingpong: echo #%ld differs from what was sent\n", i);
            return 1;
        }
        if (i >= warmup)
            rtt[i - warmup] = t1 - t0;
    }
    close(fd);

    double sum = 0;
    for (long i = 0; i < count; i++)
        sum += (double)rtt[i];
    qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
    size_t n = (size_t)count;
    double mean = sum / (double)count / 1000.0;
    double p50 = pct_us(rtt, n, 50), p90 = pct_us(rtt, n, 90), p99 = pct_us(rtt, n, 99);
    double min = (double)rtt[0] / 1000.0, max = (double)rtt[n - 1] / 1000.0;

    if (json)
        printf("{\"n\": %ld, \"size\": %zu, \"busy\": %s, \"min_us\": %.2f, \"mean_us\": %.2f, "
               "\"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f}\n",
               count, size, busy ? "true" : "false", min, mean, p50, p90, p99, max);
    else
        printf("n=%ld size=%zu min_us=%.2f mean_us=%.2f p50_us=%.2f p90_us=%.2f p99_us=%.2f "
               "max_us=%.2f\n",
               count, size, min, mean, p50, p90, p99, max);
    free(out);
    free(in);
    free(rtt);
    return 0;
}
