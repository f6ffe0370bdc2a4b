/*
 * http_server: the event-loop threads, their listeners, the start gate and the orderly stop.
 *
 * Each of the N threads owns one h2o evloop, one h2o context and one SO_REUSEPORT listener (the
 * kernel spreads connections across them), all created on that thread, so a request is served start
 * to finish on the thread that accepted it without any lock of the HTTP layer; only the count of
 * open connections (conn_limit) is shared. Connections are read and answered by http1_conn and
 * accepted by acceptor. What a loop serves is the route table's business (http_router); what the
 * layer above keeps per loop (its engine handle, say) it sets up in the loop_start hook, on the
 * loop's own thread, before any loop accepts a connection.
 *
 * Signals are taken by the main thread only (sigwait). On SIGTERM or SIGINT every thread accepts
 * what waits in its listener's backlog and closes the listener, answers every request it receives
 * with "Connection: close", closes idle connections cleanly, and keeps serving until no
 * connection and no promised reply is left or the shutdown timeout has passed; then it runs
 * loop_stop and exits.
 */
#ifndef FLASHSALE_HTTP_SERVER_H
#define FLASHSALE_HTTP_SERVER_H

#include <h2o.h>
#include <stdbool.h>

#include "core/strbuf.h"
#include "http/acceptor.h"
#include "http/event_stream.h"
#include "http/http1_conn.h"
#include "http/http_cors.h"
#include "http/http_metrics.h"
#include "http/http_router.h"

typedef struct http_server http_server_t;

typedef struct {
    const char *listen;
    int port;
    int threads;
    const http_router_t *router;
    event_stream_config_t streams; /* the bounds of every event stream (http/event_stream) */
    /*
     * Run on each loop's thread once its loop, context and listener exist, and before the start
     * gate: no loop accepts a connection before every loop_start returned. Sets loop->data; returns
     * 0, or -1 with one line in err, and then the server does not start.
     */
    int (*loop_start)(http_loop_t *loop, void *data, char *err, size_t err_size);
    /* Run on the same thread once the loop drained, also when loop_start failed. */
    void (*loop_stop)(http_loop_t *loop, void *data);
    void *data;
    http1_options_t http1;        /* the bounds of a connection */
    size_t max_connections;       /* open at once, over all threads */
    size_t nofile;                /* the descriptor limit, for the start-up line */
    uint64_t shutdown_timeout_ms; /* the longest a stop waits for requests and connections */
    const http_cors_t *cors;      /* the origins allowed; none (count 0) by default */
} http_server_options_t;

/* One event-loop thread. The h2o context comes first: handlers get back here from req->conn->ctx. */
struct http_loop {
    h2o_context_t context;
    http_server_t *server;
    size_t index; /* 0 .. threads - 1 */
    void *data;   /* the layer above's, from loop_start */
    /* Replies promised but not sent yet (an engine answers later): a stop waits for them, bounded. */
    size_t in_flight;
    strbuf_t body; /* the reply being built (http_reply) */
    http_metrics_t *metrics;
    event_stream_loop_t *streams; /* this loop's event streams; a stop ends them first */
    event_stream_stats_t *stream_stats;
    h2o_accept_ctx_t accept;
    acceptor_t acceptor;
    http1_loop_t http1;
    bool listening; /* acceptor and http1 are initialised */
    int listen_fd;  /* until the thread wraps it in its acceptor */
    pthread_t tid;
    bool failed; /* the thread could not initialise; error says why */
    char error[256];
};

/*
 * Binds every listener, serves until SIGTERM or SIGINT, then stops in order. Returns 0 after a
 * clean stop, or a negative code with one human line in err when the server could not start
 * (the address is taken, say).
 */
int http_server_run(const http_server_options_t *options, char *err, size_t err_size);

/* Appends the request and event-stream metrics of every loop as Prometheus text; from any loop's thread. */
void http_server_render_metrics(const http_server_t *server, strbuf_t *out);

#endif
