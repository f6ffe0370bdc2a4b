/*
 * ledger against real SQLite files in a fresh directory per test: the schema, replay after a
 * reopen, sale ids that outlive deletes, the durable sequence, group commit and retries.
 */
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "embedded/ledger.h"
#include "scratch_dir.h"

#define WAIT_LIMIT_MS     10000
#define WATCH_REPORTS_MAX 64

static ledger_t *open_ledger(const scratch_dir_t *fixture)
{
    ledger_t *ledger = NULL;
    char err[256] = "";
    int rc = ledger_open(fixture->dir, &ledger, err, sizeof(err));
    if (rc != 0)
        fail_msg("ledger_open: %s", err);
    return ledger;
}

static sale_t make_sale(uint64_t sale_id, const char *sku, int64_t initial_stock)
{
    sale_t sale = {.sale_id = sale_id,
                   .initial_stock = initial_stock,
                   .stock = initial_stock,
                   .start_ms = 1000,
                   .end_ms = 2000,
                   .created_ms = 500 + (int64_t)sale_id};
    snprintf(sale.sku, sizeof(sale.sku), "%s", sku);
    snprintf(sale.product_name, sizeof(sale.product_name), "Product %s", sku);
    return sale;
}

static sale_purchase_t make_purchase(uint64_t sale_id, uint64_t sequence, const char *sku,
                                     const char *user_id)
{
    sale_purchase_t purchase = {.purchased_ms = 1500 + (int64_t)sequence};
    sale_format_purchase_no(purchase.purchase_no, sale_id, sequence);
    snprintf(purchase.sku, sizeof(purchase.sku), "%s", sku);
    snprintf(purchase.user_id, sizeof(purchase.user_id), "%s", user_id);
    return purchase;
}

/* What ledger_load replayed, in the order it was replayed. */
typedef struct {
    sale_t sales[8];
    size_t sale_count;
    struct loaded_purchase {
        uint64_t sale_id;
        uint64_t sequence;
        sale_purchase_t purchase;
    } * purchases;
    size_t purchase_count;
    size_t purchase_capacity;
} loaded_t;

static int collect_sale(void *arg, const sale_t *sale)
{
    loaded_t *loaded = arg;
    assert_true(loaded->sale_count < 8);
    loaded->sales[loaded->sale_count++] = *sale;
    return 0;
}

static int collect_purchase(void *arg, uint64_t sale_id, uint64_t sequence, const sale_purchase_t *purchase)
{
    loaded_t *loaded = arg;
    if (loaded->purchase_count == loaded->purchase_capacity) {
        loaded->purchase_capacity = loaded->purchase_capacity == 0 ? 16 : loaded->purchase_capacity * 2;
        loaded->purchases =
            realloc(loaded->purchases, loaded->purchase_capacity * sizeof(*loaded->purchases));
        assert_non_null(loaded->purchases);
    }
    loaded->purchases[loaded->purchase_count++] =
        (struct loaded_purchase){.sale_id = sale_id, .sequence = sequence, .purchase = *purchase};
    return 0;
}

/* Reopens the directory and replays it; the caller frees loaded->purchases. */
static uint64_t reload(const scratch_dir_t *fixture, loaded_t *loaded)
{
    *loaded = (loaded_t){0};
    ledger_t *ledger = open_ledger(fixture);
    ledger_loader_t loader = {.arg = loaded, .on_sale = collect_sale, .on_purchase = collect_purchase};
    assert_int_equal(ledger_load(ledger, &loader), 0);
    uint64_t next_sale_id = ledger_next_sale_id(ledger);
    ledger_close(ledger);
    return next_sale_id;
}

static void assert_sale_equal(const sale_t *actual, const sale_t *expected, int64_t stock)
{
    assert_int_equal(actual->sale_id, expected->sale_id);
    assert_string_equal(actual->sku, expected->sku);
    assert_string_equal(actual->product_name, expected->product_name);
    assert_int_equal(actual->initial_stock, expected->initial_stock);
    assert_int_equal(actual->stock, stock);
    assert_int_equal(actual->start_ms, expected->start_ms);
    assert_int_equal(actual->end_ms, expected->end_ms);
    assert_int_equal(actual->created_ms, expected->created_ms);
}

