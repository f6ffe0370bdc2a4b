/*
 * engine_distributed: the engine interface on Redis and PostgreSQL, for src/app.
 *
 * The server side decides each purchase with one Redis script that also appends the order to
 * the sale's stream (the outbox); the worker (worker/worker.h) moves the streams into PostgreSQL
 * idempotently. See docs/architecture.md.
 */
#ifndef FLASHSALE_ENGINE_DISTRIBUTED_H
#define FLASHSALE_ENGINE_DISTRIBUTED_H

#include <stddef.h>

#include "core/engine.h"

/*
 * Connects to both stores, migrates the PostgreSQL schema, loads sales into Redis and
 * reconciles Redis with PostgreSQL plus the streams. Returns NULL and writes one human line
 * into err on failure. The result is closed with engine_close.
 */
engine_t *engine_distributed_open(const char *redis_url, const char *postgres_url, char *err,
                                  size_t err_size);

/*
 * For `flashsale user grant-admin`: gives the account named username (any ASCII case) the admin
 * role in PostgreSQL, blocking; the server need not stop. 0, or -1 with one line in err.
 */
int engine_distributed_grant_admin(const char *postgres_url, const char *username, char *err,
                                   size_t err_size);

#endif
