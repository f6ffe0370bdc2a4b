/*
 * flashsale: one binary, two commands. `serve` runs the HTTP API on the embedded engine (SQLite)
 * or, given --redis and --postgres, on the distributed one; `worker` runs the persister of the
 * distributed mode. Configuration errors end the process with one line on stderr and status 2.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "distributed/distributed.h"
#include "embedded/engine_embedded.h"
#include "http/conn_limit.h"
#include "http/http_server.h"

/* Set by SIGTERM/SIGINT in `worker`, and by `serve` when its embedded worker must stop. */
static volatile sig_atomic_t worker_stop;

static int usage_error(const char *message)
{
    fprintf(stderr, "flashsale: %s\n", message);
    return 2;
}

/* The demo needs no secret from the user; a random one still keeps the admin API closed. */
static const char *demo_admin_key(char *out, size_t size)
{
    unsigned char random[16];
    randombytes_buf(random, sizeof(random));
    sodium_bin2hex(out, size, random, sizeof(random));
    fprintf(stderr, "flashsale: demo admin key: %s\n", out);
    return out;
}

/* Returns the exit status when parsing ended the command (help, or a bad configuration), else -1. */
static int finish_parse(config_result_t result, const char *err)
{
    switch (result) {
    case CONFIG_HELP:
        fputs(config_usage, stdout);
        return 0;
    case CONFIG_ERROR:
        return usage_error(err);
    case CONFIG_OK:
        break;
    }
    return -1;
}

static engine_t *open_engine(const config_t *config, char *err, size_t err_size)
{
    if (config->redis_url != NULL)
        return distributed_engine_open(config->redis_url, config->postgres_url, err, err_size);
    if (mkdir(config->data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create data directory %s: %s", config->data_dir, strerror(errno));
        return NULL;
    }
    return engine_embedded_open(config->data_dir, err, err_size);
}

static void *run_worker_thread(void *arg)
{
    const config_t *config = arg;
    distributed_worker_run(config->redis_url, config->postgres_url, &worker_stop);
    return NULL;
}

static int serve(int argc, char **argv)
{
    char err[512], generated_key[33];
    config_t config;
    engine_t *engine;
    pthread_t worker;
    size_t nofile, max_connections;
    int result, status;

    if ((status = finish_parse(config_parse_serve(&config, argc, argv, err, sizeof(err)), err)) >= 0)
        return status;
    /* before the store opens its files and connections, which count against the same limit */
    nofile = conn_limit_raise_nofile();
    max_connections =
        config.max_connections != 0 ? config.max_connections : conn_limit_default(nofile, config.threads);
    if (config.admin_key == NULL)
        config.admin_key = demo_admin_key(generated_key, sizeof(generated_key));
    if ((engine = open_engine(&config, err, sizeof(err))) == NULL)
        return usage_error(err);
    /* the worker thread must not take the server's stop signals: block them before it starts */
    if (config.with_worker) {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, NULL);
        pthread_create(&worker, NULL, run_worker_thread, &config);
    }
    result = http_server_run(
        &(http_server_options_t){
            .listen = config.listen,
            .port = config.port,
            .threads = config.threads,
            .admin_key = config.admin_key,
            .engine = engine,
            .demo = config.demo,
            .http1 =
                {
                    .idle_timeout_ms = config.idle_timeout_ms,
                    .header_timeout_ms = config.header_timeout_ms,
                    .body_timeout_ms = config.body_timeout_ms,
                    .max_header_bytes = config.max_header_bytes,
                    .max_headers = config.max_headers,
                    .max_body_bytes = config.max_body_bytes,
                    .http2 = config.http2,
                },
            .max_connections = max_connections,
            .nofile = nofile,
            .shutdown_timeout_ms = config.shutdown_timeout_ms,
        },
        err, sizeof(err));
    if (config.with_worker) {
        worker_stop = 1;
        pthread_join(worker, NULL);
    }
    engine->ops->close(engine);
    if (result != 0)
        return usage_error(err);
    fprintf(stderr, "flashsale: stopped cleanly\n");
    return 0;
}

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    worker_stop = 1;
}

static int worker(int argc, char **argv)
{
    char err[512];
    config_t config;
    struct sigaction stop = {.sa_handler = on_stop_signal};
    int status;

    if ((status = finish_parse(config_parse_worker(&config, argc, argv, err, sizeof(err)), err)) >= 0)
        return status;
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    return distributed_worker_run(config.redis_url, config.postgres_url, &worker_stop) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return usage_error("libsodium failed to initialise");
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "worker") == 0)
        return worker(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(config_usage, stdout);
        return 0;
    }
    fputs(config_usage, stderr);
    return 2;
}
