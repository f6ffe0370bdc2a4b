/*
 * flashsale: one binary, five commands. `serve` runs the HTTP API on the embedded engine (SQLite)
 * or, given --redis and --postgres, on the distributed one; `worker` runs the persister of the
 * distributed mode; `loadtest` storms a sale of a running server and verifies it (src/loadtest);
 * `data-loss` lists (and acknowledges) the Redis data losses the distributed mode recorded;
 * `routes` lists the API's routes (the OpenAPI test compares them with the document).
 * Configuration errors end the process with one line on stderr and status 2.
 *
 * What the process says as a command line tool (the usage, a configuration error that ends it, the
 * demo's admin key) is not logging: it goes out through cli_print, unformatted and whatever the log
 * level. Everything else goes through the logger (core/log.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "app/config.h"
#include "app/demo.h"
#include "app/identity_keys.h"
#include "core/log.h"
#include "distributed/engine_distributed.h"
#include "distributed/postgres/data_loss.h"
#include "distributed/worker/worker.h"
#include "embedded/accounts.h"
#include "embedded/engine_embedded.h"
#include "http/conn_limit.h"
#include "http/http_server.h"
#include "loadtest/loadtest.h"

/* Set by SIGTERM/SIGINT in `worker`, and by `serve` when its embedded worker must stop. */
static volatile sig_atomic_t worker_stop;

/* The command line's own output: the one place besides the logger that writes to stdout or stderr. */
static void cli_print(FILE *stream, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void cli_print(FILE *stream, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vfprintf(stream, format, args);
    va_end(args);
    fflush(stream);
}

static int usage_error(const char *message)
{
    cli_print(stderr, "flashsale: %s\n", message);
    return 2;
}

/*
 * The demo needs no secret from the user; a random one still keeps the admin API closed. The key is
 * printed on purpose, whatever the log level: it is the user's only way to learn it.
 */
static const char *demo_admin_key(char *out, size_t size)
{
    unsigned char random[16];
    randombytes_buf(random, sizeof(random));
    sodium_bin2hex(out, size, random, sizeof(random));
    cli_print(stderr, "flashsale: demo admin key: %s\n", out);
    return out;
}

/* Returns the exit status when parsing ended the command (help, or a bad configuration), else -1. */
static int finish_parse(config_result_t result, const config_t *config, const char *err)
{
    switch (result) {
    case CONFIG_HELP:
        cli_print(stdout, "%s", config_usage);
        return 0;
    case CONFIG_ERROR:
        return usage_error(err);
    case CONFIG_OK:
        break;
    }
    log_set_level(config->log_level);
    return -1;
}

static engine_t *open_engine(const config_t *config, char *err, size_t err_size)
{
    if (config->redis_url != NULL)
        return engine_distributed_open(config->redis_url, config->postgres_url, err, err_size);
    if (mkdir(config->data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create data directory %s: %s", config->data_dir, strerror(errno));
        return NULL;
    }
    return engine_embedded_open(config->data_dir, err, err_size);
}

static void *run_worker_thread(void *arg)
{
    const config_t *config = arg;
    worker_options_t options;
    char err[512];

    worker_options_init(&options, config->redis_url, config->postgres_url);
    if (worker_run(&options, &worker_stop, err, sizeof(err)) != 0)
        log_error("worker", "%s", err);
    return NULL;
}

/* What the server's loop hooks need. */
typedef struct {
    api_t *api;
    bool demo;
    const config_t *config;
    const identity_keys_t *keys;
} serving_t;

/* On each loop's thread before the server accepts: the API's state, and the demo sale on loop 0. */
static int start_loop(http_loop_t *loop, void *data, char *err, size_t err_size)
{
    serving_t *serving = data;

    if (api_loop_start(serving->api, loop, err, err_size) != 0)
        return -1;
    /* said once the port is ours, so that a refused start stays one line */
    if (loop->index == 0)
        identity_keys_log(serving->config, serving->keys);
    if (serving->demo && loop->index == 0)
        return demo_sale_prepare(api_loop_engine(loop), loop->context.loop, err, err_size);
    return 0;
}

static void stop_loop(http_loop_t *loop, void *data)
{
    serving_t *serving = data;
    api_loop_stop(serving->api, loop);
}

/* Serves the API on engine until a stop signal; returns 0, or -1 with one line in err. */
static int run_server(const config_t *config, engine_t *engine, size_t nofile, char *err, size_t err_size)
{
    identity_keys_t keys;
    serving_t serving = {.demo = config->demo, .config = config, .keys = &keys};
    api_options_t options;
    size_t max_connections =
        config->max_connections != 0 ? config->max_connections : conn_limit_default(nofile, config->threads);
    int result;

    if (identity_keys_load(config, &keys, err, err_size) != 0)
        return -1;
    options = identity_keys_api_options(config, &keys);
    options.max_subscribers = (size_t)config->max_subscribers;
    options.web_root = config->web_root;
    if ((serving.api = api_create(engine, &options, (size_t)config->threads, err, err_size)) == NULL) {
        identity_keys_free(&keys);
        return -1;
    }
    result = http_server_run(
        &(http_server_options_t){
            .listen = config->listen,
            .port = config->port,
            .threads = config->threads,
            .router = api_router(serving.api),
            .streams =
                {
                    .retry_ms = EVENT_STREAM_RETRY_MS,
                    .heartbeat_ms = config->events_heartbeat_ms,
                    .stall_ms = config->events_stall_ms,
                    .queue_max = EVENT_STREAM_QUEUE_MAX,
                },
            .loop_start = start_loop,
            .loop_stop = stop_loop,
            .data = &serving,
            .http1 =
                {
                    .idle_timeout_ms = config->idle_timeout_ms,
                    .header_timeout_ms = config->header_timeout_ms,
                    .body_timeout_ms = config->body_timeout_ms,
                    .max_header_bytes = config->max_header_bytes,
                    .max_headers = config->max_headers,
                    .max_body_bytes = config->max_body_bytes,
                    .http2 = config->http2,
                },
            .max_connections = max_connections,
            .nofile = nofile,
            .shutdown_timeout_ms = config->shutdown_timeout_ms,
            .cors = &config->cors,
        },
        err, err_size);
    api_destroy(serving.api);
    identity_keys_free(&keys);
    return result;
}

static int serve(int argc, char **argv)
{
    char err[512], generated_key[33];
    config_t config;
    engine_t *engine;
    pthread_t worker;
    bool worker_started = false;
    size_t nofile;
    int result, status;

    if ((status = finish_parse(config_parse_serve(&config, argc, argv, err, sizeof(err)), &config, err)) >= 0)
        return status;
    /* before the store opens its files and connections, which count against the same limit */
    nofile = conn_limit_raise_nofile();
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
        if ((status = pthread_create(&worker, NULL, run_worker_thread, &config)) != 0) {
            engine_close(engine);
            snprintf(err, sizeof(err), "cannot start the worker thread: %s", strerror(status));
            return usage_error(err);
        }
        worker_started = true;
    }
    result = run_server(&config, engine, nofile, err, sizeof(err));
    config_dispose(&config);
    if (worker_started) {
        worker_stop = 1;
        pthread_join(worker, NULL);
    }
    engine_close(engine);
    if (result != 0)
        return usage_error(err);
    log_info("app", "stopped cleanly");
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
    worker_options_t options;
    struct sigaction stop = {.sa_handler = on_stop_signal};
    int status;

    if ((status = finish_parse(config_parse_worker(&config, argc, argv, err, sizeof(err)), &config, err)) >=
        0)
        return status;
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    worker_options_init(&options, config.redis_url, config.postgres_url);
    if (worker_run(&options, &worker_stop, err, sizeof(err)) != 0) {
        /* The configuration cannot work; said like a configuration error, but the worker's status is 1. */
        cli_print(stderr, "worker: %s\n", err);
        return 1;
    }
    return 0;
}

/* `flashsale user grant-admin USERNAME`: the account's next login carries role admin. */
static int user(int argc, char **argv)
{
    const char *username = NULL;
    char err[512];
    config_t config;
    int status, rc;

    if ((status = finish_parse(config_parse_user(&config, argc, argv, &username, err, sizeof(err)), &config,
                               err)) >= 0)
        return status;
    if (config.postgres_url != NULL)
        rc = engine_distributed_grant_admin(config.postgres_url, username, err, sizeof(err));
    else
        rc = accounts_grant_admin(config.data_dir, username, err, sizeof(err));
    if (rc != 0) {
        cli_print(stderr, "flashsale: %s\n", err);
        return 1;
    }
    cli_print(stdout, "flashsale: %s is an administrator from the next login on\n", username);
    return 0;
}

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    cli_print(stdout, "%s\n", line);
}

