#include "http/acceptor.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"

static void on_accept(h2o_socket_t *listener, const char *err);

/* Stops reading the listener and looks again in ACCEPTOR_BACKOFF_MS: never a busy loop. */
static void pause_listener(acceptor_t *acceptor)
{
    h2o_socket_read_stop(acceptor->listener);
    if (!h2o_timeout_is_linked(&acceptor->backoff_entry))
        h2o_timeout_link(h2o_socket_get_loop(acceptor->listener), &acceptor->backoff,
                         &acceptor->backoff_entry);
}

static void resume_listener(acceptor_t *acceptor)
{
    if (h2o_timeout_is_linked(&acceptor->backoff_entry))
        h2o_timeout_unlink(&acceptor->backoff_entry);
    h2o_socket_read_start(acceptor->listener, on_accept);
}

static void on_socket_closed(void *data)
{
    acceptor_t *acceptor = data;

    conn_limit_release(acceptor->limit);
    --acceptor->open;
    /* a paused listener takes the freed slot at once */
    if (acceptor->listener != NULL && h2o_timeout_is_linked(&acceptor->backoff_entry))
        resume_listener(acceptor);
}

static void on_backoff_end(h2o_timeout_entry_t *entry)
{
    acceptor_t *acceptor = H2O_STRUCT_FROM_MEMBER(acceptor_t, backoff_entry, entry);

    if (acceptor->listener != NULL)
        h2o_socket_read_start(acceptor->listener, on_accept);
}

static bool out_of_resources(int error)
{
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

/*
 * Makes a slot for one connection; false (and the listener paused) when none can be had. Only a
 * readable listener gets here, so a connection is closed for a client that is really waiting.
 */
static bool take_slot(acceptor_t *acceptor)
{
    while (!conn_limit_acquire(acceptor->limit)) {
        if (!acceptor->callbacks.evict(acceptor->callbacks.data)) {
            pause_listener(acceptor);
            return false;
        }
    }
    return true;
}

/* Accepts one connection; returns false when nothing more should be accepted now. */
static bool accept_one(acceptor_t *acceptor)
{
    h2o_socket_t *sock;
    int error;

    if (!take_slot(acceptor))
        return false;
    if ((sock = h2o_evloop_socket_accept(acceptor->listener)) == NULL) {
        error = errno;
        conn_limit_release(acceptor->limit);
        if (error == EAGAIN || error == EWOULDBLOCK)
            return false;
        /* a client that gave up while waiting in the backlog, or a signal: try the next one */
        if (error == ECONNABORTED || error == EINTR || error == EPROTO || error == EPERM)
            return true;
        if (out_of_resources(error) && acceptor->callbacks.evict(acceptor->callbacks.data))
            return true;
        if (!acceptor->failing)
            log_error("http", "accept failed: %s; retrying every %d ms", strerror(error),
                      ACCEPTOR_BACKOFF_MS);
        acceptor->failing = true;
        h2o_socket_read_stop(acceptor->listener);
        h2o_timeout_link(h2o_socket_get_loop(acceptor->listener), &acceptor->backoff,
                         &acceptor->backoff_entry);
        return false;
    }
    if (acceptor->failing)
        log_info("http", "accepting connections again");
    acceptor->failing = false;
    ++acceptor->open;
    sock->on_close.cb = on_socket_closed;
    sock->on_close.data = acceptor;
    acceptor->callbacks.serve(acceptor->callbacks.data, sock);
    return true;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    acceptor_t *acceptor = listener->data;

    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPTOR_BATCH && accept_one(acceptor); ++i)
        ;
}

void acceptor_init(acceptor_t *acceptor, h2o_loop_t *loop, int fd, conn_limit_t *limit,
                   const acceptor_callbacks_t *callbacks)
{
    *acceptor = (acceptor_t){.limit = limit, .callbacks = *callbacks};
    acceptor->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    acceptor->listener->data = acceptor;
    acceptor->backoff_entry.cb = on_backoff_end;
    h2o_timeout_init(loop, &acceptor->backoff, ACCEPTOR_BACKOFF_MS);
}

void acceptor_start(acceptor_t *acceptor)
{
    h2o_socket_read_start(acceptor->listener, on_accept);
}

void acceptor_close(acceptor_t *acceptor)
{
    if (acceptor->listener == NULL)
        return;
    if (h2o_timeout_is_linked(&acceptor->backoff_entry))
        h2o_timeout_unlink(&acceptor->backoff_entry);
    /* closing a listener resets the connections in its backlog: serve them instead */
    while (accept_one(acceptor))
        ;
    h2o_socket_read_stop(acceptor->listener);
    h2o_socket_close(acceptor->listener);
    acceptor->listener = NULL;
}
