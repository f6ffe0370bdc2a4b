#include "http/http1_conn.h"

#include <alloca.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o/http1.h>
#include <h2o/http2.h>

#include "http/http1_chunked.h"

typedef enum {
    CONN_IDLE,
    CONN_HEAD,
    CONN_BODY,
    CONN_CONTINUE, /* writing "100 Continue"; nothing is read meanwhile */
    CONN_PROCESSING,
    CONN_WRITING,
    CONN_LINGERING,
} conn_state_t;

typedef struct {
    h2o_conn_t super; /* first: h2o gets back here from req->conn */
    http1_loop_t *loop;
    h2o_socket_t *sock;
    h2o_linklist_t wait_link; /* in loop->idle while IDLE, in loop->heading while HEAD */
    uint64_t waiting_since;   /* when it became IDLE, or its head began */
    h2o_timeout_entry_t timer;
    conn_state_t state;
    size_t scanned;        /* how far http1_find_head looked */
    size_t head_len;       /* bytes of the current head in sock->input */
    const char *head_base; /* sock->input->bytes when the head was parsed */
    http1_request_t head;
    h2o_iovec_t entity;
    size_t used;         /* bytes of the current request (head and body) in sock->input */
    size_t body_read;    /* chunked: encoded bytes consumed */
    size_t body_written; /* chunked: decoded bytes at the body's start */
    http1_chunked_t chunked;
    bool request_live; /* req holds an initialised request to dispose */
    bool head_sent;
    bool persistent;
    h2o_ostream_t ostream;
    h2o_req_t req; /* last: it is large */
} conn_t;

static void on_read(h2o_socket_t *sock, const char *err);
static void read_head(conn_t *conn);

/* ---- answers of the transport ---------------------------------------------------------------- */

typedef struct {
    int status;
    const char *reason;
    const char *code;
    const char *message;
} transport_error_t;

static const transport_error_t BAD_REQUEST = {400, "Bad Request", "BAD_REQUEST",
                                              "the request is not valid HTTP/1.1"};
static const transport_error_t BAD_FRAMING = {400, "Bad Request", "BAD_REQUEST",
                                              "the body's length is ambiguous: conflicting Content-Length "
                                              "values, or Transfer-Encoding with Content-Length"};
static const transport_error_t BAD_CHUNKED = {400, "Bad Request", "BAD_REQUEST",
                                              "the body is not valid chunked encoding"};
static const transport_error_t HEADER_TIMEOUT = {408, "Request Timeout", "REQUEST_TIMEOUT",
                                                 "the request head did not arrive in time"};
static const transport_error_t BODY_TIMEOUT = {408, "Request Timeout", "REQUEST_TIMEOUT",
                                               "the request body did not arrive in time"};
static const transport_error_t TOO_LARGE = {413, "Payload Too Large", "PAYLOAD_TOO_LARGE",
                                            "the body is larger than the server accepts"};
static const transport_error_t URI_TOO_LONG = {414, "URI Too Long", "URI_TOO_LONG",
                                               "the request line is longer than the server accepts"};
static const transport_error_t EXPECTATION = {417, "Expectation Failed", "EXPECTATION_FAILED",
                                              "only Expect: 100-continue is understood"};
static const transport_error_t HEAD_TOO_LARGE = {431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE",
                                                 "the request head is larger than the server accepts"};
static const transport_error_t TOO_MANY_HEADERS = {
    431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE",
    "the request has more header fields than the server accepts"};
static const transport_error_t NOT_IMPLEMENTED = {501, "Not Implemented", "NOT_IMPLEMENTED",
                                                  "only the chunked transfer coding is understood"};
static const transport_error_t BAD_VERSION = {505, "HTTP Version Not Supported", "HTTP_VERSION_NOT_SUPPORTED",
                                              "this server speaks HTTP/1.1"};

