#include "api/identity.h"

#include <string.h>

#include "api/api.h"
#include "api/call.h"
#include "auth/token_cache.h"
#include "core/clock.h"
#include "http/http_reply.h"
#include "http/http_server.h"

static const char www_authenticate[] = "Bearer error=\"invalid_token\"";

/* Single-writer increment of a loop's own counter (see http_metrics.c). */
static void bump(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void reply_invalid_token(const http_request_t *request, const char *message)
{
    h2o_req_t *req = request->req;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, www_authenticate,
                   sizeof(www_authenticate) - 1);
    http_reply_error(request, 401, "UNAUTHORIZED", message, NULL);
}

/* The token of `Authorization: Bearer <token>` (the scheme in any case), or {NULL, 0}. */
static h2o_iovec_t bearer_token(const http_request_t *request)
{
    h2o_iovec_t value = http_request_header_trimmed(request, "authorization");
    const char *token;
    size_t len = value.base != NULL ? token_from_authorization(value.base, value.len, &token) : 0;

    return len > 0 ? h2o_iovec_init(token, len) : h2o_iovec_init(NULL, 0);
}

/* The claims of the request's bearer token, verified or found in the loop's cache; NULL after
 * replying 401. present says whether there was a token at all. */
static const token_claims_t *verified_claims(const http_request_t *request, bool *present)
{
    api_loop_t *loop = api_loop_of(request);
    h2o_iovec_t token = bearer_token(request);
    int64_t now_s = clock_now_ms() / 1000;
    token_cache_key_t key;
    const token_claims_t *cached;
    token_claims_t claims;
    token_status_t status;

    *present = token.base != NULL && token.len > 0;
    if (!*present) {
        reply_invalid_token(request, "a bearer token is required (Authorization: Bearer <token>)");
        return NULL;
    }
    token_cache_key(loop->tokens, token.base, token.len, &key);
    if ((cached = token_cache_find(loop->tokens, &key, now_s)) != NULL) {
        bump(&loop->counters->token_cache_hits);
        return cached;
    }
    bump(&loop->counters->token_verifications);
    status = token_verify(&loop->api->identity.rules, token.base, token.len, now_s, &claims);
    if (status != TOKEN_OK) {
        reply_invalid_token(request, token_status_message(status));
        return NULL;
    }
    token_cache_put(loop->tokens, &key, &claims);
    return token_cache_find(loop->tokens, &key, now_s);
}

const char *api_identity_buyer(const http_request_t *request)
{
    const api_identity_t *identity = &api_loop_of(request)->api->identity;
    const token_claims_t *claims;
    h2o_iovec_t value;
    bool present;

    if (identity->jwt) {
        if ((claims = verified_claims(request, &present)) == NULL)
            return NULL;
        return http_request_strdup(request, claims->sub, strlen(claims->sub));
    }
    value = http_request_header_trimmed(request, "x-user-id");
    if (value.base == NULL || !sale_user_id_is_valid(value.base, value.len)) {
        http_reply_validation_error(request, "X-User-Id", "must be 1-255 bytes without control characters");
        return NULL;
    }
    return http_request_strdup(request, value.base, value.len);
}

bool api_identity_authorize_admin(const http_request_t *request, void *data)
{
    const api_t *api = data;
    h2o_iovec_t key = http_request_header(request, "x-admin-key");
    unsigned char hash[crypto_generichash_BYTES];
    const token_claims_t *claims;
    bool present;

    /* Comparing fixed-size hashes in constant time leaks neither the key's bytes nor its length. */
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)(key.base == NULL ? "" : key.base), key.len,
                       NULL, 0);
    if (key.base != NULL && sodium_memcmp(hash, api->identity.admin_key_hash, sizeof(hash)) == 0)
        return true;
    if (!api->identity.jwt) {
        http_reply_error(request, 401, "UNAUTHORIZED", "a valid X-Admin-Key header is required", NULL);
        return false;
    }
    if (bearer_token(request).base == NULL) {
        reply_invalid_token(request,
                            "a valid X-Admin-Key header or a bearer token with role admin is required");
        return false;
    }
    if ((claims = verified_claims(request, &present)) == NULL)
        return false;
    if (claims->admin)
        return true;
    http_reply_error(request, 403, "FORBIDDEN", "this token does not carry the admin role", NULL);
    return false;
}
