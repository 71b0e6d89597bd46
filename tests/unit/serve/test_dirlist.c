/* test_dirlist.c -- unit tests for src/serve/dirlist.c: a temporary
 * directory with a hostile file name, subdirectories, a dotfile, broken and
 * working symlinks, a FIFO and sparse files checks escaping in text and
 * hrefs, sort order, dotfile hiding, the parent link, sizes and dates, and
 * that failures (bad fd, injected ENOMEM) leave the output untouched. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "serve/dirlist.h"

#define HOSTILE "<b>&\"x'.txt"

static char tmpdir[PATH_MAX];
static int rootfd = -1; /* the served root, tmpdir */
static int dfd = -1;    /* tmpdir/sub, the directory listed as "/sub/" */

static void make_file(const char *name, off_t size, time_t mtime)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    /* Sparse, so a 3.4M file costs nothing. */
    assert_int_equal(ftruncate(fd, size), 0);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sk_dirlist_XXXXXX", base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    rootfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || mkdirat(rootfd, "sub", 0755) < 0)
        return -1;
    dfd = openat(rootfd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    make_file(HOSTILE, 10, 1000000000);   /* 2001-09-09 01:46:40 UTC */
    make_file("a.txt", 512, 1000000000);  /* 512 */
    make_file("b.txt", 1500, 1000000000); /* 1.5K */
    make_file("big.bin", 3565158, 0);     /* 3.4M */
    make_file("mid.bin", 40000, 0);       /* 39K */
    make_file("x:y", 1, 0);               /* needs "./" in its href */
    make_file(".hidden", 1, 0);
    if (mkdirat(dfd, "zdir", 0755) < 0 || mkdirat(dfd, "Adir", 0755) < 0 ||
        mkdirat(dfd, ".git", 0755) < 0)
        return -1;
    if (symlinkat("does-not-exist", dfd, "broken") < 0 || symlinkat("a.txt", dfd, "link") < 0 ||
        symlinkat("loop", dfd, "loop") < 0)
        return -1;
    if (mkfifoat(dfd, "fifo", 0644) < 0)
        return -1;
    /* Links that leave the root (absolute, or climbing out) and one from a
     * subdirectory back up to a file that is inside. */
    if (symlinkat("/etc/passwd", dfd, "outside") < 0 ||
        symlinkat("../../../etc", dfd, "climb") < 0 || symlinkat("../a.txt", dfd, "Adir/up") < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *files[] = {HOSTILE, "a.txt",   "b.txt",  "big.bin", "mid.bin",
                                  "x:y",   ".hidden", "broken", "link",    "loop",
                                  "fifo",  "outside", "climb",  "Adir/up"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlinkat(dfd, files[i], 0);
    unlinkat(dfd, "zdir", AT_REMOVEDIR);
    unlinkat(dfd, "Adir", AT_REMOVEDIR);
    unlinkat(dfd, ".git", AT_REMOVEDIR);
    close(dfd);
    unlinkat(rootfd, "sub", AT_REMOVEDIR);
    close(rootfd);
    rmdir(tmpdir);
    return 0;
}

/* Renders the listing into a NUL-terminated heap string. */
static char *listing(const char *url_path, bool dotfiles)
{
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_dirlist_html(rootfd, dfd, url_path, dotfiles, &b), 0);
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, sk_buf_head(&b), b.len);
    s[b.len] = '\0';
    sk_buf_fini(&b);
    return s;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_escaping(void **state)
{
    (void)state;
    char *s = listing("/files/", false);
    /* Text: every one of & < > " ' as a character reference. */
    assert_non_null(strstr(s, ">&lt;b&gt;&amp;&quot;x&#39;.txt</a>"));
    /* href: percent-encoded, then the '&' left by encoding HTML-escaped. */
    assert_non_null(strstr(s, "<a href=\"%3Cb%3E&amp;%22x%27.txt\">"));
    /* The raw name appears nowhere. */
    assert_null(strstr(s, "<b>"));
    assert_null(strstr(s, "\"x'"));
    /* A colon in the first segment would make a scheme. */
    assert_non_null(strstr(s, "<a href=\"./x:y\">x:y</a>"));
    free(s);

    /* The URL path is escaped in the title and heading. */
    s = listing("/a<b>&/", false);
    assert_non_null(strstr(s, "<title>Index of /a&lt;b&gt;&amp;/</title>"));
    assert_non_null(strstr(s, "<h1>Index of /a&lt;b&gt;&amp;/</h1>"));
    assert_null(strstr(s, "<b>"));
    free(s);
}

/* Directories first, then files, each group bytewise ("A" < "a" < "z"). */
static void test_sort_order(void **state)
{
    (void)state;
    char *s = listing("/sub/", true);
    static const char *order[] = {
        "href=\"../\"",     "href=\".git/\"", "href=\"Adir/\"",   "href=\"zdir/\"",
        "href=\".hidden\"", "href=\"%3Cb%3E", "href=\"a.txt\"",   "href=\"b.txt\"",
        "href=\"big.bin\"", "href=\"link\"",  "href=\"mid.bin\"", "href=\"./x:y\"",
    };
    const char *prev = s;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *p = strstr(s, order[i]);
        if (p == NULL || p < prev)
            fail_msg("%s missing or out of order", order[i]);
        prev = p;
    }
    assert_int_equal(count(s, "<a href="), 12);
    /* Directories carry a trailing slash in text and href, and '-' size. */
    assert_non_null(strstr(s, "<a href=\"zdir/\">zdir/</a></td><td>-</td>"));
    free(s);
}

