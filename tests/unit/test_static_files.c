/*
 * Unit tests of static_files' pure pieces and of the table scripts/embed_web.py generates: a
 * fixture directory (tests/unit/web_fixture) is compiled the way web/ is, and its entries are
 * checked against the files themselves — sorted paths, hidden files left out, ETags that are the
 * SHA-256 of the bytes, gzip copies that inflate back to the file and exist only when smaller.
 * Serving over HTTP (headers, 304, HEAD, the web root's refusals) is tested black-box.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/static_files.h"

/* The fixture's table, generated like web/'s under another name (tests/unit/meson.build), and web/'s. */
extern const static_file_t fixture_files[];
extern const size_t fixture_files_count;
extern const static_file_t web_assets[];
extern const size_t web_assets_count;

static const char *fixture_dir(void)
{
    const char *dir = getenv("WEB_FIXTURE_DIR");
    assert_non_null(dir);
    return dir;
}

/* Reads a fixture file whole; the caller frees. */
static unsigned char *read_fixture(const char *url_path, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", fixture_dir(), url_path);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char *data = malloc(1 << 20);
    assert_non_null(data);
    *len = fread(data, 1, 1 << 20, file);
    fclose(file);
    return data;
}

static const static_file_t *find(const char *path)
{
    return static_files_find(fixture_files, fixture_files_count, path, strlen(path));
}

static void test_table_holds_every_visible_file_in_path_order(void **state)
{
    (void)state;
    static const char *const expected[] = {"/a.js", "/a/b.js", "/css/app.css", "/dot.png", "/index.html"};
    assert_int_equal(fixture_files_count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < fixture_files_count; ++i)
        assert_string_equal(fixture_files[i].path, expected[i]);
}

static void test_find_takes_exact_paths_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < fixture_files_count; ++i)
        assert_ptr_equal(find(fixture_files[i].path), &fixture_files[i]);
    assert_null(find("/"));
    assert_null(find("/a"));
    assert_null(find("/a.j"));
    assert_null(find("/a.jsx"));
    assert_null(find("/index.htm"));
    assert_null(find("/.hidden"));
    assert_null(find("/.dotdir/x.html"));
    assert_null(find("/zzz"));
    assert_null(find(""));
    /* a length shorter than the string: only the prefix is looked up */
    assert_ptr_equal(static_files_find(fixture_files, fixture_files_count, "/a.jsXYZ", 5), find("/a.js"));
    assert_null(static_files_find(fixture_files, 0, "/a.js", 5));
}

static void test_entries_match_the_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < fixture_files_count; ++i) {
        const static_file_t *file = &fixture_files[i];
        size_t len;
        unsigned char *data = read_fixture(file->path, &len);
        assert_int_equal(file->body_len, len);
        assert_memory_equal(file->body, data, len);
        free(data);
    }
}

static void assert_etag_of(const char *etag, const unsigned char *data, size_t len)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1], expected[40];
    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(expected, sizeof(expected), "\"%.32s\"", hex);
    assert_string_equal(etag, expected);
}

static void test_etags_are_the_sha256_of_each_representation(void **state)
{
    (void)state;
    for (size_t i = 0; i < fixture_files_count; ++i) {
        const static_file_t *file = &fixture_files[i];
        assert_etag_of(file->etag, file->body, file->body_len);
        if (file->gzip != NULL) {
            assert_etag_of(file->gzip_etag, file->gzip, file->gzip_len);
            assert_string_not_equal(file->gzip_etag, file->etag);
        } else {
            assert_null(file->gzip_etag);
        }
    }
}

static void test_gzip_copies_inflate_to_the_file_and_are_smaller(void **state)
{
    (void)state;
    size_t with_gzip = 0;
    for (size_t i = 0; i < fixture_files_count; ++i) {
        const static_file_t *file = &fixture_files[i];
        if (file->gzip == NULL)
            continue;
        ++with_gzip;
        assert_true(file->gzip_len < file->body_len);
        unsigned char *out = malloc(file->body_len + 1);
        z_stream stream = {.next_in = (unsigned char *)file->gzip,
                           .avail_in = (uInt)file->gzip_len,
                           .next_out = out,
                           .avail_out = (uInt)file->body_len + 1};
        assert_int_equal(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK); /* 16: gzip framing */
        assert_int_equal(inflate(&stream, Z_FINISH), Z_STREAM_END);
        assert_int_equal(stream.total_out, file->body_len);
        assert_memory_equal(out, file->body, file->body_len);
        inflateEnd(&stream);
        free(out);
    }
    /* the stylesheet repeats itself and the page is long enough; the tiny files are not worth it */
    assert_non_null(find("/css/app.css")->gzip);
    assert_non_null(find("/index.html")->gzip);
    assert_null(find("/a.js")->gzip);
    assert_null(find("/dot.png")->gzip);
    assert_int_equal(with_gzip, 2);
}

