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
 * /metrics and /health report it without a loop ever waiting for Redis.
 *
 * Once a sale has sold out, each loop answers its purchases from a copy of its buyers
 * (sold_out_cache), checked against the status snapshot, without a Redis round trip.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "distributed/distributed.h"
#include "distributed/outbox.h"
#include "distributed/pg_async.h"
#include "distributed/pg_schema.h"
#include "distributed/reconcile.h"
#include "distributed/redis_client.h"
#include "distributed/redis_sale.h"
#include "distributed/sale_snapshot.h"
#include "distributed/sold_out_cache.h"
#include "distributed/worker_lag.h"

/* How long a purchase may wait for Redis before it is answered as unavailable. */
#define REDIS_TIMEOUT_MS    2000
#define POSTGRES_TIMEOUT_MS 5000
#define METRICS_TEXT_MAX    4096
#define INT64_TEXT_MAX      24
/* /health's outbox check fails when the lag sample is older than this (Redis not answering) ... */
#define LAG_SAMPLE_STALE_MS 5000
/* ... or when an order has waited this long for PostgreSQL (no worker, or PostgreSQL down). */
#define LAG_OLDEST_MAX_MS 60000
#define CHECK_DETAIL_MAX  96
/* Purchases of one sale decided by one script call at most (see the purchase section). */
#define PURCHASE_BATCH_MAX 128

typedef struct {
    engine_t super;
    redis_address_t redis_address;
    char *postgres_url;
    redis_client_stats_t redis_stats;
    pg_async_stats_t pg_stats;
    /* Bumped by every change this instance makes; see sale_snapshot. */
    atomic_uint_fast64_t generation;
    /* The generation of this instance's latest admin write (create, update, delete): a snapshot
     * taken at it or later has seen every sale_id change made here. */
    atomic_uint_fast64_t admin_generation;
    atomic_uint_fast64_t sold_out_answers; /* purchases answered by a sold_out_cache */
    reconciler_t *reconciler;
    worker_lag_sampler_t *lag_sampler;
} distributed_engine_t;

typedef struct purchase_batch purchase_batch_t;

typedef struct {
    engine_loop_t super;
    distributed_engine_t *engine;
    h2o_loop_t *loop;
    /* Purchases gathered during this loop iteration, one batch per sku; sent at its end. */
    purchase_batch_t *batches;
    h2o_timeout_t batch_timeout; /* 0 ms */
    h2o_timeout_entry_t batch_flush;
    redis_client_t *redis;
    pg_async_t *pg;
    sale_snapshot_t *snapshot;
    sold_out_cache_t *sold_out;
    char metrics[METRICS_TEXT_MAX];
} distributed_loop_t;

/* What every operation keeps until it answers; the first member of each operation's context. */
typedef struct {
    distributed_loop_t *loop;
    engine_cb cb;
    void *ctx;
} op_t;

static void answer(op_t *op, const engine_result_t *result)
{
    op->cb(op->ctx, result);
    free(op);
}

static void answer_status(op_t *op, engine_status_t status)
{
    engine_result_t result = {.status = status};
    answer(op, &result);
}

/* Allocates an operation's context of `size` bytes; NULL after answering ENGINE_UNAVAILABLE. */
static void *op_start(engine_loop_t *handle, size_t size, engine_cb cb, void *ctx)
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

/* An admin write: raises admin_generation to the new generation (never lowers it, whatever the
 * order in which threads get here). */
static void admin_changed(distributed_loop_t *loop)
{
    distributed_engine_t *engine = loop->engine;
    uint_fast64_t generation = atomic_fetch_add_explicit(&engine->generation, 1, memory_order_acq_rel) + 1;
    uint_fast64_t seen = atomic_load_explicit(&engine->admin_generation, memory_order_relaxed);
    while (seen < generation &&
           !atomic_compare_exchange_weak_explicit(&engine->admin_generation, &seen, generation,
                                                  memory_order_release, memory_order_relaxed))
        ;
}

static uint64_t admin_generation(distributed_loop_t *loop)
{
    return atomic_load_explicit(&loop->engine->admin_generation, memory_order_acquire);
}

static void ask_reconcile(void *data)
{
    distributed_loop_t *loop = data;
    reconciler_request(loop->engine->reconciler);
}

static void format_int64(char *out, int64_t value)
{
    snprintf(out, INT64_TEXT_MAX, "%" PRId64, value);
}

static bool reply_is_error(const redisReply *reply)
{
    return reply == NULL || reply->type == REDIS_REPLY_ERROR;
}

/* A failed statement (not a lost connection, which pg_async logs) is logged here, on one line. */
static void log_pg_error(const char *what, const PGresult *result)
{
    if (result == NULL || PQresultStatus(result) == PGRES_TUPLES_OK ||
        PQresultStatus(result) == PGRES_COMMAND_OK)
        return;
    const char *message = PQresultErrorMessage(result);
    fprintf(stderr, "postgres: %s: %.*s\n", what, (int)strcspn(message, "\n"), message);
}

static bool pg_rows(const PGresult *result)
{
    return result != NULL && PQresultStatus(result) == PGRES_TUPLES_OK;
}

