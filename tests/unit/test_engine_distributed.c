/*
 * The distributed engine on an h2o evloop against a real redis-server and PostgreSQL
 * (scripts/services.sh): the purchase rules and a storm decided by the Redis script (one call per
 * sale for the purchases of one loop iteration), the admin operations through PostgreSQL then
 * Redis, the purchase listing merged from PostgreSQL and the stream, the snapshot that keeps
 * status reads off Redis, answers within a bound while Redis is down or hung and recovery without
 * a restart, purchases while PostgreSQL is down, the reconciliation after FLUSHALL or a lost sale
 * hash, the persistence lag in /metrics and /health, and the sold-out cache (the script's answers
 * without Redis, dropped when the sale changes or the connection does); the Redis URL's grammar,
 * and a Redis that wants a password (its own redis-server): AUTH before SELECT on every
 * connection, a refused password at open and on a reconnect. Each test gets a fresh database and
 * an empty Redis.
 */
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "distributed/engine_distributed.h"
#include "distributed/outbox.h"
#include "distributed/postgres/data_loss.h"
#include "distributed/reconcile.h"
#include "distributed/redis/redis_client.h"
#include "distributed/redis/redis_sale.h"
#include "distributed/sale_snapshot.h"
#include "services.h"

#define WAIT_LIMIT_MS 20000
#define HOUR_MS       (3600 * 1000)
#define MAX_LISTED    16

typedef struct {
    char postgres_url[256];
    engine_t *engine;
    h2o_loop_t *loop;
    engine_loop_t *handle;
    redisContext *redis;
    PGconn *pg;
} fixture_t;

/* A copy of one answer, taken in the callback (the engine's pointers die with it). */
typedef struct {
    bool done;
    engine_status_t status;
    sale_outcome_t outcome;
    bool has_purchase;
    sale_purchase_t purchase;
    bool has_sale;
    sale_t sale;
    size_t sale_count;
    size_t purchase_count;
    sale_purchase_t purchases[MAX_LISTED];
    char next_cursor[32];
    bool has_cursor;
    engine_check_t checks[4];
    char check_details[4][128]; /* the checks' details point here */
    size_t check_count;
    char text[4096];
    bool has_account;
    account_t account;
    char invalid_field[32];
    bool limited;
    int64_t retry_after_us;
} answer_t;

static void on_answer(void *ctx, const engine_result_t *result)
{
    answer_t *answer = ctx;
    assert_false(answer->done);
    answer->done = true;
    answer->status = result->status;
    answer->outcome = result->outcome;
    if ((answer->has_purchase = result->purchase != NULL))
        answer->purchase = *result->purchase;
    if ((answer->has_sale = result->sale != NULL))
        answer->sale = *result->sale;
    answer->sale_count = result->sale_count;
    answer->purchase_count = result->purchase_count;
    for (size_t i = 0; i < result->purchase_count && i < MAX_LISTED; i++)
        answer->purchases[i] = result->purchases[i];
    if ((answer->has_cursor = result->next_cursor != NULL))
        snprintf(answer->next_cursor, sizeof(answer->next_cursor), "%s", result->next_cursor);
    answer->check_count = result->check_count;
    for (size_t i = 0; i < result->check_count && i < 4; i++) {
        answer->checks[i] = result->checks[i];
        if (result->checks[i].detail != NULL) {
            snprintf(answer->check_details[i], sizeof(answer->check_details[i]), "%s",
                     result->checks[i].detail);
            answer->checks[i].detail = answer->check_details[i];
        }
    }
    if (result->text != NULL)
        snprintf(answer->text, sizeof(answer->text), "%.*s", (int)result->text_len, result->text);
    if ((answer->has_account = result->account != NULL))
        answer->account = *result->account;
    if (result->invalid_field != NULL)
        snprintf(answer->invalid_field, sizeof(answer->invalid_field), "%s", result->invalid_field);
    answer->limited = result->limited;
    answer->retry_after_us = result->retry_after_us;
}

static void run_until(fixture_t *fixture, const bool *done)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (!*done) {
        assert_true(clock_monotonic_ms() < deadline);
        assert_int_equal(h2o_evloop_run(fixture->loop, 10), 0);
    }
}

static void open_engine_at(fixture_t *fixture, const char *redis_url)
{
    char err[512] = "";
    fixture->engine = engine_distributed_open(redis_url, fixture->postgres_url, err, sizeof(err));
    if (fixture->engine == NULL)
        fail_msg("open: %s", err);
    fixture->loop = h2o_evloop_create();
    fixture->handle = engine_attach(fixture->engine, fixture->loop);
    assert_non_null(fixture->handle);
}

static void open_engine(fixture_t *fixture)
{
    open_engine_at(fixture, services.redis_url);
}

static void close_engine(fixture_t *fixture)
{
    engine_detach(fixture->handle);
    engine_close(fixture->engine);
    /* Sockets closed by detach are freed by one more turn of the loop. */
    h2o_evloop_run(fixture->loop, 0);
    h2o_evloop_destroy(fixture->loop);
}

static redisReply *redis_do(fixture_t *fixture, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    redisReply *reply = redisvCommand(fixture->redis, format, args);
    va_end(args);
    assert_non_null(reply);
    return reply;
}

static long long redis_int(fixture_t *fixture, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    redisReply *reply = redisvCommand(fixture->redis, format, args);
    va_end(args);
    assert_non_null(reply);
    long long value = reply->type == REDIS_REPLY_INTEGER  ? reply->integer
                      : reply->type == REDIS_REPLY_STRING ? strtoll(reply->str, NULL, 10)
                                                          : -1;
    freeReplyObject(reply);
    return value;
}

static void connect_redis_at(fixture_t *fixture, const char *url)
{
    redis_address_t address;
    char err[512];
    if (redis_address_parse(url, &address, err, sizeof(err)) != 0 ||
        redis_address_connect(&address, 5000, &fixture->redis, err, sizeof(err)) != REDIS_CONNECT_OK)
        fail_msg("%s", err);
}

static void connect_redis(fixture_t *fixture)
{
    connect_redis_at(fixture, services.redis_url);
}

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    if (services_fresh_database(&services, fixture->postgres_url, sizeof(fixture->postgres_url)) != 0)
        return -1;
    connect_redis(fixture);
    freeReplyObject(redis_do(fixture, "FLUSHALL"));
    open_engine(fixture);
    fixture->pg = services_connect(fixture->postgres_url);
    *state = fixture;
    return fixture->pg != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    close_engine(fixture);
    redisFree(fixture->redis);
    PQfinish(fixture->pg);
    free(fixture);
    return 0;
}

