/* tls_client.c -- the TLS steps the client commands (connect, listen, msg)
 * share: the client context built before connecting (a bad --cacert fails
 * first), wrapping a connected socket, and the handshake with its -v
 * report. Builds without OpenSSL too: a tls:// endpoint is then refused. */
#include "cli/cli.h"
#include "core/log.h"

#include <string.h>

#include "config.h"
#ifdef SK_HAVE_OPENSSL
#include "tls/tls.h"
#endif

void *sk_cli_tls_client_new(const char *cmd, const sk_cli_tls_t *o)
{
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_opts_t to = {.cacert = o->cacert,
                               .insecure = o->insecure,
                               .alpn = o->alpn,
                               .cert_file = o->cert,
                               .key_file = o->key,
                               .verbose = sk_log_verbosity};
    sk_tls_client_t *tc = NULL;
    struct sk_err err = {0};
    int rc = sk_tls_client_new(&tc, &to, &err);
    if (rc == SK_EUSAGE)
        sk_cli_usage_error(cmd, "%s", err.msg);
    if (rc < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    return tc;
#else
    (void)o;
    sk_cli_usage_error(cmd, "TLS is not built in (OpenSSL was missing at build time)");
#endif
}

void sk_cli_tls_client_free(void *ctx)
{
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_free(ctx);
#else
    (void)ctx;
#endif
}

void sk_cli_tls_handshake(const char *cmd, const char *what, sk_transport_t *t, unsigned timeout_ms)
{
#ifdef SK_HAVE_OPENSSL
    struct sk_err err = {0};
    if (sk_tls_handshake(t, timeout_ms, &err) < 0)
        sk_cli_fail(cmd, "%s: %s", what, err.msg);
    if (sk_log_verbosity > 0) {
        char desc[1024];
        sk_tls_describe(t, desc, sizeof(desc));
        for (char *line = strtok(desc, "\n"); line != NULL; line = strtok(NULL, "\n"))
            sk_log_info("%s", line);
    }
#else
    (void)t;
    (void)timeout_ms;
    sk_cli_fail(cmd, "%s: TLS is not built in", what);
#endif
}

sk_transport_t *sk_cli_tls_client_start(const char *cmd, void *ctx, int fd, const char *host,
                                        const char *what, unsigned timeout_ms)
{
#ifdef SK_HAVE_OPENSSL
    sk_transport_t *t = NULL;
    if (sk_tls_client_wrap(ctx, fd, host, &t) < 0)
        sk_cli_fail(cmd, "%s: cannot set up TLS for host '%s'", what, host);
    sk_cli_tls_handshake(cmd, what, t, timeout_ms);
    return t;
#else
    (void)ctx;
    (void)fd;
    (void)host;
    (void)timeout_ms;
    sk_cli_fail(cmd, "%s: TLS is not built in", what);
#endif
}
