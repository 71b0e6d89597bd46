/* internal.h -- sk__ symbols shared by the files of src/serve: the HTTP
 * request context that http.c (framing, sessions) hands to http_static.c
 * (files, ranges, conditionals, listings), and the msg service's fast-path
 * switch. */
#ifndef SK_SERVE_INTERNAL_H
#define SK_SERVE_INTERNAL_H

#include <stdbool.h>
#include <time.h>

#include "core/outq.h"
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
 * or a Location line), may be NULL. Returns 0 or -ENOMEM. */
int sk__http_simple(sk__http_req_t *r, int status, const char *extra);

/* Serves GET/HEAD for r->req from the filesystem. Returns 0 or -ENOMEM. */
int sk__http_static(sk__http_req_t *r);

/* msg.c: answer flat ping/echo requests without jansson (default true).
 * Tests and fuzz/fuzz_msg.c turn it off to compare both paths. */
extern bool sk__msg_fast;

#endif
