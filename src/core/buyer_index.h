/*
 * buyer_index: who bought in one sale, in purchase order.
 *
 * An append-only array of purchases (so the admin listing pages through it by position) plus
 * an open-addressing hash table from user id to array position (so the "already bought?" check
 * is one probe sequence). Memory grows with buyers only; rejected attempts add nothing.
 * Not thread-safe: the embedded engine calls it under its lock, the distributed engine's sold-out
 * cache from one loop thread.
 */
#ifndef FLASHSALE_BUYER_INDEX_H
#define FLASHSALE_BUYER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

typedef struct {
    char *user_id; /* owned, NUL-terminated */
    int64_t purchased_ms;
    uint64_t sequence;        /* per-sale number inside the purchaseNo, 1-based */
    uint64_t ledger_sequence; /* embedded: when it becomes durable (see ledger.h); else 0 */
} buyer_entry_t;

typedef struct {
    buyer_entry_t *entries; /* in purchase order */
    size_t count;
    size_t capacity;
    uint32_t *slots;   /* 0 = empty, else entries index + 1 */
    size_t slot_count; /* a power of two, kept at most half full */
} buyer_index_t;

void buyer_index_init(buyer_index_t *index);
void buyer_index_dispose(buyer_index_t *index);

/* The entry of that user, or NULL. Valid until the next add or dispose. */
const buyer_entry_t *buyer_index_find(const buyer_index_t *index, const char *user_id, size_t len);

/*
 * Appends a buyer who is not in the index yet (the caller checked with find). Returns the new
 * entry, valid until the next add or dispose, or NULL when out of memory.
 */
const buyer_entry_t *buyer_index_add(buyer_index_t *index, const char *user_id, size_t len,
                                     int64_t purchased_ms, uint64_t sequence, uint64_t ledger_sequence);

#endif
