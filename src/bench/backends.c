/* backends.c -- the backend experiment (see backends.h). Each point gets a
 * fresh `serve echo --backend B --workers 1` child, so no point inherits
 * another's state; the idle connections are opened first, then the active
 * ones ping-pong through the rtt engine for the point's duration. */
#include "bench/backends.h"
#include "bench/bench.h"
#include "bench/conns.h"
#include "bench/rtt.h"
#include "bench/svg.h"
#include "core/alloc.h"
#include "core/loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* fds the server needs besides connections: stdio, listener, loop,
 * eventfd, a spare and some slack. */
#define SERVER_FD_RESERVE 16

/* Connects, sends one byte and waits for its echo (up to a minute). */
static int settle(const sk_endpoint_t *ep, sk_backends_point_t *p)
{
    struct sk_err err = {0};
    sk_connect_opts_t co = {.timeout_ms = 10000};
    int fd = sk_endpoint_connect(ep, &co, &err);
    if (fd < 0) {
        snprintf(p->note, sizeof(p->note), "%s", err.msg);
        return fd;
    }
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char b = 'x';
    int rc = 0;
    if (send(fd, &b, 1, MSG_NOSIGNAL) != 1 || recv(fd, &b, 1, 0) != 1) {
        snprintf(p->note, sizeof(p->note), "no echo within 60 s after opening %u connections",
                 p->conns);
        rc = -ETIMEDOUT;
    }
    close(fd);
    return rc;
}

static void run_point(const sk_backends_opts_t *o, const char *be, unsigned n,
                      sk_backends_point_t *p, unsigned per_process)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->backend, sizeof(p->backend), "%s", be);
    p->conns = n;
    p->active = o->active < n ? o->active : n;
    if (strcmp(be, "select") == 0 && n + SERVER_FD_RESERVE > FD_SETSIZE) {
        snprintf(p->note, sizeof(p->note), "select stops at FD_SETSIZE (%d fds)", FD_SETSIZE);
        return;
    }
    if (n > per_process) {
        snprintf(p->note, sizeof(p->note), "over the fd limit of one process (%u)", per_process);
        return;
    }
    char *argv[] = {"sockkit",           "serve", "echo", "--backend", (char *)be, "--workers", "1",
                    "tcp://127.0.0.1:0", NULL};
    sk_bench_server_t srv;
    struct sk_err err = {0};
    if (sk_bench_server_start(&srv, argv, 1, 10000, &err) < 0) {
        snprintf(p->note, sizeof(p->note), "%s", err.msg);
        return;
    }
    sk_endpoint_t ep;
    sk_conns_set_t idle = {0};
    sk_rtt_stats_t *st = sk_calloc(1, sizeof(*st));
    if (st == NULL || sk_endpoint_parse(&ep, srv.eps[0], &err) < 0) {
        snprintf(p->note, sizeof(p->note), "%s", st ? err.msg : "out of memory");
        goto out;
    }
    unsigned nidle = n - p->active;
    if (nidle > 0) {
        sk_conns_opts_t co = {
            .ep = &ep, .n = nidle, .timeout_ms = 5000, .max_ms = 30000, .quiet = true};
        if (sk_conns_open(&co, &idle, &err) < 0 || idle.opened < nidle) {
            snprintf(p->note, sizeof(p->note), "opened %u of %u idle connections: %s", idle.opened,
                     nidle, idle.first_error[0] ? idle.first_error : err.msg);
            goto out;
        }
    }
    /* The server may still be accepting the idle connections (the kernel
     * completes a connect before accept(2) runs, and a scanning backend
     * pays O(n) per accept): one echo on a connection queued behind them
     * shows they are all in, so the measurement starts on a settled
     * server. */
    if (nidle > 0 && settle(&ep, p) < 0)
        goto out;
    sk_rtt_opts_t ro = {.ep = &ep,
                        .size = o->size,
                        .conns = p->active,
                        .duration_ms = o->duration_ms,
                        .warmup_ms = o->warmup_ms,
                        .timeout_ms = 2000,
                        .quiet = true};
    if (sk_rtt_run(&ro, st, &err) < 0) {
        snprintf(p->note, sizeof(p->note), "%s", err.msg);
        goto out;
    }
    p->ok = st->round_trips > 0;
    p->elapsed_s = st->elapsed_s;
    p->round_trips = st->round_trips;
    p->errors = st->errors;
    p->rtt_per_s = st->elapsed_s > 0 ? (double)st->round_trips / st->elapsed_s : 0;
    p->p50_us = (double)sk_hist_percentile(&st->hist, 50) / 1000.0;
    p->p99_us = (double)sk_hist_percentile(&st->hist, 99) / 1000.0;
    if (st->errors)
        snprintf(p->note, sizeof(p->note), "%s", st->first_error);
    else if (!p->ok)
        snprintf(p->note, sizeof(p->note), "no round trip completed");
    /* Every idle connection must still be open: a backend that dropped
     * some did not hold the load it is credited with. */
    unsigned closed = sk_conns_count_closed(&idle);
    if (closed > 0) {
        p->errors += closed;
        snprintf(p->note, sizeof(p->note), "the server closed %u idle connections", closed);
    }
