/*
 * The worker against a real redis-server and PostgreSQL (scripts/services.sh): orders move from
 * the sale streams into PostgreSQL exactly once through redeliveries, dead consumers, a kill -9
 * of the worker, a PostgreSQL outage and a Redis crash; bad orders go to the dead-letter stream;
 * the lag is read from Redis alone; a sale deleted while its orders are being stored keeps none
 * of them, whichever of the two takes the sale's lock first; a worker logs in to a Redis that
 * wants a password, and stops at start when it is refused. Each test gets a fresh database and
 * an empty Redis.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "distributed/outbox.h"
#include "distributed/postgres/pg_schema.h"
#include "distributed/worker/worker.h"
#include "distributed/worker/worker_lag.h"
#include "services.h"

#define WAIT_LIMIT_MS 30000
/* Short enough that claims and redeliveries happen within a test, long enough to be exercised. */
#define TEST_CLAIM_IDLE_MS 200

typedef struct {
    pthread_t thread;
    worker_options_t options;
    volatile sig_atomic_t stop;
} running_worker_t;

#define WORKERS_MAX  4
#define SESSIONS_MAX 2

typedef struct {
    char url[256];
    PGconn *conn;
    redisContext *redis;
    /* Workers still running; teardown stops them when a test failed half-way, so that they
     * cannot take the next test's orders. */
    running_worker_t *workers[WORKERS_MAX];
    /* Connections a test keeps a transaction open on; closed before the workers are stopped,
     * which may be waiting for their locks. */
    PGconn *sessions[SESSIONS_MAX];
    /* The password test's own Redis, stopped by teardown whatever happened. */
    protected_redis_t protected_redis;
} fixture_t;

static redisContext *connect_redis(void)
{
    redisContext *redis = redisConnect("127.0.0.1", services.redis_port);
    assert_non_null(redis);
    assert_int_equal(redis->err, 0);
    return redis;
}

/* A command that must succeed; returns the reply (caller frees). */
static redisReply *redis_ok(fixture_t *fixture, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    redisReply *reply = redisvCommand(fixture->redis, format, ap);
    va_end(ap);
    assert_non_null(reply);
    if (reply->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", reply->str);
    return reply;
}

static long long redis_int(fixture_t *fixture, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    redisReply *reply = redisvCommand(fixture->redis, format, ap);
    va_end(ap);
    assert_non_null(reply);
    long long value = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    return value;
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    if (services_fresh_database(&services, fixture->url, sizeof(fixture->url)) != 0 ||
        (fixture->conn = services_connect(fixture->url)) == NULL)
        return -1;
    fixture->redis = connect_redis();
    freeReplyObject(redis_ok(fixture, "FLUSHALL"));
    *state = fixture;
    return 0;
}

static void stop_worker(fixture_t *fixture, running_worker_t *worker);

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    for (int i = 0; i < SESSIONS_MAX; i++)
        PQfinish(fixture->sessions[i]);
    for (int i = 0; i < WORKERS_MAX; i++) {
        if (fixture->workers[i] != NULL)
            stop_worker(fixture, fixture->workers[i]);
    }
    PQfinish(fixture->conn);
    redisFree(fixture->redis);
    protected_redis_stop(&fixture->protected_redis);
    free(fixture);
    return 0;
}

/* worker_run, with the line of a fatal error on stderr. */
static int run(const worker_options_t *options, volatile sig_atomic_t *stop)
{
    char err[512];
    int result = worker_run(options, stop, err, sizeof(err));
    if (result != 0)
        fprintf(stderr, "worker: %s\n", err);
    return result;
}

static void *run_worker(void *arg)
{
    running_worker_t *worker = arg;
    return (void *)(intptr_t)run(&worker->options, &worker->stop);
}

static void test_options(worker_options_t *options, const fixture_t *fixture)
{
    worker_options_init(options, services.redis_url, fixture->url);
    options->block_ms = 50;
    options->claim_idle_ms = TEST_CLAIM_IDLE_MS;
    options->rescan_ms = 50;
    options->log_interval_ms = 1000;
}

