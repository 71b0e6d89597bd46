/* msg.c -- `sockkit msg EP [JSON]...`: send each argument (or each line of
 * stdin) as a frame to a `serve msg` server and print each reply as one
 * JSON line, pipelining when there are many. */
#include "cli/cli.h"
#include "client/msg.h"
#include "core/log.h"
#include "proto/frame.h"

#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char msg_usage[] =
    "Usage: sockkit msg [OPTIONS] EP [JSON]...\n"
    "\n"
    "Send each JSON argument, or each line of stdin when there is none, as a frame\n"
    "(4-byte big-endian length, then the bytes) to a framed-message server such as\n"
    "'sockkit serve msg', and print each reply as one JSON line on stdout, in\n"
    "order. Requests are pipelined: up to --window are in flight at once.\n"
    "\n"
    "Options:\n"
    "  -t, --timeout S      connect timeout, and the longest wait for the server\n"
    "                       while replies are owed (default 10; 0: none)\n"
    "  -f, --fail           exit 1 if any reply has \"ok\":false\n"
    "      --max-frame N    largest request or reply payload, K/M/G allowed\n"
    "                       (default 64M)\n"
    "      --window N       requests in flight at most (default 256)\n"
    "  -4, -6               use IPv4 / IPv6 addresses only\n"
    "  -v, --verbose        report each address tried (and the TLS session)\n"
    "  -h, --help           this help;  --version  print the version\n"
    "\n%s\n"
    "Exit status: 0 when every request was answered, 1 when the connection failed,\n"
    "timed out or closed early, a reply was not JSON, or (with --fail) a reply had\n"
    "\"ok\":false; 2 on bad usage.\n"
    "\n"
    "Examples:\n"
    "  sockkit msg 127.0.0.1:7001 '{\"op\":\"ping\",\"id\":1}'\n"
    "  sockkit msg unix:/tmp/msg.sock '{\"op\":\"echo\",\"data\":[1,2]}' '{\"op\":\"stats\"}'\n"
    "  sockkit msg tls://localhost:7443 --cacert ca.pem '{\"op\":\"ping\"}'\n"
    "  printf '{\"op\":\"ping\",\"id\":%%d}\\n' $(seq 1000) | sockkit msg 127.0.0.1:7001 --fail\n";

struct printer {
    bool failed;    /* a reply had "ok":false */
    bool malformed; /* a reply was not JSON */
    bool flush;     /* flush each line (requests typed or piped in) */
    size_t n;
    const sk_msg_lines_t *lines; /* the stdin source, or NULL for arguments */
};

/* Names the request reply n answers: its stdin line, or its argument. */
static const char *request_name(const struct printer *pr, char *buf, size_t cap)
{
    size_t line = pr->lines != NULL ? sk_msg_lines_number(pr->lines, pr->n) : 0;
    if (line != 0)
        snprintf(buf, cap, "stdin line %zu", line);
    else
        snprintf(buf, cap, "request %zu", pr->n);
    return buf;
}

/* A reply without "ok":true gets one line on stderr naming its request,
 * so a bad line among thousands is found without counting replies. */
static void explain_failure(const struct printer *pr, json_t *v)
{
    char where[64], text[300];
    json_t *e = json_is_object(v) ? json_object_get(v, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    size_t i = 0;
    for (const char *p = msg; p != NULL && *p != '\0' && i < sizeof(text) - 1; p++)
        text[i++] = (unsigned char)*p < 0x20 ? '?' : *p;
    text[i] = '\0';
    request_name(pr, where, sizeof(where));
    if (code != NULL)
        fprintf(stderr, "sockkit msg: %s: %s%s%s\n", where, code, msg != NULL ? ": " : "", text);
    else
        fprintf(stderr, "sockkit msg: %s: the reply is not \"ok\":true\n", where);
}

/* Prints one reply on one line: as received when it already is one line,
 * else re-serialised compactly. */
static int print_reply(void *ctx, const char *p, size_t len)
{
    struct printer *pr = ctx;
    pr->n++;
    json_error_t jerr;
    json_t *v = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        char where[64];
        pr->malformed = true;
        sk_log_error("msg: the reply to %s is not valid JSON (%s at byte %d)",
                     request_name(pr, where, sizeof(where)), jerr.text, jerr.position);
        return 0;
    }
    json_t *ok = json_is_object(v) ? json_object_get(v, "ok") : NULL;
    if (ok == NULL || !json_is_true(ok)) {
        pr->failed = true;
        explain_failure(pr, v);
    }
    if (memchr(p, '\n', len) == NULL && memchr(p, '\r', len) == NULL) {
        fwrite(p, 1, len, stdout);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s != NULL)
            fputs(s, stdout);
        free(s);
    }
    putchar('\n');
    if (pr->flush)
        fflush(stdout);
    json_decref(v);
    return 0;
}

