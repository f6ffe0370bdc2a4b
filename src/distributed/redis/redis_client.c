#include "distributed/redis/redis_client.h"

#include <assert.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "distributed/redis/redis_loop.h"

/* Reconnects without commands are attempted on this tick, the delay doubling from the first to
 * the last value. */
#define RETRY_TICK_MS        REDIS_CLIENT_ATTEMPT_MS
#define RETRY_FIRST_DELAY_MS 50
#define RETRY_MAX_DELAY_MS   2000

typedef struct request request_t;

struct redis_client {
    h2o_loop_t *loop;
    redis_address_t address;
    uint64_t timeout_ms;
    redis_client_stats_t *stats;
    /* NULL while disconnected; commands are buffered by hiredis while it connects. */
    redisAsyncContext *context;
    uint64_t connection_count; /* established so far */
    void (*on_reconnect)(void *data);
    void *on_reconnect_data;
    /* Replies to this connection's AUTH and SELECT not yet received: it counts as established
     * once they are all in. */
    int start_replies_due;
    /* The scripts this connection has been sent SCRIPT LOAD of. */
    const redis_script_t *loaded[REDIS_CLIENT_SCRIPTS_MAX];
    size_t loaded_count;
    /* Commands issued without a connection, within REDIS_CLIENT_ATTEMPT_MS of the last attempt:
     * sent, in this order, on the next one. Non-empty only while context is NULL. */
    request_t *waiting;
    request_t **waiting_tail;
    uint64_t attempted_at; /* h2o_now of the last attempt; 0 before the first */
    bool closing;          /* in redis_client_destroy: nothing is sent or attempted any more */
    /* So that a Redis that stays down is logged once, not at every retry; a new reason (say, from
     * "connection refused" to a refused password) is logged again. */
    bool down_reported;
    char down_reason[160];
    h2o_timeout_t flush_timeout;   /* 0 ms: see redis_loop */
    h2o_timeout_t command_timeout; /* timeout_ms; entries in send order */
    h2o_timeout_t retry_timeout;   /* RETRY_TICK_MS */
    h2o_timeout_entry_t retry;
    uint64_t retry_delay_ms;
    uint64_t retry_at;
};

/*
 * One command in flight, or waiting for a connection (then with a copy of its arguments after
 * it, in the same allocation). cb is NULL for the client's own SCRIPT LOAD.
 */
struct request {
    h2o_timeout_entry_t timeout;
    redis_client_t *client;
    redis_client_cb cb;
    void *ctx;
    const redis_script_t *script; /* EVALSHA of it, or the SCRIPT LOAD of it when cb is NULL */
    request_t *next;              /* among the waiting */
    int argc;
    const char **argv;
    size_t *lens;
};

int redis_script_load(redisContext *redis, redis_script_t *script, char *err, size_t err_size)
{
    redisReply *reply = redisCommand(redis, "SCRIPT LOAD %s", script->body);
    int result = -1;
    if (reply == NULL)
        snprintf(err, err_size, "redis SCRIPT LOAD: %s", redis->errstr);
    else if (reply->type != REDIS_REPLY_STRING || reply->len != sizeof(script->sha) - 1)
        snprintf(err, err_size, "redis SCRIPT LOAD: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
    else {
        memcpy(script->sha, reply->str, sizeof(script->sha));
        result = 0;
    }
    freeReplyObject(reply);
    return result;
}

static void connect_now(redis_client_t *client);

static void schedule_retry(redis_client_t *client)
{
    client->retry_at = h2o_now(client->loop) + client->retry_delay_ms;
    client->retry_delay_ms *= 2;
    if (client->retry_delay_ms > RETRY_MAX_DELAY_MS)
        client->retry_delay_ms = RETRY_MAX_DELAY_MS;
    if (!h2o_timeout_is_linked(&client->retry))
        h2o_timeout_link(client->loop, &client->retry_timeout, &client->retry);
}

static void on_retry_tick(h2o_timeout_entry_t *entry)
{
    redis_client_t *client = H2O_STRUCT_FROM_MEMBER(redis_client_t, retry, entry);
    if (client->context != NULL)
        return;
    if (h2o_now(client->loop) >= client->retry_at)
        connect_now(client);
    else
        h2o_timeout_link(client->loop, &client->retry_timeout, &client->retry);
}

static void report_down(redis_client_t *client, const char *why)
{
    if (!client->down_reported || strncmp(client->down_reason, why, sizeof(client->down_reason) - 1) != 0)
        log_warn("redis", "%s:%d: %s; reconnecting", client->address.host, client->address.port, why);
    client->down_reported = true;
    snprintf(client->down_reason, sizeof(client->down_reason), "%s", why);
}

static void established(redis_client_t *client)
{
    client->connection_count++;
    client->retry_delay_ms = RETRY_FIRST_DELAY_MS;
    if (client->connection_count > 1)
        atomic_fetch_add_explicit(&client->stats->reconnects, 1, memory_order_relaxed);
    if (client->down_reported)
        log_info("redis", "%s:%d: connected", client->address.host, client->address.port);
    client->down_reported = false;
    if (client->connection_count > 1 && client->on_reconnect != NULL)
        client->on_reconnect(client->on_reconnect_data);
}

static void on_connect(const redisAsyncContext *context, int status)
{
    redis_client_t *client = context->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns, failing what was sent on it. */
        if (client->context == context) {
            client->context = NULL;
            report_down(client, context->errstr);
            schedule_retry(client);
        }
        return;
    }
    if (client->start_replies_due == 0)
        established(client);
}

