/*
 * The distributed engine's watcher (engine.h, watch) with two engine instances on one real
 * redis-server and PostgreSQL (scripts/services.sh), as two servers of a cluster would be: the
 * sales shown soon after watch(); a purchase, a create, an update and a delete made through one
 * instance reaching the watcher of the other; a storm seen through to its last stock; a change the
 * subscription did not hear (written straight into Redis) repaired when the subscription connects
 * again, and by the periodic resync; and a loop that stops watching.
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

#include <h2o.h>

#include "core/clock.h"
#include "distributed/engine_distributed.h"
#include "distributed/redis/redis_address.h"
#include "services.h"

#define WAIT_LIMIT_MS 20000
#define HOUR_MS       (3600 * 1000)
#define MAX_SALES     8
#define STORM         300

/* One server instance: an engine and one loop attached to it. */
typedef struct {
    engine_t *engine;
    h2o_loop_t *loop;
    engine_loop_t *handle;
} instance_t;

typedef struct {
    char postgres_url[256];
    instance_t instances[2];
    redisContext *redis;
} fixture_t;

typedef struct {
    size_t calls;
    sale_t sales[MAX_SALES];
    size_t count;
} watcher_t;

static void on_watch(void *ctx, const sale_t *sales, size_t count)
{
    watcher_t *watcher = ctx;
    assert_true(count <= MAX_SALES);
    ++watcher->calls;
    memcpy(watcher->sales, sales, count * sizeof(*sales));
    watcher->count = count;
}

typedef struct {
    bool done;
    engine_status_t status;
    sale_outcome_t outcome;
} answer_t;

static void on_answer(void *ctx, const engine_result_t *result)
{
    answer_t *answer = ctx;
    answer->done = true;
    answer->status = result->status;
    answer->outcome = result->outcome;
}

static void run_both(fixture_t *fixture)
{
    for (int i = 0; i < 2; ++i)
        assert_int_equal(h2o_evloop_run(fixture->instances[i].loop, 1), 0);
}

static void run_until(fixture_t *fixture, const bool *done)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (!*done) {
        assert_true(clock_monotonic_ms() < deadline);
        run_both(fixture);
    }
}

static const sale_t *shown(const watcher_t *watcher, const char *sku)
{
    for (size_t i = 0; i < watcher->count; ++i)
        if (strcmp(watcher->sales[i].sku, sku) == 0)
            return &watcher->sales[i];
    return NULL;
}

/* Runs both instances until the watcher shows sku with that stock (-1: shows no such sale). */
static void run_until_shown(fixture_t *fixture, const watcher_t *watcher, const char *sku, int64_t stock)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        const sale_t *sale = shown(watcher, sku);
        if (watcher->calls > 0 && (stock < 0 ? sale == NULL : sale != NULL && sale->stock == stock))
            return;
        if (clock_monotonic_ms() >= deadline)
            fail_msg("%s never shown with stock %lld (%zu calls, last %lld)", sku, (long long)stock,
                     watcher->calls, sale != NULL ? (long long)sale->stock : -1LL);
        run_both(fixture);
    }
}

static void open_instance(fixture_t *fixture, instance_t *instance)
{
    char err[512] = "";
    instance->engine = engine_distributed_open(services.redis_url, fixture->postgres_url, err, sizeof(err));
    if (instance->engine == NULL)
        fail_msg("open: %s", err);
    instance->loop = h2o_evloop_create();
    instance->handle = engine_attach(instance->engine, instance->loop);
    assert_non_null(instance->handle);
}

static void close_instance(instance_t *instance)
{
    engine_detach(instance->handle);
    engine_close(instance->engine);
    h2o_evloop_run(instance->loop, 0);
    h2o_evloop_destroy(instance->loop);
}

static void redis_do(fixture_t *fixture, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    redisReply *reply = redisvCommand(fixture->redis, format, args);
    va_end(args);
    assert_non_null(reply);
    assert_int_not_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    if (services_fresh_database(&services, fixture->postgres_url, sizeof(fixture->postgres_url)) != 0)
        return -1;
    redis_address_t address;
    char err[512];
    if (redis_address_parse(services.redis_url, &address, err, sizeof(err)) != 0 ||
        redis_address_connect(&address, 5000, &fixture->redis, err, sizeof(err)) != REDIS_CONNECT_OK)
        fail_msg("%s", err);
    redis_do(fixture, "FLUSHALL");
    for (int i = 0; i < 2; ++i)
        open_instance(fixture, &fixture->instances[i]);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    for (int i = 0; i < 2; ++i)
        close_instance(&fixture->instances[i]);
    redisFree(fixture->redis);
    free(fixture);
    return 0;
}

static void create_sale(fixture_t *fixture, int instance, const char *sku, int64_t stock, int64_t start_ms)
{
    sale_fields_t fields = {.has_sku = true,
                            .has_product_name = true,
                            .has_initial_stock = true,
                            .has_start = true,
                            .has_end = true,
                            .initial_stock = stock,
                            .start_ms = start_ms,
                            .end_ms = clock_now_ms() + HOUR_MS};
    snprintf(fields.sku, sizeof(fields.sku), "%s", sku);
    snprintf(fields.product_name, sizeof(fields.product_name), "Product %s", sku);
    answer_t answer = {0};
    instance_t *through = &fixture->instances[instance];
    engine_create_sale(through->handle, &fields, on_answer, &answer);
    run_until(fixture, &answer.done);
    assert_int_equal(answer.status, ENGINE_OK);
}

