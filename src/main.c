/*
 * flashsale: one binary, two commands. `serve` runs the HTTP API on the embedded engine (SQLite)
 * or, given --redis and --postgres, on the distributed one; `worker` runs the persister of the
 * distributed mode. Configuration errors end the process with one line on stderr and status 2.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "embedded/engine_embedded.h"
#include "http/http_server.h"

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

static int serve(int argc, char **argv)
{
    char err[512], generated_key[33];
    config_t config;
    engine_t *engine;
    int result;

    switch (config_parse_serve(&config, argc, argv, err, sizeof(err))) {
    case CONFIG_HELP:
        fputs(config_usage, stdout);
        return 0;
    case CONFIG_ERROR:
        return usage_error(err);
    case CONFIG_OK:
        break;
    }
    if (config.redis_url != NULL)
        return usage_error("distributed mode (--redis, --postgres) is not built into this binary yet");
    if (mkdir(config.data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, sizeof(err), "cannot create data directory %s: %s", config.data_dir, strerror(errno));
        return usage_error(err);
    }
    if (config.admin_key == NULL)
        config.admin_key = demo_admin_key(generated_key, sizeof(generated_key));
    if ((engine = engine_embedded_open(config.data_dir, err, sizeof(err))) == NULL)
        return usage_error(err);
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
    engine->ops->close(engine);
    if (result != 0)
        return usage_error(err);
    fprintf(stderr, "flashsale: stopped cleanly\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return usage_error("libsodium failed to initialise");
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(config_usage, stdout);
        return 0;
    }
    fputs(config_usage, stderr);
    return 2;
}
