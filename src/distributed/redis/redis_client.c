#include "distributed/redis/redis_client.h"

#include <assert.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "distributed/redis/redis_loop.h"

/* Reconnects are attempted on this tick, the delay doubling from the first to the last value. */
#define RETRY_TICK_MS        50
#define RETRY_FIRST_DELAY_MS 50
#define RETRY_MAX_DELAY_MS   2000

struct redis_client {
    h2o_loop_t *loop;
    redis_address_t address;
    uint64_t timeout_ms;
    redis_client_stats_t *stats;
    /* NULL while disconnected; commands are buffered by hiredis while it connects. */
    redisAsyncContext *context;
    bool connected;
    uint64_t connection_count; /* established so far */
    /* Replies to this connection's AUTH and SELECT not yet received: it counts as established
     * once they are all in. */
    int start_replies_due;
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
 * One command in flight. For a script, the arguments after the script's SHA are copied into the
 * same allocation, to be sent again as EVAL after NOSCRIPT.
 */
typedef struct {
    h2o_timeout_entry_t timeout;
    redis_client_t *client;
    redis_client_cb cb;
    void *ctx;
    const redis_script_t *script; /* NULL for a plain command */
    bool sent_body;
    int argc;          /* script: 2 + key count + arguments ("EVALSHA", sha, numkeys, ...) */
    const char **argv; /* script: argv[0] and argv[1] are filled at send time */
    size_t *lens;
} request_t;

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
    client->connected = false;
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
    client->connected = true;
    client->connection_count++;
    client->retry_delay_ms = RETRY_FIRST_DELAY_MS;
    if (client->connection_count > 1)
        atomic_fetch_add_explicit(&client->stats->reconnects, 1, memory_order_relaxed);
    if (client->down_reported)
        log_info("redis", "%s:%d: connected", client->address.host, client->address.port);
    client->down_reported = false;
}

static void on_connect(const redisAsyncContext *context, int status)
{
    redis_client_t *client = context->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns. */
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

static void on_auth(void *ctx, redisReply *reply);
static void on_select(void *ctx, redisReply *reply);

static void connect_now(redis_client_t *client)
{
    assert(client->context == NULL);
    redisAsyncContext *context = redisAsyncConnect(client->address.host, client->address.port);
    if (context == NULL || context->err != 0 ||
        redis_loop_attach(context, client->loop, &client->flush_timeout) != 0) {
        report_down(client,
                    context != NULL && context->err != 0 ? context->errstr : "cannot watch the socket");
        if (context != NULL)
            redisAsyncFree(context);
        schedule_retry(client);
        return;
    }
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

/* Makes the client disconnected now: every pending command fails, and a retry is scheduled. */
static void drop_connection(redis_client_t *client, bool retry)
{
    redisAsyncContext *context = client->context;
    client->context = NULL;
    client->connected = false;
    if (retry)
        schedule_retry(client);
    if (context != NULL)
        redisAsyncFree(context);
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

static void on_command_timeout(h2o_timeout_entry_t *entry)
{
    request_t *request = H2O_STRUCT_FROM_MEMBER(request_t, timeout, entry);
    redis_client_t *client = request->client;
    atomic_fetch_add_explicit(&client->stats->timeouts, 1, memory_order_relaxed);
    report_down(client, "no reply in time");
    drop_connection(client, true);
}

static void finish(request_t *request, redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        atomic_fetch_add_explicit(&request->client->stats->errors, 1, memory_order_relaxed);
    request->cb(request->ctx, reply);
    free(request);
}

static void send_request(request_t *request, int argc, const char **argv, const size_t *lens);

static bool is_noscript(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

static void on_reply(redisAsyncContext *context, void *reply, void *data)
{
    (void)context;
    request_t *request = data;
    h2o_timeout_unlink(&request->timeout);
    /* NOSCRIPT means the script did not run, so sending it again cannot apply it twice. */
    if (request->script != NULL && !request->sent_body && is_noscript(reply)) {
        atomic_fetch_add_explicit(&request->client->stats->noscript, 1, memory_order_relaxed);
        request->sent_body = true;
        request->argv[0] = "EVAL";
        request->lens[0] = 4;
        request->argv[1] = request->script->body;
        request->lens[1] = strlen(request->script->body);
        send_request(request, request->argc, request->argv, request->lens);
        return;
    }
    finish(request, reply);
}

static void send_request(request_t *request, int argc, const char **argv, const size_t *lens)
{
    redis_client_t *client = request->client;
    if (client->context == NULL ||
        redisAsyncCommandArgv(client->context, on_reply, request, argc, argv, lens) != REDIS_OK) {
        finish(request, NULL);
        return;
    }
    atomic_fetch_add_explicit(&client->stats->commands, 1, memory_order_relaxed);
    h2o_timeout_link(client->loop, &client->command_timeout, &request->timeout);
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
    send_request(request, argc, argv, lens);
}

void redis_client_script(redis_client_t *client, const redis_script_t *script, int key_count, int argc,
                         const char **argv, const size_t *lens, redis_client_cb cb, void *ctx)
{
    assert(script->sha[0] != '\0');
    char numkeys[12];
    size_t numkeys_len = (size_t)snprintf(numkeys, sizeof(numkeys), "%d", key_count);
    int total = argc + 3;
    size_t bytes = numkeys_len;
    for (int i = 0; i < argc; i++)
        bytes += lens[i];
    request_t *request = malloc(sizeof(*request) + total * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (request == NULL) {
        cb(ctx, NULL);
        return;
    }
    *request = (request_t){.timeout = {.cb = on_command_timeout},
                           .client = client,
                           .cb = cb,
                           .ctx = ctx,
                           .script = script,
                           .argc = total,
                           .argv = (const char **)(request + 1)};
    request->lens = (size_t *)(request->argv + total);
    char *data = (char *)(request->lens + total);
    request->argv[0] = "EVALSHA";
    request->lens[0] = 7;
    request->argv[1] = script->sha;
    request->lens[1] = sizeof(script->sha) - 1;
    memcpy(data, numkeys, numkeys_len);
    request->argv[2] = data;
    request->lens[2] = numkeys_len;
    data += numkeys_len;
    for (int i = 0; i < argc; i++) {
        memcpy(data, argv[i], lens[i]);
        request->argv[i + 3] = data;
        request->lens[i + 3] = lens[i];
        data += lens[i];
    }
    send_request(request, total, request->argv, request->lens);
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
    h2o_timeout_init(loop, &client->flush_timeout, 0);
    h2o_timeout_init(loop, &client->command_timeout, timeout_ms);
    h2o_timeout_init(loop, &client->retry_timeout, RETRY_TICK_MS);
    connect_now(client);
    return client;
}

void redis_client_destroy(redis_client_t *client)
{
    drop_connection(client, false);
    h2o_timeout_unlink(&client->retry);
    h2o_timeout_dispose(client->loop, &client->flush_timeout);
    h2o_timeout_dispose(client->loop, &client->command_timeout);
    h2o_timeout_dispose(client->loop, &client->retry_timeout);
    free(client);
}

uint64_t redis_client_connection_count(const redis_client_t *client)
{
    return client->connection_count;
}
