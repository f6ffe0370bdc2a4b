/*
 * operations: GET /health for load balancers (200, or 503 when a required check fails) and GET
 * /metrics for Prometheus: the server's request metrics, the API's purchase outcomes, then the
 * engine's own series.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "api/call.h"
#include "api/handlers.h"
#include "api/limits.h"
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

/* The sum of one counter over every loop; member is its offset in api_counters_t. */
static uint64_t sum_counter(const api_t *api, size_t member)
{
    uint64_t sum = 0;
    for (size_t t = 0; t < api->loop_count; ++t)
        sum += read_counter((const _Atomic uint64_t *)((const char *)&api->counters[t] + member));
    return sum;
}

/* Bearer tokens (api/identity.c) and rate limits (api/limits.c). */
static void render_identity(strbuf_t *out, const api_t *api)
{
    strbuf_appendf(
        out,
        "# HELP flashsale_token_verifications_total Bearer tokens checked (signature and claims).\n"
        "# TYPE flashsale_token_verifications_total counter\n"
        "flashsale_token_verifications_total %" PRIu64 "\n"
        "# HELP flashsale_token_cache_hits_total Bearer tokens found verified in a loop's cache.\n"
        "# TYPE flashsale_token_cache_hits_total counter\n"
        "flashsale_token_cache_hits_total %" PRIu64 "\n",
        sum_counter(api, offsetof(api_counters_t, token_verifications)),
        sum_counter(api, offsetof(api_counters_t, token_cache_hits)));
    strbuf_append_cstr(out,
                       "# HELP flashsale_rate_limited_total Requests refused 429 by a rate limit, by route.\n"
                       "# TYPE flashsale_rate_limited_total counter\n");
    for (size_t route = 0; route < API_LIMIT_ROUTE_COUNT; ++route)
        strbuf_appendf(
            out, "flashsale_rate_limited_total{route=\"%s\"} %" PRIu64 "\n",
            api_limit_route_name((api_limit_route_t)route),
            sum_counter(api, offsetof(api_counters_t, rate_limited) + route * sizeof(_Atomic uint64_t)));
    strbuf_appendf(
        out,
        "# HELP flashsale_rate_limit_fallbacks_total Limit decisions this instance made alone because "
        "the shared limiter did not answer.\n"
        "# TYPE flashsale_rate_limit_fallbacks_total counter\n"
        "flashsale_rate_limit_fallbacks_total %" PRIu64 "\n"
        "# HELP flashsale_rate_limit_evictions_total Clients whose bucket was taken over because the "
        "in-process table was full.\n"
        "# TYPE flashsale_rate_limit_evictions_total counter\n"
        "flashsale_rate_limit_evictions_total %" PRIu64 "\n",
        sum_counter(api, offsetof(api_counters_t, rate_limit_fallbacks)),
        api->limits.table != NULL ? limiter_table_evictions(api->limits.table) : 0);
}

static void render_metrics(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;

    http_server_render_metrics(call->request.loop->server, body);
    render_outcomes(body, api_loop_of(&call->request)->api);
    api_events_render_metrics(api_loop_of(&call->request)->api->events, body);
    render_identity(body, api_loop_of(&call->request)->api);
    strbuf_append(body, result->text, result->text_len);
    http_reply_send(&call->request, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

void api_get_metrics(const http_request_t *request)
{
    api_call_t *call = api_call_start(request, render_metrics, NULL);
    if (call != NULL)
        engine_metrics(api_loop_of(request)->engine, api_call_answer, call);
}
