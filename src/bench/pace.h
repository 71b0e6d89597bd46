/* pace.h -- the open-loop schedule of `bench http --rate` with
 * coordinated-omission correction (as wrk2 does): each connection owes one
 * request every interval from its start, and a response's latency is
 * measured from when its request was due, not from when it was sent, so a
 * server stall that delays the sends is charged to every request it
 * delayed rather than to one. */
#ifndef SK_BENCH_PACE_H
#define SK_BENCH_PACE_H

#include <stdint.h>

typedef struct sk_pace {
    uint64_t due_ns;      /* when the next (or in-flight) request was due */
    uint64_t interval_ns; /* 1 / per-connection rate */
} sk_pace_t;

/* The first request is due at first_ns. */
static inline void sk_pace_init(sk_pace_t *p, uint64_t first_ns, uint64_t interval_ns)
{
    p->due_ns = first_ns;
    p->interval_ns = interval_ns;
}

/* When the next request should be sent (now if this is in the past). */
static inline uint64_t sk_pace_due(const sk_pace_t *p)
{
    return p->due_ns;
}

/* The response to the request due at sk_pace_due(), sent at sent_ns,
 * arrived at done_ns: returns its corrected latency, measured from the due
 * time, or from the send when it left early (timers have millisecond
 * granularity, so a request may leave up to 1 ms before it is due), and
 * moves the schedule one interval on. */
static inline uint64_t sk_pace_complete(sk_pace_t *p, uint64_t sent_ns, uint64_t done_ns)
{
    uint64_t origin = sent_ns < p->due_ns ? sent_ns : p->due_ns;
    uint64_t lat = done_ns > origin ? done_ns - origin : 0;
    p->due_ns += p->interval_ns;
    return lat;
}

#endif
