/*
 * http_cors: Cross-Origin Resource Sharing, for browsers that run a page of another origin.
 *
 * Off unless origins are configured (--cors-origin). Then every answer varies with the request's
 * Origin (Vary: Origin, so that a cache never hands one origin's answer to another), an answer to
 * an allowed origin carries Access-Control-Allow-Origin (and exposes Retry-After and
 * WWW-Authenticate to the page), and a preflight — OPTIONS with Access-Control-Request-Method — of
 * a known path is answered 204 with the path's methods, the request headers the API reads
 * (Authorization, X-User-Id, X-Admin-Key, Content-Type) and a Max-Age. An origin not in the list
 * gets no CORS header at all, so its browser refuses the answer. Origins are compared byte for
 * byte as browsers send them ("https://shop.example", "http://localhost:3000"); "*" allows any.
 */
#ifndef FLASHSALE_HTTP_CORS_H
#define FLASHSALE_HTTP_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http_request.h"
#include "http/http_router.h"

#define HTTP_CORS_MAX_ORIGINS 32
#define HTTP_CORS_MAX_AGE_S   600

typedef struct {
    size_t count; /* 0: CORS off */
    bool any;     /* "*" was listed */
    char *origins[HTTP_CORS_MAX_ORIGINS];
} http_cors_t;

/*
 * Adds the origins of a comma-separated list ("https://a.example, http://localhost:3000" or "*")
 * to cors (zeroed at first). Returns 0, or -1 with one line in err for an origin that is not
 * scheme://host[:port] with scheme http or https, or for too many.
 */
int http_cors_add(http_cors_t *cors, const char *list, char *err, size_t err_size);
void http_cors_dispose(http_cors_t *cors);

/*
 * Applies CORS to a request before it is routed: adds the headers its answer needs, and answers a
 * preflight itself. Returns true when it answered (the request is done).
 */
bool http_cors_handle(const http_cors_t *cors, const http_router_t *router, http_request_t *request);

#endif
