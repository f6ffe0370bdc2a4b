/*
 * sale_feed: turns successive views of the sales into the live events of the API — a sale's
 * whole state, coalesced stock updates, state changes and deletions — for one event loop.
 *
 * The engine hands a loop every sale as it is now (engine.h, watch); the feed compares that with
 * what it published before and emits the difference. Stock updates are published in rounds, at
 * most one round per window, each with the latest stock of every sale whose stock changed: so a
 * subscriber gets at most one stock update per sale per window, and all of them in one write. The
 * first change after a quiet window goes out at once. A sell-out does not wait: its stock update
 * (0) is published at once, then its state change. The clock's own changes (a sale starting or
 * ending) are found by sale_feed_tick, which the loop calls at the deadline the feed asks for.
 *
 * Each sku the loop cares about is a topic: a sale that exists, or a sku that subscribers wait
 * for (sale_feed_hold). The feed knows nothing of subscribers: each topic carries one pointer of
 * the caller's (its subscribers) and every event names its topic. Pure logic, no I/O: time is an
 * argument. One feed belongs to one thread.
 */
#ifndef FLASHSALE_SALE_FEED_H
#define FLASHSALE_SALE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

/* Deletions remembered for streams that fell behind (sale_feed_deleted_since). */
#define SALE_FEED_DELETION_LOG 64

typedef enum {
    SALE_EVENT_INITIAL, /* the whole sale: created, updated, or seen for the first time */
    SALE_EVENT_STOCK,   /* its stock changed */
    SALE_EVENT_STATE,   /* its state changed (state, and reason when ENDED) */
    SALE_EVENT_DELETED, /* it is gone; sale is what it was */
} sale_event_type_t;

typedef struct {
    sale_event_type_t type;
    const sale_t *sale; /* as published: stock is the stock this event tells */
    sale_state_t state;
    sale_end_reason_t reason;
    uint64_t deletion; /* DELETED: its ordinal, 1 for the feed's first deletion */
} sale_event_t;

typedef struct sale_feed sale_feed_t;
typedef struct sale_feed_topic sale_feed_topic_t;

/* Runs for every event, in order. It must not call sale_feed_update or sale_feed_tick. */
typedef void (*sale_feed_emit_cb)(void *ctx, sale_feed_topic_t *topic, const sale_event_t *event);

/* NULL when out of memory. window_ms: the shortest time between two rounds of stock updates. */
sale_feed_t *sale_feed_create(int64_t window_ms, sale_feed_emit_cb emit, void *ctx);
/* Takes effect from the next round (the caller adapts it to the cost of its rounds). */
void sale_feed_set_window(sale_feed_t *feed, int64_t window_ms);
int64_t sale_feed_window(const sale_feed_t *feed);
/* Rounds of stock updates published since the start (a sell-out's own update is not a round). */
uint64_t sale_feed_rounds(const sale_feed_t *feed);
/* Frees the feed and its topics; the caller has dropped its own data from them. */
void sale_feed_destroy(sale_feed_t *feed);

/*
 * The engine's view of every sale (any order); emits what changed. Returns the time at which
 * sale_feed_tick must run next (INT64_MAX: none), as does sale_feed_tick.
 */
int64_t sale_feed_update(sale_feed_t *feed, const sale_t *sales, size_t count, int64_t now_ms);
/* Emits the stock updates whose window has passed and the state changes the clock made. */
int64_t sale_feed_tick(sale_feed_t *feed, int64_t now_ms);

/* True once the feed has had a view of the sales (before that it knows none). */
bool sale_feed_is_ready(const sale_feed_t *feed);

/* The topic of sku, or NULL. */
sale_feed_topic_t *sale_feed_find(sale_feed_t *feed, const char *sku);
/* The topic of sku, created without a sale if there is none; NULL when out of memory. */
sale_feed_topic_t *sale_feed_hold(sale_feed_t *feed, const char *sku);
/* Call after setting a held topic's data back to NULL: a topic without a sale is then freed. */
void sale_feed_release(sale_feed_t *feed, sale_feed_topic_t *topic);

void *sale_feed_topic_data(const sale_feed_topic_t *topic);
void sale_feed_topic_set_data(sale_feed_topic_t *topic, void *data);
const char *sale_feed_topic_sku(const sale_feed_topic_t *topic);
/* The topic's sale with the latest stock the engine told (maybe not yet published); NULL if none. */
const sale_t *sale_feed_topic_sale(const sale_feed_topic_t *topic);

/* Calls cb for every topic that has a sale, in sale_id order; false when out of memory. cb must not
 * hold topics. */
bool sale_feed_each_sale(sale_feed_t *feed, void (*cb)(void *ctx, sale_feed_topic_t *topic), void *ctx);

/* Deletions emitted so far. */
uint64_t sale_feed_deletions(const sale_feed_t *feed);
/*
 * Calls cb with the sku of every deletion after the first `mark` ones, oldest first. Returns
 * false (calling nothing) when the log no longer reaches back that far.
 */
bool sale_feed_deleted_since(const sale_feed_t *feed, uint64_t mark, void (*cb)(void *ctx, const char *sku),
                             void *ctx);

#endif
