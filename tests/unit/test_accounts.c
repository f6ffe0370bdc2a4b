/*
 * accounts against real SQLite files in a fresh directory per test: create and find (by username
 * or email, in any case), the conflicts of either, persistence across a reopen, a role granted by
 * another connection while the store is open, the bounded queue, and account rules of core.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embedded/accounts.h"
#include "scratch_dir.h"

/* A request and a way to wait for its answer from the accounts thread. */
typedef struct {
    accounts_request_t request;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
    pthread_t answered_on;
} waiting_request_t;

static void on_done(accounts_request_t *request)
{
    waiting_request_t *waiting = (waiting_request_t *)request;
    pthread_mutex_lock(&waiting->lock);
    waiting->done = true;
    waiting->answered_on = pthread_self();
    pthread_cond_signal(&waiting->done_cond);
    pthread_mutex_unlock(&waiting->lock);
}

static void prepare(waiting_request_t *waiting)
{
    memset(waiting, 0, sizeof(*waiting));
    pthread_mutex_init(&waiting->lock, NULL);
    pthread_cond_init(&waiting->done_cond, NULL);
    waiting->request.done = on_done;
}

static accounts_status_t wait_for(waiting_request_t *waiting)
{
    pthread_mutex_lock(&waiting->lock);
    while (!waiting->done)
        pthread_cond_wait(&waiting->done_cond, &waiting->lock);
    pthread_mutex_unlock(&waiting->lock);
    pthread_cond_destroy(&waiting->done_cond);
    pthread_mutex_destroy(&waiting->lock);
    return waiting->request.status;
}

static accounts_t *open_accounts(const scratch_dir_t *scratch)
{
    char err[256];
    accounts_t *accounts = NULL;
    if (accounts_open(scratch->dir, &accounts, err, sizeof(err)) != 0)
        fail_msg("accounts_open: %s", err);
    return accounts;
}

static account_t make_account(const char *username, const char *email)
{
    account_t account = {.role = ACCOUNT_ROLE_BUYER, .created_ms = 1771149600123LL};
    snprintf(account.username, sizeof(account.username), "%s", username);
    snprintf(account.email, sizeof(account.email), "%s", email);
    snprintf(account.full_name, sizeof(account.full_name), "Full Name of %s", username);
    snprintf(account.password_hash, sizeof(account.password_hash),
             "$argon2id$v=19$m=19456,t=2,p=1$hash-of-%s", username);
    return account;
}

static accounts_status_t create(accounts_t *accounts, const account_t *account)
{
    waiting_request_t waiting;
    prepare(&waiting);
    waiting.request.create = true;
    waiting.request.account = *account;
    accounts_submit(accounts, &waiting.request);
    return wait_for(&waiting);
}

static accounts_status_t find(accounts_t *accounts, const char *login, account_t *out)
{
    waiting_request_t waiting;
    prepare(&waiting);
    snprintf(waiting.request.login, sizeof(waiting.request.login), "%s", login);
    accounts_submit(accounts, &waiting.request);
    accounts_status_t status = wait_for(&waiting);
    assert_false(pthread_equal(waiting.answered_on, pthread_self()));
    *out = waiting.request.account;
    return status;
}

static void test_create_then_find(void **state)
{
    accounts_t *accounts = open_accounts(*state);
    account_t alice = make_account("Alice", "Alice@Example.com"), found;

    assert_int_equal(create(accounts, &alice), ACCOUNTS_OK);
    assert_int_equal(find(accounts, "Alice", &found), ACCOUNTS_OK);
    assert_string_equal(found.username, "Alice");
    assert_string_equal(found.email, "Alice@Example.com");
    assert_string_equal(found.full_name, "Full Name of Alice");
    assert_string_equal(found.password_hash, alice.password_hash);
    assert_int_equal(found.role, ACCOUNT_ROLE_BUYER);
    assert_int_equal(found.created_ms, 1771149600123LL);
    /* any case of the username or the email finds the stored spelling */
    assert_int_equal(find(accounts, "aLICE", &found), ACCOUNTS_OK);
    assert_string_equal(found.username, "Alice");
    assert_int_equal(find(accounts, "alice@example.COM", &found), ACCOUNTS_OK);
    assert_string_equal(found.username, "Alice");
    assert_int_equal(find(accounts, "bob", &found), ACCOUNTS_NOT_FOUND);
    assert_int_equal(find(accounts, "bob@example.com", &found), ACCOUNTS_NOT_FOUND);
    /* a username is never matched against emails, nor an email against usernames */
    assert_int_equal(find(accounts, "Alice@example.org", &found), ACCOUNTS_NOT_FOUND);
    accounts_close(accounts);
}

