/*
 * http_router: the route table — method and path pattern to handler — and the one lookup that
 * dispatches a request.
 *
 * A route is one row: adding a route is adding a row to the table the layer above hands in (see
 * src/api/api.c). A path is literal segments and `{name}` segments, each of which matches one
 * whole non-empty segment and is passed to the handler in request->params, in order
 * ("/api/v1/products/{sku}/purchases"). The router derives the rest from the table: a path no row
 * matches is 404, a path some row matches with another method is 405 with an Allow header listing
 * the methods of that path, and a row's flags are applied before its handler runs.
 *
 * Cost: literal paths are compared first (length, then bytes), then patterns; the purchase path is
 * literal. Nothing is allocated. The table is checked once, when the router is created.
 */
#ifndef FLASHSALE_HTTP_ROUTER_H
#define FLASHSALE_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http_request.h"

/* Flags of a route. */
enum {
    /* Only for administrators: the router's authorize_admin decides before the handler runs. */
    HTTP_ROUTE_ADMIN = 1 << 0,
};

/* Handles one request; the request (and the strings in it) is valid until the handler returns. */
typedef void (*http_handler_fn)(const http_request_t *request);

struct http_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* literal segments and {name} segments */
    http_handler_fn handler;
    const char *name;  /* the route label in /metrics; every row of one path has the same */
    unsigned flags;    /* HTTP_ROUTE_* */
    size_t body_limit; /* the largest body http_request_json_object reads; 0 is HTTP_BODY_LIMIT_DEFAULT */
};

/*
 * Refuses a request to an HTTP_ROUTE_ADMIN route by replying (401) and returning false; data is
 * the router's.
 */
typedef bool (*http_authorize_fn)(const http_request_t *request, void *data);

typedef struct http_router http_router_t;

/*
 * routes (count rows, static: they are not copied) are checked: a malformed path, a path with
 * more than HTTP_ROUTE_PARAMS_MAX parameters, two rows of one method and path, or rows of one path
 * with different names are refused with one line in err. NULL then, or when out of memory.
 */
http_router_t *http_router_create(const http_route_t *routes, size_t count, http_authorize_fn authorize_admin,
                                  void *data, char *err, size_t err_size);
void http_router_destroy(http_router_t *router);

/* The paths' names in metrics row order, "other" (no path matched) last; path_count of them. */
const char *const *http_router_path_names(const http_router_t *router, size_t *path_count);

/*
 * The methods of the path request->req names ("GET, PUT, DELETE", for an Allow header), with
 * request->path and ->params filled in; NULL when no route has that path.
 */
const char *http_router_allow(const http_router_t *router, http_request_t *request);

/*
 * Finds the route of request->req, fills in request->route, ->path and ->params, and runs the
 * route's handler, or replies 404/405 (request->route NULL).
 */
void http_router_dispatch(const http_router_t *router, http_request_t *request);

#endif
