/*
 * Unit tests of fanout_window: the window between rounds of events from a measured period. An
 * idle loop gets the shortest window; a loop busy with other work gives the fan-out what is left
 * under the target, never less than the floor; what a round costs decides, however many rounds
 * the period caught; the window widens at once and narrows by halves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/fanout_window.h"

#define SECOND 1000000000ull

/* A period of one second with `rounds` rounds that cost round_ms each, the loop busy loop_pm
 * thousandths of it (the rounds included). */
static int64_t next(int64_t window_ms, uint64_t rounds, uint64_t round_ms, uint64_t loop_pm)
{
    fanout_load_t load = {
        .elapsed_ns = SECOND,
        .fanout_ns = rounds * round_ms * 1000000,
        .loop_ns = loop_pm * 1000000,
        .rounds = rounds,
    };
    return fanout_window_next(window_ms, &load);
}

static void test_quiet_loop_gets_the_shortest_window(void **state)
{
    (void)state;
    assert_int_equal(next(100, 0, 0, 0), FANOUT_WINDOW_MIN_MS);
    /* ten cheap rounds (5 ms each) of a loop 8% busy */
    assert_int_equal(next(100, 10, 5, 80), FANOUT_WINDOW_MIN_MS);
    /* a loop that measured nothing keeps its window */
    fanout_load_t empty = {0};
    assert_int_equal(fanout_window_next(400, &empty), 400);
}

static void test_spare_time_goes_to_the_fanout(void **state)
{
    (void)state;
    /* ten rounds of 40 ms, the rest of the loop 5%: 45% allowed, 89 ms, so the shortest */
    assert_int_equal(next(100, 10, 40, 450), FANOUT_WINDOW_MIN_MS);
    /* rounds of 100 ms took half the loop, nothing else did: 50% allowed, 200 ms */
    assert_int_equal(next(100, 5, 100, 500), 200);
    /* other work 20%: 30% allowed for rounds of 100 ms: 334 ms (rounded up) */
    assert_int_equal(next(200, 3, 100, 500), 334);
}

static void test_a_saturated_loop_gives_the_fanout_its_floor(void **state)
{
    (void)state;
    /* one round of 120 ms next to 88% of purchases: the floor, 10%, asks for 1.2 s, capped */
    assert_int_equal(next(1000, 1, 120, 1000), FANOUT_WINDOW_MAX_MS);
    /* rounds of 30 ms next to 94% of purchases: 10% allowed, 300 ms */
    assert_int_equal(next(500, 2, 30, 1000), 300);
    /* a loop that ran 50% and waited for a CPU 50% of the time counts as busy, not half idle */
    assert_int_equal(next(250, 4, 25, 1000), 250);
}

static void test_a_round_costs_what_it_costs_however_many_the_period_caught(void **state)
{
    (void)state;
    /* rounds of 240 ms at a 550 ms window, other work 18%: a second holds one or two of them,
     * and either way 32% is allowed and the window is 750 ms */
    assert_int_equal(next(550, 1, 240, 420), 750);
    assert_int_equal(next(550, 2, 240, 660), 750);
}

static void test_widens_at_once_and_narrows_by_halves(void **state)
{
    (void)state;
    /* purchases took 70% and ten rounds of 30 ms the rest at 100 ms: 300 ms at once, not by steps */
    assert_int_equal(next(100, 10, 30, 1000), 300);
    /* a period with no round (the storm paused) halves the window, no more */
    assert_int_equal(next(1000, 0, 0, 900), 500);
    assert_int_equal(next(500, 0, 0, 100), 250);
    assert_int_equal(next(250, 0, 0, 100), 125);
    assert_int_equal(next(125, 0, 0, 100), FANOUT_WINDOW_MIN_MS);
    /* cheap rounds narrow it by halves too */
    assert_int_equal(next(1000, 1, 10, 100), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_loop_gets_the_shortest_window),
        cmocka_unit_test(test_spare_time_goes_to_the_fanout),
        cmocka_unit_test(test_a_saturated_loop_gives_the_fanout_its_floor),
        cmocka_unit_test(test_a_round_costs_what_it_costs_however_many_the_period_caught),
        cmocka_unit_test(test_widens_at_once_and_narrows_by_halves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
