/* worker.c -- the event-loop engine: one loop per worker thread (epoll,
 * poll, select or io_uring), accepting (pausing on EMFILE or --max-conns),
 * datagram sockets, per-connection timers and graceful drain. Stream
 * connections run the shared driver in conn.c; this file only waits for
 * what the driver asks for and frees connections the driver closed. */
#include "core/server_internal.h"
#include "core/alloc.h"
#include "core/conn.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long accepting pauses after EMFILE/ENFILE. */
#define ACCEPT_PAUSE_MS 100
/* Accepts and reads per readiness event, so one busy socket cannot starve
 * the others on the same loop. */
#define ACCEPT_BATCH 64
#define READ_BATCH 4
#define DGRAM_BATCH 64

struct worker {
    sk_server_t *srv;
    int id;
    sk_loop_t *loop;
    pthread_t tid;
    sk_conn_t *conns; /* doubly linked through their links, for drain */
    long nconns;
    bool draining;
    bool accept_paused;
    bool emfile_logged;
    sk_timer_t accept_timer;
    sk_timer_t drain_timer;
    sk_timer_t tick_timer;
    sk_buf_t reply;   /* datagram reply scratch */
    void **svc_state; /* per service, from worker_init */
    int rc;
};

static void accept_resume(struct worker *w);

/* ---- connections ------------------------------------------------------ */

static void conn_release(struct worker *w, sk_conn_t *c)
{
    sk_conn_link_t *l = sk__conn_link(c);
    sk_loop_io_del(w->loop, sk__conn_fd(c));
    sk_loop_timer_stop(w->loop, &l->timer);
    if (l->prev != NULL)
        sk__conn_link(l->prev)->next = l->next;
    else
        w->conns = l->next;
    if (l->next != NULL)
        sk__conn_link(l->next)->prev = l->prev;
    sk__conn_free(c, sk_loop_now(w->loop));
    w->nconns--;
    long total = atomic_fetch_sub(&w->srv->nconns, 1) - 1;
    if (w->accept_paused && !w->emfile_logged && total < w->srv->cfg.max_conns)
        accept_resume(w);
    if (w->draining && w->nconns == 0)
        sk_loop_stop(w->loop);
}

/* After every dispatch: free a closed connection, else register the
 * interest the driver wants and arm its timer. The timer is re-armed
 * lazily: activity only moves the deadline later, and a timer that fires
 * early re-arms itself at the real one, which keeps heap work off the
 * per-read path. */
static void conn_after(struct worker *w, sk_conn_t *c)
{
    if (sk__conn_closed(c)) {
        conn_release(w, c);
        return;
    }
    sk_conn_link_t *l = sk__conn_link(c);
    int mask = sk__conn_mask(c);
    if (mask != l->mask) {
        int rc = sk_loop_io_mask(w->loop, sk__conn_fd(c), mask);
        if (rc < 0) {
            sk__conn_close(c, sk_strerror(rc));
            conn_release(w, c);
            return;
        }
        l->mask = mask;
    }
    uint64_t deadline = sk__conn_deadline(c);
    if (deadline == 0) {
        sk_loop_timer_stop(w->loop, &l->timer);
        return;
    }
    if (sk_timer_active(&l->timer) && l->timer.due_ms <= deadline)
        return;
    uint64_t now = sk_loop_now(w->loop);
    if (sk_loop_timer_start(w->loop, &l->timer, deadline > now ? deadline - now : 0) < 0) {
        /* A connection without its timer could outlive every timeout. */
        sk__conn_close(c, "out of memory for its timer");
        conn_release(w, c);
    }
}

static void conn_on_io(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)fd;
    sk_conn_t *c = data;
    sk__conn_io(c, events, sk_loop_now(loop));
    conn_after(sk_loop_data(loop), c);
}

static void conn_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    sk_conn_t *c = data;
    sk__conn_timer(c, sk_loop_now(loop));
    conn_after(sk_loop_data(loop), c);
}