/* Fills a purchase from "<purchase_no>" and "<purchased_ms>" texts; -1 when malformed. */
static int set_purchase(sale_purchase_t *purchase, const char *number, size_t number_len, const char *ms,
                        size_t ms_len)
{
    redisReply ms_reply = {.type = REDIS_REPLY_STRING, .str = (char *)ms, .len = ms_len};
    if (number_len == 0 || number_len >= sizeof(purchase->purchase_no) ||
        redis_reply_int64(&ms_reply, &purchase->purchased_ms) != 0)
        return -1;
    memcpy(purchase->purchase_no, number, number_len);
    purchase->purchase_no[number_len] = '\0';
    return 0;
}

/* ---- purchase ---- */

/*
 * Purchases are not sent one by one: those of one sku that arrive during one loop iteration are
 * decided by one purchase script call at its end (at most PURCHASE_BATCH_MAX each), when hiredis
 * writes anyway (redis_loop), so no purchase waits longer for it. Redis' one thread then reads
 * the sale, the clock and writes the counters once per batch instead of once per purchase (see
 * redis_sale.c), and a batch's reply still comes only after Redis' append-only file has it all.
 */
typedef struct purchase_op {
    op_t op;
    sale_purchase_t purchase;
    struct purchase_op *next; /* in its batch */
} purchase_op_t;

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
    if (reply_is_error(reply) || reply->type != REDIS_REPLY_INTEGER) {
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->integer == 0) {
        /* Redis lost its sales (FLUSHALL, a new node): not "no such sale" but "not yet". */
        ask_reconcile(purchase->op.loop);
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK, .outcome = SALE_OUTCOME_NOT_FOUND};
    answer(&purchase->op, &result);
}

/* Answers one purchase from its result in the script's reply. */
static void on_purchase(purchase_op_t *purchase, const redisReply *reply)
{
    int64_t code;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        redis_reply_int64(reply->element[0], &code) != 0) {
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK};
    switch (code) {
    case REDIS_PURCHASE_SUCCESS:
    case REDIS_PURCHASE_ALREADY:
        if (reply->elements != 3 ||
            set_purchase(&purchase->purchase, reply->element[1]->str, reply->element[1]->len,
                         reply->element[2]->str, reply->element[2]->len) != 0) {
            answer_status(&purchase->op, ENGINE_UNAVAILABLE);
            return;
        }
        result.outcome =
            code == REDIS_PURCHASE_SUCCESS ? SALE_OUTCOME_SUCCESS : SALE_OUTCOME_ALREADY_PURCHASED;
        result.purchase = &purchase->purchase;
        if (code == REDIS_PURCHASE_SUCCESS)
            changed(purchase->op.loop);
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
    default: /* REDIS_PURCHASE_NOT_DECIDED, or unknown */
        result.status = ENGINE_UNAVAILABLE;
        break;
    }
    answer(&purchase->op, &result);
}

