#include "distributed/worker/worker_streams.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distributed/outbox.h"
#include "distributed/redis/redis_sale.h"

/* A reply may take block_ms by design; anything this much later means Redis is stuck. */
#define REPLY_GRACE_MS         5000
#define DEAD_LETTER_EXTRA_ARGS 11 /* XADD key * stream S entry_id I reason R deliveries D */

struct worker_streams {
    redis_address_t address;
    char *consumer; /* owned */
    int block_ms;
    redisContext *redis; /* owned; NULL while disconnected */
    char **keys;         /* owned: the order stream of every live sale */
    size_t key_count;
};

static void disconnect(worker_streams_t *streams)
{
    if (streams->redis != NULL)
        redisFree(streams->redis);
    streams->redis = NULL;
}

/* A command's arguments, for redisAppendCommandArgv; the strings are borrowed. */
typedef struct {
    const char **argv;
    size_t *lens;
    size_t count;
    size_t capacity;
    bool failed; /* memory ran out; later pushes are ignored */
} args_t;

static void args_push(args_t *args, const char *text, size_t len)
{
    if (args->failed)
        return;
    if (args->count == args->capacity) {
        size_t capacity = args->capacity == 0 ? 16 : args->capacity * 2;
        const char **argv = realloc(args->argv, capacity * sizeof(*argv));
        if (argv != NULL)
            args->argv = argv;
        size_t *lens = realloc(args->lens, capacity * sizeof(*lens));
        if (lens != NULL)
            args->lens = lens;
        if (argv == NULL || lens == NULL) {
            args->failed = true;
            return;
        }
        args->capacity = capacity;
    }
    args->argv[args->count] = text;
    args->lens[args->count++] = len;
}

static void args_push_cstr(args_t *args, const char *text)
{
    args_push(args, text, strlen(text));
}

static void args_dispose(args_t *args)
{
    free(args->argv);
    free(args->lens);
    *args = (args_t){0};
}

worker_streams_t *worker_streams_open(const char *redis_url, const char *consumer, int block_ms, char *err,
                                      size_t err_size)
{
    worker_streams_t *streams = calloc(1, sizeof(*streams));
    if (streams == NULL || (streams->consumer = strdup(consumer)) == NULL) {
        free(streams);
        snprintf(err, err_size, "redis: out of memory");
        return NULL;
    }
    streams->block_ms = block_ms;
    if (redis_address_parse(redis_url, &streams->address, err, err_size) != 0) {
        worker_streams_close(streams);
        return NULL;
    }
    return streams;
}

static void free_keys(worker_streams_t *streams)
{
    for (size_t i = 0; i < streams->key_count; i++)
        free(streams->keys[i]);
    free(streams->keys);
    streams->keys = NULL;
    streams->key_count = 0;
}

void worker_streams_close(worker_streams_t *streams)
{
    if (streams == NULL)
        return;
    disconnect(streams);
    free_keys(streams);
    free(streams->consumer);
    free(streams);
}

redisContext *worker_streams_context(worker_streams_t *streams)
{
    return streams->redis;
}

/* Drops the connection after an I/O error (hiredis cannot use it again) and says why. */
static int connection_failed(worker_streams_t *streams, char *err, size_t err_size)
{
    snprintf(err, err_size, "redis %s:%d: %s", streams->address.host, streams->address.port,
             streams->redis->errstr);
    disconnect(streams);
    return -1;
}

/* Reads the next pipelined reply; NULL (connection dropped, err set) on an I/O error. */
static redisReply *next_reply(worker_streams_t *streams, char *err, size_t err_size)
{
    void *reply = NULL;
    if (redisGetReply(streams->redis, &reply) != REDIS_OK) {
        connection_failed(streams, err, err_size);
        return NULL;
    }
    return reply;
}

