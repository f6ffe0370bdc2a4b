#include "http/http_reply.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_server.h"

const char *http_reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

strbuf_t *http_reply_body(const http_request_t *request)
{
    strbuf_reset(&request->loop->body);
    return &request->loop->body;
}

void http_reply_send(const http_request_t *request, int status, const char *content_type,
                     const char *cache_control)
{
    h2o_req_t *req = request->req;
    strbuf_t *body = &request->loop->body;

    if (body->failed) {
        status = 500;
        content_type = HTTP_CONTENT_TYPE_JSON;
        strbuf_reset(body);
        http_json_error(body, "INTERNAL_ERROR", "out of memory", NULL, NULL);
    }
    req->res.status = status;
    req->res.reason = http_reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    if (cache_control != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cache_control,
                       strlen(cache_control));
    req->res.content_length = body->len;
    h2o_send_inline(req, body->data, body->len);
    http_metrics_count(request->loop->metrics, request->path, status,
                       clock_monotonic_ns() - request->started_ns);
}

void http_reply_json(const http_request_t *request, int status)
{
    http_reply_send(request, status, HTTP_CONTENT_TYPE_JSON, NULL);
}

void http_reply_error(const http_request_t *request, int status, const char *code, const char *message,
                      const char *field)
{
    http_json_error(http_reply_body(request), code, message, field, NULL);
    http_reply_json(request, status);
}

void http_reply_validation_error(const http_request_t *request, const char *field, const char *message)
{
    char text[300];
    snprintf(text, sizeof(text), "%s %s", field, message);
    http_reply_error(request, 400, "VALIDATION_ERROR", text, field);
}

void http_reply_not_found(const http_request_t *request, const char *message)
{
    http_reply_error(request, 404, "NOT_FOUND", message, NULL);
}

void http_reply_method_not_allowed(const http_request_t *request, const char *allow)
{
    h2o_req_t *req = request->req;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    http_reply_error(request, 405, "METHOD_NOT_ALLOWED", "this route does not take that method", NULL);
}
