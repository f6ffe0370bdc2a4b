#include "distributed/redis/redis_address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ascii.h"

/* Room for the masked URL in a message; a longer one is cut, which hides nothing more. */
#define MASKED_URL_MAX 256

typedef enum { DECODE_OK, DECODE_BAD_ESCAPE, DECODE_NUL, DECODE_TOO_LONG } decode_result_t;

/*
 * Percent-decodes text[0, len) into out, a buffer of size bytes. %00 is refused: the value is
 * kept as a C string from here to the AUTH command.
 */
static decode_result_t percent_decode(const char *text, size_t len, char *out, size_t size)
{
    size_t written = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '%') {
            if (len - i < 3 || ascii_hex_digit(text[i + 1]) < 0 || ascii_hex_digit(text[i + 2]) < 0)
                return DECODE_BAD_ESCAPE;
            c = (char)(ascii_hex_digit(text[i + 1]) * 16 + ascii_hex_digit(text[i + 2]));
            if (c == '\0')
                return DECODE_NUL;
            i += 2;
        }
        if (written + 1 >= size)
            return DECODE_TOO_LONG;
        out[written++] = c;
    }
    out[written] = '\0';
    return DECODE_OK;
}

/* Decodes one part of the user info; returns 0, or -1 with what is wrong in problem. */
static int decode_part(const char *name, const char *text, size_t len, char *out, size_t size, char *problem,
                       size_t problem_size)
{
    switch (percent_decode(text, len, out, size)) {
    case DECODE_OK:
        return 0;
    case DECODE_BAD_ESCAPE:
        snprintf(problem, problem_size,
                 "the %s has a malformed percent escape: %% must be followed by two hex digits", name);
        break;
    case DECODE_NUL:
        snprintf(problem, problem_size, "the %s holds %%00, which is not allowed", name);
        break;
    case DECODE_TOO_LONG:
        snprintf(problem, problem_size, "the %s is longer than %zu bytes", name, size - 1);
        break;
    }
    return -1;
}

/* "[USERNAME]:PASSWORD" from userinfo[0, len) into address; 0, or -1 with problem set. */
static int parse_userinfo(const char *userinfo, size_t len, redis_address_t *address, char *problem,
                          size_t problem_size)
{
    const char *colon = memchr(userinfo, ':', len);
    if (colon == NULL) {
        snprintf(problem, problem_size,
                 "the part before '@' needs a ':' before the password (redis://:PASSWORD@HOST for the "
                 "default user)");
        return -1;
    }
    size_t username_len = (size_t)(colon - userinfo);
    if (decode_part("user name", userinfo, username_len, address->username, sizeof(address->username),
                    problem, problem_size) != 0 ||
        decode_part("password", colon + 1, len - username_len - 1, address->password,
                    sizeof(address->password), problem, problem_size) != 0)
        return -1;
    address->auth = true;
    return 0;
}

/* Writes the one line about a URL that does not parse, and returns -1. */
static int bad_url(const char *url, const char *problem, char *err, size_t err_size)
{
    char masked[MASKED_URL_MAX];
    redis_address_mask_url(url, masked, sizeof(masked));
    snprintf(err, err_size, "bad Redis URL \"%s\": %s (expected " REDIS_ADDRESS_URL_FORM ")", masked,
             problem);
    return -1;
}

int redis_address_parse(const char *url, redis_address_t *address, char *err, size_t err_size)
{
    static const char scheme[] = "redis://";
    *address = (redis_address_t){.port = 6379, .db = 0};
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return bad_url(url, "it does not start with redis://", err, err_size);
    const char *host = url + sizeof(scheme) - 1;
    /* The host, port and database cannot hold an '@', so the user info ends at the last one. */
    const char *at = strrchr(host, '@');
    if (at != NULL) {
        char problem[160];
        if (parse_userinfo(host, (size_t)(at - host), address, problem, sizeof(problem)) != 0)
            return bad_url(url, problem, err, err_size);
        host = at + 1;
    }
    size_t host_len = strcspn(host, ":/");
    if (host_len == 0)
        return bad_url(url, "no host", err, err_size);
    if (host_len > REDIS_ADDRESS_HOST_MAX)
        return bad_url(url, "the host name is too long", err, err_size);
    memcpy(address->host, host, host_len);
    address->host[host_len] = '\0';
    const char *rest = host + host_len;
    char *end;
    if (*rest == ':') {
        long port = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || port < 1 || port > 65535)
            return bad_url(url, "the port is not a number from 1 to 65535", err, err_size);
        address->port = (int)port;
        rest = end;
    }
    if (*rest == '/' && rest[1] != '\0') {
        long db = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || *end != '\0' || db < 0 || db > 65535)
            return bad_url(url, "the database is not a number from 0 to 65535", err, err_size);
        address->db = (int)db;
        rest = end;
    } else if (*rest == '/') {
        rest++;
    }
    if (*rest != '\0')
        return bad_url(url, "unexpected text after the port", err, err_size);
    return 0;
}

