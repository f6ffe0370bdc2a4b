/*
 * distributed_admin: the admin writes of the distributed engine (create, update and delete a
 * sale). Each goes to PostgreSQL (the source of truth) first, then to Redis; when the Redis step
 * fails the reconciler is asked to bring Redis in line.
 *
 * Each may be repeated after an unknown outcome (engine.h). A create that finds the same sale in
 * PostgreSQL answers with it as Redis has it now (never runs the create script again: that would
 * reset a sale that sold, or one Redis lost and the reconciler has yet to rebuild). An update
 * that changes nothing answers the sale in any state. An update refused because the sale started
 * writes Redis' fields back to PostgreSQL: once a sale started, Redis' fields can no longer
 * change, so this converges the two after an earlier update whose Redis step went unanswered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "distributed/engine_distributed_internal.h"
#include "distributed/outbox.h"
#include "distributed/redis/redis_sale.h"

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

static void ignore_reply(void *data, redisReply *reply)
{
    (void)data;
    (void)reply;
}

/* Tells the subscription of every instance (sale_changes.h) that the sale changed; its live events
 * follow from there. Not awaited: the write is applied whether or not anyone listens. */
static void publish_change(distributed_loop_t *loop, const char *sku)
{
    const char *argv[] = {"PUBLISH", OUTBOX_CHANGES_CHANNEL, sku};
    redis_client_command(loop->redis, 3, argv, NULL, ignore_reply, NULL);
}

/* ---- create_sale ---- */

typedef struct {
    op_t op;
    sale_t sale;
    sale_fields_t fields;
    int inserts; /* attempts at the INSERT; see on_existing_read */
    bool loaded; /* the create script's reply, which precedes SADD's */
} create_op_t;

static void insert_sale(create_op_t *create);

static void on_create_added(void *data, redisReply *reply)
{
    create_op_t *create = data;
    if (!create->loaded || distributed_reply_is_error(reply)) {
        /* PostgreSQL has the sale; the reconciler loads it into Redis. */
        distributed_ask_reconcile(create->op.loop);
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    admin_changed(create->op.loop);
    publish_change(create->op.loop, create->sale.sku);
    engine_result_t result = {.status = ENGINE_OK, .sale = &create->sale};
    distributed_answer(&create->op, &result);
}

static void on_create_loaded(void *data, redisReply *reply)
{
    create_op_t *create = data;
    create->loaded = !distributed_reply_is_error(reply) && reply->type == REDIS_REPLY_INTEGER;
}

/* The sale of a repeated create as Redis has it (loaded = the read script's answer was it). */
static void on_repeat_added(void *data, redisReply *reply)
{
    create_op_t *create = data;
    if (!create->loaded || distributed_reply_is_error(reply)) {
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK, .sale = &create->sale};
    distributed_answer(&create->op, &result);
}

static void on_repeat_read(void *data, redisReply *reply)
{
    create_op_t *create = data;
    uint64_t sale_id = create->sale.sale_id;
    create->loaded = !distributed_reply_is_error(reply) && reply->type == REDIS_REPLY_ARRAY &&
                     reply->elements == 1 + REDIS_SALE_FIELD_COUNT &&
                     redis_sale_decode(reply->element + 1, &create->sale) == 0 &&
                     create->sale.sale_id == sale_id;
    /* Absent, or an older sale of the sku: PostgreSQL's sale is not in Redis yet (the first
     * attempt's Redis step failed, or Redis lost it), which is the reconciler's to fix. */
    if (!create->loaded && !distributed_reply_is_error(reply))
        distributed_ask_reconcile(create->op.loop);
}

/* The same create again: answered from Redis, which the sale must be in; see the header. */
static void answer_repeat(create_op_t *create)
{
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, create->sale.sku);
    const char *argv[] = {keys.sale};
    const size_t lens[] = {keys.sale_len};
    redis_client_script(create->op.loop->redis, &redis_sale_read_script, 1, 1, argv, lens, on_repeat_read,
                        create);
    /* In case the first attempt's SADD went unanswered; harmless after the hash (outbox.h). */
    const char *sadd[] = {"SADD", OUTBOX_SALES_SET, create->sale.sku};
    redis_client_command(create->op.loop->redis, 3, sadd, NULL, on_repeat_added, create);
}

