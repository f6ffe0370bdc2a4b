/*
 * lt_run: one finished load test as the outputs see it (the summary, the HTML report, the SVG charts
 * and the JSON), and the figures derived from the raw counts: throughput, error rate, percentiles,
 * the per-second series.
 *
 * Every output reads the same lt_run_t, so the terminal, the report and the JSON never disagree.
 * The struct borrows everything it points to from the caller (options, stats, verification).
 */
#ifndef FLASHSALE_LT_RUN_H
#define FLASHSALE_LT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "loadtest/lt_driver.h"
#include "loadtest/lt_options.h"
#include "loadtest/lt_stats.h"
#include "loadtest/lt_verify.h"

typedef struct {
    /* what was run */
    const lt_options_t *options;
    const char *sku;
    const char *user_prefix;
    const char *identity; /* "X-User-Id header" or "JWT HS256" ... */
    bool created;
    char started_at[CLOCK_ISO_LEN]; /* wall clock */
    char sale_state[16];            /* before the storm */
    int64_t stock_before;
    int64_t initial_stock;
    bool interrupted; /* Ctrl-C */

    /* what happened */
    const lt_stats_t *stats;
    lt_driver_totals_t totals;
    lt_verification_t verification;

    /* derived by lt_run_compute */
    uint64_t requests; /* answered or failed; not the ones abandoned in flight */
    uint64_t errors;   /* class error + connect failures */
    uint64_t rate_limited;
    double duration_s;
    double requests_per_second;
    double error_rate;
    double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
    bool passed;
} lt_run_t;

void lt_run_compute(lt_run_t *run);

/* Second s of the series: requests per second (the last, partial second scaled to its length). */
double lt_run_second_rate(const lt_run_t *run, int second, uint64_t count);
/* How many seconds the series has (at most LT_SECONDS_MAX). */
int lt_run_seconds(const lt_run_t *run);

/* "closed loop, 100 connections" or "open loop at 5000 req/s over 100 connections", into out. */
void lt_run_describe_load(const lt_run_t *run, strbuf_t *out);

/* 1234567 -> "1,234,567" into out (at least 32 bytes). */
const char *lt_format_count(uint64_t value, char *out);

#endif
