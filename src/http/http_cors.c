#include "http/http_cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "http/http_metrics.h"
#include "http/http_server.h"

#define ALLOW_HEADERS  "Authorization, X-User-Id, X-Admin-Key, Content-Type"
#define EXPOSE_HEADERS "Retry-After, WWW-Authenticate"

/* scheme://host[:port], scheme http or https, a host of letters, digits, '-', '.', or [v6]. */
static bool origin_is_valid(const char *origin, size_t len)
{
    size_t at;

    if (len > 7 && memcmp(origin, "http://", 7) == 0)
        at = 7;
    else if (len > 8 && memcmp(origin, "https://", 8) == 0)
        at = 8;
    else
        return false;
    for (size_t i = at; i < len; ++i) {
        char c = origin[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

int http_cors_add(http_cors_t *cors, const char *list, char *err, size_t err_size)
{
    const char *at = list;

    while (*at != '\0') {
        const char *end = strchr(at, ',');
        size_t len;
        if (end == NULL)
            end = at + strlen(at);
        while (at < end && (*at == ' ' || *at == '\t'))
            ++at;
        len = (size_t)(end - at);
        while (len > 0 && (at[len - 1] == ' ' || at[len - 1] == '\t'))
            --len;
        if (len == 1 && at[0] == '*') {
            cors->any = true;
        } else if (len > 0) {
            if (!origin_is_valid(at, len)) {
                snprintf(err, err_size, "cors origin '%.*s' is not scheme://host[:port] (http or https) or *",
                         (int)len, at);
                return -1;
            }
            if (cors->count == HTTP_CORS_MAX_ORIGINS) {
                snprintf(err, err_size, "at most %d cors origins", HTTP_CORS_MAX_ORIGINS);
                return -1;
            }
            if ((cors->origins[cors->count] = strndup(at, len)) == NULL) {
                snprintf(err, err_size, "out of memory");
                return -1;
            }
            ++cors->count;
        }
        at = *end == ',' ? end + 1 : end;
    }
    return 0;
}

void http_cors_dispose(http_cors_t *cors)
{
    for (size_t i = 0; i < cors->count; ++i)
        free(cors->origins[i]);
    *cors = (http_cors_t){0};
}

static bool is_allowed(const http_cors_t *cors, h2o_iovec_t origin)
{
    if (origin.base == NULL)
        return false;
    if (cors->any)
        return true;
    for (size_t i = 0; i < cors->count; ++i)
        if (h2o_memis(origin.base, origin.len, cors->origins[i], strlen(cors->origins[i])))
            return true;
    return false;
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *name, const char *value,
                       size_t len)
{
    if (token != NULL)
        h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, len);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, len);
}

static void answer_preflight(const http_cors_t *cors, http_request_t *request, h2o_iovec_t origin,
                             const char *allow)
{
    h2o_req_t *req = request->req;
    char max_age[16];

    if (cors->any) {
        add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    } else {
        add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
    }
    add_header(req, NULL, "access-control-allow-methods", allow, strlen(allow));
    add_header(req, NULL, "access-control-allow-headers", H2O_STRLIT(ALLOW_HEADERS));
    snprintf(max_age, sizeof(max_age), "%d", HTTP_CORS_MAX_AGE_S);
    /* h2o keeps a header's value by reference: it must live as long as the request */
    add_header(req, NULL, "access-control-max-age", h2o_strdup(&req->pool, max_age, SIZE_MAX).base,
               strlen(max_age));
}

bool http_cors_handle(const http_cors_t *cors, const http_router_t *router, http_request_t *request)
{
    h2o_req_t *req = request->req;
    h2o_iovec_t origin = http_request_header(request, "origin");
    bool allowed = is_allowed(cors, origin);
    const char *allow;

    if (cors->count == 0 && !cors->any)
        return false;
    add_header(req, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        if (allowed) {
            if (cors->any)
                add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
            else
                add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
            add_header(req, NULL, "access-control-expose-headers", H2O_STRLIT(EXPOSE_HEADERS));
        }
        return false;
    }
    /* OPTIONS of a known path: 204 with its methods; the router answers an unknown path (404) */
    if ((allow = http_router_allow(router, request)) == NULL)
        return false;
    add_header(req, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    if (allowed && http_request_header(request, "access-control-request-method").base != NULL)
        answer_preflight(cors, request, origin, allow);
    req->res.status = 204;
    req->res.reason = "No Content";
    req->res.content_length = 0;
    h2o_send_inline(req, "", 0);
    http_metrics_count(request->loop->metrics, request->path, 204,
                       clock_monotonic_ns() - request->started_ns);
    return true;
}
