/*
 * engine_embedded: the default engine — decisions in process, orders in SQLite.
 *
 * All sales live in memory under one mutex; a purchase is decided, counted and handed to the
 * ledger inside that lock, so the decision is atomic across every thread and ledger order is
 * decision order. The buyer is answered only when the ledger reports its order committed: each
 * loop keeps the answers that wait for the disk in a queue, and the ledger's writer wakes the
 * loop after each group commit.
 *
 * Why one mutex rather than one per sale: a flash sale concentrates its traffic on one sku, so
 * finer locks would not spread the load; the critical section is a hash probe and a few stores
 * (well under a microsecond), small next to the HTTP work around it.
 */
#ifndef FLASHSALE_ENGINE_EMBEDDED_H
#define FLASHSALE_ENGINE_EMBEDDED_H

#include <stddef.h>

#include "core/engine.h"

/*
 * Opens DATA_DIR/flashsale.db and audit.db, rebuilds every sale, stock and buyer from the ledger
 * and starts its writers. Returns NULL and writes one human line into err on failure.
 */
engine_t *engine_embedded_open(const char *data_dir, char *err, size_t err_size);

#endif
