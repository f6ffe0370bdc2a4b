#include "loadtest/lt_charts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define WIDTH           900
#define HEIGHT          330
#define PLOT_LEFT       72.0
#define PLOT_TOP        52.0
#define PLOT_WIDTH      570.0
#define PLOT_HEIGHT     220.0
#define LEGEND_LEFT     668.0
#define LEGEND_ROWS     12
#define GRID_COLOR      "#e5e7eb"
#define AXIS_COLOR      "#9ca3af"
#define TEXT_COLOR      "#374151"
#define MUTED_COLOR     "#6b7280"
#define BINS_PER_DECADE 10

void lt_charts_escape(strbuf_t *out, const char *text)
{
    for (const char *at = text; *at != '\0'; at++) {
        switch (*at) {
        case '&':
            strbuf_append_cstr(out, "&amp;");
            break;
        case '<':
            strbuf_append_cstr(out, "&lt;");
            break;
        case '>':
            strbuf_append_cstr(out, "&gt;");
            break;
        case '"':
            strbuf_append_cstr(out, "&quot;");
            break;
        default:
            strbuf_append(out, at, 1);
        }
    }
}

/* A colour per outcome that means the same in every chart of every run. */
static const char *outcome_color(const lt_outcome_t *outcome, int error_index)
{
    static const char *const error_colors[] = {"#c44e52", "#8c1c13", "#e07b7e", "#a8323e", "#f2a6a8"};
    if (outcome->class_ == LT_CLASS_SUCCESS)
        return outcome->kind == LT_KIND_PURCHASE ? "#2e9e5b" : "#9ab8dc";
    if (outcome->class_ == LT_CLASS_RATE_LIMITED)
        return "#f0a030";
    if (outcome->class_ == LT_CLASS_REJECTED) {
        if (strcmp(outcome->code, "SOLD_OUT") == 0)
            return "#4c72b0";
        if (strcmp(outcome->code, "ALREADY_PURCHASED") == 0)
            return "#8172b2";
        return "#937860";
    }
    return error_colors[error_index % 5];
}

static void open_svg(strbuf_t *out, const char *title, const char *subtitle)
{
    strbuf_appendf(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
        "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\" font-size=\"12\" "
        "role=\"img\">\n<title>",
        WIDTH, HEIGHT, WIDTH, HEIGHT);
    lt_charts_escape(out, title);
    strbuf_appendf(out, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH, HEIGHT);
    strbuf_appendf(out, "<text x=\"16\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"%s\">",
                   TEXT_COLOR);
    lt_charts_escape(out, title);
    strbuf_appendf(out, "</text>\n<text x=\"16\" y=\"41\" fill=\"%s\">", MUTED_COLOR);
    lt_charts_escape(out, subtitle);
    strbuf_append_cstr(out, "</text>\n");
}

static void close_svg(strbuf_t *out)
{
    strbuf_append_cstr(out, "</svg>\n");
}

static void no_data(strbuf_t *out)
{
    strbuf_appendf(
        out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"%s\">no answers to draw</text>\n",
        PLOT_LEFT + PLOT_WIDTH / 2, PLOT_TOP + PLOT_HEIGHT / 2, MUTED_COLOR);
}

/* The smallest 1, 2 or 5 times a power of ten that cuts [0, span] into at most `ticks` steps. */
static double nice_step(double span, int ticks)
{
    double raw = span / ticks, magnitude = pow(10, floor(log10(raw))), residual = raw / magnitude;
    if (residual <= 1)
        return magnitude;
    if (residual <= 2)
        return 2 * magnitude;
    if (residual <= 5)
        return 5 * magnitude;
    return 10 * magnitude;
}

static void format_quantity(double value, char *out, size_t size)
{
    if (value >= 1e6)
        snprintf(out, size, "%gM", value / 1e6);
    else if (value >= 1e3)
        snprintf(out, size, "%gk", value / 1e3);
    else
        snprintf(out, size, "%g", value);
}

