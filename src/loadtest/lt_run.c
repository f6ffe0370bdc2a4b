#include "loadtest/lt_run.h"

#include <stdio.h>

void lt_run_compute(lt_run_t *run)
{
    const lt_stats_t *stats = run->stats;
    const lt_histogram_t *latency = &stats->latency;
    double sum_ns = 0;

    run->requests = lt_stats_requests(stats);
    run->rate_limited = lt_stats_class_count(stats, LT_CLASS_RATE_LIMITED);
    run->errors = lt_stats_class_count(stats, LT_CLASS_ERROR) + stats->connect_failures;
    run->duration_s = (double)(run->totals.end_ns - run->totals.start_ns) / 1e9;
    run->requests_per_second = run->duration_s > 0 ? (double)run->requests / run->duration_s : 0;
    run->error_rate = run->requests + stats->connect_failures > 0
                          ? (double)run->errors / (double)(run->requests + stats->connect_failures)
                          : 0;
    run->p50_ms = (double)lt_histogram_percentile(latency, 50) / 1e6;
    run->p90_ms = (double)lt_histogram_percentile(latency, 90) / 1e6;
    run->p99_ms = (double)lt_histogram_percentile(latency, 99) / 1e6;
    run->p999_ms = (double)lt_histogram_percentile(latency, 99.9) / 1e6;
    run->max_ms = (double)latency->max / 1e6;
    for (size_t i = 0; i < latency->bucket_count; i++) {
        uint64_t lower, upper;
        if (latency->counts[i] == 0)
            continue;
        lt_histogram_bucket_range(latency, i, &lower, &upper);
        sum_ns += (double)latency->counts[i] * ((double)lower + (double)(upper - lower) / 2);
    }
    run->mean_ms = latency->total > 0 ? sum_ns / (double)latency->total / 1e6 : 0;
    run->passed = run->verification.passed;
}

int lt_run_seconds(const lt_run_t *run)
{
    return run->stats->seconds_len;
}

double lt_run_second_rate(const lt_run_t *run, int second, uint64_t count)
{
    double length = run->duration_s - second;
    if (length > 1 || second < lt_run_seconds(run) - 1)
        length = 1;
    /* the last second is usually partial: its rate is over the part the run lasted */
    if (length < 0.01)
        length = 0.01;
    return (double)count / length;
}

void lt_run_describe_load(const lt_run_t *run, strbuf_t *out)
{
    const lt_options_t *options = run->options;
    char buyers[32];

    if (options->rate > 0)
        strbuf_appendf(out, "open loop at %.0f req/s over %d connections", options->rate,
                       options->connections);
    else
        strbuf_appendf(out, "closed loop, %d connections", options->connections);
    if (options->pipeline > 1)
        strbuf_appendf(out, " (pipeline %d)", options->pipeline);
    strbuf_appendf(out, ", %d thread%s; %s buyers x %d attempt%s", options->threads,
                   options->threads > 1 ? "s" : "", lt_format_count((uint64_t)options->buyers, buyers),
                   options->attempts, options->attempts > 1 ? "s" : "");
    if (options->status_weight > 0)
        strbuf_appendf(out, "; mix status=%d,purchase=%d", options->status_weight, options->purchase_weight);
    if (options->duration_ns > 0)
        strbuf_appendf(out, "; at most %.3g s", (double)options->duration_ns / 1e9);
}

const char *lt_format_count(uint64_t value, char *out)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value), at = 0;

    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[at++] = ',';
        out[at++] = digits[i];
    }
    out[at] = '\0';
    return out;
}