static running_worker_t *start_worker_at(fixture_t *fixture, const char *redis_url, size_t batch_size)
{
    running_worker_t *worker = calloc(1, sizeof(*worker));
    test_options(&worker->options, fixture);
    worker->options.redis_url = redis_url;
    worker->options.batch_size = batch_size;
    int slot = 0;
    while (fixture->workers[slot] != NULL)
        slot++;
    assert_true(slot < WORKERS_MAX);
    fixture->workers[slot] = worker;
    assert_int_equal(pthread_create(&worker->thread, NULL, run_worker, worker), 0);
    return worker;
}

static running_worker_t *start_worker(fixture_t *fixture, size_t batch_size)
{
    return start_worker_at(fixture, services.redis_url, batch_size);
}

static void stop_worker(fixture_t *fixture, running_worker_t *worker)
{
    for (int i = 0; i < WORKERS_MAX; i++) {
        if (fixture->workers[i] == worker)
            fixture->workers[i] = NULL;
    }
    worker->stop = 1;
    void *rc;
    pthread_join(worker->thread, &rc);
    free(worker);
    assert_int_equal((intptr_t)rc, 0);
}

/* Creates the sale in PostgreSQL and lists it in Redis, as the server does; returns its id. */
static long long create_sale(fixture_t *fixture, const char *sku)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sales (sku, product_name, initial_stock, start_ms, end_ms, created_ms)"
             " VALUES ('%s', 'Product', 1000000, 0, 1, 0) RETURNING sale_id",
             sku);
    long long sale_id = services_query_int(fixture->conn, sql);
    assert_true(sale_id > 0);
    freeReplyObject(redis_ok(fixture, "SADD %s %s", OUTBOX_SALES_SET, sku));
    return sale_id;
}

/* The server migrates when it starts; these tests create sales before any worker ran. */
static void migrate(fixture_t *fixture)
{
    char err[256];
    if (pg_schema_migrate(fixture->conn, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

/* Appends an order as the purchase script does: its sequence as the entry ID, which must grow. */
static void add_order_as(fixture_t *fixture, const char *sku, long long sale_id, long long sequence,
                         const char *user_id, size_t user_len)
{
    char sale_text[24], now[24];
    snprintf(sale_text, sizeof(sale_text), "%lld", sale_id);
    snprintf(now, sizeof(now), "%lld", (long long)clock_now_ms());
    freeReplyObject(redis_ok(fixture,
                             "XADD " OUTBOX_KEY_PREFIX "{%s}:orders %lld-0 " OUTBOX_FIELD_SALE_ID
                             " %s " OUTBOX_FIELD_USER_ID " %b " OUTBOX_FIELD_PURCHASED_MS " %s",
                             sku, sequence, sale_text, user_id, user_len, now));
}

static void add_order(fixture_t *fixture, const char *sku, long long sale_id, long long sequence)
{
    char user[32];
    snprintf(user, sizeof(user), "user-%lld", sequence);
    add_order_as(fixture, sku, sale_id, sequence, user, strlen(user));
}

static long long purchases(fixture_t *fixture)
{
    return services_query_int(fixture->conn, "SELECT count(*) FROM purchases");
}

static long long stream_length(fixture_t *fixture, const char *sku)
{
    return redis_int(fixture, "XLEN " OUTBOX_KEY_PREFIX "{%s}:orders", sku);
}

static long long dead_letters(fixture_t *fixture)
{
    return redis_int(fixture, "XLEN %s", OUTBOX_DEAD_LETTER);
}

static long long pending(fixture_t *fixture, const char *sku)
{
    redisReply *reply =
        redis_ok(fixture, "XPENDING " OUTBOX_KEY_PREFIX "{%s}:orders %s", sku, OUTBOX_CONSUMER_GROUP);
    long long count = reply->element[0]->integer;
    freeReplyObject(reply);
    return count;
}

/* Polls until every stream of the given skus is empty and PostgreSQL holds `expected` rows. */
static void wait_drained(fixture_t *fixture, const char *const *skus, size_t sku_count, long long expected)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        long long in_streams = 0;
        for (size_t i = 0; i < sku_count; i++)
            in_streams += stream_length(fixture, skus[i]);
        long long stored = purchases(fixture);
        if (in_streams == 0 && stored == expected)
            return;
        if (clock_monotonic_ms() > deadline)
            fail_msg("not drained: %lld in streams, %lld of %lld stored", in_streams, stored, expected);
        usleep(10000);
    }
}

/* Polls the dead-letter stream's length until it equals expected. */
static void wait_dead_letters(fixture_t *fixture, long long expected)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    long long value;
    while ((value = dead_letters(fixture)) != expected) {
        if (clock_monotonic_ms() > deadline)
            fail_msg("%lld dead letters, expected %lld", value, expected);
        usleep(10000);
    }
}

