#include "loadtest/lt_summary.h"

#include <inttypes.h>
#include <string.h>

void lt_summary_live(FILE *out, bool terminal, lt_stats_t *stats, int elapsed_s, int64_t stock)
{
    uint64_t per_class[4] = {0}, polls = 0, last_second = 0, p50 = 0, p99 = 0;
    char rate[32], classes[4][32], polls_text[48] = "", stock_text[32] = "?";
    int second = elapsed_s - 1;

    pthread_mutex_lock(&stats->lock);
    /* the classes count purchases; status polls (--mix) are counted apart */
    for (int id = 0; id < stats->outcome_count; id++) {
        if (stats->outcomes[id].kind == LT_KIND_STATUS)
            polls += stats->totals[id];
        else
            per_class[stats->outcomes[id].class_] += stats->totals[id];
    }
    per_class[LT_CLASS_ERROR] += stats->connect_failures;
    if (second >= 0 && second < LT_SECONDS_MAX && stats->seconds[second] != NULL) {
        const lt_second_t *slot = stats->seconds[second];
        for (int id = 0; id < stats->outcome_count; id++)
            last_second += slot->counts[id];
        p50 = lt_histogram_percentile(&slot->latency, 50);
        p99 = lt_histogram_percentile(&slot->latency, 99);
    }
    pthread_mutex_unlock(&stats->lock);
    if (stock >= 0)
        snprintf(stock_text, sizeof(stock_text), "%" PRId64, stock);
    if (polls > 0) {
        char count[32];
        snprintf(polls_text, sizeof(polls_text), " polls %s", lt_format_count(polls, count));
    }
    fprintf(
        out,
        "%s%4ds %10s req/s | success %s rejected %s rate-limited %s errors %s%s | p50 %.2f ms p99 %.2f ms "
        "| stock %s%s",
        terminal ? "\r\033[K" : "", elapsed_s, lt_format_count(last_second, rate),
        lt_format_count(per_class[LT_CLASS_SUCCESS], classes[0]),
        lt_format_count(per_class[LT_CLASS_REJECTED], classes[1]),
        lt_format_count(per_class[LT_CLASS_RATE_LIMITED], classes[2]),
        lt_format_count(per_class[LT_CLASS_ERROR], classes[3]), polls_text, (double)p50 / 1e6,
        (double)p99 / 1e6, stock_text, terminal ? "" : "\n");
    fflush(out);
}

void lt_summary_live_end(FILE *out, bool terminal)
{
    if (terminal)
        fputc('\n', out);
    fflush(out);
}

void lt_summary_header(FILE *out, const lt_run_t *run)
{
    strbuf_t load;
    char stock[32];

    strbuf_init(&load);
    lt_run_describe_load(run, &load);
    fprintf(out, "flashsale loadtest: %s, sale %s%s (%s, stock %s), buyers %s-N by %s\n",
            run->options->url_text, run->sku, run->created ? " (created)" : "", run->sale_state,
            lt_format_count((uint64_t)run->stock_before, stock), run->user_prefix, run->identity);
    fprintf(out, "  %.*s\n", (int)load.len, load.data != NULL ? load.data : "");
    strbuf_dispose(&load);
    fflush(out);
}

void lt_summary_print(FILE *out, const lt_run_t *run)
{
    const lt_stats_t *stats = run->stats;
    char a[32], b[32], c[32], label[96];

    fprintf(out, "\n%-16s%s in %.2f s = %s req/s%s\n", "requests", lt_format_count(run->requests, a),
            run->duration_s, lt_format_count((uint64_t)(run->requests_per_second + 0.5), b),
            run->interrupted ? " (stopped by Ctrl-C)" : "");
    fprintf(out, "outcomes\n");
    for (int id = 0; id < stats->outcome_count; id++) {
        lt_outcome_label(&stats->outcomes[id], label, sizeof(label));
        fprintf(out, "  %-34s %14s %8.2f%%  %s\n", label, lt_format_count(stats->totals[id], a),
                run->requests > 0 ? 100.0 * (double)stats->totals[id] / (double)run->requests : 0.0,
                lt_class_name(stats->outcomes[id].class_));
    }
    if (stats->outcome_count == 0)
        fprintf(out, "  (no answers)\n");
    fprintf(out, "%-16s%s (%.2f%%), rate limited %s, connect failures %s\n", "errors",
            lt_format_count(run->errors, a), run->error_rate * 100, lt_format_count(run->rate_limited, b),
            lt_format_count(stats->connect_failures, c));
    if (run->totals.abandoned > 0 || run->totals.unsent > 0)
        fprintf(
            out, "%-16s%s in flight when the run stopped waiting (outcome unknown), %s due but never sent\n",
            "unfinished", lt_format_count(run->totals.abandoned, a), lt_format_count(run->totals.unsent, b));
    fprintf(out, "%-16sp50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f)%s\n", "latency ms",
            run->p50_ms, run->p90_ms, run->p99_ms, run->p999_ms, run->max_ms, run->mean_ms,
            run->options->rate > 0 ? "  from the scheduled send times" : "");
    fprintf(out, "\nverification\n");
    for (int i = 0; i < run->verification.count; i++) {
        const lt_check_t *check = &run->verification.checks[i];
        fprintf(out, "  %-7s %-37s %s\n", lt_check_status_name(check->status), check->name, check->detail);
    }
    fprintf(out, "\nresult: %s\n", run->passed ? "PASS" : "FAIL");
    fflush(out);
}