out:
    sk_conns_close(&idle);
    sk_free(st);
    sk_bench_server_stop(&srv);
}

size_t sk_backends_run(const sk_backends_opts_t *o, sk_backends_point_t *out, size_t cap,
                       void (*done)(const sk_backends_point_t *p, void *ctx), void *ctx)
{
    size_t n = 0;
    unsigned per = sk_conns_per_process();
    for (size_t b = 0; o->backends[b] != NULL; b++) {
        bool stop_backend = false;
        for (size_t i = 0; i < o->nladder && n < cap && !sk_bench_interrupted; i++) {
            sk_backends_point_t *p = &out[n];
            if (stop_backend) {
                break;
            }
            run_point(o, o->backends[b], o->ladder[i], p, per);
            n++;
            if (done != NULL)
                done(p, ctx);
            /* Past the limit of a backend the bigger points fail the same
             * way: say so once. */
            if (!p->ok && p->note[0] != '\0' &&
                (strstr(p->note, "FD_SETSIZE") || strstr(p->note, "did not start")))
                stop_backend = true;
        }
    }
    return n;
}

int sk_backends_csv(FILE *f, const sk_backends_point_t *p, size_t n)
{
    fputs("backend,conns,active,measured_s,round_trips,round_trips_per_s,p50_us,p99_us,errors,"
          "note\n",
          f);
    for (size_t i = 0; i < n; i++) {
        /* The note is free text: quote it, doubling any quote (RFC 4180). */
        fprintf(f, "%s,%u,%u,%.3f,%llu,%.1f,%.2f,%.2f,%llu,\"", p[i].backend, p[i].conns,
                p[i].active, p[i].elapsed_s, (unsigned long long)p[i].round_trips, p[i].rtt_per_s,
                p[i].p50_us, p[i].p99_us, (unsigned long long)p[i].errors);
        for (const char *c = p[i].note; *c; c++) {
            if (*c == '"')
                fputc('"', f);
            fputc(*c, f);
        }
        fputs("\"\n", f);
    }
    return ferror(f) ? -EIO : 0;
}

int sk_backends_svg(FILE *f, const sk_backends_point_t *p, size_t n, const char *note)
{
    /* One series per backend, in the order first seen; only measured
     * points are drawn. */
    const char *names[16];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < nb; k++)
            seen |= strcmp(names[k], p[i].backend) == 0;
        if (!seen && nb < 16)
            names[nb++] = p[i].backend;
    }
    double *buf = sk_calloc(3 * (n ? n : 1), sizeof(double));
    sk_svg_series_t *tput = sk_calloc(nb ? nb : 1, sizeof(*tput));
    sk_svg_series_t *lat = sk_calloc(nb ? nb : 1, sizeof(*lat));
    if (buf == NULL || tput == NULL || lat == NULL) {
        sk_free(buf);
        sk_free(tput);
        sk_free(lat);
        return -ENOMEM;
    }
    double *xs = buf, *ys = buf + n, *ls = buf + 2 * n;
    size_t k = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t start = k;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(p[i].backend, names[b]) != 0 || !p[i].ok)
                continue;
            xs[k] = p[i].conns;
            ys[k] = p[i].rtt_per_s;
            ls[k] = p[i].p99_us;
            k++;
        }
        tput[b] = (sk_svg_series_t){names[b], k - start, xs + start, ys + start};
        lat[b] = (sk_svg_series_t){names[b], k - start, xs + start, ls + start};
    }
    sk_svg_panel_t panels[2] = {
        {"Echo round trips per second", "connections held (log scale)", "round trips / s", true,
         false, tput, nb},
        {"p99 round trip", "connections held (log scale)", "p99 (us, log scale)", true, true, lat,
         nb},
    };
    int rc = sk_svg_write(f, "sockkit serve echo --workers 1 on each backend", note, panels, 2);
    sk_free(buf);
    sk_free(tput);
    sk_free(lat);
    return rc;
}
