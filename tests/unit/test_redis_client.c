/*
 * redis_client against a real redis-server (scripts/services.sh): pipelined commands and scripts
 * get their own replies, in the order they were issued, and Redis applies them in that order —
 * on a connection whose script cache is empty (a fresh Redis, a restart after kill -9 with its
 * append-only file reloaded, a clean restart), and when the cache is emptied under a connection
 * (SCRIPT FLUSH: the connection is dropped, never a command sent twice). A command issued while
 * Redis is down fails promptly, and the first one issued once it is back is served.
 */
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "distributed/redis/redis_client.h"
#include "services.h"

#define WAIT_LIMIT_MS 20000
#define CALLS_MAX     8
#define REPLY_MAX     64

/* Appends its argument to the list KEYS[1] and answers the list's length. */
static redis_script_t push_script = {
    .body = "return redis.call('RPUSH', KEYS[1], ARGV[1])",
};

typedef struct call call_t;

typedef struct {
    h2o_loop_t *loop;
    redis_client_t *client;
    redis_client_stats_t stats;
    redisContext *redis; /* blocking, for setting up and checking */
    /* The callbacks' record, in the order they ran. */
    int order[CALLS_MAX];
    size_t answered;
} fixture_t;

struct call {
    fixture_t *fixture;
    int index;
    bool done;
    bool no_reply;
    int type;
    long long integer;
    char text[REPLY_MAX]; /* a string reply, or an array's elements joined by ',' */
};

static void on_reply(void *ctx, redisReply *reply)
{
    call_t *call = ctx;
    assert_false(call->done);
    call->done = true;
    call->fixture->order[call->fixture->answered++] = call->index;
    if ((call->no_reply = reply == NULL))
        return;
    call->type = reply->type;
    call->integer = reply->integer;
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_ERROR)
        snprintf(call->text, sizeof(call->text), "%s", reply->str);
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        size_t len = strlen(call->text);
        snprintf(call->text + len, sizeof(call->text) - len, "%s%s", i > 0 ? "," : "",
                 reply->element[i]->str);
    }
}

static void connect_blocking(fixture_t *fixture)
{
    fixture->redis = redisConnect("127.0.0.1", services.redis_port);
    assert_non_null(fixture->redis);
    assert_int_equal(fixture->redis->err, 0);
}

static void blocking(fixture_t *fixture, const char *command)
{
    redisReply *reply = redisCommand(fixture->redis, command);
    assert_non_null(reply);
    assert_int_not_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
}

static void create_client(fixture_t *fixture)
{
    redis_address_t address;
    char err[256];
    assert_int_equal(redis_address_parse(services.redis_url, &address, err, sizeof(err)), 0);
    fixture->client = redis_client_create(fixture->loop, &address, 2000, &fixture->stats);
    assert_non_null(fixture->client);
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    fixture->loop = h2o_evloop_create();
    connect_blocking(fixture);
    blocking(fixture, "FLUSHALL");
    char err[256];
    if (redis_script_load(fixture->redis, &push_script, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    /* Every test's client starts on an empty script cache, as after a Redis restart. */
    blocking(fixture, "SCRIPT FLUSH");
    create_client(fixture);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    redis_client_destroy(fixture->client);
    h2o_evloop_run(fixture->loop, 0);
    h2o_evloop_destroy(fixture->loop);
    if (fixture->redis != NULL)
        redisFree(fixture->redis);
    free(fixture);
    return 0;
}

static void run_until_answered(fixture_t *fixture, size_t count)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (fixture->answered < count) {
        assert_true(clock_monotonic_ms() < deadline);
        assert_int_equal(h2o_evloop_run(fixture->loop, 10), 0);
    }
}

static void push_by_script(fixture_t *fixture, call_t *call, const char *value)
{
    const char *argv[] = {"list", value};
    redis_client_script(fixture->client, &push_script, 1, 2, argv, (const size_t[]){4, strlen(value)},
                        on_reply, call);
}

static void command(fixture_t *fixture, call_t *call, int argc, const char **argv)
{
    redis_client_command(fixture->client, argc, argv, NULL, on_reply, call);
}

/*
 * One pipeline of a script, a plain command, the script again and a read, all issued in one loop
 * iteration: each gets its own reply, in order, and Redis ran them in order.
 */
static void pipeline_in_order(fixture_t *fixture, const char *tag)
{
    call_t calls[4];
    for (int i = 0; i < 4; i++)
        calls[i] = (call_t){.fixture = fixture, .index = i};
    fixture->answered = 0;
    blocking(fixture, "DEL list");
    char first[16], second[16], third[16], expected[64];
    snprintf(first, sizeof(first), "%s-1", tag);
    snprintf(second, sizeof(second), "%s-2", tag);
    snprintf(third, sizeof(third), "%s-3", tag);
    push_by_script(fixture, &calls[0], first);
    command(fixture, &calls[1], 3, (const char *[]){"RPUSH", "list", second});
    push_by_script(fixture, &calls[2], third);
    command(fixture, &calls[3], 4, (const char *[]){"LRANGE", "list", "0", "-1"});
    run_until_answered(fixture, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fixture->order[i], i);
        assert_false(calls[i].no_reply);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(calls[i].type, REDIS_REPLY_INTEGER);
        assert_int_equal(calls[i].integer, i + 1);
    }
    snprintf(expected, sizeof(expected), "%s,%s,%s", first, second, third);
    assert_string_equal(calls[3].text, expected);
}

