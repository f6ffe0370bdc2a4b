/*
 * redis_address: where Redis is and how to log in to it, read from a redis:// URL, and the
 * blocking connection made from it.
 *
 * The URL is redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB], as other Redis clients read it:
 * redis://:secret@cache for the default user of a requirepass server, redis://alice:secret@cache for
 * an ACL user. The user name and the password are percent-decoded (%40 is '@', %3A ':', %25 '%').
 * HOST[:PORT][/DB] is whatever follows the last '@', so a password may also hold a raw '@', ':' or
 * '/'; a user name ends at the first ':'.
 *
 * The password must never reach a log or an error message: a URL is shown only through
 * redis_address_mask_url, and every message about a connection names the host and port alone.
 */
#ifndef FLASHSALE_REDIS_ADDRESS_H
#define FLASHSALE_REDIS_ADDRESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define REDIS_ADDRESS_HOST_MAX     255
#define REDIS_ADDRESS_USERNAME_MAX 255
#define REDIS_ADDRESS_PASSWORD_MAX 511
/* For messages about a URL that does not parse. */
#define REDIS_ADDRESS_URL_FORM "redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB]"

typedef struct {
    char host[REDIS_ADDRESS_HOST_MAX + 1];
    int port; /* 6379 by default */
    int db;   /* 0 by default */
    /* Whether every connection starts with AUTH: the URL had user info, even an empty password. */
    bool auth;
    char username[REDIS_ADDRESS_USERNAME_MAX + 1]; /* "" for the default user (AUTH PASSWORD) */
    char password[REDIS_ADDRESS_PASSWORD_MAX + 1];
} redis_address_t;

/* Returns 0, or -1 with one line in err: the masked URL, what is wrong with it and the expected form. */
int redis_address_parse(const char *url, redis_address_t *address, char *err, size_t err_size);

/*
 * Writes url into out with the user info's password replaced by "***" (redis://:***@cache:6379,
 * redis://alice:***@cache). Works on any text, parseable or not, so that a malformed URL can be
 * shown too: everything between "://" (the start, when there is no scheme) and the last '@' is
 * taken for user info.
 */
void redis_address_mask_url(const char *url, char *out, size_t out_size);

/*
 * The AUTH command of the address into argv and lens (pointing into address), for hiredis'
 * *CommandArgv; returns its argument count, 0 when the address needs no AUTH.
 */
int redis_address_auth_command(const redis_address_t *address, const char *argv[3], size_t lens[3]);

/* What a blocking connection attempt came to. */
typedef enum {
    REDIS_CONNECT_OK = 0,
    REDIS_CONNECT_FAILED = -1,  /* unreachable, timed out or cut: worth retrying */
    REDIS_CONNECT_REFUSED = -2, /* Redis answered but refused AUTH or SELECT: the configuration is wrong */
} redis_connect_result_t;

/*
 * Connects a blocking context with both connect and command timeouts, then sends AUTH and SELECT
 * as the address asks. On success *redis is the context (caller frees with redisFree); otherwise
 * it is NULL and err holds one line, "redis: authentication failed: ..." when AUTH was refused.
 */
redis_connect_result_t redis_address_connect(const redis_address_t *address, int timeout_ms,
                                             redisContext **redis, char *err, size_t err_size);

#endif
