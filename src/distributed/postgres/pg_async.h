/*
 * pg_async: one event-loop thread's PostgreSQL connection, used without blocking the loop.
 *
 * Admin operations, the purchase listing and health checks query PostgreSQL from loop threads.
 * libpq's non-blocking API (PQconnectStart/PQconnectPoll, PQsendQueryParams, PQconsumeInput) is
 * driven by socket readiness from h2o's evloop, as in redis_loop. These queries are rare, so they
 * run one at a time, in order, on a connection opened on first use. A query without an answer in
 * time drops the connection and fails every queued query; the next query connects again.
 */
#ifndef FLASHSALE_PG_ASYNC_H
#define FLASHSALE_PG_ASYNC_H

#include <h2o.h>
#include <libpq-fe.h>
#include <stdatomic.h>

/* Shared by every thread's connection, hence atomic. */
typedef struct {
    atomic_uint_fast64_t queries;
    atomic_uint_fast64_t errors; /* queries that failed or got no answer */
} pg_async_stats_t;

typedef struct pg_async pg_async_t;

/*
 * result is NULL when the query got no answer (cannot connect, connection lost, timed out);
 * otherwise it is the query's result, PGRES_FATAL_ERROR included. Owned by pg_async, valid only
 * during the call. The callback may issue further queries.
 */
typedef void (*pg_async_cb)(void *ctx, const PGresult *result);

/* conninfo (a libpq connection string or URL) is copied; the stats outlive the connection. */
pg_async_t *pg_async_create(h2o_loop_t *loop, const char *conninfo, uint64_t timeout_ms,
                            pg_async_stats_t *stats);
/* On the loop's thread; every queued callback runs (with NULL) before it returns. */
void pg_async_destroy(pg_async_t *pg);

/*
 * Queues one statement with text parameters (copied). cb runs exactly once, from the loop — or
 * before this returns when out of memory.
 */
void pg_async_query(pg_async_t *pg, const char *sql, int param_count, const char *const *params,
                    pg_async_cb cb, void *ctx);

#endif
