/* bench.c -- `sockkit bench rtt|throughput|http|conns|backends`: option
 * parsing and output for the benchmarks in src/bench. */
#include "bench/bench.h"
#include "bench/report.h"
#include "bench/rtt.h"
#include "bench/throughput.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char bench_usage[] =
    "Usage: sockkit bench KIND [OPTIONS] ...\n"
    "\n"
    "Kinds:\n"
    "  rtt EP             ping-pong round trips against an echo server\n"
    "  throughput EP      stream bytes into a sink (serve discard)\n"
    "  http URL           HTTP load, closed loop or at a fixed rate\n"
    "  conns EP -n N      open and hold N connections\n"
    "  backends           the echo server on every backend and connection count\n"
    "\n"
    "Every kind takes -d/--duration S (default 10), --json, --quiet.\n"
    "Run 'sockkit bench KIND --help' for its options.\n";

/* Options every bench shares. */
struct common {
    unsigned duration_ms;
    bool json, quiet;
};

#define OPT_JSON 2000
#define OPT_QUIET 2001
#define OPT_WARMUP 2002
#define OPT_CONNS 2003
#define OPT_COMPARE 2004
#define OPT_TIMEOUT 2005
#define OPT_SIZE 2006
#define OPT_CACERT 2007

#define COMMON_OPTS                                                                                \
    {"duration", required_argument, NULL, 'd'}, {"json", no_argument, NULL, OPT_JSON},             \
        {"quiet", no_argument, NULL, OPT_QUIET}, {"verbose", no_argument, NULL, 'v'},              \
        {"help", no_argument, NULL, 'h'},                                                          \
    {                                                                                              \
        "version", no_argument, NULL, 'V'                                                          \
    }

static const char common_help[] =
    "  -d, --duration S    measured seconds (default 10)\n"
    "      --json          print one JSON object (latencies in microseconds)\n"
    "      --quiet         no progress line (it is shown only when stderr is a terminal)\n"
    "  -v, --verbose       report each failure as it happens\n"
    "  -h, --help          this help;  --version  print the version\n";

/* Handles a shared option; false if c is not one. */
static bool common_opt(const char *cmd, int c, const char *arg, struct common *o)
{
    switch (c) {
    case 'd':
        o->duration_ms = sk_cli_seconds_ms(cmd, "--duration", arg);
        if (o->duration_ms == 0)
            sk_cli_usage_error(cmd, "--duration must be more than 0 seconds");
        return true;
    case OPT_JSON:
        o->json = true;
        return true;
    case OPT_QUIET:
        o->quiet = true;
        return true;
    case 'v':
        sk_log_verbosity++;
        return true;
    case 'V':
        sk_cli_version();
    default:
        return false;
    }
}

/* Parses a size with an optional K/M suffix (powers of 1024). */
static size_t parse_size(const char *cmd, const char *opt, const char *text, size_t max)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || text[0] == '-')
        sk_cli_usage_error(cmd, "%s: '%s' is not a size (e.g. 64, 16K, 1M)", opt, text);
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    if (*end != '\0' || v == 0 || v > max)
        sk_cli_usage_error(cmd, "%s: '%s' must be a size from 1 to %zu bytes", opt, text, max);
    return (size_t)v;
}

/* ---- rtt ------------------------------------------------------------------ */

static const char rtt_usage[] =
    "Usage: sockkit bench rtt [OPTIONS] EP\n"
    "       sockkit bench rtt --compare [OPTIONS]\n"
    "\n"
    "Ping-pong against an echo server on EP (tcp, unix, udp, unixgram, tls):\n"
    "send a message, wait for its echo, check every byte, repeat. Round trips\n"
    "are timed on the monotonic clock; an echo that differs from what was sent\n"
    "is an error, counted and reported. Datagrams carry a sequence number: no\n"
    "reply within --timeout counts as lost, and a reply after it as late.\n"
    "With --conns N, one thread drives N connections through the event loop.\n"
    "\n"
    "Options:\n"
    "  -s, --size N        message bytes (default 64; at least 8 for datagrams)\n"
    "  -c, --conns N       connections, each with one message in flight (default 1)\n"
    "      --warmup S      seconds run before measuring (default 1)\n"
    "      --timeout S     per message: a datagram is lost, a stream stalled\n"
    "                      (default 1)\n"
    "      --compare       start `sockkit serve echo --workers 1` on tcp, unix,\n"
    "                      udp and unixgram and measure each, side by side\n"
    "      --cacert FILE   tls://: trust this CA;  -k, --insecure: do not verify\n"
    "%s"
    "\n"
    "Latency depends on where the two processes run: on a VM a wake-up on the\n"
    "other core can cost ~100 us. State the pinning (taskset -c) with a figure.\n"
    "\n"
    "Examples:\n"
    "  sockkit bench rtt 127.0.0.1:7000\n"
    "  sockkit bench rtt unix:/tmp/echo.sock --size 1K -d 5 --json\n"
    "  sockkit bench rtt udp://127.0.0.1:7000 --timeout 0.1\n"
    "  taskset -c 0 sockkit bench rtt --compare -d 3\n";

