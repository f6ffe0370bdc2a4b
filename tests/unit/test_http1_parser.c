/* The HTTP/1.1 request-head parser and the chunked decoder: framing, limits and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http1_chunked.h"
#include "http/http1_parser.h"

#define MAX_HEAD    4096
#define MAX_HEADERS 8

/* Finds and parses text as one head; returns the status of whichever step failed. */
static http1_parse_status_t parse(const char *text, http1_request_t *request)
{
    static char buf[MAX_HEAD * 2];
    static http1_header_t headers[MAX_HEADERS];
    size_t len = strlen(text), scanned = 0, head_len = 0;
    http1_parse_status_t status;

    assert_true(len < sizeof(buf));
    memcpy(buf, text, len);
    if ((status = http1_find_head(buf, len, &scanned, MAX_HEAD, &head_len)) != HTTP1_PARSE_COMPLETE)
        return status;
    return http1_parse_head(buf, head_len, request, headers, MAX_HEADERS);
}

static void test_simple_get(void **state)
{
    http1_request_t request;
    (void)state;

    assert_int_equal(parse("GET /health?x=1 HTTP/1.1\r\nHost: a\r\nX-User-Id:  bob \r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_int_equal(request.method_len, 3);
    assert_memory_equal(request.target, "/health?x=1", request.target_len);
    assert_int_equal(request.minor_version, 1);
    assert_int_equal(request.header_count, 2);
    assert_int_equal(request.body, HTTP1_BODY_NONE);
    assert_true(request.keep_alive);
    assert_memory_equal(request.host, "a", 1);
}

static void test_header_names_are_lower_cased_and_values_trimmed(void **state)
{
    static char buf[] = "GET / HTTP/1.1\r\nHost: a\r\nX-User-Id: \t bob \t\r\n\r\n";
    http1_header_t headers[4];
    http1_request_t request;
    size_t scanned = 0, head_len;
    (void)state;

    assert_int_equal(http1_find_head(buf, strlen(buf), &scanned, MAX_HEAD, &head_len), HTTP1_PARSE_COMPLETE);
    assert_int_equal(http1_parse_head(buf, head_len, &request, headers, 4), HTTP1_PARSE_COMPLETE);
    assert_int_equal(headers[1].name_len, 9);
    assert_memory_equal(headers[1].name, "x-user-id", 9);
    assert_int_equal(headers[1].value_len, 3);
    assert_memory_equal(headers[1].value, "bob", 3);
}

static void test_connection_and_versions(void **state)
{
    http1_request_t request;
    (void)state;

    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_false(request.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &request), HTTP1_PARSE_COMPLETE);
    assert_false(request.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_true(request.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_COMPLETE);
    assert_int_equal(request.minor_version, 1);
    assert_int_equal(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_BAD_VERSION);
    assert_int_equal(parse("GET / HTTP/1\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &request), HTTP1_PARSE_HTTP2_PREFACE);
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n\r\n",
              &request),
        HTTP1_PARSE_COMPLETE);
    assert_true(request.connection_upgrade);
    assert_memory_equal(request.upgrade, "h2c", 3);
}

static void test_content_length(void **state)
{
    http1_request_t request;
    (void)state;

    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_int_equal(request.body, HTTP1_BODY_LENGTH);
    assert_int_equal(request.content_length, 12);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_int_equal(request.body, HTTP1_BODY_NONE);
    /* the same value twice is one length (RFC 9110 8.6); two values are ambiguous */
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &request),
        HTTP1_PARSE_COMPLETE);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_FRAMING);
}

static void test_transfer_encoding(void **state)
{
    http1_request_t request;
    (void)state;

    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_int_equal(request.body, HTTP1_BODY_CHUNKED);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
              &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
              &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &request),
        HTTP1_PARSE_NOT_IMPLEMENTED);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(
        parse(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            &request),
        HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", &request),
                     HTTP1_PARSE_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_FRAMING);
}

static void test_malformed_heads(void **state)
{
    http1_request_t request;
    (void)state;

    assert_int_equal(parse("GET / HTTP/1.1\nHost: a\n\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\001b\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &request), HTTP1_PARSE_COMPLETE);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &request), HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &request),
                     HTTP1_PARSE_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", &request),
                     HTTP1_PARSE_COMPLETE);
    assert_true(request.expect_continue);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", &request),
                     HTTP1_PARSE_EXPECTATION);
}

