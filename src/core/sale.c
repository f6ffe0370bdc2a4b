#include "core/sale.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_LENGTH(array) (sizeof(array) / sizeof((array)[0]))

static const char *const state_names[] = {
    [SALE_STATE_UPCOMING] = "UPCOMING",
    [SALE_STATE_ACTIVE] = "ACTIVE",
    [SALE_STATE_ENDED] = "ENDED",
};

static const char *const end_reason_names[] = {
    [SALE_END_NONE] = NULL,
    [SALE_END_SOLD_OUT] = "SOLD_OUT",
    [SALE_END_TIME_EXPIRED] = "TIME_EXPIRED",
};

static const char *const outcome_codes[SALE_OUTCOME_COUNT] = {
    [SALE_OUTCOME_SUCCESS] = NULL,
    [SALE_OUTCOME_NOT_FOUND] = "NOT_FOUND",
    [SALE_OUTCOME_ALREADY_PURCHASED] = "ALREADY_PURCHASED",
    [SALE_OUTCOME_NOT_ACTIVE] = "SALE_NOT_ACTIVE",
    [SALE_OUTCOME_SOLD_OUT] = "SOLD_OUT",
};

static const char *const outcome_labels[SALE_OUTCOME_COUNT] = {
    [SALE_OUTCOME_SUCCESS] = "success",
    [SALE_OUTCOME_NOT_FOUND] = "not_found",
    [SALE_OUTCOME_ALREADY_PURCHASED] = "already_purchased",
    [SALE_OUTCOME_NOT_ACTIVE] = "sale_not_active",
    [SALE_OUTCOME_SOLD_OUT] = "sold_out",
};

/* Sold out wins over expired: a sale that sold out keeps saying so after its end time. */
sale_end_reason_t sale_end_reason(const sale_t *sale, int64_t now_ms)
{
    if (sale->stock <= 0)
        return SALE_END_SOLD_OUT;
    if (now_ms >= sale->end_ms)
        return SALE_END_TIME_EXPIRED;
    return SALE_END_NONE;
}

sale_state_t sale_state(const sale_t *sale, int64_t now_ms)
{
    if (sale_end_reason(sale, now_ms) != SALE_END_NONE)
        return SALE_STATE_ENDED;
    return now_ms < sale->start_ms ? SALE_STATE_UPCOMING : SALE_STATE_ACTIVE;
}

const char *sale_state_name(sale_state_t state)
{
    assert((size_t)state < ARRAY_LENGTH(state_names));
    return state_names[state];
}

const char *sale_end_reason_name(sale_end_reason_t reason)
{
    assert((size_t)reason < ARRAY_LENGTH(end_reason_names));
    return end_reason_names[reason];
}

const char *sale_outcome_code(sale_outcome_t outcome)
{
    assert((size_t)outcome < SALE_OUTCOME_COUNT);
    return outcome_codes[outcome];
}

const char *sale_outcome_label(sale_outcome_t outcome)
{
    assert((size_t)outcome < SALE_OUTCOME_COUNT);
    return outcome_labels[outcome];
}

sale_outcome_t sale_decide(const sale_t *sale, bool already_purchased, int64_t now_ms)
{
    if (already_purchased)
        return SALE_OUTCOME_ALREADY_PURCHASED;
    if (now_ms < sale->start_ms || now_ms >= sale->end_ms)
        return SALE_OUTCOME_NOT_ACTIVE;
    if (sale->stock <= 0)
        return SALE_OUTCOME_SOLD_OUT;
    return SALE_OUTCOME_SUCCESS;
}

static bool is_sku_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool sale_sku_is_valid(const char *sku, size_t len)
{
    if (len < 1 || len > SALE_SKU_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_sku_char(sku[i]))
            return false;
    }
    return true;
}

