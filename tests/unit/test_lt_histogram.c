/*
 * Unit tests of lt_histogram: every percentile it reports is within 1% of the exact percentile of the
 * recorded samples (sorted), for several shapes of data across its whole range; the extremes are
 * exact; merging two histograms equals recording into one; the bucket layout has no gap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest/lt_histogram.h"

#define SAMPLES 200000

static const double percentiles[] = {0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99};

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted samples: the smallest value with at least p% at or below. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t count, double percentile)
{
    double exact_rank = percentile / 100.0 * (double)count;
    size_t rank = (size_t)exact_rank;
    if ((double)rank < exact_rank || rank == 0)
        rank++;
    return sorted[rank - 1];
}

/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static double uniform(uint64_t *state)
{
    return (double)(next_random(state) >> 11) / 9007199254740992.0;
}

static void assert_within_one_percent(uint64_t *samples, size_t count, int sub_bits, double bound)
{
    lt_histogram_t histogram;

    assert_int_equal(lt_histogram_init(&histogram, sub_bits), 0);
    for (size_t i = 0; i < count; i++)
        lt_histogram_record(&histogram, samples[i]);
    qsort(samples, count, sizeof(uint64_t), compare_u64);
    for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
        uint64_t exact = exact_percentile(samples, count, percentiles[i]);
        uint64_t reported = lt_histogram_percentile(&histogram, percentiles[i]);
        double error = fabs((double)reported - (double)exact) / (double)exact;
        if (error > bound)
            fail_msg("p%g: reported %llu, exact %llu, error %.4f%% > %.2f%%", percentiles[i],
                     (unsigned long long)reported, (unsigned long long)exact, error * 100, bound * 100);
    }
    assert_int_equal(lt_histogram_percentile(&histogram, 0), samples[0]);
    assert_int_equal(lt_histogram_percentile(&histogram, 100), samples[count - 1]);
    assert_int_equal(histogram.total, count);
    lt_histogram_dispose(&histogram);
}

/* Latencies as a server gives them: log-normal around 400 us with a heavy tail. */
static void test_lognormal_latencies(void **state)
{
    uint64_t *samples = malloc(SAMPLES * sizeof(uint64_t)), seed = 42;
    (void)state;
    for (size_t i = 0; i < SAMPLES; i++) {
        double u1 = uniform(&seed) + 1e-12, u2 = uniform(&seed);
        double normal = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        samples[i] = (uint64_t)(400000.0 * exp(1.2 * normal)) + 1;
    }
    assert_within_one_percent(samples, SAMPLES, LT_HISTOGRAM_FINE, 0.01);
    free(samples);
}

/* Uniform over the whole range, 1 ns to 18 minutes: every magnitude is exercised. */
static void test_values_across_the_range(void **state)
{
    uint64_t *samples = malloc(SAMPLES * sizeof(uint64_t)), seed = 7;
    (void)state;
    for (size_t i = 0; i < SAMPLES; i++)
        samples[i] = (uint64_t)pow(2.0, uniform(&seed) * (LT_HISTOGRAM_MAX_BITS - 0.001)) + 1;
    assert_within_one_percent(samples, SAMPLES, LT_HISTOGRAM_FINE, 0.01);
    free(samples);
}

/* A bimodal run (fast rejections, slow durable purchases): the percentiles between the modes. */
static void test_bimodal(void **state)
{
    uint64_t *samples = malloc(SAMPLES * sizeof(uint64_t)), seed = 99;
    (void)state;
    for (size_t i = 0; i < SAMPLES; i++)
        samples[i] =
            i % 10 == 0 ? 2000000 + next_random(&seed) % 8000000 : 150000 + next_random(&seed) % 100000;
    assert_within_one_percent(samples, SAMPLES, LT_HISTOGRAM_FINE, 0.01);
    free(samples);
}

/* The coarse variant used per second keeps its own, looser bound. */
static void test_coarse_bound(void **state)
{
    uint64_t *samples = malloc(SAMPLES * sizeof(uint64_t)), seed = 5;
    (void)state;
    for (size_t i = 0; i < SAMPLES; i++)
        samples[i] = 1000 + next_random(&seed) % 50000000;
    assert_within_one_percent(samples, SAMPLES, LT_HISTOGRAM_COARSE, 1.0 / 32);
    free(samples);
}

static void test_small_values_are_exact(void **state)
{
    lt_histogram_t histogram;
    (void)state;
    assert_int_equal(lt_histogram_init(&histogram, LT_HISTOGRAM_FINE), 0);
    for (uint64_t v = 1; v <= 100; v++)
        lt_histogram_record(&histogram, v);
    assert_int_equal(lt_histogram_percentile(&histogram, 50), 50);
    assert_int_equal(lt_histogram_percentile(&histogram, 99), 99);
    assert_int_equal(lt_histogram_percentile(&histogram, 1), 1);
    lt_histogram_dispose(&histogram);
}

static void test_empty_and_huge(void **state)
{
    lt_histogram_t histogram;
    (void)state;
    assert_int_equal(lt_histogram_init(&histogram, LT_HISTOGRAM_FINE), 0);
    assert_int_equal(lt_histogram_percentile(&histogram, 50), 0);
    lt_histogram_record(&histogram, UINT64_MAX);
    assert_int_equal(lt_histogram_percentile(&histogram, 50), LT_HISTOGRAM_MAX_NS);
    lt_histogram_reset(&histogram);
    assert_int_equal(histogram.total, 0);
    assert_int_equal(lt_histogram_percentile(&histogram, 99), 0);
    lt_histogram_dispose(&histogram);
}

static void test_add_equals_recording_into_one(void **state)
{
    lt_histogram_t a, b, both;
    uint64_t seed = 3;
    (void)state;
    lt_histogram_init(&a, LT_HISTOGRAM_FINE);
    lt_histogram_init(&b, LT_HISTOGRAM_FINE);
    lt_histogram_init(&both, LT_HISTOGRAM_FINE);
    for (int i = 0; i < 10000; i++) {
        uint64_t v = next_random(&seed) % 100000000;
        lt_histogram_record(i % 3 ? &a : &b, v);
        lt_histogram_record(&both, v);
    }
    lt_histogram_add(&a, &b);
    assert_int_equal(a.total, both.total);
    assert_int_equal(a.min, both.min);
    assert_int_equal(a.max, both.max);
    assert_memory_equal(a.counts, both.counts, a.bucket_count * sizeof(uint64_t));
    lt_histogram_dispose(&a);
    lt_histogram_dispose(&b);
    lt_histogram_dispose(&both);
}

/* Consecutive buckets join without gap or overlap, and each bucket's width respects the bound. */
static void test_bucket_layout(void **state)
{
    lt_histogram_t histogram;
    uint64_t lower, upper, previous_upper = 0;
    (void)state;
    lt_histogram_init(&histogram, LT_HISTOGRAM_FINE);
    for (size_t i = 0; i < histogram.bucket_count; i++) {
        lt_histogram_bucket_range(&histogram, i, &lower, &upper);
        if (i > 0)
            assert_int_equal(lower, previous_upper + 1);
        assert_true(upper >= lower);
        assert_true((double)(upper - lower) <= (double)lower / 128.0);
        previous_upper = upper;
    }
    assert_int_equal(previous_upper, LT_HISTOGRAM_MAX_NS);
    lt_histogram_dispose(&histogram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lognormal_latencies),
        cmocka_unit_test(test_values_across_the_range),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_coarse_bound),
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_empty_and_huge),
        cmocka_unit_test(test_add_equals_recording_into_one),
        cmocka_unit_test(test_bucket_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
