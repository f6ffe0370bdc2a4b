/*
 * engine_distributed: the engine interface on Redis (decisions, the order outbox) and PostgreSQL
 * (sales, persisted orders).
 *
 * Every loop thread has its own Redis connection (redis_client), PostgreSQL connection (pg_async)
 * and copy of the sales (sale_snapshot). A purchase is one script on Redis and touches nothing
 * else, so it keeps working while PostgreSQL is down. Durability: the script's writes are in
 * Redis' append-only file before its reply when Redis runs with appendonly yes and appendfsync
 * always (the documented default; a warning is logged otherwise); the worker then moves the
 * order from the stream into PostgreSQL.
 *
 * Admin writes go to PostgreSQL (the source of truth) first, then to Redis; when the Redis step
 * fails the reconciler is asked to bring Redis in line. The admin listing of purchases merges
 * PostgreSQL with the orders still in the stream, so it shows every acknowledged order at once.
 *
 * The persistence lag (the orders still in the streams) is sampled by a thread of the engine, so
 * /metrics and /health report it without a loop ever waiting for Redis; so is each sale's count of
 * orders in PostgreSQL (persisted_counts), which the status snapshot hands to the admin's reads.
 *
 * Once a sale has sold out, each loop answers its purchases from a copy of its buyers
 * (sold_out_cache), checked against the status snapshot, without a Redis round trip.
 *
 * Changes of the sales reach each loop's watcher through one subscription per instance
 * (sale_changes, distributed_watch.c).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "distributed/engine_distributed.h"
#include "distributed/engine_distributed_internal.h"
#include "distributed/outbox.h"
#include "distributed/postgres/pg_schema.h"
#include "distributed/postgres/pg_url.h"
#include "distributed/redis/redis_limit.h"
#include "distributed/redis/redis_sale.h"

/* How long a purchase may wait for Redis before it is answered as unavailable. */
#define REDIS_TIMEOUT_MS    2000
#define POSTGRES_TIMEOUT_MS 5000
/* Purchases of one sale decided by one script call at most (see the purchase section). */
#define PURCHASE_BATCH_MAX 128

void distributed_answer(op_t *op, const engine_result_t *result)
{
    op->cb(op->ctx, result);
    free(op);
}

void distributed_answer_status(op_t *op, engine_status_t status)
{
    engine_result_t result = {.status = status};
    distributed_answer(op, &result);
}

/* Allocates an operation's context of `size` bytes; NULL after answering ENGINE_UNAVAILABLE. */
void *distributed_op_start(engine_loop_t *handle, size_t size, engine_cb cb, void *ctx)
{
    op_t *op = calloc(1, size);
    if (op == NULL) {
        engine_result_t result = {.status = ENGINE_UNAVAILABLE};
        cb(ctx, &result);
        return NULL;
    }
    *op = (op_t){.loop = (distributed_loop_t *)handle, .cb = cb, .ctx = ctx};
    return op;
}

static void changed(distributed_loop_t *loop)
{
    atomic_fetch_add_explicit(&loop->engine->generation, 1, memory_order_release);
}

static uint64_t admin_generation(distributed_loop_t *loop)
{
    return atomic_load_explicit(&loop->engine->admin_generation, memory_order_acquire);
}

void distributed_ask_reconcile(void *data)
{
    distributed_loop_t *loop = data;
    reconciler_request(loop->engine->reconciler);
}

void distributed_format_int64(char *out, int64_t value)
{
    snprintf(out, INT64_TEXT_MAX, "%" PRId64, value);
}

bool distributed_reply_is_error(const redisReply *reply)
{
    return reply == NULL || reply->type == REDIS_REPLY_ERROR;
}

/* A failed statement (not a lost connection, which pg_async logs) is logged here, on one line. */
void distributed_log_pg_error(const char *what, const PGresult *result)
{
    if (result == NULL || PQresultStatus(result) == PGRES_TUPLES_OK ||
        PQresultStatus(result) == PGRES_COMMAND_OK)
        return;
    const char *message = PQresultErrorMessage(result);
    log_error("postgres", "%s: %.*s", what, (int)strcspn(message, "\n"), message);
}

bool distributed_pg_rows(const PGresult *result)
{
    return result != NULL && PQresultStatus(result) == PGRES_TUPLES_OK;
}

/* ---- purchase ---- */

