#include "http/http_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_reply.h"

#define ALLOW_MAX 64

/* One path of the table and the rows that serve it, in table order. */
typedef struct {
    const char *path;
    size_t path_len;
    bool literal; /* no {name} segment: matched by one comparison */
    const http_route_t **rows;
    size_t row_count;
    char allow[ALLOW_MAX]; /* "GET, PUT, DELETE" */
} router_path_t;

struct http_router {
    router_path_t *paths; /* literal paths first, then patterns, each in table order */
    size_t path_count;
    const char **names; /* path_count + 1: the metrics rows, "other" last */
    const http_route_t **rows;
    http_authorize_fn authorize_admin;
    void *data;
};

/*
 * Matches path against pattern, collecting the {name} segments; false when it does not match or
 * has more than HTTP_ROUTE_PARAMS_MAX of them.
 */
static bool match_pattern(const char *pattern, const char *path, size_t path_len, h2o_iovec_t *params,
                          size_t *param_count)
{
    const char *end = path + path_len;

    *param_count = 0;
    while (*pattern != '\0') {
        if (*pattern == '{') {
            const char *segment = path;
            while (path < end && *path != '/')
                ++path;
            if (path == segment || *param_count == HTTP_ROUTE_PARAMS_MAX)
                return false;
            params[(*param_count)++] = h2o_iovec_init(segment, (size_t)(path - segment));
            pattern = strchr(pattern, '}') + 1;
        } else if (path < end && *path == *pattern) {
            ++path, ++pattern;
        } else {
            return false;
        }
    }
    return path == end;
}

/* A path is "/" and segments; a {name} segment is a whole segment. Returns its parameter count or -1. */
static int check_path(const char *path)
{
    int params = 0;

    if (path[0] != '/')
        return -1;
    for (const char *at = path; *at != '\0'; ++at) {
        if (*at == '}' || (*at == '/' && at[1] == '/'))
            return -1;
        if (*at != '{')
            continue;
        const char *close = strchr(at, '}');
        if (at[-1] != '/' || close == NULL || close == at + 1 || (close[1] != '\0' && close[1] != '/') ||
            memchr(at + 1, '/', (size_t)(close - at - 1)) != NULL ||
            memchr(at + 1, '{', (size_t)(close - at - 1)))
            return -1;
        ++params;
        at = close;
    }
    return params;
}

static router_path_t *find_path(http_router_t *router, const char *path)
{
    for (size_t i = 0; i < router->path_count; ++i)
        if (strcmp(router->paths[i].path, path) == 0)
            return &router->paths[i];
    return NULL;
}

/* Adds route's path unless known, and counts the row. */
static int add_path(http_router_t *router, const http_route_t *route, char *err, size_t err_size)
{
    int params = check_path(route->path);
    router_path_t *path;

    if (params < 0 || params > HTTP_ROUTE_PARAMS_MAX) {
        snprintf(err, err_size, "route %s %s: malformed path", route->method, route->path);
        return -1;
    }
    if ((path = find_path(router, route->path)) == NULL) {
        path = &router->paths[router->path_count++];
        *path = (router_path_t){.path = route->path, .path_len = strlen(route->path), .literal = params == 0};
    }
    ++path->row_count;
    return 0;
}

/* Checks the rows of one path and writes its Allow header. */
static int check_rows(router_path_t *path, char *err, size_t err_size)
{
    for (size_t i = 0; i < path->row_count; ++i) {
        const http_route_t *route = path->rows[i];
        for (size_t j = 0; j < i; ++j) {
            if (strcmp(path->rows[j]->method, route->method) == 0 ||
                strcmp(path->rows[j]->name, route->name) != 0) {
                snprintf(err, err_size, "route %s %s: a second row of that method, or another name",
                         route->method, route->path);
                return -1;
            }
        }
        if (strlen(path->allow) + strlen(route->method) + 3 > sizeof(path->allow)) {
            snprintf(err, err_size, "route %s %s: too many methods", route->method, route->path);
            return -1;
        }
        if (i > 0)
            strcat(path->allow, ", ");
        strcat(path->allow, route->method);
    }
    return 0;
}

