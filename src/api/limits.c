#include "api/limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/call.h"
#include "core/forwarded.h"
#include "core/log.h"
#include "http/http_json.h"
#include "http/http_reply.h"
#include "http/http_server.h"

/* X-Forwarded-For headers read from one request; more are ignored (the rightmost matter). */
#define FORWARDED_HEADERS_MAX 16
/* "<route>:user:" and a user id of up to 255 bytes */
#define LIMIT_NAME_MAX 300

static const char *const route_names[API_LIMIT_ROUTE_COUNT] = {"purchases", "login"};

/* A request waiting for the engine's decision; freed when it comes. */
typedef struct {
    api_call_t *call;
    api_limits_proceed_fn proceed;
    api_limit_route_t route;
    size_t count;
    engine_limit_t limits[2];
    char names[2][LIMIT_NAME_MAX];
} pending_t;

static int64_t monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* Single-writer increment of a loop's own counter (see http_metrics.c). */
static void bump(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

int api_limits_init(api_limits_t *limits, const api_limits_options_t *options, char *err, size_t err_size)
{
    *limits = (api_limits_t){0};
    if (options->trusted_proxies != NULL)
        limits->trusted_proxies = *options->trusted_proxies;
    if ((limits->has_per_ip = options->per_ip != NULL))
        limits->per_ip = *options->per_ip;
    if ((limits->has_per_user = options->per_user != NULL))
        limits->per_user = *options->per_user;
    if (!api_limits_enabled(limits))
        return 0;
    crypto_shorthash_keygen(limits->hash_key);
    if ((limits->table = limiter_table_create(LIMITS_TABLE_CLIENTS)) == NULL) {
        snprintf(err, err_size, "out of memory for the rate limiter");
        return -1;
    }
    return 0;
}

void api_limits_dispose(api_limits_t *limits)
{
    limiter_table_destroy(limits->table);
    limits->table = NULL;
}

bool api_limits_enabled(const api_limits_t *limits)
{
    return limits->has_per_ip || limits->has_per_user;
}

void api_limits_client_address(const http_request_t *request, char *out)
{
    const api_limits_t *limits = &api_loop_of(request)->api->limits;
    h2o_req_t *req = request->req;
    struct sockaddr_storage peer_storage;
    cidr_address_t peer = {{0}}, client;
    forwarded_header_t headers[FORWARDED_HEADERS_MAX];
    size_t count = 0;

    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&peer_storage) == 0 ||
        cidr_address_from_sockaddr((struct sockaddr *)&peer_storage, &peer) != 0)
        memset(&peer, 0, sizeof(peer));
    if (limits->trusted_proxies.count > 0) {
        for (ssize_t at = -1; (at = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, at)) >= 0;) {
            /* keep the last ones: the walk reads from the right */
            if (count == FORWARDED_HEADERS_MAX) {
                memmove(headers, headers + 1, sizeof(headers) - sizeof(headers[0]));
                --count;
            }
            headers[count++] =
                (forwarded_header_t){req->headers.entries[at].value.base, req->headers.entries[at].value.len};
        }
    }
    client = forwarded_client(&limits->trusted_proxies, &peer, headers, count);
    cidr_format_address(&client, out);
}

static void reply_limited(const http_request_t *request, api_limit_route_t route, int64_t retry_after_us)
{
    int64_t milliseconds = retry_after_us <= 0 ? 1 : (retry_after_us + 999) / 1000;
    strbuf_t *body = http_reply_body(request);
    char seconds[24];
    int len = snprintf(seconds, sizeof(seconds), "%" PRId64, (milliseconds + 999) / 1000);

    bump(&api_loop_of(request)->counters->rate_limited[route]);
    h2o_add_header(&request->req->pool, &request->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                   h2o_strdup(&request->req->pool, seconds, (size_t)len).base, (size_t)len);
    strbuf_appendf(body,
                   "{\"success\":false,\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"too many requests; "
                   "retry in %" PRId64 " ms\",\"retryAfterMs\":%" PRId64 "}}",
                   milliseconds, milliseconds);
    http_reply_json(request, 429);
}