/* The script's reply to a batch: one result per purchase, in the batch's order. */
static void on_batch(void *data, redisReply *reply)
{
    purchase_batch_t *batch = data;
    bool ok = !reply_is_error(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements == batch->count;
    purchase_op_t *purchase = batch->first;
    for (size_t i = 0; purchase != NULL; i++) {
        purchase_op_t *next = purchase->next;
        if (ok)
            on_purchase(purchase, reply->element[i]);
        else
            answer_status(&purchase->op, ENGINE_UNAVAILABLE);
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
            answer_status(&purchase->op, ENGINE_UNAVAILABLE);
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
    if (i == count || sales[i].sale_id != sold_out_cache_sale_id(cached)) {
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
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
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
static purchase_op_t *purchase_start(engine_loop_t *handle, const char *sku, const char *user_id,
                                     engine_cb cb, void *ctx)
{
    purchase_op_t *purchase = op_start(handle, sizeof(*purchase), cb, ctx);
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
            if ((purchase = purchase_start(handle, sku, user_id, cb, ctx)) != NULL)
                sale_snapshot_read_since(loop->snapshot, admin_generation(loop), on_snapshot_for_purchase,
                                         purchase);
            return;
        }
        /* The hot path of a storm after the sell-out: no allocation, no Redis. */
        if (answer_sold_out(loop, sku, user_id, sales, count, cb, ctx))
            return;
    }
    if ((purchase = purchase_start(handle, sku, user_id, cb, ctx)) != NULL)
        send_purchase(purchase);
}

/* ---- get_purchase ---- */

static void on_buyer(void *data, redisReply *reply)
{
    purchase_op_t *purchase = data;
    if (reply_is_error(reply)) {
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        answer_status(&purchase->op, ENGINE_NOT_FOUND);
        return;
    }
    const char *bar = memchr(reply->str, '|', reply->len);
    if (bar == NULL || set_purchase(&purchase->purchase, reply->str, (size_t)(bar - reply->str), bar + 1,
                                    reply->len - (size_t)(bar - reply->str) - 1) != 0) {
        answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK, .purchase = &purchase->purchase};
    answer(&purchase->op, &result);
}

static void distributed_get_purchase(engine_loop_t *handle, const char *sku, const char *user_id,
                                     engine_cb cb, void *ctx)
{
    purchase_op_t *purchase = purchase_start(handle, sku, user_id, cb, ctx);
    if (purchase == NULL)
        return;
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *argv[] = {"HGET", keys.buyers, user_id};
    redis_client_command(purchase->op.loop->redis, 3, argv, NULL, on_buyer, purchase);
}

/* ---- get_sale, list_sales: from the snapshot ---- */

typedef struct {
    op_t op;
    char sku[SALE_SKU_MAX + 1];
} sale_op_t;

static void answer_sale(engine_cb cb, void *ctx, const char *sku, const sale_t *sales, size_t count)
{
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    for (size_t i = 0; i < count; i++) {
        if (strcmp(sales[i].sku, sku) == 0) {
            result = (engine_result_t){.status = ENGINE_OK, .sale = &sales[i]};
            break;
        }
    }
    cb(ctx, &result);
}

static void on_snapshot_for_sale(void *data, bool ok, const sale_t *sales, size_t count)
{
    sale_op_t *sale = data;
    if (!ok) {
        answer_status(&sale->op, ENGINE_UNAVAILABLE);
        return;
    }
    answer_sale(sale->op.cb, sale->op.ctx, sale->sku, sales, count);
    free(sale);
}

static void distributed_get_sale(engine_loop_t *handle, const char *sku, engine_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    const sale_t *sales;
    size_t count;
    /* The hot path of a polling storm: no allocation, no Redis. */
    if (sale_snapshot_fresh(loop->snapshot, &sales, &count)) {
        answer_sale(cb, ctx, sku, sales, count);
        return;
    }
    sale_op_t *sale = op_start(handle, sizeof(*sale), cb, ctx);
    if (sale == NULL)
        return;
    snprintf(sale->sku, sizeof(sale->sku), "%s", sku);
    sale_snapshot_read(loop->snapshot, on_snapshot_for_sale, sale);
}

static void on_snapshot_for_list(void *data, bool ok, const sale_t *sales, size_t count)
{
    op_t *op = data;
    engine_result_t result = {
        .status = ok ? ENGINE_OK : ENGINE_UNAVAILABLE, .sales = sales, .sale_count = count};
    answer(op, &result);
}

static void distributed_list_sales(engine_loop_t *handle, engine_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    const sale_t *sales;
    size_t count;
    if (sale_snapshot_fresh(loop->snapshot, &sales, &count)) {
        engine_result_t result = {.status = ENGINE_OK, .sales = sales, .sale_count = count};
        cb(ctx, &result);
        return;
    }
    op_t *op = op_start(handle, sizeof(*op), cb, ctx);
    if (op != NULL)
        sale_snapshot_read(loop->snapshot, on_snapshot_for_list, op);
}

/* ---- create_sale ---- */

typedef struct {
    op_t op;
    sale_t sale;
    bool loaded; /* the create script's reply, which precedes SADD's */
} create_op_t;

static void on_create_added(void *data, redisReply *reply)
{
    create_op_t *create = data;
    if (!create->loaded || reply_is_error(reply)) {
        /* PostgreSQL has the sale; the reconciler loads it into Redis. */
        ask_reconcile(create->op.loop);
        answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    admin_changed(create->op.loop);
    engine_result_t result = {.status = ENGINE_OK, .sale = &create->sale};
    answer(&create->op, &result);
}

static void on_create_loaded(void *data, redisReply *reply)
{
    create_op_t *create = data;
    create->loaded = !reply_is_error(reply) && reply->type == REDIS_REPLY_INTEGER;
}

static void on_sale_inserted(void *data, const PGresult *result)
{
    create_op_t *create = data;
    if (!pg_rows(result)) {
        log_pg_error("create sale", result);
        answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        answer_status(&create->op, ENGINE_CONFLICT);
        return;
    }
    sale_t *sale = &create->sale;
    sale->sale_id = strtoull(PQgetvalue(result, 0, 0), NULL, 10);
    char sale_id[INT64_TEXT_MAX], initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX],
        created[INT64_TEXT_MAX];
    format_int64(sale_id, (int64_t)sale->sale_id);
    format_int64(initial_stock, sale->initial_stock);
    format_int64(start, sale->start_ms);
    format_int64(end, sale->end_ms);
    format_int64(created, sale->created_ms);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sale->sku);
    const char *argv[] = {keys.sale,     keys.buyers, keys.orders, sale_id, sale->product_name,
                          initial_stock, start,       end,         created};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    /* Pipelined, hash first then set (outbox.h); SADD's reply answers. */
    redis_client_script(create->op.loop->redis, &redis_sale_create_script, 3, 9, argv, lens, on_create_loaded,
                        create);
    const char *sadd[] = {"SADD", OUTBOX_SALES_SET, sale->sku};
    redis_client_command(create->op.loop->redis, 3, sadd, NULL, on_create_added, create);
}

static void distributed_create_sale(engine_loop_t *handle, const sale_fields_t *fields, engine_cb cb,
                                    void *ctx)
{
    create_op_t *create = op_start(handle, sizeof(*create), cb, ctx);
    if (create == NULL)
        return;
    sale_t *sale = &create->sale;
    snprintf(sale->sku, sizeof(sale->sku), "%s", fields->sku);
    snprintf(sale->product_name, sizeof(sale->product_name), "%s", fields->product_name);
    sale->initial_stock = sale->stock = fields->initial_stock;
    sale->start_ms = fields->start_ms;
    sale->end_ms = fields->end_ms;
    sale->created_ms = clock_now_ms();
    char initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX], created[INT64_TEXT_MAX];
    format_int64(initial_stock, sale->initial_stock);
    format_int64(start, sale->start_ms);
    format_int64(end, sale->end_ms);
    format_int64(created, sale->created_ms);
    const char *params[] = {sale->sku, sale->product_name, initial_stock, start, end, created};
    pg_async_query(create->op.loop->pg,
                   "INSERT INTO sales (sku, product_name, initial_stock, start_ms, end_ms, created_ms) "
                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sku) DO NOTHING RETURNING sale_id",
                   6, params, on_sale_inserted, create);
}

