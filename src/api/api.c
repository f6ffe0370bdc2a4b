#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "core/clock.h"
#include "http/http_reply.h"

/*
 * Every route of the API. A row is method, path, handler, the route's name in /metrics, and its
 * flags; rows of one path are listed together, and their order is the Allow header's. POST
 * /api/v1/purchases comes first: the router compares literal paths in table order.
 */
static const http_route_t routes[] = {
    {"POST", "/api/v1/purchases", api_post_purchase, "purchases", 0, 0},
    {"GET", "/api/v1/purchases", api_get_purchase, "purchases", 0, 0},
    {"GET", "/api/v1/sales", api_get_sales, "sales", 0, 0},
    {"GET", "/api/v1/products", api_list_products, "products", HTTP_ROUTE_ADMIN, 0},
    {"POST", "/api/v1/products", api_create_product, "products", HTTP_ROUTE_ADMIN, 0},
    {"GET", "/api/v1/products/{sku}", api_get_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"PUT", "/api/v1/products/{sku}", api_update_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"DELETE", "/api/v1/products/{sku}", api_delete_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"GET", "/api/v1/products/{sku}/purchases", api_list_product_purchases, "product_purchases",
     HTTP_ROUTE_ADMIN, 0},
    {"GET", "/health", api_get_health, "health", 0, 0},
    {"GET", "/metrics", api_get_metrics, "metrics", 0, 0},
};

/* Comparing fixed-size hashes in constant time leaks neither the key's bytes nor its length. */
static bool authorize_admin(const http_request_t *request, void *data)
{
    const api_t *api = data;
    h2o_iovec_t key = http_request_header(request, "x-admin-key");
    unsigned char hash[crypto_generichash_BYTES];

    crypto_generichash(hash, sizeof(hash), (const unsigned char *)(key.base == NULL ? "" : key.base), key.len,
                       NULL, 0);
    if (key.base != NULL && sodium_memcmp(hash, api->admin_key_hash, sizeof(hash)) == 0)
        return true;
    http_reply_error(request, 401, "UNAUTHORIZED", "a valid X-Admin-Key header is required", NULL);
    return false;
}

api_t *api_create(engine_t *engine, const char *admin_key, size_t loop_count, char *err, size_t err_size)
{
    api_t *api = calloc(1, sizeof(*api));

    if (api == NULL || (api->counters = calloc(loop_count, sizeof(*api->counters))) == NULL) {
        snprintf(err, err_size, "out of memory");
        free(api);
        return NULL;
    }
    api->engine = engine;
    api->loop_count = loop_count;
    api->started_ms = clock_monotonic_ms();
    crypto_generichash(api->admin_key_hash, sizeof(api->admin_key_hash), (const unsigned char *)admin_key,
                       strlen(admin_key), NULL, 0);
    api->router =
        http_router_create(routes, sizeof(routes) / sizeof(routes[0]), authorize_admin, api, err, err_size);
    if (api->router == NULL) {
        api_destroy(api);
        return NULL;
    }
    return api;
}

void api_destroy(api_t *api)
{
    if (api->router != NULL)
        http_router_destroy(api->router);
    free(api->counters);
    free(api);
}

const http_router_t *api_router(const api_t *api)
{
    return api->router;
}

int api_loop_start(api_t *api, http_loop_t *loop, char *err, size_t err_size)
{
    api_loop_t *state = calloc(1, sizeof(*state));

    if (state == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    *state = (api_loop_t){.api = api, .counters = &api->counters[loop->index]};
    if ((state->engine = engine_attach(api->engine, loop->context.loop)) == NULL) {
        snprintf(err, err_size, "the storage engine refused a loop thread");
        free(state);
        return -1;
    }
    loop->data = state;
    return 0;
}

void api_loop_stop(api_t *api, http_loop_t *loop)
{
    api_loop_t *state = loop->data;

    (void)api;
    if (state == NULL)
        return;
    engine_detach(state->engine);
    free(state);
    loop->data = NULL;
}

engine_loop_t *api_loop_engine(const http_loop_t *loop)
{
    const api_loop_t *state = loop->data;
    return state->engine;
}
