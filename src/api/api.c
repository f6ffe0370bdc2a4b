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
    {"GET", "/api/v1/sales/events", api_get_events, "sales_events", 0, 0},
    {"GET", "/api/v1/products", api_list_products, "products", HTTP_ROUTE_ADMIN, 0},
    {"POST", "/api/v1/products", api_create_product, "products", HTTP_ROUTE_ADMIN, 0},
    {"GET", "/api/v1/products/{sku}", api_get_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"PUT", "/api/v1/products/{sku}", api_update_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"DELETE", "/api/v1/products/{sku}", api_delete_product, "product", HTTP_ROUTE_ADMIN, 0},
    {"GET", "/api/v1/products/{sku}/purchases", api_list_product_purchases, "product_purchases",
     HTTP_ROUTE_ADMIN, 0},
    {"GET", "/api/v1/info", api_get_info, "info", 0, 0},
    {"POST", "/api/v1/auth/register", api_register, "register", 0, 0},
    {"POST", "/api/v1/auth/login", api_login, "login", 0, 0},
    {"GET", "/health", api_get_health, "health", 0, 0},
    {"GET", "/metrics", api_get_metrics, "metrics", 0, 0},
    /* the storefront (pages.c): HEAD as GET without the body, for every file */
    {"GET", "/", api_get_page, "page_buyer", 0, 0},
    {"HEAD", "/", api_get_page, "page_buyer", 0, 0},
    {"GET", "/admin", api_get_page, "page_admin", 0, 0},
    {"HEAD", "/admin", api_get_page, "page_admin", 0, 0},
    {"GET", "/docs", api_get_page, "page_docs", 0, 0},
    {"HEAD", "/docs", api_get_page, "page_docs", 0, 0},
    {"GET", "/api/openapi.json", api_get_page, "openapi", 0, 0},
    {"HEAD", "/api/openapi.json", api_get_page, "openapi", 0, 0},
    /* a folder of web/ is a pair of rows; a file elsewhere is served only by a route naming it */
    {"GET", "/css/{file}", api_get_file, "files_css", 0, 0},
    {"HEAD", "/css/{file}", api_get_file, "files_css", 0, 0},
    {"GET", "/js/{file}", api_get_file, "files_js", 0, 0},
    {"HEAD", "/js/{file}", api_get_file, "files_js", 0, 0},
};

const http_route_t *api_routes(size_t *count)
{
    *count = sizeof(routes) / sizeof(routes[0]);
    return routes;
}

/* The identity rules of every loop: admin key, auth mode and what tokens must say. */
static void init_identity(api_identity_t *identity, const api_options_t *options)
{
    *identity = (api_identity_t){
        .jwt = options->jwt,
        .rules = {.key = options->verify_key, .issuer = options->issuer, .audience = options->audience}};
    crypto_generichash(identity->admin_key_hash, sizeof(identity->admin_key_hash),
                       (const unsigned char *)options->admin_key, strlen(options->admin_key), NULL, 0);
}

/* Registration and login, with their password pool, when there is a secret to sign tokens. */
static int init_accounts(api_accounts_t *accounts, const api_options_t *options, char *err, size_t err_size)
{
    password_pool_options_t pool = {.threads = API_PASSWORD_THREADS,
                                    .queue_max = options->login_queue,
                                    .opslimit = API_PASSWORD_OPSLIMIT,
                                    .memlimit = API_PASSWORD_MEMLIMIT};

    *accounts = (api_accounts_t){.signer = options->signing_key,
                                 .token_ttl_s = options->token_ttl_s,
                                 .issuer = options->issuer,
                                 .audience = options->audience};
    if (accounts->signer == NULL)
        return 0;
    accounts->passwords = password_pool_create(&pool, err, err_size);
    return accounts->passwords != NULL ? 0 : -1;
}

api_t *api_create(engine_t *engine, const api_options_t *options, size_t loop_count, char *err,
                  size_t err_size)
{
    api_t *api = calloc(1, sizeof(*api));

    if (api == NULL || (api->counters = calloc(loop_count, sizeof(*api->counters))) == NULL ||
        (api->events = api_events_create(options->max_subscribers, loop_count)) == NULL) {
        snprintf(err, err_size, "out of memory");
        if (api != NULL)
            free(api->counters);
        free(api);
        return NULL;
    }
    api->engine = engine;
    api->loop_count = loop_count;
    api->started_ms = clock_monotonic_ms();
    init_identity(&api->identity, options);
    if (api_limits_init(&api->limits,
                        &(api_limits_options_t){.per_ip = options->rate_per_ip,
                                                .per_user = options->rate_per_user,
                                                .trusted_proxies = options->trusted_proxies},
                        err, err_size) != 0 ||
        init_accounts(&api->accounts, options, err, err_size) != 0 ||
        (api->router = http_router_create(routes, sizeof(routes) / sizeof(routes[0]),
                                          api_identity_authorize_admin, api, err, err_size)) == NULL ||
        api_pages_open(api, options->web_root, err, err_size) != 0) {
        api_destroy(api);
        return NULL;
    }
    return api;
}

void api_destroy(api_t *api)
{
    if (api->router != NULL)
        http_router_destroy(api->router);
    static_files_close(api->pages);
    if (api->accounts.passwords != NULL)
        password_pool_destroy(api->accounts.passwords);
    api_limits_dispose(&api->limits);
    api_events_destroy(api->events);
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
    /* set first, so that api_loop_stop undoes whatever part of this succeeded */
    loop->data = state;
    if (api->identity.jwt && (state->tokens = token_cache_create(API_TOKEN_CACHE_ENTRIES)) == NULL) {
        snprintf(err, err_size, "out of memory for the token cache");
        return -1;
    }
    if (api->accounts.passwords != NULL &&
        (state->passwords = password_pool_attach(api->accounts.passwords, loop->context.loop)) == NULL) {
        snprintf(err, err_size, "out of memory for the password pool");
        return -1;
    }
    if ((state->engine = engine_attach(api->engine, loop->context.loop)) == NULL) {
        snprintf(err, err_size, "the storage engine refused a loop thread");
        return -1;
    }
    if ((state->events = api_events_loop_start(api->events, loop, state->engine)) == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

void api_loop_stop(api_t *api, http_loop_t *loop)
{
    api_loop_t *state = loop->data;

    (void)api;
    if (state == NULL)
        return;
    /* hashes still running answer first: their callbacks may call the engine */
    if (state->passwords != NULL)
        password_pool_detach(state->passwords);
    /* before the engine handle goes: the events watch it */
    if (state->events != NULL)
        api_events_loop_stop(state->events);
    if (state->engine != NULL)
        engine_detach(state->engine);
    token_cache_destroy(state->tokens);
    free(state);
    loop->data = NULL;
}

engine_loop_t *api_loop_engine(const http_loop_t *loop)
{
    const api_loop_t *state = loop->data;
    return state->engine;
}