static void assert_purchase_equal(const struct loaded_purchase *actual, uint64_t sale_id, uint64_t sequence,
                                  const sale_purchase_t *expected)
{
    assert_int_equal(actual->sale_id, sale_id);
    assert_int_equal(actual->sequence, sequence);
    assert_string_equal(actual->purchase.purchase_no, expected->purchase_no);
    assert_string_equal(actual->purchase.sku, expected->sku);
    assert_string_equal(actual->purchase.user_id, expected->user_id);
    assert_int_equal(actual->purchase.purchased_ms, expected->purchased_ms);
}

/*
 * Records what the durable callback reports and lets a test wait for a sequence. With `gated`,
 * the first call blocks until the gate opens, holding the writer between two commits.
 */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t reported[WATCH_REPORTS_MAX]; /* the first ones */
    size_t report_count;
    uint64_t last;
    bool gated;
    bool gate_open;
} watch_t;

static void watch_init(watch_t *watch, bool gated)
{
    *watch = (watch_t){.gated = gated};
    pthread_mutex_init(&watch->lock, NULL);
    pthread_cond_init(&watch->changed, NULL);
}

static void watch_dispose(watch_t *watch)
{
    pthread_cond_destroy(&watch->changed);
    pthread_mutex_destroy(&watch->lock);
}

static void on_durable(void *arg, uint64_t durable_sequence)
{
    watch_t *watch = arg;
    pthread_mutex_lock(&watch->lock);
    if (watch->report_count < WATCH_REPORTS_MAX)
        watch->reported[watch->report_count] = durable_sequence;
    watch->report_count++;
    watch->last = durable_sequence;
    pthread_cond_broadcast(&watch->changed);
    while (watch->gated && !watch->gate_open)
        pthread_cond_wait(&watch->changed, &watch->lock);
    pthread_mutex_unlock(&watch->lock);
}

static void watch_open_gate(watch_t *watch)
{
    pthread_mutex_lock(&watch->lock);
    watch->gate_open = true;
    pthread_cond_broadcast(&watch->changed);
    pthread_mutex_unlock(&watch->lock);
}

static void wait_for_durable(watch_t *watch, uint64_t sequence)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_LIMIT_MS / 1000;
    pthread_mutex_lock(&watch->lock);
    int rc = 0;
    while (watch->last < sequence && rc == 0)
        rc = pthread_cond_timedwait(&watch->changed, &watch->lock, &deadline);
    uint64_t last = watch->last;
    pthread_mutex_unlock(&watch->lock);
    assert_true(last >= sequence);
}

