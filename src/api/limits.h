/*
 * limits: whether a request is over its rate limit, asked once by each limited route before the
 * engine decides anything — one module, as nginx's limit_req sits in front of an upstream, rather
 * than conditions spread through the handlers.
 *
 * Purchases and logins are limited per client IP (--rate-limit-ip) and per buyer
 * (--rate-limit-user), each a GCRA bucket (core/rate.h); a request counts against both at once and
 * is refused when either is empty: 429 RATE_LIMITED with Retry-After (seconds, rounded up) and
 * error.retryAfterMs. The client IP is the socket peer unless that is a --trusted-proxy, and then
 * X-Forwarded-For (core/forwarded.h). The buyer of a purchase is its identity (api/identity.h);
 * the buyer of a login is the username tried, in lower case.
 *
 * Where the buckets live: in the engine when it shares them between instances (the distributed
 * engine: one Redis script per request), else in this process's limiter_table (fixed memory, 16
 * bytes per client, LIMITS_TABLE_CLIENTS of them). When the engine cannot answer (Redis
 * unreachable), the process's table decides instead: each instance then limits on its own, which is
 * logged once and counted in flashsale_rate_limit_fallbacks_total.
 */
#ifndef FLASHSALE_API_LIMITS_H
#define FLASHSALE_API_LIMITS_H

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/cidr.h"
#include "core/limiter_table.h"
#include "core/rate.h"
#include "http/http_request.h"

typedef struct api_call api_call_t;

/* Clients the in-process table tracks at once: 16 MiB. */
#define LIMITS_TABLE_CLIENTS (1u << 20)

typedef enum {
    API_LIMIT_PURCHASES,
    API_LIMIT_LOGIN,
    API_LIMIT_ROUTE_COUNT,
} api_limit_route_t;

typedef struct {
    const rate_t *per_ip;   /* NULL: no per-IP limit */
    const rate_t *per_user; /* NULL: no per-buyer limit */
    const cidr_list_t *trusted_proxies;
} api_limits_options_t;

typedef struct {
    rate_t per_ip, per_user;
    bool has_per_ip, has_per_user;
    cidr_list_t trusted_proxies;
    limiter_table_t *table; /* NULL when no limit is set */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    atomic_bool fallback_logged;
} api_limits_t;

/* 0, or -1 with one line in err (out of memory). */
int api_limits_init(api_limits_t *limits, const api_limits_options_t *options, char *err, size_t err_size);
void api_limits_dispose(api_limits_t *limits);
bool api_limits_enabled(const api_limits_t *limits);

/* What a limited route does once its request is allowed; the call is the handler's. */
typedef void (*api_limits_proceed_fn)(api_call_t *call);

/*
 * Runs proceed(call) when the request is within its limits, now or after the engine's answer; or
 * replies 429 and ends the call; or, when the client left while the engine decided, just ends it.
 * buyer (a user id, or the login's username) is copied.
 */
void api_limits_check(api_call_t *call, api_limit_route_t route, const char *buyer,
                      api_limits_proceed_fn proceed);

/* The route's label in /metrics ("purchases", "login"). */
const char *api_limit_route_name(api_limit_route_t route);

/* The client's address as text (CIDR_ADDRESS_TEXT_MAX bytes), by the trusted-proxy rule. */
void api_limits_client_address(const http_request_t *request, char *out);

#endif
