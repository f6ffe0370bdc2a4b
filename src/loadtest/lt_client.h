/*
 * lt_client: one thread's HTTP/1.1 client: a pool of keep-alive connections to one address on
 * one epoll loop.
 *
 * Built for request rate, not generality. Every socket is registered once, edge-triggered for both
 * directions, so the steady state costs one send() per request, one recv() per answer and one
 * epoll_wait per batch of answers: no epoll_ctl per request. The caller writes each request's
 * bytes straight into the connection's output buffer (lt_client_buffer) and sends them; answers
 * are parsed with lt_response and handed to on_answer in the order the requests were sent.
 *
 * A connection takes up to `pipeline` requests at once (1: no pipelining). A connection that fails
 * (refused, reset, timed out, malformed answer) reports each request it carried to on_failure and is
 * reopened after a backoff (10 ms, doubling to 1 s while connecting keeps failing).
 *
 * Bounds: per connection one parser (about 3 KiB) and an output buffer of pipeline *
 * LT_CLIENT_REQUEST_MAX bytes; one LT_CLIENT_READ_SIZE read buffer per client. Everything is created
 * and used on the calling thread only.
 */
#ifndef FLASHSALE_LT_CLIENT_H
#define FLASHSALE_LT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loadtest/lt_response.h"

#define LT_CLIENT_REQUEST_MAX 4096
#define LT_CLIENT_READ_SIZE   65536
#define LT_PIPELINE_MAX       64

typedef enum {
    LT_FAILURE_CONNECT,   /* connecting failed: no request was lost (request is NULL) */
    LT_FAILURE_RESET,     /* the connection closed or broke with the request unanswered */
    LT_FAILURE_TIMEOUT,   /* no complete answer within the timeout */
    LT_FAILURE_INVALID,   /* the answer was not HTTP/1.1 */
    LT_FAILURE_ABANDONED, /* still unanswered when the run stopped waiting */
} lt_failure_t;

/* One request on its way: the caller's tag and its times (monotonic ns). */
typedef struct {
    uint64_t tag;
    int64_t scheduled_ns; /* when it should have been sent (open loop), else = sent_ns */
    int64_t sent_ns;
} lt_request_t;

typedef struct lt_conn lt_conn_t;

typedef struct {
    void (*on_answer)(void *context, const lt_request_t *request, const lt_response_t *response,
                      int64_t now_ns);
    /* request is NULL for LT_FAILURE_CONNECT */
    void (*on_failure)(void *context, const lt_request_t *request, lt_failure_t why, int64_t now_ns);
} lt_client_handlers_t;

typedef struct lt_client lt_client_t;

/*
 * Opens `connections` connections to address (copied) and returns the client, or NULL with err
 * set. The connections complete in the background; lt_client_ready() hands them out once usable.
 */
lt_client_t *lt_client_create(const struct sockaddr *address, socklen_t address_len, int connections,
                              int pipeline, int64_t timeout_ns, const lt_client_handlers_t *handlers,
                              void *context, char *err, size_t err_size);
/* Closes every connection without reporting their requests (see lt_client_abandon). */
void lt_client_destroy(lt_client_t *client);

/* A connection that can take one more request now, or NULL. */
lt_conn_t *lt_client_ready(lt_client_t *client);
/* Where the next request's bytes go: at least LT_CLIENT_REQUEST_MAX bytes. */
char *lt_client_buffer(lt_conn_t *conn);
/* Sends the len bytes just written into lt_client_buffer(conn) as one request. */
void lt_client_send(lt_client_t *client, lt_conn_t *conn, size_t len, const lt_request_t *request);

/*
 * Waits for events until deadline_ns (monotonic; no later than the next internal timer), handles
 * them (answers, failures, finished connects, timeouts, reconnects) and returns.
 */
void lt_client_poll(lt_client_t *client, int64_t deadline_ns);

/* Connections whose handshake is still under way. */
int lt_client_connecting(const lt_client_t *client);
/* Requests sent and not yet answered. */
int lt_client_in_flight(const lt_client_t *client);
/* Reports every unanswered request as LT_FAILURE_ABANDONED and closes the connections. */
void lt_client_abandon(lt_client_t *client, int64_t now_ns);

/* Monotonic nanoseconds. */
int64_t lt_now_ns(void);

#endif
