/* test_access_log.c -- unit tests for src/serve/access_log.c: exact
 * Combined Log Format lines (TZ fixed with setenv+tzset), escaping of
 * hostile request fields, JSON lines checked with jansson, batching and
 * the 32 KiB flush, and write failures (/dev/full, a dead pipe, ENOMEM)
 * that must drop and count lines rather than crash. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/alloc.h"
#include "serve/access_log.h"

/* 10/Oct/2000:13:55:36 UTC, the example in Apache's documentation. */
#define T_APACHE ((time_t)971186136)

static char tmpdir[PATH_MAX];
static char logpath[PATH_MAX + 16];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sk_access_XXXXXX", base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(logpath, sizeof(logpath), "%s/access.log", tmpdir);
    setenv("TZ", "UTC", 1);
    tzset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(logpath);
    rmdir(tmpdir);
    return 0;
}

/* Reads the whole log file into a NUL-terminated heap string. */
static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
    }
    fclose(f);
    s[len] = '\0';
    if (len_out)
        *len_out = len;
    return s;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static struct sockaddr_in v4_peer(void)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(54321);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    return sin;
}

static sk_access_entry_t base_entry(const struct sockaddr_in *sin)
{
    sk_access_entry_t e = {
        .peer = (const struct sockaddr *)sin,
        .peer_len = sizeof(*sin),
        .method = SK_STR("GET"),
        .target = SK_STR("/path"),
        .version_minor = 1,
        .status = 200,
        .bytes = 2326,
        .referer = SK_STR("http://example.com/start.html"),
        .user_agent = SK_STR("curl/7.88"),
        .when = T_APACHE,
        .duration_us = 123,
    };
    return e;
}

/* Logs one entry to a fresh file with fmt and returns the file's text. */
static char *log_one(enum sk_access_format fmt, const sk_access_entry_t *e)
{
    unlink(logpath);
    sk_access_log_t *log;
    struct sk_err err;
    assert_int_equal(sk_access_log_open(&log, logpath, fmt, &err), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);
    sk_access_buf_add(b, e);
    sk_access_buf_free(b);
    assert_int_equal(sk_access_log_dropped(log), 0);
    sk_access_log_close(log);
    return slurp(logpath, NULL);
}

/* --- Combined Log Format ------------------------------------------------------ */

static void test_combined_exact(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    char *s = log_one(SK_ACCESS_COMBINED, &e);
    assert_string_equal(s, "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /path HTTP/1.1\" 200 "
                           "2326 \"http://example.com/start.html\" \"curl/7.88\"\n");
    free(s);
}

/* Local time with a numeric offset, like Apache; a POSIX TZ string needs
 * no tzdata. "XYZ-5:30" is five and a half hours east of UTC. */
static void test_combined_local_offset(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    setenv("TZ", "XYZ-5:30", 1);
    tzset();
    char *s = log_one(SK_ACCESS_COMBINED, &e);
    assert_non_null(strstr(s, "[10/Oct/2000:19:25:36 +0530]"));
    free(s);
    setenv("TZ", "XYZ+3", 1);
    tzset();
    s = log_one(SK_ACCESS_COMBINED, &e);
    assert_non_null(strstr(s, "[10/Oct/2000:10:55:36 -0300]"));
    free(s);
    setenv("TZ", "UTC", 1);
    tzset();
}

/* Missing fields become "-", and each kind of peer is printed its way. */
static void test_combined_dashes_and_peers(void **state)
{
    (void)state;
    sk_access_entry_t e = {.status = 400, .when = T_APACHE};
    char *s = log_one(SK_ACCESS_COMBINED, &e);
    assert_string_equal(s, "- - - [10/Oct/2000:13:55:36 +0000] \"-\" 400 0 \"-\" \"-\"\n");
    free(s);

    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
    e.peer = (const struct sockaddr *)&sin6;
    e.peer_len = sizeof(sin6);
    s = log_one(SK_ACCESS_COMBINED, &e);
    assert_true(strncmp(s, "192.0.2.7 - - [", 15) == 0);
    free(s);

    inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
    s = log_one(SK_ACCESS_COMBINED, &e);
    assert_true(strncmp(s, "2001:db8::1 - - [", 17) == 0);
    free(s);

    /* A truncated address is not trusted. */
    e.peer_len = sizeof(sin6) - 4;
    s = log_one(SK_ACCESS_COMBINED, &e);
    assert_true(strncmp(s, "- - - [", 7) == 0);
    free(s);

    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    e.peer = (const struct sockaddr *)&sun;
    e.peer_len = sizeof(sa_family_t); /* unnamed peer, as accept() reports */
    s = log_one(SK_ACCESS_COMBINED, &e);
    assert_true(strncmp(s, "unix - - [", 10) == 0);
    free(s);
}

