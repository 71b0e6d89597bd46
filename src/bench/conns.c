/* conns.c -- the bounded-rate connection opener (see conns.h). One event
 * loop: a 10 ms tick starts the connects the rate allows, each socket
 * waits for writability, and SO_ERROR tells how its connect ended. */
#include "bench/conns.h"
#include "bench/bench.h"
#include "bench/report.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 10

struct pending {
    int fd;
    uint64_t started_ms;
};

struct opener {
    const sk_conns_opts_t *o;
    sk_conns_set_t *set;
    sk_loop_t *loop;
    sk_addr_t dst;
    bool loopback_v4;   /* the destination is in 127.0.0.0/8 */
    unsigned src;       /* current source 127.0.0.src; 0: kernel default */
    unsigned attempted; /* connects started (successful or not) */
    struct pending *inflight;
    unsigned ninflight, max_inflight;
    uint64_t t0_ns, last_ok_ns;
    double credit; /* connects the rate allows now */
    sk_timer_t tick;
    sk_bench_progress_t prog;
    unsigned ticks;
};

static void note(struct opener *op, int e)
{
    if (op->set->first_error[0] == '\0')
        snprintf(op->set->first_error, sizeof(op->set->first_error), "%s", sk_strerror(e));
}

static void finish_pending(struct opener *op, unsigned i, int e)
{
    struct pending *p = &op->inflight[i];
    sk_loop_io_del(op->loop, p->fd);
    if (e == 0) {
        op->set->fds[op->set->opened++] = p->fd;
        op->last_ok_ns = sk_clock_ns();
    } else if (e == -EADDRNOTAVAIL || e == -EAGAIN) {
        /* Out of ports on this source, or a Unix listener's full backlog:
         * not the server's fault; try again (elsewhere for TCP). */
        close(p->fd);
        op->set->retried++;
        op->attempted--;
        if (e == -EADDRNOTAVAIL && op->loopback_v4 && op->src < 254) {
            op->src = op->src < 2 ? 2 : op->src + 1;
            op->set->sources++;
        }
    } else {
        close(p->fd);
        op->set->failed++;
        note(op, e);
    }
    op->inflight[i] = op->inflight[--op->ninflight];
}

static void on_connect(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)events;
    struct opener *op = data;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    for (unsigned i = 0; i < op->ninflight; i++)
        if (op->inflight[i].fd == fd) {
            finish_pending(op, i, -err);
            return;
        }
}

/* Starts one connect; false when the process is out of fds. */
static bool start_one(struct opener *op)
{
    const struct sockaddr *sa = (const struct sockaddr *)&op->dst.ss;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note(op, -errno);
        op->set->failed++;
        op->attempted++;
        return errno != EMFILE && errno != ENFILE;
    }
    if (op->loopback_v4 && op->src >= 2) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(0x7f000000u | op->src)};
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            note(op, -errno);
            close(fd);
            op->set->failed++;
            op->attempted++;
            return true;
        }
    }
    op->attempted++;
    int rc = connect(fd, sa, op->dst.len);
    int e = rc == 0 ? 0 : errno;
    op->inflight[op->ninflight] = (struct pending){.fd = fd, .started_ms = sk_clock_ms()};
    unsigned i = op->ninflight++;
    if (e == EINPROGRESS) {
        if (sk_loop_io_set(op->loop, fd, SK_EV_WRITE, on_connect, op) < 0)
            finish_pending(op, i, -ENOMEM);
        return true;
    }
    finish_pending(op, i, -e);
    return true;
}

static void on_tick(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct opener *op = data;
    const sk_conns_opts_t *o = op->o;
    uint64_t now = sk_clock_ms();
    /* Connects over their timeout fail. */
    for (unsigned i = 0; i < op->ninflight;) {
        if (now - op->inflight[i].started_ms >= o->timeout_ms)
            finish_pending(op, i, -ETIMEDOUT);
        else
            i++;
    }
    bool done = op->set->opened + op->set->failed >= o->n;
    if (sk_bench_interrupted) {
        op->set->interrupted = true;
        done = true;
    }
    if (o->max_ms && sk_bench_secs(op->t0_ns, sk_clock_ns()) * 1000.0 >= (double)o->max_ms)
        done = true;
    if (done) {
        sk_loop_stop(loop);
        return;
    }
    op->credit += o->rate ? (double)o->rate * TICK_MS / 1000.0 : 1e9;
    if (op->credit > (double)op->max_inflight)
        op->credit = (double)op->max_inflight;
    while (op->credit >= 1.0 && op->attempted < o->n && op->ninflight < op->max_inflight) {
        if (!start_one(op)) {
            op->credit = 0;
            break;
        }
        op->credit -= 1.0;
    }
    if (++op->ticks % (1000 / TICK_MS) == 0)
        sk_bench_progress_tick(&op->prog, sk_bench_secs(op->t0_ns, sk_clock_ns()), op->set->opened,
                               "connections/s", op->set->failed);
    /* The next tick comes at once while connects finish in between, so
     * the loop never idles with work left. */
    sk_loop_timer_start(loop, &op->tick, TICK_MS);
}

