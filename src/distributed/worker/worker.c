#include "distributed/worker/worker.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "distributed/outbox.h"
#include "distributed/worker/worker_batch.h"
#include "distributed/worker/worker_lag.h"
#include "distributed/worker/worker_store.h"
#include "distributed/worker/worker_streams.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000
/* While an outage lasts, the same error is logged at most this often. */
#define ERROR_LOG_INTERVAL_MS 5000
#define ERROR_MAX             512

typedef struct {
    uint64_t stored;   /* orders acknowledged after their commit */
    uint64_t inserted; /* of those, rows that were new to PostgreSQL */
    uint64_t dead;     /* orders moved to the dead-letter stream */
} worker_counts_t;

typedef struct {
    const worker_options_t *options;
    volatile sig_atomic_t *stop;
    worker_streams_t *streams;
    worker_store_t *store;
    worker_batch_t batch;
    int64_t next_discover_ms, next_claim_ms, next_log_ms; /* monotonic */
    int backoff_ms;
    char last_error[ERROR_MAX];
    int64_t last_error_log_ms;
    worker_counts_t counts; /* since the last progress line */
} worker_t;

void worker_options_init(worker_options_t *options, const char *redis_url, const char *postgres_url)
{
    *options = (worker_options_t){
        .redis_url = redis_url,
        .postgres_url = postgres_url,
        .batch_size = 1000,
        .block_ms = 1000,
        .claim_idle_ms = 5000,
        .rescan_ms = 1000,
        .log_interval_ms = 5000,
    };
}

/* hostname-pid-random: unique among live workers, also across hosts and pid reuse. */
static void consumer_name(char *out, size_t size)
{
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    uint32_t random = 0;
    if (getrandom(&random, sizeof(random), 0) != sizeof(random))
        random = (uint32_t)clock_monotonic_ms();
    snprintf(out, size, "%s-%ld-%08x", host, (long)getpid(), random);
}