static int data_loss(int argc, char **argv)
{
    char err[512];
    config_t config;
    int status, listed;

    if ((status =
             finish_parse(config_parse_data_loss(&config, argc, argv, err, sizeof(err)), &config, err)) >= 0)
        return status;
    if ((listed = data_loss_command(config.postgres_url, config.acknowledge, print_line, NULL, err,
                                    sizeof(err))) < 0) {
        cli_print(stderr, "flashsale: %s\n", err);
        return 1;
    }
    if (listed == 0)
        cli_print(stdout, "no unacknowledged Redis data loss\n");
    return 0;
}

/* `flashsale routes`: every route of the API, "METHOD PATH" a line, as the route table has them. */
static int routes(void)
{
    size_t count;
    const http_route_t *table = api_routes(&count);

    for (size_t i = 0; i < count; ++i)
        cli_print(stdout, "%s %s\n", table[i].method, table[i].path);
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
    if (argc == 2 && strcmp(argv[1], "routes") == 0)
        return routes();
    if (argc >= 2 && strcmp(argv[1], "user") == 0)
        return user(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "loadtest") == 0) {
        char err[600];
        int status = loadtest_main(argc - 1, argv + 1, err, sizeof(err));
        if (status == 2)
            cli_print(stderr, "flashsale loadtest: %s\n", err);
        return status;
    }
    if (argc >= 2 && strcmp(argv[1], "data-loss") == 0)
        return data_loss(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        cli_print(stdout, "%s", config_usage);
        return 0;
    }
    cli_print(stderr, "%s", config_usage);
    return 2;
}
