/*
 * Unit tests of the verification's stock rule (lt_verify_stock_rule) and of the buyers' record it
 * reads (lt_buyers): a complete storm, a storm cut with requests in flight, and each way a server can
 * lie (a success without a sale, a sale nobody was told of, SOLD_OUT with stock left, oversold).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "loadtest/lt_buyers.h"
#include "loadtest/lt_verify.h"

static lt_check_status_t rule(int64_t before, int64_t after, uint64_t holders, uint64_t sold_out,
                              uint64_t unknown, char *detail)
{
    lt_buyers_tally_t tally = {
        .holders = holders, .told_success = holders, .sold_out = sold_out, .unknown = unknown};
    lt_check_t check;
    lt_verify_stock_rule(before, after, &tally, &check);
    strcpy(detail, check.detail);
    return check.status;
}

static void test_complete_storms(void **state)
{
    char detail[LT_CHECK_DETAIL_MAX];
    (void)state;
    /* 100 stock, 5000 buyers: 100 succeed, the rest are told SOLD_OUT */
    assert_int_equal(rule(100, 0, 100, 4900, 0, detail), LT_CHECK_PASS);
    assert_non_null(strstr(detail, "100 successes == min(stock 100, 5000 buyers answered) = 100"));
    /* more stock than buyers: every buyer succeeds, stock remains */
    assert_int_equal(rule(1000, 800, 200, 0, 0, detail), LT_CHECK_PASS);
    /* a sale already sold out: nobody succeeds */
    assert_int_equal(rule(0, 0, 0, 300, 0, detail), LT_CHECK_PASS);
}

static void test_cut_storms(void **state)
{
    char detail[LT_CHECK_DETAIL_MAX];
    (void)state;
    /* cut with 40 in flight: 3 of them were sold to before the cut, the stock says so */
    assert_int_equal(rule(100, 0, 97, 2000, 40, detail), LT_CHECK_PASS);
    assert_non_null(strstr(detail, "97 successes + 3 sold to the 40 buyers left without an answer"));
    /* cut before the stock ran out: the in-flight ones may or may not have bought */
    assert_int_equal(rule(1000, 900, 95, 0, 10, detail), LT_CHECK_PASS);
    assert_int_equal(rule(1000, 905, 95, 0, 10, detail), LT_CHECK_PASS);
}

static void test_lies(void **state)
{
    char detail[LT_CHECK_DETAIL_MAX];
    (void)state;
    /* success told to everyone, nothing sold (the lying server) */
    assert_int_equal(rule(100, 100, 500, 0, 0, detail), LT_CHECK_FAIL);
    assert_non_null(strstr(detail, "told they hold an order"));
    /* sold more than anyone was told or could have been */
    assert_int_equal(rule(100, 0, 90, 500, 5, detail), LT_CHECK_FAIL);
    /* SOLD_OUT while stock remained */
    assert_int_equal(rule(100, 20, 80, 500, 0, detail), LT_CHECK_FAIL);
    assert_non_null(strstr(detail, "SOLD_OUT while stock remained"));
    /* oversold: more successes than stock */
    assert_int_equal(rule(100, -5, 105, 400, 0, detail), LT_CHECK_FAIL);
}

static void test_buyers_record(void **state)
{
    lt_buyers_t buyers;
    lt_buyers_tally_t tally = {0};
    (void)state;
    lt_buyers_init(&buyers);
    lt_buyers_mark(&buyers, 0, LT_BUYER_SENT);
    lt_buyers_success(&buyers, 0, 0, "FS1-1", 5);
    lt_buyers_mark(&buyers, 1, LT_BUYER_SENT | LT_BUYER_SOLD_OUT);
    lt_buyers_mark(&buyers, 2, LT_BUYER_SENT | LT_BUYER_UNKNOWN);
    /* a hammering buyer: one success, the other attempts ALREADY_PURCHASED, one lost */
    lt_buyers_mark(&buyers, 5000, LT_BUYER_SENT | LT_BUYER_ALREADY | LT_BUYER_UNKNOWN);
    lt_buyers_success(&buyers, 5000, 5000, "FS1-2", 5);
    lt_buyers_mark(&buyers, 7, LT_BUYER_SENT | LT_BUYER_REFUSED);
    lt_buyers_success(&buyers, 9, 9, "FS1-3", 5);
    lt_buyers_mark(&buyers, 9, LT_BUYER_SENT);
    lt_buyers_success(&buyers, 9, 9, "FS1-4", 5);
    lt_buyers_count(&buyers, &tally);
    assert_int_equal(tally.sent, 6);
    assert_int_equal(tally.holders, 3);
    assert_int_equal(tally.told_success, 3);
    assert_int_equal(tally.sold_out, 1);
    assert_int_equal(tally.unknown, 1);
    assert_int_equal(tally.refused, 1);
    assert_int_equal(tally.two_successes, 1);
    assert_int_equal(buyers.success_len, 3);
    assert_memory_equal(buyers.arena.data + buyers.successes[1].offset, "FS1-2", 5);
    assert_int_equal(lt_buyers_flags(&buyers, 123456), 0);
    lt_buyers_dispose(&buyers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_storms),
        cmocka_unit_test(test_cut_storms),
        cmocka_unit_test(test_lies),
        cmocka_unit_test(test_buyers_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
