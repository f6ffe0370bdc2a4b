/*
 * distributed_reads: the reads of the distributed engine: a purchase by buyer, the sales (from the
 * loop's snapshot), the admin listing of purchases (PostgreSQL merged with the stream), /health
 * and /metrics.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "distributed/engine_distributed_internal.h"
#include "distributed/postgres/data_loss.h"
#include "distributed/redis/redis_sale.h"

/* /health's outbox check fails when the lag sample is older than this (Redis not answering) ... */
#define LAG_SAMPLE_STALE_MS 5000
/* ... or when an order has waited this long for PostgreSQL (no worker, or PostgreSQL down). */
#define LAG_OLDEST_MAX_MS 60000
#define CHECK_DETAIL_MAX  128

/* ---- get_purchase ---- */

static void on_buyer(void *data, redisReply *reply)
{
    purchase_op_t *purchase = data;
    if (distributed_reply_is_error(reply)) {
        distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        distributed_answer_status(&purchase->op, ENGINE_NOT_FOUND);
        return;
    }
    if (redis_sale_decode_buyer(reply, &purchase->purchase) != 0) {
        distributed_answer_status(&purchase->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t result = {.status = ENGINE_OK, .purchase = &purchase->purchase};
    distributed_answer(&purchase->op, &result);
}

void distributed_get_purchase(engine_loop_t *handle, const char *sku, const char *user_id, engine_cb cb,
                              void *ctx)
{
    purchase_op_t *purchase = distributed_purchase_start(handle, sku, user_id, cb, ctx);
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
        distributed_answer_status(&sale->op, ENGINE_UNAVAILABLE);
        return;
    }
    answer_sale(sale->op.cb, sale->op.ctx, sale->sku, sales, count);
    free(sale);
}

void distributed_get_sale(engine_loop_t *handle, const char *sku, engine_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    const sale_t *sales;
    size_t count;
    /* The hot path of a polling storm: no allocation, no Redis. */
    if (sale_snapshot_fresh(loop->snapshot, &sales, &count)) {
        answer_sale(cb, ctx, sku, sales, count);
        return;
    }
    sale_op_t *sale = distributed_op_start(handle, sizeof(*sale), cb, ctx);
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
    distributed_answer(op, &result);
}

void distributed_list_sales(engine_loop_t *handle, engine_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    const sale_t *sales;
    size_t count;
    if (sale_snapshot_fresh(loop->snapshot, &sales, &count)) {
        engine_result_t result = {.status = ENGINE_OK, .sales = sales, .sale_count = count};
        cb(ctx, &result);
        return;
    }
    op_t *op = distributed_op_start(handle, sizeof(*op), cb, ctx);
    if (op != NULL)
        sale_snapshot_read(loop->snapshot, on_snapshot_for_list, op);
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
    if (redis_parse_int64(sequence, strlen(sequence), &listed->sequence) != 0 ||
        strlen(user_id) > SALE_USER_ID_MAX)
        return -1;
    snprintf(listed->purchase.sku, sizeof(listed->purchase.sku), "%s", sku);
    snprintf(listed->purchase.user_id, sizeof(listed->purchase.user_id), "%s", user_id);
    return redis_sale_set_purchase(&listed->purchase, number, strlen(number), ms, strlen(ms));
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
    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("list purchases", result);
        distributed_answer_status(&list->op, ENGINE_UNAVAILABLE);
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
    distributed_answer(&list->op, &page);
}

static void on_streamed_page(void *data, redisReply *reply)
{
    list_op_t *list = data;
    if (distributed_reply_is_error(reply)) {
        distributed_answer_status(&list->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        distributed_answer_status(&list->op, ENGINE_NOT_FOUND);
        return;
    }
    if (reply->elements < 2 || (reply->elements - 2) % 4 != 0 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        redis_reply_int64(reply->element[1], &list->last_sequence) != 0) {
        distributed_answer_status(&list->op, ENGINE_UNAVAILABLE);
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
    distributed_format_int64(after, list->after);
    distributed_format_int64(last, list->last_sequence);
    distributed_format_int64(limit, (int64_t)list->limit);
    const char *params[] = {list->sale_id, after, last, limit};
    pg_async_query(list->op.loop->pg,
                   "SELECT sequence, purchase_no, user_id, purchased_ms FROM purchases "
                   "WHERE sale_id = $1 AND sequence > $2 AND sequence <= $3 ORDER BY sequence LIMIT $4",
                   4, params, on_persisted_page, list);
}

void distributed_list_purchases(engine_loop_t *handle, const char *sku, const char *after, size_t limit,
                                engine_cb cb, void *ctx)
{
    assert(limit >= 1 && limit <= ENGINE_PURCHASE_PAGE_MAX);
    /* The sequence is read here to ask Redis for the page; the whole cursor is checked against
     * the sale_id once Redis named it. */
    int64_t after_sequence = 0;
    if (after != NULL) {
        const char *dash = strrchr(after, '-');
        if (dash == NULL || strlen(after) >= SALE_PURCHASE_NO_MAX ||
            redis_parse_int64(dash + 1, strlen(dash + 1), &after_sequence) != 0 || after_sequence < 1) {
            answer_invalid_cursor(cb, ctx);
            return;
        }
    }
    list_op_t *list = distributed_op_start(
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
    distributed_format_int64(first, after_sequence + 1);
    distributed_format_int64(count, (int64_t)limit);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *argv[] = {keys.sale, keys.orders, first, count};
    const size_t lens[] = {keys.sale_len, keys.orders_len, strlen(first), strlen(count)};
    redis_client_script(list->op.loop->redis, &redis_sale_page_script, 2, 4, argv, lens, on_streamed_page,
                        list);
}

/* ---- health ---- */

enum { CHECK_REDIS, CHECK_POSTGRES, CHECK_OUTBOX, CHECK_REDIS_DATA, CHECK_COUNT };

typedef struct {
    op_t op;
    int pending; /* checks still waiting for a store; the outbox check needs none, the Redis data
                    check comes with PostgreSQL's */
    uint64_t started_ns;
    engine_check_t checks[CHECK_COUNT];
    char outbox_detail[CHECK_DETAIL_MAX];
    char redis_data_detail[CHECK_DETAIL_MAX];
} health_op_t;

static void check_done(health_op_t *health, int check, bool ok, const char *detail)
{
    health->checks[check].ok = ok;
    health->checks[check].latency_ms = ok ? (double)(clock_monotonic_ns() - health->started_ns) / 1e6 : -1;
    health->checks[check].detail = detail;
    if (--health->pending > 0)
        return;
    engine_result_t result = {.status = ENGINE_OK, .checks = health->checks, .check_count = CHECK_COUNT};
    distributed_answer(&health->op, &result);
}

static void on_redis_pong(void *data, redisReply *reply)
{
    bool ok = !distributed_reply_is_error(reply) && reply->type == REDIS_REPLY_STATUS;
    check_done(data, CHECK_REDIS, ok, ok ? NULL : "unreachable");
}

/*
 * PostgreSQL answers for itself and for the Redis data check: a loss of Redis data stays
 * reported, on every instance, until an operator acknowledges it (data_loss.h).
 */
static void on_postgres_answer(void *data, const PGresult *result)
{
    health_op_t *health = data;
    bool ok = distributed_pg_rows(result) && PQntuples(result) == 1;
    engine_check_t *redis_data = &health->checks[CHECK_REDIS_DATA];
    long long losses = ok ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    redis_data->ok = ok && losses == 0;
    redis_data->latency_ms = -1;
    redis_data->detail = health->redis_data_detail;
    if (!ok) {
        snprintf(health->redis_data_detail, CHECK_DETAIL_MAX, "unknown: postgres unreachable");
    } else if (losses > 0) {
        char since[CLOCK_ISO_LEN];
        clock_format_iso(since, strtoll(PQgetvalue(result, 0, 1), NULL, 10));
        snprintf(health->redis_data_detail, CHECK_DETAIL_MAX,
                 "%lld unacknowledged loss%s since %s; see flashsale data-loss", losses,
                 losses == 1 ? "" : "es", since);
    } else {
        snprintf(health->redis_data_detail, CHECK_DETAIL_MAX, "no unacknowledged loss");
    }
    check_done(health, CHECK_POSTGRES, ok, ok ? NULL : "unreachable");
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

void distributed_health(engine_loop_t *handle, engine_cb cb, void *ctx)
{
    health_op_t *health = distributed_op_start(handle, sizeof(*health), cb, ctx);
    if (health == NULL)
        return;
    health->pending = 2; /* Redis and PostgreSQL */
    health->started_ns = clock_monotonic_ns();
    health->checks[CHECK_REDIS].name = "redis";
    /* only Redis decides purchases; without PostgreSQL or the worker, orders wait in the streams */
    health->checks[CHECK_REDIS].required = true;
    health->checks[CHECK_POSTGRES].name = "postgres";
    health->checks[CHECK_REDIS_DATA].name = "redis_data";
    check_outbox(health->op.loop->engine, &health->checks[CHECK_OUTBOX], health->outbox_detail);
    pg_async_query(health->op.loop->pg, DATA_LOSS_HEALTH_SQL, 0, NULL, on_postgres_answer, health);
    const char *ping[] = {"PING"};
    redis_client_command(health->op.loop->redis, 1, ping, NULL, on_redis_pong, health);
}

/* ---- metrics ---- */

void distributed_metrics(engine_loop_t *handle, engine_cb cb, void *ctx)
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
        {"flashsale_redis_noscript_total",
         "NOSCRIPT replies: the script cache was emptied under a connection, which was then dropped.",
         atomic_load_explicit(&engine->redis_stats.noscript, memory_order_relaxed)},
        {"flashsale_postgres_queries_total", "Queries sent to PostgreSQL by the server.",
         atomic_load_explicit(&engine->pg_stats.queries, memory_order_relaxed)},
        {"flashsale_postgres_errors_total", "PostgreSQL queries that failed or got no answer.",
         atomic_load_explicit(&engine->pg_stats.errors, memory_order_relaxed)},
        {"flashsale_reconcile_passes_total", "Reconciliations of Redis with PostgreSQL since the start.",
         reconciler_passes(engine->reconciler)},
        {"flashsale_redis_data_losses_total",
         "Redis data losses this instance's reconciler found and recorded (each also logged at error level).",
         engine->opening_losses + reconciler_losses(engine->reconciler)},
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
