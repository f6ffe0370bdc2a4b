/*
 * lt_report: the files a run leaves behind: one self-contained HTML report (inline CSS and inline
 * SVG charts, no script, nothing fetched when it is opened), the same figures as JSON for CI and for
 * comparing runs, and optionally the charts as separate SVG files for documentation to embed.
 *
 * Each writer returns 0, or -1 with err naming the file and the reason.
 */
#ifndef FLASHSALE_LT_REPORT_H
#define FLASHSALE_LT_REPORT_H

#include <stddef.h>

#include "loadtest/lt_run.h"

int lt_report_write_html(const lt_run_t *run, const char *path, char *err, size_t err_size);
/*
 * The JSON: requests, durationSeconds, requestsPerSecond, outcomes (one entry per request kind,
 * HTTP status and error code), latencyMs {p50, p90, p99, p999, max, mean}, seconds (the per-second
 * series), verification [{name, status, passed, detail}], passed, and the run's parameters.
 */
int lt_report_write_json(const lt_run_t *run, const char *path, char *err, size_t err_size);
/* DIR/throughput.svg, DIR/latency.svg, DIR/histogram.svg; creates DIR if needed. */
int lt_report_write_svgs(const lt_run_t *run, const char *dir, char *err, size_t err_size);

#endif
