#include "loadtest/lt_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX       256
#define SCAN_INTERVAL_NS (100 * 1000 * 1000) /* timeouts and reconnects are looked at this often */
#define BACKOFF_MIN_NS   (10 * 1000 * 1000)
#define BACKOFF_MAX_NS   (1000 * 1000 * 1000)

enum { CONN_CLOSED, CONN_CONNECTING, CONN_OPEN };

struct lt_conn {
    int fd;
    int state;
    uint32_t index;
    uint32_t generation; /* tells a closed socket's leftover events from the reopened one's */
    lt_request_t requests[LT_PIPELINE_MAX]; /* in flight, oldest at head */
    int head;
    int in_flight;
    bool listed; /* in the client's ready list */
    char *out;   /* pipeline * LT_CLIENT_REQUEST_MAX bytes */
    size_t out_len;
    size_t out_sent;
    int failures;       /* consecutive failed connects, for the backoff */
    bool answered;      /* at least one answer since the connection opened */
    int64_t connect_ns; /* when the connect started */
    int64_t reopen_ns;  /* when CLOSED: when to connect again */
    lt_response_t response;
};

struct lt_client {
    int epoll_fd;
    struct sockaddr_storage address;
    socklen_t address_len;
    int pipeline;
    int64_t timeout_ns;
    lt_client_handlers_t handlers;
    void *context;
    int conn_count;
    lt_conn_t *conns;
    lt_conn_t **ready; /* a stack of connections with room for a request */
    int ready_len;
    int in_flight;
    int64_t next_scan_ns;
    char read_buffer[LT_CLIENT_READ_SIZE];
};

int64_t lt_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void make_ready(lt_client_t *client, lt_conn_t *conn)
{
    if (conn->listed || conn->state != CONN_OPEN || conn->in_flight >= client->pipeline)
        return;
    conn->listed = true;
    client->ready[client->ready_len++] = conn;
}

lt_conn_t *lt_client_ready(lt_client_t *client)
{
    while (client->ready_len > 0) {
        lt_conn_t *conn = client->ready[client->ready_len - 1];
        /* a listed connection may have closed or filled up since; drop it from the list then */
        if (conn->state == CONN_OPEN && conn->in_flight < client->pipeline)
            return conn;
        conn->listed = false;
        client->ready_len--;
    }
    return NULL;
}

char *lt_client_buffer(lt_conn_t *conn)
{
    return conn->out + conn->out_len;
}

static void open_conn(lt_client_t *client, lt_conn_t *conn, int64_t now_ns);

/* Closes conn, reports what it carried, and schedules its reopening. */
static void fail_conn(lt_client_t *client, lt_conn_t *conn, lt_failure_t why, int64_t now_ns)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    if (conn->state == CONN_CONNECTING) {
        conn->failures++;
        client->handlers.on_failure(client->context, NULL, LT_FAILURE_CONNECT, now_ns);
    } else if (!conn->answered) {
        /* closed before answering anything: back off as from a failed connect, or it would spin */
        conn->failures++;
    }
    conn->state = CONN_CLOSED;
    while (conn->in_flight > 0) {
        lt_request_t request = conn->requests[conn->head];
        conn->head = (conn->head + 1) % LT_PIPELINE_MAX;
        conn->in_flight--;
        client->in_flight--;
        client->handlers.on_failure(client->context, &request, why, now_ns);
    }
    conn->head = 0;
    conn->out_len = conn->out_sent = 0;
    lt_response_reset(&conn->response);
    if (conn->failures == 0) {
        conn->reopen_ns = now_ns; /* a dropped keep-alive connection: at once */
    } else {
        int64_t backoff = BACKOFF_MIN_NS << (conn->failures < 7 ? conn->failures - 1 : 6);
        conn->reopen_ns = now_ns + (backoff < BACKOFF_MAX_NS ? backoff : BACKOFF_MAX_NS);
    }
    if (why == LT_FAILURE_ABANDONED)
        conn->reopen_ns = INT64_MAX;
    else if (conn->reopen_ns <= now_ns)
        open_conn(client, conn, now_ns);
}

static void open_conn(lt_client_t *client, lt_conn_t *conn, int64_t now_ns)
{
    int one = 1;
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP};

    conn->generation++;
    event.data.u64 = (uint64_t)conn->generation << 32 | conn->index;
    conn->fd = socket(client->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    conn->state = CONN_CONNECTING;
    conn->answered = false;
    conn->connect_ns = now_ns;
    if (conn->fd < 0) {
        fail_conn(client, conn, LT_FAILURE_CONNECT, now_ns);
        return;
    }
    /* every request is one write that must leave at once */
    setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((connect(conn->fd, (const struct sockaddr *)&client->address, client->address_len) != 0 &&
         errno != EINPROGRESS) ||
        epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0)
        fail_conn(client, conn, LT_FAILURE_CONNECT, now_ns);
}

