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
    "connection limits (docs/api.md, Limits; DUR is 500ms, 10s, 2m or seconds):\n"
    "  --max-connections N       open at once, all threads together (MAX_CONNECTIONS, default: the\n"
    "                            file descriptor limit less 64 + 16 per thread)\n"
    "  --shutdown-timeout DUR    the longest a stop waits for requests received (SHUTDOWN_TIMEOUT, 10s)\n"
    "  --idle-timeout DUR        keep-alive: a connection waiting for a request (IDLE_TIMEOUT, 10s)\n"
    "  --header-timeout DUR      from a request's first byte to the end of its head; 408 (HEADER_TIMEOUT, "
    "10s)\n"
    "  --body-timeout DUR        from the end of the head to the end of the body; 408 (BODY_TIMEOUT, 10s)\n"
    "  --max-header-bytes N      request line and header fields; 414/431 (MAX_HEADER_BYTES, 16384)\n"
    "  --max-headers N           header fields; 431 (MAX_HEADERS, 100)\n"
    "  --max-body-bytes N        request body; 413 (MAX_BODY_BYTES, 16384)\n"
    "  --cors-origin LIST        origins whose pages may call the API: https://shop.example,...\n"
    "                            or * (CORS_ORIGIN; may be repeated; default none)\n"
    "  --http2                   also serve HTTP/2 (h2c upgrade, prior knowledge) through h2o, which has\n"
    "                            no defence against the rapid-reset flood: only behind a proxy (HTTP2=1)\n"
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
    OPT_MAX_CONNECTIONS,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_HEADERS,
    OPT_MAX_BODY_BYTES,
    OPT_HTTP2,
    OPT_CORS_ORIGIN,
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
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
    {"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
    {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY_BYTES},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"cors-origin", required_argument, NULL, OPT_CORS_ORIGIN},
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

/* The connection-limit options: flag or environment variable, name, bounds, and where they go. */
typedef struct {
    int option;
    const char *env;
    const char *name;
    bool duration;
    unsigned min, max;
} bound_t;

static const bound_t bounds[] = {
    {OPT_SHUTDOWN_TIMEOUT, "SHUTDOWN_TIMEOUT", "shutdown-timeout", true, 0, 3600000},
    {OPT_IDLE_TIMEOUT, "IDLE_TIMEOUT", "idle-timeout", true, 100, 3600000},
    {OPT_HEADER_TIMEOUT, "HEADER_TIMEOUT", "header-timeout", true, 100, 3600000},
    {OPT_BODY_TIMEOUT, "BODY_TIMEOUT", "body-timeout", true, 100, 3600000},
    {OPT_MAX_HEADER_BYTES, "MAX_HEADER_BYTES", "max-header-bytes", false, 1024, 1048576},
    {OPT_MAX_HEADERS, "MAX_HEADERS", "max-headers", false, 8, 1000},
    {OPT_MAX_BODY_BYTES, "MAX_BODY_BYTES", "max-body-bytes", false, 64, 64 * 1048576},
    {OPT_MAX_CONNECTIONS, "MAX_CONNECTIONS", "max-connections", false, 1, 10000000},
};

static unsigned *bound_target(config_t *config, int option, unsigned *scratch)
{
    switch (option) {
    case OPT_SHUTDOWN_TIMEOUT:
        return &config->shutdown_timeout_ms;
    case OPT_IDLE_TIMEOUT:
        return &config->idle_timeout_ms;
    case OPT_HEADER_TIMEOUT:
        return &config->header_timeout_ms;
    case OPT_BODY_TIMEOUT:
        return &config->body_timeout_ms;
    case OPT_MAX_HEADER_BYTES:
        return &config->max_header_bytes;
    case OPT_MAX_HEADERS:
        return &config->max_headers;
    case OPT_MAX_BODY_BYTES:
        return &config->max_body_bytes;
    default:
        return scratch;
    }
}

/* Applies every bound from its flag (texts[i]) or else its environment variable. */
static int parse_bounds(config_t *config, const char *const *texts, char *err, size_t err_size)
{
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); ++i) {
        const bound_t *bound = &bounds[i];
        const char *text = texts[i] != NULL ? texts[i] : env_or(bound->env, NULL);
        unsigned scratch = 0, *target = bound_target(config, bound->option, &scratch);
        int value;

        if (text == NULL)
            continue;
        if (bound->duration ? parse_duration_ms(text, bound->min, bound->max, target) != 0
                            : parse_int(text, (int)bound->min, (int)bound->max, &value) != 0) {
            snprintf(err, err_size, "%s must be %s from %u to %u%s, got '%s'", bound->name,
                     bound->duration ? "a duration" : "a number", bound->duration ? bound->min : bound->min,
                     bound->max, bound->duration ? " ms (500ms, 10s, 2m)" : "", text);
            return -1;
        }
        if (!bound->duration)
            *target = (unsigned)value;
        if (bound->option == OPT_MAX_CONNECTIONS)
            config->max_connections = scratch;
    }
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
        .shutdown_timeout_ms = 10000,
        .idle_timeout_ms = 10000,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 10000,
        .max_header_bytes = 16384,
        .max_headers = 100,
        .max_body_bytes = 16384,
        .log_level = LOG_INFO,
        .max_subscribers = API_EVENTS_MAX_SUBSCRIBERS,
        .events_heartbeat_ms = EVENT_STREAM_HEARTBEAT_MS,
        .events_stall_ms = EVENT_STREAM_STALL_MS,
    };
    config->http2 = env_or("HTTP2", NULL) != NULL && strcmp(env_or("HTTP2", ""), "0") != 0;
}

typedef enum { COMMAND_SERVE, COMMAND_WORKER, COMMAND_DATA_LOSS } command_t;

static config_result_t parse(config_t *config, int argc, char **argv, command_t command, char *err,
                             size_t err_size)
{
    bool serve = command == COMMAND_SERVE;
    const char *port = env_or("PORT", NULL), *threads = env_or("THREADS", NULL),
               *log_level = env_or("LOG_LEVEL", NULL), *max_subscribers = env_or("MAX_SUBSCRIBERS", NULL),
               *heartbeat = env_or("EVENTS_HEARTBEAT", NULL), *stall = env_or("EVENTS_STALL", NULL);
    const char *bound_texts[sizeof(bounds) / sizeof(bounds[0])] = {0};
    bool cors_given = false;
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
        case OPT_HTTP2:
            config->http2 = true;
            break;
        case OPT_CORS_ORIGIN:
            cors_given = true;
            if (http_cors_add(&config->cors, optarg, err, err_size) != 0)
                return CONFIG_ERROR;
            break;
        case OPT_MAX_CONNECTIONS:
        case OPT_SHUTDOWN_TIMEOUT:
        case OPT_IDLE_TIMEOUT:
        case OPT_HEADER_TIMEOUT:
        case OPT_BODY_TIMEOUT:
        case OPT_MAX_HEADER_BYTES:
        case OPT_MAX_HEADERS:
        case OPT_MAX_BODY_BYTES:
            for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); ++i)
                if (bounds[i].option == option)
                    bound_texts[i] = optarg;
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
    if (serve && parse_bounds(config, bound_texts, err, err_size) != 0)
        return CONFIG_ERROR;
    if (serve && !cors_given && env_or("CORS_ORIGIN", NULL) != NULL &&
        http_cors_add(&config->cors, env_or("CORS_ORIGIN", NULL), err, err_size) != 0)
        return CONFIG_ERROR;
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

void config_dispose(config_t *config)
{
    http_cors_dispose(&config->cors);
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
