/* serve.c -- `sockkit serve http|echo|discard|msg ...`: parse the shared server
 * options, bind every endpoint, run until SIGINT/SIGTERM. */
#include "cli/cli.h"
#include "core/log.h"
#include "serve/discard.h"
#include "serve/echo.h"
#include "serve/http.h"
#include "serve/msg.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serve_usage[] =
    "Usage: sockkit serve KIND [OPTIONS] EP...\n"
    "\n"
    "Kinds:\n"
    "  http [ROOT]      static files over HTTP/1.1 and TLS (--listen EP, repeatable)\n"
    "  echo EP...       echo every byte (stream) or datagram back\n"
    "  discard EP...    read and drop everything (throughput sink)\n"
    "  msg EP...        framed JSON request/reply (ping, echo, stats)\n"
    "\n"
    "Run 'sockkit serve KIND --help' for its options.\n";

static void simple_usage(FILE *f, const char *kind)
{
    fprintf(f,
            "Usage: sockkit serve %s [OPTIONS] EP...\n"
            "\n"
            "%s on every endpoint given: tcp, udp, unix, unix abstract,\n"
            "unixgram and tls, any number of them in one process. Each bound endpoint\n"
            "is printed as `listening on EP` (with the real port) on stderr.\n"
            "\n%s\n%s\n"
            "Examples:\n"
            "  sockkit serve %s :7000 udp://:7000\n"
            "  sockkit serve %s 127.0.0.1:0 unix:/tmp/%s.sock unix:@%s --workers 2\n"
            "  sockkit serve %s [::1]:7000 --backend poll -o rcvbuf=1M -v\n"
            "  sockkit serve %s tls://127.0.0.1:7443 --self-signed\n"
            "  sockkit serve %s tls://:7443 --cert chain.pem --key key.pem --alpn myproto\n",
            kind,
            strcmp(kind, "echo") == 0
                ? "Echo every byte back (a stream peer's half-close is answered after the\n"
                  "last byte owed) and every datagram back to its sender,"
                : "Read and drop every byte and datagram,",
            sk_cli_server_opts_help, sk_cli_tls_server_help, kind, kind, kind, kind, kind, kind,
            kind);
}

/* Replies here are small writes that must not wait for an ACK (Nagle plus
 * delayed ACK adds ~40 ms), so TCP_NODELAY is on unless -o says otherwise;
 * accepted sockets inherit it from the listener. */
static void default_nodelay(sk_server_config_t *cfg)
{
    sk_sockopt_t o;
    if (!sk_sockopt_get(&cfg->sockopts, SK_SO_NODELAY, &o))
        sk_sockopt_parse(&cfg->sockopts, "nodelay=1", NULL);
}

/* Parses n endpoint arguments (exits 2 on a bad one); stream_only refuses
 * datagram endpoints; *any_tls tells whether one is tls://. Returns a
 * calloc'd array. */
static sk_endpoint_t *parse_endpoints(const char *cmd, char **texts, int n, bool stream_only,
                                      bool *any_tls)
{
    sk_endpoint_t *eps = calloc((size_t)n, sizeof(*eps));
    if (eps == NULL)
        sk_cli_fail(cmd, "out of memory");
    for (int i = 0; i < n; i++) {
        sk_cli_endpoint(cmd, texts[i], &eps[i]);
        if (stream_only && !sk_endpoint_is_stream(&eps[i]))
            sk_cli_usage_error(cmd, "'%s': this service needs a stream endpoint (tcp, unix, tls)",
                               texts[i]);
        *any_tls |= eps[i].transport == SK_TRANSPORT_TLS;
    }
    return eps;
}

/* Sets up TLS when an endpoint needs it, binds every endpoint to svc, runs
 * until SIGINT/SIGTERM and returns the exit status; exits 1 (or 2 for a
 * usage error) when a bind fails. */
static int listen_and_run(const char *cmd, sk_server_config_t *cfg, const sk_cli_tls_t *tls,
                          bool any_tls, const sk_endpoint_t *eps, const char *const *names, int n,
                          const sk_service_t *svc)
{
    sk_log_timestamps = 1;
    void *tls_ctx = sk_cli_tls_serve(cmd, tls, NULL, any_tls, cfg);
    sk_server_t *srv;
    if (sk_server_new(&srv, cfg) < 0)
        sk_cli_fail(cmd, "cannot create the server");
    for (int i = 0; i < n; i++) {
        struct sk_err err = {0};
        int rc = sk_server_listen(srv, &eps[i], svc, &err);
        if (rc < 0) {
            sk_server_free(srv);
            if (rc == SK_EUSAGE)
                sk_cli_usage_error(cmd, "%s", err.msg);
            sk_cli_fail(cmd, "%s: %s", names[i], err.msg[0] ? err.msg : sk_strerror(rc));
        }
    }
    int rc = sk_server_run(srv);
    sk_server_free(srv);
    sk_cli_tls_serve_free(tls_ctx);
    return rc < 0 ? SK_EXIT_FAIL : SK_EXIT_OK;
}

