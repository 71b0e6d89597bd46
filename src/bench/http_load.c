/* http_load.c -- the HTTP load generator (see http_load.h). A connection
 * cycles: connect (non-blocking) -> write the request -> read and parse the
 * response head -> decode and drop the body -> record -> next request (or
 * close and reconnect without keep-alive). Any failure counts under its
 * kind and the connection starts over, so one bad response never stalls
 * the run. */
#include "bench/http_load.h"
#include "bench/bench.h"
#include "bench/pace.h"
#include "bench/report.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/loop.h"
#include "core/outq.h"
#include "core/transport.h"
#include "proto/http_response.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define INBUF_MIN 16384
#define INBUF_MAX (1u << 20)
#define MAX_HEADERS 100

struct worker;

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_READING };

struct hconn {
    struct worker *w;
    int fd;
    enum cstate state;
    int mask;
    sk_transport_t plain;
    sk_transport_t *t; /* &plain, or a TLS transport */
    sk_outq_t out;
    char *in;
    size_t len, cap;
    bool head_done;
    sk_http_response_t resp;
    sk_http_body_t body;
    uint64_t sent_ns;    /* closed loop: latency origin */
    uint64_t started_ms; /* for the timeout: when this request began */
    bool reused;         /* at least one response on this connection */
    sk_pace_t pace;      /* open loop */
    sk_timer_t timer;    /* timeout, pacing and reconnect delay */
};

struct worker {
    const sk_httpl_opts_t *o;
    const sk_addr_t *addr; /* the server, resolved once */
    pthread_t tid;
    bool started;
    sk_loop_t *loop;
    struct hconn *c;
    unsigned n;
    sk_httpl_stats_t *st; /* this thread's own */
    volatile int stop;
    uint64_t progress; /* requests, read by the main thread */
    int rc;
    char error[160];
};

uint64_t sk_httpl_errors_total(const sk_httpl_errors_t *e)
{
    return e->connect + e->read + e->write + e->timeout + e->parse + e->status;
}

static void note(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct worker *w, const char *fmt, ...)
{
    if (w->st->first_error[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->st->first_error, sizeof(w->st->first_error), fmt, ap);
    va_end(ap);
}

static void start_conn(struct hconn *c);
static void send_request(struct hconn *c);

static void close_conn(struct hconn *c)
{
    if (c->fd >= 0) {
        sk_loop_io_del(c->w->loop, c->fd);
        if (c->t != &c->plain && c->t->ops->free != NULL)
            c->t->ops->free(c->t);
        c->t = &c->plain;
        close(c->fd);
        c->fd = -1;
    }
    sk_outq_clear(&c->out);
    c->len = 0;
    c->head_done = false;
    c->reused = false;
    c->state = C_IDLE;
}

static void arm(struct hconn *c, uint64_t ms)
{
    sk_loop_timer_start(c->w->loop, &c->timer, ms);
}

/* Starts over after a failure counted by the caller: a short pause before
 * reconnecting so a refusing server is not hammered in a spin. In open
 * loop the schedule moves on by one slot: the failed request was due. */
static void restart(struct hconn *c, uint64_t delay_ms)
{
    close_conn(c);
    if (c->w->o->rate > 0)
        sk_pace_complete(&c->pace, 0, sk_clock_ns());
    arm(c, delay_ms);
}

static void on_io(sk_loop_t *loop, int fd, int events, void *data);

static void set_mask(struct hconn *c, int mask)
{
    if (c->mask != mask && sk_loop_io_mask(c->w->loop, c->fd, mask) == 0)
        c->mask = mask;
}

/* A non-blocking connect to the address resolved once at start: the loop
 * never waits for a handshake, and a new connection per request costs no
 * name lookup. */
static void start_conn(struct hconn *c)
{
    struct worker *w = c->w;
    const struct sockaddr *sa = (const struct sockaddr *)&w->addr->ss;
    c->started_ms = sk_clock_ms();
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        w->st->err.connect++;
        note(w, "socket: %s", strerror(errno));
        arm(c, 10);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, sa, w->addr->len) < 0 && errno != EINPROGRESS) {
        w->st->err.connect++;
        note(w, "connect: %s", strerror(errno));
        close(fd);
        arm(c, 10);
        return;
    }
    c->fd = fd;
    sk_transport_plain_init(&c->plain, fd);
    c->t = &c->plain;
    c->state = C_CONNECTING;
    c->mask = SK_EV_WRITE;
    if (sk_loop_io_set(w->loop, fd, SK_EV_WRITE, on_io, c) < 0) {
        w->st->err.connect++;
        note(w, "cannot watch a socket (fd %d)", fd);
        restart(c, 10);
        return;
    }
    w->st->connects++;
    if (!sk_timer_active(&c->timer))
        arm(c, w->o->timeout_ms);
}

