/*
 * identity: who the buyer of a request is, and whether it may use the admin API — one module that
 * every route asks, as nginx's auth_request module answers for every location.
 *
 * Header mode (the default): the buyer is X-User-Id, for deployments whose gateway authenticated
 * the user already. Jwt mode: the buyer is the `sub` of `Authorization: Bearer <token>`, verified
 * by auth/token (X-User-Id is ignored); each loop remembers the tokens it verified (auth/
 * token_cache), so a buyer pressing "Buy" again costs a hash and a probe. Every refusal is a 401
 * UNAUTHORIZED with `WWW-Authenticate: Bearer error="invalid_token"` and the reason as its message.
 *
 * Admin routes take the admin key (X-Admin-Key, compared in constant time) or, in jwt mode, a token
 * with `role: admin`: neither is 401, a valid token without the role 403 FORBIDDEN.
 */
#ifndef FLASHSALE_API_IDENTITY_H
#define FLASHSALE_API_IDENTITY_H

#include <sodium.h>
#include <stdbool.h>

#include "auth/token.h"
#include "http/http_request.h"

typedef struct {
    bool jwt;            /* --auth jwt */
    token_rules_t rules; /* jwt: the key tokens are verified with, and the issuer and audience */
    unsigned char admin_key_hash[crypto_generichash_BYTES];
} api_identity_t;

/* The buyer (NUL-terminated, in the request pool), or NULL after replying 400 or 401. */
const char *api_identity_buyer(const http_request_t *request);

/* The router's authorize_admin (data: the api_t): true, or false after replying 401 or 403. */
bool api_identity_authorize_admin(const http_request_t *request, void *data);

#endif
