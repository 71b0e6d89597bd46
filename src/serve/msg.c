/* msg.c -- the framed JSON request/reply service (see msg.h). Frames are
 * cut by the sans-I/O codec (proto/frame.c), parsed by jansson straight
 * from the frame slice, and answered in order into the connection's output
 * queue. The driver stops feeding input while the queue is above its
 * high-water mark, so a client that does not read its replies stops being
 * read: memory stays bounded by one frame plus the mark.
 *
 * Counters are per worker (the thread-per-connection engine makes one per
 * connection thread): each is written only by its own thread with relaxed
 * atomic load+store (no locked instruction on the request path) and read
 * by any thread with relaxed loads when a stats request sums them under
 * the registry lock. A worker that ends folds its counts into the retired
 * totals, so nothing is lost when connection threads come and go. */
#include "serve/msg.h"
#include "serve/internal.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "proto/frame.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A frame stalled half-way, or replies the peer does not read, end the
 * connection after this long without progress. */
#define MSG_STALL_MS 60000
/* A reply buffer that grew past this (a large echo) is freed after use. */
#define REPLY_KEEP (64 * 1024)
/* Arrays and objects in a request nest at most this deep (see too_deep). */
#define MSG_MAX_DEPTH 512
/* Bytes of the per-worker arena jansson allocates from while it parses
 * one request; a request that needs more falls back to malloc. */
#define ARENA_SIZE (16 * 1024)

enum { C_OPEN, C_TOTAL, C_FRAMES, C_BYTES_IN, C_BYTES_OUT, C_ERRORS, C_COUNT };

struct msg_worker {
    _Atomic uint64_t c[C_COUNT];
    struct msg_worker *prev, *next;
    sk__msg_shared_t *shared;
    sk_buf_t reply; /* where replies are built, reused across requests */
    char *arena;    /* ARENA_SIZE bytes, allocated at the first request */
};

struct sk__msg_shared {
    pthread_mutex_t lock;
    struct msg_worker *workers;
    uint64_t retired[C_COUNT];
    uint64_t start_ms;
};

struct msg_sess {
    sk_frame_decoder_t dec;
    struct msg_worker *w;
};

