/*
 * Unit tests of loop_load: a thread's demand for a CPU grows by at least the time it spins (running
 * or waiting to run, it wants a CPU all along) and by little while it sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "core/clock.h"
#include "http/loop_load.h"

#define SPAN_NS 200000000ull /* 200 ms */

static void test_spinning_counts_in_full(void **state)
{
    (void)state;
    uint64_t before = loop_load_demand_ns(), started = clock_monotonic_ns();
    volatile uint64_t turns = 0;
    while (clock_monotonic_ns() - started < SPAN_NS)
        ++turns;
    uint64_t spun = clock_monotonic_ns() - started;
    /* schedstat is kept in ns; the fallback, CPU time, may miss the time spent waiting */
    assert_true(loop_load_demand_ns() - before >= spun * 9 / 10);
}

static void test_sleeping_counts_little(void **state)
{
    (void)state;
    uint64_t before = loop_load_demand_ns();
    struct timespec nap = {.tv_sec = 0, .tv_nsec = (long)SPAN_NS};
    nanosleep(&nap, NULL);
    assert_true(loop_load_demand_ns() - before < SPAN_NS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spinning_counts_in_full),
        cmocka_unit_test(test_sleeping_counts_little),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
