/*
 * lt_summary: what the load test prints: the live line while the storm runs and the summary table
 * with the verification when it ends.
 *
 * The live line comes once a second: on a terminal it rewrites itself in place (\r), otherwise it is
 * a plain line per second, fit for logs and CI. It shows the last whole second (requests per second,
 * p50, p99), the outcomes so far and the sale's remaining stock.
 */
#ifndef FLASHSALE_LT_SUMMARY_H
#define FLASHSALE_LT_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loadtest/lt_run.h"
#include "loadtest/lt_stats.h"

/* One live line for elapsed_s seconds into the run; stock < 0 when unknown. Locks stats. */
void lt_summary_live(FILE *out, bool terminal, lt_stats_t *stats, int elapsed_s, int64_t stock);
/* Ends the live line (a newline after an in-place line on a terminal). */
void lt_summary_live_end(FILE *out, bool terminal);

/* The header of the run: target, sale and load. */
void lt_summary_header(FILE *out, const lt_run_t *run);
/* The table of figures, then the verification, then the verdict. */
void lt_summary_print(FILE *out, const lt_run_t *run);

#endif