/* Sends one command and reads its reply; NULL (err set) on an I/O error or an error reply. */
static redisReply *run(worker_streams_t *streams, char *err, size_t err_size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    redisReply *reply = redisvCommand(streams->redis, format, ap);
    va_end(ap);
    if (reply == NULL) {
        connection_failed(streams, err, err_size);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, err_size, "redis: %s", reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redis_connect_result_t worker_streams_connect(worker_streams_t *streams, char *err, size_t err_size)
{
    if (streams->redis != NULL)
        return REDIS_CONNECT_OK;
    return redis_address_connect(&streams->address, streams->block_ms + REPLY_GRACE_MS, &streams->redis, err,
                                 err_size);
}

static int ensure_connected(worker_streams_t *streams, char *err, size_t err_size)
{
    return worker_streams_connect(streams, err, err_size) == REDIS_CONNECT_OK ? 0 : -1;
}

/* Replaces the key list with the stream of every member of the sales set. */
static int load_keys(worker_streams_t *streams, const redisReply *members, char *err, size_t err_size)
{
    free_keys(streams);
    if (members->elements == 0)
        return 0;
    streams->keys = calloc(members->elements, sizeof(*streams->keys));
    if (streams->keys == NULL)
        goto Error;
    for (size_t i = 0; i < members->elements; i++) {
        redis_sale_keys_t keys;
        redis_sale_keys(&keys, members->element[i]->str);
        if ((streams->keys[i] = strdup(keys.orders)) == NULL)
            goto Error;
        streams->key_count++;
    }
    return 0;
Error:
    snprintf(err, err_size, "redis: out of memory listing streams");
    free_keys(streams);
    return -1;
}

int worker_streams_discover(worker_streams_t *streams, char *err, size_t err_size)
{
    if (ensure_connected(streams, err, err_size) != 0)
        return -1;
    redisReply *members = run(streams, err, err_size, "SMEMBERS %s", OUTBOX_SALES_SET);
    if (members == NULL)
        return -1;
    int rc = load_keys(streams, members, err, err_size);
    freeReplyObject(members);
    if (rc != 0)
        return -1;
    /* Created from id 0 so that orders appended before the group existed are read too; for a
     * stream that already has the group this only answers BUSYGROUP, so it is repeated on every
     * discovery, which also restores a group lost with its stream (a sale deleted and created again). */
    for (size_t i = 0; i < streams->key_count; i++)
        redisAppendCommand(streams->redis, "XGROUP CREATE %s %s 0 MKSTREAM", streams->keys[i],
                           OUTBOX_CONSUMER_GROUP);
    for (size_t i = 0; i < streams->key_count; i++) {
        redisReply *reply = next_reply(streams, err, err_size);
        if (reply == NULL)
            return -1;
        if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
            snprintf(err, err_size, "redis: XGROUP CREATE %s: %s", streams->keys[i], reply->str);
            rc = -1;
        }
        freeReplyObject(reply);
    }
    return rc;
}

int worker_streams_read(worker_streams_t *streams, worker_batch_t *batch, size_t count, char *err,
                        size_t err_size)
{
    if (ensure_connected(streams, err, err_size) != 0)
        return -1;
    if (streams->key_count == 0) {
        /* Nothing to block on: wait as a read would, so that the caller's loop does not spin. */
        struct timespec pause = {.tv_sec = streams->block_ms / 1000,
                                 .tv_nsec = (streams->block_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        return 0;
    }
    char count_text[24], block_text[24];
    snprintf(count_text, sizeof(count_text), "%zu", count);
    snprintf(block_text, sizeof(block_text), "%d", streams->block_ms);
    args_t args = {0};
    const char *head[] = {"XREADGROUP",      "GROUP",    OUTBOX_CONSUMER_GROUP,
                          streams->consumer, "COUNT",    count_text,
                          "BLOCK",           block_text, "STREAMS"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        args_push_cstr(&args, head[i]);
    for (size_t i = 0; i < streams->key_count; i++)
        args_push_cstr(&args, streams->keys[i]);
    for (size_t i = 0; i < streams->key_count; i++)
        args_push(&args, ">", 1);
    if (args.failed) {
        args_dispose(&args);
        snprintf(err, err_size, "redis: out of memory building XREADGROUP");
        return -1;
    }
    redisReply *reply = redisCommandArgv(streams->redis, (int)args.count, args.argv, args.lens);
    args_dispose(&args);
    if (reply == NULL)
        return connection_failed(streams, err, err_size);
    if (reply->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: a stream was deleted with its sale; the next discovery catches up. */
        snprintf(err, err_size, "redis: XREADGROUP: %s", reply->str);
        freeReplyObject(reply);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY) { /* nil: nothing arrived within block_ms */
        freeReplyObject(reply);
        return 0;
    }
    if (worker_batch_keep(batch, reply) != 0)
        goto Error;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *stream = reply->element[i];
        if (worker_batch_add(batch, stream->element[0]->str, stream->element[1], 1) != 0)
            goto Error;
    }
    return 0;
Error:
    snprintf(err, err_size, "redis: out of memory reading orders");
    return -1;
}

/* Sets the delivery count of each order from `first` on, as XPENDING reports it. */
static int read_deliveries(worker_streams_t *streams, worker_batch_t *batch, size_t first, char *err,
                           size_t err_size)
{
    for (size_t i = first; i < batch->count; i++) {
        const worker_order_t *order = &batch->orders[i];
        redisAppendCommand(streams->redis, "XPENDING %s %s %s %s 1", order->stream, OUTBOX_CONSUMER_GROUP,
                           order->entry_id, order->entry_id);
    }
    for (size_t i = first; i < batch->count; i++) {
        redisReply *reply = next_reply(streams, err, err_size);
        if (reply == NULL)
            return -1;
        /* [[id, consumer, idle, deliveries]]; empty if its old owner acknowledged it meanwhile. */
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 && reply->element[0]->elements == 4)
            batch->orders[i].deliveries = reply->element[0]->element[3]->integer;
        freeReplyObject(reply);
    }
    return 0;
}

/* XAUTOCLAIM over one stream until `count` entries were taken or its pending list was scanned. */
static int claim_stream(worker_streams_t *streams, worker_batch_t *batch, const char *key, long long idle_ms,
                        size_t count, char *err, size_t err_size)
{
    char cursor[64] = "0-0";
    size_t claimed = 0;
    do {
        /* hiredis' format knows no %zu. */
        redisReply *reply =
            run(streams, err, err_size, "XAUTOCLAIM %s %s %s %lld %s COUNT %llu", key, OUTBOX_CONSUMER_GROUP,
                streams->consumer, idle_ms, cursor, (unsigned long long)(count - claimed));
        if (reply == NULL)
            return -1;
        if (worker_batch_keep(batch, reply) != 0) {
            snprintf(err, err_size, "redis: out of memory claiming orders");
            return -1;
        }
        /* [next cursor, entries, deleted ids] */
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        size_t before = batch->count;
        if (worker_batch_add(batch, key, reply->element[1], 1) != 0) {
            snprintf(err, err_size, "redis: out of memory claiming orders");
            return -1;
        }
        claimed += batch->count - before;
    } while (strcmp(cursor, "0-0") != 0 && claimed < count);
    return 0;
}

int worker_streams_claim(worker_streams_t *streams, worker_batch_t *batch, long long idle_ms, size_t count,
                         char *err, size_t err_size)
{
    if (ensure_connected(streams, err, err_size) != 0)
        return -1;
    size_t first = batch->count;
    for (size_t i = 0; i < streams->key_count; i++) {
        if (claim_stream(streams, batch, streams->keys[i], idle_ms, count, err, err_size) != 0)
            return -1;
    }
    return read_deliveries(streams, batch, first, err, err_size);
}

/* Queues the XADD of one dead letter: where it came from, why, and its original fields. */
static int append_dead_letter(worker_streams_t *streams, const worker_order_t *order)
{
    char deliveries[24];
    snprintf(deliveries, sizeof(deliveries), "%lld", order->deliveries);
    const char *reason = order->reason != NULL ? order->reason : "failed";
    const char *head[] = {"XADD",     OUTBOX_DEAD_LETTER, "*",      "stream", order->stream,
                          "entry_id", order->entry_id,    "reason", reason,   "deliveries",
                          deliveries};
    args_t args = {0};
    for (size_t i = 0; i < DEAD_LETTER_EXTRA_ARGS; i++)
        args_push_cstr(&args, head[i]);
    if (order->fields->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < order->fields->elements; i++) {
            const redisReply *field = order->fields->element[i];
            if (field->type == REDIS_REPLY_STRING)
                args_push(&args, field->str, field->len);
        }
    }
    /* A field without its value would make XADD fail; drop the odd one out. */
    args.count -= (args.count - DEAD_LETTER_EXTRA_ARGS) % 2;
    int rc = args.failed ? -1 : redisAppendCommandArgv(streams->redis, (int)args.count, args.argv, args.lens);
    args_dispose(&args);
    return rc == REDIS_OK ? 0 : -1;
}

static bool is_finished(const worker_order_t *order)
{
    return order->fate == WORKER_ORDER_STORED || order->fate == WORKER_ORDER_DEAD;
}

/* clang-format off */
/*
 * Acknowledges the finished orders of one stream and removes them from it, in one atomic step.
 * KEYS[1] the stream; ARGV[1] and ARGV[2] the lowest and highest of the IDs, ARGV[3...] every ID.
 *
 * XDEL costs Redis about 1.5 us per entry and stalls it for the whole batch; XTRIM MINID drops
 * whole stream nodes. What may be trimmed: entries are delivered in ID order, so when every ID
 * given was pending in the group (the stream is the one they were read from), every entry below
 * the highest was delivered too, and the ones below both it and the group's smallest still
 * pending entry are acknowledged, by this worker or another. Those go by XTRIM; the given IDs at
 * or above that floor (the highest, and any above an entry another worker still holds) by XDEL.
 * When some ID was not pending (acknowledged before, or the stream was created again since), only
 * the given IDs are deleted, as XDEL alone would.
 */
static const char acknowledge_script[] =
    "#!lua\n"
    "local group = '" OUTBOX_CONSUMER_GROUP "'\n"
    "local function each_chunk(ids, command)\n"
    "  for i = 1, #ids, 1000 do\n"
    "    redis.call(command, KEYS[1], unpack(ids, i, math.min(i + 999, #ids)))\n"
    "  end\n"
    "end\n"
    "local function id_less(a, b)\n"
    "  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')\n"
    "  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')\n"
    "  if a_ms ~= b_ms then return #a_ms < #b_ms or (#a_ms == #b_ms and a_ms < b_ms) end\n"
    "  return #a_seq < #b_seq or (#a_seq == #b_seq and a_seq < b_seq)\n"
    "end\n"
    "local ids = {}\n"
    "for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end\n"
    "local acked = 0\n"
    "for i = 1, #ids, 1000 do\n"
    "  acked = acked + redis.call('XACK', KEYS[1], group, unpack(ids, i, math.min(i + 999, #ids)))\n"
    "end\n"
    "if acked < #ids then each_chunk(ids, 'XDEL') return 0 end\n"
    "local floor = ARGV[2]\n"
    "local pending = redis.call('XPENDING', KEYS[1], group)\n"
    "if pending[1] > 0 and id_less(pending[2], floor) then floor = pending[2] end\n"
    "redis.call('XTRIM', KEYS[1], 'MINID', floor)\n"
    "if floor == ARGV[2] then redis.call('XDEL', KEYS[1], floor) return 1 end\n"
    "if not id_less(ARGV[1], floor) then each_chunk(ids, 'XDEL') return 1 end\n"
    "local rest = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  if not id_less(id, floor) then rest[#rest + 1] = id end\n"
    "end\n"
    "each_chunk(rest, 'XDEL')\n"
    "return 1\n";
/* clang-format on */

/* An entry ID "<ms>-<seq>" as two numbers, for ordering; IDs Redis gave always parse. */
static void parse_entry_id(const char *id, unsigned long long *ms, unsigned long long *seq)
{
    char *dash;
    *ms = strtoull(id, &dash, 10);
    *seq = *dash == '-' ? strtoull(dash + 1, NULL, 10) : 0;
}

static bool entry_id_less(const char *a, const char *b)
{
    unsigned long long a_ms, a_seq, b_ms, b_seq;
    parse_entry_id(a, &a_ms, &a_seq);
    parse_entry_id(b, &b_ms, &b_seq);
    return a_ms < b_ms || (a_ms == b_ms && a_seq < b_seq);
}

/* Queues the acknowledgement of the finished orders of one stream; returns commands queued. */
static int append_acknowledgement(worker_streams_t *streams, const worker_batch_t *batch, const char *key)
{
    args_t args = {0};
    const char *head[] = {"EVAL", acknowledge_script, "1", key, "", ""};
    for (size_t i = 0; i < 6; i++)
        args_push_cstr(&args, head[i]);
    const char *lowest = NULL, *highest = NULL;
    for (size_t i = 0; i < batch->count; i++) {
        const worker_order_t *order = &batch->orders[i];
        if (!is_finished(order) || strcmp(order->stream, key) != 0)
            continue;
        args_push_cstr(&args, order->entry_id);
        if (lowest == NULL || entry_id_less(order->entry_id, lowest))
            lowest = order->entry_id;
        if (highest == NULL || entry_id_less(highest, order->entry_id))
            highest = order->entry_id;
    }
    int rc = -1;
    if (!args.failed) {
        assert(lowest != NULL && highest != NULL);
        args.argv[4] = lowest;
        args.lens[4] = strlen(lowest);
        args.argv[5] = highest;
        args.lens[5] = strlen(highest);
        redisAppendCommandArgv(streams->redis, (int)args.count, args.argv, args.lens);
        rc = 1;
    }
    args_dispose(&args);
    return rc;
}

/* Reads `count` pipelined replies; fails on the first error reply after reading them all. */
static int check_replies(worker_streams_t *streams, size_t count, char *err, size_t err_size)
{
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        redisReply *reply = next_reply(streams, err, err_size);
        if (reply == NULL)
            return -1;
        if (reply->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(err, err_size, "redis: %s", reply->str);
            rc = -1;
        }
        freeReplyObject(reply);
    }
    return rc;
}