static void test_conflicts_name_the_field(void **state)
{
    accounts_t *accounts = open_accounts(*state);
    account_t alice = make_account("alice", "alice@example.com");
    account_t same_name = make_account("ALICE", "other@example.com");
    account_t same_email = make_account("alicia", "ALICE@example.com");
    account_t both = make_account("alice", "alice@example.com");

    assert_int_equal(create(accounts, &alice), ACCOUNTS_OK);
    assert_int_equal(create(accounts, &same_name), ACCOUNTS_USERNAME_TAKEN);
    assert_int_equal(create(accounts, &same_email), ACCOUNTS_EMAIL_TAKEN);
    assert_int_equal(create(accounts, &both), ACCOUNTS_USERNAME_TAKEN);
    sqlite3 *db = scratch_dir_open_database(*state, "accounts.db");
    assert_int_equal(scratch_dir_query_integer(db, "SELECT count(*) FROM accounts"), 1);
    sqlite3_close(db);
    accounts_close(accounts);
}

static void test_accounts_survive_a_reopen(void **state)
{
    accounts_t *accounts = open_accounts(*state);
    account_t bob = make_account("bob", "bob@example.com"), found;
    assert_int_equal(create(accounts, &bob), ACCOUNTS_OK);
    accounts_close(accounts);
    accounts = open_accounts(*state);
    assert_int_equal(find(accounts, "bob", &found), ACCOUNTS_OK);
    assert_string_equal(found.email, "bob@example.com");
    accounts_close(accounts);
}