static void test_moves_orders_into_postgres(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long first = create_sale(fixture, "FIRST");
    for (long long i = 1; i <= 1500; i++)
        add_order(fixture, "FIRST", first, i);
    running_worker_t *worker = start_worker(fixture, 1000);
    /* A sale created while the worker runs is found by the next discovery. */
    long long second = create_sale(fixture, "SECOND");
    const char *tricky[] = {"quo\"te", "back\\slash", "comma,{brace}", "ünïcødé ✓", "NULL", " padded "};
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++)
        add_order_as(fixture, "SECOND", second, (long long)i + 1, tricky[i], strlen(tricky[i]));
    const char *skus[] = {"FIRST", "SECOND"};
    wait_drained(fixture, skus, 2, 1506);
    stop_worker(fixture, worker);
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        const char *params[] = {tricky[i]};
        PGresult *result = PQexecParams(fixture->conn, "SELECT purchase_no FROM purchases WHERE user_id = $1",
                                        1, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQntuples(result), 1);
        char expected[64];
        snprintf(expected, sizeof(expected), "FS%lld-%zu", second, i + 1);
        assert_string_equal(PQgetvalue(result, 0, 0), expected);
        PQclear(result);
    }
    assert_int_equal(services_query_int(fixture->conn, "SELECT count(*) FROM purchases WHERE sku = 'FIRST'"
                                                       " AND purchase_no = 'FS' || sale_id || '-' || sequence"
                                                       " AND user_id = 'user-' || sequence"),
                     1500);
    assert_int_equal(pending(fixture, "FIRST"), 0);
    assert_int_equal(dead_letters(fixture), 0);
}

static void test_orders_delivered_twice_are_stored_once(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "TWICE");
    for (long long i = 1; i <= 300; i++)
        add_order(fixture, "TWICE", sale, i);
    const char *skus[] = {"TWICE"};
    running_worker_t *worker = start_worker(fixture, 1000);
    wait_drained(fixture, skus, 1, 300);
    stop_worker(fixture, worker);
    /* The same orders again, as after a crash between COMMIT and XACK: in a new stream, since
     * the trimmed one no longer takes their IDs. */
    freeReplyObject(redis_ok(fixture, "DEL " OUTBOX_KEY_PREFIX "{TWICE}:orders"));
    for (long long i = 1; i <= 300; i++)
        add_order(fixture, "TWICE", sale, i);
    worker = start_worker(fixture, 1000);
    wait_drained(fixture, skus, 1, 300);
    stop_worker(fixture, worker);
}

static void test_orders_left_by_a_dead_consumer_are_claimed(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "ORPHAN");
    for (long long i = 1; i <= 50; i++)
        add_order(fixture, "ORPHAN", sale, i);
    /* A worker that read these and died before storing them. */
    freeReplyObject(redis_ok(fixture, "XGROUP CREATE " OUTBOX_KEY_PREFIX "{ORPHAN}:orders %s 0 MKSTREAM",
                             OUTBOX_CONSUMER_GROUP));
    freeReplyObject(
        redis_ok(fixture, "XREADGROUP GROUP %s dead COUNT 50 STREAMS " OUTBOX_KEY_PREFIX "{ORPHAN}:orders >",
                 OUTBOX_CONSUMER_GROUP));
    assert_int_equal(pending(fixture, "ORPHAN"), 50);
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"ORPHAN"};
    wait_drained(fixture, skus, 1, 50);
    stop_worker(fixture, worker);
    assert_int_equal(pending(fixture, "ORPHAN"), 0);
}