/* The generator and the web root serve the same types: one table in Python, one in C. */
static void assert_types_agree(const static_file_t *files, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        const char *type = static_files_content_type(files[i].path, strlen(files[i].path));
        assert_non_null(type);
        assert_string_equal(type, files[i].content_type);
    }
}

static void test_content_types_agree_with_the_generator(void **state)
{
    (void)state;
    assert_types_agree(fixture_files, fixture_files_count);
    assert_types_agree(web_assets, web_assets_count);
    assert_string_equal(find("/index.html")->content_type, "text/html; charset=utf-8");
    assert_string_equal(find("/a.js")->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(find("/dot.png")->content_type, "image/png");
}

static const char *type_of(const char *path)
{
    return static_files_content_type(path, strlen(path));
}

static void test_content_type_by_extension(void **state)
{
    (void)state;
    assert_string_equal(type_of("/openapi.json"), "application/json; charset=utf-8");
    assert_string_equal(type_of("/css/app.CSS"), "text/css; charset=utf-8");
    assert_string_equal(type_of("/img/logo.svg"), "image/svg+xml");
    assert_null(type_of("/README"));
    assert_null(type_of("/x.exe"));
    assert_null(type_of("/a.html/b")); /* the dot is in a directory's name */
    assert_null(type_of("/x.htmlx"));
    assert_null(type_of("/x."));
    assert_null(static_files_content_type("/x.html", 6)); /* "/x.htm" */
}

static bool accepts(const char *value)
{
    return static_files_accepts_gzip(value, strlen(value));
}

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_true(accepts("gzip"));
    assert_true(accepts("gzip, deflate, br"));
    assert_true(accepts("br;q=1.0, GZIP;q=0.5"));
    assert_true(accepts("x-gzip"));
    assert_true(accepts("*"));
    assert_true(accepts("  deflate ,  gzip  "));
    assert_true(accepts("gzip;q=0.001"));
    assert_true(accepts("gzip; level=1; q=1"));
    assert_false(accepts(""));
    assert_false(accepts("identity"));
    assert_false(accepts("br, deflate"));
    assert_false(accepts("gzip;q=0"));
    assert_false(accepts("gzip;q=0.000"));
    assert_false(accepts("gzip; q=0, *")); /* named and refused: "*" does not bring it back */
    assert_false(accepts("*;q=0"));
    assert_false(accepts("gzipper"));
    assert_false(accepts("x-gzip2"));
}

static bool matches(const char *value, const char *etag)
{
    return static_files_etag_matches(value, strlen(value), etag);
}

static void test_if_none_match(void **state)
{
    (void)state;
    const char *etag = "\"abc123\"";
    assert_true(matches("\"abc123\"", etag));
    assert_true(matches("W/\"abc123\"", etag));
    assert_true(matches("\"x\", \"abc123\"", etag));
    assert_true(matches("\"x\",W/\"abc123\" ", etag));
    assert_true(matches("*", etag));
    assert_false(matches("\"abc12\"", etag));
    assert_false(matches("\"abc1234\"", etag));
    assert_false(matches("abc123", etag));
    assert_false(matches("\"abc123", etag));
    assert_false(matches("", etag));
    assert_false(matches("\"x\", \"y\"", etag));
    assert_false(matches("w/\"abc123\"", etag)); /* W/ is case-sensitive */
}

static bool safe(const char *path)
{
    return static_files_path_is_safe(path, strlen(path));
}

static void test_paths_under_a_web_root(void **state)
{
    (void)state;
    assert_true(safe("/index.html"));
    assert_true(safe("/css/app.css"));
    assert_true(safe("/a/b/c.js"));
    assert_true(safe("/file.with.dots.js"));
    assert_false(safe(""));
    assert_false(safe("/"));
    assert_false(safe("index.html"));
    assert_false(safe("/../etc/passwd"));
    assert_false(safe("/css/../../x.css"));
    assert_false(safe("/css/.."));
    assert_false(safe("/./index.html"));
    assert_false(safe("/css//app.css"));
    assert_false(safe("/css/"));
    assert_false(safe("/.hidden"));
    assert_false(safe("/.git/config"));
    assert_false(safe("/css\\..\\x.css"));
    assert_false(safe("/a\tb.css"));
    assert_false(static_files_path_is_safe("/a\0b.css", 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_holds_every_visible_file_in_path_order),
        cmocka_unit_test(test_find_takes_exact_paths_only),
        cmocka_unit_test(test_entries_match_the_files),
        cmocka_unit_test(test_etags_are_the_sha256_of_each_representation),
        cmocka_unit_test(test_gzip_copies_inflate_to_the_file_and_are_smaller),
        cmocka_unit_test(test_content_types_agree_with_the_generator),
        cmocka_unit_test(test_content_type_by_extension),
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_if_none_match),
        cmocka_unit_test(test_paths_under_a_web_root),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
