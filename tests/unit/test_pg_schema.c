/*
 * pg_schema against a real PostgreSQL (scripts/services.sh), one fresh database per test: the
 * tables and their constraints, migrations that run once however often and however concurrently
 * they are started, and sale ids that are never reused.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distributed/pg_schema.h"
#include "services.h"

#define CONCURRENT_MIGRATIONS 8

typedef struct {
    char url[256];
    PGconn *conn;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof *fixture);
    if (services_fresh_database(&services, fixture->url, sizeof fixture->url) != 0 ||
        (fixture->conn = services_connect(fixture->url)) == NULL)
        return -1;
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    PQfinish(fixture->conn);
    free(fixture);
    return 0;
}

static void migrate(PGconn *conn)
{
    char err[256] = "";
    int rc = pg_schema_migrate(conn, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_null(strchr(err, '\n'));
}

/* Runs a statement and returns its status, so a test can expect a failure. */
static ExecStatusType exec_status(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(result);
    PQclear(result);
    return status;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
}

static long long insert_sale(PGconn *conn, const char *sku)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO sales (sku, product_name, initial_stock, start_ms, end_ms, created_ms)"
             " VALUES ('%s', 'Product', 10, 0, 1000, 0) RETURNING sale_id",
             sku);
    return services_query_int(conn, sql);
}

static void test_creates_the_tables(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    assert_int_equal(services_query_int(fixture->conn,
                                        "SELECT count(*) FROM information_schema.tables WHERE table_name IN"
                                        " ('sales', 'purchases', 'audit_events', 'schema_migrations')"),
                     4);
    long long sale_id = insert_sale(fixture->conn, "A");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'A', 'alice', 5)",
             sale_id, sale_id);
    exec_ok(fixture->conn, sql);
    exec_ok(fixture->conn, "INSERT INTO audit_events (at_ms, sku, user_id, outcome, purchase_no)"
                           " VALUES (5, 'A', 'alice', 'success', 'FS1-1')");
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM audit_events"), 1);
}

static void test_enforces_one_purchase_per_user_and_sku(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    long long sale_id = insert_sale(fixture->conn, "A");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'A', 'alice', 5)",
             sale_id, sale_id);
    exec_ok(fixture->conn, sql);
    /* The same user again under another number, and another user under the same sequence. */
    snprintf(sql, sizeof sql,
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-2', %lld, 2, 'A', 'alice', 5)",
             sale_id, sale_id);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    snprintf(sql, sizeof sql,
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-3', %lld, 1, 'A', 'bob', 5)",
             sale_id, sale_id);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    assert_int_equal(exec_status(fixture->conn,
                                 "INSERT INTO purchases (purchase_no, sale_id, sequence, sku,"
                                 " user_id, purchased_ms) VALUES ('FS999-1', 999, 1, 'Z', 'x', 5)"),
                     PGRES_FATAL_ERROR);
}

static void test_sale_ids_are_never_reused_and_deletes_cascade(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    long long first = insert_sale(fixture->conn, "A");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'A', 'alice', 5)",
             first, first);
    exec_ok(fixture->conn, sql);
    exec_ok(fixture->conn, "DELETE FROM sales WHERE sku = 'A'");
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases"), 0);
    /* A rolled-back insert consumes its id too. */
    exec_ok(fixture->conn, "BEGIN");
    long long rolled_back = insert_sale(fixture->conn, "B");
    exec_ok(fixture->conn, "ROLLBACK");
    long long second = insert_sale(fixture->conn, "A");
    assert_true(rolled_back > first);
    assert_true(second > rolled_back);
    /* Nobody can pick an id by hand and collide with a later one. */
    assert_int_equal(exec_status(fixture->conn,
                                 "INSERT INTO sales (sale_id, sku, product_name, initial_stock,"
                                 " start_ms, end_ms, created_ms) VALUES (100, 'C', 'P', 1, 0, 1, 0)"),
                     PGRES_FATAL_ERROR);
}

static void test_migrating_again_changes_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    insert_sale(fixture->conn, "A");
    migrate(fixture->conn);
    migrate(fixture->conn);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM schema_migrations"), 1);
    assert_int_equal(services_query_int(fixture->conn, "SELECT max(version) FROM schema_migrations"), 1);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM sales"), 1);
}

static void *migrate_on_own_connection(void *arg)
{
    const char *url = arg;
    PGconn *conn = PQconnectdb(url);
    char err[256] = "";
    intptr_t rc = PQstatus(conn) == CONNECTION_OK ? pg_schema_migrate(conn, err, sizeof err) : -1;
    if (rc != 0)
        fprintf(stderr, "concurrent migration: %s%s\n", err, PQerrorMessage(conn));
    PQfinish(conn);
    return (void *)rc;
}

static void test_concurrent_starts_migrate_once(void **state)
{
    fixture_t *fixture = *state;
    pthread_t threads[CONCURRENT_MIGRATIONS];
    for (int i = 0; i < CONCURRENT_MIGRATIONS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, migrate_on_own_connection, fixture->url), 0);
    for (int i = 0; i < CONCURRENT_MIGRATIONS; i++) {
        void *rc;
        pthread_join(threads[i], &rc);
        assert_int_equal((intptr_t)rc, 0);
    }
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM schema_migrations"), 1);
}

static void test_failure_is_one_line_and_rolls_back(void **state)
{
    fixture_t *fixture = *state;
    /* A table in the way: the migration fails, and records nothing. */
    exec_ok(fixture->conn, "CREATE TABLE sales (x INTEGER)");
    char err[256] = "";
    assert_int_equal(pg_schema_migrate(fixture->conn, err, sizeof err), -1);
    assert_non_null(strstr(err, "migration 1"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM information_schema.tables"
                                                       " WHERE table_name = 'schema_migrations'"),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_the_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enforces_one_purchase_per_user_and_sku, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sale_ids_are_never_reused_and_deletes_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrating_again_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_starts_migrate_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_one_line_and_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
