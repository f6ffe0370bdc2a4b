/*
 * Unit tests of clock: the ISO-8601 form the API reads and writes, checked against known
 * instants, against the C library's own calendar, and for every input the contract rejects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

#define MS_PER_DAY  86400000LL
#define YEAR_0_MS   (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define YEAR_END_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

static void assert_formats(int64_t ms, const char *expected)
{
    char out[CLOCK_ISO_LEN];
    clock_format_iso(out, ms);
    assert_string_equal(out, expected);
}

static int parse(const char *text, int64_t *ms)
{
    return clock_parse_iso(text, strlen(text), ms);
}

static void assert_parses(const char *text, int64_t expected)
{
    int64_t ms = 0;
    if (parse(text, &ms) != 0)
        fail_msg("rejected \"%s\"", text);
    assert_int_equal(ms, expected);
}

static void assert_rejects(const char *text)
{
    int64_t ms = 12345;
    if (parse(text, &ms) != -1)
        fail_msg("accepted \"%s\"", text);
    assert_int_equal(ms, 12345); /* untouched on failure */
}

static void test_format_known_instants(void **state)
{
    (void)state;
    assert_formats(0, "1970-01-01T00:00:00.000Z");
    assert_formats(1771149600000LL, "2026-02-15T10:00:00.000Z");
    assert_formats(1709210096789LL, "2024-02-29T12:34:56.789Z");
    assert_formats(951782400000LL, "2000-02-29T00:00:00.000Z");
    assert_formats(YEAR_0_MS, "0000-01-01T00:00:00.000Z");
    assert_formats(YEAR_END_MS, "9999-12-31T23:59:59.999Z");
}

static void test_format_before_epoch_rounds_down(void **state)
{
    (void)state;
    assert_formats(-1, "1969-12-31T23:59:59.999Z");
    assert_formats(-MS_PER_DAY, "1969-12-31T00:00:00.000Z");
    assert_formats(-MS_PER_DAY - 1, "1969-12-30T23:59:59.999Z");
    assert_formats(-62135596800000LL, "0001-01-01T00:00:00.000Z");
    /* January and February of year 0 sit before the March-based era starts. */
    assert_formats(YEAR_0_MS + 59 * MS_PER_DAY, "0000-02-29T00:00:00.000Z");
}

static void test_format_clamps_outside_four_digit_years(void **state)
{
    (void)state;
    assert_formats(YEAR_0_MS - 1, "0000-01-01T00:00:00.000Z");
    assert_formats(INT64_MIN, "0000-01-01T00:00:00.000Z");
    assert_formats(YEAR_END_MS + 1, "9999-12-31T23:59:59.999Z");
    assert_formats(INT64_MAX, "9999-12-31T23:59:59.999Z");
}

/* The C library's calendar is the oracle for every day of four centuries around now. */
static void test_format_agrees_with_gmtime(void **state)
{
    (void)state;
    for (int64_t day = -365LL * 70; day < 365LL * 330; day++) {
        int64_t ms = day * MS_PER_DAY + (day * 7919) % MS_PER_DAY;
        int64_t floor_seconds = ms / 1000 - (ms % 1000 < 0);
        time_t seconds = (time_t)floor_seconds;
        struct tm tm;
        assert_non_null(gmtime_r(&seconds, &tm));
        char expected[64];
        snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - floor_seconds * 1000));
        assert_formats(ms, expected);
    }
}

static void test_round_trip_every_day_of_four_digit_years(void **state)
{
    (void)state;
    for (int64_t ms = YEAR_0_MS; ms <= YEAR_END_MS; ms += MS_PER_DAY + 1013) {
        char text[CLOCK_ISO_LEN];
        clock_format_iso(text, ms);
        int64_t parsed;
        assert_int_equal(clock_parse_iso(text, strlen(text), &parsed), 0);
        assert_int_equal(parsed, ms);
    }
    assert_parses("0000-01-01T00:00:00.000Z", YEAR_0_MS);
    assert_parses("9999-12-31T23:59:59.999Z", YEAR_END_MS);
}

static void test_parse_optional_seconds_and_fraction(void **state)
{
    (void)state;
    assert_parses("2026-02-15T10:00:00.000Z", 1771149600000LL);
    assert_parses("2026-02-15T10:00:00Z", 1771149600000LL);
    assert_parses("2026-02-15T10:00Z", 1771149600000LL);
    assert_parses("2026-02-15T10:00:00.5Z", 1771149600500LL);
    assert_parses("2026-02-15T10:00:00.12Z", 1771149600120LL);
    /* Digits past milliseconds are truncated, not rounded. */
    assert_parses("2026-02-15T10:00:00.9999Z", 1771149600999LL);
    assert_parses("2026-02-15T10:00:00.123456789Z", 1771149600123LL);
}

static void test_parse_offsets(void **state)
{
    (void)state;
    assert_parses("2026-02-15T10:00:00+09:00", 1771117200000LL);
    assert_parses("2026-02-15T10:00:00-05:30", 1771169400000LL);
    assert_parses("2026-02-15T10:00:00+00:00", 1771149600000LL);
    assert_parses("2026-02-15T10:00:00-00:00", 1771149600000LL);
    assert_parses("2026-02-15T10:00:00.250+23:59", 1771149600250LL - (23 * 60 + 59) * 60000LL);
    /* An offset may move the instant across a day, month and year boundary. */
    assert_parses("2026-01-01T00:30:00+01:00", 1767223800000LL);
}

static void test_parse_leap_days(void **state)
{
    (void)state;
    assert_parses("2024-02-29T00:00:00Z", 1709164800000LL);
    assert_parses("2000-02-29T00:00:00.000Z", 951782400000LL);
    assert_rejects("2026-02-29T00:00:00Z");
    assert_rejects("2100-02-29T00:00:00Z");
    assert_rejects("2024-02-30T00:00:00Z");
}

