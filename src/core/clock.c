/* clock.c -- CLOCK_MONOTONIC readers. vDSO makes these cheap enough to call
 * once per loop iteration. */
#include "core/clock.h"

#include <time.h>

uint64_t sk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t sk_clock_us(void)
{
    return sk_clock_ns() / 1000u;
}

uint64_t sk_clock_ms(void)
{
    return sk_clock_ns() / 1000000u;
}
