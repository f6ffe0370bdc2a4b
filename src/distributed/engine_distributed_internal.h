/*
 * engine_distributed_internal: what the files of the distributed engine share, and nothing else
 * includes. engine_distributed.c keeps the engine and its loops (lifecycle, the ops table) and the
 * purchase path; distributed_admin.c the admin writes; distributed_reads.c the reads, /health and
 * /metrics; distributed_watch.c the watcher. Every operation's context starts with an op_t, is allocated by
 * distributed_op_start and freed by distributed_answer.
 */
#ifndef FLASHSALE_ENGINE_DISTRIBUTED_INTERNAL_H
#define FLASHSALE_ENGINE_DISTRIBUTED_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine.h"
#include "distributed/postgres/persisted_counts.h"
#include "distributed/postgres/pg_async.h"
#include "distributed/reconcile.h"
#include "distributed/redis/redis_client.h"
#include "distributed/redis/sale_changes.h"
#include "distributed/sale_snapshot.h"
#include "distributed/sold_out_cache.h"
#include "distributed/worker/worker_lag.h"

#define METRICS_TEXT_MAX 4096
#define INT64_TEXT_MAX   24

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
    uint64_t opening_losses;               /* Redis data losses found by the pass at the start */
    reconciler_t *reconciler;
    worker_lag_sampler_t *lag_sampler;
    persisted_counts_t *persisted; /* the admin's persistedPurchases, sampled by its own thread */
    sale_changes_t *changes;       /* the instance's subscription, for the watchers */
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
    /* The watcher (engine.h, watch; distributed_watch.c). */
    engine_watch_cb watch_cb;
    void *watch_ctx;
    atomic_bool watching;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    h2o_multithread_message_t watch_message;
    atomic_bool watch_pending; /* watch_message is queued */
    sale_changes_listener_t listener;
    sale_t *watch_sales; /* the copy shown to the watcher: the snapshot, under the board's stocks */
    size_t watch_count;
    bool watch_valid;
    uint64_t watch_generation; /* the resync generation the copy was read at */
    bool watch_reading;        /* a snapshot read for the watcher is in flight */
    uint64_t reading_generation;
    h2o_timeout_t watch_resync_timeout; /* ENGINE_WATCH_RESYNC_MS */
    h2o_timeout_entry_t watch_resync;
} distributed_loop_t;

/* What every operation keeps until it answers; the first member of each operation's context. */
typedef struct {
    distributed_loop_t *loop;
    engine_cb cb;
    void *ctx;
} op_t;

/* A purchase, or a lookup of one by buyer (distributed_get_purchase). */
typedef struct purchase_op {
    op_t op;
    sale_purchase_t purchase;
    struct purchase_op *next; /* in its batch */
} purchase_op_t;

/* Answers the operation and frees its context. */
void distributed_answer(op_t *op, const engine_result_t *result);
void distributed_answer_status(op_t *op, engine_status_t status);
/* Allocates an operation's context of `size` bytes (its first member an op_t); NULL after answering
 * ENGINE_UNAVAILABLE. */
void *distributed_op_start(engine_loop_t *handle, size_t size, engine_cb cb, void *ctx);
/* The operation of a purchase or a lookup; NULL after answering ENGINE_UNAVAILABLE. */
purchase_op_t *distributed_purchase_start(engine_loop_t *handle, const char *sku, const char *user_id,
                                          engine_cb cb, void *ctx);

/* Asks the engine's reconciler to bring Redis in line with PostgreSQL; data is the loop. */
void distributed_ask_reconcile(void *data);
/* Writes value into out, INT64_TEXT_MAX bytes. */
void distributed_format_int64(char *out, int64_t value);
bool distributed_reply_is_error(const redisReply *reply);
/* A failed statement (not a lost connection, which pg_async logs) is logged here, on one line. */
void distributed_log_pg_error(const char *what, const PGresult *result);
bool distributed_pg_rows(const PGresult *result);

/* The engine_ops_t entries of distributed_admin.c (admin writes). */
void distributed_create_sale(engine_loop_t *handle, const sale_fields_t *fields, engine_cb cb, void *ctx);
void distributed_update_sale(engine_loop_t *handle, const char *sku, const sale_fields_t *fields,
                             engine_cb cb, void *ctx);
void distributed_delete_sale(engine_loop_t *handle, const char *sku, uint64_t sale_id, engine_cb cb,
                             void *ctx);

/* The watcher of distributed_watch.c: its op, and its part of attach and detach. */
void distributed_watch(engine_loop_t *handle, engine_watch_cb cb, void *ctx);
void distributed_watch_attach(distributed_loop_t *loop);
void distributed_watch_detach(distributed_loop_t *loop);
/* The engine_ops_t entries of distributed_accounts.c (accounts and rate limits). */
void distributed_create_account(engine_loop_t *handle, const account_t *account, engine_cb cb, void *ctx);
void distributed_find_account(engine_loop_t *handle, const char *login, engine_cb cb, void *ctx);
void distributed_check_limits(engine_loop_t *handle, const engine_limit_t *limits, size_t count, engine_cb cb,
                              void *ctx);

/* The engine_ops_t entries of distributed_reads.c. */
void distributed_get_purchase(engine_loop_t *handle, const char *sku, const char *user_id, engine_cb cb,
                              void *ctx);
void distributed_get_sale(engine_loop_t *handle, const char *sku, engine_cb cb, void *ctx);
void distributed_list_sales(engine_loop_t *handle, engine_cb cb, void *ctx);
void distributed_list_purchases(engine_loop_t *handle, const char *sku, const char *after, size_t limit,
                                engine_cb cb, void *ctx);
void distributed_health(engine_loop_t *handle, engine_cb cb, void *ctx);
void distributed_metrics(engine_loop_t *handle, engine_cb cb, void *ctx);

#endif
