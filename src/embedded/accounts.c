#include "embedded/accounts.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define ACCOUNTS_BUSY_TIMEOUT_MS 5000

/* COLLATE NOCASE folds ASCII, which is all a username may hold: "Alice" and "alice" are one. */
static const char schema_sql[] = "BEGIN;"
                                 "CREATE TABLE IF NOT EXISTS accounts ("
                                 "  account_id INTEGER PRIMARY KEY,"
                                 "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
                                 "  email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
                                 "  password_hash TEXT NOT NULL,"
                                 "  full_name TEXT NOT NULL,"
                                 "  role TEXT NOT NULL DEFAULT 'buyer',"
                                 "  created_ms INTEGER NOT NULL);"
                                 "PRAGMA user_version = 1;"
                                 "COMMIT;";

enum { STATEMENT_INSERT, STATEMENT_BY_USERNAME, STATEMENT_BY_EMAIL, STATEMENT_COUNT };

static const char *const statement_sql[STATEMENT_COUNT] = {
    [STATEMENT_INSERT] = "INSERT INTO accounts (username, email, password_hash, full_name, role, created_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STATEMENT_BY_USERNAME] =
        "SELECT username, email, password_hash, full_name, role, created_ms FROM accounts "
        "WHERE username = ?1",
    [STATEMENT_BY_EMAIL] = "SELECT username, email, password_hash, full_name, role, created_ms FROM accounts "
                           "WHERE email = ?1",
};

struct accounts {
    sqlite3 *db;
    sqlite3_stmt *statements[STATEMENT_COUNT];
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    accounts_request_t *head, **tail;
    size_t queued;
    bool stopping;
};

static void copy_text(char *out, size_t size, sqlite3_stmt *statement, int column)
{
    const unsigned char *text = sqlite3_column_text(statement, column);
    snprintf(out, size, "%s", text == NULL ? "" : (const char *)text);
}

static void log_failure(accounts_t *accounts, const char *what)
{
    log_error("accounts", "%s: %s", what, sqlite3_errmsg(accounts->db));
}

