#include "app/config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/events.h"
#include "http/event_stream.h"

const char config_usage[] =
    "usage: flashsale serve [options]     run the HTTP server\n"
    "       flashsale worker [options]    move orders from Redis streams into PostgreSQL\n"
    "       flashsale user grant-admin USERNAME [storage options]\n"
    "       flashsale loadtest [options]  storm a sale, verify it, report (loadtest --help)\n"
    "       flashsale data-loss [options] list or acknowledge recorded Redis data losses\n"
    "       flashsale routes              list the HTTP routes, one \"METHOD PATH\" a line\n"
    "\n"
    "serve options (each also as an environment variable):\n"
    "  --listen ADDR       address to bind (LISTEN, default 127.0.0.1)\n"
    "  --port N            TCP port (PORT, default 8080)\n"
    "  --data-dir DIR      embedded mode's SQLite files (DATA_DIR, default ./data)\n"
    "  --admin-key KEY     secret of the admin API (ADMIN_KEY; required unless --demo)\n"
    "  --threads N         event-loop threads (THREADS, default: the CPU count)\n"
    "  --demo              create a live demo sale DEMO-001 with stock 100\n"
    "  --redis URL         redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB]: distributed mode (REDIS_URL)\n"
    "  --postgres URL      postgresql://... (DATABASE_URL), with --redis\n"
    "  --with-worker       run the persister inside the server (distributed mode)\n"
    "  --log-level LEVEL   error, warn, info or debug (LOG_LEVEL, default info)\n"
    "  --web-root DIR      serve the pages from DIR instead of the copy built in, for working on\n"
    "                      them (WEB_ROOT)\n"
    "  --max-subscribers N live event streams per server; beyond, 503 (MAX_SUBSCRIBERS, default 20000)\n"
    "  --events-heartbeat D  a ': ping' on every event stream this often (EVENTS_HEARTBEAT, default 15s)\n"
    "  --events-stall D    an event stream whose reader took nothing this long is cut off\n"
    "                      (EVENTS_STALL, default 10s); D is 500ms, 10s, 2m or bare seconds\n"
    "  --log-level LEVEL   error, warn, info or debug (LOG_LEVEL, default info)\n" CONFIG_IDENTITY_USAGE
    "  --help              this text\n"
    "\n"
    "worker options: --redis URL --postgres URL --log-level LEVEL (REDIS_URL, DATABASE_URL, LOG_LEVEL)\n"
    "\n"
    "data-loss options: --postgres URL (DATABASE_URL) [--acknowledge]\n"
    "  lists the Redis data losses not yet acknowledged (each makes /health \"degraded\" on every\n"
    "  instance); --acknowledge marks them seen. Safe while servers run.\n"
    "\n"
    "usage: flashsale user grant-admin USERNAME [--data-dir DIR | --redis URL --postgres URL]\n"
    "       gives an account the admin role, in the store serve uses; the server may keep running, and\n"
    "       the account's next login carries role admin\n";

enum {
    OPT_LISTEN = 256,
    OPT_PORT,
    OPT_DATA_DIR,
    OPT_ADMIN_KEY,
    OPT_THREADS,
    OPT_DEMO,
    OPT_REDIS,
    OPT_POSTGRES,
    OPT_WITH_WORKER,
    OPT_ACKNOWLEDGE,
    OPT_LOG_LEVEL,
    OPT_WEB_ROOT,
    OPT_MAX_SUBSCRIBERS,
    OPT_EVENTS_HEARTBEAT,
    OPT_EVENTS_STALL,
    OPT_HELP
};

static const struct option serve_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port", required_argument, NULL, OPT_PORT},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"admin-key", required_argument, NULL, OPT_ADMIN_KEY},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"demo", no_argument, NULL, OPT_DEMO},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"postgres", required_argument, NULL, OPT_POSTGRES},
    {"with-worker", no_argument, NULL, OPT_WITH_WORKER},
    {"acknowledge", no_argument, NULL, OPT_ACKNOWLEDGE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
    {"max-subscribers", required_argument, NULL, OPT_MAX_SUBSCRIBERS},
    {"events-heartbeat", required_argument, NULL, OPT_EVENTS_HEARTBEAT},
    {"events-stall", required_argument, NULL, OPT_EVENTS_STALL},
    {"help", no_argument, NULL, OPT_HELP},
    CONFIG_IDENTITY_OPTIONS,
    {NULL, 0, NULL, 0},
};

static const char *env_or(const char *name, const char *fallback)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : fallback;
}

