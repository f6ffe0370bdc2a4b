#include "auth/token.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A PEM file larger than this is not a key. */
#define KEY_FILE_MAX 65536

struct token_key {
    token_alg_t alg;
    jwt_alg_t jwt_alg;
    unsigned char *bytes; /* the secret or the PEM text, as libjwt takes it */
    size_t len;
    /* RS256 and ES256: the key parsed once. libjwt parses the PEM text again on every
     * verification, and OpenSSL 3's decoders cost ten times the RSA check itself (callgrind: 4 M
     * instructions a token), so these signatures are checked here, with this key. */
    EVP_PKEY *pkey;
};

static const char *const status_messages[TOKEN_STATUS_COUNT] = {
    [TOKEN_OK] = "the token is valid",
    [TOKEN_MALFORMED] = "the bearer token is not a well-formed JWT",
    [TOKEN_ALG_NONE] = "unsigned tokens (alg none) are not accepted",
    [TOKEN_ALG_MISMATCH] = "the token is signed with an algorithm this server does not accept",
    [TOKEN_BAD_SIGNATURE] = "the token's signature is invalid",
    [TOKEN_NO_EXPIRY] = "the token has no numeric exp claim",
    [TOKEN_EXPIRED] = "the token has expired",
    [TOKEN_NOT_YET_VALID] = "the token is not valid yet (nbf or iat is in the future)",
    [TOKEN_WRONG_ISSUER] = "the token's issuer (iss) is not accepted",
    [TOKEN_WRONG_AUDIENCE] = "the token's audience (aud) does not include this server",
    [TOKEN_NO_SUBJECT] = "the token has no valid sub claim (1-255 bytes without control characters)",
};

const char *token_status_message(token_status_t status)
{
    return status_messages[status];
}

const char *token_alg_name(token_alg_t alg)
{
    switch (alg) {
    case TOKEN_ALG_HS256:
        return "HS256";
    case TOKEN_ALG_RS256:
        return "RS256";
    case TOKEN_ALG_ES256:
        return "ES256";
    }
    return "?";
}

/* ---- keys ---------------------------------------------------------------------------------- */

static token_key_t *new_key(token_alg_t alg, const void *bytes, size_t len)
{
    token_key_t *key = calloc(1, sizeof(*key));

    if (key == NULL || (key->bytes = malloc(len + 1)) == NULL) {
        free(key);
        return NULL;
    }
    memcpy(key->bytes, bytes, len);
    key->bytes[len] = '\0';
    key->len = len;
    key->alg = alg;
    key->jwt_alg = alg == TOKEN_ALG_HS256   ? JWT_ALG_HS256
                   : alg == TOKEN_ALG_RS256 ? JWT_ALG_RS256
                                            : JWT_ALG_ES256;
    return key;
}

int token_key_from_secret(const char *secret, size_t len, token_key_t **out, char *err, size_t err_size)
{
    if (len < TOKEN_SECRET_MIN) {
        snprintf(err, err_size, "the JWT secret must be at least %d bytes (HS256), got %zu", TOKEN_SECRET_MIN,
                 len);
        return -1;
    }
    if ((*out = new_key(TOKEN_ALG_HS256, secret, len)) == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

/* The JWS algorithm of an RSA or P-256 key; -1 with err for any other key. */
static int alg_of(EVP_PKEY *pkey, token_alg_t *alg, char *err, size_t err_size)
{
    char group[64];

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(pkey) < 2048) {
            snprintf(err, err_size, "the RSA key has %d bits; RS256 needs at least 2048",
                     EVP_PKEY_get_bits(pkey));
            return -1;
        }
        *alg = TOKEN_ALG_RS256;
        return 0;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) !=
                1 ||
            strcmp(group, "prime256v1") != 0) {
            snprintf(err, err_size, "the EC key is not on the P-256 curve that ES256 uses");
            return -1;
        }
        *alg = TOKEN_ALG_ES256;
        return 0;
    default:
        snprintf(err, err_size, "the key is neither RSA (RS256) nor EC P-256 (ES256)");
        return -1;
    }
}

int token_key_from_pem(const char *pem, size_t len, bool private_key, token_key_t **out, char *err,
                       size_t err_size)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = NULL;
    token_alg_t alg;
    int rc = -1;

    /* The same readers libjwt uses, so a key accepted here is one libjwt can use. */
    if (bio != NULL)
        pkey = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                           : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey == NULL) {
        snprintf(err, err_size, "not a PEM %s",
                 private_key ? "private key" : "public key (-----BEGIN PUBLIC KEY-----)");
    } else if (alg_of(pkey, &alg, err, err_size) == 0) {
        if ((*out = new_key(alg, pem, len)) != NULL) {
            (*out)->pkey = pkey; /* the key owns it from here */
            pkey = NULL;
            rc = 0;
        } else {
            snprintf(err, err_size, "out of memory");
        }
    }
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

