/* bench.c -- `sockkit bench rtt|throughput|http|conns|backends`: option
 * parsing and output for the benchmarks in src/bench. */
#include "bench/backends.h"
#include "bench/bench.h"
#include "bench/report.h"
#include "bench/conns.h"
#include "bench/http_load.h"
#include "bench/rtt.h"
#include "bench/throughput.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/url.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#ifdef SK_HAVE_OPENSSL
#include "tls/tls.h"
#endif

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
    "\n"
    "Examples:\n"
    "  sockkit bench rtt 127.0.0.1:7000 --size 64 -d 10\n"
    "  sockkit bench http http://127.0.0.1:8080/ -c 50 -t 1 --json\n"
    "  sockkit bench backends --svg backends.svg\n"
    "Run 'sockkit bench KIND --help' for its options.\n";

/* Options every bench shares. */
struct common {
    unsigned duration_ms;
    bool json, quiet;
};

#define OPT_JSON 2000
#define OPT_QUIET 2001
#define OPT_WARMUP 2002
#define OPT_COMPARE 2004
#define OPT_TIMEOUT 2005
#define OPT_HOLD 2007
#define OPT_SAMPLE 2008
#define OPT_SRC_FIRST 2009
#define OPT_CHILD 2010
#define OPT_BACKENDS 2011
#define OPT_LADDER 2012
#define OPT_ACTIVE 2013
#define OPT_CSV 2014
#define OPT_SVG 2015
#define OPT_NO_KEEPALIVE 2016

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

/* Exits 2 unless ep can be connected to: a Unix path, or a host and a
 * non-zero port. */
static void check_connectable(const char *cmd, const sk_endpoint_t *ep)
{
    if (ep->transport == SK_TRANSPORT_UNIX || ep->transport == SK_TRANSPORT_UNIXGRAM)
        return;
    if (ep->port == 0)
        sk_cli_usage_error(cmd, "port 0 cannot be connected to");
    if (ep->host[0] == '\0')
        sk_cli_usage_error(cmd, "a host is required (e.g. 127.0.0.1:%u)", ep->port);
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
    "%s"
    "\n%s"
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

/* The report view of a ping-pong run (bytes only in the JSON object). */
static sk_bench_result_t rtt_result(const char *label, const sk_rtt_stats_t *st)
{
    return (sk_bench_result_t){.label = label,
                               .elapsed_s = st->elapsed_s,
                               .hist = &st->hist,
                               .errors = st->errors,
                               .requests = st->round_trips,
                               .bytes = st->bytes,
                               .has_requests = true};
}

static json_t *rtt_json(const sk_rtt_opts_t *o, const sk_rtt_stats_t *st, const char *label)
{
    sk_bench_result_t r = rtt_result(label, st);
    r.has_bytes = true;
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
        res[n] = rtt_result(labels[i], &st[n]);
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

#ifdef SK_HAVE_OPENSSL
/* tls:// for the rtt engine: wrap each connection and finish its handshake
 * before the clock starts, so round trips time only the records. */
struct tls_wrap {
    sk_tls_client_t *tc;
    const char *host;
    unsigned timeout_ms;
};

static int tls_wrap(void *ctx, int fd, sk_transport_t **out, struct sk_err *err)
{
    struct tls_wrap *w = ctx;
    int rc = sk_tls_client_wrap(w->tc, fd, w->host, out);
    if (rc < 0)
        return sk_err_set(err, rc, "cannot set up TLS for host '%s': %s", w->host, sk_strerror(rc));
    rc = sk_tls_handshake(*out, w->timeout_ms, err);
    if (rc < 0) {
        (*out)->ops->free(*out);
        *out = NULL;
    }
    return rc;
}

/* https for the load generator: wrap only; the handshake runs inside the
 * event loop on the connection's first reads and writes. */
static int tls_wrap_async(void *ctx, int fd, sk_transport_t **out)
{
    struct tls_wrap *w = ctx;
    return sk_tls_client_wrap(w->tc, fd, w->host, out);
}
#endif

static int cmd_rtt(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"conns", required_argument, NULL, 'c'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"compare", no_argument, NULL, OPT_COMPARE},
        SK_CLI_TLS_CLIENT_OPTS,
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench rtt";
    struct rtt_cli c = {.com = {.duration_ms = 10000},
                        .o = {.size = 64, .conns = 1, .warmup_ms = 1000, .timeout_ms = 1000}};
    bool compare = false;
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:c:d:kvh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &c.com) || sk_cli_tls_opt(cmd, ch, optarg, &tls))
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
        case 'h':
            printf(rtt_usage, common_help, sk_cli_tls_client_help);
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
    check_connectable(cmd, &ep);
    if (!sk_endpoint_is_stream(&ep) && c.o.size < 8)
        sk_cli_usage_error(cmd, "datagram messages carry an 8-byte sequence number: use --size 8 "
                                "or more");
#ifdef SK_HAVE_OPENSSL
    struct tls_wrap tw = {.host = ep.host, .timeout_ms = tls.timeout_ms};
    if (ep.transport == SK_TRANSPORT_TLS) {
        sk_tls_client_opts_t to = {.cacert = tls.cacert,
                                   .insecure = tls.insecure,
                                   .alpn = tls.alpn,
                                   .verbose = sk_log_verbosity};
        struct sk_err terr = {0};
        int trc = sk_tls_client_new(&tw.tc, &to, &terr);
        if (trc == SK_EUSAGE)
            sk_cli_usage_error(cmd, "%s", terr.msg);
        if (trc < 0)
            sk_cli_fail(cmd, "%s", terr.msg);
        c.o.wrap = tls_wrap;
        c.o.wrap_ctx = &tw;
    }
#else
    if (ep.transport == SK_TRANSPORT_TLS)
        sk_cli_usage_error(cmd, "TLS is not built in (OpenSSL was missing at build time)");