static answer_t create_sale(fixture_t *fixture, const char *sku, int64_t stock, int64_t start_ms,
                            int64_t end_ms)
{
    sale_fields_t fields = {.has_sku = true,
                            .has_product_name = true,
                            .has_initial_stock = true,
                            .has_start = true,
                            .has_end = true,
                            .initial_stock = stock,
                            .start_ms = start_ms,
                            .end_ms = end_ms};
    snprintf(fields.sku, sizeof(fields.sku), "%s", sku);
    snprintf(fields.product_name, sizeof(fields.product_name), "Product %s", sku);
    answer_t answer = {0};
    engine_create_sale(fixture->handle, &fields, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static answer_t create_live_sale(fixture_t *fixture, const char *sku, int64_t stock)
{
    int64_t now = clock_now_ms();
    answer_t answer = create_sale(fixture, sku, stock, now - HOUR_MS, now + HOUR_MS);
    assert_int_equal(answer.status, ENGINE_OK);
    return answer;
}

static answer_t purchase(fixture_t *fixture, const char *sku, const char *user_id)
{
    answer_t answer = {0};
    engine_purchase(fixture->handle, sku, user_id, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

/* Retries while the engine answers ENGINE_UNAVAILABLE, letting the loop run (reconnects, timers). */
static answer_t purchase_when_available(fixture_t *fixture, const char *sku, const char *user_id)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    answer_t answer;
    while ((answer = purchase(fixture, sku, user_id)).status == ENGINE_UNAVAILABLE) {
        assert_true(clock_monotonic_ms() < deadline);
        assert_int_equal(h2o_evloop_run(fixture->loop, 10), 0);
    }
    return answer;
}

static answer_t get_sale(fixture_t *fixture, const char *sku)
{
    answer_t answer = {0};
    engine_get_sale(fixture->handle, sku, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static answer_t get_purchase(fixture_t *fixture, const char *sku, const char *user_id)
{
    answer_t answer = {0};
    engine_get_purchase(fixture->handle, sku, user_id, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static void test_purchase_follows_the_rules(void **state)
{
    fixture_t *fixture = *state;
    answer_t created = create_live_sale(fixture, "RULES", 2);
    char expected[SALE_PURCHASE_NO_MAX];
    snprintf(expected, sizeof(expected), "FS%" PRIu64 "-1", created.sale.sale_id);

    answer_t first = purchase(fixture, "RULES", "alice");
    assert_int_equal(first.status, ENGINE_OK);
    assert_int_equal(first.outcome, SALE_OUTCOME_SUCCESS);
    assert_string_equal(first.purchase.purchase_no, expected);
    assert_string_equal(first.purchase.user_id, "alice");

    answer_t again = purchase(fixture, "RULES", "alice");
    assert_int_equal(again.outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_string_equal(again.purchase.purchase_no, expected);
    assert_int_equal(again.purchase.purchased_ms, first.purchase.purchased_ms);

    assert_int_equal(purchase(fixture, "RULES", "bob").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "RULES", "carol").outcome, SALE_OUTCOME_SOLD_OUT);
    /* Already purchased is checked before stock. */
    assert_int_equal(purchase(fixture, "RULES", "bob").outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_int_equal(purchase(fixture, "NOPE", "alice").outcome, SALE_OUTCOME_NOT_FOUND);

    answer_t found = get_purchase(fixture, "RULES", "alice");
    assert_int_equal(found.status, ENGINE_OK);
    assert_string_equal(found.purchase.purchase_no, expected);
    assert_int_equal(get_purchase(fixture, "RULES", "carol").status, ENGINE_NOT_FOUND);

    /* Read-your-writes through the snapshot. */
    answer_t sale = get_sale(fixture, "RULES");
    assert_int_equal(sale.status, ENGINE_OK);
    assert_int_equal(sale.sale.stock, 0);
    assert_int_equal(sale.sale.initial_stock, 2);
    assert_int_equal(redis_int(fixture, "XLEN flashsale:{RULES}:orders"), 2);
}

static void test_window_is_checked_on_redis_clock(void **state)
{
    fixture_t *fixture = *state;
    int64_t now = clock_now_ms();
    assert_int_equal(create_sale(fixture, "LATER", 5, now + HOUR_MS, now + 2 * HOUR_MS).status, ENGINE_OK);
    assert_int_equal(create_sale(fixture, "OVER", 5, now - 2 * HOUR_MS, now - HOUR_MS).status, ENGINE_OK);
    assert_int_equal(purchase(fixture, "LATER", "alice").outcome, SALE_OUTCOME_NOT_ACTIVE);
    assert_int_equal(purchase(fixture, "OVER", "alice").outcome, SALE_OUTCOME_NOT_ACTIVE);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{LATER}:sale stock"), 5);
}

typedef struct {
    answer_t answer;
    char user_id[32];
} storm_request_t;

static void test_storm_sells_exactly_the_stock(void **state)
{
    fixture_t *fixture = *state;
    enum { USERS = 2000, STOCK = 100 };
    create_live_sale(fixture, "STORM", STOCK);
    storm_request_t *requests = calloc(USERS, sizeof(*requests));
    /* All issued before the loop runs: they leave pipelined on the one connection. */
    for (int i = 0; i < USERS; i++) {
        snprintf(requests[i].user_id, sizeof(requests[i].user_id), "user-%d", i);
        engine_purchase(fixture->handle, "STORM", requests[i].user_id, on_answer, &requests[i].answer);
    }
    int successes = 0, sold_out = 0;
    for (int i = 0; i < USERS; i++) {
        run_until(fixture, &requests[i].answer.done);
        assert_int_equal(requests[i].answer.status, ENGINE_OK);
        successes += requests[i].answer.outcome == SALE_OUTCOME_SUCCESS;
        sold_out += requests[i].answer.outcome == SALE_OUTCOME_SOLD_OUT;
    }
    assert_int_equal(successes, STOCK);
    assert_int_equal(sold_out, USERS - STOCK);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{STORM}:sale stock"), 0);
    assert_int_equal(redis_int(fixture, "HLEN flashsale:{STORM}:buyers"), STOCK);
    assert_int_equal(redis_int(fixture, "XLEN flashsale:{STORM}:orders"), STOCK);
    free(requests);
}

static answer_t update_sale(fixture_t *fixture, const char *sku, const sale_fields_t *fields)
{
    answer_t answer = {0};
    engine_update_sale(fixture->handle, sku, fields, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

/* sale_id 0: whichever sale the sku holds. */
static answer_t delete_sale(fixture_t *fixture, const char *sku, uint64_t sale_id)
{
    answer_t answer = {0};
    engine_delete_sale(fixture->handle, sku, sale_id, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

/* The worker's first step: commit an order to PostgreSQL (it stays in the stream). */
static void commit_order(fixture_t *fixture, const sale_t *sale, const sale_purchase_t *purchase,
                         int sequence)
{
    char sale_id[24], seq[24], ms[24];
    snprintf(sale_id, sizeof(sale_id), "%" PRIu64, sale->sale_id);
    snprintf(seq, sizeof(seq), "%d", sequence);
    snprintf(ms, sizeof(ms), "%" PRId64, purchase->purchased_ms);
    const char *params[] = {purchase->purchase_no, sale_id, seq, sale->sku, purchase->user_id, ms};
    PGresult *result = PQexecParams(fixture->pg,
                                    "INSERT INTO purchases (purchase_no, sale_id, sequence, sku, user_id, "
                                    "purchased_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                                    6, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_COMMAND_OK);
    PQclear(result);
}

/* What the worker does: commit an order to PostgreSQL, then drop it from the stream. */
static void persist_order(fixture_t *fixture, const sale_t *sale, const sale_purchase_t *purchase,
                          int sequence)
{
    commit_order(fixture, sale, purchase, sequence);
    freeReplyObject(redis_do(fixture, "XDEL flashsale:{%s}:orders %d-0", sale->sku, sequence));
}

static void test_admin_writes_reach_both_stores(void **state)
{
    fixture_t *fixture = *state;
    int64_t now = clock_now_ms();
    answer_t created = create_sale(fixture, "ADMIN", 10, now + HOUR_MS, now + 2 * HOUR_MS);
    assert_int_equal(created.status, ENGINE_OK);
    assert_int_equal(create_sale(fixture, "ADMIN", 10, now, now + HOUR_MS).status, ENGINE_CONFLICT);
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM sales WHERE sku = 'ADMIN'"), 1);

    sale_fields_t bigger = {.has_initial_stock = true, .initial_stock = 20};
    answer_t updated = update_sale(fixture, "ADMIN", &bigger);
    assert_int_equal(updated.status, ENGINE_OK);
    assert_int_equal(updated.sale.stock, 20);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{ADMIN}:sale stock"), 20);
    assert_int_equal(services_query_int(fixture->pg, "SELECT initial_stock FROM sales WHERE sku = 'ADMIN'"),
                     20);
    assert_int_equal(get_sale(fixture, "ADMIN").sale.initial_stock, 20);

    sale_fields_t backwards = {.has_end = true, .end_ms = now};
    assert_int_equal(update_sale(fixture, "ADMIN", &backwards).status, ENGINE_INVALID);

    sale_fields_t start_now = {.has_start = true, .start_ms = now - 1000};
    assert_int_equal(update_sale(fixture, "ADMIN", &start_now).status, ENGINE_OK);
    answer_t first = purchase(fixture, "ADMIN", "alice");
    assert_int_equal(first.outcome, SALE_OUTCOME_SUCCESS);
    sale_fields_t more = {.has_initial_stock = true, .initial_stock = 30};
    assert_int_equal(update_sale(fixture, "ADMIN", &more).status, ENGINE_NOT_MODIFIABLE);
    assert_int_equal(update_sale(fixture, "NOPE", &more).status, ENGINE_NOT_FOUND);

    /* The delete takes the sale's persisted purchases with it. */
    commit_order(fixture, &created.sale, &first.purchase, 1);
    assert_int_equal(delete_sale(fixture, "ADMIN", 0).status, ENGINE_OK);
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM purchases"), 0);
    assert_int_equal(delete_sale(fixture, "ADMIN", 0).status, ENGINE_NOT_FOUND);
    assert_int_equal(get_sale(fixture, "ADMIN").status, ENGINE_NOT_FOUND);
    assert_int_equal(redis_int(fixture, "EXISTS flashsale:{ADMIN}:sale flashsale:{ADMIN}:orders"), 0);
    assert_int_equal(redis_int(fixture, "SISMEMBER " OUTBOX_SALES_SET " ADMIN"), 0);

    /* Created again, it starts clean, with a new sale_id in its purchase numbers. */
    answer_t again = create_live_sale(fixture, "ADMIN", 1);
    assert_true(again.sale.sale_id > created.sale.sale_id);
    answer_t bought = purchase(fixture, "ADMIN", "alice");
    assert_int_equal(bought.outcome, SALE_OUTCOME_SUCCESS);
    char expected[SALE_PURCHASE_NO_MAX];
    snprintf(expected, sizeof(expected), "FS%" PRIu64 "-1", again.sale.sale_id);
    assert_string_equal(bought.purchase.purchase_no, expected);
}

static answer_t list_purchases(fixture_t *fixture, const char *sku, const char *after, size_t limit)
{
    answer_t answer = {0};
    engine_list_purchases(fixture->handle, sku, after, limit, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static void test_listing_merges_postgres_and_stream(void **state)
{
    fixture_t *fixture = *state;
    answer_t created = create_live_sale(fixture, "LIST", 10);
    answer_t bought[5];
    for (int i = 0; i < 5; i++) {
        char user[16];
        snprintf(user, sizeof(user), "user-%d", i);
        bought[i] = purchase(fixture, "LIST", user);
        assert_int_equal(bought[i].outcome, SALE_OUTCOME_SUCCESS);
    }
    /* Orders 1, 2 and 4 persisted (and gone from the stream); 3 and 5 still queued. */
    persist_order(fixture, &created.sale, &bought[0].purchase, 1);
    persist_order(fixture, &created.sale, &bought[1].purchase, 2);
    persist_order(fixture, &created.sale, &bought[3].purchase, 4);

    answer_t page = list_purchases(fixture, "LIST", NULL, 2);
    assert_int_equal(page.status, ENGINE_OK);
    assert_int_equal(page.purchase_count, 2);
    assert_string_equal(page.purchases[0].purchase_no, bought[0].purchase.purchase_no);
    assert_string_equal(page.purchases[1].purchase_no, bought[1].purchase.purchase_no);
    assert_true(page.has_cursor);
    page = list_purchases(fixture, "LIST", page.next_cursor, 2);
    assert_int_equal(page.purchase_count, 2);
    assert_string_equal(page.purchases[0].purchase_no, bought[2].purchase.purchase_no);
    assert_string_equal(page.purchases[1].purchase_no, bought[3].purchase.purchase_no);
    assert_string_equal(page.purchases[1].user_id, "user-3");
    page = list_purchases(fixture, "LIST", page.next_cursor, 2);
    assert_int_equal(page.purchase_count, 1);
    assert_string_equal(page.purchases[0].purchase_no, bought[4].purchase.purchase_no);
    assert_false(page.has_cursor);

    assert_int_equal(list_purchases(fixture, "LIST", "junk", 2).status, ENGINE_INVALID);
    assert_int_equal(list_purchases(fixture, "LIST", "FS999999-1", 2).status, ENGINE_INVALID);
    /* The sequence after the last '-' is read as text: empty, not a number, 0, or past int64. */
    for (size_t i = 0; i < 4; i++) {
        const char *cursors[] = {"FS1-", "FS1-x", "FS1-0", "FS1-99999999999999999999"};
        assert_int_equal(list_purchases(fixture, "LIST", cursors[i], 2).status, ENGINE_INVALID);
    }
    assert_int_equal(list_purchases(fixture, "NOPE", NULL, 2).status, ENGINE_NOT_FOUND);
}

/* The value of a counter of the engine's /metrics lines. */
static long long counter(fixture_t *fixture, const char *name)
{
    answer_t answer = {0};
    engine_metrics(fixture->handle, on_answer, &answer);
    run_until(fixture, &answer.done);
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", name);
    const char *found = strstr(answer.text, line);
    assert_non_null(found);
    return strtoll(found + strlen(line), NULL, 10);
}

static long long redis_commands_sent(fixture_t *fixture)
{
    return counter(fixture, "flashsale_redis_commands_total");
}

/* Issues every purchase before the loop runs (one iteration gathers them all), then awaits each. */
static void purchase_together(fixture_t *fixture, size_t count, const char *const *skus,
                              const char *const *users, answer_t *answers)
{
    for (size_t i = 0; i < count; i++) {
        answers[i] = (answer_t){0};
        engine_purchase(fixture->handle, skus[i], users[i], on_answer, &answers[i]);
    }
    for (size_t i = 0; i < count; i++)
        run_until(fixture, &answers[i].done);
}

static void test_purchases_of_one_iteration_share_a_script_call(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "BATCH", 10);
    create_live_sale(fixture, "BATCH-B", 10);
    /* The connection's first purchase also loads the script (SCRIPT LOAD): not counted below. */
    create_live_sale(fixture, "BATCH-WARM", 10);
    purchase(fixture, "BATCH-WARM", "warm");
    const char *skus[] = {"BATCH", "BATCH", "BATCH-B", "BATCH"};
    const char *users[] = {"alice", "bob", "carol", "alice"};
    answer_t answers[4];
    long long sent = redis_commands_sent(fixture);
    purchase_together(fixture, 4, skus, users, answers);
    /* One script call per sku, each purchase decided in its order of arrival. */
    assert_int_equal(redis_commands_sent(fixture) - sent, 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(answers[i].status, ENGINE_OK);
        assert_int_equal(answers[i].outcome, SALE_OUTCOME_SUCCESS);
    }
    assert_string_equal(answers[0].purchase.user_id, "alice");
    assert_string_equal(answers[1].purchase.user_id, "bob");
    assert_string_equal(answers[2].purchase.sku, "BATCH-B");
    assert_int_equal(answers[3].outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_string_equal(answers[3].purchase.purchase_no, answers[0].purchase.purchase_no);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{BATCH}:sale stock"), 8);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{BATCH}:sale next_sequence"), 3);
    assert_int_equal(redis_int(fixture, "XLEN flashsale:{BATCH}:orders"), 2);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{BATCH-B}:sale stock"), 9);
}

static void test_failed_write_leaves_the_rest_of_a_batch_undecided(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "JAM", 10);
    answer_t first = purchase(fixture, "JAM", "alice");
    assert_int_equal(first.outcome, SALE_OUTCOME_SUCCESS);
    /* The stream's top ahead of the sale's next sequence: the next XADD fails. */
    freeReplyObject(redis_do(fixture, "XADD flashsale:{JAM}:orders 100-0 junk 1"));
    const char *skus[] = {"JAM", "JAM", "JAM"};
    const char *users[] = {"alice", "bob", "carol"};
    answer_t answers[3];
    purchase_together(fixture, 3, skus, users, answers);
    /* Decided before the failure: answered; from it on: unavailable, and nothing written. */
    assert_int_equal(answers[0].outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_string_equal(answers[0].purchase.purchase_no, first.purchase.purchase_no);
    assert_int_equal(answers[1].status, ENGINE_UNAVAILABLE);
    assert_int_equal(answers[2].status, ENGINE_UNAVAILABLE);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{JAM}:sale stock"), 9);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{JAM}:sale next_sequence"), 2);
    assert_int_equal(redis_int(fixture, "HLEN flashsale:{JAM}:buyers"), 1);
}

static void test_status_reads_come_from_the_snapshot(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "SNAP-A", 5);
    create_live_sale(fixture, "SNAP-B", 5);
    answer_t listed = {0};
    engine_list_sales(fixture->handle, on_answer, &listed);
    run_until(fixture, &listed.done);
    assert_int_equal(listed.status, ENGINE_OK);
    assert_int_equal(listed.sale_count, 2);

    /* Within the age bound, reads do not reach Redis at all. */
    long long before = redis_commands_sent(fixture);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(get_sale(fixture, "SNAP-A").status, ENGINE_OK);
    assert_int_equal(get_sale(fixture, "SNAP-C").status, ENGINE_NOT_FOUND);
    /* At most one refresh: Redis' clock, the ready marker, the sku set and one HMGET per sale. */
    assert_true(redis_commands_sent(fixture) - before <= 5);
}

static long long cached_answers(fixture_t *fixture)
{
    return counter(fixture, "flashsale_sold_out_cache_answers_total");
}

/* Runs the loop for ms milliseconds. */
static void run_for(fixture_t *fixture, int64_t ms)
{
    int64_t until = clock_monotonic_ms() + ms;
    while (clock_monotonic_ms() < until)
        assert_int_equal(h2o_evloop_run(fixture->loop, 10), 0);
}

/* Purchases by user_id until one is answered from the sold-out copy of the sale; returns it. */
static answer_t purchase_until_cached(fixture_t *fixture, const char *sku, const char *user_id)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        long long before = cached_answers(fixture);
        answer_t answer = purchase(fixture, sku, user_id);
        if (cached_answers(fixture) > before)
            return answer;
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }
}

/* What the purchase script itself answers user_id, run directly (for a sold-out sale it writes nothing). */
static answer_t script_answer(fixture_t *fixture, const char *sku, const char *user_id)
{
    redis_sale_keys_t keys;
    redis_sale_keys(&keys, sku);
    redisReply *reply = redis_do(fixture, "EVALSHA %s 3 %s %s %s %s %s", redis_sale_purchase_script.sha,
                                 keys.sale, keys.buyers, keys.orders, sku, user_id);
    assert_int_equal(redis_sale_purchase_reply_check(reply, 1), 0);
    answer_t answer = {.done = true, .status = ENGINE_OK};
    int code = redis_sale_purchase_decode(reply, 0, &answer.purchase);
    switch (code) {
    case REDIS_PURCHASE_ALREADY:
        answer.outcome = SALE_OUTCOME_ALREADY_PURCHASED;
        answer.has_purchase = true;
        snprintf(answer.purchase.sku, sizeof(answer.purchase.sku), "%s", sku);
        snprintf(answer.purchase.user_id, sizeof(answer.purchase.user_id), "%s", user_id);
        break;
    case REDIS_PURCHASE_NOT_ACTIVE:
        answer.outcome = SALE_OUTCOME_NOT_ACTIVE;
        break;
    case REDIS_PURCHASE_SOLD_OUT:
        answer.outcome = SALE_OUTCOME_SOLD_OUT;
        break;
    default:
        fail_msg("the script answered %d for a sold-out sale", code);
    }
    freeReplyObject(reply);
    return answer;
}

static void assert_same_answer(const answer_t *cached, const answer_t *script)
{
    assert_int_equal(cached->status, ENGINE_OK);
    assert_int_equal(cached->outcome, script->outcome);
    assert_int_equal(cached->has_purchase, script->has_purchase);
    if (script->has_purchase) {
        assert_string_equal(cached->purchase.purchase_no, script->purchase.purchase_no);
        assert_int_equal(cached->purchase.purchased_ms, script->purchase.purchased_ms);
        assert_string_equal(cached->purchase.sku, script->purchase.sku);
        assert_string_equal(cached->purchase.user_id, script->purchase.user_id);
    }
}

/* What a create whose Redis step failed leaves: the sale in PostgreSQL only. */
static answer_t create_when_available(fixture_t *fixture, const char *sku, int64_t stock, int64_t start_ms,
                                      int64_t end_ms)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    answer_t answer;
    while ((answer = create_sale(fixture, sku, stock, start_ms, end_ms)).status == ENGINE_UNAVAILABLE) {
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }
    return answer;
}

static void test_admin_writes_may_be_repeated(void **state)
{
    fixture_t *fixture = *state;
    int64_t now = clock_now_ms();

    /* A repeated create answers the sale as it is now; other fields are a conflict. */
    answer_t created = create_sale(fixture, "REPEAT", 10, now - HOUR_MS, now + HOUR_MS);
    assert_int_equal(created.status, ENGINE_OK);
    assert_int_equal(purchase(fixture, "REPEAT", "alice").outcome, SALE_OUTCOME_SUCCESS);
    answer_t repeated = create_sale(fixture, "REPEAT", 10, now - HOUR_MS, now + HOUR_MS);
    assert_int_equal(repeated.status, ENGINE_OK);
    assert_int_equal(repeated.sale.sale_id, created.sale.sale_id);
    assert_int_equal(repeated.sale.created_ms, created.sale.created_ms);
    assert_int_equal(repeated.sale.stock, 9);
    assert_int_equal(create_sale(fixture, "REPEAT", 11, now - HOUR_MS, now + HOUR_MS).status,
                     ENGINE_CONFLICT);
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM sales WHERE sku = 'REPEAT'"), 1);

    /* The first attempt reached PostgreSQL only: the repeat never creates the Redis sale itself
     * (the reconciler does), and then answers it. */
    answer_t half = create_sale(fixture, "HALF", 5, now - HOUR_MS, now + HOUR_MS);
    freeReplyObject(
        redis_do(fixture, "DEL flashsale:{HALF}:sale flashsale:{HALF}:buyers flashsale:{HALF}:orders"));
    freeReplyObject(redis_do(fixture, "SREM " OUTBOX_SALES_SET " HALF"));
    answer_t completed = create_when_available(fixture, "HALF", 5, now - HOUR_MS, now + HOUR_MS);
    assert_int_equal(completed.status, ENGINE_OK);
    assert_int_equal(completed.sale.sale_id, half.sale.sale_id);
    assert_int_equal(redis_int(fixture, "SISMEMBER " OUTBOX_SALES_SET " HALF"), 1);
    assert_int_equal(purchase(fixture, "HALF", "alice").outcome, SALE_OUTCOME_SUCCESS);

    /* An update that changes nothing is answered in any state; one that changes something only
     * while the sale is upcoming. */
    answer_t upcoming = create_sale(fixture, "REPEAT-UP", 10, now + HOUR_MS, now + 2 * HOUR_MS);
    sale_fields_t start_now = {.has_start = true, .start_ms = now - 1000};
    assert_int_equal(update_sale(fixture, "REPEAT-UP", &start_now).status, ENGINE_OK);
    assert_int_equal(purchase(fixture, "REPEAT-UP", "alice").outcome, SALE_OUTCOME_SUCCESS);
    answer_t again = update_sale(fixture, "REPEAT-UP", &start_now);
    assert_int_equal(again.status, ENGINE_OK);
    assert_int_equal(again.sale.sale_id, upcoming.sale.sale_id);
    assert_int_equal(again.sale.start_ms, now - 1000);
    assert_int_equal(again.sale.stock, 9);
    sale_fields_t renamed = {.has_product_name = true};
    snprintf(renamed.product_name, sizeof(renamed.product_name), "Renamed");
    assert_int_equal(update_sale(fixture, "REPEAT-UP", &renamed).status, ENGINE_NOT_MODIFIABLE);

    /* PostgreSQL kept an update whose Redis step went unanswered; the sale has started since, so
     * Redis' fields are final and a refused update writes them back. */
    PQclear(PQexec(fixture->pg, "UPDATE sales SET product_name = 'Diverged' WHERE sku = 'REPEAT-UP'"));
    assert_int_equal(update_sale(fixture, "REPEAT-UP", &renamed).status, ENGINE_NOT_MODIFIABLE);
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (services_query_int(
               fixture->pg,
               "SELECT count(*) FROM sales WHERE sku = 'REPEAT-UP' AND product_name = 'Diverged'") != 0) {
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }

    /* A delete naming its sale deletes only that one. */
    assert_int_equal(delete_sale(fixture, "REPEAT", created.sale.sale_id + 1000).status, ENGINE_NOT_FOUND);
    assert_int_equal(get_sale(fixture, "REPEAT").status, ENGINE_OK);
    assert_int_equal(delete_sale(fixture, "REPEAT", created.sale.sale_id).status, ENGINE_OK);
    assert_int_equal(delete_sale(fixture, "REPEAT", created.sale.sale_id).status, ENGINE_NOT_FOUND);
    answer_t newer = create_live_sale(fixture, "REPEAT", 3);
    assert_int_equal(delete_sale(fixture, "REPEAT", created.sale.sale_id).status, ENGINE_NOT_FOUND);
    answer_t kept = get_sale(fixture, "REPEAT");
    assert_int_equal(kept.status, ENGINE_OK);
    assert_int_equal(kept.sale.sale_id, newer.sale.sale_id);
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM sales WHERE sku = 'REPEAT'"), 1);
}

static void test_sold_out_sale_is_answered_without_redis(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "GONE", 3);
    create_live_sale(fixture, "OTHER", 3);
    const char *users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(purchase(fixture, "GONE", users[i]).outcome, SALE_OUTCOME_SUCCESS);
    /* The script's SOLD_OUT makes the loop copy the buyers; until then the script answers. */
    assert_int_equal(purchase(fixture, "GONE", "dave").outcome, SALE_OUTCOME_SOLD_OUT);
    assert_int_equal(purchase_until_cached(fixture, "GONE", "dave").outcome, SALE_OUTCOME_SOLD_OUT);

    /* Buyers and others get exactly the script's answers. */
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        answer_t script = script_answer(fixture, "GONE", users[i]);
        answer_t cached = purchase(fixture, "GONE", users[i]);
        assert_same_answer(&cached, &script);
    }
    /* Without a Redis command, but for the snapshot refreshes that vouch for the copy (one per
     * SALE_SNAPSHOT_MAX_AGE_MS: Redis' clock, the marker, the sku set, an HMGET per sale). */
    enum { ATTEMPTS = 1000, REFRESH_COMMANDS = 5 };
    long long answered = cached_answers(fixture), sent = redis_commands_sent(fixture);
    int64_t started = clock_monotonic_ms();
    for (int i = 0; i < ATTEMPTS; i++) {
        char user[32];
        snprintf(user, sizeof(user), "user-%d", i);
        const char *user_id = i % 2 == 0 ? users[i % 6] : user;
        answer_t answer = purchase(fixture, "GONE", user_id);
        assert_int_equal(answer.outcome,
                         i % 2 == 0 && i % 6 < 3 ? SALE_OUTCOME_ALREADY_PURCHASED : SALE_OUTCOME_SOLD_OUT);
    }
    int64_t refreshes = (clock_monotonic_ms() - started) / SALE_SNAPSHOT_MAX_AGE_MS + 1;
    assert_true(redis_commands_sent(fixture) - sent <= refreshes * REFRESH_COMMANDS);
    assert_int_equal(cached_answers(fixture) - answered, ATTEMPTS);

    /* Other sales still go to the script. */
    assert_int_equal(purchase(fixture, "OTHER", "alice").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(cached_answers(fixture) - answered, ATTEMPTS);
}

static void test_sold_out_copy_tells_the_end_of_the_window(void **state)
{
    fixture_t *fixture = *state;
    int64_t now = clock_now_ms();
    assert_int_equal(create_sale(fixture, "ENDS", 1, now - HOUR_MS, now + 1000).status, ENGINE_OK);
    assert_int_equal(purchase(fixture, "ENDS", "alice").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "ENDS", "bob").outcome, SALE_OUTCOME_SOLD_OUT);
    assert_int_equal(purchase_until_cached(fixture, "ENDS", "bob").outcome, SALE_OUTCOME_SOLD_OUT);

    /* Until Redis' clock is past the end, with a margin for the copy's estimate of it. */
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        redisReply *time = redis_do(fixture, "TIME");
        int64_t redis_ms =
            strtoll(time->element[0]->str, NULL, 10) * 1000 + strtoll(time->element[1]->str, NULL, 10) / 1000;
        freeReplyObject(time);
        if (redis_ms >= now + 1000 + 50)
            break;
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }
    long long answered = cached_answers(fixture);
    const char *users[] = {"alice", "bob"};
    for (int i = 0; i < 2; i++) {
        answer_t script = script_answer(fixture, "ENDS", users[i]);
        answer_t cached = purchase(fixture, "ENDS", users[i]);
        assert_same_answer(&cached, &script);
    }
    assert_int_equal(script_answer(fixture, "ENDS", "bob").outcome, SALE_OUTCOME_NOT_ACTIVE);
    assert_int_equal(cached_answers(fixture) - answered, 2);
}

static void test_sold_out_copy_follows_delete_and_create(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "AGAIN", 1);
    assert_int_equal(purchase(fixture, "AGAIN", "alice").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "AGAIN", "bob").outcome, SALE_OUTCOME_SOLD_OUT);
    assert_int_equal(purchase_until_cached(fixture, "AGAIN", "bob").outcome, SALE_OUTCOME_SOLD_OUT);

    /* Through this instance: its next purchase already sees the new sale. */
    assert_int_equal(delete_sale(fixture, "AGAIN", 0).status, ENGINE_OK);
    create_live_sale(fixture, "AGAIN", 2);
    assert_int_equal(purchase(fixture, "AGAIN", "bob").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "AGAIN", "carol").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase_until_cached(fixture, "AGAIN", "dave").outcome, SALE_OUTCOME_SOLD_OUT);

    /* Through another instance: seen within the snapshot's age bound. */
    fixture_t other = {0};
    snprintf(other.postgres_url, sizeof(other.postgres_url), "%s", fixture->postgres_url);
    open_engine(&other);
    assert_int_equal(delete_sale(&other, "AGAIN", 0).status, ENGINE_OK);
    answer_t created = create_live_sale(&other, "AGAIN", 5);
    close_engine(&other);
    run_for(fixture, SALE_SNAPSHOT_MAX_AGE_MS + 1);
    answer_t bought = purchase(fixture, "AGAIN", "dave");
    assert_int_equal(bought.outcome, SALE_OUTCOME_SUCCESS);
    char expected[SALE_PURCHASE_NO_MAX];
    snprintf(expected, sizeof(expected), "FS%" PRIu64 "-1", created.sale.sale_id);
    assert_string_equal(bought.purchase.purchase_no, expected);
    assert_int_equal(purchase(fixture, "AGAIN", "bob").outcome, SALE_OUTCOME_SUCCESS);
}

static void test_sold_out_copy_is_dropped_on_reconnect(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "RECONNECT", 1);
    assert_int_equal(purchase(fixture, "RECONNECT", "alice").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "RECONNECT", "bob").outcome, SALE_OUTCOME_SOLD_OUT);
    purchase_until_cached(fixture, "RECONNECT", "bob");

    /* Every other client's connection closed (the engine's among them): it may be another Redis now. */
    long long reconnects = counter(fixture, "flashsale_redis_reconnects_total");
    freeReplyObject(redis_do(fixture, "CLIENT KILL TYPE normal SKIPME yes"));
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (counter(fixture, "flashsale_redis_reconnects_total") == reconnects) {
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }
    long long answered = cached_answers(fixture);
    answer_t after = purchase_when_available(fixture, "RECONNECT", "bob");
    assert_int_equal(after.outcome, SALE_OUTCOME_SOLD_OUT);
    assert_int_equal(cached_answers(fixture), answered);
    /* The script's SOLD_OUT loads it again. */
    assert_int_equal(purchase_until_cached(fixture, "RECONNECT", "alice").outcome,
                     SALE_OUTCOME_ALREADY_PURCHASED);
}

