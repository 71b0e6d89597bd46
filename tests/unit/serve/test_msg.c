/* test_msg.c -- the framed JSON service driven without sockets, as the
 * connection driver drives it: every reply kind (ok, bad_json, bad_request,
 * unknown_op, frame_too_large), ids carried over, one frame per input call
 * (the driver's back-pressure relies on it), exact counters, deadlines,
 * and allocation failure at every step of a request. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "proto/frame.h"
#include "serve/internal.h"
#include "serve/msg.h"

struct fixture {
    sk_msg_config_t cfg;
    void *worker;
    void *sess;
    sk_outq_t out;
    sk_proto_ctx_t ctx;
    const sk_proto_t *p;
};

static struct fixture *fx_new(size_t max)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(sk_msg_config_init(&f->cfg, max), 0);
    f->p = f->cfg.service.stream;
    f->worker = f->cfg.service.worker_init(f->cfg.service.cfg);
    assert_non_null(f->worker);
    f->sess = calloc(1, f->p->session_size);
    sk_outq_init(&f->out);
    f->ctx = (sk_proto_ctx_t){.out = &f->out, .worker = f->worker};
    assert_int_equal(f->p->open(f->sess, f->cfg.service.cfg, &f->ctx), 0);
    return f;
}

static void fx_free(struct fixture *f)
{
    f->p->close(f->sess);
    f->cfg.service.worker_fini(f->worker);
    sk_msg_config_fini(&f->cfg);
    sk_outq_clear(&f->out);
    free(f->sess);
    free(f);
}

/* Feeds bytes as the driver does: call input() until it consumes nothing
 * more or returns a non-OK result; returns that result. *calls counts the
 * input() calls. */
static int feed(struct fixture *f, const char *data, size_t len, int *calls)
{
    size_t off = 0;
    int rc = SK_PROTO_OK;
    while (off < len) {
        size_t used = 0;
        rc = f->p->input(f->sess, data + off, len - off, &used, &f->ctx);
        if (calls != NULL)
            (*calls)++;
        assert_true(used <= len - off);
        off += used;
        if (rc != SK_PROTO_OK || used == 0)
            break;
    }
    return rc;
}

static int feed_frame(struct fixture *f, const char *json)
{
    size_t n = strlen(json);
    char *buf = malloc(n + 4);
    sk_frame_put_prefix(buf, (uint32_t)n);
    memcpy(buf + 4, json, n);
    int rc = feed(f, buf, n + 4, NULL);
    free(buf);
    return rc;
}

/* Takes the next reply frame off the output queue, parsed. */
static json_t *next_reply(struct fixture *f)
{
    char head[4];
    assert_int_equal(sk_outq_peek(&f->out, head, 4), 4);
    uint32_t n = sk_frame_get_prefix(head);
    char *buf = malloc(n + 4);
    assert_int_equal(sk_outq_peek(&f->out, buf, n + 4), n + 4);
    sk_outq_consume(&f->out, n + 4);
    json_error_t e;
    json_t *v = json_loadb(buf + 4, n, 0, &e);
    if (v == NULL)
        fail_msg("reply is not JSON: %.*s", (int)n, buf + 4);
    free(buf);
    return v;
}

static const char *error_code(json_t *r)
{
    assert_true(json_is_false(json_object_get(r, "ok")));
    json_t *e = json_object_get(r, "error");
    assert_true(json_is_string(json_object_get(e, "message")));
    return json_string_value(json_object_get(e, "code"));
}

static void test_ping_echo_ids(void **state)
{
    (void)state;
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    assert_int_equal(feed_frame(f, "{\"op\":\"ping\",\"id\":-9223372036854775808}"), 0);
    json_t *r = next_reply(f);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_true(json_integer_value(json_object_get(r, "id")) == INT64_MIN);
    json_decref(r);
    assert_int_equal(
        feed_frame(f, "{\"id\":{\"a\":[1,\"x\"]},\"data\":[null,2.5],\"op\":\"echo\"}"), 0);
    r = next_reply(f);
    json_t *want =
        json_loads("{\"id\":{\"a\":[1,\"x\"]},\"ok\":true,\"data\":[null,2.5]}", 0, NULL);
    assert_true(json_equal(r, want));
    json_decref(want);
    json_decref(r);
    assert_true(sk_outq_empty(&f->out));
    fx_free(f);
}

/* Takes the next reply frame off the output queue as text (malloc'd). */
static char *next_reply_text(struct fixture *f)
{
    char head[4];
    assert_int_equal(sk_outq_peek(&f->out, head, 4), 4);
    uint32_t n = sk_frame_get_prefix(head);
    char *buf = malloc(n + 4);
    assert_int_equal(sk_outq_peek(&f->out, buf, n + 4), n + 4);
    sk_outq_consume(&f->out, n + 4);
    memmove(buf, buf + 4, n);
    buf[n] = '\0';
    return buf;
}

