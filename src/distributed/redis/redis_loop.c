/*
 * redis_loop: h2o's evloop watches only descriptors it owns as h2o_socket_t, and closes them in
 * h2o_socket_close; hiredis owns its descriptor too and closes it in redisFree. So h2o is given a
 * duplicate (F_DUPFD_CLOEXEC) of hiredis' descriptor, and each side closes its own copy, in either
 * order, without ever closing a number the other may have reused.
 *
 * Readiness without h2o reading: the socket is created with H2O_SOCKET_FLAG_DONT_READ, so its read
 * callback only reports that the descriptor is readable and leaves the bytes in the kernel for
 * hiredis; h2o_socket_notify_write reports writability without writing. Both are public API of
 * 2.2.5, and its epoll backend is level-triggered, so readiness hiredis leaves unconsumed is
 * reported again. No private evloop structure is touched.
 */
#include "distributed/redis/redis_loop.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    redisAsyncContext *context;
    h2o_loop_t *loop;
    h2o_socket_t *sock;
    h2o_timeout_t *flush_timeout;
    /* Linked while writes wait for the end of this loop iteration. */
    h2o_timeout_entry_t flush;
    /* hiredis has bytes to send: addWrite without a delWrite since. */
    bool want_write;
    /* h2o_socket_notify_write is armed; h2o offers no way to disarm it, so a late one is ignored. */
    bool write_polled;
    /* Inside redisAsyncHandleWrite: a partial write re-adds itself, and must then wait for the
     * socket rather than spin on the flush timeout. */
    bool in_write;
    /* Inside a hiredis handler, which may free the context and so call cleanup: freeing the
     * adapter is then left to the handler's caller. */
    bool in_handler;
    bool released;
} adapter_t;

static void on_writable(h2o_socket_t *sock, const char *err);

/* Returns false when the adapter was released (and is now freed) during the handler. */
static bool leave_handler(adapter_t *adapter)
{
    adapter->in_handler = false;
    if (adapter->released) {
        free(adapter);
        return false;
    }
    return true;
}

static void handle_write(adapter_t *adapter)
{
    adapter->in_handler = true;
    adapter->in_write = true;
    redisAsyncHandleWrite(adapter->context);
    adapter->in_write = false;
    if (!leave_handler(adapter))
        return;
    /* Still connecting, or the kernel's buffer is full: wait until the socket is writable. */
    if (adapter->want_write && !adapter->write_polled) {
        adapter->write_polled = true;
        h2o_socket_notify_write(adapter->sock, on_writable);
    }
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    (void)err; /* nothing was written by h2o; hiredis finds socket errors itself */
    adapter_t *adapter = sock->data;
    adapter->write_polled = false;
    if (adapter->want_write)
        handle_write(adapter);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    adapter_t *adapter = H2O_STRUCT_FROM_MEMBER(adapter_t, flush, entry);
    if (adapter->want_write && !adapter->write_polled)
        handle_write(adapter);
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    (void)err; /* with DONT_READ, h2o reads nothing and reports no error */
    adapter_t *adapter = sock->data;
    adapter->in_handler = true;
    redisAsyncHandleRead(adapter->context);
    leave_handler(adapter);
}

static void add_read(void *data)
{
    adapter_t *adapter = data;
    if (!h2o_socket_is_reading(adapter->sock))
        h2o_socket_read_start(adapter->sock, on_readable);
}

static void del_read(void *data)
{
    adapter_t *adapter = data;
    if (h2o_socket_is_reading(adapter->sock))
        h2o_socket_read_stop(adapter->sock);
}

/* hiredis calls this for every command: deferring to the end of the iteration batches them. */
static void add_write(void *data)
{
    adapter_t *adapter = data;
    adapter->want_write = true;
    if (!adapter->in_write && !adapter->write_polled && !h2o_timeout_is_linked(&adapter->flush))
        h2o_timeout_link(adapter->loop, adapter->flush_timeout, &adapter->flush);
}

static void del_write(void *data)
{
    adapter_t *adapter = data;
    adapter->want_write = false;
}

static void cleanup(void *data)
{
    adapter_t *adapter = data;
    h2o_timeout_unlink(&adapter->flush);
    h2o_socket_close(adapter->sock);
    adapter->context->ev.data = NULL;
    if (adapter->in_handler)
        adapter->released = true;
    else
        free(adapter);
}

int redis_loop_attach(redisAsyncContext *ac, h2o_loop_t *loop, h2o_timeout_t *flush_timeout)
{
    if (ac->ev.data != NULL)
        return -1;
    int fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    adapter_t *adapter = calloc(1, sizeof(*adapter));
    if (adapter == NULL) {
        close(fd);
        return -1;
    }
    adapter->context = ac;
    adapter->loop = loop;
    adapter->flush_timeout = flush_timeout;
    adapter->flush.cb = on_flush;
    adapter->sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    adapter->sock->data = adapter;

    ac->ev.data = adapter;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    /* hiredis learns that its non-blocking connect finished from the first readiness. */
    add_read(adapter);
    add_write(adapter);
    return 0;
}
