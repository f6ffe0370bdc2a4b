/*
 * Unit tests of token, and of the libjwt 1.10.2 behaviour it relies on: every way a bearer token
 * is refused (expired, not yet valid, bad signature, alg none, algorithm confusion with an RSA
 * public key used as an HMAC secret, no sub, wrong issuer or audience, malformed), the leeway,
 * keys of the three algorithms and the keys refused at start, and signing round trips.
 *
 * Keys are generated here with OpenSSL; tokens with hand-made headers are assembled here and
 * signed with HMAC (libsodium) or with libjwt's own signer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/token.h"

#define SECRET "0123456789abcdef0123456789abcdef-test"
#define NOW    1800000000LL

typedef struct {
    char *rsa_public, *rsa_private, *ec_public, *ec_private, *rsa_small_public, *ec384_public;
    token_key_t *hs256, *rs256, *es256, *rs256_signer, *es256_signer;
} keys_t;

static keys_t keys;

static char *pem_of(EVP_PKEY *pkey, bool private_key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *copy;
    long len;
    if (private_key)
        PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(bio, pkey);
    len = BIO_get_mem_data(bio, &data);
    copy = calloc(1, (size_t)len + 1);
    memcpy(copy, data, (size_t)len);
    BIO_free(bio);
    return copy;
}

static token_key_t *key_from_pem(const char *pem, bool private_key)
{
    char err[256] = "";
    token_key_t *key = NULL;
    if (token_key_from_pem(pem, strlen(pem), private_key, &key, err, sizeof(err)) != 0)
        fail_msg("token_key_from_pem: %s", err);
    return key;
}

static int setup_keys(void **state)
{
    (void)state;
    char err[256];
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024),
             *ec384 = EVP_EC_gen("P-384");
    keys.rsa_public = pem_of(rsa, false);
    keys.rsa_private = pem_of(rsa, true);
    keys.ec_public = pem_of(ec, false);
    keys.ec_private = pem_of(ec, true);
    keys.rsa_small_public = pem_of(small, false);
    keys.ec384_public = pem_of(ec384, false);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
    EVP_PKEY_free(ec384);
    if (token_key_from_secret(SECRET, strlen(SECRET), &keys.hs256, err, sizeof(err)) != 0)
        return -1;
    keys.rs256 = key_from_pem(keys.rsa_public, false);
    keys.es256 = key_from_pem(keys.ec_public, false);
    keys.rs256_signer = key_from_pem(keys.rsa_private, true);
    keys.es256_signer = key_from_pem(keys.ec_private, true);
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    token_key_free(keys.hs256);
    token_key_free(keys.rs256);
    token_key_free(keys.es256);
    token_key_free(keys.rs256_signer);
    token_key_free(keys.es256_signer);
    free(keys.rsa_public);
    free(keys.rsa_private);
    free(keys.ec_public);
    free(keys.ec_private);
    free(keys.rsa_small_public);
    free(keys.ec384_public);
    return 0;
}

/* ---- building tokens by hand ------------------------------------------------------------- */

static void append_base64url(char *out, const void *bytes, size_t len)
{
    size_t at = strlen(out);
    sodium_bin2base64(out + at, sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                      bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload, then an HMAC-SHA256 signature with any key bytes (or none when key is NULL). */
static char *hand_made(const char *header, const char *payload, const void *key, size_t key_len)
{
    char *token = calloc(1, 8192);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state hmac;

    append_base64url(token, header, strlen(header));
    strcat(token, ".");
    append_base64url(token, payload, strlen(payload));
    if (key != NULL) {
        crypto_auth_hmacsha256_init(&hmac, key, key_len);
        crypto_auth_hmacsha256_update(&hmac, (const unsigned char *)token, strlen(token));
        crypto_auth_hmacsha256_final(&hmac, mac);
    }
    strcat(token, ".");
    if (key != NULL)
        append_base64url(token, mac, sizeof(mac));
    return token;
}

/* libjwt's own signer over arbitrary claims. */
static char *libjwt_signed(jwt_alg_t alg, const char *key, size_t key_len, const char *claims)
{
    jwt_t *jwt = NULL;
    char *token;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)key_len), 0);
    token = jwt_encode_str(jwt);
    assert_non_null(token);
    jwt_free(jwt);
    return token;
}

