/* internal.h -- what the files of src/tls share: the connection object
 * behind the TLS transport, the common context policy, ALPN lists, plain
 * error explanations and certificate generation (self-signed, tests). */
#ifndef SK_TLS_INTERNAL_H
#define SK_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "tls/tls.h"

struct sk_tls_client;
struct sk_tls_server;

/* Where a connection stands. Servers first peek at the first byte: a TLS
 * record starts with 0x16, a plain HTTP request with a method name. */
enum sk__tls_state {
    SK__TLS_SNIFF,    /* server: nothing seen yet */
    SK__TLS_RUNNING,  /* handshake or data through OpenSSL */
    SK__TLS_REJECTED, /* server: not TLS (plain HTTP got a 400); half-closed, draining */
    SK__TLS_FAILED,   /* a fatal error: no close_notify may follow */
};

/* One TLS connection; t must stay the first member (ops get &t). */
typedef struct sk__tls_conn {
    sk_transport_t t;
    SSL *ssl;
    enum sk__tls_state state;
    bool server;
    bool ktls_send;    /* the kernel encrypts what we send (SSL_sendfile works) */
    bool read_stalled; /* the last SSL_read wanted more bytes from the socket */
    bool shut_sent;    /* close_notify sent */
    int rwant, wwant;  /* what the last read / write op waits for */
    int verbose;
    char host[256]; /* client: the name asked for (SNI, verification) */
    char key[300];  /* client: "host:port", the session cache key */
    struct sk_tls_client *client;
    /* Server: the count of the server's open TLS connections, shared by
     * all of them (see release_buffers in tls_transport.c). */
    atomic_long *live;
    char error[160]; /* the plain-words reason of the last failure */
    /* Client: what the verification callback saw of a failing peer
     * certificate (the certificate itself is gone when the handshake
     * fails). */
    char peer_names[100];
    char peer_not_before[40], peer_not_after[40];
} sk__tls_conn_t;

extern const sk_transport_ops_t sk__tls_ops;

/* The index of the SSL ex_data slot that points back to the conn. */
int sk__tls_conn_index(void);

/* Above this many open server connections, each connection gives its
 * record buffers back whenever it goes idle (memory over speed). */
#define SK__TLS_RELEASE_ABOVE 256

/* Wraps a freshly made SSL (server or client) in a conn owning it.
 * Returns NULL on -ENOMEM (ssl is then freed). */
sk__tls_conn_t *sk__tls_conn_new(SSL *ssl, int fd, bool server, int verbose);

/* Applies the policy both sides share: TLS 1.2 minimum, no compression,
 * no renegotiation, kernel TLS when offered, partial and moving writes. */
void sk__tls_policy(SSL_CTX *ctx);

/* Turns "h2,http/1.1" into ALPN wire format (length-prefixed names).
 * Returns the length with *out owned (free()), or SK_EUSAGE with err. */
int sk__tls_alpn_wire(const char *list, unsigned char **out, struct sk_err *err);

/* Explains a failed handshake or I/O of c in plain words (into c->error)
 * from the OpenSSL error queue and the verification result; with verbose
 * the OpenSSL error stack is logged too. Clears the error queue. */
void sk__tls_explain(sk__tls_conn_t *c);

/* The client's verification callback: notes the names and validity of a
 * failing leaf certificate for sk__tls_explain; keeps OpenSSL's verdict. */
int sk__tls_verify_cb(int preverify_ok, X509_STORE_CTX *ctx);

/* Explains why loading a PEM file failed, from the OpenSSL error queue
 * (which it clears): "WHAT FILE: reason" in err, the reason being the
 * system error (no such file, permission) or the PEM problem rather than
 * OpenSSL's wrapper; with verbose the queue is logged too. Returns SK_ETLS. */
int sk__tls_load_error(struct sk_err *err, const char *what, const char *file, int verbose);

/* Logs the OpenSSL error queue (only with -v) and clears it. */
void sk__tls_log_stack(int verbose, const char *what);

/* Formats the SHA-256 fingerprint of x as "AB:CD:..." into buf (cap >= 96). */
void sk__tls_fingerprint(X509 *x, char *buf, size_t cap);

/* Makes a certificate for key: subject CN=cn, subjectAltName san (OpenSSL
 * syntax, e.g. "DNS:localhost,IP:127.0.0.1"; NULL: none), valid from now +
 * not_before_s to now + not_after_s seconds, signed by issuer/issuer_key
 * (NULL: self-signed). ca makes a CA certificate. Returns the certificate
 * owned by the caller, or NULL. Used by --self-signed and the tests. */
X509 *sk__tls_make_cert(EVP_PKEY *key, const char *cn, const char *san, long not_before_s,
                        long not_after_s, X509 *issuer, EVP_PKEY *issuer_key, bool ca);

/* Client side: stores sess as the session to resume for key (takes
 * ownership of sess). */
void sk__tls_client_store(struct sk_tls_client *c, const char *key, SSL_SESSION *sess);

#endif
