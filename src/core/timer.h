/* timer.h -- a binary min-heap of caller-owned timers.
 *
 * O(log n) start/stop, O(1) peek. The event loop embeds one heap; the
 * structure is separate so it can be unit-tested without a loop. Timers are
 * intrusive: the caller owns the sk_timer_t storage and the heap only keeps
 * pointers, so a connection's timer costs no allocation. */
#ifndef SK_CORE_TIMER_H
#define SK_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_timer sk_timer_t;
typedef struct sk_loop sk_loop_t;

/* Called when the timer is due; the timer is already stopped, so the
 * callback may restart or free it. */
typedef void (*sk_timer_cb)(sk_loop_t *loop, sk_timer_t *timer, void *data);

struct sk_timer {
    uint64_t due_ms; /* absolute, on the sk_clock_ms() clock */
    uint64_t seq;    /* insertion order breaks ties: equal deadlines fire FIFO */
    size_t heap_idx; /* position in the heap, SIZE_MAX when not armed */
    sk_timer_cb cb;
    void *data;
};

typedef struct sk_timerheap {
    sk_timer_t **items;
    size_t len, cap;
    uint64_t next_seq;
} sk_timerheap_t;

/* Prepares a timer that is not armed. */
void sk_timer_init(sk_timer_t *t, sk_timer_cb cb, void *data);

/* True while the timer sits in a heap. */
static inline bool sk_timer_active(const sk_timer_t *t)
{
    return t->heap_idx != (size_t)-1;
}

void sk_timerheap_init(sk_timerheap_t *h);
void sk_timerheap_fini(sk_timerheap_t *h); /* does not touch the timers */

/* Arms t at absolute due_ms, re-positioning it if already armed.
 * Returns 0 or -ENOMEM. */
int sk_timerheap_add(sk_timerheap_t *h, sk_timer_t *t, uint64_t due_ms);

/* Disarms t; a no-op when it is not armed. */
void sk_timerheap_remove(sk_timerheap_t *h, sk_timer_t *t);

/* Earliest timer or NULL. */
sk_timer_t *sk_timerheap_peek(const sk_timerheap_t *h);

/* Removes and returns the earliest timer whose due_ms <= now, or NULL. */
sk_timer_t *sk_timerheap_pop_due(sk_timerheap_t *h, uint64_t now_ms);

#endif