/* A hostile client tries to close the quoted field, start a forged line
 * and send terminal escapes: all of it must come out as \xHH on one line. */
static void test_combined_escaping(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    static const char target[] = "/a\"b\\c\r\n1.2.3.4 - - [x] \"GET /forged\x1b[2J\xff\x7f";
    static const char ua[] = "evil\" \"x\n";
    e.method = SK_STR("G\"ET");
    e.target = (sk_str_t){target, sizeof(target) - 1};
    e.referer = (sk_str_t){"r\x00z", 3};
    e.user_agent = (sk_str_t){ua, sizeof(ua) - 1};
    e.version_minor = 0;
    char *s = log_one(SK_ACCESS_COMBINED, &e);
    assert_string_equal(s, "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "
                           "\"G\\x22ET /a\\x22b\\x5cc\\x0d\\x0a1.2.3.4 - - [x] \\x22GET "
                           "/forged\\x1b[2J\\xff\\x7f HTTP/1.0\" 200 2326 \"r\\x00z\" "
                           "\"evil\\x22 \\x22x\\x0a\"\n");
    /* One line, and exactly the six structural quotes. */
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
    int quotes = 0;
    for (const char *p = s; *p; p++)
        quotes += *p == '"';
    assert_int_equal(quotes, 6);
    free(s);
}

/* --- JSON lines ---------------------------------------------------------------- */

static json_t *parse_line(const char *s)
{
    /* One object, one line. */
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        fail_msg("json_loads: %s at %d: %s", jerr.text, jerr.position, s);
    assert_true(json_is_object(j));
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static json_int_t jint(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_non_null(v);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void test_json_fields(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    e.referer = (sk_str_t){NULL, 0};
    char *s = log_one(SK_ACCESS_JSON, &e);
    assert_string_equal(s, "{\"time\":\"2000-10-10T13:55:36+00:00\",\"remote\":\"127.0.0.1\","
                           "\"method\":\"GET\",\"target\":\"/path\",\"protocol\":\"HTTP/1.1\","
                           "\"status\":200,\"bytes\":2326,\"referer\":\"\",\"user_agent\":"
                           "\"curl/7.88\",\"duration_us\":123}\n");
    json_t *j = parse_line(s);
    assert_string_equal(jstr(j, "time"), "2000-10-10T13:55:36+00:00");
    assert_string_equal(jstr(j, "remote"), "127.0.0.1");
    assert_string_equal(jstr(j, "method"), "GET");
    assert_string_equal(jstr(j, "target"), "/path");
    assert_string_equal(jstr(j, "protocol"), "HTTP/1.1");
    assert_int_equal(jint(j, "status"), 200);
    assert_int_equal(jint(j, "bytes"), 2326);
    assert_string_equal(jstr(j, "referer"), "");
    assert_string_equal(jstr(j, "user_agent"), "curl/7.88");
    assert_int_equal(jint(j, "duration_us"), 123);
    assert_int_equal(json_object_size(j), 10);
    json_decref(j);
    free(s);

    /* Large values survive, and the offset uses RFC 3339's colon. */
    e.bytes = UINT64_C(1) << 40;
    e.duration_us = 0;
    e.peer = NULL;
    setenv("TZ", "XYZ-5:30", 1);
    tzset();
    s = log_one(SK_ACCESS_JSON, &e);
    setenv("TZ", "UTC", 1);
    tzset();
    j = parse_line(s);
    assert_string_equal(jstr(j, "time"), "2000-10-10T19:25:36+05:30");
    assert_string_equal(jstr(j, "remote"), "-");
    assert_true(jint(j, "bytes") == (json_int_t)1 << 40);
    assert_int_equal(jint(j, "duration_us"), 0);
    json_decref(j);
    free(s);
}

/* Quotes, backslashes and controls are escaped; valid UTF-8 passes
 * through; a stray byte becomes \u00XX (read back as U+00XX). */
static void test_json_escaping(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    static const char target[] = "/q\"b\\c\n\r\t\x01\x7f/caf\xc3\xa9/\xe2\x82\xac\xf0\x9f\x98\x80";
    /* 0xff, a lone continuation byte, an overlong '/', a UTF-16 surrogate
     * and a truncated sequence at the end: none is well-formed UTF-8. */
    static const char ua[] = "a\xff"
                             "b\x80"
                             "c\xc0\xaf"
                             "d\xed\xa0\x80"
                             "e\xe2\x82";
    e.target = (sk_str_t){target, sizeof(target) - 1};
    e.user_agent = (sk_str_t){ua, sizeof(ua) - 1};
    e.referer = (sk_str_t){"x\0y", 3};
    char *s = log_one(SK_ACCESS_JSON, &e);
    assert_non_null(strstr(s, "\"target\":\"/q\\\"b\\\\c\\n\\r\\t\\u0001\\u007f/caf\xc3\xa9/"
                              "\xe2\x82\xac\xf0\x9f\x98\x80\""));
    assert_non_null(strstr(s, "\"user_agent\":\"a\\u00ffb\\u0080c\\u00c0\\u00afd\\u00ed\\u00a0"
                              "\\u0080e\\u00e2\\u0082\""));
    json_t *j = parse_line(s);
    assert_string_equal(jstr(j, "target"), target);
    assert_string_equal(jstr(j, "user_agent"), "a\xc3\xbf"
                                               "b\xc2\x80"
                                               "c\xc3\x80\xc2\xaf"
                                               "d\xc3\xad\xc2\xa0\xc2\x80"
                                               "e\xc3\xa2\xc2\x82");
    json_t *ref = json_object_get(j, "referer");
    assert_int_equal(json_string_length(ref), 3);
    assert_memory_equal(json_string_value(ref), "x\0y", 3);
    json_decref(j);
    free(s);
}

/* --- batching and flushing ------------------------------------------------------- */

static void test_flush_to_file(void **state)
{
    (void)state;
    unlink(logpath);
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    sk_access_log_t *log;
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, NULL), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);
    for (int i = 0; i < 3; i++)
        sk_access_buf_add(b, &e);
    /* Nothing reaches the file until a flush. */
    assert_int_equal(file_size(logpath), 0);
    sk_access_buf_flush(b);
    size_t len;
    char *s = slurp(logpath, &len);
    const char *line = "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /path HTTP/1.1\" 200 "
                       "2326 \"http://example.com/start.html\" \"curl/7.88\"\n";
    assert_int_equal(len, 3 * strlen(line));
    for (int i = 0; i < 3; i++)
        assert_memory_equal(s + i * strlen(line), line, strlen(line));
    free(s);
    /* An empty flush writes nothing; a later line is appended, and the
     * second second's time is formatted afresh despite the cache. */
    sk_access_buf_flush(b);
    assert_int_equal(file_size(logpath), (off_t)len);
    e.when = T_APACHE + 61;
    sk_access_buf_add(b, &e);
    sk_access_buf_free(b);
    s = slurp(logpath, NULL);
    assert_non_null(strstr(s + len, "[10/Oct/2000:13:56:37 +0000]"));
    free(s);

    /* Reopening appends (O_APPEND), it does not truncate. */
    sk_access_log_close(log);
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, NULL), 0);
    b = sk_access_buf_new(log);
    sk_access_buf_add(b, &e);
    sk_access_buf_free(b);
    assert_int_equal(file_size(logpath), (off_t)(5 * strlen(line)));
    assert_int_equal(sk_access_log_dropped(log), 0);
    sk_access_log_close(log);
}

