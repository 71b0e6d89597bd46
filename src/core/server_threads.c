/* server_threads.c -- the thread-per-connection engine behind
 * `--backend threads`: blocking sockets, one acceptor thread, one thread per
 * stream connection and one per datagram socket, as the baseline the
 * event loops are compared with. Connections run the same driver as the
 * event loops (conn.c): each thread polls its one socket for what the
 * driver wants, bounded by the driver's next deadline, so every timeout is
 * checked after every read.
 *
 * Blocking calls also carry SO_RCVTIMEO/SO_SNDTIMEO slices, so a write to a
 * peer that stopped reading returns to the loop a few times a second. */
#include "core/server_internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/conn.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLICE_MS 200
#define READ_SIZE 65536
#define THREAD_STACK (256u * 1024u)
/* After the drain timeout, sockets of the threads still running are shut
 * down; this is how long they then get to notice and exit. */
#define FORCE_WAIT_MS 3000

/* A connection thread's entry in the registry the main thread uses to
 * shut sockets down after the drain timeout. */
struct tconn {
    struct tconn *prev, *next;
    sk_server_t *srv;
    const struct sk__listener *l;
    int fd;
    atomic_bool forced;
    struct sockaddr_storage peer;
    socklen_t peer_len;
};

static atomic_long live_threads;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tconn *registry;

static void registry_add(struct tconn *t)
{
    pthread_mutex_lock(&registry_lock);
    t->prev = NULL;
    t->next = registry;
    if (registry != NULL)
        registry->prev = t;
    registry = t;
    pthread_mutex_unlock(&registry_lock);
}

/* Called before the socket is closed, so the main thread never shuts down
 * a descriptor number that was already reused. */
static void registry_remove(struct tconn *t)
{
    pthread_mutex_lock(&registry_lock);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        registry = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_force_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct tconn *t = registry; t != NULL; t = t->next) {
        atomic_store(&t->forced, true);
        shutdown(t->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&registry_lock);
}

static void set_blocking_slices(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = 0, .tv_usec = SLICE_MS * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Waits for what the driver wants, at most until its deadline, and
 * reports it. Returns with the connection closed or having made a step. */
static void tconn_step(sk_conn_t *c)
{
    uint64_t now = sk_clock_ms();
    uint64_t deadline = sk__conn_deadline(c);
    if (deadline != 0 && deadline <= now) {
        sk__conn_timer(c, now);
        return;
    }
    int timeout = SLICE_MS;
    if (deadline != 0 && deadline - now < (uint64_t)timeout)
        timeout = (int)(deadline - now);
    int mask = sk__conn_mask(c);
    struct pollfd pfd = {
        .fd = sk__conn_fd(c),
        .events =
            (short)(((mask & SK_EV_READ) ? POLLIN : 0) | ((mask & SK_EV_WRITE) ? POLLOUT : 0)),
    };
    int r = poll(&pfd, 1, timeout);
    if (r <= 0)
        return;
    int events = 0;
    if (pfd.revents & POLLIN)
        events |= SK_EV_READ;
    if (pfd.revents & POLLOUT)
        events |= SK_EV_WRITE;
    if (pfd.revents & POLLERR)
        events |= SK_EV_ERROR;
    if (pfd.revents & POLLHUP)
        events |= SK_EV_HUP;
    sk__conn_io(c, events, sk_clock_ms());
}

static void *tconn_main(void *arg)
{
    struct tconn *tc = arg;
    sk_server_t *srv = tc->srv;
    const sk_service_t *svc = tc->l->svc;
    void *wstate = svc->worker_init != NULL ? svc->worker_init(svc->cfg) : NULL;
    char *buf = sk_malloc(READ_SIZE);
    sk_conn_t *c = NULL;
    int rc = buf == NULL || (svc->worker_init != NULL && wstate == NULL) ? -ENOMEM : 0;
    if (rc == 0) {
        set_blocking_slices(tc->fd);
        sk_conn_setup_t s = {
            .fd = tc->fd,
            .proto = svc->stream,
            .cfg = svc->cfg,
            .worker = wstate,
            .tls = tc->l->transport == SK_TRANSPORT_TLS ? srv->cfg.tls : NULL,
            .scratch = buf,
            .scratch_size = READ_SIZE,
            /* One read per readiness: a second read on a blocking socket
             * would wait a whole slice for bytes that may never come. */
            .read_batch = 1,
            .verbose = srv->cfg.verbose,
            .now_ms = sk_clock_ms(),
        };
        rc = sk__conn_new(&c, &s);
    }
    if (rc < 0) {
        sk_log_warn("cannot set up a connection on %s: %s; closing it", tc->l->name,
                    sk_strerror(rc));
        registry_remove(tc);
        close(tc->fd);
    } else {
        sk__conn_open(c, (struct sockaddr *)&tc->peer, tc->peer_len);
        bool draining = false;
        uint64_t next_tick = sk_clock_ms() + 1000;
        while (!sk__conn_closed(c)) {
            if (atomic_load(&tc->forced)) {
                sk__conn_close(c, "drain timeout");
                break;
            }
            if (!draining && atomic_load(&srv->stopping)) {
                draining = true;
                sk__conn_drain(c, sk_clock_ms());
                continue;
            }
            if (svc->worker_tick != NULL && wstate != NULL && sk_clock_ms() >= next_tick) {
                next_tick = sk_clock_ms() + 1000;
                svc->worker_tick(wstate, sk_clock_ms());
            }
            tconn_step(c);
        }
        /* Shut down at the drain timeout: the I/O that failed because of
         * it is not the reason. */
        if (atomic_load(&tc->forced))
            sk__conn_close(c, "drain timeout");
        registry_remove(tc);
        sk__conn_free(c, sk_clock_ms());
    }
    if (svc->worker_fini != NULL && wstate != NULL)
        svc->worker_fini(wstate);
    sk_free(buf);
    sk_free(tc);
    atomic_fetch_sub(&srv->nconns, 1);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

static bool spawn(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&live_threads, 1);
    int rc = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&live_threads, 1);
        return false;
    }
    return true;
}

