/* rtt.c -- the ping-pong engine (see rtt.h). One loop, many connections;
 * every echo is compared byte for byte with what was sent. The round trip
 * is timed from just before the first write to just after the last byte
 * of the echo is read, on the monotonic clock. */
#include "bench/rtt.h"
#include "bench/bench.h"
#include "bench/report.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rtt;

struct rconn {
    struct rtt *r;
    unsigned id;
    int fd;
    bool owned;   /* the engine opened fd and may reopen it */
    bool dead;    /* gave up on this connection */
    bool waiting; /* a message is in flight */
    bool mismatch;
    int mask;
    sk_transport_t plain;
    sk_transport_t *t;
    sk_outq_t out;
    char *msg; /* this round's message */
    size_t got;
    uint64_t seq;
    uint64_t sent_ns;
    sk_timer_t timer; /* the message timeout, and pacing with an interval */
};

struct rtt {
    const sk_rtt_opts_t *o;
    sk_rtt_stats_t *st;
    sk_loop_t *loop;
    struct rconn *c;
    unsigned n;
    unsigned alive;
    bool dgram;
    bool blocking; /* one stream connection: wait in read(2), no loop */
    bool measuring;
    uint64_t measure_ns;
    sk_timer_t phase, tick;
    sk_bench_progress_t prog;
    unsigned ticks;
};

static void send_msg(struct rconn *c);
static void on_io(sk_loop_t *loop, int fd, int events, void *data);

static void note_error(struct rtt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_error(struct rtt *r, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->st->first_error[0] == '\0')
        snprintf(r->st->first_error, sizeof(r->st->first_error), "%s", msg);
    if (r->o->verbose)
        sk_log_warn("%s", msg);
}

/* Message bytes for round `seq` of connection `id`: the sequence number in
 * the first 8 bytes (when they fit), then a pattern that changes with both,
 * so a stale or shifted echo never matches. */
static void fill(struct rconn *c)
{
    size_t n = c->r->o->size, i = 0;
    if (n >= 8) {
        memcpy(c->msg, &c->seq, 8);
        i = 8;
    }
    unsigned char base = (unsigned char)(c->seq * 31u + c->id * 13u);
    for (; i < n; i++)
        c->msg[i] = (char)(base + (unsigned char)(i * 7u));
}