/* Sends now, or waits for the schedule in open loop. */
static void next_request(struct hconn *c)
{
    struct worker *w = c->w;
    if (w->o->rate > 0) {
        uint64_t now = sk_clock_ns(), due = sk_pace_due(&c->pace);
        if (due >= now + 1000000ull) {
            /* Whole milliseconds of the loop's timer; the request leaves
             * less than 1 ms early at worst and is then timed from its
             * send (see sk_pace_complete). */
            arm(c, (due - now) / 1000000ull);
            return;
        }
    }
    if (c->fd < 0) {
        start_conn(c);
        return;
    }
    send_request(c);
}

/* Writes the queued request; false when the connection was reset. Once
 * it is all out the connection waits for the response. */
static bool flush(struct hconn *c)
{
    struct worker *w = c->w;
    while (!sk_outq_empty(&c->out)) {
        ssize_t n = c->t->ops->write(c->t, &c->out);
        if (n == -EAGAIN) {
            /* A TLS write may wait for the peer (the handshake): then only
             * readability helps, and waiting for writability would spin. */
            int want = c->t->want ? c->t->want : SK_EV_WRITE;
            set_mask(c, SK_EV_READ | (want & SK_EV_WRITE));
            return true;
        }
        if (n < 0) {
            w->st->err.write++;
            note(w, "write: %s", sk_strerror((int)n));
            restart(c, 0);
            return false;
        }
    }
    c->state = C_READING;
    set_mask(c, SK_EV_READ);
    return true;
}

static void send_request(struct hconn *c)
{
    struct worker *w = c->w;
    if (sk_outq_append(&c->out, w->o->request, w->o->request_len) < 0) {
        w->st->err.write++;
        note(w, "out of memory");
        restart(c, 10);
        return;
    }
    c->state = C_SENDING;
    c->sent_ns = sk_clock_ns();
    c->started_ms = c->sent_ns / 1000000ull;
    c->len = 0;
    c->head_done = false;
    if (!flush(c))
        return;
    if (!sk_timer_active(&c->timer))
        arm(c, w->o->timeout_ms);
}

static void response_done(struct hconn *c)
{
    struct worker *w = c->w;
    uint64_t now = sk_clock_ns();
    uint64_t lat = w->o->rate > 0 ? sk_pace_complete(&c->pace, c->sent_ns, now) : now - c->sent_ns;
    sk_hist_record(&w->st->hist, lat);
    w->st->requests++;
    __atomic_store_n(&w->progress, w->st->requests, __ATOMIC_RELAXED);
    int status = c->resp.status;
    if (status >= 100 && status < 600)
        w->st->status[status]++;
    if (status < 200 || status > 299) {
        w->st->err.status++;
        note(w, "status %d", status);
    }
    c->reused = true;
    bool keep = w->o->keepalive && c->resp.keep_alive && c->body.kind != SK_HTTP_BODY_CLOSE;
    if (!keep)
        close_conn(c);
    else
        c->state = C_IDLE;
    next_request(c);
}

/* Parses what is buffered; returns false when the connection was reset. */
static bool consume(struct hconn *c)
{
    struct worker *w = c->w;
    size_t off = 0;
    if (!c->head_done) {
        sk_http_header_t hdrs[MAX_HEADERS];
        enum sk_http_resp_error why = SK_HTTP_RE_NONE;
        int n = sk_http_response_parse(c->in, c->len, NULL, &c->resp, hdrs, MAX_HEADERS, &why);
        if (n == SK_AGAIN)
            return true;
        if (n < 0) {
            w->st->err.parse++;
            note(w, "bad response: %s", sk_http_resp_error_reason(why));
            restart(c, 0);
            return false;
        }
        /* Header spans point into c->in and are not kept past here. */
        c->resp.headers = NULL;
        c->resp.num_headers = 0;
        c->head_done = true;
        sk_http_body_init(&c->body, &c->resp, w->o->head);
        off = (size_t)n;
    }
    size_t used = 0, data = 0;
    int rc = c->body.kind == SK_HTTP_BODY_NONE
                 ? 1
                 : sk_http_body_decode(&c->body, c->in + off, c->len - off, &used, &data);
    if (rc == SK_EPARSE) {
        w->st->err.parse++;
        note(w, "bad chunked body");
        restart(c, 0);
        return false;
    }
    if (rc == 1) {
        if (off + used != c->len) {
            /* Nothing was pipelined: bytes past the body are the server's
             * error (a wrong Content-Length). */
            w->st->err.parse++;
            note(w, "the server sent %zu bytes past the end of the response", c->len - off - used);
            restart(c, 0);
            return false;
        }
        c->len = 0;
        response_done(c);
        return false;
    }
    /* The body continues: the buffer may be reused from the start. */
    c->len = 0;
    return true;
}

