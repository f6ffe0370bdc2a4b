/*
 * http_json: JSON written straight into a strbuf — strings, times, and the API's envelopes.
 *
 * Replies are small and fixed in shape, so they are written field by field rather than built as
 * a jansson tree and serialised: the purchase path then allocates nothing. Requests are parsed
 * with jansson (http_request.c). Everything written here is valid JSON for any input string:
 * strings are escaped, invalid UTF-8 is replaced. The API's own objects are written by
 * src/api/render.c with these.
 */
#ifndef FLASHSALE_HTTP_JSON_H
#define FLASHSALE_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

/* A quoted, escaped JSON string. */
void http_json_string(strbuf_t *out, const char *text, size_t len);
/* A quoted ISO-8601 time, "2026-02-15T10:00:00.000Z". */
void http_json_time(strbuf_t *out, int64_t ms);

/* {"success":true,"data": — the caller writes the data and then http_json_close_success. */
void http_json_open_success(strbuf_t *out);
void http_json_close_success(strbuf_t *out);

/*
 * A whole error envelope. field (validation errors) and purchase_no (ALREADY_PURCHASED) are
 * added to the error object when not NULL.
 */
void http_json_error(strbuf_t *out, const char *code, const char *message, const char *field,
                     const char *purchase_no);

#endif
