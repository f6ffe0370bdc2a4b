/*
 * call: one engine call in flight for a request, and the replies every resource shares.
 *
 * Engine calls may answer later (after a group commit, or a Redis round trip); the request may be
 * gone by then (the client hung up), so every call is tied to its request by a guard in the
 * request's pool that forgets the request when h2o frees it, and the answer is then dropped. A
 * call is counted in http_loop_t.in_flight until it is answered, so a stop waits for it.
 */
#ifndef FLASHSALE_API_CALL_H
#define FLASHSALE_API_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "core/engine.h"
#include "http/http_request.h"

typedef struct api_call api_call_t;

/* Writes the reply of an ENGINE_OK answer; the reply body is already empty. */
typedef void (*api_render_fn)(const api_call_t *call, const engine_result_t *result);

typedef struct api_call_guard api_call_guard_t;

/* Owned by the call itself: api_call_answer frees it. */
struct api_call {
    http_request_t request; /* a copy; request.req is NULL once the client is gone */
    api_call_guard_t *guard;
    api_render_fn render;
    const char *not_found; /* the message of a 404 */
    bool admin;            /* render sales as products */
    int success_status;
    size_t extra_size; /* the handler's own state after the call (api_call_extra) */
};

/* The loop's API state and engine handle of a request. */
static inline api_loop_t *api_loop_of(const http_request_t *request)
{
    return request->loop->data;
}

/*
 * A call to pass to the engine with api_call_answer (or a callback that ends in it), or NULL
 * after replying 503. success_status is 200 and admin false until the caller changes them.
 */
api_call_t *api_call_start(const http_request_t *request, api_render_fn render, const char *not_found);

/*
 * As api_call_start, followed by extra zeroed bytes for the handler's own state between the steps
 * of a request that takes several (a rate-limit decision, a password hash, then the engine). The
 * bytes are wiped when the call is freed, since they may hold a password.
 */
api_call_t *api_call_start_extra(const http_request_t *request, api_render_fn render, const char *not_found,
                                 size_t extra);

/* The extra bytes of a call started with api_call_start_extra. */
static inline void *api_call_extra(api_call_t *call)
{
    return call + 1;
}

/* The engine callback of every call: replies unless the client is gone, then frees the call. */
void api_call_answer(void *ctx, const engine_result_t *result);

/* Ends a call that no engine answer will end: it replied by other means, or its client is gone. */
void api_call_end(api_call_t *call);

/* 503 SERVICE_UNAVAILABLE: the store did not answer (the outcome may be unknown). */
void api_reply_unavailable(const http_request_t *request);

/* Copies a valid sku (1-64 of [A-Za-z0-9-]) into out, SALE_SKU_MAX + 1 bytes; false when it is not one. */
bool api_copy_sku(char *out, const char *sku, size_t len);

#endif
