/*
 * http1_parser: a strict HTTP/1.1 request-head parser, pure (no I/O, no allocation).
 *
 * The server reads requests itself instead of through h2o's HTTP/1 layer so that it can refuse
 * what h2o 2.2.5 lets through: conflicting Content-Length values, Transfer-Encoding together with
 * Content-Length (request smuggling behind a proxy), heads of hundreds of kilobytes, bare LF line
 * ends. Parsing is in two steps so that a client sending its head one byte at a time costs
 * linear work: http1_find_head looks only at the bytes that arrived since its last call for the
 * blank line that ends the head; http1_parse_head then parses the complete head once.
 *
 * Every error status names the HTTP answer the caller gives before closing the connection.
 */
#ifndef FLASHSALE_HTTP1_PARSER_H
#define FLASHSALE_HTTP1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HTTP1_PARSE_COMPLETE,
    HTTP1_PARSE_INCOMPLETE,
    HTTP1_PARSE_BAD_REQUEST,      /* 400: malformed syntax */
    HTTP1_PARSE_BAD_FRAMING,      /* 400: the body's length is ambiguous or invalid */
    HTTP1_PARSE_URI_TOO_LONG,     /* 414: no end of the request line within the head limit */
    HTTP1_PARSE_HEAD_TOO_LARGE,   /* 431: no end of the head within the head limit */
    HTTP1_PARSE_TOO_MANY_HEADERS, /* 431 */
    HTTP1_PARSE_NOT_IMPLEMENTED,  /* 501: a transfer coding other than chunked */
    HTTP1_PARSE_BAD_VERSION,      /* 505: not HTTP/1.x */
    HTTP1_PARSE_EXPECTATION,      /* 417: an Expect other than 100-continue */
    HTTP1_PARSE_HTTP2_PREFACE,    /* the connection starts with the HTTP/2 prior-knowledge preface */
} http1_parse_status_t;

typedef enum {
    HTTP1_BODY_NONE,
    HTTP1_BODY_LENGTH, /* content_length bytes */
    HTTP1_BODY_CHUNKED,
} http1_body_kind_t;

typedef struct {
    const char *name; /* lower-cased in place by http1_parse_head */
    size_t name_len;
    const char *value; /* without surrounding whitespace */
    size_t value_len;
} http1_header_t;

/* A parsed head. Every pointer points into the buffer given to http1_parse_head. */
typedef struct {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version; /* HTTP/1.x; a minor above 1 is reported as 1 */
    size_t header_count;
    const char *host; /* NULL when absent (allowed in HTTP/1.0 only) */
    size_t host_len;
    const char *upgrade; /* the Upgrade header, NULL when absent */
    size_t upgrade_len;
    http1_body_kind_t body;
    uint64_t content_length;
    bool keep_alive;         /* from the version and the Connection header */
    bool connection_upgrade; /* Connection lists "upgrade" */
    bool expect_continue;    /* Expect: 100-continue */
} http1_request_t;

/* The length of the HTTP/2 client preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
#define HTTP1_HTTP2_PREFACE_LEN 24

/*
 * Looks for the end of a head in buf[0..len). *scanned is how far an earlier call got (start at
 * 0; keep it while the same head grows). Returns COMPLETE with *head_len (the bytes up to and
 * including the blank line), INCOMPLETE, BAD_REQUEST for a bare CR or LF or a NUL,
 * URI_TOO_LONG or HEAD_TOO_LARGE when max_head bytes hold no complete head, or HTTP2_PREFACE.
 * Blank lines before the request line must have been skipped (http1_skip_blank_lines).
 */
http1_parse_status_t http1_find_head(const char *buf, size_t len, size_t *scanned, size_t max_head,
                                     size_t *head_len);

/* The number of leading CRLF pairs' bytes in buf[0..len), which a server ignores before a request. */
size_t http1_skip_blank_lines(const char *buf, size_t len);

/*
 * Parses a complete head of head_len bytes (as found by http1_find_head). Header names are
 * lower-cased in place; headers[0..max_headers) receives every header field in order.
 * Returns COMPLETE or an error status.
 */
http1_parse_status_t http1_parse_head(char *buf, size_t head_len, http1_request_t *request,
                                      http1_header_t *headers, size_t max_headers);

/* True when the comma-separated list value contains token (case-insensitive). */
bool http1_list_has_token(const char *value, size_t len, const char *token);

#endif
