/* file_cache.h -- a per-worker cache of small files' contents and stat
 * data (nginx's open_file_cache, for the bodies that fit next to a head).
 *
 * Direct-mapped by path hash: a lookup is one hash and one compare, and a
 * collision simply replaces the entry. The cache never decides freshness:
 * the caller compares a fresh stat with the entry's, so a changed file is
 * seen at once (one stat instead of open, fstat, read and close). */
#ifndef SK_SERVE_FILE_CACHE_H
#define SK_SERVE_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

typedef struct sk_file_cache sk_file_cache_t;

typedef struct sk_cached_file {
    struct stat st;
    bool vary; /* a .br/.gz sibling exists: responses vary */
    size_t key_len;
    char *key;  /* the relative path */
    char *data; /* st.st_size bytes */
} sk_cached_file_t;

/* Files larger than this are never cached. */
#define SK_FILE_CACHE_MAX_FILE (16u * 1024u)

/* Returns an empty cache with slots entries (rounded up to a power of
 * two), or NULL on ENOMEM. */
sk_file_cache_t *sk_file_cache_new(size_t slots);

/* Frees the cache and its entries; NULL is fine. */
void sk_file_cache_free(sk_file_cache_t *c);

/* The entry for rel, borrowed until the next put; NULL on a miss. */
const sk_cached_file_t *sk_file_cache_get(sk_file_cache_t *c, const char *rel, size_t len);

/* True when st (a fresh stat of the path) still describes entry e. */
bool sk_file_cache_fresh(const sk_cached_file_t *e, const struct stat *st);

/* Caches the contents of the regular file fd (borrowed; read with pread)
 * described by st under rel; now is the wall-clock second. Files over
 * SK_FILE_CACHE_MAX_FILE are skipped, and so are files changed within the
 * last second or while being read: a same-size rewrite inside one
 * timestamp tick leaves the stat unchanged, so such an entry could keep a
 * half-written file for good. Returns the entry or NULL (skipped, ENOMEM
 * or a read error). */
sk_cached_file_t *sk_file_cache_put(sk_file_cache_t *c, const char *rel, size_t len,
                                    const struct stat *st, int fd, time_t now);

#endif
