/*
 * flashsale: one binary, three commands. `serve` runs the HTTP API on the embedded engine (SQLite)
 * or, given --redis and --postgres, on the distributed one; `worker` runs the persister of the
 * distributed mode; `data-loss` lists (and acknowledges) the Redis data losses the distributed
 * mode recorded. Configuration errors end the process with one line on stderr and status 2.
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
    int result, status;

    if ((status = finish_parse(config_parse_serve(&config, argc, argv, err, sizeof(err)), err)) >= 0)
        return status;
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

static int data_loss(int argc, char **argv)
{
    char err[512];
    config_t config;
    int status, listed;

    if ((status = finish_parse(config_parse_data_loss(&config, argc, argv, err, sizeof(err)), err)) >= 0)
        return status;
    if ((listed = distributed_data_loss(config.postgres_url, config.acknowledge, stdout, err, sizeof(err))) <
        0) {
        fprintf(stderr, "flashsale: %s\n", err);
        return 1;
    }
    if (listed == 0)
        puts("no unacknowledged Redis data loss");
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return usage_error("libsodium failed to initialise");
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "worker") == 0)
        return worker(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "data-loss") == 0)
        return data_loss(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(config_usage, stdout);
        return 0;
    }
    fputs(config_usage, stderr);
    return 2;
}
