/* loop.c -- the backend-independent half of the event loop (see loop.h).
 *
 * The loop owns the per-fd table (mask, callback, data), the timer heap, the
 * wake-up eventfd and the batch of fired events; a backend only tracks
 * kernel-side interest and reports readiness through sk__loop_fired(). */
#include "config.h"
#include "core/loop.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SCRATCH_SIZE (64u * 1024u)
#define FD_TABLE_MIN 64

struct fd_entry {
    int mask; /* interest the backend currently has, 0 when none */
    sk_io_cb cb;
    void *data;
    /* Bumped on every removal so an event fired for an earlier registration
     * of this fd number is never delivered to a later one. */
    unsigned gen;
    /* The batch this fd last fired in and its slot there, so a backend that
     * reports an fd twice (uring) merges into one entry. */
    uint64_t fired_batch;
    size_t fired_slot;
};

struct fired {
    int fd;
    int events;
    unsigned gen;
};

struct sk_loop {
    const struct sk_backend *be;
    void *bstate;
    struct fd_entry *fds;
    struct fired *fired; /* same capacity as fds: at most one entry per fd */
    int nfds;            /* capacity of both arrays */
    int maxfd;
    size_t nfired;
    uint64_t batch;
    sk_timerheap_t timers;
    uint64_t now;
    bool stop;
    int wakefd;
    sk_wake_cb wake_cb;
    void *wake_data;
    void *data;
    char *scratch;
};

const char *const sk_backend_names[] = {"epoll", "uring", "poll", "select", NULL};

const struct sk_backend *sk_backend_find(const char *name, bool *not_built)
{
    static const struct sk_backend *const built[] = {
        &sk_backend_epoll,
#ifdef SK_HAVE_LIBURING
        &sk_backend_uring,
#endif
        &sk_backend_poll,
        &sk_backend_select,
    };
    if (not_built != NULL)
        *not_built = false;
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(built) / sizeof(built[0]); i++) {
        if (strcmp(built[i]->name, name) == 0)
            return built[i];
    }
    for (size_t i = 0; sk_backend_names[i] != NULL; i++) {
        if (strcmp(sk_backend_names[i], name) == 0) {
            if (not_built != NULL)
                *not_built = true;
            break;
        }
    }
    return NULL;
}

const struct sk_backend *sk_backend_default(void)
{
    return &sk_backend_epoll;
}

static int grow_fds(sk_loop_t *loop, int fd)
{
    if (fd < loop->nfds)
        return 0;
    int n = loop->nfds ? loop->nfds : FD_TABLE_MIN;
    while (n <= fd) {
        if (n > INT_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    struct fd_entry *fds = sk_realloc(loop->fds, (size_t)n * sizeof(*fds));
    if (fds == NULL)
        return -ENOMEM;
    memset(fds + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof(*fds));
    loop->fds = fds;
    /* The fired array grows with the table, so sk__loop_fired() (which
     * cannot fail) always has room for one entry per fd. */
    struct fired *fired = sk_realloc(loop->fired, (size_t)n * sizeof(*fired));
    if (fired == NULL)
        return -ENOMEM;
    loop->fired = fired;
    loop->nfds = n;
    return 0;
}

static void drain_wake(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)events;
    (void)data;
    uint64_t v;
    /* EAGAIN here only means another iteration already drained it. */
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR) {
    }
    if (loop->wake_cb != NULL)
        loop->wake_cb(loop, loop->wake_data);
}

