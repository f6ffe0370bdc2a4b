/*
 * Request targets: any bytes as the path and query of a request, normalised as h2o does, routed
 * through the API's path patterns, then read as query parameters and checked for NUL bytes.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http_request.h"
#include "http/http_router.h"

static void nothing(const http_request_t *request)
{
    (void)request;
}

static bool authorize(const http_request_t *request, void *data)
{
    (void)request;
    (void)data;
    return true;
}

/* The shape of the API's table (src/api/api.c): literal paths and {sku} patterns. */
static const http_route_t routes[] = {
    {"POST", "/api/v1/purchases", nothing, "purchases", 0, 0},
    {"GET", "/api/v1/purchases", nothing, "purchases", 0, 0},
    {"GET", "/api/v1/sales", nothing, "sales", 0, 0},
    {"GET", "/api/v1/products", nothing, "products", 0, 0},
    {"GET", "/api/v1/products/{sku}", nothing, "product", 0, 0},
    {"PUT", "/api/v1/products/{sku}", nothing, "product", 0, 0},
    {"GET", "/api/v1/products/{sku}/purchases", nothing, "product_purchases", 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_router_t *router;
    static const char *names[] = {"sku", "after", "limit", ""};
    h2o_req_t *req = calloc(1, sizeof(*req));
    http_request_t request = {.req = req};
    char *path = malloc(size > 0 ? size : 1), err[128];
    size_t *norm_indexes;

    if (router == NULL)
        router =
            http_router_create(routes, sizeof(routes) / sizeof(routes[0]), authorize, NULL, err, sizeof(err));
    FUZZ_CHECK(router != NULL && req != NULL && path != NULL);
    memcpy(path, data, size);
    h2o_mem_init_pool(&req->pool);
    req->path = h2o_iovec_init(path, size);
    req->path_normalized = h2o_url_normalize_path(&req->pool, path, size, &req->query_at, &norm_indexes);
    FUZZ_CHECK(req->query_at == SIZE_MAX || req->query_at < size);

    if (http_router_allow(router, &request) != NULL) {
        FUZZ_CHECK(request.param_count <= 1);
        for (size_t i = 0; i < request.param_count; ++i)
            FUZZ_CHECK(request.params[i].len > 0 &&
                       memchr(request.params[i].base, '/', request.params[i].len) == NULL);
    }
    const char *nul_field = http_request_nul_field(&request, "/api/v1/products/{sku}/purchases");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        const char *value = http_request_query(&request, names[i]);
        FUZZ_CHECK(value == NULL || strlen(value) <= size);
    }
    /* a parameter that holds a NUL byte is always caught */
    for (size_t i = 0; i < request.param_count; ++i)
        if (memchr(request.params[i].base, '\0', request.params[i].len) != NULL)
            FUZZ_CHECK(nul_field != NULL);
    h2o_mem_clear_pool(&req->pool);
    free(path);
    free(req);
    return 0;
}
