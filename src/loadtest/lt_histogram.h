/*
 * lt_histogram: a fixed-memory log-linear histogram of latencies in nanoseconds, after the idea of
 * HdrHistogram (written here from that idea, not from its code).
 *
 * Values below 2^sub_bits are counted exactly; above, every power of two is cut into 2^(sub_bits-1)
 * equal buckets, so a bucket is never wider than 2^-(sub_bits-1) of its lower bound and a reported
 * value (the bucket's middle) is within 2^-sub_bits of any value counted in it: with sub_bits 8,
 * within 0.4%, for any value from 1 ns to LT_HISTOGRAM_MAX_NS (about 18 minutes; larger values are
 * counted as that). The memory is fixed at init: 34 KiB with sub_bits 8, 4.6 KiB with sub_bits 5
 * (used for the per-second series, 3.2% error). Not thread-safe: each thread records into its own
 * and they are merged with lt_histogram_add.
 */
#ifndef FLASHSALE_LT_HISTOGRAM_H
#define FLASHSALE_LT_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define LT_HISTOGRAM_MAX_BITS 40
#define LT_HISTOGRAM_MAX_NS   ((UINT64_C(1) << LT_HISTOGRAM_MAX_BITS) - 1)
#define LT_HISTOGRAM_FINE     8 /* sub_bits of the run's histogram: <= 0.4% error */
#define LT_HISTOGRAM_COARSE   5 /* sub_bits of the per-second histograms: <= 3.2% error */

typedef struct {
    uint64_t *counts; /* owned; bucket_count entries */
    size_t bucket_count;
    int sub_bits;
    uint64_t total;
    uint64_t min; /* exact, UINT64_MAX while empty */
    uint64_t max; /* exact */
} lt_histogram_t;

/* 0, or -1 when memory ran out. sub_bits is 2..16. */
int lt_histogram_init(lt_histogram_t *histogram, int sub_bits);
void lt_histogram_dispose(lt_histogram_t *histogram);
void lt_histogram_reset(lt_histogram_t *histogram);

void lt_histogram_record(lt_histogram_t *histogram, uint64_t value);
/* Adds every count of src into dst; both must have the same sub_bits. */
void lt_histogram_add(lt_histogram_t *dst, const lt_histogram_t *src);

/*
 * The value at percentile (0..100): the smallest recorded value such that at least that share of
 * the values are <= it, reported as its bucket's middle (exact for the extremes: 0 gives min, 100
 * gives max). 0 when empty.
 */
uint64_t lt_histogram_percentile(const lt_histogram_t *histogram, double percentile);

/* Bucket i covers [lower, upper] (inclusive); for walking the histogram to draw it. */
void lt_histogram_bucket_range(const lt_histogram_t *histogram, size_t index, uint64_t *lower,
                               uint64_t *upper);

#endif
