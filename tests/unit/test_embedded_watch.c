/*
 * The embedded engine's watcher (engine.h, watch) on real SQLite files and two h2o evloops: the
 * sales shown soon after watch(), every kind of change reaching the watcher of another loop, a
 * purchase storm costing a watcher at most one call per group commit, and a loop that stops
 * watching or detaches with a notice still queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <h2o.h>

#include "core/clock.h"
#include "embedded/engine_embedded.h"
#include "scratch_dir.h"

#define WAIT_LIMIT_MS 10000
#define MAX_SALES     8
#define STORM         500

typedef struct {
    void *scratch; /* a scratch_dir_t */
    engine_t *engine;
    h2o_loop_t *loops[2];
    engine_loop_t *handles[2];
} fixture_t;

/* What the watcher was shown, copied in its callback. */
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
    char text[4096];
} answer_t;

static void on_answer(void *ctx, const engine_result_t *result)
{
    answer_t *answer = ctx;
    answer->done = true;
    answer->status = result->status;
    answer->outcome = result->outcome;
    if (result->text != NULL)
        snprintf(answer->text, sizeof(answer->text), "%.*s", (int)result->text_len, result->text);
}

static void run_both(fixture_t *fixture)
{
    h2o_evloop_run(fixture->loops[0], 1);
    h2o_evloop_run(fixture->loops[1], 1);
}

/* Runs both loops until *done, or fails after WAIT_LIMIT_MS. */
static void run_until(fixture_t *fixture, const bool *done)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (!*done) {
        assert_true(clock_monotonic_ms() < deadline);
        run_both(fixture);
    }
}

/* Runs both loops until the watcher's latest view satisfies pred. */
static void run_until_shown(fixture_t *fixture, const watcher_t *watcher,
                            bool (*pred)(const watcher_t *watcher, const void *arg), const void *arg)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (!pred(watcher, arg)) {
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

typedef struct {
    const char *sku;
    int64_t stock; /* -1: absent */
} expected_t;

static bool shows(const watcher_t *watcher, const void *arg)
{
    const expected_t *expected = arg;
    const sale_t *sale = shown(watcher, expected->sku);
    return expected->stock < 0 ? sale == NULL : sale != NULL && sale->stock == expected->stock;
}

static bool called(const watcher_t *watcher, const void *arg)
{
    (void)arg;
    return watcher->calls > 0;
}

static const char *dir_of(const fixture_t *fixture)
{
    return ((const scratch_dir_t *)fixture->scratch)->dir;
}

static void open_engine(fixture_t *fixture)
{
    char err[256] = "";
    fixture->engine = engine_embedded_open(dir_of(fixture), err, sizeof(err));
    if (fixture->engine == NULL)
        fail_msg("open: %s", err);
    for (int i = 0; i < 2; ++i) {
        fixture->loops[i] = h2o_evloop_create();
        fixture->handles[i] = engine_attach(fixture->engine, fixture->loops[i]);
        assert_non_null(fixture->handles[i]);
    }
}

static void close_engine(fixture_t *fixture)
{
    for (int i = 0; i < 2; ++i)
        engine_detach(fixture->handles[i]);
    engine_close(fixture->engine);
    for (int i = 0; i < 2; ++i) {
        /* sockets closed by detach are freed by one more turn of the loop */
        h2o_evloop_run(fixture->loops[i], 0);
        h2o_evloop_destroy(fixture->loops[i]);
    }
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    if (fixture == NULL || scratch_dir_setup(&fixture->scratch) != 0)
        return -1;
    open_engine(fixture);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    close_engine(fixture);
    scratch_dir_teardown(&fixture->scratch);
    free(fixture);
    return 0;
}

static void create_sale(fixture_t *fixture, int loop, const char *sku, int64_t stock, int64_t start_ms)
{
    sale_fields_t fields = {.has_sku = true,
                            .has_product_name = true,
                            .has_initial_stock = true,
                            .has_start = true,
                            .has_end = true,
                            .initial_stock = stock,
                            .start_ms = start_ms,
                            .end_ms = clock_now_ms() + 3600 * 1000};
    snprintf(fields.sku, sizeof(fields.sku), "%s", sku);
    snprintf(fields.product_name, sizeof(fields.product_name), "Product %s", sku);
    answer_t answer = {0};
    engine_create_sale(fixture->handles[loop], &fields, on_answer, &answer);
    run_until(fixture, &answer.done);
    assert_int_equal(answer.status, ENGINE_OK);
}

static void purchase(fixture_t *fixture, int loop, const char *sku, const char *user, answer_t *answer)
{
    engine_purchase(fixture->handles[loop], sku, user, on_answer, answer);
}

static void test_watcher_is_shown_the_sales_at_once(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    engine_watch(fixture->handles[1], on_watch, &watcher);
    /* from the loop, never inside watch() */
    assert_int_equal(watcher.calls, 0);
    run_until_shown(fixture, &watcher, called, NULL);
    assert_int_equal(watcher.count, 1);
    assert_string_equal(watcher.sales[0].sku, "A");
    assert_int_equal(watcher.sales[0].stock, 5);
}

static void test_every_change_reaches_another_loop(void **state)
{
    fixture_t *fixture = *state;
    watcher_t watcher = {0};
    engine_watch(fixture->handles[1], on_watch, &watcher);
    run_until_shown(fixture, &watcher, called, NULL);
    assert_int_equal(watcher.count, 0);

    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"A", 5});

    answer_t bought = {0};
    purchase(fixture, 0, "A", "alice", &bought);
    run_until(fixture, &bought.done);
    assert_int_equal(bought.outcome, SALE_OUTCOME_SUCCESS);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"A", 4});

    /* an update of an upcoming sale */
    create_sale(fixture, 0, "B", 3, clock_now_ms() + 3600 * 1000 - 10);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"B", 3});
    sale_fields_t fields = {.has_initial_stock = true, .initial_stock = 7};
    answer_t updated = {0};
    engine_update_sale(fixture->handles[0], "B", &fields, on_answer, &updated);
    run_until(fixture, &updated.done);
    assert_int_equal(updated.status, ENGINE_OK);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"B", 7});

    answer_t deleted = {0};
    engine_delete_sale(fixture->handles[0], "A", 0, on_answer, &deleted);
    run_until(fixture, &deleted.done);
    assert_int_equal(deleted.status, ENGINE_OK);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"A", -1});
    assert_non_null(shown(&watcher, "B"));
}

