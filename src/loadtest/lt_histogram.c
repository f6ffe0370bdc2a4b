#include "loadtest/lt_histogram.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/*
 * Layout: indexes 0 .. 2^sub_bits - 1 hold the values themselves. A value v >= 2^sub_bits with
 * highest set bit e goes to magnitude m = e - sub_bits + 1 (>= 1), where v >> m lies in
 * [2^(sub_bits-1), 2^sub_bits): index m * 2^(sub_bits-1) + (v >> m). Consecutive magnitudes join
 * without a gap, so indexes grow with values.
 */
static size_t index_of(int sub_bits, uint64_t value)
{
    int highest, magnitude;

    if (value >> sub_bits == 0)
        return (size_t)value;
    highest = 63 - __builtin_clzll(value);
    magnitude = highest - sub_bits + 1;
    return ((size_t)magnitude << (sub_bits - 1)) + (size_t)(value >> magnitude);
}

void lt_histogram_bucket_range(const lt_histogram_t *histogram, size_t index, uint64_t *lower,
                               uint64_t *upper)
{
    size_t half = (size_t)1 << (histogram->sub_bits - 1);
    size_t magnitude;

    assert(index < histogram->bucket_count);
    if (index < 2 * half) {
        *lower = *upper = index;
        return;
    }
    magnitude = index / half - 1;
    *lower = (uint64_t)(index - magnitude * half) << magnitude;
    *upper = *lower + ((UINT64_C(1) << magnitude) - 1);
}

int lt_histogram_init(lt_histogram_t *histogram, int sub_bits)
{
    assert(sub_bits >= 2 && sub_bits <= 16);
    *histogram = (lt_histogram_t){.sub_bits = sub_bits, .min = UINT64_MAX};
    histogram->bucket_count = index_of(sub_bits, LT_HISTOGRAM_MAX_NS) + 1;
    histogram->counts = calloc(histogram->bucket_count, sizeof(uint64_t));
    return histogram->counts == NULL ? -1 : 0;
}

void lt_histogram_dispose(lt_histogram_t *histogram)
{
    free(histogram->counts);
    histogram->counts = NULL;
}

void lt_histogram_reset(lt_histogram_t *histogram)
{
    memset(histogram->counts, 0, histogram->bucket_count * sizeof(uint64_t));
    histogram->total = 0;
    histogram->min = UINT64_MAX;
    histogram->max = 0;
}

void lt_histogram_record(lt_histogram_t *histogram, uint64_t value)
{
    if (value > LT_HISTOGRAM_MAX_NS)
        value = LT_HISTOGRAM_MAX_NS;
    histogram->counts[index_of(histogram->sub_bits, value)]++;
    histogram->total++;
    if (value < histogram->min)
        histogram->min = value;
    if (value > histogram->max)
        histogram->max = value;
}

void lt_histogram_add(lt_histogram_t *dst, const lt_histogram_t *src)
{
    assert(dst->sub_bits == src->sub_bits);
    if (src->total == 0)
        return;
    for (size_t i = 0; i < dst->bucket_count; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t lt_histogram_percentile(const lt_histogram_t *histogram, double percentile)
{
    uint64_t rank, seen = 0, lower, upper, middle;
    double exact_rank;

    if (histogram->total == 0)
        return 0;
    if (percentile <= 0)
        return histogram->min;
    if (percentile >= 100)
        return histogram->max;
    /* the rank-th smallest value (1-based), as the nearest-rank definition of a percentile */
    exact_rank = percentile / 100.0 * (double)histogram->total;
    rank = (uint64_t)exact_rank;
    if ((double)rank < exact_rank || rank == 0)
        rank++;
    for (size_t i = 0; i < histogram->bucket_count; i++) {
        seen += histogram->counts[i];
        if (seen < rank)
            continue;
        lt_histogram_bucket_range(histogram, i, &lower, &upper);
        middle = lower + (upper - lower) / 2;
        /* the exact extremes are known: never report beyond them */
        if (middle < histogram->min)
            middle = histogram->min;
        if (middle > histogram->max)
            middle = histogram->max;
        return middle;
    }
    return histogram->max;
}