static char *claims_json(const char *extra)
{
    static char json[1024];
    snprintf(json, sizeof(json), "{\"sub\":\"alice\",\"exp\":%lld%s%s}", NOW + 3600, extra[0] ? "," : "",
             extra);
    return json;
}

static token_status_t verify_with(const token_rules_t *rules, const char *token, token_claims_t *claims)
{
    return token_verify(rules, token, strlen(token), NOW, claims);
}

static token_status_t verify_hs(const char *token)
{
    token_claims_t claims;
    token_rules_t rules = {.key = keys.hs256};
    return verify_with(&rules, token, &claims);
}

static token_status_t verify_rs(const char *token)
{
    token_claims_t claims;
    token_rules_t rules = {.key = keys.rs256};
    return verify_with(&rules, token, &claims);
}

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* ---- valid tokens ------------------------------------------------------------------------- */

static void test_signed_tokens_verify(void **state)
{
    (void)state;
    const token_key_t *signers[] = {keys.hs256, keys.rs256_signer, keys.es256_signer};
    const token_key_t *verifiers[] = {keys.hs256, keys.rs256, keys.es256};
    for (size_t i = 0; i < 3; ++i) {
        token_grant_t grant = {.sub = "alice", .admin = i == 1, .issued_s = NOW - 10, .expires_s = NOW + 60};
        token_rules_t rules = {.key = verifiers[i]};
        token_claims_t claims;
        char *token = NULL;
        assert_int_equal(token_sign(signers[i], &grant, &token), 0);
        assert_int_equal(verify_with(&rules, token, &claims), TOKEN_OK);
        assert_string_equal(claims.sub, "alice");
        assert_int_equal(claims.admin, i == 1);
        assert_int_equal(claims.expires_s, NOW + 60);
        free(token);
    }
    assert_int_equal(token_key_alg(keys.hs256), TOKEN_ALG_HS256);
    assert_int_equal(token_key_alg(keys.rs256), TOKEN_ALG_RS256);
    assert_int_equal(token_key_alg(keys.es256), TOKEN_ALG_ES256);
}

/* A long claim set: libjwt's base64 must not wrap lines (the decoder here would refuse them). */
static void test_long_subject_round_trips(void **state)
{
    (void)state;
    char sub[SALE_USER_ID_MAX + 1];
    memset(sub, 'x', SALE_USER_ID_MAX);
    sub[SALE_USER_ID_MAX] = '\0';
    token_grant_t grant = {.sub = sub,
                           .issued_s = NOW,
                           .expires_s = NOW + 60,
                           .issuer = "https://issuer.example",
                           .audience = "flashsale"};
    token_rules_t rules = {.key = keys.hs256, .issuer = "https://issuer.example", .audience = "flashsale"};
    token_claims_t claims;
    char *token = NULL;
    assert_int_equal(token_sign(keys.hs256, &grant, &token), 0);
    assert_null(strchr(token, '\n'));
    assert_int_equal(verify_with(&rules, token, &claims), TOKEN_OK);
    assert_string_equal(claims.sub, sub);
    free(token);
}