/*
 * Purchases are not sent one by one: those of one sku that arrive during one loop iteration are
 * decided by one purchase script call at its end (at most PURCHASE_BATCH_MAX each), when hiredis
 * writes anyway (redis_loop), so no purchase waits longer for it. Redis' one thread then reads
 * the sale, the clock and writes the counters once per batch instead of once per purchase (see
 * redis_sale.c), and a batch's reply still comes only after Redis' append-only file has it all.
 */
struct purchase_batch {
    distributed_loop_t *loop;
    purchase_batch_t *next; /* among the loop's batches being gathered */
    char sku[SALE_SKU_MAX + 1];
    purchase_op_t *first;
    purchase_op_t **tail;
    size_t count;
};

static void on_purchase_ready_marker(void *data, redisReply *reply)
{
    purchase_op_t *purchase = data;
    if (distributed_reply_is_error(reply) || reply->type != REDIS_REPLY_INTEGER) {
        distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->integer == 0) {
        /* Redis lost its sales (FLUSHALL, a new node): not "no such sale" but "not yet". */
        distributed_ask_reconcile(purchase->op.loop);
        distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK, .outcome = SALE_OUTCOME_NOT_FOUND};
    distributed_answer(&purchase->op, &result);
}

/* Answers the index-th purchase of a batch from the script's (checked) reply. */
static void on_purchase(purchase_op_t *purchase, const redisReply *reply, size_t index)
{
    engine_result_t result = {.status = ENGINE_OK};
    switch (redis_sale_purchase_decode(reply, index, &purchase->purchase)) {
    case REDIS_PURCHASE_SUCCESS:
        result.outcome = SALE_OUTCOME_SUCCESS;
        result.purchase = &purchase->purchase;
        changed(purchase->op.loop);
        break;
    case REDIS_PURCHASE_ALREADY:
        result.outcome = SALE_OUTCOME_ALREADY_PURCHASED;
        result.purchase = &purchase->purchase;
        break;
    case REDIS_PURCHASE_NO_SALE: {
        const char *argv[] = {"EXISTS", OUTBOX_READY_KEY};
        redis_client_command(purchase->op.loop->redis, 2, argv, NULL, on_purchase_ready_marker, purchase);
        return;
    }
    case REDIS_PURCHASE_NOT_ACTIVE:
        result.outcome = SALE_OUTCOME_NOT_ACTIVE;
        break;
    case REDIS_PURCHASE_SOLD_OUT:
        result.outcome = SALE_OUTCOME_SOLD_OUT;
        sold_out_cache_note(purchase->op.loop->sold_out, purchase->purchase.sku);
        break;
    default: /* REDIS_PURCHASE_NOT_DECIDED, or malformed */
        result.status = ENGINE_UNAVAILABLE;
        break;
    }
    distributed_answer(&purchase->op, &result);
}

/* The script's reply to a batch: one result per purchase, in the batch's order. */
static void on_batch(void *data, redisReply *reply)
{
    purchase_batch_t *batch = data;
    bool ok = !distributed_reply_is_error(reply) && redis_sale_purchase_reply_check(reply, batch->count) == 0;
    purchase_op_t *purchase = batch->first;
    for (size_t i = 0; purchase != NULL; i++) {
        purchase_op_t *next = purchase->next;
        if (ok)
            on_purchase(purchase, reply, i);
        else
            distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        purchase = next;
    }
    free(batch);
}

/* Sends the batch; it belongs to its reply from then on. */
static void send_batch(purchase_batch_t *batch)
{
    const char *argv[4 + PURCHASE_BATCH_MAX];
    size_t lens[4 + PURCHASE_BATCH_MAX];
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, batch->sku);
    argv[0] = keys.sale;
    lens[0] = keys.sale_len;
    argv[1] = keys.buyers;
    lens[1] = keys.buyers_len;
    argv[2] = keys.orders;
    lens[2] = keys.orders_len;
    argv[3] = batch->sku;
    lens[3] = strlen(batch->sku);
    int argc = 4;
    for (purchase_op_t *purchase = batch->first; purchase != NULL; purchase = purchase->next) {
        argv[argc] = purchase->purchase.user_id;
        lens[argc++] = strlen(purchase->purchase.user_id);
    }
    redis_client_script(batch->loop->redis, &redis_sale_purchase_script, 3, argc, argv, lens, on_batch,
                        batch);
}

