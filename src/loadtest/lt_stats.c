#include "loadtest/lt_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_INTERVAL_NS 250000000
#define NS_PER_SECOND     1000000000

int lt_stats_init(lt_stats_t *stats, int64_t start_ns)
{
    *stats = (lt_stats_t){.start_ns = start_ns};
    pthread_mutex_init(&stats->lock, NULL);
    stats->seconds = calloc(LT_SECONDS_MAX, sizeof(lt_second_t *));
    if (stats->seconds == NULL || lt_histogram_init(&stats->latency, LT_HISTOGRAM_FINE) != 0) {
        lt_stats_dispose(stats);
        return -1;
    }
    return 0;
}

void lt_stats_dispose(lt_stats_t *stats)
{
    if (stats->seconds != NULL) {
        for (int s = 0; s < LT_SECONDS_MAX; s++) {
            if (stats->seconds[s] == NULL)
                continue;
            lt_histogram_dispose(&stats->seconds[s]->latency);
            free(stats->seconds[s]);
        }
        free(stats->seconds);
        stats->seconds = NULL;
    }
    lt_histogram_dispose(&stats->latency);
    pthread_mutex_destroy(&stats->lock);
}

int lt_stats_local_init(lt_stats_local_t *local, lt_stats_t *shared)
{
    *local = (lt_stats_local_t){.shared = shared, .second = -1};
    if (lt_histogram_init(&local->second_latency, LT_HISTOGRAM_COARSE) != 0 ||
        lt_histogram_init(&local->latency, LT_HISTOGRAM_FINE) != 0) {
        lt_stats_local_dispose(local);
        return -1;
    }
    return 0;
}

void lt_stats_local_dispose(lt_stats_local_t *local)
{
    lt_histogram_dispose(&local->second_latency);
    lt_histogram_dispose(&local->latency);
}

static bool same_outcome(const lt_outcome_t *outcome, lt_kind_t kind, int status, const char *code)
{
    return outcome->kind == kind && outcome->status == status && strcmp(outcome->code, code) == 0;
}

/* The shared id of an outcome, adding it when new; called with the lock held. */
static int shared_id(lt_stats_t *stats, const lt_outcome_t *outcome)
{
    for (int id = 0; id < stats->outcome_count; id++)
        if (same_outcome(&stats->outcomes[id], outcome->kind, outcome->status, outcome->code))
            return id;
    if (stats->outcome_count == LT_OUTCOMES_MAX - 1) {
        /* the last slot gathers everything beyond the bound */
        stats->outcomes[LT_OUTCOMES_MAX - 1] =
            (lt_outcome_t){.kind = outcome->kind, .status = 0, .code = "OTHER", .class_ = LT_CLASS_ERROR};
        stats->outcome_count = LT_OUTCOMES_MAX;
    }
    if (stats->outcome_count == LT_OUTCOMES_MAX)
        return LT_OUTCOMES_MAX - 1;
    stats->outcomes[stats->outcome_count] = *outcome;
    return stats->outcome_count++;
}

static lt_second_t *second_slot(lt_stats_t *stats, int64_t second)
{
    lt_second_t *slot;

    if (second < 0 || second >= LT_SECONDS_MAX) {
        stats->seconds_truncated = second >= LT_SECONDS_MAX;
        return NULL;
    }
    if ((slot = stats->seconds[second]) == NULL) {
        if ((slot = calloc(1, sizeof(*slot))) == NULL)
            return NULL;
        if (lt_histogram_init(&slot->latency, LT_HISTOGRAM_COARSE) != 0) {
            free(slot);
            return NULL;
        }
        stats->seconds[second] = slot;
    }
    if (second + 1 > stats->seconds_len)
        stats->seconds_len = (int)second + 1;
    return slot;
}

