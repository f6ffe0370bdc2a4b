/*
 * pg_async: as in redis_loop, h2o watches a duplicate of libpq's descriptor, created with
 * H2O_SOCKET_FLAG_DONT_READ so that h2o only reports readiness and libpq reads. While connecting,
 * libpq may close its socket and open another (the next address of a host name), possibly under
 * the same number; so the watch is renewed at every PQconnectPoll step, and kept once connected.
 *
 * All work starts from a zero-millisecond timeout (the kick) rather than inside pg_async_query,
 * so callbacks do not run inside the caller (only an allocation failure is answered at once), and
 * a callback that queries again does not recurse.
 */
#include "distributed/postgres/pg_async.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

typedef struct query {
    struct query *next;
    pg_async_cb cb;
    void *ctx;
    char *sql;
    int param_count;
    char **params; /* sql, params and their texts share this allocation */
} query_t;

typedef enum { PG_DOWN, PG_CONNECTING, PG_READY } pg_state_t;

struct pg_async {
    h2o_loop_t *loop;
    char *conninfo;
    pg_async_stats_t *stats;
    PGconn *conn;
    pg_state_t state;
    h2o_socket_t *sock; /* watches a duplicate of PQsocket(conn) */
    bool write_polled;
    /* Queued queries; the head is in flight when `sent`. */
    query_t *head, **tail;
    bool sent;
    PGresult *result; /* the first result of the query in flight */
    h2o_timeout_t kick_timeout;
    h2o_timeout_entry_t kick;
    /* Bounds a connection attempt and each query. */
    h2o_timeout_t answer_timeout;
    h2o_timeout_entry_t deadline;
    /* So that a PostgreSQL that stays down is logged once. */
    bool down_reported;
};

static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);

static void schedule_kick(pg_async_t *pg)
{
    if (!h2o_timeout_is_linked(&pg->kick))
        h2o_timeout_link(pg->loop, &pg->kick_timeout, &pg->kick);
}

static void unwatch(pg_async_t *pg)
{
    if (pg->sock != NULL) {
        h2o_socket_close(pg->sock);
        pg->sock = NULL;
    }
    pg->write_polled = false;
}

