#include "auth/password_pool.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    h2o_multithread_message_t message; /* the trip back to the loop */
    struct job *next;                  /* in the pool's queue */
    password_pool_loop_t *loop;
    bool verify;
    bool unknown_user; /* verify against the dummy hash, and fail */
    char password[PASSWORD_POOL_PASSWORD_MAX];
    size_t len;
    char hash[PASSWORD_POOL_HASH_MAX]; /* verify: the input; hash: the output */
    password_result_t result;
    password_pool_cb cb;
    void *ctx;
} job_t;

struct password_pool {
    password_pool_options_t options;
    char dummy_hash[PASSWORD_POOL_HASH_MAX];
    pthread_t *threads;
    size_t thread_count;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    job_t *head, **tail;
    size_t accepted; /* waiting or running */
    bool stopping;
};

struct password_pool_loop {
    password_pool_t *pool;
    h2o_loop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    size_t pending; /* jobs submitted and not yet called back; loop thread only */
};

static void run_job(password_pool_t *pool, job_t *job)
{
    if (!job->verify) {
        job->result.status = crypto_pwhash_str(job->hash, job->password, job->len, pool->options.opslimit,
                                               pool->options.memlimit) == 0
                                 ? 0
                                 : -1;
        job->result.hash = job->hash;
    } else {
        /* The dummy costs what a real hash costs, so an unknown user cannot be told apart by time. */
        const char *hash = job->unknown_user ? pool->dummy_hash : job->hash;
        bool match = crypto_pwhash_str_verify(hash, job->password, job->len) == 0;
        job->result.match = match && !job->unknown_user;
    }
    sodium_memzero(job->password, sizeof(job->password));
}

static void *run_thread(void *arg)
{
    password_pool_t *pool = arg;

    for (;;) {
        job_t *job;
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if ((job = pool->head) != NULL && (pool->head = job->next) == NULL)
            pool->tail = &pool->head;
        pthread_mutex_unlock(&pool->lock);
        if (job == NULL)
            return NULL;
        run_job(pool, job);
        pthread_mutex_lock(&pool->lock);
        --pool->accepted;
        pthread_mutex_unlock(&pool->lock);
        /* the job now belongs to its loop, which frees it */
        h2o_multithread_send_message(&job->loop->receiver, &job->message);
    }
}

password_pool_t *password_pool_create(const password_pool_options_t *options, char *err, size_t err_size)
{
    password_pool_t *pool = calloc(1, sizeof(*pool));
    unsigned char random[32];
    char dummy[sizeof(random) * 2 + 1];

    assert(options->threads >= 1 && options->queue_max >= 1);
    if (pool == NULL || (pool->threads = calloc(options->threads, sizeof(*pool->threads))) == NULL) {
        free(pool);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pool->options = *options;
    pool->tail = &pool->head;
    randombytes_buf(random, sizeof(random));
    sodium_bin2hex(dummy, sizeof(dummy), random, sizeof(random));
    if (crypto_pwhash_str(pool->dummy_hash, dummy, strlen(dummy), options->opslimit, options->memlimit) !=
        0) {
        snprintf(err, err_size, "cannot hash a password with %zu bytes of memory", options->memlimit);
        free(pool->threads);
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (; pool->thread_count < options->threads; ++pool->thread_count) {
        int error = pthread_create(&pool->threads[pool->thread_count], NULL, run_thread, pool);
        if (error != 0) {
            snprintf(err, err_size, "cannot start a password hashing thread: %s", strerror(error));
            password_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void password_pool_destroy(password_pool_t *pool)
{
    pthread_mutex_lock(&pool->lock);
    assert(pool->head == NULL);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->thread_count; ++i)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    password_pool_loop_t *loop = H2O_STRUCT_FROM_MEMBER(password_pool_loop_t, receiver, receiver);

    while (!h2o_linklist_is_empty(messages)) {
        job_t *job = H2O_STRUCT_FROM_MEMBER(job_t, message.link, messages->next);
        h2o_linklist_unlink(&job->message.link);
        --loop->pending;
        job->cb(job->ctx, &job->result);
        sodium_memzero(job->hash, sizeof(job->hash));
        free(job);
    }
}

password_pool_loop_t *password_pool_attach(password_pool_t *pool, h2o_loop_t *h2o_loop)
{
    password_pool_loop_t *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        return NULL;
    loop->pool = pool;
    loop->loop = h2o_loop;
    loop->queue = h2o_multithread_create_queue(h2o_loop);
    h2o_multithread_register_receiver(loop->queue, &loop->receiver, on_jobs_done);
    return loop;
}

void password_pool_detach(password_pool_loop_t *loop)
{
    while (loop->pending > 0)
        h2o_evloop_run(loop->loop, 10);
    h2o_multithread_unregister_receiver(loop->queue, &loop->receiver);
    /* with evloop, h2o 2.2.5 closes the queue's socket but leaves the queue itself to its creator */
    h2o_multithread_destroy_queue(loop->queue);
    free(loop->queue);
    free(loop);
}

static int submit(password_pool_loop_t *loop, job_t *job)
{
    password_pool_t *pool = loop->pool;
    bool full;

    pthread_mutex_lock(&pool->lock);
    if (!(full = pool->accepted >= pool->options.queue_max)) {
        ++pool->accepted;
        *pool->tail = job;
        pool->tail = &job->next;
        pthread_cond_signal(&pool->wake);
    }
    pthread_mutex_unlock(&pool->lock);
    if (full) {
        sodium_memzero(job, sizeof(*job));
        free(job);
        return -EBUSY;
    }
    ++loop->pending;
    return 0;
}

static job_t *new_job(password_pool_loop_t *loop, const char *password, size_t len, password_pool_cb cb,
                      void *ctx)
{
    job_t *job = calloc(1, sizeof(*job));

    assert(len <= PASSWORD_POOL_PASSWORD_MAX);
    if (job == NULL)
        return NULL;
    job->loop = loop;
    memcpy(job->password, password, len);
    job->len = len;
    job->cb = cb;
    job->ctx = ctx;
    return job;
}

int password_pool_hash(password_pool_loop_t *loop, const char *password, size_t len, password_pool_cb cb,
                       void *ctx)
{
    job_t *job = new_job(loop, password, len, cb, ctx);
    return job == NULL ? -ENOMEM : submit(loop, job);
}

int password_pool_verify(password_pool_loop_t *loop, const char *hash, const char *password, size_t len,
                         password_pool_cb cb, void *ctx)
{
    job_t *job = new_job(loop, password, len, cb, ctx);

    if (job == NULL)
        return -ENOMEM;
    job->verify = true;
    job->unknown_user = hash == NULL;
    if (hash != NULL)
        snprintf(job->hash, sizeof(job->hash), "%s", hash);
    return submit(loop, job);
}
