/*
 * token_cache: the bearer tokens one loop thread has verified, so that a buyer's repeated requests
 * cost a hash and a probe instead of a signature check (an RS256 verification costs tens of
 * microseconds; a purchase in header mode costs about as much in total).
 *
 * Each loop thread owns one cache, so the hot path takes no lock; a buyer whose connections land
 * on several threads is verified once per thread. Tokens are identified by a keyed 128-bit
 * BLAKE2b hash of their bytes (the key is random per cache), so a hit means the very same token,
 * and a token is never stored. An entry answers only while its token is valid (exp plus the
 * leeway), and only tokens that verified are stored.
 *
 * Memory is fixed at creation: `capacity` entries of 296 bytes (token_cache_memory), in buckets of
 * four. A new token takes an expired entry of its bucket, else the one that expires soonest.
 */
#ifndef FLASHSALE_TOKEN_CACHE_H
#define FLASHSALE_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"

#define TOKEN_CACHE_KEY_SIZE 16

typedef struct token_cache token_cache_t;

typedef struct {
    uint8_t bytes[TOKEN_CACHE_KEY_SIZE];
} token_cache_key_t;

/* capacity: entries, rounded up to a power of two (at least 4). NULL when out of memory. */
token_cache_t *token_cache_create(size_t capacity);
void token_cache_destroy(token_cache_t *cache);

/* The key of a token (len bytes). */
void token_cache_key(const token_cache_t *cache, const char *token, size_t len, token_cache_key_t *key);
/* The claims of a cached token still valid at now_s (Unix seconds), else NULL. Valid until the
 * next put. */
const token_claims_t *token_cache_find(token_cache_t *cache, const token_cache_key_t *key, int64_t now_s);
/* Stores a verified token's claims (copied); it answers until claims->expires_s + TOKEN_LEEWAY_S. */
void token_cache_put(token_cache_t *cache, const token_cache_key_t *key, const token_claims_t *claims);

size_t token_cache_capacity(const token_cache_t *cache);
/* The bytes the cache holds, all allocated at creation. */
size_t token_cache_memory(const token_cache_t *cache);

#endif