/* ---- update_sale ---- */

typedef struct {
    op_t op;
    char sku[SALE_SKU_MAX + 1];
    sale_fields_t fields;
    sale_t current; /* as Redis had it, to restore PostgreSQL if Redis refuses the update */
    sale_t updated;
} update_op_t;

static const char update_sql[] = "UPDATE sales SET product_name = $2, initial_stock = $3, start_ms = $4, "
                                 "end_ms = $5 WHERE sale_id = $1";

static void query_update(pg_async_t *pg, const sale_t *sale, pg_async_cb cb, void *ctx)
{
    char sale_id[INT64_TEXT_MAX], initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX];
    format_int64(sale_id, (int64_t)sale->sale_id);
    format_int64(initial_stock, sale->initial_stock);
    format_int64(start, sale->start_ms);
    format_int64(end, sale->end_ms);
    const char *params[] = {sale_id, sale->product_name, initial_stock, start, end};
    pg_async_query(pg, update_sql, 5, params, cb, ctx);
}

static void on_update_restored(void *data, const PGresult *result)
{
    (void)data;
    if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK)
        fprintf(stderr,
                "postgres: restoring a sale after a refused update failed; it differs from Redis until "
                "the next update\n");
}

static void on_update_applied(void *data, redisReply *reply)
{
    update_op_t *update = data;
    int64_t code;
    if (reply_is_error(reply) || redis_reply_int64(reply, &code) != 0) {
        /* Unknown whether Redis applied it; PostgreSQL has it, and a retry converges both. */
        answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (code == REDIS_UPDATE_OK) {
        admin_changed(update->op.loop);
        engine_result_t result = {.status = ENGINE_OK, .sale = &update->updated};
        answer(&update->op, &result);
        return;
    }
    /* The sale started (or went) since it was read: PostgreSQL gets its old fields back. */
    query_update(update->op.loop->pg, &update->current, on_update_restored, NULL);
    answer_status(&update->op, code == REDIS_UPDATE_STARTED ? ENGINE_NOT_MODIFIABLE : ENGINE_NOT_FOUND);
}

static void on_update_stored(void *data, const PGresult *result)
{
    update_op_t *update = data;
    if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK) {
        log_pg_error("update sale", result);
        answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (strcmp(PQcmdTuples((PGresult *)result), "0") == 0) {
        answer_status(&update->op, ENGINE_NOT_FOUND);
        return;
    }
    const sale_t *sale = &update->updated;
    char sale_id[INT64_TEXT_MAX], initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX];
    format_int64(sale_id, (int64_t)sale->sale_id);
    format_int64(initial_stock, sale->initial_stock);
    format_int64(start, sale->start_ms);
    format_int64(end, sale->end_ms);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sale->sku);
    const char *argv[] = {keys.sale, keys.buyers, sale_id, sale->product_name, initial_stock, start, end};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    redis_client_script(update->op.loop->redis, &redis_sale_update_script, 2, 7, argv, lens,
                        on_update_applied, update);
}

static void on_update_read(void *data, redisReply *reply)
{
    update_op_t *update = data;
    int64_t now_ms;
    if (reply_is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        redis_reply_int64(reply->element[0], &now_ms) != 0) {
        answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->elements != 1 + REDIS_SALE_FIELD_COUNT ||
        redis_sale_decode(reply->element + 1, &update->current) != 0) {
        answer_status(&update->op, ENGINE_NOT_FOUND);
        return;
    }
    memcpy(update->current.sku, update->sku, sizeof(update->sku));
    /* Redis' clock decides, as it does for purchases. */
    if (sale_state(&update->current, now_ms) != SALE_STATE_UPCOMING) {
        answer_status(&update->op, ENGINE_NOT_MODIFIABLE);
        return;
    }
    const char *message;
    const char *field = sale_validate_update(&update->current, &update->fields, &message);
    if (field != NULL) {
        engine_result_t result = {
            .status = ENGINE_INVALID, .invalid_field = field, .invalid_message = message};
        answer(&update->op, &result);
        return;
    }
    update->updated = update->current;
    sale_apply_update(&update->updated, &update->fields);
    query_update(update->op.loop->pg, &update->updated, on_update_stored, update);
}