static void conn_start(struct worker *w, const struct sk__listener *l, int fd,
                       const struct sockaddr *peer, socklen_t peer_len)
{
    unsigned scratch_size;
    char *scratch = sk_loop_scratch(w->loop, &scratch_size);
    sk_conn_setup_t s = {
        .fd = fd,
        .proto = l->svc->stream,
        .cfg = l->svc->cfg,
        .worker = w->svc_state[l->svc_index],
        .tls = l->transport == SK_TRANSPORT_TLS ? w->srv->cfg.tls : NULL,
        .scratch = scratch,
        .scratch_size = scratch_size,
        .read_batch = READ_BATCH,
        .verbose = w->srv->cfg.verbose,
        .now_ms = sk_loop_now(w->loop),
    };
    sk_conn_t *c = NULL;
    int rc = sk__conn_new(&c, &s);
    if (rc < 0) {
        sk_log_warn("cannot set up a connection on %s: %s; closing it", l->name, sk_strerror(rc));
        close(fd);
        atomic_fetch_sub(&w->srv->nconns, 1);
        return;
    }
    if (w->srv->cfg.verbose) {
        char peername[160];
        sk_addr_format_peer(peer, peer_len, peername, sizeof(peername));
        sk__conn_log(w->srv, fd, "accepted from %s on %s", peername, l->name);
    }
    sk_conn_link_t *link = sk__conn_link(c);
    link->owner = w;
    sk_timer_init(&link->timer, conn_on_timer, c);
    link->next = w->conns;
    if (w->conns != NULL)
        sk__conn_link(w->conns)->prev = c;
    w->conns = c;
    w->nconns++;
    rc = sk_loop_io_set(w->loop, fd, SK_EV_READ, conn_on_io, c);
    if (rc < 0) {
        if (rc == -ERANGE)
            sk_log_warn("fd %d is beyond what the %s backend can watch (FD_SETSIZE %d); "
                        "closing that connection",
                        fd, sk_loop_backend(w->loop)->name, FD_SETSIZE);
        else
            sk_log_warn("cannot watch fd %d: %s; closing that connection", fd, sk_strerror(rc));
        sk__conn_close(c, "not watchable");
        conn_release(w, c);
        return;
    }
    link->mask = SK_EV_READ;
    sk__conn_open(c, peer, peer_len);
    conn_after(w, c);
}

/* ---- accepting ---------------------------------------------------------- */

static void accept_pause(struct worker *w, uint64_t ms)
{
    if (!w->accept_paused) {
        for (size_t i = 0; i < w->srv->nls; i++) {
            struct sk__listener *l = &w->srv->ls[i];
            if (l->stream && (l->owner < 0 || l->owner == w->id))
                sk_loop_io_mask(w->loop, l->fd, 0);
        }
        w->accept_paused = true;
    }
    if (ms > 0 && sk_loop_timer_start(w->loop, &w->accept_timer, ms) < 0) {
        /* Without the timer nothing would resume accepting: keep going. */
        w->emfile_logged = false;
        accept_resume(w);
    }
}

static void accept_resume(struct worker *w)
{
    if (!w->accept_paused || w->draining)
        return;
    for (size_t i = 0; i < w->srv->nls; i++) {
        struct sk__listener *l = &w->srv->ls[i];
        if (l->stream && (l->owner < 0 || l->owner == w->id))
            sk_loop_io_mask(w->loop, l->fd, SK_EV_READ);
    }
    w->accept_paused = false;
}

static void accept_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)loop;
    (void)t;
    struct worker *w = data;
    w->emfile_logged = false;
    if (atomic_load(&w->srv->nconns) < w->srv->cfg.max_conns)
        accept_resume(w);
    else
        accept_pause(w, ACCEPT_PAUSE_MS);
}

static void listener_on_accept(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)events;
    const struct sk__listener *l = data;
    struct worker *w = sk_loop_data(loop);
    for (int i = 0; i < ACCEPT_BATCH && !w->accept_paused; i++) {
        if (atomic_load(&w->srv->nconns) >= w->srv->cfg.max_conns) {
            /* Over --max-conns: leave the rest in the backlog. */
            accept_pause(w, ACCEPT_PAUSE_MS);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment and keep
                 * serving the connections we have; their closing frees fds. */
                if (!w->emfile_logged)
                    sk_log_warn("accept on %s: %s; pausing accepts for %d ms", l->name, strerror(e),
                                ACCEPT_PAUSE_MS);
                w->emfile_logged = true;
                accept_pause(w, ACCEPT_PAUSE_MS);
                return;
            }
            sk_log_warn("accept on %s: %s", l->name, strerror(e));
            return;
        }
        atomic_fetch_add(&w->srv->nconns, 1);
        conn_start(w, l, cfd, (struct sockaddr *)&ss, len);
    }
}

/* ---- datagrams -------------------------------------------------------- */

static void dgram_on_read(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)events;
    const struct sk__listener *l = data;
    struct worker *w = sk_loop_data(loop);
    unsigned size;
    char *scratch = sk_loop_scratch(loop, &size);
    for (int i = 0; i < DGRAM_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(fd, scratch, size, MSG_TRUNC, (struct sockaddr *)&ss, &len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error queued by an earlier send */
        }
        if ((size_t)n > size) {
            sk_log_debug("datagram of %zd bytes truncated to %u", n, size);
            n = size;
        }
        sk__dgram_answer(l, fd, scratch, (size_t)n, &w->reply, (struct sockaddr *)&ss, len);
    }
}

/* ---- workers and shutdown ----------------------------------------------- */

static void close_all(struct worker *w, const char *why)
{
    while (w->conns != NULL) {
        sk_conn_t *c = w->conns;
        sk__conn_close(c, why);
        conn_release(w, c);
    }
}