static void test_killed_worker_loses_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "KILLED");
    pid_t child = fork();
    if (child == 0) {
        worker_options_t options;
        test_options(&options, fixture);
        options.batch_size = 20; /* many small commits, so the kill lands between two of them */
        static volatile sig_atomic_t never;
        _exit(run(&options, &never) == 0 ? 0 : 1);
    }
    assert_true(child > 0);
    long long total = 4000, added = 0;
    while (added < total / 2)
        add_order(fixture, "KILLED", sale, ++added);
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (purchases(fixture) == 0 && clock_monotonic_ms() < deadline)
        usleep(1000);
    assert_int_equal(kill(child, SIGKILL), 0);
    waitpid(child, NULL, 0);
    assert_true(purchases(fixture) < total);
    while (added < total)
        add_order(fixture, "KILLED", sale, ++added);
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"KILLED"};
    wait_drained(fixture, skus, 1, total);
    stop_worker(fixture, worker);
    assert_int_equal(pending(fixture, "KILLED"), 0);
}

/*
 * Entries written before the entry shrank to three fields also carry purchase_no, sequence and
 * sku; the worker takes those from the entry's ID and key, which give the same values.
 */
static void test_orders_of_the_six_field_layout_are_stored(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "OLD");
    freeReplyObject(redis_ok(
        fixture,
        "XADD " OUTBOX_KEY_PREFIX "{OLD}:orders 1-0 purchase_no FS%lld-1 " OUTBOX_FIELD_SALE_ID
        " %lld sequence 1 sku OLD " OUTBOX_FIELD_USER_ID " early " OUTBOX_FIELD_PURCHASED_MS " 1700000000000",
        sale, sale));
    add_order(fixture, "OLD", sale, 2);
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"OLD"};
    wait_drained(fixture, skus, 1, 2);
    stop_worker(fixture, worker);
    char sql[256];
    snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM purchases WHERE sale_id = %lld AND sku = 'OLD' AND"
        " ((sequence = 1 AND purchase_no = 'FS%lld-1' AND user_id = 'early' AND purchased_ms = 1700000000000)"
        " OR (sequence = 2 AND purchase_no = 'FS%lld-2' AND user_id = 'user-2'))",
        sale, sale, sale);
    assert_int_equal(services_query_int(fixture->conn, sql), 2);
    assert_int_equal(dead_letters(fixture), 0);
}

static void test_unparseable_order_goes_to_dead_letter(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "BROKEN");
    add_order(fixture, "BROKEN", sale, 1);
    freeReplyObject(redis_ok(fixture,
                             "XADD " OUTBOX_KEY_PREFIX "{BROKEN}:orders 2-0 " OUTBOX_FIELD_SALE_ID
                             " %lld " OUTBOX_FIELD_PURCHASED_MS " 1",
                             sale));
    add_order(fixture, "BROKEN", sale, 3);
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"BROKEN"};
    wait_drained(fixture, skus, 1, 2);
    stop_worker(fixture, worker);
    redisReply *dead = redis_ok(fixture, "XRANGE %s - +", OUTBOX_DEAD_LETTER);
    assert_int_equal(dead->elements, 1);
    const redisReply *fields = dead->element[0]->element[1];
    bool saw_reason = false, saw_original = false;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (strcmp(fields->element[i]->str, "reason") == 0)
            saw_reason = strstr(fields->element[i + 1]->str, OUTBOX_FIELD_USER_ID) != NULL;
        if (strcmp(fields->element[i]->str, OUTBOX_FIELD_SALE_ID) == 0)
            saw_original = strtoll(fields->element[i + 1]->str, NULL, 10) == sale;
    }
    freeReplyObject(dead);
    assert_true(saw_reason);
    assert_true(saw_original);
    assert_int_equal(pending(fixture, "BROKEN"), 0);
}