/* echo and discard share everything but the service. */
static int serve_simple(const char *kind, const sk_service_t *svc, int argc, char **argv)
{
    static const struct option opts[] = {
        SK_CLI_SERVER_OPTS, SK_CLI_TLS_SERVER_OPTS, {NULL, 0, NULL, 0}};
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "serve %s", kind);
    sk_server_config_t cfg;
    sk_server_config_defaults(&cfg);
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vh", opts, NULL)) != -1) {
        if (c == 'h') {
            simple_usage(stdout, kind);
            return SK_EXIT_OK;
        }
        if (!sk_cli_server_opt(cmd, c, optarg, &cfg) && !sk_cli_tls_opt(cmd, c, optarg, &tls))
            sk_cli_usage_error(cmd, "unknown option");
    }
    if (optind >= argc)
        sk_cli_usage_error(cmd, "at least one endpoint is required");
    default_nodelay(&cfg);

    int nep = argc - optind;
    bool any_tls = false;
    sk_endpoint_t *eps = parse_endpoints(cmd, argv + optind, nep, false, &any_tls);
    int rc = listen_and_run(cmd, &cfg, &tls, any_tls, eps, (const char *const *)(argv + optind),
                            nep, svc);
    free(eps);
    return rc;
}

static const char http_usage[] =
    "Usage: sockkit serve http [ROOT] [--listen EP]... [OPTIONS]\n"
    "\n"
    "Serve the files under ROOT (default .) over HTTP/1.1: GET, HEAD and OPTIONS,\n"
    "keep-alive and pipelining, conditional requests (ETag, Last-Modified), Range\n"
    "(single and multipart), precompressed .br/.gz siblings, index files. Nothing\n"
    "outside ROOT is ever served, symlinks included; dotfiles are hidden except\n"
    "under /.well-known/.\n"
    "\n"
    "HTTP options:\n"
    "  -l, --listen EP          endpoint to serve on, repeatable (default 127.0.0.1:8080)\n"
    "      --header-timeout S   seconds to receive a complete request head (default 10)\n"
    "      --body-timeout S     seconds to receive a whole request body after its head\n"
    "                           (default 30; 408 and close when it runs out)\n"
    "      --idle-timeout S     keep-alive idle limit (default 60)\n"
    "      --send-timeout S     limit on a send making no progress (default 60)\n"
    "      --max-header-bytes N request line plus headers (default 16384; 431, or 414\n"
    "                           for a request line alone over it)\n"
    "      --max-headers N      header fields per request (default 100)\n"
    "      --max-body N         request body bytes read and discarded (default 1048576;\n"
    "                           413 over it; 0: no request body accepted)\n"
    "      --index NAME         index file for directories (default index.html)\n"
    "      --list-dirs          list directories without an index file\n"
    "      --dotfiles           serve names starting with a dot\n"
    "      --access-log FILE|-  log each request (off by default; - is stdout)\n"
    "      --log-format F       combined (default) or json\n"
    "\n%s\n%s\n"
    "Examples:\n"
    "  sockkit serve http ./public --listen :8080\n"
    "  sockkit serve http site --listen :8080 --listen tls://:8443 --cert chain.pem --key key.pem\n"
    "  sockkit serve http . --listen tls://127.0.0.1:8443 --self-signed\n"
    "  sockkit serve http site --listen 127.0.0.1:0 --listen unix:/run/site.sock --list-dirs\n"
    "  sockkit serve http . --access-log - --log-format json --workers 2\n";

enum {
    OPT_LISTEN = 'l',
    OPT_HEADER_TIMEOUT = 2000,
    OPT_BODY_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_HEADERS,
    OPT_MAX_BODY,
    OPT_INDEX,
    OPT_LIST_DIRS,
    OPT_DOTFILES,
    OPT_ACCESS_LOG,
    OPT_LOG_FORMAT,
};

