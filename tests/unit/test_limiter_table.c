/*
 * Unit tests of limiter_table: per-key buckets, decisions over two keys that change nothing when
 * either refuses, expiry that frees slots, fixed memory under a million distinct clients (and the
 * measured bytes per tracked client), and exact counts under real concurrency.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limiter_table.h"

#define MILLION 1000000

static rate_t make_rate(const char *text)
{
    const char *error;
    rate_t rate;
    assert_int_equal(rate_parse(text, &rate, &error), 0);
    return rate;
}

static bool check_one(limiter_table_t *table, uint64_t key, const rate_t *rate, int64_t now,
                      int64_t *retry_after)
{
    limiter_key_t keys[] = {{key, rate}};
    return limiter_table_check(table, keys, 1, now, retry_after);
}

/* A key spread over the whole 64 bits, as a keyed hash gives them. */
static uint64_t spread(uint64_t n)
{
    n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9ull;
    n = (n ^ (n >> 27)) * 0x94d049bb133111ebull;
    return n ^ (n >> 31);
}

static void test_burst_then_refusal_then_recovery(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(1024);
    rate_t rate = make_rate("2/s,burst=3");
    int64_t now = 10000000, retry_after = 0;

    for (int i = 0; i < 3; ++i)
        assert_true(check_one(table, 42, &rate, now, &retry_after));
    assert_false(check_one(table, 42, &rate, now, &retry_after));
    assert_int_equal(retry_after, 500000);
    /* another client is not affected */
    assert_true(check_one(table, 43, &rate, now, &retry_after));
    assert_false(check_one(table, 42, &rate, now + 499999, &retry_after));
    assert_true(check_one(table, 42, &rate, now + 500000, &retry_after));
    limiter_table_destroy(table);
}

static void test_zero_key_is_a_key(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(64);
    rate_t rate = make_rate("1/s,burst=1");
    int64_t retry_after;
    assert_true(check_one(table, 0, &rate, 1000, &retry_after));
    assert_false(check_one(table, 0, &rate, 1000, &retry_after));
    limiter_table_destroy(table);
}

static void test_two_keys_all_or_nothing(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(1024);
    rate_t per_ip = make_rate("10/s,burst=2"), per_user = make_rate("1/s,burst=1");
    int64_t now = 50000000, retry_after = 0;
    limiter_key_t both[] = {{1001, &per_ip}, {2002, &per_user}};

    assert_true(limiter_table_check(table, both, 2, now, &retry_after));
    /* the user is out of tokens: refused, with the user's wait, and the IP keeps its token */
    assert_false(limiter_table_check(table, both, 2, now, &retry_after));
    assert_int_equal(retry_after, 1000000);
    assert_true(check_one(table, 1001, &per_ip, now, &retry_after));
    assert_false(check_one(table, 1001, &per_ip, now, &retry_after));
    /* the longest wait of the refusing keys is reported */
    assert_false(limiter_table_check(table, both, 2, now, &retry_after));
    assert_int_equal(retry_after, 1000000);
    limiter_table_destroy(table);
}

static void test_capacity_is_rounded_up(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(1000);
    assert_int_equal(limiter_table_capacity(table), 1024);
    limiter_table_destroy(table);
    table = limiter_table_create(1);
    assert_int_equal(limiter_table_capacity(table), LIMITER_TABLE_SHARDS * 4);
    limiter_table_destroy(table);
}

static void test_expired_clients_carry_no_state(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(256);
    rate_t rate = make_rate("10/s,burst=1");
    int64_t now = 1000000, retry_after;

    for (uint64_t i = 0; i < 200; ++i)
        assert_true(check_one(table, spread(i), &rate, now, &retry_after));
    assert_int_equal(limiter_table_tracked(table, now), 200 - limiter_table_evictions(table));
    /* one interval later every TAT is in the past */
    assert_int_equal(limiter_table_tracked(table, now + rate.interval_us), 0);
    /* a new crowd finds those slots as free as in an empty table: it takes over no more clients
       than it would there (only its own that share a full bucket) */
    limiter_table_t *empty = limiter_table_create(256);
    uint64_t evictions = limiter_table_evictions(table);
    for (uint64_t i = 1000; i < 1200; ++i) {
        assert_true(check_one(table, spread(i), &rate, now + rate.interval_us, &retry_after));
        assert_true(check_one(empty, spread(i), &rate, now + rate.interval_us, &retry_after));
    }
    assert_int_equal(limiter_table_evictions(table) - evictions, limiter_table_evictions(empty));
    limiter_table_destroy(empty);
    limiter_table_destroy(table);
}

