/* tls_common.c -- the pieces both TLS sides share: the context policy,
 * ALPN lists, failures explained in plain words, certificate generation
 * and fingerprints, and the -v description of a connection. */
#include "tls/internal.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sk__tls_policy(SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Compression leaks secrets (CRIME) and renegotiation is an attack
     * surface nothing here needs; TLS 1.3 has neither anyway. A peer that
     * closes without close_notify is an ordinary end of stream for us:
     * HTTP framing and echo do not rely on it to detect truncation. */
    uint64_t op = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                  SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_ENABLE_KTLS
    /* Only takes effect where the kernel has the tls module and the cipher
     * suits it; otherwise OpenSSL quietly keeps encrypting in user space. */
    op |= SSL_OP_ENABLE_KTLS;
#endif
    SSL_CTX_set_options(ctx, op);
    /* The transport writes straight from a buffer refilled from the output
     * queue: a retry after WANT_WRITE passes the same bytes from a possibly
     * different address, and each SSL_write returns after one record. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read whole socket buffers instead of a 5-byte header and then the
     * record: half the read calls for pipelined requests. */
    SSL_CTX_set_read_ahead(ctx, 1);
}

int sk__tls_alpn_wire(const char *list, unsigned char **out, struct sk_err *err)
{
    size_t n = strlen(list);
    unsigned char *w = malloc(n + 1);
    if (w == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    size_t len = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (l == 0 || l > 255) {
            free(w);
            return sk_err_set(err, SK_EUSAGE,
                              "--alpn '%s': each protocol name must be 1 to 255 bytes "
                              "(comma-separated, e.g. h2,http/1.1)",
                              list);
        }
        w[len++] = (unsigned char)l;
        memcpy(w + len, p, l);
        len += l;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *out = w;
    return (int)len;
}

static int print_err_line(const char *str, size_t len, void *u)
{
    const char *what = u;
    /* OpenSSL ends each line with a newline. */
    if (len > 0 && str[len - 1] == '\n')
        len--;
    sk_log(SK_LOG_INFO, "%s: openssl: %.*s", what, (int)len, str);
    return 1;
}

void sk__tls_log_stack(int verbose, const char *what)
{
    if (verbose > 0 || sk_log_verbosity > 0)
        ERR_print_errors_cb(print_err_line, (void *)what);
    ERR_clear_error();
}

/* The DNS names and IP addresses a certificate is for, comma-separated. */
static void cert_names(X509 *x, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t used = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[64] = "";
        if (g->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
            snprintf(one, sizeof(one), "%.*s", ASN1_STRING_length(g->d.dNSName), s);
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *o = g->d.iPAddress;
            int len = ASN1_STRING_length(o);
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(o), one,
                          sizeof(one));
        }
        if (one[0] == '\0')
            continue;
        int w = snprintf(buf + used, cap - used, "%s%s", used > 0 ? ", " : "", one);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
    GENERAL_NAMES_free(names);
    if (used == 0) {
        /* No subjectAltName: name the common name instead. */
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)cap);
        if (buf[0] == '\0')
            snprintf(buf, cap, "no name");
    }
}

