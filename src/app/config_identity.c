#include "app/config_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"

static const char *env_or_null(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

void config_identity_defaults(config_identity_t *identity, config_identity_text_t *text)
{
    *identity = (config_identity_t){
        .jwt_secret = env_or_null("JWT_SECRET"),
        .jwt_public_key = env_or_null("JWT_PUBLIC_KEY"),
        .jwt_issuer = env_or_null("JWT_ISSUER"),
        .jwt_audience = env_or_null("JWT_AUDIENCE"),
        .jwt_ttl_s = CONFIG_JWT_TTL_DEFAULT,
        .login_queue = CONFIG_LOGIN_QUEUE_DEFAULT,
    };
    *text = (config_identity_text_t){
        .auth = env_or_null("AUTH_MODE"),
        .jwt_ttl = env_or_null("JWT_TTL"),
        .login_queue = env_or_null("LOGIN_QUEUE"),
        .rate_ip = env_or_null("RATE_LIMIT_IP"),
        .rate_user = env_or_null("RATE_LIMIT_USER"),
    };
    if ((text->trusted_proxy[0] = env_or_null("TRUSTED_PROXY")) != NULL)
        text->trusted_proxy_count = 1;
}

int config_identity_option(config_identity_t *identity, config_identity_text_t *text, int code,
                           const char *value, char *err, size_t err_size)
{
    switch (code) {
    case CONFIG_OPT_AUTH:
        text->auth = value;
        break;
    case CONFIG_OPT_JWT_SECRET:
        identity->jwt_secret = value;
        break;
    case CONFIG_OPT_JWT_PUBLIC_KEY:
        identity->jwt_public_key = value;
        break;
    case CONFIG_OPT_JWT_ISSUER:
        identity->jwt_issuer = value;
        break;
    case CONFIG_OPT_JWT_AUDIENCE:
        identity->jwt_audience = value;
        break;
    case CONFIG_OPT_JWT_TTL:
        text->jwt_ttl = value;
        break;
    case CONFIG_OPT_LOGIN_QUEUE:
        text->login_queue = value;
        break;
    case CONFIG_OPT_RATE_LIMIT_IP:
        text->rate_ip = value;
        break;
    case CONFIG_OPT_RATE_LIMIT_USER:
        text->rate_user = value;
        break;
    case CONFIG_OPT_TRUSTED_PROXY:
        /* the flags replace the variable's list; each adds to the others */
        if (!text->trusted_proxy_from_flags)
            text->trusted_proxy_count = 0;
        text->trusted_proxy_from_flags = true;
        if (text->trusted_proxy_count == CIDR_LIST_MAX) {
            snprintf(err, err_size, "--trusted-proxy is given more than %d times", CIDR_LIST_MAX);
            return -1;
        }
        text->trusted_proxy[text->trusted_proxy_count++] = value;
        break;
    default:
        snprintf(err, err_size, "unknown identity option");
        return -1;
    }
    return 0;
}

/* Parses a decimal integer in [min, max] with nothing after it. */
static int parse_int(const char *text, int min, int max, int *out)
{
    char *end;
    long value;

    if (text == NULL || text[0] == '\0')
        return -1;
    value = strtol(text, &end, 10);
    if (*end != '\0' || value < min || value > max)
        return -1;
    *out = (int)value;
    return 0;
}

static int parse_rate(const char *name, const char *text, rate_t *rate, bool *present, char *err,
                      size_t err_size)
{
    const char *reason;

    if (text == NULL)
        return 0;
    if (rate_parse(text, rate, &reason) != 0) {
        snprintf(err, err_size, "%s '%s' %s", name, text, reason);
        return -1;
    }
    *present = true;
    return 0;
}

int config_identity_finish(config_identity_t *identity, const config_identity_text_t *text, char *err,
                           size_t err_size)
{
    const char *reason;

    if (text->auth != NULL && strcmp(text->auth, "jwt") != 0 && strcmp(text->auth, "header") != 0) {
        snprintf(err, err_size, "auth mode must be header or jwt, got '%s'", text->auth);
        return -1;
    }
    identity->jwt = text->auth != NULL && strcmp(text->auth, "jwt") == 0;
    if (identity->jwt_secret != NULL && strlen(identity->jwt_secret) < TOKEN_SECRET_MIN) {
        snprintf(err, err_size, "the JWT secret must be at least %d bytes (HS256), got %zu", TOKEN_SECRET_MIN,
                 strlen(identity->jwt_secret));
        return -1;
    }
    if (identity->jwt && identity->jwt_secret == NULL && identity->jwt_public_key == NULL) {
        snprintf(err, err_size, "jwt mode needs a key: --jwt-secret SECRET (HS256) or --jwt-public-key FILE");
        return -1;
    }
    if (identity->jwt_secret != NULL && identity->jwt_public_key != NULL) {
        snprintf(err, err_size,
                 "give --jwt-secret or --jwt-public-key, not both: tokens are verified with one key");
        return -1;
    }
    if (!identity->jwt && identity->jwt_public_key != NULL) {
        snprintf(err, err_size, "--jwt-public-key needs --auth jwt");
        return -1;
    }
    if (text->jwt_ttl != NULL && parse_int(text->jwt_ttl, 60, 30 * 24 * 3600, &identity->jwt_ttl_s) != 0) {
        snprintf(err, err_size, "jwt ttl must be a number of seconds from 60 to 2592000, got '%s'",
                 text->jwt_ttl);
        return -1;
    }
    if (text->login_queue != NULL && parse_int(text->login_queue, 1, 100000, &identity->login_queue) != 0) {
        snprintf(err, err_size, "login queue must be a number from 1 to 100000, got '%s'", text->login_queue);
        return -1;
    }
    if (parse_rate("--rate-limit-ip", text->rate_ip, &identity->rate_ip, &identity->has_rate_ip, err,
                   err_size) != 0 ||
        parse_rate("--rate-limit-user", text->rate_user, &identity->rate_user, &identity->has_rate_user, err,
                   err_size) != 0)
        return -1;
    identity->trusted_proxies.count = 0;
    for (size_t i = 0; i < text->trusted_proxy_count; ++i) {
        if (cidr_list_add(&identity->trusted_proxies, text->trusted_proxy[i], &reason) != 0) {
            snprintf(err, err_size, "--trusted-proxy '%s' %s", text->trusted_proxy[i], reason);
            return -1;
        }
    }
    return 0;
}
