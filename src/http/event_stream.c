#include "http/event_stream.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "http/http_server.h"

/* A buffer that grew past this (a burst) is given back once written, so idle streams stay small. */
#define KEEP_CAPACITY 4096
/* "id: " + 20 digits + "\ndata: " + "\n\n" */
#define EVENT_OVERHEAD 40
#define HEARTBEAT      ": ping\n\n"
/*
 * At most this many streams are written in one loop turn. A round of events to thousands of
 * subscribers (a stock update of a sale that they all follow) costs one write each, about 10 µs of
 * kernel time on loopback: written in one go, 10,000 of them would hold the loop for 100 ms and
 * every purchase that arrived meanwhile would wait for it. In slices, the loop serves its other
 * sockets between two of them, and a purchase waits for one slice, a millisecond or less.
 */
#define FLUSH_SLICE 64

struct event_stream_loop {
    h2o_loop_t *loop;
    event_stream_config_t config;
    event_stream_stats_t *stats;
    h2o_linklist_t streams; /* every open stream */
    h2o_linklist_t dirty;   /* streams with bytes queued and no write in flight */
    size_t lagging;         /* streams lagging now */
    uint64_t busy_ns;       /* spent on the streams' writes and their completions */
    /*
     * Both 0 ms. h2o runs a loop's timeouts in the order they were made, and an entry that a
     * callback links again on its own timeout runs again in the same turn: so the next slice is
     * linked on next_turn_timeout, made first and already run in this turn, whose callback links
     * flush for the end of the next turn, after the loop polled its sockets.
     */
    h2o_timeout_t next_turn_timeout;
    h2o_timeout_entry_t next_turn;
    h2o_timeout_t flush_timeout; /* the end of this loop turn */
    h2o_timeout_entry_t flush;
    h2o_timeout_t heartbeat_timeout;
    h2o_timeout_entry_t heartbeat;
    h2o_timeout_t stall_timeout; /* half of stall_ms: a stall is cut between 1 and 1.5 times it */
    h2o_timeout_entry_t stall_check;
};

/*
 * Lives in its request's pool: h2o frees it with the request, after stop or the final write. Once
 * ended (on_close ran) it belongs to no owner any more and only finishes its response.
 */
struct event_stream {
    h2o_generator_t generator; /* first: h2o hands it back to proceed and stop */
    h2o_req_t *req;
    event_stream_loop_t *owner;
    const event_stream_handler_t *handler;
    void *data;
    h2o_linklist_t link;       /* in owner->streams while open */
    h2o_linklist_t dirty_link; /* in owner->dirty */
    strbuf_t queue;            /* waiting behind the write in flight */
    strbuf_t flight;           /* being written: h2o points into it until proceed */
    uint64_t next_id;
    int64_t lagging_since; /* monotonic ms */
    bool writing;
    bool lagging;
    bool cut;      /* disconnect shut its socket down */
    bool failed;   /* out of memory, or closed inside on_resume: ends at the next chance */
    bool resuming; /* inside on_resume */
    bool ended;    /* on_close ran: nothing more is queued, the response ends after the write in flight */
};

/* Single-writer increment: no locked instruction, yet a well-defined read from other threads. */
static void bump(_Atomic uint64_t *counter, int64_t by)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + (uint64_t)by,
                          memory_order_relaxed);
}

static void free_owner(event_stream_loop_t *owner)
{
    assert(h2o_linklist_is_empty(&owner->streams));
    h2o_timeout_unlink(&owner->next_turn);
    h2o_timeout_unlink(&owner->flush);
    h2o_timeout_unlink(&owner->heartbeat);
    h2o_timeout_unlink(&owner->stall_check);
    h2o_timeout_dispose(owner->loop, &owner->next_turn_timeout);
    h2o_timeout_dispose(owner->loop, &owner->flush_timeout);
    h2o_timeout_dispose(owner->loop, &owner->heartbeat_timeout);
    h2o_timeout_dispose(owner->loop, &owner->stall_timeout);
    free(owner);
}

/* The stream is over for its owner: no more lists, counters or callbacks. */
static void end_stream(event_stream_t *stream)
{
    event_stream_loop_t *owner = stream->owner;
    assert(!stream->ended);
    stream->ended = true;
    h2o_linklist_unlink(&stream->link);
    if (h2o_linklist_is_linked(&stream->dirty_link))
        h2o_linklist_unlink(&stream->dirty_link);
    if (stream->lagging) {
        stream->lagging = false;
        --owner->lagging;
    }
    stream->owner = NULL;
    bump(&owner->stats->open, -1);
    stream->handler->on_close(stream, stream->data);
}

