/*
 * lt_jwt: one signed bearer token per buyer, minted with libjwt before the storm so that signing
 * costs nothing while it runs.
 *
 * HS256 with a shared secret, or RS256 / ES256 with a PEM private key (the key's own type decides:
 * RSA gives RS256, an EC key on P-256 gives ES256). Each token carries sub (the buyer id), iat, exp
 * and, when given, iss and aud. Minting runs on several threads (RS256 signs at about a thousand
 * tokens a second per core).
 *
 * Bounds: every token is kept for the whole run, about 0.3 KiB (HS256, ES256) to 0.5 KiB (RS256 with
 * a 2048-bit key) per buyer; LT_JWT_BUYERS_MAX buyers at most.
 */
#ifndef FLASHSALE_LT_JWT_H
#define FLASHSALE_LT_JWT_H

#include <stddef.h>
#include <stdint.h>

#define LT_JWT_BUYERS_MAX 2000000
#define LT_JWT_TOKEN_MAX  2048

typedef struct {
    char *arena; /* owned: the tokens back to back, no separators */
    size_t arena_len;
    uint64_t *offsets; /* owned: token i is arena[offsets[i] .. offsets[i + 1]) */
    uint64_t count;
    const char *algorithm; /* "HS256", "RS256" or "ES256" */
} lt_jwt_tokens_t;

typedef struct {
    const char *secret;           /* HS256, or NULL */
    const char *private_key_file; /* PEM, or NULL */
    const char *issuer;           /* optional */
    const char *audience;         /* optional */
    int64_t lifetime_seconds;     /* exp = now + this */
    const char *user_prefix;      /* sub of buyer i is "<prefix>-<i>" */
    uint64_t buyers;
    int threads;
} lt_jwt_config_t;

/* 0 and the tokens (free with lt_jwt_tokens_dispose), or -1 with err set (a bad key, memory). */
int lt_jwt_mint(const lt_jwt_config_t *config, lt_jwt_tokens_t *tokens, char *err, size_t err_size);
void lt_jwt_tokens_dispose(lt_jwt_tokens_t *tokens);

static inline const char *lt_jwt_token(const lt_jwt_tokens_t *tokens, uint64_t buyer, size_t *len)
{
    *len = (size_t)(tokens->offsets[buyer + 1] - tokens->offsets[buyer]);
    return tokens->arena + tokens->offsets[buyer];
}

#endif
