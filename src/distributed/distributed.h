/*
 * distributed: the entry points of the Redis + PostgreSQL mode, for main.c.
 *
 * The server side decides each purchase with one Redis script that also appends the order to
 * the sale's stream (the outbox); the worker moves the streams into PostgreSQL idempotently.
 * See docs/architecture.md.
 */
#ifndef FLASHSALE_DISTRIBUTED_H
#define FLASHSALE_DISTRIBUTED_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/engine.h"

/*
 * Connects to both stores, migrates the PostgreSQL schema, loads sales into Redis and
 * reconciles Redis with PostgreSQL plus the streams. Returns NULL and writes one human line
 * into err on failure. The result is closed through engine->ops->close.
 */
engine_t *distributed_engine_open(const char *redis_url, const char *postgres_url, char *err,
                                  size_t err_size);

/*
 * Runs the persister (stream -> PostgreSQL) until *stop becomes non-zero; returns 0 then, or a
 * negative code after logging a fatal error. Safe to run several at once, and inside a server
 * process on its own thread (serve --with-worker).
 */
int distributed_worker_run(const char *redis_url, const char *postgres_url, volatile sig_atomic_t *stop);

/*
 * `flashsale data-loss`: writes the Redis data losses not yet acknowledged to out, one line each
 * (data_loss.h), and with acknowledge marks them acknowledged, which clears /health's redis_data
 * check on every instance. Migrates the schema first. Returns how many were listed, or -1 with one
 * line in err.
 */
int distributed_data_loss(const char *postgres_url, bool acknowledge, FILE *out, char *err, size_t err_size);

#endif