static uint64_t metric(const char *text, const char *name)
{
    const char *line = strstr(text, name);
    assert_non_null(line);
    return strtoull(line + strlen(name), NULL, 10);
}

static void test_a_storm_costs_one_call_per_commit_at_most(void **state)
{
    fixture_t *fixture = *state;
    create_sale(fixture, 0, "A", STORM, clock_now_ms() - 1000);
    watcher_t watcher = {0};
    engine_watch(fixture->handles[1], on_watch, &watcher);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"A", STORM});

    answer_t before = {0};
    engine_metrics(fixture->handles[0], on_answer, &before);
    run_until(fixture, &before.done);
    size_t calls_before = watcher.calls;

    static answer_t answers[STORM];
    memset(answers, 0, sizeof(answers));
    for (int i = 0; i < STORM; ++i) {
        char user[32];
        snprintf(user, sizeof(user), "buyer-%d", i);
        purchase(fixture, 0, "A", user, &answers[i]);
        /* the watching loop turns after every purchase: a notice per purchase would be seen */
        h2o_evloop_run(fixture->loops[1], 0);
        if (i % 50 == 49)
            h2o_evloop_run(fixture->loops[0], 0);
    }
    for (int i = 0; i < STORM; ++i)
        run_until(fixture, &answers[i].done);
    run_until_shown(fixture, &watcher, shows, &(expected_t){"A", 0});

    answer_t after = {0};
    engine_metrics(fixture->handles[0], on_answer, &after);
    run_until(fixture, &after.done);
    uint64_t commits = metric(after.text, "flashsale_ledger_batch_size_count ") -
                       metric(before.text, "flashsale_ledger_batch_size_count ");
    size_t calls = watcher.calls - calls_before;
    assert_true(calls >= 1);
    assert_true(calls <= commits);
    assert_true(calls < STORM / 10);
}

static void test_unwatched_loop_hears_nothing(void **state)
{
    fixture_t *fixture = *state;
    watcher_t watcher = {0};
    engine_watch(fixture->handles[1], on_watch, &watcher);
    run_until_shown(fixture, &watcher, called, NULL);
    engine_watch(fixture->handles[1], NULL, NULL);
    create_sale(fixture, 0, "A", 5, clock_now_ms() - 1000);
    /* a second watcher proves the change was announced */
    watcher_t other = {0};
    engine_watch(fixture->handles[0], on_watch, &other);
    run_until_shown(fixture, &other, shows, &(expected_t){"A", 5});
    for (int i = 0; i < 20; ++i)
        run_both(fixture);
    assert_int_equal(watcher.calls, 1);
}

static void test_detach_with_a_notice_queued(void **state)
{
    fixture_t *fixture = *state;
    watcher_t watcher = {0};
    /* the notice is in the pipe and nobody has run the loop */
    engine_watch(fixture->handles[1], on_watch, &watcher);
    close_engine(fixture);
    assert_int_equal(watcher.calls, 0);
    /* teardown closes again */
    open_engine(fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watcher_is_shown_the_sales_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_change_reaches_another_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_storm_costs_one_call_per_commit_at_most, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatched_loop_hears_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_with_a_notice_queued, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