static void distributed_update_sale(engine_loop_t *handle, const char *sku, const sale_fields_t *fields,
                                    engine_cb cb, void *ctx)
{
    update_op_t *update = op_start(handle, sizeof(*update), cb, ctx);
    if (update == NULL)
        return;
    update->fields = *fields;
    snprintf(update->sku, sizeof(update->sku), "%s", sku);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *argv[] = {keys.sale};
    const size_t lens[] = {keys.sale_len};
    redis_client_script(update->op.loop->redis, &redis_sale_read_script, 1, 1, argv, lens, on_update_read,
                        update);
}

/* ---- delete_sale ---- */

typedef struct {
    op_t op;
    char sku[SALE_SKU_MAX + 1];
    bool applied; /* the delete script ran; its reply precedes the set's */
} delete_op_t;

static void ignore_reply(void *data, redisReply *reply)
{
    (void)data;
    (void)reply;
}

/* After SREM: a sale created again meanwhile has its hash, and gets its sku back (outbox.h). */
static void on_delete_rechecked(void *data, redisReply *reply)
{
    delete_op_t *delete = data;
    if (!delete->applied || reply_is_error(reply)) {
        ask_reconcile(delete->op.loop);
        answer_status(&delete->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        const char *sadd[] = {"SADD", OUTBOX_SALES_SET, delete->sku};
        redis_client_command(delete->op.loop->redis, 3, sadd, NULL, ignore_reply, NULL);
    }
    admin_changed(delete->op.loop);
    answer_status(&delete->op, ENGINE_OK);
}

static void on_delete_applied(void *data, redisReply *reply)
{
    delete_op_t *delete = data;
    delete->applied = !reply_is_error(reply) && reply->type == REDIS_REPLY_INTEGER;
}

static void on_sale_deleted(void *data, const PGresult *result)
{
    delete_op_t *delete = data;
    if (!pg_rows(result)) {
        log_pg_error("delete sale", result);
        answer_status(&delete->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        answer_status(&delete->op, ENGINE_NOT_FOUND);
        return;
    }
    const char *sale_id = PQgetvalue(result, 0, 0);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, delete->sku);
    const char *argv[] = {keys.sale, keys.buyers, keys.orders, sale_id};
    const size_t lens[] = {keys.sale_len, keys.buyers_len, keys.orders_len, strlen(sale_id)};
    redis_client_script(delete->op.loop->redis, &redis_sale_delete_script, 3, 4, argv, lens,
                        on_delete_applied, delete);
    const char *srem[] = {"SREM", OUTBOX_SALES_SET, delete->sku};
    const char *exists[] = {"EXISTS", keys.sale};
    redis_client_command(delete->op.loop->redis, 3, srem, NULL, ignore_reply, NULL);
    redis_client_command(delete->op.loop->redis, 2, exists, NULL, on_delete_rechecked, delete);
}

static void distributed_delete_sale(engine_loop_t *handle, const char *sku, engine_cb cb, void *ctx)
{
    delete_op_t *delete = op_start(handle, sizeof(*delete), cb, ctx);
    if (delete == NULL)
        return;
    snprintf(delete->sku, sizeof(delete->sku), "%s", sku);
    const char *params[] = {sku};
    /* One statement, so one transaction; the worker skips orders whose sale_id is gone. */
    pg_async_query(delete->op.loop->pg,
                   "WITH deleted AS (DELETE FROM sales WHERE sku = $1 RETURNING sale_id), "
                   "purged AS (DELETE FROM purchases WHERE sale_id IN (SELECT sale_id FROM deleted)) "
                   "SELECT sale_id FROM deleted",
                   1, params, on_sale_deleted, delete);
}

/* ---- list_purchases: PostgreSQL merged with the stream ---- */

typedef struct {
    int64_t sequence;
    sale_purchase_t purchase;
} listed_t;

typedef struct {
    op_t op;
    char sku[SALE_SKU_MAX + 1];
    /* The cursor is the purchase number of the last order listed, as in the embedded engine. */
    char after_text[SALE_PURCHASE_NO_MAX];
    int64_t after;
    size_t limit;
    char sale_id[INT64_TEXT_MAX];
    int64_t last_sequence; /* the highest sequence decided when the stream was read */
    /* Three arrays of `limit` entries, allocated after this struct. */
    listed_t *streamed;
    size_t streamed_count;
    listed_t *persisted;
    size_t persisted_count;
    sale_purchase_t *page;
} list_op_t;

static void answer_invalid_cursor(engine_cb cb, void *ctx)
{
    engine_result_t result = {.status = ENGINE_INVALID,
                              .invalid_field = "after",
                              .invalid_message = "is not a cursor of this sale"};
    cb(ctx, &result);
}

static int take_listed(listed_t *listed, const char *sku, const char *sequence, const char *number,
                       const char *user_id, const char *ms)
{
    redisReply sequence_reply = {
        .type = REDIS_REPLY_STRING, .str = (char *)sequence, .len = strlen(sequence)};
    if (redis_reply_int64(&sequence_reply, &listed->sequence) != 0 || strlen(user_id) > SALE_USER_ID_MAX)
        return -1;
    snprintf(listed->purchase.sku, sizeof(listed->purchase.sku), "%s", sku);
    snprintf(listed->purchase.user_id, sizeof(listed->purchase.user_id), "%s", user_id);
    return set_purchase(&listed->purchase, number, strlen(number), ms, strlen(ms));
}

/*
 * Every order up to last_sequence is in the stream or already in PostgreSQL: the stream was read
 * first (on_streamed_page), and the worker deletes an order from it only once PostgreSQL
 * committed it, so an order gone from the stream by then is in PostgreSQL now (the other way
 * round, one committed and deleted between the two reads would be in neither). Each source gave
 * its first `limit` after the cursor, so the first `limit` of their union, both sorted by
 * sequence, are exactly the page.
 */
static void on_persisted_page(void *data, const PGresult *result)
{
    list_op_t *list = data;
    if (!pg_rows(result)) {
        log_pg_error("list purchases", result);
        answer_status(&list->op, ENGINE_UNAVAILABLE);
        return;
    }
    for (int row = 0; row < PQntuples(result) && list->persisted_count < list->limit; row++)
        if (take_listed(&list->persisted[list->persisted_count], list->sku, PQgetvalue(result, row, 0),
                        PQgetvalue(result, row, 1), PQgetvalue(result, row, 2),
                        PQgetvalue(result, row, 3)) == 0)
            list->persisted_count++;
    size_t streamed = 0, persisted = 0, count = 0;
    int64_t last_listed = 0;
    while (count < list->limit && (streamed < list->streamed_count || persisted < list->persisted_count)) {
        const listed_t *next;
        if (persisted == list->persisted_count ||
            (streamed < list->streamed_count &&
             list->streamed[streamed].sequence <= list->persisted[persisted].sequence)) {
            next = &list->streamed[streamed++];
            if (persisted < list->persisted_count && list->persisted[persisted].sequence == next->sequence)
                persisted++;
        } else {
            next = &list->persisted[persisted++];
        }
        list->page[count++] = next->purchase;
        last_listed = next->sequence;
    }
    engine_result_t page = {.status = ENGINE_OK, .purchases = list->page, .purchase_count = count};
    if (count == list->limit && last_listed < list->last_sequence)
        page.next_cursor = list->page[count - 1].purchase_no;
    answer(&list->op, &page);
}

static void on_streamed_page(void *data, redisReply *reply)
{
    list_op_t *list = data;
    if (reply_is_error(reply)) {
        answer_status(&list->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        answer_status(&list->op, ENGINE_NOT_FOUND);
        return;
    }
    if (reply->elements < 2 || (reply->elements - 2) % 4 != 0 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        redis_reply_int64(reply->element[1], &list->last_sequence) != 0) {
        answer_status(&list->op, ENGINE_UNAVAILABLE);
        return;
    }
    snprintf(list->sale_id, sizeof(list->sale_id), "%s", reply->element[0]->str);
    if (list->after_text[0] != '\0' &&
        sale_parse_purchase_no(list->after_text, strlen(list->after_text),
                               strtoull(list->sale_id, NULL, 10)) != list->after) {
        answer_invalid_cursor(list->op.cb, list->op.ctx);
        free(list);
        return;
    }
    for (size_t i = 2; i + 3 < reply->elements && list->streamed_count < list->limit; i += 4) {
        listed_t *listed = &list->streamed[list->streamed_count];
        if (take_listed(listed, list->sku, reply->element[i]->str, reply->element[i + 1]->str,
                        reply->element[i + 2]->str, reply->element[i + 3]->str) == 0)
            list->streamed_count++;
    }
    char after[INT64_TEXT_MAX], last[INT64_TEXT_MAX], limit[INT64_TEXT_MAX];
    format_int64(after, list->after);
    format_int64(last, list->last_sequence);
    format_int64(limit, (int64_t)list->limit);
    const char *params[] = {list->sale_id, after, last, limit};
    pg_async_query(list->op.loop->pg,
                   "SELECT sequence, purchase_no, user_id, purchased_ms FROM purchases "
                   "WHERE sale_id = $1 AND sequence > $2 AND sequence <= $3 ORDER BY sequence LIMIT $4",
                   4, params, on_persisted_page, list);
}

static void distributed_list_purchases(engine_loop_t *handle, const char *sku, const char *after,
                                       size_t limit, engine_cb cb, void *ctx)
{
    assert(limit >= 1 && limit <= ENGINE_PURCHASE_PAGE_MAX);
    /* The sequence is read here to ask Redis for the page; the whole cursor is checked against
     * the sale_id once Redis named it. */
    int64_t after_sequence = 0;
    if (after != NULL) {
        const char *dash = strrchr(after, '-');
        redisReply sequence = {.type = REDIS_REPLY_STRING, .str = (char *)(dash + 1)};
        if (dash == NULL || strlen(after) >= SALE_PURCHASE_NO_MAX ||
            (sequence.len = strlen(dash + 1), redis_reply_int64(&sequence, &after_sequence) != 0) ||
            after_sequence < 1) {
            answer_invalid_cursor(cb, ctx);
            return;
        }
    }
    list_op_t *list = op_start(
        handle, sizeof(*list) + 2 * limit * sizeof(listed_t) + limit * sizeof(sale_purchase_t), cb, ctx);
    if (list == NULL)
        return;
    snprintf(list->sku, sizeof(list->sku), "%s", sku);
    snprintf(list->after_text, sizeof(list->after_text), "%s", after != NULL ? after : "");
    list->after = after_sequence;
    list->limit = limit;
    list->streamed = (listed_t *)(list + 1);
    list->persisted = list->streamed + limit;
    list->page = (sale_purchase_t *)(list->persisted + limit);
    char first[INT64_TEXT_MAX], count[INT64_TEXT_MAX];
    format_int64(first, after_sequence + 1);
    format_int64(count, (int64_t)limit);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *argv[] = {keys.sale, keys.orders, first, count};
    const size_t lens[] = {keys.sale_len, keys.orders_len, strlen(first), strlen(count)};
    redis_client_script(list->op.loop->redis, &redis_sale_page_script, 2, 4, argv, lens, on_streamed_page,
                        list);
}

/* ---- health ---- */

enum { CHECK_REDIS, CHECK_POSTGRES, CHECK_OUTBOX, CHECK_COUNT };

typedef struct {
    op_t op;
    int pending; /* checks still waiting for a store; the outbox check needs none */
    int64_t started_ns;
    engine_check_t checks[CHECK_COUNT];
    char outbox_detail[CHECK_DETAIL_MAX];
} health_op_t;

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void check_done(health_op_t *health, int check, bool ok, const char *detail)
{
    health->checks[check].ok = ok;
    health->checks[check].latency_ms = ok ? (double)(monotonic_ns() - health->started_ns) / 1e6 : -1;
    health->checks[check].detail = detail;
    if (--health->pending > 0)
        return;
    engine_result_t result = {.status = ENGINE_OK, .checks = health->checks, .check_count = CHECK_COUNT};
    answer(&health->op, &result);
}

static void on_redis_pong(void *data, redisReply *reply)
{
    bool ok = !reply_is_error(reply) && reply->type == REDIS_REPLY_STATUS;
    check_done(data, CHECK_REDIS, ok, ok ? NULL : "unreachable");
}

static void on_postgres_answer(void *data, const PGresult *result)
{
    bool ok = pg_rows(result);
    check_done(data, CHECK_POSTGRES, ok, ok ? NULL : "unreachable");
}

/* From the latest lag sample, without I/O. */
static void check_outbox(distributed_engine_t *engine, engine_check_t *check, char *detail)
{
    worker_lag_t lag;
    int64_t sample_age_ms;
    worker_lag_sampler_latest(engine->lag_sampler, &lag, &sample_age_ms);
    check->name = "outbox";
    check->latency_ms = -1;
    check->detail = detail;
    if (sample_age_ms > LAG_SAMPLE_STALE_MS) {
        check->ok = false;
        snprintf(detail, CHECK_DETAIL_MAX, "no lag sample for %.1f s", (double)sample_age_ms / 1000);
        return;
    }
    check->ok = lag.oldest_age_ms <= LAG_OLDEST_MAX_MS;
    snprintf(detail, CHECK_DETAIL_MAX, "%lld orders waiting, oldest %.1f s", lag.length,
             (double)lag.oldest_age_ms / 1000);
}

static void distributed_health(engine_loop_t *handle, engine_cb cb, void *ctx)
{
    health_op_t *health = op_start(handle, sizeof(*health), cb, ctx);
    if (health == NULL)
        return;
    health->pending = CHECK_COUNT - 1;
    health->started_ns = monotonic_ns();
    health->checks[CHECK_REDIS].name = "redis";
    /* only Redis decides purchases; without PostgreSQL or the worker, orders wait in the streams */
    health->checks[CHECK_REDIS].required = true;
    health->checks[CHECK_POSTGRES].name = "postgres";
    check_outbox(health->op.loop->engine, &health->checks[CHECK_OUTBOX], health->outbox_detail);
    pg_async_query(health->op.loop->pg, "SELECT 1", 0, NULL, on_postgres_answer, health);
    const char *ping[] = {"PING"};
    redis_client_command(health->op.loop->redis, 1, ping, NULL, on_redis_pong, health);
}

/* ---- metrics ---- */

static void distributed_metrics(engine_loop_t *handle, engine_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    distributed_engine_t *engine = loop->engine;
    struct {
        const char *name, *help;
        uint64_t value;
    } series[] = {
        {"flashsale_redis_commands_total", "Commands sent to Redis.",
         atomic_load_explicit(&engine->redis_stats.commands, memory_order_relaxed)},
        {"flashsale_redis_errors_total", "Redis commands answered with an error or not at all.",
         atomic_load_explicit(&engine->redis_stats.errors, memory_order_relaxed)},
        {"flashsale_redis_timeouts_total", "Redis connections dropped because a reply was late.",
         atomic_load_explicit(&engine->redis_stats.timeouts, memory_order_relaxed)},
        {"flashsale_redis_reconnects_total", "Redis connections established again after a loss.",
         atomic_load_explicit(&engine->redis_stats.reconnects, memory_order_relaxed)},
        {"flashsale_redis_noscript_total", "Scripts sent again in full after NOSCRIPT.",
         atomic_load_explicit(&engine->redis_stats.noscript, memory_order_relaxed)},
        {"flashsale_postgres_queries_total", "Queries sent to PostgreSQL by the server.",
         atomic_load_explicit(&engine->pg_stats.queries, memory_order_relaxed)},
        {"flashsale_postgres_errors_total", "PostgreSQL queries that failed or got no answer.",
         atomic_load_explicit(&engine->pg_stats.errors, memory_order_relaxed)},
        {"flashsale_reconcile_passes_total", "Reconciliations of Redis with PostgreSQL since the start.",
         reconciler_passes(engine->reconciler)},
        {"flashsale_sold_out_cache_answers_total",
         "Purchases of sold-out sales answered from the loop's copy of their buyers, without Redis.",
         atomic_load_explicit(&engine->sold_out_answers, memory_order_relaxed)},
    };
    worker_lag_t lag;
    int64_t sample_age_ms;
    worker_lag_sampler_latest(engine->lag_sampler, &lag, &sample_age_ms);
    struct {
        const char *name, *help;
        double value;
    } gauges[] = {
        {"flashsale_outbox_length", "Orders in the sale streams, not yet known to be in PostgreSQL.",
         (double)lag.length},
        {"flashsale_outbox_pending", "Orders delivered to a worker and not yet acknowledged.",
         (double)lag.pending},
        {"flashsale_outbox_oldest_age_seconds", "Age of the oldest order not yet known to be in PostgreSQL.",
         (double)lag.oldest_age_ms / 1000},
        {"flashsale_outbox_dead_letters", "Orders moved to the dead-letter stream.",
         (double)lag.dead_letters},
        {"flashsale_outbox_sample_age_seconds", "Age of the sample the other flashsale_outbox gauges show.",
         (double)sample_age_ms / 1000},
    };
    size_t len = 0;
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++) {
        int written = snprintf(loop->metrics + len, sizeof(loop->metrics) - len,
                               "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", series[i].name,
                               series[i].help, series[i].name, series[i].name, series[i].value);
        assert(written > 0 && (size_t)written < sizeof(loop->metrics) - len);
        len += (size_t)written;
    }
    for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
        int written = snprintf(loop->metrics + len, sizeof(loop->metrics) - len,
                               "# HELP %s %s\n# TYPE %s gauge\n%s %.15g\n", gauges[i].name, gauges[i].help,
                               gauges[i].name, gauges[i].name, gauges[i].value);
        assert(written > 0 && (size_t)written < sizeof(loop->metrics) - len);
        len += (size_t)written;
    }
    engine_result_t result = {.status = ENGINE_OK, .text = loop->metrics, .text_len = len};
    cb(ctx, &result);
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
        loop->snapshot =
            sale_snapshot_create(h2o_loop, loop->redis, &engine->generation, ask_reconcile, loop);
        loop->sold_out = sold_out_cache_create(h2o_loop, loop->redis);
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
    return &loop->super;
}

