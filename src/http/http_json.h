/*
 * http_json: the API's JSON bodies, written straight into a strbuf.
 *
 * Replies are small and fixed in shape, so they are written field by field rather than built as
 * a jansson tree and serialised: the purchase path then allocates nothing. Requests are parsed
 * with jansson (see http_api.c). Everything written here is valid JSON for any input string:
 * strings are escaped, invalid UTF-8 is replaced.
 */
#ifndef FLASHSALE_HTTP_JSON_H
#define FLASHSALE_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sale.h"
#include "core/strbuf.h"

/* A quoted, escaped JSON string. */
void http_json_string(strbuf_t *out, const char *text, size_t len);
/* A quoted ISO-8601 time, "2026-02-15T10:00:00.000Z". */
void http_json_time(strbuf_t *out, int64_t ms);

/* The public sale object; with admin set, the product object (adds currentStock, totalPurchases, createdAt).
 */
void http_json_sale(strbuf_t *out, const sale_t *sale, int64_t now_ms, bool admin);
void http_json_purchase(strbuf_t *out, const sale_purchase_t *purchase);

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
