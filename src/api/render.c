#include "api/render.h"

#include <string.h>

#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_reply.h"

void api_render_sale(strbuf_t *out, const sale_t *sale, int64_t now_ms, bool admin)
{
    const char *end_reason = sale_end_reason_name(sale_end_reason(sale, now_ms));

    strbuf_append_cstr(out, "{\"sku\":");
    http_json_string(out, sale->sku, strlen(sale->sku));
    strbuf_append_cstr(out, ",\"productName\":");
    http_json_string(out, sale->product_name, strlen(sale->product_name));
    strbuf_append_cstr(out, ",\"state\":\"");
    strbuf_append_cstr(out, sale_state_name(sale_state(sale, now_ms)));
    strbuf_append_cstr(out, "\",\"endReason\":");
    if (end_reason == NULL) {
        strbuf_append_cstr(out, "null");
    } else {
        strbuf_append(out, "\"", 1);
        strbuf_append_cstr(out, end_reason);
        strbuf_append(out, "\"", 1);
    }
    strbuf_append_cstr(out, ",\"stock\":");
    strbuf_append_int(out, sale->stock);
    strbuf_append_cstr(out, ",\"initialStock\":");
    strbuf_append_int(out, sale->initial_stock);
    strbuf_append_cstr(out, ",\"startTime\":");
    http_json_time(out, sale->start_ms);
    strbuf_append_cstr(out, ",\"endTime\":");
    http_json_time(out, sale->end_ms);
    if (admin) {
        strbuf_append_cstr(out, ",\"currentStock\":");
        strbuf_append_int(out, sale->stock);
        strbuf_append_cstr(out, ",\"totalPurchases\":");
        strbuf_append_int(out, sale->initial_stock - sale->stock);
        strbuf_append_cstr(out, ",\"persistedPurchases\":");
        if (sale->persisted_purchases >= 0)
            strbuf_append_int(out, sale->persisted_purchases);
        else
            strbuf_append_cstr(out, "null");
        strbuf_append_cstr(out, ",\"createdAt\":");
        http_json_time(out, sale->created_ms);
        /* What a delete may name (?saleId=), so that its retry cannot delete a newer sale. */
        strbuf_append_cstr(out, ",\"saleId\":");
        strbuf_append_int(out, (int64_t)sale->sale_id);
    }
    strbuf_append(out, "}", 1);
}

void api_render_purchase(strbuf_t *out, const sale_purchase_t *purchase)
{
    strbuf_append_cstr(out, "{\"purchaseNo\":");
    http_json_string(out, purchase->purchase_no, strlen(purchase->purchase_no));
    strbuf_append_cstr(out, ",\"sku\":");
    http_json_string(out, purchase->sku, strlen(purchase->sku));
    strbuf_append_cstr(out, ",\"userId\":");
    http_json_string(out, purchase->user_id, strlen(purchase->user_id));
    strbuf_append_cstr(out, ",\"purchasedAt\":");
    http_json_time(out, purchase->purchased_ms);
    strbuf_append(out, "}", 1);
}

/* Public status replies may be cached for a second: the contract's answer to polling storms. */
static void send_sale_reply(const api_call_t *call)
{
    if (call->admin)
        http_reply_json(&call->request, call->success_status);
    else
        http_reply_send(&call->request, 200, HTTP_CONTENT_TYPE_JSON, "public, max-age=1");
}

void api_render_sale_reply(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;

    http_json_open_success(body);
    api_render_sale(body, result->sale, clock_now_ms(), call->admin);
    http_json_close_success(body);
    send_sale_reply(call);
}

void api_render_sales_reply(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;
    int64_t now = clock_now_ms();

    http_json_open_success(body);
    strbuf_append(body, "[", 1);
    for (size_t i = 0; i < result->sale_count; ++i) {
        if (i > 0)
            strbuf_append(body, ",", 1);
        api_render_sale(body, &result->sales[i], now, call->admin);
    }
    strbuf_append(body, "]", 1);
    http_json_close_success(body);
    send_sale_reply(call);
}
