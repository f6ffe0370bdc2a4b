/*
 * Unit tests of sale: the state machine at each edge of the window, the order of the purchase
 * checks, what an administrator may write, and the purchaseNo form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/sale.h"

#define START 1000000
#define END   2000000

static sale_t make_sale(int64_t stock)
{
    sale_t sale = {
        .sale_id = 12,
        .sku = "WIDGET-001",
        .product_name = "Limited Edition Widget",
        .initial_stock = 100,
        .stock = stock,
        .start_ms = START,
        .end_ms = END,
        .created_ms = 1,
    };
    return sale;
}

static sale_fields_t make_create_fields(void)
{
    sale_fields_t fields = {
        .has_sku = true,
        .has_product_name = true,
        .has_initial_stock = true,
        .has_start = true,
        .has_end = true,
        .sku = "WIDGET-001",
        .product_name = "Limited Edition Widget",
        .initial_stock = 100,
        .start_ms = START,
        .end_ms = END,
    };
    return fields;
}

static void assert_state(const sale_t *sale, int64_t now, sale_state_t state, sale_end_reason_t reason)
{
    assert_int_equal(sale_state(sale, now), state);
    assert_int_equal(sale_end_reason(sale, now), reason);
}

static void test_state_follows_the_window(void **state)
{
    (void)state;
    sale_t sale = make_sale(5);
    assert_state(&sale, START - 1, SALE_STATE_UPCOMING, SALE_END_NONE);
    assert_state(&sale, START, SALE_STATE_ACTIVE, SALE_END_NONE);
    assert_state(&sale, END - 1, SALE_STATE_ACTIVE, SALE_END_NONE);
    assert_state(&sale, END, SALE_STATE_ENDED, SALE_END_TIME_EXPIRED);
    assert_state(&sale, END + 1000000, SALE_STATE_ENDED, SALE_END_TIME_EXPIRED);
}

static void test_no_stock_is_sold_out_at_any_time(void **state)
{
    (void)state;
    sale_t sale = make_sale(0);
    assert_state(&sale, START - 1, SALE_STATE_ENDED, SALE_END_SOLD_OUT);
    assert_state(&sale, START, SALE_STATE_ENDED, SALE_END_SOLD_OUT);
    assert_state(&sale, END - 1, SALE_STATE_ENDED, SALE_END_SOLD_OUT);
    /* Selling out is what ended it, even once the time is also up. */
    assert_state(&sale, END, SALE_STATE_ENDED, SALE_END_SOLD_OUT);
}

static void test_last_unit_keeps_the_sale_active(void **state)
{
    (void)state;
    sale_t sale = make_sale(1);
    assert_state(&sale, START, SALE_STATE_ACTIVE, SALE_END_NONE);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(sale_state_name(SALE_STATE_UPCOMING), "UPCOMING");
    assert_string_equal(sale_state_name(SALE_STATE_ACTIVE), "ACTIVE");
    assert_string_equal(sale_state_name(SALE_STATE_ENDED), "ENDED");
    assert_null(sale_end_reason_name(SALE_END_NONE));
    assert_string_equal(sale_end_reason_name(SALE_END_SOLD_OUT), "SOLD_OUT");
    assert_string_equal(sale_end_reason_name(SALE_END_TIME_EXPIRED), "TIME_EXPIRED");
}

