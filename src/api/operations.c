/*
 * operations: GET /health for load balancers (200, or 503 when a required check fails) and GET
 * /metrics for Prometheus: the server's request metrics, the API's purchase outcomes, then the
 * engine's own series.
 */
#include <inttypes.h>
#include <string.h>

#include "api/call.h"
#include "api/handlers.h"
#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_reply.h"
#include "http/http_server.h"

static void render_health(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;
    const api_t *api = api_loop_of(&call->request)->api;
    const char *status = "ok";
    bool serving = true;

    for (size_t i = 0; i < result->check_count; ++i) {
        if (result->checks[i].ok)
            continue;
        serving = serving && !result->checks[i].required;
        status = serving ? "degraded" : "unavailable";
    }
    strbuf_appendf(body, "{\"status\":\"%s\",\"uptime\":%.3f,\"checks\":{", status,
                   (double)(clock_monotonic_ms() - api->started_ms) / 1000.0);
    for (size_t i = 0; i < result->check_count; ++i) {
        const engine_check_t *check = &result->checks[i];
        strbuf_appendf(body, "%s\"%s\":{\"status\":\"%s\"", i > 0 ? "," : "", check->name,
                       check->ok ? "up" : "down");
        if (check->latency_ms >= 0)
            strbuf_appendf(body, ",\"latencyMs\":%.3f", check->latency_ms);
        if (check->detail != NULL) {
            strbuf_append_cstr(body, ",\"detail\":");
            http_json_string(body, check->detail, strlen(check->detail));
        }
        strbuf_append(body, "}", 1);
    }
    strbuf_append_cstr(body, "}}");
    http_reply_send(&call->request, serving ? 200 : 503, HTTP_CONTENT_TYPE_JSON, "no-store");
}

void api_get_health(const http_request_t *request)
{
    api_call_t *call = api_call_start(request, render_health, NULL);
    if (call != NULL)
        engine_health(api_loop_of(request)->engine, api_call_answer, call);
}

static uint64_t read_counter(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* The purchase outcomes of every loop, summed. */
static void render_outcomes(strbuf_t *out, const api_t *api)
{
    uint64_t unavailable = 0;

    strbuf_append_cstr(out, "# HELP flashsale_purchase_outcomes_total Purchase decisions, by outcome.\n"
                            "# TYPE flashsale_purchase_outcomes_total counter\n");
    for (size_t outcome = 0; outcome < SALE_OUTCOME_COUNT; ++outcome) {
        uint64_t sum = 0;
        for (size_t t = 0; t < api->loop_count; ++t)
            sum += read_counter(&api->counters[t].outcomes[outcome]);
        strbuf_appendf(out, "flashsale_purchase_outcomes_total{outcome=\"%s\"} %" PRIu64 "\n",
                       sale_outcome_label((sale_outcome_t)outcome), sum);
    }
    for (size_t t = 0; t < api->loop_count; ++t)
        unavailable += read_counter(&api->counters[t].unavailable);
    strbuf_appendf(out, "flashsale_purchase_outcomes_total{outcome=\"unavailable\"} %" PRIu64 "\n",
                   unavailable);
}

static void render_metrics(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;

    http_server_render_metrics(call->request.loop->server, body);
    render_outcomes(body, api_loop_of(&call->request)->api);
    strbuf_append(body, result->text, result->text_len);
    http_reply_send(&call->request, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

void api_get_metrics(const http_request_t *request)
{
    api_call_t *call = api_call_start(request, render_metrics, NULL);
    if (call != NULL)
        engine_metrics(api_loop_of(request)->engine, api_call_answer, call);
}