struct rtt_cli {
    struct common com;
    sk_rtt_opts_t o;
};

static json_t *rtt_json(const sk_rtt_opts_t *o, const sk_rtt_stats_t *st, const char *label)
{
    sk_bench_result_t r = {.label = label,
                           .elapsed_s = st->elapsed_s,
                           .hist = &st->hist,
                           .errors = st->errors,
                           .requests = st->round_trips,
                           .bytes = st->bytes,
                           .has_requests = true,
                           .has_bytes = true};
    json_t *j = sk_bench_json(&r);
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "endpoint", json_string(label));
    json_object_set_new(j, "size", json_integer((json_int_t)o->size));
    json_object_set_new(j, "conns", json_integer((json_int_t)(o->fds ? o->nfds : o->conns)));
    json_object_set_new(j, "wrong", json_integer((json_int_t)st->wrong));
    json_object_set_new(j, "lost", json_integer((json_int_t)st->lost));
    json_object_set_new(j, "late", json_integer((json_int_t)st->late));
    json_object_set_new(j, "closed", json_integer((json_int_t)st->closed));
    json_object_set_new(j, "stalled", json_integer((json_int_t)st->stalled));
    json_object_set_new(j, "interrupted", json_boolean(st->interrupted));
    if (st->first_error[0])
        json_object_set_new(j, "first_error", json_string(st->first_error));
    return j;
}

static void rtt_notes(const sk_rtt_stats_t *st, const char *label)
{
    if (st->lost || st->late)
        fprintf(stderr, "%s: %llu datagrams lost, %llu late\n", label, (unsigned long long)st->lost,
                (unsigned long long)st->late);
    if (st->errors)
        fprintf(stderr,
                "%s: %llu errors (%llu wrong echoes, %llu closed, %llu stalled); first: %s\n",
                label, (unsigned long long)st->errors, (unsigned long long)st->wrong,
                (unsigned long long)st->closed, (unsigned long long)st->stalled, st->first_error);
    if (st->interrupted)
        fprintf(stderr, "%s: interrupted; the figures cover %.2f s\n", label, st->elapsed_s);
}