static void test_redis_outage_is_answered_and_survived(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "OUTAGE", 100);
    assert_int_equal(purchase(fixture, "OUTAGE", "before").outcome, SALE_OUTCOME_SUCCESS);

    /* Hung: no reply ever comes; the command timeout answers. */
    long long pid = -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/redis/redis.pid", services.dir);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    assert_int_equal(fscanf(file, "%lld", &pid), 1);
    fclose(file);
    assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
    assert_int_equal(purchase(fixture, "OUTAGE", "hung").status, ENGINE_UNAVAILABLE);
    assert_int_equal(kill((pid_t)pid, SIGCONT), 0);

    /* Down: answered at once, and the client reconnects by itself when Redis is back. */
    redisFree(fixture->redis);
    assert_int_equal(services_run(&services, "kill", "redis"), 0);
    assert_int_equal(purchase(fixture, "OUTAGE", "down").status, ENGINE_UNAVAILABLE);
    assert_int_equal(services_run(&services, "start", "redis"), 0);
    connect_redis(fixture);
    answer_t after = purchase_when_available(fixture, "OUTAGE", "after");
    assert_int_equal(after.outcome, SALE_OUTCOME_SUCCESS);
    /* Recovered from the append-only file: the acknowledged purchase is still there. */
    assert_int_equal(purchase(fixture, "OUTAGE", "before").outcome, SALE_OUTCOME_ALREADY_PURCHASED);
}

