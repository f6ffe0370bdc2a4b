/*
 * sale_snapshot: one loop thread's recent copy of every sale, for status reads.
 *
 * A polling storm on GET /api/v1/sales must not become a Redis storm: reads are answered from a
 * copy at most SALE_SNAPSHOT_MAX_AGE_MS old, and a stale copy is refreshed by one pipelined round
 * of reads (the sku set, then one HMGET per sale) that every reader arriving meanwhile shares.
 * Each change this server instance makes (a purchase, an admin write) bumps a generation shared
 * by its threads, and a copy taken before the current generation is stale at once: a client
 * reads its own writes, through any thread. Other instances' changes show within the age bound.
 *
 * The copy also carries each sale's persistedPurchases from the engine's sampler (persisted_counts),
 * read when the copy is installed, so a read never waits for PostgreSQL.
 *
 * Each refresh also reads Redis' clock (TIME), so that a loop can tell Redis' time without asking
 * it: the offset to the local clock is measured at every refresh, to within half a round trip.
 */
#ifndef FLASHSALE_SALE_SNAPSHOT_H
#define FLASHSALE_SALE_SNAPSHOT_H

#include <h2o.h>
#include <stdatomic.h>

#include "core/sale.h"
#include "distributed/postgres/persisted_counts.h"
#include "distributed/redis/redis_client.h"

#define SALE_SNAPSHOT_MAX_AGE_MS 100

typedef struct sale_snapshot sale_snapshot_t;

/*
 * ok is false when Redis could not answer, or has no ready marker (then on_not_ready ran first).
 * sales (in sale_id order) are valid only during the call.
 */
typedef void (*sale_snapshot_cb)(void *ctx, bool ok, const sale_t *sales, size_t count);

/*
 * The client, the generation and the persisted counts outlive the snapshot; on_not_ready(data) asks
 * for a reconcile. Each copy's sales carry persisted_purchases from `persisted` as it was when the
 * copy was taken (-1 when persisted is NULL).
 */
sale_snapshot_t *sale_snapshot_create(h2o_loop_t *loop, redis_client_t *redis,
                                      atomic_uint_fast64_t *generation, persisted_counts_t *persisted,
                                      void (*on_not_ready)(void *data), void *data);
/* After the client was destroyed, so that no refresh is in flight. */
void sale_snapshot_destroy(sale_snapshot_t *snapshot);

/* The copy, when it is fresh enough to answer a read now (valid until the loop runs again). */
bool sale_snapshot_fresh(sale_snapshot_t *snapshot, const sale_t **sales, size_t *count);

/* cb runs once: before this returns when the copy is fresh, else when a refresh completes. */
void sale_snapshot_read(sale_snapshot_t *snapshot, sale_snapshot_cb cb, void *ctx);

/*
 * The same two for a reader that needs only the changes up to `generation` (a value the shared
 * generation had), not the latest: e.g. the admin writes, while purchases keep bumping it.
 */
bool sale_snapshot_fresh_since(sale_snapshot_t *snapshot, uint64_t generation, const sale_t **sales,
                               size_t *count);
void sale_snapshot_read_since(sale_snapshot_t *snapshot, uint64_t generation, sale_snapshot_cb cb, void *ctx);

/* Redis' clock now, in milliseconds, from the offset measured with the copy; only while it is fresh. */
int64_t sale_snapshot_redis_now_ms(const sale_snapshot_t *snapshot);

#endif
