/*
 * config_identity: the flags of `flashsale serve` that decide who a buyer is and how often one may
 * ask — --auth and the --jwt-* keys, --login-queue, --rate-limit-ip/--rate-limit-user and
 * --trusted-proxy — each also an environment variable, parsed and checked here so that config.c
 * only routes them. Pure, like config.c: the key file is named here and read by main.c.
 */
#ifndef FLASHSALE_CONFIG_IDENTITY_H
#define FLASHSALE_CONFIG_IDENTITY_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/cidr.h"
#include "core/rate.h"

#define CONFIG_JWT_TTL_DEFAULT     3600
#define CONFIG_LOGIN_QUEUE_DEFAULT 64

/* getopt_long codes of these options, above config.c's own. */
enum {
    CONFIG_OPT_AUTH = 512,
    CONFIG_OPT_JWT_SECRET,
    CONFIG_OPT_JWT_PUBLIC_KEY,
    CONFIG_OPT_JWT_ISSUER,
    CONFIG_OPT_JWT_AUDIENCE,
    CONFIG_OPT_JWT_TTL,
    CONFIG_OPT_LOGIN_QUEUE,
    CONFIG_OPT_RATE_LIMIT_IP,
    CONFIG_OPT_RATE_LIMIT_USER,
    CONFIG_OPT_TRUSTED_PROXY,
    CONFIG_OPT_IDENTITY_END,
};

/* The rows of these options, for config.c's option table. */
#define CONFIG_IDENTITY_OPTIONS                                                                              \
    {"auth", required_argument, NULL, CONFIG_OPT_AUTH},                                                      \
        {"jwt-secret", required_argument, NULL, CONFIG_OPT_JWT_SECRET},                                      \
        {"jwt-public-key", required_argument, NULL, CONFIG_OPT_JWT_PUBLIC_KEY},                              \
        {"jwt-issuer", required_argument, NULL, CONFIG_OPT_JWT_ISSUER},                                      \
        {"jwt-audience", required_argument, NULL, CONFIG_OPT_JWT_AUDIENCE},                                  \
        {"jwt-ttl", required_argument, NULL, CONFIG_OPT_JWT_TTL},                                            \
        {"login-queue", required_argument, NULL, CONFIG_OPT_LOGIN_QUEUE},                                    \
        {"rate-limit-ip", required_argument, NULL, CONFIG_OPT_RATE_LIMIT_IP},                                \
        {"rate-limit-user", required_argument, NULL, CONFIG_OPT_RATE_LIMIT_USER},                            \
    {                                                                                                        \
        "trusted-proxy", required_argument, NULL, CONFIG_OPT_TRUSTED_PROXY                                   \
    }

/* The usage lines of these options, for config.c's usage text. */
#define CONFIG_IDENTITY_USAGE                                                                                \
    "  --auth MODE         who the buyer is: header (X-User-Id, the default) or jwt (a bearer token's\n"     \
    "                      sub) (AUTH_MODE)\n"                                                               \
    "  --jwt-secret SECRET HS256 secret, at least 32 bytes: verifies tokens in jwt mode and signs the\n"     \
    "                      tokens of /api/v1/auth/login, which exists only with it (JWT_SECRET)\n"           \
    "  --jwt-public-key FILE  PEM public key of an RSA (RS256) or EC P-256 (ES256) token issuer, jwt mode\n" \
    "                      (JWT_PUBLIC_KEY)\n"                                                               \
    "  --jwt-issuer ISS    tokens must carry iss ISS (JWT_ISSUER)\n"                                         \
    "  --jwt-audience AUD  tokens must name AUD in aud (JWT_AUDIENCE)\n"                                     \
    "  --jwt-ttl SECONDS   lifetime of a login token (JWT_TTL, default 3600)\n"                              \
    "  --login-queue N     password hashes waiting or running at once; more logins get 503 (LOGIN_QUEUE,\n"  \
    "                      default 64)\n"                                                                    \
    "  --rate-limit-ip RATE    purchases and logins per client IP: N/s or N/min[,burst=B] (RATE_LIMIT_IP;\n" \
    "                      default off; burst defaults to N)\n"                                              \
    "  --rate-limit-user RATE  the same per buyer (RATE_LIMIT_USER)\n"                                       \
    "  --trusted-proxy CIDR    a proxy whose X-Forwarded-For is believed; repeat it or give a comma list,\n" \
    "                      IPv4 or IPv6 (TRUSTED_PROXY; default none: the client IP is the socket peer)\n"

typedef struct {
    bool jwt;                   /* --auth jwt; header mode otherwise */
    const char *jwt_secret;     /* HS256: verifies tokens in jwt mode, signs login tokens */
    const char *jwt_public_key; /* a PEM file: RS256 or ES256 tokens, jwt mode only */
    const char *jwt_issuer;     /* tokens must carry this iss (and login tokens do) */
    const char *jwt_audience;   /* tokens must name this aud (and login tokens do) */
    int jwt_ttl_s;              /* lifetime of a login token */
    int login_queue;            /* password hashes waiting or running at once */
    rate_t rate_ip, rate_user;
    bool has_rate_ip, has_rate_user;
    cidr_list_t trusted_proxies;
} config_identity_t;

/* The strings of an option until config_identity_finish reads them (flag or environment). */
typedef struct {
    const char *auth, *jwt_ttl, *login_queue, *rate_ip, *rate_user;
    const char *trusted_proxy[CIDR_LIST_MAX];
    size_t trusted_proxy_count;
    bool trusted_proxy_from_flags; /* a flag was seen: the variable's list is dropped */
} config_identity_text_t;

/* Defaults, and every value from the environment. */
void config_identity_defaults(config_identity_t *identity, config_identity_text_t *text);
/* One option (code CONFIG_OPT_*) from the command line, which wins over its variable; -1 with one
 * line in err when the flag is repeated beyond what it allows. */
int config_identity_option(config_identity_t *identity, config_identity_text_t *text, int code,
                           const char *value, char *err, size_t err_size);
/* Parses and checks the whole set; 0, or -1 with one line in err. */
int config_identity_finish(config_identity_t *identity, const config_identity_text_t *text, char *err,
                           size_t err_size);

#endif