static void test_issuer_and_audience(void **state)
{
    (void)state;
    token_claims_t claims;
    token_rules_t rules = {.key = keys.hs256, .issuer = "idp", .audience = "shop"};
    struct {
        const char *extra;
        token_status_t expected;
    } cases[] = {
        {"\"iss\":\"idp\",\"aud\":\"shop\"", TOKEN_OK},
        {"\"iss\":\"idp\",\"aud\":[\"other\",\"shop\"]", TOKEN_OK},
        {"\"iss\":\"other\",\"aud\":\"shop\"", TOKEN_WRONG_ISSUER},
        {"\"aud\":\"shop\"", TOKEN_WRONG_ISSUER},
        {"\"iss\":[\"idp\"],\"aud\":\"shop\"", TOKEN_WRONG_ISSUER},
        {"\"iss\":\"idp\",\"aud\":\"other\"", TOKEN_WRONG_AUDIENCE},
        {"\"iss\":\"idp\",\"aud\":[\"other\"]", TOKEN_WRONG_AUDIENCE},
        {"\"iss\":\"idp\"", TOKEN_WRONG_AUDIENCE},
        {"\"iss\":\"idp\",\"aud\":7", TOKEN_WRONG_AUDIENCE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        char *token = hand_made(hs256_header, claims_json(cases[i].extra), SECRET, strlen(SECRET));
        assert_int_equal(verify_with(&rules, token, &claims), cases[i].expected);
        free(token);
    }
    /* without configured values, iss and aud are not looked at */
    char *token = hand_made(hs256_header, claims_json("\"iss\":\"anyone\",\"aud\":\"anything\""), SECRET,
                            strlen(SECRET));
    assert_int_equal(verify_hs(token), TOKEN_OK);
    free(token);
}

static void test_role_admin_only_when_exactly_admin(void **state)
{
    (void)state;
    token_rules_t rules = {.key = keys.hs256};
    const char *roles[] = {"\"role\":\"admin\"", "\"role\":\"Admin\"", "\"role\":[\"admin\"]",
                           "\"role\":true", ""};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); ++i) {
        token_claims_t claims;
        char *token = hand_made(hs256_header, claims_json(roles[i]), SECRET, strlen(SECRET));
        assert_int_equal(verify_with(&rules, token, &claims), TOKEN_OK);
        assert_int_equal(claims.admin, i == 0);
        free(token);
    }
}

/* ---- time --------------------------------------------------------------------------------- */

static token_status_t hs_with_payload(const char *payload)
{
    char *token = hand_made(hs256_header, payload, SECRET, strlen(SECRET));
    token_status_t status = verify_hs(token);
    free(token);
    return status;
}

static void test_expiry_with_leeway(void **state)
{
    (void)state;
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld}", NOW - TOKEN_LEEWAY_S);
    assert_int_equal(hs_with_payload(payload), TOKEN_EXPIRED);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld}", NOW - TOKEN_LEEWAY_S + 1);
    assert_int_equal(hs_with_payload(payload), TOKEN_OK);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld.5}", NOW + 10);
    assert_int_equal(hs_with_payload(payload), TOKEN_OK);
    assert_int_equal(hs_with_payload("{\"sub\":\"a\"}"), TOKEN_NO_EXPIRY);
    assert_int_equal(hs_with_payload("{\"sub\":\"a\",\"exp\":\"9999999999\"}"), TOKEN_NO_EXPIRY);
    assert_int_equal(hs_with_payload("{\"sub\":\"a\",\"exp\":null}"), TOKEN_NO_EXPIRY);
}

static void test_not_before_and_issued_at_with_leeway(void **state)
{
    (void)state;
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 3600,
             NOW + TOKEN_LEEWAY_S + 1);
    assert_int_equal(hs_with_payload(payload), TOKEN_NOT_YET_VALID);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 3600,
             NOW + TOKEN_LEEWAY_S);
    assert_int_equal(hs_with_payload(payload), TOKEN_OK);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld,\"iat\":%lld}", NOW + 3600,
             NOW + TOKEN_LEEWAY_S + 1);
    assert_int_equal(hs_with_payload(payload), TOKEN_NOT_YET_VALID);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld,\"iat\":%lld}", NOW + 3600, NOW - 100);
    assert_int_equal(hs_with_payload(payload), TOKEN_OK);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":\"soon\"}", NOW + 3600);
    assert_int_equal(hs_with_payload(payload), TOKEN_MALFORMED);
}

/* ---- subjects ----------------------------------------------------------------------------- */

static void test_subject_is_required(void **state)
{
    (void)state;
    char payload[512], long_sub[SALE_USER_ID_MAX + 2];
    const char *bad[] = {"", "\"sub\":\"\",", "\"sub\":42,", "\"sub\":null,", "\"sub\":\"a\\u0001b\","};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        snprintf(payload, sizeof(payload), "{%s\"exp\":%lld}", bad[i], NOW + 60);
        assert_int_equal(hs_with_payload(payload), TOKEN_NO_SUBJECT);
    }
    memset(long_sub, 'y', sizeof(long_sub) - 1);
    long_sub[sizeof(long_sub) - 1] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld}", long_sub, NOW + 60);
    assert_int_equal(hs_with_payload(payload), TOKEN_NO_SUBJECT);
}