static void on_existing_read(void *data, const PGresult *result)
{
    create_op_t *create = data;
    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("read existing sale", result);
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        /* Deleted since the INSERT found it: insert again, once. */
        if (create->inserts < 2)
            insert_sale(create);
        else
            distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    sale_t existing = create->sale;
    existing.sale_id = strtoull(PQgetvalue(result, 0, 0), NULL, 10);
    snprintf(existing.product_name, sizeof(existing.product_name), "%s", PQgetvalue(result, 0, 1));
    existing.initial_stock = strtoll(PQgetvalue(result, 0, 2), NULL, 10);
    existing.start_ms = strtoll(PQgetvalue(result, 0, 3), NULL, 10);
    existing.end_ms = strtoll(PQgetvalue(result, 0, 4), NULL, 10);
    if (!sale_matches_create(&existing, &create->fields)) {
        distributed_answer_status(&create->op, ENGINE_CONFLICT);
        return;
    }
    create->sale.sale_id = existing.sale_id;
    answer_repeat(create);
}

static void on_sale_inserted(void *data, const PGresult *result)
{
    create_op_t *create = data;
    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("create sale", result);
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        /* The sku holds a sale: the same one (a repeat) or another (a conflict). A statement of
         * its own, so that it sees a sale committed by a concurrent insert it waited for. */
        const char *params[] = {create->sale.sku};
        pg_async_query(
            create->op.loop->pg,
            "SELECT sale_id, product_name, initial_stock, start_ms, end_ms FROM sales WHERE sku = $1", 1,
            params, on_existing_read, create);
        return;
    }
    sale_t *sale = &create->sale;
    sale->sale_id = strtoull(PQgetvalue(result, 0, 0), NULL, 10);
    char sale_id[INT64_TEXT_MAX], initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX],
        created[INT64_TEXT_MAX];
    distributed_format_int64(sale_id, (int64_t)sale->sale_id);
    distributed_format_int64(initial_stock, sale->initial_stock);
    distributed_format_int64(start, sale->start_ms);
    distributed_format_int64(end, sale->end_ms);
    distributed_format_int64(created, sale->created_ms);
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

static void insert_sale(create_op_t *create)
{
    const sale_t *sale = &create->sale;
    char initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX], created[INT64_TEXT_MAX];
    distributed_format_int64(initial_stock, sale->initial_stock);
    distributed_format_int64(start, sale->start_ms);
    distributed_format_int64(end, sale->end_ms);
    distributed_format_int64(created, sale->created_ms);
    const char *params[] = {sale->sku, sale->product_name, initial_stock, start, end, created};
    create->inserts++;
    pg_async_query(create->op.loop->pg,
                   "INSERT INTO sales (sku, product_name, initial_stock, start_ms, end_ms, created_ms) "
                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sku) DO NOTHING RETURNING sale_id",
                   6, params, on_sale_inserted, create);
}

void distributed_create_sale(engine_loop_t *handle, const sale_fields_t *fields, engine_cb cb, void *ctx)
{
    create_op_t *create = distributed_op_start(handle, sizeof(*create), cb, ctx);
    if (create == NULL)
        return;
    create->fields = *fields;
    sale_t *sale = &create->sale;
    snprintf(sale->sku, sizeof(sale->sku), "%s", fields->sku);
    snprintf(sale->product_name, sizeof(sale->product_name), "%s", fields->product_name);
    sale->initial_stock = sale->stock = fields->initial_stock;
    sale->start_ms = fields->start_ms;
    sale->end_ms = fields->end_ms;
    sale->created_ms = clock_now_ms();
    insert_sale(create);
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
    distributed_format_int64(sale_id, (int64_t)sale->sale_id);
    distributed_format_int64(initial_stock, sale->initial_stock);
    distributed_format_int64(start, sale->start_ms);
    distributed_format_int64(end, sale->end_ms);
    const char *params[] = {sale_id, sale->product_name, initial_stock, start, end};
    pg_async_query(pg, update_sql, 5, params, cb, ctx);
}

static void on_update_restored(void *data, const PGresult *result)
{
    (void)data;
    if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK)
        log_error("postgres",
                  "restoring a sale after a refused update failed; it may differ from Redis until "
                  "the next update of it");
}

