#include "loadtest/lt_answer.h"

#include <string.h>

static const char *skip_space(const char *at, const char *end)
{
    while (at < end && (*at == ' ' || *at == '\t' || *at == '\r' || *at == '\n'))
        at++;
    return at;
}

/*
 * The position right after `"key":` (and the spaces after it) in body[from..end), or NULL. The
 * quoted key must not follow a backslash (then it is text inside a string) and must be followed by
 * a colon (otherwise it is a value).
 */
static const char *find_key(const char *from, const char *end, const char *quoted_key, size_t key_len)
{
    const char *at = from;

    while (at < end) {
        const char *hit = memmem(at, (size_t)(end - at), quoted_key, key_len);
        const char *after;
        if (hit == NULL)
            return NULL;
        after = skip_space(hit + key_len, end);
        if ((hit == from || hit[-1] != '\\') && after < end && *after == ':')
            return skip_space(after + 1, end);
        at = hit + 1;
    }
    return NULL;
}

/* A string value at `at`: its contents (escapes left as they are) or NULL. */
static const char *string_value(const char *at, const char *end, size_t *len)
{
    const char *start;

    if (at >= end || *at != '"')
        return NULL;
    start = ++at;
    while (at < end && *at != '"') {
        if (*at == '\\')
            at++;
        at++;
    }
    if (at >= end)
        return NULL;
    *len = (size_t)(at - start);
    return start;
}

#define KEY(text) text, sizeof(text) - 1

void lt_answer_scan(const char *body, size_t len, lt_answer_t *answer)
{
    const char *end = body + len, *at, *code;
    size_t code_len = 0;

    *answer = (lt_answer_t){.success = -1};
    if ((at = find_key(body, end, KEY("\"success\""))) == NULL)
        return;
    if (end - at >= 4 && memcmp(at, "true", 4) == 0)
        answer->success = 1;
    else if (end - at >= 5 && memcmp(at, "false", 5) == 0)
        answer->success = 0;
    else
        return;
    if (answer->success == 0 && (at = find_key(body, end, KEY("\"code\""))) != NULL &&
        (code = string_value(at, end, &code_len)) != NULL) {
        if (code_len >= LT_ANSWER_CODE_MAX)
            code_len = LT_ANSWER_CODE_MAX - 1;
        memcpy(answer->code, code, code_len);
        answer->code[code_len] = '\0';
    }
    if ((at = find_key(body, end, KEY("\"purchaseNo\""))) != NULL)
        answer->purchase_no = string_value(at, end, &answer->purchase_no_len);
    if (answer->success == 1 && (at = find_key(body, end, KEY("\"userId\""))) != NULL)
        answer->user_id = string_value(at, end, &answer->user_id_len);
}