/* Single writer: a plain add published with a relaxed store. */
static inline void bump(struct msg_worker *w, int i, uint64_t n)
{
    atomic_store_explicit(&w->c[i], atomic_load_explicit(&w->c[i], memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- a request arena for jansson ------------------------------------------
 *
 * Parsing {"op":"ping","id":1} costs jansson half a dozen malloc/free
 * pairs, as much as the parse itself. While handle() runs, jansson
 * allocates from this thread's worker arena instead (a bump pointer reset
 * per request) and frees into it as no-ops; every value dies before
 * handle() returns. Outside handle(), or when the arena is full, the hooks
 * are plain malloc/free, so other jansson users in the process (the
 * hooks are process-wide) are unaffected. */

static _Thread_local char *arena_base; /* NULL outside handle() */
static _Thread_local size_t arena_used;

static void *arena_malloc(size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (arena_base != NULL && need >= n && need <= ARENA_SIZE - arena_used) {
        void *p = arena_base + arena_used;
        arena_used += need;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (arena_base != NULL && (char *)p >= arena_base && (char *)p < arena_base + ARENA_SIZE)
        return;
    free(p);
}

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

/* ---- per-worker state --------------------------------------------------- */

static void *msg_worker_init(void *cfg_)
{
    sk_msg_config_t *cfg = cfg_;
    struct msg_worker *w = sk_calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->shared = cfg->state;
    pthread_mutex_lock(&w->shared->lock);
    w->next = w->shared->workers;
    if (w->next != NULL)
        w->next->prev = w;
    w->shared->workers = w;
    pthread_mutex_unlock(&w->shared->lock);
    return w;
}

static void msg_worker_fini(void *worker)
{
    struct msg_worker *w = worker;
    sk__msg_shared_t *sh = w->shared;
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < C_COUNT; i++)
        sh->retired[i] += atomic_load_explicit(&w->c[i], memory_order_relaxed);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        sh->workers = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&sh->lock);
    sk_buf_fini(&w->reply);
    sk_free(w->arena);
    sk_free(w);
}

void sk_msg_stats(const sk_msg_config_t *cfg, sk_msg_stats_t *st)
{
    sk__msg_shared_t *sh = cfg->state;
    uint64_t sum[C_COUNT];
    pthread_mutex_lock(&sh->lock);
    memcpy(sum, sh->retired, sizeof(sum));
    for (struct msg_worker *w = sh->workers; w != NULL; w = w->next)
        for (int i = 0; i < C_COUNT; i++)
            sum[i] += atomic_load_explicit(&w->c[i], memory_order_relaxed);
    pthread_mutex_unlock(&sh->lock);
    *st = (sk_msg_stats_t){
        .connections = sum[C_OPEN],
        .connections_total = sum[C_TOTAL],
        .frames = sum[C_FRAMES],
        .bytes_in = sum[C_BYTES_IN],
        .bytes_out = sum[C_BYTES_OUT],
        .errors = sum[C_ERRORS],
        .uptime_ms = sk_clock_ms() - sh->start_ms,
    };
}

/* ---- building replies ----------------------------------------------------- */

static int put(sk_buf_t *b, const char *s, size_t n)
{
    return sk_buf_append(b, s, n);
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static int dump_cb(const char *s, size_t n, void *data)
{
    return sk_buf_append(data, s, n) < 0 ? -1 : 0;
}

/* The shortest text of a real that reads back as the same double, in
 * jansson's style (always with '.' or 'e'): 0.1 stays 0.1, where
 * jansson's fixed 17 digits would print 0.10000000000000001. */
static int put_real(sk_buf_t *b, double d)
{
    char num[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(num, sizeof(num), "%.*g", prec, d);
        if (strtod(num, NULL) == d)
            break;
    }
    if (strpbrk(num, ".eEn") == NULL) { /* integral: 1.0, not 1 (inf/nan never parse) */
        num[n++] = '.';
        num[n++] = '0';
        num[n] = '\0';
    }
    return put(b, num, (size_t)n);
}

/* Appends v as compact JSON, byte for byte what jansson's JSON_COMPACT
 * prints except for reals (put_real). Containers recurse: their depth is
 * bounded by jansson's parser (2048 levels). */
static int put_json(sk_buf_t *b, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return put(
            b, num,
            (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_NULL:
        return PUT_LIT(b, "null");
    case JSON_TRUE:
        return PUT_LIT(b, "true");
    case JSON_FALSE:
        return PUT_LIT(b, "false");
    case JSON_ARRAY: {
        if (PUT_LIT(b, "[") < 0)
            return -ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i > 0 && PUT_LIT(b, ",") < 0) || put_json(b, json_array_get(v, i)) < 0)
                return -ENOMEM;
        return PUT_LIT(b, "]");
    }
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *val;
        bool first = true;
        if (PUT_LIT(b, "{") < 0)
            return -ENOMEM;
        /* Insertion order, as jansson prints without JSON_SORT_KEYS. */
        json_object_keylen_foreach((json_t *)v, key, klen, val)
        {
            json_t *k = json_stringn_nocheck(key, klen);
            int rc =
                k == NULL || (!first && PUT_LIT(b, ",") < 0) ||
                        json_dump_callback(k, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) < 0 ||
                        PUT_LIT(b, ":") < 0 || put_json(b, val) < 0
                    ? -ENOMEM
                    : 0;
            json_decref(k);
            if (rc < 0)
                return rc;
            first = false;
        }
        return PUT_LIT(b, "}");
    }
    default:
        return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) < 0 ? -ENOMEM : 0;
    }
}