/* Parses a decimal integer in [min, max] with nothing after it. */
static int parse_int(const char *text, int min, int max, int *out)
{
    char *end;
    long value;

    if (text == NULL || text[0] == '\0')
        return -1;
    value = strtol(text, &end, 10);
    if (*end != '\0' || value < min || value > max)
        return -1;
    *out = (int)value;
    return 0;
}

/* A duration: digits with "ms", "s" or "m", or bare digits meaning seconds, in [min_ms, max_ms]. */
static int parse_duration_ms(const char *text, unsigned min_ms, unsigned max_ms, unsigned *out)
{
    char *end;
    unsigned long long value, scale = 1000;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    value = strtoull(text, &end, 10);
    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        return -1;
    if (value > max_ms || value * scale < min_ms || value * scale > max_ms)
        return -1;
    *out = (unsigned)(value * scale);
    return 0;
}

static void set_defaults(config_t *config)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    *config = (config_t){
        .listen = env_or("LISTEN", "127.0.0.1"),
        .data_dir = env_or("DATA_DIR", "./data"),
        .admin_key = env_or("ADMIN_KEY", NULL),
        .redis_url = env_or("REDIS_URL", NULL),
        .postgres_url = env_or("DATABASE_URL", NULL),
        .web_root = env_or("WEB_ROOT", NULL),
        .port = 8080,
        .threads = cpus > 0 ? (int)cpus : 1,
        .log_level = LOG_INFO,
        .max_subscribers = API_EVENTS_MAX_SUBSCRIBERS,
        .events_heartbeat_ms = EVENT_STREAM_HEARTBEAT_MS,
        .events_stall_ms = EVENT_STREAM_STALL_MS,
    };
}

typedef enum { COMMAND_SERVE, COMMAND_WORKER, COMMAND_DATA_LOSS } command_t;