static void on_update_applied(void *data, redisReply *reply)
{
    update_op_t *update = data;
    int64_t code;
    if (distributed_reply_is_error(reply) || redis_reply_int64(reply, &code) != 0) {
        /* Unknown whether Redis applied it; PostgreSQL has it, and a retry converges both. */
        distributed_answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (code == REDIS_UPDATE_OK) {
        admin_changed(update->op.loop);
        publish_change(update->op.loop, update->sku);
        engine_result_t result = {.status = ENGINE_OK, .sale = &update->updated};
        distributed_answer(&update->op, &result);
        return;
    }
    /* The sale started (or went) since it was read: PostgreSQL gets its old fields back. */
    query_update(update->op.loop->pg, &update->current, on_update_restored, NULL);
    distributed_answer_status(&update->op,
                              code == REDIS_UPDATE_STARTED ? ENGINE_NOT_MODIFIABLE : ENGINE_NOT_FOUND);
}

static void on_update_stored(void *data, const PGresult *result)
{
    update_op_t *update = data;
    if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK) {
        distributed_log_pg_error("update sale", result);
        distributed_answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (strcmp(PQcmdTuples((PGresult *)result), "0") == 0) {
        distributed_answer_status(&update->op, ENGINE_NOT_FOUND);
        return;
    }
    const sale_t *sale = &update->updated;
    char sale_id[INT64_TEXT_MAX], initial_stock[INT64_TEXT_MAX], start[INT64_TEXT_MAX], end[INT64_TEXT_MAX];
    distributed_format_int64(sale_id, (int64_t)sale->sale_id);
    distributed_format_int64(initial_stock, sale->initial_stock);
    distributed_format_int64(start, sale->start_ms);
    distributed_format_int64(end, sale->end_ms);
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
    if (distributed_reply_is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        redis_reply_int64(reply->element[0], &now_ms) != 0) {
        distributed_answer_status(&update->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->elements != 1 + REDIS_SALE_FIELD_COUNT ||
        redis_sale_decode(reply->element + 1, &update->current) != 0) {
        distributed_answer_status(&update->op, ENGINE_NOT_FOUND);
        return;
    }
    memcpy(update->current.sku, update->sku, sizeof(update->sku));
    if (!sale_update_changes(&update->current, &update->fields)) {
        engine_result_t result = {.status = ENGINE_OK, .sale = &update->current};
        distributed_answer(&update->op, &result);
        return;
    }
    /* Redis' clock decides, as it does for purchases. */
    if (sale_state(&update->current, now_ms) != SALE_STATE_UPCOMING) {
        query_update(update->op.loop->pg, &update->current, on_update_restored, NULL);
        distributed_answer_status(&update->op, ENGINE_NOT_MODIFIABLE);
        return;
    }
    const char *message;
    const char *field = sale_validate_update(&update->current, &update->fields, &message);
    if (field != NULL) {
        engine_result_t result = {
            .status = ENGINE_INVALID, .invalid_field = field, .invalid_message = message};
        distributed_answer(&update->op, &result);
        return;
    }
    update->updated = update->current;
    sale_apply_update(&update->updated, &update->fields);
    query_update(update->op.loop->pg, &update->updated, on_update_stored, update);
}

void distributed_update_sale(engine_loop_t *handle, const char *sku, const sale_fields_t *fields,
                             engine_cb cb, void *ctx)
{
    update_op_t *update = distributed_op_start(handle, sizeof(*update), cb, ctx);
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

/* After SREM: a sale created again meanwhile has its hash, and gets its sku back (outbox.h). */
static void on_delete_rechecked(void *data, redisReply *reply)
{
    delete_op_t *delete = data;
    if (!delete->applied || distributed_reply_is_error(reply)) {
        distributed_ask_reconcile(delete->op.loop);
        distributed_answer_status(&delete->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        const char *sadd[] = {"SADD", OUTBOX_SALES_SET, delete->sku};
        redis_client_command(delete->op.loop->redis, 3, sadd, NULL, ignore_reply, NULL);
    }
    admin_changed(delete->op.loop);
    publish_change(delete->op.loop, delete->sku);
    distributed_answer_status(&delete->op, ENGINE_OK);
}

static void on_delete_applied(void *data, redisReply *reply)
{
    delete_op_t *delete = data;
    delete->applied = !distributed_reply_is_error(reply) && reply->type == REDIS_REPLY_INTEGER;
}

static void on_sale_deleted(void *data, const PGresult *result)
{
    delete_op_t *delete = data;
    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("delete sale", result);
        distributed_answer_status(&delete->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        distributed_answer_status(&delete->op, ENGINE_NOT_FOUND);
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

void distributed_delete_sale(engine_loop_t *handle, const char *sku, uint64_t sale_id, engine_cb cb,
                             void *ctx)
{
    delete_op_t *delete = distributed_op_start(handle, sizeof(*delete), cb, ctx);
    if (delete == NULL)
        return;
    snprintf(delete->sku, sizeof(delete->sku), "%s", sku);
    char id[INT64_TEXT_MAX];
    distributed_format_int64(id, (int64_t)sale_id);
    const char *params[] = {sku, id};
    /* The function deletes the sale (that one, unless sale_id is 0), then its purchases in a later
     * statement, so that none the worker commits meanwhile survives (pg_schema.c, migrations 2
     * and 3); the worker skips orders whose sale_id is gone. No row when there was no such sale. */
    pg_async_query(delete->op.loop->pg,
                   "SELECT sale_id FROM flashsale_delete_sale($1, $2) AS sale_id WHERE sale_id IS NOT NULL",
                   2, params, on_sale_deleted, delete);
}