static int open_conn(struct rtt *r, struct rconn *c, struct sk_err *err)
{
    const sk_rtt_opts_t *o = r->o;
    sk_sockopts_t so = {0};
    sk_sockopt_parse(&so, "nodelay=1", NULL);
    sk_connect_opts_t co = {.timeout_ms = 5000, .sockopts = &so};
    int fd = sk_endpoint_connect(o->ep, &co, err);
    if (fd < 0)
        return fd;
    c->t = &c->plain;
    sk_transport_plain_init(&c->plain, fd);
    if (o->wrap != NULL) {
        int rc = o->wrap(o->wrap_ctx, fd, &c->t, err);
        if (rc < 0) {
            close(fd);
            c->t = &c->plain;
            return rc;
        }
    }
    if (r->blocking) {
        /* Blocking calls end after the message timeout (then EAGAIN). */
        struct timeval tv = {.tv_sec = o->timeout_ms / 1000,
                             .tv_usec = (suseconds_t)(o->timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    } else {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    c->fd = fd;
    c->owned = true;
    return 0;
}

static void close_conn(struct rconn *c)
{
    if (c->fd < 0)
        return;
    if (!c->r->blocking)
        sk_loop_io_del(c->r->loop, c->fd);
    if (c->t != &c->plain && c->t != NULL && c->t->ops->free != NULL)
        c->t->ops->free(c->t);
    c->t = &c->plain;
    if (c->owned)
        close(c->fd);
    c->fd = -1;
    sk_outq_clear(&c->out);
}

/* A stream connection that failed: count it, reopen it (only ones the
 * engine opened), and give up on it if that fails. */
static void arm(struct rconn *c, uint64_t delay_ms)
{
    sk_loop_timer_start(c->r->loop, &c->timer, delay_ms);
}

static void give_up(struct rconn *c)
{
    struct rtt *r = c->r;
    if (c->fd >= 0)
        close_conn(c);
    c->dead = true;
    sk_loop_timer_stop(r->loop, &c->timer);
    if (--r->alive == 0)
        sk_loop_stop(r->loop);
}

/* Opens a failed connection again; false (and given up) when that fails. */
static bool reopen(struct rconn *c)
{
    struct rtt *r = c->r;
    struct sk_err err = {0};
    if (sk_bench_interrupted || open_conn(r, c, &err) < 0 ||
        (!r->blocking && sk_loop_io_set(r->loop, c->fd, SK_EV_READ, on_io, c) < 0)) {
        give_up(c);
        return false;
    }
    c->mask = SK_EV_READ;
    return true;
}

/* A stream connection that failed: count it, and reopen it (only ones the
 * engine opened) 10 ms later, so a server that closes every connection
 * is not hammered in a tight loop. */
static void conn_failed(struct rconn *c, const char *what)
{
    struct rtt *r = c->r;
    r->st->errors++;
    note_error(r, "%s", what);
    bool owned = c->owned;
    close_conn(c);
    c->waiting = false;
    c->got = 0;
    c->mismatch = false;
    if (!owned || sk_bench_interrupted) {
        give_up(c);
        return;
    }
    if (r->blocking) {
        usleep(10000);
        reopen(c); /* the blocking driver sends the next itself */
        return;
    }
    arm(c, 10); /* on_conn_timer reopens */
}

static void set_mask(struct rconn *c, int mask)
{
    if (!c->r->blocking && c->mask != mask && sk_loop_io_mask(c->r->loop, c->fd, mask) == 0)
        c->mask = mask;
}

/* Writes what is queued; false when the connection failed. */
static bool flush(struct rconn *c)
{
    while (!sk_outq_empty(&c->out)) {
        ssize_t n = c->t->ops->write(c->t, &c->out);
        if (n == -EAGAIN && c->r->blocking) {
            c->r->st->stalled++;
            conn_failed(c, "the server took nothing within the timeout");
            return false;
        }
        if (n == -EAGAIN) {
            set_mask(c, SK_EV_READ | SK_EV_WRITE);
            return true;
        }
        if (n < 0) {
            char what[160];
            snprintf(what, sizeof(what), "write failed: %s", sk_strerror((int)n));
            conn_failed(c, what);
            return false;
        }
    }
    set_mask(c, SK_EV_READ);
    return true;
}

static void send_msg(struct rconn *c)
{
    struct rtt *r = c->r;
    fill(c);
    c->got = 0;
    c->mismatch = false;
    c->waiting = true;
    c->sent_ns = sk_clock_ns();
    if (r->dgram) {
        if (send(c->fd, c->msg, r->o->size, 0) < 0 && errno != EAGAIN && errno != EINTR) {
            r->st->errors++;
            note_error(r, "send failed: %s", strerror(errno));
        }
    } else {
        if (sk_outq_append(&c->out, c->msg, r->o->size) < 0) {
            conn_failed(c, "out of memory");
            return;
        }
        if (!flush(c))
            return;
    }
    /* The timer is re-armed lazily: it fires at most once per timeout and
     * then checks how old the message in flight is, so a fast round trip
     * costs no heap operation. */
    if (!r->blocking && !sk_timer_active(&c->timer))
        arm(c, r->o->timeout_ms);
}

/* The echo of the message in flight is complete. */
static void completed(struct rconn *c)
{
    struct rtt *r = c->r;
    uint64_t now = sk_clock_ns();
    c->waiting = false;
    if (c->mismatch) {
        r->st->wrong++;
        r->st->errors++;
        note_error(r, "%s", "the echo differed from what was sent");
    } else if (r->measuring) {
        sk_hist_record(&r->st->hist, now - c->sent_ns);
        r->st->round_trips++;
        r->st->bytes += 2 * r->o->size;
    }
    c->seq++;
    if (r->blocking)
        return; /* its driver sends the next */
    if (r->o->interval_ms == 0) {
        send_msg(c);
        return;
    }
    uint64_t next = c->sent_ns + r->o->interval_ms * 1000000ull;
    arm(c, next > now ? (next - now) / 1000000ull : 0);
}

static void read_stream(struct rconn *c)
{
    struct rtt *r = c->r;
    unsigned cap;
    char *buf = sk_loop_scratch(r->loop, &cap);
    while (c->fd >= 0) {
        /* Read at most what the message in flight still owes: anything
         * beyond is left for the next round, where it fails the compare. */
        size_t want = c->waiting ? r->o->size - c->got : cap;
        ssize_t n = c->t->ops->read(c->t, buf, want < cap ? want : cap);
        if (n == -EAGAIN && r->blocking) {
            r->st->stalled++;
            conn_failed(c, "no echo within the timeout");
            return;
        }
        if (n == -EAGAIN) {
            /* A TLS read may first need to write (a key update). */
            if (c->t->want & SK_EV_WRITE)
                set_mask(c, SK_EV_READ | SK_EV_WRITE);
            return;
        }
        if (n == 0 || n < 0) {
            char what[160];
            if (n == 0)
                snprintf(what, sizeof(what), "the server closed the connection");
            else
                snprintf(what, sizeof(what), "read failed: %s", sk_strerror((int)n));
            r->st->closed++;
            conn_failed(c, what);
            return;
        }
        if (!c->waiting) {
            /* Bytes nobody asked for. */
            r->st->wrong++;
            r->st->errors++;
            note_error(r, "%s", "the server sent bytes that were not an echo");
            continue;
        }
        if (memcmp(buf, c->msg + c->got, (size_t)n) != 0)
            c->mismatch = true;
        c->got += (size_t)n;
        if (c->got == r->o->size) {
            /* The next echo cannot be here yet: return to the loop rather
             * than pay a read that would only say EAGAIN (the loop is
             * level-triggered, so nothing is missed). */
            completed(c);
            return;
        }
    }
}

static void read_dgram(struct rconn *c)
{
    struct rtt *r = c->r;
    unsigned cap;
    char *buf = sk_loop_scratch(r->loop, &cap);
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            /* ECONNREFUSED: an ICMP port unreachable for an earlier
             * datagram. The message in flight is lost; go on. */
            r->st->errors++;
            note_error(r, "receive failed: %s", strerror(errno));
            if (c->waiting) {
                /* Nobody listens there (yet): retry after the timeout
                 * rather than spin on refusals. */
                r->st->lost++;
                c->waiting = false;
                c->seq++;
                arm(c, r->o->timeout_ms);
            }
            return;
        }
        uint64_t seq;
        memcpy(&seq, buf, 8); /* size >= 8 is checked by the caller */
        if ((size_t)n == r->o->size && seq < c->seq) {
            r->st->late++; /* its round already counted as lost */
            continue;
        }
        if (!c->waiting || (size_t)n != r->o->size || seq != c->seq) {
            r->st->wrong++;
            r->st->errors++;
            note_error(r, "%s", "a datagram came back different from what was sent");
            continue;
        }
        c->mismatch = memcmp(buf, c->msg, r->o->size) != 0;
        c->got = r->o->size;
        completed(c);
    }
}

static void on_io(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)fd;
    struct rconn *c = data;
    if (c->r->dgram) {
        read_dgram(c);
        return;
    }
    if ((events & SK_EV_WRITE) && !flush(c))
        return;
    read_stream(c);
    /* A TLS write may have been waiting for this read. */
    if (c->fd >= 0 && !sk_outq_empty(&c->out))
        flush(c);
}