static void test_outcome_codes_and_labels(void **state)
{
    (void)state;
    assert_null(sale_outcome_code(SALE_OUTCOME_SUCCESS));
    assert_string_equal(sale_outcome_code(SALE_OUTCOME_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(sale_outcome_code(SALE_OUTCOME_ALREADY_PURCHASED), "ALREADY_PURCHASED");
    assert_string_equal(sale_outcome_code(SALE_OUTCOME_NOT_ACTIVE), "SALE_NOT_ACTIVE");
    assert_string_equal(sale_outcome_code(SALE_OUTCOME_SOLD_OUT), "SOLD_OUT");
    assert_string_equal(sale_outcome_label(SALE_OUTCOME_SUCCESS), "success");
    assert_string_equal(sale_outcome_label(SALE_OUTCOME_NOT_FOUND), "not_found");
    assert_string_equal(sale_outcome_label(SALE_OUTCOME_ALREADY_PURCHASED), "already_purchased");
    assert_string_equal(sale_outcome_label(SALE_OUTCOME_NOT_ACTIVE), "sale_not_active");
    assert_string_equal(sale_outcome_label(SALE_OUTCOME_SOLD_OUT), "sold_out");
}

static void test_decide_succeeds_inside_the_window_with_stock(void **state)
{
    (void)state;
    sale_t sale = make_sale(1);
    assert_int_equal(sale_decide(&sale, false, START), SALE_OUTCOME_SUCCESS);
    assert_int_equal(sale_decide(&sale, false, END - 1), SALE_OUTCOME_SUCCESS);
}

static void test_decide_rejects_outside_the_window(void **state)
{
    (void)state;
    sale_t sale = make_sale(5);
    assert_int_equal(sale_decide(&sale, false, START - 1), SALE_OUTCOME_NOT_ACTIVE);
    assert_int_equal(sale_decide(&sale, false, END), SALE_OUTCOME_NOT_ACTIVE);
}

static void test_decide_rejects_without_stock(void **state)
{
    (void)state;
    sale_t sale = make_sale(0);
    assert_int_equal(sale_decide(&sale, false, START), SALE_OUTCOME_SOLD_OUT);
    assert_int_equal(sale_decide(&sale, false, END - 1), SALE_OUTCOME_SOLD_OUT);
}

static void test_decide_checks_buyer_then_window_then_stock(void **state)
{
    (void)state;
    sale_t sold_out = make_sale(0);
    sale_t in_stock = make_sale(5);
    /* A buyer is told they already bought, whatever else is true. */
    assert_int_equal(sale_decide(&in_stock, true, START), SALE_OUTCOME_ALREADY_PURCHASED);
    assert_int_equal(sale_decide(&sold_out, true, START), SALE_OUTCOME_ALREADY_PURCHASED);
    assert_int_equal(sale_decide(&sold_out, true, END), SALE_OUTCOME_ALREADY_PURCHASED);
    assert_int_equal(sale_decide(&sold_out, true, START - 1), SALE_OUTCOME_ALREADY_PURCHASED);
    /* Outside the window the sale is not active, even when it is also sold out. */
    assert_int_equal(sale_decide(&sold_out, false, START - 1), SALE_OUTCOME_NOT_ACTIVE);
    assert_int_equal(sale_decide(&sold_out, false, END), SALE_OUTCOME_NOT_ACTIVE);
}

static void test_sku_validity(void **state)
{
    (void)state;
    char longest[SALE_SKU_MAX + 1];
    memset(longest, 'A', sizeof(longest));
    assert_true(sale_sku_is_valid("A", 1));
    assert_true(sale_sku_is_valid("Widget-001-xyz", 14));
    assert_true(sale_sku_is_valid("0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ", 64));
    assert_true(sale_sku_is_valid(longest, SALE_SKU_MAX));
    assert_false(sale_sku_is_valid(longest, SALE_SKU_MAX + 1));
    assert_false(sale_sku_is_valid("", 0));
    assert_false(sale_sku_is_valid("WIDGET_001", 10));
    assert_false(sale_sku_is_valid("WIDGET 001", 10));
    assert_false(sale_sku_is_valid("WIDGET.001", 10));
    assert_false(sale_sku_is_valid("WIDGET/001", 10));
    assert_false(sale_sku_is_valid("WIDGET\0"
                                   "001",
                                   10));
    assert_false(sale_sku_is_valid("W\xc3\xa9", 3));
}

static void test_product_name_validity(void **state)
{
    (void)state;
    char longest[SALE_PRODUCT_NAME_MAX + 1];
    memset(longest, 'n', sizeof(longest));
    assert_true(sale_product_name_is_valid("x", 1));
    assert_true(sale_product_name_is_valid(longest, SALE_PRODUCT_NAME_MAX));
    assert_false(sale_product_name_is_valid(longest, SALE_PRODUCT_NAME_MAX + 1));
    assert_false(sale_product_name_is_valid("", 0));
    /* Two-, three- and four-byte characters, and the last code point there is. */
    const char *unicode = "Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x8e\x89 \xf4\x8f\xbf\xbf";
    assert_true(sale_product_name_is_valid(unicode, strlen(unicode)));
}

static void test_text_rejects_control_characters(void **state)
{
    (void)state;
    static const char *const controls[] = {"a\nb", "a\tb", "a\rb", "a\x1f", "a\x7f", "\xc2\x80", "a\xc2\x85"};
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        assert_false(sale_product_name_is_valid(controls[i], strlen(controls[i])));
        assert_false(sale_user_id_is_valid(controls[i], strlen(controls[i])));
    }
    assert_false(sale_product_name_is_valid("a\0b", 3));
    assert_false(sale_user_id_is_valid("a\0b", 3));
    /* U+00A0, just past the C1 block, is text. */
    assert_true(sale_user_id_is_valid("a\xc2\xa0", 3));
}

static void test_text_rejects_malformed_utf8(void **state)
{
    (void)state;
    static const char *const malformed[] = {
        "\xff",             /* never a UTF-8 byte */
        "\x80",             /* continuation without a lead */
        "a\xc3",            /* truncated two-byte */
        "\xe2\x98",         /* truncated three-byte */
        "\xc3(",            /* lead followed by a non-continuation */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong three-byte */
        "\xf0\x80\x80\xaf", /* overlong four-byte */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_false(sale_product_name_is_valid(malformed[i], strlen(malformed[i])));
        assert_false(sale_user_id_is_valid(malformed[i], strlen(malformed[i])));
    }
    /* A sequence cut short by len, though the bytes after it are there. */
    assert_false(sale_user_id_is_valid("\xc3\xa9", 1));
}

static void test_user_id_validity(void **state)
{
    (void)state;
    char longest[SALE_USER_ID_MAX + 1];
    memset(longest, 'u', sizeof(longest));
    assert_true(sale_user_id_is_valid("u", 1));
    assert_true(sale_user_id_is_valid("user 42@example.com", 19));
    assert_true(sale_user_id_is_valid(longest, SALE_USER_ID_MAX));
    assert_false(sale_user_id_is_valid(longest, SALE_USER_ID_MAX + 1));
    assert_false(sale_user_id_is_valid("", 0));
}

static void assert_create_rejects(const sale_fields_t *fields, const char *field, const char *message)
{
    const char *why = NULL;
    const char *bad = sale_validate_create(fields, &why);
    assert_non_null(bad);
    assert_string_equal(bad, field);
    assert_string_equal(why, message);
}

static void assert_create_accepts(const sale_fields_t *fields)
{
    const char *why = NULL;
    assert_null(sale_validate_create(fields, &why));
}

static void test_create_accepts_a_full_sale(void **state)
{
    (void)state;
    sale_fields_t fields = make_create_fields();
    assert_create_accepts(&fields);
    fields.initial_stock = 1;
    fields.end_ms = fields.start_ms + 1;
    assert_create_accepts(&fields);
    fields.initial_stock = SALE_INITIAL_STOCK_MAX;
    assert_create_accepts(&fields);
    /* A start in the past is allowed: the sale is live at once. */
    fields.start_ms = -5;
    assert_create_accepts(&fields);
}

static void test_create_requires_every_field(void **state)
{
    (void)state;
    sale_fields_t fields = make_create_fields();
    fields.has_sku = false;
    assert_create_rejects(&fields, "sku", "is required");
    fields = make_create_fields();
    fields.has_product_name = false;
    assert_create_rejects(&fields, "productName", "is required");
    fields = make_create_fields();
    fields.has_initial_stock = false;
    assert_create_rejects(&fields, "initialStock", "is required");
    fields = make_create_fields();
    fields.has_start = false;
    assert_create_rejects(&fields, "startTime", "is required");
    fields = make_create_fields();
    fields.has_end = false;
    assert_create_rejects(&fields, "endTime", "is required");
}

static void test_create_rejects_bad_values(void **state)
{
    (void)state;
    const char *sku_message = "must be 1-64 characters of A-Z, a-z, 0-9 and -";
    const char *name_message = "must be 1-255 bytes of UTF-8 text without control characters";
    const char *stock_message = "must be an integer from 1 to 1000000000";

    sale_fields_t fields = make_create_fields();
    strcpy(fields.sku, "");
    assert_create_rejects(&fields, "sku", sku_message);
    strcpy(fields.sku, "WIDGET 001");
    assert_create_rejects(&fields, "sku", sku_message);
    /* A field that fills its array without a terminator counts as too long. */
    memset(fields.sku, 'A', sizeof(fields.sku));
    assert_create_rejects(&fields, "sku", sku_message);

    fields = make_create_fields();
    strcpy(fields.product_name, "");
    assert_create_rejects(&fields, "productName", name_message);
    strcpy(fields.product_name, "two\nlines");
    assert_create_rejects(&fields, "productName", name_message);
    memset(fields.product_name, 'n', sizeof(fields.product_name));
    assert_create_rejects(&fields, "productName", name_message);

    fields = make_create_fields();
    fields.initial_stock = 0;
    assert_create_rejects(&fields, "initialStock", stock_message);
    fields.initial_stock = -1;
    assert_create_rejects(&fields, "initialStock", stock_message);
    fields.initial_stock = SALE_INITIAL_STOCK_MAX + 1;
    assert_create_rejects(&fields, "initialStock", stock_message);

    fields = make_create_fields();
    fields.end_ms = fields.start_ms;
    assert_create_rejects(&fields, "endTime", "must be after startTime");
    fields.end_ms = fields.start_ms - 1;
    assert_create_rejects(&fields, "endTime", "must be after startTime");
}

static void test_create_names_the_first_bad_field(void **state)
{
    (void)state;
    sale_fields_t fields = {0};
    assert_create_rejects(&fields, "sku", "is required");
    fields = make_create_fields();
    strcpy(fields.sku, "bad sku");
    fields.has_product_name = false;
    fields.initial_stock = 0;
    fields.end_ms = fields.start_ms;
    assert_create_rejects(&fields, "sku", "must be 1-64 characters of A-Z, a-z, 0-9 and -");
    strcpy(fields.sku, "ok");
    assert_create_rejects(&fields, "productName", "is required");
    fields.has_product_name = true;
    assert_create_rejects(&fields, "initialStock", "must be an integer from 1 to 1000000000");
    fields.initial_stock = 3;
    fields.has_start = false;
    fields.has_end = false;
    assert_create_rejects(&fields, "startTime", "is required");
    fields.has_start = true;
    assert_create_rejects(&fields, "endTime", "is required");
    fields.has_end = true;
    assert_create_rejects(&fields, "endTime", "must be after startTime");
}

static void assert_update_rejects(const sale_t *sale, const sale_fields_t *fields, const char *field,
                                  const char *message)
{
    const char *why = NULL;
    const char *bad = sale_validate_update(sale, fields, &why);
    assert_non_null(bad);
    assert_string_equal(bad, field);
    assert_string_equal(why, message);
}

static void assert_update_accepts(const sale_t *sale, const sale_fields_t *fields)
{
    const char *why = NULL;
    assert_null(sale_validate_update(sale, fields, &why));
}

static void test_update_accepts_partial_fields(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {0};
    assert_update_accepts(&sale, &fields);
    fields.has_sku = true;
    strcpy(fields.sku, sale.sku);
    assert_update_accepts(&sale, &fields);
    fields.has_product_name = true;
    strcpy(fields.product_name, "Renamed");
    fields.has_initial_stock = true;
    fields.initial_stock = 1;
    assert_update_accepts(&sale, &fields);
}

static void test_update_may_not_change_the_sku(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {.has_sku = true, .sku = "OTHER"};
    assert_update_rejects(&sale, &fields, "sku", "cannot be changed");
    strcpy(fields.sku, "widget-001"); /* case matters */
    assert_update_rejects(&sale, &fields, "sku", "cannot be changed");
}

static void test_update_rejects_bad_values(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {.has_product_name = true, .product_name = ""};
    assert_update_rejects(&sale, &fields, "productName",
                          "must be 1-255 bytes of UTF-8 text without control characters");
    fields = (sale_fields_t){.has_initial_stock = true, .initial_stock = 0};
    assert_update_rejects(&sale, &fields, "initialStock", "must be an integer from 1 to 1000000000");
    fields.initial_stock = SALE_INITIAL_STOCK_MAX + 1;
    assert_update_rejects(&sale, &fields, "initialStock", "must be an integer from 1 to 1000000000");
}

static void test_update_checks_the_resulting_window(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {.has_end = true, .end_ms = START};
    assert_update_rejects(&sale, &fields, "endTime", "must be after startTime");
    fields = (sale_fields_t){.has_start = true, .start_ms = END};
    assert_update_rejects(&sale, &fields, "startTime", "must be before endTime");
    fields.start_ms = END - 1;
    assert_update_accepts(&sale, &fields);
    /* Moving both ends later is judged on the new pair, not against the old end. */
    fields = (sale_fields_t){.has_start = true, .start_ms = END + 10, .has_end = true, .end_ms = END + 20};
    assert_update_accepts(&sale, &fields);
    fields.end_ms = END + 10;
    assert_update_rejects(&sale, &fields, "endTime", "must be after startTime");
}

static void test_apply_update_copies_given_fields_only(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {.has_product_name = true, .product_name = "Renamed", .start_ms = 7, .end_ms = 9};
    sale_apply_update(&sale, &fields);
    assert_string_equal(sale.product_name, "Renamed");
    assert_string_equal(sale.sku, "WIDGET-001");
    assert_int_equal(sale.start_ms, START);
    assert_int_equal(sale.end_ms, END);
    assert_int_equal(sale.initial_stock, 100);
    assert_int_equal(sale.stock, 100);
    assert_int_equal(sale.sale_id, 12);

    fields = (sale_fields_t){.has_start = true, .start_ms = 5, .has_end = true, .end_ms = 6};
    sale_apply_update(&sale, &fields);
    assert_int_equal(sale.start_ms, 5);
    assert_int_equal(sale.end_ms, 6);
    assert_string_equal(sale.product_name, "Renamed");
}

static void test_apply_update_stock_follows_initial_stock(void **state)
{
    (void)state;
    sale_t sale = make_sale(100);
    sale_fields_t fields = {.has_initial_stock = true, .initial_stock = 7};
    sale_apply_update(&sale, &fields);
    assert_int_equal(sale.initial_stock, 7);
    assert_int_equal(sale.stock, 7);
}

static void test_repeated_create_matches_on_the_given_fields_only(void **state)
{
    (void)state;
    /* Sold some, created at another time: still the same create. */
    sale_t sale = make_sale(40);
    sale.created_ms = 99;
    sale_fields_t fields = make_create_fields();
    assert_true(sale_matches_create(&sale, &fields));

    const sale_fields_t differing[] = {
        {.sku = "WIDGET-002"},  {.product_name = "Another Widget"},
        {.initial_stock = 101}, {.start_ms = START + 1},
        {.end_ms = END + 1},
    };
    for (size_t i = 0; i < sizeof(differing) / sizeof(differing[0]); i++) {
        fields = make_create_fields();
        if (differing[i].sku[0] != '\0')
            memcpy(fields.sku, differing[i].sku, sizeof(fields.sku));
        if (differing[i].product_name[0] != '\0')
            memcpy(fields.product_name, differing[i].product_name, sizeof(fields.product_name));
        if (differing[i].initial_stock != 0)
            fields.initial_stock = differing[i].initial_stock;
        if (differing[i].start_ms != 0)
            fields.start_ms = differing[i].start_ms;
        if (differing[i].end_ms != 0)
            fields.end_ms = differing[i].end_ms;
        assert_false(sale_matches_create(&sale, &fields));
    }
}

static void test_update_changes_only_with_a_different_given_field(void **state)
{
    (void)state;
    sale_t sale = make_sale(40);
    sale_fields_t none = {0};
    assert_false(sale_update_changes(&sale, &none));
    /* Everything given, all equal (stock and createdAt are not fields of an update). */
    sale_fields_t same = make_create_fields();
    assert_false(sale_update_changes(&sale, &same));
    sale_fields_t renamed = {.has_product_name = true, .product_name = "Renamed"};
    assert_true(sale_update_changes(&sale, &renamed));
    sale_fields_t restocked = {.has_initial_stock = true, .initial_stock = 100};
    assert_false(sale_update_changes(&sale, &restocked));
    restocked.initial_stock = 99;
    assert_true(sale_update_changes(&sale, &restocked));
    sale_fields_t moved = {.has_end = true, .end_ms = END + 1};
    assert_true(sale_update_changes(&sale, &moved));
    sale_fields_t other_sku = {.has_sku = true, .sku = "OTHER"};
    assert_true(sale_update_changes(&sale, &other_sku));
}

static int64_t parse_purchase_no(const char *text, uint64_t sale_id)
{
    return sale_parse_purchase_no(text, strlen(text), sale_id);
}

static void test_purchase_no_format(void **state)
{
    (void)state;
    char out[SALE_PURCHASE_NO_MAX];
    sale_format_purchase_no(out, 12, 42);
    assert_string_equal(out, "FS12-42");
    sale_format_purchase_no(out, UINT64_MAX, UINT64_MAX);
    assert_string_equal(out, "FS18446744073709551615-18446744073709551615");
}

static void test_purchase_no_round_trip(void **state)
{
    (void)state;
    static const uint64_t sale_ids[] = {0, 1, 12, 999, UINT64_MAX};
    static const int64_t sequences[] = {1, 9, 10, 42, 1000000, INT64_MAX};
    for (size_t i = 0; i < sizeof(sale_ids) / sizeof(sale_ids[0]); i++) {
        for (size_t j = 0; j < sizeof(sequences) / sizeof(sequences[0]); j++) {
            char out[SALE_PURCHASE_NO_MAX];
            sale_format_purchase_no(out, sale_ids[i], (uint64_t)sequences[j]);
            assert_int_equal(parse_purchase_no(out, sale_ids[i]), sequences[j]);
        }
    }
}

static void test_purchase_no_rejects_other_forms(void **state)
{
    (void)state;
    static const char *const rejected[] = {
        "",
        "FS",
        "FS12",
        "FS12-",
        "FS12-42x",
        " FS12-42",
        "FS12-42 ",
        "fs12-42",
        "FS012-42",
        "FS+12-42",
        "FS12-042",
        "FS12-+42",
        "FS12--42",
        "FS12-4 2",
        "FS12-0x1",
        "FS13-42",
        "FS1-242",
        "FS12-1-42",
        "FS12_42",
        "12-42",
        "FS12-9223372036854775808", /* INT64_MAX + 1 */
        "FS12-99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        if (parse_purchase_no(rejected[i], 12) != -1)
            fail_msg("accepted \"%s\"", rejected[i]);
    }
    /* A sale whose id is a prefix of another's does not claim its numbers. */
    assert_int_equal(parse_purchase_no("FS12-42", 1), -1);
    assert_int_equal(parse_purchase_no("FS1-42", 12), -1);
    /* Only len bytes are read. */
    assert_int_equal(sale_parse_purchase_no("FS12-42999", 7, 12), 42);
    assert_int_equal(sale_parse_purchase_no("FS12-42", 5, 12), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_follows_the_window),
        cmocka_unit_test(test_no_stock_is_sold_out_at_any_time),
        cmocka_unit_test(test_last_unit_keeps_the_sale_active),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_outcome_codes_and_labels),
        cmocka_unit_test(test_decide_succeeds_inside_the_window_with_stock),
        cmocka_unit_test(test_decide_rejects_outside_the_window),
        cmocka_unit_test(test_decide_rejects_without_stock),
        cmocka_unit_test(test_decide_checks_buyer_then_window_then_stock),
        cmocka_unit_test(test_sku_validity),
        cmocka_unit_test(test_product_name_validity),
        cmocka_unit_test(test_text_rejects_control_characters),
        cmocka_unit_test(test_text_rejects_malformed_utf8),
        cmocka_unit_test(test_user_id_validity),
        cmocka_unit_test(test_create_accepts_a_full_sale),
        cmocka_unit_test(test_create_requires_every_field),
        cmocka_unit_test(test_create_rejects_bad_values),
        cmocka_unit_test(test_create_names_the_first_bad_field),
        cmocka_unit_test(test_update_accepts_partial_fields),
        cmocka_unit_test(test_update_may_not_change_the_sku),
        cmocka_unit_test(test_update_rejects_bad_values),
        cmocka_unit_test(test_update_checks_the_resulting_window),
        cmocka_unit_test(test_apply_update_copies_given_fields_only),
        cmocka_unit_test(test_repeated_create_matches_on_the_given_fields_only),
        cmocka_unit_test(test_update_changes_only_with_a_different_given_field),
        cmocka_unit_test(test_apply_update_stock_follows_initial_stock),
        cmocka_unit_test(test_purchase_no_format),
        cmocka_unit_test(test_purchase_no_round_trip),
        cmocka_unit_test(test_purchase_no_rejects_other_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
