#include "distributed/sale_snapshot.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "distributed/outbox.h"
#include "distributed/redis/redis_sale.h"

typedef struct waiter {
    struct waiter *next;
    uint64_t generation; /* the copy must have been taken at this generation or later */
    sale_snapshot_cb cb;
    void *ctx;
} waiter_t;

typedef struct refresh refresh_t;

typedef struct {
    refresh_t *refresh;
    sale_t sale;
    bool present;
} slot_t;

/* One round of reads in flight; owned by it until complete() frees it. */
struct refresh {
    sale_snapshot_t *snapshot;
    uint64_t started_at;
    uint64_t generation;
    int64_t sent_ms;         /* local clock when TIME was sent */
    int64_t redis_offset_ms; /* Redis' clock minus the local one */
    bool ready;
    bool failed;
    size_t pending; /* HMGET replies still expected */
    size_t slot_count;
    slot_t *slots;
};

struct sale_snapshot {
    h2o_loop_t *loop;
    redis_client_t *redis;
    atomic_uint_fast64_t *generation;
    persisted_counts_t *persisted; /* or NULL */
    void (*on_not_ready)(void *data);
    void *data;
    /* The copy, valid once a refresh succeeded; owned. */
    sale_t *sales;
    size_t count;
    bool valid;
    uint64_t taken_at;
    uint64_t taken_generation;
    int64_t redis_offset_ms;
    waiter_t *waiters;
    waiter_t **waiters_tail;
    refresh_t *refresh; /* in flight, or NULL */
};

static void start_refresh(sale_snapshot_t *snapshot);

static int by_sale_id(const void *left, const void *right)
{
    const sale_t *a = left, *b = right;
    return (a->sale_id > b->sale_id) - (a->sale_id < b->sale_id);
}

/* Keeps the sales that were present, in sale_id order; returns false when out of memory. */
static bool install(sale_snapshot_t *snapshot, refresh_t *refresh)
{
    sale_t *sales = malloc((refresh->slot_count > 0 ? refresh->slot_count : 1) * sizeof(*sales));
    if (sales == NULL)
        return false;
    size_t count = 0;
    for (size_t i = 0; i < refresh->slot_count; i++) {
        if (!refresh->slots[i].present)
            continue;
        sales[count] = refresh->slots[i].sale;
        sales[count].persisted_purchases =
            snapshot->persisted != NULL ? persisted_counts_get(snapshot->persisted, sales[count].sale_id)
                                        : -1;
        count++;
    }
    qsort(sales, count, sizeof(*sales), by_sale_id);
    free(snapshot->sales);
    snapshot->sales = sales;
    snapshot->count = count;
    snapshot->valid = true;
    snapshot->taken_at = refresh->started_at;
    snapshot->taken_generation = refresh->generation;
    snapshot->redis_offset_ms = refresh->redis_offset_ms;
    return true;
}

/* Answers every reader the copy taken at generation (or failure); starts a newer copy if needed. */
static void answer_waiters(sale_snapshot_t *snapshot, bool ok, uint64_t generation)
{
    /* Callbacks may read again, so the list is detached before they run. */
    waiter_t *waiter = snapshot->waiters;
    snapshot->waiters = NULL;
    snapshot->waiters_tail = &snapshot->waiters;
    while (waiter != NULL) {
        waiter_t *next = waiter->next;
        if (ok && waiter->generation > generation) {
            /* A change completed after this round started: it needs a newer copy. */
            waiter->next = NULL;
            *snapshot->waiters_tail = waiter;
            snapshot->waiters_tail = &waiter->next;
        } else {
            waiter->cb(waiter->ctx, ok, ok ? snapshot->sales : NULL, ok ? snapshot->count : 0);
            free(waiter);
        }
        waiter = next;
    }
    if (snapshot->waiters != NULL && snapshot->refresh == NULL)
        start_refresh(snapshot);
}

static void complete(refresh_t *refresh)
{
    sale_snapshot_t *snapshot = refresh->snapshot;
    snapshot->refresh = NULL;
    bool ok = !refresh->failed && refresh->ready && install(snapshot, refresh);
    uint64_t generation = refresh->generation;
    if (!refresh->failed && !refresh->ready)
        snapshot->on_not_ready(snapshot->data);
    free(refresh->slots);
    free(refresh);
    answer_waiters(snapshot, ok, generation);
}

static void finish_one(refresh_t *refresh)
{
    if (--refresh->pending == 0)
        complete(refresh);
}

static void on_sale(void *ctx, redisReply *reply)
{
    slot_t *slot = ctx;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != REDIS_SALE_FIELD_COUNT)
        slot->refresh->failed = true;
    else
        /* A sku whose hash is gone (deleted, not yet pruned) decodes as absent and is skipped. */
        slot->present = redis_sale_decode(reply->element, &slot->sale) == 0;
    finish_one(slot->refresh);
}

static void on_members(void *ctx, redisReply *reply)
{
    refresh_t *refresh = ctx;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        refresh->failed = true;
    if (refresh->failed || !refresh->ready) {
        complete(refresh);
        return;
    }
    refresh->slots = calloc(reply->elements > 0 ? reply->elements : 1, sizeof(*refresh->slots));
    if (refresh->slots == NULL) {
        refresh->failed = true;
        complete(refresh);
        return;
    }
    refresh->slot_count = reply->elements;
    /* One more than the replies expected, so that a reply failing at once cannot complete early. */
    refresh->pending = 1;
    const char *argv[2 + REDIS_SALE_FIELD_COUNT] = {"HMGET"};
    memcpy(argv + 2, redis_sale_fields, sizeof(redis_sale_fields));
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *member = reply->element[i];
        slot_t *slot = &refresh->slots[i];
        slot->refresh = refresh;
        if (member->type != REDIS_REPLY_STRING || member->len > SALE_SKU_MAX)
            continue;
        memcpy(slot->sale.sku, member->str, member->len);
        redis_sale_keys_t keys;
        redis_sale_keys(&keys, slot->sale.sku);
        argv[1] = keys.sale;
        refresh->pending++;
        redis_client_command(refresh->snapshot->redis, 2 + REDIS_SALE_FIELD_COUNT, argv, NULL, on_sale, slot);
    }
    finish_one(refresh);
}