static int watch(pg_async_t *pg)
{
    unwatch(pg);
    int fd = fcntl(PQsocket(pg->conn), F_DUPFD_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    pg->sock = h2o_evloop_socket_create(pg->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    pg->sock->data = pg;
    return 0;
}

static void poll_write(pg_async_t *pg)
{
    if (!pg->write_polled) {
        pg->write_polled = true;
        h2o_socket_notify_write(pg->sock, on_writable);
    }
}

static void take_head(pg_async_t *pg, query_t **query)
{
    *query = pg->head;
    pg->head = (*query)->next;
    if (pg->head == NULL)
        pg->tail = &pg->head;
}

/* libpq's messages may span lines; the first says what happened. */
static void report_down(pg_async_t *pg, const char *why)
{
    if (!pg->down_reported)
        log_warn("postgres", "%.*s", (int)strcspn(why, "\n"), why);
    pg->down_reported = true;
}

/* Closes the connection and fails every queued query; why (NULL when closing) is logged. */
static void drop_connection(pg_async_t *pg, const char *why)
{
    if (why != NULL)
        report_down(pg, why);
    unwatch(pg);
    h2o_timeout_unlink(&pg->deadline);
    if (pg->result != NULL) {
        PQclear(pg->result);
        pg->result = NULL;
    }
    if (pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->state = PG_DOWN;
    pg->sent = false;
    /* Queries queued by these callbacks wait for the next kick, on a new connection. */
    query_t *failed = pg->head;
    pg->head = NULL;
    pg->tail = &pg->head;
    while (failed != NULL) {
        query_t *next = failed->next;
        atomic_fetch_add_explicit(&pg->stats->errors, 1, memory_order_relaxed);
        failed->cb(failed->ctx, NULL);
        free(failed);
        failed = next;
    }
}

static void send_head(pg_async_t *pg)
{
    query_t *query = pg->head;
    if (!PQsendQueryParams(pg->conn, query->sql, query->param_count, NULL, (const char *const *)query->params,
                           NULL, NULL, 0)) {
        drop_connection(pg, PQerrorMessage(pg->conn));
        return;
    }
    atomic_fetch_add_explicit(&pg->stats->queries, 1, memory_order_relaxed);
    pg->sent = true;
    h2o_timeout_link(pg->loop, &pg->answer_timeout, &pg->deadline);
    /* A large statement may not fit the socket buffer at once. */
    int flushed = PQflush(pg->conn);
    if (flushed == -1)
        drop_connection(pg, PQerrorMessage(pg->conn));
    else if (flushed == 1)
        poll_write(pg);
}

static void start_connect(pg_async_t *pg)
{
    pg->conn = PQconnectStart(pg->conninfo);
    if (pg->conn == NULL || PQstatus(pg->conn) == CONNECTION_BAD) {
        drop_connection(pg, pg->conn != NULL ? PQerrorMessage(pg->conn) : "out of memory");
        return;
    }
    pg->state = PG_CONNECTING;
    h2o_timeout_link(pg->loop, &pg->answer_timeout, &pg->deadline);
    /* PQconnectStart's contract: poll as if PQconnectPoll had answered PGRES_POLLING_WRITING. */
    if (watch(pg) != 0) {
        drop_connection(pg, "cannot watch the socket");
        return;
    }
    poll_write(pg);
}

static void continue_connect(pg_async_t *pg)
{
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_OK:
        h2o_timeout_unlink(&pg->deadline);
        if (PQsetnonblocking(pg->conn, 1) != 0) {
            drop_connection(pg, PQerrorMessage(pg->conn));
            return;
        }
        if (pg->down_reported)
            log_info("postgres", "connected");
        pg->down_reported = false;
        pg->state = PG_READY;
        if (watch(pg) != 0) {
            drop_connection(pg, "cannot watch the socket");
            return;
        }
        h2o_socket_read_start(pg->sock, on_readable);
        schedule_kick(pg);
        return;
    case PGRES_POLLING_READING:
        if (watch(pg) == 0)
            h2o_socket_read_start(pg->sock, on_readable);
        else
            drop_connection(pg, "cannot watch the socket");
        return;
    case PGRES_POLLING_WRITING:
        if (watch(pg) == 0)
            poll_write(pg);
        else
            drop_connection(pg, "cannot watch the socket");
        return;
    default:
        drop_connection(pg, PQerrorMessage(pg->conn));
        return;
    }
}

/* Collects the results of the query in flight; its callback gets the first one. */
static void read_results(pg_async_t *pg)
{
    if (!PQconsumeInput(pg->conn)) {
        drop_connection(pg, PQerrorMessage(pg->conn));
        return;
    }
    while (pg->sent && !PQisBusy(pg->conn)) {
        PGresult *result = PQgetResult(pg->conn);
        if (result != NULL) {
            if (pg->result == NULL)
                pg->result = result;
            else
                PQclear(result);
            continue;
        }
        query_t *query;
        take_head(pg, &query);
        pg->sent = false;
        h2o_timeout_unlink(&pg->deadline);
        result = pg->result;
        pg->result = NULL;
        if (result == NULL || PQresultStatus(result) == PGRES_FATAL_ERROR)
            atomic_fetch_add_explicit(&pg->stats->errors, 1, memory_order_relaxed);
        query->cb(query->ctx, result);
        PQclear(result);
        free(query);
        schedule_kick(pg);
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    (void)err;
    pg_async_t *pg = sock->data;
    if (pg->state == PG_CONNECTING)
        continue_connect(pg);
    else if (pg->sent)
        read_results(pg);
    else if (!PQconsumeInput(pg->conn))
        drop_connection(pg, PQerrorMessage(pg->conn)); /* the server closed an idle connection */
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    (void)err;
    pg_async_t *pg = sock->data;
    pg->write_polled = false;
    if (pg->state == PG_CONNECTING) {
        continue_connect(pg);
        return;
    }
    int flushed = PQflush(pg->conn);
    if (flushed == -1)
        drop_connection(pg, PQerrorMessage(pg->conn));
    else if (flushed == 1)
        poll_write(pg);
}

static void on_kick(h2o_timeout_entry_t *entry)
{
    pg_async_t *pg = H2O_STRUCT_FROM_MEMBER(pg_async_t, kick, entry);
    if (pg->head == NULL)
        return;
    if (pg->state == PG_DOWN)
        start_connect(pg);
    else if (pg->state == PG_READY && !pg->sent)
        send_head(pg);
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    pg_async_t *pg = H2O_STRUCT_FROM_MEMBER(pg_async_t, deadline, entry);
    drop_connection(pg, pg->state == PG_CONNECTING ? "connecting timed out" : "no answer in time");
}

void pg_async_query(pg_async_t *pg, const char *sql, int param_count, const char *const *params,
                    pg_async_cb cb, void *ctx)
{
    size_t sql_size = strlen(sql) + 1;
    size_t bytes = sizeof(query_t) + param_count * sizeof(char *) + sql_size;
    for (int i = 0; i < param_count; i++)
        bytes += strlen(params[i]) + 1;
    query_t *query = malloc(bytes);
    if (query == NULL) {
        cb(ctx, NULL);
        return;
    }
    *query = (query_t){.cb = cb, .ctx = ctx, .param_count = param_count, .params = (char **)(query + 1)};
    char *data = (char *)(query->params + param_count);
    query->sql = memcpy(data, sql, sql_size);
    data += sql_size;
    for (int i = 0; i < param_count; i++) {
        size_t size = strlen(params[i]) + 1;
        query->params[i] = memcpy(data, params[i], size);
        data += size;
    }
    *pg->tail = query;
    pg->tail = &query->next;
    schedule_kick(pg);
}

pg_async_t *pg_async_create(h2o_loop_t *loop, const char *conninfo, uint64_t timeout_ms,
                            pg_async_stats_t *stats)
{
    pg_async_t *pg = calloc(1, sizeof(*pg));
    if (pg == NULL || (pg->conninfo = strdup(conninfo)) == NULL) {
        free(pg);
        return NULL;
    }
    pg->loop = loop;
    pg->stats = stats;
    pg->tail = &pg->head;
    pg->kick.cb = on_kick;
    pg->deadline.cb = on_deadline;
    h2o_timeout_init(loop, &pg->kick_timeout, 0);
    h2o_timeout_init(loop, &pg->answer_timeout, timeout_ms);
    return pg;
}

void pg_async_destroy(pg_async_t *pg)
{
    /* A callback run by drop_connection may queue another query; that one fails too. */
    do
        drop_connection(pg, NULL);
    while (pg->head != NULL);
    h2o_timeout_unlink(&pg->kick);
    h2o_timeout_dispose(pg->loop, &pg->kick_timeout);
    h2o_timeout_dispose(pg->loop, &pg->answer_timeout);
    free(pg->conninfo);
    free(pg);
}
