/*
 * metrics: request counters and latency histograms, rendered as Prometheus text.
 *
 * Each event-loop thread writes only its own metrics_thread_t, with relaxed atomic stores that
 * compile to plain moves, so counting never shares a cache line between threads on the hot path;
 * /metrics sums the threads when it is scraped.
 */
#ifndef FLASHSALE_METRICS_H
#define FLASHSALE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/sale.h"
#include "core/strbuf.h"

typedef enum {
    METRICS_ROUTE_SALES,
    METRICS_ROUTE_PURCHASES,
    METRICS_ROUTE_PRODUCTS,
    METRICS_ROUTE_PRODUCT,
    METRICS_ROUTE_PRODUCT_PURCHASES,
    METRICS_ROUTE_HEALTH,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_OTHER,
    METRICS_ROUTE_COUNT
} metrics_route_t;

#define METRICS_STATUS_COUNT  10 /* 200 201 400 401 404 405 409 413 503, and any other */
#define METRICS_LATENCY_COUNT 14 /* upper bounds in http_request_duration_seconds, +Inf last */

typedef struct {
    _Atomic uint64_t requests[METRICS_ROUTE_COUNT][METRICS_STATUS_COUNT];
    _Atomic uint64_t latency[METRICS_LATENCY_COUNT];
    _Atomic uint64_t latency_sum_ns;
    _Atomic uint64_t outcomes[SALE_OUTCOME_COUNT];
    _Atomic uint64_t unavailable; /* purchases answered 503 */
} metrics_thread_t;

/* Counts one answered request; called only by the thread that owns `thread`. */
void metrics_count_request(metrics_thread_t *thread, metrics_route_t route, int status, uint64_t duration_ns);
void metrics_count_outcome(metrics_thread_t *thread, sale_outcome_t outcome);
void metrics_count_unavailable(metrics_thread_t *thread);

/* Appends the sum of threads[0..count) as Prometheus text. */
void metrics_render(strbuf_t *out, const metrics_thread_t *threads, size_t count);

#endif