static void test_postgres_outage_leaves_purchases_working(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "PGDOWN", 100);
    assert_int_equal(services_run(&services, "stop", "postgres"), 0);
    assert_int_equal(purchase(fixture, "PGDOWN", "alice").outcome, SALE_OUTCOME_SUCCESS);
    int64_t now = clock_now_ms();
    assert_int_equal(create_sale(fixture, "PGDOWN-2", 1, now, now + HOUR_MS).status, ENGINE_UNAVAILABLE);
    answer_t health = {0};
    engine_health(fixture->handle, on_answer, &health);
    run_until(fixture, &health.done);
    assert_int_equal(health.check_count, 4);
    assert_string_equal(health.checks[0].name, "redis");
    assert_true(health.checks[0].ok);
    assert_string_equal(health.checks[1].name, "postgres");
    assert_false(health.checks[1].ok);
    assert_string_equal(health.checks[3].name, "redis_data");
    assert_false(health.checks[3].ok);
    assert_string_equal(health.checks[3].detail, "unknown: postgres unreachable");

    assert_int_equal(services_run(&services, "start", "postgres"), 0);
    PQreset(fixture->pg);
    assert_int_equal(create_sale(fixture, "PGDOWN-2", 1, now, now + HOUR_MS).status, ENGINE_OK);
}

