/*
 * products: the administrators' API (every route has HTTP_ROUTE_ADMIN). A product is a sale seen
 * with its counters: GET/POST /api/v1/products, GET/PUT/DELETE /api/v1/products/{sku}, and GET
 * /api/v1/products/{sku}/purchases, the sale's purchases page by page, or all of them as a CSV
 * download (?format=csv, purchases_csv.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/call.h"
#include "api/handlers.h"
#include "api/purchases_csv.h"
#include "api/render.h"
#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_metrics.h"
#include "http/http_reply.h"
#include "http/http_server.h"

#define DEFAULT_PAGE_SIZE 100

/* The {sku} of the path into out (SALE_SKU_MAX + 1 bytes); false after replying 404. */
static bool require_sku(const http_request_t *request, char *out)
{
    if (api_copy_sku(out, request->params[0].base, request->params[0].len))
        return true;
    http_reply_not_found(request, "no such route or sale");
    return false;
}

/* Reads the body's sale fields; false after replying 400/413. Value checks are the caller's. */
static bool require_sale_fields(const http_request_t *request, sale_fields_t *fields)
{
    const char *message, *field;
    json_t *body;

    if ((body = http_request_json_object(request)) == NULL)
        return false;
    field = api_body_sale_fields(body, fields, &message);
    json_decref(body);
    if (field != NULL)
        http_reply_validation_error(request, field, message);
    return field == NULL;
}

/* A call whose sales are rendered as products; NULL after replying 503. */
static api_call_t *start_admin_call(const http_request_t *request, api_render_fn render,
                                    const char *not_found)
{
    api_call_t *call = api_call_start(request, render, not_found);
    if (call != NULL)
        call->admin = true;
    return call;
}

void api_list_products(const http_request_t *request)
{
    api_call_t *call = start_admin_call(request, api_render_sales_reply, NULL);
    if (call != NULL)
        engine_list_sales(api_loop_of(request)->engine, api_call_answer, call);
}

void api_create_product(const http_request_t *request)
{
    const char *message, *field;
    sale_fields_t fields;
    api_call_t *call;

    if (!require_sale_fields(request, &fields))
        return;
    if ((field = sale_validate_create(&fields, &message)) != NULL) {
        http_reply_validation_error(request, field, message);
        return;
    }
    if ((call = start_admin_call(request, api_render_sale_reply, NULL)) == NULL)
        return;
    call->success_status = 201;
    engine_create_sale(api_loop_of(request)->engine, &fields, api_call_answer, call);
}

void api_get_product(const http_request_t *request)
{
    char sku[SALE_SKU_MAX + 1];
    api_call_t *call;

    if (require_sku(request, sku) &&
        (call = start_admin_call(request, api_render_sale_reply, "no sale with this sku")) != NULL)
        engine_get_sale(api_loop_of(request)->engine, sku, api_call_answer, call);
}

void api_update_product(const http_request_t *request)
{
    char sku[SALE_SKU_MAX + 1];
    sale_fields_t fields;
    api_call_t *call;

    if (!require_sku(request, sku) || !require_sale_fields(request, &fields))
        return;
    if ((call = start_admin_call(request, api_render_sale_reply, "no sale with this sku")) != NULL)
        engine_update_sale(api_loop_of(request)->engine, sku, &fields, api_call_answer, call);
}

static void render_deleted(const api_call_t *call, const engine_result_t *result)
{
    (void)result;
    strbuf_append_cstr(&call->request.loop->body, "{\"success\":true,\"data\":null}");
    http_reply_json(&call->request, 200);
}

/* ?saleId=N deletes the sku's sale only if it is sale N: a retry cannot delete a newer one. */
void api_delete_product(const http_request_t *request)
{
    const char *sale_id_text = http_request_query(request, "saleId");
    char sku[SALE_SKU_MAX + 1];
    unsigned long long sale_id = 0;
    api_call_t *call;

    if (!require_sku(request, sku))
        return;
    if (sale_id_text != NULL) {
        char *end;
        errno = 0;
        sale_id = strtoull(sale_id_text, &end, 10);
        if (sale_id_text[0] < '1' || sale_id_text[0] > '9' || *end != '\0' || errno != 0 ||
            sale_id > INT64_MAX) {
            http_reply_validation_error(request, "saleId",
                                        "must be a positive integer: the saleId of the sale to delete");
            return;
        }
    }
    if ((call = start_admin_call(request, render_deleted,
                                 sale_id_text != NULL ? "no sale with this sku and saleId"
                                                      : "no sale with this sku")) != NULL)
        engine_delete_sale(api_loop_of(request)->engine, sku, (uint64_t)sale_id, api_call_answer, call);
}

static void render_purchases(const api_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->request.loop->body;

    strbuf_append_cstr(body, "{\"success\":true,\"data\":[");
    for (size_t i = 0; i < result->purchase_count; ++i) {
        if (i > 0)
            strbuf_append(body, ",", 1);
        api_render_purchase(body, &result->purchases[i]);
    }
    strbuf_append_cstr(body, "],\"meta\":{\"nextCursor\":");
    if (result->next_cursor != NULL)
        http_json_string(body, result->next_cursor, strlen(result->next_cursor));
    else
        strbuf_append_cstr(body, "null");
    strbuf_append_cstr(body, "}}");
    http_reply_json(&call->request, 200);
}

/* The first page decides the status; the download then streams itself (purchases_csv). */
static void render_purchases_csv(const api_call_t *call, const engine_result_t *result)
{
    const http_request_t *request = &call->request;
    char sku[SALE_SKU_MAX + 1];

    /* the route's sku, checked before the call and still in the live request */
    snprintf(sku, sizeof(sku), "%.*s", (int)request->params[0].len, request->params[0].base);
    purchases_csv_start(request->req, api_loop_of(request)->engine, &request->loop->in_flight, sku, result);
    http_metrics_count(request->loop->metrics, request->path, 200,
                       clock_monotonic_ns() - request->started_ns);
}

void api_list_product_purchases(const http_request_t *request)
{
    const char *after = http_request_query(request, "after"),
               *limit_text = http_request_query(request, "limit"),
               *format = http_request_query(request, "format");
    char sku[SALE_SKU_MAX + 1];
    long limit = DEFAULT_PAGE_SIZE;
    api_call_t *call;

    if (!require_sku(request, sku))
        return;
    if (format != NULL && strcmp(format, "csv") == 0) {
        /* every order, whatever after and limit say: the download is the whole list */
        if ((call = api_call_start(request, render_purchases_csv, "no sale with this sku")) != NULL)
            engine_list_purchases(api_loop_of(request)->engine, sku, NULL, ENGINE_PURCHASE_PAGE_MAX,
                                  api_call_answer, call);
        return;
    }
    if (format != NULL && strcmp(format, "json") != 0) {
        http_reply_validation_error(request, "format", "must be json or csv");
        return;
    }
    if (limit_text != NULL) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (limit_text[0] == '\0' || *end != '\0' || limit < 1 || limit > ENGINE_PURCHASE_PAGE_MAX) {
            http_reply_validation_error(request, "limit", "must be an integer from 1 to 1000");
            return;
        }
    }
    if (after != NULL && after[0] == '\0')
        after = NULL;
    if ((call = api_call_start(request, render_purchases, "no sale with this sku")) != NULL)
        engine_list_purchases(api_loop_of(request)->engine, sku, after, (size_t)limit, api_call_answer, call);
}
