/* cli.h -- what the per-command files of src/cli share: exit codes, usage
 * errors, and the option parsing every server and client repeats. Only
 * src/cli may exit(). */
#ifndef SK_CLI_CLI_H
#define SK_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "core/endpoint.h"
#include "core/server.h"

enum { SK_EXIT_OK = 0, SK_EXIT_FAIL = 1, SK_EXIT_USAGE = 2 };

/* Prints "sockkit CMD: message" and a hint to use --help, then exits 2. */
void sk_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Prints "sockkit CMD: message" and exits 1. */
void sk_cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Prints the version line and exits 0. */
void sk_cli_version(void) __attribute__((noreturn));

/* Parses an endpoint or exits 2 naming the bad part. */
void sk_cli_endpoint(const char *cmd, const char *text, sk_endpoint_t *ep);

/* Parses a non-negative integer in [min, max] or exits 2. */
long sk_cli_long(const char *cmd, const char *opt, const char *text, long min, long max);

/* Parses a byte count with an optional K, M or G suffix (powers of 1024)
 * in [min, max] or exits 2. */
unsigned long long sk_cli_size(const char *cmd, const char *opt, const char *text,
                               unsigned long long min, unsigned long long max);

/* Parses seconds (may be fractional) into milliseconds or exits 2. */
unsigned sk_cli_seconds_ms(const char *cmd, const char *opt, const char *text);

/* Parses an octal file mode (e.g. 0600) or exits 2. */
unsigned sk_cli_mode(const char *cmd, const char *text);

/* Server options shared by every `serve` subcommand. SK_CLI_SERVER_OPTS
 * expands to their struct option entries; sk_cli_server_opt() handles one
 * (returns false if c is not one of them). */
#define SK_CLI_OPT_BACKEND 1000
#define SK_CLI_OPT_WORKERS 1001
#define SK_CLI_OPT_MAXCONNS 1002
#define SK_CLI_OPT_DRAIN 1003
#define SK_CLI_OPT_MODE 1004
#define SK_CLI_SERVER_OPTS                                                                         \
    {"backend", required_argument, NULL, SK_CLI_OPT_BACKEND},                                      \
        {"workers", required_argument, NULL, SK_CLI_OPT_WORKERS},                                  \
        {"max-conns", required_argument, NULL, SK_CLI_OPT_MAXCONNS},                               \
        {"drain-timeout", required_argument, NULL, SK_CLI_OPT_DRAIN},                              \
        {"mode", required_argument, NULL, SK_CLI_OPT_MODE},                                        \
        {"sockopt", required_argument, NULL, 'o'}, {"verbose", no_argument, NULL, 'v'},            \
        {"help", no_argument, NULL, 'h'},                                                          \
    {                                                                                              \
        "version", no_argument, NULL, 'V'                                                          \
    }

bool sk_cli_server_opt(const char *cmd, int c, const char *arg, sk_server_config_t *cfg);

/* The help text for the shared server options. */
extern const char sk_cli_server_opts_help[];

/* TLS options every TLS-capable command shares (design: --cert, --key,
 * --self-signed, --cacert, -k/--insecure, --alpn LIST, --tls-timeout S).
 * Servers take SK_CLI_TLS_SERVER_OPTS, clients SK_CLI_TLS_CLIENT_OPTS;
 * sk_cli_tls_opt() handles one (returns false if c is not one of them). */
typedef struct sk_cli_tls {
    const char *cert, *key, *cacert, *alpn;
    bool self_signed, insecure;
    bool server_opts; /* --cert/--key/--self-signed given */
    unsigned timeout_ms;
} sk_cli_tls_t;

#define SK_CLI_OPT_CERT 1010
#define SK_CLI_OPT_KEY 1011
#define SK_CLI_OPT_SELF_SIGNED 1012
#define SK_CLI_OPT_CACERT 1013
#define SK_CLI_OPT_ALPN 1014
#define SK_CLI_OPT_TLS_TIMEOUT 1015
#define SK_CLI_TLS_SERVER_OPTS                                                                     \
    {"cert", required_argument, NULL, SK_CLI_OPT_CERT},                                            \
        {"key", required_argument, NULL, SK_CLI_OPT_KEY},                                          \
        {"self-signed", no_argument, NULL, SK_CLI_OPT_SELF_SIGNED},                                \
        {"alpn", required_argument, NULL, SK_CLI_OPT_ALPN},                                        \
    {                                                                                              \
        "tls-timeout", required_argument, NULL, SK_CLI_OPT_TLS_TIMEOUT                             \
    }
#define SK_CLI_TLS_CLIENT_OPTS                                                                     \
    {"cacert", required_argument, NULL, SK_CLI_OPT_CACERT}, {"insecure", no_argument, NULL, 'k'},  \
        {"alpn", required_argument, NULL, SK_CLI_OPT_ALPN},                                        \
        {"cert", required_argument, NULL, SK_CLI_OPT_CERT},                                        \
        {"key", required_argument, NULL, SK_CLI_OPT_KEY},                                          \
    {                                                                                              \
        "tls-timeout", required_argument, NULL, SK_CLI_OPT_TLS_TIMEOUT                             \
    }

/* Fills o with the defaults (--tls-timeout 10). */
void sk_cli_tls_defaults(sk_cli_tls_t *o);
bool sk_cli_tls_opt(const char *cmd, int c, const char *arg, sk_cli_tls_t *o);

/* Clients (tls_client.c): the TLS context for a tls:// endpoint, built
 * before connecting so a bad --cacert fails first (exits on error; free
 * with sk_cli_tls_client_free); wrapping a connected socket for host and
 * running the handshake (exits 1 with "WHAT: reason"), logging the session
 * under -v. The transport returned is owned (free through its ops). */
void *sk_cli_tls_client_new(const char *cmd, const sk_cli_tls_t *o);
void sk_cli_tls_client_free(void *ctx);
sk_transport_t *sk_cli_tls_client_start(const char *cmd, void *ctx, int fd, const char *host,
                                        const char *what, unsigned timeout_ms);
void sk_cli_tls_handshake(const char *cmd, const char *what, sk_transport_t *t,
                          unsigned timeout_ms);

/* Help texts for the server and the client TLS options. */
extern const char sk_cli_tls_server_help[];
extern const char sk_cli_tls_listen_help[];
extern const char sk_cli_tls_client_help[];

/* Servers: when any endpoint is tls:// (any_tls), builds the TLS context
 * from o (exits 2 or 1 naming the problem), prints the fingerprint of a
 * --self-signed certificate and sets cfg->tls and cfg->on_reload (SIGHUP
 * reloads --cert/--key). default_alpn is offered unless --alpn is given.
 * Returns the context to pass to sk_cli_tls_serve_free after the server
 * stops, or NULL when there is no TLS endpoint. */
void *sk_cli_tls_serve(const char *cmd, const sk_cli_tls_t *o, const char *default_alpn,
                       bool any_tls, sk_server_config_t *cfg);
void sk_cli_tls_serve_free(void *tls);

/* Command entry points (argv[0] is the command name). */
int sk_cmd_serve(int argc, char **argv);
int sk_cmd_connect(int argc, char **argv);
int sk_cmd_listen(int argc, char **argv);
int sk_cmd_bench(int argc, char **argv);
int sk_cmd_get(int argc, char **argv);
int sk_cmd_msg(int argc, char **argv);
int sk_cmd_broadcast(int argc, char **argv);

#endif