static void test_dotfiles(void **state)
{
    (void)state;
    char *s = listing("/sub/", false);
    assert_null(strstr(s, ".hidden"));
    assert_null(strstr(s, ".git"));
    /* '.' and '..' are never entries; only the parent link points up. */
    assert_null(strstr(s, "href=\"./\""));
    assert_int_equal(count(s, "href=\"../\""), 1);
    assert_int_equal(count(s, "<a href="), 10);
    free(s);

    s = listing("/sub/", true);
    assert_non_null(strstr(s, "<a href=\".hidden\">.hidden</a>"));
    assert_non_null(strstr(s, "<a href=\".git/\">.git/</a>"));
    assert_null(strstr(s, "href=\"./\""));
    assert_int_equal(count(s, "href=\"../\""), 1);
    free(s);
}

static void test_parent_link(void **state)
{
    (void)state;
    char *s = listing("/", false);
    assert_null(strstr(s, "../"));
    free(s);
    s = listing("/a/b/", false);
    assert_non_null(strstr(s, "<a href=\"../\">../</a>"));
    free(s);
}

/* Symlinks are listed as what they point to; broken and looping ones, and
 * FIFOs, are left out. */
static void test_links_and_specials(void **state)
{
    (void)state;
    char *s = listing("/sub/", true);
    assert_null(strstr(s, "broken"));
    assert_null(strstr(s, "loop"));
    assert_null(strstr(s, "fifo"));
    assert_non_null(strstr(s, "<a href=\"link\">link</a></td><td>512</td>"));
    free(s);
}

