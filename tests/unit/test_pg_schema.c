/*
 * pg_schema against a real PostgreSQL (scripts/services.sh), one fresh database per test: the
 * tables and their constraints, migrations that run once however often and however concurrently
 * they are started, a database of version 1 with data migrated to the newest, sale ids that are
 * never reused, and the delete function.
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

#include "distributed/postgres/pg_schema.h"
#include "services.h"

#define CONCURRENT_MIGRATIONS 8

typedef struct {
    char url[256];
    PGconn *conn;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    if (services_fresh_database(&services, fixture->url, sizeof(fixture->url)) != 0 ||
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
    int rc = pg_schema_migrate(conn, err, sizeof(err));
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
    snprintf(sql, sizeof(sql),
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
    snprintf(sql, sizeof(sql),
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
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'A', 'alice', 5)",
             sale_id, sale_id);
    exec_ok(fixture->conn, sql);
    /* The same user again under another number, and another user under the same sequence. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-2', %lld, 2, 'A', 'alice', 5)",
             sale_id, sale_id);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-3', %lld, 1, 'A', 'bob', 5)",
             sale_id, sale_id);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
}

/* Migration 3: usernames and emails are unique in any ASCII case, as in SQLite's NOCASE. */
static void test_accounts_are_unique_in_any_ascii_case(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    const char insert[] = "INSERT INTO accounts (username, email, password_hash, full_name, created_ms)"
                          " VALUES ('%s', '%s', 'h', 'N', 0)";
    char sql[512];
    snprintf(sql, sizeof(sql), insert, "Alice", "Alice@Example.com");
    exec_ok(fixture->conn, sql);
    snprintf(sql, sizeof(sql), insert, "ALICE", "other@example.com");
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    snprintf(sql, sizeof(sql), insert, "alicia", "alice@EXAMPLE.COM");
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    /* beyond ASCII, case is not folded: both modes agree on that too */
    snprintf(sql, sizeof(sql), insert, "zoe", "ZOË@example.com");
    exec_ok(fixture->conn, sql);
    snprintf(sql, sizeof(sql), insert, "zoe2", "zoë@example.com");
    exec_ok(fixture->conn, sql);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM accounts WHERE role = 'buyer'"),
                     3);
}

static void insert_purchase(PGconn *conn, long long sale_id, const char *sku, long long sequence)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-%lld', %lld, %lld, '%s', 'user-%lld', 5)",
             sale_id, sequence, sale_id, sequence, sku, sequence);
    exec_ok(conn, sql);
}

/* The text of a one-row, one-column query; "" for NULL. Caller frees. */
static char *query_text(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    char *text = strdup(PQgetvalue(result, 0, 0));
    PQclear(result);
    return text;
}

static void test_sale_ids_are_never_reused_and_delete_takes_the_purchases(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    long long first = insert_sale(fixture->conn, "A");
    long long other = insert_sale(fixture->conn, "KEPT");
    insert_purchase(fixture->conn, first, "A", 1);
    insert_purchase(fixture->conn, first, "A", 2);
    insert_purchase(fixture->conn, other, "KEPT", 1);
    assert_int_equal(services_query_int(fixture->conn, "SELECT flashsale_delete_sale('A')"), first);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM sales WHERE sku = 'A'"), 0);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases WHERE sku = 'A'"), 0);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases WHERE sku = 'KEPT'"),
                     1);
    /* No such sale: NULL, and nothing else is touched. */
    char *none = query_text(fixture->conn, "SELECT flashsale_delete_sale('A')");
    assert_string_equal(none, "");
    free(none);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases"), 1);
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

static void test_delete_of_a_named_sale_spares_a_newer_one(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    long long first = insert_sale(fixture->conn, "A");
    insert_purchase(fixture->conn, first, "A", 1);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT flashsale_delete_sale('A', %lld)", first + 1);
    char *none = query_text(fixture->conn, sql);
    assert_string_equal(none, "");
    free(none);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases"), 1);
    snprintf(sql, sizeof(sql), "SELECT flashsale_delete_sale('A', %lld)", first);
    assert_int_equal(services_query_int(fixture->conn, sql), first);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases"), 0);
    /* A repeat finds the sku's newer sale, and leaves it. */
    long long second = insert_sale(fixture->conn, "A");
    none = query_text(fixture->conn, sql);
    assert_string_equal(none, "");
    free(none);
    assert_int_equal(services_query_int(fixture->conn, "SELECT sale_id FROM sales WHERE sku = 'A'"), second);
    /* 0: whichever sale the sku holds. */
    assert_int_equal(services_query_int(fixture->conn, "SELECT flashsale_delete_sale('A', 0)"), second);
    /* Migration 3's other parts: every sale starts in generation 0; no data loss is recorded. */
    insert_sale(fixture->conn, "B");
    assert_int_equal(
        services_query_int(fixture->conn, "SELECT sequence_generation FROM sales WHERE sku = 'B'"), 0);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM redis_data_losses"), 0);
}

