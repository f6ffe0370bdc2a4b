#include "auth/token_cache.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET_ENTRIES 4

typedef struct {
    token_cache_key_t key;
    int64_t valid_until_s; /* 0: unused */
    token_claims_t claims;
} entry_t;

struct token_cache {
    entry_t *entries;
    size_t bucket_mask;
    unsigned char hash_key[crypto_generichash_KEYBYTES];
};

token_cache_t *token_cache_create(size_t capacity)
{
    size_t buckets = 1;
    token_cache_t *cache = calloc(1, sizeof(*cache));

    if (cache == NULL)
        return NULL;
    while (buckets * BUCKET_ENTRIES < capacity)
        buckets *= 2;
    if ((cache->entries = calloc(buckets * BUCKET_ENTRIES, sizeof(entry_t))) == NULL) {
        free(cache);
        return NULL;
    }
    cache->bucket_mask = buckets - 1;
    randombytes_buf(cache->hash_key, sizeof(cache->hash_key));
    return cache;
}

void token_cache_destroy(token_cache_t *cache)
{
    if (cache == NULL)
        return;
    free(cache->entries);
    free(cache);
}

void token_cache_key(const token_cache_t *cache, const char *token, size_t len, token_cache_key_t *key)
{
    crypto_generichash(key->bytes, sizeof(key->bytes), (const unsigned char *)token, len, cache->hash_key,
                       sizeof(cache->hash_key));
}

static entry_t *bucket_of(const token_cache_t *cache, const token_cache_key_t *key)
{
    uint64_t index;
    memcpy(&index, key->bytes, sizeof(index));
    return &cache->entries[(index & cache->bucket_mask) * BUCKET_ENTRIES];
}

const token_claims_t *token_cache_find(token_cache_t *cache, const token_cache_key_t *key, int64_t now_s)
{
    entry_t *bucket = bucket_of(cache, key);

    for (size_t i = 0; i < BUCKET_ENTRIES; ++i)
        if (bucket[i].valid_until_s > now_s && memcmp(&bucket[i].key, key, sizeof(*key)) == 0)
            return &bucket[i].claims;
    return NULL;
}

void token_cache_put(token_cache_t *cache, const token_cache_key_t *key, const token_claims_t *claims)
{
    entry_t *bucket = bucket_of(cache, key), *victim = &bucket[0];

    for (size_t i = 0; i < BUCKET_ENTRIES; ++i) {
        if (memcmp(&bucket[i].key, key, sizeof(*key)) == 0) {
            victim = &bucket[i];
            break;
        }
        if (bucket[i].valid_until_s < victim->valid_until_s)
            victim = &bucket[i];
    }
    victim->key = *key;
    victim->valid_until_s = claims->expires_s + TOKEN_LEEWAY_S;
    victim->claims = *claims;
}

size_t token_cache_capacity(const token_cache_t *cache)
{
    return (cache->bucket_mask + 1) * BUCKET_ENTRIES;
}

size_t token_cache_memory(const token_cache_t *cache)
{
    return sizeof(*cache) + token_cache_capacity(cache) * sizeof(entry_t);
}
