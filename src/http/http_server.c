#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/http_api.h"

#define LOOP_TICK_MS 100 /* how soon a loop notices the stop flag */

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
    http_thread_t *thread = data;
    http1_accept(&thread->http1, sock);
}

static bool evict_idle(void *data)
{
    http_thread_t *thread = data;
    return http1_evict(&thread->http1);
}

/*
 * The graceful stop of one loop: no new connections, idle ones closed, every request received
 * answered with "Connection: close", all within the shutdown timeout.
 */
static void drain(http_thread_t *thread)
{
    const http_server_options_t *options = &thread->server->options;
    int64_t deadline = clock_monotonic_ms() + (int64_t)options->shutdown_timeout_ms;

    acceptor_close(&thread->acceptor);
    /* HTTP/2 connections (--http2) get a GOAWAY from h2o */
    h2o_context_request_shutdown(&thread->context);
    http1_stop(&thread->http1);
    while ((thread->acceptor.open > 0 || thread->in_flight > 0) && clock_monotonic_ms() < deadline)
        h2o_evloop_run(thread->context.loop, LOOP_TICK_MS);
    if (thread->acceptor.open > 0 || thread->in_flight > 0)
        fprintf(stderr, "flashsale: shutdown timeout: %zu connections and %zu store calls left\n",
                thread->acceptor.open, thread->in_flight);
}

/* ---- the demo sale ------------------------------------------------------------------------- */

typedef struct {
    http_thread_t *thread;
    bool done;
    bool failed;
} demo_t;

static void on_demo_created(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;
    demo->failed = result->status != ENGINE_OK;
    demo->done = true;
}

static void create_demo_sale(demo_t *demo)
{
    int64_t now = clock_now_ms();
    sale_fields_t fields = {
        .has_sku = true,
        .has_product_name = true,
        .has_initial_stock = true,
        .has_start = true,
        .has_end = true,
        .sku = "DEMO-001",
        .product_name = "Limited Edition Demo Widget",
        .initial_stock = 100,
        .start_ms = now - 1000,
        .end_ms = now + 24 * 3600 * 1000,
    };
    engine_loop_t *loop = demo->thread->engine;
    loop->engine->ops->create_sale(loop, &fields, on_demo_created, demo);
}

static void on_demo_deleted(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;
    if (result->status != ENGINE_OK) {
        demo->failed = demo->done = true;
        return;
    }
    create_demo_sale(demo);
}

/* A demo sale left by an earlier run is replaced unless it is still live. */
static void on_demo_found(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;
    engine_loop_t *loop = demo->thread->engine;

    if (result->status == ENGINE_NOT_FOUND)
        create_demo_sale(demo);
    else if (result->status == ENGINE_OK && sale_state(result->sale, clock_now_ms()) == SALE_STATE_ACTIVE)
        demo->done = true;
    else if (result->status == ENGINE_OK)
        loop->engine->ops->delete_sale(loop, "DEMO-001", on_demo_deleted, demo);
    else
        demo->failed = demo->done = true;
}

static int prepare_demo(http_thread_t *thread, char *err, size_t err_size)
{
    demo_t demo = {.thread = thread};

    thread->engine->engine->ops->get_sale(thread->engine, "DEMO-001", on_demo_found, &demo);
    while (!demo.done)
        h2o_evloop_run(thread->context.loop, LOOP_TICK_MS);
    if (demo.failed) {
        snprintf(err, err_size, "cannot create the demo sale");
        return -1;
    }
    return 0;
}

/* ---- the loop threads ------------------------------------------------------------------- */

/*
 * Everything a loop uses is created here, on the thread that runs it. h2o 2.2.5 keeps per-thread
 * state behind its sockets (the socket buffer prototype and its recycle list are __thread): a
 * socket created on one thread and read on another shares that thread's allocator unlocked, which
 * under load is a use-after-free. The listening descriptor alone comes from the main thread, as a
 * plain fd, so that a taken port is reported before any thread starts.
 */
static int init_thread(http_thread_t *thread)
{
    http_server_t *server = thread->server;

    acceptor_callbacks_t callbacks = {.serve = serve_socket, .evict = evict_idle, .data = thread};

    h2o_context_init(&thread->context, h2o_evloop_create(), &server->config);
    thread->accept.ctx = &thread->context;
    thread->accept.hosts = server->config.hosts;
    if (http1_loop_init(&thread->http1, &thread->context, &thread->accept, &server->options.http1) != 0) {
        snprintf(thread->error, sizeof(thread->error), "out of memory");
        return -1;
    }
    /* the acceptor owns the descriptor from here on */
    acceptor_init(&thread->acceptor, thread->context.loop, thread->listen_fd, &server->connections,
                  &callbacks);
    thread->listen_fd = -1;
    thread->listening = true;
    if ((thread->engine =
             server->options.engine->ops->attach(server->options.engine, thread->context.loop)) == NULL) {
        snprintf(thread->error, sizeof(thread->error), "the storage engine refused a loop thread");
        return -1;
    }
    if (server->options.demo && thread == &server->threads[0] &&
        prepare_demo(thread, thread->error, sizeof(thread->error)) != 0)
        return -1;
    return 0;
}