lt_client_t *lt_client_create(const struct sockaddr *address, socklen_t address_len, int connections,
                              int pipeline, int64_t timeout_ns, const lt_client_handlers_t *handlers,
                              void *context, char *err, size_t err_size)
{
    lt_client_t *client = calloc(1, sizeof(*client));
    int64_t now = lt_now_ns();

    if (client == NULL || address_len > sizeof(client->address)) {
        free(client);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    memcpy(&client->address, address, address_len);
    client->address_len = address_len;
    client->pipeline = pipeline;
    client->timeout_ns = timeout_ns;
    client->handlers = *handlers;
    client->context = context;
    client->conn_count = connections;
    client->next_scan_ns = now + SCAN_INTERVAL_NS;
    client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    client->conns = calloc((size_t)connections, sizeof(lt_conn_t));
    client->ready = calloc((size_t)connections, sizeof(lt_conn_t *));
    if (client->epoll_fd < 0 || client->conns == NULL || client->ready == NULL) {
        snprintf(err, err_size, "cannot set up the client: %s", strerror(errno));
        lt_client_destroy(client);
        return NULL;
    }
    for (int i = 0; i < connections; i++) {
        lt_conn_t *conn = &client->conns[i];
        conn->fd = -1;
        conn->index = (uint32_t)i;
        if ((conn->out = malloc((size_t)pipeline * LT_CLIENT_REQUEST_MAX)) == NULL) {
            snprintf(err, err_size, "out of memory for %d connections", connections);
            lt_client_destroy(client);
            return NULL;
        }
        lt_response_reset(&conn->response);
    }
    for (int i = 0; i < connections; i++)
        open_conn(client, &client->conns[i], now);
    return client;
}

void lt_client_destroy(lt_client_t *client)
{
    if (client == NULL)
        return;
    for (int i = 0; client->conns != NULL && i < client->conn_count; i++) {
        if (client->conns[i].fd >= 0)
            close(client->conns[i].fd);
        free(client->conns[i].out);
    }
    if (client->epoll_fd >= 0)
        close(client->epoll_fd);
    free(client->conns);
    free(client->ready);
    free(client);
}

/* Writes what is pending; false when the connection broke (and was failed). */
static bool flush_out(lt_client_t *client, lt_conn_t *conn, int64_t now_ns)
{
    while (conn->out_sent < conn->out_len) {
        ssize_t n = send(conn->fd, conn->out + conn->out_sent, conn->out_len - conn->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                /* keep only the unsent bytes, so the buffer never holds more than the requests in
                   flight; EPOLLOUT (edge-triggered) says when to go on */
                memmove(conn->out, conn->out + conn->out_sent, conn->out_len - conn->out_sent);
                conn->out_len -= conn->out_sent;
                conn->out_sent = 0;
                return true;
            }
            fail_conn(client, conn, LT_FAILURE_RESET, now_ns);
            return false;
        }
        conn->out_sent += (size_t)n;
    }
    conn->out_len = conn->out_sent = 0;
    return true;
}

void lt_client_send(lt_client_t *client, lt_conn_t *conn, size_t len, const lt_request_t *request)
{
    int slot = (conn->head + conn->in_flight) % LT_PIPELINE_MAX;

    conn->requests[slot] = *request;
    conn->in_flight++;
    client->in_flight++;
    conn->out_len += len;
    flush_out(client, conn, request->sent_ns);
}

/* Feeds received bytes to the parser, answering requests in order; false when conn was failed. */
static bool take_bytes(lt_client_t *client, lt_conn_t *conn, const char *data, size_t len, int64_t now_ns)
{
    while (len > 0) {
        size_t used = 0;
        lt_response_status_t status = lt_response_feed(&conn->response, data, len, &used);
        lt_request_t request;

        if (status == LT_RESPONSE_MORE)
            return true;
        if (status == LT_RESPONSE_INVALID || conn->in_flight == 0) {
            /* garbage, or an answer nobody asked for */
            fail_conn(client, conn, LT_FAILURE_INVALID, now_ns);
            return false;
        }
        request = conn->requests[conn->head];
        conn->head = (conn->head + 1) % LT_PIPELINE_MAX;
        conn->in_flight--;
        client->in_flight--;
        conn->answered = true;
        client->handlers.on_answer(client->context, &request, &conn->response, now_ns);
        if (conn->response.close) {
            fail_conn(client, conn, LT_FAILURE_RESET, now_ns);
            return false;
        }
        lt_response_reset(&conn->response);
        data += used;
        len -= used;
    }
    make_ready(client, conn);
    return true;
}

