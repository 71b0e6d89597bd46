/* error.h -- sockkit's error convention.
 *
 * Below the CLI every function returns 0 (or a count) on success and a
 * negative errno on failure (libuv's rule). sockkit's own codes sit below
 * -4000 so they never collide with errno values. */
#ifndef SK_CORE_ERROR_H
#define SK_CORE_ERROR_H

#include <stdarg.h>

enum {
    SK_AGAIN = -4001,     /* a parser needs more input */
    SK_EPARSE = -4002,    /* malformed input */
    SK_ETLS = -4003,      /* TLS failure */
    SK_EEOF = -4004,      /* unexpected end of stream */
    SK_ETOOBIG = -4005,   /* input over a configured limit */
    SK_EUSAGE = -4006,    /* bad user input (endpoint syntax, option value) */
    SK_ENOTBUILT = -4007, /* feature not compiled in */
};

/* A human-readable error for setup APIs (Redis's char *err idea): the
 * code plus a message that names the bad part. */
struct sk_err {
    int code;
    char msg[160];
};

/* Returns a static string for an errno (negative) or an SK_ code. */
const char *sk_strerror(int err);

/* Fills e (if not NULL) with code and a printf-style message; returns code
 * so callers can write `return sk_err_set(e, -EINVAL, "...")`. */
int sk_err_set(struct sk_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
