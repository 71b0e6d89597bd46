/* test_tls.c -- unit tests for src/tls: handshakes over socketpairs in one
 * thread (both ends non-blocking, driven in turn), data both ways, ALPN,
 * resumption, verification failures in plain words, plain HTTP and garbage
 * on a TLS port, handshake deadlines, half-close, and reload keeping the old
 * certificate when the new file is bad. Certificates come from a test CA
 * made with the same code as --self-signed, written to a temporary dir. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

#ifdef SK_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/loop.h"
#include "core/outq.h"
#include "tls/internal.h"
#include "tls/tls.h"

static char dir[64];
static char ca_pem[128], leaf_pem[128], leaf_key[128], expired_pem[128], other_pem[128],
    other_key[128], chain_pem[128];

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x != NULL)
        assert_int_equal(PEM_write_X509(f, x), 1);
    if (k != NULL)
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* A CA, a leaf for localhost/127.0.0.1 signed by it, an expired leaf and a
 * leaf for another key (for reload). */
static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sk-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *lk = EVP_EC_gen("P-256"), *ok = EVP_EC_gen("P-256");
    X509 *ca = sk__tls_make_cert(cak, "sockkit test CA", NULL, -3600, 86400, NULL, NULL, true);
    X509 *leaf = sk__tls_make_cert(lk, "localhost", "DNS:localhost,IP:127.0.0.1", -3600, 86400, ca,
                                   cak, false);
    X509 *exp = sk__tls_make_cert(lk, "localhost", "DNS:localhost,IP:127.0.0.1", -86400 * 3,
                                  -86400 * 2, ca, cak, false);
    X509 *other = sk__tls_make_cert(ok, "localhost", "DNS:localhost", -3600, 86400, ca, cak, false);
    if (ca == NULL || leaf == NULL || exp == NULL || other == NULL)
        return -1;
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
    snprintf(leaf_pem, sizeof(leaf_pem), "%s/leaf.pem", dir);
    snprintf(chain_pem, sizeof(chain_pem), "%s/chain.pem", dir);
    snprintf(leaf_key, sizeof(leaf_key), "%s/leaf.key", dir);
    snprintf(expired_pem, sizeof(expired_pem), "%s/expired.pem", dir);
    snprintf(other_pem, sizeof(other_pem), "%s/other.pem", dir);
    snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
    write_pem(ca_pem, ca, NULL);
    write_pem(leaf_pem, leaf, NULL);
    write_pem(leaf_key, NULL, lk);
    write_pem(expired_pem, exp, NULL);
    write_pem(other_pem, other, NULL);
    write_pem(other_key, NULL, ok);
    /* A chain file: leaf then CA. */
    FILE *f = fopen(chain_pem, "w");
    PEM_write_X509(f, leaf);
    PEM_write_X509(f, ca);
    fclose(f);
    X509_free(ca);
    X509_free(leaf);
    X509_free(exp);
    X509_free(other);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ok);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static sk_tls_server_t *server_files(const char *cert, const char *key, const char *alpn)
{
    sk_tls_server_opts_t o = {.cert_file = cert, .key_file = key, .alpn = alpn};
    sk_tls_server_t *s = NULL;
    struct sk_err err = {0};
    int rc = sk_tls_server_new(&s, &o, &err);
    if (rc < 0)
        print_error("server: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return s;
}

static sk_tls_client_t *client(const char *cacert, bool insecure, const char *alpn)
{
    sk_tls_client_opts_t o = {.cacert = cacert, .insecure = insecure, .alpn = alpn};
    sk_tls_client_t *c = NULL;
    struct sk_err err = {0};
    assert_int_equal(sk_tls_client_new(&c, &o, &err), 0);
    return c;
}

static sk_transport_t *accept_on(sk_tls_server_t *s, int fd)
{
    const sk_transport_factory_t *f = sk_tls_server_factory(s);
    sk_transport_t *t = NULL;
    assert_int_equal(f->wrap(f->ctx, fd, &t), 0);
    assert_true(t->handshaking);
    return t;
}

/* Drives both handshakes until each is done or has failed. The client is
 * driven through write with an empty queue, the server through read, as
 * the connection driver does. Returns 0 or the first error. */
static int handshake_both(sk_transport_t *c, sk_transport_t *s, int *crc, int *src)
{
    sk_outq_t q;
    sk_outq_init(&q);
    char buf[64];
    *crc = *src = -EAGAIN;
    /* Until both sides are done or failed: the side that did not fail
     * first learns of it from the other's alert or close. */
    for (int i = 0; i < 200 && (*crc == -EAGAIN || *src == -EAGAIN); i++) {
        if (*crc == -EAGAIN) {
            ssize_t r = c->ops->write(c, &q);
            *crc = !c->handshaking ? 0 : r < 0 ? (int)r : -EAGAIN;
        }
        if (*src == -EAGAIN) {
            ssize_t r = s->ops->read(s, buf, sizeof(buf));
            *src = !s->handshaking ? 0 : r < 0 ? (int)r : r == 0 ? -ECONNRESET : -EAGAIN;
        }
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = s->fd, .events = POLLIN}};
        if (*crc == -EAGAIN || *src == -EAGAIN)
            poll(p, 2, 20);
    }
    return *crc != 0 ? *crc : *src;
}

