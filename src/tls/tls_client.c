/* tls_client.c -- the client context: verification against the system
 * store or --cacert, -k, ALPN, SNI, and a small session cache keyed by
 * host:port so a second connection to the same server resumes. */
#include "tls/internal.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Enough for a client talking to a handful of servers (get with several
 * URLs, bench against one); the least recently stored entry makes room. */
#define SESS_SLOTS 32

struct sess_slot {
    char key[300];
    SSL_SESSION *sess;
    uint64_t stamp;
};

struct sk_tls_client {
    SSL_CTX *ctx;
    int verbose;
    pthread_mutex_t lock; /* guards the cache: bench clients are threads */
    uint64_t clock;
    struct sess_slot slots[SESS_SLOTS];
};

void sk__tls_client_store(struct sk_tls_client *c, const char *key, SSL_SESSION *sess)
{
    pthread_mutex_lock(&c->lock);
    struct sess_slot *slot = &c->slots[0];
    for (int i = 0; i < SESS_SLOTS; i++) {
        if (strcmp(c->slots[i].key, key) == 0) {
            slot = &c->slots[i];
            break;
        }
        if (c->slots[i].stamp < slot->stamp)
            slot = &c->slots[i];
    }
    SSL_SESSION_free(slot->sess);
    slot->sess = sess;
    snprintf(slot->key, sizeof(slot->key), "%s", key);
    slot->stamp = ++c->clock;
    pthread_mutex_unlock(&c->lock);
}

/* Returns a reference to the session stored for key, or NULL. */
static SSL_SESSION *lookup(struct sk_tls_client *c, const char *key)
{
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < SESS_SLOTS; i++) {
        if (c->slots[i].sess != NULL && strcmp(c->slots[i].key, key) == 0) {
            s = c->slots[i].sess;
            SSL_SESSION_up_ref(s);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* OpenSSL hands over each session it may resume later: after the
 * handshake for TLS 1.2, with each NewSessionTicket for TLS 1.3. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    sk__tls_conn_t *conn = SSL_get_ex_data(ssl, sk__tls_conn_index());
    /* A copy, not a reference: OpenSSL marks a connection's own session
     * unresumable when the connection is freed without close_notify, which
     * is how most clients end. */
    if (conn != NULL && conn->client != NULL && SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION *copy = SSL_SESSION_dup(sess);
        if (copy != NULL)
            sk__tls_client_store(conn->client, conn->key, copy);
    }
    return 0; /* OpenSSL keeps its reference */
}

void sk_tls_client_free(sk_tls_client_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SESS_SLOTS; i++)
        SSL_SESSION_free(c->slots[i].sess);
    SSL_CTX_free(c->ctx);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int sk_tls_client_new(sk_tls_client_t **out, const sk_tls_client_opts_t *o, struct sk_err *err)
{
    struct sk_tls_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->verbose = o->verbose;
    int rc = 0;
    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        rc = sk_err_set(err, -ENOMEM, "cannot create a TLS context");
        goto fail;
    }
    sk__tls_policy(c->ctx);
    SSL_CTX_set_session_cache_mode(c->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c->ctx, new_session);
    if (o->cacert != NULL) {
        if (SSL_CTX_load_verify_locations(c->ctx, o->cacert, NULL) != 1) {
            rc = sk__tls_load_error(err, "--cacert", o->cacert, o->verbose);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        rc = sk_err_set(err, SK_ETLS, "cannot load the system's CA certificates");
        goto fail;
    }
    if (o->insecure) {
        /* The chain is still checked, so -v can report what is wrong,
         * but a failure no longer stops the handshake. */
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, sk__tls_verify_cb);
        sk_log_warn("-k/--insecure: the server's certificate is not verified; "
                    "anyone on the path can read and change this connection");
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, sk__tls_verify_cb);
    }
    if (o->alpn != NULL) {
        unsigned char *wire;
        int n = sk__tls_alpn_wire(o->alpn, &wire, err);
        if (n < 0) {
            rc = n;
            goto fail;
        }
        /* Unusually, 0 means success here. */
        int bad = SSL_CTX_set_alpn_protos(c->ctx, wire, (unsigned)n);
        free(wire);
        if (bad) {
            rc = sk_err_set(err, SK_EUSAGE, "--alpn %s: rejected by OpenSSL", o->alpn);
            goto fail;
        }
    }
    if (o->cert_file != NULL || o->key_file != NULL) {
        const char *cf = o->cert_file != NULL ? o->cert_file : o->key_file;
        const char *kf = o->key_file != NULL ? o->key_file : o->cert_file;
        if (SSL_CTX_use_certificate_chain_file(c->ctx, cf) != 1) {
            rc = sk__tls_load_error(err, "client certificate", cf, o->verbose);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(c->ctx, kf, SSL_FILETYPE_PEM) != 1) {
            rc = sk__tls_load_error(err, "client key", kf, o->verbose);
            goto fail;
        }
        if (SSL_CTX_check_private_key(c->ctx) != 1) {
            rc = sk_err_set(err, SK_ETLS, "client key %s does not match certificate %s", kf, cf);
            goto fail;
        }
    }
    ERR_clear_error();
    *out = c;
    return 0;
fail:
    sk__tls_log_stack(o->verbose, "tls client");
    sk_tls_client_free(c);
    return rc;
}

static bool is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int sk_tls_client_wrap(sk_tls_client_t *c, int fd, const char *host, sk_transport_t **out)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(c->ctx);
    if (ssl == NULL)
        return -ENOMEM;
    /* RFC 6066 §3: SNI carries host names only, never address literals;
     * addresses are checked against the certificate's IP entries. */
    int ok;
    if (is_ip_literal(host)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
    }
    if (!ok) {
        SSL_free(ssl);
        ERR_clear_error();
        return -EINVAL;
    }
    sk__tls_conn_t *conn = sk__tls_conn_new(ssl, fd, false, c->verbose);
    if (conn == NULL)
        return -ENOMEM;
    conn->client = c;
    snprintf(conn->host, sizeof(conn->host), "%s", host);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    unsigned port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    snprintf(conn->key, sizeof(conn->key), "%s:%u", host, port);
    SSL_SESSION *sess = lookup(c, conn->key);
    if (sess != NULL) {
        SSL_set_session(ssl, sess);
        SSL_SESSION_free(sess);
    }
    *out = &conn->t;
    return 0;
}
