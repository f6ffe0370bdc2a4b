/*
 * rate: a request rate as the flags write it ("2/s", "100/min,burst=20") and the decision of the
 * generic cell rate algorithm (GCRA) over it.
 *
 * GCRA is a token bucket kept as one number per client, its theoretical arrival time (TAT): the
 * time at which the client's bucket would be full again. A request at `now` is allowed when the
 * TAT is at most `tolerance` ahead of now (a full bucket holds `burst` requests), and pushes the
 * TAT one emission interval further. A TAT in the past means a full bucket, so a client whose
 * TAT has passed carries no state at all: that is what lets the limiter tables forget clients
 * (limiter_table.h) and Redis expire their keys. Pure logic; times are microseconds on any clock
 * the caller uses consistently.
 */
#ifndef FLASHSALE_RATE_H
#define FLASHSALE_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_COUNT_MAX 1000000
#define RATE_BURST_MAX 1000000

typedef struct {
    uint32_t count;       /* N requests ... */
    uint32_t period_s;    /* ... per this many seconds (1 or 60) */
    uint32_t burst;       /* requests a client with a full bucket may send at once, >= 1 */
    int64_t interval_us;  /* the emission interval: period / N */
    int64_t tolerance_us; /* how far ahead of now the TAT may be: interval * (burst - 1) */
} rate_t;

/*
 * Parses "N/s" or "N/min" with an optional ",burst=B" (N and B 1..1,000,000, no spaces). Without a
 * burst the bucket holds one period's worth, N. Returns 0, or -1 with a human reason in *error
 * (a static string).
 */
int rate_parse(const char *text, rate_t *out, const char **error);

/* Writes the rate back in the flag's syntax ("2/s,burst=4") into out (size bytes). */
void rate_format(const rate_t *rate, char *out, size_t size);

/*
 * The GCRA decision for one client whose TAT is `tat_us` (0 or anything in the past for a client
 * without state). Allowed: returns true and sets *new_tat_us. Refused: returns false and sets
 * *retry_after_us to how long until the same request would be allowed (> 0); the TAT is
 * unchanged, so refused requests cost the client nothing.
 */
bool rate_decide(const rate_t *rate, int64_t tat_us, int64_t now_us, int64_t *new_tat_us,
                 int64_t *retry_after_us);

#endif