static void test_order_refused_by_postgres_is_dead_lettered_after_max_deliveries(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "REFUSED");
    add_order(fixture, "REFUSED", sale, 1);
    /* Valid for Redis, refused by PostgreSQL: not UTF-8. */
    add_order_as(fixture, "REFUSED", sale, 2, "\xff\xfe", 2);
    add_order(fixture, "REFUSED", sale, 3);
    running_worker_t *worker = start_worker(fixture, 1000);
    wait_dead_letters(fixture, 1);
    const char *skus[] = {"REFUSED"};
    wait_drained(fixture, skus, 1, 2);
    stop_worker(fixture, worker);
    redisReply *dead = redis_ok(fixture, "XRANGE %s - +", OUTBOX_DEAD_LETTER);
    const redisReply *fields = dead->element[0]->element[1];
    long long deliveries = 0;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (strcmp(fields->element[i]->str, "deliveries") == 0)
            deliveries = strtoll(fields->element[i + 1]->str, NULL, 10);
    }
    freeReplyObject(dead);
    assert_int_equal(deliveries, OUTBOX_MAX_DELIVERIES + 1);
}

static void test_order_of_a_deleted_sale_is_dropped(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "GONE");
    add_order(fixture, "GONE", sale, 1);
    add_order(fixture, "GONE", sale + 1000, 2); /* a sale_id PostgreSQL never had */
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"GONE"};
    wait_drained(fixture, skus, 1, 1);
    stop_worker(fixture, worker);
    assert_int_equal(dead_letters(fixture), 0);
    assert_int_equal(pending(fixture, "GONE"), 0);
}

/* A second connection to the test's database, closed by the teardown. */
static PGconn *open_session(fixture_t *fixture)
{
    int slot = 0;
    while (fixture->sessions[slot] != NULL)
        slot++;
    assert_true(slot < SESSIONS_MAX);
    fixture->sessions[slot] = services_connect(fixture->url);
    assert_non_null(fixture->sessions[slot]);
    return fixture->sessions[slot];
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
}

/* Polls until some backend waits for a lock that `holder`'s backend holds; returns its pid. */
static int wait_for_waiter(fixture_t *fixture, PGconn *holder)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE %d = ANY (pg_blocking_pids(pid))",
             PQbackendPID(holder));
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    long long pid;
    while ((pid = services_query_int(fixture->conn, sql)) == 0) {
        if (clock_monotonic_ms() > deadline)
            fail_msg("nobody waits for a lock of backend %d", PQbackendPID(holder));
        usleep(1000);
    }
    assert_true(pid > 0);
    return (int)pid;
}

/* Polls until `waiter`'s backend waits for a lock that the backend `holder_pid` holds. */
static void wait_blocked_by(fixture_t *fixture, PGconn *waiter, int holder_pid)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT (%d = ANY (pg_blocking_pids(%d)))::integer", holder_pid,
             PQbackendPID(waiter));
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (services_query_int(fixture->conn, sql) != 1) {
        if (clock_monotonic_ms() > deadline)
            fail_msg("backend %d does not wait for backend %d", PQbackendPID(waiter), holder_pid);
        usleep(1000);
    }
}

/*
 * The worker locks the sale first, the delete waits for its commit: the delete then removes the
 * orders the worker committed meanwhile. To hold the worker's transaction open after it took
 * the lock, another transaction holds an uncommitted copy of its first order, on which the
 * worker's ON CONFLICT waits.
 */
static void test_delete_waiting_for_a_batch_removes_its_orders(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "RACE");
    for (long long i = 1; i <= 100; i++)
        add_order(fixture, "RACE", sale, i);
    PGconn *holder = open_session(fixture);
    exec_ok(holder, "BEGIN");
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, purchased_ms)"
             " VALUES ('FS%lld-1', %lld, 1, 'RACE', 'user-1', 1)",
             sale, sale);
    exec_ok(holder, sql);
    running_worker_t *worker = start_worker(fixture, 1000);
    int worker_pid = wait_for_waiter(fixture, holder);

    PGconn *deleter = open_session(fixture);
    assert_int_equal(PQsendQuery(deleter, "SELECT flashsale_delete_sale('RACE')"), 1);
    wait_blocked_by(fixture, deleter, worker_pid);
    exec_ok(holder, "ROLLBACK");
    PGresult *result = PQgetResult(deleter);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    assert_int_equal(strtoll(PQgetvalue(result, 0, 0), NULL, 10), sale);
    PQclear(result);
    assert_null(PQgetResult(deleter));

    const char *skus[] = {"RACE"};
    wait_drained(fixture, skus, 1, 0);
    stop_worker(fixture, worker);
    assert_int_equal(dead_letters(fixture), 0);
}

