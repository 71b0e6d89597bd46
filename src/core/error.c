/* error.c -- error strings for errno values and sockkit's own codes. */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

const char *sk_strerror(int err)
{
    switch (err) {
    case SK_AGAIN:
        return "need more input";
    case SK_EPARSE:
        return "malformed input";
    case SK_ETLS:
        return "TLS error";
    case SK_EEOF:
        return "unexpected end of stream";
    case SK_ETOOBIG:
        return "over the configured limit";
    case SK_EUSAGE:
        return "usage error";
    case SK_ENOTBUILT:
        return "not built in";
    default:
        break;
    }
    if (err < 0 && err > -4000)
        return strerror(-err);
    return "unknown error";
}

int sk_err_set(struct sk_err *e, int code, const char *fmt, ...)
{
    if (e != NULL) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
