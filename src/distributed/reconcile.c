#include "distributed/reconcile.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "distributed/outbox.h"
#include "distributed/postgres/data_loss.h"
#include "distributed/redis/redis_sale.h"

#define REDIS_TIMEOUT_MS 5000
/* Buyers per HSET while staging, so that no single command grows with the sale. */
#define STAGING_BATCH 500
/* A staging hash left by a reconciler that died is dropped by Redis after this. */
#define STAGING_TTL_SECONDS "600"
#define RETRY_DELAY_SECONDS 1

/* Runs one command; returns the reply (caller frees), or NULL with err set on failure or error. */
static redisReply *command(redisContext *redis, char *err, size_t err_size, int argc, const char **argv)
{
    redisReply *reply = redisCommandArgv(redis, argc, argv, NULL);
    if (reply == NULL) {
        snprintf(err, err_size, "redis %s: %s", argv[0], redis->errstr);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, err_size, "redis %s: %s", argv[0], reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* EVAL rather than EVALSHA: reconciling is rare, and then NOSCRIPT cannot happen. */
static redisReply *script(redisContext *redis, char *err, size_t err_size, const redis_script_t *lua,
                          int key_count, int argc, const char **argv)
{
    const char *full[16];
    assert(argc + 3 <= (int)(sizeof(full) / sizeof(full[0])));
    char numkeys[12];
    snprintf(numkeys, sizeof(numkeys), "%d", key_count);
    full[0] = "EVAL";
    full[1] = lua->body;
    full[2] = numkeys;
    memcpy(full + 3, argv, argc * sizeof(*argv));
    return command(redis, err, err_size, argc + 3, full);
}

static PGresult *query(PGconn *pg, char *err, size_t err_size, const char *sql, int param_count,
                       const char *const *params)
{
    PGresult *result = PQexecParams(pg, sql, param_count, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "postgres: %s", PQerrorMessage(pg));
        PQclear(result);
        return NULL;
    }
    return result;
}

/*
 * Adds PostgreSQL's buyers of a sale to the staging hash, pipelined in batches. A buyer already
 * staged from the stream is the same order (one per user, same purchase number), so HSET dedupes.
 */
static int stage_buyers(redisContext *redis, const char *staging, PGresult *buyers, char *err,
                        size_t err_size)
{
    const char *expire[] = {"EXPIRE", staging, STAGING_TTL_SECONDS};
    int rows = PQntuples(buyers);
    int appended = 0;
    for (int row = 0; row < rows; row += STAGING_BATCH) {
        int end = row + STAGING_BATCH < rows ? row + STAGING_BATCH : rows;
        const char *argv[2 + 2 * STAGING_BATCH];
        char values[STAGING_BATCH][SALE_PURCHASE_NO_MAX + 24];
        argv[0] = "HSET";
        argv[1] = staging;
        int argc = 2;
        for (int i = row; i < end; i++) {
            snprintf(values[i - row], sizeof(values[0]), "%s|%s", PQgetvalue(buyers, i, 1),
                     PQgetvalue(buyers, i, 2));
            argv[argc++] = PQgetvalue(buyers, i, 0);
            argv[argc++] = values[i - row];
        }
        redisAppendCommandArgv(redis, argc, argv, NULL);
        appended++;
    }
    redisAppendCommandArgv(redis, 3, expire, NULL);
    appended++;
    int result = 0;
    for (int i = 0; i < appended; i++) {
        redisReply *reply;
        if (redisGetReply(redis, (void **)&reply) != REDIS_OK) {
            snprintf(err, err_size, "redis HSET: %s", redis->errstr);
            return -1;
        }
        if (reply->type == REDIS_REPLY_ERROR && result == 0) {
            snprintf(err, err_size, "redis HSET: %s", reply->str);
            result = -1;
        }
        freeReplyObject(reply);
    }
    return result;
}

/* Columns of the sales query: redis_sale_create/rebuild's arguments after the sku, then the sku,
 * the sale's number generation and the highest sequence PostgreSQL holds of it (0 for none). */
static const char sales_sql[] =
    "SELECT sale_id, product_name, initial_stock, start_ms, end_ms, created_ms, sku, sequence_generation,"
    " coalesce((SELECT max(p.sequence) FROM purchases p WHERE p.sale_id = s.sale_id), 0)"
    " FROM sales s ORDER BY sale_id";

enum { COLUMN_SKU = 6, COLUMN_GENERATION = 7, COLUMN_MAX_SEQUENCE = 8 };

static_assert(RECONCILE_GENERATION_SPAN >= SALE_INITIAL_STOCK_MAX,
              "a generation holds every number one rebuild of a sale can issue");

/* The generation a sequence belongs to (0 for none). */
static int64_t generation_of(int64_t sequence)
{
    return sequence > 0 ? (sequence - 1) / RECONCILE_GENERATION_SPAN : 0;
}

/*
 * Records in PostgreSQL that the sale's numbers move to `generation` (or a later one another
 * reconciler recorded), before Redis issues any of them. Returns the generation in force, 0 when
 * the sale is gone, -1 with err set on failure.
 */
static int64_t record_generation(PGconn *pg, const char *sale_id, int64_t generation, char *err,
                                 size_t err_size)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, generation);
    const char *params[] = {sale_id, text};
    PGresult *result = query(pg, err, err_size,
                             "UPDATE sales SET sequence_generation = GREATEST(sequence_generation, $2)"
                             " WHERE sale_id = $1 RETURNING sequence_generation",
                             2, params);
    if (result == NULL)
        return -1;
    int64_t recorded = PQntuples(result) == 1 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    return recorded;
}

