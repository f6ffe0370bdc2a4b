/*
 * lt_buyers: what each buyer of the run was told, for the verification after the storm.
 *
 * One byte of flags per buyer (what its attempts were answered) and, for every success, the
 * purchase number it was given. Each client thread owns the buyers it sends for (buyer b belongs to
 * thread b % threads, at local index b / threads), so recording takes no lock; the verification reads
 * them all after the threads ended.
 *
 * Bounds: 1 byte per buyer that was sent for (the array grows with the highest one), plus about 24
 * bytes per success.
 */
#ifndef FLASHSALE_LT_BUYERS_H
#define FLASHSALE_LT_BUYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

enum {
    LT_BUYER_SENT = 1,        /* at least one attempt went out */
    LT_BUYER_SUCCESS = 2,     /* told success */
    LT_BUYER_ALREADY = 4,     /* told ALREADY_PURCHASED: holds an order */
    LT_BUYER_SOLD_OUT = 8,    /* told SOLD_OUT: held no order then, and can never get one */
    LT_BUYER_REFUSED = 16,    /* refused before any decision (SALE_NOT_ACTIVE, 4xx, 429): no order from it */
    LT_BUYER_UNKNOWN = 32,    /* an attempt whose outcome nobody knows (no answer, 5xx) */
    LT_BUYER_TWO_SUCCESS = 64 /* told success twice: two orders */
};

typedef struct {
    uint64_t buyer;  /* global buyer index */
    uint32_t offset; /* purchase number in the arena */
    uint32_t len;
} lt_buyers_success_t;

typedef struct {
    uint8_t *flags; /* by local index */
    size_t len;
    size_t capacity;
    lt_buyers_success_t *successes;
    size_t success_len;
    size_t success_capacity;
    strbuf_t arena; /* purchase numbers, back to back */
    bool failed;    /* memory ran out: the verification cannot be trusted */
} lt_buyers_t;

/* What a set of buyers knows about its orders. */
typedef struct {
    uint64_t sent;    /* buyers with at least one attempt sent */
    uint64_t holders; /* told success or ALREADY_PURCHASED: hold an order */
    uint64_t told_success;
    uint64_t sold_out; /* told SOLD_OUT and nothing that means an order or leaves doubt */
    uint64_t refused;  /* only refusals before any decision: no order */
    uint64_t unknown;  /* no holder, and at least one attempt of unknown outcome */
    uint64_t two_successes;
} lt_buyers_tally_t;

void lt_buyers_init(lt_buyers_t *buyers);
void lt_buyers_dispose(lt_buyers_t *buyers);

/* ORs flags into the buyer at local index. */
void lt_buyers_mark(lt_buyers_t *buyers, uint64_t local, uint8_t flags);
/* Records a success: its flag, a second success's flag, and the purchase number (copied). */
void lt_buyers_success(lt_buyers_t *buyers, uint64_t local, uint64_t global, const char *purchase_no,
                       size_t len);
uint8_t lt_buyers_flags(const lt_buyers_t *buyers, uint64_t local);

/* Adds this set's buyers to tally. */
void lt_buyers_count(const lt_buyers_t *buyers, lt_buyers_tally_t *tally);

#endif