#endif
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
        sk_bench_result_t r = rtt_result(argv[optind], st);
        sk_bench_print(stdout, &r);
    }
    rtt_notes(st, argv[optind]);
    free(st);
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_free(tw.tc);
#endif
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
        check_connectable(cmd, &eps[0]);
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

/* ---- conns ---------------------------------------------------------------- */

static const char conns_usage[] =
    "Usage: sockkit bench conns [OPTIONS] EP -n N\n"
    "\n"
    "Open N stream connections to EP (tcp or unix) at a bounded rate, hold them,\n"
    "and report how many opened, how many failed and how long opening took.\n"
    "Toward 127.0.0.0/8, when one source address runs out of ephemeral ports\n"
    "the next one is used (127.0.0.2, 127.0.0.3, ...). The fd soft limit is\n"
    "raised to the hard one; above what one process may hold (the hard limit\n"
    "less a reserve, ~19,800 here) the work is split over several processes.\n"
    "While holding, a few connections send a 64-byte ping every 100 ms and\n"
    "check its echo (use an echo server, or --sample 0).\n"
    "\n"
    "Options:\n"
    "  -n, --conns N       connections to open (required, up to 1000000)\n"
    "  -r, --rate R        connect() calls per second (default 5000; 0: no bound)\n"
    "      --hold S        seconds to hold them once open (default 5)\n"
    "      --sample N      connections that ping while holding (default 4; 0: none)\n"
    "      --timeout S     per connect (default 5)\n"
    "  -p, --pid PID       the server's process: report its RSS before and after,\n"
    "                      and the bytes per connection\n"
    "  -d, --duration S    bound on the opening phase (default 10)\n"
    "      --json          print one JSON object;  --quiet  no progress line\n"
    "  -v, --verbose;  -h, --help;  --version\n"
    "\n"
    "Examples:\n"
    "  sockkit bench conns 127.0.0.1:7000 -n 10000 --pid $(pgrep -n sockkit)\n"
    "  sockkit bench conns unix:/tmp/echo.sock -n 5000 --rate 0 --hold 2 --json\n"
    "  sockkit bench conns 127.0.0.1:7000 -n 50000 --rate 10000 --sample 0\n";

struct conns_cli {
    struct common com;
    sk_conns_opts_t o;
    const char *ep_text;
    unsigned hold_ms;
    unsigned sample;
    long pid;
    bool child;
};

/* Holds the set for hold_ms, pinging on the first `sample` connections;
 * the ping results go into *rtt. Returns the connections closed by the
 * peer by the end. */
static unsigned conns_hold(struct conns_cli *c, sk_conns_set_t *set, sk_rtt_stats_t *rtt)
{
    unsigned k = c->sample < set->opened ? c->sample : set->opened;
    if (k > 0) {
        sk_rtt_opts_t ro = {.ep = c->o.ep,
                            .size = 64,
                            .duration_ms = c->hold_ms,
                            .timeout_ms = 1000,
                            .interval_ms = 100,
                            .fds = set->fds,
                            .nfds = k,
                            .quiet = true,
                            .verbose = sk_log_verbosity > 0};
        struct sk_err err = {0};
        if (sk_rtt_run(&ro, rtt, &err) < 0) {
            rtt->errors++;
            snprintf(rtt->first_error, sizeof(rtt->first_error), "%s", err.msg);
        }
    } else {
        uint64_t end = sk_clock_ms() + c->hold_ms;
        while (!sk_bench_interrupted && sk_clock_ms() < end)
            usleep(20000);
    }
    return sk_conns_count_closed(set);
}

static json_t *conns_open_json(const sk_conns_set_t *set)
{
    json_t *j = json_object();
    json_object_set_new(j, "opened", json_integer(set->opened));
    json_object_set_new(j, "failed", json_integer(set->failed));
    json_object_set_new(j, "retried", json_integer(set->retried));
    json_object_set_new(j, "sources", json_integer(set->sources));
    json_object_set_new(j, "open_s", json_real(set->open_s));
    json_object_set_new(j, "interrupted", json_boolean(set->interrupted));
    if (set->first_error[0])
        json_object_set_new(j, "first_error", json_string(set->first_error));
    return j;
}

static json_t *conns_sample_json(const sk_rtt_stats_t *rtt, unsigned closed)
{
    sk_bench_result_t r = {.elapsed_s = rtt->elapsed_s,
                           .hist = &rtt->hist,
                           .errors = rtt->errors,
                           .requests = rtt->round_trips,
                           .has_requests = true};
    json_t *j = sk_bench_json(&r);
    json_object_set_new(j, "closed_by_peer", json_integer(closed));
    if (rtt->first_error[0])
        json_object_set_new(j, "sample_error", json_string(rtt->first_error));
    return j;
}

/* --child: open, report, wait for the parent's go on stdin, hold, report. */
static int conns_child(struct conns_cli *c)
{
    sk_conns_set_t set;
    struct sk_err err = {0};
    if (sk_conns_open(&c->o, &set, &err) < 0)
        sk_cli_fail("bench conns", "%s", err.msg);
    sk_bench_json_emit(conns_open_json(&set));
    char b[16];
    while (read(STDIN_FILENO, b, sizeof(b)) < 0 && errno == EINTR && !sk_bench_interrupted)
        ;
    sk_rtt_stats_t *rtt = sk_xcalloc(1, sizeof(*rtt));
    unsigned closed = conns_hold(c, &set, rtt);
    sk_bench_json_emit(conns_sample_json(rtt, closed));
    free(rtt);
    sk_conns_close(&set);
    return SK_EXIT_OK;
}

/* Reads one line from fd within timeout_ms into buf; returns its length or
 * -1. */
