/* http.h -- the static-file HTTP/1.1 service (`sockkit serve http`).
 *
 * Configuration is built once by the CLI and shared read-only by every
 * worker; per-worker state (date cache, access-log buffer) and
 * per-connection sessions live in http.c. */
#ifndef SK_SERVE_HTTP_H
#define SK_SERVE_HTTP_H

#include <stdbool.h>

#include "core/error.h"
#include "core/server.h"
#include "proto/http_parse.h"
#include "proto/mime.h"
#include "serve/access_log.h"

typedef struct sk_http_config {
    const char *root;           /* as given, for messages */
    int root_fd;                /* O_PATH directory fd everything opens beneath */
    sk_http_limits_t limits;    /* --max-header-bytes, --max-headers, --max-body */
    unsigned header_timeout_ms; /* a whole head, from its first byte; 0: none */
    unsigned body_timeout_ms;   /* a whole body, from the end of its head; 0: none */
    unsigned idle_timeout_ms;
    unsigned send_timeout_ms;
    const char *index;           /* --index, default index.html */
    bool list_dirs;              /* --list-dirs */
    bool dotfiles;               /* --dotfiles */
    sk_access_log_t *access_log; /* NULL when off */
    sk_mime_t *mime;
    sk_service_t service; /* filled by sk_http_config_open */
} sk_http_config_t;

/* Fills cfg with the design's defaults (no root yet). */
void sk_http_config_defaults(sk_http_config_t *cfg);

/* Opens root (must be a directory) and /etc/mime.types, and prepares
 * cfg->service. Returns 0 or a negative code with err filled. */
int sk_http_config_open(sk_http_config_t *cfg, const char *root, struct sk_err *err);

/* Releases what sk_http_config_open acquired (not the access log). */
void sk_http_config_close(sk_http_config_t *cfg);

#endif