/* The last write, with what is still queued. h2o may free the request, and so the stream, inside
 * h2o_send: nothing touches it afterwards. */
static void send_final(event_stream_t *stream)
{
    h2o_iovec_t rest = h2o_iovec_init(stream->queue.data, stream->queue.len);
    h2o_send(stream->req, &rest, rest.len > 0 ? 1 : 0, H2O_SEND_STATE_FINAL);
}

static void mark_dirty(event_stream_t *stream)
{
    event_stream_loop_t *owner = stream->owner;
    if (!h2o_linklist_is_linked(&stream->dirty_link))
        h2o_linklist_insert(&owner->dirty, &stream->dirty_link);
    /* a flush that waits for the next turn takes this stream along */
    if (!h2o_timeout_is_linked(&owner->flush) && !h2o_timeout_is_linked(&owner->next_turn))
        h2o_timeout_link(owner->loop, &owner->flush_timeout, &owner->flush);
}

/* Hands the queue to h2o; it stays untouched until proceed. */
static void write_queue(event_stream_t *stream)
{
    assert(!stream->writing && stream->queue.len > 0);
    strbuf_t written = stream->queue;
    stream->queue = stream->flight;
    stream->flight = written;
    strbuf_reset(&stream->queue);
    stream->writing = true;
    h2o_iovec_t buffer = h2o_iovec_init(stream->flight.data, stream->flight.len);
    h2o_send(stream->req, &buffer, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    event_stream_loop_t *owner = H2O_STRUCT_FROM_MEMBER(event_stream_loop_t, flush, entry);
    uint64_t started = monotonic_ns();
    for (size_t written = 0; written < FLUSH_SLICE && !h2o_linklist_is_empty(&owner->dirty); ++written) {
        event_stream_t *stream = H2O_STRUCT_FROM_MEMBER(event_stream_t, dirty_link, owner->dirty.next);
        h2o_linklist_unlink(&stream->dirty_link);
        if (stream->failed)
            event_stream_close(stream);
        else if (!stream->writing && stream->queue.len > 0)
            write_queue(stream);
    }
    if (!h2o_linklist_is_empty(&owner->dirty))
        h2o_timeout_link(owner->loop, &owner->next_turn_timeout, &owner->next_turn);
    owner->busy_ns += monotonic_ns() - started;
}

static void on_next_turn(h2o_timeout_entry_t *entry)
{
    event_stream_loop_t *owner = H2O_STRUCT_FROM_MEMBER(event_stream_loop_t, next_turn, entry);
    h2o_timeout_link(owner->loop, &owner->flush_timeout, &owner->flush);
}

/* h2o wrote the buffer: the reader took it (or the kernel did). */
static void proceed(event_stream_t *stream)
{
    stream->writing = false;
    if (stream->ended) {
        send_final(stream);
        return;
    }
    if (stream->failed) {
        event_stream_close(stream);
        return;
    }
    if (stream->flight.capacity > KEEP_CAPACITY) {
        strbuf_dispose(&stream->flight);
        strbuf_init(&stream->flight);
    }
    strbuf_reset(&stream->flight);
    if (stream->lagging) {
        stream->lagging = false;
        --stream->owner->lagging;
        stream->resuming = true;
        stream->handler->on_resume(stream, stream->data);
        stream->resuming = false;
        if (stream->failed) { /* on_resume closed it */
            event_stream_close(stream);
            return;
        }
    }
    if (h2o_linklist_is_linked(&stream->dirty_link))
        h2o_linklist_unlink(&stream->dirty_link);
    if (stream->queue.len > 0)
        write_queue(stream);
}

/* A completion is part of what a round costs the loop: one per stream written. */
static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    event_stream_t *stream = (event_stream_t *)generator;
    event_stream_loop_t *owner = stream->owner; /* NULL once ended; the owner outlives its streams */
    uint64_t started = monotonic_ns();
    (void)req;
    proceed(stream);
    if (owner != NULL)
        owner->busy_ns += monotonic_ns() - started;
}

/* h2o ends the response: the connection closed or failed. */
static void on_stop(h2o_generator_t *generator, h2o_req_t *req)
{
    event_stream_t *stream = (event_stream_t *)generator;
    (void)req;
    if (!stream->ended)
        end_stream(stream);
}

static void on_dispose(void *object)
{
    event_stream_t *stream = object;
    strbuf_dispose(&stream->queue);
    strbuf_dispose(&stream->flight);
}

/*
 * Cuts the connection of a stream whose write has not moved for stall_ms. A write in flight cannot
 * be taken back from h2o, so the socket is shut down under it: the write then fails, and h2o
 * closes the connection and stops the stream as for any client that went away.
 */
