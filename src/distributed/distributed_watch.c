/*
 * distributed_watch: the watcher of the distributed engine (engine.h, watch).
 *
 * A loop shows its watcher a copy of the sales read from its status snapshot, with the stock of
 * each sale lowered to the latest one the instance's subscription heard (sale_changes.h): a
 * purchase anywhere reaches the watcher one publish later, without a read of Redis. The copy is
 * read again when the subscription asks for it (an admin write anywhere, a new connection of the
 * subscription) and every ENGINE_WATCH_RESYNC_MS, which repairs a notice that was lost.
 *
 * The subscription's thread wakes the loop through one h2o message that is either queued or not,
 * so however many notices arrive during a storm, the loop handles at most one per turn.
 */
#include <stdlib.h>
#include <string.h>

#include "distributed/engine_distributed_internal.h"

static void deliver(distributed_loop_t *loop)
{
    if (loop->watch_cb == NULL || !loop->watch_valid)
        return;
    sale_changes_apply(loop->engine->changes, loop->watch_sales, loop->watch_count);
    loop->watch_cb(loop->watch_ctx, loop->watch_sales, loop->watch_count);
}

static bool copy_is_behind(distributed_loop_t *loop)
{
    return !loop->watch_valid ||
           sale_changes_resync_generation(loop->engine->changes) > loop->watch_generation;
}

static void read_copy(distributed_loop_t *loop);

static void on_snapshot(void *data, bool ok, const sale_t *sales, size_t count)
{
    distributed_loop_t *loop = data;
    loop->watch_reading = false;
    if (ok) {
        sale_t *copy = realloc(loop->watch_sales, (count > 0 ? count : 1) * sizeof(*copy));
        if (copy != NULL) {
            memcpy(copy, sales, count * sizeof(*copy));
            loop->watch_sales = copy;
            loop->watch_count = count;
            loop->watch_valid = true;
            loop->watch_generation = loop->reading_generation;
        }
    }
    /* On failure (Redis away) the old copy stays; the next notice or resync tries again. */
    if (loop->watch_cb == NULL)
        return;
    if (ok && copy_is_behind(loop))
        read_copy(loop);
    else
        deliver(loop);
}

/* Reads the snapshot at the generation the subscription asks for (or a fresher one). */
static void read_copy(distributed_loop_t *loop)
{
    if (loop->watch_reading)
        return;
    loop->watch_reading = true;
    loop->reading_generation = sale_changes_resync_generation(loop->engine->changes);
    sale_snapshot_read_since(loop->snapshot, loop->reading_generation, on_snapshot, loop);
}

static void on_notice(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    distributed_loop_t *loop = H2O_STRUCT_FROM_MEMBER(distributed_loop_t, receiver, receiver);
    /* our own static message: unlink it, then allow the next one before acting, so that a notice
     * arriving meanwhile is not missed */
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    atomic_store(&loop->watch_pending, false);
    if (loop->watch_cb == NULL)
        return;
    if (copy_is_behind(loop))
        read_copy(loop);
    else
        deliver(loop);
}

static void send_notice(distributed_loop_t *loop)
{
    if (!atomic_exchange(&loop->watch_pending, true))
        h2o_multithread_send_message(&loop->receiver, &loop->watch_message);
}

/* From the subscription's thread. */
static void on_change(sale_changes_listener_t *listener)
{
    distributed_loop_t *loop = H2O_STRUCT_FROM_MEMBER(distributed_loop_t, listener, listener);
    if (atomic_load(&loop->watching))
        send_notice(loop);
}

static void on_resync(h2o_timeout_entry_t *entry)
{
    distributed_loop_t *loop = H2O_STRUCT_FROM_MEMBER(distributed_loop_t, watch_resync, entry);
    h2o_timeout_link(loop->loop, &loop->watch_resync_timeout, &loop->watch_resync);
    /* A copy at most SALE_SNAPSHOT_MAX_AGE_MS old, whatever the notices said. */
    loop->watch_valid = false;
    read_copy(loop);
}

void distributed_watch(engine_loop_t *handle, engine_watch_cb cb, void *ctx)
{
    distributed_loop_t *loop = (distributed_loop_t *)handle;
    loop->watch_cb = cb;
    loop->watch_ctx = ctx;
    atomic_store(&loop->watching, cb != NULL);
    if (cb == NULL) {
        h2o_timeout_unlink(&loop->watch_resync);
        return;
    }
    if (!h2o_timeout_is_linked(&loop->watch_resync))
        h2o_timeout_link(loop->loop, &loop->watch_resync_timeout, &loop->watch_resync);
    /* The first showing comes from the loop, as engine.h promises, never from inside this call. */
    send_notice(loop);
}

void distributed_watch_attach(distributed_loop_t *loop)
{
    /* h2o aborts rather than return without a queue */
    loop->queue = h2o_multithread_create_queue(loop->loop);
    h2o_multithread_register_receiver(loop->queue, &loop->receiver, on_notice);
    h2o_timeout_init(loop->loop, &loop->watch_resync_timeout, ENGINE_WATCH_RESYNC_MS);
    loop->watch_resync.cb = on_resync;
    loop->listener.notify = on_change;
    sale_changes_listen(loop->engine->changes, &loop->listener);
}

/* Before the Redis client goes: a snapshot read in flight then ends without a watcher to show. */
void distributed_watch_detach(distributed_loop_t *loop)
{
    sale_changes_unlisten(loop->engine->changes, &loop->listener);
    loop->watch_cb = NULL;
    atomic_store(&loop->watching, false);
    h2o_timeout_unlink(&loop->watch_resync);
    h2o_timeout_dispose(loop->loop, &loop->watch_resync_timeout);
    /* No notice is sent from here on; one already sent is in the pipe and is taken by the loop
     * (h2o asserts that a receiver goes with no message queued). */
    while (atomic_load(&loop->watch_pending))
        h2o_evloop_run(loop->loop, 10);
    h2o_multithread_unregister_receiver(loop->queue, &loop->receiver);
    h2o_multithread_destroy_queue(loop->queue);
    /* h2o 2.2.5 frees the queue itself only in its libuv build */
    free(loop->queue);
    free(loop->watch_sales);
    loop->watch_sales = NULL;
}
