/*
 * worker: the persister loop that moves orders from the Redis sale streams into PostgreSQL.
 *
 * Each round takes a batch — entries some dead worker left pending (XAUTOCLAIM), else new ones
 * (XREADGROUP) — stores it in one PostgreSQL transaction (worker_store), and only then
 * acknowledges and deletes the entries (worker_streams). A crash anywhere in between leaves the
 * entries pending; another worker, or this one restarted, claims them after claim_idle_ms and
 * stores them again, which the store's ON CONFLICT DO NOTHING turns into a no-op: every order
 * reaches PostgreSQL exactly once. PostgreSQL or Redis being down only pauses the loop: it keeps
 * the batch and retries with a backoff, and never acknowledges what it could not store.
 *
 * Several workers may run at once: the consumer group hands each entry to one of them, and
 * each names itself hostname-pid-random.
 */
#ifndef FLASHSALE_WORKER_H
#define FLASHSALE_WORKER_H

#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *redis_url;    /* redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB] */
    const char *postgres_url; /* a libpq connection URI */
    size_t batch_size;        /* orders per stream per read, and per claim */
    int block_ms;             /* longest wait for new orders; also bounds how late a stop is seen */
    /* Entries pending longer than this are taken from their consumer. Longer than any commit
     * takes, or live workers steal each other's batches (harmless, but wasted work). */
    long long claim_idle_ms;
    int rescan_ms;       /* how often new sales are looked for */
    int log_interval_ms; /* at most one progress line per interval */
} worker_options_t;

/*
 * Fills in the defaults: batches of 1000, block 1 s, rescan 1 s, log every 5 s, and claim after
 * 5 s: a thousand times a commit, yet short enough that a crashed worker's batch is taken over
 * before anyone waits for it.
 */
void worker_options_init(worker_options_t *options, const char *redis_url, const char *postgres_url);

/*
 * Runs until *stop becomes non-zero (seen within about block_ms); returns 0 then, or -1 with one
 * line in err saying why the configuration cannot work (a URL that does not parse, a Redis that
 * refuses its password or database at start). Outages are not errors: they are logged and retried.
 */
int worker_run(const worker_options_t *options, volatile sig_atomic_t *stop, char *err, size_t err_size);

#endif
