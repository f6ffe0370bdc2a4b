#include "loadtest/lt_buyers.h"

#include <stdlib.h>
#include <string.h>

void lt_buyers_init(lt_buyers_t *buyers)
{
    *buyers = (lt_buyers_t){0};
    strbuf_init(&buyers->arena);
}

void lt_buyers_dispose(lt_buyers_t *buyers)
{
    free(buyers->flags);
    free(buyers->successes);
    strbuf_dispose(&buyers->arena);
    *buyers = (lt_buyers_t){0};
}

/* Grows the flags to cover local; false (and failed set) when memory ran out. */
static bool cover(lt_buyers_t *buyers, uint64_t local)
{
    size_t capacity;
    uint8_t *flags;

    if (local < buyers->len)
        return true;
    if (local >= buyers->capacity) {
        capacity = buyers->capacity == 0 ? 4096 : buyers->capacity;
        while (capacity <= local)
            capacity *= 2;
        if ((flags = realloc(buyers->flags, capacity)) == NULL) {
            buyers->failed = true;
            return false;
        }
        buyers->flags = flags;
        buyers->capacity = capacity;
    }
    memset(buyers->flags + buyers->len, 0, local + 1 - buyers->len);
    buyers->len = local + 1;
    return true;
}

void lt_buyers_mark(lt_buyers_t *buyers, uint64_t local, uint8_t flags)
{
    if (cover(buyers, local))
        buyers->flags[local] |= flags;
}

uint8_t lt_buyers_flags(const lt_buyers_t *buyers, uint64_t local)
{
    return local < buyers->len ? buyers->flags[local] : 0;
}

void lt_buyers_success(lt_buyers_t *buyers, uint64_t local, uint64_t global, const char *purchase_no,
                       size_t len)
{
    lt_buyers_success_t *successes;

    if (!cover(buyers, local))
        return;
    if (buyers->flags[local] & LT_BUYER_SUCCESS) {
        buyers->flags[local] |= LT_BUYER_TWO_SUCCESS;
        return;
    }
    buyers->flags[local] |= LT_BUYER_SUCCESS;
    if (buyers->success_len == buyers->success_capacity) {
        size_t capacity = buyers->success_capacity == 0 ? 1024 : buyers->success_capacity * 2;
        if ((successes = realloc(buyers->successes, capacity * sizeof(*successes))) == NULL) {
            buyers->failed = true;
            return;
        }
        buyers->successes = successes;
        buyers->success_capacity = capacity;
    }
    buyers->successes[buyers->success_len++] =
        (lt_buyers_success_t){.buyer = global, .offset = (uint32_t)buyers->arena.len, .len = (uint32_t)len};
    strbuf_append(&buyers->arena, purchase_no, len);
    if (buyers->arena.failed || buyers->arena.len > UINT32_MAX)
        buyers->failed = true;
}

void lt_buyers_count(const lt_buyers_t *buyers, lt_buyers_tally_t *tally)
{
    for (size_t i = 0; i < buyers->len; i++) {
        uint8_t flags = buyers->flags[i];
        if (!(flags & LT_BUYER_SENT))
            continue;
        tally->sent++;
        if (flags & LT_BUYER_SUCCESS)
            tally->told_success++;
        if (flags & LT_BUYER_TWO_SUCCESS)
            tally->two_successes++;
        if (flags & (LT_BUYER_SUCCESS | LT_BUYER_ALREADY))
            tally->holders++;
        else if (flags & LT_BUYER_UNKNOWN)
            tally->unknown++;
        else if (flags & LT_BUYER_SOLD_OUT)
            tally->sold_out++;
        else
            tally->refused++;
    }
}
