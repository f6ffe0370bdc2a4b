#include "distributed/sold_out_cache.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buyer_index.h"
#include "core/log.h"
#include "distributed/redis/redis_sale.h"

typedef enum {
    SLOT_FREE,
    SLOT_LOADING,  /* the sold_out script is in flight; the slot is its context */
    SLOT_LOADED,   /* answers purchases */
    SLOT_DECLINED, /* nothing to copy, or the load failed, at used_at */
} slot_state_t;

struct sold_out_sale {
    sold_out_cache_t *cache;
    slot_state_t state;
    char sku[SALE_SKU_MAX + 1];
    sale_t sale; /* sale_id, start_ms and end_ms as Redis had them; stock 0 */
    buyer_index_t buyers;
    uint64_t connection; /* the client's connection count when it was loaded */
    uint64_t used_at;    /* h2o_now of the last answer, or of the decline */
};

struct sold_out_cache {
    h2o_loop_t *loop;
    redis_client_t *redis;
    sold_out_sale_t slots[SOLD_OUT_CACHE_SALES];
};

sold_out_cache_t *sold_out_cache_create(h2o_loop_t *loop, redis_client_t *redis)
{
    sold_out_cache_t *cache = calloc(1, sizeof(*cache));
    if (cache == NULL)
        return NULL;
    cache->loop = loop;
    cache->redis = redis;
    for (size_t i = 0; i < SOLD_OUT_CACHE_SALES; i++) {
        cache->slots[i].cache = cache;
        buyer_index_init(&cache->slots[i].buyers);
    }
    return cache;
}

static void free_slot(sold_out_sale_t *slot)
{
    assert(slot->state != SLOT_LOADING);
    buyer_index_dispose(&slot->buyers);
    slot->state = SLOT_FREE;
}

void sold_out_cache_destroy(sold_out_cache_t *cache)
{
    for (size_t i = 0; i < SOLD_OUT_CACHE_SALES; i++)
        if (cache->slots[i].state != SLOT_FREE)
            free_slot(&cache->slots[i]);
    free(cache);
}

/* The slot that holds sku in any state but free, or NULL. */
static sold_out_sale_t *slot_of(sold_out_cache_t *cache, const char *sku)
{
    for (size_t i = 0; i < SOLD_OUT_CACHE_SALES; i++) {
        sold_out_sale_t *slot = &cache->slots[i];
        if (slot->state != SLOT_FREE && strcmp(slot->sku, sku) == 0)
            return slot;
    }
    return NULL;
}

const sold_out_sale_t *sold_out_cache_find(sold_out_cache_t *cache, const char *sku)
{
    sold_out_sale_t *slot = slot_of(cache, sku);
    if (slot == NULL || slot->state != SLOT_LOADED)
        return NULL;
    if (slot->connection != redis_client_connection_count(cache->redis)) {
        free_slot(slot);
        return NULL;
    }
    slot->used_at = h2o_now(cache->loop);
    return slot;
}

uint64_t sold_out_cache_sale_id(const sold_out_sale_t *sale)
{
    return sale->sale.sale_id;
}

sale_outcome_t sold_out_cache_decide(const sold_out_sale_t *sale, const char *user_id, int64_t now_ms,
                                     sale_purchase_t *purchase)
{
    const buyer_entry_t *buyer = buyer_index_find(&sale->buyers, user_id, strlen(user_id));
    sale_outcome_t outcome = sale_decide(&sale->sale, buyer != NULL, now_ms);
    assert(outcome != SALE_OUTCOME_SUCCESS);
    if (buyer != NULL) {
        sale_format_purchase_no(purchase->purchase_no, sale->sale.sale_id, buyer->sequence);
        purchase->purchased_ms = buyer->purchased_ms;
    }
    return outcome;
}

