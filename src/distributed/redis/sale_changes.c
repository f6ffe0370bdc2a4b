#include "distributed/redis/sale_changes.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "distributed/outbox.h"

/* Bounds a connection attempt, the replies to SUBSCRIBE and the answer to a PING. */
#define REDIS_TIMEOUT_MS 2000
#define IDLE_PING_MS     5000
#define RETRY_FIRST_MS   50
#define RETRY_MAX_MS     2000

typedef struct {
    char sku[SALE_SKU_MAX + 1];
    uint64_t sale_id;
    int64_t stock;
} board_entry_t;

struct sale_changes {
    redis_address_t redis;
    atomic_uint_fast64_t *generation;
    pthread_t thread;
    int stop_fd; /* an eventfd: readable once stopping */
    atomic_uint_fast64_t resync_generation;
    atomic_uint_fast64_t connections;
    /* Guards the board and the listeners. Loops take it once per delivery, the thread once per
     * notice: never once per subscriber. */
    pthread_mutex_t lock;
    board_entry_t **slots; /* open addressing by sku, NULL = empty; at most half full */
    size_t slot_count;
    size_t count;
    sale_changes_listener_t *listeners;
    bool failing; /* the thread's: Redis being away is logged once */
};

/* ---- the board ---- */

static uint64_t hash_sku(const char *sku, size_t len)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; ++i)
        hash = (hash ^ (unsigned char)sku[i]) * 1099511628211ull;
    return hash;
}

static size_t find_slot(const sale_changes_t *changes, const char *sku, size_t len)
{
    size_t mask = changes->slot_count - 1, slot = hash_sku(sku, len) & mask;
    while (changes->slots[slot] != NULL &&
           (strlen(changes->slots[slot]->sku) != len || memcmp(changes->slots[slot]->sku, sku, len) != 0))
        slot = (slot + 1) & mask;
    return slot;
}

static void clear_board(sale_changes_t *changes)
{
    for (size_t i = 0; i < changes->slot_count; ++i) {
        free(changes->slots[i]);
        changes->slots[i] = NULL;
    }
    changes->count = 0;
}

static int grow_board(sale_changes_t *changes)
{
    board_entry_t **old = changes->slots;
    size_t old_count = changes->slot_count;
    size_t new_count = old_count == 0 ? 64 : old_count * 2;
    if ((changes->slots = calloc(new_count, sizeof(*changes->slots))) == NULL) {
        changes->slots = old;
        return -1;
    }
    changes->slot_count = new_count;
    for (size_t i = 0; i < old_count; ++i)
        if (old[i] != NULL)
            changes->slots[find_slot(changes, old[i]->sku, strlen(old[i]->sku))] = old[i];
    free(old);
    return 0;
}

/* Backward-shift deletion keeps every probe sequence unbroken without tombstones. */
static void forget(sale_changes_t *changes, const char *sku, size_t len)
{
    size_t mask = changes->slot_count - 1, hole = find_slot(changes, sku, len);
    if (changes->slots[hole] == NULL)
        return;
    free(changes->slots[hole]);
    changes->slots[hole] = NULL;
    --changes->count;
    for (size_t next = (hole + 1) & mask; changes->slots[next] != NULL; next = (next + 1) & mask) {
        const char *moved = changes->slots[next]->sku;
        size_t home = hash_sku(moved, strlen(moved)) & mask;
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            changes->slots[hole] = changes->slots[next];
            changes->slots[next] = NULL;
            hole = next;
        }
    }
}

/* Records a published stock; false when the board is full or out of memory (resync instead). */
static bool record_stock(sale_changes_t *changes, const char *sku, size_t len, uint64_t sale_id,
                         int64_t stock)
{
    size_t slot = find_slot(changes, sku, len);
    board_entry_t *entry = changes->slots[slot];
    if (entry == NULL) {
        if (changes->count >= SALE_CHANGES_BOARD_MAX)
            return false;
        if ((changes->count + 1) * 2 > changes->slot_count) {
            if (grow_board(changes) != 0)
                return false;
            slot = find_slot(changes, sku, len);
        }
        if ((entry = calloc(1, sizeof(*entry))) == NULL)
            return false;
        memcpy(entry->sku, sku, len);
        entry->sale_id = sale_id;
        entry->stock = stock;
        changes->slots[slot] = entry;
        ++changes->count;
        return true;
    }
    /* A sale's stock only goes down once it sells; messages arrive in Redis' order anyway. */
    if (entry->sale_id != sale_id || stock < entry->stock) {
        entry->sale_id = sale_id;
        entry->stock = stock;
    }
    return true;
}