/* Sends every batch gathered so far. */
static void flush_batches(distributed_loop_t *loop)
{
    h2o_timeout_unlink(&loop->batch_flush);
    /* Detached first: an answer given while sending (Redis down) may start a new batch. */
    purchase_batch_t *batch = loop->batches;
    loop->batches = NULL;
    while (batch != NULL) {
        purchase_batch_t *next = batch->next;
        send_batch(batch);
        batch = next;
    }
}

static void on_batch_flush(h2o_timeout_entry_t *entry)
{
    flush_batches(H2O_STRUCT_FROM_MEMBER(distributed_loop_t, batch_flush, entry));
}

/* Adds the purchase to its sku's batch of this iteration. */
static void send_purchase(purchase_op_t *purchase)
{
    distributed_loop_t *loop = purchase->op.loop;
    purchase_batch_t **link = &loop->batches;
    while (*link != NULL && strcmp((*link)->sku, purchase->purchase.sku) != 0)
        link = &(*link)->next;
    purchase_batch_t *batch = *link;
    if (batch == NULL) {
        if ((batch = calloc(1, sizeof(*batch))) == NULL) {
            distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
            return;
        }
        batch->loop = loop;
        memcpy(batch->sku, purchase->purchase.sku, sizeof(batch->sku));
        batch->tail = &batch->first;
        *link = batch;
        if (!h2o_timeout_is_linked(&loop->batch_flush))
            h2o_timeout_link(loop->loop, &loop->batch_timeout, &loop->batch_flush);
    }
    *batch->tail = purchase;
    batch->tail = &purchase->next;
    if (++batch->count == PURCHASE_BATCH_MAX) {
        *link = batch->next;
        send_batch(batch);
    }
}

/*
 * Answers from the sold-out copy of sku's sale, if there is one and the snapshot (fresh: see
 * sold_out_cache.h) still shows that sale under sku; returns false otherwise, having dropped a copy
 * the snapshot contradicts, and the script must decide.
 */
static bool answer_sold_out(distributed_loop_t *loop, const char *sku, const char *user_id,
                            const sale_t *sales, size_t count, engine_cb cb, void *ctx)
{
    const sold_out_sale_t *cached = sold_out_cache_find(loop->sold_out, sku);
    if (cached == NULL)
        return false;
    size_t i = 0;
    while (i < count && strcmp(sales[i].sku, sku) != 0)
        i++;
    /* Stock back (after a Redis data loss gave lost orders' units back): no longer sold out. */
    if (i == count || sales[i].sale_id != sold_out_cache_sale_id(cached) || sales[i].stock > 0) {
        sold_out_cache_drop(loop->sold_out, sku);
        return false;
    }
    sale_purchase_t purchase;
    engine_result_t result = {.status = ENGINE_OK};
    result.outcome =
        sold_out_cache_decide(cached, user_id, sale_snapshot_redis_now_ms(loop->snapshot), &purchase);
    if (result.outcome == SALE_OUTCOME_ALREADY_PURCHASED) {
        snprintf(purchase.sku, sizeof(purchase.sku), "%s", sku);
        snprintf(purchase.user_id, sizeof(purchase.user_id), "%s", user_id);
        result.purchase = &purchase;
    }
    atomic_fetch_add_explicit(&loop->engine->sold_out_answers, 1, memory_order_relaxed);
    cb(ctx, &result);
    return true;
}