/* Sends all of data from one transport and reads it all at the other. */
static void transfer(sk_transport_t *from, sk_transport_t *to, const char *data, size_t n,
                     char *out)
{
    sk_outq_t q;
    sk_outq_init(&q);
    assert_int_equal(sk_outq_append(&q, data, n), 0);
    size_t got = 0;
    for (int i = 0; i < 100000 && got < n; i++) {
        if (!sk_outq_empty(&q)) {
            ssize_t w = from->ops->write(from, &q);
            assert_true(w > 0 || w == -EAGAIN);
        }
        ssize_t r;
        do {
            r = to->ops->read(to, out + got, n - got);
            if (r > 0)
                got += (size_t)r;
        } while (r > 0 && got < n);
        assert_true(r > 0 || r == -EAGAIN || got == n);
        if (r == -EAGAIN && sk_outq_empty(&q)) {
            struct pollfd p = {.fd = to->fd, .events = POLLIN};
            poll(&p, 1, 100);
        }
    }
    assert_int_equal(got, n);
    assert_memory_equal(out, data, n);
    sk_outq_clear(&q);
}

static void close_pair(sk_transport_t *a, sk_transport_t *b, int sv[2])
{
    if (a != NULL)
        a->ops->free(a);
    if (b != NULL)
        b->ops->free(b);
    close(sv[0]);
    close(sv[1]);
}

static void test_handshake_data_alpn(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(chain_pem, leaf_key, "http/1.1");
    sk_tls_client_t *cli = client(ca_pem, false, "h2,http/1.1");
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    assert_true(sk_tls_is_tls(c) && sk_tls_is_tls(s));
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);
    assert_string_equal(sk_tls_alpn(c), "http/1.1");
    assert_string_equal(sk_tls_alpn(s), "http/1.1");
    char desc[1024];
    sk_tls_describe(c, desc, sizeof(desc));
    assert_non_null(strstr(desc, "TLS version: TLSv1.3"));
    assert_non_null(strstr(desc, "ALPN: http/1.1"));
    assert_non_null(strstr(desc, "CN = localhost") != NULL ? desc : strstr(desc, "CN=localhost"));
    assert_non_null(strstr(desc, "verification: ok"));
    assert_non_null(strstr(desc, "session resumed: no"));
    assert_non_null(strstr(desc, "send path: buffered"));

    /* 1 MiB each way, then the client half-closes: the server reads the
     * end of stream and can still answer. */
    size_t n = 1 << 20;
    char *data = malloc(n), *out = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 4096);
    transfer(c, s, data, n, out);
    transfer(s, c, data, n, out);
    int rc;
    for (int i = 0; i < 100 && (rc = c->ops->shutdown(c)) == -EAGAIN; i++)
        poll(NULL, 0, 5);
    assert_int_equal(rc, 0);
    ssize_t r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) {
        r = s->ops->read(s, out, 64);
        if (r == -EAGAIN)
            poll(NULL, 0, 5);
    }
    assert_int_equal(r, 0);
    transfer(s, c, "after half-close", 16, out);
    free(data);
    free(out);
    close_pair(c, s, sv);
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

