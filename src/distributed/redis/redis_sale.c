#include "distributed/redis/redis_sale.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distributed/outbox.h"

void redis_sale_keys(redis_sale_keys_t *keys, const char *sku)
{
    assert(strlen(sku) <= SALE_SKU_MAX);
    keys->sale_len = (size_t)snprintf(keys->sale, sizeof(keys->sale), OUTBOX_KEY_PREFIX "{%s}:sale", sku);
    keys->buyers_len =
        (size_t)snprintf(keys->buyers, sizeof(keys->buyers), OUTBOX_KEY_PREFIX "{%s}:buyers", sku);
    keys->orders_len =
        (size_t)snprintf(keys->orders, sizeof(keys->orders), OUTBOX_KEY_PREFIX "{%s}:orders", sku);
}

const char *const redis_sale_fields[REDIS_SALE_FIELD_COUNT] = {
    "sale_id", "product_name", "initial_stock", "stock", "start_ms", "end_ms", "created_ms",
};

int redis_parse_int64(const char *text, size_t len, int64_t *value)
{
    char buffer[24];
    if (len == 0 || len >= sizeof(buffer))
        return -1;
    memcpy(buffer, text, len);
    buffer[len] = '\0';
    char *end;
    errno = 0;
    long long parsed = strtoll(buffer, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *value = parsed;
    return 0;
}

int redis_reply_int64(const redisReply *reply, int64_t *value)
{
    if (reply->type == REDIS_REPLY_INTEGER) {
        *value = reply->integer;
        return 0;
    }
    if (reply->type != REDIS_REPLY_STRING)
        return -1;
    return redis_parse_int64(reply->str, reply->len, value);
}

int redis_sale_decode(redisReply *const *fields, sale_t *sale)
{
    for (int i = 0; i < REDIS_SALE_FIELD_COUNT; i++)
        if (fields[i]->type != REDIS_REPLY_STRING)
            return -1;
    int64_t sale_id;
    if (redis_reply_int64(fields[0], &sale_id) != 0 || sale_id <= 0 ||
        fields[1]->len > SALE_PRODUCT_NAME_MAX || redis_reply_int64(fields[2], &sale->initial_stock) != 0 ||
        redis_reply_int64(fields[3], &sale->stock) != 0 ||
        redis_reply_int64(fields[4], &sale->start_ms) != 0 ||
        redis_reply_int64(fields[5], &sale->end_ms) != 0 ||
        redis_reply_int64(fields[6], &sale->created_ms) != 0)
        return -1;
    sale->sale_id = (uint64_t)sale_id;
    memcpy(sale->product_name, fields[1]->str, fields[1]->len);
    sale->product_name[fields[1]->len] = '\0';
    return 0;
}

int redis_sale_purchase_reply_check(const redisReply *reply, size_t count)
{
    if (reply->type == REDIS_REPLY_NIL)
        return 0;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != count + 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    return 0;
}

int redis_sale_set_purchase(sale_purchase_t *purchase, const char *number, size_t number_len, const char *ms,
                            size_t ms_len)
{
    if (number_len == 0 || number_len >= sizeof(purchase->purchase_no) ||
        redis_parse_int64(ms, ms_len, &purchase->purchased_ms) != 0)
        return -1;
    memcpy(purchase->purchase_no, number, number_len);
    purchase->purchase_no[number_len] = '\0';
    return 0;
}

int redis_sale_decode_buyer(const redisReply *value, sale_purchase_t *purchase)
{
    const char *bar = memchr(value->str, '|', value->len);
    if (bar == NULL)
        return -1;
    size_t number_len = (size_t)(bar - value->str);
    return redis_sale_set_purchase(purchase, value->str, number_len, bar + 1, value->len - number_len - 1);
}

int redis_sale_purchase_decode(const redisReply *reply, size_t index, sale_purchase_t *purchase)
{
    if (reply->type == REDIS_REPLY_NIL)
        return REDIS_PURCHASE_NO_SALE;
    const redisReply *result = reply->element[index + 2];
    if (result->type == REDIS_REPLY_STRING)
        return redis_sale_decode_buyer(result, purchase) == 0 ? REDIS_PURCHASE_ALREADY : -1;
    if (result->type != REDIS_REPLY_INTEGER)
        return -1;
    if (result->integer > 0) {
        int64_t sale_id;
        if (redis_reply_int64(reply->element[0], &sale_id) != 0 || sale_id <= 0 ||
            redis_reply_int64(reply->element[1], &purchase->purchased_ms) != 0)
            return -1;
        sale_format_purchase_no(purchase->purchase_no, (uint64_t)sale_id, (uint64_t)result->integer);
        return REDIS_PURCHASE_SUCCESS;
    }
    switch (-result->integer) {
    case REDIS_PURCHASE_NOT_ACTIVE:
    case REDIS_PURCHASE_SOLD_OUT:
    case REDIS_PURCHASE_NOT_DECIDED:
        return (int)-result->integer;
    default:
        return -1;
    }
}

/* The scripts are laid out one Lua line per C line, which clang-format would reflow. */
/* clang-format off */

/*
 * Redis' clock, in milliseconds, as a number and as the exact decimal text (Lua's number
 * formatting would switch to exponents for large values).
 */
#define LUA_NOW \
    "local time = redis.call('TIME')\n" \
    "local now_text = time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000))\n" \
    "local now = tonumber(now_text)\n"

/* Creates the consumer group from the stream's start, so no order can precede it. */
#define LUA_CREATE_GROUP \
    "redis.pcall('XGROUP', 'CREATE', KEYS[3], '" OUTBOX_CONSUMER_GROUP "', '0', 'MKSTREAM')\n"

/* Reads a stream entry's field list into a table, and its sequence from its ID. */
#define LUA_ENTRY_FIELDS \
    "local function entry_fields(entry)\n" \
    "  local fields = {}\n" \
    "  for i = 1, #entry[2], 2 do fields[entry[2][i]] = entry[2][i + 1] end\n" \
    "  return fields\n" \
    "end\n" \
    "local function entry_sequence(entry) return string.match(entry[1], '^(%d+)') end\n"

/*
 * The decision of a batch of purchases of one sale, each in sale_decide's order: buyer, window,
 * stock. The batch is one atomic step, and so is each purchase in it: decided, recorded and its
 * order queued together. The sale is read, the clock taken, the counters written and the stock
 * published once per batch; per purchase only two commands: a success is HSETNX (the buyer check
 * and its record in one) and XADD, a refusal one HGET. Every redis.call costs about a microsecond
 * of Redis' one thread, more than the command itself, and so does every reply element, so the
 * entry holds only what cannot be derived (its ID is the sequence, its key the sku) and a success
 * answers a bare sequence: measured with redis-benchmark in batches of 50 with appendfsync
 * always, 7.5 us of Redis per purchase with HGET + HSET, six entry fields and {code, number,
 * time} results; 5.2 us like this.
 * XADD is the one write that can fail (an explicit ID at or below the stream's top); then the
 * purchase's HSETNX is undone, and it and the ones after it are answered "not decided" with
 * nothing of theirs written. Numbers go to redis.call as text made by tostring (exact up to
 * 10^14): Redis would write a Lua number such as 100000000 as "1e+08".
 */
redis_script_t redis_sale_purchase_script = {
    .body =
        "#!lua\n"
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'stock', 'start_ms', 'end_ms', 'next_sequence')\n"
        "if not sale[1] then return false end\n"
        LUA_NOW
        "local open = now >= tonumber(sale[3]) and now < tonumber(sale[4])\n"
        "local stock = tonumber(sale[2])\n"
        "local sequence = tonumber(sale[5])\n"
        "local results = {sale[1], now_text}\n"
        "local sold = 0\n"
        "for i = 2, #ARGV do\n"
        "  local user = ARGV[i]\n"
        "  local result\n"
        "  if open and stock > 0 then\n"
        "    local sequence_text = tostring(sequence)\n"
        "    local buyer = 'FS' .. sale[1] .. '-' .. sequence_text .. '|' .. now_text\n"
        "    if redis.call('HSETNX', KEYS[2], user, buyer) == 1 then\n"
        "      local added = redis.pcall('XADD', KEYS[3], sequence_text .. '-0',\n"
        "        '" OUTBOX_FIELD_SALE_ID "', sale[1], '" OUTBOX_FIELD_USER_ID "', user,\n"
        "        '" OUTBOX_FIELD_PURCHASED_MS "', now_text)\n"
        "      if type(added) == 'table' and added.err then\n"
        "        redis.call('HDEL', KEYS[2], user)\n"
        "        for j = i, #ARGV do results[j + 1] = -5 end\n"
        "        break\n"
        "      end\n"
        "      result = sequence\n"
        "      sequence = sequence + 1\n"
        "      stock = stock - 1\n"
        "      sold = sold + 1\n"
        "    else\n"
        "      result = redis.call('HGET', KEYS[2], user)\n"
        "    end\n"
        "  else\n"
        "    result = redis.call('HGET', KEYS[2], user) or (open and -4 or -3)\n"
        "  end\n"
        "  results[i + 1] = result\n"
        "end\n"
        "if sold > 0 then\n"
        "  redis.call('HSET', KEYS[1], 'next_sequence', tostring(sequence), 'stock', tostring(stock))\n"
        "  redis.call('PUBLISH', '" OUTBOX_STOCK_CHANNEL "', ARGV[1] .. ' ' .. tostring(stock) .. ' ' .. sale[1])\n"
        "end\n"
        "return results\n",
};

