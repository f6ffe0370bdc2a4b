#include "scratch_dir.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

int scratch_dir_setup(void **state)
{
    scratch_dir_t *scratch = calloc(1, sizeof(*scratch));
    const char *tmp = getenv("TMPDIR");

    if (scratch == NULL)
        return -1;
    snprintf(scratch->dir, sizeof(scratch->dir), "%s/flashsale-test.XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(scratch->dir) == NULL) {
        free(scratch);
        return -1;
    }
    *state = scratch;
    return 0;
}

int scratch_dir_teardown(void **state)
{
    scratch_dir_t *scratch = *state;
    DIR *dir = opendir(scratch->dir);
    struct dirent *entry;

    while (dir != NULL && (entry = readdir(dir)) != NULL) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", scratch->dir, entry->d_name);
        if (entry->d_name[0] != '.')
            unlink(path);
    }
    if (dir != NULL)
        closedir(dir);
    rmdir(scratch->dir);
    free(scratch);
    return 0;
}

sqlite3 *scratch_dir_open_database(const scratch_dir_t *scratch, const char *name)
{
    char path[512];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/%s", scratch->dir, name);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

int64_t scratch_dir_query_integer(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *statement;
    int64_t value;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &statement, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
    value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
}
