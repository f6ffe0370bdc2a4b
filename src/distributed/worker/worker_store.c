#include "distributed/worker/worker_store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "distributed/outbox.h"
#include "distributed/postgres/pg_schema.h"
#include "distributed/postgres/pg_url.h"

#define STORE_STATEMENT "flashsale_store_orders"

/*
 * The columns travel as six arrays (one parameter each) so that the statement is the same for
 * every batch size and can be prepared once per connection.
 *
 * purchases has no foreign key to sales (pg_schema.c, migration 2), so the statement itself
 * keeps a purchase from outliving its sale: it locks the batch's sale rows FOR KEY SHARE (once
 * per sale and batch, where the foreign key locked once per row) and inserts only orders whose
 * (sale_id, sku) is among the locked rows. A sale deleted (or deleted and created again: a new
 * sale_id) before the lock is not locked, and its orders are dropped; a delete that comes after
 * the lock waits for this transaction, then removes what it inserted. MATERIALIZED makes the
 * lock run once: inlined, the locking scan could be repeated for every order of a nested loop.
 */
#define STORE_SQL                                                                                            \
    "WITH locked AS MATERIALIZED ("                                                                          \
    "   SELECT sale_id, sku FROM sales WHERE sale_id = ANY ($2::bigint[]) FOR KEY SHARE)"                    \
    " INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"                    \
    " SELECT o.purchase_no, o.sale_id, o.sequence, o.sku, o.user_id, o.purchased_ms"                         \
    " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])"             \
    "   AS o (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"                                   \
    " WHERE EXISTS (SELECT 1 FROM locked WHERE locked.sale_id = o.sale_id AND locked.sku = o.sku)"           \
    " ON CONFLICT DO NOTHING"

enum {
    COLUMN_PURCHASE_NO,
    COLUMN_SALE_ID,
    COLUMN_SEQUENCE,
    COLUMN_SKU,
    COLUMN_USER_ID,
    COLUMN_PURCHASED_MS,
    COLUMNS
};

struct worker_store {
    char *url;                 /* owned */
    PGconn *conn;              /* owned; NULL until connected */
    strbuf_t columns[COLUMNS]; /* array literals of the statement being built, reused */
};

typedef enum {
    EXECUTE_OK,
    EXECUTE_BAD_DATA,    /* PostgreSQL rejected the rows themselves */
    EXECUTE_UNAVAILABLE, /* anything else: try again later */
} execute_result_t;

worker_store_t *worker_store_open(const char *postgres_url, char *err, size_t err_size)
{
    if (pg_url_check(postgres_url, err, err_size) != 0)
        return NULL;
    worker_store_t *store = calloc(1, sizeof(*store));
    if (store == NULL || (store->url = strdup(postgres_url)) == NULL) {
        free(store);
        snprintf(err, err_size, "postgres: out of memory");
        return NULL;
    }
    for (int i = 0; i < COLUMNS; i++)
        strbuf_init(&store->columns[i]);
    return store;
}

void worker_store_close(worker_store_t *store)
{
    if (store == NULL)
        return;
    PQfinish(store->conn);
    for (int i = 0; i < COLUMNS; i++)
        strbuf_dispose(&store->columns[i]);
    free(store->url);
    free(store);
}

/* Copies libpq's message (which may span lines) into err as one line. */
static void set_error(char *err, size_t err_size, const char *what, const char *message)
{
    snprintf(err, err_size, "postgres: %s: %s", what, message);
    for (char *c = err; *c != '\0'; c++) {
        if (*c == '\n')
            *c = c[1] == '\0' ? '\0' : ' ';
    }
}

/* Migrates and prepares on a fresh connection. */
static int prepare_connection(PGconn *conn, char *err, size_t err_size)
{
    if (pg_schema_migrate(conn, err, err_size) != 0)
        return -1;
    PGresult *result = PQprepare(conn, STORE_STATEMENT, STORE_SQL, 0, NULL);
    int rc = 0;
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        set_error(err, err_size, "preparing the insert", PQerrorMessage(conn));
        rc = -1;
    }
    PQclear(result);
    return rc;
}

/* Connects, migrates and prepares, unless the current connection is good. */
static int ensure_connected(worker_store_t *store, char *err, size_t err_size)
{
    if (store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK)
        return 0;
    PQfinish(store->conn);
    store->conn = PQconnectdb(store->url);
    if (PQstatus(store->conn) != CONNECTION_OK)
        set_error(err, err_size, "connecting", PQerrorMessage(store->conn));
    else if (prepare_connection(store->conn, err, err_size) == 0)
        return 0;
    PQfinish(store->conn);
    store->conn = NULL;
    return -1;
}

/* Appends one array element: quoted, with the two characters an array literal escapes. */
static void append_text_element(strbuf_t *buf, const char *text)
{
    strbuf_append(buf, buf->len == 1 ? "\"" : ",\"", buf->len == 1 ? 1 : 2);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            strbuf_append(buf, "\\", 1);
        strbuf_append(buf, c, 1);
    }
    strbuf_append(buf, "\"", 1);
}