static void on_conn_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct rconn *c = data;
    struct rtt *r = c->r;
    if (c->dead)
        return;
    if (c->fd < 0) {
        if (reopen(c))
            send_msg(c);
        return;
    }
    if (!c->waiting) {
        send_msg(c); /* the interval has passed */
        return;
    }
    uint64_t age_ms = (sk_clock_ns() - c->sent_ns) / 1000000ull;
    if (age_ms < r->o->timeout_ms) {
        arm(c, r->o->timeout_ms - age_ms);
        return;
    }
    (void)loop;
    if (r->dgram) {
        r->st->lost++;
        c->waiting = false;
        c->seq++;
        send_msg(c);
    } else {
        r->st->stalled++;
        conn_failed(c, "no echo within the timeout");
    }
}

/* Warm-up over: keep the connections, forget what was recorded. */
static void begin_measuring(struct rtt *r)
{
    sk_hist_init(&r->st->hist);
    r->st->round_trips = 0;
    r->st->bytes = 0;
    r->measuring = true;
    r->measure_ns = sk_clock_ns();
}

static void on_phase(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct rtt *r = data;
    if (r->measuring) {
        sk_loop_stop(loop);
        return;
    }
    begin_measuring(r);
    sk_loop_timer_start(loop, &r->phase, r->o->duration_ms);
}

/* One stream connection, back to back: wait in read(2) like a plain
 * blocking client. Through the loop every round trip would pay one more
 * system call (epoll_wait before the read), about 1 us here, which is
 * not the server's time. */
static void run_blocking(struct rtt *r)
{
    struct rconn *c = &r->c[0];
    uint64_t t0 = sk_clock_ns(), next_tick = t0 + 1000000000ull;
    uint64_t warm_end = t0 + r->o->warmup_ms * 1000000ull;
    while (!sk_bench_interrupted && !c->dead) {
        uint64_t now = sk_clock_ns();
        if (!r->measuring && now >= warm_end)
            begin_measuring(r);
        if (r->measuring && now >= r->measure_ns + r->o->duration_ms * 1000000ull)
            break;
        if (now >= next_tick) {
            if (r->measuring)
                sk_bench_progress_tick(&r->prog, sk_bench_secs(r->measure_ns, now),
                                       r->st->round_trips, "round trips/s", r->st->errors);
            next_tick += 1000000000ull;
        }
        send_msg(c);
        if (c->fd >= 0 && c->waiting)
            read_stream(c);
    }
}

static void on_tick(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct rtt *r = data;
    r->ticks++;
    if (r->measuring)
        sk_bench_progress_tick(&r->prog, sk_bench_secs(r->measure_ns, sk_clock_ns()),
                               r->st->round_trips, "round trips/s", r->st->errors);
    sk_loop_timer_start(loop, &r->tick, 1000);
}

