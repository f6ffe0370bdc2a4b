/*
 * render: the API's own JSON objects — a sale (public, or as the admin's product) and a purchase
 * — written with http_json into a reply body, and the replies of the engine's sale answers, which
 * the public (sales.c) and the admin (products.c) views share.
 */
#ifndef FLASHSALE_API_RENDER_H
#define FLASHSALE_API_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "api/call.h"
#include "core/sale.h"
#include "core/strbuf.h"

/*
 * The public sale object; with admin set, the product object (adds currentStock, totalPurchases,
 * persistedPurchases — null while the engine does not know it yet — and createdAt).
 */
void api_render_sale(strbuf_t *out, const sale_t *sale, int64_t now_ms, bool admin);
void api_render_purchase(strbuf_t *out, const sale_purchase_t *purchase);

/*
 * api_render_fn of an answer with one sale, or with the list of sales: products when call->admin
 * (status call->success_status), else the public view, which may be cached for a second.
 */
void api_render_sale_reply(const api_call_t *call, const engine_result_t *result);
void api_render_sales_reply(const api_call_t *call, const engine_result_t *result);

#endif
