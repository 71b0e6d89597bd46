/* get.c -- `sockkit get URL...`: option parsing for the HTTP/1.1 client
 * (src/client/get.c does the work). */
#include "cli/cli.h"
#include "client/get.h"
#include "core/alloc.h"
#include "core/log.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char get_usage[] =
    "Usage: sockkit get [OPTIONS] URL...\n"
    "\n"
    "Fetch http:// and https:// URLs with HTTP/1.1 and write the bodies to\n"
    "stdout. Several URLs are fetched in order over one keep-alive connection\n"
    "per origin. Every failure is explained in one line on stderr.\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE       write the body to FILE (repeatable: one per URL, in\n"
    "                          order); it is written under a temporary name in the\n"
    "                          same directory and renamed when complete, so a failed\n"
    "                          or interrupted download never leaves a partial FILE;\n"
    "                          '-o -' is stdout\n"
    "  -O, --remote-name       name the file after the last segment of the URL\n"
    "  -i, --include           print the status line and headers before the body\n"
    "  -I, --head              send HEAD and print the response head (into the\n"
    "                          -o/-O file when one is given, as curl)\n"
    "      --json              one JSON object per URL on stdout instead of the body\n"
    "                          (url, status, headers, timings_ms, sizes, remote and\n"
    "                          local address, reused); a repeated field is joined\n"
    "                          with ', ', except Set-Cookie, which is a list\n"
    "  -v, --verbose           the socket-level story on stderr: every resolved\n"
    "                          address, each connect attempt and its result, local and\n"
    "                          remote address, TLS details, request and response\n"
    "                          headers, timings (dns, connect, tls, ttfb, total)\n"
    "      --tcp-info          print the kernel's TCP_INFO after each transfer\n"
    "      --progress / --no-progress  force the progress bar (default: on when\n"
    "                          stderr is a terminal, the body is over 256 KiB and\n"
    "                          it does not go to the terminal itself)\n"
    "\n"
    "Request:\n"
    "  -H, --header 'N: V'     add a header (repeatable); 'N:' removes a default one,\n"
    "                          'N;' sends it empty; Authorization, Cookie and Host\n"
    "                          go only to the origin of the URL given, never to\n"
    "                          another one a redirect points at\n"
    "  -A, --user-agent UA     User-Agent (default sockkit/VERSION)\n"
    "      --compressed        ask for gzip/deflate and decode the body\n"
    "  -L, --location          follow redirects (301, 302, 303, 307, 308)\n"
    "      --max-redirs N      at most N redirects (default 10)\n"
    "      --allow-downgrade   let a redirect go from https to http\n"
    "  -f, --fail              exit 22 without output when the status is 400 or more\n"
    "\n"
    "Connection:\n"
    "  -4, -6                  IPv4 / IPv6 addresses only (default: both, IPv6 and\n"
    "                          IPv4 interleaved, a new attempt every 250 ms: RFC 8305)\n"
    "      --unix-socket PATH  connect to a Unix socket; the URL gives only the Host\n"
    "      --connect-timeout S per address (default 10)\n"
    "      --tls-timeout S     TLS handshake (default 10)\n"
    "      --read-timeout S    no data for S seconds (default: none)\n"
    "  -m, --max-time S        the whole call (default: none)\n"
    "      --cacert FILE       trust the CAs in FILE instead of the system store\n"
    "  -k, --insecure          do not verify the server certificate\n"
    "  -h, --help              this help;  --version  print the version\n"
    "\n"
    "Exit status: 0 success; 1 failure (refused, timed out, name not found, TLS,\n"
    "connection closed mid-body, malformed response, ...); 2 bad usage;\n"
    "22 with --fail when the server answered 400 or more (as curl).\n"
    "\n"
    "Examples:\n"
    "  sockkit get http://127.0.0.1:8080/ -v\n"
    "  sockkit get -o big.iso https://example.org/big.iso\n"
    "  sockkit get -L -f --json http://localhost:8080/a http://localhost:8080/b\n"
    "  sockkit get --unix-socket /run/app.sock http://app/health\n";

enum {
    OPT_JSON = 2000,
    OPT_TCP_INFO,
    OPT_COMPRESSED,
    OPT_MAX_REDIRS,
    OPT_DOWNGRADE,
    OPT_UNIX,
    OPT_CONNECT_TIMEOUT,
    OPT_READ_TIMEOUT,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
};

