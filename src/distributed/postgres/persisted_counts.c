#include "distributed/postgres/persisted_counts.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/strbuf.h"

/* Bounds how long a sample, and so a stop, may wait for a slow PostgreSQL. */
#define CONNECT_TIMEOUT_S    "5"
#define STATEMENT_TIMEOUT_MS "5000"

/*
 * Every sale, with the rows above its settled prefix counted through the primary key: LATERAL
 * makes the count one index range scan per sale, whatever the planner thinks of the join.
 */
#define COUNT_SQL                                                                                            \
    "SELECT s.sale_id, COALESCE(k.settled, 0), c.n, COALESCE(c.top, 0)"                                      \
    " FROM sales s"                                                                                          \
    " LEFT JOIN unnest($1::bigint[], $2::bigint[]) AS k (sale_id, settled) ON k.sale_id = s.sale_id"         \
    " CROSS JOIN LATERAL (SELECT count(*) AS n, max(p.sequence) AS top FROM purchases p"                     \
    "   WHERE p.sale_id = s.sale_id AND p.sequence > COALESCE(k.settled, 0)) AS c"                           \
    " ORDER BY s.sale_id"

struct persisted_counts {
    char *url;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    bool stopping;       /* under lock */
    /* the latest sample, under lock; NULL before the first success */
    persisted_count_t *sample;
    size_t sample_count;
    bool failing; /* only the thread's: logs a failure once, not every second */
    PGconn *conn; /* only the thread's (the first sample is taken before it starts) */
};

static void one_line(char *err, size_t err_size, const char *what, const char *message)
{
    snprintf(err, err_size, "postgres: %s: %s", what, message);
    for (char *c = err; *c != '\0'; c++)
        if (*c == '\n')
            *c = c[1] == '\0' ? '\0' : ' ';
}

int persisted_counts_read(PGconn *conn, const persisted_count_t *previous, size_t previous_count,
                          persisted_count_t **out, size_t *out_count, char *err, size_t err_size)
{
    strbuf_t ids, settled;
    strbuf_init(&ids);
    strbuf_init(&settled);
    strbuf_append(&ids, "{", 1);
    strbuf_append(&settled, "{", 1);
    for (size_t i = 0; i < previous_count; i++) {
        if (i > 0) {
            strbuf_append(&ids, ",", 1);
            strbuf_append(&settled, ",", 1);
        }
        strbuf_append_int(&ids, (int64_t)previous[i].sale_id);
        strbuf_append_int(&settled, previous[i].settled);
    }
    strbuf_append(&ids, "}", 2); /* with the NUL libpq needs */
    strbuf_append(&settled, "}", 2);
    int rc = -1;
    if (ids.failed || settled.failed) {
        snprintf(err, err_size, "postgres: out of memory counting orders");
        goto Exit;
    }
    const char *params[] = {ids.data, settled.data};
    PGresult *result = PQexecParams(conn, COUNT_SQL, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        one_line(err, err_size, "counting orders", PQresultErrorMessage(result));
        PQclear(result);
        goto Exit;
    }
    size_t rows = (size_t)PQntuples(result);
    persisted_count_t *counts = malloc((rows > 0 ? rows : 1) * sizeof(*counts));
    if (counts == NULL) {
        snprintf(err, err_size, "postgres: out of memory counting orders");
        PQclear(result);
        goto Exit;
    }
    for (size_t row = 0; row < rows; row++) {
        int64_t start = strtoll(PQgetvalue(result, (int)row, 1), NULL, 10);
        int64_t above = strtoll(PQgetvalue(result, (int)row, 2), NULL, 10);
        int64_t top = strtoll(PQgetvalue(result, (int)row, 3), NULL, 10);
        counts[row] = (persisted_count_t){
            .sale_id = strtoull(PQgetvalue(result, (int)row, 0), NULL, 10),
            /* no row missing between the prefix and the highest one: they all settle */
            .settled = above > 0 && top - start == above ? top : start,
            .count = start + above,
        };
    }
    PQclear(result);
    *out = counts;
    *out_count = rows;
    rc = 0;
Exit:
    strbuf_dispose(&ids);
    strbuf_dispose(&settled);
    return rc;
}

/* ---- the sampling thread ---- */

