/*
 * lt_charts: the report's three charts as standalone SVG documents, drawn from a finished run:
 * throughput per second stacked by outcome, latency percentiles (p50, p90, p99, max) per second on a
 * logarithmic axis, and the distribution of all latencies (share of requests per latency bin, on a
 * logarithmic axis, with the percentiles marked).
 *
 * Plain SVG 1.1 with presentation attributes only (no CSS classes, no scripts, no fonts to fetch), so
 * the same text is valid inline in the HTML report and as a file embedded by a Markdown page.
 */
#ifndef FLASHSALE_LT_CHARTS_H
#define FLASHSALE_LT_CHARTS_H

#include "core/strbuf.h"
#include "loadtest/lt_run.h"

void lt_charts_throughput(const lt_run_t *run, strbuf_t *out);
void lt_charts_latency(const lt_run_t *run, strbuf_t *out);
void lt_charts_histogram(const lt_run_t *run, strbuf_t *out);

/* Appends text with &, <, > and " escaped, for SVG and HTML. */
void lt_charts_escape(strbuf_t *out, const char *text);

#endif
