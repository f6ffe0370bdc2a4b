#include "core/sale_feed.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct sale_feed_topic {
    char sku[SALE_SKU_MAX + 1];
    bool present;
    sale_t sale; /* latest: the stock may not be published yet */
    /* What the last events told; an event is due when the sale differs from it. */
    int64_t published_stock;
    sale_state_t published_state;
    sale_end_reason_t published_reason;
    bool stock_due; /* published_stock is behind, waiting for the next round */
    uint64_t seen;  /* the update that last listed the sale */
    void *data;
};

struct sale_feed {
    /* Stock updates go out in rounds, all that are due together, at most one round per window:
     * so a stream gets at most one write of them per window, whatever the number of sales. */
    int64_t window_ms;
    int64_t round_ms; /* the last round; INT64_MIN before the first */
    uint64_t rounds;  /* since the start */
    size_t due;       /* topics with stock_due */
    sale_feed_emit_cb emit;
    void *ctx;
    sale_feed_topic_t **slots; /* open addressing by sku, NULL = empty; at most half full */
    size_t slot_count;
    size_t count;
    uint64_t updates;
    bool ready;
    bool emitting; /* inside update or tick: the table must not change shape */
    uint64_t deletions;
    char deleted[SALE_FEED_DELETION_LOG][SALE_SKU_MAX + 1]; /* ring, by ordinal */
};

/* ---- the topic table ---- */

static uint64_t hash_sku(const char *sku)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (; *sku != '\0'; ++sku)
        hash = (hash ^ (unsigned char)*sku) * 1099511628211ull;
    return hash;
}

static size_t find_slot(const sale_feed_t *feed, const char *sku)
{
    size_t mask = feed->slot_count - 1, slot = hash_sku(sku) & mask;
    while (feed->slots[slot] != NULL && strcmp(feed->slots[slot]->sku, sku) != 0)
        slot = (slot + 1) & mask;
    return slot;
}

static int grow(sale_feed_t *feed)
{
    sale_feed_topic_t **old = feed->slots;
    size_t old_count = feed->slot_count;
    size_t new_count = old_count == 0 ? 16 : old_count * 2;
    if ((feed->slots = calloc(new_count, sizeof(*feed->slots))) == NULL) {
        feed->slots = old;
        return -1;
    }
    feed->slot_count = new_count;
    for (size_t i = 0; i < old_count; ++i)
        if (old[i] != NULL)
            feed->slots[find_slot(feed, old[i]->sku)] = old[i];
    free(old);
    return 0;
}

/* Backward-shift deletion keeps every probe sequence unbroken without tombstones. */
static void remove_slot(sale_feed_t *feed, size_t hole)
{
    size_t mask = feed->slot_count - 1;
    free(feed->slots[hole]);
    feed->slots[hole] = NULL;
    --feed->count;
    for (size_t next = (hole + 1) & mask; feed->slots[next] != NULL; next = (next + 1) & mask) {
        size_t home = hash_sku(feed->slots[next]->sku) & mask;
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            feed->slots[hole] = feed->slots[next];
            feed->slots[next] = NULL;
            hole = next;
        }
    }
}

static bool is_garbage(const sale_feed_topic_t *topic)
{
    return !topic->present && topic->data == NULL;
}

/* Frees every topic with neither a sale nor data. A removal may shift a later entry into the
 * current slot, so the slot is looked at again before moving on. */
static void sweep(sale_feed_t *feed)
{
    for (size_t i = 0; i < feed->slot_count;) {
        if (feed->slots[i] != NULL && is_garbage(feed->slots[i]))
            remove_slot(feed, i);
        else
            ++i;
    }
}

sale_feed_t *sale_feed_create(int64_t window_ms, sale_feed_emit_cb emit, void *ctx)
{
    sale_feed_t *feed = calloc(1, sizeof(*feed));
    if (feed == NULL)
        return NULL;
    *feed = (sale_feed_t){.window_ms = window_ms, .round_ms = INT64_MIN, .emit = emit, .ctx = ctx};
    if (grow(feed) != 0) {
        free(feed);
        return NULL;
    }
    return feed;
}

void sale_feed_destroy(sale_feed_t *feed)
{
    for (size_t i = 0; i < feed->slot_count; ++i)
        free(feed->slots[i]);
    free(feed->slots);
    free(feed);
}

sale_feed_topic_t *sale_feed_find(sale_feed_t *feed, const char *sku)
{
    return feed->slots[find_slot(feed, sku)];
}

sale_feed_topic_t *sale_feed_hold(sale_feed_t *feed, const char *sku)
{
    assert(!feed->emitting);
    assert(strlen(sku) <= SALE_SKU_MAX);
    sale_feed_topic_t *topic = sale_feed_find(feed, sku);
    if (topic != NULL)
        return topic;
    if ((feed->count + 1) * 2 > feed->slot_count && grow(feed) != 0)
        return NULL;
    if ((topic = calloc(1, sizeof(*topic))) == NULL)
        return NULL;
    strcpy(topic->sku, sku);
    feed->slots[find_slot(feed, sku)] = topic;
    ++feed->count;
    return topic;
}

