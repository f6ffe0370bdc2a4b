/* The HTTP/1.1 request-head parser: any bytes, whole or in two reads, and the parsed head's invariants. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http1_parser.h"

#define MAX_HEAD    2048
#define MAX_HEADERS 16

static void check_parsed(const char *buf, size_t head_len, const http1_request_t *request,
                         const http1_header_t *headers)
{
    const char *end = buf + head_len;

    FUZZ_CHECK(request->method_len > 0 && request->method >= buf &&
               request->method + request->method_len <= end);
    FUZZ_CHECK(request->target_len > 0 && request->target >= buf &&
               request->target + request->target_len <= end);
    FUZZ_CHECK(request->minor_version == 0 || request->minor_version == 1);
    FUZZ_CHECK(request->header_count <= MAX_HEADERS);
    for (size_t i = 0; i < request->header_count; ++i) {
        FUZZ_CHECK(headers[i].name_len > 0 && headers[i].name >= buf &&
                   headers[i].name + headers[i].name_len <= end);
        FUZZ_CHECK(headers[i].value >= buf && headers[i].value + headers[i].value_len <= end);
        for (size_t j = 0; j < headers[i].name_len; ++j)
            FUZZ_CHECK(headers[i].name[j] < 'A' || headers[i].name[j] > 'Z');
        for (size_t j = 0; j < headers[i].value_len; ++j)
            FUZZ_CHECK(headers[i].value[j] != '\r' && headers[i].value[j] != '\n' &&
                       headers[i].value[j] != '\0');
    }
    FUZZ_CHECK(request->body != HTTP1_BODY_LENGTH || request->content_length > 0);
    FUZZ_CHECK(request->minor_version == 1 || request->body != HTTP1_BODY_CHUNKED);
    FUZZ_CHECK(request->minor_version == 0 || request->host != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size > 0 ? size : 1);
    size_t scanned = 0, head_len = 0, split_scanned = 0, split_head_len = 0;
    size_t cut = size > 0 ? data[0] % (size + 1) : 0;
    http1_parse_status_t whole, split;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    whole = http1_find_head(buf, size, &scanned, MAX_HEAD, &head_len);
    FUZZ_CHECK(whole != HTTP1_PARSE_COMPLETE || (head_len >= 4 && head_len <= size && head_len <= MAX_HEAD));
    /* reading the same bytes in two pieces finds the same end */
    split = http1_find_head(buf, cut, &split_scanned, MAX_HEAD, &split_head_len);
    if (split == HTTP1_PARSE_INCOMPLETE)
        split = http1_find_head(buf, size, &split_scanned, MAX_HEAD, &split_head_len);
    FUZZ_CHECK(split == whole);
    FUZZ_CHECK(whole != HTTP1_PARSE_COMPLETE || split_head_len == head_len);

    if (whole == HTTP1_PARSE_COMPLETE) {
        http1_header_t headers[MAX_HEADERS], again_headers[MAX_HEADERS];
        http1_request_t request, again;
        http1_parse_status_t status = http1_parse_head(buf, head_len, &request, headers, MAX_HEADERS);
        if (status == HTTP1_PARSE_COMPLETE)
            check_parsed(buf, head_len, &request, headers);
        /* parsing is idempotent: the server parses a head again when its buffer moved */
        FUZZ_CHECK(http1_parse_head(buf, head_len, &again, again_headers, MAX_HEADERS) == status);
        if (status == HTTP1_PARSE_COMPLETE)
            FUZZ_CHECK(again.body == request.body && again.content_length == request.content_length &&
                       again.keep_alive == request.keep_alive && again.header_count == request.header_count);
    }
    free(buf);
    return 0;
}