static void on_wake(sk_loop_t *loop, void *data)
{
    struct rtt *r = data;
    if (sk_bench_interrupted) {
        r->st->interrupted = true;
        sk_loop_stop(loop);
    }
}

static int setup(struct rtt *r, struct sk_err *err)
{
    const sk_rtt_opts_t *o = r->o;
    r->n = o->fds != NULL ? (unsigned)o->nfds : o->conns;
    r->c = sk_calloc(r->n, sizeof(*r->c));
    if (r->c == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory for %u connections", r->n);
    for (unsigned i = 0; i < r->n; i++) {
        struct rconn *c = &r->c[i];
        c->r = r;
        c->id = i;
        c->fd = -1;
        c->t = &c->plain;
        sk_timer_init(&c->timer, on_conn_timer, c);
        c->msg = sk_malloc(o->size);
        if (c->msg == NULL)
            return sk_err_set(err, -ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < r->n; i++) {
        struct rconn *c = &r->c[i];
        if (o->fds != NULL) {
            c->fd = o->fds[i];
            sk_transport_plain_init(&c->plain, c->fd);
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        } else {
            int rc = open_conn(r, c, err);
            if (rc < 0)
                return rc;
        }
        int rc = r->blocking ? 0 : sk_loop_io_set(r->loop, c->fd, SK_EV_READ, on_io, c);
        if (rc < 0)
            return sk_err_set(err, rc, "cannot watch connection %u: %s", i, sk_strerror(rc));
        c->mask = SK_EV_READ;
        r->alive++;
        if (sk_bench_interrupted)
            return sk_err_set(err, -EINTR, "interrupted while connecting");
    }
    return 0;
}

int sk_rtt_run(const sk_rtt_opts_t *o, sk_rtt_stats_t *st, struct sk_err *err)
{
    struct rtt r = {.o = o, .st = st};
    memset(st, 0, sizeof(*st));
    sk_hist_init(&st->hist);
    r.dgram = !sk_endpoint_is_stream(o->ep);
    r.blocking = !r.dgram && o->fds == NULL && o->conns == 1 && o->interval_ms == 0;
    if (r.dgram && o->size < 8)
        return sk_err_set(err, SK_EUSAGE, "datagram messages need at least 8 bytes");
    if (o->size == 0)
        return sk_err_set(err, SK_EUSAGE, "the message size must be at least 1 byte");
    int rc = sk_loop_new(&r.loop, o->backend != NULL ? o->backend : sk_backend_default());
    if (rc < 0)
        return sk_err_set(err, rc, "cannot create the event loop: %s", sk_strerror(rc));
    sk_loop_on_wake(r.loop, on_wake, &r);
    bool watched = sk_bench_watch(r.loop) == 0;
    rc = setup(&r, err);
    if (rc == 0) {
        sk_bench_progress_init(&r.prog, o->quiet);
        sk_timer_init(&r.phase, on_phase, &r);
        sk_timer_init(&r.tick, on_tick, &r);
        if (r.blocking) {
            run_blocking(&r);
        } else {
            if (o->warmup_ms > 0)
                sk_loop_timer_start(r.loop, &r.phase, o->warmup_ms);
            else
                on_phase(r.loop, &r.phase, &r);
            sk_loop_timer_start(r.loop, &r.tick, 1000);
            /* Stagger the first sends of paced connections over one
             * interval so they do not fire in lockstep. */
            for (unsigned i = 0; i < r.n; i++) {
                if (o->interval_ms > 0)
                    arm(&r.c[i], (uint64_t)o->interval_ms * i / r.n);
                else
                    send_msg(&r.c[i]);
            }
            if (!sk_bench_interrupted && r.alive > 0)
                rc = sk_loop_run(r.loop);
        }
        if (sk_bench_interrupted)
            st->interrupted = true;
        st->elapsed_s = r.measuring ? sk_bench_secs(r.measure_ns, sk_clock_ns()) : 0.0;
        sk_bench_progress_done(&r.prog);
        if (rc < 0)
            sk_err_set(err, rc, "event loop failed: %s", sk_strerror(rc));
        st->conns_open = r.alive;
        if (r.alive == 0 && st->round_trips == 0 && rc == 0)
            rc = sk_err_set(err, -ECONNRESET, "every connection failed: %s", st->first_error);
    }
    if (watched)
        sk_bench_unwatch(r.loop);
    for (unsigned i = 0; r.c != NULL && i < r.n; i++) {
        sk_loop_timer_stop(r.loop, &r.c[i].timer);
        close_conn(&r.c[i]);
        sk_free(r.c[i].msg);
    }
    sk_free(r.c);
    sk_loop_free(r.loop);
    return rc;
}
