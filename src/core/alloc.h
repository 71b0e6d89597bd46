/* alloc.h -- allocation with a fault-injection hook.
 *
 * Per-connection and parser allocations go through sk_malloc so tests can
 * make the Nth call fail (SQLite's idea) and check every error path.
 * Startup allocations use sk_xmalloc, which exits with a message on OOM. */
#ifndef SK_CORE_ALLOC_H
#define SK_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* malloc/calloc/realloc/free that honour the failure hook. */
void *sk_malloc(size_t n);
void *sk_calloc(size_t nmemb, size_t size);
void *sk_realloc(void *p, size_t n);
void sk_free(void *p);

/* Like malloc/calloc/strdup but exit(1) with a message on failure. Only for
 * startup paths where there is nothing sensible to fall back to. */
void *sk_xmalloc(size_t n);
void *sk_xcalloc(size_t nmemb, size_t size);
char *sk_xstrdup(const char *s);

/* Makes the nth allocation from now on fail (1 = the next one); 0 turns
 * fault injection off. For tests. Not thread-safe. */
void sk_alloc_fail_after(long n);

/* True when the failure armed by the last sk_alloc_fail_after() happened,
 * so a test that fails allocation N for N = 1, 2, ... knows when a run
 * completed with nothing injected. */
bool sk_alloc_fail_fired(void);

/* Arms the failure from the environment for tests that drive a live
 * server: SOCKKIT_FAIL_ALLOC=N makes the Nth allocation after the call
 * fail and says so on stderr when it happens. Unset: nothing. */
void sk_alloc_fail_from_env(void);

#endif
