/* bench_http_response.c -- micro-benchmark of the client's response path:
 * parse a typical nginx response head and decode its body (Content-Length,
 * then chunked in place) N times; prints ns per response.
 *
 * Build: cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc -Ibuild bench/micro/bench_http_response.c
 *        src/proto/http_response.c src/proto/http_chunked.c src/proto/token.c
 *        src/core/error.c -o /tmp/bench_http_response
 * Run:   /tmp/bench_http_response [iterations]   (not run by the tests) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/http_response.h"

static const char head[] = "HTTP/1.1 200 OK\r\n"
                           "Server: nginx/1.22.1\r\n"
                           "Date: Mon, 30 Nov 2026 10:00:00 GMT\r\n"
                           "Content-Type: application/octet-stream\r\n"
                           "Content-Length: 1024\r\n"
                           "Last-Modified: Mon, 30 Nov 2026 09:59:00 GMT\r\n"
                           "Connection: keep-alive\r\n"
                           "ETag: \"6566b8c4-400\"\r\n"
                           "Accept-Ranges: bytes\r\n"
                           "\r\n";

static const char chunked_head[] = "HTTP/1.1 200 OK\r\n"
                                   "Server: nginx/1.22.1\r\n"
                                   "Content-Type: text/html\r\n"
                                   "Transfer-Encoding: chunked\r\n"
                                   "Connection: keep-alive\r\n"
                                   "\r\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Parses and decodes msg[0, len) n times from a working copy; returns the
 * ns per response. */
static double run(const char *name, const char *msg, size_t len, long n)
{
    char *orig = malloc(len), *buf = malloc(len);
    if (orig == NULL || buf == NULL)
        exit(1);
    memcpy(orig, msg, len);
    sk_http_response_t resp;
    sk_http_header_t h[32];
    enum sk_http_resp_error why;
    uint64_t sink = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        /* The in-place decoder overwrites the framing: restore it, as each
         * new response arrives in the read buffer. */
        memcpy(buf, orig, len);
        int hl = sk_http_response_parse(buf, len, NULL, &resp, h, 32, &why);
        if (hl <= 0) {
            fprintf(stderr, "%s: parse failed: %s\n", name, sk_http_resp_error_reason(why));
            exit(1);
        }
        sk_http_body_t b;
        sk_http_body_init(&b, &resp, false);
        size_t used, data;
        if (sk_http_body_decode(&b, buf + hl, len - (size_t)hl, &used, &data) != 1) {
            fprintf(stderr, "%s: body not complete\n", name);
            exit(1);
        }
        sink += data + resp.num_headers;
    }
    double ns = (now_ns() - t0) / (double)n;
    printf("%s: %ld responses of %zu bytes, %.1f ns/response (copy included; sink %llu)\n", name, n,
           len, ns, (unsigned long long)sink);
    free(orig);
    free(buf);
    return ns;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    static char msg[8192];
    size_t hl = sizeof(head) - 1;
    memcpy(msg, head, hl);
    memset(msg + hl, 'x', 1024);
    run("content-length 1 KiB", msg, hl + 1024, n);
    /* The same KiB as four chunks with an extension, then a trailer. */
    size_t o = sizeof(chunked_head) - 1;
    memcpy(msg, chunked_head, o);
    for (int i = 0; i < 4; i++) {
        o += (size_t)snprintf(msg + o, sizeof(msg) - o, "100;n=%d\r\n", i);
        memset(msg + o, 'y', 256);
        o += 256;
        memcpy(msg + o, "\r\n", 2);
        o += 2;
    }
    o += (size_t)snprintf(msg + o, sizeof(msg) - o, "0\r\nX-Sum: 1\r\n\r\n");
    run("chunked 4 x 256 B", msg, o, n);
    return 0;
}