static void drain_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct worker *w = data;
    if (w->nconns > 0)
        sk_log_warn("drain timeout: closing %ld connection%s", w->nconns,
                    w->nconns == 1 ? "" : "s");
    close_all(w, "drain timeout");
    sk_loop_stop(loop);
}

static void worker_on_wake(sk_loop_t *loop, void *data)
{
    struct worker *w = data;
    if (w->draining || !atomic_load(&w->srv->stopping))
        return;
    w->draining = true;
    for (size_t i = 0; i < w->srv->nls; i++) {
        struct sk__listener *l = &w->srv->ls[i];
        if (l->owner < 0 || l->owner == w->id)
            sk_loop_io_del(loop, l->fd);
    }
    sk_loop_timer_stop(loop, &w->accept_timer);
    /* Idle connections go now; busy ones finish their reply first. */
    uint64_t now = sk_loop_now(loop);
    sk_conn_t *c = w->conns;
    while (c != NULL) {
        sk_conn_t *next = sk__conn_link(c)->next;
        sk__conn_drain(c, now);
        conn_after(w, c);
        c = next;
    }
    if (w->nconns == 0) {
        sk_loop_stop(loop);
        return;
    }
    if (sk_loop_timer_start(loop, &w->drain_timer, w->srv->cfg.drain_timeout_ms) < 0) {
        close_all(w, "drain timeout");
        sk_loop_stop(loop);
    }
}

static void tick_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    struct worker *w = data;
    for (size_t i = 0; i < w->srv->nsvcs; i++)
        if (w->srv->svcs[i]->worker_tick != NULL && w->svc_state[i] != NULL)
            w->srv->svcs[i]->worker_tick(w->svc_state[i], sk_loop_now(loop));
    /* A failed re-arm only delays log flushing until the next dispatch. */
    (void)sk_loop_timer_start(loop, t, 1000);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->rc = sk_loop_run(w->loop);
    return NULL;
}

static int worker_setup(sk_server_t *srv, struct worker *w, int id)
{
    w->srv = srv;
    w->id = id;
    int rc = sk_loop_new(&w->loop, srv->cfg.backend);
    if (rc < 0)
        return rc;
    sk_loop_set_data(w->loop, w);
    sk_loop_on_wake(w->loop, worker_on_wake, w);
    sk_timer_init(&w->accept_timer, accept_on_timer, w);
    sk_timer_init(&w->drain_timer, drain_on_timer, w);
    sk_timer_init(&w->tick_timer, tick_on_timer, w);
    w->svc_state = sk_xcalloc(srv->nsvcs ? srv->nsvcs : 1, sizeof(void *));
    rc = sk__worker_state_init(srv, w->svc_state);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < srv->nsvcs; i++) {
        if (srv->svcs[i]->worker_tick != NULL) {
            rc = sk_loop_timer_start(w->loop, &w->tick_timer, 1000);
            if (rc < 0)
                return rc;
            break;
        }
    }
    for (size_t i = 0; i < srv->nls; i++) {
        struct sk__listener *l = &srv->ls[i];
        if (l->owner >= 0 && l->owner != id)
            continue;
        rc = sk_loop_io_set(w->loop, l->fd, SK_EV_READ,
                            l->stream ? listener_on_accept : dgram_on_read, l);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void worker_teardown(sk_server_t *srv, struct worker *w)
{
    close_all(w, "server stopped");
    if (w->svc_state != NULL)
        sk__worker_state_fini(srv, w->svc_state);
    free(w->svc_state);
    sk_buf_fini(&w->reply);
    sk_loop_free(w->loop);
}

int sk__server_run_workers(sk_server_t *srv)
{
    int nworkers = srv->cfg.workers;
    struct worker *workers = sk_xcalloc((size_t)nworkers, sizeof(*workers));
    int rc = 0;
    int started = 0;
    for (int i = 0; i < nworkers; i++) {
        rc = worker_setup(srv, &workers[i], i);
        if (rc < 0) {
            sk_log_error("cannot start worker %d on the %s backend: %s", i, srv->cfg.backend->name,
                         sk_strerror(rc));
            nworkers = i + 1;
            goto out;
        }
    }
    sk__server_print_listening(srv);
    for (; started < nworkers; started++) {
        if (pthread_create(&workers[started].tid, NULL, worker_main, &workers[started]) != 0) {
            rc = -EAGAIN;
            sk_log_error("cannot start worker thread %d", started);
            break;
        }
    }
    if (rc == 0)
        sk__server_wait_signal(srv);
    atomic_store(&srv->stopping, true);
    for (int i = 0; i < started; i++)
        sk_loop_wake(workers[i].loop);
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].tid, NULL);
        if (workers[i].rc < 0 && rc == 0)
            rc = workers[i].rc;
    }
out:
    for (int i = 0; i < nworkers; i++)
        if (workers[i].loop != NULL)
            worker_teardown(srv, &workers[i]);
    free(workers);
    return rc;
}