/* The value of a metric line "NAME VALUE"; -1 when absent. */
static double metric(const answer_t *metrics, const char *name)
{
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", name);
    const char *found = strstr(metrics->text, line);
    return found != NULL ? strtod(found + strlen(line), NULL) : -1;
}

static answer_t metrics_now(fixture_t *fixture)
{
    answer_t metrics = {0};
    engine_metrics(fixture->handle, on_answer, &metrics);
    run_until(fixture, &metrics.done);
    return metrics;
}

/* A data_loss_line_cb that counts the lines and checks their form. */
static void count_line(void *ctx, const char *line)
{
    assert_non_null(strstr(line, "acknowledged "));
    ++*(int *)ctx;
}

static void test_flushall_is_reconciled(void **state)
{
    fixture_t *fixture = *state;
    answer_t created = create_live_sale(fixture, "FLUSH", 5);
    answer_t first = purchase(fixture, "FLUSH", "alice");
    answer_t second = purchase(fixture, "FLUSH", "bob");
    persist_order(fixture, &created.sale, &first.purchase, 1);
    persist_order(fixture, &created.sale, &second.purchase, 2);

    /* dave's order is in the stream only: FLUSHALL loses it, with its number FS<id>-3. */
    answer_t lost = purchase(fixture, "FLUSH", "dave");
    assert_int_equal(lost.outcome, SALE_OUTCOME_SUCCESS);

    freeReplyObject(redis_do(fixture, "FLUSHALL"));
    /* Until the reconciler has rebuilt the sale, purchases are not answered "no such sale". */
    answer_t during = purchase_when_available(fixture, "FLUSH", "carol");
    assert_int_equal(during.outcome, SALE_OUTCOME_SUCCESS);
    /* The numbers the lost stream took are unknown: they continue in the next generation. */
    char expected[SALE_PURCHASE_NO_MAX];
    snprintf(expected, sizeof(expected), "FS%" PRIu64 "-%lld", created.sale.sale_id,
             RECONCILE_GENERATION_SPAN + 1);
    assert_string_equal(during.purchase.purchase_no, expected);
    assert_string_not_equal(during.purchase.purchase_no, lost.purchase.purchase_no);
    assert_int_equal(
        services_query_int(fixture->pg, "SELECT sequence_generation FROM sales WHERE sku = 'FLUSH'"), 1);
    assert_string_equal(purchase(fixture, "FLUSH", "alice").purchase.purchase_no, first.purchase.purchase_no);
    /* dave's unit came back with the loss. */
    assert_int_equal(redis_int(fixture, "HGET flashsale:{FLUSH}:sale stock"), 2);

    /* Reported: recorded in PostgreSQL (at the end of the reconciler's pass, which may still be
     * running), counted, and /health's redis_data check fails. */
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    answer_t metrics;
    while (services_query_int(fixture->pg, "SELECT count(*) FROM redis_data_losses") != 1 ||
           metric((metrics = metrics_now(fixture), &metrics), "flashsale_redis_data_losses_total") != 1) {
        assert_true(clock_monotonic_ms() < deadline);
        run_for(fixture, 10);
    }
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM redis_data_losses"), 1);
    answer_t health = {0};
    engine_health(fixture->handle, on_answer, &health);
    run_until(fixture, &health.done);
    assert_string_equal(health.checks[3].name, "redis_data");
    assert_false(health.checks[3].ok);
    assert_non_null(strstr(health.checks[3].detail, "1 unacknowledged loss since "));
    /* Acknowledged (by `flashsale data-loss --acknowledge`): reported no more. */
    char err[256];
    int lines = 0;
    assert_int_equal(data_loss_list(fixture->pg, true, count_line, &lines, err, sizeof(err)), 1);
    assert_int_equal(data_loss_list(fixture->pg, false, count_line, &lines, err, sizeof(err)), 0);
    assert_int_equal(lines, 1);
    answer_t after = {0};
    engine_health(fixture->handle, on_answer, &after);
    run_until(fixture, &after.done);
    assert_true(after.checks[3].ok);
}

