/*
 * distributed: the entry points of the Redis + PostgreSQL mode, for main.c.
 *
 * The server side decides each purchase with one Redis script that also appends the order to
 * the sale's stream (the outbox); the worker moves the streams into PostgreSQL idempotently.
 * See docs/architecture.md.
 */
#ifndef FLASHSALE_DISTRIBUTED_H
#define FLASHSALE_DISTRIBUTED_H

#include <stddef.h>

#include "core/engine.h"

/*
 * Connects to both stores, migrates the PostgreSQL schema, loads sales into Redis and
 * reconciles Redis with PostgreSQL plus the streams. Returns NULL and writes one human line
 * into err on failure. The result is closed through engine->ops->close.
 */
engine_t *distributed_engine_open(const char *redis_url, const char *postgres_url, char *err,
                                  size_t err_size);

#endif