void sale_feed_release(sale_feed_t *feed, sale_feed_topic_t *topic)
{
    if (!feed->emitting && is_garbage(topic))
        remove_slot(feed, find_slot(feed, topic->sku));
}

void *sale_feed_topic_data(const sale_feed_topic_t *topic)
{
    return topic->data;
}

void sale_feed_topic_set_data(sale_feed_topic_t *topic, void *data)
{
    topic->data = data;
}

const char *sale_feed_topic_sku(const sale_feed_topic_t *topic)
{
    return topic->sku;
}

const sale_t *sale_feed_topic_sale(const sale_feed_topic_t *topic)
{
    return topic->present ? &topic->sale : NULL;
}

void sale_feed_set_window(sale_feed_t *feed, int64_t window_ms)
{
    feed->window_ms = window_ms;
}

int64_t sale_feed_window(const sale_feed_t *feed)
{
    return feed->window_ms;
}

uint64_t sale_feed_rounds(const sale_feed_t *feed)
{
    return feed->rounds;
}

bool sale_feed_is_ready(const sale_feed_t *feed)
{
    return feed->ready;
}

/* ---- events ---- */

static void emit(sale_feed_t *feed, sale_feed_topic_t *topic, sale_event_type_t type, uint64_t deletion)
{
    sale_t published = topic->sale;
    published.stock = topic->published_stock;
    sale_event_t event = {
        .type = type,
        .sale = &published,
        .state = topic->published_state,
        .reason = topic->published_reason,
        .deletion = deletion,
    };
    feed->emit(feed->ctx, topic, &event);
}

static void set_due(sale_feed_t *feed, sale_feed_topic_t *topic, bool due)
{
    if (topic->stock_due != due)
        feed->due += due ? 1 : (size_t)-1;
    topic->stock_due = due;
}

static void publish_initial(sale_feed_t *feed, sale_feed_topic_t *topic, int64_t now_ms)
{
    topic->published_stock = topic->sale.stock;
    topic->published_state = sale_state(&topic->sale, now_ms);
    topic->published_reason = sale_end_reason(&topic->sale, now_ms);
    set_due(feed, topic, false);
    emit(feed, topic, SALE_EVENT_INITIAL, 0);
}

static void publish_stock(sale_feed_t *feed, sale_feed_topic_t *topic)
{
    topic->published_stock = topic->sale.stock;
    set_due(feed, topic, false);
    emit(feed, topic, SALE_EVENT_STOCK, 0);
}

/* The state follows the published stock, so a sell-out's state change comes after its stock update. */
static void publish_state_if_changed(sale_feed_t *feed, sale_feed_topic_t *topic, int64_t now_ms)
{
    sale_t published = topic->sale;
    published.stock = topic->published_stock;
    sale_state_t state = sale_state(&published, now_ms);
    sale_end_reason_t reason = sale_end_reason(&published, now_ms);
    if (state == topic->published_state && reason == topic->published_reason)
        return;
    topic->published_state = state;
    topic->published_reason = reason;
    emit(feed, topic, SALE_EVENT_STATE, 0);
}

static void publish_deleted(sale_feed_t *feed, sale_feed_topic_t *topic)
{
    uint64_t ordinal = ++feed->deletions;
    strcpy(feed->deleted[(ordinal - 1) % SALE_FEED_DELETION_LOG], topic->sku);
    topic->present = false;
    set_due(feed, topic, false);
    emit(feed, topic, SALE_EVENT_DELETED, ordinal);
}

static bool description_differs(const sale_t *a, const sale_t *b)
{
    return a->initial_stock != b->initial_stock || a->start_ms != b->start_ms || a->end_ms != b->end_ms ||
           strcmp(a->product_name, b->product_name) != 0;
}

static void update_topic(sale_feed_t *feed, sale_feed_topic_t *topic, const sale_t *sale, int64_t now_ms)
{
    if (topic->present && topic->sale.sale_id != sale->sale_id)
        publish_deleted(feed, topic);
    if (!topic->present || description_differs(&topic->sale, sale)) {
        /* A new sale, or an update of an upcoming one: its whole state again. */
        topic->present = true;
        topic->sale = *sale;
        publish_initial(feed, topic, now_ms);
        return;
    }
    topic->sale.stock = sale->stock;
    if (sale->stock <= 0 && topic->published_stock > 0)
        publish_stock(feed, topic); /* a sell-out does not wait for the round */
    else
        set_due(feed, topic, sale->stock != topic->published_stock);
    publish_state_if_changed(feed, topic, now_ms);
}

static bool round_is_open(const sale_feed_t *feed, int64_t now_ms)
{
    return feed->round_ms == INT64_MIN || now_ms - feed->round_ms >= feed->window_ms;
}

