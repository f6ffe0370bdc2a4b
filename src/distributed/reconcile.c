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

/* Columns of the sales query, in redis_sale_create/rebuild's argument order after the sku. */
static const char sales_sql[] =
    "SELECT sale_id, product_name, initial_stock, start_ms, end_ms, created_ms, sku "
    "FROM sales ORDER BY sale_id";

static int rebuild_sale(redisContext *redis, PGconn *pg, PGresult *sales, int row, char *err, size_t err_size)
{
    const char *sku = PQgetvalue(sales, row, 6);
    const char *sale_id = PQgetvalue(sales, row, 0);
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);

    const char *hget[] = {"HGET", keys.sale, "sale_id"};
    redisReply *current = command(redis, err, err_size, 3, hget);
    if (current == NULL)
        return -1;
    bool present = current->type == REDIS_REPLY_STRING && strcmp(current->str, sale_id) == 0;
    freeReplyObject(current);
    if (!present) {
        char staging[REDIS_SALE_KEY_MAX];
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        snprintf(staging, sizeof(staging), OUTBOX_KEY_PREFIX "{%s}:staging:%d.%lld.%ld", sku, (int)getpid(),
                 (long long)now.tv_sec, now.tv_nsec);
        /* The stream before PostgreSQL: see redis_sale_snapshot_script for why this order. */
        const char *snapshot_argv[] = {keys.orders, staging, sale_id, STAGING_TTL_SECONDS};
        redisReply *snapshot = script(redis, err, err_size, &redis_sale_snapshot_script, 2, 4, snapshot_argv);
        if (snapshot == NULL)
            return -1;
        freeReplyObject(snapshot);
        const char *params[] = {sale_id};
        PGresult *buyers = query(pg, err, err_size,
                                 "SELECT user_id, purchase_no, purchased_ms, sequence FROM purchases "
                                 "WHERE sale_id = $1 ORDER BY sequence",
                                 1, params);
        if (buyers == NULL)
            return -1;
        int rows = PQntuples(buyers);
        const char *max_sequence = rows > 0 ? PQgetvalue(buyers, rows - 1, 3) : "0";
        int staged = rows > 0 ? stage_buyers(redis, staging, buyers, err, err_size) : 0;
        if (staged != 0) {
            PQclear(buyers);
            return -1;
        }
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
            max_sequence,
        };
        redisReply *rebuilt = script(redis, err, err_size, &redis_sale_rebuild_script, 4, 11, argv);
        PQclear(buyers);
        if (rebuilt == NULL)
            return -1;
        if (rebuilt->integer == 1)
            log_info("reconcile", "rebuilt sale %s (%s) with %d persisted orders", sku, sale_id, rows);
        freeReplyObject(rebuilt);
    }
    /* After the hash exists, as outbox.h's rule for the set requires. */
    const char *sadd[] = {"SADD", OUTBOX_SALES_SET, sku};
    redisReply *added = command(redis, err, err_size, 3, sadd);
    freeReplyObject(added);
    return added != NULL ? 0 : -1;
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

int reconcile_run(redisContext *redis, PGconn *pg, char *err, size_t err_size)
{
    PGresult *sales = query(pg, err, err_size, sales_sql, 0, NULL);
    if (sales == NULL)
        return -1;
    int result = 0;
    for (int row = 0; row < PQntuples(sales) && result == 0; row++)
        result = rebuild_sale(redis, pg, sales, row, err, err_size);
    const char *smembers[] = {"SMEMBERS", OUTBOX_SALES_SET};
    redisReply *members = result == 0 ? command(redis, err, err_size, 2, smembers) : NULL;
    if (members == NULL)
        result = -1;
    for (size_t i = 0; result == 0 && i < members->elements; i++)
        if (!sku_in(sales, members->element[i]->str))
            result = prune_sku(redis, pg, members->element[i]->str, err, err_size);
    freeReplyObject(members);
    PQclear(sales);
    if (result != 0)
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
    else
        result = reconcile_run(redis, pg, err, err_size);
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