static void asn1_time_text(const ASN1_TIME *t, char *buf, size_t cap)
{
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return;
    if (ASN1_TIME_print(b, t) > 0) {
        int n = BIO_read(b, buf, (int)cap - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

int sk__tls_verify_cb(int preverify_ok, X509_STORE_CTX *ctx)
{
    if (preverify_ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    sk__tls_conn_t *c = ssl != NULL ? SSL_get_ex_data(ssl, sk__tls_conn_index()) : NULL;
    /* The leaf is the certificate the names and dates are about. */
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
    if (c != NULL && leaf != NULL && c->peer_names[0] == '\0') {
        cert_names(leaf, c->peer_names, sizeof(c->peer_names));
        asn1_time_text(X509_get0_notBefore(leaf), c->peer_not_before, sizeof(c->peer_not_before));
        asn1_time_text(X509_get0_notAfter(leaf), c->peer_not_after, sizeof(c->peer_not_after));
    }
    return 0;
}

/* The verification failure of the peer's certificate in plain words. */
static void explain_verify(sk__tls_conn_t *c, long v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(c->error, sizeof(c->error), "certificate has expired (valid until %s)",
                 c->peer_not_after[0] ? c->peer_not_after : "an earlier date");
        return;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(c->error, sizeof(c->error), "certificate is not valid yet (valid from %s)",
                 c->peer_not_before);
        return;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(c->error, sizeof(c->error), "certificate is for %.70s, not %.50s",
                 c->peer_names[0] ? c->peer_names : "other names", c->host);
        return;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        snprintf(c->error, sizeof(c->error),
                 "certificate signed by an unknown CA (%s; use --cacert FILE to trust its CA, "
                 "or -k to skip verification)",
                 X509_verify_cert_error_string(v));
        return;
    default:
        snprintf(c->error, sizeof(c->error), "certificate verification failed: %s",
                 X509_verify_cert_error_string(v));
    }
}

/* Why loading a PEM file failed, in plain words: the system error (no
 * such file, permission) or the PEM problem deep in the queue, rather than
 * the "PEM lib" wrapper OpenSSL puts on top. */
int sk__tls_load_error(struct sk_err *err, const char *what, const char *file, int verbose)
{
    const char *why = NULL, *fallback = NULL;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (verbose > 0 || sk_log_verbosity > 0) {
            char line[256];
            ERR_error_string_n(e, line, sizeof(line));
            sk_log(SK_LOG_INFO, "tls: openssl: %s", line);
        }
        if (fallback == NULL)
            fallback = ERR_reason_error_string(e);
        if (why != NULL)
            continue;
        if (ERR_GET_LIB(e) == ERR_LIB_SYS)
            why = strerror(ERR_GET_REASON(e));
        else if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
            why = "no PEM data in it (expected -----BEGIN ...-----)";
        else if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
                 ERR_GET_REASON(e) == X509_R_NO_CERTIFICATE_OR_CRL_FOUND)
            why = "no PEM certificates in it";
        else if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            why = "does not match the certificate";
        else if (ERR_GET_REASON(e) == SSL_R_EE_KEY_TOO_SMALL ||
                 ERR_GET_REASON(e) == SSL_R_CA_KEY_TOO_SMALL)
            why = "key too small for the security level";
    }
    return sk_err_set(err, SK_ETLS, "%s %s: %s", what, file,
                      why != NULL        ? why
                      : fallback != NULL ? fallback
                                         : "unreadable");
}

void sk__tls_explain(sk__tls_conn_t *c)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    const char *msg = NULL;
    switch (reason) {
    case 0:
        break;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
        explain_verify(c, SSL_get_verify_result(c->ssl));
        sk__tls_log_stack(c->verbose, c->server ? "tls server" : "tls client");
        return;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_SSL_VERSION:
        msg = "no shared TLS protocol version (sockkit needs TLS 1.2 or newer)";
        break;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
        msg = c->server ? "the client sent something that is not TLS"
                        : "the server answered in plain text (is it an http:// port?)";
        break;
    case SSL_R_NO_SHARED_CIPHER:
        msg = "no shared cipher suite";
        break;
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        /* The peer's verdict, not ours: after the handshake the only
         * handshake left to fail is a renegotiation, which sockkit
         * refuses. */
        msg = c->t.handshaking ? "the peer aborted the handshake (handshake_failure alert: "
                                 "most often no cipher suite or signature algorithm in common)"
                               : "the peer gave up after its renegotiation was refused "
                                 "(sockkit does not renegotiate)";
        break;
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
        msg = "no shared ALPN protocol (--alpn)";
        break;
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        msg = "the peer refused our certificate: it has expired";
        break;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        msg = "the peer refused our certificate: signed by a CA it does not know";
        break;
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        msg = "the peer refused our certificate (its name or signature does not suit it)";
        break;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        msg = "the peer closed the connection during the TLS handshake";
        break;
    default:
        break;
    }
    if (msg != NULL)
        snprintf(c->error, sizeof(c->error), "%s", msg);
    else if (e != 0)
        snprintf(c->error, sizeof(c->error), "TLS failure: %s",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown");
    else
        snprintf(c->error, sizeof(c->error), "TLS failure");
    sk__tls_log_stack(c->verbose, c->server ? "tls server" : "tls client");
}

void sk__tls_fingerprint(X509 *x, char *buf, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    buf[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &len) != 1)
        return;
    size_t used = 0;
    for (unsigned i = 0; i < len && used + 3 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i > 0 ? ":%02X" : "%02X", md[i]);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

X509 *sk__tls_make_cert(EVP_PKEY *key, const char *cn, const char *san, long not_before_s,
                        long not_after_s, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial number */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto fail;
    X509_set_version(x, X509_VERSION_3);
    X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1)
        goto fail;
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
    if (X509_set_pubkey(x, key) != 1)
        goto fail;
    X509 *signer = issuer != NULL ? issuer : x;
    if (add_ext(x, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE") < 0 ||
        add_ext(x, signer, NID_key_usage,
                ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") < 0 ||
        add_ext(x, signer, NID_subject_key_identifier, "hash") < 0)
        goto fail;
    if (!ca && add_ext(x, signer, NID_ext_key_usage, "serverAuth,clientAuth") < 0)
        goto fail;
    if (san != NULL && add_ext(x, signer, NID_subject_alt_name, san) < 0)
        goto fail;
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* ---- queries on a connection ------------------------------------------ */

bool sk_tls_is_tls(const sk_transport_t *t)
{
    return t != NULL && t->ops == &sk__tls_ops;
}

const char *sk_tls_alpn(const sk_transport_t *t)
{
    static __thread char proto[256];
    if (!sk_tls_is_tls(t))
        return NULL;
    const sk__tls_conn_t *c = (const sk__tls_conn_t *)t;
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    if (p == NULL || len == 0)
        return NULL;
    memcpy(proto, p, len);
    proto[len] = '\0';
    return proto;
}

const char *sk_tls_error(const sk_transport_t *t)
{
    if (!sk_tls_is_tls(t))
        return NULL;
    const sk__tls_conn_t *c = (const sk__tls_conn_t *)t;
    return c->error[0] ? c->error : NULL;
}

const char *sk_tls_describe(const sk_transport_t *t, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (!sk_tls_is_tls(t))
        return buf;
    const sk__tls_conn_t *c = (const sk__tls_conn_t *)t;
    const char *alpn = sk_tls_alpn(t);
    char subject[256] = "none", issuer[256] = "none", expires[64] = "-", verify[200];
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    if (peer != NULL) {
        X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
        X509_NAME_oneline(X509_get_issuer_name(peer), issuer, sizeof(issuer));
        asn1_time_text(X509_get0_notAfter(peer), expires, sizeof(expires));
    }
    long v = SSL_get_verify_result(c->ssl);
    bool enforced = SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER;
    if (peer == NULL)
        snprintf(verify, sizeof(verify), "no certificate presented");
    else if (v == X509_V_OK)
        snprintf(verify, sizeof(verify), "ok%s", c->server ? "" : " (chain and name checked)");
    else
        snprintf(verify, sizeof(verify), "FAILED: %s%s", X509_verify_cert_error_string(v),
                 enforced ? "" : " (not enforced: -k)");
    int n = snprintf(buf, cap, "TLS version: %s\ncipher: %s\nALPN: %s\n", SSL_get_version(c->ssl),
                     SSL_get_cipher_name(c->ssl), alpn ? alpn : "none");
    if (n < 0 || (size_t)n >= cap)
        return buf;
    if (peer == NULL && c->server)
        n += snprintf(buf + n, cap - (size_t)n, "client certificate: none\n");
    else
        n += snprintf(buf + n, cap - (size_t)n,
                      "certificate subject: %s\n"
                      "certificate issuer: %s\n"
                      "certificate expires: %s\n"
                      "verification: %s\n",
                      subject, issuer, expires, verify);
    if (n < 0 || (size_t)n >= cap)
        return buf;
    snprintf(buf + n, cap - (size_t)n, "session resumed: %s\nsend path: %s",
             SSL_session_reused(c->ssl) ? "yes" : "no",
             c->ktls_send ? "kernel TLS (SSL_sendfile for files)" : "buffered (no kernel TLS)");
    return buf;
}