/* File ranges in the queue are read and encrypted (no kTLS here). */
static void test_file_range(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "127.0.0.1", &c), 0);
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);
    assert_null(sk_tls_alpn(c));
    char path[128];
    snprintf(path, sizeof(path), "%s/body.bin", dir);
    size_t n = 300000;
    char *data = malloc(n), *out = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    FILE *f = fopen(path, "w");
    fwrite(data, 1, n, f);
    fclose(f);
    int fd = open(path, O_RDONLY);
    sk_outq_t q;
    sk_outq_init(&q);
    sk_outq_append(&q, "head", 4);
    sk_outq_append_file(&q, fd, 0, n, true);
    size_t got = 0;
    for (int i = 0; i < 100000 && got < n + 4; i++) {
        if (!sk_outq_empty(&q))
            s->ops->write(s, &q);
        ssize_t r = c->ops->read(c, got < 4 ? out : out + got - 4, got < 4 ? 4 - got : n + 4 - got);
        if (r > 0)
            got += (size_t)r;
        else
            assert_int_equal(r, -EAGAIN);
    }
    assert_int_equal(got, n + 4);
    assert_memory_equal(out, data, n);
    sk_outq_clear(&q);
    free(data);
    free(out);
    close_pair(c, s, sv);
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

static void test_resumption(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    for (int round = 0; round < 2; round++) {
        int sv[2];
        pair(sv);
        sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
        assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
        int crc, src;
        assert_int_equal(handshake_both(c, s, &crc, &src), 0);
        /* TLS 1.3 tickets arrive after the handshake: reading data takes
         * them in. */
        char out[8];
        transfer(s, c, "ticket", 6, out);
        char desc[1024];
        sk_tls_describe(c, desc, sizeof(desc));
        assert_non_null(strstr(desc, round == 0 ? "session resumed: no" : "session resumed: yes"));
        close_pair(c, s, sv);
    }
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

/* The client's handshake against srv fails with a message containing
 * want (and the server's handshake fails too). */
static void expect_client_error(sk_tls_server_t *srv, sk_tls_client_t *cli, const char *host,
                                const char *want)
{
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], host, &c), 0);
    int crc, src;
    assert_int_not_equal(handshake_both(c, s, &crc, &src), 0);
    assert_int_not_equal(crc, 0);
    const char *e = sk_tls_error(c);
    assert_non_null(e);
    if (strstr(e, want) == NULL)
        print_error("error '%s' does not contain '%s'\n", e, want);
    assert_non_null(strstr(e, want));
    close_pair(c, s, sv);
}

static void test_verification_failures(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    sk_tls_server_t *expired = server_files(expired_pem, leaf_key, NULL);
    sk_tls_client_t *trusting = client(ca_pem, false, NULL);
    sk_tls_client_t *system_store = client(NULL, false, NULL);
    expect_client_error(srv, system_store, "localhost", "certificate signed by an unknown CA");
    expect_client_error(srv, trusting, "other.example",
                        "certificate is for localhost, 127.0.0.1, not other.example");
    expect_client_error(srv, trusting, "10.1.2.3", "not 10.1.2.3");
    expect_client_error(expired, trusting, "localhost", "certificate has expired");

    /* -k: the handshake completes, and describe says what is wrong. */
    sk_tls_client_t *insecure = client(NULL, true, NULL);
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(expired, sv[1]);
    assert_int_equal(sk_tls_client_wrap(insecure, sv[0], "localhost", &c), 0);
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);
    char desc[1024];
    sk_tls_describe(c, desc, sizeof(desc));
    assert_non_null(strstr(desc, "verification: FAILED"));
    assert_non_null(strstr(desc, "not enforced: -k"));
    close_pair(c, s, sv);
    sk_tls_client_free(insecure);
    sk_tls_client_free(trusting);
    sk_tls_client_free(system_store);
    sk_tls_server_free(expired);
    sk_tls_server_free(srv);
}