/* ---- signatures and algorithms ------------------------------------------------------------ */

static void test_bad_signatures(void **state)
{
    (void)state;
    char *token = hand_made(hs256_header, claims_json(""), SECRET, strlen(SECRET));
    assert_int_equal(verify_hs(token), TOKEN_OK);
    /* one character of the signature changed */
    char *flipped = token + strlen(token) - 2;
    *flipped = *flipped == 'A' ? 'B' : 'A';
    assert_int_equal(verify_hs(token), TOKEN_BAD_SIGNATURE);
    free(token);
    /* another secret */
    token = hand_made(hs256_header, claims_json(""), "another secret of thirty-two bytes!", 35);
    assert_int_equal(verify_hs(token), TOKEN_BAD_SIGNATURE);
    free(token);
    /* no signature */
    token = hand_made(hs256_header, claims_json(""), NULL, 0);
    assert_int_equal(verify_hs(token), TOKEN_BAD_SIGNATURE);
    free(token);
    /* a changed payload under the old signature */
    char *good = hand_made(hs256_header, claims_json(""), SECRET, strlen(SECRET));
    char *evil = hand_made(hs256_header, claims_json("\"role\":\"admin\""), NULL, 0);
    char spliced[8192];
    snprintf(spliced, sizeof(spliced), "%s%s", evil, strrchr(good, '.') + 1);
    assert_int_equal(verify_hs(spliced), TOKEN_BAD_SIGNATURE);
    free(good);
    free(evil);
    /* RS256 and ES256: a token signed by another key pair */
    EVP_PKEY *other = EVP_RSA_gen(2048);
    char *other_pem = pem_of(other, true);
    token_key_t *other_key = key_from_pem(other_pem, true);
    token_grant_t grant = {.sub = "alice", .issued_s = NOW, .expires_s = NOW + 60};
    assert_int_equal(token_sign(other_key, &grant, &token), 0);
    assert_int_equal(verify_rs(token), TOKEN_BAD_SIGNATURE);
    free(token);
    token_key_free(other_key);
    free(other_pem);
    EVP_PKEY_free(other);
    /* ES256 (r and s, checked by the server in DER form): a character of s changed, and s cut
     * short */
    token_rules_t es_rules = {.key = keys.es256};
    token_claims_t claims;
    assert_int_equal(token_sign(keys.es256_signer, &grant, &token), 0);
    assert_int_equal(verify_with(&es_rules, token, &claims), TOKEN_OK);
    flipped = token + strlen(token) - 2;
    *flipped = *flipped == 'A' ? 'B' : 'A';
    assert_int_equal(verify_with(&es_rules, token, &claims), TOKEN_BAD_SIGNATURE);
    token[strlen(token) - 4] = '\0';
    assert_int_equal(verify_with(&es_rules, token, &claims), TOKEN_BAD_SIGNATURE);
    free(token);
}

static void test_bearer_values(void **state)
{
    (void)state;
    const char *token = NULL;
    assert_int_equal(token_from_authorization("Bearer abc", 10, &token), 3);
    assert_memory_equal(token, "abc", 3);
    assert_int_equal(token_from_authorization("bEaReR \t x.y", 12, &token), 3);
    assert_memory_equal(token, "x.y", 3);
    assert_int_equal(token_from_authorization("Basic abc", 9, &token), 0);
    assert_int_equal(token_from_authorization("Bearer", 6, &token), 0);
    assert_int_equal(token_from_authorization("Bearer   ", 9, &token), 0);
    assert_int_equal(token_from_authorization("Bearerabc", 9, &token), 0);
}

static void test_alg_none_is_refused(void **state)
{
    (void)state;
    const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"NONE\"}"};
    for (size_t i = 0; i < 3; ++i) {
        char *token = hand_made(headers[i], claims_json(""), NULL, 0);
        assert_int_equal(verify_hs(token), TOKEN_ALG_NONE);
        assert_int_equal(verify_rs(token), TOKEN_ALG_NONE);
        free(token);
    }
}