int token_key_load(const char *path, bool private_key, token_key_t **out, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    char *pem;
    size_t len;
    int rc;

    if (file == NULL) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if ((pem = malloc(KEY_FILE_MAX)) == NULL) {
        fclose(file);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    len = fread(pem, 1, KEY_FILE_MAX, file);
    fclose(file);
    if (len == KEY_FILE_MAX) {
        snprintf(err, err_size, "%s is larger than a key file can be", path);
        rc = -1;
    } else {
        char reason[200] = "";
        rc = token_key_from_pem(pem, len, private_key, out, reason, sizeof(reason));
        if (rc != 0)
            snprintf(err, err_size, "%s: %s", path, reason);
    }
    sodium_memzero(pem, KEY_FILE_MAX);
    free(pem);
    return rc;
}

void token_key_free(token_key_t *key)
{
    if (key == NULL)
        return;
    sodium_memzero(key->bytes, key->len);
    free(key->bytes);
    EVP_PKEY_free(key->pkey);
    free(key);
}

token_alg_t token_key_alg(const token_key_t *key)
{
    return key->alg;
}

/* ---- verifying ----------------------------------------------------------------------------- */

/* Decodes one base64url part (no padding) as a JSON object; NULL if it is not one. */
static json_t *decode_part(const char *part, size_t len)
{
    unsigned char decoded[TOKEN_MAX_LEN];
    size_t decoded_len;
    json_t *object;

    if (sodium_base642bin(decoded, sizeof(decoded), part, len, NULL, &decoded_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return NULL;
    /* a duplicated claim could be read one way here and another way by someone else */
    object = json_loadb((const char *)decoded, decoded_len, JSON_REJECT_DUPLICATES, NULL);
    if (object != NULL && !json_is_object(object)) {
        json_decref(object);
        return NULL;
    }
    return object;
}

/* Checks the header: exactly the key's algorithm, a JWT if typed, no critical extension. */
static token_status_t check_header(const token_rules_t *rules, json_t *header)
{
    json_t *alg = json_object_get(header, "alg"), *typ = json_object_get(header, "typ");

    if (!json_is_string(alg))
        return TOKEN_MALFORMED;
    /* libjwt reads "None" and "NONE" as none too */
    if (strcasecmp(json_string_value(alg), "none") == 0)
        return TOKEN_ALG_NONE;
    if (strcmp(json_string_value(alg), token_alg_name(rules->key->alg)) != 0)
        return TOKEN_ALG_MISMATCH;
    /* libjwt refuses any other typ, which must not read as a bad signature */
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return TOKEN_MALFORMED;
    if (json_object_get(header, "crit") != NULL)
        return TOKEN_MALFORMED;
    return TOKEN_OK;
}

/* Reads a NumericDate claim (integer or not) as whole seconds; -1 if present but not a number. */
static int read_time(json_t *claims, const char *name, bool *present, int64_t *seconds)
{
    json_t *value = json_object_get(claims, name);

    *present = value != NULL;
    if (value == NULL)
        return 0;
    if (json_is_integer(value)) {
        *seconds = json_integer_value(value);
        return 0;
    }
    if (json_is_real(value) && json_real_value(value) > -9e15 && json_real_value(value) < 9e15) {
        *seconds = (int64_t)json_real_value(value);
        return 0;
    }
    return -1;
}

static bool audience_matches(json_t *aud, const char *audience)
{
    size_t index;
    json_t *item;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), audience) == 0;
    json_array_foreach(aud, index, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), audience) == 0)
            return true;
    }
    return false;
}

static token_status_t check_claims(const token_rules_t *rules, json_t *body, int64_t now_s,
                                   token_claims_t *claims)
{
    json_t *sub = json_object_get(body, "sub"), *iss = json_object_get(body, "iss"),
           *role = json_object_get(body, "role");
    int64_t exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;

    if (read_time(body, "exp", &has_exp, &exp) != 0 || !has_exp)
        return TOKEN_NO_EXPIRY;
    if (read_time(body, "nbf", &has_nbf, &nbf) != 0 || read_time(body, "iat", &has_iat, &iat) != 0)
        return TOKEN_MALFORMED;
    if (now_s >= exp + TOKEN_LEEWAY_S)
        return TOKEN_EXPIRED;
    if ((has_nbf && nbf > now_s + TOKEN_LEEWAY_S) || (has_iat && iat > now_s + TOKEN_LEEWAY_S))
        return TOKEN_NOT_YET_VALID;
    if (rules->issuer != NULL && !(json_is_string(iss) && strcmp(json_string_value(iss), rules->issuer) == 0))
        return TOKEN_WRONG_ISSUER;
    if (rules->audience != NULL && !audience_matches(json_object_get(body, "aud"), rules->audience))
        return TOKEN_WRONG_AUDIENCE;
    /* jansson refuses \u0000 inside strings, so the length is the C string's */
    if (!json_is_string(sub) || !sale_user_id_is_valid(json_string_value(sub), json_string_length(sub)))
        return TOKEN_NO_SUBJECT;
    memcpy(claims->sub, json_string_value(sub), json_string_length(sub) + 1);
    claims->admin = json_is_string(role) && strcmp(json_string_value(role), "admin") == 0;
    claims->expires_s = exp;
    return TOKEN_OK;
}

