/*
 * Unit tests of the CSV rows of purchases_csv: plain fields as they are, quoting where RFC 4180
 * needs it, doubled quotes, the apostrophe that keeps a spreadsheet from running a user id as a
 * formula, and the time in the API's ISO form. The streaming itself is tested black-box.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/purchases_csv.h"

static void assert_row(const char *user_id, const char *expected_user_field)
{
    sale_purchase_t purchase = {.purchase_no = "FS12-345", .sku = "SKU-1", .purchased_ms = 1771149600123LL};
    char expected[600];
    strbuf_t out;

    snprintf(purchase.user_id, sizeof(purchase.user_id), "%s", user_id);
    snprintf(expected, sizeof(expected), "FS12-345,SKU-1,%s,2026-02-15T10:00:00.123Z\r\n",
             expected_user_field);
    strbuf_init(&out);
    purchases_csv_row(&out, &purchase);
    assert_false(out.failed);
    assert_int_equal(out.len, strlen(expected));
    assert_memory_equal(out.data, expected, out.len);
    strbuf_dispose(&out);
}

static void test_plain_fields_are_written_as_they_are(void **state)
{
    (void)state;
    assert_row("alice", "alice");
    assert_row("user.name_42", "user.name_42");
    assert_row("jürgen müller", "jürgen müller");
    assert_row("a b", "a b");
    assert_row("a=b", "a=b");
}

static void test_fields_with_separators_quotes_or_edge_blanks_are_quoted(void **state)
{
    (void)state;
    assert_row("a,b", "\"a,b\"");
    assert_row("say \"hi\"", "\"say \"\"hi\"\"\"");
    assert_row("\"", "\"\"\"\"");
    assert_row(" padded", "\" padded\"");
    assert_row("padded ", "\"padded \"");
    assert_row("line\nbreak", "\"line\nbreak\"");
}

static void test_formula_like_fields_get_an_apostrophe(void **state)
{
    (void)state;
    assert_row("=1+1", "\"'=1+1\"");
    assert_row("+1", "\"'+1\"");
    assert_row("-1", "\"'-1\"");
    assert_row("@SUM(A1)", "\"'@SUM(A1)\"");
    assert_row("=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
    /* a value that starts with an apostrophe gets one more, so removing one gives it back */
    assert_row("'quoted", "\"''quoted\"");
}

static void test_the_header_names_the_columns(void **state)
{
    (void)state;
    assert_string_equal(PURCHASES_CSV_HEADER, "purchaseNo,sku,userId,purchasedAt\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fields_are_written_as_they_are),
        cmocka_unit_test(test_fields_with_separators_quotes_or_edge_blanks_are_quoted),
        cmocka_unit_test(test_formula_like_fields_get_an_apostrophe),
        cmocka_unit_test(test_the_header_names_the_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