void lt_stats_flush(lt_stats_local_t *local)
{
    lt_stats_t *stats = local->shared;
    lt_second_t *slot;
    bool any = false;

    for (int id = 0; id < LT_OUTCOMES_MAX; id++)
        any = any || local->counts[id] != 0;
    pthread_mutex_lock(&stats->lock);
    if (any && (slot = second_slot(stats, local->second)) != NULL) {
        for (int id = 0; id < LT_OUTCOMES_MAX; id++)
            slot->counts[id] += local->counts[id];
        lt_histogram_add(&slot->latency, &local->second_latency);
    }
    for (int id = 0; id < LT_OUTCOMES_MAX; id++)
        stats->totals[id] += local->counts[id];
    lt_histogram_add(&stats->latency, &local->latency);
    stats->connect_failures += local->connect_failures;
    pthread_mutex_unlock(&stats->lock);

    memset(local->counts, 0, sizeof(local->counts));
    if (local->second_latency.total != 0)
        lt_histogram_reset(&local->second_latency);
    if (local->latency.total != 0)
        lt_histogram_reset(&local->latency);
    local->connect_failures = 0;
}

void lt_stats_tick(lt_stats_local_t *local, int64_t now_ns)
{
    int64_t second = (now_ns - local->shared->start_ns) / NS_PER_SECOND;

    if (second != local->second || now_ns - local->flushed_ns >= FLUSH_INTERVAL_NS) {
        lt_stats_flush(local);
        local->second = second;
        local->flushed_ns = now_ns;
    }
}

int lt_stats_record(lt_stats_local_t *local, lt_kind_t kind, int status, const char *code, lt_class_t class_,
                    int64_t latency_ns, int64_t now_ns)
{
    int local_id, id;

    lt_stats_tick(local, now_ns);
    for (local_id = 0; local_id < local->outcome_count; local_id++)
        if (same_outcome(&local->outcomes[local_id], kind, status, code))
            break;
    if (local_id < local->outcome_count) {
        id = local->ids[local_id];
    } else {
        lt_outcome_t outcome = {.kind = kind, .status = status, .class_ = class_};
        snprintf(outcome.code, sizeof(outcome.code), "%s", code);
        pthread_mutex_lock(&local->shared->lock);
        id = shared_id(local->shared, &outcome);
        pthread_mutex_unlock(&local->shared->lock);
        /* a full local table only happens past the shared bound, where everything is "OTHER" */
        if (local->outcome_count < LT_OUTCOMES_MAX) {
            local->outcomes[local->outcome_count] = outcome;
            local->ids[local->outcome_count++] = id;
        }
    }
    local->counts[id]++;
    if (latency_ns >= 0) {
        lt_histogram_record(&local->second_latency, (uint64_t)latency_ns);
        lt_histogram_record(&local->latency, (uint64_t)latency_ns);
    }
    return id;
}

void lt_stats_connect_failure(lt_stats_local_t *local)
{
    local->connect_failures++;
}

uint64_t lt_stats_requests(const lt_stats_t *stats)
{
    uint64_t sum = 0;
    for (int id = 0; id < stats->outcome_count; id++)
        sum += stats->totals[id];
    return sum;
}

uint64_t lt_stats_class_count(const lt_stats_t *stats, lt_class_t class_)
{
    uint64_t sum = 0;
    for (int id = 0; id < stats->outcome_count; id++)
        if (stats->outcomes[id].class_ == class_)
            sum += stats->totals[id];
    return sum;
}

void lt_outcome_label(const lt_outcome_t *outcome, char *out, size_t size)
{
    const char *kind = outcome->kind == LT_KIND_PURCHASE ? "purchase" : "status";
    if (outcome->status == 0)
        snprintf(out, size, "%s %s", kind, outcome->code);
    else
        snprintf(out, size, "%s %d %s", kind, outcome->status, outcome->code[0] ? outcome->code : "-");
}

const char *lt_class_name(lt_class_t class_)
{
    switch (class_) {
    case LT_CLASS_SUCCESS:
        return "success";
    case LT_CLASS_REJECTED:
        return "rejected";
    case LT_CLASS_RATE_LIMITED:
        return "rate-limited";
    case LT_CLASS_ERROR:
        return "error";
    }
    return "error";
}
