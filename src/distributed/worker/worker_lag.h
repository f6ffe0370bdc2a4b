/*
 * worker_lag: how far PostgreSQL is behind Redis, for /metrics, /health and the worker's log.
 *
 * Because the worker deletes an order from its stream once PostgreSQL committed it (see
 * worker_streams.h), everything still in the sale streams is not yet known to be persisted; the
 * numbers below are read from Redis alone, so any server instance can report them whether or not
 * a worker runs in it — a stopped worker shows as a growing lag.
 */
#ifndef FLASHSALE_WORKER_LAG_H
#define FLASHSALE_WORKER_LAG_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "distributed/redis/redis_address.h"

typedef struct {
    long long streams;       /* sale streams (live sales) */
    long long length;        /* orders in them: not yet known to be in PostgreSQL */
    long long pending;       /* of those, delivered to a worker and not yet acknowledged */
    long long oldest_age_ms; /* age of the oldest such order on Redis' clock; 0 when there is none */
    long long dead_letters;  /* entries of the dead-letter stream */
} worker_lag_t;

/*
 * Reads the lag with a few pipelined commands per sale on a blocking connection the caller owns:
 * call it from a thread that may block (never an event loop). Returns 0, or -1 with one line in
 * err; after an I/O error redis->err is set and the caller must reconnect.
 */
int worker_lag_read(redisContext *redis, worker_lag_t *lag, char *err, size_t err_size);

/*
 * A thread that reads the lag about once a second into atomics, so that event loops can report
 * it without waiting for Redis. Each field is read on its own: a reader may see fields of two
 * consecutive samples, which is fine for gauges.
 */
typedef struct worker_lag_sampler worker_lag_sampler_t;

/* Starts the thread (the address is copied); NULL on failure. */
worker_lag_sampler_t *worker_lag_sampler_start(const redis_address_t *redis);
/*
 * From any thread: the latest sample, and how long ago (monotonic ms) it was taken; before the
 * first success, the age counts from the start and the lag is all zeros.
 */
void worker_lag_sampler_latest(worker_lag_sampler_t *sampler, worker_lag_t *lag, int64_t *age_ms);
/* Waits for a read in progress (bounded by the Redis timeout), joins the thread and frees it. */
void worker_lag_sampler_stop(worker_lag_sampler_t *sampler);

#endif
