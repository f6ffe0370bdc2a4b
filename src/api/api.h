/*
 * api: the HTTP API of flashsale — the route table and what each loop of the server keeps for it.
 *
 * One file per resource (purchases.c, sales.c, products.c, operations.c, info.c, pages.c; their
 * handlers are listed in handlers.h): a handler reads the request, calls the engine through core/engine.h,
 * and renders the engine's answer (render.c) when it comes, which may be later (api/call.c). The route table
 * in api.c is the one list of every route; a new resource is a new file and new rows there.
 *
 * Threading: the api_t is shared by the loops and read-only while they serve; each loop's
 * api_loop_t (its engine handle and counters) is created on that loop's thread by api_loop_start.
 */
#ifndef FLASHSALE_API_H
#define FLASHSALE_API_H

#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "api/events.h"
#include "core/engine.h"
#include "http/http_router.h"
#include "http/http_server.h"
#include "http/static_files.h"

/* One loop's purchase outcomes; written only by that loop, summed by /metrics. */
typedef struct {
    _Atomic uint64_t outcomes[SALE_OUTCOME_COUNT];
    _Atomic uint64_t unavailable; /* purchases answered 503 */
} api_counters_t;

typedef struct {
    engine_t *engine;
    unsigned char admin_key_hash[crypto_generichash_BYTES];
    api_counters_t *counters; /* one per loop, indexed by http_loop_t.index */
    size_t loop_count;
    int64_t started_ms; /* monotonic, for /health's uptime */
    http_router_t *router;
    static_files_t *pages; /* the pages and their files (pages.c) */
    /*
     * What GET /api/v1/info tells the pages of identity (info.c): auth_mode "header" (the default,
     * also when NULL) or "jwt", and whether accounts can be registered. Set by the identity
     * configuration after api_create, before the server starts.
     */
    const char *auth_mode;
    bool registration;
    api_events_t *events;
} api_t;

/* What a loop keeps for the API: http_loop_t.data. */
typedef struct {
    api_t *api;
    engine_loop_t *engine;
    api_counters_t *counters;
    api_events_loop_t *events;
} api_loop_t;

/*
 * The API on engine (not owned) for a server of loop_count loops; admin_key is hashed, not kept.
 * At most max_subscribers event streams are open at once (events.h). NULL with one line in err
 * when out of memory.
 */
api_t *api_create(engine_t *engine, const char *admin_key, size_t loop_count, size_t max_subscribers,
                  char *err, size_t err_size);
void api_destroy(api_t *api);

/* The route table, for http_server_options_t.router. */
const http_router_t *api_router(const api_t *api);

/* Every row of the route table (`flashsale routes` prints them); count rows. */
const http_route_t *api_routes(size_t *count);

/*
 * Serves the pages from web_root (a directory) instead of the copy built in; before the server
 * starts. Returns 0, or -1 with one line in err when web_root is not a directory.
 */
int api_pages_open(api_t *api, const char *web_root, char *err, size_t err_size);

/* On the loop's thread: attaches it to the engine (loop->data is then its api_loop_t). */
int api_loop_start(api_t *api, http_loop_t *loop, char *err, size_t err_size);
/* On the loop's thread, after it drained (its event streams ended): detaches it. */
void api_loop_stop(api_t *api, http_loop_t *loop);

/* The engine handle of a started loop. */
engine_loop_t *api_loop_engine(const http_loop_t *loop);

#endif
