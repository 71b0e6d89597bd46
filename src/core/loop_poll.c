/* loop_poll.c -- the poll(2) backend.
 *
 * Keeps a dense pollfd array plus an fd -> slot map, so add/mod/del are O(1)
 * (del swaps the last slot into the hole) and each wait hands the kernel
 * only the registered fds. */
#include "core/internal.h"
#include "core/alloc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>

struct poll_state {
    struct pollfd *pfds;
    size_t len, cap;
    int *slot; /* fd -> index into pfds, -1 when absent */
    int nslot;
};

static int poll_init(sk_loop_t *loop)
{
    struct poll_state *st = sk_calloc(1, sizeof(*st));
    if (st == NULL)
        return -ENOMEM;
    sk__loop_set_bstate(loop, st);
    return 0;
}

static void poll_fini(sk_loop_t *loop)
{
    struct poll_state *st = sk__loop_bstate(loop);
    if (st == NULL)
        return;
    sk_free(st->pfds);
    sk_free(st->slot);
    sk_free(st);
    sk__loop_set_bstate(loop, NULL);
}

static short to_poll(int mask)
{
    short e = 0;
    if (mask & SK_EV_READ)
        e |= POLLIN;
    if (mask & SK_EV_WRITE)
        e |= POLLOUT;
    return e;
}

static int reserve(struct poll_state *st, int fd)
{
    if (fd >= st->nslot) {
        int n = st->nslot ? st->nslot : 64;
        while (n <= fd) {
            if (n > INT_MAX / 2)
                return -ENOMEM;
            n *= 2;
        }
        int *slot = sk_realloc(st->slot, (size_t)n * sizeof(*slot));
        if (slot == NULL)
            return -ENOMEM;
        memset(slot + st->nslot, 0xff, (size_t)(n - st->nslot) * sizeof(*slot));
        st->slot = slot;
        st->nslot = n;
    }
    if (st->len == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct pollfd *p = sk_realloc(st->pfds, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        st->pfds = p;
        st->cap = cap;
    }
    return 0;
}

static int poll_add(sk_loop_t *loop, int fd, int mask)
{
    struct poll_state *st = sk__loop_bstate(loop);
    int rc = reserve(st, fd);
    if (rc < 0)
        return rc;
    st->slot[fd] = (int)st->len;
    st->pfds[st->len++] = (struct pollfd){.fd = fd, .events = to_poll(mask)};
    return 0;
}

static int poll_mod(sk_loop_t *loop, int fd, int old_mask, int new_mask)
{
    struct poll_state *st = sk__loop_bstate(loop);
    (void)old_mask;
    if (fd >= st->nslot || st->slot[fd] < 0)
        return -ENOENT;
    st->pfds[st->slot[fd]].events = to_poll(new_mask);
    return 0;
}

static int poll_del(sk_loop_t *loop, int fd, int old_mask)
{
    struct poll_state *st = sk__loop_bstate(loop);
    (void)old_mask;
    if (fd >= st->nslot || st->slot[fd] < 0)
        return -ENOENT;
    /* poll() does not care about order, so the last slot fills the hole
     * and no other entry moves. */
    size_t i = (size_t)st->slot[fd];
    struct pollfd last = st->pfds[--st->len];
    if (i != st->len) {
        st->pfds[i] = last;
        st->slot[last.fd] = (int)i;
    }
    st->slot[fd] = -1;
    return 0;
}

static int poll_wait(sk_loop_t *loop, int timeout_ms)
{
    struct poll_state *st = sk__loop_bstate(loop);
    int n = poll(st->pfds, (nfds_t)st->len, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    /* poll() returns how many entries have revents set, so the scan can
     * stop as soon as all of them were seen. */
    int seen = 0;
    for (size_t i = 0; i < st->len && seen < n; i++) {
        short r = st->pfds[i].revents;
        if (r == 0)
            continue;
        seen++;
        int ev = 0;
        if (r & POLLIN)
            ev |= SK_EV_READ;
        if (r & POLLOUT)
            ev |= SK_EV_WRITE;
        /* POLLNVAL means the fd was closed while still registered, a caller
         * bug; reporting it as an error lets the callback find out. */
        if (r & (POLLERR | POLLNVAL))
            ev |= SK_EV_ERROR;
        if (r & POLLHUP)
            ev |= SK_EV_HUP;
        sk__loop_fired(loop, st->pfds[i].fd, ev);
    }
    return n;
}

const struct sk_backend sk_backend_poll = {
    .name = "poll",
    .init = poll_init,
    .fini = poll_fini,
    .add = poll_add,
    .mod = poll_mod,
    .del = poll_del,
    .wait = poll_wait,
};