/* The first write happens when the buffer passes 32 KiB, and it carries
 * every buffered line. */
static void test_flush_at_32k(void **state)
{
    (void)state;
    unlink(logpath);
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    char target[1000];
    memset(target, 'a', sizeof(target));
    target[0] = '/';
    e.target = (sk_str_t){target, sizeof(target)};
    sk_access_log_t *log;
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, NULL), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);

    sk_access_buf_add(b, &e);
    sk_access_buf_flush(b);
    size_t line = (size_t)file_size(logpath);
    assert_true(line > sizeof(target));
    assert_int_equal(truncate(logpath, 0), 0);

    size_t total = 0;
    while (file_size(logpath) == 0) {
        assert_true(total < 2 * SK_ACCESS_BUF_FLUSH);
        sk_access_buf_add(b, &e);
        total += line;
    }
    assert_true(total >= SK_ACCESS_BUF_FLUSH);
    assert_true(total - line < SK_ACCESS_BUF_FLUSH);
    assert_int_equal(file_size(logpath), (off_t)total);
    /* The next line starts a new batch. */
    sk_access_buf_add(b, &e);
    assert_int_equal(file_size(logpath), (off_t)total);
    sk_access_buf_free(b);
    assert_int_equal(file_size(logpath), (off_t)(total + line));
    assert_int_equal(sk_access_log_dropped(log), 0);
    sk_access_log_close(log);
}

/* --- failures ------------------------------------------------------------------- */

/* /dev/full fails every write with ENOSPC: lines are dropped and counted. */
static void test_dev_full(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    sk_access_log_t *log;
    if (access("/dev/full", W_OK) != 0)
        skip();
    assert_int_equal(sk_access_log_open(&log, "/dev/full", SK_ACCESS_JSON, NULL), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);
    sk_access_buf_add(b, &e);
    sk_access_buf_flush(b);
    assert_int_equal(sk_access_log_dropped(log), 1);
    /* The dropped batch is gone, not retried. */
    sk_access_buf_flush(b);
    assert_int_equal(sk_access_log_dropped(log), 1);
    for (int i = 0; i < 100; i++)
        sk_access_buf_add(b, &e);
    sk_access_buf_free(b);
    assert_int_equal(sk_access_log_dropped(log), 101);
    sk_access_log_close(log);
}