static int read_line(int fd, char *buf, size_t cap, uint64_t deadline_ms)
{
    size_t len = 0;
    while (len + 1 < cap) {
        uint64_t now = sk_clock_ms();
        if (now >= deadline_ms)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(deadline_ms - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, 1);
        if (n <= 0)
            return -1;
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return (int)len;
}

struct child {
    pid_t pid;
    int in, out;
};

/* Reads one JSON object on one line from a helper process; NULL on
 * timeout, end of file or bad JSON. */
static json_t *read_json_line(int fd, uint64_t deadline_ms)
{
    char line[4096];
    json_error_t je;
    return read_line(fd, line, sizeof(line), deadline_ms) >= 0 ? json_loads(line, 0, &je) : NULL;
}

static pid_t spawn_child(char **argv, int *in, int *out)
{
    int pin[2], pout[2];
    if (pipe2(pin, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(pout, O_CLOEXEC) < 0) {
        close(pin[0]);
        close(pin[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_IGN); /* the parent tells it to stop by closing stdin */
        dup2(pin[0], STDIN_FILENO);
        dup2(pout[1], STDOUT_FILENO);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    if (pid < 0) {
        close(pin[1]);
        close(pout[0]);
        return -1;
    }
    *in = pin[1];
    *out = pout[0];
    return pid;
}

static uint64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static int cmd_conns(int argc, char **argv)
{
    static const struct option opts[] = {
        {"conns", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"hold", required_argument, NULL, OPT_HOLD},
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"pid", required_argument, NULL, 'p'},
        {"src-first", required_argument, NULL, OPT_SRC_FIRST},
        {"child", no_argument, NULL, OPT_CHILD},
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench conns";
    struct conns_cli c = {.com = {.duration_ms = 10000},
                          .o = {.rate = 5000, .timeout_ms = 5000},
                          .hold_ms = 5000,
                          .sample = 4,
                          .pid = -1};
    long n = -1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "n:r:p:d:vh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &c.com))
            continue;
        switch (ch) {
        case 'n':
            n = sk_cli_long(cmd, "-n", optarg, 1, 1000000);
            break;
        case 'r':
            c.o.rate = (unsigned)sk_cli_long(cmd, "--rate", optarg, 0, 10000000);
            break;
        case OPT_HOLD:
            c.hold_ms = sk_cli_seconds_ms(cmd, "--hold", optarg);
            break;
        case OPT_SAMPLE:
            c.sample = (unsigned)sk_cli_long(cmd, "--sample", optarg, 0, 1000);
            break;
        case OPT_TIMEOUT:
            c.o.timeout_ms = sk_cli_seconds_ms(cmd, "--timeout", optarg);
            if (c.o.timeout_ms == 0)
                sk_cli_usage_error(cmd, "--timeout must be at least 1 ms");
            break;
        case 'p':
            c.pid = sk_cli_long(cmd, "--pid", optarg, 1, 1 << 30);
            break;
        case OPT_SRC_FIRST:
            c.o.src_first = (unsigned)sk_cli_long(cmd, "--src-first", optarg, 0, 254);
            break;
        case OPT_CHILD:
            c.child = true;
            break;
        case 'h':
            fputs(conns_usage, stdout);
            return SK_EXIT_OK;
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind != argc - 1)
        sk_cli_usage_error(cmd, optind >= argc ? "an endpoint is required"
                                               : "exactly one endpoint is expected");
    if (n < 0)
        sk_cli_usage_error(cmd, "-n N (how many connections) is required");
    c.ep_text = argv[optind];
    sk_endpoint_t ep;
    sk_cli_endpoint(cmd, c.ep_text, &ep);
    if (ep.transport != SK_TRANSPORT_TCP && ep.transport != SK_TRANSPORT_UNIX)
        sk_cli_usage_error(cmd, "connections need a tcp or unix endpoint");
    check_connectable(cmd, &ep);
    c.o.ep = &ep;
    c.o.n = (unsigned)n;
    c.o.max_ms = c.com.duration_ms;
    c.o.quiet = c.com.quiet || c.child;
    sk_bench_signals();
    if (c.child)
        return conns_child(&c);

    unsigned per = sk_conns_per_process();
    unsigned procs = (c.o.n + per - 1) / per;
    long rss0 = c.pid > 0 ? sk_bench_rss_kb((pid_t)c.pid) : 0;
    if (c.pid > 0 && rss0 < 0)
        sk_cli_fail(cmd, "--pid %ld: cannot read its memory: %s", c.pid, sk_strerror((int)rss0));
    sk_conns_set_t set = {0};
    sk_rtt_stats_t *rtt = sk_xcalloc(1, sizeof(*rtt));
    json_t *sample = NULL;
    uint64_t opened = 0, failed = 0, retried = 0, sources = 0;
    double open_s = 0;
    char first_error[160] = "";
    long rss1 = 0;
    unsigned closed = 0;
    if (procs <= 1) {
        struct sk_err err = {0};
        if (sk_conns_open(&c.o, &set, &err) < 0)
            sk_cli_fail(cmd, "%s", err.msg);
        opened = set.opened, failed = set.failed, retried = set.retried, sources = set.sources;
        open_s = set.open_s;
        snprintf(first_error, sizeof(first_error), "%s", set.first_error);
        rss1 = c.pid > 0 ? sk_bench_rss_kb((pid_t)c.pid) : 0;
        if (!sk_bench_interrupted)
            closed = conns_hold(&c, &set, rtt);
        sample = conns_sample_json(rtt, closed);
        sk_conns_close(&set);
    } else {
        /* Several processes, each opening its share from its own source
         * address; the parent samples the server's memory once all are
         * open, then lets them hold. */
        struct child *kids = sk_xcalloc(procs, sizeof(*kids));
        char nbuf[16], rbuf[16], hbuf[32], sbuf[16], tbuf[32], dbuf[32], fbuf[16];
        for (unsigned i = 0; i < procs; i++) {
            unsigned share = c.o.n / procs + (i < c.o.n % procs ? 1 : 0);
            snprintf(nbuf, sizeof(nbuf), "%u", share);
            snprintf(rbuf, sizeof(rbuf), "%u", c.o.rate ? (c.o.rate + procs - 1) / procs : 0);
            snprintf(hbuf, sizeof(hbuf), "%.3f", c.hold_ms / 1000.0);
            snprintf(sbuf, sizeof(sbuf), "%u", i == 0 ? c.sample : 0);
            snprintf(tbuf, sizeof(tbuf), "%.3f", c.o.timeout_ms / 1000.0);
            snprintf(dbuf, sizeof(dbuf), "%.3f", c.com.duration_ms / 1000.0);
            snprintf(fbuf, sizeof(fbuf), "%u", i + 2);
            char *cargv[] = {"sockkit",     "bench", "conns",    (char *)c.ep_text,
                             "-n",          nbuf,    "--rate",   rbuf,
                             "--hold",      hbuf,    "--sample", sbuf,
                             "--timeout",   tbuf,    "-d",       dbuf,
                             "--src-first", fbuf,    "--child",  NULL};
            kids[i].pid = spawn_child(cargv, &kids[i].in, &kids[i].out);
            if (kids[i].pid < 0)
                sk_cli_fail(cmd, "cannot start a helper process: %s", strerror(errno));
        }
        uint64_t deadline = sk_clock_ms() + c.com.duration_ms + c.o.timeout_ms + 10000;
        for (unsigned i = 0; i < procs; i++) {
            json_t *j = read_json_line(kids[i].out, deadline);
            if (j == NULL) {
                failed += c.o.n / procs;
                snprintf(first_error, sizeof(first_error), "helper process %u failed", i);
                continue;
            }
            opened += jint(j, "opened");
            failed += jint(j, "failed");
            retried += jint(j, "retried");
            sources += jint(j, "sources");
            double s = json_number_value(json_object_get(j, "open_s"));
            open_s = s > open_s ? s : open_s;
            const char *fe = json_string_value(json_object_get(j, "first_error"));
            if (fe != NULL && first_error[0] == '\0')
                snprintf(first_error, sizeof(first_error), "%s", fe);
            json_decref(j);
        }
        rss1 = c.pid > 0 ? sk_bench_rss_kb((pid_t)c.pid) : 0;
        for (unsigned i = 0; i < procs; i++) {
            if (write(kids[i].in, "go\n", 3) < 0)
                continue;
        }
        deadline = sk_clock_ms() + c.hold_ms + 15000;
        for (unsigned i = 0; i < procs; i++) {
            json_t *j = read_json_line(kids[i].out, deadline);
            if (j != NULL) {
                closed += (unsigned)jint(j, "closed_by_peer");
                if (i == 0)
                    sample = j;
                else
                    json_decref(j);
            }
            close(kids[i].in);
            close(kids[i].out);
            kill(kids[i].pid, SIGTERM);
            waitpid(kids[i].pid, NULL, 0);
        }
        free(kids);
        if (sample == NULL)
            sample = json_object();
    }

    uint64_t sample_errors = jint(sample, "errors");
    json_t *out = json_object();
    json_object_set_new(out, "endpoint", json_string(c.ep_text));
    json_object_set_new(out, "wanted", json_integer((json_int_t)c.o.n));
    json_object_set_new(out, "opened", json_integer((json_int_t)opened));
    json_object_set_new(out, "failed", json_integer((json_int_t)failed));
    json_object_set_new(out, "retried", json_integer((json_int_t)retried));
    json_object_set_new(out, "processes", json_integer(procs));
    json_object_set_new(out, "sources", json_integer((json_int_t)sources));
    json_object_set_new(out, "open_s", json_real(open_s));
    json_object_set_new(out, "open_per_s", json_real(open_s > 0 ? (double)opened / open_s : 0));
    json_object_set_new(out, "hold_s", json_real(c.hold_ms / 1000.0));
    json_object_set_new(out, "closed_by_peer", json_integer(closed));
    if (first_error[0])
        json_object_set_new(out, "first_error", json_string(first_error));
    /* The sample's latency keys (count, p50_us, ...) are the design's
     * keys; errors counts failed connects and failed pings together. */
    const char *k;
    json_t *v;
    json_object_foreach(sample, k, v)
    {
        if (strcmp(k, "errors") != 0 && strcmp(k, "closed_by_peer") != 0 &&
            strcmp(k, "duration_s") != 0)
            json_object_set(out, k, v);
    }
    json_object_set_new(out, "sample_errors", json_integer((json_int_t)sample_errors));
    json_object_set_new(out, "errors", json_integer((json_int_t)(failed + sample_errors)));
    if (c.pid > 0) {
        json_object_set_new(out, "rss_before_kb", json_integer(rss0));
        json_object_set_new(out, "rss_after_kb", json_integer(rss1));
        json_object_set_new(
            out, "bytes_per_conn",
            json_real(opened ? (double)(rss1 - rss0) * 1024.0 / (double)opened : 0.0));
    }
    if (c.com.json) {
        sk_bench_json_emit(out);
    } else {
        printf("%s: %u connections wanted\n", c.ep_text, c.o.n);
        printf("  %-16s %llu (%u process%s, %llu source address%s)\n", "opened",
               (unsigned long long)opened, procs, procs == 1 ? "" : "es",
               (unsigned long long)sources, sources == 1 ? "" : "es");
        printf("  %-16s %llu%s%s\n", "failed", (unsigned long long)failed,
               first_error[0] ? "; first: " : "", first_error);
        printf("  %-16s %.3f s (%.0f per second)\n", "time to open", open_s,
               open_s > 0 ? (double)opened / open_s : 0.0);
        printf("  %-16s %.1f s; closed by the server meanwhile: %u\n", "held", c.hold_ms / 1000.0,
               closed);
        if (c.pid > 0)
            printf("  %-16s %.1f MB -> %.1f MB (%+.0f bytes per connection)\n", "server RSS",
                   rss0 / 1024.0, rss1 / 1024.0,
                   opened ? (double)(rss1 - rss0) * 1024.0 / (double)opened : 0.0);
        json_t *cnt = json_object_get(sample, "count");
        if (cnt != NULL && json_integer_value(cnt) > 0)
            printf("  %-16s %lld pings: p50 %.1f us, p99 %.1f us, max %.1f us, %llu errors\n",
                   "round trips", (long long)json_integer_value(cnt),
                   json_number_value(json_object_get(sample, "p50_us")),
                   json_number_value(json_object_get(sample, "p99_us")),
                   json_number_value(json_object_get(sample, "max_us")),
                   (unsigned long long)sample_errors);
        else if (sample_errors)
            printf("  %-16s %llu errors\n", "round trips", (unsigned long long)sample_errors);
        json_decref(out);
    }
    json_decref(sample);
    free(rtt);
    return SK_EXIT_OK;
}

/* ---- http ----------------------------------------------------------------- */

static const char http_usage[] =
    "Usage: sockkit bench http [OPTIONS] URL\n"
    "\n"
    "HTTP/1.1 load against URL (http:// or https://HOST[:PORT][/PATH]). Closed loop by\n"
    "default, like wrk: every connection sends its next request as soon as the\n"
    "last response is complete. With --rate R, open loop like wrk2: R requests\n"
    "per second in total on a fixed schedule, and each latency is measured from\n"
    "when its request was due, so a stalled server is charged for every request\n"
    "it held up (coordinated-omission correction). Every response is parsed and\n"
    "its body read to the end; errors are counted by kind: connect, read,\n"
    "write, timeout, parse, and status (a response that is not 2xx).\n"
    "\n"
    "Options:\n"
    "  -c, --conns N       connections (default 10)\n"
    "  -t, --threads N     threads, each with its own event loop (default 2)\n"
    "  -R, --rate R        open loop at R requests/s in total (default: closed loop)\n"
    "  -H, --header 'N: V' add a request header (repeatable; replaces Host or\n"
    "                      User-Agent when given)\n"
    "      --no-keepalive  a new connection for every request (Connection: close)\n"
    "  -m, --method M      GET (default) or HEAD\n"
    "      --timeout S     per request (default 2; an https request's first one\n"
    "                      includes the TLS handshake)\n"
    "%s"
    "\n%s"
    "\n"
    "Examples:\n"
    "  sockkit bench http http://127.0.0.1:8080/index.html -c 50 -t 1\n"
    "  sockkit bench http http://127.0.0.1:8080/ -c 20 --rate 5000 -d 30 --json\n"
    "  taskset -c 1 sockkit bench http http://[::1]:8080/1k -c 50 -t 1 --no-keepalive\n";

/* The endpoint of a parsed URL (its host to resolve and its port). */
static void url_endpoint(const char *cmd, const char *url, const sk_url_t *u, sk_endpoint_t *ep)
{
    char text[320];
    snprintf(text, sizeof(text), u->ipv6 ? "tcp://[%s]:%u" : "tcp://%s:%u", u->host, u->port);
    struct sk_err err = {0};
    if (sk_endpoint_parse(ep, text, &err) < 0)
        sk_cli_usage_error(cmd, "bad URL '%s': %s", url, err.msg);
    if (ep->port == 0)
        sk_cli_usage_error(cmd, "bad URL '%s': port 0 cannot be connected to", url);
}

static int cmd_http(int argc, char **argv)
{
    static const struct option opts[] = {
        {"conns", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'R'},
        {"header", required_argument, NULL, 'H'},
        {"no-keepalive", no_argument, NULL, OPT_NO_KEEPALIVE},
        {"method", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        SK_CLI_TLS_CLIENT_OPTS,
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench http";
    sk_cli_tls_t tls;
    sk_cli_tls_defaults(&tls);
    struct common com = {.duration_ms = 10000};
    sk_httpl_opts_t o = {.conns = 10, .threads = 2, .keepalive = true, .timeout_ms = 2000};
    const char *method = "GET";
    char *headers = sk_xstrdup("");
    bool user_host = false, user_agent = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:t:R:H:m:d:kvh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &com) || sk_cli_tls_opt(cmd, ch, optarg, &tls))
            continue;
        switch (ch) {
        case 'c':
            o.conns = (unsigned)sk_cli_long(cmd, "--conns", optarg, 1, 100000);
            break;
        case 't':
            o.threads = (unsigned)sk_cli_long(cmd, "--threads", optarg, 1, 256);
            break;
        case 'R': {
            char *end;
            o.rate = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o.rate > 0) || o.rate > 1e8)
                sk_cli_usage_error(cmd, "--rate: '%s' is not a rate (requests/s)", optarg);
            break;
        }
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (colon == NULL || colon == optarg || strpbrk(optarg, "\r\n") != NULL)
                sk_cli_usage_error(cmd, "-H '%s': expected 'Name: value' on one line", optarg);
            user_host |= strncasecmp(optarg, "host:", 5) == 0;
            user_agent |= strncasecmp(optarg, "user-agent:", 11) == 0;
            size_t len = strlen(headers), add = strlen(optarg);
            headers = realloc(headers, len + add + 3);
            if (headers == NULL)
                sk_cli_fail(cmd, "out of memory");
            memcpy(headers + len, optarg, add);
            memcpy(headers + len + add, "\r\n", 3);
            break;
        }
        case OPT_NO_KEEPALIVE:
            o.keepalive = false;
            break;
        case 'm':
            if (strcmp(optarg, "GET") != 0 && strcmp(optarg, "HEAD") != 0)
                sk_cli_usage_error(cmd, "--method: GET or HEAD");
            method = optarg;
            break;
        case OPT_TIMEOUT:
            o.timeout_ms = sk_cli_seconds_ms(cmd, "--timeout", optarg);
            if (o.timeout_ms == 0)
                sk_cli_usage_error(cmd, "--timeout must be at least 1 ms");
            break;
        case 'h':
            printf(http_usage, common_help, sk_cli_tls_client_help);
            free(headers);
            return SK_EXIT_OK;
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind != argc - 1)
        sk_cli_usage_error(cmd,
                           optind >= argc ? "a URL is required" : "exactly one URL is expected");
    const char *url = argv[optind];
    sk_url_t u = {0};
    struct sk_err uerr = {0};
    if (sk_url_parse(&u, url, false, &uerr) < 0)
        sk_cli_usage_error(cmd, "bad URL '%s': %s", url, uerr.msg);
    sk_endpoint_t ep;
    url_endpoint(cmd, url, &u, &ep);
    bool https = u.https;
#ifdef SK_HAVE_OPENSSL
    struct tls_wrap tw = {.host = ep.host, .timeout_ms = tls.timeout_ms};
    if (https) {
        sk_tls_client_opts_t to = {.cacert = tls.cacert,
                                   .insecure = tls.insecure,
                                   .alpn = tls.alpn ? tls.alpn : "http/1.1",
                                   .verbose = sk_log_verbosity};
        struct sk_err terr = {0};
        int trc = sk_tls_client_new(&tw.tc, &to, &terr);
        if (trc == SK_EUSAGE)
            sk_cli_usage_error(cmd, "%s", terr.msg);
        if (trc < 0)
            sk_cli_fail(cmd, "%s", terr.msg);
        o.wrap = tls_wrap_async;
        o.wrap_ctx = &tw;
        /* One handshake up front, so a certificate or protocol problem is
         * reported in words and ends the run instead of turning every
         * request into a write error. */
        sk_connect_opts_t co = {.timeout_ms = (int)o.timeout_ms};
        int fd = sk_endpoint_connect(&ep, &co, &terr);
        if (fd < 0)
            sk_cli_fail(cmd, "%s: %s", url, terr.msg);
        sk_transport_t *t = NULL;
        trc = tls_wrap(&tw, fd, &t, &terr);
        if (t != NULL)
            t->ops->free(t);
        close(fd);
        if (trc < 0)
            sk_cli_fail(cmd, "%s: %s", url, terr.msg);
    }
#else
    if (https)
        sk_cli_usage_error(cmd, "https:// needs TLS, which is not built in");
#endif
    char *req = NULL;
    size_t reqlen = 0;
    FILE *f = open_memstream(&req, &reqlen);
    if (f == NULL)
        sk_cli_fail(cmd, "out of memory");
    fprintf(f, "%s %s HTTP/1.1\r\n", method, u.target);
    if (!user_host)
        fprintf(f, "Host: %s\r\n", u.authority);
    if (!user_agent)
        fprintf(f, "User-Agent: sockkit-bench/%s\r\n", SK_VERSION);
    fprintf(f, "%s%s\r\n", headers, o.keepalive ? "" : "Connection: close\r\n");
    fclose(f);
    o.ep = &ep;
    o.request = req;
    o.request_len = reqlen;
    o.head = strcmp(method, "HEAD") == 0;
    o.duration_ms = com.duration_ms;
    o.quiet = com.quiet;
    sk_raise_nofile();
    sk_bench_signals();
    sk_httpl_stats_t *st = sk_xcalloc(1, sizeof(*st));
    struct sk_err err = {0};
    if (sk_httpl_run(&o, st, &err) < 0)
        sk_cli_fail(cmd, "%s", err.msg);
    uint64_t errors = sk_httpl_errors_total(&st->err);
    sk_bench_result_t r = {.label = url,
                           .elapsed_s = st->elapsed_s,
                           .hist = &st->hist,
                           .errors = errors,
                           .requests = st->requests,
                           .bytes = st->bytes,
                           .has_requests = true,
                           .has_bytes = true};
    if (com.json) {
        json_t *j = sk_bench_json(&r);
        json_t *kinds = json_object(), *codes = json_object();
        json_object_set_new(kinds, "connect", json_integer((json_int_t)st->err.connect));
        json_object_set_new(kinds, "read", json_integer((json_int_t)st->err.read));
        json_object_set_new(kinds, "write", json_integer((json_int_t)st->err.write));
        json_object_set_new(kinds, "timeout", json_integer((json_int_t)st->err.timeout));
        json_object_set_new(kinds, "parse", json_integer((json_int_t)st->err.parse));
        json_object_set_new(kinds, "status", json_integer((json_int_t)st->err.status));
        for (int k = 100; k < 600; k++) {
            if (st->status[k] == 0)
                continue;
            char code[16];
            snprintf(code, sizeof(code), "%d", k);
            json_object_set_new(codes, code, json_integer((json_int_t)st->status[k]));
        }
        json_object_set_new(j, "url", json_string(url));
        json_object_set_new(j, "conns", json_integer(o.conns));
        json_object_set_new(j, "threads", json_integer(o.threads));
        json_object_set_new(j, "keepalive", json_boolean(o.keepalive));
        json_object_set_new(j, "rate", json_real(o.rate));
        json_object_set_new(j, "connects", json_integer((json_int_t)st->connects));
        json_object_set_new(j, "errors_by_kind", kinds);
        json_object_set_new(j, "status", codes);
        json_object_set_new(j, "interrupted", json_boolean(st->interrupted));
        if (st->first_error[0])
            json_object_set_new(j, "first_error", json_string(st->first_error));
        if (sk_bench_json_emit(j) < 0)
            sk_cli_fail(cmd, "cannot write the JSON result");
    } else {
        printf("%s: %u connections, %u threads, %s%s\n", url, o.conns, o.threads,
               o.keepalive ? "keep-alive" : "a connection per request",
               o.rate > 0 ? ", open loop (latency from each request's due time)" : "");
        if (o.rate > 0)
            printf("  %-14s %.0f requests/s\n", "target rate", o.rate);
        sk_bench_print(stdout, &r);
        printf("  %-14s", "status codes");
        for (int k = 100; k < 600; k++)
            if (st->status[k])
                printf(" %d: %llu", k, (unsigned long long)st->status[k]);
        printf("\n  %-14s connect %llu, read %llu, write %llu, timeout %llu, parse %llu, "
               "non-2xx %llu\n",
               "errors by kind", (unsigned long long)st->err.connect,
               (unsigned long long)st->err.read, (unsigned long long)st->err.write,
               (unsigned long long)st->err.timeout, (unsigned long long)st->err.parse,
               (unsigned long long)st->err.status);
        printf("  %-14s %llu\n", "connections", (unsigned long long)st->connects);
    }
    if (errors && st->first_error[0])
        fprintf(stderr, "%s: first error: %s\n", url, st->first_error);
    if (st->interrupted)
        fprintf(stderr, "%s: interrupted; the figures cover %.2f s\n", url, st->elapsed_s);
    free(st);
    free(req);
    free(headers);
    sk_url_fini(&u);
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_free(tw.tc);
#endif
    return SK_EXIT_OK;
}

/* ---- backends ------------------------------------------------------------- */

static const char backends_usage[] =
    "Usage: sockkit bench backends [OPTIONS]\n"
    "\n"
    "Run `sockkit serve echo --backend B --workers 1` for each backend built in\n"
    "(epoll, uring, poll, select, threads) and each connection count of a ladder:\n"
    "hold that many connections, mostly idle, while a few active ones ping-pong\n"
    "64-byte messages; report round trips per second and the p99 round trip.\n"
    "Every point starts a fresh server. select stops at FD_SETSIZE (1024 fds),\n"
    "and no point goes above what one process may hold (the fd hard limit).\n"
    "\n"
    "Run time: each point takes its --warmup plus -d plus about half a second to\n"
    "open connections; with the defaults (5 backends x 5 counts x (0.5 + 2) s)\n"
    "about 70 seconds.\n"
    "\n"
    "Options:\n"
    "  -d, --duration S    measured seconds per point (default 2 for this command)\n"
    "      --warmup S      per point, before measuring (default 0.5)\n"
    "      --backends LIST comma-separated (default: every backend built in)\n"
    "      --ladder LIST   connection counts (default 1,10,100,1000,10000)\n"
    "      --active N      connections that ping-pong at each point (default 4)\n"
    "  -s, --size N        message bytes (default 64)\n"
    "      --csv FILE      also write the points as CSV\n"
    "      --svg FILE      also draw them: round trips/s and p99 against connections\n"
    "      --json          print one JSON object;  --quiet  no per-point lines on stderr\n"
    "  -v, --verbose;  -h, --help;  --version\n"
    "\n"
    "Pin the two processes to make points comparable, e.g. the whole run with\n"
    "`taskset -c 0` (client and server on one core), and say so with the figures.\n"
    "\n"
    "Examples:\n"
    "  sockkit bench backends --svg backends.svg --csv backends.csv\n"
    "  sockkit bench backends --backends epoll,uring --ladder 100,1000 -d 5 --json\n";

static unsigned parse_list(const char *cmd, const char *opt, const char *text, unsigned *out,
                           unsigned cap, long max)
{
    unsigned n = 0;
    char *copy = sk_xstrdup(text), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (n == cap)
            sk_cli_usage_error(cmd, "%s: at most %u values", opt, cap);
        out[n++] = (unsigned)sk_cli_long(cmd, opt, t, 1, max);
    }
    free(copy);
    if (n == 0)
        sk_cli_usage_error(cmd, "%s: a comma-separated list is expected", opt);
    return n;
}