/*
 * A sale just created in PostgreSQL. Keys left by an older incarnation of the sku (deleted in
 * PostgreSQL while Redis was unreachable) are replaced: their orders belong to a sale that no
 * longer exists, and the worker would not persist them anyway.
 */
redis_script_t redis_sale_create_script = {
    .body =
        "#!lua\n"
        "local current = redis.call('HGET', KEYS[1], 'sale_id')\n"
        "if current == ARGV[1] then return 0 end\n"
        "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
        "redis.call('HSET', KEYS[1], 'sale_id', ARGV[1], 'product_name', ARGV[2],\n"
        "  'initial_stock', ARGV[3], 'stock', ARGV[3], 'start_ms', ARGV[4], 'end_ms', ARGV[5],\n"
        "  'created_ms', ARGV[6], 'next_sequence', 1)\n"
        LUA_CREATE_GROUP
        "return 1\n",
};

redis_script_t redis_sale_read_script = {
    .body =
        "#!lua\n"
        LUA_NOW
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'product_name', 'initial_stock',\n"
        "  'stock', 'start_ms', 'end_ms', 'created_ms')\n"
        "if not sale[1] then return {now_text} end\n"
        "table.insert(sale, 1, now_text)\n"
        "return sale\n",
};

/* Checked again here, on Redis' clock, because the sale may have started since it was read. */
redis_script_t redis_sale_update_script = {
    .body =
        "#!lua\n"
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'start_ms')\n"
        "if sale[1] ~= ARGV[1] then return 1 end\n"
        LUA_NOW
        "if now >= tonumber(sale[2]) or redis.call('HLEN', KEYS[2]) > 0 then return 2 end\n"
        "redis.call('HSET', KEYS[1], 'product_name', ARGV[2], 'initial_stock', ARGV[3],\n"
        "  'stock', ARGV[3], 'start_ms', ARGV[4], 'end_ms', ARGV[5])\n"
        "return 0\n",
};

