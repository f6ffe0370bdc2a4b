/*
 * audit against a real audit.db in a fresh directory per test: what lands in the table, and
 * that a stalled disk makes the ring drop and count instead of blocking.
 */
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

#include "embedded/audit.h"
#include "scratch_dir.h"

#define WAIT_LIMIT_MS 10000

static audit_t *open_audit(const scratch_dir_t *fixture)
{
    audit_t *audit = NULL;
    char err[256] = "";
    if (audit_open(fixture->dir, &audit, err, sizeof(err)) != 0)
        fail_msg("audit_open: %s", err);
    return audit;
}

static int64_t count_rows(const scratch_dir_t *fixture)
{
    sqlite3 *db = scratch_dir_open_database(fixture, "audit.db");
    int64_t rows = scratch_dir_query_integer(db, "SELECT count(*) FROM audit_events");
    sqlite3_close(db);
    return rows;
}

/* Waits until `events` pushes have been written or dropped, and returns the stats then. */
static audit_stats_t wait_until_settled(const audit_t *audit, uint64_t events)
{
    const struct timespec pause = {.tv_nsec = 1000000};
    audit_stats_t stats;
    audit_get_stats(audit, &stats);
    for (int waited_ms = 0; stats.written + stats.dropped < events && waited_ms < WAIT_LIMIT_MS;
         waited_ms++) {
        nanosleep(&pause, NULL);
        audit_get_stats(audit, &stats);
    }
    assert_int_equal(stats.written + stats.dropped, events);
    return stats;
}