/* Writes the request's limit names and rates into limits (at most two); returns how many. */
static size_t name_limits(const http_request_t *request, api_limit_route_t route, const char *buyer,
                          engine_limit_t *out, char (*names)[LIMIT_NAME_MAX])
{
    const api_limits_t *limits = &api_loop_of(request)->api->limits;
    size_t count = 0;

    if (limits->has_per_ip) {
        char address[CIDR_ADDRESS_TEXT_MAX];
        api_limits_client_address(request, address);
        out[count] = (engine_limit_t){.name = names[count], .rate = &limits->per_ip};
        out[count].name_len =
            (size_t)snprintf(names[count], LIMIT_NAME_MAX, "%s:ip:%s", route_names[route], address);
        ++count;
    }
    if (limits->has_per_user && buyer != NULL) {
        int len = snprintf(names[count], LIMIT_NAME_MAX, "%s:user:%s", route_names[route], buyer);
        /* a login's username is matched in any case, so its bucket is too */
        if (route == API_LIMIT_LOGIN)
            for (char *c = names[count]; *c != '\0'; ++c)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        out[count] =
            (engine_limit_t){.name = names[count], .name_len = (size_t)len, .rate = &limits->per_user};
        ++count;
    }
    return count;
}

/* The process's own decision; true when allowed. */
static bool decide_here(api_limits_t *limits, const engine_limit_t *request_limits, size_t count,
                        int64_t *retry_after_us)
{
    limiter_key_t keys[2];

    for (size_t i = 0; i < count; ++i) {
        unsigned char hash[crypto_shorthash_BYTES];
        crypto_shorthash(hash, (const unsigned char *)request_limits[i].name, request_limits[i].name_len,
                         limits->hash_key);
        memcpy(&keys[i].key, hash, sizeof(keys[i].key));
        keys[i].rate = request_limits[i].rate;
    }
    return limiter_table_check(limits->table, keys, count, monotonic_us(), retry_after_us);
}

static void finish(api_call_t *call, api_limit_route_t route, bool allowed, int64_t retry_after_us,
                   api_limits_proceed_fn proceed)
{
    if (call->request.req == NULL) {
        api_call_end(call);
    } else if (!allowed) {
        reply_limited(&call->request, route, retry_after_us);
        api_call_end(call);
    } else {
        proceed(call);
    }
}

static void on_engine_decision(void *ctx, const engine_result_t *result)
{
    pending_t *pending = ctx;
    api_call_t *call = pending->call;
    api_loop_t *loop = api_loop_of(&call->request);
    api_limits_t *limits = &loop->api->limits;
    int64_t retry_after_us = result->retry_after_us;
    bool allowed = !result->limited;

    if (result->status != ENGINE_OK) {
        /* The shared buckets are out of reach: this process's own keep the limit per instance. */
        bump(&loop->counters->rate_limit_fallbacks);
        if (!atomic_exchange(&limits->fallback_logged, true))
            log_warn("api", "rate limits fall back to per-instance buckets: the engine's shared limiter does "
                            "not answer (logged once per outage; see flashsale_rate_limit_fallbacks_total)");
        allowed = decide_here(limits, pending->limits, pending->count, &retry_after_us);
    } else if (atomic_load_explicit(&limits->fallback_logged, memory_order_relaxed) &&
               atomic_exchange(&limits->fallback_logged, false)) {
        log_info("api", "rate limits are shared between instances again");
    }
    finish(call, pending->route, allowed, retry_after_us, pending->proceed);
    free(pending);
}

void api_limits_check(api_call_t *call, api_limit_route_t route, const char *buyer,
                      api_limits_proceed_fn proceed)
{
    api_loop_t *loop = api_loop_of(&call->request);
    api_limits_t *limits = &loop->api->limits;
    engine_limit_t request_limits[2];
    char names[2][LIMIT_NAME_MAX];
    int64_t retry_after_us = 0;
    pending_t *pending;
    size_t count;

    if (!api_limits_enabled(limits) ||
        (count = name_limits(&call->request, route, buyer, request_limits, names)) == 0) {
        proceed(call);
        return;
    }
    if (!engine_shares_limits(loop->engine)) {
        bool allowed = decide_here(limits, request_limits, count, &retry_after_us);
        finish(call, route, allowed, retry_after_us, proceed);
        return;
    }
    if ((pending = malloc(sizeof(*pending))) == NULL) {
        api_reply_unavailable(&call->request);
        api_call_end(call);
        return;
    }
    *pending = (pending_t){.call = call, .proceed = proceed, .route = route, .count = count};
    for (size_t i = 0; i < count; ++i) {
        memcpy(pending->names[i], names[i], request_limits[i].name_len + 1);
        pending->limits[i] = request_limits[i];
        pending->limits[i].name = pending->names[i];
    }
    engine_check_limits(loop->engine, pending->limits, count, on_engine_decision, pending);
}

const char *api_limit_route_name(api_limit_route_t route)
{
    return route_names[route];
}