static void purchase(fixture_t *fixture, int instance, const char *sku, const char *user)
{
    answer_t answer = {0};
    instance_t *through = &fixture->instances[instance];
    engine_purchase(through->handle, sku, user, on_answer, &answer);
    run_until(fixture, &answer.done);
    assert_int_equal(answer.outcome, SALE_OUTCOME_SUCCESS);
}

static void watch(fixture_t *fixture, int instance, watcher_t *watcher)
{
    instance_t *on = &fixture->instances[instance];
    engine_watch(on->handle, on_watch, watcher);
}

static void test_watcher_is_shown_the_sales(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    watch(fixture, 1, &watcher);
    assert_int_equal(watcher.calls, 0); /* from the loop, never inside watch() */
    run_until_shown(fixture, &watcher, "A", 5);
}

static void test_changes_through_one_instance_reach_the_other(void **state)
{
    fixture_t *fixture = *state;
    watcher_t watcher = {0};
    watch(fixture, 1, &watcher);
    run_until_shown(fixture, &watcher, "A", -1);

    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    run_until_shown(fixture, &watcher, "A", 5);
    purchase(fixture, 0, "A", "alice");
    run_until_shown(fixture, &watcher, "A", 4);

    create_sale(fixture, 0, "B", 3, clock_now_ms() + HOUR_MS - 10);
    run_until_shown(fixture, &watcher, "B", 3);
    sale_fields_t fields = {.has_initial_stock = true, .initial_stock = 7};
    answer_t updated = {0};
    instance_t *first = &fixture->instances[0];
    engine_update_sale(first->handle, "B", &fields, on_answer, &updated);
    run_until(fixture, &updated.done);
    assert_int_equal(updated.status, ENGINE_OK);
    run_until_shown(fixture, &watcher, "B", 7);

    answer_t deleted = {0};
    engine_delete_sale(first->handle, "A", 0, on_answer, &deleted);
    run_until(fixture, &deleted.done);
    assert_int_equal(deleted.status, ENGINE_OK);
    run_until_shown(fixture, &watcher, "A", -1);
    assert_non_null(shown(&watcher, "B"));
}

static void test_a_storm_is_seen_to_its_last_stock(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", STORM, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    watch(fixture, 1, &watcher);
    run_until_shown(fixture, &watcher, "A", STORM);
    static answer_t answers[STORM];
    memset(answers, 0, sizeof(answers));
    instance_t *first = &fixture->instances[0];
    for (int i = 0; i < STORM; ++i) {
        char user[32];
        snprintf(user, sizeof(user), "buyer-%d", i);
        engine_purchase(first->handle, "A", user, on_answer, &answers[i]);
        if (i % 20 == 19)
            run_both(fixture);
    }
    for (int i = 0; i < STORM; ++i)
        run_until(fixture, &answers[i].done);
    run_until_shown(fixture, &watcher, "A", 0);
}

static void test_unheard_change_is_read_when_the_subscription_returns(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    watch(fixture, 1, &watcher);
    run_until_shown(fixture, &watcher, "A", 5);
    /* written behind the engines' backs: nothing is published */
    redis_do(fixture, "HSET flashsale:{A}:sale stock 2");
    redis_do(fixture, "CLIENT KILL TYPE pubsub");
    run_until_shown(fixture, &watcher, "A", 2);
}

static void test_unheard_change_is_read_by_the_periodic_resync(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    watch(fixture, 1, &watcher);
    run_until_shown(fixture, &watcher, "A", 5);
    int64_t written = clock_monotonic_ms();
    redis_do(fixture, "HSET flashsale:{A}:sale stock 3");
    run_until_shown(fixture, &watcher, "A", 3);
    /* nothing announced it: the resync did */
    assert_true(clock_monotonic_ms() - written <= ENGINE_WATCH_RESYNC_MS + 1000);
}

static void test_unwatched_loop_hears_nothing(void **state)
{
    fixture_t *fixture = *state;
    watcher_t watcher = {0}, other = {0};
    watch(fixture, 1, &watcher);
    run_until_shown(fixture, &watcher, "A", -1);
    instance_t *second = &fixture->instances[1];
    engine_watch(second->handle, NULL, NULL);
    size_t calls = watcher.calls;
    watch(fixture, 0, &other);
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    run_until_shown(fixture, &other, "A", 5);
    for (int i = 0; i < 20; ++i)
        run_both(fixture);
    assert_int_equal(watcher.calls, calls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watcher_is_shown_the_sales, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_through_one_instance_reach_the_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_storm_is_seen_to_its_last_stock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unheard_change_is_read_when_the_subscription_returns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unheard_change_is_read_by_the_periodic_resync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatched_loop_hears_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
