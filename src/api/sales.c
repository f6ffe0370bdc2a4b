/*
 * sales: GET /api/v1/sales (every sale) and GET /api/v1/sales?sku= (one sale), the public view
 * buyers poll; answered from the engine's memory (embedded) or snapshot (distributed).
 */
#include <string.h>

#include "api/call.h"
#include "api/handlers.h"
#include "api/render.h"
#include "http/http_reply.h"

void api_get_sales(const http_request_t *request)
{
    const char *sku = http_request_query(request, "sku");
    char sku_copy[SALE_SKU_MAX + 1];
    api_call_t *call;

    if (sku != NULL && !api_copy_sku(sku_copy, sku, strlen(sku))) {
        http_reply_validation_error(request, "sku", "must be 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    if (sku == NULL && (call = api_call_start(request, api_render_sales_reply, NULL)) != NULL)
        engine_list_sales(api_loop_of(request)->engine, api_call_answer, call);
    else if (sku != NULL &&
             (call = api_call_start(request, api_render_sale_reply, "no sale with this sku")) != NULL)
        engine_get_sale(api_loop_of(request)->engine, sku_copy, api_call_answer, call);
}
