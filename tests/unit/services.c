#include "services.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a protected redis-server may take to answer its first PING. */
#define PROTECTED_REDIS_START_MS 10000

/* A port the kernel just found free on 127.0.0.1. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(address);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &len) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int services_run(const services_t *services, const char *command, const char *which)
{
    const char *script = getenv("SERVICES_SCRIPT");
    if (script == NULL) {
        fprintf(stderr, "services: SERVICES_SCRIPT is not set\n");
        return -1;
    }
    char line[1024];
    snprintf(line, sizeof(line), "SERVICES_DIR='%s' REDIS_PORT=%d PG_PORT=%d '%s' %s %s", services->dir,
             services->redis_port, services->postgres_port, script, command, which);
    return system(line);
}

int services_start(services_t *services)
{
    memset(services, 0, sizeof(*services));
    snprintf(services->dir, sizeof(services->dir), "/tmp/flashsale-test-XXXXXX");
    /* Under /tmp and world-readable: PostgreSQL runs as its own user and must reach its files. */
    if (mkdtemp(services->dir) == NULL || chmod(services->dir, 0755) != 0)
        return -1;
    services->redis_port = free_port();
    services->postgres_port = free_port();
    snprintf(services->redis_url, sizeof(services->redis_url), "redis://127.0.0.1:%d", services->redis_port);
    snprintf(services->postgres_url, sizeof(services->postgres_url),
             "postgresql://postgres@127.0.0.1:%d/postgres", services->postgres_port);
    return services_run(services, "start", "all") == 0 ? 0 : -1;
}

void services_destroy(services_t *services)
{
    services_run(services, "destroy", "");
}

PGconn *services_connect(const char *url)
{
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "services: %s: %s", url, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

long long services_query_int(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    long long value = -1;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1)
        value = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    else
        fprintf(stderr, "services: %s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
    return value;
}

int services_fresh_database(const services_t *services, char *url, size_t url_size)
{
    static int created;
    char name[32], sql[64];
    snprintf(name, sizeof(name), "test_%d_%d", (int)getpid(), ++created);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGconn *conn = services_connect(services->postgres_url);
    if (conn == NULL)
        return -1;
    PGresult *result = PQexec(conn, sql);
    int rc = PQresultStatus(result) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "services: %s: %s", sql, PQerrorMessage(conn));
    PQclear(result);
    PQfinish(conn);
    snprintf(url, url_size, "postgresql://postgres@127.0.0.1:%d/%s", services->postgres_port, name);
    return rc;
}

services_t services;

int services_group_setup(void **state)
{
    (void)state;
    return services_start(&services);
}

int services_group_teardown(void **state)
{
    (void)state;
    services_destroy(&services);
    return 0;
}

/* Whether a PING on a fresh connection is answered NOAUTH: the server is up and wants a password. */
static bool answers_noauth(int port)
{
    struct timeval timeout = {1, 0};
    redisContext *redis = redisConnectWithTimeout("127.0.0.1", port, timeout);
    redisReply *reply = redis != NULL && redis->err == 0 ? redisCommand(redis, "PING") : NULL;
    bool noauth = reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOAUTH", 6) == 0;
    freeReplyObject(reply);
    redisFree(redis);
    return noauth;
}

int protected_redis_start(protected_redis_t *redis, const char *password, const char *user,
                          const char *user_password)
{
    memset(redis, 0, sizeof(*redis));
    snprintf(redis->dir, sizeof(redis->dir), "/tmp/flashsale-test-redis-XXXXXX");
    if (mkdtemp(redis->dir) == NULL || (redis->port = free_port()) < 0) {
        fprintf(stderr, "services: no directory or port for a protected redis-server\n");
        return -1;
    }
    char port[12], log[160], acl_password[256];
    snprintf(port, sizeof(port), "%d", redis->port);
    snprintf(log, sizeof(log), "%s/redis.log", redis->dir);
    snprintf(acl_password, sizeof(acl_password), ">%s", user_password);
    redis->pid = fork();
    if (redis->pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", redis->dir,
               "--logfile", log, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
               "--requirepass", password, "--user", user, "on", acl_password, "~*", "&*", "+@all",
               (char *)NULL);
        _exit(127);
    }
    if (redis->pid < 0) {
        fprintf(stderr, "services: fork failed\n");
        return -1;
    }
    for (int waited = 0; waited < PROTECTED_REDIS_START_MS; waited += 20) {
        if (answers_noauth(redis->port))
            return 0;
        if (waitpid(redis->pid, NULL, WNOHANG) == redis->pid) {
            redis->pid = 0;
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
    }
    if (redis->pid > 0) {
        kill(redis->pid, SIGKILL);
        waitpid(redis->pid, NULL, 0);
        redis->pid = 0;
    }
    fprintf(stderr, "services: the protected redis-server did not start; see %s\n", log);
    return -1;
}

void protected_redis_stop(protected_redis_t *redis)
{
    if (redis->pid > 0) {
        kill(redis->pid, SIGTERM);
        waitpid(redis->pid, NULL, 0);
        redis->pid = 0;
    }
    if (redis->dir[0] != '\0') {
        char command[192];
        snprintf(command, sizeof(command), "rm -rf '%s'", redis->dir);
        if (system(command) != 0)
            fprintf(stderr, "services: could not remove %s\n", redis->dir);
        redis->dir[0] = '\0';
    }
}
