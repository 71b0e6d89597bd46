/* loop.h -- the event loop: readiness callbacks on fds, timers and a
 * thread-safe wake-up, over a backend chosen at run time (Redis's ae with
 * runtime choice instead of #include-the-backend).
 *
 * One loop belongs to one thread. Only sk_loop_wake() may be called from
 * another thread. */
#ifndef SK_CORE_LOOP_H
#define SK_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/timer.h"

typedef struct sk_loop sk_loop_t;

enum {
    SK_EV_READ = 1,
    SK_EV_WRITE = 2,
    /* Only reported, never requested: error or hang-up on the fd. Callbacks
     * see them together with READ/WRITE so a read() finds the cause. */
    SK_EV_ERROR = 4,
    SK_EV_HUP = 8,
};

/* Called when fd is ready for any of the events it is registered for. */
typedef void (*sk_io_cb)(sk_loop_t *loop, int fd, int events, void *data);

/* Called in the loop's thread after sk_loop_wake(). */
typedef void (*sk_wake_cb)(sk_loop_t *loop, void *data);

/* One multiplexing backend. Each loop_<name>.c exports one of these as
 * sk_backend_<name>. The loop keeps the per-fd masks and callbacks; the
 * backend only tracks interest and reports readiness through
 * sk__loop_fired(). */
struct sk_backend {
    const char *name;
    int (*init)(sk_loop_t *loop);
    void (*fini)(sk_loop_t *loop);
    int (*add)(sk_loop_t *loop, int fd, int mask);
    int (*mod)(sk_loop_t *loop, int fd, int old_mask, int new_mask);
    int (*del)(sk_loop_t *loop, int fd, int old_mask);
    /* Waits up to timeout_ms (-1 = forever) and reports ready fds with
     * sk__loop_fired(). Returns the count or a negative errno (-EINTR is
     * fine and means 0). */
    int (*wait)(sk_loop_t *loop, int timeout_ms);
};

/* Looks a backend up by name ("epoll", "uring", "poll", "select",
 * "threads"). Returns NULL for an unknown name. For a known backend whose
 * library was missing at build time, returns NULL and sets *not_built. */
const struct sk_backend *sk_backend_find(const char *name, bool *not_built);

/* Every backend name sockkit knows, built or not, NULL-terminated. */
extern const char *const sk_backend_names[];

/* The default backend (epoll). */
const struct sk_backend *sk_backend_default(void);

/* Creates a loop on backend be (must not be thread_per_conn). Returns 0 and
 * *out owned (free with sk_loop_free), or a negative errno. */
int sk_loop_new(sk_loop_t **out, const struct sk_backend *be);

/* Frees a loop; NULL is fine. Does not close registered fds. */
void sk_loop_free(sk_loop_t *loop);

const struct sk_backend *sk_loop_backend(const sk_loop_t *loop);

/* Sets the interest mask (SK_EV_READ|SK_EV_WRITE) and callback for fd;
 * mask 0 removes fd. Replaces any earlier registration. Returns 0 or a
 * negative errno; the select backend returns -ERANGE for fd >= FD_SETSIZE. */
int sk_loop_io_set(sk_loop_t *loop, int fd, int mask, sk_io_cb cb, void *data);

/* Changes only the mask of an already-registered fd (cheap: the backend is
 * called only when the mask really changes). Returns 0 or a negative
 * errno. */
int sk_loop_io_mask(sk_loop_t *loop, int fd, int mask);

/* Removes fd before it is closed. */
void sk_loop_io_del(sk_loop_t *loop, int fd);

/* Runs until sk_loop_stop(). Returns 0 or a negative errno from the
 * backend. */
int sk_loop_run(sk_loop_t *loop);

/* Makes sk_loop_run() return after the current iteration. Loop thread
 * only. */
void sk_loop_stop(sk_loop_t *loop);

/* Sets the callback for sk_loop_wake(). */
void sk_loop_on_wake(sk_loop_t *loop, sk_wake_cb cb, void *data);

/* Thread-safe and async-signal-safe: interrupts the loop's wait and calls
 * the wake callback in the loop thread. */
void sk_loop_wake(sk_loop_t *loop);

/* Cached monotonic milliseconds, refreshed once per iteration. */
uint64_t sk_loop_now(const sk_loop_t *loop);

/* Arms t to fire delay_ms from now (re-arming if active). Returns 0 or
 * -ENOMEM. */
int sk_loop_timer_start(sk_loop_t *loop, sk_timer_t *t, uint64_t delay_ms);

/* Disarms t; a no-op when it is not armed. */
void sk_loop_timer_stop(sk_loop_t *loop, sk_timer_t *t);

/* Per-loop scratch memory for reads (64 KiB), so idle connections keep no
 * buffer of their own. Valid for the loop's life; not across callbacks. */
char *sk_loop_scratch(sk_loop_t *loop, unsigned *size);

/* Opaque user pointer (the worker that owns the loop). */
void sk_loop_set_data(sk_loop_t *loop, void *data);
void *sk_loop_data(const sk_loop_t *loop);

#endif