redis_script_t redis_sale_delete_script = {
    .body =
        "#!lua\n"
        "if redis.call('HGET', KEYS[1], 'sale_id') ~= ARGV[1] then return 0 end\n"
        "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
        "return 1\n",
};

redis_script_t redis_sale_page_script = {
    .body =
        "#!lua\n"
        LUA_ENTRY_FIELDS
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'next_sequence')\n"
        "if not sale[1] then return false end\n"
        "local result = {sale[1], tostring(tonumber(sale[2]) - 1)}\n"
        "for _, entry in ipairs(redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])) do\n"
        "  local order = entry_fields(entry)\n"
        "  if order." OUTBOX_FIELD_SALE_ID " == sale[1] then\n"
        "    local sequence = entry_sequence(entry)\n"
        "    table.insert(result, sequence)\n"
        "    table.insert(result, 'FS' .. sale[1] .. '-' .. sequence)\n"
        "    table.insert(result, order." OUTBOX_FIELD_USER_ID ")\n"
        "    table.insert(result, order." OUTBOX_FIELD_PURCHASED_MS ")\n"
        "  end\n"
        "end\n"
        "return result\n",
};

/* The stream's last ID ever added (XTRIM and XDEL do not lower it) as a sequence, or -1. */
#define LUA_STREAM_LAST \
    "local function stream_last(key)\n" \
    "  if redis.call('EXISTS', key) == 0 then return -1 end\n" \
    "  local info = redis.call('XINFO', 'STREAM', key)\n" \
    "  for i = 1, #info, 2 do\n" \
    "    if info[i] == 'last-generated-id' then return tonumber(string.match(info[i + 1], '^(%d+)')) end\n" \
    "  end\n" \
    "  return -1\n" \
    "end\n"

/*
 * The first step of rebuilding an absent sale: copies the orders of the sale still in its stream
 * into the staging hash, before the caller reads PostgreSQL's buyers into it too. In this order,
 * because the worker deletes an entry once PostgreSQL committed it: an order gone from the stream
 * by now was committed before PostgreSQL is read, and one still here is copied, so the union
 * misses none. Read the other way round, an order committed and deleted between the two reads
 * would be in neither. It also tells the highest sequence the stream ever took: every success
 * is XADDed with its sequence, so while the stream lives this is the last number issued.
 */
redis_script_t redis_sale_snapshot_script = {
    .body =
        "#!lua\n"
        LUA_ENTRY_FIELDS
        LUA_STREAM_LAST
        "local copied = 0\n"
        "for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do\n"
        "  local order = entry_fields(entry)\n"
        "  if order." OUTBOX_FIELD_SALE_ID " == ARGV[1] then\n"
        "    redis.call('HSET', KEYS[2], order." OUTBOX_FIELD_USER_ID ",\n"
        "      'FS' .. ARGV[1] .. '-' .. entry_sequence(entry) .. '|' .. order." OUTBOX_FIELD_PURCHASED_MS ")\n"
        "    copied = copied + 1\n"
        "  end\n"
        "end\n"
        "if copied > 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end\n"
        "return {copied, stream_last(KEYS[1])}\n",
};

