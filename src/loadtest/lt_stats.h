/*
 * lt_stats: what the storm measured, as counts per outcome and latency histograms, for the whole
 * run and for every second of it.
 *
 * An outcome is one (request kind, HTTP status, error code) triple, such as "purchase 200 SOLD_OUT"
 * or "purchase 0 TIMEOUT" for a request that got no answer; each has a class (success, business
 * rejection, rate limited, error). Each client thread records into its own lt_stats_local_t without
 * locks and flushes into the shared lt_stats_t when a second ends or every 250 ms, so the live line
 * sees fresh totals and the threads touch the lock about four times a second.
 *
 * Bounds: LT_OUTCOMES_MAX distinct outcomes (further ones are counted in the last slot, "OTHER");
 * per-second figures for the first LT_SECONDS_MAX seconds (about 5 KiB each, allocated as the
 * seconds come); the totals and the run's histogram cover the whole run whatever its length.
 */
#ifndef FLASHSALE_LT_STATS_H
#define FLASHSALE_LT_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "loadtest/lt_answer.h"
#include "loadtest/lt_histogram.h"

#define LT_OUTCOMES_MAX 32
#define LT_SECONDS_MAX  3600

typedef enum { LT_KIND_PURCHASE, LT_KIND_STATUS } lt_kind_t;

typedef enum {
    LT_CLASS_SUCCESS,      /* success: true */
    LT_CLASS_REJECTED,     /* a purchase refused by the rules: SOLD_OUT, ALREADY_PURCHASED, ... */
    LT_CLASS_RATE_LIMITED, /* 429: the server shedding load on purpose, not a failure */
    LT_CLASS_ERROR,        /* anything else: transport failures, 5xx, unexpected 4xx */
} lt_class_t;

typedef struct {
    lt_kind_t kind;
    int status; /* 0: no HTTP answer (code says why) */
    char code[LT_ANSWER_CODE_MAX];
    lt_class_t class_;
} lt_outcome_t;

typedef struct {
    uint64_t counts[LT_OUTCOMES_MAX]; /* by outcome id */
    lt_histogram_t latency;           /* coarse */
} lt_second_t;

typedef struct {
    pthread_mutex_t lock;
    int64_t start_ns; /* monotonic; second s covers [start + s, start + s + 1) */
    int outcome_count;
    lt_outcome_t outcomes[LT_OUTCOMES_MAX];
    uint64_t totals[LT_OUTCOMES_MAX];
    lt_histogram_t latency; /* every answered request, fine */
    lt_second_t **seconds;  /* LT_SECONDS_MAX slots, each NULL until that second has data */
    int seconds_len;        /* 1 + the last second with data */
    bool seconds_truncated; /* the run outlasted LT_SECONDS_MAX */
    uint64_t connect_failures;
} lt_stats_t;

typedef struct {
    lt_stats_t *shared;
    int outcome_count;
    lt_outcome_t outcomes[LT_OUTCOMES_MAX];
    int ids[LT_OUTCOMES_MAX]; /* the shared id of each local outcome */
    int64_t second;           /* the second the pending figures belong to */
    uint64_t counts[LT_OUTCOMES_MAX];
    lt_histogram_t second_latency;
    lt_histogram_t latency;
    uint64_t connect_failures;
    int64_t flushed_ns;
} lt_stats_local_t;

int lt_stats_init(lt_stats_t *stats, int64_t start_ns);
void lt_stats_dispose(lt_stats_t *stats);
int lt_stats_local_init(lt_stats_local_t *local, lt_stats_t *shared);
void lt_stats_local_dispose(lt_stats_local_t *local);

/*
 * Counts one request's outcome; latency_ns < 0 when there is none to record (a request that never
 * got an answer). now_ns is monotonic. Returns the outcome's shared id.
 */
int lt_stats_record(lt_stats_local_t *local, lt_kind_t kind, int status, const char *code, lt_class_t class_,
                    int64_t latency_ns, int64_t now_ns);
void lt_stats_connect_failure(lt_stats_local_t *local);
/* Moves the pending figures into the shared stats now. */
void lt_stats_flush(lt_stats_local_t *local);
/* Flushes when a second ended or 250 ms passed; record calls it, an idle loop should too. */
void lt_stats_tick(lt_stats_local_t *local, int64_t now_ns);

/* Sums over the shared stats; the caller holds the lock or runs after the threads ended. */
uint64_t lt_stats_requests(const lt_stats_t *stats);
uint64_t lt_stats_class_count(const lt_stats_t *stats, lt_class_t class_);
/* "purchase 200 SOLD_OUT" */
void lt_outcome_label(const lt_outcome_t *outcome, char *out, size_t size);
const char *lt_class_name(lt_class_t class_);

#endif