/* Whether an earlier finished order came from the same stream (its stream is already acknowledged). */
static bool stream_seen_before(const worker_batch_t *batch, size_t index)
{
    for (size_t i = 0; i < index; i++) {
        if (is_finished(&batch->orders[i]) &&
            strcmp(batch->orders[i].stream, batch->orders[index].stream) == 0)
            return true;
    }
    return false;
}

int worker_streams_finish(worker_streams_t *streams, const worker_batch_t *batch, char *err, size_t err_size)
{
    if (ensure_connected(streams, err, err_size) != 0)
        return -1;
    /* Dead letters first, and confirmed, so that an order is never acknowledged without a trace. */
    size_t queued = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->orders[i].fate != WORKER_ORDER_DEAD)
            continue;
        if (append_dead_letter(streams, &batch->orders[i]) != 0)
            goto Error;
        queued++;
    }
    if (check_replies(streams, queued, err, err_size) != 0)
        return -1;
    queued = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (!is_finished(&batch->orders[i]) || stream_seen_before(batch, i))
            continue;
        int commands = append_acknowledgement(streams, batch, batch->orders[i].stream);
        if (commands < 0)
            goto Error;
        queued += (size_t)commands;
    }
    return check_replies(streams, queued, err, err_size);
Error:
    /* Commands already queued would answer out of turn on the next use: start afresh. */
    disconnect(streams);
    snprintf(err, err_size, "redis: out of memory finishing a batch");
    return -1;
}
