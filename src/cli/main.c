/* main.c -- the sockkit command: dispatches to one file per command. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: sockkit COMMAND [ARGS]...\n"
    "\n"
    "A fast, small socket toolkit: servers, clients and benchmarks.\n"
    "\n"
    "Commands:\n"
    "  serve http [ROOT]      static files over HTTP/1.1 (--listen EP, tls:// too)\n"
    "  serve echo EP...       echo every byte / datagram back\n"
    "  serve discard EP...    read and drop (throughput sink)\n"
    "  serve msg EP...        framed JSON request/reply\n"
    "  get URL...             HTTP/1.1 client (http, https, unix sockets)\n"
    "  connect EP             stdin -> socket, socket -> stdout\n"
    "  listen EP              accept one peer (or receive datagrams), bridge to stdio\n"
    "  msg EP [JSON]...       framed JSON client (arguments or stdin lines)\n"
    "  broadcast PORT MESSAGE UDP broadcast sender\n"
    "  bench KIND ...         rtt, throughput, http, conns, backends\n"
    "\n"
    "Endpoints (EP): HOST:PORT, tcp://HOST:PORT, :PORT (all interfaces), udp://HOST:PORT,\n"
    "unix:PATH, unix:@NAME (abstract), unixgram:PATH, unixgram:@NAME, tls://HOST:PORT.\n"
    "IPv6 addresses go in brackets: [::1]:8080.\n"
    "\n"
    "Examples:\n"
    "  sockkit serve http ./public --listen :8080 --listen tls://:8443 --self-signed\n"
    "  sockkit get -v https://127.0.0.1:8443/ -k\n"
    "  sockkit serve echo :7000 udp://:7000 unix:/tmp/echo.sock\n"
    "  echo hello | sockkit connect 127.0.0.1:7000\n"
    "  sockkit bench rtt 127.0.0.1:7000 -d 5\n"
    "\n"
    "Run 'sockkit COMMAND --help' for a command's options.\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"serve", sk_cmd_serve}, {"connect", sk_cmd_connect}, {"listen", sk_cmd_listen},
    {"get", sk_cmd_get},     {"msg", sk_cmd_msg},         {"broadcast", sk_cmd_broadcast},
    {"bench", sk_cmd_bench},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return SK_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        sk_cli_version();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sockkit: unknown command '%s'\nTry 'sockkit --help'.\n", argv[1]);
    return SK_EXIT_USAGE;
}
