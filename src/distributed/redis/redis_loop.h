/*
 * redis_loop: drives a hiredis async context from an h2o evloop.
 *
 * hiredis leaves the I/O readiness to the application through five hooks (add/del read, add/del
 * write, cleanup); this module implements them on h2o 2.2.5's evloop, the way hiredis' own
 * adapters/libevent.h does for libevent. Writes are deferred to the end of the loop iteration,
 * so every command issued while the loop serves a batch of requests leaves in one write(2):
 * that is the pipelining across requests.
 */
#ifndef FLASHSALE_REDIS_LOOP_H
#define FLASHSALE_REDIS_LOOP_H

#include <h2o.h>
#include <hiredis/async.h>

/*
 * Attaches ac (not yet attached) to loop. flush_timeout is a zero-millisecond timeout of that loop
 * that outlives ac; it must not be disposed while ac is alive. The attachment is released by
 * hiredis' cleanup hook when ac is freed. Returns 0, or -1 when the socket cannot be watched.
 */
int redis_loop_attach(redisAsyncContext *ac, h2o_loop_t *loop, h2o_timeout_t *flush_timeout);

#endif