static void disconnect(event_stream_t *stream)
{
    h2o_req_t *req = stream->req;
    h2o_socket_t *socket =
        req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    /* Over HTTP/2 (h2c) the socket is the whole connection's; such a stream stays lagging instead. */
    if (socket == NULL || req->version >= 0x200 || stream->cut)
        return;
    stream->cut = true;
    bump(&stream->owner->stats->disconnected, 1);
    shutdown(h2o_socket_get_fd(socket), SHUT_RDWR);
}

static void on_stall_check(h2o_timeout_entry_t *entry)
{
    event_stream_loop_t *owner = H2O_STRUCT_FROM_MEMBER(event_stream_loop_t, stall_check, entry);
    int64_t now = clock_monotonic_ms();
    for (h2o_linklist_t *node = owner->streams.next; node != &owner->streams; node = node->next) {
        event_stream_t *stream = H2O_STRUCT_FROM_MEMBER(event_stream_t, link, node);
        if (stream->lagging && now - stream->lagging_since >= (int64_t)owner->config.stall_ms)
            disconnect(stream);
    }
    if (owner->lagging > 0)
        h2o_timeout_link(owner->loop, &owner->stall_timeout, &owner->stall_check);
}

static bool fits(const event_stream_t *stream, size_t len)
{
    return !stream->writing || stream->queue.len + len <= stream->owner->config.queue_max;
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    event_stream_loop_t *owner = H2O_STRUCT_FROM_MEMBER(event_stream_loop_t, heartbeat, entry);
    for (h2o_linklist_t *node = owner->streams.next; node != &owner->streams; node = node->next) {
        event_stream_t *stream = H2O_STRUCT_FROM_MEMBER(event_stream_t, link, node);
        if (stream->lagging || !fits(stream, sizeof(HEARTBEAT) - 1))
            continue;
        strbuf_append(&stream->queue, HEARTBEAT, sizeof(HEARTBEAT) - 1);
        if (!stream->writing)
            mark_dirty(stream);
    }
    if (!h2o_linklist_is_empty(&owner->streams))
        h2o_timeout_link(owner->loop, &owner->heartbeat_timeout, &owner->heartbeat);
}

event_stream_loop_t *event_stream_loop_create(h2o_loop_t *loop, const event_stream_config_t *config,
                                              event_stream_stats_t *stats)
{
    event_stream_loop_t *owner = calloc(1, sizeof(*owner));
    if (owner == NULL)
        return NULL;
    owner->loop = loop;
    owner->config = *config;
    owner->stats = stats;
    h2o_linklist_init_anchor(&owner->streams);
    h2o_linklist_init_anchor(&owner->dirty);
    h2o_timeout_init(loop, &owner->next_turn_timeout, 0); /* before flush_timeout: see there */
    owner->next_turn.cb = on_next_turn;
    h2o_timeout_init(loop, &owner->flush_timeout, 0);
    owner->flush.cb = on_flush;
    h2o_timeout_init(loop, &owner->heartbeat_timeout, config->heartbeat_ms);
    owner->heartbeat.cb = on_heartbeat;
    h2o_timeout_init(loop, &owner->stall_timeout, config->stall_ms / 2 > 0 ? config->stall_ms / 2 : 1);
    owner->stall_check.cb = on_stall_check;
    return owner;
}

