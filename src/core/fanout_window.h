/*
 * fanout_window: how long the live events wait between two rounds of stock updates, from what the
 * rounds cost the loop that writes them.
 *
 * A round costs one write per subscriber of a sale whose stock changed, about 10 µs of kernel time
 * each on loopback: 10,000 subscribers every 100 ms would take more than a whole core. So the
 * window is chosen from a measured period: the fan-out may use the loop's spare time, up to
 * FANOUT_LOOP_TARGET percent of the loop together with its other work, and never less than
 * FANOUT_SHARE_FLOOR percent however busy the loop is. An idle loop gives its subscribers a round
 * as often as half its time allows (every FANOUT_WINDOW_MIN_MS at most); one busy with a purchase
 * storm keeps nine tenths of its time for the purchases and its subscribers see fewer, never
 * stale, updates. Half, not more: a loop whose purchases wait on Redis looks idle while each
 * slice of writes delays their answers (measured: at 80%, a distributed storm lost a third).
 *
 * Widening is immediate (purchases come first); narrowing at most halves the window per period, so
 * that one quiet period between rounds does not bring back a window that the next storm cannot
 * afford.
 */
#ifndef FLASHSALE_FANOUT_WINDOW_H
#define FLASHSALE_FANOUT_WINDOW_H

#include <stdint.h>

#define FANOUT_WINDOW_MIN_MS 100
#define FANOUT_WINDOW_MAX_MS 1000
#define FANOUT_LOOP_TARGET   50 /* % of the loop's time: its other work and the fan-out */
#define FANOUT_SHARE_FLOOR   10 /* % of the loop's time the fan-out may always take */

/* One measured period of a loop. */
typedef struct {
    uint64_t elapsed_ns; /* its length */
    uint64_t fanout_ns;  /* the loop's time on its subscribers: queueing, writes, completions */
    uint64_t loop_ns;    /* the loop thread's time running, or runnable and waiting for a CPU */
    uint64_t rounds;     /* rounds of stock updates in it */
} fanout_load_t;

/*
 * The window for the next period, in [FANOUT_WINDOW_MIN_MS, FANOUT_WINDOW_MAX_MS]; window_ms was
 * the window during the period measured. What a round costs is the fan-out's time over the
 * rounds, not its share of the period: a period of a second holds one or two rounds of a 600 ms
 * window, and the share alone would swing the window by two.
 */
int64_t fanout_window_next(int64_t window_ms, const fanout_load_t *load);

#endif
