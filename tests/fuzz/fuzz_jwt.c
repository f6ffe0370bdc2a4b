/*
 * Bearer tokens of --auth jwt: any bytes as a compact JWT, verified against an HS256 secret, an
 * ES256 and an RS256 public key (the first byte picks); and any bytes as the subject of a token
 * signed and verified again. The keys below exist for this test only.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "core/sale.h"
#include "fuzz.h"

#define NOW_S 1800000000 /* 2027-01-15 */

static const char secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";
static const char ec_private[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                 "MHcCAQEEIKVVgP/dI7ZYwm1rdorGuBnJDLmVI9kImDL5JsxJ6TpMoAoGCCqGSM49\n"
                                 "AwEHoUQDQgAEVup3tpZsDtvgFo277F0AOxVE1ElAIjg+WXxgT+duN0XtM0c+gXtw\n"
                                 "4MR7bc/3LvZQqqBsUrO04KXJ0O/4AB1DCQ==\n"
                                 "-----END EC PRIVATE KEY-----\n";
static const char ec_public[] = "-----BEGIN PUBLIC KEY-----\n"
                                "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVup3tpZsDtvgFo277F0AOxVE1ElA\n"
                                "Ijg+WXxgT+duN0XtM0c+gXtw4MR7bc/3LvZQqqBsUrO04KXJ0O/4AB1DCQ==\n"
                                "-----END PUBLIC KEY-----\n";
static const char rsa_public[] = "-----BEGIN PUBLIC KEY-----\n"
                                 "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzTrwbTXzf0mgFLP8SGVi\n"
                                 "K/ZvUlNoXGqm0TPeYjPklfT+61r+cbl/Prc233UOSBdrj7X8NhBpYCt60Tl66LK/\n"
                                 "UKBuRcMz8JxhDlDn92MGVPtpE4+H5FYqxsTaocTEz5S8SWXgcvWnafkbsxudqC3q\n"
                                 "sWZyC+gs0a5N4hLoVCkbmnlCnkcyL/lXgD/NfF4QZ7wNmfPcOsCu3qr1JaqQYWbY\n"
                                 "YGNV05fD9L6Fq1mc6nnKHMKXPkwEMa4lgzrzPgKz6ymcFvsbqJIs83+BYEzxlioQ\n"
                                 "IQyKiqK0F2lwbKR4RjflS8ZvhjlkEyo1hxz+a/ddtL3aA9VA3vfmjq98vwEIOSBZ\n"
                                 "0QIDAQAB\n"
                                 "-----END PUBLIC KEY-----\n";

typedef struct {
    token_key_t *hs256, *es256_sign, *es256, *rs256;
} keys_t;

static const keys_t *keys(void)
{
    static keys_t loaded;
    static bool ready;
    char err[256];

    if (!ready) {
        FUZZ_CHECK(token_key_from_secret(secret, sizeof(secret) - 1, &loaded.hs256, err, sizeof(err)) == 0);
        FUZZ_CHECK(token_key_from_pem(ec_private, sizeof(ec_private) - 1, true, &loaded.es256_sign, err,
                                      sizeof(err)) == 0);
        FUZZ_CHECK(token_key_from_pem(ec_public, sizeof(ec_public) - 1, false, &loaded.es256, err,
                                      sizeof(err)) == 0);
        FUZZ_CHECK(token_key_from_pem(rsa_public, sizeof(rsa_public) - 1, false, &loaded.rs256, err,
                                      sizeof(err)) == 0);
        ready = true;
    }
    return &loaded;
}

static void verify_any(const token_key_t *key, const char *token, size_t len)
{
    token_rules_t rules = {.key = key, .issuer = "fuzz", .audience = "flashsale"};
    token_claims_t claims;
    token_status_t status = token_verify(&rules, token, len, NOW_S, &claims);

    FUZZ_CHECK(status >= TOKEN_OK && status < TOKEN_STATUS_COUNT && token_status_message(status) != NULL);
    if (status == TOKEN_OK) {
        FUZZ_CHECK(sale_user_id_is_valid(claims.sub, strlen(claims.sub)));
        FUZZ_CHECK(claims.expires_s + TOKEN_LEEWAY_S >= NOW_S);
    }
}

/* Whatever valid subject a token is signed with, it verifies and says the same subject. */
static void round_trip(const token_key_t *sign, const token_key_t *verify, const char *sub, bool admin)
{
    token_grant_t grant = {.sub = sub,
                           .admin = admin,
                           .issued_s = NOW_S,
                           .expires_s = NOW_S + 600,
                           .issuer = "fuzz",
                           .audience = "flashsale"};
    token_rules_t rules = {.key = verify, .issuer = "fuzz", .audience = "flashsale"};
    token_claims_t claims;
    char *token = NULL;

    FUZZ_CHECK(token_sign(sign, &grant, &token) == 0);
    FUZZ_CHECK(token_verify(&rules, token, strlen(token), NOW_S, &claims) == TOKEN_OK);
    FUZZ_CHECK(strcmp(claims.sub, sub) == 0 && claims.admin == admin);
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const keys_t *k = keys();
    char *token, *bytes;

    if (size == 0)
        return 0;
    /* exactly the token's bytes, so that ASan sees a read past them */
    token = malloc(size - 1 > 0 ? size - 1 : 1);
    memcpy(token, data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        verify_any(k->hs256, token, size - 1);
        break;
    case 1:
        verify_any(k->es256, token, size - 1);
        break;
    case 2:
        verify_any(k->rs256, token, size - 1);
        break;
    default: {
        /* the bytes as an Authorization header's value */
        const char *bearer;
        size_t len = token_from_authorization(token, size - 1, &bearer);
        if (len > 0)
            verify_any(k->hs256, bearer, len);
        break;
    }
    }
    free(token);
    bytes = malloc(size);
    memcpy(bytes, data + 1, size - 1);
    if (size - 1 <= SALE_USER_ID_MAX) {
        bytes[size - 1] = '\0';
        if (strlen(bytes) == size - 1 && sale_user_id_is_valid(bytes, size - 1)) {
            round_trip(k->hs256, k->hs256, bytes, data[0] & 1);
            round_trip(k->es256_sign, k->es256, bytes, data[0] & 2);
        }
    }
    free(bytes);
    return 0;
}
