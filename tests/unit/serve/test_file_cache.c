/* test_file_cache.c -- the per-worker small-file cache: hits, freshness
 * by stat, replacement on collision, size limit, ENOMEM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "serve/file_cache.h"

/* A wall clock well after the file's last change: old enough to cache. */
#define LATER(st) ((st).st_ctim.tv_sec + 10)

static int temp_file(const char *content, size_t len, struct stat *st)
{
    char path[] = "/tmp/sk-fc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fstat(fd, st), 0);
    return fd;
}

static void test_hit_and_freshness(void **state)
{
    (void)state;
    sk_file_cache_t *c = sk_file_cache_new(16);
    assert_non_null(c);
    struct stat st;
    int fd = temp_file("hello", 5, &st);
    assert_null(sk_file_cache_get(c, "a.txt", 5));
    const sk_cached_file_t *e = sk_file_cache_put(c, "a.txt", 5, &st, fd, LATER(st));
    assert_non_null(e);
    assert_memory_equal(e->data, "hello", 5);
    e = sk_file_cache_get(c, "a.txt", 5);
    assert_non_null(e);
    assert_int_equal(e->st.st_size, 5);
    /* Freshness is the caller's stat compared with the entry's. */
    assert_true(sk_file_cache_fresh(e, &st));
    struct stat changed = st;
    changed.st_mtim.tv_nsec++;
    assert_false(sk_file_cache_fresh(e, &changed));
    changed = st;
    changed.st_ino++;
    assert_false(sk_file_cache_fresh(e, &changed));
    /* Same hash slot is irrelevant: a different key never matches. */
    assert_null(sk_file_cache_get(c, "b.txt", 5));
    close(fd);
    sk_file_cache_free(c);
}

static void test_large_files_are_not_cached(void **state)
{
    (void)state;
    sk_file_cache_t *c = sk_file_cache_new(4);
    size_t n = SK_FILE_CACHE_MAX_FILE + 1;
    char *big = calloc(1, n);
    struct stat st;
    int fd = temp_file(big, n, &st);
    assert_null(sk_file_cache_put(c, "big", 3, &st, fd, LATER(st)));
    assert_null(sk_file_cache_get(c, "big", 3));
    close(fd);
    free(big);
    sk_file_cache_free(c);
}

static void test_replacement_and_empty_file(void **state)
{
    (void)state;
    /* One slot: every key collides, the newest wins. */
    sk_file_cache_t *c = sk_file_cache_new(1);
    struct stat st1, st2;
    int fd1 = temp_file("one", 3, &st1);
    int fd2 = temp_file("", 0, &st2);
    assert_non_null(sk_file_cache_put(c, "x", 1, &st1, fd1, LATER(st1)));
    assert_non_null(sk_file_cache_put(c, "y", 1, &st2, fd2, LATER(st2)));
    assert_null(sk_file_cache_get(c, "x", 1));
    const sk_cached_file_t *e = sk_file_cache_get(c, "y", 1);
    assert_non_null(e);
    assert_int_equal(e->st.st_size, 0);
    close(fd1);
    close(fd2);
    sk_file_cache_free(c);
}

static void test_enomem_and_short_file(void **state)
{
    (void)state;
    sk_file_cache_t *c = sk_file_cache_new(8);
    struct stat st;
    int fd = temp_file("abcdef", 6, &st);
    for (long i = 1; i <= 2; i++) {
        sk_alloc_fail_after(i);
        assert_null(sk_file_cache_put(c, "f", 1, &st, fd, LATER(st)));
        sk_alloc_fail_after(0);
        assert_null(sk_file_cache_get(c, "f", 1));
    }
    /* The file shrank between fstat and pread: no half entry. */
    assert_int_equal(ftruncate(fd, 2), 0);
    assert_null(sk_file_cache_put(c, "f", 1, &st, fd, LATER(st)));
    assert_null(sk_file_cache_get(c, "f", 1));
    close(fd);
    sk_file_cache_free(c);
    sk_file_cache_free(NULL);
    sk_alloc_fail_after(1);
    assert_null(sk_file_cache_new(4));
    sk_alloc_fail_after(0);
}

/* A same-size rewrite within one timestamp tick leaves the stat as it
 * was, so a file changed within the last second is never cached: the
 * entry could otherwise keep half-written contents for good. */
static void test_recently_changed_is_not_cached(void **state)
{
    (void)state;
    sk_file_cache_t *c = sk_file_cache_new(8);
    struct stat st;
    int fd = temp_file("aaaa", 4, &st);
    assert_null(sk_file_cache_put(c, "f", 1, &st, fd, time(NULL)));
    assert_null(sk_file_cache_put(c, "f", 1, &st, fd, st.st_ctim.tv_sec + 1));
    assert_null(sk_file_cache_get(c, "f", 1));
    assert_non_null(sk_file_cache_put(c, "f", 1, &st, fd, st.st_ctim.tv_sec + 2));
    close(fd);
    sk_file_cache_free(c);
}

/* Changed between the caller's stat and the read (a new tick): the bytes
 * read may be half of each version, so nothing is kept. */
static void test_changed_while_read_is_not_cached(void **state)
{
    (void)state;
    sk_file_cache_t *c = sk_file_cache_new(8);
    struct stat st;
    int fd = temp_file("aaaa", 4, &st);
    usleep(30 * 1000); /* past the file system's timestamp granularity */
    assert_int_equal(pwrite(fd, "bb", 2, 0), 2);
    assert_null(sk_file_cache_put(c, "f", 1, &st, fd, LATER(st)));
    assert_null(sk_file_cache_get(c, "f", 1));
    close(fd);
    sk_file_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_freshness),
        cmocka_unit_test(test_large_files_are_not_cached),
        cmocka_unit_test(test_replacement_and_empty_file),
        cmocka_unit_test(test_enomem_and_short_file),
        cmocka_unit_test(test_recently_changed_is_not_cached),
        cmocka_unit_test(test_changed_while_read_is_not_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
