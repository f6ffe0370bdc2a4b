/*
 * http_server: the event-loop threads, their listeners and the orderly stop.
 *
 * Each of the N threads owns one h2o evloop, one h2o context, one SO_REUSEPORT listener (the
 * kernel spreads connections across them) and one engine loop handle, so a request is served
 * start to finish on the thread that accepted it without any lock of the HTTP layer; only the
 * count of open connections (conn_limit) is shared. Connections are served by http1_conn.
 *
 * Signals are taken by the main thread only (sigwait). On SIGTERM or SIGINT every thread accepts
 * what waits in its listener's backlog and closes the listener, closes its idle connections, and
 * keeps serving the requests it has received, each answered with "Connection: close", until no
 * connection and no engine call is left or the shutdown timeout has passed; then it detaches from
 * the engine and exits, and only then is the engine closed, which flushes the ledger.
 */
#ifndef FLASHSALE_HTTP_SERVER_H
#define FLASHSALE_HTTP_SERVER_H

#include <h2o.h>
#include <sodium.h>
#include <stdatomic.h>

#include "core/engine.h"
#include "core/strbuf.h"
#include "http/acceptor.h"
#include "http/conn_limit.h"
#include "http/http1_conn.h"
#include "http/metrics.h"

#define HTTP_MAX_BODY 16384

typedef struct http_server http_server_t;

typedef struct {
    const char *listen;
    int port;
    int threads;
    const char *admin_key;
    engine_t *engine;
    /* when set, the demo sale is made live before the first connection is accepted */
    bool demo;
    http1_options_t http1;
    size_t max_connections;       /* open at once, over all threads */
    size_t nofile;                /* the descriptor limit, for the start-up line */
    uint64_t shutdown_timeout_ms; /* the longest a stop waits for requests and connections */
} http_server_options_t;

/* One event-loop thread. The h2o context comes first: handlers get back here from req->conn->ctx. */
typedef struct {
    h2o_context_t context;
    http_server_t *server;
    engine_loop_t *engine;
    metrics_thread_t *metrics;
    strbuf_t body;    /* the reply being built; reset per reply */
    size_t in_flight; /* engine calls not yet answered */
    h2o_accept_ctx_t accept;
    acceptor_t acceptor;
    http1_loop_t http1;
    bool listening; /* acceptor and http1 are initialised */
    int listen_fd;  /* until the thread wraps it in its acceptor */
    pthread_t tid;
    bool failed; /* the thread could not initialise; error says why */
    char error[256];
} http_thread_t;

struct http_server {
    http_server_options_t options;
    h2o_globalconf_t config;
    unsigned char admin_key_hash[crypto_generichash_BYTES];
    http_thread_t *threads;
    metrics_thread_t *metrics;
    int64_t started_ms; /* monotonic */
    conn_limit_t connections;
    atomic_bool stopping;
    /* the start gate (http_server.c): guarded by start_lock */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    size_t initialised; /* threads that finished initialising, successfully or not */
    bool start_decided;
    bool start_failed;
};

/*
 * Binds every listener, serves until SIGTERM or SIGINT, then stops in order. Returns 0 after a
 * clean stop, or a negative code with one human line in err when the server could not start
 * (the address is taken, say). The engine is not closed here.
 */
int http_server_run(const http_server_options_t *options, char *err, size_t err_size);

#endif
