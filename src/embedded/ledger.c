#include "embedded/ledger.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define LEDGER_SCHEMA_VERSION 1
#define STRINGIFY(x)          #x
#define STRINGIFY_VALUE(x)    STRINGIFY(x)
/*
 * Long enough that an operator's brief write from the sqlite3 shell does not fail a batch, short
 * enough that /health reports a stuck database within a fraction of a second.
 */
#define LEDGER_BUSY_TIMEOUT_MS 250
/* Pause between retries of a failed transaction, so a broken disk is not hammered. */
#define LEDGER_RETRY_DELAY_MS 100

/* PRAGMA user_version is set in the same transaction as the tables it describes. */
static const char schema_sql[] =
    "BEGIN;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sales ("
    "  sale_id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, product_name TEXT NOT NULL,"
    "  initial_stock INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS purchases ("
    "  purchase_no TEXT PRIMARY KEY, sale_id INTEGER NOT NULL, sequence INTEGER NOT NULL,"
    "  sku TEXT NOT NULL, user_id TEXT NOT NULL, purchased_ms INTEGER NOT NULL,"
    "  UNIQUE (sale_id, user_id), UNIQUE (sale_id, sequence));"
    "PRAGMA user_version = " STRINGIFY_VALUE(LEDGER_SCHEMA_VERSION) "; COMMIT;";

/*
 * The writer's statements, prepared once. Every write is idempotent so that a transaction that
 * failed can be replayed as is: a purchase is keyed by its purchaseNo, a sale by its sale_id.
 */
enum {
    STATEMENT_BEGIN,
    STATEMENT_COMMIT,
    STATEMENT_ROLLBACK,
    STATEMENT_INSERT_PURCHASE,
    STATEMENT_UPSERT_SALE,
    STATEMENT_RAISE_NEXT_SALE_ID,
    STATEMENT_DELETE_PURCHASES,
    STATEMENT_DELETE_SALE,
    STATEMENT_COUNT
};