static void distributed_detach(engine_loop_t *handle)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
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
    worker_lag_sampler_stop(engine->lag_sampler);
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
        fprintf(stderr, "warning: Redis is not configured with appendonly yes and appendfsync always; an "
                        "acknowledged purchase may be lost if Redis crashes\n");
    freeReplyObject(aof);
    freeReplyObject(fsync);
}

/* Migrates PostgreSQL and reconciles Redis once, with blocking connections, before serving. */
static int prepare_stores(const redis_address_t *address, const char *postgres_url, char *err,
                          size_t err_size)
{
    redisContext *redis = redis_address_connect(address, REDIS_TIMEOUT_MS, err, err_size);
    if (redis == NULL)
        return -1;
    int result = redis_sale_load_scripts(redis, err, err_size);
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
        result = reconcile_run(redis, pg, err, err_size);
    PQfinish(pg);
    redisFree(redis);
    return result;
}

engine_t *distributed_engine_open(const char *redis_url, const char *postgres_url, char *err, size_t err_size)
{
    redis_address_t address;
    if (redis_address_parse(redis_url, &address) != 0) {
        snprintf(err, err_size, "bad Redis URL \"%s\" (expected redis://HOST[:PORT][/DB])", redis_url);
        return NULL;
    }
    if (prepare_stores(&address, postgres_url, err, err_size) != 0)
        return NULL;
    distributed_engine_t *engine = calloc(1, sizeof(*engine));
    if (engine == NULL || (engine->postgres_url = strdup(postgres_url)) == NULL ||
        (engine->reconciler = reconciler_start(&address, postgres_url)) == NULL ||
        (engine->lag_sampler = worker_lag_sampler_start(&address)) == NULL) {
        snprintf(err, err_size, "out of memory or threads");
        if (engine != NULL && engine->reconciler != NULL)
            reconciler_stop(engine->reconciler);
        if (engine != NULL)
            free(engine->postgres_url);
        free(engine);
        return NULL;
    }
    engine->super.ops = &distributed_ops;
    engine->redis_address = address;
    return &engine->super;
}
