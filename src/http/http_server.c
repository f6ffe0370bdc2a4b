#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define LOOP_TICK_MS 100 /* how soon a loop notices the stop flag */

struct http_server {
    http_server_options_t options;
    h2o_globalconf_t config;
    http_loop_t *loops;
    http_metrics_t *metrics;            /* one per loop */
    event_stream_stats_t *stream_stats; /* one per loop */
    conn_limit_t connections;
    atomic_bool stopping;
    /* the start gate: guarded by start_lock */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    size_t initialised; /* threads that finished initialising, successfully or not */
    bool start_decided;
    bool start_failed;
};

/* Fills address from the listen option; returns its length, or 0 after writing err. */
static socklen_t parse_address(const http_server_options_t *options, struct sockaddr_storage *address,
                               char *err, size_t err_size)
{
    struct sockaddr_in *ipv4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *)address;

    memset(address, 0, sizeof(*address));
    if (inet_pton(AF_INET, options->listen, &ipv4->sin_addr) == 1) {
        ipv4->sin_family = AF_INET;
        ipv4->sin_port = htons((uint16_t)options->port);
        return sizeof(*ipv4);
    }
    if (inet_pton(AF_INET6, options->listen, &ipv6->sin6_addr) == 1) {
        ipv6->sin6_family = AF_INET6;
        ipv6->sin6_port = htons((uint16_t)options->port);
        return sizeof(*ipv6);
    }
    snprintf(err, err_size, "listen address '%s' is not an IPv4 or IPv6 address", options->listen);
    return 0;
}

/*
 * Binds a socket to the listen address. With share_port, SO_REUSEPORT lets every loop thread
 * have its own listener; without it the bind fails if anyone listens there already, which is how
 * the server refuses a port that another process serves (SO_REUSEPORT would silently share it).
 */