static void test_open_creates_schema(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    assert_int_equal(ledger_next_sale_id(ledger), 1);
    assert_true(ledger_is_healthy(ledger));
    ledger_close(ledger);

    sqlite3 *db = scratch_dir_open_database(fixture, "flashsale.db");
    assert_int_equal(scratch_dir_query_integer(db, "PRAGMA user_version"), 1);
    assert_int_equal(
        scratch_dir_query_integer(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
        1);
    static const char *const columns[] = {
        "SELECT key, value FROM meta",
        "SELECT sale_id, sku, product_name, initial_stock, start_ms, end_ms, created_ms FROM sales",
        "SELECT purchase_no, sale_id, sequence, sku, user_id, purchased_ms FROM purchases",
    };
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
        assert_int_equal(sqlite3_exec(db, columns[i], NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_open_reports_an_unusable_directory(void **state)
{
    scratch_dir_t *fixture = *state;
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/missing", fixture->dir);
    ledger_t *ledger = NULL;
    char err[256] = "";
    assert_true(ledger_open(missing, &ledger, err, sizeof(err)) < 0);
    assert_null(ledger);
    assert_non_null(strstr(err, "missing"));
}

static void test_open_refuses_a_newer_schema(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_close(open_ledger(fixture));
    sqlite3 *db = scratch_dir_open_database(fixture, "flashsale.db");
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    ledger_t *ledger = NULL;
    char err[256] = "";
    assert_true(ledger_open(fixture->dir, &ledger, err, sizeof(err)) < 0);
    assert_null(ledger);
    assert_non_null(strstr(err, "schema version 2"));
}

static void test_reopen_replays_sales_and_purchases(void **state)
{
    scratch_dir_t *fixture = *state;
    sale_t first = make_sale(1, "FIRST", 10);
    sale_t second = make_sale(2, "SECOND", 5);
    sale_t deleted = make_sale(3, "DELETED", 3);
    sale_purchase_t bought[4] = {
        make_purchase(1, 1, "FIRST", "alice"),
        make_purchase(1, 2, "FIRST", "bob"),
        make_purchase(1, 3, "FIRST", "carol"),
        make_purchase(2, 1, "SECOND", "alice"),
    };
    sale_purchase_t of_deleted = make_purchase(3, 1, "DELETED", "dave");

    watch_t watch;
    watch_init(&watch, false);
    ledger_t *ledger = open_ledger(fixture);
    assert_int_equal(ledger_start(ledger, on_durable, &watch), 0);
    ledger_append_sale(ledger, &first);
    ledger_append_sale(ledger, &second);
    ledger_append_sale(ledger, &deleted);
    for (size_t i = 0; i < 4; i++)
        ledger_append_purchase(ledger, i < 3 ? 1 : 2, i < 3 ? i + 1 : 1, &bought[i]);
    ledger_append_purchase(ledger, 3, 1, &of_deleted);
    uint64_t last = ledger_append_delete(ledger, 3);
    wait_for_durable(&watch, last);
    ledger_close(ledger);
    watch_dispose(&watch);

    loaded_t loaded;
    uint64_t next_sale_id = reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 2);
    assert_sale_equal(&loaded.sales[0], &first, 7);
    assert_sale_equal(&loaded.sales[1], &second, 4);
    assert_int_equal(loaded.purchase_count, 4);
    assert_purchase_equal(&loaded.purchases[0], 1, 1, &bought[0]);
    assert_purchase_equal(&loaded.purchases[1], 1, 2, &bought[1]);
    assert_purchase_equal(&loaded.purchases[2], 1, 3, &bought[2]);
    assert_purchase_equal(&loaded.purchases[3], 2, 1, &bought[3]);
    assert_int_equal(next_sale_id, 4);
    free(loaded.purchases);
}

static void test_next_sale_id_stays_above_deleted_sales(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sale_t sale = make_sale(7, "GONE", 1);
    ledger_append_sale(ledger, &sale);
    assert_int_equal(ledger_next_sale_id(ledger), 8);
    ledger_append_delete(ledger, 7);
    assert_int_equal(ledger_start(ledger, NULL, NULL), 0);
    ledger_close(ledger);

    loaded_t loaded;
    assert_int_equal(reload(fixture, &loaded), 8);
    assert_int_equal(loaded.sale_count, 0);
    assert_int_equal(loaded.purchase_count, 0);
}

static void test_durable_callback_reports_increasing_sequences(void **state)
{
    scratch_dir_t *fixture = *state;
    watch_t watch;
    watch_init(&watch, false);
    ledger_t *ledger = open_ledger(fixture);
    assert_int_equal(ledger_durable_sequence(ledger), 0);
    assert_int_equal(ledger_start(ledger, on_durable, &watch), 0);
    sale_t sale = make_sale(1, "SKU", 100);
    uint64_t last = ledger_append_sale(ledger, &sale);
    assert_true(last > 0);
    for (uint64_t i = 1; i <= 50; i++) {
        char user_id[16];
        snprintf(user_id, sizeof(user_id), "user-%llu", (unsigned long long)i);
        sale_purchase_t purchase = make_purchase(1, i, "SKU", user_id);
        uint64_t sequence = ledger_append_purchase(ledger, 1, i, &purchase);
        assert_true(sequence > last);
        last = sequence;
        /* every other append waits, so that the callback runs several times */
        if (i % 2 == 0)
            wait_for_durable(&watch, sequence);
    }
    wait_for_durable(&watch, last);
    assert_int_equal(ledger_durable_sequence(ledger), last);

    pthread_mutex_lock(&watch.lock);
    assert_true(watch.report_count >= 25);
    for (size_t i = 1; i < watch.report_count && i < WATCH_REPORTS_MAX; i++)
        assert_true(watch.reported[i] > watch.reported[i - 1]);
    assert_int_equal(watch.last, last);
    pthread_mutex_unlock(&watch.lock);
    ledger_close(ledger);
    watch_dispose(&watch);
}

#define APPEND_THREADS     4
#define APPENDS_PER_THREAD 5000

typedef struct {
    ledger_t *ledger;
    unsigned thread;
    uint64_t *sequences; /* APPENDS_PER_THREAD */
} appender_t;

static void *append_purchases(void *arg)
{
    appender_t *appender = arg;
    for (uint64_t i = 0; i < APPENDS_PER_THREAD; i++) {
        uint64_t sequence = appender->thread * APPENDS_PER_THREAD + i + 1;
        char user_id[32];
        snprintf(user_id, sizeof(user_id), "user-%u-%llu", appender->thread, (unsigned long long)i);
        sale_purchase_t purchase = make_purchase(1, sequence, "SKU", user_id);
        appender->sequences[i] = ledger_append_purchase(appender->ledger, 1, sequence, &purchase);
    }
    return NULL;
}

static void test_group_commit_batches_concurrent_appends(void **state)
{
    scratch_dir_t *fixture = *state;
    enum { TOTAL = APPEND_THREADS * APPENDS_PER_THREAD };
    watch_t watch;
    watch_init(&watch, true);
    ledger_t *ledger = open_ledger(fixture);
    sale_t sale = make_sale(1, "SKU", TOTAL + 1);
    assert_int_equal(ledger_append_sale(ledger, &sale), 1);
    assert_int_equal(ledger_start(ledger, on_durable, &watch), 0);
    /* the writer now sits in the callback of the first commit: everything else queues */
    wait_for_durable(&watch, 1);

    static uint64_t sequences[TOTAL];
    pthread_t threads[APPEND_THREADS];
    appender_t appenders[APPEND_THREADS];
    for (unsigned t = 0; t < APPEND_THREADS; t++) {
        appenders[t] =
            (appender_t){.ledger = ledger, .thread = t, .sequences = &sequences[t * APPENDS_PER_THREAD]};
        assert_int_equal(pthread_create(&threads[t], NULL, append_purchases, &appenders[t]), 0);
    }
    for (unsigned t = 0; t < APPEND_THREADS; t++)
        pthread_join(threads[t], NULL);
    watch_open_gate(&watch);
    wait_for_durable(&watch, TOTAL + 1);
    ledger_stats_t stats;
    ledger_get_stats(ledger, &stats);
    ledger_close(ledger);
    watch_dispose(&watch);

    /* the sale alone, then every purchase queued behind it */
    assert_int_equal(stats.batches, 2);
    assert_int_equal(stats.records, TOTAL + 1);
    assert_int_equal(stats.batch_size_buckets[0], 1);
    assert_int_equal(stats.batch_size_buckets[7], 1);
    assert_int_equal(stats.failures, 0);
    uint64_t timed_commits = 0;
    for (size_t i = 0; i < 8; i++)
        timed_commits += stats.fsync_us_buckets[i];
    assert_int_equal(timed_commits, 2);

    /* every thread's appends got distinct sequences, and together they are exactly 2..TOTAL+1 */
    static bool seen[TOTAL + 2];
    for (size_t i = 0; i < TOTAL; i++) {
        assert_in_range(sequences[i], 2, TOTAL + 1);
        assert_false(seen[sequences[i]]);
        seen[sequences[i]] = true;
    }
    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 1);
    assert_int_equal(loaded.sales[0].stock, 1);
    assert_int_equal(loaded.purchase_count, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        assert_int_equal(loaded.purchases[i].sequence, i + 1);
    free(loaded.purchases);
}

static void test_delete_and_recreate_in_one_batch(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sale_t old_sale = make_sale(1, "AGAIN", 10);
    sale_purchase_t old_purchases[2] = {make_purchase(1, 1, "AGAIN", "alice"),
                                        make_purchase(1, 2, "AGAIN", "bob")};
    sale_t new_sale = make_sale(2, "AGAIN", 5);
    sale_purchase_t new_purchase = make_purchase(2, 1, "AGAIN", "alice");
    /* appended before the writer starts, so all of it is one transaction */
    ledger_append_sale(ledger, &old_sale);
    ledger_append_purchase(ledger, 1, 1, &old_purchases[0]);
    ledger_append_purchase(ledger, 1, 2, &old_purchases[1]);
    ledger_append_delete(ledger, 1);
    ledger_append_sale(ledger, &new_sale);
    ledger_append_purchase(ledger, 2, 1, &new_purchase);
    assert_int_equal(ledger_start(ledger, NULL, NULL), 0);
    ledger_close(ledger);

    sqlite3 *db = scratch_dir_open_database(fixture, "flashsale.db");
    assert_int_equal(scratch_dir_query_integer(db, "SELECT count(*) FROM purchases WHERE sale_id = 1"), 0);
    assert_int_equal(scratch_dir_query_integer(db, "SELECT count(*) FROM sales WHERE sale_id = 1"), 0);
    sqlite3_close(db);

    loaded_t loaded;
    assert_int_equal(reload(fixture, &loaded), 3);
    assert_int_equal(loaded.sale_count, 1);
    assert_sale_equal(&loaded.sales[0], &new_sale, 4);
    assert_int_equal(loaded.purchase_count, 1);
    assert_purchase_equal(&loaded.purchases[0], 2, 1, &new_purchase);
    free(loaded.purchases);
}

static void test_sale_update_replaces_the_row(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sale_t sale = make_sale(1, "SKU", 10);
    ledger_append_sale(ledger, &sale);
    snprintf(sale.product_name, sizeof(sale.product_name), "Renamed");
    sale.initial_stock = 20;
    sale.end_ms = 3000;
    ledger_append_sale(ledger, &sale);
    assert_int_equal(ledger_start(ledger, NULL, NULL), 0);
    ledger_close(ledger);

    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 1);
    assert_sale_equal(&loaded.sales[0], &sale, 20);
}

/* A retried transaction replays records that may already be in the file. */
static void test_replayed_purchase_is_written_once(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sale_t sale = make_sale(1, "SKU", 10);
    sale_purchase_t purchase = make_purchase(1, 1, "SKU", "alice");
    ledger_append_sale(ledger, &sale);
    ledger_append_purchase(ledger, 1, 1, &purchase);
    ledger_append_sale(ledger, &sale);
    ledger_append_purchase(ledger, 1, 1, &purchase);
    assert_int_equal(ledger_start(ledger, NULL, NULL), 0);
    ledger_close(ledger);

    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 1);
    assert_int_equal(loaded.sales[0].stock, 9);
    assert_int_equal(loaded.purchase_count, 1);
    assert_purchase_equal(&loaded.purchases[0], 1, 1, &purchase);
    free(loaded.purchases);
}

static void test_close_without_start_commits_what_was_appended(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sale_t sale = make_sale(1, "SKU", 10);
    ledger_append_sale(ledger, &sale);
    ledger_close(ledger);

    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 1);
    assert_sale_equal(&loaded.sales[0], &sale, 10);
}

