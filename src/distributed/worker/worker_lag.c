#include "distributed/worker/worker_lag.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "distributed/outbox.h"
#include "distributed/redis/redis_sale.h"

/* Commands queued per sale stream: XLEN, XPENDING (summary), XRANGE of the first entry. */
#define COMMANDS_PER_STREAM 3

/* The purchased_ms field of an entry [id, [field, value, ...]]; 0 when it has none. */
static long long purchased_ms(const redisReply *entry)
{
    const redisReply *fields = entry->element[1];
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        if (strcmp(fields->element[i]->str, OUTBOX_FIELD_PURCHASED_MS) == 0)
            return strtoll(fields->element[i + 1]->str, NULL, 10);
    }
    return 0;
}

static int get_reply(redisContext *redis, redisReply **reply, char *err, size_t err_size)
{
    if (redisGetReply(redis, (void **)reply) != REDIS_OK) {
        snprintf(err, err_size, "redis: %s", redis->errstr);
        return -1;
    }
    return 0;
}

/* Adds one stream's three replies into lag; oldest_ms tracks the smallest first-entry time. */
static void add_stream(worker_lag_t *lag, redisReply *const replies[COMMANDS_PER_STREAM],
                       long long *oldest_ms)
{
    const redisReply *length = replies[0], *pending = replies[1], *first = replies[2];
    if (length->type == REDIS_REPLY_INTEGER)
        lag->length += length->integer;
    /* [count, smallest id, greatest id, consumers]; an error (NOGROUP) before the first discovery. */
    if (pending->type == REDIS_REPLY_ARRAY && pending->elements == 4 &&
        pending->element[0]->type == REDIS_REPLY_INTEGER)
        lag->pending += pending->element[0]->integer;
    /* Stream ids are sequences, not times (see redis_sale.h), so the age comes from the order. */
    if (first->type == REDIS_REPLY_ARRAY && first->elements == 1) {
        long long ms = purchased_ms(first->element[0]);
        if (ms > 0 && (*oldest_ms == 0 || ms < *oldest_ms))
            *oldest_ms = ms;
    }
}