/* A staging hash of the sale's own slot, unique to this pass. */
static void staging_key(char *out, size_t size, const char *sku)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    snprintf(out, size, OUTBOX_KEY_PREFIX "{%s}:staging:%d.%lld.%ld", sku, (int)getpid(),
             (long long)now.tv_sec, now.tv_nsec);
}

static PGresult *persisted_buyers(PGconn *pg, const char *sale_id, char *err, size_t err_size)
{
    const char *params[] = {sale_id};
    return query(pg, err, err_size,
                 "SELECT user_id, purchase_no, purchased_ms, sequence FROM purchases "
                 "WHERE sale_id = $1 ORDER BY sequence",
                 1, params);
}

/* What a pass knows of its start, and what it found. */
typedef struct {
    bool ready_missing;
    data_loss_report_t report;
    bool sale_changed; /* the sale at hand was rebuilt or repaired: its change is published */
} pass_t;

/* Tells every instance's subscription that the sale changed (sale_changes.h); best effort. */
static void publish_change(redisContext *redis, const char *sku, char *err, size_t err_size)
{
    const char *publish[] = {"PUBLISH", OUTBOX_CHANGES_CHANNEL, sku};
    freeReplyObject(command(redis, err, err_size, 3, publish));
}

static int rebuild_sale(redisContext *redis, PGconn *pg, PGresult *sales, int row, pass_t *pass, char *err,
                        size_t err_size)
{
    const char *sku = PQgetvalue(sales, row, COLUMN_SKU);
    const char *sale_id = PQgetvalue(sales, row, 0);
    int64_t generation = strtoll(PQgetvalue(sales, row, COLUMN_GENERATION), NULL, 10);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    char staging[REDIS_SALE_KEY_MAX];
    staging_key(staging, sizeof(staging), sku);
    /* The stream before PostgreSQL: see redis_sale_snapshot_script for why this order. */
    const char *snapshot_argv[] = {keys.orders, staging, sale_id, STAGING_TTL_SECONDS};
    redisReply *snapshot = script(redis, err, err_size, &redis_sale_snapshot_script, 2, 4, snapshot_argv);
    if (snapshot == NULL)
        return -1;
    int64_t stream_last =
        snapshot->type == REDIS_REPLY_ARRAY && snapshot->elements == 2 ? snapshot->element[1]->integer : -1;
    freeReplyObject(snapshot);
    PGresult *buyers = persisted_buyers(pg, sale_id, err, err_size);
    if (buyers == NULL)
        return -1;
    int rows = PQntuples(buyers);
    int64_t persisted_max = rows > 0 ? strtoll(PQgetvalue(buyers, rows - 1, 3), NULL, 10) : 0;
    int64_t floor = persisted_max > stream_last ? persisted_max : stream_last;
    /* Without the stream, or with one behind PostgreSQL, the last number issued is unknown. */
    bool stream_lost = stream_last < 0, behind = !stream_lost && stream_last < persisted_max;
    if (stream_lost || behind) {
        int64_t newest = generation;
        if (generation_of(persisted_max) > newest)
            newest = generation_of(persisted_max);
        if (generation_of(stream_last) > newest)
            newest = generation_of(stream_last);
        int64_t recorded = record_generation(pg, sale_id, newest + 1, err, err_size);
        if (recorded <= 0) {
            /* Deleted meanwhile: the prune step removes whatever is left of it. */
            PQclear(buyers);
            const char *del[] = {"DEL", staging};
            freeReplyObject(command(redis, err, err_size, 2, del));
            return recorded;
        }
        floor = (int64_t)(recorded * RECONCILE_GENERATION_SPAN);
    }
    int staged = rows > 0 ? stage_buyers(redis, staging, buyers, err, err_size) : 0;
    PQclear(buyers);
    if (staged != 0)
        return -1;
    char floor_text[24];
    snprintf(floor_text, sizeof(floor_text), "%" PRId64, floor);
    const char *argv[] = {
        keys.sale,
        keys.buyers,
        keys.orders,
        staging,
        sale_id,
        PQgetvalue(sales, row, 1),
        PQgetvalue(sales, row, 2),
        PQgetvalue(sales, row, 3),
        PQgetvalue(sales, row, 4),
        PQgetvalue(sales, row, 5),
        floor_text,
    };
    redisReply *rebuilt = script(redis, err, err_size, &redis_sale_rebuild_script, 4, 11, argv);
    if (rebuilt == NULL)
        return -1;
    if (rebuilt->integer == 1) {
        pass->sale_changed = true;
        log_info("reconcile", "rebuilt sale %s (%s) with %d persisted orders", sku, sale_id, rows);
        /* A lost stream is a loss when Redis had the sale: the marker went with it, or PostgreSQL
         * holds orders of it. Otherwise it is a create whose Redis step failed. */
        if (behind || (stream_lost && (pass->ready_missing || rows > 0))) {
            data_loss_cause(&pass->report, "Redis had lost sale data (its keys were gone)");
            data_loss_note(
                &pass->report,
                "%s (sale %s): %s, rebuilt from the %d orders in PostgreSQL; orders acknowledged but "
                "not yet in PostgreSQL are lost; numbers continue at FS%s-%" PRId64,
                sku, sale_id, behind ? "its stream was behind PostgreSQL" : "its stream was gone", rows,
                sale_id, floor + 1);
        }
    }
    freeReplyObject(rebuilt);
    return 0;
}

