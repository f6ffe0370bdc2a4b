#include "loadtest/lt_report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loadtest/lt_charts.h"

static const char style[] =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#f3f4f6;color:#1f2937;font:14px/1.5 system-ui,-apple-system,'Segoe "
    "UI',Helvetica,Arial,"
    "sans-serif}"
    "main{max-width:960px;margin:0 auto;padding:24px 20px 40px}"
    "header{display:flex;align-items:center;gap:16px;margin-bottom:18px}"
    "h1{font-size:22px;margin:0}h2{font-size:16px;margin:0 0 10px}"
    ".sub{color:#6b7280;margin:2px 0 0}"
    ".badge{margin-left:auto;padding:6px 16px;border-radius:999px;font-weight:700;letter-spacing:.04em}"
    ".pass{background:#dcfce7;color:#166534}.fail{background:#fee2e2;color:#991b1b}"
    ".skipped{background:#f3f4f6;color:#4b5563}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;margin-bottom:"
    "16px}"
    ".card{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06)}"
    ".card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}"
    "section{background:#fff;border-radius:10px;padding:16px 18px;margin-bottom:16px;"
    "box-shadow:0 1px 2px rgba(0,0,0,.06)}"
    "svg{display:block;max-width:100%;height:auto;margin:0 auto 8px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}"
    "th{color:#6b7280;font-weight:600;font-size:12px}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".pill{display:inline-block;min-width:64px;text-align:center;padding:1px "
    "8px;border-radius:999px;font-size:12px;"
    "font-weight:700}"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}"
    "code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:1px "
    "4px;border-radius:4px}"
    "footer{color:#9ca3af;font-size:12px;text-align:center}";

static void escape(strbuf_t *out, const char *text)
{
    lt_charts_escape(out, text);
}

static void card(strbuf_t *out, const char *value, const char *label)
{
    strbuf_append_cstr(out, "<div class=\"card\"><b>");
    escape(out, value);
    strbuf_append_cstr(out, "</b><span>");
    escape(out, label);
    strbuf_append_cstr(out, "</span></div>\n");
}

static void parameter(strbuf_t *out, const char *name, const char *value)
{
    strbuf_append_cstr(out, "<tr><th>");
    escape(out, name);
    strbuf_append_cstr(out, "</th><td>");
    escape(out, value);
    strbuf_append_cstr(out, "</td></tr>\n");
}

