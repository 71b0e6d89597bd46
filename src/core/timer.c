/* timer.c -- binary min-heap of caller-owned timers (see timer.h).
 *
 * Each timer remembers its slot (heap_idx) so removal from the middle is
 * O(log n) without a search. Order is (due_ms, seq): equal deadlines fire in
 * the order they were armed. */
#include "core/timer.h"
#include "core/alloc.h"

#include <errno.h>
#include <stdint.h>

void sk_timer_init(sk_timer_t *t, sk_timer_cb cb, void *data)
{
    t->due_ms = 0;
    t->seq = 0;
    t->heap_idx = SIZE_MAX;
    t->cb = cb;
    t->data = data;
}

void sk_timerheap_init(sk_timerheap_t *h)
{
    h->items = NULL;
    h->len = 0;
    h->cap = 0;
    h->next_seq = 0;
}

void sk_timerheap_fini(sk_timerheap_t *h)
{
    sk_free(h->items);
    sk_timerheap_init(h);
}

static bool before(const sk_timer_t *a, const sk_timer_t *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return a->seq < b->seq;
}

/* Every move goes through here so heap_idx never goes stale: that index is
 * what lets remove() and re-arm skip a linear search. */
static void place(sk_timerheap_t *h, size_t i, sk_timer_t *t)
{
    h->items[i] = t;
    t->heap_idx = i;
}

/* Both sifts move a hole and write t once at the end instead of swapping
 * at each level, halving the stores. */
static void sift_up(sk_timerheap_t *h, size_t i)
{
    sk_timer_t *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(sk_timerheap_t *h, size_t i)
{
    sk_timer_t *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->items[child + 1], h->items[child]))
            child++;
        if (!before(h->items[child], t))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

/* Restores the heap after the item at i changed key in either direction. */
static void fix(sk_timerheap_t *h, size_t i)
{
    if (i > 0 && before(h->items[i], h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

static int grow(sk_timerheap_t *h)
{
    size_t cap = h->cap ? h->cap * 2 : 16;
    if (cap > SIZE_MAX / sizeof(*h->items))
        return -ENOMEM;
    sk_timer_t **items = sk_realloc(h->items, cap * sizeof(*items));
    if (items == NULL)
        return -ENOMEM;
    h->items = items;
    h->cap = cap;
    return 0;
}

int sk_timerheap_add(sk_timerheap_t *h, sk_timer_t *t, uint64_t due_ms)
{
    /* Growing first means a failure leaves both the heap and t as they
     * were: an armed timer keeps its old deadline. */
    if (!sk_timer_active(t) && h->len == h->cap) {
        int rc = grow(h);
        if (rc < 0)
            return rc;
    }
    t->due_ms = due_ms;
    /* A re-arm counts as a new insertion for FIFO purposes. */
    t->seq = h->next_seq++;
    if (sk_timer_active(t)) {
        fix(h, t->heap_idx);
        return 0;
    }
    place(h, h->len++, t);
    sift_up(h, t->heap_idx);
    return 0;
}

void sk_timerheap_remove(sk_timerheap_t *h, sk_timer_t *t)
{
    if (!sk_timer_active(t))
        return;
    size_t i = t->heap_idx;
    t->heap_idx = SIZE_MAX;
    sk_timer_t *last = h->items[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    fix(h, i);
}

sk_timer_t *sk_timerheap_peek(const sk_timerheap_t *h)
{
    return h->len ? h->items[0] : NULL;
}

sk_timer_t *sk_timerheap_pop_due(sk_timerheap_t *h, uint64_t now_ms)
{
    sk_timer_t *t = sk_timerheap_peek(h);
    if (t == NULL || t->due_ms > now_ms)
        return NULL;
    sk_timerheap_remove(h, t);
    return t;
}