static void on_snapshot_for_purchase(void *data, bool ok, const sale_t *sales, size_t count)
{
    purchase_op_t *purchase = data;
    if (!ok) {
        distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (answer_sold_out(purchase->op.loop, purchase->purchase.sku, purchase->purchase.user_id, sales, count,
                        purchase->op.cb, purchase->op.ctx)) {
        free(purchase);
        return;
    }
    send_purchase(purchase);
}

/* The operation of a purchase or a lookup; NULL after answering ENGINE_UNAVAILABLE. */
purchase_op_t *distributed_purchase_start(engine_loop_t *handle, const char *sku, const char *user_id,
                                          engine_cb cb, void *ctx)
{
    purchase_op_t *purchase = distributed_op_start(handle, sizeof(*purchase), cb, ctx);
    if (purchase != NULL) {
        snprintf(purchase->purchase.sku, sizeof(purchase->purchase.sku), "%s", sku);
        snprintf(purchase->purchase.user_id, sizeof(purchase->purchase.user_id), "%s", user_id);
    }
    return purchase;
}

static void distributed_purchase(engine_loop_t *handle, const char *sku, const char *user_id, engine_cb cb,
                                 void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    purchase_op_t *purchase;
    if (sold_out_cache_find(loop->sold_out, sku) != NULL) {
        const sale_t *sales;
        size_t count;
        if (!sale_snapshot_fresh_since(loop->snapshot, admin_generation(loop), &sales, &count)) {
            /* Too old to vouch for the copy: answer after a refresh. */
            if ((purchase = distributed_purchase_start(handle, sku, user_id, cb, ctx)) != NULL)
                sale_snapshot_read_since(loop->snapshot, admin_generation(loop), on_snapshot_for_purchase,
                                         purchase);
            return;
        }
        /* The hot path of a storm after the sell-out: no allocation, no Redis. */
        if (answer_sold_out(loop, sku, user_id, sales, count, cb, ctx))
            return;
    }
    if ((purchase = distributed_purchase_start(handle, sku, user_id, cb, ctx)) != NULL)
        send_purchase(purchase);
}

/* ---- lifecycle ---- */

static engine_loop_t *distributed_attach(engine_t *handle, h2o_loop_t *h2o_loop)
{
    distributed_engine_t *engine = (distributed_engine_t *)handle;
    distributed_loop_t *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->super.engine = handle;
    loop->engine = engine;
    loop->loop = h2o_loop;
    /* Before the client's own 0 ms timeout, so that a batch sent at the end of an iteration is
     * written by hiredis in the same iteration. */
    h2o_timeout_init(h2o_loop, &loop->batch_timeout, 0);
    loop->batch_flush.cb = on_batch_flush;
    loop->redis =
        redis_client_create(h2o_loop, &engine->redis_address, REDIS_TIMEOUT_MS, &engine->redis_stats);
    loop->pg = pg_async_create(h2o_loop, engine->postgres_url, POSTGRES_TIMEOUT_MS, &engine->pg_stats);
    if (loop->redis != NULL) {
        loop->snapshot = sale_snapshot_create(h2o_loop, loop->redis, &engine->generation, engine->persisted,
                                              distributed_ask_reconcile, loop);
        loop->sold_out = sold_out_cache_create(h2o_loop, loop->redis);
        /* Another Redis, or one that lost data, may be behind PostgreSQL: see reconcile.h. */
        redis_client_on_reconnect(loop->redis, distributed_ask_reconcile, loop);
    }
    if (loop->redis == NULL || loop->pg == NULL || loop->snapshot == NULL || loop->sold_out == NULL) {
        if (loop->redis != NULL)
            redis_client_destroy(loop->redis);
        if (loop->pg != NULL)
            pg_async_destroy(loop->pg);
        if (loop->snapshot != NULL)
            sale_snapshot_destroy(loop->snapshot);
        if (loop->sold_out != NULL)
            sold_out_cache_destroy(loop->sold_out);
        h2o_timeout_dispose(h2o_loop, &loop->batch_timeout);
        free(loop);
        return NULL;
    }
    distributed_watch_attach(loop);
    return &loop->super;
}

static void distributed_detach(engine_loop_t *handle)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    distributed_watch_detach(loop);
    /* Batches not yet sent are sent, to be answered "no answer" by the client's destruction. */
    flush_batches(loop);
    /* Callbacks run with "no answer" here never touch the other store, so the order is free. */
    redis_client_destroy(loop->redis);
    pg_async_destroy(loop->pg);
    sale_snapshot_destroy(loop->snapshot);
    sold_out_cache_destroy(loop->sold_out);
    /* "No answer" starts nothing new, so no batch was gathered meanwhile. */
    assert(loop->batches == NULL && !h2o_timeout_is_linked(&loop->batch_flush));
    h2o_timeout_dispose(loop->loop, &loop->batch_timeout);
    free(loop);
}

static void distributed_close(engine_t *handle)
{
    distributed_engine_t *engine = (distributed_engine_t *)handle;
    sale_changes_stop(engine->changes);
    worker_lag_sampler_stop(engine->lag_sampler);
    persisted_counts_stop(engine->persisted);
    reconciler_stop(engine->reconciler);
    free(engine->postgres_url);
    free(engine);
}