/* Publishes every due stock, if the window since the last round has passed. */
static void run_round(sale_feed_t *feed, int64_t now_ms)
{
    if (feed->due == 0 || !round_is_open(feed, now_ms))
        return;
    feed->round_ms = now_ms;
    ++feed->rounds;
    for (size_t i = 0; i < feed->slot_count && feed->due > 0; ++i) {
        sale_feed_topic_t *topic = feed->slots[i];
        if (topic != NULL && topic->stock_due)
            publish_stock(feed, topic);
    }
}

/* The earliest time at which tick has something to publish. */
static int64_t next_deadline(const sale_feed_t *feed)
{
    int64_t deadline = feed->due > 0 ? feed->round_ms + feed->window_ms : INT64_MAX;
    for (size_t i = 0; i < feed->slot_count; ++i) {
        const sale_feed_topic_t *topic = feed->slots[i];
        if (topic == NULL || !topic->present)
            continue;
        if (topic->published_state == SALE_STATE_UPCOMING && topic->sale.start_ms < deadline)
            deadline = topic->sale.start_ms;
        else if (topic->published_state == SALE_STATE_ACTIVE && topic->sale.end_ms < deadline)
            deadline = topic->sale.end_ms;
    }
    return deadline;
}

int64_t sale_feed_update(sale_feed_t *feed, const sale_t *sales, size_t count, int64_t now_ms)
{
    uint64_t update = ++feed->updates;
    sale_feed_topic_t **listed = malloc((count > 0 ? count : 1) * sizeof(*listed));
    bool complete = listed != NULL;
    /* Topics are created first: the table must not grow while events are emitted. */
    for (size_t i = 0; complete && i < count; ++i)
        complete = (listed[i] = sale_feed_hold(feed, sales[i].sku)) != NULL;
    if (!complete) {
        /* Out of memory: keep what was published, and let the next view try again. */
        free(listed);
        sweep(feed);
        return next_deadline(feed);
    }
    feed->emitting = true;
    for (size_t i = 0; i < count; ++i) {
        update_topic(feed, listed[i], &sales[i], now_ms);
        listed[i]->seen = update;
    }
    for (size_t i = 0; i < feed->slot_count; ++i) {
        sale_feed_topic_t *topic = feed->slots[i];
        if (topic != NULL && topic->present && topic->seen != update)
            publish_deleted(feed, topic);
    }
    run_round(feed, now_ms);
    feed->emitting = false;
    free(listed);
    sweep(feed);
    feed->ready = true;
    return next_deadline(feed);
}

int64_t sale_feed_tick(sale_feed_t *feed, int64_t now_ms)
{
    feed->emitting = true;
    run_round(feed, now_ms);
    for (size_t i = 0; i < feed->slot_count; ++i) {
        sale_feed_topic_t *topic = feed->slots[i];
        if (topic != NULL && topic->present)
            publish_state_if_changed(feed, topic, now_ms);
    }
    feed->emitting = false;
    sweep(feed);
    return next_deadline(feed);
}

static int by_sale_id(const void *left, const void *right)
{
    const sale_feed_topic_t *a = *(sale_feed_topic_t *const *)left, *b = *(sale_feed_topic_t *const *)right;
    return (a->sale.sale_id > b->sale.sale_id) - (a->sale.sale_id < b->sale.sale_id);
}

bool sale_feed_each_sale(sale_feed_t *feed, void (*cb)(void *ctx, sale_feed_topic_t *topic), void *ctx)
{
    sale_feed_topic_t **present = malloc((feed->count > 0 ? feed->count : 1) * sizeof(*present));
    size_t count = 0;
    if (present == NULL)
        return false;
    for (size_t i = 0; i < feed->slot_count; ++i)
        if (feed->slots[i] != NULL && feed->slots[i]->present)
            present[count++] = feed->slots[i];
    qsort(present, count, sizeof(*present), by_sale_id);
    /* A release from cb waits for the sweep, so that every pointer above stays valid. */
    bool nested = feed->emitting;
    feed->emitting = true;
    for (size_t i = 0; i < count; ++i)
        cb(ctx, present[i]);
    feed->emitting = nested;
    if (!nested)
        sweep(feed);
    free(present);
    return true;
}

uint64_t sale_feed_deletions(const sale_feed_t *feed)
{
    return feed->deletions;
}

bool sale_feed_deleted_since(const sale_feed_t *feed, uint64_t mark, void (*cb)(void *ctx, const char *sku),
                             void *ctx)
{
    assert(mark <= feed->deletions);
    if (feed->deletions - mark > SALE_FEED_DELETION_LOG)
        return false;
    for (uint64_t ordinal = mark + 1; ordinal <= feed->deletions; ++ordinal)
        cb(ctx, feed->deleted[(ordinal - 1) % SALE_FEED_DELETION_LOG]);
    return true;
}
