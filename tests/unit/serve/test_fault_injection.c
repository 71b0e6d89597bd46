/* test_fault_injection.c -- SQLite-style fault injection over whole
 * sessions: the sk_alloc hook fails allocation N, for N = 1, 2, ... until
 * a run completes with nothing injected, through the HTTP session (keep-
 * alive GETs, pipelining, ranges, a listing, bodies, the access log on)
 * and the echo and discard protocols. Each run must end cleanly: either
 * the protocol reports the failure (a negative result, which aborts the
 * connection) or everything it wrote is well framed; no descriptor is
 * left open, ASan sees no leak (make asan), and a fresh session run
 * afterwards gives exactly the output of the first clean run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/date.h"
#include "serve/discard.h"
#include "serve/echo.h"
#include "serve/http.h"
#include "http_session.h"

static char root[PATH_MAX], logpath[PATH_MAX + 16];
static int rootfd = -1;

static void put_file(const char *name, size_t len)
{
    int fd = openat(rootfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    for (size_t i = 0; i < len; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(write(fd, &c, 1), 1);
    }
    /* Old enough for the file cache, so its path is exercised too. */
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/sk_fault_XXXXXX", base ? base : "/tmp");
    if (mkdtemp(root) == NULL)
        return -1;
    snprintf(logpath, sizeof(logpath), "%s.log", root);
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || mkdirat(rootfd, "dir", 0755) < 0)
        return -1;
    put_file("f.txt", 12);
    put_file("big.bin", 50000);
    put_file("dir/a.txt", 3);
    put_file("dir/b.txt", 4);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *files[] = {"f.txt", "big.bin", "dir/a.txt", "dir/b.txt"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlinkat(rootfd, files[i], 0);
    unlinkat(rootfd, "dir", AT_REMOVEDIR);
    close(rootfd);
    rmdir(root);
    unlink(logpath);
    return 0;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

struct outcome {
    bool injected; /* the armed failure happened */
    int end_rc;    /* how the session ended (SK_PROTO_OK if it did not) */
    char *wire;    /* its output, Dates blanked (caller frees) */
    size_t len;
};

/* One session of svc over the script, fed in `step`-byte reads, with
 * allocation fail_at failing (0: none). The harness's own buffers are
 * reserved before arming, so every allocation counted is the code's. */
static struct outcome run(const sk_service_t *svc, void *worker, const char *script, size_t len,
                          size_t step, long fail_at, bool http)
{
    hs_t h;
    assert_int_equal(hs_open(&h, svc, worker, 1000), 0);
    assert_int_equal(sk_buf_reserve(&h.in, len + 1), 0);
    assert_int_equal(sk_buf_reserve(&h.wire, 1 << 20), 0);
    sk_alloc_fail_after(fail_at);
    int rc = SK_PROTO_OK;
    for (size_t off = 0; off < len && !h.closed; off += step) {
        size_t n = len - off < step ? len - off : step;
        rc = hs_feed(&h, script + off, n, 1000 + off);
        assert_true(rc == SK_PROTO_OK || rc == SK_PROTO_CLOSE || rc == -ENOMEM);
    }
    if (!h.closed && svc->stream->eof != NULL) {
        rc = svc->stream->eof(h.sess, &h.ctx);
        assert_true(rc == SK_PROTO_OK || rc == SK_PROTO_CLOSE || rc == -ENOMEM);
        assert_true(hs_drain(&h) == 0 || rc < 0);
        if (rc != SK_PROTO_OK) {
            h.closed = true;
            h.end_rc = rc;
        }
    }
    struct outcome o = {.injected = sk_alloc_fail_fired(), .end_rc = h.closed ? h.end_rc : 0};
    sk_alloc_fail_after(0);
    if (o.end_rc >= 0 && http) {
        /* Not aborted: whatever went out must be whole responses. */
        hs_resp_t resp[32];
        const char *why = "";
        if (hs_check_framing(sk_buf_head(&h.wire), h.wire.len, true, resp, 32, &why) < 0)
            fail_msg("allocation %ld failing broke the framing: %s", fail_at, why);
    }
    o.len = h.wire.len;
    o.wire = malloc(o.len + 1);
    assert_non_null(o.wire);
    memcpy(o.wire, sk_buf_head(&h.wire), o.len);
    if (http)
        hs_blank_dates(o.wire, o.len);
    hs_close(&h);
    return o;
}

/* Fails allocation 1, 2, ... until a run completes with nothing injected;
 * after each, a clean run must match the first clean one exactly. */
static long sweep(const sk_service_t *svc, void *worker, const char *script, size_t step, bool http)
{
    size_t len = strlen(script);
    struct outcome base = run(svc, worker, script, len, step, 0, http);
    assert_false(base.injected);
    int fds = count_fds();
    long n;
    int aborted = 0;
    for (n = 1; n < 100000; n++) {
        struct outcome o = run(svc, worker, script, len, step, n, http);
        free(o.wire);
        assert_int_equal(count_fds(), fds);
        if (!o.injected)
            break;
        aborted += o.end_rc < 0;
        struct outcome again = run(svc, worker, script, len, step, 0, http);
        assert_int_equal(again.len, base.len);
        assert_memory_equal(again.wire, base.wire, base.len);
        free(again.wire);
    }
    print_message("    %s, %zu-byte reads: %ld allocations failed in turn, %d aborted the "
                  "session, the rest answered in full\n",
                  svc->stream->name, step, n - 1, aborted);
    free(base.wire);
    return n - 1;
}

static const char http_script[] =
    "GET /f.txt HTTP/1.1\r\nHost: t\r\n\r\n"
    "GET /f.txt HTTP/1.1\r\nHost: t\r\n\r\n"
    "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
    "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9,100-119,-5\r\n\r\n"
    "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=10-29\r\n\r\n"
    "GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n"
    "GET /dir HTTP/1.1\r\nHost: t\r\n\r\n"
    "POST /f.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
    "POST /f.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
    "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
    "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

static void test_http_session(void **state)
{
    (void)state;
    sk_http_config_t cfg;
    sk_http_config_defaults(&cfg);
    struct sk_err err = {0};
    assert_int_equal(sk_http_config_open(&cfg, root, &err), 0);
    assert_int_equal(sk_access_log_open(&cfg.access_log, logpath, SK_ACCESS_JSON, &err), 0);
    cfg.list_dirs = true;
    void *worker = cfg.service.worker_init(&cfg);
    assert_non_null(worker);
    /* Pipelined in one read, and a byte at a time (partial heads held). */
    assert_true(sweep(&cfg.service, worker, http_script, sizeof(http_script), true) > 10);
    assert_true(sweep(&cfg.service, worker, http_script, 7, true) > 10);
    cfg.service.worker_fini(worker);
    sk_access_log_close(cfg.access_log);
    sk_http_config_close(&cfg);
}

/* Worker state that cannot be allocated: the session fails soft. */
static void test_http_worker_init(void **state)
{
    (void)state;
    sk_http_config_t cfg;
    sk_http_config_defaults(&cfg);
    struct sk_err err = {0};
    assert_int_equal(sk_http_config_open(&cfg, root, &err), 0);
    for (long n = 1;; n++) {
        sk_alloc_fail_after(n);
        void *w = cfg.service.worker_init(&cfg);
        bool fired = sk_alloc_fail_fired();
        sk_alloc_fail_after(0);
        if (w != NULL)
            cfg.service.worker_fini(w);
        if (!fired) {
            assert_non_null(w);
            break;
        }
        assert_true(n < 100);
    }
    sk_http_config_close(&cfg);
}

static void test_echo_and_discard(void **state)
{
    (void)state;
    static char script[70000];
    for (size_t i = 0; i < sizeof(script) - 1; i++)
        script[i] = (char)('0' + i % 10);
    /* Reads over the output queue's 4 KiB chunk size get chunks of their
     * own (small ones come from a per-thread cache, allocated once). */
    assert_true(sweep(sk_echo_service(), NULL, script, 16384, false) > 0);
    sweep(sk_echo_service(), NULL, script, 100, false);
    sweep(sk_discard_service(), NULL, script, 4096, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_session),
        cmocka_unit_test(test_http_worker_init),
        cmocka_unit_test(test_echo_and_discard),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