/* The classic forgery: HS256 "signed" with the server's RSA public key as the HMAC secret. */
static void test_algorithm_confusion_is_refused(void **state)
{
    (void)state;
    char *token =
        hand_made(hs256_header, claims_json("\"role\":\"admin\""), keys.rsa_public, strlen(keys.rsa_public));
    assert_int_equal(verify_rs(token), TOKEN_ALG_MISMATCH);
    free(token);
}

static void test_other_algorithms_are_refused(void **state)
{
    (void)state;
    token_grant_t grant = {.sub = "alice", .issued_s = NOW, .expires_s = NOW + 60};
    char *token = NULL;
    /* an RS256 token at an HS256 server, and the reverse */
    assert_int_equal(token_sign(keys.rs256_signer, &grant, &token), 0);
    assert_int_equal(verify_hs(token), TOKEN_ALG_MISMATCH);
    free(token);
    assert_int_equal(token_sign(keys.hs256, &grant, &token), 0);
    assert_int_equal(verify_rs(token), TOKEN_ALG_MISMATCH);
    free(token);
    /* ES256 at an RS256 server */
    assert_int_equal(token_sign(keys.es256_signer, &grant, &token), 0);
    assert_int_equal(verify_rs(token), TOKEN_ALG_MISMATCH);
    free(token);
    /* HS512 with the right secret, and a lower-case hs256 */
    token = libjwt_signed(JWT_ALG_HS512, SECRET, strlen(SECRET), claims_json(""));
    assert_int_equal(verify_hs(token), TOKEN_ALG_MISMATCH);
    free(token);
    token = hand_made("{\"alg\":\"hs256\"}", claims_json(""), SECRET, strlen(SECRET));
    assert_int_equal(verify_hs(token), TOKEN_ALG_MISMATCH);
    free(token);
}

static void test_malformed_tokens(void **state)
{
    (void)state;
    char *too_long = calloc(1, TOKEN_MAX_LEN + 2);
    memset(too_long, 'a', TOKEN_MAX_LEN + 1);
    too_long[10] = '.';
    too_long[20] = '.';
    const char *bad[] = {"",         "abc",   "a.b", "a.b.c.d", "!!.??.**", "e30.e30.", "bm90IGpzb24.e30.",
                         "W10.e30.", too_long};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_int_equal(verify_hs(bad[i]), TOKEN_MALFORMED);
    free(too_long);
    /* duplicated claims, a non-JWT typ, a critical extension, a missing alg */
    const char *payload = "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":9999999999}";
    char *token = hand_made(hs256_header, payload, SECRET, strlen(SECRET));
    assert_int_equal(verify_hs(token), TOKEN_MALFORMED);
    free(token);
    const char *headers[] = {"{\"alg\":\"HS256\",\"typ\":\"JOSE\"}", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
                             "{\"typ\":\"JWT\"}", "{\"alg\":7}"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); ++i) {
        token = hand_made(headers[i], claims_json(""), SECRET, strlen(SECRET));
        assert_int_equal(verify_hs(token), TOKEN_MALFORMED);
        free(token);
    }
}

static void test_every_status_has_its_own_message(void **state)
{
    (void)state;
    for (int i = 0; i < TOKEN_STATUS_COUNT; ++i) {
        assert_non_null(token_status_message(i));
        for (int j = 0; j < i; ++j)
            assert_string_not_equal(token_status_message(i), token_status_message(j));
    }
}

/* ---- keys --------------------------------------------------------------------------------- */

static void assert_key_refused(const char *pem, bool private_key, const char *reason_part)
{
    char err[256] = "";
    token_key_t *key = NULL;
    assert_int_equal(token_key_from_pem(pem, strlen(pem), private_key, &key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, reason_part));
}

