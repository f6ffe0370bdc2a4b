/*
 * lt_driver: the storm itself: the client threads, what each sends when, and what each answer means
 * for its buyer.
 *
 * The plan: buyers 0 .. N-1 (ids "<prefix>-<i>"), each sending K purchase attempts back to back
 * (on K connections at once), interleaved with status polls by the mix's weights; the plan ends with
 * the last purchase. Buyer i belongs to thread i % threads, so a buyer's attempts and its record
 * stay on one thread.
 *
 * Closed loop: every connection sends its next request the moment its answer arrives; latency runs
 * from the send. Open loop: request n of the run is due at start + n / rate, whether or not the
 * server kept up; it goes out on the first connection free at or after that time, and its latency
 * runs from the due time, so waiting for a connection counts (no coordinated omission). Requests
 * are formatted straight into the connection's buffer from templates made once.
 *
 * Stopping: at the end of the duration (kept by each thread) or on lt_driver_stop the sending ends;
 * the answers in flight are awaited up to the drain bound (the shorter of 2 s and the request
 * timeout), then abandoned: their buyers' outcome is unknown and the verification treats it so.
 */
#ifndef FLASHSALE_LT_DRIVER_H
#define FLASHSALE_LT_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loadtest/lt_buyers.h"
#include "loadtest/lt_jwt.h"
#include "loadtest/lt_stats.h"

typedef struct {
    struct sockaddr_storage address;
    socklen_t address_len;
    const char *authority; /* Host header */
    const char *sku;
    const char *user_prefix;
    uint64_t buyers;
    int attempts;
    int connections; /* over all threads */
    int threads;
    int pipeline;
    double rate; /* 0: closed loop */
    int status_weight;
    int purchase_weight;
    int64_t timeout_ns;
    int64_t duration_ns; /* 0: until the plan is done; else nothing is sent at or after start + this */
    const lt_jwt_tokens_t *tokens; /* NULL: X-User-Id */
} lt_driver_config_t;

typedef struct {
    int64_t start_ns;    /* monotonic: when the first requests went out */
    int64_t end_ns;      /* when the storm ended (last answer, or the stop) */
    uint64_t abandoned;  /* requests in flight when the run stopped waiting */
    uint64_t unsent;     /* open loop: requests due before the stop that found no free connection */
    bool plan_completed; /* every planned request was sent (not cut by a stop) */
} lt_driver_totals_t;

typedef struct lt_driver lt_driver_t;

/*
 * Starts the threads, waits until their connections are open (or failed), sets stats->start_ns and
 * lets them go. config (and the tokens) must outlive the driver. NULL with err set on failure.
 */
lt_driver_t *lt_driver_start(const lt_driver_config_t *config, lt_stats_t *stats, char *err, size_t err_size);
/* Waits until every thread finished or deadline_ns (monotonic); true when all finished. */
bool lt_driver_wait(lt_driver_t *driver, int64_t deadline_ns);
/* Stops sending; drain_now: stop waiting for the answers in flight too. Callable more than once. */
void lt_driver_stop(lt_driver_t *driver, bool drain_now);
/* Joins the threads (after stop, or once they all finished) and sums their totals. */
void lt_driver_join(lt_driver_t *driver, lt_driver_totals_t *totals);
/* The buyers' records, valid after join until destroy. */
int lt_driver_thread_count(const lt_driver_t *driver);
const lt_buyers_t *lt_driver_buyers(const lt_driver_t *driver, int thread);
void lt_driver_destroy(lt_driver_t *driver);

#endif
