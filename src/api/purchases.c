/*
 * purchases: POST /api/v1/purchases (a buyer buys one unit) and GET /api/v1/purchases?sku= (a
 * buyer's purchase in a sale). The buyer is api/identity.c's (X-User-Id, or the bearer token's
 * sub); a purchase passes the rate limits (api/limits.c) before the engine is asked. This is the
 * purchase path: one engine call per request, and nothing allocated on the way but the call
 * (api/call.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/call.h"
#include "api/handlers.h"
#include "api/identity.h"
#include "api/limits.h"
#include "api/render.h"
#include "http/http_json.h"
#include "http/http_reply.h"

/* Single-writer increment of a loop's own counter (see http_metrics.c). */
static void bump(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* What a purchase keeps while its rate limits are decided (api_call_extra). */
typedef struct {
    char sku[SALE_SKU_MAX + 1];
    char user_id[SALE_USER_ID_MAX + 1];
} purchase_state_t;

static void render_purchase(const api_call_t *call, const engine_result_t *result)
{
    const http_request_t *request = &call->request;
    strbuf_t *body = &request->loop->body;

    switch (result->outcome) {
    case SALE_OUTCOME_SUCCESS:
        http_json_open_success(body);
        api_render_purchase(body, result->purchase);
        http_json_close_success(body);
        http_reply_json(request, 200);
        break;
    case SALE_OUTCOME_NOT_FOUND:
        http_reply_not_found(request, call->not_found);
        break;
    case SALE_OUTCOME_ALREADY_PURCHASED:
        http_json_error(body, "ALREADY_PURCHASED", "this user already bought in this sale", NULL,
                        result->purchase->purchase_no);
        http_reply_json(request, 200);
        break;
    default:
        http_json_error(body, sale_outcome_code(result->outcome),
                        result->outcome == SALE_OUTCOME_SOLD_OUT ? "the sale is sold out"
                                                                 : "the sale is not active now",
                        NULL, NULL);
        http_reply_json(request, 200);
        break;
    }
}

/* Purchase outcomes are counted even when the buyer hung up before the answer. */
static void on_purchase_answer(void *ctx, const engine_result_t *result)
{
    api_call_t *call = ctx;
    api_counters_t *counters = api_loop_of(&call->request)->counters;

    if (result->status == ENGINE_UNAVAILABLE)
        bump(&counters->unavailable);
    else if (result->status == ENGINE_OK)
        bump(&counters->outcomes[result->outcome]);
    api_call_answer(ctx, result);
}

/* The limits let the purchase through: the engine decides it. */
static void decide_purchase(api_call_t *call)
{
    const purchase_state_t *state = api_call_extra(call);
    engine_purchase(api_loop_of(&call->request)->engine, state->sku, state->user_id, on_purchase_answer,
                    call);
}

void api_post_purchase(const http_request_t *request)
{
    const char *user_id = api_identity_buyer(request), *field, *message;
    char sku[SALE_SKU_MAX + 1];
    purchase_state_t *state;
    json_t *body;
    api_call_t *call;

    if (user_id == NULL || (body = http_request_json_object(request)) == NULL)
        return;
    field = api_body_purchase(body, sku, &message);
    json_decref(body);
    if (field != NULL) {
        http_reply_validation_error(request, field, message);
        return;
    }
    if ((call = api_call_start_extra(request, render_purchase, "no sale with this sku", sizeof(*state))) ==
        NULL)
        return;
    state = api_call_extra(call);
    memcpy(state->sku, sku, sizeof(state->sku));
    snprintf(state->user_id, sizeof(state->user_id), "%s", user_id);
    api_limits_check(call, API_LIMIT_PURCHASES, user_id, decide_purchase);
}

static void render_found_purchase(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;

    http_json_open_success(body);
    api_render_purchase(body, result->purchase);
    http_json_close_success(body);
    http_reply_json(&call->request, 200);
}

void api_get_purchase(const http_request_t *request)
{
    const char *user_id = api_identity_buyer(request), *sku;
    char sku_copy[SALE_SKU_MAX + 1];
    api_call_t *call;

    if (user_id == NULL)
        return;
    sku = http_request_query(request, "sku");
    if (sku == NULL || !api_copy_sku(sku_copy, sku, strlen(sku))) {
        http_reply_validation_error(request, "sku",
                                    "must be given as 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    if ((call = api_call_start(request, render_found_purchase, "this user has no purchase in this sale")) !=
        NULL)
        engine_get_purchase(api_loop_of(request)->engine, sku_copy, user_id, api_call_answer, call);
}
