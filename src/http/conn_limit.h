/*
 * conn_limit: how many connections the server holds open at once, shared by its loop threads.
 *
 * Running out of file descriptors is what stops a server that accepts without bound: accept()
 * then fails with EMFILE, and a level-triggered listener wakes its loop again at once, burning a
 * core. So the server raises its soft descriptor limit to the hard one at start, and stops
 * accepting at --max-connections, which by default leaves room below that limit for the store's
 * own descriptors (SQLite files, Redis and PostgreSQL connections, the loops' wake-up pipes).
 */
#ifndef FLASHSALE_CONN_LIMIT_H
#define FLASHSALE_CONN_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    atomic_size_t open;
    size_t max;
} conn_limit_t;

/* Descriptors kept for everything but client connections: a base plus a few per loop thread. */
#define CONN_LIMIT_RESERVE_BASE       64
#define CONN_LIMIT_RESERVE_PER_THREAD 16

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit (as far as the kernel allows) and returns the
 * soft limit in force afterwards.
 */
size_t conn_limit_raise_nofile(void);

/* The default --max-connections for a descriptor limit and a thread count (at least 1). */
size_t conn_limit_default(size_t nofile, int threads);

void conn_limit_init(conn_limit_t *limit, size_t max);

/* Takes a slot for a new connection; false when max connections are open. */
bool conn_limit_acquire(conn_limit_t *limit);
void conn_limit_release(conn_limit_t *limit);
bool conn_limit_has_room(conn_limit_t *limit);

#endif