/* A peer limited to TLS 1.1 gets no shared version, on either side. */
static void test_protocol_version(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    SSL_CTX *old = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(old, 0);
    SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    int sv[2];
    pair(sv);
    sk_transport_t *s = accept_on(srv, sv[1]);
    SSL *ssl = SSL_new(old);
    SSL_set_fd(ssl, sv[0]);
    SSL_set_connect_state(ssl);
    int src = -EAGAIN;
    char buf[16];
    for (int i = 0; i < 50 && src == -EAGAIN; i++) {
        SSL_do_handshake(ssl);
        ERR_clear_error();
        src = (int)s->ops->read(s, buf, sizeof(buf));
        poll(NULL, 0, 2);
    }
    assert_int_equal(src, SK_ETLS);
    assert_non_null(strstr(sk_tls_error(s), "no shared TLS protocol version"));
    SSL_free(ssl);
    SSL_CTX_free(old);
    close_pair(NULL, s, sv);
    sk_tls_server_free(srv);

    /* Our client against a server that stops at TLS 1.1. */
    SSL_CTX *osrv = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(osrv, 0);
    SSL_CTX_set_cipher_list(osrv, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(osrv, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(osrv, TLS1_1_VERSION);
    assert_int_equal(SSL_CTX_use_certificate_file(osrv, leaf_pem, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(osrv, leaf_key, SSL_FILETYPE_PEM), 1);
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    pair(sv);
    sk_transport_t *c = NULL;
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    ssl = SSL_new(osrv);
    SSL_set_fd(ssl, sv[1]);
    SSL_set_accept_state(ssl);
    sk_outq_t q;
    sk_outq_init(&q);
    int crc = -EAGAIN;
    for (int i = 0; i < 50 && crc == -EAGAIN; i++) {
        crc = (int)c->ops->write(c, &q);
        SSL_do_handshake(ssl);
        ERR_clear_error();
        poll(NULL, 0, 2);
    }
    assert_int_equal(crc, SK_ETLS);
    assert_non_null(strstr(sk_tls_error(c), "no shared TLS protocol version"));
    SSL_free(ssl);
    SSL_CTX_free(osrv);
    close_pair(c, NULL, sv);
    sk_tls_client_free(cli);
}

static void test_plain_http_and_garbage(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    int sv[2];
    pair(sv);
    sk_transport_t *s = accept_on(srv, sv[1]);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(sv[0], req, sizeof(req) - 1), sizeof(req) - 1);
    char buf[512];
    /* The server answers, then waits for the client to close. */
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN);
    assert_true(s->handshaking);
    assert_int_equal(s->want, SK_EV_READ);
    ssize_t n = read(sv[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    assert_non_null(strstr(buf, "https://"));
    assert_int_equal(read(sv[0], buf, sizeof(buf)), 0); /* the server half-closed */
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), 0);
    assert_non_null(strstr(sk_tls_error(s), "plain HTTP"));
    assert_int_equal(s->ops->shutdown(s), 0);
    close_pair(NULL, s, sv);

    pair(sv);
    s = accept_on(srv, sv[1]);
    assert_int_equal(write(sv[0], "\x01\x02garbage", 9), 9);
    /* No reply, a clean end of stream, and the rest is read and dropped
     * until the client closes. */
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN);
    assert_non_null(strstr(sk_tls_error(s), "not TLS"));
    assert_int_equal(read(sv[0], buf, sizeof(buf)), 0);
    assert_int_equal(write(sv[0], "more", 4), 4);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN);
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), 0);
    close_pair(NULL, s, sv);

    /* A client that closes before saying anything: a clean end. */
    pair(sv);
    s = accept_on(srv, sv[1]);
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), 0);
    close_pair(NULL, s, sv);
    sk_tls_server_free(srv);
}

/* Client side: a silent peer hits the deadline; a plain-text answer is
 * named as such. */
static void test_client_timeout_and_plain_answer(void **state)
{
    (void)state;
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL;
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    struct sk_err err = {0};
    assert_int_equal(sk_tls_handshake(c, 200, &err), -ETIMEDOUT);
    assert_string_equal(err.msg, "TLS handshake with localhost timed out after 0.2 s");
    close_pair(c, NULL, sv);

    pair(sv);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(write(sv[1], reply, sizeof(reply) - 1), sizeof(reply) - 1);
    assert_int_equal(sk_tls_handshake(c, 2000, &err), SK_ETLS);
    assert_non_null(strstr(err.msg, "the server answered in plain text"));
    close_pair(c, NULL, sv);

    /* A peer that closes mid-handshake. */
    pair(sv);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    close(sv[1]);
    sv[1] = open("/dev/null", O_RDONLY);
    assert_true(sk_tls_handshake(c, 2000, &err) < 0);
    assert_non_null(strstr(err.msg, "during the TLS handshake"));
    close_pair(c, NULL, sv);
    sk_tls_client_free(cli);
}