/* echo returns data as given: reals keep their shortest text (jansson's
 * own printer would turn 0.1 into 0.10000000000000001), and everything
 * else is printed as jansson prints it (key order, escapes). */
static void test_echo_returns_numbers_as_given(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"{\"op\":\"echo\",\"id\":0.1,\"data\":19.99}", "{\"id\":0.1,\"ok\":true,\"data\":19.99}"},
        {"{\"op\":\"echo\",\"data\":[1.0,-0.0,2.5,100.0,0.30000000000000004,1e300]}",
         "{\"id\":null,\"ok\":true,\"data\":[1.0,-0.0,2.5,100.0,0.30000000000000004,1e+300]}"},
        {"{\"op\":\"echo\",\"data\":{\"z\":{\"p\":1.5e-7},\"a\":[],\"\\u00e9\\n\":{}}}",
         "{\"id\":null,\"ok\":true,\"data\":{\"z\":{\"p\":1.5e-07},\"a\":[],\"\xc3\xa9\\n\":{}}}"},
        {"{\"op\":\"ping\",\"id\":[{\"k\":1.25}]}", "{\"id\":[{\"k\":1.25}],\"ok\":true}"},
    };
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(feed_frame(f, rows[i][0]), 0);
        char *text = next_reply_text(f);
        assert_string_equal(text, rows[i][1]);
        free(text);
    }
    /* Reals without a fixed text round-trip exactly. */
    static const double reals[] = {
        5e-324,    1.7976931348623157e308, 2.2250738585072014e-308, 0.1 + 0.2,
        1.0 / 3.0, -123456.789e-50};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "{\"op\":\"echo\",\"data\":%.17g}", reals[i]);
        assert_int_equal(feed_frame(f, req), 0);
        json_t *r = next_reply(f);
        assert_true(json_real_value(json_object_get(r, "data")) == reals[i]);
        json_decref(r);
    }
    /* Without reals, the reply's data is what jansson prints. */
    const char *doc =
        "{\"b\":[true,false,null,\"\\u0001\\\"/\"],\"a\":{\"y\":-7,\"x\":\"\\u20ac\"}}";
    char req[256];
    snprintf(req, sizeof(req), "{\"op\":\"echo\",\"data\":%s}", doc);
    assert_int_equal(feed_frame(f, req), 0);
    char *text = next_reply_text(f);
    json_t *d = json_loads(doc, 0, NULL);
    char *want = json_dumps(d, JSON_COMPACT);
    char expect[256];
    snprintf(expect, sizeof(expect), "{\"id\":null,\"ok\":true,\"data\":%s}", want);
    assert_string_equal(text, expect);
    free(want);
    json_decref(d);
    free(text);
    fx_free(f);
}

/* Nesting is bounded before jansson recurses: 512 levels in all (the
 * request object is the first), brackets inside strings do not count. */
static void test_nesting_limit(void **state)
{
    (void)state;
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    for (int depth = 510; depth <= 512; depth++) {
        /* {"op":"echo","data": + depth arrays + } = depth + 1 levels. */
        size_t cap = 64 + 2 * (size_t)depth;
        char *req = malloc(cap);
        int n = snprintf(req, cap, "{\"op\":\"echo\",\"id\":%d,\"data\":", depth);
        memset(req + n, '[', (size_t)depth);
        memset(req + n + depth, ']', (size_t)depth);
        strcpy(req + n + 2 * depth, "}");
        assert_int_equal(feed_frame(f, req), 0);
        json_t *r = next_reply(f);
        if (depth < 512) {
            assert_true(json_is_true(json_object_get(r, "ok")));
        } else {
            assert_string_equal(error_code(r), "bad_request");
            assert_true(json_is_null(json_object_get(r, "id")));
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                "the request nests arrays and objects deeper than 512 levels");
        }
        json_decref(r);
        free(req);
    }
    /* Brackets in strings, escaped quotes included, are data. */
    char req[4096];
    int n = snprintf(req, sizeof(req), "{\"op\":\"echo\",\"data\":[\"\\\"");
    memset(req + n, '[', 1000);
    strcpy(req + n + 1000, "\"]}");
    assert_int_equal(feed_frame(f, req), 0);
    json_t *r = next_reply(f);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    fx_free(f);
}

