/* file_cache.c -- direct-mapped cache of small files (see file_cache.h).
 * Saves open, fstat, pread and close on every hit: with them gone a
 * keep-alive request for a small file costs one read and one send. */
#include "serve/file_cache.h"
#include "core/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct sk_file_cache {
    size_t mask;
    sk_cached_file_t *slots;
};

static uint64_t hash(const char *s, size_t n)
{
    /* FNV-1a: short keys, no adversary gains more than a cache miss. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

sk_file_cache_t *sk_file_cache_new(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    sk_file_cache_t *c = sk_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slots = sk_calloc(n, sizeof(*c->slots));
    if (c->slots == NULL) {
        sk_free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

static void entry_clear(sk_cached_file_t *e)
{
    sk_free(e->key);
    sk_free(e->data);
    memset(e, 0, sizeof(*e));
}

void sk_file_cache_free(sk_file_cache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        entry_clear(&c->slots[i]);
    sk_free(c->slots);
    sk_free(c);
}

const sk_cached_file_t *sk_file_cache_get(sk_file_cache_t *c, const char *rel, size_t len)
{
    sk_cached_file_t *e = &c->slots[hash(rel, len) & c->mask];
    if (e->key == NULL || e->key_len != len || memcmp(e->key, rel, len) != 0)
        return NULL;
    return e;
}

/* True when st still describes the file that was described by old. */
static bool same_file(const struct stat *old, const struct stat *st)
{
    /* ctime moves on any change, including a rename over the file, and the
     * inode tells a replaced file from the original. */
    return S_ISREG(st->st_mode) && st->st_ino == old->st_ino && st->st_dev == old->st_dev &&
           st->st_size == old->st_size && st->st_mtim.tv_sec == old->st_mtim.tv_sec &&
           st->st_mtim.tv_nsec == old->st_mtim.tv_nsec &&
           st->st_ctim.tv_sec == old->st_ctim.tv_sec && st->st_ctim.tv_nsec == old->st_ctim.tv_nsec;
}

bool sk_file_cache_fresh(const sk_cached_file_t *e, const struct stat *st)
{
    return same_file(&e->st, st);
}

static bool recent(time_t t, time_t now)
{
    return t > now - 2;
}

sk_cached_file_t *sk_file_cache_put(sk_file_cache_t *c, const char *rel, size_t len,
                                    const struct stat *st, int fd, time_t now)
{
    if (!S_ISREG(st->st_mode) || st->st_size < 0 || (uint64_t)st->st_size > SK_FILE_CACHE_MAX_FILE)
        return NULL;
    /* Timestamps are truncated to the second here, so "two seconds apart"
     * is the safe reading of "more than a second old". ctime moves with
     * every write and cannot be set back by utimensat, unlike mtime. */
    if (recent(st->st_ctim.tv_sec, now) || recent(st->st_mtim.tv_sec, now))
        return NULL;
    sk_cached_file_t *e = &c->slots[hash(rel, len) & c->mask];
    entry_clear(e);
    size_t size = (size_t)st->st_size;
    e->key = sk_malloc(len + 1);
    e->data = sk_malloc(size ? size : 1);
    if (e->key == NULL || e->data == NULL) {
        entry_clear(e);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, e->data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            entry_clear(e);
            return NULL;
        }
        got += (size_t)n;
    }
    /* A write during the read shows in a fresh stat (a new tick, since
     * the file was already a second old): keep nothing read meanwhile. */
    struct stat after;
    if (fstat(fd, &after) != 0 || !same_file(st, &after)) {
        entry_clear(e);
        return NULL;
    }
    memcpy(e->key, rel, len);
    e->key[len] = '\0';
    e->key_len = len;
    e->st = *st;
    return e;
}
