/* tls_server.c -- the server context: certificate and key from PEM files
 * (chains, RSA or ECDSA) or generated in memory (--self-signed), ALPN
 * selection, session tickets and a session cache, reload on SIGHUP, and
 * the factory the server engine wraps accepted sockets with. */
#include "tls/internal.h"
#include "core/log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sk_tls_server {
    /* Guards ctx and fingerprint: connections take a reference to the
     * current context (SSL_new) under it, a reload swaps it under it. Open
     * connections keep the old context alive through their reference. */
    pthread_mutex_t lock;
    SSL_CTX *ctx;
    char *cert_file, *key_file;
    bool self_signed;
    unsigned char *alpn; /* wire format, or NULL */
    int alpn_len;
    int verbose;
    char fingerprint[100];
    sk_transport_factory_t factory;
    atomic_long live; /* open connections */
};

/* RFC 7301 §3.2: a server that shares no protocol with the client answers
 * with a fatal no_application_protocol alert. A client that offers no ALPN
 * never gets here and is served anyway. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    const struct sk_tls_server *s = arg;
    if (s->alpn == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *sel = NULL;
    /* Our order wins, as the server's preference should. */
    if (SSL_select_next_proto(&sel, outlen, s->alpn, (unsigned)s->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int use_self_signed(SSL_CTX *ctx, char *fp, size_t fpcap, struct sk_err *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = NULL;
    int rc = 0;
    if (key == NULL) {
        rc = sk_err_set(err, SK_ETLS, "cannot generate a P-256 key");
        goto out;
    }
    /* Valid from an hour ago (clocks differ) for 30 days: a development
     * certificate that lives as long as the process, in practice. */
    x = sk__tls_make_cert(key, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", -3600, 30L * 86400,
                          NULL, NULL, false);
    if (x == NULL) {
        rc = sk_err_set(err, SK_ETLS, "cannot make the self-signed certificate");
        goto out;
    }
    if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        rc = sk_err_set(err, SK_ETLS, "cannot use the self-signed certificate");
        goto out;
    }
    sk__tls_fingerprint(x, fp, fpcap);
out:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* OpenSSL would ask for a passphrase on the terminal, which a server
 * cannot answer: refuse encrypted keys instead, with a message. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)u = true;
    return -1;
}

/* Builds a complete context from the current files; on failure nothing of
 * s changes. */
static int build_ctx(struct sk_tls_server *s, SSL_CTX **out, char *fp, size_t fpcap,
                     struct sk_err *err)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return sk_err_set(err, -ENOMEM, "cannot create a TLS context");
    sk__tls_policy(ctx);
    /* Stricter than the default for TLS 1.2: forward secrecy and AEAD only
     * (no CBC suites, so nothing for Lucky13-style padding oracles). TLS 1.3
     * suites are all AEAD and keep OpenSSL's defaults. */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL");
    /* Resumption: stateless tickets (TLS 1.3 and 1.2) plus the built-in
     * session-ID cache for 1.2 clients without tickets. One ticket per
     * handshake is what a client needs to resume; the default two cost a
     * second encryption on every new connection. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sockkit", 7);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20000);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, s);
    bool asked = false;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
    int rc = 0;
    if (s->self_signed) {
        rc = use_self_signed(ctx, fp, fpcap, err);
    } else {
        if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1)
            rc = sk__tls_load_error(err, "certificate", s->cert_file, s->verbose);
        else if (SSL_CTX_use_PrivateKey_file(ctx, s->key_file, SSL_FILETYPE_PEM) != 1) {
            rc = sk__tls_load_error(err, "key", s->key_file, s->verbose);
            if (asked)
                rc = sk_err_set(err, SK_ETLS,
                                "key %s is encrypted; sockkit needs it unencrypted "
                                "(openssl pkey -in KEY -out PLAIN)",
                                s->key_file);
        } else if (SSL_CTX_check_private_key(ctx) != 1) {
            rc = sk_err_set(err, SK_ETLS, "key %s does not match certificate %s", s->key_file,
                            s->cert_file);
            sk__tls_log_stack(s->verbose, "tls");
        } else {
            sk__tls_fingerprint(SSL_CTX_get0_certificate(ctx), fp, fpcap);
        }
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

static int server_wrap(void *arg, int fd, sk_transport_t **out)
{
    struct sk_tls_server *s = arg;
    pthread_mutex_lock(&s->lock);
    SSL *ssl = SSL_new(s->ctx);
    pthread_mutex_unlock(&s->lock);
    if (ssl == NULL) {
        ERR_clear_error();
        return -ENOMEM;
    }
    sk__tls_conn_t *c = sk__tls_conn_new(ssl, fd, true, s->verbose);
    if (c == NULL)
        return -ENOMEM;
    c->live = &s->live;
    atomic_fetch_add_explicit(&s->live, 1, memory_order_relaxed);
    *out = &c->t;
    return 0;
}

void sk_tls_server_free(sk_tls_server_t *s)
{
    if (s == NULL)
        return;
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s->cert_file);
    free(s->key_file);
    free(s->alpn);
    free(s);
}

int sk_tls_server_new(sk_tls_server_t **out, const sk_tls_server_opts_t *o, struct sk_err *err)
{
    if (!o->self_signed && (o->cert_file == NULL || o->key_file == NULL))
        return sk_err_set(err, SK_EUSAGE, "TLS needs --cert FILE and --key FILE, or --self-signed");
    struct sk_tls_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->self_signed = o->self_signed;
    s->verbose = o->verbose;
    if (!o->self_signed) {
        s->cert_file = strdup(o->cert_file);
        s->key_file = strdup(o->key_file);
        if (s->cert_file == NULL || s->key_file == NULL) {
            sk_tls_server_free(s);
            return sk_err_set(err, -ENOMEM, "out of memory");
        }
    }
    if (o->alpn != NULL) {
        int n = sk__tls_alpn_wire(o->alpn, &s->alpn, err);
        if (n < 0) {
            sk_tls_server_free(s);
            return n;
        }
        s->alpn_len = n;
    }
    int rc = build_ctx(s, &s->ctx, s->fingerprint, sizeof(s->fingerprint), err);
    if (rc < 0) {
        sk_tls_server_free(s);
        return rc;
    }
    s->factory.wrap = server_wrap;
    s->factory.ctx = s;
    s->factory.handshake_timeout_ms = o->handshake_timeout_ms;
    *out = s;
    return 0;
}

int sk_tls_server_reload(sk_tls_server_t *s, struct sk_err *err)
{
    if (s->self_signed)
        return sk_err_set(err, 0, "self-signed certificate: nothing to reload");
    SSL_CTX *ctx;
    char fp[sizeof(s->fingerprint)];
    int rc = build_ctx(s, &ctx, fp, sizeof(fp), err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->lock);
    /* Keep the ticket keys, so sessions issued before the reload still
     * resume after it. */
    unsigned char keys[80];
    if (SSL_CTX_get_tlsext_ticket_keys(s->ctx, keys, sizeof(keys)) == 1)
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys));
    OPENSSL_cleanse(keys, sizeof(keys));
    SSL_CTX *old = s->ctx;
    s->ctx = ctx;
    memcpy(s->fingerprint, fp, sizeof(fp));
    pthread_mutex_unlock(&s->lock);
    /* Connections made with the old context hold their own references. */
    SSL_CTX_free(old);
    ERR_clear_error();
    return 0;
}

const char *sk_tls_server_fingerprint(const sk_tls_server_t *s)
{
    return s->fingerprint;
}

const sk_transport_factory_t *sk_tls_server_factory(sk_tls_server_t *s)
{
    return &s->factory;
}
