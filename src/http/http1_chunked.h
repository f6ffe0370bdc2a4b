/*
 * http1_chunked: an incremental decoder of the chunked transfer coding of request bodies, pure.
 *
 * It decodes in place: the body bytes are moved to the front of the buffer the encoded bytes
 * arrived in, so a chunked body costs no copy beyond that move and no allocation. It is fed the
 * same growing buffer again as more bytes arrive and resumes where it stopped. Every length it
 * reads is bounded: a chunk-size line (with its extensions) is at most HTTP1_CHUNKED_MAX_LINE
 * bytes, the trailer section at most HTTP1_CHUNKED_MAX_TRAILER bytes (its fields are dropped) and
 * the decoded body at most the caller's max_body.
 */
#ifndef FLASHSALE_HTTP1_CHUNKED_H
#define FLASHSALE_HTTP1_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_CHUNKED_MAX_LINE    1024
#define HTTP1_CHUNKED_MAX_TRAILER 8192

typedef enum {
    HTTP1_CHUNKED_MORE,      /* every byte so far decoded; feed more */
    HTTP1_CHUNKED_DONE,      /* the body ended; *read is where the next request starts */
    HTTP1_CHUNKED_BAD,       /* not the chunked coding: 400 */
    HTTP1_CHUNKED_TOO_LARGE, /* the body exceeds max_body: 413 */
} http1_chunked_status_t;

typedef struct {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    size_t line_len;    /* bytes of the current size line or trailer field */
    size_t trailer_len; /* bytes of the trailer section so far */
    int digits;         /* hex digits of the current size */
} http1_chunked_t;

/* A decoder at the start of a body. */
void http1_chunked_init(http1_chunked_t *decoder);

/*
 * Decodes buf[*read..len) in place. buf starts at the body; *written body bytes are already at
 * buf[0..*written) and *read is how far the encoded bytes were consumed (both 0 at first).
 * Always *written <= *read. Returns MORE, DONE, BAD or TOO_LARGE (when *written would exceed
 * max_body).
 */
http1_chunked_status_t http1_chunked_decode(http1_chunked_t *decoder, char *buf, size_t len, size_t *read,
                                            size_t *written, uint64_t max_body);

#endif
