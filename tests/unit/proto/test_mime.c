/* test_mime.c -- unit tests for src/proto/mime.c: built-in lookups (case,
 * charset, paths without extension, dotfiles), loading mime.types files
 * (comments, invalid lines, built-ins winning, first file winning),
 * /etc/mime.types when present, and every -ENOMEM path of loading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "proto/mime.h"

struct lookup_case {
    const char *path;
    const char *type;
    const char *why;
};

#define HTML "text/html; charset=utf-8"
#define JS "text/javascript; charset=utf-8"
#define OCTET "application/octet-stream"

static const struct lookup_case builtin_cases[] = {
    {"/index.html", HTML, "html"},
    {"/a/b.htm", HTML, "htm"},
    {"/INDEX.HTML", HTML, "extension is case-insensitive"},
    {"/a/App.Js", JS, "mixed-case js (RFC 9239 text/javascript)"},
    {"x.mjs", JS, "module scripts need a JS type"},
    {"x.css", "text/css; charset=utf-8", "css"},
    {"x.txt", "text/plain; charset=utf-8", "txt"},
    {"x.md", "text/markdown; charset=utf-8", "md"},
    {"x.csv", "text/csv; charset=utf-8", "csv"},
    {"x.json", "application/json; charset=utf-8", "json gets a charset"},
    {"x.js.map", "application/json; charset=utf-8", "source map"},
    {"x.svg", "image/svg+xml; charset=utf-8", "svg gets a charset"},
    {"x.xml", "application/xml", "xml declares its own encoding"},
    {"x.png", "image/png", "png"},
    {"x.jpg", "image/jpeg", "jpg"},
    {"x.jpeg", "image/jpeg", "jpeg"},
    {"x.gif", "image/gif", "gif"},
    {"x.webp", "image/webp", "webp"},
    {"x.avif", "image/avif", "avif"},
    {"x.ico", "image/x-icon", "ico"},
    {"x.wasm", "application/wasm", "streaming compilation checks this"},
    {"x.pdf", "application/pdf", "pdf"},
    {"x.zip", "application/zip", "zip"},
    {"x.tar.gz", "application/gzip", "last extension counts"},
    {"x.br", "application/x-brotli", "br"},
    {"x.mp4", "video/mp4", "mp4"},
    {"x.webm", "video/webm", "webm"},
    {"x.ogg", "audio/ogg", "ogg"},
    {"x.mp3", "audio/mpeg", "mp3"},
    {"x.wav", "audio/wav", "wav"},
    {"x.woff", "font/woff", "woff"},
    {"x.woff2", "font/woff2", "woff2 (digit in extension)"},
    {"x.ttf", "font/ttf", "ttf"},
    {"x.otf", "font/otf", "otf"},
    {"x.7z", "application/x-7z-compressed", "first entry of the table"},
    {"x.zst", "application/zstd", "last entry of the table"},
    {"noext", OCTET, "no extension"},
    {"/dir.d/noext", OCTET, "a dot in a directory is not an extension"},
    {".bashrc", OCTET, "dotfile has no extension"},
    {"/a/.htaccess", OCTET, "dotfile in a directory"},
    {"/a/.x.html", HTML, "dotfile with an extension"},
    {"file.", OCTET, "empty extension"},
    {"x.unknownext", OCTET, "unknown extension"},
    {"x.htmlhtmlhtmlhtmlhtmlhtmlhtmlhtmlhtml", OCTET, "over-long extension"},
    {"", OCTET, "empty path"},
    {"/", OCTET, "directory"},
};

static void run_lookups(const sk_mime_t *m, const struct lookup_case *cases, size_t n)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const char *got = sk_mime_lookup(m, cases[i].path);
        if (got == NULL || strcmp(got, cases[i].type) != 0) {
            print_error("case %zu (%s): %s -> %s\n", i, cases[i].why, cases[i].path,
                        got ? got : "(null)");
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void test_builtin(void **state)
{
    (void)state;
    sk_mime_t *m = sk_mime_new();
    assert_non_null(m);
    run_lookups(m, builtin_cases, sizeof(builtin_cases) / sizeof(builtin_cases[0]));
    sk_mime_free(m);
    sk_mime_free(NULL);
}

/* Writes text to a fresh temporary file; the caller unlinks it. */
static void write_temp(char *path, const char *text)
{
    strcpy(path, "/tmp/sk_mime_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static const char types1[] = "# a comment line\n"
                             "\n"
                             "text/x-foo foo FOO2\n"
                             "application/x-bar\tbar   # trailing comment\n"
                             "text/html html htm xhtml-custom\n"
                             "application/javascript jsx\n"
                             "image/svg+xml svgx\n"
                             "application/json jsonx\n"
                             "Text/Plain crlf\r\n"
                             "bad line\n"
                             "inva\"lid/x qq\n"
                             "/x noname\n"
                             "application/ emptysub\n"
                             "application/x-first dup\n"
                             "application/x-second dup\n"
                             "video/x-nothing\n"
                             "application/x-weird we!rd ok-ext\n"
                             "application/x-nonl last";

static const char types2[] = "application/x-third dup\n"
                             "application/x-baz baz foo\n";

static const struct lookup_case loaded_cases[] = {
    {"x.foo", "text/x-foo; charset=utf-8", "text/* gets a charset"},
    {"x.FOO2", "text/x-foo; charset=utf-8", "loaded extensions are case-insensitive"},
    {"x.bar", "application/x-bar", "tab separator and trailing comment"},
    {"x.html", HTML, "built-in wins over the file"},
    {"x.xhtml-custom", HTML, "new extension on a built-in type"},
    {"x.jsx", "application/javascript; charset=utf-8", "application/javascript gets a charset"},
    {"x.svgx", "image/svg+xml; charset=utf-8", "svg gets a charset"},
    {"x.jsonx", "application/json; charset=utf-8", "json gets a charset"},
    {"x.crlf", "text/plain; charset=utf-8", "CRLF line end, type lowercased"},
    {"x.qq", OCTET, "invalid type skipped"},
    {"x.noname", OCTET, "type without a type name skipped"},
    {"x.emptysub", OCTET, "type without a subtype skipped"},
    {"x.line", OCTET, "type without a slash skipped"},
    {"x.dup", "application/x-first", "first mapping in a file wins"},
    {"x.we!rd", OCTET, "invalid extension skipped"},
    {"x.ok-ext", "application/x-weird", "the valid extension of that line is kept"},
    {"x.last", "application/x-nonl", "last line without a newline"},
    {"x.js", JS, "built-ins are unaffected"},
    {"x.unknown", OCTET, "still the default"},
};

static const struct lookup_case second_cases[] = {
    {"x.dup", "application/x-first", "first file wins"},
    {"x.foo", "text/x-foo; charset=utf-8", "first file wins"},
    {"x.baz", "application/x-baz", "second file adds new extensions"},
    {"x.bar", "application/x-bar", "first file entries stay"},
};

static void test_load_file(void **state)
{
    (void)state;
    char p1[32], p2[32];
    write_temp(p1, types1);
    write_temp(p2, types2);
    sk_mime_t *m = sk_mime_new();
    assert_non_null(m);
    assert_int_equal(sk_mime_load_file(m, p1), 0);
    run_lookups(m, loaded_cases, sizeof(loaded_cases) / sizeof(loaded_cases[0]));
    assert_int_equal(sk_mime_load_file(m, p2), 0);
    run_lookups(m, second_cases, sizeof(second_cases) / sizeof(second_cases[0]));
    run_lookups(m, builtin_cases, sizeof(builtin_cases) / sizeof(builtin_cases[0]));
    assert_int_equal(sk_mime_load_file(m, "/nonexistent/mime.types"), -ENOENT);
    /* A directory opens but cannot be read. */
    assert_int_equal(sk_mime_load_file(m, "/tmp"), -EISDIR);
    assert_string_equal(sk_mime_lookup(m, "x.baz"), "application/x-baz");
    sk_mime_free(m);
    unlink(p1);
    unlink(p2);
}

static void test_system_file(void **state)
{
    (void)state;
    if (access("/etc/mime.types", R_OK) != 0)
        skip();
    sk_mime_t *m = sk_mime_new();
    assert_non_null(m);
    assert_int_equal(sk_mime_load_file(m, "/etc/mime.types"), 0);
    /* The curated types still win. */
    run_lookups(m, builtin_cases, sizeof(builtin_cases) / sizeof(builtin_cases[0]));
    /* Debian's file maps .doc; anything it adds must be a valid type. */
    const char *doc = sk_mime_lookup(m, "report.doc");
    assert_non_null(strchr(doc, '/'));
    sk_mime_free(m);
}

/* Every allocation of a load can fail; the table is then unchanged and
 * nothing leaks (ASan checks the latter). */
static void test_load_enomem(void **state)
{
    (void)state;
    char p1[32];
    write_temp(p1, types1);
    sk_alloc_fail_after(1);
    assert_null(sk_mime_new());
    int rc = -ENOMEM;
    for (long n = 1; rc == -ENOMEM && n < 1000; n++) {
        sk_mime_t *m = sk_mime_new();
        assert_non_null(m);
        sk_alloc_fail_after(n);
        rc = sk_mime_load_file(m, p1);
        sk_alloc_fail_after(0);
        if (rc == -ENOMEM)
            assert_string_equal(sk_mime_lookup(m, "x.foo"), OCTET);
        else
            assert_string_equal(sk_mime_lookup(m, "x.foo"), "text/x-foo; charset=utf-8");
        sk_mime_free(m);
    }
    assert_int_equal(rc, 0);
    unlink(p1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_system_file),
        cmocka_unit_test(test_load_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
