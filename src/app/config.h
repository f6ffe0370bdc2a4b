/*
 * config: the command line and environment of `flashsale serve`, `flashsale worker` and
 * `flashsale data-loss`.
 *
 * Every flag has an environment variable of the same meaning; a flag wins over its variable.
 * Parsing is pure (no I/O beyond reading the environment) so that bad configuration is reported
 * as one line before anything starts.
 */
#ifndef FLASHSALE_CONFIG_H
#define FLASHSALE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "app/config_identity.h"
#include "core/log.h"
#include "http/http_cors.h"

typedef struct {
    const char *listen;    /* address to bind, default 127.0.0.1 */
    int port;              /* default 8080 */
    const char *data_dir;  /* embedded mode's SQLite files, default ./data */
    const char *admin_key; /* required unless demo */
    int threads;           /* event-loop threads, default the CPU count */
    bool demo;             /* create a live demo sale at start */
    const char *redis_url; /* distributed mode when set (with postgres_url) */
    const char *postgres_url;
    bool with_worker;      /* run the persister inside the server */
    bool acknowledge;      /* data-loss: mark the listed losses acknowledged */
    log_level_t log_level; /* default info */
    /* connection bounds (docs/api.md, "Limits"); 0 max_connections: derived from the fd limit */
    size_t max_connections;
    unsigned shutdown_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned header_timeout_ms;
    unsigned body_timeout_ms;
    unsigned max_header_bytes;
    unsigned max_headers;
    unsigned max_body_bytes;
    bool http2;
    http_cors_t cors;           /* --cors-origin, may be repeated; owned: config_dispose */
    config_identity_t identity; /* --auth, --jwt-*, rate limits, trusted proxies */
    const char *web_root;       /* serve the pages from this directory instead of the copy built in */
    /* The live events (docs/api.md): streams per server, and their heartbeat and stall cut-off. */
    int max_subscribers;          /* default 20000 */
    unsigned events_heartbeat_ms; /* default 15 s */
    unsigned events_stall_ms;     /* default 10 s */
} config_t;

typedef enum {
    CONFIG_OK,
    CONFIG_HELP,  /* --help: print the usage and exit 0 */
    CONFIG_ERROR, /* err holds one line */
} config_result_t;

/* Frees what parsing allocated (the CORS origins). */
void config_dispose(config_t *config);

/* Parses `serve` arguments (argv[0] is "serve"); strings point into argv or the environment. */
config_result_t config_parse_serve(config_t *config, int argc, char **argv, char *err, size_t err_size);
/* Parses `worker` arguments: only the two URLs (and --help) are meaningful. */
config_result_t config_parse_worker(config_t *config, int argc, char **argv, char *err, size_t err_size);
/*
 * Parses `user grant-admin USERNAME` (argv[0] is "user"): the storage flags of serve (--data-dir,
 * or --redis and --postgres) and --log-level; *username points into argv.
 */
config_result_t config_parse_user(config_t *config, int argc, char **argv, const char **username, char *err,
                                  size_t err_size);
/* Parses `data-loss` arguments: --postgres (required) and --acknowledge. */
config_result_t config_parse_data_loss(config_t *config, int argc, char **argv, char *err, size_t err_size);

extern const char config_usage[];

#endif