static void test_limits(void **state)
{
    char text[MAX_HEAD + 512];
    http1_request_t request;
    size_t len;
    (void)state;

    len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < MAX_HEADERS; ++i)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "X-%d: v\r\n", i);
    snprintf(text + len, sizeof(text) - len, "\r\n");
    assert_int_equal(parse(text, &request), HTTP1_PARSE_TOO_MANY_HEADERS);

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "GET /", 5);
    assert_int_equal(parse(text, &request), HTTP1_PARSE_URI_TOO_LONG);
    memcpy(text, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(parse(text, &request), HTTP1_PARSE_HEAD_TOO_LARGE);
    /* within the limit and unfinished: wait for more */
    text[100] = '\0';
    assert_int_equal(parse(text, &request), HTTP1_PARSE_INCOMPLETE);
}

/* Feeding a head byte by byte finds its end exactly once, at the last byte. */
static void test_find_head_resumes(void **state)
{
    const char *text = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET";
    size_t skip = http1_skip_blank_lines(text, strlen(text)), scanned = 0, head_len = 0;
    const char *head = text + skip;
    (void)state;

    assert_int_equal(skip, 2);
    for (size_t len = 1; len <= strlen(head); ++len) {
        http1_parse_status_t status = http1_find_head(head, len, &scanned, MAX_HEAD, &head_len);
        if (len < strlen(head) - 3) {
            assert_int_equal(status, HTTP1_PARSE_INCOMPLETE);
        } else {
            assert_int_equal(status, HTTP1_PARSE_COMPLETE);
            assert_int_equal(head_len, strlen(head) - 3);
            break;
        }
    }
}

static void test_list_tokens(void **state)
{
    (void)state;
    assert_true(http1_list_has_token(" keep-alive ,Upgrade", 20, "upgrade"));
    assert_false(http1_list_has_token("upgraded", 8, "upgrade"));
    assert_false(http1_list_has_token("", 0, "close"));
}

/* Decodes text (as a body) in pieces of step bytes; returns the status, the body in out. */
static http1_chunked_status_t decode(const char *text, size_t step, uint64_t max_body, char *out,
                                     size_t *out_len, size_t *end)
{
    char buf[4096];
    size_t len = strlen(text), read = 0, written = 0;
    http1_chunked_t decoder;
    http1_chunked_status_t status = HTTP1_CHUNKED_MORE;

    assert_true(len <= sizeof(buf));
    memcpy(buf, text, len);
    http1_chunked_init(&decoder);
    for (size_t available = step; status == HTTP1_CHUNKED_MORE; available += step) {
        status =
            http1_chunked_decode(&decoder, buf, available < len ? available : len, &read, &written, max_body);
        assert_true(written <= read);
        if (available >= len)
            break;
    }
    memcpy(out, buf, written);
    *out_len = written;
    *end = read;
    return status;
}

static void test_chunked(void **state)
{
    const char *body = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    char out[64];
    size_t out_len, end;
    (void)state;

    for (size_t step = 1; step <= strlen(body); ++step) {
        assert_int_equal(decode(body, step, 1000, out, &out_len, &end), HTTP1_CHUNKED_DONE);
        assert_int_equal(out_len, 12);
        assert_memory_equal(out, "hello, world", 12);
        assert_int_equal(end, strlen(body) - 4);
    }
    assert_int_equal(decode("5\r\nhello\r\n", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_MORE);
    assert_int_equal(decode("5\r\nhello\r\n0\r\n\r\n", 100, 4, out, &out_len, &end), HTTP1_CHUNKED_TOO_LARGE);
    assert_int_equal(decode("fffffffffffffffff\r\n", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
    assert_int_equal(decode("x\r\n", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
    assert_int_equal(decode("5\r\nhelloX\r\n", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
    assert_int_equal(decode("5\nhello\r\n", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
    assert_int_equal(decode("0\r\n\r\r", 100, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
}

static void test_chunked_line_bound(void **state)
{
    char text[HTTP1_CHUNKED_MAX_LINE + 16], out[8];
    size_t out_len, end;
    (void)state;

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "1;", 2);
    assert_int_equal(decode(text, 1000, 1000, out, &out_len, &end), HTTP1_CHUNKED_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_header_names_are_lower_cased_and_values_trimmed),
        cmocka_unit_test(test_connection_and_versions),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_malformed_heads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_find_head_resumes),
        cmocka_unit_test(test_list_tokens),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_line_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
