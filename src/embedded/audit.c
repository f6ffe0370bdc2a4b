#include "embedded/audit.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

/* Positions grow without bound and are masked into the ring, which needs a power of two. */
static_assert((AUDIT_RING_CAPACITY & (AUDIT_RING_CAPACITY - 1)) == 0,
              "AUDIT_RING_CAPACITY is a power of two");

/*
 * A checkpoint or an operator's query may hold audit.db's write lock for a moment; the ring
 * absorbs that much, and a longer stall drops the batch instead of the ring filling up behind it.
 */
#define AUDIT_BUSY_TIMEOUT_MS 500

/*
 * The writer wakes every AUDIT_FLUSH_INTERVAL_MS, or early once the ring is a quarter full.
 * Waking per event would cost a futex wake-up per purchase attempt on the request threads; a
 * timer turns that into ten large batches a second.
 */
#define AUDIT_FLUSH_INTERVAL_MS 100
#define AUDIT_WAKE_THRESHOLD    (AUDIT_RING_CAPACITY / 4)

static const char schema_sql[] = "BEGIN;"
                                 "CREATE TABLE IF NOT EXISTS audit_events (id INTEGER PRIMARY KEY,"
                                 "  at_ms INTEGER NOT NULL, sku TEXT NOT NULL, user_id TEXT NOT NULL,"
                                 "  outcome TEXT NOT NULL, purchase_no TEXT);"
                                 "PRAGMA user_version = 1;"
                                 "COMMIT;";

/*
 * One attempt, with its strings inline so that a push never allocates. The ring of them is about
 * 24 MiB of address space, touched only as far as the ring has ever filled.
 */
typedef struct {
    int64_t at_ms;
    sale_outcome_t outcome;
    bool has_purchase_no;
    char sku[SALE_SKU_MAX + 1];
    char user_id[SALE_USER_ID_MAX + 1];
    char purchase_no[SALE_PURCHASE_NO_MAX];
} audit_event_t;

enum { STATEMENT_BEGIN, STATEMENT_COMMIT, STATEMENT_ROLLBACK, STATEMENT_INSERT, STATEMENT_COUNT };

static const char *const statement_sql[STATEMENT_COUNT] = {
    [STATEMENT_BEGIN] = "BEGIN IMMEDIATE",
    [STATEMENT_COMMIT] = "COMMIT",
    [STATEMENT_ROLLBACK] = "ROLLBACK",
    [STATEMENT_INSERT] = ("INSERT INTO audit_events (at_ms, sku, user_id, outcome, purchase_no) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)"),
};

struct audit {
    sqlite3 *db;
    sqlite3_stmt *statements[STATEMENT_COUNT];

    /*
     * lock guards the positions and the flags. Slots [head, tail) are full; the writer reads
     * them without the lock, because producers only write at tail and head moves only after
     * the writer is done with them.
     */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    audit_event_t *ring;
    uint64_t head;
    uint64_t tail;
    bool writer_waiting; /* lets a push skip the signal, a syscall, while the writer is busy */
    bool closing;

    pthread_t writer;
    bool writer_started;
    bool healthy; /* writer thread only: whether to log the next failure */

    _Atomic uint64_t written;
    _Atomic uint64_t dropped;
    _Atomic uint64_t failures;
};

static void copy_truncated(char *out, size_t size, const char *text)
{
    size_t len = strnlen(text, size - 1);
    memcpy(out, text, len);
    out[len] = '\0';
}

