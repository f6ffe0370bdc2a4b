/*
 * accounts: the embedded engine's built-in accounts, in DATA_DIR/accounts.db, read and written by
 * one thread of its own so that no event loop waits for SQLite (a registration commits with an
 * fsync). Its own file, like audit.db, so that its writes never hold the order ledger's lock.
 *
 * The server keeps no copy of the accounts: every login reads the file, so a role changed by
 * `flashsale user grant-admin` from another process while the server runs (WAL allows the two
 * connections) holds from the account's next login on.
 *
 * Requests wait in a queue of at most ACCOUNTS_QUEUE_MAX; beyond it a request is answered BUSY at
 * once rather than letting a login storm queue without bound.
 */
#ifndef FLASHSALE_ACCOUNTS_H
#define FLASHSALE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/account.h"

#define ACCOUNTS_QUEUE_MAX 1024

typedef struct accounts accounts_t;

typedef enum {
    ACCOUNTS_OK,
    ACCOUNTS_NOT_FOUND,      /* find: no account with that username or email */
    ACCOUNTS_USERNAME_TAKEN, /* create: the username exists (in any case) */
    ACCOUNTS_EMAIL_TAKEN,    /* create: the email exists (in any case) */
    ACCOUNTS_BUSY,           /* the queue was full */
    ACCOUNTS_FAILED,         /* SQLite failed; logged */
} accounts_status_t;

typedef struct accounts_request accounts_request_t;

/* Owned by the caller, which must keep it alive until done runs. */
struct accounts_request {
    bool create;                       /* else a find */
    char login[ACCOUNT_EMAIL_MAX + 1]; /* find: a username, or an email when it holds an @ */
    account_t account;                 /* create: the account to insert; find: the account found */
    accounts_status_t status;          /* set before done runs */
    /* Runs once: on the accounts thread, or on the submitting thread for BUSY. */
    void (*done)(accounts_request_t *request);
    accounts_request_t *next; /* the queue's */
};

/* Opens (creating if needed) DATA_DIR/accounts.db and starts the thread; -1 with one line in err. */
int accounts_open(const char *data_dir, accounts_t **out, char *err, size_t err_size);
/* Thread-safe. */
void accounts_submit(accounts_t *accounts, accounts_request_t *request);
/* Requests waiting (not the one being answered); for /metrics and tests. */
size_t accounts_queued(accounts_t *accounts);
/* Answers every queued request, stops the thread, closes the database. */
void accounts_close(accounts_t *accounts);

/* For `flashsale user grant-admin`: sets the role of the account named username (any case) to
 * admin, blocking; -1 with one line in err (no such account, no database). */
int accounts_grant_admin(const char *data_dir, const char *username, char *err, size_t err_size);

#endif
