/*
 * limiter_table: the GCRA state (rate.h) of many clients in a fixed amount of memory, shared by
 * every loop thread.
 *
 * A client is a 64-bit key (the caller hashes the client's IP or user id with a secret key, so
 * that nobody can aim collisions at another client). Each slot holds a key and its TAT: 16
 * bytes. The table is allocated once at its full capacity and never grows, whatever the number
 * of distinct clients: a slot whose TAT is in the past carries no state (rate.h) and is free for
 * anyone, and when every slot a new client may use holds a live TAT, the one that would become
 * free soonest is taken over (counted in evictions) — that client merely finds a full bucket on
 * its next request. Slots are grouped in buckets of four (one cache line) chosen by the key.
 *
 * Thread-safe: the buckets are split among LIMITER_TABLE_SHARDS locks, so threads contend only
 * when their clients share a shard, for the few stores of one decision.
 */
#ifndef FLASHSALE_LIMITER_TABLE_H
#define FLASHSALE_LIMITER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rate.h"

#define LIMITER_TABLE_SHARDS 64
/* Keys one decision may count against (a client's IP and its buyer). */
#define LIMITER_TABLE_KEYS_MAX 4

typedef struct limiter_table limiter_table_t;

typedef struct {
    uint64_t key;       /* the client's hashed identity; distinct within one decision */
    const rate_t *rate; /* the limit this key is held to */
} limiter_key_t;

/* capacity: slots, rounded up to a power of two and to at least four per shard. NULL when out of
 * memory. */
limiter_table_t *limiter_table_create(size_t capacity);
void limiter_table_destroy(limiter_table_t *table);

/*
 * Decides one request that counts against every key at once (1..LIMITER_TABLE_KEYS_MAX keys):
 * allowed only if every key allows it, and then every key's TAT advances; refused otherwise, and
 * then nothing changes and *retry_after_us is the longest wait among the refusing keys. Atomic
 * with respect to other threads' decisions.
 */
bool limiter_table_check(limiter_table_t *table, const limiter_key_t *keys, size_t count, int64_t now_us,
                         int64_t *retry_after_us);

size_t limiter_table_capacity(const limiter_table_t *table);
/* The bytes the table holds: every slot and lock, allocated at creation. */
size_t limiter_table_memory(const limiter_table_t *table);
/* Clients with state at now (a full scan, for tests and measurements). */
size_t limiter_table_tracked(limiter_table_t *table, int64_t now_us);
/* Live clients taken over because their bucket was full. */
uint64_t limiter_table_evictions(const limiter_table_t *table);

#endif
