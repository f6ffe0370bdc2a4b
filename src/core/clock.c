/*
 * clock: the calendar arithmetic is written out rather than taken from gmtime_r/timegm, because
 * timegm is not standard C, both detour through time_t and struct tm, and the proleptic
 * Gregorian conversion is a few lines of integer arithmetic that is exact and thread-safe.
 */
#include "core/clock.h"

#include <assert.h>
#include <stdbool.h>
#include <time.h>

#define MS_PER_SECOND 1000
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR   (60 * MS_PER_MINUTE)
#define MS_PER_DAY    ((int64_t)24 * MS_PER_HOUR)

/* Days from 1970-01-01 to 0000-01-01 and to 10000-01-01: the four-digit years the API can write. */
#define DAYS_TO_YEAR_0     (-719528)
#define DAYS_TO_YEAR_10000 2932897
#define CLOCK_MIN_MS       ((int64_t)DAYS_TO_YEAR_0 * MS_PER_DAY)
#define CLOCK_MAX_MS       ((int64_t)DAYS_TO_YEAR_10000 * MS_PER_DAY - 1)

static int64_t timespec_to_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * MS_PER_SECOND + ts->tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
    struct timespec ts;
    /* Cannot fail with a valid clock id and pointer. */
    clock_gettime(CLOCK_REALTIME, &ts);
    return timespec_to_ms(&ts);
}

int64_t clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_to_ms(&ts);
}

uint64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int clock_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attributes;
    int result = pthread_condattr_init(&attributes);

    if (result == 0)
        result = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    if (result == 0)
        result = pthread_cond_init(cond, &attributes);
    pthread_condattr_destroy(&attributes);
    return result;
}

struct timespec clock_deadline_in(int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    return deadline;
}

/* C division truncates toward zero; the calendar needs it to round down. */
static int64_t floor_div(int64_t numerator, int64_t denominator)
{
    int64_t quotient = numerator / denominator;
    return quotient - (numerator % denominator < 0);
}

/*
 * Howard Hinnant's days_from_civil / civil_from_days: the year is shifted to start in March so
 * that the leap day falls at the end, and 400-year eras make the arithmetic exact. January and
 * February of year 0 belong to year -1 of that shifted calendar, hence floor division.
 */
static int64_t days_from_civil(int year, int month, int day)
{
    year -= month <= 2;
    int era = (int)floor_div(year, 400);
    int year_of_era = year - era * 400;
    int day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return (int64_t)era * 146097 + day_of_era - 719468;
}

static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
    days += 719468;
    int era = (int)floor_div(days, 146097);
    int day_of_era = (int)(days - (int64_t)era * 146097);
    int year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int month_from_march = (5 * day_of_year + 2) / 153;
    *day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    *month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    *year = year_of_era + era * 400 + (*month <= 2);
}

/* Writes value as exactly `digits` zero-padded decimal digits followed by `separator`. */
static char *put_field(char *out, int value, int digits, char separator)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
    out[digits] = separator;
    return out + digits + 1;
}

/*
 * Written digit by digit rather than with snprintf: every field is known to be in range after
 * the clamp, and this runs for every time in every reply.
 */
void clock_format_iso(char *out, int64_t ms)
{
    if (ms < CLOCK_MIN_MS)
        ms = CLOCK_MIN_MS;
    if (ms > CLOCK_MAX_MS)
        ms = CLOCK_MAX_MS;
    int64_t days = floor_div(ms, MS_PER_DAY);
    int ms_of_day = (int)(ms - days * MS_PER_DAY);
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    out = put_field(out, year, 4, '-');
    out = put_field(out, month, 2, '-');
    out = put_field(out, day, 2, 'T');
    out = put_field(out, ms_of_day / MS_PER_HOUR, 2, ':');
    out = put_field(out, ms_of_day / MS_PER_MINUTE % 60, 2, ':');
    out = put_field(out, ms_of_day / MS_PER_SECOND % 60, 2, '.');
    out = put_field(out, ms_of_day % MS_PER_SECOND, 3, 'Z');
    *out = '\0';
}