static void on_readable(lt_client_t *client, lt_conn_t *conn, int64_t now_ns)
{
    for (;;) {
        ssize_t n = recv(conn->fd, client->read_buffer, sizeof(client->read_buffer), 0);
        if (n > 0) {
            if (!take_bytes(client, conn, client->read_buffer, (size_t)n, now_ns))
                return;
            /* a short read emptied the socket (epoll(7)): the next edge will come */
            if ((size_t)n < sizeof(client->read_buffer))
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        /* the end of the connection: it may frame a body, or cut an answer short */
        if (n == 0 && conn->in_flight > 0 && !lt_response_idle(&conn->response) &&
            lt_response_end(&conn->response) == LT_RESPONSE_COMPLETE) {
            lt_request_t request = conn->requests[conn->head];
            conn->head = (conn->head + 1) % LT_PIPELINE_MAX;
            conn->in_flight--;
            client->in_flight--;
            client->handlers.on_answer(client->context, &request, &conn->response, now_ns);
        }
        fail_conn(client, conn, LT_FAILURE_RESET, now_ns);
        return;
    }
}

static void on_event(lt_client_t *client, lt_conn_t *conn, uint32_t events, int64_t now_ns)
{
    if (conn->state == CONN_CONNECTING) {
        int error = 0;
        socklen_t len = sizeof(error);
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            fail_conn(client, conn, LT_FAILURE_CONNECT, now_ns);
            return;
        }
        conn->state = CONN_OPEN;
        conn->failures = 0;
        make_ready(client, conn);
        return;
    }
    if (conn->state != CONN_OPEN)
        return;
    if ((events & EPOLLOUT) && conn->out_len > 0 && !flush_out(client, conn, now_ns))
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        on_readable(client, conn, now_ns);
}

/* Fails requests past their timeout and reopens closed connections whose backoff ended. */
static void scan(lt_client_t *client, int64_t now_ns)
{
    for (int i = 0; i < client->conn_count; i++) {
        lt_conn_t *conn = &client->conns[i];
        if (conn->state == CONN_CLOSED && conn->reopen_ns <= now_ns)
            open_conn(client, conn, now_ns);
        else if (conn->state == CONN_OPEN && conn->in_flight > 0 &&
                 now_ns - conn->requests[conn->head].sent_ns >= client->timeout_ns)
            fail_conn(client, conn, LT_FAILURE_TIMEOUT, now_ns);
        else if (conn->state == CONN_CONNECTING && now_ns - conn->connect_ns >= client->timeout_ns)
            fail_conn(client, conn, LT_FAILURE_CONNECT, now_ns);
    }
    client->next_scan_ns = now_ns + SCAN_INTERVAL_NS;
}

void lt_client_poll(lt_client_t *client, int64_t deadline_ns)
{
    struct epoll_event events[EVENTS_MAX];
    int64_t now = lt_now_ns(), wait_ns;
    struct timespec timeout;
    int count;

    if (deadline_ns > client->next_scan_ns)
        deadline_ns = client->next_scan_ns;
    wait_ns = deadline_ns > now ? deadline_ns - now : 0;
    timeout = (struct timespec){.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
    /* epoll_pwait2: a nanosecond timeout, so an open-loop schedule is kept to the microsecond */
    count = epoll_pwait2(client->epoll_fd, events, EVENTS_MAX, &timeout, NULL);
    now = lt_now_ns();
    for (int i = 0; i < count; i++) {
        lt_conn_t *conn = &client->conns[(uint32_t)events[i].data.u64];
        if ((uint32_t)(events[i].data.u64 >> 32) == conn->generation)
            on_event(client, conn, events[i].events, now);
    }
    if (now >= client->next_scan_ns)
        scan(client, now);
}

int lt_client_connecting(const lt_client_t *client)
{
    int count = 0;
    for (int i = 0; i < client->conn_count; i++)
        count += client->conns[i].state == CONN_CONNECTING;
    return count;
}

int lt_client_in_flight(const lt_client_t *client)
{
    return client->in_flight;
}

void lt_client_abandon(lt_client_t *client, int64_t now_ns)
{
    for (int i = 0; i < client->conn_count; i++) {
        lt_conn_t *conn = &client->conns[i];
        if (conn->state == CONN_CONNECTING) {
            close(conn->fd);
            conn->fd = -1;
            conn->state = CONN_CLOSED;
        }
        if (conn->state == CONN_OPEN)
            fail_conn(client, conn, LT_FAILURE_ABANDONED, now_ns);
    }
}