static void test_redis_behind_postgres_is_repaired(void **state)
{
    fixture_t *fixture = *state;
    answer_t created = create_live_sale(fixture, "LAG", 10);
    answer_t orders[3];
    const char *users[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        orders[i] = purchase(fixture, "LAG", users[i]);
        persist_order(fixture, &created.sale, &orders[i].purchase, i + 1);
    }
    /* A replica that lagged, promoted: it saw only alice's order. */
    freeReplyObject(redis_do(fixture, "HSET flashsale:{LAG}:sale next_sequence 2 stock 9"));
    freeReplyObject(redis_do(fixture, "HDEL flashsale:{LAG}:buyers bob carol"));
    char err[256];
    int losses = -1;
    assert_int_equal(reconcile_run(fixture->redis, fixture->pg, &losses, err, sizeof(err)), 0);
    assert_int_equal(losses, 1);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{LAG}:sale next_sequence"),
                     RECONCILE_GENERATION_SPAN + 1);
    assert_int_equal(redis_int(fixture, "HLEN flashsale:{LAG}:buyers"), 3);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{LAG}:sale stock"), 7);
    redisReply *staging = redis_do(fixture, "KEYS flashsale:{LAG}:staging:*");
    assert_int_equal(staging->elements, 0);
    freeReplyObject(staging);
    answer_t bob = purchase(fixture, "LAG", "bob");
    assert_int_equal(bob.outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_string_equal(bob.purchase.purchase_no, orders[1].purchase.purchase_no);
    answer_t dave = purchase(fixture, "LAG", "dave");
    char expected[SALE_PURCHASE_NO_MAX];
    snprintf(expected, sizeof(expected), "FS%" PRIu64 "-%lld", created.sale.sale_id,
             RECONCILE_GENERATION_SPAN + 1);
    assert_string_equal(dave.purchase.purchase_no, expected);
    /* Repaired once: a second pass finds nothing. */
    assert_int_equal(reconcile_run(fixture->redis, fixture->pg, &losses, err, sizeof(err)), 0);
    assert_int_equal(losses, 0);

    /* Its numbers in an older generation than PostgreSQL recorded: gone backwards past a move. */
    PQclear(PQexec(fixture->pg, "UPDATE sales SET sequence_generation = 3 WHERE sku = 'LAG'"));
    assert_int_equal(reconcile_run(fixture->redis, fixture->pg, &losses, err, sizeof(err)), 0);
    assert_int_equal(losses, 1);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{LAG}:sale next_sequence"),
                     4 * RECONCILE_GENERATION_SPAN + 1);
    assert_int_equal(services_query_int(fixture->pg, "SELECT count(*) FROM redis_data_losses"), 2);
}

static void test_rebuild_counts_the_stream_and_spares_live_sales(void **state)
{
    fixture_t *fixture = *state;
    answer_t created = create_live_sale(fixture, "REBUILD", 10);
    answer_t first = purchase(fixture, "REBUILD", "alice");
    purchase(fixture, "REBUILD", "bob");
    answer_t third = purchase(fixture, "REBUILD", "carol");
    persist_order(fixture, &created.sale, &first.purchase, 1);
    commit_order(fixture, &created.sale, &third.purchase, 3);
    create_live_sale(fixture, "LIVE", 10);
    purchase(fixture, "LIVE", "alice");

    /* The hash and buyers of one sale lost; alice's order is only in PostgreSQL, bob's only in
     * the stream, carol's in both (committed, not yet deleted): counted once. */
    freeReplyObject(redis_do(fixture, "DEL flashsale:{REBUILD}:sale flashsale:{REBUILD}:buyers"));
    char err[256];
    assert_int_equal(reconcile_run(fixture->redis, fixture->pg, NULL, err, sizeof(err)), 0);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{REBUILD}:sale stock"), 7);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{REBUILD}:sale next_sequence"), 4);
    assert_int_equal(redis_int(fixture, "HLEN flashsale:{REBUILD}:buyers"), 3);
    redisReply *staging = redis_do(fixture, "KEYS flashsale:{REBUILD}:staging:*");
    assert_int_equal(staging->elements, 0);
    freeReplyObject(staging);
    assert_int_equal(redis_int(fixture, "HGET flashsale:{LIVE}:sale stock"), 9);
    assert_int_equal(purchase(fixture, "REBUILD", "bob").outcome, SALE_OUTCOME_ALREADY_PURCHASED);

    /* A sale deleted from PostgreSQL behind Redis' back is removed from Redis. */
    PQclear(PQexec(fixture->pg, "SELECT flashsale_delete_sale('LIVE')"));
    assert_int_equal(reconcile_run(fixture->redis, fixture->pg, NULL, err, sizeof(err)), 0);
    assert_int_equal(redis_int(fixture, "EXISTS flashsale:{LIVE}:sale"), 0);
    assert_int_equal(redis_int(fixture, "SISMEMBER " OUTBOX_SALES_SET " LIVE"), 0);
}

static void test_health_and_metrics(void **state)
{
    fixture_t *fixture = *state;
    answer_t health = {0};
    engine_health(fixture->handle, on_answer, &health);
    run_until(fixture, &health.done);
    assert_int_equal(health.check_count, 4);
    assert_true(health.checks[0].ok && health.checks[0].latency_ms >= 0);
    assert_true(health.checks[1].ok && health.checks[1].latency_ms >= 0);
    assert_string_equal(health.checks[2].name, "outbox");
    assert_true(health.checks[2].ok);
    assert_string_equal(health.checks[3].name, "redis_data");
    assert_true(health.checks[3].ok);
    assert_false(health.checks[3].required);
    answer_t metrics = {0};
    engine_metrics(fixture->handle, on_answer, &metrics);
    run_until(fixture, &metrics.done);
    assert_non_null(strstr(metrics.text, "# TYPE flashsale_redis_reconnects_total counter\n"));
    assert_non_null(strstr(metrics.text, "flashsale_reconcile_passes_total "));
    assert_non_null(strstr(metrics.text, "\nflashsale_redis_data_losses_total 0\n"));
}

/* Runs the loop until the lag sampler has seen `length` orders waiting; returns those metrics. */
static answer_t metrics_with_outbox_length(fixture_t *fixture, double length)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        answer_t metrics = metrics_now(fixture);
        if (metric(&metrics, "flashsale_outbox_length") == length)
            return metrics;
        assert_true(clock_monotonic_ms() < deadline);
        assert_int_equal(h2o_evloop_run(fixture->loop, 10), 0);
    }
}

/* The outbox check of /health; its detail is copied into detail. */
static bool outbox_check(fixture_t *fixture, char *detail, size_t detail_size)
{
    answer_t health = {0};
    engine_health(fixture->handle, on_answer, &health);
    run_until(fixture, &health.done);
    assert_int_equal(health.check_count, 4);
    assert_string_equal(health.checks[2].name, "outbox");
    assert_non_null(health.checks[2].detail);
    snprintf(detail, detail_size, "%s", health.checks[2].detail);
    return health.checks[2].ok;
}

static void test_lag_is_reported(void **state)
{
    fixture_t *fixture = *state;
    /* No worker runs here: every order waits in its stream. */
    create_live_sale(fixture, "LAG-A", 10);
    for (int i = 0; i < 3; i++) {
        char user[16];
        snprintf(user, sizeof(user), "user-%d", i);
        assert_int_equal(purchase(fixture, "LAG-A", user).outcome, SALE_OUTCOME_SUCCESS);
    }
    /* One of them delivered to a worker that has not acknowledged it yet. */
    freeReplyObject(redis_do(fixture, "XREADGROUP GROUP " OUTBOX_CONSUMER_GROUP
                                      " test COUNT 1 STREAMS flashsale:{LAG-A}:orders >"));
    answer_t metrics = metrics_with_outbox_length(fixture, 3);
    assert_true(metric(&metrics, "flashsale_outbox_pending") == 1);
    assert_true(metric(&metrics, "flashsale_outbox_oldest_age_seconds") >= 0);
    assert_true(metric(&metrics, "flashsale_outbox_oldest_age_seconds") < 60);
    assert_true(metric(&metrics, "flashsale_outbox_dead_letters") == 0);
    assert_non_null(strstr(metrics.text, "# TYPE flashsale_outbox_length gauge\n"));
    char detail[128];
    assert_true(outbox_check(fixture, detail, sizeof(detail)));
    assert_non_null(strstr(detail, "3 orders waiting, oldest "));

    /* An order of another sale that has waited two minutes (stamped so), and a dead letter. */
    create_live_sale(fixture, "LAG-B", 10);
    freeReplyObject(redis_do(fixture, "XADD flashsale:{LAG-B}:orders 1-0 " OUTBOX_FIELD_PURCHASED_MS " %lld",
                             (long long)clock_now_ms() - 120000));
    freeReplyObject(
        redis_do(fixture, "XADD " OUTBOX_DEAD_LETTER " * stream " OUTBOX_KEY_PREFIX "{LAG-A}:orders"));
    metrics = metrics_with_outbox_length(fixture, 4);
    assert_true(metric(&metrics, "flashsale_outbox_oldest_age_seconds") >= 120);
    assert_true(metric(&metrics, "flashsale_outbox_dead_letters") == 1);
    assert_false(outbox_check(fixture, detail, sizeof(detail)));
    assert_non_null(strstr(detail, "4 orders waiting, oldest 12"));
}

