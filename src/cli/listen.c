/* listen.c -- `sockkit listen EP`: accept one stream peer and bridge it to
 * stdio, or print the datagrams that arrive. */
#include "cli/cli.h"
#include "client/bridge.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char listen_usage[] =
    "Usage: sockkit listen [OPTIONS] EP\n"
    "\n"
    "Stream endpoints (tcp, unix, tls): wait for one peer, then bridge it to\n"
    "stdio like 'sockkit connect'. Datagram endpoints (udp://, unixgram:): print each\n"
    "datagram that arrives; lines of stdin are sent to the latest sender.\n"
    "The bound endpoint is printed as `listening on EP` on stderr.\n"
    "\n"
    "Options:\n"
    "      --from          datagrams: prefix each with its sender and a tab\n"
    "  -n, --count N       datagrams: exit after N\n"
    "  -t, --timeout S     give up when no peer connects within S seconds\n"
    "      --mode MODE     permissions of a Unix socket file (default 0600)\n"
    "  -o, --sockopt N=V   socket option (see 'sockkit serve echo --help')\n"
    "  -v, --verbose       report the peer and the socket options the kernel set\n"
    "  -h, --help          this help;  --version  print the version\n"
    "\n%s"
    "\n"
    "Examples:\n"
    "  sockkit listen :9000 > received.bin\n"
    "  sockkit listen udp://:5353 --from\n"
    "  sockkit listen unix:@debug-tap\n"
    "  sockkit listen tls://127.0.0.1:9443 --self-signed -v\n"
    "  sockkit listen tls://:9443 --cert chain.pem --key key.pem --alpn myproto\n";

int sk_cmd_listen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", no_argument, NULL, 1},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"mode", required_argument, NULL, 2},
        {"sockopt", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        SK_CLI_TLS_SERVER_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "listen";
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    sk_sockopts_t sockopts = {0};
    bool from = false;
    long count = 0;
    int timeout_ms = -1;
    unsigned mode = 0600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:t:o:vh", opts, NULL)) != -1) {
        struct sk_err err = {0};
        switch (c) {
        case 1:
            from = true;
            break;
        case 'n':
            count = sk_cli_long(cmd, "--count", optarg, 1, 1L << 40);
            break;
        case 't':
            timeout_ms = (int)sk_cli_seconds_ms(cmd, "--timeout", optarg);
            break;
        case 2:
            mode = sk_cli_mode(cmd, optarg);
            break;
        case 'o':
            if (sk_sockopt_parse(&sockopts, optarg, &err) < 0)
                sk_cli_usage_error(cmd, "-o %s: %s", optarg, err.msg);
            break;
        case 'v':
            sk_log_verbosity++;
            break;
        case 'h':
            printf(listen_usage, sk_cli_tls_listen_help);
            return SK_EXIT_OK;
        case 'V':
            sk_cli_version();
        default:
            if (!sk_cli_tls_opt(cmd, c, optarg, &tls))
                sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind != argc - 1)
        sk_cli_usage_error(cmd, optind >= argc ? "an endpoint is required"
                                               : "exactly one endpoint is expected");
    sk_endpoint_t ep;
    sk_cli_endpoint(cmd, argv[optind], &ep);
    /* The TLS context comes first: a bad certificate fails before
     * anything listens. */
    sk_server_config_t tcfg = {.verbose = sk_log_verbosity};
    void *tls_ctx = sk_cli_tls_serve(cmd, &tls, NULL, ep.transport == SK_TRANSPORT_TLS, &tcfg);

    sk_listen_opts_t lo = {.backlog = 1, .mode = mode, .sockopts = &sockopts};
    struct sk_err err = {0};
    int fds[8];
    int n = sk_endpoint_listen(&ep, &lo, fds, 8, &err);
    if (n < 0) {
        if (n == SK_EUSAGE)
            sk_cli_usage_error(cmd, "%s", err.msg);
        sk_cli_fail(cmd, "%s: %s", argv[optind], err.msg[0] ? err.msg : sk_strerror(n));
    }
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char name[160];
        getsockname(fds[i], (struct sockaddr *)&ss, &len);
        sk_addr_format(ep.transport, (struct sockaddr *)&ss, len, name, sizeof(name));
        fprintf(stderr, "listening on %s\n", name);
    }
    fflush(stderr);
    signal(SIGPIPE, SIG_IGN);

    sk_bridge_opts_t bo = {
        .datagram = !sk_endpoint_is_stream(&ep),
        .reply_wait_ms = -1,
        .show_from = from,
        .transport = ep.transport,
        .max_datagrams = count,
    };
    int sock = -1;
    char peer[160] = "the peer";
    if (bo.datagram) {
        sock = fds[0];
        for (int i = 1; i < n; i++)
            close(fds[i]);
        /* Blocking reads suit a single socket bridged with poll. */
        fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
    } else {
        struct pollfd pfd[8];
        for (int i = 0; i < n; i++)
            pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        int r;
        do {
            r = poll(pfd, (nfds_t)n, timeout_ms >= 0 ? timeout_ms : -1);
        } while (r < 0 && errno == EINTR);
        if (r == 0)
            sk_cli_fail(cmd, "no peer connected within %.1f s", timeout_ms / 1000.0);
        for (int i = 0; i < n && sock < 0; i++) {
            if (!pfd[i].revents)
                continue;
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            sock = accept4(fds[i], (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
            if (sock >= 0) {
                sk_addr_format_peer((struct sockaddr *)&ss, len, peer, sizeof(peer));
                if (sk_log_verbosity > 0)
                    sk_log_info("accepted %s", peer);
            }
        }
        if (sock < 0)
            sk_cli_fail(cmd, "accept: %s", strerror(errno));
        /* One peer only: stop accepting (and free a Unix path) now. */
        for (int i = 0; i < n; i++)
            close(fds[i]);
        if (ep.transport == SK_TRANSPORT_UNIX && !ep.abstract)
            unlink(ep.path);
    }
    sk_transport_t *t = NULL;
    if (tcfg.tls != NULL) {
        if (tcfg.tls->wrap(tcfg.tls->ctx, sock, &t) < 0)
            sk_cli_fail(cmd, "out of memory");
        /* Failures read "PEER: what went wrong" (the reasons say TLS). */
        sk_cli_tls_handshake(cmd, peer, t, tls.timeout_ms);
    }
    int rc = sk_bridge_run(sock, t, STDIN_FILENO, STDOUT_FILENO, &bo, &err);
    if (t != NULL)
        t->ops->free(t);
    sk_cli_tls_serve_free(tls_ctx);
    close(sock);
    if (bo.datagram && ep.transport == SK_TRANSPORT_UNIXGRAM && !ep.abstract)
        unlink(ep.path);
    if (rc < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    return SK_EXIT_OK;
}