static void on_disconnect(const redisAsyncContext *context, int status)
{
    (void)status;
    redis_client_t *client = context->data;
    /* A context this client dropped itself was detached from it first. */
    if (client->context == context) {
        client->context = NULL;
        report_down(client, context->errstr[0] != '\0' ? context->errstr : "connection closed");
        schedule_retry(client);
    }
}

/* Makes the client disconnected now: every pending command fails, and a retry is scheduled. */
static void drop_connection(redis_client_t *client, bool retry)
{
    redisAsyncContext *context = client->context;
    client->context = NULL;
    if (retry)
        schedule_retry(client);
    /* Inside a reply callback hiredis defers the free until the callback returns; either way the
     * commands still in flight then get their callbacks with no reply, in order. */
    if (context != NULL)
        redisAsyncFree(context);
}

static void finish(request_t *request, redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        atomic_fetch_add_explicit(&request->client->stats->errors, 1, memory_order_relaxed);
    request->cb(request->ctx, reply);
    free(request);
}

static bool is_noscript(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* The reply to SCRIPT LOAD must be the SHA the script was loaded under at start. */
static bool loaded_as_expected(const redisReply *reply, const redis_script_t *script)
{
    return reply->type == REDIS_REPLY_STRING && reply->len == sizeof(script->sha) - 1 &&
           memcmp(reply->str, script->sha, reply->len) == 0;
}

static void on_reply(redisAsyncContext *context, void *reply, void *data)
{
    (void)context;
    request_t *request = data;
    redis_client_t *client = request->client;
    h2o_timeout_unlink(&request->timeout);
    if (request->cb == NULL) {
        /* NULL: the connection is gone, which whoever dropped it has seen to. */
        bool refused = reply != NULL && !loaded_as_expected(reply, request->script);
        free(request);
        if (refused) {
            report_down(client, "SCRIPT LOAD refused");
            drop_connection(client, true);
        }
        return;
    }
    if (request->script != NULL && is_noscript(reply)) {
        /* The script did not run; see the header for why it is not sent again. */
        atomic_fetch_add_explicit(&client->stats->noscript, 1, memory_order_relaxed);
        finish(request, NULL);
        report_down(client, "the script cache was emptied under the connection (SCRIPT FLUSH?)");
        drop_connection(client, true);
        return;
    }
    finish(request, reply);
}

static void on_command_timeout(h2o_timeout_entry_t *entry)
{
    request_t *request = H2O_STRUCT_FROM_MEMBER(request_t, timeout, entry);
    redis_client_t *client = request->client;
    atomic_fetch_add_explicit(&client->stats->timeouts, 1, memory_order_relaxed);
    report_down(client, "no reply in time");
    drop_connection(client, true);
}

/* Hands the command to hiredis on the current connection; its reply (or failure) finishes it. */
static bool send_on_connection(request_t *request, int argc, const char **argv, const size_t *lens)
{
    redis_client_t *client = request->client;
    if (client->context == NULL ||
        redisAsyncCommandArgv(client->context, on_reply, request, argc, argv, lens) != REDIS_OK)
        return false;
    atomic_fetch_add_explicit(&client->stats->commands, 1, memory_order_relaxed);
    h2o_timeout_link(client->loop, &client->command_timeout, &request->timeout);
    return true;
}

static bool is_loaded(const redis_client_t *client, const redis_script_t *script)
{
    for (size_t i = 0; i < client->loaded_count; i++)
        if (client->loaded[i] == script)
            return true;
    return false;
}

/* SCRIPT LOAD ahead of the first EVALSHA of script on this connection; false when it cannot be sent. */
static bool load_script(redis_client_t *client, const redis_script_t *script)
{
    assert(client->loaded_count < REDIS_CLIENT_SCRIPTS_MAX);
    request_t *load = malloc(sizeof(*load));
    if (load == NULL)
        return false;
    *load = (request_t){.timeout = {.cb = on_command_timeout}, .client = client, .script = script};
    const char *argv[] = {"SCRIPT", "LOAD", script->body};
    const size_t lens[] = {6, 4, strlen(script->body)};
    if (!send_on_connection(load, 3, argv, lens)) {
        free(load);
        return false;
    }
    /* Redis runs this connection's commands in order: every later EVALSHA finds it. */
    client->loaded[client->loaded_count++] = script;
    return true;
}

/* Sends the command on the current connection, or fails it. */
static void send_now(request_t *request, int argc, const char **argv, const size_t *lens)
{
    redis_client_t *client = request->client;
    if (client->context != NULL && request->script != NULL && !is_loaded(client, request->script) &&
        !load_script(client, request->script)) {
        finish(request, NULL);
        return;
    }
    if (!send_on_connection(request, argc, argv, lens))
        finish(request, NULL);
}

/* Queues a copy of the command for the next attempt; false when out of memory. */
static bool wait_for_attempt(request_t *request, int argc, const char **argv, const size_t *lens)
{
    redis_client_t *client = request->client;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += lens[i];
    request_t *copy = malloc(sizeof(*copy) + (size_t)argc * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (copy == NULL)
        return false;
    *copy = *request;
    copy->next = NULL;
    copy->argc = argc;
    copy->argv = (const char **)(copy + 1);
    copy->lens = (size_t *)(copy->argv + argc);
    char *data = (char *)(copy->lens + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(data, argv[i], lens[i]);
        copy->argv[i] = data;
        copy->lens[i] = lens[i];
        data += lens[i];
    }
    free(request);
    *client->waiting_tail = copy;
    client->waiting_tail = &copy->next;
    uint64_t next_attempt = client->attempted_at + REDIS_CLIENT_ATTEMPT_MS;
    if (client->retry_at > next_attempt)
        client->retry_at = next_attempt;
    if (!h2o_timeout_is_linked(&client->retry))
        h2o_timeout_link(client->loop, &client->retry_timeout, &client->retry);
    return true;
}

static void dispatch(request_t *request, int argc, const char **argv, const size_t *lens)
{
    redis_client_t *client = request->client;
    if (client->closing) {
        finish(request, NULL);
        return;
    }
    if (client->context == NULL) {
        if (client->attempted_at != 0 &&
            h2o_now(client->loop) < client->attempted_at + REDIS_CLIENT_ATTEMPT_MS) {
            if (!wait_for_attempt(request, argc, argv, lens))
                finish(request, NULL);
            return;
        }
        connect_now(client);
    }
    send_now(request, argc, argv, lens);
}

static void on_auth(void *ctx, redisReply *reply);
static void on_select(void *ctx, redisReply *reply);

static void connect_now(redis_client_t *client)
{
    assert(client->context == NULL);
    client->attempted_at = h2o_now(client->loop);
    client->loaded_count = 0;
    redisAsyncContext *context = redisAsyncConnect(client->address.host, client->address.port);
    if (context == NULL || context->err != 0 ||
        redis_loop_attach(context, client->loop, &client->flush_timeout) != 0) {
        report_down(client,
                    context != NULL && context->err != 0 ? context->errstr : "cannot watch the socket");
        if (context != NULL)
            redisAsyncFree(context);
        schedule_retry(client);
    } else {
        context->data = client;
        redisAsyncSetConnectCallback(context, on_connect);
        redisAsyncSetDisconnectCallback(context, on_disconnect);
        client->context = context;
        /* Sent first, so every later command of this connection runs logged in and in the right
         * database. */
        const char *auth_argv[3];
        size_t auth_lens[3];
        int auth_argc = redis_address_auth_command(&client->address, auth_argv, auth_lens);
        client->start_replies_due = (auth_argc > 0) + (client->address.db != 0);
        if (auth_argc > 0)
            redis_client_command(client, auth_argc, auth_argv, auth_lens, on_auth, client);
        if (client->address.db != 0) {
            char db[12];
            int db_len = snprintf(db, sizeof(db), "%d", client->address.db);
            const char *argv[] = {"SELECT", db};
            const size_t lens[] = {6, (size_t)db_len};
            redis_client_command(client, 2, argv, lens, on_select, client);
        }
    }
    /* The waiting commands had their attempt: sent on it, in order, or failed with it. */
    request_t *waiting = client->waiting;
    client->waiting = NULL;
    client->waiting_tail = &client->waiting;
    while (waiting != NULL) {
        request_t *next = waiting->next;
        send_now(waiting, waiting->argc, waiting->argv, waiting->lens);
        waiting = next;
    }
}

/*
 * The reply to AUTH or SELECT. NULL means the connection is gone, which whoever dropped it has
 * seen to. A refusal is an outage of this client (what was queued behind it fails, not a command
 * runs logged out or in database 0).
 */
static void start_reply(redis_client_t *client, redisReply *reply, const char *refused)
{
    if (reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[sizeof(client->down_reason)];
        snprintf(why, sizeof(why), "%s%s", refused, reply->str);
        report_down(client, why);
        drop_connection(client, true);
        return;
    }
    if (--client->start_replies_due == 0)
        established(client);
}

static void on_auth(void *ctx, redisReply *reply)
{
    start_reply(ctx, reply, "authentication failed: ");
}

static void on_select(void *ctx, redisReply *reply)
{
    start_reply(ctx, reply, "SELECT refused: ");
}

void redis_client_command(redis_client_t *client, int argc, const char **argv, const size_t *lens,
                          redis_client_cb cb, void *ctx)
{
    request_t *request = malloc(sizeof(*request));
    if (request == NULL) {
        cb(ctx, NULL);
        return;
    }
    *request = (request_t){.timeout = {.cb = on_command_timeout}, .client = client, .cb = cb, .ctx = ctx};
    size_t measured[REDIS_CLIENT_SCRIPT_ARGS_MAX];
    if (lens == NULL) {
        assert(argc <= REDIS_CLIENT_SCRIPT_ARGS_MAX);
        for (int i = 0; i < argc; i++)
            measured[i] = strlen(argv[i]);
        lens = measured;
    }
    dispatch(request, argc, argv, lens);
}

void redis_client_script(redis_client_t *client, const redis_script_t *script, int key_count, int argc,
                         const char **argv, const size_t *lens, redis_client_cb cb, void *ctx)
{
    assert(script->sha[0] != '\0');
    assert(argc + 3 <= REDIS_CLIENT_SCRIPT_ARGS_MAX);
    request_t *request = malloc(sizeof(*request));
    if (request == NULL) {
        cb(ctx, NULL);
        return;
    }
    *request = (request_t){
        .timeout = {.cb = on_command_timeout}, .client = client, .cb = cb, .ctx = ctx, .script = script};
    char numkeys[12];
    const char *full[REDIS_CLIENT_SCRIPT_ARGS_MAX] = {"EVALSHA", script->sha, numkeys};
    size_t full_lens[REDIS_CLIENT_SCRIPT_ARGS_MAX] = {
        7, sizeof(script->sha) - 1, (size_t)snprintf(numkeys, sizeof(numkeys), "%d", key_count)};
    memcpy(full + 3, argv, (size_t)argc * sizeof(*argv));
    memcpy(full_lens + 3, lens, (size_t)argc * sizeof(*lens));
    dispatch(request, argc + 3, full, full_lens);
}

redis_client_t *redis_client_create(h2o_loop_t *loop, const redis_address_t *address, uint64_t timeout_ms,
                                    redis_client_stats_t *stats)
{
    redis_client_t *client = calloc(1, sizeof(*client));
    if (client == NULL)
        return NULL;
    client->loop = loop;
    client->address = *address;
    client->timeout_ms = timeout_ms;
    client->stats = stats;
    client->retry.cb = on_retry_tick;
    client->retry_delay_ms = RETRY_FIRST_DELAY_MS;
    client->waiting_tail = &client->waiting;
    h2o_timeout_init(loop, &client->flush_timeout, 0);
    h2o_timeout_init(loop, &client->command_timeout, timeout_ms);
    h2o_timeout_init(loop, &client->retry_timeout, RETRY_TICK_MS);
    connect_now(client);
    return client;
}

void redis_client_destroy(redis_client_t *client)
{
    client->closing = true;
    drop_connection(client, false);
    /* Waiting commands exist only without a connection; none is sent any more. */
    while (client->waiting != NULL) {
        request_t *next = client->waiting->next;
        finish(client->waiting, NULL);
        client->waiting = next;
    }
    h2o_timeout_unlink(&client->retry);
    h2o_timeout_dispose(client->loop, &client->flush_timeout);
    h2o_timeout_dispose(client->loop, &client->command_timeout);
    h2o_timeout_dispose(client->loop, &client->retry_timeout);
    free(client);
}

void redis_client_on_reconnect(redis_client_t *client, void (*cb)(void *data), void *data)
{
    client->on_reconnect = cb;
    client->on_reconnect_data = data;
}

uint64_t redis_client_connection_count(const redis_client_t *client)
{
    return client->connection_count;
}