static const engine_ops_t distributed_ops = {
    .attach = distributed_attach,
    .detach = distributed_detach,
    .close = distributed_close,
    .purchase = distributed_purchase,
    .get_purchase = distributed_get_purchase,
    .get_sale = distributed_get_sale,
    .list_sales = distributed_list_sales,
    .create_sale = distributed_create_sale,
    .update_sale = distributed_update_sale,
    .delete_sale = distributed_delete_sale,
    .list_purchases = distributed_list_purchases,
    .health = distributed_health,
    .metrics = distributed_metrics,
    .watch = distributed_watch,
    .create_account = distributed_create_account,
    .find_account = distributed_find_account,
    .check_limits = distributed_check_limits,
};

/* An acknowledged purchase is on disk only if Redis fsyncs its append-only file before replying. */
static void warn_unless_durable(redisContext *redis)
{
    redisReply *aof = redisCommand(redis, "CONFIG GET appendonly");
    redisReply *fsync = redisCommand(redis, "CONFIG GET appendfsync");
    bool durable = aof != NULL && aof->type == REDIS_REPLY_ARRAY && aof->elements == 2 &&
                   strcmp(aof->element[1]->str, "yes") == 0 && fsync != NULL &&
                   fsync->type == REDIS_REPLY_ARRAY && fsync->elements == 2 &&
                   strcmp(fsync->element[1]->str, "always") == 0;
    if (!durable)
        log_warn("redis",
                 "not configured with appendonly yes and appendfsync always; an acknowledged purchase "
                 "may be lost if Redis crashes");
    freeReplyObject(aof);
    freeReplyObject(fsync);
}

/* Migrates PostgreSQL and reconciles Redis once, with blocking connections, before serving. */
static int prepare_stores(const redis_address_t *address, const char *postgres_url, int *losses, char *err,
                          size_t err_size)
{
    redisContext *redis;
    if (redis_address_connect(address, REDIS_TIMEOUT_MS, &redis, err, err_size) != REDIS_CONNECT_OK)
        return -1;
    int result = redis_sale_load_scripts(redis, err, err_size);
    if (result == 0)
        result = redis_script_load(redis, &redis_limit_script, err, err_size);
    if (result == 0)
        warn_unless_durable(redis);
    PGconn *pg = result == 0 ? PQconnectdb(postgres_url) : NULL;
    if (result == 0 && PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, err_size, "postgres: %s", pg != NULL ? PQerrorMessage(pg) : "out of memory");
        result = -1;
    }
    if (result == 0)
        result = pg_schema_migrate(pg, err, err_size);
    if (result == 0)
        result = reconcile_run(redis, pg, losses, err, err_size);
    PQfinish(pg);
    redisFree(redis);
    return result;
}

engine_t *engine_distributed_open(const char *redis_url, const char *postgres_url, char *err, size_t err_size)
{
    redis_address_t address;
    if (redis_address_parse(redis_url, &address, err, err_size) != 0 ||
        pg_url_check(postgres_url, err, err_size) != 0)
        return NULL;
    int losses = 0;
    if (prepare_stores(&address, postgres_url, &losses, err, err_size) != 0)
        return NULL;
    distributed_engine_t *engine = calloc(1, sizeof(*engine));
    if (engine == NULL || (engine->postgres_url = strdup(postgres_url)) == NULL ||
        (engine->reconciler = reconciler_start(&address, postgres_url)) == NULL ||
        (engine->lag_sampler = worker_lag_sampler_start(&address)) == NULL ||
        (engine->persisted = persisted_counts_start(postgres_url)) == NULL ||
        (engine->changes = sale_changes_start(&address, &engine->generation)) == NULL) {
        snprintf(err, err_size, "out of memory or threads");
        if (engine != NULL && engine->persisted != NULL)
            persisted_counts_stop(engine->persisted);
        if (engine != NULL && engine->lag_sampler != NULL)
            worker_lag_sampler_stop(engine->lag_sampler);
        if (engine != NULL && engine->reconciler != NULL)
            reconciler_stop(engine->reconciler);
        if (engine != NULL)
            free(engine->postgres_url);
        free(engine);
        return NULL;
    }
    engine->super.ops = &distributed_ops;
    engine->redis_address = address;
    engine->opening_losses = (uint64_t)losses;
    return &engine->super;
}