static const transport_error_t *error_of(http1_parse_status_t status)
{
    switch (status) {
    case HTTP1_PARSE_BAD_FRAMING:
        return &BAD_FRAMING;
    case HTTP1_PARSE_URI_TOO_LONG:
        return &URI_TOO_LONG;
    case HTTP1_PARSE_HEAD_TOO_LARGE:
        return &HEAD_TOO_LARGE;
    case HTTP1_PARSE_TOO_MANY_HEADERS:
        return &TOO_MANY_HEADERS;
    case HTTP1_PARSE_NOT_IMPLEMENTED:
        return &NOT_IMPLEMENTED;
    case HTTP1_PARSE_BAD_VERSION:
    case HTTP1_PARSE_HTTP2_PREFACE:
        return &BAD_VERSION;
    case HTTP1_PARSE_EXPECTATION:
        return &EXPECTATION;
    default:
        return &BAD_REQUEST;
    }
}

/* ---- connection state ---------------------------------------------------------------------- */

static void set_timer(conn_t *conn, h2o_timeout_t *timeout)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    if (timeout != NULL)
        h2o_timeout_link(conn->loop->context->loop, timeout, &conn->timer);
}

static void leave_idle(conn_t *conn)
{
    if (h2o_linklist_is_linked(&conn->wait_link))
        h2o_linklist_unlink(&conn->wait_link);
}

/* Appends the connection to a waiting list (idle or heading), which stay ordered by waiting_since. */
static void start_waiting(conn_t *conn, h2o_linklist_t *list)
{
    leave_idle(conn);
    conn->waiting_since = h2o_now(conn->loop->context->loop);
    h2o_linklist_insert(list, &conn->wait_link);
}

static void init_request(conn_t *conn)
{
    h2o_init_request(&conn->req, &conn->super, NULL);
    conn->req._ostr_top = &conn->ostream;
    conn->request_live = true;
}

static void dispose_request(conn_t *conn)
{
    if (conn->request_live)
        h2o_dispose_request(&conn->req);
    conn->request_live = false;
}

/* Forgets the connection; the socket is the caller's. */
static void destroy(conn_t *conn)
{
    if (conn->loop->headers_owner == conn)
        conn->loop->headers_owner = NULL;
    set_timer(conn, NULL);
    leave_idle(conn);
    dispose_request(conn);
    --conn->loop->open;
    free(conn);
}

static void close_now(conn_t *conn)
{
    h2o_socket_t *sock = conn->sock;
    destroy(conn);
    h2o_socket_close(sock);
}

/*
 * Closes after an answer without losing it: a close() with unread bytes in the receive buffer
 * sends a TCP reset, which can destroy the answer before the client has read it. So the write
 * side is shut (the client sees the end), and what still arrives is read and dropped until the
 * client closes too, or HTTP1_LINGER_MS pass.
 */
static void linger(conn_t *conn)
{
    leave_idle(conn);
    dispose_request(conn);
    shutdown(h2o_socket_get_fd(conn->sock), SHUT_WR);
    h2o_buffer_consume(&conn->sock->input, conn->sock->input->size);
    conn->state = CONN_LINGERING;
    set_timer(conn, &conn->loop->linger_timeout);
    h2o_socket_read_start(conn->sock, on_read);
}

static void enter_idle(conn_t *conn)
{
    conn->state = CONN_IDLE;
    conn->scanned = conn->head_len = conn->used = conn->body_read = conn->body_written = 0;
    conn->entity = h2o_iovec_init(NULL, 0);
    conn->head_sent = conn->persistent = false;
    start_waiting(conn, &conn->loop->idle);
    set_timer(conn, conn->loop->stopping ? &conn->loop->stop_grace_timeout : &conn->loop->idle_timeout);
}

/* ---- writing ------------------------------------------------------------------------------- */

static void on_sent(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;

    if (err != NULL) {
        close_now(conn);
        return;
    }
    if (!conn->persistent || conn->loop->stopping) {
        linger(conn);
        return;
    }
    dispose_request(conn);
    h2o_buffer_consume(&sock->input, conn->used);
    init_request(conn);
    enter_idle(conn);
    h2o_socket_read_start(sock, on_read);
    /* a pipelined request may be waiting in the buffer already */
    if (sock->input->size != 0)
        read_head(conn);
}

/* A part of a streamed answer (an event stream) went out: the next part comes when the handler has one. */
static void on_sent_part(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;

    if (err != NULL) {
        close_now(conn);
        return;
    }
    /* the write deadline was for this part; between parts the handler decides (its own stall bound) */
    set_timer(conn, NULL);
    h2o_proceed_response(&conn->req);
}