static void build_html(const lt_run_t *run, strbuf_t *out)
{
    const lt_options_t *options = run->options;
    const lt_stats_t *stats = run->stats;
    char text[256], count[32], label[96];
    strbuf_t load;

    strbuf_append_cstr(out,
                       "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    snprintf(text, sizeof(text), "flashsale loadtest: %s, %s", run->sku, run->passed ? "PASS" : "FAIL");
    escape(out, text);
    strbuf_appendf(
        out,
        "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<header><div><h1>flashsale loadtest</h1>"
        "<p class=\"sub\">",
        style);
    snprintf(text, sizeof(text), "%s · sale %s · started %s%s", options->url_text, run->sku, run->started_at,
             run->interrupted ? " · stopped by Ctrl-C" : "");
    escape(out, text);
    strbuf_appendf(out, "</p></div><span class=\"badge %s\">%s</span></header>\n",
                   run->passed ? "pass" : "fail", run->passed ? "PASS" : "FAIL");

    strbuf_append_cstr(out, "<div class=\"cards\">\n");
    card(out, lt_format_count(run->requests, count), "requests");
    card(out, lt_format_count((uint64_t)(run->requests_per_second + 0.5), count), "requests per second");
    snprintf(text, sizeof(text), "%.3f ms", run->p50_ms);
    card(out, text, "p50 latency");
    snprintf(text, sizeof(text), "%.3f ms", run->p99_ms);
    card(out, text, "p99 latency");
    snprintf(text, sizeof(text), "%.2f %%", run->error_rate * 100);
    card(out, text, "errors");
    snprintf(text, sizeof(text), "%.2f s", run->duration_s);
    card(out, text, "duration");
    strbuf_append_cstr(out, "</div>\n");

    strbuf_append_cstr(out, "<section>\n");
    lt_charts_throughput(run, out);
    strbuf_append_cstr(out, "</section>\n<section>\n");
    lt_charts_latency(run, out);
    lt_charts_histogram(run, out);
    strbuf_append_cstr(out, "</section>\n");

    strbuf_append_cstr(out, "<section><h2>Verification</h2>\n<table>\n<tr><th>result</th><th>check</th>"
                            "<th>numbers</th></tr>\n");
    for (int i = 0; i < run->verification.count; i++) {
        const lt_check_t *check = &run->verification.checks[i];
        const char *name = lt_check_status_name(check->status);
        strbuf_appendf(out, "<tr><td><span class=\"pill %s\">%s</span></td><td>",
                       check->status == LT_CHECK_PASS   ? "pass"
                       : check->status == LT_CHECK_FAIL ? "fail"
                                                        : "skipped",
                       name);
        escape(out, check->name);
        strbuf_append_cstr(out, "</td><td>");
        escape(out, check->detail);
        strbuf_append_cstr(out, "</td></tr>\n");
    }
    strbuf_append_cstr(out, "</table></section>\n");

    strbuf_append_cstr(out,
                       "<section><h2>Outcomes</h2>\n<table>\n<tr><th>request</th><th>HTTP</th><th>code</th>"
                       "<th>class</th><th class=\"num\">count</th><th class=\"num\">share</th></tr>\n");
    for (int id = 0; id < stats->outcome_count; id++) {
        const lt_outcome_t *outcome = &stats->outcomes[id];
        strbuf_appendf(out, "<tr><td>%s</td><td>", outcome->kind == LT_KIND_PURCHASE ? "purchase" : "status");
        if (outcome->status != 0)
            strbuf_appendf(out, "%d", outcome->status);
        else
            strbuf_append_cstr(out, "none");
        strbuf_append_cstr(out, "</td><td><code>");
        escape(out, outcome->code);
        strbuf_appendf(
            out, "</code></td><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%.2f %%</td></tr>\n",
            lt_class_name(outcome->class_), lt_format_count(stats->totals[id], count),
            run->requests > 0 ? 100.0 * (double)stats->totals[id] / (double)run->requests : 0.0);
    }
    strbuf_appendf(
        out,
        "</table>\n<p class=\"sub\">Connect failures: %s. Unanswered when the run stopped waiting: %s. "
        "Due but never sent (open loop): %s. Latency p99.9 %.3f ms, max %.3f ms, mean %.3f ms.</p>"
        "</section>\n",
        lt_format_count(stats->connect_failures, count), lt_format_count(run->totals.abandoned, label),
        lt_format_count(run->totals.unsent, text), run->p999_ms, run->max_ms, run->mean_ms);

    strbuf_append_cstr(out, "<section><h2>Parameters</h2>\n<table>\n");
    parameter(out, "server", options->url_text);
    snprintf(text, sizeof(text), "%s%s, %s before the storm, stock %lld of %lld", run->sku,
             run->created ? " (created for this run)" : "", run->sale_state, (long long)run->stock_before,
             (long long)run->initial_stock);
    parameter(out, "sale", text);
    strbuf_init(&load);
    lt_run_describe_load(run, &load);
    strbuf_append(&load, "", 1);
    parameter(out, "load", load.data != NULL ? load.data : "");
    strbuf_dispose(&load);
    snprintf(text, sizeof(text), "%s, ids %s-0 to %s-%lld", run->identity, run->user_prefix, run->user_prefix,
             (long long)options->buyers - 1);
    parameter(out, "buyers", text);
    snprintf(text, sizeof(text), "%.3g s", (double)options->timeout_ns / 1e9);
    parameter(out, "request timeout", text);
    snprintf(text, sizeof(text), "%s; orders list waited up to %.3g s; max error rate %.2f %%",
             !options->verify             ? "off (--no-verify)"
             : options->admin_key != NULL ? "public and admin checks"
                                          : "public checks only (no --admin-key)",
             (double)options->verify_timeout_ns / 1e9, options->max_error_rate * 100);
    parameter(out, "verification", text);
    parameter(out, "started", run->started_at);
    strbuf_append_cstr(
        out, "</table></section>\n<footer>flashsale loadtest · latencies in a log-linear histogram "
             "(&le; 0.4 % error) · this file needs no network</footer>\n</main>\n</body>\n</html>\n");
}

static int write_file(const char *path, const strbuf_t *text, char *err, size_t err_size)
{
    FILE *file;

    if (text->failed) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    if ((file = fopen(path, "wb")) == NULL) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    if (fwrite(text->data, 1, text->len, file) != text->len || fclose(file) != 0) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int lt_report_write_html(const lt_run_t *run, const char *path, char *err, size_t err_size)
{
    strbuf_t html;
    int result;

    strbuf_init(&html);
    build_html(run, &html);
    result = write_file(path, &html, err, err_size);
    strbuf_dispose(&html);
    return result;
}

int lt_report_write_svgs(const lt_run_t *run, const char *dir, char *err, size_t err_size)
{
    static const struct {
        const char *name;
        void (*draw)(const lt_run_t *run, strbuf_t *out);
    } charts[] = {{"throughput.svg", lt_charts_throughput},
                  {"latency.svg", lt_charts_latency},
                  {"histogram.svg", lt_charts_histogram}};
    char path[4096];

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++) {
        strbuf_t svg;
        int result;
        strbuf_init(&svg);
        charts[i].draw(run, &svg);
        snprintf(path, sizeof(path), "%s/%s", dir, charts[i].name);
        result = write_file(path, &svg, err, err_size);
        strbuf_dispose(&svg);
        if (result != 0)
            return -1;
    }
    return 0;
}

static json_t *latency_object(const lt_histogram_t *histogram)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f}", "p50", (double)lt_histogram_percentile(histogram, 50) / 1e6,
                     "p90", (double)lt_histogram_percentile(histogram, 90) / 1e6, "p99",
                     (double)lt_histogram_percentile(histogram, 99) / 1e6, "p999",
                     (double)lt_histogram_percentile(histogram, 99.9) / 1e6, "max",
                     (double)histogram->max / 1e6);
}