/* A present sale hash behind PostgreSQL: its buyers back, its numbers in a new generation. */
static int repair_sale(redisContext *redis, PGconn *pg, PGresult *sales, int row, int64_t next, pass_t *pass,
                       char *err, size_t err_size)
{
    const char *sku = PQgetvalue(sales, row, COLUMN_SKU);
    const char *sale_id = PQgetvalue(sales, row, 0);
    int64_t generation = strtoll(PQgetvalue(sales, row, COLUMN_GENERATION), NULL, 10);
    int64_t persisted_max = strtoll(PQgetvalue(sales, row, COLUMN_MAX_SEQUENCE), NULL, 10);
    int64_t newest = generation;
    if (generation_of(persisted_max) > newest)
        newest = generation_of(persisted_max);
    if (generation_of(next - 1) > newest)
        newest = generation_of(next - 1);
    int64_t recorded = record_generation(pg, sale_id, newest + 1, err, err_size);
    if (recorded <= 0)
        return recorded;
    PGresult *buyers = persisted_buyers(pg, sale_id, err, err_size);
    if (buyers == NULL)
        return -1;
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    char staging[REDIS_SALE_KEY_MAX];
    staging_key(staging, sizeof(staging), sku);
    int rows = PQntuples(buyers);
    int staged = rows > 0 ? stage_buyers(redis, staging, buyers, err, err_size) : 0;
    PQclear(buyers);
    if (staged != 0)
        return -1;
    char next_text[24];
    snprintf(next_text, sizeof(next_text), "%" PRId64, (int64_t)(recorded * RECONCILE_GENERATION_SPAN + 1));
    const char *argv[] = {keys.sale, keys.buyers, staging, sale_id, next_text};
    redisReply *repaired = script(redis, err, err_size, &redis_sale_repair_script, 3, 5, argv);
    if (repaired == NULL)
        return -1;
    if (repaired->integer == 1) {
        pass->sale_changed = true;
        data_loss_cause(&pass->report, "Redis was behind PostgreSQL (a failover to a replica that lagged, or "
                                       "an older copy restored)");
        data_loss_note(&pass->report,
                       "%s (sale %s): Redis' next number was %" PRId64 ", PostgreSQL holds up to %" PRId64
                       " in generation %" PRId64
                       "; its %d orders restored from PostgreSQL, orders acknowledged "
                       "but in neither are lost; numbers continue at FS%s-%s",
                       sku, sale_id, next, persisted_max, generation, rows, sale_id, next_text);
    }
    freeReplyObject(repaired);
    return 0;
}