/*
 * Recreates an absent sale from its buyers staged in KEYS[4] (the stream's, then PostgreSQL's:
 * see the snapshot script). It acts only when the sale hash is absent: while it is absent no
 * purchase can be decided, so no order has been added to the stream since the snapshot, and a
 * present hash is never touched — stock is never reset under running purchases. The next
 * sequence stays above the floor the reconciler computed and the stream's last ID, so purchase
 * numbers are not reused and XADD's explicit IDs keep increasing (reconcile.h says how the floor
 * covers numbers lost with the stream).
 */
redis_script_t redis_sale_rebuild_script = {
    .body =
        "#!lua\n"
        LUA_STREAM_LAST
        "local current = redis.call('HGET', KEYS[1], 'sale_id')\n"
        "if current == ARGV[1] then redis.call('DEL', KEYS[4]) return 0 end\n"
        "if current then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end\n"
        "local staged = redis.call('HGETALL', KEYS[4])\n"
        "for i = 1, #staged, 2 do redis.call('HSETNX', KEYS[2], staged[i], staged[i + 1]) end\n"
        "local last = math.max(tonumber(ARGV[7]), stream_last(KEYS[3]))\n"
        "local stock = math.max(tonumber(ARGV[3]) - redis.call('HLEN', KEYS[2]), 0)\n"
        "redis.call('HSET', KEYS[1], 'sale_id', ARGV[1], 'product_name', ARGV[2],\n"
        "  'initial_stock', ARGV[3], 'stock', stock, 'start_ms', ARGV[4], 'end_ms', ARGV[5],\n"
        "  'created_ms', ARGV[6], 'next_sequence', last + 1)\n"
        "redis.call('DEL', KEYS[4])\n"
        LUA_CREATE_GROUP
        "return 1\n",
};

/*
 * A sale Redis has but is behind PostgreSQL on (reconcile.c): the orders PostgreSQL holds and
 * Redis lacks come back as buyers, the stock is counted again from the buyers (every success
 * records one and takes one unit), and the numbers continue at a new generation. One atomic step,
 * so purchases see the sale before or after, and a second reconciler finds it done.
 */
redis_script_t redis_sale_repair_script = {
    .body =
        "#!lua\n"
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'next_sequence', 'initial_stock')\n"
        "if sale[1] ~= ARGV[1] or tonumber(sale[2]) >= tonumber(ARGV[2]) then\n"
        "  redis.call('DEL', KEYS[3])\n"
        "  return 0\n"
        "end\n"
        "local staged = redis.call('HGETALL', KEYS[3])\n"
        "for i = 1, #staged, 2 do redis.call('HSETNX', KEYS[2], staged[i], staged[i + 1]) end\n"
        "local stock = math.max(tonumber(sale[3]) - redis.call('HLEN', KEYS[2]), 0)\n"
        "redis.call('HSET', KEYS[1], 'next_sequence', ARGV[2], 'stock', tostring(stock))\n"
        "redis.call('DEL', KEYS[3])\n"
        "return 1\n",
};

/*
 * The buyers of a sold-out sale, read in the same step as its stock: with the stock at 0 no
 * purchase of this sale_id can succeed any more, so the set is final (see sold_out_cache.h).
 * Bounded, so that one HGETALL never stalls Redis for long.
 */
redis_script_t redis_sale_sold_out_script = {
    .body =
        "#!lua flags=no-writes\n"
        "local sale = redis.call('HMGET', KEYS[1], 'sale_id', 'stock', 'start_ms', 'end_ms')\n"
        "if not sale[1] or tonumber(sale[2]) > 0 then return false end\n"
        "if redis.call('HLEN', KEYS[2]) > tonumber(ARGV[1]) then return false end\n"
        "return {sale[1], sale[3], sale[4], redis.call('HGETALL', KEYS[2])}\n",
};

/* clang-format on */

int redis_sale_load_scripts(redisContext *redis, char *err, size_t err_size)
{
    redis_script_t *scripts[] = {
        &redis_sale_purchase_script, &redis_sale_create_script,  &redis_sale_read_script,
        &redis_sale_update_script,   &redis_sale_delete_script,  &redis_sale_page_script,
        &redis_sale_snapshot_script, &redis_sale_rebuild_script, &redis_sale_repair_script,
        &redis_sale_sold_out_script,
    };
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
        if (redis_script_load(redis, scripts[i], err, err_size) != 0)
            return -1;
    return 0;
}
