/* The PostgreSQL URL check (libpq's parser behind it) and the masking that shows a URL: any text. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "distributed/postgres/pg_url.h"
#include "fuzz.h"

/* Every quoted piece of a message is "..." or one punctuation mark: no piece of the URL. */
static bool quotes_nothing(const char *text)
{
    for (const char *c = strchr(text, '"'); c != NULL; c = strchr(c, '"')) {
        const char *close = strchr(c + 1, '"');
        if (close == NULL)
            return false;
        size_t len = (size_t)(close - c - 1);
        if (!(len == 3 && strncmp(c + 1, "...", 3) == 0) && !(len == 1 && strchr("]=:/@?&", c[1]) != NULL))
            return false;
        c = close + 1;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1), err[512], small_err[24], masked[64], masked_big[4200];

    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    pg_url_mask(url, masked_big, sizeof(masked_big));
    FUZZ_CHECK(memchr(masked_big, '\0', sizeof(masked_big)) != NULL);
    for (const char *c = masked_big; *c != '\0'; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    /* masking only ever takes away (the *** and ?... stand for at least as many bytes, bar 3) */
    FUZZ_CHECK(strlen(masked_big) <= strlen(url) + 6 || strcmp(masked_big, "(key=value pairs)") == 0);
    pg_url_mask(url, masked, sizeof(masked));
    FUZZ_CHECK(memchr(masked, '\0', sizeof(masked)) != NULL);

    if (pg_url_check(url, err, sizeof(err)) == 0) {
        /* what passes is what libpq reads, and has no line break to forge a log line with */
        char *parse_error = NULL;
        PQconninfoOption *options = PQconninfoParse(url, &parse_error);
        FUZZ_CHECK(options != NULL);
        PQconninfoFree(options);
        PQfreemem(parse_error);
        FUZZ_CHECK(url[0] != '\0' && strpbrk(url, "\r\n") == NULL);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        FUZZ_CHECK(strncmp(err, "bad PostgreSQL URL \"", 20) == 0 && strchr(err, '\n') == NULL);
        if (strlen(err) < sizeof(err) - 1) {
            /* the masked URL, then libpq's problem, which quotes no piece of the URL */
            char masked_err[PG_URL_MASK_MAX];
            pg_url_mask(url, masked_err, sizeof(masked_err));
            size_t len = strlen(masked_err);
            FUZZ_CHECK(strncmp(err + 20, masked_err, len) == 0 && strncmp(err + 20 + len, "\": ", 3) == 0);
            FUZZ_CHECK(quotes_nothing(err + 20 + len + 3));
        }
        FUZZ_CHECK(pg_url_check(url, small_err, sizeof(small_err)) == -1);
        FUZZ_CHECK(memchr(small_err, '\0', sizeof(small_err)) != NULL);
    }
    free(url);
    return 0;
}