static void test_sizes_and_dates(void **state)
{
    (void)state;
    char *s = listing("/", false);
    assert_non_null(strstr(s, ">a.txt</a></td><td>512</td><td>2001-09-09 01:46</td>"));
    assert_non_null(strstr(s, ">b.txt</a></td><td>1.5K</td>"));
    assert_non_null(strstr(s, ">mid.bin</a></td><td>39K</td>"));
    assert_non_null(strstr(s, ">big.bin</a></td><td>3.4M</td><td>1970-01-01 00:00</td>"));
    assert_non_null(strstr(s, ">x:y</a></td><td>1</td>"));
    assert_true(strncmp(s, "<!DOCTYPE html>\n", 16) == 0);
    assert_non_null(strstr(s, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(s, "</html>\n"));
    free(s);
}

/* The page is appended; the borrowed fd keeps its offset and stays open. */
static void test_append_and_fd(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_append(&b, "HDR", 3), 0);
    off_t before = lseek(dfd, 0, SEEK_CUR);
    assert_int_equal(sk_dirlist_html(rootfd, dfd, "/sub/", false, &b), 0);
    assert_int_equal(lseek(dfd, 0, SEEK_CUR), before);
    assert_memory_equal(sk_buf_head(&b), "HDR<!DOCTYPE html>", 18);
    size_t first = b.len - 3;
    /* The same listing again: nothing was consumed from dfd. */
    assert_int_equal(sk_dirlist_html(rootfd, dfd, "/sub/", false, &b), 0);
    assert_int_equal(b.len, 3 + 2 * first);
    assert_true(fcntl(dfd, F_GETFD) >= 0);
    sk_buf_fini(&b);
}

/* Errors return -errno and leave out exactly as it was. */
static void test_errors(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_append(&b, "keep", 4), 0);
    assert_int_equal(sk_dirlist_html(-1, -1, "/", false, &b), -EBADF);
    int fd = openat(dfd, "a.txt", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(sk_dirlist_html(rootfd, fd, "/sub/", false, &b), -ENOTDIR);
    close(fd);
    assert_int_equal(b.len, 4);
    assert_memory_equal(sk_buf_head(&b), "keep", 4);

    /* Fail each allocation in turn until the listing succeeds. */
    char *want = listing("/sub/", true);
    int failures = 0;
    for (long n = 1;; n++) {
        sk_buf_t o;
        sk_buf_init(&o);
        assert_int_equal(sk_buf_append(&o, "keep", 4), 0);
        sk_alloc_fail_after(n);
        int rc = sk_dirlist_html(rootfd, dfd, "/sub/", true, &o);
        sk_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(o.len, 4 + strlen(want));
            assert_memory_equal(sk_buf_head(&o) + 4, want, strlen(want));
            sk_buf_fini(&o);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(o.len, 4);
        assert_memory_equal(sk_buf_head(&o), "keep", 4);
        sk_buf_fini(&o);
        failures++;
        assert_true(n < 1000);
    }
    assert_true(failures > 3);
    free(want);
    sk_buf_fini(&b);
}

/* An empty directory still makes a complete page. */
static void test_empty_dir(void **state)
{
    (void)state;
    int fd = openat(dfd, "zdir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_dirlist_html(rootfd, fd, "/sub/zdir/", false, &b), 0);
    close(fd);
    assert_int_equal(sk_buf_append(&b, "", 1), 0);
    const char *s = sk_buf_head(&b);
    assert_int_equal(count(s, "<a href="), 1);
    assert_non_null(strstr(s, "<tbody>\n<tr><td><a href=\"../\">../</a></td><td>-</td><td></td>"
                              "</tr>\n</tbody>"));
    sk_buf_fini(&b);
}

/* Entries that resolve outside the root are not listed at all (their
 * target's size and date would leak); a link that stays inside, even one
 * that climbs out of its own directory, is listed as its target. */
static void test_links_outside_root(void **state)
{
    (void)state;
    char *s = listing("/sub/", false);
    assert_null(strstr(s, "outside"));
    assert_null(strstr(s, "climb"));
    free(s);

    int fd = openat(dfd, "Adir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_dirlist_html(rootfd, fd, "/sub/Adir/", false, &b), 0);
    close(fd);
    assert_int_equal(sk_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(sk_buf_head(&b), "<a href=\"up\">up</a></td><td>512</td>"));
    sk_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links_outside_root),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_sort_order),
        cmocka_unit_test(test_dotfiles),
        cmocka_unit_test(test_parent_link),
        cmocka_unit_test(test_links_and_specials),
        cmocka_unit_test(test_sizes_and_dates),
        cmocka_unit_test(test_append_and_fd),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
