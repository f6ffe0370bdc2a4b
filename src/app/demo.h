/*
 * demo: the live demo sale of `serve --demo`, DEMO-001 with stock 100, open for a day.
 *
 * Made on the first loop's thread, with that loop's engine handle, before the server accepts a
 * connection (the server's loop_start hook), so the first request already finds it. A demo sale
 * left by an earlier run on the same data is kept while it is live and replaced otherwise.
 */
#ifndef FLASHSALE_DEMO_H
#define FLASHSALE_DEMO_H

#include <h2o.h>
#include <stddef.h>

#include "core/engine.h"

#define DEMO_SKU "DEMO-001"

/* Runs loop until the sale is live; returns 0, or -1 with one line in err. */
int demo_sale_prepare(engine_loop_t *engine, h2o_loop_t *loop, char *err, size_t err_size);

#endif
