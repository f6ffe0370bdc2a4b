/*
 * event_stream: server-sent events (text/event-stream) on an h2o response kept open, for any
 * resource that pushes to browsers.
 *
 * Framing, byte for byte: the body starts with "retry: <ms>\n\n"; every event is
 * "id: <n>\ndata: <one line>\n\n" — no "event:" line, so that EventSource's onmessage sees them all —
 * with ids counting up per stream from the client's Last-Event-ID + 1; a heartbeat comment
 * ": ping\n\n" goes out every heartbeat_ms so that proxies keep the connection.
 *
 * Bounds, per stream. h2o writes one buffer at a time (the generator's proceed says when it is
 * done); what is sent meanwhile waits in a queue of at most queue_max bytes. An event that does not
 * fit makes the stream lag: it and every later one are dropped until the write completes, and
 * then the owner's on_resume writes the latest state instead of what was dropped. A stream that
 * has lagged for stall_ms — its reader has not taken a byte in all that time — is disconnected.
 * The kernel's send buffer of a stream's socket is capped at EVENT_STREAM_SNDBUF. So a stream
 * holds at most one write in flight (queue_max, or what one loop turn produced for an idle stream,
 * such as a new stream's first state) plus queue_max queued bytes plus the kernel's buffer, and a
 * slow reader never blocks the loop nor the other streams.
 *
 * A stream belongs to the loop thread of its request. Each loop has one event_stream_loop_t
 * (http_loop_t.streams, made by http_server on that thread), which holds its streams, writes what
 * they queued at the end of a loop turn (so that the events of one turn leave in one write; a
 * few dozen streams a turn, so that a round to thousands of them never holds up the loop's other
 * requests), sends the heartbeats and disconnects stalled streams; a graceful stop ends them all
 * first. A client that goes away is noticed at the next write to it, a heartbeat at the latest.
 */
#ifndef FLASHSALE_EVENT_STREAM_H
#define FLASHSALE_EVENT_STREAM_H

#include <h2o.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "http/http_request.h"

#define EVENT_STREAM_SNDBUF       16384 /* the kernel doubles it */
#define EVENT_STREAM_HEARTBEAT_MS 15000
#define EVENT_STREAM_QUEUE_MAX    16384
#define EVENT_STREAM_STALL_MS     10000
#define EVENT_STREAM_RETRY_MS     2000

typedef struct {
    uint64_t retry_ms;     /* the "retry:" hint: how long a browser waits before reconnecting */
    uint64_t heartbeat_ms; /* between ": ping" comments */
    uint64_t stall_ms;     /* a stream that lags this long is disconnected */
    size_t queue_max;      /* bytes waiting behind the write in flight */
} event_stream_config_t;

/* Counters of one loop's streams; single writer (the loop), read by /metrics from any thread. */
typedef struct {
    _Atomic uint64_t open;         /* streams now */
    _Atomic uint64_t opened;       /* since the start */
    _Atomic uint64_t events;       /* events queued */
    _Atomic uint64_t lagged;       /* times a stream began to lag */
    _Atomic uint64_t disconnected; /* streams cut because they stalled */
} event_stream_stats_t;

typedef struct event_stream_loop event_stream_loop_t;
typedef struct event_stream event_stream_t;

typedef struct {
    /* The stream lagged and its reader caught up: write the latest state with event_stream_send. */
    void (*on_resume)(event_stream_t *stream, void *data);
    /* The stream is over (client gone, disconnected, server stopping): forget it, it is freed after. */
    void (*on_close)(event_stream_t *stream, void *data);
} event_stream_handler_t;

/* On the loop's thread; stats outlive it. NULL when out of memory. */
event_stream_loop_t *event_stream_loop_create(h2o_loop_t *loop, const event_stream_config_t *config,
                                              event_stream_stats_t *stats);
/* Ends every stream, as event_stream_close does, and frees the loop's part. */
void event_stream_loop_destroy(event_stream_loop_t *owner);

/* Time spent so far on the streams' writes and their completions: what the streams cost the loop. */
uint64_t event_stream_loop_busy_ns(const event_stream_loop_t *owner);

/*
 * Answers the request with 200, Content-Type: text/event-stream, Cache-Control: no-cache and
 * X-Accel-Buffering: no, and the retry line, on its loop's streams; it is counted in the request
 * metrics then, as a reply. The stream lives in the request's pool until on_close; handler and data
 * outlive it. NULL, having sent nothing, once the server is stopping.
 */
event_stream_t *event_stream_open(const http_request_t *request, uint64_t last_event_id,
                                  const event_stream_handler_t *handler, void *data);

/* Appends the counters of loops[0..count) as Prometheus text. */
void event_stream_render_metrics(strbuf_t *out, const event_stream_stats_t *loops, size_t count);

/*
 * Queues one event; data is one line (no '\n' or '\r'). False when the stream lags (or ran out of
 * memory): the event is dropped. on_close never runs inside this call.
 */
bool event_stream_send(event_stream_t *stream, const char *data, size_t len);
bool event_stream_is_lagging(const event_stream_t *stream);
/*
 * Ends the response after what is queued. on_close runs before this returns (inside on_resume: as
 * soon as on_resume returns): the owner forgets the stream, which finishes its last write on its own.
 */
void event_stream_close(event_stream_t *stream);

#endif