static long resident_kib(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (status != NULL && fgets(line, sizeof(line), status) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (status != NULL)
        fclose(status);
    return kib;
}

/*
 * A million distinct clients inside one refill period, against a table of 2^18 slots: memory is
 * what creation allocated (touched once), every slot is used, the overflow takes over the
 * clients closest to a full bucket, and a client who was taken over still gets a correct answer
 * (a full bucket). The measured bytes per tracked client are printed for docs/api.md.
 */
static void test_a_million_clients_fit_in_fixed_memory(void **state)
{
    (void)state;
    size_t capacity = 1 << 18;
    limiter_table_t *table = limiter_table_create(capacity);
    rate_t rate = make_rate("1/min,burst=1");
    int64_t now = 1000000, retry_after;
    size_t memory = limiter_table_memory(table);

    /* touch every slot once, so the resident size includes the whole table */
    for (uint64_t i = 0; i < capacity; ++i)
        check_one(table, spread(i + 5 * MILLION), &rate, now - 2 * rate.interval_us, &retry_after);
    long before = resident_kib();
    for (uint64_t i = 0; i < MILLION; ++i)
        assert_true(check_one(table, spread(i), &rate, now + (int64_t)i, &retry_after));
    long after = resident_kib();
    size_t tracked = limiter_table_tracked(table, now + MILLION);

    assert_true(tracked <= capacity);
    assert_true(tracked > capacity * 9 / 10);
    assert_true(limiter_table_evictions(table) >= MILLION - capacity);
    /* the process did not grow with the clients (allowing for the allocator's own noise) */
    assert_true(before > 0 && after - before < 1024);
    /* the newest clients are still limited */
    assert_false(check_one(table, spread(MILLION - 1), &rate, now + MILLION, &retry_after));
    printf("limiter_table: %zu slots in %zu bytes: %.1f bytes per tracked client; "
           "%zu of %d clients tracked; RSS grew %ld KiB over a million clients\n",
           capacity, memory, (double)memory / (double)capacity, tracked, MILLION, after - before);
    limiter_table_destroy(table);
}

typedef struct {
    limiter_table_t *table;
    const rate_t *rate;
    int allowed;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *worker = arg;
    int64_t retry_after;
    for (int i = 0; i < 20000; ++i) {
        limiter_key_t keys[] = {{7, worker->rate}, {spread((uint64_t)i % 3), worker->rate}};
        worker->allowed += limiter_table_check(worker->table, keys, 1 + (i % 2), 42000000, &retry_after);
    }
    return NULL;
}

/* Eight threads at one frozen instant: exactly the burst of key 7 is ever allowed. */
static void test_concurrent_decisions_are_exact(void **state)
{
    (void)state;
    limiter_table_t *table = limiter_table_create(4096);
    rate_t rate = make_rate("1/s,burst=500");
    worker_t workers[8];
    pthread_t threads[8];
    int total = 0;

    for (int i = 0; i < 8; ++i) {
        workers[i] = (worker_t){.table = table, .rate = &rate};
        pthread_create(&threads[i], NULL, hammer, &workers[i]);
    }
    for (int i = 0; i < 8; ++i) {
        pthread_join(threads[i], NULL);
        total += workers[i].allowed;
    }
    assert_int_equal(total, 500);
    limiter_table_destroy(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal_then_recovery),
        cmocka_unit_test(test_zero_key_is_a_key),
        cmocka_unit_test(test_two_keys_all_or_nothing),
        cmocka_unit_test(test_capacity_is_rounded_up),
        cmocka_unit_test(test_expired_clients_carry_no_state),
        cmocka_unit_test(test_a_million_clients_fit_in_fixed_memory),
        cmocka_unit_test(test_concurrent_decisions_are_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
