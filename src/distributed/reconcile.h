/*
 * reconcile: brings Redis back in line with PostgreSQL after Redis lost sales, and keeps purchase
 * numbers unique across such a loss.
 *
 * PostgreSQL is the source of truth for sales; Redis holds what purchases need. On every start,
 * whenever a loop finds Redis without its ready marker (FLUSHALL, a new node) and whenever a loop
 * reconnects to Redis (a restart, a failover), every sale of PostgreSQL is checked:
 * - A sale whose Redis hash is absent is rebuilt from the orders still in its stream, read first,
 *   plus PostgreSQL's purchases, read second (redis_sale's snapshot script says why in that
 *   order). A present sale hash is never rewritten, so stock is never reset under running
 *   purchases, and several servers may reconcile at once.
 * - A sale whose hash is present but behind PostgreSQL — its next purchase number at or below one
 *   PostgreSQL holds, or in an older generation than PostgreSQL recorded (a failover to a replica
 *   that lagged) — gets PostgreSQL's buyers back and its numbers move to a new generation, in one
 *   atomic step (redis_sale's repair script).
 * Redis sales PostgreSQL no longer has are removed; then the marker is set.
 *
 * Numbers. A sale's stream remembers the last sequence it was given, even once its entries are
 * trimmed, so while it lives a rebuild continues above it. When it is gone (FLUSHALL) the numbers
 * issued into it and not yet persisted are unknown, so the rebuild cannot tell where to continue:
 * the sale moves to a new generation instead, recorded in PostgreSQL (sales.sequence_generation)
 * before Redis uses it. Generation g owns the sequences [g * SPAN + 1, (g + 1) * SPAN]; one
 * generation never issues more than SPAN numbers, because a sale sells at most its initial stock
 * (at most SALE_INITIAL_STOCK_MAX = SPAN) between two rebuilds that move it on. So nothing issued
 * in an older generation, lost or not, is ever issued again. The text form stays FS<saleId>-<n>.
 *
 * Every loss found this way is logged at error level, counted, and kept in PostgreSQL until an
 * operator acknowledges it (data_loss.h).
 *
 * It runs with blocking connections: on the opening thread at start, then on a thread of its
 * own, so that event loops never wait for it.
 */
#ifndef FLASHSALE_RECONCILE_H
#define FLASHSALE_RECONCILE_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "distributed/redis/redis_address.h"

/* The sequences of one generation of a sale's purchase numbers. */
#define RECONCILE_GENERATION_SPAN 1000000000LL

/*
 * One pass; returns 0, or -1 with one human line in err. *losses (when not NULL) is set to the
 * number of data losses it recorded (0 or 1). The scripts must be loaded.
 */
int reconcile_run(redisContext *redis, PGconn *pg, int *losses, char *err, size_t err_size);

typedef struct reconciler reconciler_t;

/* Starts the thread; the arguments are copied. NULL on failure. */
reconciler_t *reconciler_start(const redis_address_t *redis, const char *postgres_url);
/* From any thread: asks for a pass soon. Requests made during a pass cause one more pass. */
void reconciler_request(reconciler_t *reconciler);
/* Passes completed since the start (for /metrics). */
uint64_t reconciler_passes(reconciler_t *reconciler);
/* Redis data losses its passes recorded since the start (for /metrics). */
uint64_t reconciler_losses(reconciler_t *reconciler);
/* Waits for a pass in progress, then joins the thread and frees everything. */
void reconciler_stop(reconciler_t *reconciler);

#endif