/* Starts {"id":ID,"ok":true|false (id NULL: null). */
static int put_head(sk_buf_t *b, const json_t *id, bool ok)
{
    if (PUT_LIT(b, "{\"id\":") < 0)
        return -ENOMEM;
    if (id != NULL ? put_json(b, id) < 0 : PUT_LIT(b, "null") < 0)
        return -ENOMEM;
    return ok ? PUT_LIT(b, ",\"ok\":true") : PUT_LIT(b, ",\"ok\":false");
}

/* Queues the reply built in w->reply as one frame and resets the buffer. */
static int send_reply(struct msg_worker *w, sk_outq_t *out)
{
    sk_buf_t *b = &w->reply;
    int rc = sk_frame_append(out, sk_buf_head(b), b->len);
    if (rc == 0)
        bump(w, C_BYTES_OUT, SK_FRAME_PREFIX + b->len);
    sk_buf_consume(b, b->len);
    if (b->cap > REPLY_KEEP)
        sk_buf_fini(b);
    return rc;
}

/* The message as a JSON string. jansson quotes the offending input in its
 * error texts ("invalid token near '...'"), which may be invalid UTF-8:
 * then every byte outside printable ASCII becomes '?'. */
static json_t *message_string(const char *message)
{
    json_t *m = json_string(message);
    if (m != NULL)
        return m;
    char clean[256];
    size_t i = 0;
    for (; i < sizeof(clean) - 1 && message[i] != '\0'; i++)
        clean[i] = message[i] >= 0x20 && message[i] < 0x7f ? message[i] : '?';
    clean[i] = '\0';
    return json_string(clean);
}

/* An error reply; message is plain text (escaped here). */
static int reply_error(struct msg_worker *w, sk_outq_t *out, const json_t *id, const char *code,
                       const char *message)
{
    sk_buf_t *b = &w->reply;
    json_t *m = message_string(message);
    int rc = -ENOMEM;
    if (m != NULL && put_head(b, id, false) == 0 && PUT_LIT(b, ",\"error\":{\"code\":\"") == 0 &&
        put(b, code, strlen(code)) == 0 && PUT_LIT(b, "\",\"message\":") == 0 &&
        put_json(b, m) == 0 && PUT_LIT(b, "}}") == 0)
        rc = 0;
    json_decref(m);
    if (rc < 0) {
        sk_buf_consume(b, b->len);
        return rc;
    }
    bump(w, C_ERRORS, 1);
    return send_reply(w, out);
}

static int reply_stats(struct msg_worker *w, sk_outq_t *out, const json_t *id)
{
    sk_msg_stats_t st;
    sk_msg_config_t cfg = {.state = w->shared};
    sk_msg_stats(&cfg, &st);
    char text[512];
    int n = snprintf(text, sizeof(text),
                     ",\"stats\":{\"connections\":%" PRIu64 ",\"connections_total\":%" PRIu64
                     ",\"frames\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                     ",\"errors\":%" PRIu64 ",\"uptime_s\":%.3f}}",
                     st.connections, st.connections_total, st.frames, st.bytes_in, st.bytes_out,
                     st.errors, (double)st.uptime_ms / 1000.0);
    if (put_head(&w->reply, id, true) < 0 || put(&w->reply, text, (size_t)n) < 0) {
        sk_buf_consume(&w->reply, w->reply.len);
        return -ENOMEM;
    }
    return send_reply(w, out);
}

static bool str_is(const json_t *s, const char *lit, size_t n)
{
    return json_string_length(s) == n && memcmp(json_string_value(s), lit, n) == 0;
}

