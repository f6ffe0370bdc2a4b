/*
 * Unit tests of lt_response (the client's HTTP/1.1 response parser) and lt_answer (the fields read
 * from a body): every response is also fed split at every byte and one byte at a time, so no state
 * depends on how the network cut the stream; chunked bodies, pipelined answers, framing by the end
 * of the connection, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest/lt_answer.h"
#include "loadtest/lt_response.h"

static const char purchase_ok[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 123\r\n"
    "content-type: application/json; charset=utf-8\r\n"
    "\r\n"
    "{\"success\":true,\"data\":{\"purchaseNo\":\"FS1-1\",\"sku\":\"WIDGET-001\",\"userId\":"
    "\"alice\",\"purchasedAt\":\"2026-11-21T06:36:41.416Z\"}}";

static const char chunked[] = "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "b;name=value\r\n"
                              "{\"success\":\r\n"
                              "7\r\n"
                              "false,\"\r\n"
                              "3C\r\n"
                              "error\":{\"code\":\"SOLD_OUT\",\"message\":\"the sale is sold out\"}}\r\n"
                              "0\r\n"
                              "X-Trailer: yes\r\n"
                              "\r\n";

static lt_response_t *new_response(void)
{
    lt_response_t *response = calloc(1, sizeof(*response));
    lt_response_reset(response);
    return response;
}

/* Feeds text in pieces of the given sizes (cycling); returns the status of the last feed. */
static lt_response_status_t feed_in_pieces(lt_response_t *response, const char *text, size_t len,
                                           size_t piece, size_t *total_used)
{
    size_t at = 0;
    lt_response_status_t status = LT_RESPONSE_MORE;
    *total_used = 0;
    while (at < len && status == LT_RESPONSE_MORE) {
        size_t n = len - at < piece ? len - at : piece, used = 0;
        status = lt_response_feed(response, text + at, n, &used);
        at += used;
        *total_used += used;
    }
    return status;
}

/* Split into two feeds at every position, and fed one byte at a time: the same result. */
static void assert_parses_everywhere(const char *text, int status, const char *body)
{
    size_t len = strlen(text);
    lt_response_t *response = new_response();

    for (size_t split = 0; split <= len; split++) {
        size_t used = 0, more = 0;
        lt_response_status_t result;
        lt_response_reset(response);
        result = lt_response_feed(response, text, split, &used);
        if (result == LT_RESPONSE_MORE)
            result = lt_response_feed(response, text + split, len - split, &more);
        if (result != LT_RESPONSE_COMPLETE)
            fail_msg("split at %zu: status %d", split, result);
        assert_int_equal(response->status, status);
        assert_int_equal(response->keep_len, strlen(body));
        assert_memory_equal(response->keep, body, strlen(body));
        assert_int_equal(response->body_len, strlen(body));
    }
    for (size_t piece = 1; piece <= 3; piece++) {
        size_t used;
        lt_response_reset(response);
        assert_int_equal(feed_in_pieces(response, text, len, piece, &used), LT_RESPONSE_COMPLETE);
        assert_int_equal(used, len);
        assert_int_equal(response->status, status);
        assert_memory_equal(response->keep, body, strlen(body));
    }
    free(response);
}

static void test_content_length(void **state)
{
    (void)state;
    assert_parses_everywhere(purchase_ok, 200, strchr(purchase_ok, '{'));
}

static void test_chunked(void **state)
{
    (void)state;
    assert_parses_everywhere(
        chunked, 200,
        "{\"success\":false,\"error\":{\"code\":\"SOLD_OUT\",\"message\":\"the sale is sold out\"}}");
}

