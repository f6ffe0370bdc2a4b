#include "api/call.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/sale.h"
#include "http/http_json.h"
#include "http/http_reply.h"
#include "http/http_server.h"

/* Lives in the request pool; h2o disposes it with the request. */
struct api_call_guard {
    api_call_t *call;
};

static void on_request_disposed(void *object)
{
    api_call_guard_t *guard = object;
    if (guard->call != NULL)
        guard->call->request.req = NULL;
}

void api_reply_unavailable(const http_request_t *request)
{
    http_reply_error(request, 503, "SERVICE_UNAVAILABLE", "the store did not answer in time; retry shortly",
                     NULL);
}

/* The common answers of every status but ENGINE_OK. */
static void reply_status(const http_request_t *request, const engine_result_t *result, const char *not_found)
{
    switch (result->status) {
    case ENGINE_OK:
        assert(!"ENGINE_OK is rendered by the call's renderer");
        break;
    case ENGINE_NOT_FOUND:
        http_reply_not_found(request, not_found);
        break;
    case ENGINE_CONFLICT:
        http_reply_error(request, 409, "CONFLICT", "a sale with this sku already exists", "sku");
        break;
    case ENGINE_NOT_MODIFIABLE:
        http_json_error(http_reply_body(request), "SALE_NOT_MODIFIABLE",
                        "only an upcoming sale can be changed", NULL, NULL);
        http_reply_json(request, 200);
        break;
    case ENGINE_INVALID:
        http_reply_validation_error(request, result->invalid_field, result->invalid_message);
        break;
    case ENGINE_UNAVAILABLE:
        api_reply_unavailable(request);
        break;
    }
}

void api_call_end(api_call_t *call)
{
    --call->request.loop->in_flight;
    if (call->request.req != NULL)
        call->guard->call = NULL;
    explicit_bzero(api_call_extra(call), call->extra_size);
    free(call);
}

void api_call_answer(void *ctx, const engine_result_t *result)
{
    api_call_t *call = ctx;

    if (call->request.req != NULL) {
        if (result->status == ENGINE_OK) {
            http_reply_body(&call->request);
            call->render(call, result);
        } else {
            reply_status(&call->request, result, call->not_found);
        }
    }
    api_call_end(call);
}

api_call_t *api_call_start(const http_request_t *request, api_render_fn render, const char *not_found)
{
    return api_call_start_extra(request, render, not_found, 0);
}

api_call_t *api_call_start_extra(const http_request_t *request, api_render_fn render, const char *not_found,
                                 size_t extra)
{
    api_call_t *call = malloc(sizeof(*call) + extra);

    if (call == NULL) {
        api_reply_unavailable(request);
        return NULL;
    }
    *call = (api_call_t){.request = *request,
                         .render = render,
                         .not_found = not_found,
                         .success_status = 200,
                         .extra_size = extra};
    memset(api_call_extra(call), 0, extra);
    call->guard = h2o_mem_alloc_shared(&request->req->pool, sizeof(*call->guard), on_request_disposed);
    call->guard->call = call;
    ++request->loop->in_flight;
    return call;
}

bool api_copy_sku(char *out, const char *sku, size_t len)
{
    if (sku == NULL || !sale_sku_is_valid(sku, len))
        return false;
    memcpy(out, sku, len);
    out[len] = '\0';
    return true;
}