void sale_changes_apply(sale_changes_t *changes, sale_t *sales, size_t count)
{
    pthread_mutex_lock(&changes->lock);
    for (size_t i = 0; i < count && changes->count > 0; ++i) {
        const board_entry_t *entry = changes->slots[find_slot(changes, sales[i].sku, strlen(sales[i].sku))];
        if (entry != NULL && entry->sale_id == sales[i].sale_id && entry->stock < sales[i].stock)
            sales[i].stock = entry->stock;
    }
    pthread_mutex_unlock(&changes->lock);
}

/* ---- notices ---- */

/* Under lock. */
static void notify_all(sale_changes_t *changes)
{
    for (sale_changes_listener_t *listener = changes->listeners; listener != NULL; listener = listener->next)
        listener->notify(listener);
}

/* Under lock: loops must read their snapshot again, at a generation taken after this notice. */
static void resync(sale_changes_t *changes)
{
    uint_fast64_t generation = atomic_fetch_add_explicit(changes->generation, 1, memory_order_acq_rel) + 1;
    atomic_store_explicit(&changes->resync_generation, generation, memory_order_release);
}

/* "<sku> <stock> <sale_id>"; a message without its sale_id (an older script) asks for a resync. */
static void on_stock(sale_changes_t *changes, const char *text, size_t len)
{
    char buffer[SALE_SKU_MAX + 48];
    if (len >= sizeof(buffer))
        return;
    memcpy(buffer, text, len);
    buffer[len] = '\0';
    char *space = strchr(buffer, ' ');
    if (space == NULL || space == buffer || (size_t)(space - buffer) > SALE_SKU_MAX)
        return;
    char *end;
    errno = 0;
    long long stock = strtoll(space + 1, &end, 10);
    unsigned long long sale_id = 0;
    if (errno == 0 && *end == ' ')
        sale_id = strtoull(end + 1, &end, 10);
    bool complete = errno == 0 && *end == '\0' && end != space + 1 && sale_id != 0;
    if (!complete || !record_stock(changes, buffer, (size_t)(space - buffer), sale_id, stock)) {
        clear_board(changes);
        resync(changes);
    }
}

static void on_message(sale_changes_t *changes, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[1]->type != REDIS_REPLY_STRING || reply->element[2]->type != REDIS_REPLY_STRING)
        return; /* a PING's answer, or a subscription's confirmation */
    const redisReply *channel = reply->element[1], *payload = reply->element[2];
    pthread_mutex_lock(&changes->lock);
    if (strcmp(channel->str, OUTBOX_STOCK_CHANNEL) == 0) {
        on_stock(changes, payload->str, payload->len);
    } else {
        /* The sale was created, updated or deleted: its old stock no longer applies. */
        if (payload->len <= SALE_SKU_MAX)
            forget(changes, payload->str, payload->len);
        resync(changes);
    }
    notify_all(changes);
    pthread_mutex_unlock(&changes->lock);
}

/* ---- the thread ---- */

/* Waits for up to ms, or less when stopping; returns true when stopping. */
static bool wait_or_stop(sale_changes_t *changes, int ms)
{
    struct pollfd stop = {.fd = changes->stop_fd, .events = POLLIN};
    return poll(&stop, 1, ms) > 0;
}

static int flush(redisContext *redis)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(redis, &done) != REDIS_OK)
            return -1;
    return 0;
}

static int subscribe(redisContext *redis)
{
    redisAppendCommand(redis, "SUBSCRIBE %s %s", OUTBOX_STOCK_CHANNEL, OUTBOX_CHANGES_CHANNEL);
    for (int i = 0; i < 2; ++i) {
        redisReply *reply;
        if (redisGetReply(redis, (void **)&reply) != REDIS_OK)
            return -1;
        bool confirmed = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3;
        freeReplyObject(reply);
        if (!confirmed)
            return -1;
    }
    return 0;
}