static void test_pipeline_on_an_empty_script_cache(void **state)
{
    fixture_t *fixture = *state;
    pipeline_in_order(fixture, "fresh");
    /* Loaded once per connection: a second pipeline sends no SCRIPT LOAD. */
    long long sent = (long long)fixture->stats.commands;
    pipeline_in_order(fixture, "again");
    assert_int_equal((long long)fixture->stats.commands - sent, 4);
    assert_int_equal(fixture->stats.noscript, 0);
}

/* Restarts Redis (kill -9 with the append-only file reloaded, or a clean stop), then pipelines at once. */
static void restart_then_pipeline(fixture_t *fixture, const char *stop)
{
    pipeline_in_order(fixture, "before");
    redisFree(fixture->redis);
    fixture->redis = NULL;
    assert_int_equal(services_run(&services, stop, "redis"), 0);
    /* Down: answered promptly, with no reply. */
    call_t down = {.fixture = fixture};
    fixture->answered = 0;
    int64_t asked = clock_monotonic_ms();
    command(fixture, &down, 1, (const char *[]){"PING"});
    run_until_answered(fixture, 1);
    assert_true(down.no_reply);
    assert_true(clock_monotonic_ms() - asked < 1000);
    assert_int_equal(services_run(&services, "start", "redis"), 0);
    connect_blocking(fixture);
    /* The list survived in the append-only file; the script cache did not. */
    redisReply *reply = redisCommand(fixture->redis, "LLEN list");
    assert_int_equal(reply->integer, 3);
    freeReplyObject(reply);
    pipeline_in_order(fixture, "after");
}

static void test_pipeline_right_after_kill_and_reload(void **state)
{
    restart_then_pipeline(*state, "kill");
}

static void test_pipeline_right_after_clean_restart(void **state)
{
    restart_then_pipeline(*state, "stop");
}

static void test_script_cache_emptied_under_the_connection(void **state)
{
    fixture_t *fixture = *state;
    pipeline_in_order(fixture, "loaded");
    blocking(fixture, "SCRIPT FLUSH");
    blocking(fixture, "DEL list");
    call_t calls[3];
    for (int i = 0; i < 3; i++)
        calls[i] = (call_t){.fixture = fixture, .index = i};
    fixture->answered = 0;
    push_by_script(fixture, &calls[0], "lost");
    command(fixture, &calls[1], 3, (const char *[]){"RPUSH", "list", "after"});
    push_by_script(fixture, &calls[2], "later");
    run_until_answered(fixture, 3);
    /* The script did not run and was not sent again: the connection was dropped, and what was
     * in flight behind it answered without a reply, in order. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fixture->order[i], i);
        assert_true(calls[i].no_reply);
    }
    assert_int_equal(fixture->stats.noscript, 1);
    redisReply *list = redisCommand(fixture->redis, "LRANGE list 0 -1");
    assert_true(list->elements <= 1);
    if (list->elements == 1)
        assert_string_equal(list->element[0]->str, "after");
    freeReplyObject(list);
    /* The next connection loads the script again. */
    pipeline_in_order(fixture, "next");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_on_an_empty_script_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_right_after_kill_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_right_after_clean_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_cache_emptied_under_the_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
