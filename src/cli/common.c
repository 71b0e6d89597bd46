/* common.c -- option parsing and error exits shared by the commands. */
#include "cli/cli.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void sk_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sockkit %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'sockkit %s --help'.\n", cmd);
    exit(SK_EXIT_USAGE);
}

void sk_cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sockkit %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(SK_EXIT_FAIL);
}

void sk_cli_version(void)
{
    printf("sockkit %s\n", SK_VERSION);
    exit(SK_EXIT_OK);
}

void sk_cli_endpoint(const char *cmd, const char *text, sk_endpoint_t *ep)
{
    struct sk_err err = {0};
    if (sk_endpoint_parse(ep, text, &err) < 0)
        sk_cli_usage_error(cmd, "bad endpoint '%s': %s", text, err.msg);
}

long sk_cli_long(const char *cmd, const char *opt, const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        sk_cli_usage_error(cmd, "%s: '%s' is not a number", opt, text);
    if (v < min || v > max)
        sk_cli_usage_error(cmd, "%s: %ld is out of range (%ld-%ld)", opt, v, min, max);
    return v;
}

unsigned long long sk_cli_size(const char *cmd, const char *opt, const char *text,
                               unsigned long long min, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (end != text && (*end == 'k' || *end == 'K'))
        shift = 10;
    else if (end != text && (*end == 'm' || *end == 'M'))
        shift = 20;
    else if (end != text && (*end == 'g' || *end == 'G'))
        shift = 30;
    if (shift != 0)
        end++;
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > (max >> shift))
        sk_cli_usage_error(cmd, "%s: '%s' is not a size from %llu to %llu bytes (K, M, G allowed)",
                           opt, text, min, max);
    v <<= shift;
    if (v < min)
        sk_cli_usage_error(cmd, "%s: '%s' is under the minimum of %llu bytes", opt, text, min);
    return v;
}

unsigned sk_cli_seconds_ms(const char *cmd, const char *opt, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < 0 || v > 86400.0 * 7)
        sk_cli_usage_error(cmd, "%s: '%s' is not a number of seconds (0 to 604800)", opt, text);
    return (unsigned)(v * 1000.0 + 0.5);
}

unsigned sk_cli_mode(const char *cmd, const char *text)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 8);
    if (errno != 0 || end == text || *end != '\0' || v > 07777)
        sk_cli_usage_error(cmd, "--mode: '%s' is not an octal file mode like 0600", text);
    return (unsigned)v;
}

const char sk_cli_server_opts_help[] =
    "Server options:\n"
    "  --backend NAME      epoll (default), uring, poll, select or threads\n"
    "  --workers N         event loops, each with its own SO_REUSEPORT listener\n"
    "                      (default: online CPUs)\n"
    "  --max-conns N       connections open at once (default: what the fd limit allows)\n"
    "  --drain-timeout S   on SIGINT/SIGTERM, finish in-flight work for at most S\n"
    "                      seconds (default 10)\n"
    "  --mode MODE         permissions of Unix socket files (default 0600)\n"
    "  -o, --sockopt N=V   socket option: reuseaddr, reuseport, keepalive[=IDLE/INTVL/CNT],\n"
    "                      nodelay, linger=S, rcvbuf=BYTES, sndbuf=BYTES, v6only, broadcast\n"
    "  -v, --verbose       log each connection's life and the socket options the kernel set\n"
    "  -h, --help          this help;  --version  print the version\n";

bool sk_cli_server_opt(const char *cmd, int c, const char *arg, sk_server_config_t *cfg)
{
    struct sk_err err = {0};
    switch (c) {
    case SK_CLI_OPT_BACKEND: {
        /* "threads" is an engine of its own (a thread per connection on
         * blocking sockets), not a multiplexing backend. */
        cfg->threads = strcmp(arg, "threads") == 0;
        if (cfg->threads) {
            cfg->backend = NULL;
            return true;
        }
        bool not_built = false;
        cfg->backend = sk_backend_find(arg, &not_built);
        if (cfg->backend == NULL && not_built)
            sk_cli_usage_error(cmd,
                               "backend '%s' is not built in (its library was missing "
                               "at build time)",
                               arg);
        if (cfg->backend == NULL)
            sk_cli_usage_error(cmd, "unknown backend '%s' (epoll, uring, poll, select, threads)",
                               arg);
        return true;
    }
    case SK_CLI_OPT_WORKERS:
        cfg->workers = (int)sk_cli_long(cmd, "--workers", arg, 1, 1024);
        return true;
    case SK_CLI_OPT_MAXCONNS:
        cfg->max_conns = sk_cli_long(cmd, "--max-conns", arg, 1, LONG_MAX);
        return true;
    case SK_CLI_OPT_DRAIN:
        cfg->drain_timeout_ms = sk_cli_seconds_ms(cmd, "--drain-timeout", arg);
        return true;
    case SK_CLI_OPT_MODE:
        cfg->unix_mode = sk_cli_mode(cmd, arg);
        return true;
    case 'o':
        if (sk_sockopt_parse(&cfg->sockopts, arg, &err) < 0)
            sk_cli_usage_error(cmd, "-o %s: %s", arg, err.msg);
        return true;
    case 'v':
        cfg->verbose++;
        sk_log_verbosity = cfg->verbose;
        return true;
    case 'V':
        sk_cli_version();
    default:
        return false;
    }
}