static void format_ms(double ms, char *out, size_t size)
{
    if (ms >= 1000)
        snprintf(out, size, "%g s", ms / 1000);
    else
        snprintf(out, size, "%g ms", ms);
}

/* How many seconds the x axis spans: the run's length, so that a last, partial second is drawn as one. */
static double time_span(const lt_run_t *run)
{
    double span = run->stats->seconds_truncated ? LT_SECONDS_MAX : run->duration_s;
    if (span < lt_run_seconds(run) - 1 + 0.001)
        span = lt_run_seconds(run) - 1 + 0.001;
    return span;
}

static double time_x(double seconds, double span)
{
    return PLOT_LEFT + PLOT_WIDTH * seconds / span;
}

/* Where second s of the series ends on the axis (the last one may be partial). */
static double second_end(int second, double span)
{
    return second + 1 < span ? second + 1 : span;
}

/* The x axis in seconds: ticks, labels and its title. */
static void seconds_axis(strbuf_t *out, double span)
{
    double step = nice_step(span, 10);
    strbuf_appendf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", PLOT_LEFT,
                   PLOT_TOP + PLOT_HEIGHT, PLOT_LEFT + PLOT_WIDTH, PLOT_TOP + PLOT_HEIGHT, AXIS_COLOR);
    for (int tick = 0; tick * step <= span + 1e-9; tick++) {
        double x = time_x(tick * step, span);
        strbuf_appendf(out,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%g</text>\n",
                       x, PLOT_TOP + PLOT_HEIGHT, x, PLOT_TOP + PLOT_HEIGHT + 5, AXIS_COLOR, x,
                       PLOT_TOP + PLOT_HEIGHT + 18, MUTED_COLOR, tick * step);
    }
    strbuf_appendf(
        out,
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">seconds since the start</text>\n",
        PLOT_LEFT + PLOT_WIDTH / 2, PLOT_TOP + PLOT_HEIGHT + 38, MUTED_COLOR);
}

/* Horizontal grid lines and labels for a linear y axis from 0 to top. */
static void linear_y_axis(strbuf_t *out, double top, double step, const char *title)
{
    char label[32];
    for (double v = 0; v <= top + step / 1000; v += step) {
        double y = PLOT_TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top;
        format_quantity(v, label, sizeof(label));
        strbuf_appendf(out,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s</text>\n",
                       PLOT_LEFT, y, PLOT_LEFT + PLOT_WIDTH, y, GRID_COLOR, PLOT_LEFT - 8, y + 4, MUTED_COLOR,
                       label);
    }
    strbuf_appendf(
        out,
        "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
        PLOT_TOP + PLOT_HEIGHT / 2, MUTED_COLOR, title);
}

/* A logarithmic y axis over [10^low, 10^high] (decades), in milliseconds. */
static double log_y(double ms, int low, int high)
{
    double position = (log10(ms) - low) / (high - low);
    if (position < 0)
        position = 0;
    if (position > 1)
        position = 1;
    return PLOT_TOP + PLOT_HEIGHT - PLOT_HEIGHT * position;
}

static void log_y_axis(strbuf_t *out, int low, int high)
{
    char label[32];
    for (int decade = low; decade <= high; decade++) {
        for (int factor = 1; factor <= (decade < high ? 9 : 1); factor++) {
            double ms = factor * pow(10, decade), y = log_y(ms, low, high);
            bool labelled = factor == 1 || ((factor == 2 || factor == 5) && high - low <= 2);
            strbuf_appendf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>\n",
                           PLOT_LEFT, y, PLOT_LEFT + PLOT_WIDTH, y, GRID_COLOR,
                           factor == 1 ? "" : " stroke-dasharray=\"2 3\"");
            if (!labelled)
                continue;
            format_ms(ms, label, sizeof(label));
            strbuf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s</text>\n",
                           PLOT_LEFT - 8, y + 4, MUTED_COLOR, label);
        }
    }
    strbuf_appendf(
        out,
        "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"%s\">latency "
        "(log scale)</text>\n",
        PLOT_TOP + PLOT_HEIGHT / 2, MUTED_COLOR);
}

