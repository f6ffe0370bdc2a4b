/*
 * auth: built-in accounts — POST /api/v1/auth/register and POST /api/v1/auth/login — for teams
 * without an identity provider. Both exist only when the server has an HS256 secret, which signs
 * the login's tokens (404 otherwise).
 *
 * A registration hashes the password on the password pool (auth/password_pool.h), then stores the
 * account through the engine. A login is rate-limited (api/limits.h), reads the account through the
 * engine, checks the password on the pool — against a dummy hash when there is no such account, so
 * that a wrong password and an unknown user cost the same and get the same 401 — and signs a token
 * whose sub is the username and, for an administrator, role admin. When the pool's queue is full
 * either answers 503 with Retry-After at once.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/handlers.h"
#include "api/limits.h"
#include "auth/password_pool.h"
#include "core/account.h"
#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_reply.h"

/* What a registration or a login keeps between its steps, after its call (api_call_extra). */
typedef struct {
    account_t account; /* register: the new account; login: the account found */
    bool found;
    char login[ACCOUNT_EMAIL_MAX + 1];
    char password[ACCOUNT_PASSWORD_MAX + 1];
    size_t password_len;
} auth_state_t;

static auth_state_t *state_of(api_call_t *call)
{
    return api_call_extra(call);
}

static void wipe_password(auth_state_t *state)
{
    sodium_memzero(state->password, sizeof(state->password));
    state->password_len = 0;
}

/* Registration and login need the secret that signs tokens; false after replying 404. */
static bool require_accounts(const http_request_t *request)
{
    if (api_loop_of(request)->api->accounts.signer != NULL)
        return true;
    http_reply_not_found(request, "accounts are not enabled on this server (it has no --jwt-secret)");
    return false;
}

static void reply_busy(const http_request_t *request)
{
    h2o_add_header(&request->req->pool, &request->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                   H2O_STRLIT("1"));
    http_reply_error(request, 503, "SERVICE_UNAVAILABLE", "too many logins at once; retry in a second", NULL);
}

/*
 * Reads a string field into out (size bytes with the NUL) and checks it; NULL, or the message of
 * the 400 to send (the field is then named by the caller).
 */
static const char *read_field(json_t *body, const char *name, char *out, size_t size, size_t *len,
                              bool (*valid)(const char *text, size_t len), const char *rule)
{
    json_t *value = json_object_get(body, name);

    if (value == NULL)
        return "is required";
    if (!json_is_string(value))
        return "must be a string";
    if (json_string_length(value) >= size)
        return rule;
    *len = json_string_length(value);
    memcpy(out, json_string_value(value), *len + 1);
    return valid(out, *len) ? NULL : rule;
}

static bool password_is_valid(const char *password, size_t len)
{
    (void)password;
    return account_password_is_valid(len);
}

/* ---- register ---- */

static void render_account(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;
    const account_t *account = result->account;

    http_json_open_success(body);
    strbuf_append_cstr(body, "{\"userId\":");
    http_json_string(body, account->username, strlen(account->username));
    strbuf_append_cstr(body, ",\"username\":");
    http_json_string(body, account->username, strlen(account->username));
    strbuf_append_cstr(body, ",\"email\":");
    http_json_string(body, account->email, strlen(account->email));
    strbuf_append_cstr(body, ",\"fullName\":");
    http_json_string(body, account->full_name, strlen(account->full_name));
    strbuf_appendf(body, ",\"role\":\"%s\",\"createdAt\":", account_role_name(account->role));
    http_json_time(body, account->created_ms);
    strbuf_append_cstr(body, "}");
    http_json_close_success(body);
    http_reply_json(&call->request, 201);
}

static void on_created(void *ctx, const engine_result_t *result)
{
    api_call_t *call = ctx;

    if (result->status == ENGINE_CONFLICT && call->request.req != NULL) {
        const char *field = result->invalid_field;
        http_reply_error(&call->request, 409, "CONFLICT",
                         strcmp(field, "email") == 0 ? "an account with this email exists"
                                                     : "an account with this username exists",
                         field);
        api_call_end(call);
        return;
    }
    api_call_answer(call, result);
}

static void on_hashed(void *ctx, const password_result_t *result)
{
    api_call_t *call = ctx;
    auth_state_t *state = state_of(call);

    if (call->request.req == NULL) {
        api_call_end(call);
        return;
    }
    if (result->status != 0) {
        api_reply_unavailable(&call->request);
        api_call_end(call);
        return;
    }
    snprintf(state->account.password_hash, sizeof(state->account.password_hash), "%s", result->hash);
    state->account.created_ms = clock_now_ms();
    engine_create_account(api_loop_of(&call->request)->engine, &state->account, on_created, call);
}