static json_t *build_json(const lt_run_t *run)
{
    const lt_options_t *options = run->options;
    const lt_stats_t *stats = run->stats;
    json_t *root = json_object(), *outcomes = json_array(), *seconds = json_array(), *checks = json_array();
    json_t *latency = latency_object(&stats->latency), *parameters;
    char label[96];

    json_object_set_new(latency, "mean", json_real(run->mean_ms));
    parameters =
        json_pack("{s:s, s:s, s:b, s:I, s:I, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:i, s:s, s:s, s:b, s:f}",
                  "url", options->url_text, "sku", run->sku, "created", run->created, "stockBefore",
                  (json_int_t)run->stock_before, "buyers", (json_int_t)options->buyers, "attemptsPerBuyer",
                  options->attempts, "connections", options->connections, "rate", options->rate,
                  "durationLimitSeconds", (double)options->duration_ns / 1e9, "threads", options->threads,
                  "pipeline", options->pipeline, "mixStatus", options->status_weight, "mixPurchase",
                  options->purchase_weight, "identity", run->identity, "userPrefix", run->user_prefix,
                  "adminChecks", options->admin_key != NULL, "maxErrorRate", options->max_error_rate);
    for (int id = 0; id < stats->outcome_count; id++) {
        const lt_outcome_t *outcome = &stats->outcomes[id];
        json_array_append_new(outcomes, json_pack("{s:s, s:i, s:s, s:s, s:I}", "request",
                                                  outcome->kind == LT_KIND_PURCHASE ? "purchase" : "status",
                                                  "status", outcome->status, "code", outcome->code, "class",
                                                  lt_class_name(outcome->class_), "count",
                                                  (json_int_t)stats->totals[id]));
    }
    for (int s = 0; s < lt_run_seconds(run); s++) {
        const lt_second_t *slot = stats->seconds[s];
        json_t *counts = json_object(), *second;
        uint64_t total = 0;
        for (int id = 0; slot != NULL && id < stats->outcome_count; id++) {
            total += slot->counts[id];
            if (slot->counts[id] == 0)
                continue;
            lt_outcome_label(&stats->outcomes[id], label, sizeof(label));
            json_object_set_new(counts, label, json_integer((json_int_t)slot->counts[id]));
        }
        second = json_pack("{s:i, s:I, s:f, s:o}", "second", s, "requests", (json_int_t)total,
                           "requestsPerSecond", lt_run_second_rate(run, s, total), "outcomes", counts);
        if (slot != NULL && slot->latency.total > 0)
            json_object_set_new(second, "latencyMs", latency_object(&slot->latency));
        json_array_append_new(seconds, second);
    }
    for (int i = 0; i < run->verification.count; i++) {
        const lt_check_t *check = &run->verification.checks[i];
        json_array_append_new(checks, json_pack("{s:s, s:s, s:b, s:s}", "name", check->name, "status",
                                                lt_check_status_name(check->status), "passed",
                                                check->status != LT_CHECK_FAIL, "detail", check->detail));
    }
    json_object_set_new(root, "tool", json_string("flashsale loadtest"));
    json_object_set_new(root, "startedAt", json_string(run->started_at));
    json_object_set_new(root, "parameters", parameters);
    json_object_set_new(root, "requests", json_integer((json_int_t)run->requests));
    json_object_set_new(root, "durationSeconds", json_real(run->duration_s));
    json_object_set_new(root, "requestsPerSecond", json_real(run->requests_per_second));
    json_object_set_new(root, "outcomes", outcomes);
    json_object_set_new(root, "errors", json_integer((json_int_t)run->errors));
    json_object_set_new(root, "errorRate", json_real(run->error_rate));
    json_object_set_new(root, "rateLimited", json_integer((json_int_t)run->rate_limited));
    json_object_set_new(root, "connectFailures", json_integer((json_int_t)stats->connect_failures));
    json_object_set_new(root, "unansweredAtEnd", json_integer((json_int_t)run->totals.abandoned));
    json_object_set_new(root, "unsent", json_integer((json_int_t)run->totals.unsent));
    json_object_set_new(root, "interrupted", json_boolean(run->interrupted));
    json_object_set_new(root, "latencyMs", latency);
    json_object_set_new(root, "seconds", seconds);
    json_object_set_new(root, "verification", checks);
    json_object_set_new(root, "passed", json_boolean(run->passed));
    return root;
}

int lt_report_write_json(const lt_run_t *run, const char *path, char *err, size_t err_size)
{
    json_t *root = build_json(run);
    char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    strbuf_t buffer;
    int result;

    json_decref(root);
    if (text == NULL) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    strbuf_init(&buffer);
    strbuf_append_cstr(&buffer, text);
    strbuf_append_cstr(&buffer, "\n");
    free(text);
    result = write_file(path, &buffer, err, err_size);
    strbuf_dispose(&buffer);
    return result;
}
