/*
 * worker_batch: the orders one worker round took from the streams, and what became of each.
 *
 * The worker reads stream entries (XREADGROUP, XAUTOCLAIM), parses them into orders here, stores
 * the valid ones in PostgreSQL (worker_store), then acknowledges what is safe to forget
 * (worker_streams). Each order carries its fate through those steps, so that a failure at any
 * step leaves the entries it did not finish pending in Redis, to be retried, and never acks
 * an order that is not in PostgreSQL or the dead-letter stream.
 *
 * The batch owns the hiredis replies it was given; the strings of its orders point into them
 * and are valid until worker_batch_clear.
 */
#ifndef FLASHSALE_WORKER_BATCH_H
#define FLASHSALE_WORKER_BATCH_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

typedef enum {
    WORKER_ORDER_TO_STORE, /* parsed; not yet in PostgreSQL */
    WORKER_ORDER_STORED,   /* committed (or already there, or its sale is gone): ack it */
    WORKER_ORDER_RETRY,    /* PostgreSQL rejected it: leave it pending for a later delivery */
    WORKER_ORDER_DEAD,     /* move to the dead-letter stream, then ack */
} worker_order_fate_t;

typedef struct {
    const char *stream;       /* the stream key it came from */
    const char *entry_id;     /* its stream entry id */
    const redisReply *fields; /* the raw field/value array, copied into a dead letter */
    long long deliveries;     /* how often Redis delivered it, this delivery included */
    worker_order_fate_t fate;
    char *reason; /* owned: why it is RETRY or DEAD; NULL if memory ran out */
    /* The order itself: set unless parsing failed (then fate is WORKER_ORDER_DEAD). The entry
     * holds only sale_id, user_id and purchased_ms; the rest follows from where it is. */
    char purchase_no[SALE_PURCHASE_NO_MAX]; /* FS<sale_id>-<sequence> */
    char sku[SALE_SKU_MAX + 1];             /* from the stream's key */
    const char *user_id;
    int64_t sale_id;
    int64_t sequence; /* the entry ID's first part */
    int64_t purchased_ms;
} worker_order_t;

typedef struct {
    worker_order_t *orders; /* owned */
    size_t count;
    size_t capacity;
    redisReply **replies; /* owned: what the orders point into */
    size_t reply_count;
    size_t reply_capacity;
} worker_batch_t;

void worker_batch_init(worker_batch_t *batch);
/* Frees the replies and reasons, keeping the arrays for the next round. */
void worker_batch_clear(worker_batch_t *batch);
void worker_batch_dispose(worker_batch_t *batch);

/* Takes ownership of a reply that orders will point into; frees it and returns -1 if memory ran out. */
int worker_batch_keep(worker_batch_t *batch, redisReply *reply);

/*
 * Adds the entries of the array `entries` — each [id, [field, value, ...]], as XREADGROUP and
 * XAUTOCLAIM list them — read from `stream`; both must live inside a kept reply. Entries whose
 * data was deleted (nil) are skipped; entries that do not parse become WORKER_ORDER_DEAD with
 * the reason. Returns 0, or -1 when memory ran out.
 */
int worker_batch_add(worker_batch_t *batch, const char *stream, const redisReply *entries,
                     long long deliveries);

/* Sets an order's fate and a copy of the reason for it. */
void worker_batch_set_fate(worker_order_t *order, worker_order_fate_t fate, const char *reason);

/* How many orders have the given fate. */
size_t worker_batch_count(const worker_batch_t *batch, worker_order_fate_t fate);

#endif