/* A pipe whose reader has gone: EPIPE is dropped like any error. Pipes
 * are also flushed by PIPE_BUF so each batch is one atomic write. */
static void test_dead_pipe(void **state)
{
    (void)state;
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
    sk_access_log_t *log;
    assert_int_equal(sk_access_log_open(&log, path, SK_ACCESS_COMBINED, NULL), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);

    /* With the reader present, lines arrive long before 32 KiB. */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char rd[PIPE_BUF];
    size_t got = 0;
    for (int i = 0; i < 40 && got == 0; i++) {
        sk_access_buf_add(b, &e);
        ssize_t n = read(p[0], rd, sizeof(rd));
        if (n > 0) {
            got = (size_t)n;
            assert_true(n <= PIPE_BUF);
            assert_int_equal(rd[n - 1], '\n');
        }
    }
    assert_true(got > 0);

    close(p[0]);
    sk_access_buf_add(b, &e);
    sk_access_buf_flush(b);
    assert_true(sk_access_log_dropped(log) >= 1);
    sk_access_buf_free(b);
    sk_access_log_close(log);
    close(p[1]);
    signal(SIGPIPE, old);
}

/* ENOMEM while formatting drops that line only and leaves no fragment. */
static void test_enomem(void **state)
{
    (void)state;
    unlink(logpath);
    struct sockaddr_in sin = v4_peer();
    sk_access_entry_t e = base_entry(&sin);
    sk_access_log_t *log;
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, NULL), 0);
    sk_access_buf_t *b = sk_access_buf_new(log);
    assert_non_null(b);
    sk_access_buf_add(b, &e);
    /* A long target makes the buffer grow mid-line, where it then fails. */
    static char big[5000];
    memset(big, 'b', sizeof(big));
    e.target = (sk_str_t){big, sizeof(big)};
    sk_alloc_fail_after(1);
    sk_access_buf_add(b, &e);
    sk_alloc_fail_after(0);
    assert_int_equal(sk_access_log_dropped(log), 1);
    e.target = SK_STR("/after");
    sk_access_buf_add(b, &e);
    sk_access_buf_free(b);
    char *s = slurp(logpath, NULL);
    char *second = strchr(s, '\n') + 1;
    assert_null(strstr(s, "bbbb"));
    assert_true(strncmp(second, "127.0.0.1 - - [", 15) == 0);
    assert_non_null(strstr(second, "\"GET /after HTTP/1.1\""));
    assert_ptr_equal(strchr(second, '\n'), s + strlen(s) - 1);
    free(s);
    sk_access_log_close(log);

    /* Allocation failures in open and new are reported, not fatal. */
    sk_alloc_fail_after(1);
    struct sk_err err = {0};
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, &err), -ENOMEM);
    assert_int_equal(err.code, -ENOMEM);
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_COMBINED, &err), 0);
    sk_alloc_fail_after(1);
    assert_null(sk_access_buf_new(log));
    sk_alloc_fail_after(0);
    sk_access_log_close(log);
}

static void test_open(void **state)
{
    (void)state;
    sk_access_log_t *log = (sk_access_log_t *)1;
    struct sk_err err = {0};
    char bad[PATH_MAX + 32];
    snprintf(bad, sizeof(bad), "%s/missing/dir/access.log", tmpdir);
    assert_int_equal(sk_access_log_open(&log, bad, SK_ACCESS_COMBINED, &err), -ENOENT);
    assert_null(log);
    assert_int_equal(err.code, -ENOENT);
    assert_non_null(strstr(err.msg, "missing/dir"));

    /* "-" is a duplicate of stdout: closing the log leaves fd 1 open. */
    assert_int_equal(sk_access_log_open(&log, "-", SK_ACCESS_COMBINED, &err), 0);
    sk_access_log_close(log);
    assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0);

    /* A new file gets mode 0644 (less the umask). */
    unlink(logpath);
    mode_t old = umask(022);
    assert_int_equal(sk_access_log_open(&log, logpath, SK_ACCESS_JSON, NULL), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    sk_access_log_close(log);

    sk_access_log_close(NULL);
    sk_access_buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combined_exact),
        cmocka_unit_test(test_combined_local_offset),
        cmocka_unit_test(test_combined_dashes_and_peers),
        cmocka_unit_test(test_combined_escaping),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_flush_to_file),
        cmocka_unit_test(test_flush_at_32k),
        cmocka_unit_test(test_dev_full),
        cmocka_unit_test(test_dead_pipe),
        cmocka_unit_test(test_enomem),
        cmocka_unit_test(test_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