/* TIME answers seconds and microseconds; the reply is taken to mean the middle of the round trip. */
static void on_time(void *ctx, redisReply *reply)
{
    refresh_t *refresh = ctx;
    int64_t seconds, microseconds;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        redis_reply_int64(reply->element[0], &seconds) != 0 ||
        redis_reply_int64(reply->element[1], &microseconds) != 0) {
        refresh->failed = true;
        return;
    }
    int64_t local_ms = refresh->sent_ms + (clock_now_ms() - refresh->sent_ms) / 2;
    refresh->redis_offset_ms = seconds * 1000 + microseconds / 1000 - local_ms;
}

static void on_ready_marker(void *ctx, redisReply *reply)
{
    refresh_t *refresh = ctx;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER)
        refresh->failed = true;
    else
        refresh->ready = reply->integer == 1;
}

static void start_refresh(sale_snapshot_t *snapshot)
{
    refresh_t *refresh = calloc(1, sizeof(*refresh));
    if (refresh == NULL) {
        answer_waiters(snapshot, false, 0);
        return;
    }
    refresh->snapshot = snapshot;
    refresh->started_at = h2o_now(snapshot->loop);
    refresh->generation = atomic_load_explicit(snapshot->generation, memory_order_acquire);
    snapshot->refresh = refresh;
    /* One connection answers in order: the clock's and the marker's replies arrive before the
     * members'. */
    const char *time[] = {"TIME"};
    const char *exists[] = {"EXISTS", OUTBOX_READY_KEY};
    const char *members[] = {"SMEMBERS", OUTBOX_SALES_SET};
    refresh->sent_ms = clock_now_ms();
    redis_client_command(snapshot->redis, 1, time, NULL, on_time, refresh);
    redis_client_command(snapshot->redis, 2, exists, NULL, on_ready_marker, refresh);
    redis_client_command(snapshot->redis, 2, members, NULL, on_members, refresh);
}

sale_snapshot_t *sale_snapshot_create(h2o_loop_t *loop, redis_client_t *redis,
                                      atomic_uint_fast64_t *generation, persisted_counts_t *persisted,
                                      void (*on_not_ready)(void *data), void *data)
{
    sale_snapshot_t *snapshot = calloc(1, sizeof(*snapshot));
    if (snapshot == NULL)
        return NULL;
    snapshot->loop = loop;
    snapshot->redis = redis;
    snapshot->generation = generation;
    snapshot->persisted = persisted;
    snapshot->on_not_ready = on_not_ready;
    snapshot->data = data;
    snapshot->waiters_tail = &snapshot->waiters;
    return snapshot;
}

void sale_snapshot_destroy(sale_snapshot_t *snapshot)
{
    assert(snapshot->refresh == NULL && snapshot->waiters == NULL);
    free(snapshot->sales);
    free(snapshot);
}

static bool is_fresh(const sale_snapshot_t *snapshot, uint64_t generation)
{
    return snapshot->valid && h2o_now(snapshot->loop) - snapshot->taken_at <= SALE_SNAPSHOT_MAX_AGE_MS &&
           snapshot->taken_generation >= generation;
}

static uint64_t current_generation(const sale_snapshot_t *snapshot)
{
    return atomic_load_explicit(snapshot->generation, memory_order_acquire);
}

bool sale_snapshot_fresh(sale_snapshot_t *snapshot, const sale_t **sales, size_t *count)
{
    return sale_snapshot_fresh_since(snapshot, current_generation(snapshot), sales, count);
}

bool sale_snapshot_fresh_since(sale_snapshot_t *snapshot, uint64_t generation, const sale_t **sales,
                               size_t *count)
{
    if (!is_fresh(snapshot, generation))
        return false;
    *sales = snapshot->sales;
    *count = snapshot->count;
    return true;
}

void sale_snapshot_read(sale_snapshot_t *snapshot, sale_snapshot_cb cb, void *ctx)
{
    sale_snapshot_read_since(snapshot, current_generation(snapshot), cb, ctx);
}

void sale_snapshot_read_since(sale_snapshot_t *snapshot, uint64_t generation, sale_snapshot_cb cb, void *ctx)
{
    if (is_fresh(snapshot, generation)) {
        cb(ctx, true, snapshot->sales, snapshot->count);
        return;
    }
    waiter_t *waiter = malloc(sizeof(*waiter));
    if (waiter == NULL) {
        cb(ctx, false, NULL, 0);
        return;
    }
    *waiter = (waiter_t){.generation = generation, .cb = cb, .ctx = ctx};
    *snapshot->waiters_tail = waiter;
    snapshot->waiters_tail = &waiter->next;
    if (snapshot->refresh == NULL)
        start_refresh(snapshot);
}

int64_t sale_snapshot_redis_now_ms(const sale_snapshot_t *snapshot)
{
    assert(snapshot->valid);
    return clock_now_ms() + snapshot->redis_offset_ms;
}