static void fingerprint_of_peer(sk_transport_t *c, char *fp, size_t cap)
{
    X509 *x = SSL_get0_peer_certificate(((sk__tls_conn_t *)c)->ssl);
    assert_non_null(x);
    sk__tls_fingerprint(x, fp, cap);
}

static void connect_and_fingerprint(sk_tls_server_t *srv, sk_tls_client_t *cli, char *fp)
{
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);
    fingerprint_of_peer(c, fp, 100);
    close_pair(c, s, sv);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void test_reload(void **state)
{
    (void)state;
    char cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s/live.pem", dir);
    snprintf(key, sizeof(key), "%s/live.key", dir);
    copy_file(leaf_pem, cert);
    copy_file(leaf_key, key);
    sk_tls_server_t *srv = server_files(cert, key, NULL);
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    char fp0[100], fp[100];
    snprintf(fp0, sizeof(fp0), "%s", sk_tls_server_fingerprint(srv));
    assert_int_equal(strlen(fp0), 95);
    connect_and_fingerprint(srv, cli, fp);
    assert_string_equal(fp, fp0);

    /* An open connection survives reloads. */
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);

    /* A broken certificate file: the old pair stays. */
    FILE *f = fopen(cert, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    struct sk_err err = {0};
    assert_true(sk_tls_server_reload(srv, &err) < 0);
    assert_non_null(strstr(err.msg, cert));
    assert_non_null(strstr(err.msg, "no PEM data"));
    assert_string_equal(sk_tls_server_fingerprint(srv), fp0);
    connect_and_fingerprint(srv, cli, fp);
    assert_string_equal(fp, fp0);

    /* A key that does not match. */
    copy_file(leaf_pem, cert);
    copy_file(other_key, key);
    assert_true(sk_tls_server_reload(srv, &err) < 0);
    assert_non_null(strstr(err.msg, "does not match"));

    /* A good new pair is what new connections get. */
    copy_file(other_pem, cert);
    assert_int_equal(sk_tls_server_reload(srv, &err), 0);
    assert_string_not_equal(sk_tls_server_fingerprint(srv), fp0);
    connect_and_fingerprint(srv, cli, fp);
    assert_string_equal(fp, sk_tls_server_fingerprint(srv));

    char out[8];
    transfer(c, s, "still", 5, out);
    transfer(s, c, "alive", 5, out);
    close_pair(c, s, sv);
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

static void test_self_signed_and_bad_options(void **state)
{
    (void)state;
    sk_tls_server_opts_t o = {.self_signed = true};
    sk_tls_server_t *srv = NULL;
    struct sk_err err = {0};
    assert_int_equal(sk_tls_server_new(&srv, &o, &err), 0);
    const char *fp = sk_tls_server_fingerprint(srv);
    assert_int_equal(strlen(fp), 95);
    assert_int_equal(fp[2], ':');
    sk_tls_client_t *cli = client(NULL, true, NULL);
    char got[100];
    connect_and_fingerprint(srv, cli, got);
    assert_string_equal(got, fp);
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);

    sk_tls_server_opts_t missing = {.cert_file = "/nonexistent/cert.pem", .key_file = leaf_key};
    assert_true(sk_tls_server_new(&srv, &missing, &err) < 0);
    assert_non_null(strstr(err.msg, "/nonexistent/cert.pem"));
    assert_non_null(strstr(err.msg, "No such file"));
    sk_tls_server_opts_t none = {0};
    assert_int_equal(sk_tls_server_new(&srv, &none, &err), SK_EUSAGE);
    sk_tls_server_opts_t bad_alpn = {.self_signed = true, .alpn = "h2,,http/1.1"};
    assert_int_equal(sk_tls_server_new(&srv, &bad_alpn, &err), SK_EUSAGE);
    sk_tls_client_opts_t bad_ca = {.cacert = "/nonexistent/ca.pem"};
    sk_tls_client_t *c = NULL;
    assert_true(sk_tls_client_new(&c, &bad_ca, &err) < 0);
    assert_non_null(strstr(err.msg, "--cacert /nonexistent/ca.pem"));
    /* The system's reason, not a guess about the contents. */
    assert_non_null(strstr(err.msg, "No such file"));
    sk_tls_client_opts_t key_as_ca = {.cacert = leaf_key};
    assert_true(sk_tls_client_new(&c, &key_as_ca, &err) < 0);
    assert_non_null(strstr(err.msg, "no PEM certificates in it"));
    sk_tls_client_opts_t no_cert = {.cacert = ca_pem, .cert_file = "/nonexistent/client.pem"};
    assert_true(sk_tls_client_new(&c, &no_cert, &err) < 0);
    assert_non_null(strstr(err.msg, "client certificate /nonexistent/client.pem: No such file"));
    sk_tls_client_opts_t no_key = {.cacert = ca_pem, .cert_file = leaf_pem, .key_file = ca_pem};
    assert_true(sk_tls_client_new(&c, &no_key, &err) < 0);
    assert_non_null(strstr(err.msg, "client key"));
}

