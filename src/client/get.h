/* get.h -- the HTTP/1.1 client behind `sockkit get`: fetches URLs in order
 * over keep-alive connections (one per origin), plain or TLS through the
 * transport seam, and tells the socket-level story on stderr (-v) or as JSON.
 * Failures are explained in one plain line each. */
#ifndef SK_CLIENT_GET_H
#define SK_CLIENT_GET_H

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses sk_get_run returns (curl's 22 for --fail). */
enum { SK_GET_OK = 0, SK_GET_FAILED = 1, SK_GET_HTTP_ERROR = 22 };

typedef struct sk_get_opts {
    const char *const *urls; /* borrowed */
    size_t n_urls;
    const char *const *outputs; /* -o FILE, paired with urls in order */
    size_t n_outputs;
    bool remote_name;           /* -O: name the file after the URL */
    bool include;               /* -i: status line and headers before the body */
    bool head;                  /* -I: HEAD, print the head */
    const char *const *headers; /* -H "Name: value" (borrowed) */
    size_t n_headers;
    const char *user_agent;      /* -A; NULL: sockkit/VERSION */
    bool follow;                 /* -L */
    unsigned max_redirs;         /* --max-redirs */
    bool allow_downgrade;        /* follow https -> http */
    bool fail;                   /* -f: status >= 400 is an error (22) */
    unsigned connect_timeout_ms; /* per address; 0: none */
    unsigned tls_timeout_ms;     /* 0: none */
    unsigned read_timeout_ms;    /* idle; 0: none */
    unsigned max_time_ms;        /* whole call; 0: none */
    bool compressed;             /* ask for and decode gzip/deflate */
    bool insecure;               /* -k */
    const char *cacert;          /* --cacert */
    bool json;                   /* one JSON object per URL instead of the body */
    bool tcp_info;               /* TCP_INFO after each transfer */
    const char *unix_socket;     /* --unix-socket PATH */
    int family;                  /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    int progress;                /* 1 on, 0 off, -1 automatic: on (stderr is a terminal)
                                    except for a body printed to a terminal stdout */
} sk_get_opts_t;

/* Validates a -H argument ("Name: value", "Name:" to drop a default
 * header, "Name;" for an empty value). Returns 0 or SK_EUSAGE. */
int sk_get_check_header(const char *h);

/* Runs every transfer. Returns SK_GET_OK, SK_GET_FAILED (a line on stderr
 * said why) or SK_GET_HTTP_ERROR (--fail and a status >= 400); with several
 * URLs, the status of the last one that failed. */
int sk_get_run(const sk_get_opts_t *o);

#endif
