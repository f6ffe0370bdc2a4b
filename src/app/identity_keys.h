/*
 * identity_keys: the keys `serve` was configured with, read once before the server starts — the
 * HS256 secret (it verifies tokens in jwt mode and signs the login's tokens) or the public key file
 * of a token issuer (RS256 or ES256, from the key's type) — and the API options they make, with the
 * rate limits and the trusted proxies.
 */
#ifndef FLASHSALE_IDENTITY_KEYS_H
#define FLASHSALE_IDENTITY_KEYS_H

#include <stddef.h>

#include "api/api.h"
#include "app/config.h"
#include "auth/token.h"

typedef struct {
    token_key_t *secret;     /* from --jwt-secret, or NULL */
    token_key_t *public_key; /* from --jwt-public-key, or NULL */
} identity_keys_t;

/* Reads the keys; 0, or -1 with one line in err (an unreadable file, not a key). */
int identity_keys_load(const config_t *config, identity_keys_t *keys, char *err, size_t err_size);
void identity_keys_free(identity_keys_t *keys);

/* The API's options for this configuration; the keys must outlive the API. */
api_options_t identity_keys_api_options(const config_t *config, const identity_keys_t *keys);

/* One log line saying how buyers are identified and limited. */
void identity_keys_log(const config_t *config, const identity_keys_t *keys);

#endif
