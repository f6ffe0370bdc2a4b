/*
 * distributed_accounts: the accounts and the rate limits of the distributed engine. Accounts live
 * in PostgreSQL (migration 4 of postgres/pg_schema.c), read and written by the loop's own
 * connection (postgres/pg_async.h), never copied: a role granted meanwhile shows at the next
 * login. Rate limits are buckets in Redis that every instance shares, one script call per request
 * (redis/redis_limit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distributed/engine_distributed.h"
#include "distributed/engine_distributed_internal.h"
#include "distributed/postgres/pg_url.h"
#include "distributed/redis/redis_limit.h"

/* The expressions of the unique indexes, so that the lookups use them. */
#define ACCOUNT_COLUMNS "username, email, password_hash, full_name, role, created_ms"
#define BY_USERNAME     "lower(username COLLATE \"C\") = lower($1 COLLATE \"C\")"
#define BY_EMAIL        "lower(email COLLATE \"C\") = lower($1 COLLATE \"C\")"

typedef struct {
    op_t op;
    account_t account;
} account_op_t;

static void copy_value(char *out, size_t size, const PGresult *result, int column)
{
    snprintf(out, size, "%s", PQgetvalue(result, 0, column));
}

/* ---- find_account ---- */

static void on_account_read(void *data, const PGresult *result)
{
    account_op_t *find = data;
    account_t *account = &find->account;

    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("find account", result);
        distributed_answer_status(&find->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        distributed_answer_status(&find->op, ENGINE_NOT_FOUND);
        return;
    }
    copy_value(account->username, sizeof(account->username), result, 0);
    copy_value(account->email, sizeof(account->email), result, 1);
    copy_value(account->password_hash, sizeof(account->password_hash), result, 2);
    copy_value(account->full_name, sizeof(account->full_name), result, 3);
    account->role = account_role_from_name(PQgetvalue(result, 0, 4));
    account->created_ms = strtoll(PQgetvalue(result, 0, 5), NULL, 10);
    engine_result_t answer = {.status = ENGINE_OK, .account = account};
    distributed_answer(&find->op, &answer);
}

void distributed_find_account(engine_loop_t *handle, const char *login, engine_cb cb, void *ctx)
{
    account_op_t *find = distributed_op_start(handle, sizeof(*find), cb, ctx);
    if (find == NULL)
        return;
    const char *params[] = {login};
    pg_async_query(find->op.loop->pg,
                   strchr(login, '@') != NULL ? "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE " BY_EMAIL
                                              : "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE " BY_USERNAME,
                   1, params, on_account_read, find);
}

/* ---- create_account ---- */

/* After a refused insert: which of the two is taken. The username is reported when both are. */
static void on_conflict_read(void *data, const PGresult *result)
{
    account_op_t *create = data;

    if (!distributed_pg_rows(result) || PQntuples(result) != 1) {
        distributed_log_pg_error("create account", result);
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t answer = {.status = ENGINE_CONFLICT,
                              .invalid_field =
                                  strcmp(PQgetvalue(result, 0, 0), "t") == 0 ? "username" : "email"};
    distributed_answer(&create->op, &answer);
}

static void on_account_inserted(void *data, const PGresult *result)
{
    account_op_t *create = data;

    if (!distributed_pg_rows(result)) {
        distributed_log_pg_error("create account", result);
        distributed_answer_status(&create->op, ENGINE_UNAVAILABLE);
        return;
    }
    if (PQntuples(result) == 0) {
        const char *params[] = {create->account.username};
        pg_async_query(create->op.loop->pg, "SELECT EXISTS (SELECT 1 FROM accounts WHERE " BY_USERNAME ")", 1,
                       params, on_conflict_read, create);
        return;
    }
    engine_result_t answer = {.status = ENGINE_OK, .account = &create->account};
    distributed_answer(&create->op, &answer);
}

void distributed_create_account(engine_loop_t *handle, const account_t *account, engine_cb cb, void *ctx)
{
    account_op_t *create = distributed_op_start(handle, sizeof(*create), cb, ctx);
    if (create == NULL)
        return;
    create->account = *account;
    char created[INT64_TEXT_MAX];
    distributed_format_int64(created, account->created_ms);
    const char *params[] = {account->username,
                            account->email,
                            account->password_hash,
                            account->full_name,
                            account_role_name(account->role),
                            created};
    /* Without a conflict target, ON CONFLICT covers both unique indexes. */
    pg_async_query(create->op.loop->pg,
                   "INSERT INTO accounts (" ACCOUNT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6) "
                   "ON CONFLICT DO NOTHING RETURNING account_id",
                   6, params, on_account_inserted, create);
}

/* ---- check_limits ---- */

static void on_limits_decided(void *data, redisReply *reply)
{
    op_t *check = data;
    int64_t retry_after_us;

    if (distributed_reply_is_error(reply) || redis_limit_decode(reply, &retry_after_us) != 0) {
        distributed_answer_status(check, ENGINE_UNAVAILABLE);
        return;
    }
    engine_result_t answer = {
        .status = ENGINE_OK, .limited = retry_after_us > 0, .retry_after_us = retry_after_us};
    distributed_answer(check, &answer);
}

void distributed_check_limits(engine_loop_t *handle, const engine_limit_t *limits, size_t count, engine_cb cb,
                              void *ctx)
{
    char keys[REDIS_LIMIT_KEYS_MAX][REDIS_LIMIT_KEY_MAX];
    const char *key_pointers[REDIS_LIMIT_KEYS_MAX];
    size_t key_lens[REDIS_LIMIT_KEYS_MAX];
    const rate_t *rates[REDIS_LIMIT_KEYS_MAX];
    op_t *check;

    if (count < 1 || count > REDIS_LIMIT_KEYS_MAX) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        if ((key_lens[i] = redis_limit_key(keys[i], limits[i].name, limits[i].name_len)) == 0) {
            cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
            return;
        }
        key_pointers[i] = keys[i];
        rates[i] = limits[i].rate;
    }
    if ((check = distributed_op_start(handle, sizeof(*check), cb, ctx)) != NULL)
        redis_limit_check(check->loop->redis, key_pointers, key_lens, rates, count, on_limits_decided, check);
}

/* ---- grant_admin, for the command line ---- */

int engine_distributed_grant_admin(const char *postgres_url, const char *username, char *err, size_t err_size)
{
    if (pg_url_check(postgres_url, err, err_size) != 0)
        return -1;
    PGconn *pg = PQconnectdb(postgres_url);
    PGresult *result = NULL;
    int rc = -1;

    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, err_size, "postgres: %s", pg != NULL ? PQerrorMessage(pg) : "out of memory");
    } else {
        const char *params[] = {username};
        result = PQexecParams(pg, "UPDATE accounts SET role = 'admin' WHERE " BY_USERNAME, 1, NULL, params,
                              NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_COMMAND_OK)
            snprintf(err, err_size, "postgres: %s", PQresultErrorMessage(result));
        else if (strcmp(PQcmdTuples(result), "1") != 0)
            snprintf(err, err_size, "no account named %s", username);
        else
            rc = 0;
    }
    /* libpq's messages end in a newline; the contract is one line */
    if (rc != 0)
        err[strcspn(err, "\n")] = '\0';
    PQclear(result);
    PQfinish(pg);
    return rc;
}
