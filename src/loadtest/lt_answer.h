/*
 * lt_answer: reads the few fields the storm needs from an API answer's body, without parsing the
 * whole JSON: `success`, `error.code`, `purchaseNo` (of data or of an ALREADY_PURCHASED error) and
 * `data.userId`.
 *
 * Each field is found by its quoted key followed by a colon, so a key's text inside a string value
 * (where JSON escapes every quote) is never mistaken for it; whitespace around the colon is allowed.
 * This is not a validator: an answer that is not JSON simply has no fields (success -1). Used on
 * every answer of the storm, so it allocates nothing; the results point into the body.
 */
#ifndef FLASHSALE_LT_ANSWER_H
#define FLASHSALE_LT_ANSWER_H

#include <stddef.h>

#define LT_ANSWER_CODE_MAX 48

typedef struct {
    int success;                   /* 1 true, 0 false, -1 missing (not an API answer) */
    char code[LT_ANSWER_CODE_MAX]; /* error.code, "" when missing; longer codes are cut */
    const char *purchase_no;       /* into the body, NULL when missing */
    size_t purchase_no_len;
    const char *user_id; /* into the body, NULL when missing */
    size_t user_id_len;
} lt_answer_t;

void lt_answer_scan(const char *body, size_t len, lt_answer_t *answer);

#endif
