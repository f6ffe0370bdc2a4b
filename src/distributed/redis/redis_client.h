/*
 * redis_client: one event-loop thread's connection to Redis, kept alive.
 *
 * Each loop thread owns one client, and every command of that thread is pipelined on its one
 * connection. The client bounds how long a command may wait for its reply (a stopped or
 * unreachable Redis must not hang a request: the connection is dropped and every pending command
 * fails), reconnects by itself with exponential backoff, and runs Lua scripts by SHA, sending the
 * body again when Redis answers NOSCRIPT (after a restart or a SCRIPT FLUSH).
 *
 * Every new connection starts with AUTH (when the address has a password), then SELECT (when its
 * database is not 0), ahead of any command queued meanwhile; Redis answers in order, so those run
 * logged in and in the right database. A refused AUTH or SELECT drops the connection like an
 * outage: the commands behind it fail and the client retries with its backoff.
 */
#ifndef FLASHSALE_REDIS_CLIENT_H
#define FLASHSALE_REDIS_CLIENT_H

#include <h2o.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "distributed/redis/redis_address.h"

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
    atomic_uint_fast64_t noscript;   /* scripts sent again in full after NOSCRIPT */
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
 * EVALSHA script with key_count keys followed by the other arguments (argv holds both); retried
 * once as EVAL on NOSCRIPT, so the arguments are copied. The script must have been loaded (its
 * sha set) and outlive the client.
 */
void redis_client_script(redis_client_t *client, const redis_script_t *script, int key_count, int argc,
                         const char **argv, const size_t *lens, redis_client_cb cb, void *ctx);

#endif
