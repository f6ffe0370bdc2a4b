/*
 * api: the HTTP API of flashsale — the route table and what each loop of the server keeps for it.
 *
 * One file per resource (purchases.c, sales.c, events.c, products.c, operations.c, auth.c, info.c,
 * pages.c; their
 * handlers are listed in handlers.h): a handler reads the request, calls the engine through
 * core/engine.h, and renders the engine's answer (render.c) when it comes, which may be later
 * (api/call.c). The route table in api.c is the one list of every route; a new resource is a new
 * file and new rows there. Who is asking is identity.c's answer and whether they ask too often
 * limits.c's, for every route.
 *
 * Threading: the api_t is shared by the loops and read-only while they serve (the limiter table
 * and the password pool lock inside); each loop's api_loop_t (its engine handle, counters, token
 * cache and password pool handle) is created on that loop's thread by api_loop_start.
 */
#ifndef FLASHSALE_API_H
#define FLASHSALE_API_H

#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "api/events.h"
#include "api/identity.h"
#include "api/limits.h"
#include "auth/password_pool.h"
#include "auth/token.h"
#include "auth/token_cache.h"
#include "core/cidr.h"
#include "core/engine.h"
#include "core/rate.h"
#include "http/http_router.h"
#include "http/http_server.h"
#include "http/static_files.h"

/* Verified tokens each loop remembers (auth/token_cache.h): about 4.6 MiB per loop, in jwt mode. */
#define API_TOKEN_CACHE_ENTRIES 16384
/* Threads that hash passwords (auth/password_pool.h), and what one hash costs (OWASP's Argon2id
 * minimum, m=19 MiB, t=2: about 40 ms of one core). */
#define API_PASSWORD_THREADS  2
#define API_PASSWORD_OPSLIMIT 2
#define API_PASSWORD_MEMLIMIT (19u << 20)

/* One loop's counters; written only by that loop, summed by /metrics. */
typedef struct {
    _Atomic uint64_t outcomes[SALE_OUTCOME_COUNT];
    _Atomic uint64_t unavailable;         /* purchases answered 503 */
    _Atomic uint64_t token_verifications; /* bearer tokens checked (signature and claims) */
    _Atomic uint64_t token_cache_hits;    /* bearer tokens found verified in the loop's cache */
    _Atomic uint64_t rate_limited[API_LIMIT_ROUTE_COUNT];
    _Atomic uint64_t rate_limit_fallbacks; /* decisions made here because the engine's failed */
} api_counters_t;

/* Registration and login: present when the server has an HS256 secret to sign tokens with. */
typedef struct {
    const token_key_t *signer; /* NULL: the routes answer 404 */
    int64_t token_ttl_s;
    const char *issuer, *audience; /* put in the tokens when set, so that the server's rules hold */
    password_pool_t *passwords;
} api_accounts_t;

typedef struct {
    const char *admin_key; /* hashed, not kept */
    bool jwt;              /* --auth jwt */
    /* jwt: what verifies bearer tokens (not owned; outlives the API) */
    const token_key_t *verify_key;
    const char *issuer, *audience; /* NULL: not checked */
    /* an HS256 key to sign login tokens with (not owned), or NULL: no registration, no login */
    const token_key_t *signing_key;
    int64_t token_ttl_s;
    size_t login_queue;                        /* password hashes waiting or running at once */
    const rate_t *rate_per_ip, *rate_per_user; /* NULL: no such limit */
    const cidr_list_t *trusted_proxies;
    size_t max_subscribers; /* event streams open at once, every loop together (events.h) */
    const char *web_root;   /* the pages from this directory, or NULL: the copy built in (pages.c) */
} api_options_t;

typedef struct {
    engine_t *engine;
    api_identity_t identity;
    api_limits_t limits;
    api_accounts_t accounts;
    api_counters_t *counters; /* one per loop, indexed by http_loop_t.index */
    size_t loop_count;
    int64_t started_ms; /* monotonic, for /health's uptime */
    http_router_t *router;
    static_files_t *pages; /* the pages and their files (pages.c) */
    api_events_t *events;
} api_t;

/* What a loop keeps for the API: http_loop_t.data. */
typedef struct {
    api_t *api;
    engine_loop_t *engine;
    api_counters_t *counters;
    token_cache_t *tokens;           /* jwt mode only */
    password_pool_loop_t *passwords; /* with accounts only */
    api_events_loop_t *events;
} api_loop_t;

/*
 * The API on engine (not owned) for a server of loop_count loops. NULL with one line in err when
 * out of memory or threads.
 */
api_t *api_create(engine_t *engine, const api_options_t *options, size_t loop_count, char *err,
                  size_t err_size);
void api_destroy(api_t *api);

/* The route table, for http_server_options_t.router. */
const http_router_t *api_router(const api_t *api);

/* Every row of the route table (`flashsale routes` prints them); count rows. */
const http_route_t *api_routes(size_t *count);

/*
 * pages.c, for api_create: the pages from web_root (a directory), or the copy built in when NULL.
 * Returns 0, or -1 with one line in err when web_root is not a directory.
 */
int api_pages_open(api_t *api, const char *web_root, char *err, size_t err_size);

/* On the loop's thread: attaches it to the engine (loop->data is then its api_loop_t). */
int api_loop_start(api_t *api, http_loop_t *loop, char *err, size_t err_size);
/* On the loop's thread, after it drained (its event streams ended): detaches it. */
void api_loop_stop(api_t *api, http_loop_t *loop);

/* The engine handle of a started loop. */
engine_loop_t *api_loop_engine(const http_loop_t *loop);

#endif
