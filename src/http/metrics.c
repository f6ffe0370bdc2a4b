#include "http/metrics.h"

#include <inttypes.h>

static const int status_codes[METRICS_STATUS_COUNT - 1] = {200, 201, 400, 401, 404, 405, 409, 413, 503};
static const char *const route_names[METRICS_ROUTE_COUNT] = {
    "sales", "purchases", "products", "product", "product_purchases", "health", "metrics", "other",
};
static const uint64_t latency_bounds_ns[METRICS_LATENCY_COUNT - 1] = {
    50000,    100000,   250000,   500000,    1000000,   2000000,    5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000,
};
static const char *const latency_labels[METRICS_LATENCY_COUNT] = {
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
    while (i < METRICS_STATUS_COUNT - 1 && status_codes[i] != status)
        ++i;
    return i;
}

void metrics_count_request(metrics_thread_t *thread, metrics_route_t route, int status, uint64_t duration_ns)
{
    size_t bucket = 0;

    while (bucket < METRICS_LATENCY_COUNT - 1 && duration_ns > latency_bounds_ns[bucket])
        ++bucket;
    bump(&thread->requests[route][status_index(status)], 1);
    bump(&thread->latency[bucket], 1);
    bump(&thread->latency_sum_ns, duration_ns);
}

void metrics_count_outcome(metrics_thread_t *thread, sale_outcome_t outcome)
{
    bump(&thread->outcomes[outcome], 1);
}

void metrics_count_unavailable(metrics_thread_t *thread)
{
    bump(&thread->unavailable, 1);
}

void metrics_render(strbuf_t *out, const metrics_thread_t *threads, size_t count)
{
    uint64_t cumulative = 0, total = 0, sum_ns = 0;

    strbuf_append_cstr(out, "# HELP flashsale_http_requests_total Requests answered, by route and status.\n"
                            "# TYPE flashsale_http_requests_total counter\n");
    for (size_t route = 0; route < METRICS_ROUTE_COUNT; ++route) {
        for (size_t status = 0; status < METRICS_STATUS_COUNT; ++status) {
            uint64_t sum = 0;
            for (size_t t = 0; t < count; ++t)
                sum += read_counter(&threads[t].requests[route][status]);
            if (sum == 0)
                continue;
            if (status < METRICS_STATUS_COUNT - 1)
                strbuf_appendf(out, "flashsale_http_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                               route_names[route], status_codes[status], sum);
            else
                strbuf_appendf(out,
                               "flashsale_http_requests_total{route=\"%s\",status=\"other\"} %" PRIu64 "\n",
                               route_names[route], sum);
        }
    }

    strbuf_append_cstr(out, "# HELP flashsale_purchase_outcomes_total Purchase decisions, by outcome.\n"
                            "# TYPE flashsale_purchase_outcomes_total counter\n");
    for (size_t outcome = 0; outcome < SALE_OUTCOME_COUNT; ++outcome) {
        uint64_t sum = 0;
        for (size_t t = 0; t < count; ++t)
            sum += read_counter(&threads[t].outcomes[outcome]);
        strbuf_appendf(out, "flashsale_purchase_outcomes_total{outcome=\"%s\"} %" PRIu64 "\n",
                       sale_outcome_label((sale_outcome_t)outcome), sum);
    }
    {
        uint64_t sum = 0;
        for (size_t t = 0; t < count; ++t)
            sum += read_counter(&threads[t].unavailable);
        strbuf_appendf(out, "flashsale_purchase_outcomes_total{outcome=\"unavailable\"} %" PRIu64 "\n", sum);
    }

    strbuf_append_cstr(out, "# HELP flashsale_http_request_duration_seconds Time from request to reply.\n"
                            "# TYPE flashsale_http_request_duration_seconds histogram\n");
    for (size_t bucket = 0; bucket < METRICS_LATENCY_COUNT; ++bucket) {
        for (size_t t = 0; t < count; ++t)
            cumulative += read_counter(&threads[t].latency[bucket]);
        strbuf_appendf(out, "flashsale_http_request_duration_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                       latency_labels[bucket], cumulative);
    }
    total = cumulative;
    for (size_t t = 0; t < count; ++t)
        sum_ns += read_counter(&threads[t].latency_sum_ns);
    strbuf_appendf(out,
                   "flashsale_http_request_duration_seconds_sum %.6f\n"
                   "flashsale_http_request_duration_seconds_count %" PRIu64 "\n",
                   (double)sum_ns / 1e9, total);
}
