/* happy.c -- RFC 8305 connection racing (see happy.h) with non-blocking
 * connect(2) and one poll(2) over every attempt still in flight. */
#include "client/happy.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"

void sk_happy_order(sk_addr_t *addrs, size_t n)
{
    if (n < 3)
        return; /* nothing to interleave */
    sk_addr_t *tmp = sk_malloc(n * sizeof(*tmp));
    if (tmp == NULL)
        return; /* the resolver's order still works */
    int first = addrs[0].ss.ss_family;
    size_t i = 0, j = 0, o = 0;
    /* i walks the first family, j the others; take one of each in turn. */
    bool want_first = true;
    while (o < n) {
        while (i < n && addrs[i].ss.ss_family != first)
            i++;
        while (j < n && addrs[j].ss.ss_family == first)
            j++;
        if (want_first ? i < n : j >= n)
            tmp[o++] = addrs[i++];
        else
            tmp[o++] = addrs[j++];
        want_first = !want_first;
    }
    memcpy(addrs, tmp, n * sizeof(*tmp));
    sk_free(tmp);
}

/* Starts a non-blocking connect. Returns the fd with *done false while in
 * progress, the fd with *done true when connected at once (Unix sockets,
 * often loopback), or a negative errno. */
static int start(const sk_addr_t *a, bool *done)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    *done = false;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
        *done = true;
        return fd;
    }
    int e = errno;
    if (e == EINPROGRESS || e == EINTR)
        return fd;
    close(fd);
    /* A Unix listener with a full backlog answers EAGAIN: for the user
     * that is a refusal, not "try again". */
    return e == EAGAIN ? -ECONNREFUSED : -e;
}

static void finish(const sk_happy_opts_t *o, sk_happy_attempt_t *a, int result, uint64_t t0)
{
    a->result = result;
    a->end_us = sk_clock_us() - t0;
    if (o->on_attempt != NULL)
        o->on_attempt(o->ctx, a);
}

int sk_happy_connect(const sk_addr_t *addrs, size_t n, const sk_happy_opts_t *o,
                     sk_happy_attempt_t *attempts, size_t *winner)
{
    uint64_t t0 = sk_clock_us();
    uint64_t delay = (o->delay_ms ? o->delay_ms : SK_HAPPY_DELAY_MS) * UINT64_C(1000);
    uint64_t per = o->timeout_ms * UINT64_C(1000);
    int *fds = sk_malloc(n * sizeof(*fds));
    struct pollfd *pfd = sk_malloc(n * sizeof(*pfd));
    size_t *idx = sk_malloc(n * sizeof(*idx));
    int rc = -ENOMEM;
    if (fds == NULL || pfd == NULL || idx == NULL)
        goto out;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        attempts[i] = (sk_happy_attempt_t){.addr = addrs[i], .result = SK_AGAIN};
        fds[i] = -1;
    }
    size_t next = 0, active = 0;
    uint64_t next_start = 0; /* relative time the next attempt may start */
    int won = -1;
    for (;;) {
        uint64_t now = sk_clock_us() - t0;
        if (o->deadline_us != 0 && now + t0 >= o->deadline_us) {
            rc = -ETIME;
            break;
        }
        /* Start the next attempt when the delay has passed, or at once
         * when nothing is in flight (the previous one failed). */
        if (next < n && (active == 0 || now >= next_start)) {
            sk_happy_attempt_t *a = &attempts[next];
            a->start_us = now;
            if (o->on_attempt != NULL)
                o->on_attempt(o->ctx, a);
            bool done;
            int fd = start(&addrs[next], &done);
            if (fd < 0) {
                finish(o, a, fd, t0);
            } else if (done) {
                fds[next] = fd;
                finish(o, a, 0, t0);
                won = (int)next;
            } else {
                fds[next] = fd;
                active++;
            }
            next++;
            next_start = now + delay;
            if (won >= 0)
                break;
            continue;
        }
        if (active == 0)
            break; /* every address failed */

        /* Wait for any attempt, the next start, or the nearest timeout. */
        uint64_t wake = next < n ? next_start : UINT64_MAX;
        size_t np = 0;
        for (size_t i = 0; i < next; i++) {
            if (fds[i] < 0 || attempts[i].result != SK_AGAIN)
                continue;
            pfd[np] = (struct pollfd){.fd = fds[i], .events = POLLOUT};
            idx[np++] = i;
            if (per != 0 && attempts[i].start_us + per < wake)
                wake = attempts[i].start_us + per;
        }
        if (o->deadline_us != 0 && o->deadline_us - t0 < wake)
            wake = o->deadline_us - t0;
        int ms = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
        int pr = poll(pfd, np, ms);
        if (pr < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        now = sk_clock_us() - t0;
        for (size_t k = 0; k < np && pr > 0; k++) {
            if (pfd[k].revents == 0)
                continue;
            size_t i = idx[k];
            int err = 0;
            socklen_t len = sizeof(err);
            if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            if (err == 0 && won < 0) {
                won = (int)i;
                finish(o, &attempts[i], 0, t0);
            } else if (err != 0) {
                close(fds[i]);
                fds[i] = -1;
                active--;
                finish(o, &attempts[i], -err, t0);
            }
        }
        if (won >= 0)
            break;
        for (size_t k = 0; k < np; k++) {
            size_t i = idx[k];
            if (fds[i] >= 0 && attempts[i].result == SK_AGAIN && per != 0 &&
                now >= attempts[i].start_us + per) {
                close(fds[i]);
                fds[i] = -1;
                active--;
                finish(o, &attempts[i], -ETIMEDOUT, t0);
            }
        }
    }

    /* Close the losers and those still in flight. */
    for (size_t i = 0; i < n; i++) {
        if ((int)i == won || fds[i] < 0)
            continue;
        close(fds[i]);
        if (attempts[i].result == SK_AGAIN)
            finish(o, &attempts[i], won >= 0 ? 1 : rc == -ETIME ? -ETIME : 1, t0);
    }
    if (won >= 0) {
        *winner = (size_t)won;
        rc = fds[won];
    } else if (rc != -ETIME) {
        /* The common failure, or a generic one when they differ. */
        rc = 0;
        for (size_t i = 0; i < n; i++) {
            int r = attempts[i].result;
            if (r >= 0 || r == SK_AGAIN)
                continue;
            rc = rc == 0 || rc == r ? r : -EHOSTUNREACH;
        }
        if (rc == 0)
            rc = -ECONNREFUSED;
    }
out:
    sk_free(fds);
    sk_free(pfd);
    sk_free(idx);
    return rc;
}
