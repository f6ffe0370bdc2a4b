/*
 * Unit tests of rate: the flag syntax and its errors, and the GCRA decision — exactly the burst
 * at once, the retry time of the next request, recovery at that time, and refusals that cost
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/rate.h"

static rate_t parse_ok(const char *text)
{
    const char *error = NULL;
    rate_t rate;
    if (rate_parse(text, &rate, &error) != 0)
        fail_msg("rate_parse(%s): %s", text, error);
    return rate;
}

static void assert_refused(const char *text)
{
    const char *error = NULL;
    rate_t rate;
    if (rate_parse(text, &rate, &error) == 0)
        fail_msg("rate_parse accepted '%s'", text);
    assert_non_null(error);
}

static void test_per_second_with_burst(void **state)
{
    (void)state;
    rate_t rate = parse_ok("2/s,burst=4");
    assert_int_equal(rate.count, 2);
    assert_int_equal(rate.period_s, 1);
    assert_int_equal(rate.burst, 4);
    assert_int_equal(rate.interval_us, 500000);
    assert_int_equal(rate.tolerance_us, 1500000);
}

static void test_per_minute_defaults_burst_to_count(void **state)
{
    (void)state;
    rate_t rate = parse_ok("30/min");
    assert_int_equal(rate.count, 30);
    assert_int_equal(rate.period_s, 60);
    assert_int_equal(rate.burst, 30);
    assert_int_equal(rate.interval_us, 2000000);
    assert_int_equal(rate.tolerance_us, 29 * 2000000LL);
}

static void test_extremes(void **state)
{
    (void)state;
    rate_t fast = parse_ok("1000000/s,burst=1");
    assert_int_equal(fast.interval_us, 1);
    assert_int_equal(fast.tolerance_us, 0);
    rate_t slow = parse_ok("1/min,burst=1000000");
    assert_int_equal(slow.interval_us, 60000000);
}

static void test_bad_syntax_is_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "s",
                         "0/s",
                         "-1/s",
                         "2",
                         "2/",
                         "2/h",
                         "2/sec",
                         "2/s,",
                         "2/s,burst",
                         "2/s,burst=",
                         "2/s,burst=0",
                         "2/s,burst=x",
                         "2/s,burst=3x",
                         "2/s burst=3",
                         " 2/s",
                         "2 /s",
                         "1000001/s",
                         "2/s,burst=1000001",
                         "99999999999999999999/s",
                         "2/s,rate=3",
                         "2/min,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_refused(bad[i]);
    const char *error = NULL;
    rate_t rate;
    assert_int_equal(rate_parse(NULL, &rate, &error), -1);
}

static void test_format_round_trips(void **state)
{
    (void)state;
    char text[64];
    rate_t rate = parse_ok("7/min");
    rate_format(&rate, text, sizeof(text));
    assert_string_equal(text, "7/min,burst=7");
    rate_t again = parse_ok(text);
    assert_memory_equal(&rate, &again, sizeof(rate));
}

/* Sends requests at `now` until one is refused; returns how many were allowed. */
static int allowed_at_once(const rate_t *rate, int64_t *tat, int64_t now, int64_t *retry_after)
{
    int allowed = 0;
    int64_t new_tat;
    while (rate_decide(rate, *tat, now, &new_tat, retry_after)) {
        *tat = new_tat;
        ++allowed;
        assert_true(allowed <= (int)rate->burst);
    }
    return allowed;
}

static void test_exactly_the_burst_then_retry_after(void **state)
{
    (void)state;
    rate_t rate = parse_ok("2/s,burst=4");
    int64_t tat = 0, now = 1000000000, retry_after = 0, new_tat;

    assert_int_equal(allowed_at_once(&rate, &tat, now, &retry_after), 4);
    /* the next token arrives one interval after the bucket emptied */
    assert_int_equal(retry_after, 500000);
    assert_false(rate_decide(&rate, tat, now + retry_after - 1, &new_tat, &retry_after));
    assert_int_equal(retry_after, 1);
    assert_true(rate_decide(&rate, tat, now + 500000, &new_tat, &retry_after));
}

static void test_refusals_cost_nothing(void **state)
{
    (void)state;
    rate_t rate = parse_ok("1/s,burst=1");
    int64_t tat = 0, now = 5000000, retry_after = 0, new_tat = 0;

    assert_true(rate_decide(&rate, tat, now, &tat, &retry_after));
    for (int i = 0; i < 100; ++i) {
        assert_false(rate_decide(&rate, tat, now + i * 1000, &new_tat, &retry_after));
        assert_int_equal(retry_after, 1000000 - i * 1000);
    }
    /* refused requests did not move the TAT: one second after the first, the bucket has a token */
    assert_true(rate_decide(&rate, tat, now + 1000000, &new_tat, &retry_after));
}

static void test_past_tat_means_full_bucket(void **state)
{
    (void)state;
    rate_t rate = parse_ok("10/s,burst=3");
    int64_t retry_after = 0;
    int64_t tat = 123; /* long past: no state */
    assert_int_equal(allowed_at_once(&rate, &tat, 9000000, &retry_after), 3);
    /* once the TAT is reached the bucket is full again, and one microsecond earlier it is not */
    int64_t full_at = tat;
    int64_t almost = tat;
    assert_int_equal(allowed_at_once(&rate, &almost, full_at - 1, &retry_after), 2);
    assert_int_equal(allowed_at_once(&rate, &tat, full_at, &retry_after), 3);
}

static void test_steady_rate_is_sustained(void **state)
{
    (void)state;
    rate_t rate = parse_ok("3/s,burst=1");
    int64_t tat = 0, now = 1000000, retry_after = 0, new_tat;
    for (int i = 0; i < 30; ++i) {
        assert_true(rate_decide(&rate, tat, now, &new_tat, &retry_after));
        tat = new_tat;
        now += rate.interval_us;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_second_with_burst),
        cmocka_unit_test(test_per_minute_defaults_burst_to_count),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_bad_syntax_is_refused),
        cmocka_unit_test(test_format_round_trips),
        cmocka_unit_test(test_exactly_the_burst_then_retry_after),
        cmocka_unit_test(test_refusals_cost_nothing),
        cmocka_unit_test(test_past_tat_means_full_bucket),
        cmocka_unit_test(test_steady_rate_is_sustained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