static void accept_one(sk_server_t *srv, const struct sk__listener *l, bool *emfile_logged)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            if (!*emfile_logged)
                sk_log_warn("accept on %s: %s; pausing accepts", l->name, strerror(e));
            *emfile_logged = true;
            usleep(SLICE_MS * 500);
        }
        return;
    }
    *emfile_logged = false;
    struct tconn *tc = sk_calloc(1, sizeof(*tc));
    if (tc == NULL) {
        sk_log_warn("out of memory accepting a connection on %s; closing it", l->name);
        close(fd);
        return;
    }
    tc->srv = srv;
    tc->l = l;
    tc->fd = fd;
    atomic_init(&tc->forced, false);
    memcpy(&tc->peer, &ss, len);
    tc->peer_len = len;
    if (srv->cfg.verbose) {
        char peer[160];
        sk_addr_format_peer((struct sockaddr *)&ss, len, peer, sizeof(peer));
        sk__conn_log(srv, fd, "accepted from %s on %s", peer, l->name);
    }
    atomic_fetch_add(&srv->nconns, 1);
    registry_add(tc);
    if (!spawn(tconn_main, tc)) {
        sk_log_warn("cannot start a thread for a connection on %s; closing it", l->name);
        registry_remove(tc);
        atomic_fetch_sub(&srv->nconns, 1);
        close(fd);
        sk_free(tc);
    }
}

static void *acceptor_main(void *arg)
{
    sk_server_t *srv = arg;
    struct pollfd *pfd = sk_xcalloc(srv->nls, sizeof(*pfd));
    struct sk__listener **map = sk_xcalloc(srv->nls, sizeof(*map));
    nfds_t n = 0;
    for (size_t i = 0; i < srv->nls; i++) {
        if (!srv->ls[i].stream)
            continue;
        pfd[n].fd = srv->ls[i].fd;
        pfd[n].events = POLLIN;
        map[n++] = &srv->ls[i];
    }
    bool emfile_logged = false;
    while (!atomic_load(&srv->stopping)) {
        if (atomic_load(&srv->nconns) >= srv->cfg.max_conns) {
            usleep(SLICE_MS * 100);
            continue;
        }
        int r = poll(pfd, n, SLICE_MS);
        for (nfds_t i = 0; r > 0 && i < n; i++)
            if (pfd[i].revents & POLLIN)
                accept_one(srv, map[i], &emfile_logged);
    }
    free(pfd);
    free(map);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

struct dgram_arg {
    sk_server_t *srv;
    const struct sk__listener *l;
};

static void *dgram_main(void *arg)
{
    struct dgram_arg *a = arg;
    const struct sk__listener *l = a->l;
    char *buf = sk_xmalloc(READ_SIZE);
    sk_buf_t reply;
    sk_buf_init(&reply);
    set_blocking_slices(l->fd);
    while (!atomic_load(&a->srv->stopping)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(l->fd, buf, READ_SIZE, 0, (struct sockaddr *)&ss, &len);
        if (n < 0)
            continue;
        sk__dgram_answer(l, l->fd, buf, (size_t)n, &reply, (struct sockaddr *)&ss, len);
    }
    sk_buf_fini(&reply);
    free(buf);
    free(a);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

/* Waits until at most `left` threads run or the clock passes until_ms. */
static void wait_threads(long left, uint64_t until_ms)
{
    while (atomic_load(&live_threads) > left && sk_clock_ms() < until_ms)
        usleep(10000);
}

int sk__server_run_threads(sk_server_t *srv)
{
    atomic_init(&live_threads, 0);
    sk__server_print_listening(srv);
    if (!spawn(acceptor_main, srv))
        return -EAGAIN;
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].stream)
            continue;
        struct dgram_arg *a = sk_xmalloc(sizeof(*a));
        a->srv = srv;
        a->l = &srv->ls[i];
        if (!spawn(dgram_main, a)) {
            free(a);
            atomic_store(&srv->stopping, true);
            wait_threads(0, sk_clock_ms() + SLICE_MS * 2);
            return -EAGAIN;
        }
    }
    sk__server_wait_signal(srv);
    /* Connection threads see `stopping` within a slice, close when idle,
     * and finish what they are sending; wait for them up to the drain
     * timeout, then shut their sockets down so they exit too. */
    wait_threads(0, sk_clock_ms() + srv->cfg.drain_timeout_ms + SLICE_MS);
    long left = atomic_load(&srv->nconns);
    if (left > 0) {
        sk_log_warn("drain timeout: closing %ld connection%s", left, left == 1 ? "" : "s");
        registry_force_all();
        wait_threads(0, sk_clock_ms() + FORCE_WAIT_MS);
    }
    if (atomic_load(&live_threads) > 0) {
        /* A thread stuck beyond the forced close still points at the
         * server and the services: nothing they use may be freed. */
        srv->threads_left = true;
    }
    return 0;
}