static int rtt_compare(struct rtt_cli *c)
{
    const char *cmd = "bench rtt";
    char unix_ep[64], gram_ep[64];
    snprintf(unix_ep, sizeof(unix_ep), "unix:@sockkit-bench-%d-stream", (int)getpid());
    snprintf(gram_ep, sizeof(gram_ep), "unixgram:@sockkit-bench-%d-dgram", (int)getpid());
    char *argv[] = {
        "sockkit",           "serve", "echo", "--workers", "1", "tcp://127.0.0.1:0", unix_ep,
        "udp://127.0.0.1:0", gram_ep, NULL};
    sk_bench_server_t srv;
    struct sk_err err = {0};
    if (sk_bench_server_start(&srv, argv, 4, 10000, &err) < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    static const char *const labels[] = {"tcp", "unix", "udp", "unixgram"};
    static const char *const prefixes[] = {"tcp://", "unix:", "udp://", "unixgram:"};
    sk_rtt_stats_t *st = sk_xcalloc(4, sizeof(*st));
    sk_bench_result_t res[4];
    size_t n = 0;
    int failed = 0;
    for (size_t i = 0; i < 4 && !sk_bench_interrupted; i++) {
        const char *text = NULL;
        for (int k = 0; k < srv.neps; k++)
            if (strncmp(srv.eps[k], prefixes[i], strlen(prefixes[i])) == 0)
                text = srv.eps[k];
        if (text == NULL)
            continue;
        sk_endpoint_t ep;
        if (sk_endpoint_parse(&ep, text, &err) < 0)
            continue;
        sk_rtt_opts_t o = c->o;
        o.ep = &ep;
        if (!c->com.quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "%s: %s\n", labels[i], text);
        if (sk_rtt_run(&o, &st[n], &err) < 0) {
            fprintf(stderr, "sockkit %s: %s: %s\n", cmd, labels[i], err.msg);
            failed++;
            continue;
        }
        res[n] = (sk_bench_result_t){.label = labels[i],
                                     .elapsed_s = st[n].elapsed_s,
                                     .hist = &st[n].hist,
                                     .errors = st[n].errors,
                                     .requests = st[n].round_trips,
                                     .has_requests = true};
        n++;
    }
    sk_bench_server_stop(&srv);
    if (c->com.json) {
        json_t *all = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(all, res[i].label, rtt_json(&c->o, &st[i], res[i].label));
        sk_bench_json_emit(all);
    } else {
        printf("echo round trips, %zu-byte messages, %u connection%s each, `serve echo "
               "--workers 1`\n",
               c->o.size, c->o.conns, c->o.conns == 1 ? "" : "s");
        sk_bench_print_compare(stdout, res, n);
    }
    for (size_t i = 0; i < n; i++)
        rtt_notes(&st[i], res[i].label);
    free(st);
    return failed && n == 0 ? SK_EXIT_FAIL : SK_EXIT_OK;
}

static int cmd_rtt(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"conns", required_argument, NULL, 'c'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"compare", no_argument, NULL, OPT_COMPARE},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"insecure", no_argument, NULL, 'k'},
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench rtt";
    struct rtt_cli c = {.com = {.duration_ms = 10000},
                        .o = {.size = 64, .conns = 1, .warmup_ms = 1000, .timeout_ms = 1000}};
    bool compare = false, insecure = false;
    const char *cacert = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:c:d:kvh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &c.com))
            continue;
        switch (ch) {
        case 's':
            c.o.size = parse_size(cmd, "--size", optarg, 16u << 20);
            break;
        case 'c':
            c.o.conns = (unsigned)sk_cli_long(cmd, "--conns", optarg, 1, 100000);
            break;
        case OPT_WARMUP:
            c.o.warmup_ms = sk_cli_seconds_ms(cmd, "--warmup", optarg);
            break;
        case OPT_TIMEOUT:
            c.o.timeout_ms = sk_cli_seconds_ms(cmd, "--timeout", optarg);
            if (c.o.timeout_ms == 0)
                sk_cli_usage_error(cmd, "--timeout must be at least 1 ms");
            break;
        case OPT_COMPARE:
            compare = true;
            break;
        case OPT_CACERT:
            cacert = optarg;
            break;
        case 'k':
            insecure = true;
            break;
        case 'h':
            printf(rtt_usage, common_help);
            return SK_EXIT_OK;
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    c.o.duration_ms = c.com.duration_ms;
    c.o.quiet = c.com.quiet;
    c.o.verbose = sk_log_verbosity > 0;
    sk_bench_signals();
    if (compare) {
        if (optind != argc)
            sk_cli_usage_error(cmd, "--compare starts its own servers and takes no endpoint");
        if (c.o.size < 8)
            sk_cli_usage_error(cmd, "--compare includes datagrams, which need --size 8 or more");
        return rtt_compare(&c);
    }
    if (optind != argc - 1)
        sk_cli_usage_error(cmd, optind >= argc ? "an endpoint is required (or --compare)"
                                               : "exactly one endpoint is expected");
    sk_endpoint_t ep;
    sk_cli_endpoint(cmd, argv[optind], &ep);
    if (ep.port == 0 && ep.transport != SK_TRANSPORT_UNIX && ep.transport != SK_TRANSPORT_UNIXGRAM)
        sk_cli_usage_error(cmd, "port 0 cannot be connected to");
    if (ep.host[0] == '\0' && ep.transport != SK_TRANSPORT_UNIX &&
        ep.transport != SK_TRANSPORT_UNIXGRAM)
        sk_cli_usage_error(cmd, "a host is required (e.g. 127.0.0.1:%u)", ep.port);
    if (!sk_endpoint_is_stream(&ep) && c.o.size < 8)
        sk_cli_usage_error(cmd, "datagram messages carry an 8-byte sequence number: use --size 8 "
                                "or more");
    (void)cacert;
    (void)insecure;
    if (ep.transport == SK_TRANSPORT_TLS)
        sk_cli_usage_error(cmd, "tls:// is not supported by this build yet (the TLS client has "
                                "not landed)");
    c.o.ep = &ep;
    sk_rtt_stats_t *st = sk_xcalloc(1, sizeof(*st));
    struct sk_err err = {0};
    if (sk_rtt_run(&c.o, st, &err) < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    if (c.com.json) {
        if (sk_bench_json_emit(rtt_json(&c.o, st, argv[optind])) < 0)
            sk_cli_fail(cmd, "cannot write the JSON result");
    } else {
        printf("%s: %zu-byte echo round trips, %u connection%s\n", argv[optind], c.o.size,
               c.o.conns, c.o.conns == 1 ? "" : "s");
        sk_bench_result_t r = {.label = argv[optind],
                               .elapsed_s = st->elapsed_s,
                               .hist = &st->hist,
                               .errors = st->errors,
                               .requests = st->round_trips,
                               .has_requests = true};
        sk_bench_print(stdout, &r);
    }
    rtt_notes(st, argv[optind]);
    free(st);
    return SK_EXIT_OK;
}

/* ---- throughput ----------------------------------------------------------- */

static const char tput_usage[] =
    "Usage: sockkit bench throughput [OPTIONS] EP\n"
    "       sockkit bench throughput --compare [OPTIONS]\n"
    "\n"
    "Stream bytes into a sink on EP (tcp or unix; `sockkit serve discard`, or\n"
    "anything that reads and drops) as fast as the socket takes them: each\n"
    "stream is one connection and one thread calling write(2) with --size\n"
    "bytes. Reports bytes/s and Gbit/s of what the kernel accepted, and the\n"
    "sender's CPU time over the measured interval.\n"
    "\n"
    "Options:\n"
    "  -s, --size N        bytes per write (default 64K; K and M suffixes)\n"
    "  -P, --streams N     parallel connections, one thread each (default 1)\n"
    "      --warmup S      seconds sent before measuring (default 1)\n"
    "      --compare       start `sockkit serve discard --workers 1` on tcp and\n"
    "                      unix and measure both, side by side\n"
    "%s"
    "\n"
    "Examples:\n"
    "  sockkit serve discard 127.0.0.1:9000 & sockkit bench throughput 127.0.0.1:9000\n"
    "  sockkit bench throughput unix:/tmp/sink.sock --size 1K -P 2 --json\n"
    "  sockkit bench throughput --compare -d 5\n";

static json_t *tput_json(const sk_tput_opts_t *o, const sk_tput_stats_t *st, const char *label)
{
    sk_bench_result_t r = {.label = label,
                           .elapsed_s = st->elapsed_s,
                           .errors = st->errors,
                           .bytes = st->bytes,
                           .has_bytes = true};
    json_t *j = sk_bench_json(&r);
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "endpoint", json_string(label));
    json_object_set_new(j, "size", json_integer((json_int_t)o->size));
    json_object_set_new(j, "streams", json_integer((json_int_t)o->streams));
    json_object_set_new(j, "writes", json_integer((json_int_t)st->writes));
    json_object_set_new(j, "cpu_user_s", json_real(st->cpu_user_s));
    json_object_set_new(j, "cpu_sys_s", json_real(st->cpu_sys_s));
    json_object_set_new(j, "interrupted", json_boolean(st->interrupted));
    if (st->first_error[0])
        json_object_set_new(j, "first_error", json_string(st->first_error));
    return j;
}

