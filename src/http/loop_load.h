/*
 * loop_load: how much of the time a loop thread wanted a CPU, for controllers that give the loop's
 * spare time away (api/events: the window between rounds of events).
 *
 * The time a thread ran is not enough: on a machine whose cores are shared with other processes,
 * a loop thread that waits on the run queue is as busy as one that runs. So the count is the
 * kernel's per-thread scheduler statistics (/proc/thread-self/schedstat: time on a CPU plus time
 * waiting for one), and, where the kernel does not keep them, the thread's CPU time.
 */
#ifndef FLASHSALE_LOOP_LOAD_H
#define FLASHSALE_LOOP_LOAD_H

#include <stdint.h>

/* Nanoseconds the calling thread has run or waited to run since it started. */
uint64_t loop_load_demand_ns(void);

#endif
