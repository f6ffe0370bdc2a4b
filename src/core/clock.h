/*
 * clock: wall-clock time in milliseconds and its ISO-8601 form.
 *
 * The API speaks "2026-02-15T10:00:00.000Z"; internally every time is an int64 count of
 * milliseconds since the Unix epoch, so comparisons are integer comparisons.
 */
#ifndef FLASHSALE_CLOCK_H
#define FLASHSALE_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CLOCK_ISO_LEN 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL */

int64_t clock_now_ms(void);
/* Monotonic milliseconds, for durations and uptime. */
int64_t clock_monotonic_ms(void);
/* Monotonic nanoseconds, for latencies. */
uint64_t clock_monotonic_ns(void);

/*
 * Timed waits. A condition variable measures pthread_cond_timedwait's deadline on the clock it was
 * made with, CLOCK_REALTIME unless told otherwise, and a wall clock that jumps (NTP, an operator)
 * would stretch or cut every timed wait. So a thread that waits with a timeout initialises its
 * condition variable with clock_cond_init and takes the deadline from clock_deadline_in, both on
 * CLOCK_MONOTONIC. clock_cond_init returns pthread_cond_init's result.
 */
int clock_cond_init(pthread_cond_t *cond);
/* The CLOCK_MONOTONIC time ms milliseconds from now, for pthread_cond_timedwait. */
struct timespec clock_deadline_in(int64_t ms);

/*
 * Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (CLOCK_ISO_LEN bytes). A time outside years
 * 0000-9999 is clamped to the nearest one inside, so the form never changes.
 */
void clock_format_iso(char *out, int64_t ms);

/*
 * Parses ISO-8601 / RFC 3339 as JavaScript's Date.toISOString() writes it and people type it:
 * "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z" or "+HH:MM"/"-HH:MM". Returns 0 and sets *ms,
 * or -1 for anything else (an out-of-range field, trailing text, a missing zone, or a UTC time
 * outside years 0000-9999, which clock_format_iso could not write back).
 */
int clock_parse_iso(const char *text, size_t len, int64_t *ms);

#endif
