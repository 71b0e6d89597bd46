/* guard.h -- guard-page helpers shared by the parser unit tests.
 *
 * Inputs are copied so their last byte sits right before a PROT_NONE page
 * (picohttpparser's trick): any read past the end of the input faults at
 * once instead of silently reading stale bytes. Include after <cmocka.h>;
 * define GUARD_ARENA_SIZE (a page multiple) first for more than one page. */
#ifndef SK_TESTS_UNIT_GUARD_H
#define SK_TESTS_UNIT_GUARD_H

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"

#ifndef GUARD_ARENA_SIZE
#define GUARD_ARENA_SIZE 0 /* 0: one page */
#endif

static char *guard_base;  /* start of the writable arena */
static size_t guard_page; /* writable bytes before the PROT_NONE page */

static inline size_t guard_pagesize(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static inline int setup_guard(void **state)
{
    (void)state;
    size_t page = guard_pagesize();
    guard_page = GUARD_ARENA_SIZE ? (size_t)GUARD_ARENA_SIZE : page;
    guard_base =
        mmap(NULL, guard_page + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED)
        return -1;
    return mprotect(guard_base + guard_page, page, PROT_NONE);
}

static inline int teardown_guard(void **state)
{
    (void)state;
    munmap(guard_base, guard_page + guard_pagesize());
    return 0;
}

/* Copies n bytes so they end at the guard page; returns the copy. */
static inline const char *guarded(const char *s, size_t n)
{
    assert_true(n <= guard_page);
    char *p = guard_base + guard_page - n;
    memcpy(p, s, n);
    return p;
}

/* Same, as a borrowed span. */
static inline sk_str_t guarded_str(const char *s, size_t n)
{
    return (sk_str_t){guarded(s, n), n};
}

#endif
