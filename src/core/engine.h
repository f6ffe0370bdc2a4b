/*
 * engine: the one interface between the API and the storage that decides and records purchases.
 *
 * Two implementations sit behind it: the embedded engine (in-process decisions, SQLite group
 * commit) and the distributed engine (one Redis script per purchase, a stream outbox, a worker
 * into PostgreSQL). The API sees only this header and calls the engine through the inline
 * wrappers at its end (engine_purchase(loop, ...)); only src/app knows both implementations and
 * opens one (engine_embedded_open, engine_distributed_open).
 *
 * Threading. An engine_t is shared by every thread. Each event-loop thread attaches once and
 * gets its own engine_loop_t; every operation is issued on a loop handle, from that loop's
 * thread, and its callback runs on that same thread — either before the call returns (the
 * answer was already known) or later from the loop. Every callback runs exactly once, also on
 * failure (status ENGINE_UNAVAILABLE), so the caller may free its context in it.
 *
 * Durability. An engine calls back only with what is durable: a purchase is reported as
 * successful — or as ALREADY_PURCHASED, or shown by a lookup — only once its order is on disk.
 *
 * Changes. The one way to learn that sales changed is a loop's watcher (watch below): the engine
 * hands it every sale as it is now, soon after any change, coalesced per loop, and the watcher
 * works out what changed. A state that follows from the clock alone (a sale starting or ending
 * with no purchase) is no change of the engine: the watcher derives it from the sale's times.
 *
 * Retries. ENGINE_UNAVAILABLE leaves the outcome of a write unknown, so every admin write may be
 * repeated with the same effect as once (sale_matches_create, sale_update_changes): a create that
 * finds the same sale answers ENGINE_OK with it, an update that changes nothing answers ENGINE_OK
 * with the sale in any state, and a delete may name the sale it meant (ids are never reused), so
 * that a repeat cannot delete a newer sale of the same sku.
 */
#ifndef FLASHSALE_ENGINE_H
#define FLASHSALE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/account.h"
#include "core/rate.h"
#include "core/sale.h"

/* h2o's event loop (h2o_loop_t), declared here so that the domain does not include the server. */
struct st_h2o_evloop_t;

#define ENGINE_PURCHASE_PAGE_MAX 1000
/* See watch: the longest a lost change notice can go unnoticed in distributed mode. */
#define ENGINE_WATCH_RESYNC_MS 5000

typedef struct engine engine_t;
typedef struct engine_loop engine_loop_t;

typedef enum {
    ENGINE_OK = 0,
    ENGINE_NOT_FOUND, /* no sale with that sku, or no purchase of that user */
    ENGINE_CONFLICT, /* create: the sku holds a sale with other fields; create_account: invalid_field is taken
                      */
    ENGINE_NOT_MODIFIABLE, /* update: the sale is no longer UPCOMING */
    ENGINE_INVALID,        /* update: the fields do not fit the sale (see invalid_field) */
    ENGINE_UNAVAILABLE,    /* the store could not answer in time; the outcome may be unknown */
} engine_status_t;

/*
 * One line of /health. A required check that fails makes /health answer 503 (a load balancer
 * should stop sending buyers here); any other failing check only marks the status "degraded",
 * because purchases still work (PostgreSQL down in distributed mode: orders wait in the stream).
 */
typedef struct {
    const char *name; /* "ledger", "redis", "postgres", ... */
    bool ok;
    bool required;
    double latency_ms;  /* < 0 when not measured */
    const char *detail; /* NULL or a short human text */
} engine_check_t;

/*
 * One rate limit a request counts against (see check_limits): the client's name in the limiter
 * ("purchases:ip:203.0.113.7", "login:user:alice") and the rate it is held to.
 */
typedef struct {
    const char *name;
    size_t name_len;
    const rate_t *rate;
} engine_limit_t;

/*
 * What an operation answers. Only the fields named for that operation are set; everything it
 * points to is owned by the engine and valid only until the callback returns.
 */