/* An ES256 signature is r and s, 32 bytes each; OpenSSL checks the DER form of the pair. */
static int es256_to_der(const unsigned char *raw, size_t raw_len, unsigned char *der, size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *at = der;
    int len = -1;

    if (raw_len == 64 && sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* the signature owns them */
        if (i2d_ECDSA_SIG(sig, NULL) <= (int)*der_len)
            len = i2d_ECDSA_SIG(sig, &at);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (len <= 0)
        return -1;
    *der_len = (size_t)len;
    return 0;
}

/* RS256 and ES256 with the parsed key: the signature over "header.body", SHA-256. */
static bool verify_with_pkey(const token_key_t *key, const char *token, size_t signed_len,
                             const char *signature, size_t signature_len)
{
    unsigned char raw[512], der[80];
    const unsigned char *sig = raw;
    size_t raw_len, sig_len;
    EVP_MD_CTX *ctx;
    bool good;

    if (sodium_base642bin(raw, sizeof(raw), signature, signature_len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    sig_len = raw_len;
    if (key->alg == TOKEN_ALG_ES256) {
        sig_len = sizeof(der);
        if (es256_to_der(raw, raw_len, der, &sig_len) != 0)
            return false;
        sig = der;
    }
    if ((ctx = EVP_MD_CTX_new()) == NULL)
        return false;
    good = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
           EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)token, signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    return good;
}

/* The algorithm was pinned before (check_header). HS256 is libjwt's; RS256 and ES256 are checked
 * with the key parsed at load (see token_key). */
static token_status_t check_signature(const token_rules_t *rules, const char *token, size_t len,
                                      const char *second_dot)
{
    char copy[TOKEN_MAX_LEN + 1];
    jwt_t *jwt = NULL;
    bool good;

    if (rules->key->pkey != NULL) {
        size_t signed_len = (size_t)(second_dot - token);
        good = verify_with_pkey(rules->key, token, signed_len, second_dot + 1, len - signed_len - 1);
        return good ? TOKEN_OK : TOKEN_BAD_SIGNATURE;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';
    good = jwt_decode(&jwt, copy, rules->key->bytes, (int)rules->key->len) == 0 &&
           jwt_get_alg(jwt) == rules->key->jwt_alg;
    jwt_free(jwt);
    return good ? TOKEN_OK : TOKEN_BAD_SIGNATURE;
}

size_t token_from_authorization(const char *value, size_t len, const char **token)
{
    if (len <= 7 || strncasecmp(value, "bearer", 6) != 0 || (value[6] != ' ' && value[6] != '\t'))
        return 0;
    value += 7;
    len -= 7;
    while (len > 0 && (value[0] == ' ' || value[0] == '\t'))
        ++value, --len;
    *token = value;
    return len;
}

static bool is_base64url(const char *text, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

token_status_t token_verify(const token_rules_t *rules, const char *token, size_t len, int64_t now_s,
                            token_claims_t *claims)
{
    const char *first_dot, *second_dot;
    json_t *header = NULL, *body = NULL;
    token_status_t status = TOKEN_MALFORMED;

    if (len == 0 || len > TOKEN_MAX_LEN || !is_base64url(token, len) ||
        (first_dot = memchr(token, '.', len)) == NULL ||
        (second_dot = memchr(first_dot + 1, '.', len - (size_t)(first_dot + 1 - token))) == NULL ||
        memchr(second_dot + 1, '.', len - (size_t)(second_dot + 1 - token)) != NULL)
        return TOKEN_MALFORMED;
    if ((header = decode_part(token, (size_t)(first_dot - token))) == NULL ||
        (body = decode_part(first_dot + 1, (size_t)(second_dot - first_dot - 1))) == NULL)
        goto Exit;
    if ((status = check_header(rules, header)) != TOKEN_OK)
        goto Exit;
    if ((status = check_signature(rules, token, len, second_dot)) != TOKEN_OK)
        goto Exit;
    status = check_claims(rules, body, now_s, claims);

Exit:
    json_decref(header);
    json_decref(body);
    return status;
}

/* ---- signing ------------------------------------------------------------------------------- */

int token_sign(const token_key_t *key, const token_grant_t *grant, char **out)
{
    jwt_t *jwt = NULL;
    int rc = -1;

    *out = NULL;
    if (jwt_new(&jwt) != 0)
        return -1;
    if (jwt_set_alg(jwt, key->jwt_alg, key->bytes, (int)key->len) == 0 &&
        jwt_add_grant(jwt, "sub", grant->sub) == 0 && jwt_add_grant_int(jwt, "iat", grant->issued_s) == 0 &&
        jwt_add_grant_int(jwt, "exp", grant->expires_s) == 0 &&
        (!grant->admin || jwt_add_grant(jwt, "role", "admin") == 0) &&
        (grant->issuer == NULL || jwt_add_grant(jwt, "iss", grant->issuer) == 0) &&
        (grant->audience == NULL || jwt_add_grant(jwt, "aud", grant->audience) == 0))
        *out = jwt_encode_str(jwt);
    rc = *out != NULL ? 0 : -1;
    jwt_free(jwt);
    return rc;
}