static void test_grant_admin_while_open(void **state)
{
    const scratch_dir_t *scratch = *state;
    accounts_t *accounts = open_accounts(scratch);
    account_t carol = make_account("carol", "carol@example.com"), found;
    char err[256] = "";

    assert_int_equal(create(accounts, &carol), ACCOUNTS_OK);
    assert_int_equal(accounts_grant_admin(scratch->dir, "CAROL", err, sizeof(err)), 0);
    assert_int_equal(find(accounts, "carol", &found), ACCOUNTS_OK);
    assert_int_equal(found.role, ACCOUNT_ROLE_ADMIN);
    assert_int_equal(accounts_grant_admin(scratch->dir, "nobody", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no account named nobody"));
    accounts_close(accounts);
}

static void test_grant_admin_without_a_database(void **state)
{
    const scratch_dir_t *scratch = *state;
    char err[256] = "";
    assert_int_equal(accounts_grant_admin(scratch->dir, "carol", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "accounts.db"));
}

/*
 * With the database's write lock held elsewhere, the thread waits on a registration while finds
 * pile up: ACCOUNTS_QUEUE_MAX of them are queued, the next one is answered BUSY at once.
 */
static void test_a_full_queue_answers_busy(void **state)
{
    accounts_t *accounts = open_accounts(*state);
    sqlite3 *blocker = scratch_dir_open_database(*state, "accounts.db");
    account_t dave = make_account("dave", "dave@example.com");
    waiting_request_t stuck, *queued = calloc(ACCOUNTS_QUEUE_MAX + 1, sizeof(*queued));

    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    prepare(&stuck);
    stuck.request.create = true;
    stuck.request.account = dave;
    accounts_submit(accounts, &stuck.request);
    /* once the thread has taken the registration, it waits for the lock and the queue is empty */
    while (accounts_queued(accounts) > 0)
        sched_yield();
    for (int i = 0; i < ACCOUNTS_QUEUE_MAX; ++i) {
        prepare(&queued[i]);
        snprintf(queued[i].request.login, sizeof(queued[i].request.login), "user%d", i);
        accounts_submit(accounts, &queued[i].request);
        assert_false(queued[i].done);
    }
    prepare(&queued[ACCOUNTS_QUEUE_MAX]);
    accounts_submit(accounts, &queued[ACCOUNTS_QUEUE_MAX].request);
    assert_int_equal(wait_for(&queued[ACCOUNTS_QUEUE_MAX]), ACCOUNTS_BUSY);
    assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(wait_for(&stuck), ACCOUNTS_OK);
    for (int i = 0; i < ACCOUNTS_QUEUE_MAX; ++i)
        assert_int_equal(wait_for(&queued[i]), ACCOUNTS_NOT_FOUND);
    sqlite3_close(blocker);
    free(queued);
    accounts_close(accounts);
}

static void test_account_rules(void **state)
{
    (void)state;
    assert_true(account_username_is_valid("abc", 3));
    assert_true(account_username_is_valid("A.b_c-9", 7));
    assert_false(account_username_is_valid("ab", 2));
    assert_false(account_username_is_valid("abcdefghijklmnopqrstuvwxyz0123456", 33));
    assert_true(account_username_is_valid("abcdefghijklmnopqrstuvwxyz012345", 32));
    assert_false(account_username_is_valid("a b", 3));
    assert_false(account_username_is_valid("a@b", 3));
    assert_false(account_username_is_valid("ümlaut", strlen("ümlaut")));

    assert_true(account_email_is_valid("a@b", 3));
    assert_true(account_email_is_valid("zoë@example.com", strlen("zoë@example.com")));
    assert_false(account_email_is_valid("ab", 2));
    assert_false(account_email_is_valid("abc", 3));
    assert_false(account_email_is_valid("@bc", 3));
    assert_false(account_email_is_valid("ab@", 3));
    assert_false(account_email_is_valid("a@b@c", 5));
    assert_false(account_email_is_valid("a b@c", 5));
    assert_false(account_email_is_valid("a\n@c", 4));
    char long_email[260];
    memset(long_email, 'x', sizeof(long_email));
    long_email[10] = '@';
    assert_true(account_email_is_valid(long_email, 254));
    assert_false(account_email_is_valid(long_email, 255));

    assert_false(account_password_is_valid(7));
    assert_true(account_password_is_valid(8));
    assert_true(account_password_is_valid(128));
    assert_false(account_password_is_valid(129));

    assert_true(account_full_name_is_valid("Zoë Ångström", strlen("Zoë Ångström")));
    assert_false(account_full_name_is_valid("", 0));
    assert_false(account_full_name_is_valid("tab\there", 8));
    assert_false(account_full_name_is_valid("\xff", 1));
    /* 100 characters of three bytes each fit; 101 do not */
    char name[404] = "";
    for (int i = 0; i < 100; ++i)
        strcat(name, "名");
    assert_true(account_full_name_is_valid(name, strlen(name)));
    strcat(name, "名");
    assert_false(account_full_name_is_valid(name, strlen(name)));

    assert_string_equal(account_role_name(ACCOUNT_ROLE_ADMIN), "admin");
    assert_string_equal(account_role_name(ACCOUNT_ROLE_BUYER), "buyer");
    assert_int_equal(account_role_from_name("admin"), ACCOUNT_ROLE_ADMIN);
    assert_int_equal(account_role_from_name("Admin"), ACCOUNT_ROLE_BUYER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_find, scratch_dir_setup, scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_name_the_field, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_accounts_survive_a_reopen, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_grant_admin_while_open, scratch_dir_setup, scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_grant_admin_without_a_database, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_full_queue_answers_busy, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test(test_account_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
