/* tls.h -- TLS for sockkit over OpenSSL 3: server and client contexts with
 * one safe policy (TLS 1.2 minimum, 1.3 preferred, no compression, no
 * renegotiation, session resumption, ALPN, SNI, verification against the
 * system store), and the TLS implementation of sk_transport_t, so the
 * connection driver, `get`, `msg`, `connect` and `bench` run TLS without
 * knowing OpenSSL.
 *
 * Built only when OpenSSL is (SK_HAVE_OPENSSL in build/config.h). OpenSSL
 * writes to sockets with write(2), so processes using these transports
 * ignore SIGPIPE (the server engine and the CLI do). */
#ifndef SK_TLS_TLS_H
#define SK_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/transport.h"

/* ---- server ------------------------------------------------------------ */

typedef struct sk_tls_server sk_tls_server_t;

typedef struct sk_tls_server_opts {
    const char *cert_file;         /* PEM, leaf first then the chain */
    const char *key_file;          /* PEM, RSA or ECDSA */
    bool self_signed;              /* generate an in-memory P-256 key and cert for
                                      localhost, 127.0.0.1 and ::1 instead */
    const char *alpn;              /* comma-separated list offered, e.g. "http/1.1";
                                      NULL: no ALPN */
    unsigned handshake_timeout_ms; /* --tls-timeout (default 10000) */
    int verbose;                   /* -v: OpenSSL error stacks, per-connection path */
} sk_tls_server_opts_t;

/* Loads (or generates) the certificate and key and builds the context.
 * Returns 0 with *out owned (free with sk_tls_server_free) or a negative
 * code with err naming the file and the problem in plain words. */
int sk_tls_server_new(sk_tls_server_t **out, const sk_tls_server_opts_t *o, struct sk_err *err);
void sk_tls_server_free(sk_tls_server_t *s);

/* Re-reads cert_file and key_file (SIGHUP). New connections use the new
 * pair; open ones keep theirs; session tickets issued before still resume.
 * On failure the old pair stays and err says why. With --self-signed there
 * is nothing to reload: returns 0 with err saying so. Any thread. Returns 0
 * or a negative code. */
int sk_tls_server_reload(sk_tls_server_t *s, struct sk_err *err);

/* The SHA-256 fingerprint of the serving certificate, as "AB:CD:..."
 * (openssl x509 -fingerprint -sha256 format). */
const char *sk_tls_server_fingerprint(const sk_tls_server_t *s);

/* The factory the server engine calls for each connection accepted on a
 * tls:// listener (borrowed; valid for s's life). */
const sk_transport_factory_t *sk_tls_server_factory(sk_tls_server_t *s);

/* ---- client ------------------------------------------------------------ */

typedef struct sk_tls_client sk_tls_client_t;

typedef struct sk_tls_client_opts {
    const char *cacert;    /* --cacert FILE; NULL: the system store */
    bool insecure;         /* -k: do not verify (a warning goes to stderr) */
    const char *alpn;      /* comma-separated list to offer; NULL: none */
    const char *cert_file; /* optional client certificate */
    const char *key_file;
    int verbose;
} sk_tls_client_opts_t;

/* Builds a client context (with a session cache, so a second connection to
 * the same host resumes). Returns 0 with *out owned (free with
 * sk_tls_client_free) or a negative code with err filled. */
int sk_tls_client_new(sk_tls_client_t **out, const sk_tls_client_opts_t *o, struct sk_err *err);
void sk_tls_client_free(sk_tls_client_t *c);

/* Wraps a connected socket fd (blocking or not) as a client transport for
 * host (sent as SNI unless it is an IP literal, and checked against the
 * certificate). Returns 0 with *out owned (free through its ops->free) or
 * a negative errno. The handshake runs on the first read/write, or
 * explicitly with sk_tls_handshake. */
int sk_tls_client_wrap(sk_tls_client_t *c, int fd, const char *host, sk_transport_t **out);

/* Drives the handshake of t until it completes, polling the socket, for at
 * most timeout_ms (0: no limit). Returns 0, or a negative code with err in
 * plain words: "TLS handshake with HOST timed out after 10 s", "no shared
 * TLS protocol version", "certificate has expired", "certificate is for
 * other.example, not HOST", "certificate signed by an unknown CA", "the
 * server answered in plain text (is it an http:// port?)". */
int sk_tls_handshake(sk_transport_t *t, unsigned timeout_ms, struct sk_err *err);

/* True when t is a TLS transport (ops->name is "tls"). */
bool sk_tls_is_tls(const sk_transport_t *t);

/* One line per fact for -v after the handshake: version, cipher, ALPN,
 * certificate subject, issuer and expiry, verification result, whether the
 * session was resumed. Writes at most cap bytes (NUL-terminated) and
 * returns buf. */
const char *sk_tls_describe(const sk_transport_t *t, char *buf, size_t cap);

/* The ALPN protocol agreed on, or NULL. Valid until the next call in the
 * same thread. */
const char *sk_tls_alpn(const sk_transport_t *t);

/* The plain-words reason the last operation on t failed ("certificate has
 * expired ...", "connection reset by peer"), or NULL. Owned by t. */
const char *sk_tls_error(const sk_transport_t *t);

#endif
