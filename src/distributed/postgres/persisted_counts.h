/*
 * persisted_counts: how many orders of each sale PostgreSQL holds, for the admin's
 * persistedPurchases — sampled about once a second by a thread of the engine, so that the purchase
 * path pays nothing for it and no event loop ever waits for PostgreSQL to show it. A value is as
 * old as the latest sample: at most PERSISTED_COUNTS_INTERVAL_MS plus one query (about 1 s) when
 * PostgreSQL answers; while it does not, the last sample stays (and a line in the log says so).
 *
 * Counting every row each second would cost more as orders pile up, so each sale carries a settled
 * prefix: a sequence s such that its orders 1..s are all in PostgreSQL (sequences are dense per
 * sale, and rows leave only with their sale). A sample counts only the rows above s, with a range
 * scan of the purchases' primary key (sale_id, sequence), and moves s up to the highest sequence
 * when no row is missing below it. An order that never arrives (a dead letter) keeps its sale's
 * prefix below it, which costs that sale a longer scan, never a wrong count. Every
 * PERSISTED_COUNTS_RECOUNT samples the prefixes are dropped and everything is counted again, so a
 * row removed by hand is noticed within a minute.
 */
#ifndef FLASHSALE_PERSISTED_COUNTS_H
#define FLASHSALE_PERSISTED_COUNTS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PERSISTED_COUNTS_INTERVAL_MS 1000
#define PERSISTED_COUNTS_RECOUNT     60

/* One sale in a sample. */
typedef struct {
    uint64_t sale_id;
    int64_t settled; /* its orders 1..settled are all in PostgreSQL */
    int64_t count;   /* its orders in PostgreSQL */
} persisted_count_t;

/*
 * One sample on a blocking connection the caller owns. previous (sorted by sale_id, may be NULL
 * with previous_count 0) gives the settled prefixes to start from. On success *out (sorted by
 * sale_id, one entry per sale in PostgreSQL; the caller frees it) and 0; else -1 with one line in err.
 */
int persisted_counts_read(PGconn *conn, const persisted_count_t *previous, size_t previous_count,
                          persisted_count_t **out, size_t *out_count, char *err, size_t err_size);

typedef struct persisted_counts persisted_counts_t;

/*
 * Takes a first sample (blocking: before the server serves), then starts the sampling thread; the
 * URL is copied. NULL when out of memory or threads; a PostgreSQL that does not answer is not a
 * failure here (the thread keeps trying).
 */
persisted_counts_t *persisted_counts_start(const char *postgres_url);
/*
 * From any thread: the orders of sale_id in PostgreSQL as of the latest sample; 0 for a sale that
 * sample did not know (it was created after), -1 while no sample has succeeded (PostgreSQL has not
 * answered since the start).
 */
int64_t persisted_counts_get(persisted_counts_t *counts, uint64_t sale_id);
/* Waits for a sample in progress, joins the thread and frees everything. */
void persisted_counts_stop(persisted_counts_t *counts);

#endif