static void legend_entry(strbuf_t *out, int row, const char *color, const char *label, const char *note,
                         bool line)
{
    double y = PLOT_TOP + 6 + row * 18;
    if (line)
        strbuf_appendf(
            out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>",
            LEGEND_LEFT, y, LEGEND_LEFT + 14, y, color);
    else
        strbuf_appendf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" rx=\"2\" fill=\"%s\"/>",
                       LEGEND_LEFT, y - 6, color);
    strbuf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", LEGEND_LEFT + 20, y + 4, TEXT_COLOR);
    lt_charts_escape(out, label);
    if (note != NULL && note[0] != '\0') {
        strbuf_appendf(out, "<tspan fill=\"%s\"> ", MUTED_COLOR);
        lt_charts_escape(out, note);
        strbuf_append_cstr(out, "</tspan>");
    }
    strbuf_append_cstr(out, "</text>\n");
}

void lt_charts_throughput(const lt_run_t *run, strbuf_t *out)
{
    const lt_stats_t *stats = run->stats;
    int seconds = lt_run_seconds(run), rows = 0, errors = 0;
    double top = 0, step, span;
    char subtitle[160], count[32], rate[32], label[96];
    const char *colors[LT_OUTCOMES_MAX];

    snprintf(subtitle, sizeof(subtitle), "%s requests in %.1f s, %s req/s on average%s",
             lt_format_count(run->requests, count), run->duration_s,
             lt_format_count((uint64_t)(run->requests_per_second + 0.5), rate),
             stats->seconds_truncated ? " (the chart shows the first hour)" : "");
    open_svg(out, "Throughput per second, by outcome", subtitle);
    for (int id = 0; id < stats->outcome_count; id++)
        colors[id] =
            outcome_color(&stats->outcomes[id], stats->outcomes[id].class_ == LT_CLASS_ERROR ? errors++ : 0);
    for (int s = 0; s < seconds; s++) {
        uint64_t total = 0;
        for (int id = 0; stats->seconds[s] != NULL && id < stats->outcome_count; id++)
            total += stats->seconds[s]->counts[id];
        if (lt_run_second_rate(run, s, total) > top)
            top = lt_run_second_rate(run, s, total);
    }
    if (seconds == 0 || top <= 0) {
        no_data(out);
        close_svg(out);
        return;
    }
    step = nice_step(top, 5);
    top = ceil(top / step) * step;
    linear_y_axis(out, top, step, "requests per second");
    span = time_span(run);
    for (int s = 0; s < seconds; s++) {
        double base = PLOT_TOP + PLOT_HEIGHT, x = time_x(s, span),
               bar = time_x(second_end(s, span), span) - x;
        for (int id = 0; stats->seconds[s] != NULL && id < stats->outcome_count; id++) {
            double height = PLOT_HEIGHT * lt_run_second_rate(run, s, stats->seconds[s]->counts[id]) / top;
            if (stats->seconds[s]->counts[id] == 0)
                continue;
            strbuf_appendf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                           x + (bar > 6 ? 1 : 0), base - height, bar > 6 ? bar - 2 : bar + 0.3, height,
                           colors[id]);
            base -= height;
        }
    }
    seconds_axis(out, span);
    for (int id = 0; id < stats->outcome_count; id++) {
        if (stats->totals[id] == 0)
            continue;
        if (rows == LEGEND_ROWS - 1 && stats->outcome_count - id > 1) {
            legend_entry(out, rows, "#d1d5db", "more outcomes", "(see the table)", false);
            break;
        }
        lt_outcome_label(&stats->outcomes[id], label, sizeof(label));
        legend_entry(out, rows++, colors[id], label, lt_format_count(stats->totals[id], count), false);
    }
    close_svg(out);
}