static void on_read(struct hconn *c)
{
    struct worker *w = c->w;
    for (;;) {
        if (c->len == c->cap) {
            if (c->cap >= INBUF_MAX) {
                w->st->err.parse++;
                note(w, "response head over %u bytes", INBUF_MAX);
                restart(c, 0);
                return;
            }
            char *p = sk_realloc(c->in, c->cap * 2);
            if (p == NULL) {
                w->st->err.read++;
                note(w, "out of memory");
                restart(c, 10);
                return;
            }
            c->in = p;
            c->cap *= 2;
        }
        ssize_t n = c->t->ops->read(c->t, c->in + c->len, c->cap - c->len);
        if (n == -EAGAIN) {
            if (c->state == C_READING)
                set_mask(c, SK_EV_READ | (c->t->want & SK_EV_WRITE));
            return;
        }
        if (n <= 0) {
            if (n == 0 && c->state == C_READING && c->head_done &&
                sk_http_body_eof(&c->body) == 0) {
                c->len = 0;
                c->body.done = true;
                close_conn(c);
                /* resp is intact: the close ended the body. */
                response_done(c);
                return;
            }
            w->st->err.read++;
            if (n == 0)
                note(w, "the server closed the connection%s",
                     c->head_done ? " in the middle of a response" : "");
            else
                note(w, "read: %s", sk_strerror((int)n));
            restart(c, 0);
            return;
        }
        w->st->bytes += (uint64_t)n;
        if (c->state != C_READING && c->state != C_SENDING) {
            w->st->err.parse++;
            note(w, "the server sent bytes before a request");
            restart(c, 0);
            return;
        }
        c->len += (size_t)n;
        if (!consume(c))
            return;
    }
}

static void on_io(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)fd;
    struct hconn *c = data;
    struct worker *w = c->w;
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof(e);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len);
        if (e != 0) {
            w->st->err.connect++;
            note(w, "connect: %s", strerror(e));
            restart(c, 10);
            return;
        }
        if (w->o->wrap != NULL && w->o->wrap(w->o->wrap_ctx, c->fd, &c->t) < 0) {
            c->t = &c->plain;
            w->st->err.connect++;
            note(w, "cannot set up TLS on a connection");
            restart(c, 10);
            return;
        }
        c->state = C_IDLE;
        set_mask(c, SK_EV_READ);
        send_request(c);
        return;
    }
    /* Any readiness may unblock a write: a TLS handshake progresses on
     * reads too. */
    if (c->state == C_SENDING && !flush(c))
        return;
    if (events & (SK_EV_READ | SK_EV_ERROR | SK_EV_HUP))
        on_read(c);
    /* A handshake that just completed on that read lets the request out. */
    if (c->fd >= 0 && c->state == C_SENDING)
        flush(c);
}

static void on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)loop;
    (void)t;
    struct hconn *c = data;
    struct worker *w = c->w;
    if (c->state == C_IDLE) {
        next_request(c); /* a pacing slot, or a reconnect delay */
        return;
    }
    uint64_t age = sk_clock_ms() - c->started_ms;
    if (age < w->o->timeout_ms) {
        arm(c, w->o->timeout_ms - age);
        return;
    }
    w->st->err.timeout++;
    note(w, "no complete response within %u ms", w->o->timeout_ms);
    restart(c, 0);
}

static void on_wake(sk_loop_t *loop, void *data)
{
    struct worker *w = data;
    if (w->stop || sk_bench_interrupted)
        sk_loop_stop(loop);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t t0 = sk_clock_ns();
    double per_conn = w->o->rate / (double)w->o->conns;
    uint64_t interval = per_conn > 0 ? (uint64_t)(1e9 / per_conn) : 0;
    for (unsigned i = 0; i < w->n; i++) {
        struct hconn *c = &w->c[i];
        /* Stagger the schedules over one interval, so the connections do
         * not fire in lockstep. */
        sk_pace_init(&c->pace, t0 + (w->n ? interval * i / w->n : 0), interval);
        start_conn(c);
    }
    if (!w->stop && !sk_bench_interrupted)
        w->rc = sk_loop_run(w->loop);
    return NULL;
}

static uint64_t total_progress(struct worker *w, unsigned n)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += __atomic_load_n(&w[i].progress, __ATOMIC_RELAXED);
    return s;
}

struct tick_ctx {
    struct worker *w;
    unsigned n;
    sk_bench_progress_t *prog;
    uint64_t t0_ns;
};