/* Parses one request frame and queues its reply. Returns 0 or -ENOMEM. */
static int handle_json(struct msg_worker *w, sk_outq_t *out, const char *p, size_t n)
{
    json_error_t jerr;
    /* DECODE_ANY so a valid non-object is told apart from broken JSON;
     * ALLOW_NUL so "\u0000" inside echo data comes back as sent. Invalid
     * UTF-8 is refused by jansson itself. */
    json_t *req = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (req == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return reply_error(w, out, NULL, "bad_json", msg);
    }
    int rc;
    const json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    const json_t *op = json_is_object(req) ? json_object_get(req, "op") : NULL;
    if (!json_is_object(req)) {
        rc = reply_error(w, out, NULL, "bad_request", "a request must be a JSON object");
    } else if (op == NULL) {
        rc = reply_error(w, out, id, "bad_request", "the request has no \"op\"");
    } else if (!json_is_string(op)) {
        rc = reply_error(w, out, id, "bad_request", "\"op\" must be a string");
    } else if (str_is(op, "ping", 4)) {
        rc = put_head(&w->reply, id, true) == 0 && PUT_LIT(&w->reply, "}") == 0 ? send_reply(w, out)
                                                                                : -ENOMEM;
    } else if (str_is(op, "echo", 4)) {
        const json_t *data = json_object_get(req, "data");
        if (data == NULL)
            rc = reply_error(w, out, id, "bad_request", "echo needs \"data\"");
        else
            rc = put_head(&w->reply, id, true) == 0 && PUT_LIT(&w->reply, ",\"data\":") == 0 &&
                         put_json(&w->reply, data) == 0 && PUT_LIT(&w->reply, "}") == 0
                     ? send_reply(w, out)
                     : -ENOMEM;
    } else if (str_is(op, "stats", 5)) {
        rc = reply_stats(w, out, id);
    } else {
        char msg[200];
        size_t len = json_string_length(op);
        if (len <= 64 && memchr(json_string_value(op), '\0', len) == NULL)
            snprintf(msg, sizeof(msg), "unknown op \"%s\" (ping, echo, stats)",
                     json_string_value(op));
        else
            snprintf(msg, sizeof(msg), "unknown op (ping, echo, stats)");
        rc = reply_error(w, out, id, "unknown_op", msg);
    }
    if (rc < 0)
        sk_buf_consume(&w->reply, w->reply.len);
    json_decref(req);
    return rc;
}

/* ---- the fast path: flat requests without jansson ---------------------------
 *
 * Most requests are flat objects of short values ({"op":"ping","id":17}).
 * For those, a strict scanner of a JSON subset finds op, id and data and
 * the reply copies their text, which is exactly what jansson would print:
 * strings of printable ASCII without escapes, canonical integers of at
 * most 18 digits (no "-0"), true, false and null. Anything outside the
 * subset, and every error, goes to jansson, so the answers are the same
 * either way (fuzz/fuzz_msg.c compares the two paths). */

bool sk__msg_fast = true;

struct flat {
    sk_str_t op, id, data; /* raw value text; ptr NULL when absent */
    bool op_is_string;
};

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* p[i] is a quote: the end of a printable-ASCII string without escapes
 * (just past its closing quote), or 0. */
static size_t flat_string(const char *p, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20 || c > 0x7e || c == '\\')
            return 0;
    }
    return 0;
}

/* The end of a canonical integer starting at p[i], or 0. */
static size_t flat_int(const char *p, size_t i, size_t n)
{
    size_t start = i;
    if (p[i] == '-')
        i++;
    size_t digits = i;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == digits || i - digits > 18)
        return 0;
    if (p[digits] == '0' && (i - digits > 1 || digits > start))
        return 0; /* a leading zero (invalid) or -0 (printed as 0) */
    if (i < n && (p[i] == '.' || p[i] == 'e' || p[i] == 'E'))
        return 0; /* a real: jansson's printing differs */
    return i;
}

static size_t flat_literal(const char *p, size_t i, size_t n)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(lits[k]);
        if (n - i >= len && memcmp(p + i, lits[k], len) == 0)
            return i + len;
    }
    return 0;
}

static bool key_is(sk_str_t key, const char *lit, size_t n)
{
    return key.len == n && memcmp(key.ptr, lit, n) == 0;
}

/* Scans p as a flat object of the subset; false when it is not one (then
 * jansson decides, errors included). Later duplicate keys win, as in
 * jansson. */