/* Adds one buyer from the hash: user_id -> "<purchase_no>|<purchased_ms>"; -1 when malformed. */
static int add_buyer(sold_out_sale_t *slot, const redisReply *user, const redisReply *value)
{
    if (user->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING || user->len == 0 ||
        user->len > SALE_USER_ID_MAX || memchr(user->str, '\0', user->len) != NULL)
        return -1;
    const char *bar = memchr(value->str, '|', value->len);
    if (bar == NULL)
        return -1;
    size_t number_len = (size_t)(bar - value->str);
    int64_t sequence = sale_parse_purchase_no(value->str, number_len, slot->sale.sale_id);
    int64_t purchased_ms;
    if (sequence < 1 || redis_parse_int64(bar + 1, value->len - number_len - 1, &purchased_ms) != 0 ||
        buyer_index_find(&slot->buyers, user->str, user->len) != NULL)
        return -1;
    return buyer_index_add(&slot->buyers, user->str, user->len, purchased_ms, (uint64_t)sequence, 0) != NULL
               ? 0
               : -1;
}

/* Fills the slot from {sale_id, start_ms, end_ms, {user_id, value, ...}}; -1 when malformed. */
static int load(sold_out_sale_t *slot, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
        reply->element[3]->type != REDIS_REPLY_ARRAY || reply->element[3]->elements % 2 != 0)
        return -1;
    int64_t sale_id;
    if (redis_reply_int64(reply->element[0], &sale_id) != 0 || sale_id <= 0 ||
        redis_reply_int64(reply->element[1], &slot->sale.start_ms) != 0 ||
        redis_reply_int64(reply->element[2], &slot->sale.end_ms) != 0)
        return -1;
    slot->sale.sale_id = (uint64_t)sale_id;
    slot->sale.stock = 0;
    const redisReply *buyers = reply->element[3];
    for (size_t i = 0; i < buyers->elements; i += 2)
        if (add_buyer(slot, buyers->element[i], buyers->element[i + 1]) != 0)
            return -1;
    return 0;
}

static void on_loaded(void *ctx, redisReply *reply)
{
    sold_out_sale_t *slot = ctx;
    sold_out_cache_t *cache = slot->cache;
    assert(slot->state == SLOT_LOADING);
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && load(slot, reply) == 0) {
        slot->state = SLOT_LOADED;
        slot->connection = redis_client_connection_count(cache->redis);
    } else {
        if (reply != NULL && reply->type == REDIS_REPLY_ARRAY)
            log_warn("redis", "the buyers of %s are malformed; not cached", slot->sku);
        buyer_index_dispose(&slot->buyers);
        slot->state = SLOT_DECLINED;
    }
    slot->used_at = h2o_now(cache->loop);
}

/* A free slot, else the least recently used one that is not loading (emptied); NULL if all load. */
static sold_out_sale_t *take_slot(sold_out_cache_t *cache)
{
    sold_out_sale_t *oldest = NULL;
    for (size_t i = 0; i < SOLD_OUT_CACHE_SALES; i++) {
        sold_out_sale_t *slot = &cache->slots[i];
        if (slot->state == SLOT_FREE)
            return slot;
        if (slot->state != SLOT_LOADING && (oldest == NULL || slot->used_at < oldest->used_at))
            oldest = slot;
    }
    if (oldest != NULL)
        free_slot(oldest);
    return oldest;
}

void sold_out_cache_note(sold_out_cache_t *cache, const char *sku)
{
    sold_out_sale_t *slot = slot_of(cache, sku);
    if (slot != NULL && slot->state == SLOT_DECLINED &&
        h2o_now(cache->loop) - slot->used_at >= SOLD_OUT_CACHE_RETRY_MS)
        free_slot(slot);
    else if (slot != NULL)
        return;
    if ((slot = take_slot(cache)) == NULL)
        return;
    slot->state = SLOT_LOADING;
    snprintf(slot->sku, sizeof(slot->sku), "%s", sku);
    slot->sale = (sale_t){0};
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    char max_buyers[24];
    int max_len = snprintf(max_buyers, sizeof(max_buyers), "%d", SOLD_OUT_CACHE_MAX_BUYERS);
    const char *argv[] = {keys.sale, keys.buyers, max_buyers};
    const size_t lens[] = {keys.sale_len, keys.buyers_len, (size_t)max_len};
    redis_client_script(cache->redis, &redis_sale_sold_out_script, 2, 3, argv, lens, on_loaded, slot);
}

void sold_out_cache_drop(sold_out_cache_t *cache, const char *sku)
{
    sold_out_sale_t *slot = slot_of(cache, sku);
    if (slot != NULL && slot->state == SLOT_LOADED)
        free_slot(slot);
}
