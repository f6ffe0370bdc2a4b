/*
 * password_pool: Argon2id password hashing (libsodium's crypto_pwhash_str) on a few threads of its
 * own, so that no event loop ever spends the tens of milliseconds and megabytes a hash costs.
 *
 * A loop thread attaches once and submits jobs from its own thread; each job's callback runs
 * later on that same loop thread (through an h2o multithread queue), exactly once. The pool
 * accepts at most `queue_max` jobs at a time (waiting or running): beyond that a submission is
 * refused at once with -EBUSY, and the caller answers 503 rather than letting a login storm
 * queue without bound while purchases wait.
 *
 * A wrong password and an unknown user must cost the same: verifying against no hash (NULL)
 * checks the password against a dummy hash made at start with the same parameters, and fails.
 */
#ifndef FLASHSALE_PASSWORD_POOL_H
#define FLASHSALE_PASSWORD_POOL_H

#include <h2o.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

/* The longest password a job takes (the API allows 8-128 bytes). */
#define PASSWORD_POOL_PASSWORD_MAX 128
/* A stored hash's size with its NUL ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"). */
#define PASSWORD_POOL_HASH_MAX crypto_pwhash_STRBYTES

typedef struct password_pool password_pool_t;
typedef struct password_pool_loop password_pool_loop_t;

typedef struct {
    size_t threads;              /* 1.. */
    size_t queue_max;            /* jobs accepted at once (waiting or running), 1.. */
    unsigned long long opslimit; /* Argon2id passes */
    size_t memlimit;             /* Argon2id memory, bytes */
} password_pool_options_t;

typedef struct {
    int status;       /* 0, or -1 when the hash could not be computed (out of memory) */
    bool match;       /* verify: the password is the one hashed */
    const char *hash; /* hash: the stored form, valid during the callback only */
} password_result_t;

typedef void (*password_pool_cb)(void *ctx, const password_result_t *result);

/* Starts the threads and makes the dummy hash; NULL with one line in err. */
password_pool_t *password_pool_create(const password_pool_options_t *options, char *err, size_t err_size);
/* Stops the threads; every loop must have detached. */
void password_pool_destroy(password_pool_t *pool);

/* On the loop's thread, before it submits; NULL when out of memory. */
password_pool_loop_t *password_pool_attach(password_pool_t *pool, h2o_loop_t *loop);
/* On the same thread: runs the loop until every job it submitted has called back, then frees. */
void password_pool_detach(password_pool_loop_t *loop);

/*
 * Submits a job (the password, len <= PASSWORD_POOL_PASSWORD_MAX bytes, is copied and wiped after
 * use). Returns 0 when accepted (cb will run), -EBUSY when the pool is full or -ENOMEM (cb will
 * not run).
 */
int password_pool_hash(password_pool_loop_t *loop, const char *password, size_t len, password_pool_cb cb,
                       void *ctx);
/* hash: a stored hash (copied), or NULL for "no such user", which never matches. */
int password_pool_verify(password_pool_loop_t *loop, const char *hash, const char *password, size_t len,
                         password_pool_cb cb, void *ctx);

#endif
