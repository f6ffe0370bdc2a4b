/*
 * token: JSON Web Tokens (RFC 7519) — verifying the bearer tokens of `--auth jwt` and signing the
 * tokens `login` hands out — over libjwt 1.10.2, which checks signatures and nothing else.
 *
 * libjwt takes the algorithm from the token's own header and uses the key it is given with it:
 * a token claiming HS256 is checked by HMAC with whatever key bytes the server holds, an RSA
 * public key's PEM text included (the "algorithm confusion" forgery), and it has no notion of
 * expiry. So this module reads the header first and accepts exactly one algorithm, the one of
 * the configured key (HS256 for a secret; RS256 or ES256 from the public key's type), refuses
 * `none`, and checks every time claim itself: `exp` is required, `nbf` and `iat` are honoured,
 * each with TOKEN_LEEWAY_S of clock skew. tests/unit/test_token.c pins the libjwt behaviour this
 * relies on. RS256 and ES256 signatures are checked with OpenSSL directly, against the public key
 * parsed once at load: libjwt would parse the PEM text again for every token, which cost ten
 * times the signature check (docs/benchmarks.md); HS256 and all signing stay libjwt's.
 *
 * A verified token yields its `sub` (the buyer, a valid user id) and whether it has `role:
 * admin`. Every refusal has its own status and message, for the 401's text.
 */
#ifndef FLASHSALE_TOKEN_H
#define FLASHSALE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"

/* Clock skew tolerated between the token's issuer and this server, on exp, nbf and iat. */
#define TOKEN_LEEWAY_S 30
/* Longer bearer tokens are refused unread. */
#define TOKEN_MAX_LEN 4096
/* An HS256 secret shorter than the hash (RFC 7518 section 3.2) is refused. */
#define TOKEN_SECRET_MIN 32

typedef enum {
    TOKEN_ALG_HS256,
    TOKEN_ALG_RS256,
    TOKEN_ALG_ES256,
} token_alg_t;

typedef enum {
    TOKEN_OK,
    TOKEN_MALFORMED,      /* not three base64url parts of JSON objects, or too long */
    TOKEN_ALG_NONE,       /* an unsigned token */
    TOKEN_ALG_MISMATCH,   /* signed with another algorithm than the server's key */
    TOKEN_BAD_SIGNATURE,  /* the signature does not verify with the server's key */
    TOKEN_NO_EXPIRY,      /* no numeric exp */
    TOKEN_EXPIRED,        /* exp has passed */
    TOKEN_NOT_YET_VALID,  /* nbf or iat in the future */
    TOKEN_WRONG_ISSUER,   /* iss is not the configured issuer */
    TOKEN_WRONG_AUDIENCE, /* aud does not name the configured audience */
    TOKEN_NO_SUBJECT,     /* no sub, or not a valid user id */
    TOKEN_STATUS_COUNT
} token_status_t;

/* A key: an HMAC secret, or an RSA or EC (P-256) key in PEM. */
typedef struct token_key token_key_t;

/* What a verified token says. */
typedef struct {
    char sub[SALE_USER_ID_MAX + 1];
    bool admin;        /* role: "admin" */
    int64_t expires_s; /* exp */
} token_claims_t;

/* What the server requires of every token besides a good signature. */
typedef struct {
    const token_key_t *key;
    const char *issuer;   /* NULL: iss is not checked */
    const char *audience; /* NULL: aud is not checked */
} token_rules_t;

/* What a signed token will say. */
typedef struct {
    const char *sub;
    bool admin;
    int64_t issued_s;     /* iat */
    int64_t expires_s;    /* exp */
    const char *issuer;   /* NULL: no iss */
    const char *audience; /* NULL: no aud */
} token_grant_t;

/* An HS256 key; the secret (at least TOKEN_SECRET_MIN bytes) is copied. -1 with one line in err. */
int token_key_from_secret(const char *secret, size_t len, token_key_t **out, char *err, size_t err_size);
/*
 * An RS256 (RSA, at least 2048 bits) or ES256 (EC P-256) key from PEM text: a public key
 * ("BEGIN PUBLIC KEY") to verify, or a private key to sign. -1 with one line in err.
 */
int token_key_from_pem(const char *pem, size_t len, bool private_key, token_key_t **out, char *err,
                       size_t err_size);
/* token_key_from_pem on the contents of a file. */
int token_key_load(const char *path, bool private_key, token_key_t **out, char *err, size_t err_size);
void token_key_free(token_key_t *key);
token_alg_t token_key_alg(const token_key_t *key);
const char *token_alg_name(token_alg_t alg);

/* The token of an `Authorization` header's value `Bearer <token>` (the scheme in any case, blanks
 * after it skipped): its length, with *token pointing into value; 0 when it is not a bearer value. */
size_t token_from_authorization(const char *value, size_t len, const char **token);

/*
 * Verifies a compact token (len bytes, not NUL-terminated) at now_s (Unix seconds). TOKEN_OK fills
 * *claims; anything else leaves it undefined.
 */
token_status_t token_verify(const token_rules_t *rules, const char *token, size_t len, int64_t now_s,
                            token_claims_t *claims);
/* The text of a 401 for that refusal; static. */
const char *token_status_message(token_status_t status);

/* Signs a token with a secret or a private key. Returns 0 and a string the caller frees with free(),
 * or -1. */
int token_sign(const token_key_t *key, const token_grant_t *grant, char **out);

#endif