/* Sleeps ms in short steps, so that a stop is seen within ~100 ms even during a long backoff. */
static void pause_unless_stopped(const worker_t *worker, int ms)
{
    for (int slept = 0; slept < ms && !*worker->stop; slept += 100) {
        int step = ms - slept < 100 ? ms - slept : 100;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = step * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* Logs an outage (not every retry of the same one), then backs off exponentially. */
static void outage(worker_t *worker, const char *err)
{
    int64_t now = clock_monotonic_ms();
    if (strcmp(err, worker->last_error) != 0 || now - worker->last_error_log_ms >= ERROR_LOG_INTERVAL_MS) {
        log_warn("worker", "%s; retrying", err);
        snprintf(worker->last_error, sizeof(worker->last_error), "%s", err);
        worker->last_error_log_ms = now;
    }
    worker->backoff_ms = worker->backoff_ms == 0 ? BACKOFF_FIRST_MS : worker->backoff_ms * 2;
    if (worker->backoff_ms > BACKOFF_MAX_MS)
        worker->backoff_ms = BACKOFF_MAX_MS;
    pause_unless_stopped(worker, worker->backoff_ms);
}

static void recovered(worker_t *worker)
{
    if (worker->last_error[0] != '\0')
        log_info("worker", "recovered");
    worker->last_error[0] = '\0';
    worker->backoff_ms = 0;
}

/*
 * Fills the batch: orders left pending by dead workers first (they are the oldest), new orders
 * otherwise. Returns -1 after an outage; the batch may then hold some orders, which the round
 * still stores.
 */
static int gather(worker_t *worker)
{
    char err[ERROR_MAX];
    int64_t now = clock_monotonic_ms();
    if (now >= worker->next_discover_ms) {
        if (worker_streams_discover(worker->streams, err, sizeof(err)) != 0)
            goto Error;
        worker->next_discover_ms = now + worker->options->rescan_ms;
    }
    if (now >= worker->next_claim_ms) {
        if (worker_streams_claim(worker->streams, &worker->batch, worker->options->claim_idle_ms,
                                 worker->options->batch_size, err, sizeof(err)) != 0)
            goto Error;
        /* Entries become claimable claim_idle_ms after their delivery; looking twice per period
         * takes them at most 1.5 periods after it. */
        worker->next_claim_ms = now + worker->options->claim_idle_ms / 2;
    }
    if (worker->batch.count == 0 && worker_streams_read(worker->streams, &worker->batch,
                                                        worker->options->batch_size, err, sizeof(err)) != 0)
        goto Error;
    return 0;
Error:
    /* Whatever went wrong (a stream deleted with its sale, a reconnect), look at the sales again. */
    worker->next_discover_ms = 0;
    outage(worker, err);
    return -1;
}

/* Stores the batch, retrying through PostgreSQL outages; -1 only when stopped first. */
static int store(worker_t *worker, size_t *inserted)
{
    char err[ERROR_MAX];
    while (!*worker->stop) {
        if (worker_store_put(worker->store, &worker->batch, inserted, err, sizeof(err)) == 0)
            return 0;
        outage(worker, err);
    }
    return -1;
}

/* Dead-letters and acknowledges, retrying through Redis outages; -1 only when stopped first. */
static int finish(worker_t *worker)
{
    char err[ERROR_MAX];
    while (!*worker->stop) {
        if (worker_streams_finish(worker->streams, &worker->batch, err, sizeof(err)) == 0)
            return 0;
        outage(worker, err);
    }
    return -1;
}

/* One line per order PostgreSQL refused: they are rare, and each needs a human to look. */
static void log_refused(const worker_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        const worker_order_t *order = &batch->orders[i];
        if (order->fate != WORKER_ORDER_RETRY && order->fate != WORKER_ORDER_DEAD)
            continue;
        log_warn("worker", "order %s of %s %s after %lld deliveries: %s", order->entry_id, order->stream,
                 order->fate == WORKER_ORDER_DEAD ? "moved to " OUTBOX_DEAD_LETTER : "left for a retry",
                 order->deliveries, order->reason != NULL ? order->reason : "failed");
    }
}

/* A progress line every log_interval_ms, when anything happened or anything is waiting. */
static void log_progress(worker_t *worker)
{
    int64_t now = clock_monotonic_ms();
    if (now < worker->next_log_ms)
        return;
    worker->next_log_ms = now + worker->options->log_interval_ms;
    redisContext *redis = worker_streams_context(worker->streams);
    worker_lag_t lag = {0};
    char err[ERROR_MAX];
    if (redis == NULL || worker_lag_read(redis, &lag, err, sizeof(err)) != 0)
        return; /* the next Redis command reports the outage */
    const worker_counts_t *counts = &worker->counts;
    if (counts->stored == 0 && counts->dead == 0 && lag.length == 0)
        return;
    log_info("worker",
             "%llu orders stored (%llu new), %llu dead-lettered in %d s; lag: %lld orders in %lld "
             "streams, %lld pending, oldest %lld ms; %lld dead letters",
             (unsigned long long)counts->stored, (unsigned long long)counts->inserted,
             (unsigned long long)counts->dead, worker->options->log_interval_ms / 1000, lag.length,
             lag.streams, lag.pending, lag.oldest_age_ms, lag.dead_letters);
    worker->counts = (worker_counts_t){0};
}

/* One batch through all steps. */
static void round_trip(worker_t *worker)
{
    if (gather(worker) == 0)
        recovered(worker);
    size_t inserted = 0;
    if (worker->batch.count > 0 && store(worker, &inserted) == 0 && finish(worker) == 0) {
        recovered(worker);
        log_refused(&worker->batch);
        worker->counts.stored += worker_batch_count(&worker->batch, WORKER_ORDER_STORED);
        worker->counts.inserted += inserted;
        worker->counts.dead += worker_batch_count(&worker->batch, WORKER_ORDER_DEAD);
    }
    /* Also after a stop: what was not finished stays pending in Redis for the next worker. */
    worker_batch_clear(&worker->batch);
    log_progress(worker);
}

int worker_run(const worker_options_t *options, volatile sig_atomic_t *stop, char *err, size_t err_size)
{
    char consumer[128];
    consumer_name(consumer, sizeof(consumer));
    worker_t worker = {.options = options, .stop = stop};
    worker_batch_init(&worker.batch);
    worker.streams = worker_streams_open(options->redis_url, consumer, options->block_ms, err, err_size);
    if (worker.streams != NULL)
        worker.store = worker_store_open(options->postgres_url, err, err_size);
    /* A Redis that is down at start is an outage like any other, retried below; one that refuses
     * the password (or the database) says the configuration is wrong, which no retry fixes. */
    if (worker.store != NULL &&
        worker_streams_connect(worker.streams, err, err_size) == REDIS_CONNECT_REFUSED) {
        worker_store_close(worker.store);
        worker.store = NULL;
    }
    if (worker.store == NULL) {
        worker_streams_close(worker.streams);
        return -1;
    }
    log_info("worker", "started as consumer %s", consumer);
    worker.next_log_ms = clock_monotonic_ms() + options->log_interval_ms;
    while (!*stop)
        round_trip(&worker);
    worker_batch_dispose(&worker.batch);
    worker_store_close(worker.store);
    worker_streams_close(worker.streams);
    log_info("worker", "stopped");
    return 0;
}