static bool scan_flat(const char *p, size_t n, struct flat *f)
{
    memset(f, 0, sizeof(*f));
    size_t i = skip_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        return false;
    i = skip_ws(p, i + 1, n);
    for (;;) {
        if (i >= n || p[i] != '"')
            return false;
        size_t key_end = flat_string(p, i, n);
        if (key_end == 0)
            return false;
        sk_str_t key = {p + i + 1, key_end - i - 2};
        i = skip_ws(p, key_end, n);
        if (i >= n || p[i] != ':')
            return false;
        i = skip_ws(p, i + 1, n);
        if (i >= n)
            return false;
        size_t end;
        if (p[i] == '"')
            end = flat_string(p, i, n);
        else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9'))
            end = flat_int(p, i, n);
        else
            end = flat_literal(p, i, n);
        if (end == 0)
            return false;
        sk_str_t val = {p + i, end - i};
        if (key_is(key, "op", 2)) {
            f->op = val;
            f->op_is_string = p[i] == '"';
        } else if (key_is(key, "id", 2)) {
            f->id = val;
        } else if (key_is(key, "data", 4)) {
            f->data = val;
        }
        i = skip_ws(p, end, n);
        if (i < n && p[i] == ',') {
            i = skip_ws(p, i + 1, n);
            continue;
        }
        return i < n && p[i] == '}' && skip_ws(p, i + 1, n) == n;
    }
}

/* Answers a flat ping or echo. Returns 1 when answered, 0 when jansson
 * must handle the request, or -ENOMEM. */
static int handle_flat(struct msg_worker *w, sk_outq_t *out, const struct flat *f)
{
    if (f->op.ptr == NULL || !f->op_is_string)
        return 0;
    sk_str_t op = {f->op.ptr + 1, f->op.len - 2};
    bool echo = key_is(op, "echo", 4);
    if (!key_is(op, "ping", 4) && !(echo && f->data.ptr != NULL))
        return 0;
    sk_buf_t *b = &w->reply;
    sk_str_t id = f->id.ptr != NULL ? f->id : SK_STR("null");
    if (PUT_LIT(b, "{\"id\":") < 0 || put(b, id.ptr, id.len) < 0 ||
        PUT_LIT(b, ",\"ok\":true") < 0 ||
        (echo && (PUT_LIT(b, ",\"data\":") < 0 || put(b, f->data.ptr, f->data.len) < 0)) ||
        PUT_LIT(b, "}") < 0) {
        sk_buf_consume(b, b->len);
        return -ENOMEM;
    }
    int rc = send_reply(w, out);
    return rc < 0 ? rc : 1;
}

/* True when the arrays and objects in p nest deeper than max. jansson
 * parses (and frees, and the reply printer walks) nested values by
 * recursion, about 130 bytes of stack per level for the parser alone: its
 * own limit of 2048 levels overflows the 256 KiB stack of a connection
 * thread (--backend threads) and takes the whole server down. Brackets
 * inside strings do not count; invalid JSON is left for jansson to
 * describe. */
static bool too_deep(const char *p, size_t n, unsigned max)
{
    unsigned depth = 0;
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '"':
            for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\')
                    i++;
            break;
        case '[':
        case '{':
            if (++depth > max)
                return true;
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        }
    }
    return false;
}

/* Answers one request frame with jansson allocating from the arena.
 * Returns 0 or -ENOMEM. */
static int handle(struct msg_worker *w, sk_outq_t *out, const char *p, size_t n)
{
    struct flat f;
    if (sk__msg_fast && scan_flat(p, n, &f)) {
        int rc = handle_flat(w, out, &f);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    if (too_deep(p, n, MSG_MAX_DEPTH)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the request nests arrays and objects deeper than %u levels",
                 (unsigned)MSG_MAX_DEPTH);
        return reply_error(w, out, NULL, "bad_request", msg);
    }
    if (w->arena == NULL)
        w->arena = sk_malloc(ARENA_SIZE); /* NULL: plain malloc, still correct */
    arena_base = w->arena;
    arena_used = 0;
    int rc = handle_json(w, out, p, n);
    arena_base = NULL;
    return rc;
}