/* The delete locks the sale first, the worker waits for its commit: it then stores nothing. */
static void test_batch_waiting_for_a_delete_stores_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "RACE");
    for (long long i = 1; i <= 100; i++)
        add_order(fixture, "RACE", sale, i);
    PGconn *deleter = open_session(fixture);
    exec_ok(deleter, "BEGIN");
    assert_int_equal(services_query_int(deleter, "SELECT flashsale_delete_sale('RACE')"), sale);
    running_worker_t *worker = start_worker(fixture, 1000);
    wait_for_waiter(fixture, deleter);
    exec_ok(deleter, "COMMIT");

    const char *skus[] = {"RACE"};
    wait_drained(fixture, skus, 1, 0);
    stop_worker(fixture, worker);
    assert_int_equal(dead_letters(fixture), 0);
}

static void reconnect_postgres(fixture_t *fixture)
{
    PQfinish(fixture->conn);
    fixture->conn = services_connect(fixture->url);
    assert_non_null(fixture->conn);
}

static void test_postgres_outage_loses_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "OUTAGE");
    running_worker_t *worker = start_worker(fixture, 1000);
    for (long long i = 1; i <= 200; i++)
        add_order(fixture, "OUTAGE", sale, i);
    const char *skus[] = {"OUTAGE"};
    wait_drained(fixture, skus, 1, 200);
    assert_int_equal(services_run(&services, "stop", "postgres"), 0);
    for (long long i = 201; i <= 700; i++)
        add_order(fixture, "OUTAGE", sale, i);
    /* The worker took a batch and holds on to it, unacknowledged, while PostgreSQL is down. */
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (pending(fixture, "OUTAGE") == 0 && clock_monotonic_ms() < deadline)
        usleep(10000);
    assert_true(pending(fixture, "OUTAGE") > 0);
    assert_int_equal(stream_length(fixture, "OUTAGE"), 500);
    assert_int_equal(services_run(&services, "start", "postgres"), 0);
    reconnect_postgres(fixture);
    wait_drained(fixture, skus, 1, 700);
    stop_worker(fixture, worker);
}

static void test_redis_crash_loses_nothing(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "CRASH");
    running_worker_t *worker = start_worker(fixture, 1000);
    for (long long i = 1; i <= 300; i++)
        add_order(fixture, "CRASH", sale, i);
    assert_int_equal(services_run(&services, "kill", "redis"), 0);
    assert_int_equal(services_run(&services, "start", "redis"), 0);
    redisFree(fixture->redis);
    fixture->redis = connect_redis();
    for (long long i = 301; i <= 600; i++)
        add_order(fixture, "CRASH", sale, i);
    const char *skus[] = {"CRASH"};
    wait_drained(fixture, skus, 1, 600);
    stop_worker(fixture, worker);
}

static void test_two_workers_share_the_streams(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    const char *skus[] = {"S1", "S2", "S3", "S4"};
    running_worker_t *one = start_worker(fixture, 100);
    running_worker_t *two = start_worker(fixture, 100);
    for (size_t s = 0; s < 4; s++) {
        long long sale = create_sale(fixture, skus[s]);
        for (long long i = 1; i <= 1000; i++)
            add_order(fixture, skus[s], sale, i);
    }
    wait_drained(fixture, skus, 4, 4000);
    stop_worker(fixture, one);
    stop_worker(fixture, two);
}

