/* internal.h -- sk__ symbols shared by the files of src/serve: the HTTP
 * request context that http.c (framing, sessions) hands to http_static.c
 * (files, ranges, conditionals, listings), and the msg service's fast-path
 * switch. */
#ifndef SK_SERVE_INTERNAL_H
#define SK_SERVE_INTERNAL_H

#include <stdbool.h>
#include <time.h>

#include "core/outq.h"
#include "proto/http_write.h"
#include "proto/http_parse.h"
#include "serve/file_cache.h"
#include "serve/http.h"

/* What one request needs to build its response. */
typedef struct sk__http_req {
    const sk_http_config_t *cfg;
    const sk_http_request_t *req;
    sk_outq_t *out;   /* where the response goes */
    const char *date; /* cached IMF-fixdate for the Date header */
    time_t now;
    bool keep_alive;        /* the response keeps the connection open */
    bool head_only;         /* HEAD: the head without the body */
    sk_file_cache_t *cache; /* the worker's small-file cache, or NULL */
    int *spare_fd;          /* the worker's reserve descriptor, or NULL */
    int status;             /* out: for the access log */
    uint64_t body_bytes;    /* out: body bytes queued */
} sk__http_req_t;

/* Appends a complete error or redirect response (with a small HTML body
 * unless HEAD). extra is appended verbatim to the head (e.g. "Allow: ...\r\n"
 * or a Location line), may be NULL. A head that cannot fit gets
 * too_long instead (see sk__http_head_send). Returns 0 or -ENOMEM. */
int sk__http_simple(sk__http_req_t *r, int status, const char *extra);

/* Ends head h and queues it. A head that overflowed SK_HTTP_HEAD_MAX is
 * never sent cut short: a complete `fallback` error response (414 when
 * the request's own bytes made it too long, else 500) takes its place and
 * r->keep_alive is cleared, so the connection closes after it. Returns 0
 * when h itself was queued, 1 when the fallback was, or -ENOMEM. */
int sk__http_head_send(sk__http_req_t *r, sk_http_head_t *h, int fallback);

/* The longest relative path the server opens (PATH_MAX): a longer name
 * cannot exist, so a request for one gets 404 without a lookup. */
#define SK__PATH_MAX 4096

/* Opens rel (relative, no leading '/'; "" is the root itself) beneath
 * rootfd with flags (O_CLOEXEC and O_NOCTTY added). Symlinks that stay
 * inside the root are followed where openat2 exists; anything that would
 * leave it fails (-EXDEV, or -ELOOP on the no-symlink walk used where
 * openat2 is missing or filtered). Returns an owned fd or a negative
 * errno. */
int sk__open_beneath(int rootfd, const char *rel, int flags);

/* Serves GET/HEAD for r->req from the filesystem. Returns 0 or -ENOMEM. */
int sk__http_static(sk__http_req_t *r);

/* msg.c: answer flat ping/echo requests without jansson (default true).
 * Tests and fuzz/fuzz_msg.c turn it off to compare both paths. */
extern bool sk__msg_fast;

#endif