static void test_keys_refused_at_start(void **state)
{
    (void)state;
    char err[256] = "";
    token_key_t *key = NULL;
    assert_int_equal(token_key_from_secret("short", 5, &key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at least 32 bytes"));
    assert_int_equal(token_key_from_secret("0123456789abcdef0123456789abcde", 31, &key, err, sizeof(err)),
                     -1);
    assert_key_refused(keys.rsa_small_public, false, "2048");
    assert_key_refused(keys.ec384_public, false, "P-256");
    assert_key_refused(keys.rsa_private, false, "public key");
    assert_key_refused("not a key", false, "public key");
    assert_key_refused(keys.rsa_public, true, "private key");
    assert_int_equal(token_key_load("/nonexistent/key.pem", false, &key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/key.pem"));
}

static void test_key_file(void **state)
{
    (void)state;
    char path[] = "/tmp/flashsale-key-XXXXXX", err[256];
    int fd = mkstemp(path);
    token_key_t *key = NULL;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, keys.ec_public, strlen(keys.ec_public)), (ssize_t)strlen(keys.ec_public));
    close(fd);
    assert_int_equal(token_key_load(path, false, &key, err, sizeof(err)), 0);
    assert_int_equal(token_key_alg(key), TOKEN_ALG_ES256);
    token_key_free(key);
    unlink(path);
}

/* ---- what libjwt 1.10.2 does, which the checks above exist for ---------------------------- */

static int libjwt_decode(const char *token, const char *key, size_t key_len)
{
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, token, (const unsigned char *)key, (int)key_len);
    jwt_free(jwt);
    return rc;
}

static void test_libjwt_takes_the_algorithm_from_the_token(void **state)
{
    (void)state;
    /* It accepts an HS256 token made with the RSA public key as the HMAC secret ... */
    char *token = hand_made(hs256_header, claims_json(""), keys.rsa_public, strlen(keys.rsa_public));
    assert_int_equal(libjwt_decode(token, keys.rsa_public, strlen(keys.rsa_public)), 0);
    free(token);
    /* ... any HMAC size with the secret, and the algorithm name in any case. */
    token = libjwt_signed(JWT_ALG_HS512, SECRET, strlen(SECRET), claims_json(""));
    assert_int_equal(libjwt_decode(token, SECRET, strlen(SECRET)), 0);
    free(token);
    token = hand_made("{\"alg\":\"hs256\"}", claims_json(""), SECRET, strlen(SECRET));
    assert_int_equal(libjwt_decode(token, SECRET, strlen(SECRET)), 0);
    free(token);
}

static void test_libjwt_alg_none(void **state)
{
    (void)state;
    char *token = hand_made("{\"alg\":\"none\"}", claims_json(""), NULL, 0);
    /* refused when a key is given, accepted unverified without one */
    assert_int_equal(libjwt_decode(token, SECRET, strlen(SECRET)), EINVAL);
    assert_int_equal(libjwt_decode(token, NULL, 0), 0);
    free(token);
}

static void test_libjwt_ignores_time(void **state)
{
    (void)state;
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":1,\"nbf\":%lld}",
             (long long)time(NULL) + 86400);
    char *token = hand_made(hs256_header, payload, SECRET, strlen(SECRET));
    assert_int_equal(libjwt_decode(token, SECRET, strlen(SECRET)), 0);
    free(token);
    /* and refuses a typ other than JWT as if the signature were bad */
    token = hand_made("{\"alg\":\"HS256\",\"typ\":\"JOSE\"}", claims_json(""), SECRET, strlen(SECRET));
    assert_int_equal(libjwt_decode(token, SECRET, strlen(SECRET)), EINVAL);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_tokens_verify),
        cmocka_unit_test(test_long_subject_round_trips),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_role_admin_only_when_exactly_admin),
        cmocka_unit_test(test_expiry_with_leeway),
        cmocka_unit_test(test_not_before_and_issued_at_with_leeway),
        cmocka_unit_test(test_subject_is_required),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_bearer_values),
        cmocka_unit_test(test_alg_none_is_refused),
        cmocka_unit_test(test_algorithm_confusion_is_refused),
        cmocka_unit_test(test_other_algorithms_are_refused),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_every_status_has_its_own_message),
        cmocka_unit_test(test_keys_refused_at_start),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_libjwt_takes_the_algorithm_from_the_token),
        cmocka_unit_test(test_libjwt_alg_none),
        cmocka_unit_test(test_libjwt_ignores_time),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
