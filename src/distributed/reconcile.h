/*
 * reconcile: brings Redis back in line with PostgreSQL after Redis lost sales.
 *
 * PostgreSQL is the source of truth for sales; Redis holds what purchases need. On every start,
 * and whenever a loop finds Redis without its ready marker (FLUSHALL, a new node), every sale of
 * PostgreSQL whose Redis hash is absent is rebuilt from the orders still in its stream, read
 * first, plus PostgreSQL's purchases, read second (redis_sale's snapshot script says why in that
 * order); Redis sales PostgreSQL no longer has are removed; then the marker is set. A present
 * sale hash is never rewritten, so stock is never reset under running purchases, and several
 * servers may reconcile at once.
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

/* One pass; returns 0, or -1 with one human line in err. The scripts must be loaded. */
int reconcile_run(redisContext *redis, PGconn *pg, char *err, size_t err_size);

typedef struct reconciler reconciler_t;

/* Starts the thread; the arguments are copied. NULL on failure. */
reconciler_t *reconciler_start(const redis_address_t *redis, const char *postgres_url);
/* From any thread: asks for a pass soon. Requests made during a pass cause one more pass. */
void reconciler_request(reconciler_t *reconciler);
/* Passes completed since the start (for /metrics). */
uint64_t reconciler_passes(reconciler_t *reconciler);
/* Waits for a pass in progress, then joins the thread and frees everything. */
void reconciler_stop(reconciler_t *reconciler);

#endif