static config_result_t parse(config_t *config, int argc, char **argv, command_t command, char *err,
                             size_t err_size)
{
    bool serve = command == COMMAND_SERVE;
    const char *port = env_or("PORT", NULL), *threads = env_or("THREADS", NULL),
               *log_level = env_or("LOG_LEVEL", NULL), *max_subscribers = env_or("MAX_SUBSCRIBERS", NULL),
               *heartbeat = env_or("EVENTS_HEARTBEAT", NULL), *stall = env_or("EVENTS_STALL", NULL);
    config_identity_text_t identity;
    int option;

    set_defaults(config);
    config_identity_defaults(&config->identity, &identity);
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", serve_options, NULL)) != -1) {
        switch (option) {
        case OPT_HELP:
            return CONFIG_HELP;
        case OPT_REDIS:
            config->redis_url = optarg;
            continue;
        case OPT_POSTGRES:
            config->postgres_url = optarg;
            continue;
        case OPT_ACKNOWLEDGE:
            if (command != COMMAND_DATA_LOSS)
                break;
            config->acknowledge = true;
            continue;
        case OPT_LOG_LEVEL:
            log_level = optarg;
            continue;
        default:
            break;
        }
        if (!serve)
            option = '?';
        switch (option) {
        case OPT_LISTEN:
            config->listen = optarg;
            break;
        case OPT_PORT:
            port = optarg;
            break;
        case OPT_DATA_DIR:
            config->data_dir = optarg;
            break;
        case OPT_ADMIN_KEY:
            config->admin_key = optarg;
            break;
        case OPT_THREADS:
            threads = optarg;
            break;
        case OPT_DEMO:
            config->demo = true;
            break;
        case OPT_WITH_WORKER:
            config->with_worker = true;
            break;
        case OPT_WEB_ROOT:
            config->web_root = optarg;
            break;
        case OPT_MAX_SUBSCRIBERS:
            max_subscribers = optarg;
            break;
        case OPT_EVENTS_HEARTBEAT:
            heartbeat = optarg;
            break;
        case OPT_EVENTS_STALL:
            stall = optarg;
            break;
        default:
            if (option >= CONFIG_OPT_AUTH && option < CONFIG_OPT_IDENTITY_END) {
                if (config_identity_option(&config->identity, &identity, option, optarg, err, err_size) != 0)
                    return CONFIG_ERROR;
                break;
            }
            snprintf(err, err_size, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        snprintf(err, err_size, "unexpected argument '%s' (see --help)", argv[optind]);
        return CONFIG_ERROR;
    }
    if (port != NULL && parse_int(port, 1, 65535, &config->port) != 0) {
        snprintf(err, err_size, "port must be a number from 1 to 65535, got '%s'", port);
        return CONFIG_ERROR;
    }
    if (threads != NULL && parse_int(threads, 1, 256, &config->threads) != 0) {
        snprintf(err, err_size, "threads must be a number from 1 to 256, got '%s'", threads);
        return CONFIG_ERROR;
    }
    if (max_subscribers != NULL && parse_int(max_subscribers, 1, 1000000, &config->max_subscribers) != 0) {
        snprintf(err, err_size, "max-subscribers must be a number from 1 to 1000000, got '%s'",
                 max_subscribers);
        return CONFIG_ERROR;
    }
    if (heartbeat != NULL && parse_duration_ms(heartbeat, 100, 3600000, &config->events_heartbeat_ms) != 0) {
        snprintf(err, err_size,
                 "events-heartbeat must be a duration from 100ms to 60m (500ms, 15s, 2m), got '%s'",
                 heartbeat);
        return CONFIG_ERROR;
    }
    if (stall != NULL && parse_duration_ms(stall, 100, 3600000, &config->events_stall_ms) != 0) {
        snprintf(err, err_size,
                 "events-stall must be a duration from 100ms to 60m (500ms, 10s, 2m), got '%s'", stall);
        return CONFIG_ERROR;
    }
    if (log_level != NULL && log_parse_level(log_level, &config->log_level) != 0) {
        snprintf(err, err_size, "log level must be error, warn, info or debug, got '%s'", log_level);
        return CONFIG_ERROR;
    }
    if (command == COMMAND_DATA_LOSS) {
        if (config->postgres_url == NULL) {
            snprintf(err, err_size, "data-loss needs --postgres");
            return CONFIG_ERROR;
        }
        return CONFIG_OK;
    }
    if ((config->redis_url == NULL) != (config->postgres_url == NULL)) {
        snprintf(err, err_size, "distributed mode needs both --redis and --postgres");
        return CONFIG_ERROR;
    }
    if (!serve && config->redis_url == NULL) {
        snprintf(err, err_size, "the worker needs --redis and --postgres");
        return CONFIG_ERROR;
    }
    if (serve && config->with_worker && config->redis_url == NULL) {
        snprintf(err, err_size, "--with-worker needs --redis and --postgres");
        return CONFIG_ERROR;
    }
    if (serve && config->admin_key == NULL && !config->demo) {
        snprintf(err, err_size,
                 "an admin key is required: --admin-key KEY or ADMIN_KEY (or run with --demo)");
        return CONFIG_ERROR;
    }
    if (config->admin_key != NULL && strlen(config->admin_key) < 8) {
        snprintf(err, err_size, "the admin key must be at least 8 characters");
        return CONFIG_ERROR;
    }
    if (serve && config_identity_finish(&config->identity, &identity, err, err_size) != 0)
        return CONFIG_ERROR;
    return CONFIG_OK;
}

config_result_t config_parse_serve(config_t *config, int argc, char **argv, char *err, size_t err_size)
{
    return parse(config, argc, argv, COMMAND_SERVE, err, err_size);
}

config_result_t config_parse_worker(config_t *config, int argc, char **argv, char *err, size_t err_size)
{
    return parse(config, argc, argv, COMMAND_WORKER, err, err_size);
}

config_result_t config_parse_data_loss(config_t *config, int argc, char **argv, char *err, size_t err_size)
{
    return parse(config, argc, argv, COMMAND_DATA_LOSS, err, err_size);
}

config_result_t config_parse_user(config_t *config, int argc, char **argv, const char **username, char *err,
                                  size_t err_size)
{
    static const struct option user_options[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"postgres", required_argument, NULL, OPT_POSTGRES},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *log_level = env_or("LOG_LEVEL", NULL);
    int option;

    set_defaults(config);
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", user_options, NULL)) != -1) {
        switch (option) {
        case OPT_HELP:
            return CONFIG_HELP;
        case OPT_DATA_DIR:
            config->data_dir = optarg;
            break;
        case OPT_REDIS:
            config->redis_url = optarg;
            break;
        case OPT_POSTGRES:
            config->postgres_url = optarg;
            break;
        case OPT_LOG_LEVEL:
            log_level = optarg;
            break;
        default:
            snprintf(err, err_size, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return CONFIG_ERROR;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "grant-admin") != 0) {
        snprintf(err, err_size,
                 "usage: flashsale user grant-admin USERNAME [--data-dir DIR | --redis URL "
                 "--postgres URL]");
        return CONFIG_ERROR;
    }
    *username = argv[optind + 1];
    if (log_level != NULL && log_parse_level(log_level, &config->log_level) != 0) {
        snprintf(err, err_size, "log level must be error, warn, info or debug, got '%s'", log_level);
        return CONFIG_ERROR;
    }
    if ((config->redis_url == NULL) != (config->postgres_url == NULL)) {
        snprintf(err, err_size, "distributed mode needs both --redis and --postgres");
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}