static void test_every_error_reply(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        const char *code;
        int id; /* expected integer id, or -1 for null */
    } rows[] = {
        {"", "bad_json", -1},
        {"{", "bad_json", -1},
        {"{\"op\":\"ping\"} x", "bad_json", -1},
        {"{\"op\":\"\xc3\x28\"}", "bad_json", -1},
        /* jansson quotes the bad escape, invalid UTF-8 included, in its
         * message (found by fuzz_msg). */
        {"{\"op\":\"echo\",\"data\":\"a\\\xde\x9a\xc6\xe4}", "bad_json", -1},
        {"[]", "bad_request", -1},
        {"\"ping\"", "bad_request", -1},
        {"{\"id\":4}", "bad_request", 4},
        {"{\"id\":5,\"op\":[]}", "bad_request", 5},
        {"{\"id\":6,\"op\":\"echo\"}", "bad_request", 6},
        {"{\"id\":7,\"op\":\"pingx\"}", "unknown_op", 7},
    };
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(feed_frame(f, rows[i].req), SK_PROTO_OK);
        json_t *r = next_reply(f);
        assert_string_equal(error_code(r), rows[i].code);
        if (rows[i].id < 0)
            assert_true(json_is_null(json_object_get(r, "id")));
        else
            assert_int_equal(json_integer_value(json_object_get(r, "id")), rows[i].id);
        json_decref(r);
        /* Still usable. */
        assert_int_equal(feed_frame(f, "{\"op\":\"ping\",\"id\":1}"), SK_PROTO_OK);
        json_decref(next_reply(f));
    }
    sk_msg_stats_t st;
    sk_msg_stats(&f->cfg, &st);
    assert_int_equal(st.errors, 11);
    assert_int_equal(st.frames, 22);
    fx_free(f);
}

static void test_frame_too_large_closes(void **state)
{
    (void)state;
    struct fixture *f = fx_new(100);
    char big[8];
    sk_frame_put_prefix(big, 101);
    memcpy(big + 4, "{\"op\"", 4);
    assert_int_equal(feed(f, big, 2, NULL), SK_PROTO_OK);
    assert_true(sk_outq_empty(&f->out));
    assert_int_equal(feed(f, big + 2, 6, NULL), SK_PROTO_CLOSE);
    json_t *r = next_reply(f);
    assert_string_equal(error_code(r), "frame_too_large");
    json_decref(r);
    assert_true(sk_outq_empty(&f->out));
    fx_free(f);
}

/* Three requests in one chunk take three input() calls, one reply each,
 * so the driver can stop between them when its output is high. */
static void test_one_frame_per_call(void **state)
{
    (void)state;
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    char buf[256];
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        int n = snprintf(buf + off + 4, sizeof(buf) - off - 4, "{\"op\":\"ping\",\"id\":%d}", i);
        sk_frame_put_prefix(buf + off, (uint32_t)n);
        off += 4 + (size_t)n;
    }
    size_t used = 0;
    assert_int_equal(f->p->input(f->sess, buf, off, &used, &f->ctx), SK_PROTO_OK);
    assert_true(used < off);
    int calls = 1;
    assert_int_equal(feed(f, buf + used, off - used, &calls), SK_PROTO_OK);
    assert_int_equal(calls, 3);
    for (int i = 0; i < 3; i++) {
        json_t *r = next_reply(f);
        assert_int_equal(json_integer_value(json_object_get(r, "id")), i);
        json_decref(r);
    }
    fx_free(f);
}

static void test_stats_and_deadlines(void **state)
{
    (void)state;
    struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
    /* Idle: no deadline, and idle for a draining server. */
    assert_int_equal(f->p->deadline_ms(f->sess, 1000, false), 0);
    assert_true(f->p->idle(f->sess));
    /* Half a prefix: a stall deadline, not idle. */
    assert_int_equal(feed(f, "\0\0", 2, NULL), SK_PROTO_OK);
    assert_true(f->p->deadline_ms(f->sess, 1000, false) > 1000);
    assert_false(f->p->idle(f->sess));
    assert_int_equal(feed(f, "\0\x0e{\"op\":\"stats\"}", 16, NULL), SK_PROTO_OK);
    assert_true(f->p->idle(f->sess));
    assert_true(f->p->deadline_ms(f->sess, 1000, true) > 1000);
    json_t *r = next_reply(f);
    json_t *st = json_object_get(r, "stats");
    assert_int_equal(json_integer_value(json_object_get(st, "connections")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "connections_total")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "frames")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "bytes_in")), 18);
    assert_int_equal(json_integer_value(json_object_get(st, "bytes_out")), 0);
    assert_true(json_is_real(json_object_get(st, "uptime_s")));
    json_decref(r);
    /* A second worker's counts are summed; a closed one's are kept. */
    void *w2 = f->cfg.service.worker_init(f->cfg.service.cfg);
    void *s2 = calloc(1, f->p->session_size);
    sk_proto_ctx_t c2 = {.out = &f->out, .worker = w2};
    assert_int_equal(f->p->open(s2, f->cfg.service.cfg, &c2), 0);
    sk_msg_stats_t s;
    sk_msg_stats(&f->cfg, &s);
    assert_int_equal(s.connections, 2);
    f->p->close(s2);
    f->cfg.service.worker_fini(w2);
    free(s2);
    sk_msg_stats(&f->cfg, &s);
    assert_int_equal(s.connections, 1);
    assert_int_equal(s.connections_total, 2);
    fx_free(f);
}

