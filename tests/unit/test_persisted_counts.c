/*
 * persisted_counts against a real PostgreSQL (scripts/services.sh), one fresh database per test:
 * counts per sale, settled prefixes that move only over rows without a gap, samples that count only
 * above the prefix (and a recount that sees past it), deleted sales gone from a sample, and the
 * sampling thread publishing what PostgreSQL holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/clock.h"
#include "distributed/postgres/persisted_counts.h"
#include "distributed/postgres/pg_schema.h"
#include "services.h"

#define SAMPLER_WAIT_MS 10000

typedef struct {
    char url[256];
    PGconn *conn;
    persisted_count_t *sample;
    size_t sample_count;
} fixture_t;

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    char err[256];
    if (services_fresh_database(&services, fixture->url, sizeof(fixture->url)) != 0 ||
        (fixture->conn = services_connect(fixture->url)) == NULL)
        return -1;
    if (pg_schema_migrate(fixture->conn, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    PQfinish(fixture->conn);
    free(fixture->sample);
    free(fixture);
    return 0;
}

static uint64_t insert_sale(PGconn *conn, const char *sku)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sales (sku, product_name, initial_stock, start_ms, end_ms, created_ms)"
             " VALUES ('%s', 'Product', 100, 0, 1000, 0) RETURNING sale_id",
             sku);
    long long id = services_query_int(conn, sql);
    assert_true(id > 0);
    return (uint64_t)id;
}

static void insert_purchases(PGconn *conn, uint64_t sale_id, const char *sku, long long first, long long last)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " SELECT 'FS%llu-' || n, %llu, n, '%s', 'user-' || n, 5 FROM generate_series(%lld, %lld) AS n",
             (unsigned long long)sale_id, (unsigned long long)sale_id, sku, first, last);
    exec_ok(conn, sql);
}

/* A sample starting from the fixture's previous one (or from nothing), which it then replaces. */
static void read_sample(fixture_t *fixture, bool from_previous)
{
    char err[256] = "";
    persisted_count_t *fresh = NULL;
    size_t count = 0;
    int rc =
        persisted_counts_read(fixture->conn, from_previous ? fixture->sample : NULL,
                              from_previous ? fixture->sample_count : 0, &fresh, &count, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    free(fixture->sample);
    fixture->sample = fresh;
    fixture->sample_count = count;
}

static const persisted_count_t *entry_of(const fixture_t *fixture, uint64_t sale_id)
{
    for (size_t i = 0; i < fixture->sample_count; i++)
        if (fixture->sample[i].sale_id == sale_id)
            return &fixture->sample[i];
    return NULL;
}

static void assert_entry(const fixture_t *fixture, uint64_t sale_id, int64_t count, int64_t settled)
{
    const persisted_count_t *entry = entry_of(fixture, sale_id);
    assert_non_null(entry);
    assert_int_equal(entry->count, count);
    assert_int_equal(entry->settled, settled);
}

static void test_no_sales_no_entries(void **state)
{
    fixture_t *fixture = *state;
    read_sample(fixture, false);
    assert_int_equal(fixture->sample_count, 0);
}

static void test_counts_each_sale_and_settles_only_without_gaps(void **state)
{
    fixture_t *fixture = *state;
    uint64_t a = insert_sale(fixture->conn, "A"), b = insert_sale(fixture->conn, "B"),
             c = insert_sale(fixture->conn, "C");
    insert_purchases(fixture->conn, a, "A", 1, 5);
    insert_purchases(fixture->conn, b, "B", 1, 2);
    insert_purchases(fixture->conn, b, "B", 4, 4); /* 3 has not arrived yet */

    read_sample(fixture, false);
    assert_int_equal(fixture->sample_count, 3);
    for (size_t i = 1; i < fixture->sample_count; i++)
        assert_true(fixture->sample[i - 1].sale_id < fixture->sample[i].sale_id);
    assert_entry(fixture, a, 5, 5);
    assert_entry(fixture, b, 3, 0);
    assert_entry(fixture, c, 0, 0);

    insert_purchases(fixture->conn, a, "A", 6, 7);
    insert_purchases(fixture->conn, b, "B", 3, 3);
    insert_purchases(fixture->conn, c, "C", 2, 2); /* a gap at 1 */
    read_sample(fixture, true);
    assert_entry(fixture, a, 7, 7);
    assert_entry(fixture, b, 4, 4);
    assert_entry(fixture, c, 1, 0);
}

static void test_a_sample_counts_above_the_settled_prefix_and_a_recount_everything(void **state)
{
    fixture_t *fixture = *state;
    uint64_t a = insert_sale(fixture->conn, "A");
    char sql[256];
    insert_purchases(fixture->conn, a, "A", 1, 10);
    read_sample(fixture, false);
    assert_entry(fixture, a, 10, 10);

    /* A row below the prefix removed by hand is not seen by an incremental sample, which is what
       makes it cheap; a recount (what the thread does every PERSISTED_COUNTS_RECOUNT) sees it. */
    snprintf(sql, sizeof(sql), "DELETE FROM purchases WHERE sale_id = %llu AND sequence = 4",
             (unsigned long long)a);
    exec_ok(fixture->conn, sql);
    insert_purchases(fixture->conn, a, "A", 11, 12);
    read_sample(fixture, true);
    assert_entry(fixture, a, 12, 12);
    read_sample(fixture, false);
    assert_entry(fixture, a, 11, 0);
}

static void test_a_deleted_sale_leaves_the_sample(void **state)
{
    fixture_t *fixture = *state;
    uint64_t a = insert_sale(fixture->conn, "A"), b = insert_sale(fixture->conn, "B");
    insert_purchases(fixture->conn, a, "A", 1, 3);
    insert_purchases(fixture->conn, b, "B", 1, 2);
    read_sample(fixture, false);
    assert_int_equal(fixture->sample_count, 2);
    exec_ok(fixture->conn, "SELECT flashsale_delete_sale('A')");
    read_sample(fixture, true);
    assert_int_equal(fixture->sample_count, 1);
    assert_null(entry_of(fixture, a));
    assert_entry(fixture, b, 2, 2);
}

static void test_the_thread_publishes_the_counts(void **state)
{
    fixture_t *fixture = *state;
    uint64_t a = insert_sale(fixture->conn, "A");
    insert_purchases(fixture->conn, a, "A", 1, 3);
    persisted_counts_t *counts = persisted_counts_start(fixture->url);
    assert_non_null(counts);
    int64_t deadline = clock_monotonic_ms() + SAMPLER_WAIT_MS;
    while (persisted_counts_get(counts, a) != 3 && clock_monotonic_ms() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    assert_int_equal(persisted_counts_get(counts, a), 3);
    /* a sale the sample did not know had nothing in PostgreSQL then */
    assert_int_equal(persisted_counts_get(counts, a + 1000), 0);

    insert_purchases(fixture->conn, a, "A", 4, 6);
    deadline = clock_monotonic_ms() + SAMPLER_WAIT_MS;
    while (persisted_counts_get(counts, a) != 6 && clock_monotonic_ms() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    assert_int_equal(persisted_counts_get(counts, a), 6);
    persisted_counts_stop(counts);
}

static void test_nothing_is_known_before_a_sample_succeeds(void **state)
{
    (void)state;
    /* a server that is not there: the thread keeps trying, readers get "unknown" */
    persisted_counts_t *counts = persisted_counts_start("postgresql://127.0.0.1:1/none?connect_timeout=1");
    assert_non_null(counts);
    assert_int_equal(persisted_counts_get(counts, 1), -1);
    persisted_counts_stop(counts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_sales_no_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_each_sale_and_settles_only_without_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_sample_counts_above_the_settled_prefix_and_a_recount_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_deleted_sale_leaves_the_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_thread_publishes_the_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_is_known_before_a_sample_succeeds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
