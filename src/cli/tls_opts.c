/* tls_opts.c -- the TLS options the commands share, and the server-side
 * set-up behind them (context, fingerprint, SIGHUP reload). Builds without
 * OpenSSL too: then a TLS endpoint is refused with a plain message. */
#include "cli/cli.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#ifdef SK_HAVE_OPENSSL
#include "tls/tls.h"
#endif

#define TLS_SERVER_OPTS_HELP                                                                       \
    "TLS options (for tls:// endpoints):\n"                                                        \
    "      --cert FILE         certificate chain, PEM (leaf first)\n"                              \
    "      --key FILE          private key, PEM (RSA or ECDSA)\n"                                  \
    "      --self-signed       generate an in-memory ECDSA P-256 certificate for\n"                \
    "                          localhost, 127.0.0.1 and ::1 (its SHA-256 fingerprint\n"            \
    "                          is printed at start-up)\n"                                          \
    "      --alpn LIST         ALPN protocols offered, comma-separated\n"                          \
    "      --tls-timeout S     handshake deadline (default 10)\n"

const char sk_cli_tls_server_help[] =
    TLS_SERVER_OPTS_HELP "  SIGHUP re-reads --cert and --key; open connections keep the old pair,\n"
                         "  and a bad new file is reported and the old pair kept.\n";

/* `listen` serves one peer and keeps SIGHUP's usual meaning (it ends the
 * command, as a terminal hang-up should): no reload to promise. */
const char sk_cli_tls_listen_help[] = TLS_SERVER_OPTS_HELP;

const char sk_cli_tls_client_help[] =
    "TLS options (for tls:// endpoints):\n"
    "      --cacert FILE       trust the CAs in FILE instead of the system store\n"
    "  -k, --insecure          do not verify the certificate (a warning is printed)\n"
    "      --cert FILE         client certificate chain, PEM, for servers that ask\n"
    "      --key FILE          its private key, PEM (default: read from --cert)\n"
    "      --alpn LIST         ALPN protocols to offer, comma-separated\n"
    "      --tls-timeout S     handshake deadline (default 10)\n";

void sk_cli_tls_defaults(sk_cli_tls_t *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 10000;
}

bool sk_cli_tls_opt(const char *cmd, int c, const char *arg, sk_cli_tls_t *o)
{
    switch (c) {
    case SK_CLI_OPT_CERT:
        o->cert = arg;
        o->server_opts = true;
        return true;
    case SK_CLI_OPT_KEY:
        o->key = arg;
        o->server_opts = true;
        return true;
    case SK_CLI_OPT_SELF_SIGNED:
        o->self_signed = true;
        o->server_opts = true;
        return true;
    case SK_CLI_OPT_CACERT:
        o->cacert = arg;
        return true;
    case 'k':
        o->insecure = true;
        return true;
    case SK_CLI_OPT_ALPN:
        o->alpn = arg;
        return true;
    case SK_CLI_OPT_TLS_TIMEOUT:
        o->timeout_ms = sk_cli_seconds_ms(cmd, "--tls-timeout", arg);
        return true;
    default:
        return false;
    }
}

#ifdef SK_HAVE_OPENSSL
/* SIGHUP, in the main thread. */
static void on_reload(void *arg)
{
    sk_tls_server_t *s = arg;
    struct sk_err err = {0};
    if (sk_tls_server_reload(s, &err) < 0)
        sk_log_error("SIGHUP: certificate reload failed, still serving the old one: %s", err.msg);
    else if (err.msg[0] != '\0')
        sk_log(SK_LOG_INFO, "SIGHUP: %s", err.msg);
    else
        sk_log(SK_LOG_INFO, "SIGHUP: certificate reloaded (SHA-256 fingerprint %s)",
               sk_tls_server_fingerprint(s));
}
#endif

void *sk_cli_tls_serve(const char *cmd, const sk_cli_tls_t *o, const char *default_alpn,
                       bool any_tls, sk_server_config_t *cfg)
{
    if (!any_tls) {
        if (o->server_opts)
            sk_cli_usage_error(cmd, "--cert, --key and --self-signed need a tls:// endpoint");
        return NULL;
    }
    if (o->self_signed && (o->cert != NULL || o->key != NULL))
        sk_cli_usage_error(cmd, "--self-signed and --cert/--key exclude each other");
    if (!o->self_signed && (o->cert == NULL || o->key == NULL))
        sk_cli_usage_error(cmd, "tls:// endpoints need --cert FILE and --key FILE, or "
                                "--self-signed");
#ifdef SK_HAVE_OPENSSL
    sk_tls_server_opts_t so = {
        .cert_file = o->cert,
        .key_file = o->key,
        .self_signed = o->self_signed,
        .alpn = o->alpn != NULL ? o->alpn : default_alpn,
        .handshake_timeout_ms = o->timeout_ms,
        .verbose = cfg->verbose,
    };
    sk_tls_server_t *s = NULL;
    struct sk_err err = {0};
    int rc = sk_tls_server_new(&s, &so, &err);
    if (rc == SK_EUSAGE)
        sk_cli_usage_error(cmd, "%s", err.msg);
    if (rc < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    if (o->self_signed)
        fprintf(stderr,
                "self-signed certificate for localhost, 127.0.0.1, ::1; "
                "SHA-256 fingerprint %s\n",
                sk_tls_server_fingerprint(s));
    cfg->tls = sk_tls_server_factory(s);
    cfg->on_reload = on_reload;
    cfg->reload_arg = s;
    return s;
#else
    (void)default_alpn;
    (void)cfg;
    sk_cli_usage_error(cmd, "TLS is not built in (OpenSSL was missing at build time)");
#endif
}

void sk_cli_tls_serve_free(void *tls)
{
#ifdef SK_HAVE_OPENSSL
    sk_tls_server_free(tls);
#else
    (void)tls;
#endif
}
