#include "loadtest/lt_jwt.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"

#define KEY_FILE_MAX (64 * 1024)

/* What every minting thread shares; each thread fills its own slice of buyers. */
typedef struct {
    const lt_jwt_config_t *config;
    jwt_alg_t algorithm;
    const unsigned char *key;
    int key_len;
    int64_t now;
} mint_job_t;

typedef struct {
    const mint_job_t *job;
    uint64_t first, end; /* buyers [first, end) */
    strbuf_t tokens;     /* back to back */
    uint32_t *lengths;   /* end - first */
    int failed;          /* 0, or the libjwt errno */
    bool started;        /* on its own thread (else it ran on the caller's) */
    pthread_t thread;
} mint_slice_t;

/* Reads a PEM key file (at most KEY_FILE_MAX bytes) and finds its algorithm. */
static int read_private_key(const char *path, strbuf_t *pem, jwt_alg_t *algorithm, const char **name,
                            char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    BIO *bio;
    EVP_PKEY *key;
    int result = -1;

    if (file == NULL) {
        snprintf(err, err_size, "--jwt-private-key %s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), file)) > 0 && pem->len <= KEY_FILE_MAX)
        strbuf_append(pem, chunk, n);
    fclose(file);
    if (pem->failed || pem->len > KEY_FILE_MAX) {
        snprintf(err, err_size, "--jwt-private-key %s: not a PEM private key (too large)", path);
        return -1;
    }
    bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (key == NULL) {
        snprintf(err, err_size, "--jwt-private-key %s: not a PEM private key (or it wants a passphrase)",
                 path);
    } else if (EVP_PKEY_base_id(key) == EVP_PKEY_RSA) {
        *algorithm = JWT_ALG_RS256;
        *name = "RS256";
        result = 0;
    } else if (EVP_PKEY_base_id(key) == EVP_PKEY_EC) {
        char group[64] = "";
        size_t group_len = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) == 1 &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
            *algorithm = JWT_ALG_ES256;
            *name = "ES256";
            result = 0;
        } else {
            snprintf(err, err_size, "--jwt-private-key %s: an EC key on %s; ES256 needs P-256", path,
                     group[0] ? group : "an unknown curve");
        }
    } else {
        snprintf(err, err_size, "--jwt-private-key %s: an RSA (RS256) or P-256 EC (ES256) key is needed",
                 path);
    }
    EVP_PKEY_free(key);
    BIO_free(bio);
    return result;
}

/* One token for buyer, appended to out; 0 or the libjwt error. */
static int mint_one(const mint_job_t *job, uint64_t buyer, strbuf_t *out, uint32_t *len)
{
    const lt_jwt_config_t *config = job->config;
    char sub[256];
    jwt_t *jwt = NULL;
    char *token = NULL;
    int error;

    snprintf(sub, sizeof(sub), "%s-%llu", config->user_prefix, (unsigned long long)buyer);
    if ((error = jwt_new(&jwt)) != 0)
        return error;
    if ((error = jwt_add_grant(jwt, "sub", sub)) == 0 &&
        (error = jwt_add_grant_int(jwt, "iat", (long)job->now)) == 0 &&
        (error = jwt_add_grant_int(jwt, "exp", (long)(job->now + config->lifetime_seconds))) == 0 &&
        (config->issuer == NULL || (error = jwt_add_grant(jwt, "iss", config->issuer)) == 0) &&
        (config->audience == NULL || (error = jwt_add_grant(jwt, "aud", config->audience)) == 0) &&
        (error = jwt_set_alg(jwt, job->algorithm, job->key, job->key_len)) == 0) {
        token = jwt_encode_str(jwt);
        if (token == NULL)
            error = errno != 0 ? errno : EINVAL;
    }
    if (token != NULL) {
        size_t token_len = strlen(token);
        if (token_len > LT_JWT_TOKEN_MAX) {
            error = E2BIG;
        } else {
            strbuf_append(out, token, token_len);
            *len = (uint32_t)token_len;
            error = out->failed ? ENOMEM : 0;
        }
        free(token);
    }
    jwt_free(jwt);
    return error;
}

static void *mint_slice(void *arg)
{
    mint_slice_t *slice = arg;
    for (uint64_t buyer = slice->first; buyer < slice->end && slice->failed == 0; buyer++)
        slice->failed = mint_one(slice->job, buyer, &slice->tokens, &slice->lengths[buyer - slice->first]);
    return NULL;
}

