/*
 * api: the HTTP API of flashsale — the route table and what each loop of the server keeps for it.
 *
 * One file per resource (purchases.c, sales.c, products.c, operations.c; their handlers are listed
 * in handlers.h): a handler reads the request, calls the engine through core/engine.h, and renders
 * the engine's answer (render.c) when it comes, which may be later (api/call.c). The route table in
 * api.c is the one list of every route; a new resource is a new file and new rows there.
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

#include "core/engine.h"
#include "http/http_router.h"
#include "http/http_server.h"

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
} api_t;

/* What a loop keeps for the API: http_loop_t.data. */
typedef struct {
    api_t *api;
    engine_loop_t *engine;
    api_counters_t *counters;
} api_loop_t;

/*
 * The API on engine (not owned) for a server of loop_count loops; admin_key is hashed, not kept.
 * NULL with one line in err when out of memory.
 */
api_t *api_create(engine_t *engine, const char *admin_key, size_t loop_count, char *err, size_t err_size);
void api_destroy(api_t *api);

/* The route table, for http_server_options_t.router. */
const http_router_t *api_router(const api_t *api);

/* On the loop's thread: attaches it to the engine (loop->data is then its api_loop_t). */
int api_loop_start(api_t *api, http_loop_t *loop, char *err, size_t err_size);
/* On the loop's thread, after it drained: detaches it. */
void api_loop_stop(api_t *api, http_loop_t *loop);

/* The engine handle of a started loop. */
engine_loop_t *api_loop_engine(const http_loop_t *loop);

#endif