/* One sale of PostgreSQL: rebuilt when absent from Redis, repaired when behind, then listed. */
static int reconcile_sale(redisContext *redis, PGconn *pg, PGresult *sales, int row, pass_t *pass, char *err,
                          size_t err_size)
{
    const char *sku = PQgetvalue(sales, row, COLUMN_SKU);
    const char *sale_id = PQgetvalue(sales, row, 0);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *hmget[] = {"HMGET", keys.sale, "sale_id", "next_sequence"};
    redisReply *current = command(redis, err, err_size, 4, hmget);
    if (current == NULL)
        return -1;
    bool present = current->type == REDIS_REPLY_ARRAY && current->elements == 2 &&
                   current->element[0]->type == REDIS_REPLY_STRING &&
                   strcmp(current->element[0]->str, sale_id) == 0;
    int64_t next = 0;
    if (present && redis_reply_int64(current->element[1], &next) != 0)
        next = 0;
    freeReplyObject(current);
    int result = 0;
    pass->sale_changed = false;
    if (!present) {
        result = rebuild_sale(redis, pg, sales, row, pass, err, err_size);
    } else if (next > 0) {
        int64_t generation = strtoll(PQgetvalue(sales, row, COLUMN_GENERATION), NULL, 10);
        int64_t persisted_max = strtoll(PQgetvalue(sales, row, COLUMN_MAX_SEQUENCE), NULL, 10);
        if (next <= persisted_max || generation_of(next) < generation)
            result = repair_sale(redis, pg, sales, row, next, pass, err, err_size);
    }
    if (result != 0)
        return -1;
    /* After the hash exists, as outbox.h's rule for the set requires. */
    const char *sadd[] = {"SADD", OUTBOX_SALES_SET, sku};
    redisReply *added = command(redis, err, err_size, 3, sadd);
    freeReplyObject(added);
    if (added == NULL)
        return -1;
    /* Once listed, so that a loop reading its snapshot on the notice finds the sale. */
    if (pass->sale_changed)
        publish_change(redis, sku, err, err_size);
    return 0;
}

static bool sku_in(PGresult *sales, const char *sku)
{
    for (int row = 0; row < PQntuples(sales); row++)
        if (strcmp(PQgetvalue(sales, row, 6), sku) == 0)
            return true;
    return false;
}

