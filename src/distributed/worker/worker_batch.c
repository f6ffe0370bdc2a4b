#include "distributed/worker/worker_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distributed/outbox.h"

void worker_batch_init(worker_batch_t *batch)
{
    memset(batch, 0, sizeof(*batch));
}

void worker_batch_clear(worker_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        free(batch->orders[i].reason);
    for (size_t i = 0; i < batch->reply_count; i++)
        freeReplyObject(batch->replies[i]);
    batch->count = 0;
    batch->reply_count = 0;
}

void worker_batch_dispose(worker_batch_t *batch)
{
    worker_batch_clear(batch);
    free(batch->orders);
    free(batch->replies);
    worker_batch_init(batch);
}

void worker_batch_set_fate(worker_order_t *order, worker_order_fate_t fate, const char *reason)
{
    free(order->reason);
    order->reason = strdup(reason);
    order->fate = fate;
}

size_t worker_batch_count(const worker_batch_t *batch, worker_order_fate_t fate)
{
    size_t count = 0;
    for (size_t i = 0; i < batch->count; i++)
        count += batch->orders[i].fate == fate;
    return count;
}

/* Grows *array to hold at least `needed` elements of `size` bytes, doubling. */
static int reserve(void **array, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity)
        return 0;
    size_t next = *capacity == 0 ? 64 : *capacity;
    while (next < needed)
        next *= 2;
    void *grown = realloc(*array, next * size);
    if (grown == NULL)
        return -1;
    *array = grown;
    *capacity = next;
    return 0;
}

/* A non-empty string without NUL bytes: PostgreSQL text cannot hold one. */
static const char *text_field(const redisReply *value)
{
    if (value->type != REDIS_REPLY_STRING || value->len == 0 || strlen(value->str) != value->len)
        return NULL;
    return value->str;
}

/* A positive decimal integer, the whole string. */
static int integer_field(const redisReply *value, int64_t *out)
{
    if (text_field(value) == NULL)
        return -1;
    char *end;
    errno = 0;
    long long parsed = strtoll(value->str, &end, 10);
    if (errno != 0 || *end != '\0' || parsed <= 0)
        return -1;
    *out = parsed;
    return 0;
}

/* The sku of a stream key "flashsale:{<sku>}:orders" into out; -1 when it is not one. */
static int stream_sku(const char *stream, char *out, size_t out_size)
{
    static const char prefix[] = OUTBOX_KEY_PREFIX "{", suffix[] = "}:orders";
    const size_t prefix_len = sizeof(prefix) - 1, suffix_len = sizeof(suffix) - 1;
    size_t len = strlen(stream);
    if (len <= prefix_len + suffix_len || strncmp(stream, prefix, prefix_len) != 0 ||
        strcmp(stream + len - suffix_len, suffix) != 0)
        return -1;
    size_t sku_len = len - prefix_len - suffix_len;
    if (sku_len >= out_size)
        return -1;
    memcpy(out, stream + prefix_len, sku_len);
    out[sku_len] = '\0';
    return 0;
}

/* The sequence of an entry ID "<sequence>-<n>". */
static int entry_sequence(const char *entry_id, int64_t *out)
{
    char *end;
    errno = 0;
    long long parsed = strtoll(entry_id, &end, 10);
    if (errno != 0 || end == entry_id || *end != '-' || parsed <= 0)
        return -1;
    *out = parsed;
    return 0;
}

/* Fills the order from its entry; returns the first missing or bad field, or NULL. */
static const char *parse_order(worker_order_t *order, const redisReply *fields)
{
    if (stream_sku(order->stream, order->sku, sizeof(order->sku)) != 0)
        return "stream key";
    if (entry_sequence(order->entry_id, &order->sequence) != 0)
        return "entry id";
    if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
        return "fields";
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *name = fields->element[i];
        const redisReply *value = fields->element[i + 1];
        if (name->type != REDIS_REPLY_STRING)
            return "fields";
        /* A later duplicate of a field wins; unknown fields (and those older writers added, which
         * the entry's place implies) are ignored. */
        if (strcmp(name->str, OUTBOX_FIELD_USER_ID) == 0)
            order->user_id = text_field(value);
        else if (strcmp(name->str, OUTBOX_FIELD_SALE_ID) == 0 && integer_field(value, &order->sale_id) != 0)
            return OUTBOX_FIELD_SALE_ID;
        else if (strcmp(name->str, OUTBOX_FIELD_PURCHASED_MS) == 0 &&
                 integer_field(value, &order->purchased_ms) != 0)
            return OUTBOX_FIELD_PURCHASED_MS;
    }
    if (order->user_id == NULL)
        return OUTBOX_FIELD_USER_ID;
    if (order->sale_id == 0)
        return OUTBOX_FIELD_SALE_ID;
    if (order->purchased_ms == 0)
        return OUTBOX_FIELD_PURCHASED_MS;
    sale_format_purchase_no(order->purchase_no, (uint64_t)order->sale_id, (uint64_t)order->sequence);
    return NULL;
}

int worker_batch_keep(worker_batch_t *batch, redisReply *reply)
{
    if (reserve((void **)&batch->replies, &batch->reply_capacity, batch->reply_count + 1,
                sizeof(*batch->replies)) != 0) {
        freeReplyObject(reply);
        return -1;
    }
    batch->replies[batch->reply_count++] = reply;
    return 0;
}

int worker_batch_add(worker_batch_t *batch, const char *stream, const redisReply *entries,
                     long long deliveries)
{
    if (reserve((void **)&batch->orders, &batch->capacity, batch->count + entries->elements,
                sizeof(*batch->orders)) != 0)
        return -1;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *entry = entries->element[i];
        /* XAUTOCLAIM on Redis 6.2 lists an entry deleted from the stream as nil. */
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element[0]->type != REDIS_REPLY_STRING)
            continue;
        worker_order_t *order = &batch->orders[batch->count++];
        *order = (worker_order_t){
            .stream = stream,
            .entry_id = entry->element[0]->str,
            .fields = entry->element[1],
            .deliveries = deliveries,
            .fate = WORKER_ORDER_TO_STORE,
        };
        const char *bad = parse_order(order, entry->element[1]);
        if (bad != NULL) {
            char reason[64];
            snprintf(reason, sizeof(reason), "unparseable: missing or bad %s", bad);
            worker_batch_set_fate(order, WORKER_ORDER_DEAD, reason);
        }
    }
    return 0;
}