int lt_jwt_mint(const lt_jwt_config_t *config, lt_jwt_tokens_t *tokens, char *err, size_t err_size)
{
    mint_job_t job = {.config = config, .now = (int64_t)time(NULL)};
    strbuf_t pem;
    int threads = config->threads < 1 ? 1 : config->threads, result = -1;
    mint_slice_t *slices = NULL;
    uint64_t per_thread, buyer = 0;
    size_t total = 0;

    *tokens = (lt_jwt_tokens_t){0};
    strbuf_init(&pem);
    if (config->buyers > LT_JWT_BUYERS_MAX) {
        snprintf(err, err_size, "--buyers %llu: with JWT at most %d buyers (every token is kept)",
                 (unsigned long long)config->buyers, LT_JWT_BUYERS_MAX);
        return -1;
    }
    if (config->secret != NULL) {
        job.algorithm = JWT_ALG_HS256;
        job.key = (const unsigned char *)config->secret;
        job.key_len = (int)strlen(config->secret);
        tokens->algorithm = "HS256";
    } else if (read_private_key(config->private_key_file, &pem, &job.algorithm, &tokens->algorithm, err,
                                err_size) == 0) {
        job.key = (const unsigned char *)pem.data;
        job.key_len = (int)pem.len;
    } else {
        goto Exit;
    }
    if ((uint64_t)threads > config->buyers)
        threads = (int)config->buyers;
    per_thread = (config->buyers + (uint64_t)threads - 1) / (uint64_t)threads;
    slices = calloc((size_t)threads, sizeof(*slices));
    tokens->offsets = malloc((config->buyers + 1) * sizeof(uint64_t));
    if (slices == NULL || tokens->offsets == NULL) {
        snprintf(err, err_size, "out of memory for %llu tokens", (unsigned long long)config->buyers);
        goto Exit;
    }
    for (int t = 0; t < threads; t++) {
        slices[t].job = &job;
        slices[t].first = buyer;
        slices[t].end = buyer + per_thread < config->buyers ? buyer + per_thread : config->buyers;
        buyer = slices[t].end;
        strbuf_init(&slices[t].tokens);
        slices[t].lengths = calloc(slices[t].end - slices[t].first + 1, sizeof(uint32_t));
        if (slices[t].lengths == NULL)
            slices[t].failed = ENOMEM;
        else if (pthread_create(&slices[t].thread, NULL, mint_slice, &slices[t]) == 0)
            slices[t].started = true;
        else
            mint_slice(&slices[t]);
    }
    for (int t = 0; t < threads; t++)
        if (slices[t].started)
            pthread_join(slices[t].thread, NULL);
    for (int t = 0; t < threads; t++) {
        if (slices[t].failed != 0) {
            snprintf(err, err_size, "cannot sign a %s token: %s", tokens->algorithm,
                     strerror(slices[t].failed));
            goto Exit;
        }
        total += slices[t].tokens.len;
    }
    if ((tokens->arena = malloc(total > 0 ? total : 1)) == NULL) {
        snprintf(err, err_size, "out of memory for %llu tokens", (unsigned long long)config->buyers);
        goto Exit;
    }
    for (int t = 0; t < threads; t++) {
        if (slices[t].tokens.len > 0)
            memcpy(tokens->arena + tokens->arena_len, slices[t].tokens.data, slices[t].tokens.len);
        for (uint64_t b = slices[t].first; b < slices[t].end; b++) {
            tokens->offsets[b] = tokens->arena_len;
            tokens->arena_len += slices[t].lengths[b - slices[t].first];
        }
    }
    tokens->offsets[config->buyers] = tokens->arena_len;
    tokens->count = config->buyers;
    result = 0;
Exit:
    for (int t = 0; slices != NULL && t < threads; t++) {
        strbuf_dispose(&slices[t].tokens);
        free(slices[t].lengths);
    }
    free(slices);
    strbuf_dispose(&pem);
    if (result != 0)
        lt_jwt_tokens_dispose(tokens);
    return result;
}

void lt_jwt_tokens_dispose(lt_jwt_tokens_t *tokens)
{
    free(tokens->arena);
    free(tokens->offsets);
    *tokens = (lt_jwt_tokens_t){0};
}