/* The fast path for flat requests answers byte for byte what the jansson
 * path answers, on the edges of its subset too. */
static void test_fast_path_matches_jansson(void **state)
{
    (void)state;
    static const char *const reqs[] = {
        "{\"op\":\"ping\",\"id\":1}",
        " {\t\"id\" : \"a b\" ,\n\"op\":\"ping\" }\r\n",
        "{\"op\":\"echo\",\"id\":-7,\"data\":\"hi\"}",
        "{\"op\":\"echo\",\"op\":\"ping\",\"id\":2}",
        "{\"op\":\"ping\",\"op\":\"echo\",\"data\":3}",
        "{\"op\":\"ping\",\"id\":-0}",
        "{\"op\":\"ping\",\"id\":123456789012345678}",
        "{\"op\":\"ping\",\"id\":1234567890123456789}",
        "{\"op\":\"ping\",\"id\":-9223372036854775808}",
        "{\"op\":\"echo\",\"data\":1e5}",
        "{\"op\":\"echo\",\"data\":1.50}",
        "{\"op\":\"echo\",\"data\":\"a\\\"b\\/\"}",
        "{\"op\":\"echo\",\"data\":\"\x7f\"}",
        "{\"op\":\"echo\",\"data\":\"\xc3\xa9\"}",
        "{\"op\":\"echo\",\"id\":true,\"data\":false}",
        "{\"op\":\"echo\",\"id\":null}",
        "{\"op\":\"ping\",\"id\":01}",
        "{\"op\":\"ping\",\"id\":truex}",
        "{\"op\":\"ping\"} x",
        "{\"op\":\"ping\",}",
        "{\"op\":\"p\\u0069ng\"}",
        "{\"o\\u0070\":\"ping\"}",
        "{}",
        "{\"op\":5}",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char *got[2];
        size_t len[2];
        for (int fast = 0; fast < 2; fast++) {
            sk__msg_fast = fast;
            struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
            assert_int_equal(feed_frame(f, reqs[i]), SK_PROTO_OK);
            len[fast] = (size_t)f->out.bytes;
            got[fast] = malloc(len[fast]);
            assert_int_equal(sk_outq_peek(&f->out, got[fast], len[fast]), len[fast]);
            fx_free(f);
        }
        sk__msg_fast = true;
        if (len[0] != len[1] || memcmp(got[0], got[1], len[0]) != 0)
            fail_msg("request %zu %s: jansson %.*s, fast %.*s", i, reqs[i], (int)len[0] - 4,
                     got[0] + 4, (int)len[1] - 4, got[1] + 4);
        free(got[0]);
        free(got[1]);
    }
}

/* Every allocation of a request, failed in turn: the call either succeeds
 * or reports -ENOMEM; nothing crashes, and the session still works. */
static void test_allocation_failures(void **state)
{
    (void)state;
    const char *reqs[] = {"{\"op\":\"echo\",\"id\":\"x\",\"data\":{\"k\":[1,2,3]}}", "nope",
                          "{\"op\":\"stats\"}"};
    for (size_t k = 0; k < 3; k++) {
        for (long n = 1; n < 12; n++) {
            struct fixture *f = fx_new(SK_FRAME_MAX_DEFAULT);
            /* Split so the decoder has to allocate too. */
            size_t len = strlen(reqs[k]);
            char *buf = malloc(len + 4);
            sk_frame_put_prefix(buf, (uint32_t)len);
            memcpy(buf + 4, reqs[k], len);
            assert_int_equal(feed(f, buf, 6, NULL), SK_PROTO_OK);
            sk_alloc_fail_after(n);
            int rc = feed(f, buf + 6, len - 2, NULL);
            sk_alloc_fail_after(0);
            assert_true(rc == SK_PROTO_OK || rc == -ENOMEM);
            if (rc == SK_PROTO_OK) {
                json_t *r = next_reply(f);
                json_decref(r);
            }
            free(buf);
            fx_free(f);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_echo_ids),
        cmocka_unit_test(test_every_error_reply),
        cmocka_unit_test(test_frame_too_large_closes),
        cmocka_unit_test(test_one_frame_per_call),
        cmocka_unit_test(test_stats_and_deadlines),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_fast_path_matches_jansson),
        cmocka_unit_test(test_echo_returns_numbers_as_given),
        cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
