/*
 * acceptor: one loop thread's listener, which accepts within the server's connection limit.
 *
 * At the limit it first closes one of its own connections that only waits (http1_evict: an idle
 * keep-alive connection may be closed at any time in HTTP/1.1, and clients holding connections
 * without finishing a request must not lock honest buyers out); with none to close it stops
 * reading the listener until one of its connections closes or ACCEPTOR_BACKOFF_MS pass (another
 * thread's connection may have closed). When accept() itself fails for want of descriptors or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it likewise closes a waiting connection or else backs
 * off, logging once per episode, instead of letting the level-triggered listener wake the loop
 * again at once.
 */
#ifndef FLASHSALE_ACCEPTOR_H
#define FLASHSALE_ACCEPTOR_H

#include <h2o.h>
#include <stdbool.h>

#include "http/conn_limit.h"

#define ACCEPTOR_BACKOFF_MS 100
#define ACCEPTOR_BATCH      64 /* accepts per wake-up, so that one busy listener cannot starve the loop */

typedef struct {
    /* serves an accepted socket; the callee owns it */
    void (*serve)(void *data, h2o_socket_t *sock);
    /* closes one waiting connection of this thread to make room; false when none may be closed */
    bool (*evict)(void *data);
    void *data;
} acceptor_callbacks_t;

typedef struct {
    h2o_socket_t *listener;
    conn_limit_t *limit;
    acceptor_callbacks_t callbacks;
    h2o_timeout_t backoff;
    h2o_timeout_entry_t backoff_entry;
    bool failing; /* accept() failed; logged once until it succeeds again */
    size_t open;  /* sockets this thread accepted that are not closed yet */
} acceptor_t;

/* Wraps the listening descriptor (the acceptor owns it from here on); call on the loop's thread. */
void acceptor_init(acceptor_t *acceptor, h2o_loop_t *loop, int fd, conn_limit_t *limit,
                   const acceptor_callbacks_t *callbacks);
void acceptor_start(acceptor_t *acceptor);
/* For a stop: accepts the connections already waiting (they are served), then closes the listener. */
void acceptor_close(acceptor_t *acceptor);

#endif
