#include "distributed/redis/redis_limit.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* One Lua line per C line, which clang-format would reflow. */
/* clang-format off */
/*
 * Times are microseconds (below 2^53 until the year 2255, so Lua's doubles hold them exactly) and
 * are written back with %.0f, because Lua's own number formatting switches to exponents.
 */
redis_script_t redis_limit_script = {.body =
    "#!lua\n"
    "local time = redis.call('TIME')\n"
    "local now = tonumber(time[1]) * 1000000 + tonumber(time[2])\n"
    "local tats = {}\n"
    "local wait = 0\n"
    "for i, key in ipairs(KEYS) do\n"
    "  local tat = tonumber(redis.call('GET', key)) or now\n"
    "  if tat < now then tat = now end\n"
    "  local late = tat - now - tonumber(ARGV[2 * i])\n"
    "  if late > 0 then\n"
    "    if late > wait then wait = late end\n"
    "  else\n"
    "    tats[i] = tat + tonumber(ARGV[2 * i - 1])\n"
    "  end\n"
    "end\n"
    "if wait > 0 then return wait end\n"
    "for i, key in ipairs(KEYS) do\n"
    "  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000))\n"
    "end\n"
    "return 0\n"};
/* clang-format on */

size_t redis_limit_key(char *out, const char *name, size_t name_len)
{
    size_t prefix_len = sizeof(REDIS_LIMIT_KEY_PREFIX) - 1;

    if (prefix_len + name_len >= REDIS_LIMIT_KEY_MAX)
        return 0;
    memcpy(out, REDIS_LIMIT_KEY_PREFIX, prefix_len);
    memcpy(out + prefix_len, name, name_len);
    out[prefix_len + name_len] = '\0';
    return prefix_len + name_len;
}

void redis_limit_check(redis_client_t *client, const char *const *keys, const size_t *key_lens,
                       const rate_t *const *rates, size_t count, redis_client_cb cb, void *ctx)
{
    const char *argv[REDIS_LIMIT_KEYS_MAX * 3];
    size_t lens[REDIS_LIMIT_KEYS_MAX * 3];
    char numbers[REDIS_LIMIT_KEYS_MAX * 2][24];

    assert(count >= 1 && count <= REDIS_LIMIT_KEYS_MAX);
    for (size_t i = 0; i < count; ++i) {
        argv[i] = keys[i];
        lens[i] = key_lens[i];
        snprintf(numbers[2 * i], sizeof(numbers[0]), "%" PRId64, rates[i]->interval_us);
        snprintf(numbers[2 * i + 1], sizeof(numbers[0]), "%" PRId64, rates[i]->tolerance_us);
        argv[count + 2 * i] = numbers[2 * i];
        lens[count + 2 * i] = strlen(numbers[2 * i]);
        argv[count + 2 * i + 1] = numbers[2 * i + 1];
        lens[count + 2 * i + 1] = strlen(numbers[2 * i + 1]);
    }
    redis_client_script(client, &redis_limit_script, (int)count, (int)(count * 3), argv, lens, cb, ctx);
}

int redis_limit_decode(const redisReply *reply, int64_t *retry_after_us)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer < 0)
        return -1;
    *retry_after_us = reply->integer;
    return 0;
}