/*
 * Decodes one UTF-8 sequence at text[0..len) and returns its length, or 0 when it is malformed:
 * a stray continuation byte, a truncated sequence, an overlong form, a surrogate, or a code point
 * past U+10FFFF. Rejecting these here keeps the JSON encoder and SQLite from ever seeing them.
 */
static size_t utf8_decode(const unsigned char *text, size_t len, uint32_t *code_point)
{
    static const uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t length;
    uint32_t value;
    if (text[0] < 0x80) {
        *code_point = text[0];
        return 1;
    } else if (text[0] >= 0xC2 && text[0] <= 0xDF) {
        length = 2;
        value = text[0] & 0x1F;
    } else if (text[0] >= 0xE0 && text[0] <= 0xEF) {
        length = 3;
        value = text[0] & 0x0F;
    } else if (text[0] >= 0xF0 && text[0] <= 0xF4) {
        length = 4;
        value = text[0] & 0x07;
    } else {
        return 0;
    }
    if (len < length)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (text[i] & 0x3F);
    }
    if (value < min_for_length[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code_point = value;
    return length;
}

/* Unicode's Cc category: C0 (NUL included), DEL and C1. */
static bool is_control(uint32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

bool sale_text_is_valid(const char *text, size_t len, size_t max)
{
    if (len < 1 || len > max)
        return false;
    const unsigned char *bytes = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t code_point;
        size_t length = utf8_decode(bytes + i, len - i, &code_point);
        if (length == 0 || is_control(code_point))
            return false;
        i += length;
    }
    return true;
}

bool sale_product_name_is_valid(const char *name, size_t len)
{
    return sale_text_is_valid(name, len, SALE_PRODUCT_NAME_MAX);
}

bool sale_user_id_is_valid(const char *user_id, size_t len)
{
    return sale_text_is_valid(user_id, len, SALE_USER_ID_MAX);
}

/*
 * The fixed-size fields of sale_fields_t are NUL-terminated; strnlen over the whole array makes
 * an unterminated one count as too long instead of reading past it.
 */
static bool sku_field_is_valid(const sale_fields_t *fields)
{
    return sale_sku_is_valid(fields->sku, strnlen(fields->sku, sizeof(fields->sku)));
}

static bool product_name_field_is_valid(const sale_fields_t *fields)
{
    return sale_product_name_is_valid(fields->product_name,
                                      strnlen(fields->product_name, sizeof(fields->product_name)));
}

static bool initial_stock_is_valid(int64_t initial_stock)
{
    return initial_stock >= 1 && initial_stock <= SALE_INITIAL_STOCK_MAX;
}

/* Messages complete a sentence that starts with the field name: "endTime must be after startTime". */
#define MESSAGE_REQUIRED      "is required"
#define MESSAGE_SKU           "must be 1-64 characters of A-Z, a-z, 0-9 and -"
#define MESSAGE_PRODUCT_NAME  "must be 1-255 bytes of UTF-8 text without control characters"
#define MESSAGE_INITIAL_STOCK "must be an integer from 1 to 1000000000"
#define MESSAGE_END_TIME      "must be after startTime"
#define MESSAGE_START_TIME    "must be before endTime"
#define MESSAGE_SKU_FIXED     "cannot be changed"

static const char *reject(const char *field, const char *why, const char **message)
{
    *message = why;
    return field;
}

const char *sale_validate_create(const sale_fields_t *fields, const char **message)
{
    if (!fields->has_sku)
        return reject("sku", MESSAGE_REQUIRED, message);
    if (!sku_field_is_valid(fields))
        return reject("sku", MESSAGE_SKU, message);
    if (!fields->has_product_name)
        return reject("productName", MESSAGE_REQUIRED, message);
    if (!product_name_field_is_valid(fields))
        return reject("productName", MESSAGE_PRODUCT_NAME, message);
    if (!fields->has_initial_stock)
        return reject("initialStock", MESSAGE_REQUIRED, message);
    if (!initial_stock_is_valid(fields->initial_stock))
        return reject("initialStock", MESSAGE_INITIAL_STOCK, message);
    if (!fields->has_start)
        return reject("startTime", MESSAGE_REQUIRED, message);
    if (!fields->has_end)
        return reject("endTime", MESSAGE_REQUIRED, message);
    if (fields->end_ms <= fields->start_ms)
        return reject("endTime", MESSAGE_END_TIME, message);
    return NULL;
}

/*
 * The window is checked as it would be after the update, so moving only one end is judged
 * against the other's current value; the field blamed is the one that was moved.
 */
const char *sale_validate_update(const sale_t *current, const sale_fields_t *fields, const char **message)
{
    if (fields->has_sku && strncmp(fields->sku, current->sku, sizeof(fields->sku)) != 0)
        return reject("sku", MESSAGE_SKU_FIXED, message);
    if (fields->has_product_name && !product_name_field_is_valid(fields))
        return reject("productName", MESSAGE_PRODUCT_NAME, message);
    if (fields->has_initial_stock && !initial_stock_is_valid(fields->initial_stock))
        return reject("initialStock", MESSAGE_INITIAL_STOCK, message);
    int64_t start_ms = fields->has_start ? fields->start_ms : current->start_ms;
    int64_t end_ms = fields->has_end ? fields->end_ms : current->end_ms;
    if (end_ms <= start_ms)
        return fields->has_end ? reject("endTime", MESSAGE_END_TIME, message)
                               : reject("startTime", MESSAGE_START_TIME, message);
    return NULL;
}

void sale_apply_update(sale_t *sale, const sale_fields_t *fields)
{
    if (fields->has_product_name)
        memcpy(sale->product_name, fields->product_name, sizeof(sale->product_name));
    if (fields->has_initial_stock) {
        /* Updates are only allowed while UPCOMING, when nobody can have bought yet. */
        sale->initial_stock = fields->initial_stock;
        sale->stock = fields->initial_stock;
    }
    if (fields->has_start)
        sale->start_ms = fields->start_ms;
    if (fields->has_end)
        sale->end_ms = fields->end_ms;
}

bool sale_matches_create(const sale_t *sale, const sale_fields_t *fields)
{
    assert(fields->has_sku && fields->has_product_name && fields->has_initial_stock && fields->has_start &&
           fields->has_end);
    return strcmp(sale->sku, fields->sku) == 0 && !sale_update_changes(sale, fields);
}

bool sale_update_changes(const sale_t *sale, const sale_fields_t *fields)
{
    return (fields->has_sku && strcmp(fields->sku, sale->sku) != 0) ||
           (fields->has_product_name && strcmp(fields->product_name, sale->product_name) != 0) ||
           (fields->has_initial_stock && fields->initial_stock != sale->initial_stock) ||
           (fields->has_start && fields->start_ms != sale->start_ms) ||
           (fields->has_end && fields->end_ms != sale->end_ms);
}

void sale_format_purchase_no(char *out, uint64_t sale_id, uint64_t sequence)
{
    snprintf(out, SALE_PURCHASE_NO_MAX, "FS%" PRIu64 "-%" PRIu64, sale_id, sequence);
}

/* Canonical decimal only (no sign, no leading zero, fits int64), so each number has one spelling. */
static int64_t parse_sequence(const char *digits, size_t len)
{
    if (len == 0 || (digits[0] == '0' && len > 1))
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        int digit = digits[i] - '0';
        if (value > (INT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    return value;
}

int64_t sale_parse_purchase_no(const char *text, size_t len, uint64_t sale_id)
{
    /* Comparing against the formatted prefix gives the sale_id the same canonical-form rule. */
    char prefix[SALE_PURCHASE_NO_MAX];
    size_t prefix_len = (size_t)snprintf(prefix, sizeof(prefix), "FS%" PRIu64 "-", sale_id);
    if (len <= prefix_len || memcmp(text, prefix, prefix_len) != 0)
        return -1;
    return parse_sequence(text + prefix_len, len - prefix_len);
}
