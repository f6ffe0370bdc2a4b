#include "core/account.h"

#include <string.h>

#include "core/sale.h"

static bool is_username_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

bool account_username_is_valid(const char *username, size_t len)
{
    if (len < ACCOUNT_USERNAME_MIN || len > ACCOUNT_USERNAME_MAX)
        return false;
    for (size_t i = 0; i < len; ++i)
        if (!is_username_char(username[i]))
            return false;
    return true;
}

bool account_email_is_valid(const char *email, size_t len)
{
    const char *at;

    if (len < 3 || !sale_text_is_valid(email, len, ACCOUNT_EMAIL_MAX) || memchr(email, ' ', len) != NULL)
        return false;
    at = memchr(email, '@', len);
    return at != NULL && at != email && at != email + len - 1 &&
           memchr(at + 1, '@', len - (size_t)(at - email) - 1) == NULL;
}

bool account_password_is_valid(size_t len)
{
    return len >= ACCOUNT_PASSWORD_MIN && len <= ACCOUNT_PASSWORD_MAX;
}

bool account_full_name_is_valid(const char *full_name, size_t len)
{
    size_t characters = 0;

    if (!sale_text_is_valid(full_name, len, ACCOUNT_FULL_NAME_BYTES_MAX))
        return false;
    /* well-formed UTF-8 by now: every byte that is not a continuation byte starts a character */
    for (size_t i = 0; i < len; ++i)
        characters += ((unsigned char)full_name[i] & 0xC0) != 0x80;
    return characters <= ACCOUNT_FULL_NAME_MAX;
}

const char *account_role_name(account_role_t role)
{
    return role == ACCOUNT_ROLE_ADMIN ? "admin" : "buyer";
}

account_role_t account_role_from_name(const char *name)
{
    return strcmp(name, "admin") == 0 ? ACCOUNT_ROLE_ADMIN : ACCOUNT_ROLE_BUYER;
}