/*
 * The AUTH tests' own redis-server: a password for the default user and an ACL user whose
 * password needs escaping in a URL. The engine uses database 2, so that AUTH must come before
 * SELECT on every connection.
 */
#define PROTECTED_PASSWORD      "s3cret-pass"
#define PROTECTED_USER          "alice"
#define PROTECTED_USER_PASSWORD "p@ss:word"
#define PROTECTED_USER_ESCAPED  "p%40ss%3Aword"

static protected_redis_t protected_redis;

/* redis://USERINFO@127.0.0.1:PORT/2 on the protected server. */
static void protected_url(char *out, size_t size, const char *userinfo)
{
    snprintf(out, size, "redis://%s@127.0.0.1:%d/2", userinfo, protected_redis.port);
}

static int setup_protected(void **state)
{
    if (protected_redis_start(&protected_redis, PROTECTED_PASSWORD, PROTECTED_USER,
                              PROTECTED_USER_PASSWORD) != 0)
        return -1;
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    *state = fixture;
    if (services_fresh_database(&services, fixture->postgres_url, sizeof(fixture->postgres_url)) != 0)
        return -1;
    char url[128];
    protected_url(url, sizeof(url), ":" PROTECTED_PASSWORD);
    connect_redis_at(fixture, url);
    open_engine_at(fixture, url);
    fixture->pg = services_connect(fixture->postgres_url);
    return fixture->pg != NULL ? 0 : -1;
}

static int teardown_protected(void **state)
{
    teardown(state);
    protected_redis_stop(&protected_redis);
    return 0;
}

static void test_protected_redis_is_logged_in_to(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "AUTH", 10);
    assert_int_equal(purchase(fixture, "AUTH", "alice").outcome, SALE_OUTCOME_SUCCESS);

    /* An ACL user, with the password percent-encoded. */
    fixture_t other = {0};
    snprintf(other.postgres_url, sizeof(other.postgres_url), "%s", fixture->postgres_url);
    char url[128];
    protected_url(url, sizeof(url), PROTECTED_USER ":" PROTECTED_USER_ESCAPED);
    open_engine_at(&other, url);
    assert_int_equal(purchase(&other, "AUTH", "bob").outcome, SALE_OUTCOME_SUCCESS);
    close_engine(&other);
    assert_int_equal(purchase(fixture, "AUTH", "bob").outcome, SALE_OUTCOME_ALREADY_PURCHASED);

    /* Every connection ran SELECT after AUTH: nothing was written to database 0. */
    assert_true(redis_int(fixture, "DBSIZE") > 0);
    freeReplyObject(redis_do(fixture, "SELECT 0"));
    assert_int_equal(redis_int(fixture, "DBSIZE"), 0);
}

/* Opens an engine on url, expecting it to fail with a message that starts with `expected`. */
static void assert_open_refused(fixture_t *fixture, const char *url, const char *expected, const char *secret)
{
    char err[512] = "";
    engine_t *engine = engine_distributed_open(url, fixture->postgres_url, err, sizeof(err));
    assert_null(engine);
    if (strncmp(err, expected, strlen(expected)) != 0 || strchr(err, '\n') != NULL ||
        (secret != NULL && strstr(err, secret) != NULL))
        fail_msg("%s: %s", url, err);
}

static void test_wrong_password_fails_the_open(void **state)
{
    fixture_t *fixture = *state;
    char url[128];
    protected_url(url, sizeof(url), ":not-the-" PROTECTED_PASSWORD);
    assert_open_refused(fixture, url, "redis: authentication failed: WRONGPASS", "not-the-");
    protected_url(url, sizeof(url), PROTECTED_USER ":wrong" PROTECTED_USER_ESCAPED);
    assert_open_refused(fixture, url, "redis: authentication failed: WRONGPASS", "wrong");
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2", protected_redis.port);
    assert_open_refused(fixture, url, "redis SELECT 2: NOAUTH", NULL);
    snprintf(url, sizeof(url), "redis://:" PROTECTED_PASSWORD "@127.0.0.1:%d/x", protected_redis.port);
    assert_open_refused(fixture, url, "bad Redis URL \"redis://:***@127.0.0.1:", PROTECTED_PASSWORD);
}

static void test_reconnect_logs_in_again(void **state)
{
    fixture_t *fixture = *state;
    create_live_sale(fixture, "REAUTH", 10);
    assert_int_equal(purchase(fixture, "REAUTH", "alice").outcome, SALE_OUTCOME_SUCCESS);
    long long reconnects = counter(fixture, "flashsale_redis_reconnects_total");

    /* The password changes, then every connection but this one is cut: each reconnect of the
     * engine is refused at AUTH, which is an outage, never a connection. */
    freeReplyObject(redis_do(fixture, "CONFIG SET requirepass changed"));
    freeReplyObject(redis_do(fixture, "CLIENT KILL TYPE normal SKIPME yes"));
    /* Long enough for several reconnects (50, 100, 200 ms apart). */
    int64_t until = clock_monotonic_ms() + 600;
    while (clock_monotonic_ms() < until) {
        assert_int_equal(purchase(fixture, "REAUTH", "bob").status, ENGINE_UNAVAILABLE);
        run_for(fixture, 20);
    }
    assert_int_equal(counter(fixture, "flashsale_redis_reconnects_total"), reconnects);
    redisReply *log = redis_do(fixture, "ACL LOG");
    assert_int_equal(log->type, REDIS_REPLY_ARRAY);
    assert_true(log->elements > 0);
    freeReplyObject(log);

    /* The right password again: the next reconnect logs in and selects database 2. */
    freeReplyObject(redis_do(fixture, "CONFIG SET requirepass " PROTECTED_PASSWORD));
    assert_int_equal(purchase_when_available(fixture, "REAUTH", "bob").outcome, SALE_OUTCOME_SUCCESS);
    assert_int_equal(purchase(fixture, "REAUTH", "alice").outcome, SALE_OUTCOME_ALREADY_PURCHASED);
    assert_true(counter(fixture, "flashsale_redis_reconnects_total") > reconnects);
}

/* Parses url, expecting a failure whose message tells `problem`, masks it and never shows `secret`. */
static void assert_url_refused(const char *url, const char *problem, const char *secret)
{
    redis_address_t address;
    char err[512] = "";
    assert_int_equal(redis_address_parse(url, &address, err, sizeof(err)), -1);
    if (strstr(err, problem) == NULL || strstr(err, "(expected " REDIS_ADDRESS_URL_FORM ")") == NULL ||
        (secret != NULL && strstr(err, secret) != NULL))
        fail_msg("%s: %s", url, err);
}

static void assert_masked(const char *url, const char *expected)
{
    char masked[256];
    redis_address_mask_url(url, masked, sizeof(masked));
    assert_string_equal(masked, expected);
}

/* ---- accounts and rate limits ---- */

