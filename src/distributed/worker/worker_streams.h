/*
 * worker_streams: the worker's Redis side — the set of order streams it follows, its consumer in
 * their consumer group, and the steps that take orders out of them (see outbox.h for the keys).
 *
 * One blocking hiredis connection. Any I/O error drops it and the next call reconnects, so the
 * caller only has to retry with a backoff. The consumer name stays the same across reconnects,
 * so entries delivered before a reconnect are still this worker's to acknowledge after it.
 *
 * Acknowledging also deletes, in one atomic script after PostgreSQL committed the entries: XACK,
 * then XTRIM of the acknowledged prefix of the stream and XDEL of the rest (see
 * acknowledge_script). A stream therefore holds exactly the orders not yet known to be in
 * PostgreSQL, its length is the persistence lag, and whoever rebuilds state from "PostgreSQL plus
 * the streams" must read the streams first: an entry deleted in between was committed before.
 */
#ifndef FLASHSALE_WORKER_STREAMS_H
#define FLASHSALE_WORKER_STREAMS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "distributed/redis/redis_address.h"
#include "distributed/worker/worker_batch.h"

typedef struct worker_streams worker_streams_t;

/*
 * Parses the Redis URL (redis_address.h) without connecting; NULL with one human line in
 * err when it does not parse. consumer (copied) names this worker in the consumer group and must
 * be unique among live workers. block_ms bounds how long a read waits for new orders.
 */
worker_streams_t *worker_streams_open(const char *redis_url, const char *consumer, int block_ms, char *err,
                                      size_t err_size);
void worker_streams_close(worker_streams_t *streams);

/*
 * Connects unless connected (every other call does so too); returns REDIS_CONNECT_OK, or why not
 * with one line in err. The worker calls it once at start, where a refused password is fatal.
 */
redis_connect_result_t worker_streams_connect(worker_streams_t *streams, char *err, size_t err_size);

/*
 * Re-reads the set of sales and makes sure every sale's stream exists with the consumer group
 * reading from its start, so orders appended before the group existed are read too. Returns 0,
 * or -1 with one line in err when Redis is unavailable.
 */
int worker_streams_discover(worker_streams_t *streams, char *err, size_t err_size);

/*
 * Adds up to `count` never-delivered orders per stream to the batch (deliveries = 1), waiting up
 * to block_ms for the first. Returns 0 (maybe with nothing added), or -1 with one line in err.
 */
int worker_streams_read(worker_streams_t *streams, worker_batch_t *batch, size_t count, char *err,
                        size_t err_size);

/*
 * Takes over up to `count` entries per stream that some consumer — a dead worker, or this one
 * after PostgreSQL refused them — left pending longer than idle_ms, and adds them to the batch
 * with their delivery counts (this delivery included). Returns 0, or -1 with one line in err.
 */
int worker_streams_claim(worker_streams_t *streams, worker_batch_t *batch, long long idle_ms, size_t count,
                         char *err, size_t err_size);

/*
 * Appends the batch's WORKER_ORDER_DEAD orders to the dead-letter stream, then acknowledges and
 * deletes those and the WORKER_ORDER_STORED ones. Safe to repeat after a failure: a dead letter
 * may then be written twice, an order is never acknowledged before it is stored or dead-lettered.
 * Returns 0, or -1 with one line in err.
 */
int worker_streams_finish(worker_streams_t *streams, const worker_batch_t *batch, char *err, size_t err_size);

/* The live connection (NULL while disconnected), for worker_lag_read; owned by streams. */
redisContext *worker_streams_context(worker_streams_t *streams);

#endif
