/*
 * http_metrics: request counters and latency histograms, rendered as Prometheus text.
 *
 * Each event-loop thread writes only its own http_metrics_t, with relaxed atomic stores that
 * compile to plain moves, so counting never shares a cache line between threads on the hot path;
 * /metrics sums the loops when it is scraped. Requests are counted by route path (the route
 * table's names, plus "other" for a request no path matched) and status.
 */
#ifndef FLASHSALE_HTTP_METRICS_H
#define FLASHSALE_HTTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#define HTTP_METRICS_STATUS_COUNT  13 /* 200 201 304 400 401 404 405 409 413 429 500 503, and any other */
#define HTTP_METRICS_LATENCY_COUNT 14 /* upper bounds in http_request_duration_seconds, +Inf last */

typedef struct {
    _Atomic uint64_t (*requests)[HTTP_METRICS_STATUS_COUNT]; /* owned; one row per path, "other" last */
    size_t path_count;                                       /* rows, "other" included */
    _Atomic uint64_t latency[HTTP_METRICS_LATENCY_COUNT];
    _Atomic uint64_t latency_sum_ns;
} http_metrics_t;

/* path_count counts the rows, the one of "other" included; returns 0, or -1 when out of memory. */
int http_metrics_init(http_metrics_t *metrics, size_t path_count);
void http_metrics_dispose(http_metrics_t *metrics);

/* Counts one answered request; called only by the thread that owns `metrics`. */
void http_metrics_count(http_metrics_t *metrics, size_t path, int status, uint64_t duration_ns);

/* Appends the sum of loops[0..count) as Prometheus text; path_names[i] labels row i. */
void http_metrics_render(strbuf_t *out, const http_metrics_t *loops, size_t count,
                         const char *const *path_names);

#endif
