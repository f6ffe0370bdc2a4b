#include "distributed/postgres/pg_url.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The length of url's "SCHEME://", or 0 when it does not start with one. */
static size_t scheme_prefix_len(const char *url)
{
    size_t len = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return len > 0 && strncmp(url + len, "://", 3) == 0 ? len + 3 : 0;
}

/* Whether libpq reads url as a URL rather than KEY=VALUE pairs. */
static bool is_postgres_uri(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

void pg_url_mask(const char *url, char *out, size_t out_size)
{
    size_t prefix = scheme_prefix_len(url);
    if (prefix == 0) {
        snprintf(out, out_size, "%s", url[0] == '\0' ? "" : "(key=value pairs)");
        return;
    }
    const char *userinfo = url + prefix;
    /*
     * libpq ends the user info at its first '@' or '/', but a password typed with a raw '@' or '/'
     * reaches further: everything up to the last '@' is hidden, which may hide more than the password,
     * never less. The user name (up to the first ':') is no secret and tells who was meant.
     */
    const char *at = strrchr(userinfo, '@');
    const char *rest = userinfo;
    size_t kept = prefix;
    bool masked = false;
    if (at != NULL) {
        const char *colon = memchr(userinfo, ':', (size_t)(at - userinfo));
        kept = colon != NULL ? (size_t)(colon + 1 - url) : prefix;
        rest = at;
        masked = true;
    }
    /* a query may hold password=..., under any percent-encoding of its name; whatever follows a
     * control character is no part of a URL libpq reads, and stays out of the one line too */
    size_t rest_len = 0;
    while (rest[rest_len] != '\0' && rest[rest_len] != '?' && (unsigned char)rest[rest_len] >= 0x20 &&
           rest[rest_len] != 0x7f)
        rest_len++;
    const char *cut = rest[rest_len] == '\0' ? "" : rest[rest_len] == '?' ? "?..." : "...";
    snprintf(out, out_size, "%.*s%s%.*s%s", (int)kept, url, masked ? "***" : "", (int)rest_len, rest, cut);
    /* the user name too is one line */
    for (char *c = out; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
}

/* Appends text[0, len) to out, which holds *n bytes, as far as it fits. */
static void append(char *out, size_t out_size, size_t *n, const char *text, size_t len)
{
    for (size_t i = 0; i < len && *n + 1 < out_size; i++)
        out[(*n)++] = text[i];
    out[*n] = '\0';
}

/* Whether a piece libpq quotes from url (raw or percent-decoded) may itself hold a '"'. */
static bool may_quote_quotes(const char *url)
{
    for (const char *c = url; *c != '\0'; c++) {
        if (*c == '"' || (c[0] == '%' && c[1] == '2' && c[2] == '2'))
            return true;
    }
    return false;
}

/*
 * Writes libpq's message into out without the pieces of the URL it quotes, any of which may be the
 * password: each "quoted piece" becomes "..." unless it is one punctuation mark, such as the "]" or
 * "=" libpq was looking for. When a piece may itself hold a '"', the quotes cannot be paired, and all
 * from the first '"' to the last goes; a piece with a line break (decoded from %0A) leaves nothing
 * of libpq's message that can be told apart from it.
 */
static void describe_problem(const char *url, const char *message, char *out, size_t out_size)
{
    size_t len = strlen(message), n = 0;
    if (len > 0 && message[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)message[i] < 0x20 || message[i] == 0x7f) {
            snprintf(out, out_size, "libpq cannot parse it");
            return;
        }
    }
    out[0] = '\0';
    const char *end = message + len, *first = memchr(message, '"', len);
    if (first != NULL && may_quote_quotes(url)) {
        const char *last = first;
        for (const char *c = first + 1; c < end; c++) {
            if (*c == '"')
                last = c;
        }
        append(out, out_size, &n, message, (size_t)(first - message));
        append(out, out_size, &n, "\"...\"", 5);
        if (last != first)
            append(out, out_size, &n, last + 1, (size_t)(end - last - 1));
        return;
    }
    for (const char *c = message; c < end; c++) {
        if (*c != '"') {
            append(out, out_size, &n, c, 1);
            continue;
        }
        const char *close = memchr(c + 1, '"', (size_t)(end - c - 1));
        if (close == NULL)
            close = end;
        bool one_mark = close == c + 2 && strchr("]=:/@?&", c[1]) != NULL;
        append(out, out_size, &n, "\"", 1);
        append(out, out_size, &n, one_mark ? c + 1 : "...", one_mark ? 1 : 3);
        append(out, out_size, &n, "\"", 1);
        if (close == end)
            return;
        c = close;
    }
}

static int bad_url(const char *url, const char *problem, char *err, size_t err_size)
{
    char masked[PG_URL_MASK_MAX];
    pg_url_mask(url, masked, sizeof(masked));
    snprintf(err, err_size, "bad PostgreSQL URL \"%s\": %s (expected " PG_URL_FORM ")", masked, problem);
    return -1;
}

int pg_url_check(const char *url, char *err, size_t err_size)
{
    /* libpq reads "" as "every default" (the local socket, the OS user): never what an operator meant */
    if (url[0] == '\0')
        return bad_url(url, "it is empty", err, err_size);
    for (const unsigned char *c = (const unsigned char *)url; *c != '\0'; c++) {
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            return bad_url(url, "it holds a control character", err, err_size);
    }
    if (scheme_prefix_len(url) > 0 && !is_postgres_uri(url))
        return bad_url(url, "the scheme is not postgresql:// or postgres://", err, err_size);
    char *parse_error = NULL;
    PQconninfoOption *options = PQconninfoParse(url, &parse_error);
    if (options != NULL) {
        PQconninfoFree(options);
        return 0;
    }
    char problem[256];
    describe_problem(url, parse_error != NULL ? parse_error : "out of memory", problem, sizeof(problem));
    PQfreemem(parse_error);
    return bad_url(url, problem, err, err_size);
}
