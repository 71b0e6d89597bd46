/* http_write.c -- response head assembly (see http_write.h). */
#include "proto/http_write.h"

#include <string.h>

const char *sk_http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

void sk_http_head_raw(sk_http_head_t *h, const char *p, size_t n)
{
    if (h->overflow || n > sizeof(h->buf) - h->len) {
        h->overflow = true;
        return;
    }
    memcpy(h->buf + h->len, p, n);
    h->len += n;
}

void sk_http_head_str(sk_http_head_t *h, const char *s)
{
    sk_http_head_raw(h, s, strlen(s));
}

void sk_http_head_u64(sk_http_head_t *h, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    sk_http_head_raw(h, tmp + i, sizeof(tmp) - i);
}

void sk_http_head_start(sk_http_head_t *h, int status, const char *date)
{
    h->len = 0;
    h->overflow = false;
    sk_http_head_raw(h, "HTTP/1.1 ", 9);
    sk_http_head_u64(h, (uint64_t)status);
    sk_http_head_raw(h, " ", 1);
    sk_http_head_str(h, sk_http_status_text(status));
    sk_http_head_raw(h, "\r\nServer: sockkit\r\nDate: ", 25);
    sk_http_head_raw(h, date, 29);
    sk_http_head_raw(h, "\r\n", 2);
}

void sk_http_head_field(sk_http_head_t *h, const char *name, const char *value, size_t vlen)
{
    sk_http_head_str(h, name);
    sk_http_head_raw(h, ": ", 2);
    sk_http_head_raw(h, value, vlen);
    sk_http_head_raw(h, "\r\n", 2);
}

void sk_http_head_field_u64(sk_http_head_t *h, const char *name, uint64_t v)
{
    sk_http_head_str(h, name);
    sk_http_head_raw(h, ": ", 2);
    sk_http_head_u64(h, v);
    sk_http_head_raw(h, "\r\n", 2);
}

bool sk_http_head_end(sk_http_head_t *h)
{
    sk_http_head_raw(h, "\r\n", 2);
    return !h->overflow;
}