static account_t make_account(const char *username, const char *email)
{
    account_t account = {.role = ACCOUNT_ROLE_BUYER, .created_ms = 1771149600123LL};
    snprintf(account.username, sizeof(account.username), "%s", username);
    snprintf(account.email, sizeof(account.email), "%s", email);
    snprintf(account.full_name, sizeof(account.full_name), "Full name of %s", username);
    snprintf(account.password_hash, sizeof(account.password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$%s",
             username);
    return account;
}

static answer_t create_account(fixture_t *fixture, const account_t *account)
{
    answer_t answer = {0};
    engine_create_account(fixture->handle, account, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static answer_t find_account(fixture_t *fixture, const char *login)
{
    answer_t answer = {0};
    engine_find_account(fixture->handle, login, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

static void test_accounts_live_in_postgres(void **state)
{
    fixture_t *fixture = *state;
    account_t alice = make_account("Alice", "Alice@Example.com");
    char err[256] = "";

    assert_int_equal(create_account(fixture, &alice).status, ENGINE_OK);
    answer_t found = find_account(fixture, "aLiCe");
    assert_int_equal(found.status, ENGINE_OK);
    assert_string_equal(found.account.username, "Alice");
    assert_string_equal(found.account.email, "Alice@Example.com");
    assert_string_equal(found.account.password_hash, alice.password_hash);
    assert_string_equal(found.account.full_name, "Full name of Alice");
    assert_int_equal(found.account.created_ms, 1771149600123LL);
    assert_int_equal(found.account.role, ACCOUNT_ROLE_BUYER);
    assert_int_equal(find_account(fixture, "alice@example.COM").status, ENGINE_OK);
    assert_int_equal(find_account(fixture, "bob").status, ENGINE_NOT_FOUND);
    assert_int_equal(find_account(fixture, "Alice@example.org").status, ENGINE_NOT_FOUND);

    account_t same_name = make_account("ALICE", "other@example.com"),
              same_email = make_account("alicia", "alice@EXAMPLE.com");
    answer_t conflict = create_account(fixture, &same_name);
    assert_int_equal(conflict.status, ENGINE_CONFLICT);
    assert_string_equal(conflict.invalid_field, "username");
    conflict = create_account(fixture, &same_email);
    assert_int_equal(conflict.status, ENGINE_CONFLICT);
    assert_string_equal(conflict.invalid_field, "email");
    PGresult *rows = PQexec(fixture->pg, "SELECT count(*) FROM accounts");
    assert_string_equal(PQgetvalue(rows, 0, 0), "1");
    PQclear(rows);

    /* the command line's grant, on its own connection, shows at the next read */
    assert_int_equal(engine_distributed_grant_admin(fixture->postgres_url, "ALICE", err, sizeof(err)), 0);
    assert_int_equal(find_account(fixture, "alice").account.role, ACCOUNT_ROLE_ADMIN);
    assert_int_equal(engine_distributed_grant_admin(fixture->postgres_url, "nobody", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no account named nobody"));
}

static answer_t check_limits(engine_loop_t *handle, fixture_t *fixture, const engine_limit_t *limits,
                             size_t count)
{
    answer_t answer = {0};
    engine_check_limits(handle, limits, count, on_answer, &answer);
    run_until(fixture, &answer.done);
    return answer;
}

/* Two loop handles stand for two instances: both draw from the same buckets in Redis. */
static void test_limits_are_shared_and_exact(void **state)
{
    fixture_t *fixture = *state;
    const char *error;
    rate_t slow, fast;
    assert_int_equal(rate_parse("1/min,burst=3", &slow, &error), 0);
    assert_int_equal(rate_parse("1/min,burst=100", &fast, &error), 0);
    engine_loop_t *other = engine_attach(fixture->engine, fixture->loop);
    assert_non_null(other);
    assert_true(engine_shares_limits(fixture->handle));
    engine_limit_t user = {"purchases:user:alice", 20, &slow}, ip = {"purchases:ip:203.0.113.7", 24, &fast};
    engine_limit_t both[] = {ip, user};

    for (int i = 0; i < 3; i++) {
        answer_t answer = check_limits(i % 2 == 0 ? fixture->handle : other, fixture, both, 2);
        assert_int_equal(answer.status, ENGINE_OK);
        assert_false(answer.limited);
    }
    answer_t refused = check_limits(other, fixture, both, 2);
    assert_int_equal(refused.status, ENGINE_OK);
    assert_true(refused.limited);
    /* a minute from the first request, less the moments since */
    assert_true(refused.retry_after_us > 55 * 1000000LL && refused.retry_after_us <= 60 * 1000000LL);
    /* the refusal cost the IP nothing: 3 of its 100 tokens are used */
    for (int i = 0; i < 97; i++)
        assert_false(check_limits(fixture->handle, fixture, &ip, 1).limited);
    assert_true(check_limits(fixture->handle, fixture, &ip, 1).limited);
    /* each key expires when its bucket is full again */
    long long ttl = redis_int(fixture, "PTTL %s", "flashsale:{limits}:purchases:user:alice");
    assert_true(ttl > 170 * 1000 && ttl <= 180 * 1000);
    engine_detach(other);
}

static void test_redis_url_parsing(void **state)
{
    (void)state;
    redis_address_t address;
    char err[512];
    assert_int_equal(redis_address_parse("redis://10.0.0.1:7000/3", &address, err, sizeof(err)), 0);
    assert_string_equal(address.host, "10.0.0.1");
    assert_int_equal(address.port, 7000);
    assert_int_equal(address.db, 3);
    assert_false(address.auth);
    assert_int_equal(redis_address_parse("redis://cache", &address, err, sizeof(err)), 0);
    assert_int_equal(address.port, 6379);
    assert_int_equal(address.db, 0);
    assert_int_equal(redis_address_parse("redis://cache:6380/", &address, err, sizeof(err)), 0);
    assert_int_equal(address.port, 6380);
    assert_url_refused("redis://cache:0", "the port is not a number", NULL);
    assert_url_refused("http://cache", "does not start with redis://", NULL);
    assert_url_refused("redis://cache/x", "the database is not a number", NULL);
    assert_url_refused("redis://cache:6379x", "unexpected text", NULL);
    assert_url_refused("redis://", "no host", NULL);

    /* The default user of a requirepass server: AUTH PASSWORD, then SELECT. */
    assert_int_equal(redis_address_parse("redis://:s3cret@cache:7000/2", &address, err, sizeof(err)), 0);
    assert_true(address.auth);
    assert_string_equal(address.username, "");
    assert_string_equal(address.password, "s3cret");
    assert_string_equal(address.host, "cache");
    assert_int_equal(address.port, 7000);
    assert_int_equal(address.db, 2);
    const char *argv[3];
    size_t lens[3];
    assert_int_equal(redis_address_auth_command(&address, argv, lens), 2);
    assert_string_equal(argv[0], "AUTH");
    assert_string_equal(argv[1], "s3cret");
    assert_int_equal(lens[1], 6);

    /* An ACL user, both parts percent-decoded: AUTH USERNAME PASSWORD. */
    assert_int_equal(
        redis_address_parse("redis://al%69ce:p%40ss%3Aw%2fo%25rd@cache", &address, err, sizeof(err)), 0);
    assert_string_equal(address.username, "alice");
    assert_string_equal(address.password, "p@ss:w/o%rd");
    assert_string_equal(address.host, "cache");
    assert_int_equal(address.port, 6379);
    assert_int_equal(redis_address_auth_command(&address, argv, lens), 3);
    assert_string_equal(argv[1], "alice");
    assert_string_equal(argv[2], "p@ss:w/o%rd");

    /* The host follows the last '@', so a raw '@', ':' or '/' in the password is the password's. */
    assert_int_equal(redis_address_parse("redis://:p@s:s/w@cache:7001", &address, err, sizeof(err)), 0);
    assert_string_equal(address.password, "p@s:s/w");
    assert_string_equal(address.host, "cache");
    assert_int_equal(address.port, 7001);
    /* An empty password is still sent: AUTH says whether it is right. */
    assert_int_equal(redis_address_parse("redis://:@cache", &address, err, sizeof(err)), 0);
    assert_true(address.auth);
    assert_string_equal(address.password, "");
    assert_int_equal(redis_address_auth_command(&address, argv, lens), 2);

    assert_url_refused("redis://:abc%4@cache", "the password has a malformed percent escape", "abc");
    assert_url_refused("redis://:abc%zz1@cache", "the password has a malformed percent escape", "abc");
    assert_url_refused("redis://:abc%@cache", "the password has a malformed percent escape", "abc");
    assert_url_refused("redis://:abc%00@cache", "the password holds %00", "abc");
    assert_url_refused("redis://bob%G1:abc@cache", "the user name has a malformed percent escape", "abc");
    assert_url_refused("redis://s3cret@cache", "needs a ':' before the password", "s3cret");
    assert_url_refused("redis://:s3cret@cache:x", "the port is not a number", "s3cret");
    assert_url_refused("redis://:s3cret@", "no host", "s3cret");

    /* The longest values fit; one byte more is refused (an escape counts as the byte it gives). */
    char url[1200], value[600];
    memset(value, 'p', REDIS_ADDRESS_PASSWORD_MAX);
    value[REDIS_ADDRESS_PASSWORD_MAX] = '\0';
    snprintf(url, sizeof(url), "redis://:%s@cache", value);
    assert_int_equal(redis_address_parse(url, &address, err, sizeof(err)), 0);
    assert_int_equal(strlen(address.password), REDIS_ADDRESS_PASSWORD_MAX);
    snprintf(url, sizeof(url), "redis://:%s%%41@cache", value);
    assert_url_refused(url, "the password is longer than 511 bytes", "ppp");
    memset(value, 'u', REDIS_ADDRESS_USERNAME_MAX + 1);
    value[REDIS_ADDRESS_USERNAME_MAX + 1] = '\0';
    snprintf(url, sizeof(url), "redis://%s:pw@cache", value);
    assert_url_refused(url, "the user name is longer than 255 bytes", NULL);

    assert_masked("redis://:s3cret@cache:6379/1", "redis://:***@cache:6379/1");
    assert_masked("redis://alice:s3cret@cache", "redis://alice:***@cache");
    assert_masked("redis://:p@s:s@cache", "redis://:***@cache");
    assert_masked("redis://s3cret@cache", "redis://***@cache");
    assert_masked("redis:/:s3cret@cache", "***@cache");
    assert_masked("redis://cache:6379", "redis://cache:6379");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url_parsing),
        cmocka_unit_test_setup_teardown(test_purchase_follows_the_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts_live_in_postgres, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_are_shared_and_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_is_checked_on_redis_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_sells_exactly_the_stock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purchases_of_one_iteration_share_a_script_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_leaves_the_rest_of_a_batch_undecided, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_writes_reach_both_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_writes_may_be_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_merges_postgres_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reads_come_from_the_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sold_out_sale_is_answered_without_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sold_out_copy_tells_the_end_of_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sold_out_copy_follows_delete_and_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sold_out_copy_is_dropped_on_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushall_is_reconciled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_behind_postgres_is_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_counts_the_stream_and_spares_live_sales, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_health_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lag_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgres_outage_leaves_purchases_working, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_outage_is_answered_and_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protected_redis_is_logged_in_to, setup_protected,
                                        teardown_protected),
        cmocka_unit_test_setup_teardown(test_wrong_password_fails_the_open, setup_protected,
                                        teardown_protected),
        cmocka_unit_test_setup_teardown(test_reconnect_logs_in_again, setup_protected, teardown_protected),
    };
    return cmocka_run_group_tests(tests, services_group_setup, services_group_teardown);
}
