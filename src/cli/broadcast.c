/* broadcast.c -- `sockkit broadcast PORT MESSAGE`: send MESSAGE as a UDP
 * broadcast datagram, once or --count times. */
#include "cli/cli.h"
#include "client/broadcast.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

static const char broadcast_usage[] =
    "Usage: sockkit broadcast [OPTIONS] PORT MESSAGE\n"
    "\n"
    "Send MESSAGE as one UDP datagram to the IPv4 broadcast address on PORT\n"
    "(SO_BROADCAST). The default 255.255.255.255 goes out on the interface of the\n"
    "default route; --to a subnet's broadcast address (e.g. 192.168.1.255) picks\n"
    "that subnet. Receive with 'sockkit listen udp://:PORT --from'.\n"
    "\n"
    "Options:\n"
    "      --to ADDR        destination address (default 255.255.255.255)\n"
    "  -n, --count N        datagrams to send (default 1)\n"
    "  -i, --interval S     seconds between two datagrams (default 1)\n"
    "  -o, --sockopt N=V    socket option (see 'sockkit serve echo --help')\n"
    "  -v, --verbose        report each datagram sent\n"
    "  -h, --help           this help;  --version  print the version\n"
    "\n"
    "Examples:\n"
    "  sockkit broadcast 9999 hello\n"
    "  sockkit broadcast 9999 'who is there?' --to 10.0.0.255 --count 5 --interval 0.5\n"
    "  sockkit listen udp://:9999 --from      # on the receiving hosts\n";

int sk_cmd_broadcast(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 1},         {"count", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'}, {"sockopt", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    const char *cmd = "broadcast";
    sk_sockopts_t sockopts = {0};
    sk_broadcast_opts_t o = {.count = 1, .interval_ms = 1000, .sockopts = &sockopts};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:i:o:vh", opts, NULL)) != -1) {
        struct sk_err err = {0};
        switch (c) {
        case 1:
            o.to = optarg;
            break;
        case 'n':
            o.count = sk_cli_long(cmd, "--count", optarg, 1, 1000000000L);
            break;
        case 'i':
            o.interval_ms = sk_cli_seconds_ms(cmd, "--interval", optarg);
            break;
        case 'o':
            if (sk_sockopt_parse(&sockopts, optarg, &err) < 0)
                sk_cli_usage_error(cmd, "-o %s: %s", optarg, err.msg);
            break;
        case 'v':
            sk_log_verbosity++;
            o.verbose++;
            break;
        case 'h':
            fputs(broadcast_usage, stdout);
            return SK_EXIT_OK;
        case 'V':
            sk_cli_version();
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (argc - optind != 2)
        sk_cli_usage_error(cmd, "PORT and MESSAGE are required");
    o.port = (uint16_t)sk_cli_long(cmd, "PORT", argv[optind], 1, 65535);
    const char *message = argv[optind + 1];
    struct sk_err err = {0};
    long rc = sk_broadcast_send(&o, message, strlen(message), &err);
    if (rc == SK_EUSAGE)
        sk_cli_usage_error(cmd, "%s", err.msg);
    if (rc < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    return SK_EXIT_OK;
}
