/*
 * audit: a record of every purchase attempt and its outcome, kept off the purchase path.
 *
 * Request threads push events into a bounded ring; a background thread drains it into the
 * audit_events table of DATA_DIR/audit.db in batches. The audit is evidence, not the order
 * record, so when the disk falls behind the ring drops new events and counts them rather than
 * slowing a buyer down; the count is exported in /metrics. It lives in its own database file so
 * that its writes never hold the order ledger's write lock.
 */
#ifndef FLASHSALE_AUDIT_H
#define FLASHSALE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

#define AUDIT_RING_CAPACITY 65536

typedef struct audit audit_t;

typedef struct {
    uint64_t written;  /* events committed to audit.db */
    uint64_t dropped;  /* events dropped because the ring was full */
    uint64_t failures; /* failed transactions (their events are dropped and counted above) */
} audit_stats_t;

/* Opens DATA_DIR/audit.db and starts the writer thread; on failure writes one line into err. */
int audit_open(const char *data_dir, audit_t **out, char *err, size_t err_size);

/*
 * Records one attempt. Thread-safe, never blocks on I/O; strings are copied (and truncated to
 * the sale.h limits). purchase_no is NULL unless the outcome is SUCCESS.
 */
void audit_push(audit_t *audit, int64_t at_ms, const char *sku, const char *user_id, sale_outcome_t outcome,
                const char *purchase_no);

void audit_get_stats(const audit_t *audit, audit_stats_t *out);

/* Writes what the ring holds, stops the thread and closes the database. */
void audit_close(audit_t *audit);

#endif