int sk_loop_new(sk_loop_t **out, const struct sk_backend *be)
{
    int rc;
    *out = NULL;
    if (be == NULL || be->init == NULL)
        return -EINVAL;
    sk_loop_t *loop = sk_calloc(1, sizeof(*loop));
    if (loop == NULL)
        return -ENOMEM;
    loop->be = be;
    loop->maxfd = -1;
    loop->wakefd = -1;
    sk_timerheap_init(&loop->timers);
    loop->now = sk_clock_ms();
    loop->scratch = sk_malloc(SCRATCH_SIZE);
    if (loop->scratch == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = grow_fds(loop, FD_TABLE_MIN - 1);
    if (rc < 0)
        goto fail;
    rc = be->init(loop);
    if (rc < 0) {
        loop->be = NULL; /* nothing for fini to undo */
        goto fail;
    }
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = sk_loop_io_set(loop, loop->wakefd, SK_EV_READ, drain_wake, NULL);
    if (rc < 0)
        goto fail;
    *out = loop;
    return 0;
fail:
    sk_loop_free(loop);
    return rc;
}

void sk_loop_free(sk_loop_t *loop)
{
    if (loop == NULL)
        return;
    if (loop->be != NULL && loop->be->fini != NULL)
        loop->be->fini(loop);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    /* Timers outlive the loop (their owners hold them), so leave them
     * reporting "not armed" rather than pointing into a freed heap. */
    for (size_t i = 0; i < loop->timers.len; i++)
        loop->timers.items[i]->heap_idx = SIZE_MAX;
    sk_timerheap_fini(&loop->timers);
    sk_free(loop->fds);
    sk_free(loop->fired);
    sk_free(loop->scratch);
    sk_free(loop);
}

const struct sk_backend *sk_loop_backend(const sk_loop_t *loop)
{
    return loop->be;
}

static void update_maxfd_after_del(sk_loop_t *loop, int fd)
{
    if (fd != loop->maxfd)
        return;
    int m = fd - 1;
    while (m >= 0 && loop->fds[m].mask == 0)
        m--;
    loop->maxfd = m;
}

/* Sets the backend interest for a known fd, going through add/mod/del so a
 * backend never sees mod() to or from an empty mask. */
static int apply_mask(sk_loop_t *loop, int fd, int mask)
{
    struct fd_entry *e = &loop->fds[fd];
    int rc = 0;
    if (e->mask == mask)
        return 0;
    if (e->mask == 0)
        rc = loop->be->add(loop, fd, mask);
    else if (mask == 0)
        rc = loop->be->del(loop, fd, e->mask);
    else
        rc = loop->be->mod(loop, fd, e->mask, mask);
    /* A failed del still leaves us without interest: the fd is usually
     * about to be closed and the backend forgets it then. */
    if (rc < 0 && mask != 0)
        return rc;
    e->mask = mask;
    if (mask != 0 && fd > loop->maxfd)
        loop->maxfd = fd;
    else if (mask == 0)
        update_maxfd_after_del(loop, fd);
    return 0;
}

int sk_loop_io_set(sk_loop_t *loop, int fd, int mask, sk_io_cb cb, void *data)
{
    if (fd < 0)
        return -EBADF;
    if (mask & ~(SK_EV_READ | SK_EV_WRITE))
        return -EINVAL;
    if (mask == 0) {
        sk_loop_io_del(loop, fd);
        return 0;
    }
    if (cb == NULL)
        return -EINVAL;
    int rc = grow_fds(loop, fd);
    if (rc < 0)
        return rc;
    rc = apply_mask(loop, fd, mask);
    if (rc < 0)
        return rc;
    struct fd_entry *e = &loop->fds[fd];
    e->cb = cb;
    e->data = data;
    return 0;
}

int sk_loop_io_mask(sk_loop_t *loop, int fd, int mask)
{
    if (fd < 0 || fd >= loop->nfds || loop->fds[fd].cb == NULL)
        return -ENOENT;
    if (mask & ~(SK_EV_READ | SK_EV_WRITE))
        return -EINVAL;
    /* Mask 0 keeps the callback so a paused connection can resume with
     * another sk_loop_io_mask(); only sk_loop_io_del() forgets the fd. */
    return apply_mask(loop, fd, mask);
}

void sk_loop_io_del(sk_loop_t *loop, int fd)
{
    if (fd < 0 || fd >= loop->nfds || loop->fds[fd].cb == NULL)
        return;
    apply_mask(loop, fd, 0);
    struct fd_entry *e = &loop->fds[fd];
    e->cb = NULL;
    e->data = NULL;
    e->gen++;
}

void sk__loop_fired(sk_loop_t *loop, int fd, int events)
{
    if (fd < 0 || fd >= loop->nfds || loop->fds[fd].mask == 0)
        return;
    struct fd_entry *e = &loop->fds[fd];
    if (e->fired_batch == loop->batch) {
        loop->fired[e->fired_slot].events |= events;
        return;
    }
    e->fired_batch = loop->batch;
    e->fired_slot = loop->nfired;
    loop->fired[loop->nfired++] = (struct fired){fd, events, e->gen};
}

void *sk__loop_bstate(sk_loop_t *loop)
{
    return loop->bstate;
}

void sk__loop_set_bstate(sk_loop_t *loop, void *state)
{
    loop->bstate = state;
}

int sk__loop_maxfd(const sk_loop_t *loop)
{
    return loop->maxfd;
}

int sk__loop_mask(const sk_loop_t *loop, int fd)
{
    if (fd < 0 || fd >= loop->nfds)
        return 0;
    return loop->fds[fd].mask;
}

static int next_timeout(const sk_loop_t *loop)
{
    const sk_timer_t *t = sk_timerheap_peek(&loop->timers);
    if (t == NULL)
        return -1;
    if (t->due_ms <= loop->now)
        return 0;
    uint64_t d = t->due_ms - loop->now;
    return d > INT_MAX ? INT_MAX : (int)d;
}

static void dispatch(sk_loop_t *loop)
{
    for (size_t i = 0; i < loop->nfired; i++) {
        const struct fired *f = &loop->fired[i];
        const struct fd_entry *e = &loop->fds[f->fd];
        /* An earlier callback in this batch may have removed (and maybe
         * closed and reused) this fd or narrowed its mask; the event then
         * belongs to nobody. */
        if (e->gen != f->gen || e->cb == NULL)
            continue;
        int ev = f->events & (e->mask | SK_EV_ERROR | SK_EV_HUP);
        if (ev == 0 || e->mask == 0)
            continue;
        e->cb(loop, f->fd, ev, e->data);
    }
    loop->nfired = 0;
}

static void run_timers(sk_loop_t *loop)
{
    /* Timers armed by the callbacks below wait for the next iteration;
     * otherwise a timer that re-arms itself with delay 0 would spin here
     * forever without polling fds. Anything older sorts before them. */
    uint64_t limit = loop->timers.next_seq;
    for (;;) {
        sk_timer_t *t = sk_timerheap_peek(&loop->timers);
        if (t == NULL || t->due_ms > loop->now || t->seq >= limit)
            break;
        sk_timerheap_remove(&loop->timers, t);
        if (t->cb != NULL)
            t->cb(loop, t, t->data);
    }
}

int sk_loop_run(sk_loop_t *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        loop->batch++;
        loop->nfired = 0;
        int rc = loop->be->wait(loop, next_timeout(loop));
        loop->now = sk_clock_ms();
        if (rc < 0 && rc != -EINTR)
            return rc;
        dispatch(loop);
        run_timers(loop);
    }
    return 0;
}

