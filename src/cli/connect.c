/* connect.c -- `sockkit connect EP`: stdin -> socket, socket -> stdout. */
#include "cli/cli.h"
#include "client/bridge.h"
#include "core/log.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char connect_usage[] =
    "Usage: sockkit connect [OPTIONS] EP\n"
    "\n"
    "Connect to EP and bridge it to stdio: stdin goes to the socket, the socket\n"
    "to stdout. At end of stdin a stream connection half-closes (shutdown\n"
    "SHUT_WR) and keeps printing until the peer closes. On a datagram endpoint\n"
    "(udp://, unixgram:) each line of stdin is one datagram, and after end of\n"
    "stdin replies are printed until none arrives for --timeout seconds.\n"
    "A tls:// endpoint is verified against the system's CAs (or --cacert) and\n"
    "the host name; at end of stdin it sends close_notify and half-closes.\n"
    "\n"
    "Options:\n"
    "  -4, -6              use IPv4 / IPv6 addresses only\n"
    "  -t, --timeout S     connect timeout, and the wait for datagram replies\n"
    "                      after end of input (default 10 / 1)\n"
    "      --per-read      datagrams: one per read() instead of one per line\n"
    "  -o, --sockopt N=V   socket option (see 'sockkit serve echo --help')\n"
    "  -v, --verbose       report resolution, each address tried, the local and\n"
    "                      remote address, and for TLS the version, cipher, ALPN,\n"
    "                      certificate subject, issuer and expiry, verification\n"
    "                      result and whether the session was resumed\n"
    "  -h, --help          this help;  --version  print the version\n"
    "\n%s"
    "\n"
    "Exit status: 0 when the peer closed normally, 1 when the connection failed\n"
    "(refused, timed out, no route, name not found, TLS handshake or certificate\n"
    "problem) or was reset, 2 on bad usage.\n"
    "\n"
    "Examples:\n"
    "  echo hello | sockkit connect 127.0.0.1:7000\n"
    "  sockkit connect unix:/tmp/echo.sock < request.bin > reply.bin\n"
    "  printf 'one\\ntwo\\n' | sockkit connect udp://[::1]:7000 --timeout 0.5\n"
    "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | sockkit connect tls://example.org:443 -v\n"
    "  sockkit connect tls://127.0.0.1:7443 --cacert ca.pem --alpn myproto < req.bin\n";

static void on_attempt(void *ctx, const sk_addr_t *addr, int result, uint64_t elapsed_us)
{
    (void)ctx;
    char name[160];
    sk_addr_format_peer((const struct sockaddr *)&addr->ss, addr->len, name, sizeof(name));
    if (result == 0)
        sk_log_info("connected to %s in %.3f ms", name, (double)elapsed_us / 1000.0);
    else
        sk_log_info("connect to %s failed after %.3f ms: %s", name, (double)elapsed_us / 1000.0,
                    sk_strerror(result));
}

int sk_cmd_connect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"per-read", no_argument, NULL, 1},
        {"sockopt", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        SK_CLI_TLS_CLIENT_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "connect";
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    sk_sockopts_t sockopts = {0};
    int family = AF_UNSPEC;
    int timeout_ms = -1;
    bool per_read = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "46t:o:vhk", opts, NULL)) != -1) {
        struct sk_err err = {0};
        switch (c) {
        case '4':
            family = AF_INET;
            break;
        case '6':
            family = AF_INET6;
            break;
        case 't':
            timeout_ms = (int)sk_cli_seconds_ms(cmd, "--timeout", optarg);
            break;
        case 1:
            per_read = true;
            break;
        case 'o':
            if (sk_sockopt_parse(&sockopts, optarg, &err) < 0)
                sk_cli_usage_error(cmd, "-o %s: %s", optarg, err.msg);
            break;
        case 'v':
            sk_log_verbosity++;
            break;
        case 'h':
            printf(connect_usage, sk_cli_tls_client_help);
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
    if (ep.port == 0 && ep.transport != SK_TRANSPORT_UNIX && ep.transport != SK_TRANSPORT_UNIXGRAM)
        sk_cli_usage_error(cmd, "port 0 cannot be connected to");
    if (ep.host[0] == '\0' && ep.transport != SK_TRANSPORT_UNIX &&
        ep.transport != SK_TRANSPORT_UNIXGRAM)
        sk_cli_usage_error(cmd, "a host is required to connect (e.g. 127.0.0.1:%u)", ep.port);

    if (ep.transport != SK_TRANSPORT_TLS &&
        (tls.cacert != NULL || tls.insecure || tls.alpn != NULL || tls.cert != NULL))
        sk_cli_usage_error(cmd, "TLS options need a tls:// endpoint");
    bool datagram = !sk_endpoint_is_stream(&ep);
    sk_connect_opts_t co = {
        .family = family,
        .timeout_ms = timeout_ms >= 0 ? timeout_ms : 10000,
        .sockopts = &sockopts,
        .on_attempt = on_attempt,
    };
    struct sk_err err = {0};
    /* The TLS context first: a bad --cacert fails before connecting. */
    void *tc = ep.transport == SK_TRANSPORT_TLS ? sk_cli_tls_client_new(cmd, &tls) : NULL;
    int fd = sk_endpoint_connect(&ep, &co, &err);
    /* The message names the address (or host) that failed already. */
    if (fd < 0 && err.msg[0] != '\0')
        sk_cli_fail(cmd, "%s", err.msg);
    if (fd < 0)
        sk_cli_fail(cmd, "%s: %s", argv[optind], sk_strerror(fd));
    if (sk_log_verbosity > 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char local[160] = "?";
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
            sk_addr_format_peer((struct sockaddr *)&ss, len, local, sizeof(local));
        sk_log_info("local address %s", local);
    }
    sk_bridge_opts_t bo = {
        .datagram = datagram,
        .per_read = per_read,
        .reply_wait_ms = timeout_ms >= 0 ? timeout_ms : 1000,
        .transport = ep.transport,
    };
    signal(SIGPIPE, SIG_IGN);
    sk_transport_t *t = NULL;
    if (tc != NULL)
        t = sk_cli_tls_client_start(cmd, tc, fd, ep.host, argv[optind], tls.timeout_ms);
    int rc = sk_bridge_run(fd, t, STDIN_FILENO, STDOUT_FILENO, &bo, &err);
    if (t != NULL)
        t->ops->free(t);
    sk_cli_tls_client_free(tc);
    close(fd);
    if (rc < 0)
        sk_cli_fail(cmd, "%s: %s", argv[optind], err.msg);
    return SK_EXIT_OK;
}
