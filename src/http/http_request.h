/*
 * http_request: one request as a handler sees it, and the helpers that read it: headers, query
 * parameters, and a JSON body read within the route's size limit.
 *
 * Memory: everything a helper returns lives in the request's pool (h2o frees it with the
 * request) or points into the request itself; a handler that answers later keeps a copy of the
 * http_request_t, whose req it must stop using once h2o disposed of the request (see api/call.c).
 */
#ifndef FLASHSALE_HTTP_REQUEST_H
#define FLASHSALE_HTTP_REQUEST_H

#include <h2o.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_ROUTE_PARAMS_MAX 4
/* The body limit of a route that names none: the API's requests are small JSON objects. */
#define HTTP_BODY_LIMIT_DEFAULT 16384

typedef struct http_loop http_loop_t;
typedef struct http_route http_route_t;

typedef struct {
    h2o_req_t *req;
    http_loop_t *loop;         /* the thread serving it */
    const http_route_t *route; /* NULL when no route matched */
    size_t path;               /* the metrics row of the matched path (see http_router) */
    uint64_t started_ns;       /* monotonic; the latency is measured from here */
    size_t param_count;
    h2o_iovec_t params[HTTP_ROUTE_PARAMS_MAX]; /* the {name} segments, in order */
} http_request_t;

/* The value of a header (name in lower case), or {NULL, 0}; the first one when repeated. */
h2o_iovec_t http_request_header(const http_request_t *request, const char *name);

/* The same without the blanks (spaces and tabs) around it. */
h2o_iovec_t http_request_header_trimmed(const http_request_t *request, const char *name);

/*
 * The percent-decoded value of a query parameter (a '+' is a space) as a NUL-terminated string
 * in the request pool, or NULL when absent. A malformed escape is kept literally.
 */
const char *http_request_query(const http_request_t *request, const char *name);

/*
 * The name of the first path parameter ({name} of pattern, the matched route's path) or query
 * parameter whose value decodes to a NUL byte, in the request pool; NULL when none does. Such a
 * value is refused (400) rather than read up to its NUL, where it would name something else
 * ("?sku=DEMO-001%00x" is not DEMO-001).
 */
const char *http_request_nul_field(const http_request_t *request, const char *pattern);

/*
 * The body as a JSON object (duplicate keys refused), which the caller releases with json_decref;
 * or NULL after replying 413 PAYLOAD_TOO_LARGE (larger than the route's body limit) or 400
 * VALIDATION_ERROR (not a JSON object).
 */
json_t *http_request_json_object(const http_request_t *request);

/* A NUL-terminated copy of len bytes in the request pool. */
char *http_request_strdup(const http_request_t *request, const char *text, size_t len);

#endif