static const char *const statement_sql[STATEMENT_COUNT] = {
    /* IMMEDIATE takes the write lock up front, so a busy database fails the batch at once. */
    [STATEMENT_BEGIN] = "BEGIN IMMEDIATE",
    [STATEMENT_COMMIT] = "COMMIT",
    [STATEMENT_ROLLBACK] = "ROLLBACK",
    [STATEMENT_INSERT_PURCHASE] = ("INSERT OR IGNORE INTO purchases "
                                   "(purchase_no, sale_id, sequence, sku, user_id, purchased_ms) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
    [STATEMENT_UPSERT_SALE] = ("INSERT OR REPLACE INTO sales "
                               "(sale_id, sku, product_name, initial_stock, start_ms, end_ms, created_ms) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
    /* Kept apart from the sales table so that a deleted sale's id is never given again. */
    [STATEMENT_RAISE_NEXT_SALE_ID] = ("INSERT INTO meta (key, value) VALUES ('next_sale_id', ?1) "
                                      "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)"),
    [STATEMENT_DELETE_PURCHASES] = "DELETE FROM purchases WHERE sale_id = ?1",
    [STATEMENT_DELETE_SALE] = "DELETE FROM sales WHERE sale_id = ?1",
};

typedef enum {
    RECORD_PURCHASE,
    RECORD_SALE,
    RECORD_DELETE,
} record_kind_t;

typedef struct {
    record_kind_t kind;
    uint64_t ledger_sequence;
    uint64_t sale_id;
    union {
        struct {
            uint64_t sequence;
            sale_purchase_t fields;
        } purchase;
        sale_t sale;
    };
} record_t;

/* A growable array that is emptied, never freed, between batches: appends stop allocating once warm. */
typedef struct {
    record_t *items;
    size_t count;
    size_t capacity;
} record_vector_t;

static const uint64_t batch_size_bounds[7] = {1, 4, 16, 64, 256, 1024, 4096};
static const uint64_t commit_us_bounds[7] = {100, 250, 500, 1000, 2500, 5000, 10000};

/* Written by the writer thread only; relaxed atomics so ledger_get_stats may read them at any time. */
typedef struct {
    _Atomic uint64_t batches;
    _Atomic uint64_t records;
    _Atomic uint64_t batch_size_buckets[8];
    _Atomic uint64_t fsync_us_buckets[8];
    _Atomic uint64_t commit_us_total;
    _Atomic uint64_t failures;
} shared_stats_t;

struct ledger {
    sqlite3 *db;
    sqlite3_stmt *statements[STATEMENT_COUNT];

    /* lock guards everything down to `batch`; wake tells the writer there is work or a close. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    record_vector_t pending;
    uint64_t last_sequence;
    bool writer_waiting; /* lets append skip the signal, a syscall, while the writer is busy */
    bool closing;

    /* owned by the writer thread */
    record_vector_t batch;
    uint64_t abandoned_records; /* given up at close because the database kept failing */

    pthread_t writer;
    bool started;
    ledger_durable_cb on_durable;
    void *on_durable_arg;

    _Atomic uint64_t next_sale_id;
    _Atomic uint64_t durable_sequence;
    atomic_bool healthy;
    shared_stats_t stats;
};

static void copy_column_text(char *out, size_t size, sqlite3_stmt *statement, int column)
{
    const unsigned char *text = sqlite3_column_text(statement, column);
    size_t len = (size_t)sqlite3_column_bytes(statement, column);
    if (len > size - 1)
        len = size - 1;
    if (len > 0)
        memcpy(out, text, len);
    out[len] = '\0';
}

static uint64_t monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

static size_t bucket_of(const uint64_t bounds[7], uint64_t value)
{
    size_t i = 0;
    while (i < 7 && value > bounds[i])
        i++;
    return i;
}

/* Runs a statement that returns no rows and resets it; returns the SQLite result code. */
static int step_once(sqlite3_stmt *statement)
{
    int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_integer(sqlite3 *db, const char *sql, int64_t *value)
{
    sqlite3_stmt *statement;
    int rc = sqlite3_prepare_v2(db, sql, -1, &statement, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int64(statement, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(statement);
    return rc;
}

static int configure(ledger_t *ledger, char *err, size_t err_size)
{
    sqlite3 *db = ledger->db;
    int64_t version = 0;
    if (sqlite3_busy_timeout(db, LEDGER_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        read_integer(db, "PRAGMA user_version", &version) != SQLITE_OK)
        goto Error;
    if (version > LEDGER_SCHEMA_VERSION) {
        snprintf(err, err_size, "ledger: the database has schema version %lld, newer than this server's %d",
                 (long long)version, LEDGER_SCHEMA_VERSION);
        return -EPROTO;
    }

    /* WAL lets a commit be one append and one fsync of the log; FULL makes that fsync happen. */
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &statement, NULL) != SQLITE_OK)
        goto Error;
    bool is_wal = sqlite3_step(statement) == SQLITE_ROW &&
                  strcmp((const char *)sqlite3_column_text(statement, 0), "wal") == 0;
    sqlite3_finalize(statement);
    if (!is_wal) {
        snprintf(err, err_size, "ledger: the data directory does not support SQLite's WAL mode");
        return -EIO;
    }
    if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        goto Error;

    for (int i = 0; i < STATEMENT_COUNT; i++) {
        if (sqlite3_prepare_v3(db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ledger->statements[i],
                               NULL) != SQLITE_OK)
            goto Error;
    }

    int64_t next_sale_id = 0;
    if (read_integer(db,
                     "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'next_sale_id'), 1),"
                     "           coalesce((SELECT max(sale_id) FROM sales), 0) + 1)",
                     &next_sale_id) != SQLITE_OK)
        goto Error;
    atomic_init(&ledger->next_sale_id, (uint64_t)next_sale_id);
    return 0;

Error:
    snprintf(err, err_size, "ledger: %s: %s", sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
    return -EIO;
}

int ledger_open(const char *data_dir, ledger_t **out, char *err, size_t err_size)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/flashsale.db", data_dir) >= sizeof(path)) {
        snprintf(err, err_size, "ledger: data directory path too long: %s", data_dir);
        return -ENAMETOOLONG;
    }
    ledger_t *ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL) {
        snprintf(err, err_size, "ledger: out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&ledger->lock, NULL);
    clock_cond_init(&ledger->wake);
    atomic_init(&ledger->durable_sequence, 0);
    atomic_init(&ledger->healthy, true);

    /* NOMUTEX: the connection is used by the opening thread, then only by the writer thread. */
    int rc = sqlite3_open_v2(path, &ledger->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "ledger: cannot open %s: %s", path,
                 ledger->db != NULL ? sqlite3_errmsg(ledger->db) : sqlite3_errstr(rc));
        ledger_close(ledger);
        return -EIO;
    }
    int error = configure(ledger, err, err_size);
    if (error != 0) {
        ledger_close(ledger);
        return error;
    }
    *out = ledger;
    return 0;
}

static int load_purchases(ledger_t *ledger, sqlite3_stmt *purchases, uint64_t sale_id,
                          const ledger_loader_t *loader)
{
    sqlite3_bind_int64(purchases, 1, (int64_t)sale_id);
    int result = 0;
    int rc = SQLITE_DONE;
    while (result == 0 && (rc = sqlite3_step(purchases)) == SQLITE_ROW) {
        sale_purchase_t purchase;
        copy_column_text(purchase.purchase_no, sizeof(purchase.purchase_no), purchases, 0);
        uint64_t sequence = (uint64_t)sqlite3_column_int64(purchases, 1);
        copy_column_text(purchase.sku, sizeof(purchase.sku), purchases, 2);
        copy_column_text(purchase.user_id, sizeof(purchase.user_id), purchases, 3);
        purchase.purchased_ms = sqlite3_column_int64(purchases, 4);
        result = loader->on_purchase(loader->arg, sale_id, sequence, &purchase);
    }
    if (result == 0 && rc != SQLITE_DONE) {
        log_error("ledger", "cannot read purchases: %s", sqlite3_errmsg(ledger->db));
        result = -EIO;
    }
    sqlite3_reset(purchases);
    return result;
}

int ledger_load(ledger_t *ledger, const ledger_loader_t *loader)
{
    /* the connection is not shared with the writer thread */
    assert(!ledger->started);
    sqlite3_stmt *sales = NULL;
    sqlite3_stmt *purchases = NULL;
    int result = 0;
    if (sqlite3_prepare_v2(ledger->db,
                           "SELECT sale_id, sku, product_name, initial_stock, start_ms, end_ms, created_ms,"
                           "  (SELECT count(*) FROM purchases WHERE purchases.sale_id = sales.sale_id)"
                           " FROM sales ORDER BY sale_id",
                           -1, &sales, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ledger->db,
                           "SELECT purchase_no, sequence, sku, user_id, purchased_ms FROM purchases"
                           " WHERE sale_id = ?1 ORDER BY sequence",
                           -1, &purchases, NULL) != SQLITE_OK) {
        log_error("ledger", "cannot read the database: %s", sqlite3_errmsg(ledger->db));
        result = -EIO;
        goto Exit;
    }
    int rc = SQLITE_DONE;
    while (result == 0 && (rc = sqlite3_step(sales)) == SQLITE_ROW) {
        sale_t sale;
        sale.sale_id = (uint64_t)sqlite3_column_int64(sales, 0);
        copy_column_text(sale.sku, sizeof(sale.sku), sales, 1);
        copy_column_text(sale.product_name, sizeof(sale.product_name), sales, 2);
        sale.initial_stock = sqlite3_column_int64(sales, 3);
        sale.start_ms = sqlite3_column_int64(sales, 4);
        sale.end_ms = sqlite3_column_int64(sales, 5);
        sale.created_ms = sqlite3_column_int64(sales, 6);
        sale.stock = sale.initial_stock - sqlite3_column_int64(sales, 7);
        result = loader->on_sale(loader->arg, &sale);
        if (result == 0)
            result = load_purchases(ledger, purchases, sale.sale_id, loader);
    }
    if (result == 0 && rc != SQLITE_DONE) {
        log_error("ledger", "cannot read sales: %s", sqlite3_errmsg(ledger->db));
        result = -EIO;
    }
Exit:
    sqlite3_finalize(purchases);
    sqlite3_finalize(sales);
    return result;
}

uint64_t ledger_next_sale_id(const ledger_t *ledger)
{
    return atomic_load_explicit(&ledger->next_sale_id, memory_order_relaxed);
}

static int bind_text(sqlite3_stmt *statement, int index, const char *text)
{
    /* STATIC: the batch outlives the statement's execution. */
    return sqlite3_bind_text(statement, index, text, -1, SQLITE_STATIC);
}

static int write_record(ledger_t *ledger, const record_t *record)
{
    sqlite3_stmt **statements = ledger->statements;
    int64_t sale_id = (int64_t)record->sale_id;
    switch (record->kind) {
    case RECORD_PURCHASE: {
        sqlite3_stmt *insert = statements[STATEMENT_INSERT_PURCHASE];
        const sale_purchase_t *purchase = &record->purchase.fields;
        bind_text(insert, 1, purchase->purchase_no);
        sqlite3_bind_int64(insert, 2, sale_id);
        sqlite3_bind_int64(insert, 3, (int64_t)record->purchase.sequence);
        bind_text(insert, 4, purchase->sku);
        bind_text(insert, 5, purchase->user_id);
        sqlite3_bind_int64(insert, 6, purchase->purchased_ms);
        return step_once(insert);
    }
    case RECORD_SALE: {
        sqlite3_stmt *upsert = statements[STATEMENT_UPSERT_SALE];
        const sale_t *sale = &record->sale;
        sqlite3_bind_int64(upsert, 1, sale_id);
        bind_text(upsert, 2, sale->sku);
        bind_text(upsert, 3, sale->product_name);
        sqlite3_bind_int64(upsert, 4, sale->initial_stock);
        sqlite3_bind_int64(upsert, 5, sale->start_ms);
        sqlite3_bind_int64(upsert, 6, sale->end_ms);
        sqlite3_bind_int64(upsert, 7, sale->created_ms);
        int rc = step_once(upsert);
        if (rc != SQLITE_OK)
            return rc;
        sqlite3_bind_int64(statements[STATEMENT_RAISE_NEXT_SALE_ID], 1, sale_id + 1);
        return step_once(statements[STATEMENT_RAISE_NEXT_SALE_ID]);
    }
    case RECORD_DELETE: {
        sqlite3_bind_int64(statements[STATEMENT_DELETE_PURCHASES], 1, sale_id);
        int rc = step_once(statements[STATEMENT_DELETE_PURCHASES]);
        if (rc != SQLITE_OK)
            return rc;
        sqlite3_bind_int64(statements[STATEMENT_DELETE_SALE], 1, sale_id);
        return step_once(statements[STATEMENT_DELETE_SALE]);
    }
    }
    assert(!"unknown record kind");
    return SQLITE_MISUSE;
}

/* Writes the batch in one transaction; on failure it is rolled back, ready to be replayed. */
static int write_batch(ledger_t *ledger, uint64_t *commit_us)
{
    sqlite3_stmt **statements = ledger->statements;
    int rc = step_once(statements[STATEMENT_BEGIN]);
    for (size_t i = 0; rc == SQLITE_OK && i < ledger->batch.count; i++)
        rc = write_record(ledger, &ledger->batch.items[i]);
    if (rc == SQLITE_OK) {
        uint64_t started = monotonic_us();
        rc = step_once(statements[STATEMENT_COMMIT]);
        *commit_us = monotonic_us() - started;
    }
    /* a failed COMMIT (SQLITE_BUSY) leaves the transaction open */
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(ledger->db))
        step_once(statements[STATEMENT_ROLLBACK]);
    return rc;
}

static void count_commit(ledger_t *ledger, uint64_t commit_us)
{
    shared_stats_t *stats = &ledger->stats;
    uint64_t records = ledger->batch.count;
    atomic_fetch_add_explicit(&stats->batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->records, records, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->batch_size_buckets[bucket_of(batch_size_bounds, records)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->fsync_us_buckets[bucket_of(commit_us_bounds, commit_us)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->commit_us_total, commit_us, memory_order_relaxed);
}

/* Waits out the retry delay; returns false without waiting once the ledger is closing. */
static bool wait_before_retry(ledger_t *ledger)
{
    struct timespec deadline = clock_deadline_in(LEDGER_RETRY_DELAY_MS);

    pthread_mutex_lock(&ledger->lock);
    bool was_closing = ledger->closing;
    int rc = 0;
    while (!ledger->closing && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&ledger->wake, &ledger->lock, &deadline);
    pthread_mutex_unlock(&ledger->lock);
    return !was_closing;
}

/*
 * Commits the batch, retrying until it succeeds. Once the ledger is closing, a failure gives the
 * batch up, and every later one too: publishing a later sequence would claim the lost records.
 */
static void commit_batch(ledger_t *ledger)
{
    if (ledger->abandoned_records > 0) {
        ledger->abandoned_records += ledger->batch.count;
        return;
    }
    uint64_t commit_us = 0;
    int rc;
    while ((rc = write_batch(ledger, &commit_us)) != SQLITE_OK) {
        atomic_fetch_add_explicit(&ledger->stats.failures, 1, memory_order_relaxed);
        /* logged once per outage, not once per retry */
        if (atomic_exchange_explicit(&ledger->healthy, false, memory_order_relaxed))
            log_error("ledger", "cannot commit, retrying: %s", sqlite3_errstr(rc));
        if (!wait_before_retry(ledger)) {
            ledger->abandoned_records = ledger->batch.count;
            return;
        }
    }
    if (!atomic_exchange_explicit(&ledger->healthy, true, memory_order_relaxed))
        log_info("ledger", "committing again");
    count_commit(ledger, commit_us);

    uint64_t durable = ledger->batch.items[ledger->batch.count - 1].ledger_sequence;
    atomic_store_explicit(&ledger->durable_sequence, durable, memory_order_release);
    if (ledger->on_durable != NULL)
        ledger->on_durable(ledger->on_durable_arg, durable);
}

/* The writer loop; also run on the closing thread when the ledger was never started. */
static void *write_until_closed(void *arg)
{
    ledger_t *ledger = arg;
    pthread_mutex_lock(&ledger->lock);
    for (;;) {
        while (ledger->pending.count == 0 && !ledger->closing) {
            ledger->writer_waiting = true;
            pthread_cond_wait(&ledger->wake, &ledger->lock);
            ledger->writer_waiting = false;
        }
        if (ledger->pending.count == 0)
            break;
        /* the swap hands every queued record to this thread and the emptied vector to producers */
        record_vector_t queued = ledger->pending;
        ledger->pending = ledger->batch;
        ledger->batch = queued;
        pthread_mutex_unlock(&ledger->lock);

        commit_batch(ledger);
        ledger->batch.count = 0;
        pthread_mutex_lock(&ledger->lock);
    }
    pthread_mutex_unlock(&ledger->lock);
    return NULL;
}

int ledger_start(ledger_t *ledger, ledger_durable_cb on_durable, void *arg)
{
    assert(!ledger->started);
    ledger->on_durable = on_durable;
    ledger->on_durable_arg = arg;
    int rc = pthread_create(&ledger->writer, NULL, write_until_closed, ledger);
    if (rc != 0)
        return -rc;
    ledger->started = true;
    return 0;
}

static uint64_t append(ledger_t *ledger, record_t *record)
{
    pthread_mutex_lock(&ledger->lock);
    assert(!ledger->closing);
    record_vector_t *pending = &ledger->pending;
    if (pending->count == pending->capacity) {
        size_t capacity = pending->capacity == 0 ? 1024 : pending->capacity * 2;
        record_t *items = realloc(pending->items, capacity * sizeof(*items));
        /*
         * The caller has already decided (a buyer got the stock) and cannot take it back, so a
         * record that cannot be queued is fatal, as it is to h2o's own allocator.
         */
        if (items == NULL) {
            log_error("ledger", "out of memory queueing %zu records", capacity);
            abort();
        }
        pending->items = items;
        pending->capacity = capacity;
    }
    /* a plain max suffices: every writer of next_sale_id holds the lock */
    if (record->kind == RECORD_SALE &&
        record->sale_id >= atomic_load_explicit(&ledger->next_sale_id, memory_order_relaxed))
        atomic_store_explicit(&ledger->next_sale_id, record->sale_id + 1, memory_order_relaxed);
    uint64_t sequence = ++ledger->last_sequence;
    record->ledger_sequence = sequence;
    pending->items[pending->count++] = *record;
    if (ledger->writer_waiting)
        pthread_cond_signal(&ledger->wake);
    pthread_mutex_unlock(&ledger->lock);
    return sequence;
}

uint64_t ledger_append_purchase(ledger_t *ledger, uint64_t sale_id, uint64_t sequence,
                                const sale_purchase_t *purchase)
{
    record_t record = {.kind = RECORD_PURCHASE, .sale_id = sale_id};
    record.purchase.sequence = sequence;
    record.purchase.fields = *purchase;
    return append(ledger, &record);
}

uint64_t ledger_append_sale(ledger_t *ledger, const sale_t *sale)
{
    record_t record = {.kind = RECORD_SALE, .sale_id = sale->sale_id, .sale = *sale};
    return append(ledger, &record);
}

uint64_t ledger_append_delete(ledger_t *ledger, uint64_t sale_id)
{
    record_t record = {.kind = RECORD_DELETE, .sale_id = sale_id};
    return append(ledger, &record);
}

uint64_t ledger_durable_sequence(const ledger_t *ledger)
{
    return atomic_load_explicit(&ledger->durable_sequence, memory_order_acquire);
}

bool ledger_is_healthy(const ledger_t *ledger)
{
    return atomic_load_explicit(&ledger->healthy, memory_order_relaxed);
}

void ledger_get_stats(const ledger_t *ledger, ledger_stats_t *out)
{
    const shared_stats_t *stats = &ledger->stats;
    out->batches = atomic_load_explicit(&stats->batches, memory_order_relaxed);
    out->records = atomic_load_explicit(&stats->records, memory_order_relaxed);
    for (size_t i = 0; i < 8; i++) {
        out->batch_size_buckets[i] =
            atomic_load_explicit(&stats->batch_size_buckets[i], memory_order_relaxed);
        out->fsync_us_buckets[i] = atomic_load_explicit(&stats->fsync_us_buckets[i], memory_order_relaxed);
    }
    out->commit_us_total = atomic_load_explicit(&stats->commit_us_total, memory_order_relaxed);
    out->failures = atomic_load_explicit(&stats->failures, memory_order_relaxed);
}

void ledger_close(ledger_t *ledger)
{
    pthread_mutex_lock(&ledger->lock);
    ledger->closing = true;
    pthread_cond_signal(&ledger->wake);
    pthread_mutex_unlock(&ledger->lock);
    if (ledger->started)
        pthread_join(ledger->writer, NULL);
    else
        write_until_closed(ledger);
    if (ledger->abandoned_records > 0)
        log_error("ledger", "closed with %llu records not written",
                  (unsigned long long)ledger->abandoned_records);

    for (int i = 0; i < STATEMENT_COUNT; i++)
        sqlite3_finalize(ledger->statements[i]);
    sqlite3_close(ledger->db);
    pthread_cond_destroy(&ledger->wake);
    pthread_mutex_destroy(&ledger->lock);
    free(ledger->pending.items);
    free(ledger->batch.items);
    free(ledger);
}