static void test_lag_counts_what_is_not_yet_stored(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    long long sale = create_sale(fixture, "LAG");
    worker_lag_t lag;
    char err[256];
    assert_int_equal(worker_lag_read(fixture->redis, &lag, err, sizeof(err)), 0);
    assert_int_equal(lag.streams, 1);
    assert_int_equal(lag.length, 0);
    assert_int_equal(lag.oldest_age_ms, 0);
    for (long long i = 1; i <= 3; i++)
        add_order(fixture, "LAG", sale, i);
    freeReplyObject(
        redis_ok(fixture, "XGROUP CREATE " OUTBOX_KEY_PREFIX "{LAG}:orders %s 0", OUTBOX_CONSUMER_GROUP));
    freeReplyObject(
        redis_ok(fixture, "XREADGROUP GROUP %s someone COUNT 1 STREAMS " OUTBOX_KEY_PREFIX "{LAG}:orders >",
                 OUTBOX_CONSUMER_GROUP));
    freeReplyObject(redis_ok(fixture, "XADD %s * reason test", OUTBOX_DEAD_LETTER));
    assert_int_equal(worker_lag_read(fixture->redis, &lag, err, sizeof(err)), 0);
    assert_int_equal(lag.length, 3);
    assert_int_equal(lag.pending, 1);
    assert_int_equal(lag.dead_letters, 1);
    assert_true(lag.oldest_age_ms >= 0 && lag.oldest_age_ms < WAIT_LIMIT_MS);
    running_worker_t *worker = start_worker(fixture, 1000);
    const char *skus[] = {"LAG"};
    wait_drained(fixture, skus, 1, 3);
    stop_worker(fixture, worker);
    assert_int_equal(worker_lag_read(fixture->redis, &lag, err, sizeof(err)), 0);
    assert_int_equal(lag.length, 0);
    assert_int_equal(lag.pending, 0);
    assert_int_equal(lag.oldest_age_ms, 0);
}

static void test_bad_url_is_a_configuration_error(void **state)
{
    fixture_t *fixture = *state;
    worker_options_t options;
    test_options(&options, fixture);
    options.redis_url = "http://127.0.0.1";
    static volatile sig_atomic_t never;
    assert_int_equal(run(&options, &never), -1);
    test_options(&options, fixture);
    options.postgres_url = "postgresql://[broken";
    assert_int_equal(run(&options, &never), -1);
}

static void test_worker_logs_in_with_the_password(void **state)
{
    fixture_t *fixture = *state;
    migrate(fixture);
    protected_redis_t *protected_redis = &fixture->protected_redis;
    assert_int_equal(protected_redis_start(protected_redis, "s3cret", "alice", "p@ss:word"), 0);
    /* From here the helpers speak to the protected Redis. */
    redisFree(fixture->redis);
    fixture->redis = redisConnect("127.0.0.1", protected_redis->port);
    assert_non_null(fixture->redis);
    freeReplyObject(redis_ok(fixture, "AUTH s3cret"));
    long long sale = create_sale(fixture, "LOCKED");
    add_order(fixture, "LOCKED", sale, 1);

    /* A refused password ends the worker at start, with nothing done. */
    char url[128];
    worker_options_t options;
    test_options(&options, fixture);
    options.redis_url = url;
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", protected_redis->port);
    static volatile sig_atomic_t never;
    assert_int_equal(run(&options, &never), -1);
    assert_int_equal(stream_length(fixture, "LOCKED"), 1);

    /* An ACL user, the password percent-encoded. */
    snprintf(url, sizeof(url), "redis://alice:p%%40ss%%3Aword@127.0.0.1:%d", protected_redis->port);
    running_worker_t *worker = start_worker_at(fixture, url, 1000);
    const char *skus[] = {"LOCKED"};
    wait_drained(fixture, skus, 1, 1);
    stop_worker(fixture, worker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_moves_orders_into_postgres, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_delivered_twice_are_stored_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_left_by_a_dead_consumer_are_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_worker_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_of_the_six_field_layout_are_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparseable_order_goes_to_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_refused_by_postgres_is_dead_lettered_after_max_deliveries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_of_a_deleted_sale_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_waiting_for_a_batch_removes_its_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_waiting_for_a_delete_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgres_outage_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_crash_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_workers_share_the_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lag_counts_what_is_not_yet_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_url_is_a_configuration_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_logs_in_with_the_password, setup, teardown),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