/* Reads and checks the four fields; false after replying 400 naming the first bad one. */
static bool read_registration(const http_request_t *request, json_t *body, auth_state_t *state)
{
    account_t *account = &state->account;
    const char *field = NULL, *message;
    size_t len;

    if ((message =
             read_field(body, "username", account->username, sizeof(account->username), &len,
                        account_username_is_valid, "must be 3-32 characters of A-Z, a-z, 0-9, _, . and -")))
        field = "username";
    else if ((message =
                  read_field(body, "email", account->email, sizeof(account->email), &len,
                             account_email_is_valid, "must be an address with one @, at most 254 bytes")))
        field = "email";
    else if ((message = read_field(body, "password", state->password, sizeof(state->password),
                                   &state->password_len, password_is_valid, "must be 8-128 bytes")))
        field = "password";
    else if ((message = read_field(body, "fullName", account->full_name, sizeof(account->full_name), &len,
                                   account_full_name_is_valid,
                                   "must be 1-100 characters without control characters")))
        field = "fullName";
    if (field != NULL) {
        http_reply_validation_error(request, field, message);
        return false;
    }
    account->role = ACCOUNT_ROLE_BUYER;
    return true;
}

void api_register(const http_request_t *request)
{
    api_loop_t *loop = api_loop_of(request);
    auth_state_t *state;
    api_call_t *call;
    json_t *body;
    int rc;

    if (!require_accounts(request) || (body = http_request_json_object(request)) == NULL)
        return;
    if ((call = api_call_start_extra(request, render_account, NULL, sizeof(*state))) == NULL) {
        json_decref(body);
        return;
    }
    state = state_of(call);
    if (!read_registration(request, body, state)) {
        json_decref(body);
        wipe_password(state);
        api_call_end(call);
        return;
    }
    json_decref(body);
    rc = password_pool_hash(loop->passwords, state->password, state->password_len, on_hashed, call);
    wipe_password(state);
    if (rc == 0)
        return;
    if (rc == -EBUSY)
        reply_busy(request);
    else
        api_reply_unavailable(request);
    api_call_end(call);
}

/* ---- login ---- */

static void render_token(api_call_t *call)
{
    const api_accounts_t *accounts = &api_loop_of(&call->request)->api->accounts;
    const account_t *account = &state_of(call)->account;
    strbuf_t *body = http_reply_body(&call->request);
    int64_t now_s = clock_now_ms() / 1000;
    token_grant_t grant = {.sub = account->username,
                           .admin = account->role == ACCOUNT_ROLE_ADMIN,
                           .issued_s = now_s,
                           .expires_s = now_s + accounts->token_ttl_s,
                           .issuer = accounts->issuer,
                           .audience = accounts->audience};
    char *token;

    if (token_sign(accounts->signer, &grant, &token) != 0) {
        api_reply_unavailable(&call->request);
        return;
    }
    http_json_open_success(body);
    strbuf_append_cstr(body, "{\"token\":");
    http_json_string(body, token, strlen(token));
    strbuf_append_cstr(body, ",\"userId\":");
    http_json_string(body, account->username, strlen(account->username));
    strbuf_append_cstr(body, ",\"expiresAt\":");
    http_json_time(body, grant.expires_s * 1000);
    strbuf_append_cstr(body, "}");
    http_json_close_success(body);
    http_reply_json(&call->request, 200);
    free(token);
}

static void on_verified(void *ctx, const password_result_t *result)
{
    api_call_t *call = ctx;

    if (call->request.req != NULL) {
        if (result->match && state_of(call)->found)
            render_token(call);
        else
            http_reply_error(&call->request, 401, "UNAUTHORIZED", "invalid username or password", NULL);
    }
    api_call_end(call);
}

static void on_found(void *ctx, const engine_result_t *result)
{
    api_call_t *call = ctx;
    auth_state_t *state = state_of(call);
    int rc;

    if (call->request.req == NULL || (result->status != ENGINE_OK && result->status != ENGINE_NOT_FOUND)) {
        if (call->request.req != NULL)
            api_reply_unavailable(&call->request);
        wipe_password(state);
        api_call_end(call);
        return;
    }
    if ((state->found = result->status == ENGINE_OK))
        state->account = *result->account;
    /* no such account: the pool checks against its dummy hash, which costs the same */
    rc = password_pool_verify(api_loop_of(&call->request)->passwords,
                              state->found ? state->account.password_hash : NULL, state->password,
                              state->password_len, on_verified, call);
    wipe_password(state);
    if (rc == 0)
        return;
    if (rc == -EBUSY)
        reply_busy(&call->request);
    else
        api_reply_unavailable(&call->request);
    api_call_end(call);
}

static void find_account(api_call_t *call)
{
    engine_find_account(api_loop_of(&call->request)->engine, state_of(call)->login, on_found, call);
}

static bool any_text(const char *text, size_t len)
{
    (void)text;
    return len > 0;
}

void api_login(const http_request_t *request)
{
    const char *field = NULL, *message;
    auth_state_t *state;
    api_call_t *call;
    json_t *body;
    size_t len;

    if (!require_accounts(request) || (body = http_request_json_object(request)) == NULL)
        return;
    if ((call = api_call_start_extra(request, NULL, NULL, sizeof(*state))) == NULL) {
        json_decref(body);
        return;
    }
    state = state_of(call);
    if ((message = read_field(body, "username", state->login, sizeof(state->login), &len, any_text,
                              "must be a username or an email")))
        field = "username";
    else if ((message = read_field(body, "password", state->password, sizeof(state->password),
                                   &state->password_len, any_text, "must be 1-128 bytes")))
        field = "password";
    json_decref(body);
    if (field != NULL) {
        wipe_password(state);
        http_reply_validation_error(request, field, message);
        api_call_end(call);
        return;
    }
    api_limits_check(call, API_LIMIT_LOGIN, state->login, find_account);
}