static void on_attempt(void *ctx, const sk_addr_t *addr, int result, uint64_t elapsed_us)
{
    (void)ctx;
    char name[160];
    sk_addr_format_peer((const struct sockaddr *)&addr->ss, addr->len, name, sizeof(name));
    if (result == 0)
        sk_log_info("connected to %s in %.3f ms", name, (double)elapsed_us / 1000.0);
    else
        sk_log_info("connect to %s failed: %s", name, sk_strerror(result));
}

int sk_cmd_msg(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"fail", no_argument, NULL, 'f'},
        {"max-frame", required_argument, NULL, 1},
        {"window", required_argument, NULL, 2},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        SK_CLI_TLS_CLIENT_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "msg";
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    int family = AF_UNSPEC;
    sk_msg_client_opts_t o = {
        .max_frame = SK_FRAME_MAX_DEFAULT, .timeout_ms = 10000, .window = 256};
    bool fail = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "46t:fvhk", opts, NULL)) != -1) {
        switch (c) {
        case '4':
            family = AF_INET;
            break;
        case '6':
            family = AF_INET6;
            break;
        case 't':
            o.timeout_ms = (int)sk_cli_seconds_ms(cmd, "--timeout", optarg);
            break;
        case 'f':
            fail = true;
            break;
        case 1:
            o.max_frame = (size_t)sk_cli_size(cmd, "--max-frame", optarg, 0, SK_FRAME_MAX_LIMIT);
            break;
        case 2:
            o.window = (unsigned)sk_cli_long(cmd, "--window", optarg, 1, 1L << 20);
            break;
        case 'v':
            sk_log_verbosity++;
            break;
        case 'h':
            printf(msg_usage, sk_cli_tls_client_help);
            return SK_EXIT_OK;
        case 'V':
            sk_cli_version();
        default:
            if (!sk_cli_tls_opt(cmd, c, optarg, &tls))
                sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        sk_cli_usage_error(cmd, "an endpoint is required");
    const char *eptext = argv[optind++];
    sk_endpoint_t ep;
    sk_cli_endpoint(cmd, eptext, &ep);
    if (!sk_endpoint_is_stream(&ep))
        sk_cli_usage_error(cmd, "'%s': framed messages need a stream endpoint (tcp, unix)", eptext);
    if (ep.transport != SK_TRANSPORT_TLS &&
        (tls.cacert != NULL || tls.insecure || tls.alpn != NULL || tls.cert != NULL))
        sk_cli_usage_error(cmd, "TLS options need a tls:// endpoint");
    if ((ep.transport == SK_TRANSPORT_TCP || ep.transport == SK_TRANSPORT_TLS) &&
        (ep.port == 0 || ep.host[0] == '\0'))
        sk_cli_usage_error(cmd, "'%s': a host and a port are required (e.g. 127.0.0.1:7001)",
                           eptext);

    sk_connect_opts_t co = {.family = family, .timeout_ms = o.timeout_ms, .on_attempt = on_attempt};
    struct sk_err err = {0};
    sk_transport_t plain, *t = &plain;
    /* The TLS context first: a bad --cacert fails before connecting. */
    void *tc = ep.transport == SK_TRANSPORT_TLS ? sk_cli_tls_client_new(cmd, &tls) : NULL;
    int fd = sk_endpoint_connect(&ep, &co, &err);
    if (fd < 0)
        sk_cli_fail(cmd, "cannot connect: %s", err.msg[0] ? err.msg : sk_strerror(fd));
    signal(SIGPIPE, SIG_IGN);
    sk_transport_plain_init(&plain, fd);
    if (tc != NULL)
        t = sk_cli_tls_client_start(cmd, tc, fd, ep.host, eptext, tls.timeout_ms);

    sk_msg_args_t args = {.args = argv + optind, .n = argc - optind};
    sk_msg_lines_t lines;
    sk_msg_lines_init(&lines, STDIN_FILENO, o.max_frame, o.window);
    sk_msg_source_t src = optind < argc
                              ? (sk_msg_source_t){sk_msg_args_next, &args, -1}
                              : (sk_msg_source_t){sk_msg_lines_next, &lines, STDIN_FILENO};
    struct printer pr = {.flush = optind >= argc, .lines = optind >= argc ? &lines : NULL};
    int rc = sk_msg_client_run(t, &src, print_reply, &pr, &o, &err);
    fflush(stdout);
    if (t != &plain)
        t->ops->free(t);
    sk_cli_tls_client_free(tc);
    close(fd);
    sk_msg_lines_fini(&lines);
    if (rc < 0 && lines.too_long != 0)
        sk_cli_fail(cmd, "%s: stdin line %zu is over --max-frame (%zu bytes)", eptext,
                    lines.too_long, o.max_frame);
    if (rc < 0)
        sk_cli_fail(cmd, "%s: %s", eptext, err.msg);
    if (pr.malformed || (fail && pr.failed))
        return SK_EXIT_FAIL;
    return SK_EXIT_OK;
}
