/* msg.h -- the framed JSON client behind `sockkit msg`: sends requests as
 * frames (proto/frame.h) over any stream transport, keeping up to a window
 * of them in flight, and hands each reply to a callback in order. Where the
 * requests come from is a small source interface: the command line's
 * arguments, or the lines of a descriptor (stdin). */
#ifndef SK_CLIENT_MSG_H
#define SK_CLIENT_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/transport.h"

/* A supply of requests. next() returns 1 with *req set (borrowed until the
 * next call), 0 at the end, SK_AGAIN when none is ready yet (then poll_fd,
 * if >= 0, becomes readable when one may be), or a negative errno. */
typedef struct sk_msg_source {
    int (*next)(void *ctx, sk_str_t *req);
    void *ctx;
    int poll_fd;
} sk_msg_source_t;

/* Called with each reply payload, in request order. Returning a negative
 * value stops the run with that code. */
typedef int (*sk_msg_reply_cb)(void *ctx, const char *reply, size_t len);

typedef struct sk_msg_client_opts {
    size_t max_frame; /* largest request or reply payload */
    int timeout_ms;   /* longest wait for the server without progress; <= 0: none */
    unsigned window;  /* requests in flight at most (>= 1) */
} sk_msg_client_opts_t;

/* Runs requests from src over t (a connected stream; the socket is made
 * non-blocking) until every one is answered. Returns 0, or a negative
 * code with err naming what failed: "timed out after 10 s waiting for a
 * reply (3 unanswered)", "the server closed the connection before
 * replying (3 unanswered)", "a reply of N bytes is over --max-frame",
 * "request 4 is N bytes, over --max-frame". Borrows everything. */
int sk_msg_client_run(sk_transport_t *t, const sk_msg_source_t *src, sk_msg_reply_cb on_reply,
                      void *reply_ctx, const sk_msg_client_opts_t *o, struct sk_err *err);

/* A source over a fixed list of strings (the command line). */
typedef struct sk_msg_args {
    char **args;
    int n, i;
} sk_msg_args_t;
int sk_msg_args_next(void *ctx, sk_str_t *req);

/* A source over the lines of fd (LF or CRLF; blank lines skipped; a last
 * line without LF counts). fd is only read when poll says it is readable,
 * so a terminal or pipe never blocks the replies. A line longer than max
 * bytes gives SK_ETOOBIG (its number in too_long). The line number of each
 * request is remembered for the last `window` requests, so a reply can be
 * traced back to its line (sk_msg_lines_number). Free with
 * sk_msg_lines_fini. */
typedef struct sk_msg_lines {
    int fd;
    size_t max;
    bool eof;
    size_t pending; /* bytes of the line returned last, consumed next call */
    sk_buf_t buf;
    size_t line;     /* lines consumed so far, blank ones included */
    size_t too_long; /* the number of the line over max, or 0 */
    size_t *nums;    /* ring: the line of request k (1-based) at nums[k % window] */
    size_t window, requests;
} sk_msg_lines_t;
void sk_msg_lines_init(sk_msg_lines_t *l, int fd, size_t max, size_t window);
void sk_msg_lines_fini(sk_msg_lines_t *l);
int sk_msg_lines_next(void *ctx, sk_str_t *req);
/* The line number of request k (1-based), or 0 when it is not (or no
 * longer) known: only the last `window` requests are remembered, which
 * covers every request in flight. */
size_t sk_msg_lines_number(const sk_msg_lines_t *l, size_t k);

#endif
