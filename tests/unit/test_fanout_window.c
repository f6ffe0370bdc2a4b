/*
 * Unit tests of fanout_window: the window between rounds of events from a measured period. An
 * idle loop gets the shortest window; a loop busy with other work gives the fan-out what is left
 * under the target, never less than the floor; the window widens at once and narrows by halves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/fanout_window.h"

#define SECOND 1000000000ull

/* A period of one second in which the writes took fanout_pm and the loop loop_pm thousandths. */
static int64_t next(int64_t window_ms, uint64_t fanout_pm, uint64_t loop_pm)
{
    fanout_load_t load = {
        .elapsed_ns = SECOND, .fanout_ns = fanout_pm * 1000000, .loop_ns = loop_pm * 1000000};
    return fanout_window_next(window_ms, &load);
}

static void test_quiet_loop_gets_the_shortest_window(void **state)
{
    (void)state;
    assert_int_equal(next(100, 0, 0), FANOUT_WINDOW_MIN_MS);
    assert_int_equal(next(100, 50, 80), FANOUT_WINDOW_MIN_MS);
    /* a loop that measured nothing keeps its window */
    fanout_load_t empty = {0};
    assert_int_equal(fanout_window_next(400, &empty), 400);
}

static void test_spare_time_goes_to_the_fanout(void **state)
{
    (void)state;
    /* rounds took 40% at 100 ms, the rest of the loop 5%: 45% allowed, so 100 ms stays */
    assert_int_equal(next(100, 400, 450), 100);
    /* rounds took the whole loop at 100 ms, nothing else did: 50% allowed, 200 ms */
    assert_int_equal(next(100, 1000, 1000), 200);
    /* other work 20%: 30% allowed for rounds that took 60% at 200 ms: 400 ms */
    assert_int_equal(next(200, 600, 800), 400);
}

static void test_a_saturated_loop_gives_the_fanout_its_floor(void **state)
{
    (void)state;
    /* purchases take 88%, rounds 12% at 1 s: the floor, 10%, asks for 1.2 s, capped at the maximum */
    assert_int_equal(next(1000, 120, 1000), FANOUT_WINDOW_MAX_MS);
    /* rounds at 500 ms took 6% next to 94% of purchases: 10% allowed, 300 ms */
    assert_int_equal(next(500, 60, 1000), 300);
    /* a loop that ran 50% and waited for a CPU 50% of the time counts as busy, not half idle */
    assert_int_equal(next(250, 100, 1000), 250);
}

static void test_widens_at_once_and_narrows_by_halves(void **state)
{
    (void)state;
    /* purchases took 70% and rounds 30% at 100 ms: 300 ms at once, not by steps */
    assert_int_equal(next(100, 300, 1000), 300);
    /* a period with no round (the storm paused) halves the window, no more */
    assert_int_equal(next(1000, 0, 900), 500);
    assert_int_equal(next(500, 0, 100), 250);
    assert_int_equal(next(250, 0, 100), 125);
    assert_int_equal(next(125, 0, 100), FANOUT_WINDOW_MIN_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_loop_gets_the_shortest_window),
        cmocka_unit_test(test_spare_time_goes_to_the_fanout),
        cmocka_unit_test(test_a_saturated_loop_gives_the_fanout_its_floor),
        cmocka_unit_test(test_widens_at_once_and_narrows_by_halves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