/*
 * Removes a sku that PostgreSQL did not list. Its sale may have been created since PostgreSQL was
 * read, so the hash is deleted only if PostgreSQL still lacks its sale_id (ids are never reused),
 * and the sku leaves the set only if no hash appeared meanwhile (outbox.h's rule).
 */
static int prune_sku(redisContext *redis, PGconn *pg, const char *sku, char *err, size_t err_size)
{
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    const char *hget[] = {"HGET", keys.sale, "sale_id"};
    redisReply *current = command(redis, err, err_size, 3, hget);
    if (current == NULL)
        return -1;
    if (current->type == REDIS_REPLY_STRING) {
        const char *params[] = {current->str};
        PGresult *known = query(pg, err, err_size, "SELECT 1 FROM sales WHERE sale_id = $1", 1, params);
        if (known == NULL) {
            freeReplyObject(current);
            return -1;
        }
        bool deleted = PQntuples(known) == 0;
        PQclear(known);
        if (deleted) {
            const char *argv[] = {keys.sale, keys.buyers, keys.orders, current->str};
            freeReplyObject(script(redis, err, err_size, &redis_sale_delete_script, 3, 4, argv));
            log_info("reconcile", "removed sale %s (%s), deleted in PostgreSQL", sku, current->str);
            publish_change(redis, sku, err, err_size);
        }
    }
    freeReplyObject(current);
    const char *srem[] = {"SREM", OUTBOX_SALES_SET, sku};
    const char *exists[] = {"EXISTS", keys.sale};
    const char *sadd[] = {"SADD", OUTBOX_SALES_SET, sku};
    freeReplyObject(command(redis, err, err_size, 3, srem));
    redisReply *reappeared = command(redis, err, err_size, 2, exists);
    if (reappeared == NULL)
        return -1;
    if (reappeared->integer == 1)
        freeReplyObject(command(redis, err, err_size, 3, sadd));
    freeReplyObject(reappeared);
    return 0;
}

int reconcile_run(redisContext *redis, PGconn *pg, int *losses, char *err, size_t err_size)
{
    if (losses != NULL)
        *losses = 0;
    pass_t pass = {0};
    const char *exists[] = {"EXISTS", OUTBOX_READY_KEY};
    redisReply *marker = command(redis, err, err_size, 2, exists);
    if (marker == NULL)
        return -1;
    pass.ready_missing = marker->integer == 0;
    freeReplyObject(marker);
    PGresult *sales = query(pg, err, err_size, sales_sql, 0, NULL);
    if (sales == NULL)
        return -1;
    if (pass.ready_missing && PQntuples(sales) > 0)
        data_loss_cause(&pass.report,
                        "Redis had lost its data (flashsale:ready was missing: FLUSHALL, a restart "
                        "without its files, or a new node)");
    int result = 0;
    for (int row = 0; row < PQntuples(sales) && result == 0; row++)
        result = reconcile_sale(redis, pg, sales, row, &pass, err, err_size);
    const char *smembers[] = {"SMEMBERS", OUTBOX_SALES_SET};
    redisReply *members = result == 0 ? command(redis, err, err_size, 2, smembers) : NULL;
    if (members == NULL)
        result = -1;
    for (size_t i = 0; result == 0 && i < members->elements; i++)
        if (!sku_in(sales, members->element[i]->str))
            result = prune_sku(redis, pg, members->element[i]->str, err, err_size);
    freeReplyObject(members);
    PQclear(sales);
    /* Recorded (and logged) even when the pass failed later: what was repaired was lost. */
    int recorded = data_loss_record(pg, &pass.report, err, err_size);
    if (losses != NULL && recorded > 0)
        *losses = recorded;
    if (result != 0 || recorded < 0)
        return -1;
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, clock_now_ms());
    const char *set[] = {"SET", OUTBOX_READY_KEY, now};
    redisReply *ready = command(redis, err, err_size, 3, set);
    freeReplyObject(ready);
    return ready != NULL ? 0 : -1;
}