/* Literal paths first (stable): they are matched by one comparison, and the purchase path is one. */
static int compare_paths(const void *left, const void *right)
{
    const router_path_t *a = left, *b = right;
    if (a->literal != b->literal)
        return a->literal ? -1 : 1;
    return a->rows < b->rows ? -1 : a->rows > b->rows;
}

http_router_t *http_router_create(const http_route_t *routes, size_t count, http_authorize_fn authorize_admin,
                                  void *data, char *err, size_t err_size)
{
    http_router_t *router = calloc(1, sizeof(*router));
    const http_route_t **next_row;

    if (router == NULL || (router->paths = calloc(count, sizeof(*router->paths))) == NULL ||
        (router->names = calloc(count + 1, sizeof(*router->names))) == NULL ||
        (router->rows = calloc(count, sizeof(*router->rows))) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto Error;
    }
    router->authorize_admin = authorize_admin;
    router->data = data;
    for (size_t i = 0; i < count; ++i)
        if (add_path(router, &routes[i], err, err_size) != 0)
            goto Error;
    /* Each path's rows are contiguous in router->rows, in table order. */
    next_row = router->rows;
    for (size_t p = 0; p < router->path_count; ++p) {
        router_path_t *path = &router->paths[p];
        path->rows = next_row;
        for (size_t i = 0; i < count; ++i)
            if (strcmp(routes[i].path, path->path) == 0)
                *next_row++ = &routes[i];
        if (check_rows(path, err, err_size) != 0)
            goto Error;
    }
    qsort(router->paths, router->path_count, sizeof(*router->paths), compare_paths);
    for (size_t p = 0; p < router->path_count; ++p)
        router->names[p] = router->paths[p].rows[0]->name;
    router->names[router->path_count] = "other";
    return router;

Error:
    if (router != NULL)
        http_router_destroy(router);
    return NULL;
}

void http_router_destroy(http_router_t *router)
{
    free(router->paths);
    free(router->names);
    free(router->rows);
    free(router);
}

const char *const *http_router_path_names(const http_router_t *router, size_t *path_count)
{
    *path_count = router->path_count + 1;
    return router->names;
}

static const router_path_t *lookup(const http_router_t *router, h2o_iovec_t path, http_request_t *request)
{
    size_t i = 0;

    for (; i < router->path_count && router->paths[i].literal; ++i)
        if (router->paths[i].path_len == path.len && memcmp(router->paths[i].path, path.base, path.len) == 0)
            return &router->paths[i];
    for (; i < router->path_count; ++i)
        if (match_pattern(router->paths[i].path, path.base, path.len, request->params, &request->param_count))
            return &router->paths[i];
    return NULL;
}

const char *http_router_allow(const http_router_t *router, http_request_t *request)
{
    const router_path_t *path = lookup(router, request->req->path_normalized, request);

    request->path = path == NULL ? router->path_count : (size_t)(path - router->paths);
    return path == NULL ? NULL : path->allow;
}

void http_router_dispatch(const http_router_t *router, http_request_t *request)
{
    h2o_iovec_t method = request->req->method;
    const router_path_t *path = lookup(router, request->req->path_normalized, request);
    const http_route_t *route = NULL;
    const char *field;

    if (path == NULL) {
        request->path = router->path_count;
        http_reply_not_found(request, "no such route");
        return;
    }
    request->path = (size_t)(path - router->paths);
    for (size_t i = 0; i < path->row_count && route == NULL; ++i)
        if (h2o_memis(method.base, method.len, path->rows[i]->method, strlen(path->rows[i]->method)))
            route = path->rows[i];
    if (route == NULL) {
        http_reply_method_not_allowed(request, path->allow);
        return;
    }
    request->route = route;
    if ((route->flags & HTTP_ROUTE_ADMIN) && !router->authorize_admin(request, router->data))
        return;
    if ((field = http_request_nul_field(request, route->path)) != NULL) {
        http_reply_validation_error(request, field, "must not contain a NUL byte");
        return;
    }
    route->handler(request);
}
