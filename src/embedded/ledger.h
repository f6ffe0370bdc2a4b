/*
 * ledger: the embedded engine's durable record — a SQLite database in WAL mode, written by one
 * thread that commits in batches (group commit).
 *
 * Producers (the engine, under its own lock) append records; each append is given the next
 * ledger sequence number, so sequence order is decision order. The writer thread takes every
 * record queued so far, writes them in one transaction, commits (WAL + synchronous=FULL: the
 * commit fsyncs), then publishes the highest committed sequence and calls the durable callback.
 * Throughput therefore grows with the batch size instead of being capped by fsync latency, and
 * no producer ever waits for the disk.
 *
 * A failed transaction is rolled back and retried with the same records (the schema makes every
 * write idempotent) until it succeeds or the ledger is closed; meanwhile ledger_is_healthy()
 * is false so that /health answers 503.
 *
 * Files: DATA_DIR/flashsale.db (sales, purchases, meta).
 */
#ifndef FLASHSALE_LEDGER_H
#define FLASHSALE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

typedef struct ledger ledger_t;

/* Called on the writer thread after each commit, with the highest durable sequence. */
typedef void (*ledger_durable_cb)(void *arg, uint64_t durable_sequence);

/* What ledger_load found; the callbacks run on the calling thread, in sale_id then sequence order. */
typedef struct {
    void *arg;
    /* every sale, with stock already reduced by its purchases */
    int (*on_sale)(void *arg, const sale_t *sale);
    /* every purchase, after its sale; sequence is the per-sale number inside the purchaseNo */
    int (*on_purchase)(void *arg, uint64_t sale_id, uint64_t sequence, const sale_purchase_t *purchase);
} ledger_loader_t;

typedef struct {
    uint64_t batches;               /* committed transactions */
    uint64_t records;               /* records in them */
    uint64_t batch_size_buckets[8]; /* batches of <= 1, 4, 16, 64, 256, 1024, 4096, +Inf records (not
                                       cumulative) */
    uint64_t fsync_us_buckets[8];   /* commits taking <= 100, 250, 500, 1000, 2500, 5000, 10000, +Inf us */
    uint64_t commit_us_total;       /* sum of commit durations */
    uint64_t failures;              /* transactions that failed and were retried */
} ledger_stats_t;

/*
 * Opens (creating if needed) DATA_DIR/flashsale.db and its schema. On failure returns a negative
 * error code and writes one human line into err. The writer thread is not started yet.
 */
int ledger_open(const char *data_dir, ledger_t **out, char *err, size_t err_size);

/* Replays the database into the loader; returns 0, or the first non-zero the loader returned. */
int ledger_load(ledger_t *ledger, const ledger_loader_t *loader);

/* The next sale_id to give: greater than every sale_id ever written, deleted ones included. */
uint64_t ledger_next_sale_id(const ledger_t *ledger);

/* Starts the writer thread; the callback may run from then until ledger_close returns. */
int ledger_start(ledger_t *ledger, ledger_durable_cb on_durable, void *arg);

/*
 * Appends a record and returns its ledger sequence (> 0). Thread-safe, never blocks on I/O;
 * the arguments are copied. Callers that need sequence order to equal decision order append
 * while holding the lock of that decision.
 */
uint64_t ledger_append_purchase(ledger_t *ledger, uint64_t sale_id, uint64_t sequence,
                                const sale_purchase_t *purchase);
/* Inserts the sale, or replaces the row with the same sale_id (an update). */
uint64_t ledger_append_sale(ledger_t *ledger, const sale_t *sale);
/* Deletes the sale and all its purchases. */
uint64_t ledger_append_delete(ledger_t *ledger, uint64_t sale_id);

/* The highest sequence known committed (acquire load). */
uint64_t ledger_durable_sequence(const ledger_t *ledger);
/* false while the last transaction failed. */
bool ledger_is_healthy(const ledger_t *ledger);
void ledger_get_stats(const ledger_t *ledger, ledger_stats_t *out);

/* Commits everything appended so far, stops the writer and closes the database. */
void ledger_close(ledger_t *ledger);

#endif
