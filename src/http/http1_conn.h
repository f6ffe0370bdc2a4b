/*
 * http1_conn: the server's HTTP/1.1 connections, on h2o's sockets and request objects.
 *
 * h2o 2.2.5's own HTTP/1 layer cannot be bounded the way a flash sale needs: it keeps the first
 * of two Content-Length values and lets Transfer-Encoding override Content-Length, buffers heads
 * of up to 400 KB, has one timer for idle, head and body that closes without an answer, answers
 * a too-large head with a 400, and has no way to close an idle connection from outside. This
 * layer reads each request itself (http1_parser, http1_chunked), with its own bound and its own
 * answer for each phase, then hands h2o a complete h2o_req_t (h2o_process_request), so that
 * handlers, the request pool and h2o_send_* work as before.
 *
 * A connection is IDLE (waiting for a request: the idle timeout, silently closed), HEAD (the
 * header deadline from its first byte: 408), BODY (the body deadline from the end of the head:
 * 408), PROCESSING (the handler runs; nothing is read, so a pipelining client is held back by
 * TCP), WRITING (the answer; a client that does not read it within the idle timeout is closed)
 * or LINGERING (after a "Connection: close" answer: the write side is shut and what the client
 * still sends is read and dropped, for at most HTTP1_LINGER_MS, so that the answer is not lost
 * to a TCP reset). Errors of the transport are answered in the API's error envelope and close
 * the connection.
 *
 * Each loop thread owns one http1_loop_t; everything here runs on that thread.
 */
#ifndef FLASHSALE_HTTP1_CONN_H
#define FLASHSALE_HTTP1_CONN_H

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http1_parser.h"

#define HTTP1_LINGER_MS 2000
/*
 * In a stop, an idle connection is closed once it has stayed idle this long more: a keep-alive
 * client sends its next request a moment after the previous answer, and that request is answered
 * (with "Connection: close") instead of crossing the server's FIN.
 */
#define HTTP1_STOP_GRACE_MS 500
/*
 * At the connection limit a connection that has waited this long may be closed for a new one:
 * one idle this long (a new connection's request, already in the kernel, is read within a loop
 * turn, so it is not mistaken for idle), else one whose head has been arriving this long (an
 * honest head comes in one packet; a slowloris one never completes).
 */
#define HTTP1_EVICT_AFTER_MS 1000

/* The bounds of one connection; see docs/api.md, "Limits". */
typedef struct {
    uint64_t idle_timeout_ms;   /* waiting for a request; writing an answer */
    uint64_t header_timeout_ms; /* from a request's first byte to the end of its head */
    uint64_t body_timeout_ms;   /* from the end of the head to the end of the body */
    size_t max_header_bytes;    /* request line and header fields */
    size_t max_headers;         /* header fields */
    uint64_t max_body_bytes;
    bool http2; /* hand h2c upgrades and the HTTP/2 preface to h2o */
} http1_options_t;

typedef struct {
    h2o_context_t *context;
    h2o_accept_ctx_t *accept; /* for the HTTP/2 hand-over */
    const http1_options_t *options;
    h2o_timeout_t idle_timeout;
    h2o_timeout_t header_timeout;
    h2o_timeout_t body_timeout;
    h2o_timeout_t linger_timeout;
    h2o_timeout_t stop_grace_timeout;
    h2o_linklist_t idle;    /* IDLE connections, the longest idle first */
    h2o_linklist_t heading; /* HEAD connections, the oldest head first */
    size_t open;            /* connections of this layer, lingering ones included */
    bool stopping;
    http1_header_t *headers;   /* scratch for the parser: options->max_headers entries */
    const void *headers_owner; /* the connection whose head is in headers */
} http1_loop_t;

/* Prepares a loop's state; call on the loop's thread. Returns 0, or -1 when out of memory. */
int http1_loop_init(http1_loop_t *loop, h2o_context_t *context, h2o_accept_ctx_t *accept,
                    const http1_options_t *options);

/* Serves an accepted socket; the connection owns it from here on. */
void http1_accept(http1_loop_t *loop, h2o_socket_t *sock);

/*
 * Closes a connection to make room for a new one: the longest idle, else the one whose head has
 * been arriving longest, either only after HTTP1_EVICT_AFTER_MS. False when none qualifies.
 */
bool http1_evict(http1_loop_t *loop);

/*
 * Starts the graceful stop: every answer from now on says "Connection: close" and closes its
 * connection after it; idle connections are closed cleanly once idle for HTTP1_STOP_GRACE_MS
 * more. Requests already arriving are still read and answered. loop->open tells when every
 * connection is gone.
 */
void http1_stop(http1_loop_t *loop);

#endif