static void on_tick(void *data)
{
    struct tick_ctx *t = data;
    sk_bench_progress_tick(t->prog, sk_bench_secs(t->t0_ns, sk_clock_ns()),
                           total_progress(t->w, t->n), "requests/s", 0);
}

int sk_httpl_run(const sk_httpl_opts_t *o, sk_httpl_stats_t *st, struct sk_err *err)
{
    memset(st, 0, sizeof(*st));
    sk_hist_init(&st->hist);
    unsigned nt = o->threads < o->conns ? o->threads : o->conns;
    sk_addr_t *addrs = NULL;
    int rc = sk_endpoint_resolve(o->ep, AF_UNSPEC, false, &addrs, err);
    if (rc < 0)
        return rc;
    struct worker *w = sk_calloc(nt, sizeof(*w));
    if (w == NULL) {
        free(addrs);
        return sk_err_set(err, -ENOMEM, "out of memory");
    }
    rc = 0;
    for (unsigned i = 0; i < nt; i++) {
        w[i].o = o;
        w[i].addr = &addrs[0];
        w[i].n = o->conns / nt + (i < o->conns % nt ? 1 : 0);
        w[i].st = sk_calloc(1, sizeof(*w[i].st));
        w[i].c = sk_calloc(w[i].n, sizeof(*w[i].c));
        if (w[i].st == NULL || w[i].c == NULL) {
            rc = sk_err_set(err, -ENOMEM, "out of memory for %u connections", o->conns);
            goto out;
        }
        sk_hist_init(&w[i].st->hist);
        rc = sk_loop_new(&w[i].loop, sk_backend_default());
        if (rc < 0) {
            sk_err_set(err, rc, "cannot create an event loop: %s", sk_strerror(rc));
            goto out;
        }
        sk_loop_on_wake(w[i].loop, on_wake, &w[i]);
        sk_bench_watch(w[i].loop);
        for (unsigned k = 0; k < w[i].n; k++) {
            struct hconn *c = &w[i].c[k];
            c->w = &w[i];
            c->fd = -1;
            c->cap = INBUF_MIN;
            c->in = sk_malloc(c->cap);
            if (c->in == NULL) {
                rc = sk_err_set(err, -ENOMEM, "out of memory for %u connections", o->conns);
                goto out;
            }
            sk_timer_init(&c->timer, on_timer, c);
        }
    }
    uint64_t t0 = sk_clock_ns();
    for (unsigned i = 0; i < nt; i++) {
        int e = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
        if (e != 0) {
            rc = sk_err_set(err, -e, "cannot start a thread: %s", strerror(e));
            goto out;
        }
        w[i].started = true;
    }
    sk_bench_progress_t prog;
    sk_bench_progress_init(&prog, o->quiet);
    struct tick_ctx tc = {.w = w, .n = nt, .prog = &prog, .t0_ns = t0};
    sk_bench_wait(t0 + o->duration_ms * 1000000ull, on_tick, &tc);
    st->elapsed_s = sk_bench_secs(t0, sk_clock_ns());
    st->interrupted = sk_bench_interrupted != 0;
    sk_bench_progress_done(&prog);
out:
    for (unsigned i = 0; i < nt; i++) {
        w[i].stop = 1;
        if (w[i].loop != NULL)
            sk_loop_wake(w[i].loop);
    }
    for (unsigned i = 0; i < nt; i++) {
        if (w[i].started)
            pthread_join(w[i].tid, NULL);
        if (w[i].loop != NULL) {
            sk_bench_unwatch(w[i].loop);
            for (unsigned k = 0; w[i].c != NULL && k < w[i].n; k++) {
                sk_loop_timer_stop(w[i].loop, &w[i].c[k].timer);
                close_conn(&w[i].c[k]);
                sk_free(w[i].c[k].in);
            }
            sk_loop_free(w[i].loop);
        }
        if (w[i].st != NULL && w[i].started) {
            sk_httpl_stats_t *s = w[i].st;
            sk_hist_merge(&st->hist, &s->hist);
            st->requests += s->requests;
            st->bytes += s->bytes;
            st->connects += s->connects;
            st->err.connect += s->err.connect;
            st->err.read += s->err.read;
            st->err.write += s->err.write;
            st->err.timeout += s->err.timeout;
            st->err.parse += s->err.parse;
            st->err.status += s->err.status;
            for (int k = 0; k < 600; k++)
                st->status[k] += s->status[k];
            if (st->first_error[0] == '\0')
                memcpy(st->first_error, s->first_error, sizeof(st->first_error));
            if (w[i].rc < 0 && rc == 0)
                rc = sk_err_set(err, w[i].rc, "event loop failed: %s", sk_strerror(w[i].rc));
        }
        sk_free(w[i].st);
        sk_free(w[i].c);
    }
    sk_free(w);
    free(addrs);
    return rc;
}