static int step_once(sqlite3_stmt *statement)
{
    int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writes slots [from, to) in one transaction; a failure rolls it back. */
static int write_events(audit_t *audit, uint64_t from, uint64_t to)
{
    sqlite3_stmt *insert = audit->statements[STATEMENT_INSERT];
    int rc = step_once(audit->statements[STATEMENT_BEGIN]);
    for (uint64_t position = from; rc == SQLITE_OK && position < to; position++) {
        const audit_event_t *event = &audit->ring[position & (AUDIT_RING_CAPACITY - 1)];
        sqlite3_bind_int64(insert, 1, event->at_ms);
        /* STATIC: the slot is not reused before the statement is done */
        sqlite3_bind_text(insert, 2, event->sku, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 3, event->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 4, sale_outcome_label(event->outcome), -1, SQLITE_STATIC);
        if (event->has_purchase_no)
            sqlite3_bind_text(insert, 5, event->purchase_no, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(insert, 5);
        rc = step_once(insert);
    }
    if (rc == SQLITE_OK)
        rc = step_once(audit->statements[STATEMENT_COMMIT]);
    /* a failed COMMIT (SQLITE_BUSY) leaves the transaction open */
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(audit->db))
        step_once(audit->statements[STATEMENT_ROLLBACK]);
    return rc;
}

/*
 * Unlike the ledger, a failed batch is not retried: retrying would stall the ring behind a
 * sick disk, and the audit may lose events as long as it counts them.
 */
static void count_batch(audit_t *audit, int rc, uint64_t events)
{
    /* release: whoever sees the count also sees the slots it freed */
    if (rc == SQLITE_OK) {
        atomic_fetch_add_explicit(&audit->written, events, memory_order_release);
        if (!audit->healthy)
            log_info("audit", "writing again");
        audit->healthy = true;
        return;
    }
    atomic_fetch_add_explicit(&audit->failures, 1, memory_order_release);
    atomic_fetch_add_explicit(&audit->dropped, events, memory_order_release);
    /* logged once per outage, not once per batch */
    if (audit->healthy)
        log_warn("audit", "cannot write, dropping events: %s", sqlite3_errstr(rc));
    audit->healthy = false;
}

/* Sleeps until the flush interval passed, the ring filled past the threshold, or close. */
static void wait_for_batch(audit_t *audit)
{
    struct timespec deadline = clock_deadline_in(AUDIT_FLUSH_INTERVAL_MS);

    audit->writer_waiting = true;
    while (audit->tail - audit->head < AUDIT_WAKE_THRESHOLD && !audit->closing &&
           pthread_cond_timedwait(&audit->wake, &audit->lock, &deadline) == 0)
        ;
    audit->writer_waiting = false;
}

static void *write_until_closed(void *arg)
{
    audit_t *audit = arg;
    struct sched_param idle = {0};

    /* The audit is evidence, not the order record: it gets the CPU only when nothing else wants it,
       so under saturation the ring fills and drops (counted) instead of slowing buyers down. */
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    pthread_mutex_lock(&audit->lock);
    for (;;) {
        if (!audit->closing)
            wait_for_batch(audit);
        uint64_t from = audit->head;
        uint64_t to = audit->tail;
        if (from == to) {
            if (audit->closing)
                break;
            continue;
        }
        pthread_mutex_unlock(&audit->lock);

        int rc = write_events(audit, from, to);
        pthread_mutex_lock(&audit->lock);
        audit->head = to;
        pthread_mutex_unlock(&audit->lock);
        count_batch(audit, rc, to - from);
        pthread_mutex_lock(&audit->lock);
    }
    pthread_mutex_unlock(&audit->lock);
    return NULL;
}

static int open_database(audit_t *audit, const char *path, char *err, size_t err_size)
{
    int rc = sqlite3_open_v2(path, &audit->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "audit: cannot open %s: %s", path,
                 audit->db != NULL ? sqlite3_errmsg(audit->db) : sqlite3_errstr(rc));
        return -EIO;
    }
    /*
     * WAL with synchronous=NORMAL: a commit is an append without an fsync. A power cut may lose
     * the newest events, which the audit can afford, but never corrupts the file.
     */
    if (sqlite3_busy_timeout(audit->db, AUDIT_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_exec(audit->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(audit->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        goto Error;
    for (int i = 0; i < STATEMENT_COUNT; i++) {
        if (sqlite3_prepare_v3(audit->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &audit->statements[i], NULL) != SQLITE_OK)
            goto Error;
    }
    return 0;

Error:
    snprintf(err, err_size, "audit: %s: %s", path, sqlite3_errmsg(audit->db));
    return -EIO;
}

int audit_open(const char *data_dir, audit_t **out, char *err, size_t err_size)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/audit.db", data_dir) >= sizeof(path)) {
        snprintf(err, err_size, "audit: data directory path too long: %s", data_dir);
        return -ENAMETOOLONG;
    }
    audit_t *audit = calloc(1, sizeof(*audit));
    if (audit == NULL) {
        snprintf(err, err_size, "audit: out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&audit->lock, NULL);
    clock_cond_init(&audit->wake);
    audit->healthy = true;
    int error;
    audit->ring = malloc(AUDIT_RING_CAPACITY * sizeof(*audit->ring));
    if (audit->ring == NULL) {
        snprintf(err, err_size, "audit: out of memory");
        error = -ENOMEM;
        goto Error;
    }
    error = open_database(audit, path, err, err_size);
    if (error != 0)
        goto Error;
    error = -pthread_create(&audit->writer, NULL, write_until_closed, audit);
    if (error != 0) {
        snprintf(err, err_size, "audit: cannot start the writer thread: %s", strerror(-error));
        goto Error;
    }
    audit->writer_started = true;
    *out = audit;
    return 0;

Error:
    audit_close(audit);
    return error;
}

void audit_push(audit_t *audit, int64_t at_ms, const char *sku, const char *user_id, sale_outcome_t outcome,
                const char *purchase_no)
{
    assert((purchase_no != NULL) == (outcome == SALE_OUTCOME_SUCCESS));
    pthread_mutex_lock(&audit->lock);
    assert(!audit->closing);
    if (audit->tail - audit->head == AUDIT_RING_CAPACITY) {
        pthread_mutex_unlock(&audit->lock);
        atomic_fetch_add_explicit(&audit->dropped, 1, memory_order_relaxed);
        return;
    }
    audit_event_t *event = &audit->ring[audit->tail & (AUDIT_RING_CAPACITY - 1)];
    event->at_ms = at_ms;
    event->outcome = outcome;
    copy_truncated(event->sku, sizeof(event->sku), sku);
    copy_truncated(event->user_id, sizeof(event->user_id), user_id);
    event->has_purchase_no = purchase_no != NULL;
    if (event->has_purchase_no)
        copy_truncated(event->purchase_no, sizeof(event->purchase_no), purchase_no);
    audit->tail++;
    if (audit->writer_waiting && audit->tail - audit->head == AUDIT_WAKE_THRESHOLD)
        pthread_cond_signal(&audit->wake);
    pthread_mutex_unlock(&audit->lock);
}

void audit_get_stats(const audit_t *audit, audit_stats_t *out)
{
    out->written = atomic_load_explicit(&audit->written, memory_order_acquire);
    out->dropped = atomic_load_explicit(&audit->dropped, memory_order_acquire);
    out->failures = atomic_load_explicit(&audit->failures, memory_order_acquire);
}

void audit_close(audit_t *audit)
{
    if (audit->writer_started) {
        pthread_mutex_lock(&audit->lock);
        audit->closing = true;
        pthread_cond_signal(&audit->wake);
        pthread_mutex_unlock(&audit->lock);
        pthread_join(audit->writer, NULL);
    }
    for (int i = 0; i < STATEMENT_COUNT; i++)
        sqlite3_finalize(audit->statements[i]);
    sqlite3_close(audit->db);
    pthread_cond_destroy(&audit->wake);
    pthread_mutex_destroy(&audit->lock);
    free(audit->ring);
    free(audit);
}
