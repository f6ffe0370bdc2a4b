/*
 * redis_client: one event-loop thread's connection to Redis, kept alive.
 *
 * Each loop thread owns one client, and every command of that thread is pipelined on its one
 * connection. The client bounds how long a command may wait for its reply (a stopped or
 * unreachable Redis must not hang a request: the connection is dropped and every pending command
 * fails) and reconnects by itself.
 *
 * Order. Callers rely on Redis running a connection's commands in the order they were issued, and
 * on their replies coming back in that order (an admin write pipelines a script and the command
 * that must follow it). So no command is ever sent twice: a script runs by SHA (EVALSHA), and the
 * first EVALSHA of each script on a connection is preceded, in the same pipeline, by SCRIPT LOAD
 * of its body, which Redis has therefore run before it. A NOSCRIPT can then only mean that the
 * script cache was emptied under the connection (SCRIPT FLUSH, or a proxy that switched servers):
 * the command did not run, and the connection is dropped as in an outage (every command still in
 * flight fails), because answering it by sending the body again would put it behind the commands
 * issued after it. The next connection loads the scripts again.
 *
 * Reconnecting. A command issued while there is no connection starts an attempt at once, so the
 * first request after Redis comes back is served, not failed from an older attempt; attempts are
 * at most one per REDIS_CLIENT_ATTEMPT_MS, and a command issued sooner waits (its copy queued, in
 * order) for the next one. A command thus fails only from an attempt started after it was issued,
 * from the loss of the connection it was sent on, or from its reply timeout. Without commands the
 * client retries with exponential backoff (up to 2 s), so that /health and the reconnect hook see
 * Redis come back.
 *
 * Every new connection starts with AUTH (when the address has a password), then SELECT (when its
 * database is not 0), ahead of any command queued meanwhile; Redis answers in order, so those run
 * logged in and in the right database. A refused AUTH, SELECT or SCRIPT LOAD drops the connection
 * like an outage: the commands behind it fail and the client retries with its backoff.
 */
#ifndef FLASHSALE_REDIS_CLIENT_H
#define FLASHSALE_REDIS_CLIENT_H

#include <h2o.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "distributed/redis/redis_address.h"

/* At most one connection attempt per this many milliseconds while commands are waiting. */
#define REDIS_CLIENT_ATTEMPT_MS 50
/* Scripts one client may run (each is loaded once per connection). */
#define REDIS_CLIENT_SCRIPTS_MAX 16
/* Arguments of one script call, keys included. */
#define REDIS_CLIENT_SCRIPT_ARGS_MAX 256

typedef struct {
    const char *body; /* the Lua source; static */
    char sha[41];     /* hex SHA1, set by redis_script_load */
} redis_script_t;

/* SCRIPT LOAD on a blocking context; returns 0, or -1 with err set. */
int redis_script_load(redisContext *redis, redis_script_t *script, char *err, size_t err_size);

/* Shared by the clients of every thread, hence atomic. */
typedef struct {
    atomic_uint_fast64_t commands;   /* sent */
    atomic_uint_fast64_t errors;     /* error replies and commands that got no reply */
    atomic_uint_fast64_t timeouts;   /* connections dropped because a reply was late */
    atomic_uint_fast64_t reconnects; /* connections established after the first */
    atomic_uint_fast64_t noscript;   /* NOSCRIPT replies: a script cache emptied under a connection */
} redis_client_stats_t;

typedef struct redis_client redis_client_t;

/*
 * reply is NULL when the command got no answer (not connected, connection lost, timed out); it
 * is owned by hiredis and valid only during the call. An error reply is passed through.
 */
typedef void (*redis_client_cb)(void *ctx, redisReply *reply);

/* Starts connecting at once. The stats outlive the client. NULL when out of memory. */
redis_client_t *redis_client_create(h2o_loop_t *loop, const redis_address_t *address, uint64_t timeout_ms,
                                    redis_client_stats_t *stats);
/* On the loop's thread; every pending callback runs (with NULL) before it returns. */
void redis_client_destroy(redis_client_t *client);
/*
 * cb(data) runs on the loop's thread each time a connection after the first is established: the
 * client may now talk to another Redis, or to one that lost data.
 */
void redis_client_on_reconnect(redis_client_t *client, void (*cb)(void *data), void *data);
/*
 * Counts the connections established so far (0 before the first), each counted once its AUTH and
 * SELECT were accepted: a change means the client may now be talking to another Redis (a restart,
 * a failover), so what was read before may be stale.
 */
uint64_t redis_client_connection_count(const redis_client_t *client);

/*
 * Sends one command. cb runs exactly once: later from the loop, or before this returns when the
 * client is disconnected. argv is copied by hiredis before this returns; lens NULL means strlen.
 */
void redis_client_command(redis_client_t *client, int argc, const char **argv, const size_t *lens,
                          redis_client_cb cb, void *ctx);

/*
 * EVALSHA script with key_count keys followed by the other arguments (argv holds both, argc at most
 * REDIS_CLIENT_SCRIPT_ARGS_MAX - 3), preceded by SCRIPT LOAD on a connection that has not loaded it
 * yet. The script's sha must be set (redis_script_load) and it must outlive the client.
 */
void redis_client_script(redis_client_t *client, const redis_script_t *script, int key_count, int argc,
                         const char **argv, const size_t *lens, redis_client_cb cb, void *ctx);

#endif