static void tput_print(const sk_tput_stats_t *st, size_t n, const sk_bench_result_t *r)
{
    sk_bench_print_compare(stdout, r, n);
    printf("%-14s", "sender CPU s");
    for (size_t i = 0; i < n; i++) {
        char cell[32];
        snprintf(cell, sizeof(cell), "%.2f+%.2f", st[i].cpu_user_s, st[i].cpu_sys_s);
        printf(" %14s", cell);
    }
    printf("\n%-14s", "CPU s per GB");
    for (size_t i = 0; i < n; i++)
        printf(" %14.3f", st[i].bytes
                              ? (st[i].cpu_user_s + st[i].cpu_sys_s) * 1e9 / (double)st[i].bytes
                              : 0.0);
    printf("\n(sender CPU is user+system time of this process)\n");
    for (size_t i = 0; i < n; i++) {
        if (st[i].errors)
            fprintf(stderr, "%s: %llu streams failed; first: %s\n", r[i].label,
                    (unsigned long long)st[i].errors, st[i].first_error);
        if (st[i].interrupted)
            fprintf(stderr, "%s: interrupted; the figures cover %.2f s\n", r[i].label,
                    st[i].elapsed_s);
    }
}

static int cmd_throughput(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"streams", required_argument, NULL, 'P'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"compare", no_argument, NULL, OPT_COMPARE},
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench throughput";
    struct common com = {.duration_ms = 10000};
    sk_tput_opts_t o = {.size = 64 * 1024, .streams = 1, .warmup_ms = 1000};
    bool compare = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:P:d:vh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &com))
            continue;
        switch (ch) {
        case 's':
            o.size = parse_size(cmd, "--size", optarg, 64u << 20);
            break;
        case 'P':
            o.streams = (unsigned)sk_cli_long(cmd, "--streams", optarg, 1, 256);
            break;
        case OPT_WARMUP:
            o.warmup_ms = sk_cli_seconds_ms(cmd, "--warmup", optarg);
            break;
        case OPT_COMPARE:
            compare = true;
            break;
        case 'h':
            printf(tput_usage, common_help);
            return SK_EXIT_OK;
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    o.duration_ms = com.duration_ms;
    o.quiet = com.quiet;
    sk_bench_signals();
    struct sk_err err = {0};
    sk_endpoint_t eps[2];
    const char *labels[2];
    size_t neps = 0;
    sk_bench_server_t srv = {.pid = -1, .errfd = -1};
    if (compare) {
        if (optind != argc)
            sk_cli_usage_error(cmd, "--compare starts its own servers and takes no endpoint");
        char unix_ep[64];
        snprintf(unix_ep, sizeof(unix_ep), "unix:@sockkit-bench-%d-sink", (int)getpid());
        char *sargv[] = {"sockkit",           "serve", "discard", "--workers", "1",
                         "tcp://127.0.0.1:0", unix_ep, NULL};
        if (sk_bench_server_start(&srv, sargv, 2, 10000, &err) < 0)
            sk_cli_fail(cmd, "%s", err.msg);
        for (int k = 0; k < srv.neps && neps < 2; k++) {
            if (sk_endpoint_parse(&eps[neps], srv.eps[k], &err) < 0)
                continue;
            labels[neps] = eps[neps].transport == SK_TRANSPORT_TCP ? "tcp" : "unix";
            neps++;
        }
    } else {
        if (optind != argc - 1)
            sk_cli_usage_error(cmd, optind >= argc ? "an endpoint is required (or --compare)"
                                                   : "exactly one endpoint is expected");
        sk_cli_endpoint(cmd, argv[optind], &eps[0]);
        if (eps[0].transport == SK_TRANSPORT_TLS)
            sk_cli_usage_error(cmd, "tls:// is not supported by bench throughput");
        if (!sk_endpoint_is_stream(&eps[0]))
            sk_cli_usage_error(cmd, "throughput needs a stream endpoint (tcp or unix): a "
                                    "datagram sender cannot know what arrived");
        if (eps[0].port == 0 && eps[0].transport == SK_TRANSPORT_TCP)
            sk_cli_usage_error(cmd, "port 0 cannot be connected to");
        labels[0] = argv[optind];
        neps = 1;
    }
    sk_tput_stats_t st[2];
    sk_bench_result_t res[2];
    size_t n = 0;
    for (size_t i = 0; i < neps && !sk_bench_interrupted; i++) {
        sk_tput_opts_t oi = o;
        oi.ep = &eps[i];
        if (sk_tput_run(&oi, &st[n], &err) < 0) {
            sk_bench_server_stop(&srv);
            sk_cli_fail(cmd, "%s", err.msg);
        }
        res[n] = (sk_bench_result_t){.label = labels[i],
                                     .elapsed_s = st[n].elapsed_s,
                                     .errors = st[n].errors,
                                     .bytes = st[n].bytes,
                                     .has_bytes = true};
        n++;
    }
    sk_bench_server_stop(&srv);
    if (com.json) {
        json_t *j;
        if (compare) {
            j = json_object();
            for (size_t i = 0; i < n; i++)
                json_object_set_new(j, labels[i], tput_json(&o, &st[i], labels[i]));
        } else {
            j = tput_json(&o, &st[0], labels[0]);
        }
        if (sk_bench_json_emit(j) < 0)
            sk_cli_fail(cmd, "cannot write the JSON result");
    } else {
        printf("%zu-byte writes, %u stream%s%s\n", o.size, o.streams, o.streams == 1 ? "" : "s",
               compare ? ", `serve discard --workers 1`" : "");
        tput_print(st, n, res);
    }
    return SK_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------- */

int sk_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        fputs(bench_usage, stderr);
        return SK_EXIT_USAGE;
    }
    const char *kind = argv[1];
    if (strcmp(kind, "--help") == 0 || strcmp(kind, "-h") == 0) {
        fputs(bench_usage, stdout);
        return SK_EXIT_OK;
    }
    if (strcmp(kind, "--version") == 0)
        sk_cli_version();
    if (strcmp(kind, "rtt") == 0)
        return cmd_rtt(argc - 1, argv + 1);
    if (strcmp(kind, "throughput") == 0)
        return cmd_throughput(argc - 1, argv + 1);
    sk_cli_usage_error("bench", "unknown kind '%s' (rtt, throughput, http, conns, backends)", kind);
}
