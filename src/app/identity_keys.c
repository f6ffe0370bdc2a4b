#include "app/identity_keys.h"

#include <string.h>

#include "core/log.h"

int identity_keys_load(const config_t *config, identity_keys_t *keys, char *err, size_t err_size)
{
    const config_identity_t *identity = &config->identity;

    *keys = (identity_keys_t){0};
    if (identity->jwt_secret != NULL &&
        token_key_from_secret(identity->jwt_secret, strlen(identity->jwt_secret), &keys->secret, err,
                              err_size) != 0)
        return -1;
    if (identity->jwt_public_key != NULL &&
        token_key_load(identity->jwt_public_key, false, &keys->public_key, err, err_size) != 0) {
        identity_keys_free(keys);
        return -1;
    }
    return 0;
}

void identity_keys_free(identity_keys_t *keys)
{
    token_key_free(keys->secret);
    token_key_free(keys->public_key);
    *keys = (identity_keys_t){0};
}

api_options_t identity_keys_api_options(const config_t *config, const identity_keys_t *keys)
{
    const config_identity_t *identity = &config->identity;

    return (api_options_t){
        .admin_key = config->admin_key,
        .jwt = identity->jwt,
        .verify_key = keys->public_key != NULL ? keys->public_key : keys->secret,
        .issuer = identity->jwt_issuer,
        .audience = identity->jwt_audience,
        .signing_key = keys->secret,
        .token_ttl_s = identity->jwt_ttl_s,
        .login_queue = (size_t)identity->login_queue,
        .rate_per_ip = identity->has_rate_ip ? &identity->rate_ip : NULL,
        .rate_per_user = identity->has_rate_user ? &identity->rate_user : NULL,
        .trusted_proxies = &identity->trusted_proxies,
    };
}

void identity_keys_log(const config_t *config, const identity_keys_t *keys)
{
    const config_identity_t *identity = &config->identity;
    char ip[48] = "off", user[48] = "off";

    if (identity->has_rate_ip)
        rate_format(&identity->rate_ip, ip, sizeof(ip));
    if (identity->has_rate_user)
        rate_format(&identity->rate_user, user, sizeof(user));
    log_info("app", "buyers: %s%s; accounts %s; rate limits per IP %s, per buyer %s; %zu trusted proxies",
             identity->jwt ? "bearer tokens, " : "X-User-Id",
             !identity->jwt             ? ""
             : keys->public_key != NULL ? token_alg_name(token_key_alg(keys->public_key))
                                        : "HS256",
             keys->secret != NULL ? "on" : "off", ip, user, identity->trusted_proxies.count);
}
