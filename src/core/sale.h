/*
 * sale: the flash-sale domain model, free of I/O.
 *
 * A sale is a product with a stock and a time window. Everything here is pure logic over plain
 * structs — the state machine (UPCOMING -> ACTIVE -> ENDED), the order in which a purchase is
 * checked, and the validation of what an administrator may write — so that both engines decide
 * exactly alike and the rules can be unit-tested without a server.
 */
#ifndef FLASHSALE_SALE_H
#define FLASHSALE_SALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SALE_SKU_MAX          64
#define SALE_PRODUCT_NAME_MAX 255
#define SALE_USER_ID_MAX      255
/* Bounded so a sale's buyers fit buyer_index's 32-bit positions and stock sums cannot overflow. */
#define SALE_INITIAL_STOCK_MAX 1000000000
/* "FS" + two 20-digit numbers + "-" + NUL */
#define SALE_PURCHASE_NO_MAX 48

typedef enum {
    SALE_STATE_UPCOMING,
    SALE_STATE_ACTIVE,
    SALE_STATE_ENDED,
} sale_state_t;

typedef enum {
    SALE_END_NONE,
    SALE_END_SOLD_OUT,
    SALE_END_TIME_EXPIRED,
} sale_end_reason_t;

/* The outcome of one purchase attempt, in the order the checks are made. */
typedef enum {
    SALE_OUTCOME_SUCCESS,
    SALE_OUTCOME_NOT_FOUND,
    SALE_OUTCOME_ALREADY_PURCHASED,
    SALE_OUTCOME_NOT_ACTIVE,
    SALE_OUTCOME_SOLD_OUT,
    SALE_OUTCOME_COUNT
} sale_outcome_t;

/* A snapshot of one sale. Times are milliseconds since the Unix epoch (UTC). */
typedef struct {
    uint64_t sale_id; /* never reused, even after a delete; part of every purchaseNo */
    char sku[SALE_SKU_MAX + 1];
    char product_name[SALE_PRODUCT_NAME_MAX + 1];
    int64_t initial_stock;
    int64_t stock;
    int64_t start_ms;
    int64_t end_ms;
    int64_t created_ms;
    /* Set by an engine's reads for the admin: orders present in the relational store (embedded:
       committed to SQLite; distributed: rows in PostgreSQL, as of a recent sample), or -1 when not
       known yet. Everywhere else 0 and ignored. */
    int64_t persisted_purchases;
} sale_t;

/* A recorded purchase. */
typedef struct {
    char purchase_no[SALE_PURCHASE_NO_MAX];
    char sku[SALE_SKU_MAX + 1];
    char user_id[SALE_USER_ID_MAX + 1];
    int64_t purchased_ms;
} sale_purchase_t;

/* Fields of a create or a partial update; `has_*` says which were given. */
typedef struct {
    bool has_sku, has_product_name, has_initial_stock, has_start, has_end;
    char sku[SALE_SKU_MAX + 1];
    char product_name[SALE_PRODUCT_NAME_MAX + 1];
    int64_t initial_stock;
    int64_t start_ms;
    int64_t end_ms;
} sale_fields_t;

sale_state_t sale_state(const sale_t *sale, int64_t now_ms);
sale_end_reason_t sale_end_reason(const sale_t *sale, int64_t now_ms);
const char *sale_state_name(sale_state_t state);
/* NULL for SALE_END_NONE. */
const char *sale_end_reason_name(sale_end_reason_t reason);
/* The API error code of a rejected outcome ("SOLD_OUT", ...); NULL for success. */
const char *sale_outcome_code(sale_outcome_t outcome);
/* Metric label of any outcome ("success", "sold_out", ...). */
const char *sale_outcome_label(sale_outcome_t outcome);

/*
 * The purchase rule, checked in the contract's order: a buyer who already bought is told so
 * even after the sale ended; then the window; then the stock. The caller has already resolved
 * the sku (NOT_FOUND) and holds whatever lock makes this and the decrement one atomic step.
 */
sale_outcome_t sale_decide(const sale_t *sale, bool already_purchased, int64_t now_ms);

/* 1-64 of [A-Za-z0-9-]. */
bool sale_sku_is_valid(const char *sku, size_t len);
/* 1 to max bytes of well-formed UTF-8 without control characters: the rule of every free text. */
bool sale_text_is_valid(const char *text, size_t len, size_t max);
/* 1-255 bytes of UTF-8 without control characters. */
bool sale_product_name_is_valid(const char *name, size_t len);
/* The caller trims surrounding blanks first; then 1-255 bytes of UTF-8 without control characters. */
bool sale_user_id_is_valid(const char *user_id, size_t len);

/*
 * Checks a create (all fields required) and returns NULL, or the name of the first bad field
 * with a static message in *message.
 */
const char *sale_validate_create(const sale_fields_t *fields, const char **message);
/* Checks a partial update against the sale it would change, the same way. */
const char *sale_validate_update(const sale_t *current, const sale_fields_t *fields, const char **message);
/* Applies the given fields of a validated update; stock follows initialStock while UPCOMING. */
void sale_apply_update(sale_t *sale, const sale_fields_t *fields);

/*
 * Retries of admin writes (docs/api.md). A create is the same as an existing sale when every
 * field it gives (sku, productName, initialStock, startTime, endTime) is equal; the sale's own
 * fields (createdAt, stock, its id) do not count. An update changes nothing when every field it
 * gives already has that value: it is then answered with the sale in any state, because it would
 * change none of the terms that "only while UPCOMING" protects.
 */
bool sale_matches_create(const sale_t *sale, const sale_fields_t *fields);
bool sale_update_changes(const sale_t *sale, const sale_fields_t *fields);

/* Writes "FS<sale_id>-<sequence>" into out (SALE_PURCHASE_NO_MAX bytes). */
void sale_format_purchase_no(char *out, uint64_t sale_id, uint64_t sequence);
/* Parses a purchaseNo of the given sale; returns its sequence, or -1 when it is not one. */
int64_t sale_parse_purchase_no(const char *text, size_t len, uint64_t sale_id);

#endif
