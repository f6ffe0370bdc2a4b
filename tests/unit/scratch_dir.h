/*
 * scratch_dir: a fresh directory per test for modules that write SQLite files, and the two
 * SQLite reads the tests make of what those modules wrote.
 *
 * Used as cmocka setup/teardown: *state is a scratch_dir_t, removed with its files afterwards.
 */
#ifndef FLASHSALE_TEST_SCRATCH_DIR_H
#define FLASHSALE_TEST_SCRATCH_DIR_H

#include <sqlite3.h>
#include <stdint.h>

typedef struct {
    char dir[256];
} scratch_dir_t;

/* Makes $TMPDIR/flashsale-test.XXXXXX (TMPDIR defaults to /tmp). */
int scratch_dir_setup(void **state);
/* Removes the directory and the files in it (not subdirectories: the modules make none). */
int scratch_dir_teardown(void **state);

/* Opens DIR/name on a new connection; fails the test if it cannot. The caller closes it. */
sqlite3 *scratch_dir_open_database(const scratch_dir_t *scratch, const char *name);
/* The first column of the first row of sql; fails the test if there is none. */
int64_t scratch_dir_query_integer(sqlite3 *db, const char *sql);

#endif
