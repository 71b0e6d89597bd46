/* fuzz_http_session.c -- libFuzzer target for the whole HTTP session
 * (src/serve/http.c and http_static.c) driven through sk_proto_t with a
 * real output queue, over a small fixed tree of files.
 *
 * The first byte picks the limits (--max-body 0/64/default, small heads)
 * and how the rest is cut into reads; the output must always be a run of
 * complete, parseable responses whose Content-Length matches the bytes
 * that follow, nothing may follow a `Connection: close` response, and a
 * session that ended must not be offered more. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/http.h"
#include "../tests/unit/serve/http_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static sk_http_config_t cfg;
static void *worker;
static char root[64];

static void put(int dfd, const char *name, const char *data, size_t len)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    check(fd >= 0);
    check(write(fd, data, len) == (ssize_t)len);
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    futimens(fd, ts);
    close(fd);
}

static void cleanup(void)
{
    static const char *files[] = {"f.txt",           "big.bin", "f.txt.gz", "d/a.txt", ".hidden",
                                  "site/index.html", "link",    "d",        "site"};
    char path[128];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", root, files[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(root);
}

/* The served tree, made once per process: files small and large (copied
 * and sendfile paths), a directory with an index, one without (listing),
 * a precompressed sibling, a dotfile and a link. */
static void init(void)
{
    snprintf(root, sizeof(root), "/tmp/sk_fuzz_http_%d", (int)getpid());
    mkdir(root, 0755);
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(dfd >= 0);
    mkdirat(dfd, "d", 0755);
    mkdirat(dfd, "site", 0755);
    static char big[40000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    put(dfd, "f.txt", "hello world\n", 12);
    put(dfd, "big.bin", big, sizeof(big));
    put(dfd, "f.txt.gz", "\x1f\x8b fake", 8);
    put(dfd, "d/a.txt", "a\n", 2);
    put(dfd, ".hidden", "x", 1);
    put(dfd, "site/index.html", "<p>hi</p>\n", 10);
    symlinkat("f.txt", dfd, "link");
    close(dfd);
    atexit(cleanup);
    sk_http_config_defaults(&cfg);
    struct sk_err err = {0};
    check(sk_http_config_open(&cfg, root, &err) == 0);
    cfg.list_dirs = true;
    worker = cfg.service.worker_init(&cfg);
    check(worker != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (worker == NULL)
        init();
    uint8_t mode = size > 0 ? data[0] : 0;
    if (size > 0) {
        data++;
        size--;
    }
    static const uint64_t bodies[] = {SK_HTTP_DEFAULT_MAX_BODY, 0, 64, 5};
    cfg.limits.max_body = bodies[mode & 3];
    cfg.limits.max_header_bytes = (mode & 4) ? 256 : SK_HTTP_DEFAULT_MAX_HEADER_BYTES;
    size_t step = (mode >> 3) == 0 ? size : (size_t)(mode >> 3); /* bytes per read */

    hs_t h;
    check(hs_open(&h, &cfg.service, worker, 1000) == 0);
    uint64_t now = 1000;
    for (size_t off = 0; off < size && !h.closed;) {
        size_t n = size - off < step ? size - off : step;
        int rc = hs_feed(&h, (const char *)data + off, n, now);
        check(rc == SK_PROTO_OK || rc == SK_PROTO_CLOSE);
        off += n;
        now += 7;
    }
    const char *why = "";
    static hs_resp_t resp[256];
    bool head_possible = memmem(data, size, "HEAD", 4) != NULL;
    int count = hs_check_framing(sk_buf_head(&h.wire), h.wire.len, head_possible, resp, 256, &why);
    if (count < 0) {
        fprintf(stderr, "framing: %s\n", why);
        check(false);
    }
    /* A response that closes ends the session. */
    if (count > 0 && count <= 256 && resp[count - 1].close)
        check(h.closed);
    hs_close(&h);
    return 0;
}