typedef struct {
    engine_status_t status;
    /* purchase: the decision; purchase is set for SUCCESS and ALREADY_PURCHASED. */
    sale_outcome_t outcome;
    /* purchase, get_purchase */
    const sale_purchase_t *purchase;
    /* get_sale, create_sale, update_sale */
    const sale_t *sale;
    /* list_sales */
    const sale_t *sales;
    size_t sale_count;
    /* list_purchases: one page in purchase order, and the cursor of the next page (NULL at the end) */
    const sale_purchase_t *purchases;
    size_t purchase_count;
    const char *next_cursor;
    /* create_account, find_account */
    const account_t *account;
    /* check_limits: refused, and how long until the same request would be allowed */
    bool limited;
    int64_t retry_after_us;
    /* update_sale with ENGINE_INVALID; create_account with ENGINE_CONFLICT ("username", "email") */
    const char *invalid_field;
    const char *invalid_message;
    /* health */
    const engine_check_t *checks;
    size_t check_count;
    /* metrics: Prometheus text lines of the engine's own series */
    const char *text;
    size_t text_len;
} engine_result_t;

typedef void (*engine_cb)(void *ctx, const engine_result_t *result);

/* Every sale as it is now, in sale_id order; owned by the engine, valid only during the call. */
typedef void (*engine_watch_cb)(void *ctx, const sale_t *sales, size_t count);

typedef struct {
    /* Called on each event-loop thread before it serves; NULL on failure. */
    engine_loop_t *(*attach)(engine_t *engine, struct st_h2o_evloop_t *loop);
    /* Called on the same thread after its loop stopped; callbacks still pending are run first. */
    void (*detach)(engine_loop_t *loop);
    /* Called once after every loop detached: flushes and frees everything. */
    void (*close)(engine_t *engine);

    void (*purchase)(engine_loop_t *loop, const char *sku, const char *user_id, engine_cb cb, void *ctx);
    void (*get_purchase)(engine_loop_t *loop, const char *sku, const char *user_id, engine_cb cb, void *ctx);
    void (*get_sale)(engine_loop_t *loop, const char *sku, engine_cb cb, void *ctx);
    void (*list_sales)(engine_loop_t *loop, engine_cb cb, void *ctx);
    /* fields were checked with sale_validate_create; the same create again answers the sale */
    void (*create_sale)(engine_loop_t *loop, const sale_fields_t *fields, engine_cb cb, void *ctx);
    void (*update_sale)(engine_loop_t *loop, const char *sku, const sale_fields_t *fields, engine_cb cb,
                        void *ctx);
    /* sale_id 0 deletes whichever sale the sku holds; another deletes only that sale (NOT_FOUND
     * when the sku holds no sale, or another one) */
    void (*delete_sale)(engine_loop_t *loop, const char *sku, uint64_t sale_id, engine_cb cb, void *ctx);
    /* after: NULL for the first page, else a next_cursor this engine gave; limit 1..1000 */
    void (*list_purchases)(engine_loop_t *loop, const char *sku, const char *after, size_t limit,
                           engine_cb cb, void *ctx);
    void (*health)(engine_loop_t *loop, engine_cb cb, void *ctx);
    void (*metrics)(engine_loop_t *loop, engine_cb cb, void *ctx);

    /*
     * Sets the loop's one watcher (cb NULL removes it; detach removes it too). The engine calls it
     * on the loop's thread, from the loop and never inside another call: once soon after watch(),
     * then after every change of a sale — a purchase, a create, an update or a delete, through
     * any loop (distributed: any instance). Calls are coalesced: a loop is woken at most once
     * until its watcher ran, whatever the number of changes meanwhile, so a purchase storm costs
     * a loop one call per wake-up, not one per purchase; consecutive calls may show the same sales.
     *   embedded: after the group commit that holds the change (a few milliseconds);
     *   distributed: purchases within a Redis round trip (the purchase script publishes the stock
     *   and one subscription per instance hears it), admin writes within two round trips (they
     *   publish their sku, and each loop then reads its status snapshot again); every loop also
     *   reads it again every ENGINE_WATCH_RESYNC_MS, which repairs a notice lost with a
     *   connection or a crashed instance.
     */
    void (*watch)(engine_loop_t *loop, engine_watch_cb cb, void *ctx);
    /* account: checked with the account_*_is_valid rules, its password already hashed; the
     * username and the email must be new in any ASCII case (ENGINE_CONFLICT names the one taken) */
    void (*create_account)(engine_loop_t *loop, const account_t *account, engine_cb cb, void *ctx);
    /* login: a username, or an email when it holds an @, in any ASCII case; read from the store
     * itself, so a role changed by `flashsale user grant-admin` shows at once */
    void (*find_account)(engine_loop_t *loop, const char *login, engine_cb cb, void *ctx);
    /*
     * Decides one request against count (1..2) limits at once, in buckets every instance of the
     * deployment shares: allowed only if every limit allows, and only then counted. NULL for an
     * engine that has no shared store (the API then decides in process). ENGINE_UNAVAILABLE when
     * the shared buckets are out of reach.
     */
    void (*check_limits)(engine_loop_t *loop, const engine_limit_t *limits, size_t count, engine_cb cb,
                         void *ctx);
} engine_ops_t;