static void append_integer_element(strbuf_t *buf, int64_t value)
{
    if (buf->len > 1)
        strbuf_append(buf, ",", 1);
    strbuf_append_int(buf, value);
}

/* Builds the six array literals from `only`, or from every order still to store when NULL. */
static int build_columns(worker_store_t *store, const worker_batch_t *batch, const worker_order_t *only)
{
    for (int i = 0; i < COLUMNS; i++) {
        strbuf_reset(&store->columns[i]);
        strbuf_append(&store->columns[i], "{", 1);
    }
    for (size_t i = 0; i < batch->count; i++) {
        const worker_order_t *order = &batch->orders[i];
        if (only != NULL ? order != only : order->fate != WORKER_ORDER_TO_STORE)
            continue;
        append_text_element(&store->columns[COLUMN_PURCHASE_NO], order->purchase_no);
        append_integer_element(&store->columns[COLUMN_SALE_ID], order->sale_id);
        append_integer_element(&store->columns[COLUMN_SEQUENCE], order->sequence);
        append_text_element(&store->columns[COLUMN_SKU], order->sku);
        append_text_element(&store->columns[COLUMN_USER_ID], order->user_id);
        append_integer_element(&store->columns[COLUMN_PURCHASED_MS], order->purchased_ms);
    }
    for (int i = 0; i < COLUMNS; i++) {
        strbuf_append(&store->columns[i], "}", 2); /* with the NUL libpq needs */
        if (store->columns[i].failed)
            return -1;
    }
    return 0;
}

/*
 * Whether PostgreSQL refused the rows themselves: a data exception (class 22, e.g. bytes that
 * are not UTF-8) or an integrity violation (class 23).
 */
static bool is_bad_data(const PGresult *result)
{
    const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state == NULL)
        return false;
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0;
}

/* Runs the prepared insert over the current columns. */
static execute_result_t execute(worker_store_t *store, size_t *inserted, char *err, size_t err_size)
{
    const char *params[COLUMNS];
    for (int i = 0; i < COLUMNS; i++)
        params[i] = store->columns[i].data;
    PGresult *result = PQexecPrepared(store->conn, STORE_STATEMENT, COLUMNS, params, NULL, NULL, 0);
    execute_result_t outcome = EXECUTE_OK;
    if (PQresultStatus(result) == PGRES_COMMAND_OK) {
        *inserted += strtoull(PQcmdTuples(result), NULL, 10);
    } else {
        set_error(err, err_size, "storing orders", PQresultErrorMessage(result));
        outcome = is_bad_data(result) ? EXECUTE_BAD_DATA : EXECUTE_UNAVAILABLE;
    }
    PQclear(result);
    return outcome;
}

static void mark_stored(worker_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->orders[i].fate == WORKER_ORDER_TO_STORE)
            batch->orders[i].fate = WORKER_ORDER_STORED;
    }
}

/* After the whole batch was refused: each order alone, so that the good ones get through. */
static int put_one_by_one(worker_store_t *store, worker_batch_t *batch, size_t *inserted, char *err,
                          size_t err_size)
{
    for (size_t i = 0; i < batch->count; i++) {
        worker_order_t *order = &batch->orders[i];
        if (order->fate != WORKER_ORDER_TO_STORE)
            continue;
        if (build_columns(store, batch, order) != 0) {
            snprintf(err, err_size, "postgres: out of memory building a batch");
            return -1;
        }
        switch (execute(store, inserted, err, err_size)) {
        case EXECUTE_OK:
            order->fate = WORKER_ORDER_STORED;
            break;
        case EXECUTE_BAD_DATA:
            worker_batch_set_fate(
                order, order->deliveries > OUTBOX_MAX_DELIVERIES ? WORKER_ORDER_DEAD : WORKER_ORDER_RETRY,
                err);
            break;
        case EXECUTE_UNAVAILABLE:
            return -1;
        }
    }
    return 0;
}

/* Stores the orders still to store: all at once, or one by one if PostgreSQL refused the data. */
static int put_all(worker_store_t *store, worker_batch_t *batch, size_t *inserted, char *err, size_t err_size)
{
    if (build_columns(store, batch, NULL) != 0) {
        snprintf(err, err_size, "postgres: out of memory building a batch");
        return -1;
    }
    switch (execute(store, inserted, err, err_size)) {
    case EXECUTE_OK:
        mark_stored(batch);
        return 0;
    case EXECUTE_BAD_DATA:
        return put_one_by_one(store, batch, inserted, err, err_size);
    case EXECUTE_UNAVAILABLE:
        break;
    }
    return -1;
}

int worker_store_put(worker_store_t *store, worker_batch_t *batch, size_t *inserted, char *err,
                     size_t err_size)
{
    *inserted = 0;
    if (worker_batch_count(batch, WORKER_ORDER_TO_STORE) == 0)
        return 0;
    if (ensure_connected(store, err, err_size) != 0)
        return -1;
    if (put_all(store, batch, inserted, err, err_size) != 0) {
        /* Start over on the next call: whatever went wrong (a restart, a dropped table), a fresh
         * connection migrates and prepares again. */
        PQfinish(store->conn);
        store->conn = NULL;
        return -1;
    }
    return 0;
}