struct reconciler {
    redis_address_t redis;
    char *postgres_url;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool requested; /* under lock */
    bool stopping;  /* under lock */
    atomic_uint_fast64_t passes;
    atomic_uint_fast64_t losses;
};

static int connect_and_run(reconciler_t *reconciler, char *err, size_t err_size)
{
    redisContext *redis;
    if (redis_address_connect(&reconciler->redis, REDIS_TIMEOUT_MS, &redis, err, err_size) !=
        REDIS_CONNECT_OK)
        return -1;
    PGconn *pg = PQconnectdb(reconciler->postgres_url);
    int result = -1;
    if (PQstatus(pg) != CONNECTION_OK)
        snprintf(err, err_size, "postgres: %s", PQerrorMessage(pg));
    else {
        int losses = 0;
        result = reconcile_run(redis, pg, &losses, err, err_size);
        atomic_fetch_add_explicit(&reconciler->losses, (uint_fast64_t)losses, memory_order_relaxed);
    }
    PQfinish(pg);
    redisFree(redis);
    return result;
}

static void *run(void *data)
{
    reconciler_t *reconciler = data;
    pthread_mutex_lock(&reconciler->lock);
    for (;;) {
        while (!reconciler->requested && !reconciler->stopping)
            pthread_cond_wait(&reconciler->wake, &reconciler->lock);
        if (reconciler->stopping)
            break;
        reconciler->requested = false;
        pthread_mutex_unlock(&reconciler->lock);

        char err[512];
        int result = connect_and_run(reconciler, err, sizeof(err));
        if (result == 0)
            atomic_fetch_add_explicit(&reconciler->passes, 1, memory_order_relaxed);
        else
            log_warn("reconcile", "%s; retrying in %d s", err, RETRY_DELAY_SECONDS);

        pthread_mutex_lock(&reconciler->lock);
        if (result != 0) {
            /* The stores may be down: wait, unless asked to stop, and try again. */
            struct timespec until = clock_deadline_in(RETRY_DELAY_SECONDS * 1000);
            if (!reconciler->stopping)
                pthread_cond_timedwait(&reconciler->wake, &reconciler->lock, &until);
            reconciler->requested = true;
        }
    }
    pthread_mutex_unlock(&reconciler->lock);
    return NULL;
}

reconciler_t *reconciler_start(const redis_address_t *redis, const char *postgres_url)
{
    reconciler_t *reconciler = calloc(1, sizeof(*reconciler));
    if (reconciler == NULL)
        return NULL;
    reconciler->redis = *redis;
    reconciler->postgres_url = strdup(postgres_url);
    pthread_mutex_init(&reconciler->lock, NULL);
    clock_cond_init(&reconciler->wake);
    if (reconciler->postgres_url == NULL || pthread_create(&reconciler->thread, NULL, run, reconciler) != 0) {
        pthread_cond_destroy(&reconciler->wake);
        pthread_mutex_destroy(&reconciler->lock);
        free(reconciler->postgres_url);
        free(reconciler);
        return NULL;
    }
    return reconciler;
}

void reconciler_request(reconciler_t *reconciler)
{
    pthread_mutex_lock(&reconciler->lock);
    reconciler->requested = true;
    pthread_cond_signal(&reconciler->wake);
    pthread_mutex_unlock(&reconciler->lock);
}

uint64_t reconciler_passes(reconciler_t *reconciler)
{
    return atomic_load_explicit(&reconciler->passes, memory_order_relaxed);
}

uint64_t reconciler_losses(reconciler_t *reconciler)
{
    return atomic_load_explicit(&reconciler->losses, memory_order_relaxed);
}

void reconciler_stop(reconciler_t *reconciler)
{
    pthread_mutex_lock(&reconciler->lock);
    reconciler->stopping = true;
    pthread_cond_signal(&reconciler->wake);
    pthread_mutex_unlock(&reconciler->lock);
    pthread_join(reconciler->thread, NULL);
    pthread_cond_destroy(&reconciler->wake);
    pthread_mutex_destroy(&reconciler->lock);
    free(reconciler->postgres_url);
    free(reconciler);
}