/* The first member of every implementation's engine. */
struct engine {
    const engine_ops_t *ops;
};

/* The first member of every implementation's per-loop handle. */
struct engine_loop {
    engine_t *engine;
};

/* The one way to call an engine; each is the ops entry of the same name (see engine_ops_t). */

static inline engine_loop_t *engine_attach(engine_t *engine, struct st_h2o_evloop_t *loop)
{
    return engine->ops->attach(engine, loop);
}

static inline void engine_detach(engine_loop_t *loop)
{
    loop->engine->ops->detach(loop);
}

static inline void engine_close(engine_t *engine)
{
    engine->ops->close(engine);
}

static inline void engine_purchase(engine_loop_t *loop, const char *sku, const char *user_id, engine_cb cb,
                                   void *ctx)
{
    loop->engine->ops->purchase(loop, sku, user_id, cb, ctx);
}

static inline void engine_get_purchase(engine_loop_t *loop, const char *sku, const char *user_id,
                                       engine_cb cb, void *ctx)
{
    loop->engine->ops->get_purchase(loop, sku, user_id, cb, ctx);
}

static inline void engine_get_sale(engine_loop_t *loop, const char *sku, engine_cb cb, void *ctx)
{
    loop->engine->ops->get_sale(loop, sku, cb, ctx);
}

static inline void engine_list_sales(engine_loop_t *loop, engine_cb cb, void *ctx)
{
    loop->engine->ops->list_sales(loop, cb, ctx);
}

static inline void engine_create_sale(engine_loop_t *loop, const sale_fields_t *fields, engine_cb cb,
                                      void *ctx)
{
    loop->engine->ops->create_sale(loop, fields, cb, ctx);
}

static inline void engine_update_sale(engine_loop_t *loop, const char *sku, const sale_fields_t *fields,
                                      engine_cb cb, void *ctx)
{
    loop->engine->ops->update_sale(loop, sku, fields, cb, ctx);
}

static inline void engine_delete_sale(engine_loop_t *loop, const char *sku, uint64_t sale_id, engine_cb cb,
                                      void *ctx)
{
    loop->engine->ops->delete_sale(loop, sku, sale_id, cb, ctx);
}

static inline void engine_list_purchases(engine_loop_t *loop, const char *sku, const char *after,
                                         size_t limit, engine_cb cb, void *ctx)
{
    loop->engine->ops->list_purchases(loop, sku, after, limit, cb, ctx);
}

static inline void engine_health(engine_loop_t *loop, engine_cb cb, void *ctx)
{
    loop->engine->ops->health(loop, cb, ctx);
}

static inline void engine_metrics(engine_loop_t *loop, engine_cb cb, void *ctx)
{
    loop->engine->ops->metrics(loop, cb, ctx);
}

static inline void engine_watch(engine_loop_t *loop, engine_watch_cb cb, void *ctx)
{
    loop->engine->ops->watch(loop, cb, ctx);
}

static inline void engine_create_account(engine_loop_t *loop, const account_t *account, engine_cb cb,
                                         void *ctx)
{
    loop->engine->ops->create_account(loop, account, cb, ctx);
}

static inline void engine_find_account(engine_loop_t *loop, const char *login, engine_cb cb, void *ctx)
{
    loop->engine->ops->find_account(loop, login, cb, ctx);
}

/* Whether check_limits exists: the engine shares rate limits between instances. */
static inline bool engine_shares_limits(const engine_loop_t *loop)
{
    return loop->engine->ops->check_limits != NULL;
}

static inline void engine_check_limits(engine_loop_t *loop, const engine_limit_t *limits, size_t count,
                                       engine_cb cb, void *ctx)
{
    loop->engine->ops->check_limits(loop, limits, count, cb, ctx);
}

#endif
