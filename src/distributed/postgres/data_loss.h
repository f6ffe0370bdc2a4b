/*
 * data_loss: the record of the times Redis was found to have lost data, kept in PostgreSQL
 * (table redis_data_losses) so that every instance reports it until an operator acknowledges it.
 *
 * The reconciler (reconcile.c) detects a loss while it rebuilds or checks a sale: its stream
 * gone while Redis' ready marker was missing (FLUSHALL, a restart without its files, a new node)
 * or PostgreSQL held orders of it, or its next purchase number at or below one PostgreSQL holds,
 * or in an older generation than PostgreSQL recorded (a failover to a replica that lagged). What
 * such a loss can lose is in docs/architecture.md. A pass notes each sale it repaired into a
 * report, then records the report as one row and logs it at error level, once.
 *
 * /health reads the unacknowledged rows (DATA_LOSS_HEALTH_SQL) and is "degraded" while there is
 * one; `flashsale data-loss --postgres URL` lists them, and with --acknowledge marks them seen.
 */
#ifndef FLASHSALE_DATA_LOSS_H
#define FLASHSALE_DATA_LOSS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Longer reports are cut, with the count of the sales left out. */
#define DATA_LOSS_DETAIL_MAX 2048

typedef struct {
    char cause[192]; /* what was found; empty while nothing was */
    char sales[DATA_LOSS_DETAIL_MAX];
    size_t sales_len;
    int count;   /* sales noted */
    int omitted; /* of them, not in `sales` for want of room */
} data_loss_report_t;

/* One row, two columns: the number of unacknowledged losses and the first one's detected_ms. */
#define DATA_LOSS_HEALTH_SQL                                                                                 \
    "SELECT count(*), coalesce(min(detected_ms), 0) FROM redis_data_losses WHERE acknowledged_ms IS NULL"

/* Sets the report's cause, unless it has one (the first cause found is the one told). */
void data_loss_cause(data_loss_report_t *report, const char *cause);
/* Notes one sale Redis lost data of, with what was done about it. */
void data_loss_note(data_loss_report_t *report, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * When the report noted a sale: inserts it into redis_data_losses and logs it at error level.
 * Returns 1 when recorded, 0 when there was nothing to record, -1 with err set on failure.
 */
int data_loss_record(PGconn *pg, const data_loss_report_t *report, char *err, size_t err_size);

/* One loss, as a line of text (no newline), for the command line to print. */
typedef void (*data_loss_line_cb)(void *ctx, const char *line);

/*
 * `flashsale data-loss`: each unacknowledged loss to cb, oldest first, and with acknowledge marks
 * them acknowledged (all in one statement, so a loss detected meanwhile stays unacknowledged).
 * Returns the number listed, or -1 with err set.
 */
int data_loss_list(PGconn *pg, bool acknowledge, data_loss_line_cb cb, void *ctx, char *err, size_t err_size);

/*
 * The same on a connection of its own to postgres_url, after migrating the schema (so that it works
 * on any database the servers use, while they run). Returns as data_loss_list.
 */
int data_loss_command(const char *postgres_url, bool acknowledge, data_loss_line_cb cb, void *ctx, char *err,
                      size_t err_size);

#endif
