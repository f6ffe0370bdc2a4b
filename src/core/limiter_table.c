#include "core/limiter_table.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define BUCKET_SLOTS 4

typedef struct {
    uint64_t key; /* 0 = never used */
    int64_t tat_us;
} slot_t;

typedef struct {
    slot_t slots[BUCKET_SLOTS];
} bucket_t;

/* Padded to a cache line, so that threads locking neighbouring shards do not share one. */
typedef struct {
    pthread_mutex_t lock;
    char padding[64 - sizeof(pthread_mutex_t) % 64];
} shard_t;

struct limiter_table {
    bucket_t *buckets;
    size_t bucket_mask;
    shard_t shards[LIMITER_TABLE_SHARDS];
    atomic_uint_fast64_t evictions;
};

/* Zero marks an unused slot, so a key that hashed to zero is stored as one. */
static uint64_t stored_key(uint64_t key)
{
    return key == 0 ? 1 : key;
}

/* The low bits pick the shard, the bits above them the bucket inside the whole array. */
static size_t bucket_of(const limiter_table_t *table, uint64_t key)
{
    return (size_t)(key >> 6) & table->bucket_mask;
}

static size_t shard_of(const limiter_table_t *table, uint64_t key)
{
    return bucket_of(table, key) % LIMITER_TABLE_SHARDS;
}

limiter_table_t *limiter_table_create(size_t capacity)
{
    size_t buckets = LIMITER_TABLE_SHARDS;
    limiter_table_t *table;

    while (buckets * BUCKET_SLOTS < capacity)
        buckets *= 2;
    if ((table = calloc(1, sizeof(*table))) == NULL)
        return NULL;
    if ((table->buckets = calloc(buckets, sizeof(*table->buckets))) == NULL) {
        free(table);
        return NULL;
    }
    table->bucket_mask = buckets - 1;
    for (size_t i = 0; i < LIMITER_TABLE_SHARDS; ++i)
        pthread_mutex_init(&table->shards[i].lock, NULL);
    return table;
}

void limiter_table_destroy(limiter_table_t *table)
{
    if (table == NULL)
        return;
    for (size_t i = 0; i < LIMITER_TABLE_SHARDS; ++i)
        pthread_mutex_destroy(&table->shards[i].lock);
    free(table->buckets);
    free(table);
}

/* The client's TAT, or 0 when it has no state. */
static int64_t find_tat(const bucket_t *bucket, uint64_t key)
{
    for (size_t i = 0; i < BUCKET_SLOTS; ++i)
        if (bucket->slots[i].key == key)
            return bucket->slots[i].tat_us;
    return 0;
}

/* The client's slot, else a free one (unused or past its TAT), else the one freed soonest. */
static slot_t *claim_slot(limiter_table_t *table, bucket_t *bucket, uint64_t key, int64_t now_us)
{
    slot_t *free_slot = NULL, *soonest = &bucket->slots[0];

    for (size_t i = 0; i < BUCKET_SLOTS; ++i) {
        slot_t *slot = &bucket->slots[i];
        if (slot->key == key)
            return slot;
        if (free_slot == NULL && (slot->key == 0 || slot->tat_us <= now_us))
            free_slot = slot;
        if (slot->tat_us < soonest->tat_us)
            soonest = slot;
    }
    if (free_slot != NULL)
        return free_slot;
    atomic_fetch_add_explicit(&table->evictions, 1, memory_order_relaxed);
    return soonest;
}

/* Locks (or unlocks) the distinct shards of the keys, in ascending order so two threads taking
 * the same pair cannot deadlock. */
static size_t sorted_shards(const limiter_table_t *table, const limiter_key_t *keys, size_t count,
                            size_t *shards)
{
    size_t distinct = 0;

    for (size_t i = 0; i < count; ++i) {
        size_t shard = shard_of(table, stored_key(keys[i].key)), at = distinct;
        bool seen = false;
        for (size_t j = 0; j < distinct; ++j)
            seen = seen || shards[j] == shard;
        if (seen)
            continue;
        while (at > 0 && shards[at - 1] > shard) {
            shards[at] = shards[at - 1];
            --at;
        }
        shards[at] = shard;
        ++distinct;
    }
    return distinct;
}

bool limiter_table_check(limiter_table_t *table, const limiter_key_t *keys, size_t count, int64_t now_us,
                         int64_t *retry_after_us)
{
    size_t shards[LIMITER_TABLE_KEYS_MAX], shard_count;
    int64_t new_tats[LIMITER_TABLE_KEYS_MAX], longest_wait = 0;
    bool allowed = true;

    assert(count >= 1 && count <= LIMITER_TABLE_KEYS_MAX);
    shard_count = sorted_shards(table, keys, count, shards);
    for (size_t i = 0; i < shard_count; ++i)
        pthread_mutex_lock(&table->shards[shards[i]].lock);
    for (size_t i = 0; i < count; ++i) {
        uint64_t key = stored_key(keys[i].key);
        int64_t wait;
        if (!rate_decide(keys[i].rate, find_tat(&table->buckets[bucket_of(table, key)], key), now_us,
                         &new_tats[i], &wait)) {
            allowed = false;
            longest_wait = wait > longest_wait ? wait : longest_wait;
        }
    }
    /* Only an allowed request is recorded: a refusal must not push the client's TAT further. */
    for (size_t i = 0; allowed && i < count; ++i) {
        uint64_t key = stored_key(keys[i].key);
        slot_t *slot = claim_slot(table, &table->buckets[bucket_of(table, key)], key, now_us);
        *slot = (slot_t){.key = key, .tat_us = new_tats[i]};
    }
    for (size_t i = shard_count; i > 0; --i)
        pthread_mutex_unlock(&table->shards[shards[i - 1]].lock);
    if (!allowed)
        *retry_after_us = longest_wait;
    return allowed;
}

size_t limiter_table_capacity(const limiter_table_t *table)
{
    return (table->bucket_mask + 1) * BUCKET_SLOTS;
}

size_t limiter_table_memory(const limiter_table_t *table)
{
    return sizeof(*table) + (table->bucket_mask + 1) * sizeof(bucket_t);
}

size_t limiter_table_tracked(limiter_table_t *table, int64_t now_us)
{
    size_t tracked = 0;

    for (size_t shard = 0; shard < LIMITER_TABLE_SHARDS; ++shard) {
        pthread_mutex_lock(&table->shards[shard].lock);
        for (size_t bucket = shard; bucket <= table->bucket_mask; bucket += LIMITER_TABLE_SHARDS)
            for (size_t i = 0; i < BUCKET_SLOTS; ++i)
                tracked += table->buckets[bucket].slots[i].key != 0 &&
                           table->buckets[bucket].slots[i].tat_us > now_us;
        pthread_mutex_unlock(&table->shards[shard].lock);
    }
    return tracked;
}

uint64_t limiter_table_evictions(const limiter_table_t *table)
{
    return atomic_load_explicit(&table->evictions, memory_order_relaxed);
}
