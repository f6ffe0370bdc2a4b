/*
 * account: a built-in buyer account (`POST /api/v1/auth/register`) and the rules of its fields.
 *
 * Accounts serve teams without an identity provider: a username and a password (stored only as
 * an Argon2id hash, see auth/password_pool.h) give a token whose `sub` is the username. Usernames
 * and emails are unique regardless of ASCII case, so "Alice" cannot register beside "alice" and
 * then buy as a different buyer; logging in with either spelling yields the stored one. Pure logic;
 * both engines store accounts (the embedded one in SQLite, the distributed one in PostgreSQL).
 */
#ifndef FLASHSALE_ACCOUNT_H
#define FLASHSALE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCOUNT_USERNAME_MIN 3
#define ACCOUNT_USERNAME_MAX 32
#define ACCOUNT_EMAIL_MAX    254
#define ACCOUNT_PASSWORD_MIN 8
#define ACCOUNT_PASSWORD_MAX 128
/* characters; each may take up to four bytes of UTF-8 */
#define ACCOUNT_FULL_NAME_MAX       100
#define ACCOUNT_FULL_NAME_BYTES_MAX (ACCOUNT_FULL_NAME_MAX * 4)
/* libsodium's crypto_pwhash_STRBYTES, with its NUL */
#define ACCOUNT_HASH_MAX 128

typedef enum {
    ACCOUNT_ROLE_BUYER,
    ACCOUNT_ROLE_ADMIN,
} account_role_t;

typedef struct {
    char username[ACCOUNT_USERNAME_MAX + 1];
    char email[ACCOUNT_EMAIL_MAX + 1];
    char full_name[ACCOUNT_FULL_NAME_BYTES_MAX + 1];
    char password_hash[ACCOUNT_HASH_MAX];
    account_role_t role;
    int64_t created_ms;
} account_t;

/* 3-32 of [A-Za-z0-9_.-]. */
bool account_username_is_valid(const char *username, size_t len);
/* 3-254 bytes of UTF-8 without spaces or control characters, with exactly one @ that has text on
 * both sides. */
bool account_email_is_valid(const char *email, size_t len);
/* 8-128 bytes; anything else is the owner's business. */
bool account_password_is_valid(size_t len);
/* 1-100 characters of UTF-8 without control characters. */
bool account_full_name_is_valid(const char *full_name, size_t len);

/* "buyer" or "admin". */
const char *account_role_name(account_role_t role);
/* The role of a stored name; anything but "admin" is a buyer. */
account_role_t account_role_from_name(const char *name);

#endif