void sk_loop_stop(sk_loop_t *loop)
{
    loop->stop = true;
}

void sk_loop_on_wake(sk_loop_t *loop, sk_wake_cb cb, void *data)
{
    loop->wake_cb = cb;
    loop->wake_data = data;
}

void sk_loop_wake(sk_loop_t *loop)
{
    uint64_t one = 1;
    /* write(2) is async-signal-safe. A full counter (EAGAIN) already
     * guarantees a pending wake-up, so the result needs no handling. */
    ssize_t n = write(loop->wakefd, &one, sizeof(one));
    (void)n;
}

uint64_t sk_loop_now(const sk_loop_t *loop)
{
    return loop->now;
}

int sk_loop_timer_start(sk_loop_t *loop, sk_timer_t *t, uint64_t delay_ms)
{
    uint64_t due = loop->now + delay_ms;
    if (due < loop->now)
        due = UINT64_MAX;
    return sk_timerheap_add(&loop->timers, t, due);
}

void sk_loop_timer_stop(sk_loop_t *loop, sk_timer_t *t)
{
    sk_timerheap_remove(&loop->timers, t);
}

char *sk_loop_scratch(sk_loop_t *loop, unsigned *size)
{
    if (size != NULL)
        *size = SCRATCH_SIZE;
    return loop->scratch;
}

void sk_loop_set_data(sk_loop_t *loop, void *data)
{
    loop->data = data;
}

void *sk_loop_data(const sk_loop_t *loop)
{
    return loop->data;
}