static void test_no_body_statuses(void **state)
{
    (void)state;
    assert_parses_everywhere("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 204, "");
    assert_parses_everywhere("HTTP/1.1 304 Not Modified\r\n\r\n", 304, "");
    assert_parses_everywhere("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "");
    /* an interim answer before the real one */
    assert_parses_everywhere(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", 201, "{}");
}

static void test_header_forms(void **state)
{
    lt_response_t *response = new_response();
    size_t used;
    (void)state;
    /* bare LF line ends, odd case, spaces around values, no reason phrase */
    assert_parses_everywhere("HTTP/1.1 429\nCONTENT-LENGTH:   3  \nRetry-After: 1\n\nabc", 429, "abc");
    const char *close =
        "HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nno";
    assert_int_equal(lt_response_feed(response, close, strlen(close), &used), LT_RESPONSE_COMPLETE);
    assert_true(response->close);
    lt_response_reset(response);
    const char *http10 = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_int_equal(lt_response_feed(response, http10, strlen(http10), &used), LT_RESPONSE_COMPLETE);
    assert_true(response->close);
    lt_response_reset(response);
    const char *http10_kept = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
    assert_int_equal(lt_response_feed(response, http10_kept, strlen(http10_kept), &used),
                     LT_RESPONSE_COMPLETE);
    assert_false(response->close);
    free(response);
}

static void test_pipelined_answers(void **state)
{
    lt_response_t *response = new_response();
    const char first[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
    const char two[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB";
    size_t used = 0, second = 0;
    (void)state;
    assert_int_equal(lt_response_feed(response, two, strlen(two), &used), LT_RESPONSE_COMPLETE);
    assert_int_equal(response->status, 200);
    assert_int_equal(response->keep[0], 'A');
    assert_int_equal(used, strlen(first));
    lt_response_reset(response);
    assert_int_equal(lt_response_feed(response, two + used, strlen(two) - used, &second),
                     LT_RESPONSE_COMPLETE);
    assert_int_equal(response->status, 404);
    assert_int_equal(response->keep[0], 'B');
    assert_int_equal(used + second, strlen(two));
    free(response);
}

static void test_body_until_close(void **state)
{
    lt_response_t *response = new_response();
    const char text[] = "HTTP/1.1 200 OK\r\n\r\nall of it";
    size_t used;
    (void)state;
    assert_int_equal(lt_response_feed(response, text, strlen(text), &used), LT_RESPONSE_MORE);
    assert_int_equal(lt_response_end(response), LT_RESPONSE_COMPLETE);
    assert_true(response->close);
    assert_int_equal(response->keep_len, 9);
    /* a Content-Length body cut short is not an answer */
    lt_response_reset(response);
    assert_int_equal(lt_response_feed(response, purchase_ok, 60, &used), LT_RESPONSE_MORE);
    assert_int_equal(lt_response_end(response), LT_RESPONSE_INVALID);
    lt_response_reset(response);
    assert_true(lt_response_idle(response));
    free(response);
}

static void test_big_body_keeps_prefix_and_full_copy(void **state)
{
    lt_response_t *response = new_response();
    strbuf_t full;
    size_t body_len = 100000, used;
    char *text = malloc(body_len + 100);
    int head;
    (void)state;
    head = sprintf(text, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body_len);
    memset(text + head, 'x', body_len);
    strbuf_init(&full);
    response->full_body = &full;
    lt_response_reset(response);
    assert_int_equal(feed_in_pieces(response, text, (size_t)head + body_len, 4096, &used),
                     LT_RESPONSE_COMPLETE);
    assert_int_equal(response->keep_len, LT_RESPONSE_KEEP);
    assert_int_equal(response->body_len, body_len);
    assert_int_equal(full.len, body_len);
    strbuf_dispose(&full);
    free(text);
    free(response);
}

static void assert_invalid(const char *text)
{
    lt_response_t *response = new_response();
    size_t used;
    if (feed_in_pieces(response, text, strlen(text), 7, &used) != LT_RESPONSE_INVALID)
        fail_msg("accepted: %s", text);
    free(response);
}

static void test_malformed(void **state)
{
    char *long_header = malloc(LT_RESPONSE_LINE_MAX + 64);
    (void)state;
    assert_invalid("HTTP/2 200 OK\r\n\r\n");
    assert_invalid("HTTP/1.1 2x0 OK\r\n\r\n");
    assert_invalid("HTTP/1.1 20 OK\r\n\r\n");
    assert_invalid("SSH-2.0-OpenSSH\r\n\r\n");
    assert_invalid("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello");
    assert_invalid("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
    assert_invalid("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n");
    assert_invalid("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_invalid("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n");
    assert_invalid("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    strcpy(long_header, "HTTP/1.1 200 OK\r\nX-Long: ");
    memset(long_header + strlen(long_header), 'a', LT_RESPONSE_LINE_MAX);
    strcpy(long_header + strlen("HTTP/1.1 200 OK\r\nX-Long: ") + LT_RESPONSE_LINE_MAX, "\r\n\r\n");
    assert_invalid(long_header);
    free(long_header);
}

static void test_answer_fields(void **state)
{
    lt_answer_t answer;
    const char *body = strchr(purchase_ok, '{');
    const char sold_out[] =
        "{\"success\":false,\"error\":{\"code\":\"SOLD_OUT\",\"message\":\"the sale is sold out\"}}";
    const char already[] =
        "{ \"success\" : false , \"error\" : { \"code\" : \"ALREADY_PURCHASED\", \"message\": \"x\", "
        "\"purchaseNo\" : \"FS1-7\" } }";
    const char tricky[] =
        "{\"data\":{\"productName\":\"say \\\"code\\\": \\\"success\\\": true\"},\"success\":false,"
        "\"error\":{\"code\":\"NOT_FOUND\"}}";
    (void)state;
    lt_answer_scan(body, strlen(body), &answer);
    assert_int_equal(answer.success, 1);
    assert_string_equal(answer.code, "");
    assert_int_equal(answer.purchase_no_len, 5);
    assert_memory_equal(answer.purchase_no, "FS1-1", 5);
    assert_int_equal(answer.user_id_len, 5);
    assert_memory_equal(answer.user_id, "alice", 5);

    lt_answer_scan(sold_out, strlen(sold_out), &answer);
    assert_int_equal(answer.success, 0);
    assert_string_equal(answer.code, "SOLD_OUT");
    assert_null(answer.purchase_no);

    lt_answer_scan(already, strlen(already), &answer);
    assert_int_equal(answer.success, 0);
    assert_string_equal(answer.code, "ALREADY_PURCHASED");
    assert_memory_equal(answer.purchase_no, "FS1-7", 5);

    /* keys quoted inside a string value are not keys */
    lt_answer_scan(tricky, strlen(tricky), &answer);
    assert_int_equal(answer.success, 0);
    assert_string_equal(answer.code, "NOT_FOUND");

    lt_answer_scan("Payload Too Large", 17, &answer);
    assert_int_equal(answer.success, -1);
    lt_answer_scan("{\"success\":tru", 14, &answer);
    assert_int_equal(answer.success, -1);
    /* a body cut inside a value: no field, no overread */
    lt_answer_scan(sold_out, 40, &answer);
    assert_int_equal(answer.success, 0);
    assert_string_equal(answer.code, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_no_body_statuses),
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_pipelined_answers),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_big_body_keeps_prefix_and_full_copy),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_answer_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