static void test_parse_rejects_out_of_range_fields(void **state)
{
    (void)state;
    assert_rejects("2026-13-01T00:00:00Z");
    assert_rejects("2026-00-01T00:00:00Z");
    assert_rejects("2026-01-00T00:00:00Z");
    assert_rejects("2026-01-32T00:00:00Z");
    assert_rejects("2026-04-31T00:00:00Z");
    assert_rejects("2026-02-15T24:00:00Z");
    assert_rejects("2026-02-15T10:60:00Z");
    assert_rejects("2026-02-15T10:00:60Z");
    assert_rejects("2026-02-15T10:00:00+24:00");
    assert_rejects("2026-02-15T10:00:00+01:60");
}

static void test_parse_rejects_malformed_text(void **state)
{
    (void)state;
    assert_rejects("");
    assert_rejects("2026-02-15");
    assert_rejects("2026-02-15T10:00:00");     /* no zone */
    assert_rejects("2026-02-15T10:00:00.000"); /* no zone */
    assert_rejects("2026-02-15T10:00:00Zjunk");
    assert_rejects("2026-02-15T10:00:00Z ");
    assert_rejects(" 2026-02-15T10:00:00Z");
    assert_rejects("2026-02-15 10:00:00Z");
    assert_rejects("2026-02-15t10:00:00Z");
    assert_rejects("2026-02-15T10:00:00z");
    assert_rejects("2026-2-15T10:00:00Z");
    assert_rejects("2026-02-15T1:00:00Z");
    assert_rejects("+2026-02-15T10:00:00Z");
    assert_rejects("12026-02-15T10:00:00Z");
    assert_rejects("2026-02-15T10Z");
    assert_rejects("2026-02-15T10:00.5Z");   /* a fraction needs seconds */
    assert_rejects("2026-02-15T10:00:00.Z"); /* a point needs digits */
    assert_rejects("2026-02-15T10:00:00.1234567890Z");
    assert_rejects("2026-02-15T10:00:00+0900");
    assert_rejects("2026-02-15T10:00:00+09");
    assert_rejects("2026-02-15T10:00:00+9:00");
    assert_rejects("2026-02-15T10:00:00GMT");
    assert_rejects("2026-02-15T10:00:00Z+01:00");
    assert_rejects("２０２６-02-15T10:00:00Z");
}

static void test_parse_rejects_instants_outside_four_digit_years(void **state)
{
    (void)state;
    assert_rejects("0000-01-01T00:00:00+00:01");
    assert_rejects("9999-12-31T23:59:59.999-00:01");
    assert_parses("0000-01-01T00:01:00+00:01", YEAR_0_MS);
}

static void test_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    const char *text = "2026-02-15T10:00:00ZXYZ";
    int64_t ms;
    assert_int_equal(clock_parse_iso(text, 20, &ms), 0);
    assert_int_equal(ms, 1771149600000LL);
    assert_int_equal(clock_parse_iso(text, 19, &ms), -1);
    assert_int_equal(clock_parse_iso(text, 0, &ms), -1);
}

static void test_now_is_wall_clock_and_monotonic_does_not_go_back(void **state)
{
    (void)state;
    int64_t now = clock_now_ms();
    assert_true(now > 1767225600000LL); /* after 2026-01-01 */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    assert_true((int64_t)ts.tv_sec * 1000 - now < 60000);

    int64_t first = clock_monotonic_ms();
    int64_t second = clock_monotonic_ms();
    assert_true(second >= first);
}

/*
 * A deadline from clock_deadline_in is kept by a condition variable from clock_cond_init: the wait
 * times out after the delay, not at once (a monotonic deadline read on the wall clock lies decades
 * in the past) and not decades later (the other way round).
 */
static void test_timed_wait_uses_the_monotonic_clock(void **state)
{
    (void)state;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    assert_int_equal(clock_cond_init(&cond), 0);
    int64_t started = clock_monotonic_ms();
    struct timespec deadline = clock_deadline_in(150);
    int rc = 0;
    pthread_mutex_lock(&lock);
    while (rc == 0)
        rc = pthread_cond_timedwait(&cond, &lock, &deadline);
    pthread_mutex_unlock(&lock);
    int64_t waited = clock_monotonic_ms() - started;
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(waited >= 150);
    assert_true(waited < 5000);
    pthread_cond_destroy(&cond);

    /* Whole seconds and the carry out of the nanoseconds. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = clock_deadline_in(2999);
    assert_true(deadline.tv_nsec >= 0 && deadline.tv_nsec < 1000000000L);
    int64_t ahead_ms =
        (int64_t)(deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
    assert_true(ahead_ms >= 2998 && ahead_ms < 3100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known_instants),
        cmocka_unit_test(test_format_before_epoch_rounds_down),
        cmocka_unit_test(test_format_clamps_outside_four_digit_years),
        cmocka_unit_test(test_format_agrees_with_gmtime),
        cmocka_unit_test(test_round_trip_every_day_of_four_digit_years),
        cmocka_unit_test(test_parse_optional_seconds_and_fraction),
        cmocka_unit_test(test_parse_offsets),
        cmocka_unit_test(test_parse_leap_days),
        cmocka_unit_test(test_parse_rejects_out_of_range_fields),
        cmocka_unit_test(test_parse_rejects_malformed_text),
        cmocka_unit_test(test_parse_rejects_instants_outside_four_digit_years),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_now_is_wall_clock_and_monotonic_does_not_go_back),
        cmocka_unit_test(test_timed_wait_uses_the_monotonic_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