/* ---- the stream protocol --------------------------------------------------- */

static int msg_open(void *sess_, void *cfg_, sk_proto_ctx_t *ctx)
{
    struct msg_sess *s = sess_;
    const sk_msg_config_t *cfg = cfg_;
    if (ctx->worker == NULL)
        return -ENOMEM; /* worker_init failed */
    sk_frame_decoder_init(&s->dec, cfg->max_frame);
    s->w = ctx->worker;
    bump(s->w, C_OPEN, 1);
    bump(s->w, C_TOTAL, 1);
    return 0;
}

/* One frame per call: the driver calls again while input remains and the
 * output queue is under its high-water mark, which is the back-pressure. */
static int msg_input(void *sess_, const char *data, size_t len, size_t *consumed,
                     sk_proto_ctx_t *ctx)
{
    struct msg_sess *s = sess_;
    sk_str_t f;
    int rc = sk_frame_decode(&s->dec, data, len, consumed, &f);
    bump(s->w, C_BYTES_IN, *consumed);
    if (rc == SK_AGAIN)
        return SK_PROTO_OK;
    if (rc == SK_ETOOBIG) {
        char msg[160];
        snprintf(msg, sizeof(msg), "a frame of %" PRIu64 " bytes is over the limit of %zu bytes",
                 s->dec.too_big, s->dec.max);
        rc = reply_error(s->w, ctx->out, NULL, "frame_too_large", msg);
        return rc < 0 ? rc : SK_PROTO_CLOSE;
    }
    if (rc < 0)
        return rc;
    bump(s->w, C_FRAMES, 1);
    rc = handle(s->w, ctx->out, f.ptr, f.len);
    return rc < 0 ? rc : SK_PROTO_OK;
}

static int msg_eof(void *sess, sk_proto_ctx_t *ctx)
{
    (void)sess;
    (void)ctx;
    /* Replies owed go out first; a frame cut short by the peer is dropped. */
    return SK_PROTO_CLOSE;
}

static uint64_t msg_deadline(void *sess_, uint64_t last_ms, bool pending)
{
    struct msg_sess *s = sess_;
    return pending || sk_frame_decoder_partial(&s->dec) ? last_ms + MSG_STALL_MS : 0;
}

static bool msg_idle(void *sess_)
{
    struct msg_sess *s = sess_;
    return !sk_frame_decoder_partial(&s->dec);
}

static void msg_close(void *sess_)
{
    struct msg_sess *s = sess_;
    if (s->w == NULL)
        return; /* open() failed */
    sk_frame_decoder_fini(&s->dec);
    bump(s->w, C_OPEN, (uint64_t)-1);
}

static const sk_proto_t msg_proto = {
    .name = "msg",
    .session_size = sizeof(struct msg_sess),
    .open = msg_open,
    .input = msg_input,
    .eof = msg_eof,
    .deadline_ms = msg_deadline,
    .idle = msg_idle,
    .close = msg_close,
};

int sk_msg_config_init(sk_msg_config_t *cfg, size_t max_frame)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_frame = max_frame > SK_FRAME_MAX_LIMIT ? SK_FRAME_MAX_LIMIT : max_frame;
    cfg->state = sk_calloc(1, sizeof(*cfg->state));
    if (cfg->state == NULL)
        return -ENOMEM;
    pthread_mutex_init(&cfg->state->lock, NULL);
    pthread_once(&arena_once, arena_install);
    cfg->state->start_ms = sk_clock_ms();
    cfg->service = (sk_service_t){
        .stream = &msg_proto,
        .cfg = cfg,
        .worker_init = msg_worker_init,
        .worker_fini = msg_worker_fini,
    };
    return 0;
}

void sk_msg_config_fini(sk_msg_config_t *cfg)
{
    if (cfg->state == NULL)
        return;
    pthread_mutex_destroy(&cfg->state->lock);
    sk_free(cfg->state);
    cfg->state = NULL;
}