/* Answers an error of the transport and closes the connection after it. */
static void fail(conn_t *conn, const transport_error_t *error)
{
    h2o_timestamp_t now;
    char body[256];
    h2o_iovec_t reply;
    int body_len;

    leave_idle(conn);
    h2o_socket_read_stop(conn->sock);
    conn->state = CONN_WRITING;
    conn->persistent = false;
    set_timer(conn, &conn->loop->idle_timeout);
    h2o_get_timestamp(conn->loop->context, &conn->req.pool, &now);
    body_len =
        snprintf(body, sizeof(body), "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                 error->code, error->message);
    reply.base = h2o_mem_alloc_pool(&conn->req.pool, 512);
    reply.len =
        (size_t)snprintf(reply.base, 512,
                         "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\n"
                         "Content-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
                         error->status, error->reason, now.str->rfc1123, body_len, body);
    h2o_socket_write(conn->sock, &reply, 1, on_sent);
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

static unsigned keep_alive_seconds(const http1_options_t *options)
{
    uint64_t seconds = options->idle_timeout_ms / 1000;
    return seconds > 0 ? (unsigned)seconds : 1;
}

static char *put(char *at, const char *bytes, size_t len)
{
    memcpy(at, bytes, len);
    return at + len;
}

#define PUT_LITERAL(at, literal) put((at), (literal), sizeof(literal) - 1)

static char *put_uint(char *at, uint64_t value)
{
    char digits[20];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        *at++ = digits[--n];
    return at;
}

/* The status line and header fields of an answer, in the request pool. Written piece by piece
 * rather than with sprintf: this runs once per answer, and sprintf's format parsing was a tenth of
 * a status read's instructions (bench/instructions.sh). */
static h2o_iovec_t flatten_head(conn_t *conn, h2o_req_t *req)
{
    h2o_iovec_t server = conn->loop->context->globalconf->server_name;
    size_t reason_len = strlen(req->res.reason);
    size_t capacity = 200 + reason_len + H2O_TIMESTR_RFC1123_LEN + server.len;
    h2o_timestamp_t now;
    h2o_iovec_t head;
    char *at;

    for (size_t i = 0; i < req->res.headers.size; ++i)
        capacity += req->res.headers.entries[i].name->len + req->res.headers.entries[i].value.len + 4;
    h2o_get_timestamp(conn->loop->context, &req->pool, &now);
    head.base = at = h2o_mem_alloc_pool(&req->pool, capacity);
    assert(req->res.status >= 100 && req->res.status <= 999);
    at = PUT_LITERAL(at, "HTTP/1.1 ");
    at = put_uint(at, (uint64_t)req->res.status);
    *at++ = ' ';
    at = put(at, req->res.reason, reason_len);
    at = PUT_LITERAL(at, "\r\nDate: ");
    at = put(at, now.str->rfc1123, H2O_TIMESTR_RFC1123_LEN);
    at = conn->persistent ? PUT_LITERAL(at, "\r\nConnection: keep-alive\r\n")
                          : PUT_LITERAL(at, "\r\nConnection: close\r\n");
    if (req->res.content_length != SIZE_MAX && status_has_body(req->res.status)) {
        at = PUT_LITERAL(at, "Content-Length: ");
        at = put_uint(at, req->res.content_length);
        at = PUT_LITERAL(at, "\r\n");
    }
    /* tells clients (node's agent, for one) when an idle connection will be closed, so that they
       stop reusing it before the server closes it under a request */
    if (conn->persistent) {
        at = PUT_LITERAL(at, "Keep-Alive: timeout=");
        at = put_uint(at, keep_alive_seconds(conn->loop->options));
        at = PUT_LITERAL(at, "\r\n");
    }
    if (server.len != 0) {
        at = PUT_LITERAL(at, "Server: ");
        at = put(at, server.base, server.len);
        at = PUT_LITERAL(at, "\r\n");
    }
    for (size_t i = 0; i < req->res.headers.size; ++i) {
        const h2o_header_t *header = &req->res.headers.entries[i];
        const char *name = header->orig_name != NULL ? header->orig_name : header->name->base;
        at = put(at, name, header->name->len);
        at = PUT_LITERAL(at, ": ");
        at = put(at, header->value.base, header->value.len);
        at = PUT_LITERAL(at, "\r\n");
    }
    at = PUT_LITERAL(at, "\r\n");
    head.len = (size_t)(at - head.base);
    assert(head.len <= capacity);
    return head;
}

/* The final output stream of every request: writes what the handler sends. */
static void on_send(h2o_ostream_t *ostream, h2o_req_t *req, h2o_iovec_t *bufs, size_t count,
                    h2o_send_state_t state)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, ostream, ostream);
    h2o_iovec_t *all = alloca(sizeof(*all) * (count + 1));
    size_t n = 0;

    if (!conn->head_sent) {
        /* without a length the body ends with the connection; during a stop every answer is the last */
        conn->persistent = req->http1_is_persistent && !conn->loop->stopping &&
                           (req->res.content_length != SIZE_MAX || !status_has_body(req->res.status));
        all[n++] = flatten_head(conn, req);
        conn->head_sent = true;
    }
    if (state == H2O_SEND_STATE_ERROR)
        conn->persistent = false;
    memcpy(all + n, bufs, sizeof(*all) * count);
    n += count;
    conn->state = CONN_WRITING;
    set_timer(conn, &conn->loop->idle_timeout);
    h2o_socket_write(conn->sock, all, n, h2o_send_state_is_in_progress(state) ? on_sent_part : on_sent);
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Hands the connection, its socket and the bytes read so far to h2o (HTTP/2 with --http2 only). */
static void hand_over(conn_t *conn, void (*accept)(h2o_accept_ctx_t *, h2o_socket_t *, struct timeval))
{
    h2o_accept_ctx_t *accept_ctx = conn->loop->accept;
    h2o_socket_t *sock = conn->sock;
    struct timeval connected_at = conn->super.connected_at;

    h2o_socket_read_stop(sock);
    destroy(conn);
    sock->data = NULL;
    accept(accept_ctx, sock, connected_at);
}

/* Fills the h2o request from the parsed head and the body, and runs the handlers. */
static void process(conn_t *conn)
{
    http1_loop_t *loop = conn->loop;
    h2o_req_t *req = &conn->req;
    h2o_buffer_t *input = conn->sock->input;
    http1_parse_status_t status;

    set_timer(conn, NULL);
    h2o_socket_read_stop(conn->sock);
    conn->state = CONN_PROCESSING;
    /* the head's pointers point into the buffer, which reading the body may have moved, and the
       parsed fields are in the loop's scratch, which another connection's head may have taken */
    if (input->bytes != conn->head_base || loop->headers_owner != conn) {
        status = http1_parse_head(input->bytes, conn->head_len, &conn->head, loop->headers,
                                  loop->options->max_headers);
        assert(status == HTTP1_PARSE_COMPLETE);
        (void)status;
    }
    req->input.method = h2o_iovec_init(conn->head.method, conn->head.method_len);
    req->input.path = h2o_iovec_init(conn->head.target, conn->head.target_len);
    if (conn->head.host != NULL)
        req->input.authority = h2o_iovec_init(conn->head.host, conn->head.host_len);
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->version = 0x100 | conn->head.minor_version;
    req->http1_is_persistent = conn->head.keep_alive && !loop->stopping;
    req->entity = conn->entity;
    for (size_t i = 0; i < conn->head.header_count; ++i) {
        const http1_header_t *header = &loop->headers[i];
        const h2o_token_t *token = h2o_lookup_token(header->name, header->name_len);
        /* as in h2o: framing, host, expect and upgrade are the transport's, not the handlers' */
        if (token != NULL && token->is_init_header_special)
            continue;
        if (token != NULL)
            h2o_add_header(&req->pool, &req->headers, token, NULL, header->value, header->value_len);
        else
            h2o_add_header_by_str(&req->pool, &req->headers, header->name, header->name_len, 0, NULL,
                                  header->value, header->value_len);
    }
    h2o_process_request(req);
}

static void read_body(conn_t *conn)
{
    h2o_buffer_t *input = conn->sock->input;
    char *body = input->bytes + conn->head_len;
    size_t available = input->size - conn->head_len;

    if (conn->head.body == HTTP1_BODY_LENGTH) {
        if (available < conn->head.content_length)
            return;
        conn->entity = h2o_iovec_init(body, (size_t)conn->head.content_length);
        conn->used = conn->head_len + (size_t)conn->head.content_length;
        process(conn);
        return;
    }
    switch (http1_chunked_decode(&conn->chunked, body, available, &conn->body_read, &conn->body_written,
                                 conn->loop->options->max_body_bytes)) {
    case HTTP1_CHUNKED_MORE:
        return;
    case HTTP1_CHUNKED_BAD:
        fail(conn, &BAD_CHUNKED);
        return;
    case HTTP1_CHUNKED_TOO_LARGE:
        fail(conn, &TOO_LARGE);
        return;
    case HTTP1_CHUNKED_DONE:
        conn->entity = h2o_iovec_init(body, conn->body_written);
        conn->used = conn->head_len + conn->body_read;
        process(conn);
        return;
    }
}

static void on_continue_sent(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;

    if (err != NULL) {
        close_now(conn);
        return;
    }
    conn->state = CONN_BODY;
    set_timer(conn, &conn->loop->body_timeout);
    h2o_socket_read_start(sock, on_read);
    read_body(conn);
}

static void send_continue(conn_t *conn)
{
    static h2o_iovec_t reply = {H2O_STRLIT("HTTP/1.1 100 Continue\r\n\r\n")};

    conn->state = CONN_CONTINUE;
    h2o_socket_read_stop(conn->sock);
    set_timer(conn, &conn->loop->idle_timeout);
    h2o_socket_write(conn->sock, &reply, 1, on_continue_sent);
}

/* A complete, valid head: upgrade, read the body, or process. */
static void start_request(conn_t *conn)
{
    const http1_options_t *options = conn->loop->options;

    if (options->http2 && conn->head.connection_upgrade && conn->head.upgrade != NULL &&
        http1_list_has_token(conn->head.upgrade, conn->head.upgrade_len, "h2c")) {
        /* h2o's HTTP/1 layer parses the same bytes again and performs the upgrade */
        hand_over(conn, h2o_http1_accept);
        return;
    }
    switch (conn->head.body) {
    case HTTP1_BODY_NONE:
        conn->used = conn->head_len;
        process(conn);
        return;
    case HTTP1_BODY_LENGTH:
        /* refused before a byte of it is buffered */
        if (conn->head.content_length > options->max_body_bytes) {
            fail(conn, &TOO_LARGE);
            return;
        }
        break;
    case HTTP1_BODY_CHUNKED:
        http1_chunked_init(&conn->chunked);
        break;
    }
    conn->state = CONN_BODY;
    set_timer(conn, &conn->loop->body_timeout);
    if (conn->head.expect_continue && conn->sock->input->size == conn->head_len)
        send_continue(conn);
    else
        read_body(conn);
}

static void read_head(conn_t *conn)
{
    http1_loop_t *loop = conn->loop;
    h2o_buffer_t *input;
    http1_parse_status_t status;
    size_t head_len;

    if (conn->state == CONN_IDLE) {
        size_t blank = http1_skip_blank_lines(conn->sock->input->bytes, conn->sock->input->size);
        if (blank != 0)
            h2o_buffer_consume(&conn->sock->input, blank);
        if (conn->sock->input->size == 0)
            return;
        /* the header deadline runs from the request's first byte */
        start_waiting(conn, &loop->heading);
        conn->state = CONN_HEAD;
        set_timer(conn, &loop->header_timeout);
    }
    input = conn->sock->input;
    status = http1_find_head(input->bytes, input->size, &conn->scanned, loop->options->max_header_bytes,
                             &head_len);
    if (status == HTTP1_PARSE_INCOMPLETE)
        return;
    leave_idle(conn);
    if (status == HTTP1_PARSE_COMPLETE) {
        conn->head_len = head_len;
        conn->head_base = input->bytes;
        status =
            http1_parse_head(input->bytes, head_len, &conn->head, loop->headers, loop->options->max_headers);
    }
    if (status == HTTP1_PARSE_HTTP2_PREFACE && loop->options->http2) {
        hand_over(conn, h2o_http2_accept);
        return;
    }
    if (status != HTTP1_PARSE_COMPLETE) {
        fail(conn, error_of(status));
        return;
    }
    start_request(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;

    if (err != NULL) {
        close_now(conn);
        return;
    }
    switch (conn->state) {
    case CONN_IDLE:
    case CONN_HEAD:
        read_head(conn);
        break;
    case CONN_BODY:
        read_body(conn);
        break;
    case CONN_LINGERING:
        h2o_buffer_consume(&sock->input, sock->input->size);
        break;
    default:
        /* reading is stopped in the other states */
        break;
    }
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, timer, entry);

    switch (conn->state) {
    case CONN_IDLE:
        /* during a stop: idle through the grace, closed cleanly */
        if (conn->loop->stopping)
            linger(conn);
        else
            close_now(conn);
        break;
    case CONN_HEAD:
        fail(conn, &HEADER_TIMEOUT);
        break;
    case CONN_BODY:
        fail(conn, &BODY_TIMEOUT);
        break;
    default:
        /* idle, a client that does not read its answer, or the end of lingering */
        close_now(conn);
        break;
    }
}

/* ---- connections --------------------------------------------------------------------------- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *address)
{
    return h2o_socket_getsockname(((conn_t *)conn)->sock, address);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *address)
{
    return h2o_socket_getpeername(((conn_t *)conn)->sock, address);
}

static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    return ((conn_t *)conn)->sock;
}

int http1_loop_init(http1_loop_t *loop, h2o_context_t *context, h2o_accept_ctx_t *accept,
                    const http1_options_t *options)
{
    *loop = (http1_loop_t){.context = context, .accept = accept, .options = options};
    h2o_timeout_init(context->loop, &loop->idle_timeout, options->idle_timeout_ms);
    h2o_timeout_init(context->loop, &loop->header_timeout, options->header_timeout_ms);
    h2o_timeout_init(context->loop, &loop->body_timeout, options->body_timeout_ms);
    h2o_timeout_init(context->loop, &loop->linger_timeout, HTTP1_LINGER_MS);
    h2o_timeout_init(context->loop, &loop->stop_grace_timeout, HTTP1_STOP_GRACE_MS);
    h2o_linklist_init_anchor(&loop->idle);
    h2o_linklist_init_anchor(&loop->heading);
    loop->headers = calloc(options->max_headers, sizeof(*loop->headers));
    return loop->headers == NULL ? -1 : 0;
}

void http1_accept(http1_loop_t *loop, h2o_socket_t *sock)
{
    static const h2o_conn_callbacks_t callbacks = {
        .get_sockname = get_sockname, .get_peername = get_peername, .get_socket = get_socket};
    struct timeval connected_at = *h2o_get_timestamp(loop->context, NULL, NULL);
    conn_t *conn = (conn_t *)h2o_create_connection(sizeof(*conn), loop->context, loop->accept->hosts,
                                                   connected_at, &callbacks);

    /* everything but the h2o_conn_t and the request, which init_request sets up */
    memset((char *)conn + sizeof(conn->super), 0, offsetof(conn_t, req) - sizeof(conn->super));
    conn->loop = loop;
    conn->sock = sock;
    conn->timer.cb = on_timeout;
    conn->ostream.do_send = on_send;
    sock->data = conn;
    ++loop->open;
    init_request(conn);
    enter_idle(conn);
    h2o_socket_read_start(sock, on_read);
}

/* The first (longest waiting) connection of a list if it has waited HTTP1_EVICT_AFTER_MS, else NULL. */
static conn_t *evictable(http1_loop_t *loop, h2o_linklist_t *list)
{
    conn_t *conn;

    if (h2o_linklist_is_empty(list))
        return NULL;
    conn = H2O_STRUCT_FROM_MEMBER(conn_t, wait_link, list->next);
    return h2o_now(loop->context->loop) - conn->waiting_since >= HTTP1_EVICT_AFTER_MS ? conn : NULL;
}

bool http1_evict(http1_loop_t *loop)
{
    conn_t *conn = evictable(loop, &loop->idle);

    if (conn == NULL)
        conn = evictable(loop, &loop->heading);
    if (conn == NULL)
        return false;
    close_now(conn);
    return true;
}

void http1_stop(http1_loop_t *loop)
{
    loop->stopping = true;
    for (h2o_linklist_t *node = loop->idle.next; node != &loop->idle; node = node->next)
        set_timer(H2O_STRUCT_FROM_MEMBER(conn_t, wait_link, node), &loop->stop_grace_timeout);
}