/* A cursor over the text being parsed; every reader returns false instead of reading past end. */
typedef struct {
    const char *at;
    const char *end;
} cursor_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool read_char(cursor_t *cursor, char expected)
{
    if (cursor->at == cursor->end || *cursor->at != expected)
        return false;
    cursor->at++;
    return true;
}

/* Exactly `digits` decimal digits, within [min, max]. */
static bool read_number(cursor_t *cursor, int digits, int min, int max, int *value)
{
    if (cursor->end - cursor->at < digits)
        return false;
    int result = 0;
    for (int i = 0; i < digits; i++) {
        if (!is_digit(cursor->at[i]))
            return false;
        result = result * 10 + (cursor->at[i] - '0');
    }
    if (result < min || result > max)
        return false;
    cursor->at += digits;
    *value = result;
    return true;
}

/* 1-9 digits after the point (nanoseconds at most, as RFC 3339 writers produce); kept to ms. */
static bool read_fraction_ms(cursor_t *cursor, int *ms)
{
    int digits = 0;
    int result = 0;
    while (cursor->at != cursor->end && is_digit(*cursor->at)) {
        if (++digits > 9)
            return false;
        if (digits <= 3)
            result = result * 10 + (*cursor->at - '0');
        cursor->at++;
    }
    if (digits == 0)
        return false;
    for (; digits < 3; digits++)
        result *= 10;
    *ms = result;
    return true;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

static bool read_date(cursor_t *cursor, int64_t *days)
{
    int year, month, day;
    if (!read_number(cursor, 4, 0, 9999, &year) || !read_char(cursor, '-') ||
        !read_number(cursor, 2, 1, 12, &month) || !read_char(cursor, '-') ||
        !read_number(cursor, 2, 1, days_in_month(year, month), &day))
        return false;
    *days = days_from_civil(year, month, day);
    return true;
}

/* "HH:MM[:SS[.f...]]"; seconds stop at 59 because a leap second has no epoch count of its own. */
static bool read_time_of_day(cursor_t *cursor, int64_t *ms)
{
    int hour, minute, second = 0, fraction_ms = 0;
    if (!read_number(cursor, 2, 0, 23, &hour) || !read_char(cursor, ':') ||
        !read_number(cursor, 2, 0, 59, &minute))
        return false;
    if (read_char(cursor, ':')) {
        if (!read_number(cursor, 2, 0, 59, &second))
            return false;
        if (read_char(cursor, '.') && !read_fraction_ms(cursor, &fraction_ms))
            return false;
    }
    *ms = (int64_t)hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND + fraction_ms;
    return true;
}

/* "Z", "+HH:MM" or "-HH:MM": how far local time is ahead of UTC. */
static bool read_zone_offset(cursor_t *cursor, int64_t *offset_ms)
{
    if (read_char(cursor, 'Z')) {
        *offset_ms = 0;
        return true;
    }
    int sign;
    if (read_char(cursor, '+'))
        sign = 1;
    else if (read_char(cursor, '-'))
        sign = -1;
    else
        return false;
    int hours, minutes;
    if (!read_number(cursor, 2, 0, 23, &hours) || !read_char(cursor, ':') ||
        !read_number(cursor, 2, 0, 59, &minutes))
        return false;
    *offset_ms = sign * ((int64_t)hours * MS_PER_HOUR + minutes * MS_PER_MINUTE);
    return true;
}

int clock_parse_iso(const char *text, size_t len, int64_t *ms)
{
    assert(text != NULL || len == 0);
    cursor_t cursor = {text, text + len};
    int64_t days, time_of_day, offset;
    if (!read_date(&cursor, &days) || !read_char(&cursor, 'T') || !read_time_of_day(&cursor, &time_of_day) ||
        !read_zone_offset(&cursor, &offset) || cursor.at != cursor.end)
        return -1;
    int64_t result = days * MS_PER_DAY + time_of_day - offset;
    /* An offset can carry year 0000 or 9999 across the edge; such a time could not be written back. */
    if (result < CLOCK_MIN_MS || result > CLOCK_MAX_MS)
        return -1;
    *ms = result;
    return 0;
}
