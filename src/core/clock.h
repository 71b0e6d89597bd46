/* clock.h -- monotonic and wall clocks in the units sockkit uses. */
#ifndef SK_CORE_CLOCK_H
#define SK_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic time in milliseconds / microseconds / nanoseconds. */
uint64_t sk_clock_ms(void);
uint64_t sk_clock_us(void);
uint64_t sk_clock_ns(void);

#endif