/* Takes audit.db's write lock on another connection, so that the writer's transactions wait and fail. */
static sqlite3 *block_writes(const scratch_dir_t *fixture)
{
    sqlite3 *blocker = scratch_dir_open_database(fixture, "audit.db");
    assert_int_equal(sqlite3_exec(blocker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return blocker;
}

static void unblock_writes(sqlite3 *blocker)
{
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
}

static void test_open_creates_schema(void **state)
{
    scratch_dir_t *fixture = *state;
    audit_close(open_audit(fixture));

    sqlite3 *db = scratch_dir_open_database(fixture, "audit.db");
    assert_int_equal(scratch_dir_query_integer(db, "PRAGMA user_version"), 1);
    assert_int_equal(
        scratch_dir_query_integer(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
        1);
    assert_int_equal(sqlite3_exec(db,
                                  "SELECT id, at_ms, sku, user_id, outcome, purchase_no FROM audit_events",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

static void test_open_reports_an_unusable_directory(void **state)
{
    scratch_dir_t *fixture = *state;
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/missing", fixture->dir);
    audit_t *audit = NULL;
    char err[256] = "";
    assert_true(audit_open(missing, &audit, err, sizeof(err)) < 0);
    assert_null(audit);
    assert_non_null(strstr(err, "missing"));
}

static void test_events_land_in_audit_db(void **state)
{
    scratch_dir_t *fixture = *state;
    audit_t *audit = open_audit(fixture);
    audit_push(audit, 1000, "SKU-1", "alice", SALE_OUTCOME_SUCCESS, "FS1-1");
    audit_push(audit, 1001, "SKU-1", "alice", SALE_OUTCOME_ALREADY_PURCHASED, NULL);
    audit_push(audit, 1002, "SKU-1", "bob", SALE_OUTCOME_SOLD_OUT, NULL);
    audit_push(audit, 1003, "NOPE", "carol", SALE_OUTCOME_NOT_FOUND, NULL);
    audit_close(audit);

    sqlite3 *db = scratch_dir_open_database(fixture, "audit.db");
    sqlite3_stmt *rows;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT at_ms, sku, user_id, outcome, coalesce(purchase_no, 'NULL')"
                                        " FROM audit_events ORDER BY id",
                                        -1, &rows, NULL),
                     SQLITE_OK);
    static const struct {
        int64_t at_ms;
        const char *sku, *user_id, *outcome, *purchase_no;
    } expected[] = {
        {1000, "SKU-1", "alice", "success", "FS1-1"},
        {1001, "SKU-1", "alice", "already_purchased", "NULL"},
        {1002, "SKU-1", "bob", "sold_out", "NULL"},
        {1003, "NOPE", "carol", "not_found", "NULL"},
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_int_equal(sqlite3_step(rows), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(rows, 0), expected[i].at_ms);
        assert_string_equal((const char *)sqlite3_column_text(rows, 1), expected[i].sku);
        assert_string_equal((const char *)sqlite3_column_text(rows, 2), expected[i].user_id);
        assert_string_equal((const char *)sqlite3_column_text(rows, 3), expected[i].outcome);
        assert_string_equal((const char *)sqlite3_column_text(rows, 4), expected[i].purchase_no);
    }
    assert_int_equal(sqlite3_step(rows), SQLITE_DONE);
    sqlite3_finalize(rows);
    sqlite3_close(db);
}

static void test_stats_count_written_events(void **state)
{
    scratch_dir_t *fixture = *state;
    audit_t *audit = open_audit(fixture);
    for (int i = 0; i < 100; i++)
        audit_push(audit, i, "SKU", "user", SALE_OUTCOME_NOT_ACTIVE, NULL);
    audit_stats_t stats = wait_until_settled(audit, 100);
    assert_int_equal(stats.written, 100);
    assert_int_equal(stats.dropped, 0);
    assert_int_equal(stats.failures, 0);
    audit_close(audit);
    assert_int_equal(count_rows(fixture), 100);
}

static void test_long_strings_are_truncated(void **state)
{
    scratch_dir_t *fixture = *state;
    char sku[SALE_SKU_MAX + 11];
    char user_id[SALE_USER_ID_MAX + 11];
    memset(sku, 'S', sizeof(sku) - 1);
    sku[sizeof(sku) - 1] = '\0';
    memset(user_id, 'u', sizeof(user_id) - 1);
    user_id[sizeof(user_id) - 1] = '\0';
    audit_t *audit = open_audit(fixture);
    audit_push(audit, 1, sku, user_id, SALE_OUTCOME_SOLD_OUT, NULL);
    audit_close(audit);

    sqlite3 *db = scratch_dir_open_database(fixture, "audit.db");
    assert_int_equal(scratch_dir_query_integer(db, "SELECT length(sku) FROM audit_events"), SALE_SKU_MAX);
    assert_int_equal(scratch_dir_query_integer(db, "SELECT length(user_id) FROM audit_events"),
                     SALE_USER_ID_MAX);
    sqlite3_close(db);
}

/*
 * While another connection holds the write lock the writer cannot commit anything, so of
 * CAPACITY + N pushes into an empty ring at least N are dropped: by the full ring, or by a
 * batch whose wait for the lock timed out. Either way every push is accounted for.
 */
static void test_full_ring_drops_and_counts(void **state)
{
    scratch_dir_t *fixture = *state;
    enum { EXTRA = 1000, PUSHES = AUDIT_RING_CAPACITY + EXTRA };
    audit_t *audit = open_audit(fixture);
    sqlite3 *blocker = block_writes(fixture);
    for (int i = 0; i < PUSHES; i++)
        audit_push(audit, i, "SKU", "user", SALE_OUTCOME_SOLD_OUT, NULL);
    audit_stats_t stats;
    audit_get_stats(audit, &stats);
    assert_int_equal(stats.written, 0);
    assert_true(stats.dropped >= EXTRA);

    /* once the lock is gone, the ring drains and events are written again */
    unblock_writes(blocker);
    wait_until_settled(audit, PUSHES);
    audit_push(audit, PUSHES, "SKU", "last", SALE_OUTCOME_SUCCESS, "FS1-1");
    stats = wait_until_settled(audit, PUSHES + 1);
    audit_close(audit);
    assert_true(stats.dropped >= EXTRA);
    assert_int_equal(count_rows(fixture), stats.written);
    sqlite3 *db = scratch_dir_open_database(fixture, "audit.db");
    assert_int_equal(
        scratch_dir_query_integer(db, "SELECT count(*) FROM audit_events WHERE user_id = 'last'"), 1);
    sqlite3_close(db);
}

static void test_failed_batch_is_dropped_and_counted(void **state)
{
    scratch_dir_t *fixture = *state;
    audit_t *audit = open_audit(fixture);
    sqlite3 *blocker = block_writes(fixture);
    audit_push(audit, 1, "SKU", "alice", SALE_OUTCOME_SOLD_OUT, NULL);
    audit_stats_t stats = wait_until_settled(audit, 1);
    assert_int_equal(stats.written, 0);
    assert_int_equal(stats.dropped, 1);
    assert_int_equal(stats.failures, 1);

    unblock_writes(blocker);
    audit_push(audit, 2, "SKU", "bob", SALE_OUTCOME_SOLD_OUT, NULL);
    stats = wait_until_settled(audit, 2);
    audit_close(audit);
    assert_int_equal(stats.written, 1);
    assert_int_equal(stats.failures, 1);
    assert_int_equal(count_rows(fixture), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, scratch_dir_setup, scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_reports_an_unusable_directory, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_events_land_in_audit_db, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stats_count_written_events, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_long_strings_are_truncated, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_full_ring_drops_and_counts, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_is_dropped_and_counted, scratch_dir_setup,
                                        scratch_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
