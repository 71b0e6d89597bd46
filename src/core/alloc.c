/* alloc.c -- allocation wrappers with a fault-injection hook (see alloc.h). */
#include "core/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Countdown to the injected failure; 0 means off. Tests are single-threaded
 * when they use it, so a plain variable is enough. */
static long fail_countdown;
static bool fail_fired;

static int should_fail(void)
{
    if (fail_countdown == 0)
        return 0;
    if (--fail_countdown != 0)
        return 0;
    fail_fired = true;
    return 1;
}

void sk_alloc_fail_after(long n)
{
    fail_countdown = n;
    fail_fired = false;
}

bool sk_alloc_fail_fired(void)
{
    return fail_fired;
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
