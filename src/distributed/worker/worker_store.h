/*
 * worker_store: the worker's PostgreSQL side — one connection that writes batches of orders into
 * the purchases table idempotently.
 *
 * A batch goes in as one INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT DO NOTHING: one
 * statement, so one transaction and one round trip for up to thousands of orders. Orders already
 * stored (a redelivery after a crash between commit and XACK) conflict and are skipped, which is
 * what makes redelivery safe. Orders whose sale no longer exists (deleted while its orders were
 * in flight) are skipped too: the sale took its purchases with it. The statement locks the
 * batch's sale rows (FOR KEY SHARE) for that, so a concurrent delete either comes first and
 * the orders are skipped, or waits for the commit and then deletes them.
 *
 * The connection is made lazily and remade after any failure, and each (re)connection migrates
 * the schema first, so the worker may start before PostgreSQL does, or before any server did.
 */
#ifndef FLASHSALE_WORKER_STORE_H
#define FLASHSALE_WORKER_STORE_H

#include <stddef.h>

#include "distributed/worker/worker_batch.h"

typedef struct worker_store worker_store_t;

/*
 * Checks the URL (a libpq connection URI or key=value string) without connecting; returns NULL
 * with one human line in err when it does not parse. The caller closes the result.
 */
worker_store_t *worker_store_open(const char *postgres_url, char *err, size_t err_size);
void worker_store_close(worker_store_t *store);

/*
 * Stores the batch's WORKER_ORDER_TO_STORE orders and moves each to WORKER_ORDER_STORED.
 * When PostgreSQL rejects the data itself (an encoding error, a constraint), the orders are
 * tried one by one, so that one bad order cannot hold back the rest: a rejected order becomes
 * WORKER_ORDER_RETRY, or WORKER_ORDER_DEAD once it has been delivered more than
 * OUTBOX_MAX_DELIVERIES times. Sets *inserted to the rows actually added.
 *
 * Returns 0, or -1 with one line in err when PostgreSQL is unavailable (down, restarting, out
 * of resources, or any error not tied to the data); orders not yet stored then keep
 * WORKER_ORDER_TO_STORE, and calling again later resumes with them.
 */
int worker_store_put(worker_store_t *store, worker_batch_t *batch, size_t *inserted, char *err,
                     size_t err_size);

#endif