/* Reads notices until the connection fails or goes silent (returns false), or stopping (true). */
static bool listen_until_lost(sale_changes_t *changes, redisContext *redis)
{
    struct pollfd fds[2] = {{.fd = redis->fd, .events = POLLIN}, {.fd = changes->stop_fd, .events = POLLIN}};
    bool pinged = false;
    for (;;) {
        int ready = poll(fds, 2, pinged ? REDIS_TIMEOUT_MS : IDLE_PING_MS);
        if (ready < 0 && errno != EINTR)
            return false;
        if (ready > 0 && fds[1].revents != 0)
            return true;
        if (ready == 0) {
            if (pinged)
                return false;
            redisAppendCommand(redis, "PING");
            if (flush(redis) != 0)
                return false;
            pinged = true;
            continue;
        }
        if (ready < 0 || fds[0].revents == 0)
            continue;
        if (redisBufferRead(redis) != REDIS_OK)
            return false;
        pinged = false;
        redisReply *reply;
        while (redisGetReplyFromReader(redis, (void **)&reply) == REDIS_OK && reply != NULL) {
            on_message(changes, reply);
            freeReplyObject(reply);
        }
        if (redis->err != 0)
            return false;
    }
}

static void *run(void *data)
{
    sale_changes_t *changes = data;
    int retry_ms = RETRY_FIRST_MS;
    for (;;) {
        char err[256] = "";
        redisContext *redis = NULL;
        bool connected = redis_address_connect(&changes->redis, REDIS_TIMEOUT_MS, &redis, err, sizeof(err)) ==
                         REDIS_CONNECT_OK;
        if (connected && subscribe(redis) == 0) {
            if (changes->failing)
                log_info("sale-changes", "subscribed to Redis again");
            changes->failing = false;
            retry_ms = RETRY_FIRST_MS;
            atomic_fetch_add_explicit(&changes->connections, 1, memory_order_release);
            /* Whatever was published while nobody listened is read from the snapshot. */
            pthread_mutex_lock(&changes->lock);
            clear_board(changes);
            resync(changes);
            notify_all(changes);
            pthread_mutex_unlock(&changes->lock);
            bool stopping = listen_until_lost(changes, redis);
            redisFree(redis);
            if (stopping)
                return NULL;
            continue;
        }
        if (connected)
            snprintf(err, sizeof(err), "redis: SUBSCRIBE failed: %s",
                     redis->err != 0 ? redis->errstr : "bad reply");
        if (redis != NULL)
            redisFree(redis);
        if (!changes->failing)
            log_warn("sale-changes", "%s; live events of other instances wait until it answers", err);
        changes->failing = true;
        if (wait_or_stop(changes, retry_ms))
            return NULL;
        retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
    }
}

sale_changes_t *sale_changes_start(const redis_address_t *redis, atomic_uint_fast64_t *generation)
{
    sale_changes_t *changes = calloc(1, sizeof(*changes));
    if (changes == NULL)
        return NULL;
    changes->redis = *redis;
    changes->generation = generation;
    pthread_mutex_init(&changes->lock, NULL);
    if ((changes->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 || grow_board(changes) != 0 ||
        pthread_create(&changes->thread, NULL, run, changes) != 0) {
        if (changes->stop_fd >= 0)
            close(changes->stop_fd);
        free(changes->slots);
        pthread_mutex_destroy(&changes->lock);
        free(changes);
        return NULL;
    }
    return changes;
}

void sale_changes_stop(sale_changes_t *changes)
{
    uint64_t one = 1;
    if (write(changes->stop_fd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd write of 1 cannot fail short of a bug */
    pthread_join(changes->thread, NULL);
    assert(changes->listeners == NULL);
    close(changes->stop_fd);
    clear_board(changes);
    free(changes->slots);
    pthread_mutex_destroy(&changes->lock);
    free(changes);
}

void sale_changes_listen(sale_changes_t *changes, sale_changes_listener_t *listener)
{
    pthread_mutex_lock(&changes->lock);
    listener->next = changes->listeners;
    changes->listeners = listener;
    pthread_mutex_unlock(&changes->lock);
}

void sale_changes_unlisten(sale_changes_t *changes, sale_changes_listener_t *listener)
{
    pthread_mutex_lock(&changes->lock);
    sale_changes_listener_t **link = &changes->listeners;
    while (*link != listener)
        link = &(*link)->next;
    *link = listener->next;
    pthread_mutex_unlock(&changes->lock);
}

uint64_t sale_changes_resync_generation(sale_changes_t *changes)
{
    return atomic_load_explicit(&changes->resync_generation, memory_order_acquire);
}

uint64_t sale_changes_connections(sale_changes_t *changes)
{
    return atomic_load_explicit(&changes->connections, memory_order_acquire);
}