static void on_wake(sk_loop_t *loop, void *data)
{
    struct opener *op = data;
    if (sk_bench_interrupted) {
        op->set->interrupted = true;
        sk_loop_stop(loop);
    }
}

int sk_conns_open(const sk_conns_opts_t *o, sk_conns_set_t *set, struct sk_err *err)
{
    memset(set, 0, sizeof(*set));
    struct opener op = {.o = o, .set = set};
    sk_addr_t *addrs = NULL;
    int n = sk_endpoint_resolve(o->ep, AF_UNSPEC, false, &addrs, err);
    if (n < 0)
        return n;
    op.dst = addrs[0];
    free(addrs);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&op.dst.ss;
    op.loopback_v4 = in->sin_family == AF_INET && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    op.src = op.loopback_v4 && o->src_first >= 2 ? o->src_first : 0;
    set->sources = 1;
    op.max_inflight = o->max_inflight ? o->max_inflight : 1000;
    set->fds = sk_calloc(o->n ? o->n : 1, sizeof(int));
    op.inflight = sk_calloc(op.max_inflight, sizeof(*op.inflight));
    int rc = 0;
    if (set->fds == NULL || op.inflight == NULL) {
        rc = sk_err_set(err, -ENOMEM, "out of memory for %u connections", o->n);
        goto out;
    }
    rc = sk_loop_new(&op.loop, sk_backend_default());
    if (rc < 0) {
        sk_err_set(err, rc, "cannot create the event loop: %s", sk_strerror(rc));
        goto out;
    }
    sk_loop_on_wake(op.loop, on_wake, &op);
    bool watched = sk_bench_watch(op.loop) == 0;
    sk_bench_progress_init(&op.prog, o->quiet);
    sk_timer_init(&op.tick, on_tick, &op);
    op.t0_ns = sk_clock_ns();
    on_tick(op.loop, &op.tick, &op);
    if (!sk_bench_interrupted)
        rc = sk_loop_run(op.loop);
    sk_bench_progress_done(&op.prog);
    /* Whatever is still connecting when the phase ends is given up. */
    while (op.ninflight > 0) {
        sk_loop_io_del(op.loop, op.inflight[0].fd);
        close(op.inflight[0].fd);
        op.inflight[0] = op.inflight[--op.ninflight];
        set->failed++;
    }
    if (watched)
        sk_bench_unwatch(op.loop);
    sk_loop_free(op.loop);
    set->open_s = set->opened ? sk_bench_secs(op.t0_ns, op.last_ok_ns) : 0.0;
    if (rc < 0)
        sk_err_set(err, rc, "event loop failed: %s", sk_strerror(rc));
out:
    sk_free(op.inflight);
    return rc;
}

unsigned sk_conns_count_closed(const sk_conns_set_t *set)
{
    unsigned closed = 0;
    char b;
    for (unsigned i = 0; i < set->opened; i++) {
        ssize_t r = recv(set->fds[i], &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed++;
    }
    return closed;
}

void sk_conns_close(sk_conns_set_t *set)
{
    for (unsigned i = 0; set->fds != NULL && i < set->opened; i++)
        close(set->fds[i]);
    sk_free(set->fds);
    set->fds = NULL;
    set->opened = 0;
}

unsigned sk_conns_per_process(void)
{
    long lim = sk_raise_nofile();
    /* Keep room for stdio, the loop's own fds and pipes to children. */
    return lim > 1024 ? (unsigned)(lim - 128) : (lim > 32 ? (unsigned)(lim / 2) : 16);
}
