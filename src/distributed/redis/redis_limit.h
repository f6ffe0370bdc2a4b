/*
 * redis_limit: the cluster-wide rate limits of the distributed mode — GCRA (core/rate.h) in one
 * Lua script, so every instance draws from the same buckets and a request costs one round trip.
 *
 *   flashsale:{limits}:NAME   string: the client's TAT in microseconds of Redis' clock, expiring
 *                             (PX) when the TAT passes, since a past TAT carries no state
 *
 * NAME is the limiter's name of the client ("purchase:ip:203.0.113.7", "login:user:alice"). Every
 * limit key shares the hash tag {limits}, so one script can check a request's IP and buyer
 * atomically — also on Redis Cluster, where that one slot carries the limiter. Redis' clock
 * decides, as it does for purchases, so instances with skewed clocks still agree.
 */
#ifndef FLASHSALE_REDIS_LIMIT_H
#define FLASHSALE_REDIS_LIMIT_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rate.h"
#include "distributed/redis/redis_client.h"

#define REDIS_LIMIT_KEY_PREFIX "flashsale:{limits}:"
/* The prefix, a scope and kind, and a user id of up to 255 bytes. */
#define REDIS_LIMIT_KEY_MAX  320
#define REDIS_LIMIT_KEYS_MAX 4

/*
 * KEYS: one per limit. ARGV: for each key, its emission interval and tolerance in microseconds.
 * Returns 0 when the request is allowed (every TAT advanced), else the microseconds until it
 * would be (nothing changed).
 */
extern redis_script_t redis_limit_script;

/* Writes the key of a client's NAME into out (REDIS_LIMIT_KEY_MAX bytes); returns its length, or
 * 0 when the name is too long. */
size_t redis_limit_key(char *out, const char *name, size_t name_len);

/* Sends one check of count (1..REDIS_LIMIT_KEYS_MAX) keys, each held to its rate. */
void redis_limit_check(redis_client_t *client, const char *const *keys, const size_t *key_lens,
                       const rate_t *const *rates, size_t count, redis_client_cb cb, void *ctx);

/* The script's answer: 0 and *retry_after_us = 0 when allowed, 0 and the wait when refused, -1
 * for anything that is not an answer. */
int redis_limit_decode(const redisReply *reply, int64_t *retry_after_us);

#endif