int sk_cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"remote-name", no_argument, NULL, 'O'},
        {"include", no_argument, NULL, 'i'},
        {"head", no_argument, NULL, 'I'},
        {"header", required_argument, NULL, 'H'},
        {"user-agent", required_argument, NULL, 'A'},
        {"location", no_argument, NULL, 'L'},
        {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
        {"allow-downgrade", no_argument, NULL, OPT_DOWNGRADE},
        {"fail", no_argument, NULL, 'f'},
        {"unix-socket", required_argument, NULL, OPT_UNIX},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"read-timeout", required_argument, NULL, OPT_READ_TIMEOUT},
        {"max-time", required_argument, NULL, 'm'},
        {"compressed", no_argument, NULL, OPT_COMPRESSED},
        {"json", no_argument, NULL, OPT_JSON},
        {"tcp-info", no_argument, NULL, OPT_TCP_INFO},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        SK_CLI_TLS_CLIENT_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "get";
    sk_get_opts_t o = {
        .max_redirs = 10,
        .connect_timeout_ms = 10000,
        .family = AF_UNSPEC,
        .progress = -1,
    };
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    const char **outputs = sk_xcalloc((size_t)argc, sizeof(*outputs));
    const char **headers = sk_xcalloc((size_t)argc, sizeof(*headers));
    size_t n_out = 0, n_hdr = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:OiIH:A:Lfm:46kvh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            /* "-o -" is standard output, as in curl. */
            outputs[n_out++] = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        case 'O':
            o.remote_name = true;
            break;
        case 'i':
            o.include = true;
            break;
        case 'I':
            o.head = true;
            break;
        case 'H':
            if (sk_get_check_header(optarg) < 0)
                sk_cli_usage_error(cmd,
                                   "-H '%s': expected 'Name: value' (a token name, no line "
                                   "breaks in the value)",
                                   optarg);
            headers[n_hdr++] = optarg;
            break;
        case 'A':
            if (strpbrk(optarg, "\r\n") != NULL)
                sk_cli_usage_error(cmd, "-A: the user agent cannot contain line breaks");
            o.user_agent = optarg;
            break;
        case 'L':
            o.follow = true;
            break;
        case OPT_MAX_REDIRS:
            o.max_redirs = (unsigned)sk_cli_long(cmd, "--max-redirs", optarg, 0, 1000);
            break;
        case OPT_DOWNGRADE:
            o.allow_downgrade = true;
            break;
        case 'f':
            o.fail = true;
            break;
        case OPT_UNIX:
            o.unix_socket = optarg;
            break;
        case OPT_CONNECT_TIMEOUT:
            o.connect_timeout_ms = sk_cli_seconds_ms(cmd, "--connect-timeout", optarg);
            break;
        case OPT_READ_TIMEOUT:
            o.read_timeout_ms = sk_cli_seconds_ms(cmd, "--read-timeout", optarg);
            break;
        case 'm':
            o.max_time_ms = sk_cli_seconds_ms(cmd, "--max-time", optarg);
            break;
        case OPT_COMPRESSED:
            o.compressed = true;
            break;
        case OPT_JSON:
            o.json = true;
            break;
        case OPT_TCP_INFO:
            o.tcp_info = true;
            break;
        case OPT_PROGRESS:
            o.progress = 1;
            break;
        case OPT_NO_PROGRESS:
            o.progress = 0;
            break;
        case '4':
            o.family = AF_INET;
            break;
        case '6':
            o.family = AF_INET6;
            break;
        case 'v':
            sk_log_verbosity++;
            break;
        case 'h':
            fputs(get_usage, stdout);
            sk_free(outputs);
            sk_free(headers);
            return SK_EXIT_OK;
        case 'V':
            sk_cli_version();
        default:
            if (!sk_cli_tls_opt(cmd, c, optarg, &tls))
                sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        sk_cli_usage_error(cmd, "a URL is required (e.g. sockkit get http://127.0.0.1:8080/)");
    if (n_out > (size_t)(argc - optind))
        sk_cli_usage_error(cmd, "%zu -o files for %d URLs", n_out, argc - optind);
    if (o.json && (n_out > 0 || o.remote_name))
        sk_cli_usage_error(cmd, "--json prints JSON instead of the body: drop -o/-O");
    if (tls.alpn != NULL)
        sk_cli_usage_error(cmd, "--alpn: sockkit get always offers http/1.1");
    o.urls = (const char *const *)(argv + optind);
    o.n_urls = (size_t)(argc - optind);
    o.outputs = outputs;
    o.n_outputs = n_out;
    o.headers = headers;
    o.n_headers = n_hdr;
    o.tls_timeout_ms = tls.timeout_ms;
    o.insecure = tls.insecure;
    o.cacert = tls.cacert;
    /* Automatic (-1) stays only when stderr is a terminal; the client
     * then also leaves out a body that goes to a terminal stdout. */
    if (o.progress < 0 && !(isatty(STDERR_FILENO) && sk_log_verbosity == 0))
        o.progress = 0;
    int rc = sk_get_run(&o);
    sk_free(outputs);
    sk_free(headers);
    return rc;
}