void redis_address_mask_url(const char *url, char *out, size_t out_size)
{
    /* A scheme is kept only when the text starts with one; otherwise all before the '@' is hidden. */
    size_t scheme_len = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    const char *userinfo =
        scheme_len > 0 && strncmp(url + scheme_len, "://", 3) == 0 ? url + scheme_len + 3 : url;
    const char *at = strrchr(userinfo, '@');
    if (at == NULL) {
        snprintf(out, out_size, "%s", url);
        return;
    }
    const char *colon = userinfo != url ? memchr(userinfo, ':', (size_t)(at - userinfo)) : NULL;
    /* The user name is no secret and tells which ACL user was meant; the password is. */
    const char *kept_end = colon != NULL ? colon + 1 : userinfo;
    snprintf(out, out_size, "%.*s***%s", (int)(kept_end - url), url, at);
}

int redis_address_auth_command(const redis_address_t *address, const char *argv[3], size_t lens[3])
{
    if (!address->auth)
        return 0;
    int argc = 0;
    argv[argc] = "AUTH";
    lens[argc++] = 4;
    if (address->username[0] != '\0') {
        argv[argc] = address->username;
        lens[argc++] = strlen(address->username);
    }
    argv[argc] = address->password;
    lens[argc++] = strlen(address->password);
    return argc;
}

/* One command of the connection's start, which must answer a status; what names it in err. */
static redis_connect_result_t start_command(redisContext *redis, const redis_address_t *address, int argc,
                                            const char **argv, const size_t *lens, const char *what,
                                            char *err, size_t err_size)
{
    redisReply *reply = redisCommandArgv(redis, argc, argv, lens);
    redis_connect_result_t result = REDIS_CONNECT_OK;
    if (reply == NULL) {
        snprintf(err, err_size, "redis %s:%d: %s", address->host, address->port, redis->errstr);
        result = REDIS_CONNECT_FAILED;
    } else if (reply->type != REDIS_REPLY_STATUS) {
        snprintf(err, err_size, "%s: %s", what,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        result = REDIS_CONNECT_REFUSED;
    }
    freeReplyObject(reply);
    return result;
}

redis_connect_result_t redis_address_connect(const redis_address_t *address, int timeout_ms,
                                             redisContext **redis, char *err, size_t err_size)
{
    *redis = NULL;
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *context = redisConnectWithTimeout(address->host, address->port, timeout);
    if (context == NULL || context->err != 0) {
        snprintf(err, err_size, "redis %s:%d: %s", address->host, address->port,
                 context != NULL ? context->errstr : "out of memory");
        redisFree(context);
        return REDIS_CONNECT_FAILED;
    }
    redisSetTimeout(context, timeout);
    const char *argv[3];
    size_t lens[3];
    int argc = redis_address_auth_command(address, argv, lens);
    redis_connect_result_t result = REDIS_CONNECT_OK;
    if (argc > 0)
        result =
            start_command(context, address, argc, argv, lens, "redis: authentication failed", err, err_size);
    if (result == REDIS_CONNECT_OK && address->db != 0) {
        char db[12], what[32];
        snprintf(db, sizeof(db), "%d", address->db);
        snprintf(what, sizeof(what), "redis SELECT %d", address->db);
        const char *select[] = {"SELECT", db};
        result = start_command(context, address, 2, select, NULL, what, err, err_size);
    }
    if (result != REDIS_CONNECT_OK) {
        redisFree(context);
        return result;
    }
    *redis = context;
    return REDIS_CONNECT_OK;
}