static PGconn *connect_to(const char *url, char *err, size_t err_size)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *values[] = {url, CONNECT_TIMEOUT_S, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        snprintf(err, err_size, "postgres: out of memory");
        return NULL;
    }
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *result = PQexec(conn, "SET statement_timeout = " STATEMENT_TIMEOUT_MS);
        bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
        PQclear(result);
        if (ok)
            return conn;
    }
    one_line(err, err_size, "connecting", PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
}

/* One sample; keeps the connection across samples, drops it after an error. */
static void sample(persisted_counts_t *counts, unsigned long long round)
{
    PGconn **conn = &counts->conn;
    char err[256];
    persisted_count_t *fresh;
    size_t fresh_count;
    /* The thread alone replaces the sample, so it may read it without the lock. */
    const persisted_count_t *previous = round % PERSISTED_COUNTS_RECOUNT == 0 ? NULL : counts->sample;
    size_t previous_count = previous == NULL ? 0 : counts->sample_count;

    if (*conn == NULL)
        *conn = connect_to(counts->url, err, sizeof(err));
    if (*conn != NULL &&
        persisted_counts_read(*conn, previous, previous_count, &fresh, &fresh_count, err, sizeof(err)) == 0) {
        pthread_mutex_lock(&counts->lock);
        persisted_count_t *old = counts->sample;
        counts->sample = fresh;
        counts->sample_count = fresh_count;
        pthread_mutex_unlock(&counts->lock);
        free(old);
        if (counts->failing)
            log_info("persisted", "PostgreSQL answers again");
        counts->failing = false;
        return;
    }
    if (*conn != NULL && PQstatus(*conn) != CONNECTION_OK) {
        PQfinish(*conn);
        *conn = NULL;
    }
    if (!counts->failing)
        log_warn("persisted", "%s; persistedPurchases stays as last sampled until it answers", err);
    counts->failing = true;
}

static void *run(void *data)
{
    persisted_counts_t *counts = data;
    unsigned long long round = 1; /* the first was taken by persisted_counts_start */

    pthread_mutex_lock(&counts->lock);
    while (!counts->stopping) {
        struct timespec until = clock_deadline_in(PERSISTED_COUNTS_INTERVAL_MS);
        while (!counts->stopping && pthread_cond_timedwait(&counts->wake, &counts->lock, &until) == 0)
            ;
        if (counts->stopping)
            break;
        pthread_mutex_unlock(&counts->lock);
        sample(counts, round++);
        pthread_mutex_lock(&counts->lock);
    }
    pthread_mutex_unlock(&counts->lock);
    PQfinish(counts->conn);
    return NULL;
}

persisted_counts_t *persisted_counts_start(const char *postgres_url)
{
    persisted_counts_t *counts = calloc(1, sizeof(*counts));
    if (counts == NULL || (counts->url = strdup(postgres_url)) == NULL) {
        free(counts);
        return NULL;
    }
    clock_cond_init(&counts->wake);
    pthread_mutex_init(&counts->lock, NULL);
    /* The first sample before the server serves, so that the admin's reads find a count from the
       start; PostgreSQL has just been migrated, so it answers unless it failed meanwhile. */
    sample(counts, 0);
    if (pthread_create(&counts->thread, NULL, run, counts) != 0) {
        PQfinish(counts->conn);
        free(counts->sample);
        pthread_cond_destroy(&counts->wake);
        pthread_mutex_destroy(&counts->lock);
        free(counts->url);
        free(counts);
        return NULL;
    }
    return counts;
}

int64_t persisted_counts_get(persisted_counts_t *counts, uint64_t sale_id)
{
    int64_t value = -1;

    pthread_mutex_lock(&counts->lock);
    if (counts->sample != NULL) {
        size_t low = 0, high = counts->sample_count;
        value = 0;
        while (low < high) {
            size_t middle = low + (high - low) / 2;
            if (counts->sample[middle].sale_id == sale_id) {
                value = counts->sample[middle].count;
                break;
            }
            if (counts->sample[middle].sale_id < sale_id)
                low = middle + 1;
            else
                high = middle;
        }
    }
    pthread_mutex_unlock(&counts->lock);
    return value;
}

void persisted_counts_stop(persisted_counts_t *counts)
{
    pthread_mutex_lock(&counts->lock);
    counts->stopping = true;
    pthread_cond_signal(&counts->wake);
    pthread_mutex_unlock(&counts->lock);
    pthread_join(counts->thread, NULL);
    pthread_cond_destroy(&counts->wake);
    pthread_mutex_destroy(&counts->lock);
    free(counts->sample);
    free(counts->url);
    free(counts);
}
