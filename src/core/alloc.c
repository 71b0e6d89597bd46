/* alloc.c -- allocation wrappers with a fault-injection hook (see alloc.h). */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Countdown to the injected failure; 0 (or below) means off. Atomic, so a
 * live server's workers can count down together; exactly one allocation
 * sees the count reach zero. */
static atomic_long fail_countdown;
static atomic_bool fail_fired;
static atomic_bool fail_report;

static int should_fail(void)
{
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) <= 0)
        return 0;
    if (atomic_fetch_sub(&fail_countdown, 1) != 1)
        return 0;
    atomic_store(&fail_fired, true);
    if (atomic_load(&fail_report))
        fputs("sockkit: fault injection: this allocation fails (SOCKKIT_FAIL_ALLOC)\n", stderr);
    return 1;
}

void sk_alloc_fail_after(long n)
{
    atomic_store(&fail_fired, false);
    atomic_store(&fail_countdown, n);
}

bool sk_alloc_fail_fired(void)
{
    return atomic_load(&fail_fired);
}

void sk_alloc_fail_from_env(void)
{
    const char *v = getenv("SOCKKIT_FAIL_ALLOC");
    if (v == NULL || *v == '\0')
        return;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n <= 0)
        return;
    atomic_store(&fail_report, true);
    sk_alloc_fail_after(n);
}

void *sk_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *sk_calloc(size_t nmemb, size_t size)
{
    return should_fail() ? NULL : calloc(nmemb, size);
}

void *sk_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

void sk_free(void *p)
{
    free(p);
}

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "sockkit: out of memory allocating %zu bytes\n", n);
    exit(1);
}

void *sk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *sk_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        oom(nmemb * size);
    return p;
}

char *sk_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        oom(strlen(s) + 1);
    return p;
}
