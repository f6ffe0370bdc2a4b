#include "core/fanout_window.h"

#include <assert.h>

int64_t fanout_window_next(int64_t window_ms, const fanout_load_t *load)
{
    assert(window_ms > 0);
    if (load->elapsed_ns == 0)
        return window_ms;
    /* in thousandths of the period: integers, and a loop's clocks may disagree by a little */
    uint64_t fanout = load->fanout_ns * 1000 / load->elapsed_ns;
    uint64_t loop = load->loop_ns * 1000 / load->elapsed_ns;
    uint64_t other = loop > fanout ? loop - fanout : 0;
    uint64_t allowed = FANOUT_LOOP_TARGET * 10 > other ? FANOUT_LOOP_TARGET * 10 - other : 0;
    if (allowed < FANOUT_SHARE_FLOOR * 10)
        allowed = FANOUT_SHARE_FLOOR * 10;
    uint64_t next = 0; /* no round: nothing to pay for, the window may narrow */
    if (load->rounds > 0) {
        /* one round every `next` ms costs round_ns / (next * 1e6) of the loop: make that `allowed`
         * thousandths, rounded up */
        uint64_t round_ns = load->fanout_ns / load->rounds;
        next = (round_ns + allowed * 1000 - 1) / (allowed * 1000);
    }
    if (next < (uint64_t)window_ms / 2)
        next = (uint64_t)window_ms / 2;
    if (next < FANOUT_WINDOW_MIN_MS)
        next = FANOUT_WINDOW_MIN_MS;
    if (next > FANOUT_WINDOW_MAX_MS)
        next = FANOUT_WINDOW_MAX_MS;
    return (int64_t)next;
}