static void wait_until_unhealthy(const ledger_t *ledger)
{
    const struct timespec pause = {.tv_nsec = 1000000};
    for (int waited_ms = 0; ledger_is_healthy(ledger) && waited_ms < WAIT_LIMIT_MS; waited_ms++)
        nanosleep(&pause, NULL);
    assert_false(ledger_is_healthy(ledger));
}

static void test_failed_commit_is_retried_until_it_succeeds(void **state)
{
    scratch_dir_t *fixture = *state;
    watch_t watch;
    watch_init(&watch, false);
    ledger_t *ledger = open_ledger(fixture);
    /* another connection holds the write lock, so the writer's transactions fail */
    sqlite3 *blocker = scratch_dir_open_database(fixture, "flashsale.db");
    assert_int_equal(sqlite3_exec(blocker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

    assert_int_equal(ledger_start(ledger, on_durable, &watch), 0);
    sale_t sale = make_sale(1, "SKU", 10);
    uint64_t sequence = ledger_append_sale(ledger, &sale);
    wait_until_unhealthy(ledger);
    assert_int_equal(ledger_durable_sequence(ledger), 0);

    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    wait_for_durable(&watch, sequence);
    assert_true(ledger_is_healthy(ledger));
    ledger_stats_t stats;
    ledger_get_stats(ledger, &stats);
    assert_true(stats.failures >= 1);
    assert_int_equal(stats.batches, 1);
    ledger_close(ledger);
    watch_dispose(&watch);

    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 1);
    assert_sale_equal(&loaded.sales[0], &sale, 10);
}

static void test_close_gives_up_on_a_failing_database(void **state)
{
    scratch_dir_t *fixture = *state;
    ledger_t *ledger = open_ledger(fixture);
    sqlite3 *blocker = scratch_dir_open_database(fixture, "flashsale.db");
    assert_int_equal(sqlite3_exec(blocker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ledger_start(ledger, NULL, NULL), 0);
    sale_t sale = make_sale(1, "SKU", 10);
    ledger_append_sale(ledger, &sale);
    wait_until_unhealthy(ledger);
    /* returns although the record cannot be written */
    ledger_close(ledger);
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);

    loaded_t loaded;
    reload(fixture, &loaded);
    assert_int_equal(loaded.sale_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, scratch_dir_setup, scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_reports_an_unusable_directory, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_newer_schema, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_replays_sales_and_purchases, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_next_sale_id_stays_above_deleted_sales, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_durable_callback_reports_increasing_sequences, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_batches_concurrent_appends, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_recreate_in_one_batch, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sale_update_replaces_the_row, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_replayed_purchase_is_written_once, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_close_without_start_commits_what_was_appended, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_is_retried_until_it_succeeds, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_close_gives_up_on_a_failing_database, scratch_dir_setup,
                                        scratch_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