void lt_charts_latency(const lt_run_t *run, strbuf_t *out)
{
    static const struct {
        const char *name;
        double percentile;
        const char *color;
    } series[] = {
        {"p50", 50, "#2e9e5b"}, {"p90", 90, "#4c72b0"}, {"p99", 99, "#dd8452"}, {"max", 100, "#c44e52"}};
    const lt_stats_t *stats = run->stats;
    int seconds = lt_run_seconds(run), low = 0, high = 0;
    double smallest = INFINITY, largest = 0, span = time_span(run);
    char subtitle[200];

    snprintf(subtitle, sizeof(subtitle), "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms over the run%s",
             run->p50_ms, run->p90_ms, run->p99_ms, run->max_ms,
             run->options->rate > 0 ? "; open loop: from the scheduled send times" : "");
    open_svg(out, "Latency percentiles per second", subtitle);
    for (int s = 0; s < seconds; s++) {
        if (stats->seconds[s] == NULL || stats->seconds[s]->latency.total == 0)
            continue;
        double p50 = (double)lt_histogram_percentile(&stats->seconds[s]->latency, 50) / 1e6;
        double max = (double)stats->seconds[s]->latency.max / 1e6;
        if (p50 > 0 && p50 < smallest)
            smallest = p50;
        if (max > largest)
            largest = max;
    }
    if (largest <= 0) {
        no_data(out);
        close_svg(out);
        return;
    }
    if (!isfinite(smallest))
        smallest = largest;
    low = (int)floor(log10(smallest));
    high = (int)ceil(log10(largest));
    if (high <= low)
        high = low + 1;
    log_y_axis(out, low, high);
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
        bool open = false;
        for (int s = 0; s < seconds; s++) {
            const lt_second_t *slot = stats->seconds[s];
            double ms, x = time_x((s + second_end(s, span)) / 2, span);
            if (slot == NULL || slot->latency.total == 0)
                continue;
            ms = (double)(series[k].percentile >= 100
                              ? slot->latency.max
                              : lt_histogram_percentile(&slot->latency, series[k].percentile)) /
                 1e6;
            strbuf_appendf(out, "%s%.2f,%.2f",
                           open ? " " : "<polyline fill=\"none\" stroke-width=\"2\" points=\"", x,
                           log_y(ms, low, high));
            open = true;
        }
        if (open)
            strbuf_appendf(out, "\" stroke=\"%s\"%s/>\n", series[k].color,
                           series[k].percentile >= 100 ? " stroke-dasharray=\"5 3\"" : "");
        /* with few seconds a line is too short to see: mark every point */
        for (int s = 0; seconds <= 60 && s < seconds; s++) {
            const lt_second_t *slot = stats->seconds[s];
            double ms;
            if (slot == NULL || slot->latency.total == 0)
                continue;
            ms = (double)(series[k].percentile >= 100
                              ? slot->latency.max
                              : lt_histogram_percentile(&slot->latency, series[k].percentile)) /
                 1e6;
            strbuf_appendf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                           time_x((s + second_end(s, span)) / 2, span), log_y(ms, low, high),
                           series[k].color);
        }
        legend_entry(out, (int)k, series[k].color, series[k].name, NULL, true);
    }
    seconds_axis(out, span);
    close_svg(out);
}