/* Plaintext buffered inside OpenSSL is reported by pending, so a reader
 * with a small buffer gets all of it without the socket firing again. */
static void test_pending(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    sk_tls_client_t *cli = client(ca_pem, false, NULL);
    int sv[2];
    pair(sv);
    sk_transport_t *c = NULL, *s = accept_on(srv, sv[1]);
    assert_int_equal(sk_tls_client_wrap(cli, sv[0], "localhost", &c), 0);
    int crc, src;
    assert_int_equal(handshake_both(c, s, &crc, &src), 0);
    /* Three records in the socket at once. */
    sk_outq_t q;
    sk_outq_init(&q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sk_outq_append(&q, "0123456789", 10), 0);
        assert_int_equal(c->ops->write(c, &q), 10);
    }
    char buf[4];
    size_t got = 0;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 1000), 1);
    ssize_t r = s->ops->read(s, buf, sizeof(buf));
    assert_int_equal(r, 4);
    got += 4;
    /* The kernel has nothing left (read-ahead took it all), yet data is
     * pending. */
    while (s->ops->pending(s)) {
        r = s->ops->read(s, buf, sizeof(buf));
        assert_true(r > 0 || r == -EAGAIN);
        if (r > 0)
            got += (size_t)r;
    }
    assert_int_equal(got, 30);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN);
    assert_false(s->ops->pending(s));
    sk_outq_clear(&q);
    close_pair(c, s, sv);
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

/* The thread-per-connection engine uses blocking sockets with
 * SO_RCVTIMEO: a handshake that stalls returns -EAGAIN at the timeout
 * instead of blocking for ever. */
static void test_blocking_socket_timeout(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    sk_transport_t *s = accept_on(srv, sv[1]);
    char buf[64];
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN); /* nothing yet */
    /* Half a ClientHello: OpenSSL waits for the rest, and times out. */
    assert_int_equal(write(sv[0], "\x16\x03\x01\x01\x00\x01", 6), 6);
    assert_int_equal(s->ops->read(s, buf, sizeof(buf)), -EAGAIN);
    assert_true(s->handshaking);
    assert_true(s->want & SK_EV_READ);
    close_pair(NULL, s, sv);
    sk_tls_server_free(srv);
}

/* An ALPN list the server does not share is refused (RFC 7301). */
static void test_alpn_mismatch(void **state)
{
    (void)state;
    sk_tls_server_t *srv = server_files(leaf_pem, leaf_key, "http/1.1");
    sk_tls_client_t *cli = client(ca_pem, false, "sockkit-test");
    expect_client_error(srv, cli, "localhost", "no shared ALPN protocol");
    sk_tls_client_free(cli);
    sk_tls_server_free(srv);
}

int main(void)
{
    /* OpenSSL writes to sockets with write(2); a peer closed early must
     * not kill the test (the server and the CLI ignore SIGPIPE too). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_data_alpn),
        cmocka_unit_test(test_file_range),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_verification_failures),
        cmocka_unit_test(test_protocol_version),
        cmocka_unit_test(test_plain_http_and_garbage),
        cmocka_unit_test(test_client_timeout_and_plain_answer),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_self_signed_and_bad_options),
        cmocka_unit_test(test_alpn_mismatch),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_blocking_socket_timeout),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else

static void test_not_built(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_not_built)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
