#include "core/rate.h"

#include <stdio.h>
#include <string.h>

/* Reads a decimal number 1..max at *text and advances past it; -1 when there is none or too big. */
static int64_t read_number(const char **text, int64_t max)
{
    int64_t value = 0;
    const char *at = *text;

    if (*at < '0' || *at > '9')
        return -1;
    for (; *at >= '0' && *at <= '9'; ++at) {
        value = value * 10 + (*at - '0');
        if (value > max)
            return -1;
    }
    *text = at;
    return value >= 1 ? value : -1;
}

int rate_parse(const char *text, rate_t *out, const char **error)
{
    const char *at = text;
    int64_t count, burst;
    uint32_t period_s;

    if (text == NULL || (count = read_number(&at, RATE_COUNT_MAX)) < 0) {
        *error = "must start with a number of requests from 1 to 1000000, as in 10/s or 100/min";
        return -1;
    }
    if (strncmp(at, "/s", 2) == 0 && (at[2] == '\0' || at[2] == ',')) {
        period_s = 1;
        at += 2;
    } else if (strncmp(at, "/min", 4) == 0 && (at[4] == '\0' || at[4] == ',')) {
        period_s = 60;
        at += 4;
    } else {
        *error = "needs a period of /s or /min after the number, as in 10/s or 100/min";
        return -1;
    }
    burst = count;
    if (*at == ',') {
        at += 1;
        if (strncmp(at, "burst=", 6) != 0) {
            *error = "may only be followed by ,burst=B";
            return -1;
        }
        at += 6;
        if ((burst = read_number(&at, RATE_BURST_MAX)) < 0) {
            *error = "needs a burst from 1 to 1000000, as in 10/s,burst=20";
            return -1;
        }
    }
    if (*at != '\0') {
        *error = "has unexpected text after the rate; write N/s or N/min with an optional ,burst=B";
        return -1;
    }
    /* count <= 1,000,000 per second keeps the interval at least one microsecond */
    *out = (rate_t){
        .count = (uint32_t)count,
        .period_s = period_s,
        .burst = (uint32_t)burst,
        .interval_us = (int64_t)period_s * 1000000 / count,
    };
    out->tolerance_us = out->interval_us * (int64_t)(out->burst - 1);
    return 0;
}

void rate_format(const rate_t *rate, char *out, size_t size)
{
    snprintf(out, size, "%u/%s,burst=%u", rate->count, rate->period_s == 1 ? "s" : "min", rate->burst);
}

bool rate_decide(const rate_t *rate, int64_t tat_us, int64_t now_us, int64_t *new_tat_us,
                 int64_t *retry_after_us)
{
    int64_t tat = tat_us > now_us ? tat_us : now_us;

    if (tat - now_us > rate->tolerance_us) {
        *retry_after_us = tat - now_us - rate->tolerance_us;
        return false;
    }
    *new_tat_us = tat + rate->interval_us;
    return true;
}
