/*
 * sale_changes: one server instance's ear on Redis for the sale changes any instance makes, for
 * the engine's watchers (engine.h, watch).
 *
 * A thread holds one SUBSCRIBE connection per instance — not per loop, not per browser — to two
 * channels (outbox.h): flashsale:stock, where the purchase script publishes "<sku> <stock>
 * <sale_id>" after each call that sold, and flashsale:changes, where an admin write (or the
 * reconciler) publishes a sku once its change is applied. So the work this costs Redis grows with
 * the changes and the instances, never with the subscribers of the event streams.
 *
 * The latest published stock of each sale is kept in a table (the board) that loops lay over
 * their copy of the sales. An admin notice, and every (re)connection of the subscription (notices
 * may have been lost meanwhile), raises the instance's generation (sale_snapshot.h) to a value
 * that loops must read their snapshot at before showing the sales again. After any notice every
 * listener is called, from the thread: its function must be quick and thread-safe (the engine's
 * loops turn it into at most one pending h2o message each).
 *
 * The connection is checked with a PING after IDLE_PING_MS of silence and dropped when that gets
 * no answer; it is then made again with a backoff, and Redis being away is logged once.
 */
#ifndef FLASHSALE_SALE_CHANGES_H
#define FLASHSALE_SALE_CHANGES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"
#include "distributed/redis/redis_address.h"

/* Sales whose latest stock the board remembers at most; beyond, it starts over with a resync. */
#define SALE_CHANGES_BOARD_MAX 65536

typedef struct sale_changes sale_changes_t;

typedef struct sale_changes_listener {
    /* Called from the subscription's thread after every notice. */
    void (*notify)(struct sale_changes_listener *listener);
    struct sale_changes_listener *next; /* the module's */
} sale_changes_listener_t;

/*
 * Starts the thread (the address is copied). generation is the instance's (sale_snapshot.h) and
 * outlives the module. NULL when out of memory or threads.
 */
sale_changes_t *sale_changes_start(const redis_address_t *redis, atomic_uint_fast64_t *generation);
/* Joins the thread (bounded by the Redis timeout) and frees everything; no listener is left. */
void sale_changes_stop(sale_changes_t *changes);

void sale_changes_listen(sale_changes_t *changes, sale_changes_listener_t *listener);
/* When this returns, the listener's notify is not running and will not be called again. */
void sale_changes_unlisten(sale_changes_t *changes, sale_changes_listener_t *listener);

/*
 * A snapshot taken at this generation or later holds every admin change noticed so far, and
 * every change made while the subscription was down (0 before the first connection).
 */
uint64_t sale_changes_resync_generation(sale_changes_t *changes);

/* Lowers each sale's stock to the latest one published for its sale_id, when that is lower. */
void sale_changes_apply(sale_changes_t *changes, sale_t *sales, size_t count);

/* Connections established so far (a test waits for the first). */
uint64_t sale_changes_connections(sale_changes_t *changes);

#endif
