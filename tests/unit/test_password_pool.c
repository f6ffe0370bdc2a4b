/*
 * Unit tests of password_pool on a real h2o event loop: hashes that verify, wrong passwords and
 * unknown users that do not, callbacks on the submitting loop's thread, the bounded queue's
 * refusal, and a detach that waits for the jobs in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/password_pool.h"

#define WAIT_ROUNDS 2000

typedef struct {
    int calls;
    password_result_t result;
    char hash[PASSWORD_POOL_HASH_MAX];
    pthread_t thread;
} answer_t;

static void on_answer(void *ctx, const password_result_t *result)
{
    answer_t *answer = ctx;
    ++answer->calls;
    answer->result = *result;
    answer->thread = pthread_self();
    if (result->hash != NULL)
        snprintf(answer->hash, sizeof(answer->hash), "%s", result->hash);
}

/* Cheap parameters for most tests; the queue test needs jobs that last. */
static password_pool_t *create_pool(size_t threads, size_t queue_max, size_t memlimit)
{
    password_pool_options_t options = {.threads = threads,
                                       .queue_max = queue_max,
                                       .opslimit = crypto_pwhash_OPSLIMIT_MIN,
                                       .memlimit = memlimit};
    char err[256];
    password_pool_t *pool = password_pool_create(&options, err, sizeof(err));
    if (pool == NULL)
        fail_msg("password_pool_create: %s", err);
    return pool;
}

static void wait_for(h2o_loop_t *loop, const answer_t *answer)
{
    for (int i = 0; i < WAIT_ROUNDS && answer->calls == 0; ++i)
        h2o_evloop_run(loop, 10);
    assert_int_equal(answer->calls, 1);
}

/* Detaches, lets the loop dispose of the queue's socket (h2o closes it on the next run), frees. */
static void close_loop(password_pool_loop_t *handle, h2o_loop_t *loop)
{
    password_pool_detach(handle);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
}

static void test_hash_then_verify(void **state)
{
    (void)state;
    password_pool_t *pool = create_pool(2, 8, crypto_pwhash_MEMLIMIT_MIN);
    h2o_loop_t *loop = h2o_evloop_create();
    password_pool_loop_t *handle = password_pool_attach(pool, loop);
    answer_t hashed = {0}, right = {0}, wrong = {0}, unknown = {0};

    assert_int_equal(password_pool_hash(handle, "correct horse", 13, on_answer, &hashed), 0);
    wait_for(loop, &hashed);
    assert_int_equal(hashed.result.status, 0);
    assert_true(pthread_equal(hashed.thread, pthread_self()));
    assert_int_equal(strncmp(hashed.hash, "$argon2id$", 10), 0);
    assert_null(strstr(hashed.hash, "correct horse"));

    assert_int_equal(password_pool_verify(handle, hashed.hash, "correct horse", 13, on_answer, &right), 0);
    assert_int_equal(password_pool_verify(handle, hashed.hash, "correct horsf", 13, on_answer, &wrong), 0);
    assert_int_equal(password_pool_verify(handle, NULL, "correct horse", 13, on_answer, &unknown), 0);
    wait_for(loop, &right);
    wait_for(loop, &wrong);
    wait_for(loop, &unknown);
    assert_true(right.result.match);
    assert_false(wrong.result.match);
    assert_false(unknown.result.match);
    /* a password differing only after a NUL is another password */
    answer_t nul = {0};
    assert_int_equal(password_pool_verify(handle, hashed.hash, "correct horse\0x", 15, on_answer, &nul), 0);
    wait_for(loop, &nul);
    assert_false(nul.result.match);

    close_loop(handle, loop);
    password_pool_destroy(pool);
}

static void test_a_full_queue_refuses_at_once(void **state)
{
    (void)state;
    /* 32 MiB per hash: each job lasts long enough for the submissions below to find it running */
    password_pool_t *pool = create_pool(1, 2, 32u << 20);
    h2o_loop_t *loop = h2o_evloop_create();
    password_pool_loop_t *handle = password_pool_attach(pool, loop);
    answer_t first = {0}, second = {0}, third = {0}, later = {0};

    assert_int_equal(password_pool_hash(handle, "password-1", 10, on_answer, &first), 0);
    assert_int_equal(password_pool_hash(handle, "password-2", 10, on_answer, &second), 0);
    assert_int_equal(password_pool_hash(handle, "password-3", 10, on_answer, &third), -EBUSY);
    wait_for(loop, &first);
    wait_for(loop, &second);
    assert_int_equal(third.calls, 0);
    /* room again once the jobs are done */
    assert_int_equal(password_pool_hash(handle, "password-4", 10, on_answer, &later), 0);
    wait_for(loop, &later);
    close_loop(handle, loop);
    password_pool_destroy(pool);
}

static void test_detach_waits_for_jobs_in_flight(void **state)
{
    (void)state;
    password_pool_t *pool = create_pool(2, 16, crypto_pwhash_MEMLIMIT_MIN);
    h2o_loop_t *loop = h2o_evloop_create();
    password_pool_loop_t *handle = password_pool_attach(pool, loop);
    answer_t answers[6] = {{0}};

    for (int i = 0; i < 6; ++i)
        assert_int_equal(password_pool_hash(handle, "some password", 13, on_answer, &answers[i]), 0);
    close_loop(handle, loop);
    for (int i = 0; i < 6; ++i)
        assert_int_equal(answers[i].calls, 1);
    password_pool_destroy(pool);
}

/* Two loops on one thread: each answer comes back to the loop that submitted it, and only there. */
static void test_answers_go_to_their_own_loop(void **state)
{
    (void)state;
    password_pool_t *pool = create_pool(2, 8, crypto_pwhash_MEMLIMIT_MIN);
    h2o_loop_t *first_loop = h2o_evloop_create(), *second_loop = h2o_evloop_create();
    password_pool_loop_t *first = password_pool_attach(pool, first_loop),
                         *second = password_pool_attach(pool, second_loop);
    answer_t to_first = {0}, to_second = {0};

    assert_int_equal(password_pool_hash(first, "first loop", 10, on_answer, &to_first), 0);
    assert_int_equal(password_pool_hash(second, "second loop", 11, on_answer, &to_second), 0);
    wait_for(first_loop, &to_first);
    /* the second job is long done (the first loop waited for it), yet unanswered until its loop runs */
    for (int i = 0; i < 20; ++i)
        h2o_evloop_run(first_loop, 10);
    assert_int_equal(to_second.calls, 0);
    wait_for(second_loop, &to_second);
    close_loop(first, first_loop);
    close_loop(second, second_loop);
    password_pool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_then_verify),
        cmocka_unit_test(test_a_full_queue_refuses_at_once),
        cmocka_unit_test(test_detach_waits_for_jobs_in_flight),
        cmocka_unit_test(test_answers_go_to_their_own_loop),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