static void test_migrating_again_changes_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture->conn);
    insert_sale(fixture->conn, "A");
    migrate(fixture->conn);
    migrate(fixture->conn);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM schema_migrations"),
                     PG_SCHEMA_VERSION);
    assert_int_equal(services_query_int(fixture->conn, "SELECT max(version) FROM schema_migrations"),
                     PG_SCHEMA_VERSION);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM sales"), 1);
}

/* The purchases table's primary-key columns in order, e.g. "sale_id,sequence". Caller frees. */
static char *primary_key(PGconn *conn)
{
    return query_text(conn, "SELECT string_agg(a.attname, ',' ORDER BY k.position)"
                            " FROM pg_constraint c,"
                            "   unnest(c.conkey) WITH ORDINALITY AS k (attnum, position), pg_attribute a"
                            " WHERE c.conrelid = 'purchases'::regclass AND c.contype = 'p'"
                            "   AND a.attrelid = c.conrelid AND a.attnum = k.attnum");
}

static long long foreign_keys(PGconn *conn)
{
    return services_query_int(conn, "SELECT count(*) FROM pg_constraint"
                                    " WHERE conrelid = 'purchases'::regclass AND contype = 'f'");
}

static const char every_purchase[] =
    "SELECT string_agg(purchase_no || ':' || sale_id || ':' || sequence || ':' || sku || ':' || user_id"
    " || ':' || purchased_ms, ' ' ORDER BY sale_id, sequence) FROM purchases";

static void test_migrates_version_1_with_data(void **state)
{
    fixture_t *fixture = *state;
    char err[256] = "";
    if (pg_schema_migrate_to(fixture->conn, 1, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(services_query_int(fixture->conn, "SELECT max(version) FROM schema_migrations"), 1);
    char *key = primary_key(fixture->conn);
    assert_string_equal(key, "purchase_no");
    free(key);
    assert_int_equal(foreign_keys(fixture->conn), 1);
    long long first = insert_sale(fixture->conn, "A");
    long long second = insert_sale(fixture->conn, "B");
    for (long long sequence = 1; sequence <= 3; sequence++) {
        insert_purchase(fixture->conn, first, "A", sequence);
        insert_purchase(fixture->conn, second, "B", sequence);
    }
    char *before = query_text(fixture->conn, every_purchase);

    migrate(fixture->conn);
    assert_int_equal(services_query_int(fixture->conn, "SELECT max(version) FROM schema_migrations"),
                     PG_SCHEMA_VERSION);
    char *after = query_text(fixture->conn, every_purchase);
    assert_string_equal(after, before);
    free(after);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM sales"), 2);
    key = primary_key(fixture->conn);
    assert_string_equal(key, "sale_id,sequence");
    free(key);
    assert_int_equal(foreign_keys(fixture->conn), 0);
    /* One purchase per user and sku still holds; so does one per sale and sequence. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-9', %lld, 9, 'A', 'user-1', 5)",
             first, first);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'A', 'someone-new', 5)",
             first, first);
    assert_int_equal(exec_status(fixture->conn, sql), PGRES_FATAL_ERROR);

    /* Again: nothing to do, nothing changes. */
    migrate(fixture->conn);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM schema_migrations"),
                     PG_SCHEMA_VERSION);
    after = query_text(fixture->conn, every_purchase);
    assert_string_equal(after, before);
    free(after);
    free(before);
    assert_int_equal(services_query_int(fixture->conn, "SELECT flashsale_delete_sale('A')"), first);
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases"), 3);
}

static void *migrate_on_own_connection(void *arg)
{
    const char *url = arg;
    PGconn *conn = PQconnectdb(url);
    char err[256] = "";
    intptr_t rc = PQstatus(conn) == CONNECTION_OK ? pg_schema_migrate(conn, err, sizeof(err)) : -1;
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
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM schema_migrations"),
                     PG_SCHEMA_VERSION);
}

static void test_failure_is_one_line_and_rolls_back(void **state)
{
    fixture_t *fixture = *state;
    /* A table in the way: the migration fails, and records nothing. */
    exec_ok(fixture->conn, "CREATE TABLE sales (x INTEGER)");
    char err[256] = "";
    assert_int_equal(pg_schema_migrate(fixture->conn, err, sizeof(err)), -1);
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
        cmocka_unit_test_setup_teardown(test_accounts_are_unique_in_any_ascii_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sale_ids_are_never_reused_and_delete_takes_the_purchases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_of_a_named_sale_spares_a_newer_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrating_again_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_version_1_with_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_starts_migrate_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_one_line_and_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
