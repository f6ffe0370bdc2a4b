/*
 * lt_response: an incremental HTTP/1.1 response parser for the load generator's client.
 *
 * Bytes are fed as they arrive, in pieces of any size (a header line or a chunk-size line may be
 * split anywhere); the parser reads the status line, the three headers it needs (Content-Length,
 * Transfer-Encoding: chunked, Connection: close) and the body, framed by Content-Length, chunked
 * encoding or the end of the connection. Of the body it keeps the first LT_RESPONSE_KEEP bytes,
 * enough for the few fields the storm reads, and counts the rest; a caller that needs the whole body
 * (the admin client) gives a strbuf that receives every byte.
 *
 * Bounds: a header line (or chunk-size line) is at most LT_RESPONSE_LINE_MAX bytes and the header
 * block at most LT_RESPONSE_HEADERS_MAX; a response beyond either is malformed. A parser holds no
 * heap memory of its own: about 3 KiB, one per connection.
 */
#ifndef FLASHSALE_LT_RESPONSE_H
#define FLASHSALE_LT_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#define LT_RESPONSE_KEEP        1024
#define LT_RESPONSE_LINE_MAX    2048
#define LT_RESPONSE_HEADERS_MAX 65536

typedef enum {
    LT_RESPONSE_MORE,     /* every byte consumed, the response is not complete yet */
    LT_RESPONSE_COMPLETE, /* one response complete; *consumed says how much of the input it used */
    LT_RESPONSE_INVALID,  /* malformed: the connection must be closed */
} lt_response_status_t;

typedef struct {
    /* results, valid once COMPLETE */
    int status; /* the HTTP status code */
    bool close; /* the server will close the connection (Connection: close, HTTP/1.0) */
    char keep[LT_RESPONSE_KEEP];
    size_t keep_len;     /* the first keep_len bytes of the body */
    uint64_t body_len;   /* the whole body's length */
    strbuf_t *full_body; /* optional, caller-owned: receives every body byte */

    /* parser state */
    int state;
    bool chunked;
    bool has_length;
    bool until_close; /* no framing header: the body runs to the end of the connection */
    bool http10;
    uint64_t remaining; /* of the Content-Length body or of the current chunk */
    size_t headers_len;
    size_t line_len;
    char line[LT_RESPONSE_LINE_MAX]; /* a line split across reads */
} lt_response_t;

/* Prepares for the next response; full_body (may be NULL) is kept. */
void lt_response_reset(lt_response_t *response);

/*
 * Feeds len bytes. On COMPLETE, *consumed bytes belonged to this response and the rest (pipelined
 * answers) must be fed after a reset; on MORE all were consumed.
 */
lt_response_status_t lt_response_feed(lt_response_t *response, const char *data, size_t len,
                                      size_t *consumed);

/*
 * The connection ended: COMPLETE when the response was framed by the end of the connection (or
 * nothing of a response had arrived yet, then status is 0), otherwise INVALID (cut short).
 */
lt_response_status_t lt_response_end(lt_response_t *response);

/* True when no byte of the current response has been fed yet. */
bool lt_response_idle(const lt_response_t *response);

#endif