/*
 * The start gate: each thread reports that it initialised (or failed), then waits until the main
 * thread, having heard from every thread it started, decides whether to serve. No thread accepts
 * a connection before all of them are ready.
 */
static bool wait_for_start(http_thread_t *thread)
{
    http_server_t *server = thread->server;
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
        if (server->threads[i].failed) {
            snprintf(err, err_size, "%s", server->threads[i].error);
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
    http_thread_t *thread = arg;
    http_server_t *server = thread->server;

    thread->failed = init_thread(thread) != 0;
    if (wait_for_start(thread)) {
        acceptor_start(&thread->acceptor);
        while (!atomic_load(&server->stopping))
            h2o_evloop_run(thread->context.loop, LOOP_TICK_MS);
    }
    if (thread->listening)
        drain(thread);
    if (thread->engine != NULL)
        server->options.engine->ops->detach(thread->engine);
    thread->engine = NULL;
    /* The h2o context and loop are left to the process exit: idle keep-alive connections still hold
       timeouts in them, and h2o 2.2.5 asserts that none remain when either is disposed. */
    return NULL;
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
    handler->on_req = http_api_handle;
}

int http_server_run(const http_server_options_t *options, char *err, size_t err_size)
{
    http_server_t server = {.options = *options, .started_ms = clock_monotonic_ms()};
    size_t count = (size_t)options->threads, started = 0;
    sigset_t signals;
    int result = -1, signal_number;

    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    /* threads inherit the mask, so only sigwait below ever sees these signals */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (check_port_free(options, err, err_size) != 0)
        return -1;
    crypto_generichash(server.admin_key_hash, sizeof(server.admin_key_hash),
                       (const unsigned char *)options->admin_key, strlen(options->admin_key), NULL, 0);
    init_config(&server);
    conn_limit_init(&server.connections, options->max_connections);
    server.threads = calloc(count, sizeof(*server.threads));
    server.metrics = calloc(count, sizeof(*server.metrics));
    if (server.threads == NULL || server.metrics == NULL) {
        snprintf(err, err_size, "out of memory");
        goto Exit;
    }
    for (size_t i = 0; i < count; ++i) {
        http_thread_t *thread = &server.threads[i];
        thread->server = &server;
        thread->metrics = &server.metrics[i];
        strbuf_init(&thread->body);
        if ((thread->listen_fd = open_listener(options, err, err_size)) < 0)
            goto Exit;
    }

    pthread_mutex_init(&server.start_lock, NULL);
    pthread_cond_init(&server.start_cond, NULL);
    for (; started < count; ++started) {
        int error = pthread_create(&server.threads[started].tid, NULL, run_thread, &server.threads[started]);
        if (error != 0) {
            snprintf(err, err_size, "cannot start a loop thread: %s", strerror(error));
            break;
        }
    }
    if (decide_start(&server, started, count, err, err_size)) {
        fprintf(stderr,
                "flashsale: serving http://%s:%d with %zu threads; file descriptor limit %zu, at most %zu "
                "connections%s\n",
                options->listen, options->port, count, options->nofile, options->max_connections,
                options->http1.http2 ? "; HTTP/2 enabled" : "");
        if (options->max_connections > options->nofile)
            fprintf(stderr,
                    "flashsale: warning: --max-connections %zu is above the file descriptor limit %zu\n",
                    options->max_connections, options->nofile);
        sigwait(&signals, &signal_number);
        fprintf(stderr, "flashsale: %s received, finishing requests in flight\n", strsignal(signal_number));
        result = 0;
    }
    atomic_store(&server.stopping, true);
    for (size_t i = 0; i < started; ++i)
        pthread_join(server.threads[i].tid, NULL);
    pthread_cond_destroy(&server.start_cond);
    pthread_mutex_destroy(&server.start_lock);

Exit:
    for (size_t i = 0; server.threads != NULL && i < count; ++i) {
        if (server.threads[i].listen_fd >= 0)
            close(server.threads[i].listen_fd);
        strbuf_dispose(&server.threads[i].body);
    }
    free(server.threads);
    free(server.metrics);
    h2o_config_dispose(&server.config);
    return result;
}