/* Reads the account with that username (by_email false) or email into out. */
static accounts_status_t find(accounts_t *accounts, bool by_email, const char *login, account_t *out)
{
    sqlite3_stmt *statement = accounts->statements[by_email ? STATEMENT_BY_EMAIL : STATEMENT_BY_USERNAME];
    accounts_status_t status = ACCOUNTS_NOT_FOUND;
    int rc;

    sqlite3_bind_text(statement, 1, login, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        copy_text(out->username, sizeof(out->username), statement, 0);
        copy_text(out->email, sizeof(out->email), statement, 1);
        copy_text(out->password_hash, sizeof(out->password_hash), statement, 2);
        copy_text(out->full_name, sizeof(out->full_name), statement, 3);
        out->role = account_role_from_name((const char *)sqlite3_column_text(statement, 4));
        out->created_ms = sqlite3_column_int64(statement, 5);
        status = ACCOUNTS_OK;
    } else if (rc != SQLITE_DONE) {
        log_failure(accounts, "reading an account");
        status = ACCOUNTS_FAILED;
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return status;
}

static accounts_status_t create(accounts_t *accounts, const account_t *account)
{
    sqlite3_stmt *statement = accounts->statements[STATEMENT_INSERT];
    account_t existing;
    int rc;

    sqlite3_bind_text(statement, 1, account->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, account->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, account->password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 4, account->full_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 5, account_role_name(account->role), -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 6, account->created_ms);
    rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (rc == SQLITE_DONE)
        return ACCOUNTS_OK;
    if (rc != SQLITE_CONSTRAINT) {
        log_failure(accounts, "creating an account");
        return ACCOUNTS_FAILED;
    }
    /* One of the two unique columns refused it; the username is the one reported when both do. */
    switch (find(accounts, false, account->username, &existing)) {
    case ACCOUNTS_OK:
        return ACCOUNTS_USERNAME_TAKEN;
    case ACCOUNTS_NOT_FOUND:
        return ACCOUNTS_EMAIL_TAKEN;
    default:
        return ACCOUNTS_FAILED;
    }
}

static void *run_thread(void *arg)
{
    accounts_t *accounts = arg;

    for (;;) {
        accounts_request_t *request;
        pthread_mutex_lock(&accounts->lock);
        while (accounts->head == NULL && !accounts->stopping)
            pthread_cond_wait(&accounts->wake, &accounts->lock);
        if ((request = accounts->head) != NULL) {
            if ((accounts->head = request->next) == NULL)
                accounts->tail = &accounts->head;
            --accounts->queued;
        }
        pthread_mutex_unlock(&accounts->lock);
        if (request == NULL)
            return NULL;
        if (request->create)
            request->status = create(accounts, &request->account);
        else
            request->status =
                find(accounts, strchr(request->login, '@') != NULL, request->login, &request->account);
        request->done(request);
    }
}

static int open_database(const char *data_dir, int flags, sqlite3 **db, char *err, size_t err_size)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/accounts.db", data_dir) >= sizeof(path)) {
        snprintf(err, err_size, "accounts: data directory path too long: %s", data_dir);
        return -ENAMETOOLONG;
    }
    if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(*db, ACCOUNTS_BUSY_TIMEOUT_MS) != SQLITE_OK) {
        snprintf(err, err_size, "accounts: cannot open %s: %s", path,
                 *db != NULL ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    return 0;
}

/* The schema and the statements; an SQLite result code. */
static int prepare(accounts_t *accounts)
{
    /* WAL lets `user grant-admin` write while the server reads; FULL fsyncs every registration. */
    int rc =
        sqlite3_exec(accounts->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_exec(accounts->db, schema_sql, NULL, NULL, NULL);
    for (int i = 0; rc == SQLITE_OK && i < STATEMENT_COUNT; ++i)
        rc = sqlite3_prepare_v3(accounts->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &accounts->statements[i], NULL);
    return rc;
}

int accounts_open(const char *data_dir, accounts_t **out, char *err, size_t err_size)
{
    accounts_t *accounts = calloc(1, sizeof(*accounts));
    int rc;

    if (accounts == NULL) {
        snprintf(err, err_size, "accounts: out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&accounts->lock, NULL);
    pthread_cond_init(&accounts->wake, NULL);
    accounts->tail = &accounts->head;
    if ((rc = open_database(data_dir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &accounts->db, err,
                            err_size)) != 0)
        goto Error;
    if (prepare(accounts) != SQLITE_OK) {
        snprintf(err, err_size, "accounts: %s: %s", sqlite3_db_filename(accounts->db, "main"),
                 sqlite3_errmsg(accounts->db));
        rc = -EIO;
        goto Error;
    }
    if ((rc = pthread_create(&accounts->thread, NULL, run_thread, accounts)) != 0) {
        snprintf(err, err_size, "accounts: cannot start a thread: %s", strerror(rc));
        rc = -rc;
        goto Error;
    }
    accounts->started = true;
    *out = accounts;
    return 0;

Error:
    accounts_close(accounts);
    return rc;
}

void accounts_submit(accounts_t *accounts, accounts_request_t *request)
{
    bool full;

    request->next = NULL;
    pthread_mutex_lock(&accounts->lock);
    if (!(full = accounts->queued >= ACCOUNTS_QUEUE_MAX || accounts->stopping)) {
        *accounts->tail = request;
        accounts->tail = &request->next;
        ++accounts->queued;
        pthread_cond_signal(&accounts->wake);
    }
    pthread_mutex_unlock(&accounts->lock);
    if (full) {
        request->status = ACCOUNTS_BUSY;
        request->done(request);
    }
}

size_t accounts_queued(accounts_t *accounts)
{
    size_t queued;
    pthread_mutex_lock(&accounts->lock);
    queued = accounts->queued;
    pthread_mutex_unlock(&accounts->lock);
    return queued;
}

void accounts_close(accounts_t *accounts)
{
    if (accounts->started) {
        /* the thread answers what is queued before it sees the stop */
        pthread_mutex_lock(&accounts->lock);
        accounts->stopping = true;
        pthread_cond_broadcast(&accounts->wake);
        pthread_mutex_unlock(&accounts->lock);
        pthread_join(accounts->thread, NULL);
    }
    for (int i = 0; i < STATEMENT_COUNT; ++i)
        sqlite3_finalize(accounts->statements[i]);
    sqlite3_close(accounts->db);
    pthread_cond_destroy(&accounts->wake);
    pthread_mutex_destroy(&accounts->lock);
    free(accounts);
}

int accounts_grant_admin(const char *data_dir, const char *username, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *statement = NULL;
    int rc;

    /* no CREATE: a data directory without accounts has no one to promote */
    if (open_database(data_dir, SQLITE_OPEN_READWRITE, &db, err, err_size) != 0)
        return -1;
    rc = sqlite3_prepare_v2(db, "UPDATE accounts SET role = 'admin' WHERE username = ?1", -1, &statement,
                            NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(statement, 1, username, -1, SQLITE_STATIC);
        rc = sqlite3_step(statement);
    }
    if (rc != SQLITE_DONE)
        snprintf(err, err_size, "accounts: %s", sqlite3_errmsg(db));
    else if (sqlite3_changes(db) == 0)
        snprintf(err, err_size, "no account named %s in %s/accounts.db", username, data_dir);
    rc = rc == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return rc;
}