static int serve_http(int argc, char **argv)
{
    static const struct option opts[] = {
        SK_CLI_SERVER_OPTS,
        SK_CLI_TLS_SERVER_OPTS,
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
        {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
        {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
        {"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"index", required_argument, NULL, OPT_INDEX},
        {"list-dirs", no_argument, NULL, OPT_LIST_DIRS},
        {"dotfiles", no_argument, NULL, OPT_DOTFILES},
        {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "serve http";
    sk_server_config_t cfg;
    sk_server_config_defaults(&cfg);
    sk_http_config_t hcfg;
    sk_http_config_defaults(&hcfg);
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    const char **listens = calloc((size_t)argc + 1, sizeof(*listens));
    int nlisten = 0;
    const char *access_log = NULL;
    enum sk_access_format log_format = SK_ACCESS_COMBINED;
    if (listens == NULL)
        sk_cli_fail(cmd, "out of memory");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf(http_usage, sk_cli_server_opts_help, sk_cli_tls_server_help);
            free(listens);
            return SK_EXIT_OK;
        case OPT_LISTEN:
            listens[nlisten++] = optarg;
            break;
        case OPT_HEADER_TIMEOUT:
            hcfg.header_timeout_ms = sk_cli_seconds_ms(cmd, "--header-timeout", optarg);
            break;
        case OPT_BODY_TIMEOUT:
            hcfg.body_timeout_ms = sk_cli_seconds_ms(cmd, "--body-timeout", optarg);
            break;
        case OPT_IDLE_TIMEOUT:
            hcfg.idle_timeout_ms = sk_cli_seconds_ms(cmd, "--idle-timeout", optarg);
            break;
        case OPT_SEND_TIMEOUT:
            hcfg.send_timeout_ms = sk_cli_seconds_ms(cmd, "--send-timeout", optarg);
            break;
        case OPT_MAX_HEADER_BYTES:
            hcfg.limits.max_header_bytes =
                (size_t)sk_cli_long(cmd, "--max-header-bytes", optarg, 256, 1L << 24);
            break;
        case OPT_MAX_HEADERS:
            hcfg.limits.max_headers = (size_t)sk_cli_long(cmd, "--max-headers", optarg, 1, 10000);
            break;
        case OPT_MAX_BODY:
            hcfg.limits.max_body = (uint64_t)sk_cli_long(cmd, "--max-body", optarg, 0, 1L << 50);
            break;
        case OPT_INDEX:
            if (optarg[0] == '\0' || strchr(optarg, '/') != NULL)
                sk_cli_usage_error(cmd, "--index: '%s' must be a plain file name", optarg);
            hcfg.index = optarg;
            break;
        case OPT_LIST_DIRS:
            hcfg.list_dirs = true;
            break;
        case OPT_DOTFILES:
            hcfg.dotfiles = true;
            break;
        case OPT_ACCESS_LOG:
            access_log = optarg;
            break;
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "combined") == 0)
                log_format = SK_ACCESS_COMBINED;
            else if (strcmp(optarg, "json") == 0)
                log_format = SK_ACCESS_JSON;
            else
                sk_cli_usage_error(cmd, "--log-format: '%s' is not combined or json", optarg);
            break;
        default:
            if (!sk_cli_server_opt(cmd, c, optarg, &cfg) && !sk_cli_tls_opt(cmd, c, optarg, &tls))
                sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (argc - optind > 1)
        sk_cli_usage_error(cmd, "one ROOT at most; endpoints go with --listen");
    const char *root = optind < argc ? argv[optind] : ".";
    default_nodelay(&cfg);
    if (nlisten == 0)
        listens[nlisten++] = "127.0.0.1:8080";
    sk_endpoint_t *eps = calloc((size_t)nlisten, sizeof(*eps));
    if (eps == NULL)
        sk_cli_fail(cmd, "out of memory");
    bool any_tls = false;
    for (int i = 0; i < nlisten; i++) {
        sk_cli_endpoint(cmd, listens[i], &eps[i]);
        if (!sk_endpoint_is_stream(&eps[i]))
            sk_cli_usage_error(cmd, "--listen %s: HTTP needs a stream endpoint", listens[i]);
        any_tls |= eps[i].transport == SK_TRANSPORT_TLS;
    }
    void *tls_ctx = sk_cli_tls_serve(cmd, &tls, "http/1.1", any_tls, &cfg);
    struct sk_err err = {0};
    if (sk_http_config_open(&hcfg, root, &err) < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    if (access_log != NULL &&
        sk_access_log_open(&hcfg.access_log, access_log, log_format, &err) < 0)
        sk_cli_fail(cmd, "--access-log %s: %s", access_log, err.msg);
    sk_log_timestamps = 1;
    sk_server_t *srv;
    if (sk_server_new(&srv, &cfg) < 0)
        sk_cli_fail(cmd, "cannot create the server");
    for (int i = 0; i < nlisten; i++) {
        int rc = sk_server_listen(srv, &eps[i], &hcfg.service, &err);
        if (rc < 0) {
            if (rc == SK_EUSAGE)
                sk_cli_usage_error(cmd, "%s", err.msg);
            sk_cli_fail(cmd, "%s: %s", listens[i], err.msg[0] ? err.msg : sk_strerror(rc));
        }
    }
    free(eps);
    free(listens);
    int rc = sk_server_run(srv);
    if (rc > 0)
        return SK_EXIT_OK; /* threads still read the configuration: leave it */
    sk_server_free(srv);
    sk_access_log_close(hcfg.access_log);
    sk_http_config_close(&hcfg);
    sk_cli_tls_serve_free(tls_ctx);
    return rc < 0 ? SK_EXIT_FAIL : SK_EXIT_OK;
}

static const char msg_usage[] =
    "Usage: sockkit serve msg [OPTIONS] EP...\n"
    "\n"
    "Answer framed JSON requests on every stream endpoint given (tcp, unix, unix\n"
    "abstract, tls). A frame is a 4-byte big-endian length, then that many bytes of\n"
    "UTF-8 JSON. A request is an object {\"op\":..., \"id\":...}; each gets one reply\n"
    "frame, in order, carrying the request's id: {\"id\":..., \"ok\":true, ...} or\n"
    "{\"id\":..., \"ok\":false, \"error\":{\"code\":..., \"message\":...}}.\n"
    "\n"
    "Ops:\n"
    "  ping                 {\"id\":1,\"ok\":true}\n"
    "  echo                 returns \"data\" as given\n"
    "  stats                connections (open, total), frames, bytes in/out, errors,\n"
    "                       uptime\n"
    "Error codes: bad_json (invalid JSON or UTF-8), bad_request (not an object, no\n"
    "\"op\"), unknown_op; the connection stays usable. A length over --max-frame gets\n"
    "frame_too_large and the connection is closed.\n"
    "\n"
    "Message options:\n"
    "      --max-frame N    largest request payload in bytes, K/M/G suffixes allowed\n"
    "                       (default 64M)\n"
    "\n%s\n%s\n"
    "Examples:\n"
    "  sockkit serve msg :7001 unix:/tmp/msg.sock\n"
    "  sockkit serve msg tls://127.0.0.1:7443 --self-signed\n"
    "  sockkit serve msg 127.0.0.1:0 --workers 1 --max-frame 1M\n"
    "  sockkit msg 127.0.0.1:7001 '{\"op\":\"ping\",\"id\":1}'\n";

enum { OPT_MAX_FRAME = 3000 };

static int serve_msg(int argc, char **argv)
{
    static const struct option opts[] = {
        SK_CLI_SERVER_OPTS,
        SK_CLI_TLS_SERVER_OPTS,
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "serve msg";
    sk_server_config_t cfg;
    sk_server_config_defaults(&cfg);
    size_t max_frame = SK_FRAME_MAX_DEFAULT;
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vh", opts, NULL)) != -1) {
        if (c == 'h') {
            printf(msg_usage, sk_cli_server_opts_help, sk_cli_tls_server_help);
            return SK_EXIT_OK;
        }
        if (c == OPT_MAX_FRAME) {
            max_frame = (size_t)sk_cli_size(cmd, "--max-frame", optarg, 0, SK_FRAME_MAX_LIMIT);
            continue;
        }
        if (!sk_cli_server_opt(cmd, c, optarg, &cfg) && !sk_cli_tls_opt(cmd, c, optarg, &tls))
            sk_cli_usage_error(cmd, "unknown option");
    }
    if (optind >= argc)
        sk_cli_usage_error(cmd, "at least one endpoint is required");
    default_nodelay(&cfg);
    int nep = argc - optind;
    bool any_tls = false;
    sk_endpoint_t *eps = parse_endpoints(cmd, argv + optind, nep, true, &any_tls);
    sk_msg_config_t mcfg;
    if (sk_msg_config_init(&mcfg, max_frame) < 0)
        sk_cli_fail(cmd, "out of memory");
    int rc = listen_and_run(cmd, &cfg, &tls, any_tls, eps, (const char *const *)(argv + optind),
                            nep, &mcfg.service);
    free(eps);
    sk_msg_config_fini(&mcfg);
    return rc;
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
    if (strcmp(kind, "http") == 0)
        return serve_http(argc - 1, argv + 1);
    if (strcmp(kind, "echo") == 0)
        return serve_simple(kind, sk_echo_service(), argc - 1, argv + 1);
    if (strcmp(kind, "discard") == 0)
        return serve_simple(kind, sk_discard_service(), argc - 1, argv + 1);
    if (strcmp(kind, "msg") == 0)
        return serve_msg(argc - 1, argv + 1);
    sk_cli_usage_error("serve", "unknown kind '%s' (http, echo, discard, msg)", kind);
}
