#include "http/http_metrics.h"

#include <inttypes.h>
#include <stdlib.h>

static const int status_codes[HTTP_METRICS_STATUS_COUNT - 1] = {200, 201, 304, 400, 401, 404,
                                                                405, 409, 413, 429, 500, 503};
static const uint64_t latency_bounds_ns[HTTP_METRICS_LATENCY_COUNT - 1] = {
    50000,    100000,   250000,   500000,    1000000,   2000000,    5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000,
};
static const char *const latency_labels[HTTP_METRICS_LATENCY_COUNT] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.002", "0.005",
    "0.01",    "0.025",  "0.05",    "0.1",    "0.25",  "1",     "+Inf",
};

/* Single-writer increment: no locked instruction, yet a well-defined read from other threads. */
static void bump(_Atomic uint64_t *counter, uint64_t by)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static uint64_t read_counter(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static size_t status_index(int status)
{
    size_t i = 0;
    while (i < HTTP_METRICS_STATUS_COUNT - 1 && status_codes[i] != status)
        ++i;
    return i;
}

int http_metrics_init(http_metrics_t *metrics, size_t path_count)
{
    *metrics = (http_metrics_t){.path_count = path_count};
    metrics->requests = calloc(path_count, sizeof(*metrics->requests));
    return metrics->requests != NULL ? 0 : -1;
}

void http_metrics_dispose(http_metrics_t *metrics)
{
    free(metrics->requests);
    metrics->requests = NULL;
}

void http_metrics_count(http_metrics_t *metrics, size_t path, int status, uint64_t duration_ns)
{
    size_t bucket = 0;

    while (bucket < HTTP_METRICS_LATENCY_COUNT - 1 && duration_ns > latency_bounds_ns[bucket])
        ++bucket;
    bump(&metrics->requests[path][status_index(status)], 1);
    bump(&metrics->latency[bucket], 1);
    bump(&metrics->latency_sum_ns, duration_ns);
}

void http_metrics_render(strbuf_t *out, const http_metrics_t *loops, size_t count,
                         const char *const *path_names)
{
    uint64_t cumulative = 0, sum_ns = 0;

    strbuf_append_cstr(out, "# HELP flashsale_http_requests_total Requests answered, by route and status.\n"
                            "# TYPE flashsale_http_requests_total counter\n");
    for (size_t path = 0; count > 0 && path < loops[0].path_count; ++path) {
        for (size_t status = 0; status < HTTP_METRICS_STATUS_COUNT; ++status) {
            uint64_t sum = 0;
            for (size_t t = 0; t < count; ++t)
                sum += read_counter(&loops[t].requests[path][status]);
            if (sum == 0)
                continue;
            if (status < HTTP_METRICS_STATUS_COUNT - 1)
                strbuf_appendf(out, "flashsale_http_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                               path_names[path], status_codes[status], sum);
            else
                strbuf_appendf(out,
                               "flashsale_http_requests_total{route=\"%s\",status=\"other\"} %" PRIu64 "\n",
                               path_names[path], sum);
        }
    }

    strbuf_append_cstr(out, "# HELP flashsale_http_request_duration_seconds Time from request to reply.\n"
                            "# TYPE flashsale_http_request_duration_seconds histogram\n");
    for (size_t bucket = 0; bucket < HTTP_METRICS_LATENCY_COUNT; ++bucket) {
        for (size_t t = 0; t < count; ++t)
            cumulative += read_counter(&loops[t].latency[bucket]);
        strbuf_appendf(out, "flashsale_http_request_duration_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                       latency_labels[bucket], cumulative);
    }
    for (size_t t = 0; t < count; ++t)
        sum_ns += read_counter(&loops[t].latency_sum_ns);
    strbuf_appendf(out,
                   "flashsale_http_request_duration_seconds_sum %.6f\n"
                   "flashsale_http_request_duration_seconds_count %" PRIu64 "\n",
                   (double)sum_ns / 1e9, cumulative);
}
