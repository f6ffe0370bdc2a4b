#include "distributed/postgres/data_loss.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "distributed/postgres/pg_schema.h"
#include "distributed/postgres/pg_url.h"

void data_loss_cause(data_loss_report_t *report, const char *cause)
{
    if (report->cause[0] == '\0')
        snprintf(report->cause, sizeof(report->cause), "%s", cause);
}

void data_loss_note(data_loss_report_t *report, const char *format, ...)
{
    report->count++;
    char item[256];
    va_list args;
    va_start(args, format);
    vsnprintf(item, sizeof(item), format, args);
    va_end(args);
    size_t len = strlen(item);
    /* Room for "; " and the closing "; and N more" is kept. */
    if (report->omitted > 0 || report->sales_len + len + 2 + 32 >= sizeof(report->sales)) {
        report->omitted++;
        return;
    }
    if (report->sales_len > 0) {
        memcpy(report->sales + report->sales_len, "; ", 2);
        report->sales_len += 2;
    }
    memcpy(report->sales + report->sales_len, item, len + 1);
    report->sales_len += len;
}

/* Writes "CAUSE: SALES[; and N more]" into out. */
static void format_detail(const data_loss_report_t *report, char *out, size_t out_size)
{
    int written = snprintf(out, out_size, "%s: %s",
                           report->cause[0] != '\0' ? report->cause : "Redis lost data", report->sales);
    if (report->omitted > 0 && written > 0 && (size_t)written < out_size)
        snprintf(out + written, out_size - (size_t)written, "; and %d more", report->omitted);
}

static void one_line(char *err, size_t err_size, const char *what, PGconn *pg)
{
    snprintf(err, err_size, "postgres: %s: %s", what, PQerrorMessage(pg));
    err[strcspn(err, "\n")] = '\0';
}

int data_loss_record(PGconn *pg, const data_loss_report_t *report, char *err, size_t err_size)
{
    if (report->count == 0)
        return 0;
    char detail[sizeof(report->cause) + DATA_LOSS_DETAIL_MAX + 32];
    format_detail(report, detail, sizeof(detail));
    /* Logged before the insert, so that a loss is told even when PostgreSQL cannot keep it. */
    log_error("reconcile", "redis data loss: %s", detail);
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, clock_now_ms());
    const char *params[] = {now, detail};
    PGresult *result = PQexecParams(pg, "INSERT INTO redis_data_losses (detected_ms, detail) VALUES ($1, $2)",
                                    2, NULL, params, NULL, NULL, 0);
    int rc = 1;
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        one_line(err, err_size, "recording a Redis data loss", pg);
        rc = -1;
    }
    PQclear(result);
    return rc;
}

int data_loss_list(PGconn *pg, bool acknowledge, data_loss_line_cb cb, void *ctx, char *err, size_t err_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, clock_now_ms());
    const char *params[] = {now};
    PGresult *result =
        acknowledge
            ? PQexecParams(pg,
                           "WITH acknowledged AS (UPDATE redis_data_losses SET acknowledged_ms = $1 "
                           "  WHERE acknowledged_ms IS NULL RETURNING id, detected_ms, detail) "
                           "SELECT * FROM acknowledged ORDER BY id",
                           1, NULL, params, NULL, NULL, 0)
            : PQexec(pg,
                     "SELECT id, detected_ms, detail FROM redis_data_losses WHERE acknowledged_ms IS NULL "
                     "ORDER BY id");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        one_line(err, err_size, acknowledge ? "acknowledging Redis data losses" : "reading Redis data losses",
                 pg);
        PQclear(result);
        return -1;
    }
    int rows = PQntuples(result);
    for (int row = 0; row < rows; row++) {
        char at[CLOCK_ISO_LEN];
        clock_format_iso(at, strtoll(PQgetvalue(result, row, 1), NULL, 10));
        char line[DATA_LOSS_DETAIL_MAX + 512];
        snprintf(line, sizeof(line), "%s %s (#%s): %s", acknowledge ? "acknowledged" : "unacknowledged", at,
                 PQgetvalue(result, row, 0), PQgetvalue(result, row, 2));
        cb(ctx, line);
    }
    PQclear(result);
    return rows;
}

int data_loss_command(const char *postgres_url, bool acknowledge, data_loss_line_cb cb, void *ctx, char *err,
                      size_t err_size)
{
    if (pg_url_check(postgres_url, err, err_size) != 0)
        return -1;
    PGconn *pg = PQconnectdb(postgres_url);
    int listed = -1;
    if (PQstatus(pg) != CONNECTION_OK)
        one_line(err, err_size, "connecting", pg);
    else if (pg_schema_migrate(pg, err, err_size) == 0)
        listed = data_loss_list(pg, acknowledge, cb, ctx, err, err_size);
    PQfinish(pg);
    return listed;
}