struct backends_ctx {
    bool print, progress;
};

static void backends_row(FILE *f, const sk_backends_point_t *p)
{
    if (p->ok)
        fprintf(f, "%-8s %7u %6u %14.0f %9.1f %9.1f %7llu  %s\n", p->backend, p->conns, p->active,
                p->rtt_per_s, p->p50_us, p->p99_us, (unsigned long long)p->errors, p->note);
    else
        fprintf(f, "%-8s %7u %6s %14s %9s %9s %7s  %s\n", p->backend, p->conns, "-", "-", "-", "-",
                "-", p->note);
    fflush(f);
}

static void backends_done(const sk_backends_point_t *p, void *data)
{
    struct backends_ctx *ctx = data;
    if (ctx->print)
        backends_row(stdout, p);
    else if (ctx->progress)
        backends_row(stderr, p);
}

/* True when the server can run on backend `name`: an event-loop backend
 * built in, or the thread-per-connection engine (always there). */
static bool backend_built(const char *name, bool *not_built)
{
    *not_built = false;
    if (strcmp(name, "threads") == 0)
        return true;
    return sk_backend_find(name, not_built) != NULL;
}

static int cmd_backends(int argc, char **argv)
{
    static const struct option opts[] = {
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"backends", required_argument, NULL, OPT_BACKENDS},
        {"ladder", required_argument, NULL, OPT_LADDER},
        {"active", required_argument, NULL, OPT_ACTIVE},
        {"size", required_argument, NULL, 's'},
        {"csv", required_argument, NULL, OPT_CSV},
        {"svg", required_argument, NULL, OPT_SVG},
        COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "bench backends";
    struct common com = {.duration_ms = 2000};
    unsigned ladder[16] = {1, 10, 100, 1000, 10000};
    unsigned nladder = 5;
    sk_backends_opts_t o = {.active = 4, .size = 64, .warmup_ms = 500};
    const char *csv = NULL, *svg = NULL;
    const char *names[8];
    size_t nnames = 0;
    char *list = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:d:vh", opts, NULL)) != -1) {
        if (common_opt(cmd, ch, optarg, &com))
            continue;
        switch (ch) {
        case OPT_WARMUP:
            o.warmup_ms = sk_cli_seconds_ms(cmd, "--warmup", optarg);
            break;
        case OPT_BACKENDS:
            free(list);
            list = sk_xstrdup(optarg);
            break;
        case OPT_LADDER:
            nladder = parse_list(cmd, "--ladder", optarg, ladder, 16, 1000000);
            break;
        case OPT_ACTIVE:
            o.active = (unsigned)sk_cli_long(cmd, "--active", optarg, 1, 1000);
            break;
        case 's':
            o.size = parse_size(cmd, "--size", optarg, 1u << 20);
            break;
        case OPT_CSV:
            csv = optarg;
            break;
        case OPT_SVG:
            svg = optarg;
            break;
        case 'h':
            fputs(backends_usage, stdout);
            free(list);
            return SK_EXIT_OK;
        default:
            sk_cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind != argc)
        sk_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (list != NULL) {
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            bool not_built = false;
            if (!backend_built(t, &not_built))
                sk_cli_usage_error(cmd,
                                   not_built ? "backend '%s' is not built in"
                                             : "unknown backend '%s' (epoll, uring, poll, "
                                               "select, threads)",
                                   t);
            if (nnames == 7)
                sk_cli_usage_error(cmd, "--backends: at most 7 backends");
            names[nnames++] = t;
        }
    } else {
        /* The event-loop backends the loop knows, then the
         * thread-per-connection engine. */
        static const char *const all[] = {"epoll", "uring", "poll", "select", "threads"};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            bool not_built = false;
            if (backend_built(all[i], &not_built))
                names[nnames++] = all[i];
            else if (!com.json)
                fprintf(stderr, "%s: not built in, skipped\n", all[i]);
        }
    }
    names[nnames] = NULL;
    o.backends = names;
    o.ladder = ladder;
    o.nladder = nladder;
    o.duration_ms = com.duration_ms;
    o.quiet = com.quiet;
    FILE *csvf = NULL, *svgf = NULL;
    if (csv != NULL && (csvf = fopen(csv, "w")) == NULL)
        sk_cli_fail(cmd, "cannot write %s: %s", csv, strerror(errno));
    if (svg != NULL && (svgf = fopen(svg, "w")) == NULL)
        sk_cli_fail(cmd, "cannot write %s: %s", svg, strerror(errno));
    sk_bench_signals();
    size_t cap = nnames * nladder;
    sk_backends_point_t *pts = sk_xcalloc(cap ? cap : 1, sizeof(*pts));
    struct backends_ctx ctx = {.print = !com.json, .progress = !com.quiet && isatty(STDERR_FILENO)};
    if (!com.json)
        printf("%-8s %7s %6s %14s %9s %9s %7s  %s\n", "backend", "conns", "active", "round trips/s",
               "p50 us", "p99 us", "errors", "note");
    size_t n = sk_backends_run(&o, pts, cap, backends_done, &ctx);
    int rc = SK_EXIT_OK;
    char note[240];
    bool select_cut = false;
    for (size_t i = 0; i < n; i++)
        select_cut |= !pts[i].ok && strstr(pts[i].note, "FD_SETSIZE") != NULL;
    snprintf(note, sizeof(note),
             "%zu-byte messages; %u active connections (fewer when fewer are held), the rest "
             "idle; %.1f s per point%s",
             o.size, o.active, com.duration_ms / 1000.0,
             select_cut ? "; select stops at FD_SETSIZE (1024 fds)" : "");
    if (csvf != NULL) {
        if (sk_backends_csv(csvf, pts, n) < 0 || fclose(csvf) != 0) {
            fprintf(stderr, "sockkit %s: writing %s failed\n", cmd, csv);
            rc = SK_EXIT_FAIL;
        }
    }
    if (svgf != NULL) {
        if (sk_backends_svg(svgf, pts, n, note) < 0 || fclose(svgf) != 0) {
            fprintf(stderr, "sockkit %s: writing %s failed\n", cmd, svg);
            rc = SK_EXIT_FAIL;
        }
    }
    if (com.json) {
        json_t *arr = json_array();
        uint64_t errors = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "backend", json_string(pts[i].backend));
            json_object_set_new(j, "conns", json_integer(pts[i].conns));
            json_object_set_new(j, "active", json_integer(pts[i].active));
            json_object_set_new(j, "ok", json_boolean(pts[i].ok));
            json_object_set_new(j, "duration_s", json_real(pts[i].elapsed_s));
            json_object_set_new(j, "requests", json_integer((json_int_t)pts[i].round_trips));
            json_object_set_new(j, "req_per_s", json_real(pts[i].rtt_per_s));
            json_object_set_new(j, "p50_us", json_real(pts[i].p50_us));
            json_object_set_new(j, "p99_us", json_real(pts[i].p99_us));
            json_object_set_new(j, "errors", json_integer((json_int_t)pts[i].errors));
            if (pts[i].note[0])
                json_object_set_new(j, "note", json_string(pts[i].note));
            json_array_append_new(arr, j);
            errors += pts[i].errors;
        }
        json_t *out = json_object();
        json_object_set_new(out, "points", arr);
        json_object_set_new(out, "errors", json_integer((json_int_t)errors));
        json_object_set_new(out, "size", json_integer((json_int_t)o.size));
        json_object_set_new(out, "interrupted", json_boolean(sk_bench_interrupted));
        sk_bench_json_emit(out);
    }
    free(pts);
    free(list);
    return rc;
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
    if (strcmp(kind, "conns") == 0)
        return cmd_conns(argc - 1, argv + 1);
    if (strcmp(kind, "http") == 0)
        return cmd_http(argc - 1, argv + 1);
    if (strcmp(kind, "backends") == 0)
        return cmd_backends(argc - 1, argv + 1);
    sk_cli_usage_error("bench", "unknown kind '%s' (rtt, throughput, http, conns, backends)", kind);
}
