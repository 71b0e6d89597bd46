/* serve.c -- `sockkit serve echo|discard EP...`: parse the shared server
 * options, bind every endpoint, run until SIGINT/SIGTERM. */
#include "cli/cli.h"
#include "core/log.h"
#include "serve/discard.h"
#include "serve/echo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serve_usage[] = "Usage: sockkit serve KIND [OPTIONS] EP...\n"
                                  "\n"
                                  "Kinds:\n"
                                  "  echo EP...       echo every byte (stream) or datagram back\n"
                                  "  discard EP...    read and drop everything (throughput sink)\n"
                                  "\n"
                                  "Run 'sockkit serve KIND --help' for its options.\n";

static void simple_usage(FILE *f, const char *kind)
{
    fprintf(f,
            "Usage: sockkit serve %s [OPTIONS] EP...\n"
            "\n"
            "%s on every endpoint given: tcp, udp, unix, unix abstract and\n"
            "unixgram, any number of them in one process. Each bound endpoint is\n"
            "printed as `listening on EP` (with the real port) on stderr.\n"
            "\n%s\n"
            "Examples:\n"
            "  sockkit serve %s :7000 udp://:7000\n"
            "  sockkit serve %s 127.0.0.1:0 unix:/tmp/%s.sock unix:@%s --workers 2\n"
            "  sockkit serve %s [::1]:7000 --backend poll -o rcvbuf=1M -v\n",
            kind,
            strcmp(kind, "echo") == 0
                ? "Echo every byte back (a stream peer's half-close is answered after the\n"
                  "last byte owed) and every datagram back to its sender,"
                : "Read and drop every byte and datagram,",
            sk_cli_server_opts_help, kind, kind, kind, kind, kind);
}

/* echo and discard share everything but the service. */
static int serve_simple(const char *kind, const sk_service_t *svc, int argc, char **argv)
{
    static const struct option opts[] = {SK_CLI_SERVER_OPTS, {NULL, 0, NULL, 0}};
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "serve %s", kind);
    sk_server_config_t cfg;
    sk_server_config_defaults(&cfg);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vh", opts, NULL)) != -1) {
        if (c == 'h') {
            simple_usage(stdout, kind);
            return SK_EXIT_OK;
        }
        if (!sk_cli_server_opt(cmd, c, optarg, &cfg))
            sk_cli_usage_error(cmd, "unknown option");
    }
    if (optind >= argc)
        sk_cli_usage_error(cmd, "at least one endpoint is required");

    int nep = argc - optind;
    sk_endpoint_t *eps = calloc((size_t)nep, sizeof(*eps));
    if (eps == NULL)
        sk_cli_fail(cmd, "out of memory");
    for (int i = 0; i < nep; i++) {
        sk_cli_endpoint(cmd, argv[optind + i], &eps[i]);
        if (eps[i].transport == SK_TRANSPORT_TLS)
            sk_cli_usage_error(cmd,
                               "'%s': TLS endpoints are served by 'serve http' only in "
                               "this version",
                               argv[optind + i]);
    }
    sk_log_timestamps = 1;
    sk_server_t *srv;
    if (sk_server_new(&srv, &cfg) < 0)
        sk_cli_fail(cmd, "cannot create the server");
    for (int i = 0; i < nep; i++) {
        struct sk_err err = {0};
        int rc = sk_server_listen(srv, &eps[i], svc, &err);
        if (rc < 0) {
            sk_server_free(srv);
            free(eps);
            if (rc == SK_EUSAGE)
                sk_cli_usage_error(cmd, "%s", err.msg);
            sk_cli_fail(cmd, "%s: %s", argv[optind + i], err.msg[0] ? err.msg : sk_strerror(rc));
        }
    }
    free(eps);
    int rc = sk_server_run(srv);
    sk_server_free(srv);
    return rc < 0 ? SK_EXIT_FAIL : SK_EXIT_OK;
}

int sk_cmd_serve(int argc, char **argv)
{
    if (argc < 2) {
        fputs(serve_usage, stderr);
        return SK_EXIT_USAGE;
    }
    const char *kind = argv[1];
    if (strcmp(kind, "--help") == 0 || strcmp(kind, "-h") == 0) {
        fputs(serve_usage, stdout);
        return SK_EXIT_OK;
    }
    if (strcmp(kind, "--version") == 0)
        sk_cli_version();
    if (strcmp(kind, "echo") == 0)
        return serve_simple(kind, sk_echo_service(), argc - 1, argv + 1);
    if (strcmp(kind, "discard") == 0)
        return serve_simple(kind, sk_discard_service(), argc - 1, argv + 1);
    sk_cli_usage_error("serve", "unknown kind '%s' (echo, discard)", kind);
}