void lt_charts_histogram(const lt_run_t *run, strbuf_t *out)
{
    static const struct {
        const char *name;
        double percentile;
        const char *color;
    } marks[] = {{"p50", 50, "#2e9e5b"}, {"p99", 99, "#dd8452"}, {"p99.9", 99.9, "#c44e52"}};
    double previous_x = -100;
    int lift = 0;
    const lt_histogram_t *latency = &run->stats->latency;
    int first_bin = 0, last_bin = 0, bins, low, high;
    double shares[BINS_PER_DECADE * 16] = {0}, top = 0, step, width;
    char subtitle[160], count[32], label[32];

    snprintf(subtitle, sizeof(subtitle), "%s latencies, share of requests per bin (%d bins per tenfold)",
             lt_format_count(latency->total, count), BINS_PER_DECADE);
    open_svg(out, "Latency distribution", subtitle);
    if (latency->total == 0) {
        no_data(out);
        close_svg(out);
        return;
    }
    /* bins of a tenth of a decade, from the decade of the smallest latency to that of the largest */
    low = (int)floor(log10((double)(latency->min > 0 ? latency->min : 1) / 1e6));
    high = (int)ceil(log10((double)(latency->max > 0 ? latency->max : 1) / 1e6) + 1e-9);
    if (high <= low)
        high = low + 1;
    if (high - low > 15)
        low = high - 15;
    bins = (high - low) * BINS_PER_DECADE;
    for (size_t i = 0; i < latency->bucket_count; i++) {
        uint64_t lower, upper;
        double ms;
        int bin;
        if (latency->counts[i] == 0)
            continue;
        lt_histogram_bucket_range(latency, i, &lower, &upper);
        ms = ((double)lower + (double)(upper - lower) / 2) / 1e6;
        bin = (int)floor((log10(ms > 0 ? ms : 1e-6) - low) * BINS_PER_DECADE);
        bin = bin < 0 ? 0 : bin >= bins ? bins - 1 : bin;
        shares[bin] += 100.0 * (double)latency->counts[i] / (double)latency->total;
    }
    for (int b = 0; b < bins; b++) {
        if (shares[b] > top)
            top = shares[b];
    }
    first_bin = 0;
    last_bin = bins - 1;
    step = nice_step(top, 5);
    top = ceil(top / step) * step;
    linear_y_axis(out, top, step, "% of requests");
    width = PLOT_WIDTH / (last_bin - first_bin + 1);
    for (int b = first_bin; b <= last_bin; b++) {
        double height = PLOT_HEIGHT * shares[b] / top;
        if (shares[b] <= 0)
            continue;
        strbuf_appendf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#4c72b0\"/>\n",
                       PLOT_LEFT + (b - first_bin) * width + 1, PLOT_TOP + PLOT_HEIGHT - height, width - 2,
                       height);
    }
    /* the x axis: decades */
    strbuf_appendf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", PLOT_LEFT,
                   PLOT_TOP + PLOT_HEIGHT, PLOT_LEFT + PLOT_WIDTH, PLOT_TOP + PLOT_HEIGHT, AXIS_COLOR);
    for (int decade = low; decade <= high; decade++) {
        double x = PLOT_LEFT + PLOT_WIDTH * (decade - low) / (high - low);
        format_ms(pow(10, decade), label, sizeof(label));
        strbuf_appendf(out,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
                       x, PLOT_TOP + PLOT_HEIGHT, x, PLOT_TOP + PLOT_HEIGHT + 5, AXIS_COLOR, x,
                       PLOT_TOP + PLOT_HEIGHT + 18, MUTED_COLOR, label);
    }
    strbuf_appendf(
        out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">latency (log scale)</text>\n",
        PLOT_LEFT + PLOT_WIDTH / 2, PLOT_TOP + PLOT_HEIGHT + 38, MUTED_COLOR);
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
        double ms = (double)lt_histogram_percentile(latency, marks[m].percentile) / 1e6;
        double x = PLOT_LEFT + PLOT_WIDTH * (log10(ms > 0 ? ms : 1e-6) - low) / (high - low);
        char note[48];
        if (x < PLOT_LEFT)
            x = PLOT_LEFT;
        if (x > PLOT_LEFT + PLOT_WIDTH)
            x = PLOT_LEFT + PLOT_WIDTH;
        strbuf_appendf(
            out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"4 3\"/>\n",
            x, PLOT_TOP, x, PLOT_TOP + PLOT_HEIGHT, marks[m].color);
        snprintf(note, sizeof(note), "%.3f ms", ms);
        legend_entry(out, (int)m, marks[m].color, marks[m].name, note, true);
        /* labels of nearby marks would overlap: step each one down below its neighbour */
        lift = x - previous_x < 36 ? lift + 1 : 0;
        previous_x = x;
        strbuf_appendf(out,
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" fill=\"%s\" "
                       "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">%s</text>\n",
                       x, PLOT_TOP + 10 + lift * 13, marks[m].color, marks[m].name);
    }
    close_svg(out);
}