void event_stream_loop_destroy(event_stream_loop_t *owner)
{
    while (!h2o_linklist_is_empty(&owner->streams))
        event_stream_close(H2O_STRUCT_FROM_MEMBER(event_stream_t, link, owner->streams.next));
    free_owner(owner);
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

event_stream_t *event_stream_open(const http_request_t *request, uint64_t last_event_id,
                                  const event_stream_handler_t *handler, void *data)
{
    event_stream_loop_t *owner = request->loop->streams;
    h2o_req_t *req = request->req;
    if (owner == NULL)
        return NULL; /* the server is stopping: its streams have ended */
    event_stream_t *stream = h2o_mem_alloc_shared(&req->pool, sizeof(*stream), on_dispose);
    *stream = (event_stream_t){
        .generator = {.proceed = on_proceed, .stop = on_stop},
        .req = req,
        .owner = owner,
        .handler = handler,
        .data = data,
        .next_id = last_event_id + 1,
    };
    strbuf_init(&stream->queue);
    strbuf_init(&stream->flight);
    h2o_socket_t *socket =
        req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (socket != NULL && req->version < 0x200) {
        int size = EVENT_STREAM_SNDBUF;
        /* Best effort: without it the kernel buffers more, and a slow reader lags later. */
        setsockopt(h2o_socket_get_fd(socket), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, "text/event-stream");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL,
                          H2O_STRLIT("no"));
    h2o_start_response(req, &stream->generator);
    strbuf_appendf(&stream->queue, "retry: %" PRIu64 "\n\n", owner->config.retry_ms);
    h2o_linklist_insert(&owner->streams, &stream->link);
    mark_dirty(stream);
    if (!h2o_timeout_is_linked(&owner->heartbeat))
        h2o_timeout_link(owner->loop, &owner->heartbeat_timeout, &owner->heartbeat);
    bump(&owner->stats->open, 1);
    bump(&owner->stats->opened, 1);
    http_metrics_count(request->loop->metrics, request->path, 200,
                       clock_monotonic_ns() - request->started_ns);
    return stream;
}

/* Drops events until the write in flight completes; then on_resume writes the latest state. */
static void start_lagging(event_stream_t *stream)
{
    event_stream_loop_t *owner = stream->owner;
    assert(stream->writing);
    stream->lagging = true;
    stream->lagging_since = clock_monotonic_ms();
    ++owner->lagging;
    bump(&owner->stats->lagged, 1);
    if (!h2o_timeout_is_linked(&owner->stall_check))
        h2o_timeout_link(owner->loop, &owner->stall_timeout, &owner->stall_check);
}

bool event_stream_send(event_stream_t *stream, const char *data, size_t len)
{
    assert(memchr(data, '\n', len) == NULL && memchr(data, '\r', len) == NULL);
    event_stream_loop_t *owner = stream->owner;
    if (stream->ended || stream->lagging || stream->failed)
        return false;
    if (!fits(stream, len + EVENT_OVERHEAD)) {
        start_lagging(stream);
        return false;
    }
    strbuf_appendf(&stream->queue, "id: %" PRIu64 "\ndata: ", stream->next_id++);
    strbuf_append(&stream->queue, data, len);
    strbuf_append(&stream->queue, "\n\n", 2);
    if (stream->queue.failed) {
        /* Out of memory: what is queued is cut short. The stream ends at the end of this turn (never
         * inside this call, so that callers may go on walking their lists); a browser reconnects and
         * gets the whole state again. */
        strbuf_reset(&stream->queue);
        stream->failed = true;
        mark_dirty(stream);
        return false;
    }
    bump(&owner->stats->events, 1);
    if (!stream->writing)
        mark_dirty(stream);
    return true;
}

static uint64_t load(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void event_stream_render_metrics(strbuf_t *out, const event_stream_stats_t *loops, size_t count)
{
    uint64_t open = 0, opened = 0, events = 0, lagged = 0, disconnected = 0;
    for (size_t i = 0; i < count; ++i) {
        open += load(&loops[i].open);
        opened += load(&loops[i].opened);
        events += load(&loops[i].events);
        lagged += load(&loops[i].lagged);
        disconnected += load(&loops[i].disconnected);
    }
    strbuf_appendf(
        out,
        "# HELP flashsale_event_streams Event streams open now.\n"
        "# TYPE flashsale_event_streams gauge\nflashsale_event_streams %" PRIu64 "\n"
        "# HELP flashsale_event_streams_opened_total Event streams opened since the start.\n"
        "# TYPE flashsale_event_streams_opened_total counter\n"
        "flashsale_event_streams_opened_total %" PRIu64 "\n"
        "# HELP flashsale_events_total Events queued on streams.\n"
        "# TYPE flashsale_events_total counter\nflashsale_events_total %" PRIu64 "\n"
        "# HELP flashsale_event_streams_lagged_total Times a stream fell behind and dropped to the "
        "latest state.\n"
        "# TYPE flashsale_event_streams_lagged_total counter\n"
        "flashsale_event_streams_lagged_total %" PRIu64 "\n"
        "# HELP flashsale_event_streams_disconnected_total Streams cut off because their reader "
        "stalled.\n"
        "# TYPE flashsale_event_streams_disconnected_total counter\n"
        "flashsale_event_streams_disconnected_total %" PRIu64 "\n",
        open, opened, events, lagged, disconnected);
}

uint64_t event_stream_loop_busy_ns(const event_stream_loop_t *owner)
{
    return owner->busy_ns;
}

bool event_stream_is_lagging(const event_stream_t *stream)
{
    return stream->lagging;
}

void event_stream_close(event_stream_t *stream)
{
    if (stream->ended)
        return;
    if (stream->resuming) {
        /* h2o may free the request inside the final send: not under on_proceed's feet */
        stream->failed = true;
        return;
    }
    end_stream(stream);
    if (!stream->writing)
        send_final(stream);
}