static int bind_listener(const http_server_options_t *options, bool share_port, char *err, size_t err_size)
{
    struct sockaddr_storage address;
    socklen_t address_len = parse_address(options, &address, err, err_size);
    int fd, on = 1;

    if (address_len == 0)
        return -1;
    if ((fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (share_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&address, address_len) != 0) {
        snprintf(err, err_size, "cannot listen on %s port %d: %s", options->listen, options->port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int open_listener(const http_server_options_t *options, char *err, size_t err_size)
{
    int fd = bind_listener(options, true, err, err_size);

    if (fd >= 0 && listen(fd, SOMAXCONN) != 0) {
        snprintf(err, err_size, "cannot listen on %s port %d: %s", options->listen, options->port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int check_port_free(const http_server_options_t *options, char *err, size_t err_size)
{
    int fd = bind_listener(options, false, err, err_size);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static void serve_socket(void *data, h2o_socket_t *sock)
{
    http_loop_t *loop = data;
    http1_accept(&loop->http1, sock);
}

static bool evict(void *data)
{
    http_loop_t *loop = data;
    return http1_evict(&loop->http1);
}

/*
 * The graceful stop of one loop: no new connections, every request received answered with
 * "Connection: close", idle connections closed, all within the shutdown timeout.
 */
static void drain(http_loop_t *loop)
{
    const http_server_options_t *options = &loop->server->options;
    int64_t deadline = clock_monotonic_ms() + (int64_t)options->shutdown_timeout_ms;

    acceptor_close(&loop->acceptor);
    /* HTTP/2 connections (--http2) get a GOAWAY from h2o */
    h2o_context_request_shutdown(&loop->context);
    /* an event stream is never done by itself: it ends here, its last bytes go out below */
    if (loop->streams != NULL)
        event_stream_loop_destroy(loop->streams);
    loop->streams = NULL;
    http1_stop(&loop->http1);
    while ((loop->acceptor.open > 0 || loop->in_flight > 0) && clock_monotonic_ms() < deadline)
        h2o_evloop_run(loop->context.loop, LOOP_TICK_MS);
    if (loop->acceptor.open > 0 || loop->in_flight > 0)
        log_warn("http", "shutdown timeout: %zu connections and %zu replies left on loop %zu",
                 loop->acceptor.open, loop->in_flight, loop->index);
}

/* ---- the loop threads ------------------------------------------------------------------- */

/*
 * Everything a loop uses is created here, on the thread that runs it: by the server, then by the
 * loop_start hook. h2o 2.2.5 keeps per-thread state behind its sockets (the socket buffer
 * prototype and its recycle list are __thread): a socket created on one thread and read on another
 * shares that thread's allocator unlocked, which under load is a use-after-free. The listening
 * descriptor alone comes from the main thread, as a plain fd, so that a taken port is reported
 * before any thread starts.
 */
static int init_thread(http_loop_t *loop)
{
    http_server_t *server = loop->server;

    acceptor_callbacks_t callbacks = {.serve = serve_socket, .evict = evict, .data = loop};

    h2o_context_init(&loop->context, h2o_evloop_create(), &server->config);
    loop->accept.ctx = &loop->context;
    loop->accept.hosts = server->config.hosts;
    if (http1_loop_init(&loop->http1, &loop->context, &loop->accept, &server->options.http1) != 0) {
        snprintf(loop->error, sizeof(loop->error), "out of memory");
        return -1;
    }
    /* the acceptor owns the descriptor from here on */
    acceptor_init(&loop->acceptor, loop->context.loop, loop->listen_fd, &server->connections, &callbacks);
    loop->listen_fd = -1;
    loop->listening = true;
    if ((loop->streams = event_stream_loop_create(loop->context.loop, &server->options.streams,
                                                  loop->stream_stats)) == NULL) {
        snprintf(loop->error, sizeof(loop->error), "out of memory");
        return -1;
    }
    return server->options.loop_start(loop, server->options.data, loop->error, sizeof(loop->error));
}

/*
 * The start gate: each thread reports that it initialised (or failed), then waits until the main
 * thread, having heard from every thread it started, decides whether to serve. No thread accepts
 * a connection before all of them are ready.
 */
static bool wait_for_start(http_loop_t *loop)
{
    http_server_t *server = loop->server;
    bool serve;

    pthread_mutex_lock(&server->start_lock);
    ++server->initialised;
    pthread_cond_broadcast(&server->start_cond);
    while (!server->start_decided)
        pthread_cond_wait(&server->start_cond, &server->start_lock);
    serve = !server->start_failed;
    pthread_mutex_unlock(&server->start_lock);
    return serve;
}

/* Returns true when every started thread initialised and all count threads started. */
static bool decide_start(http_server_t *server, size_t started, size_t count, char *err, size_t err_size)
{
    pthread_mutex_lock(&server->start_lock);
    while (server->initialised < started)
        pthread_cond_wait(&server->start_cond, &server->start_lock);
    server->start_failed = started < count;
    for (size_t i = 0; i < started && !server->start_failed; ++i) {
        if (server->loops[i].failed) {
            snprintf(err, err_size, "%s", server->loops[i].error);
            server->start_failed = true;
        }
    }
    server->start_decided = true;
    pthread_cond_broadcast(&server->start_cond);
    pthread_mutex_unlock(&server->start_lock);
    return !server->start_failed;
}

static void *run_thread(void *arg)
{
    http_loop_t *loop = arg;
    http_server_t *server = loop->server;

    loop->failed = init_thread(loop) != 0;
    if (wait_for_start(loop)) {
        acceptor_start(&loop->acceptor);
        while (!atomic_load(&server->stopping))
            h2o_evloop_run(loop->context.loop, LOOP_TICK_MS);
    }
    if (loop->listening)
        drain(loop);
    server->options.loop_stop(loop, server->options.data);
    /* The h2o context and loop are left to the process exit: idle keep-alive connections still hold
       timeouts in them, and h2o 2.2.5 asserts that none remain when either is disposed. */
    return NULL;
}

/* The h2o handler of every path: one router lookup, on the loop that accepted the connection. */
static int on_request(h2o_handler_t *handler, h2o_req_t *req)
{
    http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(http_loop_t, context, req->conn->ctx);
    http_request_t request = {.req = req, .loop = loop, .started_ns = clock_monotonic_ns()};

    (void)handler;
    if (!http_cors_handle(loop->server->options.cors, loop->server->options.router, &request))
        http_router_dispatch(loop->server->options.router, &request);
    return 0;
}

static void init_config(http_server_t *server)
{
    const http1_options_t *http1 = &server->options.http1;
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *handler;

    h2o_config_init(&server->config);
    /* h2o's own HTTP/1 and HTTP/2 layers serve only connections handed over with --http2 */
    server->config.http1.upgrade_to_http2 = http1->http2;
    server->config.max_request_entity_size = (size_t)http1->max_body_bytes;
    server->config.http1.req_timeout = http1->header_timeout_ms;
    server->config.http2.idle_timeout = http1->idle_timeout_ms;
    server->config.server_name = h2o_iovec_init(H2O_STRLIT("flashsale"));
    host = h2o_config_register_host(&server->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_request;
}

int http_server_run(const http_server_options_t *options, char *err, size_t err_size)
{
    http_server_t server = {.options = *options};
    size_t count = (size_t)options->threads, started = 0, path_count;
    sigset_t signals;
    int result = -1, signal_number;

    http_router_path_names(options->router, &path_count);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    /* threads inherit the mask, so only sigwait below ever sees these signals */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (check_port_free(options, err, err_size) != 0)
        return -1;
    init_config(&server);
    conn_limit_init(&server.connections, options->max_connections);
    server.loops = calloc(count, sizeof(*server.loops));
    server.metrics = calloc(count, sizeof(*server.metrics));
    server.stream_stats = calloc(count, sizeof(*server.stream_stats));
    if (server.loops == NULL || server.metrics == NULL || server.stream_stats == NULL) {
        snprintf(err, err_size, "out of memory");
        goto Exit;
    }
    for (size_t i = 0; i < count; ++i) {
        http_loop_t *loop = &server.loops[i];
        loop->server = &server;
        loop->index = i;
        loop->metrics = &server.metrics[i];
        loop->stream_stats = &server.stream_stats[i];
        loop->listen_fd = -1;
        strbuf_init(&loop->body);
    }
    for (size_t i = 0; i < count; ++i) {
        if (http_metrics_init(&server.metrics[i], path_count) != 0) {
            snprintf(err, err_size, "out of memory");
            goto Exit;
        }
        if ((server.loops[i].listen_fd = open_listener(options, err, err_size)) < 0)
            goto Exit;
    }

    pthread_mutex_init(&server.start_lock, NULL);
    pthread_cond_init(&server.start_cond, NULL);
    for (; started < count; ++started) {
        int error = pthread_create(&server.loops[started].tid, NULL, run_thread, &server.loops[started]);
        if (error != 0) {
            snprintf(err, err_size, "cannot start a loop thread: %s", strerror(error));
            break;
        }
    }
    if (decide_start(&server, started, count, err, err_size)) {
        log_info(
            "http",
            "serving http://%s:%d with %zu threads; file descriptor limit %zu, at most %zu connections%s",
            options->listen, options->port, count, options->nofile, options->max_connections,
            options->http1.http2 ? "; HTTP/2 enabled" : "");
        if (options->max_connections > options->nofile)
            log_warn("http", "--max-connections %zu is above the file descriptor limit %zu",
                     options->max_connections, options->nofile);
        sigwait(&signals, &signal_number);
        log_info("http", "%s received, finishing requests in flight", strsignal(signal_number));
        result = 0;
    }
    atomic_store(&server.stopping, true);
    for (size_t i = 0; i < started; ++i)
        pthread_join(server.loops[i].tid, NULL);
    pthread_cond_destroy(&server.start_cond);
    pthread_mutex_destroy(&server.start_lock);

Exit:
    for (size_t i = 0; server.loops != NULL && i < count; ++i) {
        if (server.loops[i].listen_fd >= 0)
            close(server.loops[i].listen_fd);
        strbuf_dispose(&server.loops[i].body);
        if (server.metrics != NULL)
            http_metrics_dispose(&server.metrics[i]);
    }
    free(server.loops);
    free(server.metrics);
    free(server.stream_stats);
    h2o_config_dispose(&server.config);
    return result;
}

void http_server_render_metrics(const http_server_t *server, strbuf_t *out)
{
    size_t path_count;
    const char *const *names = http_router_path_names(server->options.router, &path_count);
    http_metrics_render(out, server->metrics, (size_t)server->options.threads, names);
    event_stream_render_metrics(out, server->stream_stats, (size_t)server->options.threads);
}