/* Queues and reads the per-stream commands for every sale in members. */
static int read_streams(redisContext *redis, const redisReply *members, worker_lag_t *lag,
                        long long *oldest_ms, char *err, size_t err_size)
{
    for (size_t i = 0; i < members->elements; i++) {
        redis_sale_keys_t keys;
        redis_sale_keys(&keys, members->element[i]->str);
        redisAppendCommand(redis, "XLEN %s", keys.orders);
        redisAppendCommand(redis, "XPENDING %s %s", keys.orders, OUTBOX_CONSUMER_GROUP);
        redisAppendCommand(redis, "XRANGE %s - + COUNT 1", keys.orders);
    }
    int rc = 0;
    for (size_t i = 0; i < members->elements; i++) {
        redisReply *replies[COMMANDS_PER_STREAM] = {NULL};
        for (size_t j = 0; j < COMMANDS_PER_STREAM && rc == 0; j++)
            rc = get_reply(redis, &replies[j], err, err_size);
        if (rc == 0)
            add_stream(lag, replies, oldest_ms);
        for (size_t j = 0; j < COMMANDS_PER_STREAM; j++)
            freeReplyObject(replies[j]);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int worker_lag_read(redisContext *redis, worker_lag_t *lag, char *err, size_t err_size)
{
    *lag = (worker_lag_t){0};
    redisAppendCommand(redis, "SMEMBERS %s", OUTBOX_SALES_SET);
    redisAppendCommand(redis, "XLEN %s", OUTBOX_DEAD_LETTER);
    /* The purchase script stamps orders with Redis' clock, so the age is measured on it. */
    redisAppendCommand(redis, "TIME");
    redisReply *members = NULL, *dead = NULL, *time = NULL;
    int rc = -1;
    if (get_reply(redis, &members, err, err_size) != 0 || get_reply(redis, &dead, err, err_size) != 0 ||
        get_reply(redis, &time, err, err_size) != 0)
        goto Exit;
    if (members->type != REDIS_REPLY_ARRAY || dead->type != REDIS_REPLY_INTEGER ||
        time->type != REDIS_REPLY_ARRAY || time->elements != 2) {
        snprintf(err, err_size, "redis: unexpected reply reading the lag");
        goto Exit;
    }
    lag->streams = (long long)members->elements;
    lag->dead_letters = dead->integer;
    long long oldest_ms = 0;
    if (read_streams(redis, members, lag, &oldest_ms, err, err_size) != 0)
        goto Exit;
    long long now_ms =
        strtoll(time->element[0]->str, NULL, 10) * 1000 + strtoll(time->element[1]->str, NULL, 10) / 1000;
    lag->oldest_age_ms = oldest_ms == 0 || now_ms < oldest_ms ? 0 : now_ms - oldest_ms;
    rc = 0;
Exit:
    freeReplyObject(members);
    freeReplyObject(dead);
    freeReplyObject(time);
    return rc;
}

#define SAMPLE_INTERVAL_MS 1000
/* Bounds both a hung Redis' hold on the thread and how long stopping may wait for it. */
#define SAMPLE_TIMEOUT_MS 2000

struct worker_lag_sampler {
    redis_address_t redis;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    bool stopping;       /* under lock */
    atomic_llong streams, length, pending, oldest_age_ms, dead_letters;
    atomic_llong sampled_ms; /* monotonic time of the latest success, or of the start */
    bool failing;            /* only the thread's; logs a failure once, not every second */
};

static void store_sample(worker_lag_sampler_t *sampler, const worker_lag_t *lag)
{
    atomic_store_explicit(&sampler->streams, lag->streams, memory_order_relaxed);
    atomic_store_explicit(&sampler->length, lag->length, memory_order_relaxed);
    atomic_store_explicit(&sampler->pending, lag->pending, memory_order_relaxed);
    atomic_store_explicit(&sampler->oldest_age_ms, lag->oldest_age_ms, memory_order_relaxed);
    atomic_store_explicit(&sampler->dead_letters, lag->dead_letters, memory_order_relaxed);
    atomic_store_explicit(&sampler->sampled_ms, clock_monotonic_ms(), memory_order_release);
}

/* One sample; keeps the connection across samples, drops it after an error. */
static void sample(worker_lag_sampler_t *sampler, redisContext **redis)
{
    char err[256];
    worker_lag_t lag;
    if (*redis == NULL)
        redis_address_connect(&sampler->redis, SAMPLE_TIMEOUT_MS, redis, err, sizeof(err));
    if (*redis != NULL && worker_lag_read(*redis, &lag, err, sizeof(err)) == 0) {
        store_sample(sampler, &lag);
        sampler->failing = false;
        return;
    }
    if (*redis != NULL && (*redis)->err != 0) {
        redisFree(*redis);
        *redis = NULL;
    }
    if (!sampler->failing)
        log_warn("outbox", "%s; the outbox gauges are stale until it answers", err);
    sampler->failing = true;
}

static void *run(void *data)
{
    worker_lag_sampler_t *sampler = data;
    redisContext *redis = NULL;
    pthread_mutex_lock(&sampler->lock);
    while (!sampler->stopping) {
        pthread_mutex_unlock(&sampler->lock);
        sample(sampler, &redis);
        struct timespec until = clock_deadline_in(SAMPLE_INTERVAL_MS);
        pthread_mutex_lock(&sampler->lock);
        while (!sampler->stopping && pthread_cond_timedwait(&sampler->wake, &sampler->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&sampler->lock);
    redisFree(redis);
    return NULL;
}

worker_lag_sampler_t *worker_lag_sampler_start(const redis_address_t *redis)
{
    worker_lag_sampler_t *sampler = calloc(1, sizeof(*sampler));
    if (sampler == NULL)
        return NULL;
    sampler->redis = *redis;
    atomic_store(&sampler->sampled_ms, clock_monotonic_ms());
    clock_cond_init(&sampler->wake);
    pthread_mutex_init(&sampler->lock, NULL);
    if (pthread_create(&sampler->thread, NULL, run, sampler) != 0) {
        pthread_cond_destroy(&sampler->wake);
        pthread_mutex_destroy(&sampler->lock);
        free(sampler);
        return NULL;
    }
    return sampler;
}

void worker_lag_sampler_latest(worker_lag_sampler_t *sampler, worker_lag_t *lag, int64_t *age_ms)
{
    int64_t sampled = atomic_load_explicit(&sampler->sampled_ms, memory_order_acquire);
    lag->streams = atomic_load_explicit(&sampler->streams, memory_order_relaxed);
    lag->length = atomic_load_explicit(&sampler->length, memory_order_relaxed);
    lag->pending = atomic_load_explicit(&sampler->pending, memory_order_relaxed);
    lag->oldest_age_ms = atomic_load_explicit(&sampler->oldest_age_ms, memory_order_relaxed);
    lag->dead_letters = atomic_load_explicit(&sampler->dead_letters, memory_order_relaxed);
    int64_t now = clock_monotonic_ms();
    *age_ms = now > sampled ? now - sampled : 0;
}

void worker_lag_sampler_stop(worker_lag_sampler_t *sampler)
{
    pthread_mutex_lock(&sampler->lock);
    sampler->stopping = true;
    pthread_cond_signal(&sampler->wake);
    pthread_mutex_unlock(&sampler->lock);
    pthread_join(sampler->thread, NULL);
    pthread_cond_destroy(&sampler->wake);
    pthread_mutex_destroy(&sampler->lock);
    free(sampler);
}
