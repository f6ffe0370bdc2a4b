/*
 * services: a private redis-server and PostgreSQL for one test program, through
 * scripts/services.sh, on free loopback ports and in a fresh directory under /tmp; and, for the
 * tests of AUTH, a redis-server that wants a password, which a test starts and stops itself.
 *
 * The script path comes from the SERVICES_SCRIPT environment variable (set by meson).
 */
#ifndef FLASHSALE_TEST_SERVICES_H
#define FLASHSALE_TEST_SERVICES_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char dir[128];
    int redis_port;
    int postgres_port;
    char redis_url[64];
    char postgres_url[128]; /* the "postgres" database */
} services_t;

/* The test program's instance, started and destroyed by the two group fixtures below. */
extern services_t services;

/* cmocka group setup and teardown: start `services` once for all tests, destroy it after. */
int services_group_setup(void **state);
int services_group_teardown(void **state);

/* Picks ports and a directory and starts both; returns 0 or -1 (the script's output says why). */
int services_start(services_t *services);
/* Runs `services.sh COMMAND WHICH` on this instance (e.g. "stop", "postgres"); returns its status. */
int services_run(const services_t *services, const char *command, const char *which);
/* Stops both and removes the directory. */
void services_destroy(services_t *services);

/*
 * Creates a fresh, empty database and writes its URL into url; returns 0 or -1. Databases are
 * named per call, so each test starts from nothing.
 */
int services_fresh_database(const services_t *services, char *url, size_t url_size);

/* Connects, or returns NULL after printing why. */
PGconn *services_connect(const char *url);

/* The single value of a one-row, one-column query as an integer; -1 when the query fails. */
long long services_query_int(PGconn *conn, const char *sql);

/*
 * A redis-server that wants a password: requirepass for the default user plus one ACL user with
 * every right, on a free port and in a fresh directory, with the append-only file fsynced as in
 * production. A test starts and stops it itself (services.sh knows no passwords).
 */
typedef struct {
    char dir[128];
    int port;
    pid_t pid;
} protected_redis_t;

/* Starts it and waits until PING answers NOAUTH; returns 0 or -1 after printing why. */
int protected_redis_start(protected_redis_t *redis, const char *password, const char *user,
                          const char *user_password);
/* Stops it (if it runs) and removes its directory. */
void protected_redis_stop(protected_redis_t *redis);

#endif
