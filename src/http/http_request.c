#include "http/http_request.h"

#include <stdbool.h>
#include <string.h>

#include "core/ascii.h"
#include "http/http_reply.h"
#include "http/http_router.h"

h2o_iovec_t http_request_header(const http_request_t *request, const char *name)
{
    h2o_req_t *req = request->req;
    ssize_t index = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return index < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[index].value;
}

h2o_iovec_t http_request_header_trimmed(const http_request_t *request, const char *name)
{
    h2o_iovec_t value = http_request_header(request, name);

    while (value.len > 0 && (value.base[0] == ' ' || value.base[0] == '\t'))
        ++value.base, --value.len;
    while (value.len > 0 && (value.base[value.len - 1] == ' ' || value.base[value.len - 1] == '\t'))
        --value.len;
    return value;
}

const char *http_request_query(const http_request_t *request, const char *name)
{
    h2o_req_t *req = request->req;
    size_t name_len = strlen(name), at;
    const char *query, *end;

    if (req->query_at == SIZE_MAX)
        return NULL;
    query = req->path.base + req->query_at + 1;
    end = req->path.base + req->path.len;
    while (query < end) {
        const char *pair_end = memchr(query, '&', (size_t)(end - query));
        if (pair_end == NULL)
            pair_end = end;
        if ((size_t)(pair_end - query) >= name_len && memcmp(query, name, name_len) == 0 &&
            (query + name_len == pair_end || query[name_len] == '=')) {
            const char *value = query + name_len + (query + name_len < pair_end);
            char *decoded = h2o_mem_alloc_pool(&req->pool, (size_t)(pair_end - value) + 1);
            for (at = 0; value < pair_end; ++value) {
                int high, low;
                if (*value == '%' && pair_end - value >= 3 && (high = ascii_hex_digit(value[1])) >= 0 &&
                    (low = ascii_hex_digit(value[2])) >= 0) {
                    decoded[at++] = (char)(high * 16 + low);
                    value += 2;
                } else {
                    decoded[at++] = *value == '+' ? ' ' : *value;
                }
            }
            decoded[at] = '\0';
            return decoded;
        }
        query = pair_end + 1;
    }
    return NULL;
}

/* True when text[0..len) percent-decodes to something holding a NUL byte. */
static bool decodes_to_nul(const char *text, size_t len)
{
    for (size_t i = 0; i + 2 < len; ++i)
        if (text[i] == '%' && text[i + 1] == '0' && text[i + 2] == '0')
            return true;
    return memchr(text, '\0', len) != NULL;
}

const char *http_request_nul_field(const http_request_t *request, const char *pattern)
{
    h2o_req_t *req = request->req;
    const char *query, *end;
    size_t param = 0;

    /* h2o has decoded the path already: a NUL in a {name} segment is a NUL byte there */
    for (const char *at = strchr(pattern, '{'); at != NULL && param < request->param_count;
         at = strchr(at + 1, '{'), ++param) {
        if (memchr(request->params[param].base, '\0', request->params[param].len) != NULL)
            return http_request_strdup(request, at + 1, (size_t)(strchr(at, '}') - at - 1));
    }
    if (req->query_at == SIZE_MAX)
        return NULL;
    query = req->path.base + req->query_at + 1;
    end = req->path.base + req->path.len;
    while (query < end) {
        const char *pair_end = memchr(query, '&', (size_t)(end - query)), *equals;
        if (pair_end == NULL)
            pair_end = end;
        equals = memchr(query, '=', (size_t)(pair_end - query));
        if (decodes_to_nul(query, (size_t)(pair_end - query)))
            return http_request_strdup(request, query,
                                       (size_t)((equals != NULL ? equals : pair_end) - query));
        query = pair_end + 1;
    }
    return NULL;
}

json_t *http_request_json_object(const http_request_t *request)
{
    h2o_req_t *req = request->req;
    size_t limit = request->route->body_limit != 0 ? request->route->body_limit : HTTP_BODY_LIMIT_DEFAULT;
    json_error_t error;
    json_t *body;

    if (req->entity.len > limit) {
        char message[64];
        if (limit % 1024 == 0)
            snprintf(message, sizeof(message), "the body is larger than %zu KiB", limit / 1024);
        else
            snprintf(message, sizeof(message), "the body is larger than %zu bytes", limit);
        http_reply_error(request, 413, "PAYLOAD_TOO_LARGE", message, NULL);
        return NULL;
    }
    body = json_loadb(req->entity.base == NULL ? "" : req->entity.base, req->entity.len,
                      JSON_REJECT_DUPLICATES, &error);
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        http_reply_validation_error(request, "body", "must be a JSON object");
        return NULL;
    }
    return body;
}

char *http_request_strdup(const http_request_t *request, const char *text, size_t len)
{
    char *copy = h2o_mem_alloc_pool(&request->req->pool, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}
