#include "core/buyer_index.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY   8
#define INITIAL_SLOT_COUNT 16
/* A slot stores an entry position + 1 in 32 bits, and the table is kept at most half full. */
#define MAX_SLOT_COUNT ((size_t)UINT32_MAX + 1)

/*
 * FNV-1a, then murmur3's 64-bit finalizer: FNV alone mixes its low bits poorly, and the low bits
 * are the ones a power-of-two table uses. User ids are short, so byte-at-a-time is cheap enough.
 */
static uint64_t hash_user_id(const char *user_id, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)user_id[i];
        hash *= 0x100000001b3u;
    }
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdu;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53u;
    hash ^= hash >> 33;
    return hash;
}

/* Stops at the stored terminator, so a query longer than the stored id never reads past it. */
static bool entry_matches(const buyer_entry_t *entry, const char *user_id, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (entry->user_id[i] == '\0' || entry->user_id[i] != user_id[i])
            return false;
    }
    return entry->user_id[len] == '\0';
}

/* The slot that holds user_id, or the empty slot where it belongs. Ends because a slot is free. */
static size_t probe(const buyer_index_t *index, const char *user_id, size_t len)
{
    size_t mask = index->slot_count - 1;
    size_t slot = hash_user_id(user_id, len) & mask;
    while (index->slots[slot] != 0 && !entry_matches(&index->entries[index->slots[slot] - 1], user_id, len))
        slot = (slot + 1) & mask;
    return slot;
}

void buyer_index_init(buyer_index_t *index)
{
    *index = (buyer_index_t){0};
}

void buyer_index_dispose(buyer_index_t *index)
{
    for (size_t i = 0; i < index->count; i++)
        free(index->entries[i].user_id);
    free(index->entries);
    free(index->slots);
    buyer_index_init(index);
}

const buyer_entry_t *buyer_index_find(const buyer_index_t *index, const char *user_id, size_t len)
{
    if (index->count == 0)
        return NULL;
    uint32_t position = index->slots[probe(index, user_id, len)];
    return position == 0 ? NULL : &index->entries[position - 1];
}

/* Doubles the table and reinserts every entry; they are distinct, so no comparisons are needed. */
static int grow_slots(buyer_index_t *index)
{
    size_t slot_count = index->slot_count == 0 ? INITIAL_SLOT_COUNT : index->slot_count * 2;
    if (slot_count > MAX_SLOT_COUNT)
        return -1;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL)
        return -1;
    size_t mask = slot_count - 1;
    for (size_t i = 0; i < index->count; i++) {
        const char *user_id = index->entries[i].user_id;
        size_t slot = hash_user_id(user_id, strlen(user_id)) & mask;
        while (slots[slot] != 0)
            slot = (slot + 1) & mask;
        slots[slot] = (uint32_t)(i + 1);
    }
    free(index->slots);
    index->slots = slots;
    index->slot_count = slot_count;
    return 0;
}

static int grow_entries(buyer_index_t *index)
{
    size_t capacity = index->capacity == 0 ? INITIAL_CAPACITY : index->capacity * 2;
    buyer_entry_t *entries = reallocarray(index->entries, capacity, sizeof(*entries));
    if (entries == NULL)
        return -1;
    index->entries = entries;
    index->capacity = capacity;
    return 0;
}

static char *copy_user_id(const char *user_id, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, user_id, len);
    copy[len] = '\0';
    return copy;
}

const buyer_entry_t *buyer_index_add(buyer_index_t *index, const char *user_id, size_t len,
                                     int64_t purchased_ms, uint64_t sequence, uint64_t ledger_sequence)
{
    /* A NUL inside would make the stored copy a different, shorter id. */
    assert(memchr(user_id, '\0', len) == NULL);
    /* Every step that can fail comes before the first change the caller could observe. */
    if ((index->count + 1) * 2 > index->slot_count && grow_slots(index) != 0)
        return NULL;
    if (index->count == index->capacity && grow_entries(index) != 0)
        return NULL;
    char *copy = copy_user_id(user_id, len);
    if (copy == NULL)
        return NULL;

    size_t slot = probe(index, user_id, len);
    assert(index->slots[slot] == 0 && "the caller checks with buyer_index_find first");
    buyer_entry_t *entry = &index->entries[index->count];
    *entry = (buyer_entry_t){
        .user_id = copy,
        .purchased_ms = purchased_ms,
        .sequence = sequence,
        .ledger_sequence = ledger_sequence,
    };
    index->count++;
    index->slots[slot] = (uint32_t)index->count;
    return entry;
}
