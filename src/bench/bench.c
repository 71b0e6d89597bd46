/* bench.c -- signals and child servers shared by the benchmarks (see
 * bench.h). */
#include "bench/bench.h"
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t sk_bench_interrupted;

/* The handler only reads this table and calls sk_loop_wake (a write to an
 * eventfd), both async-signal-safe. Registration happens before loops
 * run, so a plain array with atomic slot stores is enough. */
#define MAX_WATCH 256
static sk_loop_t *volatile watched[MAX_WATCH];

static void on_signal(int sig)
{
    (void)sig;
    sk_bench_interrupted = 1;
    for (size_t i = 0; i < MAX_WATCH; i++) {
        sk_loop_t *l = __atomic_load_n(&watched[i], __ATOMIC_ACQUIRE);
        if (l != NULL)
            sk_loop_wake(l);
    }
}

void sk_bench_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking write in a throughput thread returns EINTR
     * and the thread sees the flag. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sk_bench_watch(sk_loop_t *loop)
{
    for (size_t i = 0; i < MAX_WATCH; i++) {
        sk_loop_t *expected = NULL;
        if (__atomic_compare_exchange_n(&watched[i], &expected, loop, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 0;
    }
    return -ENOSPC;
}

void sk_bench_unwatch(sk_loop_t *loop)
{
    for (size_t i = 0; i < MAX_WATCH; i++) {
        sk_loop_t *expected = loop;
        __atomic_compare_exchange_n(&watched[i], &expected, NULL, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
}

/* Collects `listening on EP` lines from what the child wrote so far. */
static void parse_eps(sk_bench_server_t *s, const char *text)
{
    s->neps = 0;
    const char *p = text;
    while ((p = strstr(p, "listening on ")) != NULL && s->neps < SK_BENCH_SERVER_EPS) {
        p += strlen("listening on ");
        size_t n = strcspn(p, " \r\n");
        if (p[n] == '\0')
            break; /* the line is not complete yet */
        if (n >= sizeof(s->eps[0]))
            n = sizeof(s->eps[0]) - 1;
        memcpy(s->eps[s->neps], p, n);
        s->eps[s->neps][n] = '\0';
        s->neps++;
        p += n;
    }
}

int sk_bench_server_start(sk_bench_server_t *s, char *const argv[], int want, unsigned timeout_ms,
                          struct sk_err *err)
{
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->errfd = -1;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return sk_err_set(err, -errno, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return sk_err_set(err, -e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* Child: stderr to the pipe, stdin/stdout to /dev/null, default
         * signal dispositions (the benchmark ignores SIGPIPE). */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        dup2(pfd[1], STDERR_FILENO);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(pfd[1]);
    s->pid = pid;
    s->errfd = pfd[0];
    char text[4096];
    size_t len = 0;
    uint64_t deadline = sk_clock_ms() + timeout_ms;
    while (s->neps < want) {
        uint64_t now = sk_clock_ms();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = s->errfd, .events = POLLIN};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = read(s->errfd, text + len, sizeof(text) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        text[len] = '\0';
        parse_eps(s, text);
        if (len == sizeof(text) - 1)
            break;
    }
    if (s->neps >= want)
        return 0;
    text[len] = '\0';
    sk_bench_server_stop(s);
    /* The child's own words are the useful part ("backend not built in"). */
    char *nl = strchr(text, '\n');
    if (nl != NULL)
        *nl = '\0';
    return sk_err_set(err, -ECHILD, "%s %s did not start: %s", argv[1], argv[2],
                      len ? text : "no output within the start-up timeout");
}

void sk_bench_server_stop(sk_bench_server_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int status;
        uint64_t deadline = sk_clock_ms() + 3000;
        while (waitpid(s->pid, &status, WNOHANG) == 0) {
            if (sk_clock_ms() >= deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        s->pid = -1;
    }
    if (s->errfd >= 0) {
        close(s->errfd);
        s->errfd = -1;
    }
}

long sk_bench_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    long kb = -ENOENT;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

void sk_bench_wait(uint64_t until_ns, void (*tick)(void *ctx), void *ctx)
{
    uint64_t next_tick = sk_clock_ns() + 1000000000ull;
    for (;;) {
        uint64_t now = sk_clock_ns();
        if (now >= until_ns || sk_bench_interrupted)
            return;
        uint64_t step = until_ns - now < 50000000ull ? until_ns - now : 50000000ull;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step};
        nanosleep(&ts, NULL);
        if (tick != NULL && sk_clock_ns() >= next_tick) {
            tick(ctx);
            next_tick += 1000000000ull;
        }
    }
}
