#include "http/http_api.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_server.h"

#define DEFAULT_PAGE_SIZE 100

/* ---- replies ------------------------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* What every reply needs to be sent and counted. */
typedef struct {
    h2o_req_t *req;
    http_thread_t *thread;
    metrics_route_t route;
    uint64_t started_ns;
} reply_t;

static http_thread_t *thread_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(http_thread_t, context, req->conn->ctx);
}

/* Sends the thread's body buffer with the given status; the body is copied into the request pool. */
static void send_reply(const reply_t *reply, int status, const char *content_type, const char *cache_control)
{
    h2o_req_t *req = reply->req;
    strbuf_t *body = &reply->thread->body;

    if (body->failed) {
        status = 500;
        strbuf_reset(body);
        http_json_error(body, "INTERNAL_ERROR", "out of memory", NULL, NULL);
    }
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    if (cache_control != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cache_control,
                       strlen(cache_control));
    req->res.content_length = body->len;
    h2o_send_inline(req, body->data, body->len);
    metrics_count_request(reply->thread->metrics, reply->route, status, monotonic_ns() - reply->started_ns);
}

static void send_json(const reply_t *reply, int status)
{
    send_reply(reply, status, "application/json; charset=utf-8", NULL);
}

static void send_error(const reply_t *reply, int status, const char *code, const char *message,
                       const char *field)
{
    strbuf_reset(&reply->thread->body);
    http_json_error(&reply->thread->body, code, message, field, NULL);
    send_json(reply, status);
}

static void send_validation_error(const reply_t *reply, const char *field, const char *message)
{
    char text[300];
    snprintf(text, sizeof(text), "%s %s", field, message);
    send_error(reply, 400, "VALIDATION_ERROR", text, field);
}

static void send_not_found(const reply_t *reply, const char *message)
{
    send_error(reply, 404, "NOT_FOUND", message, NULL);
}

static void send_unavailable(const reply_t *reply)
{
    send_error(reply, 503, "SERVICE_UNAVAILABLE", "the store did not answer in time; retry shortly", NULL);
}

/* ---- pending engine calls ------------------------------------------------------------------ */

typedef struct pending_call pending_call_t;

/* Writes the reply of a successful engine answer; the body buffer is already reset. */
typedef void (*render_fn)(const pending_call_t *call, const engine_result_t *result);

/* Lives in the request pool; h2o disposes it with the request. */
typedef struct {
    pending_call_t *call;
} call_guard_t;

/* One engine call in flight. Owned by the call itself: on_engine_answer frees it. */
struct pending_call {
    reply_t reply; /* reply.req is NULL once the client is gone */
    call_guard_t *guard;
    render_fn render;
    const char *not_found; /* the message of a 404 */
    bool admin;            /* render sales as products */
    int success_status;
};

static void on_request_disposed(void *object)
{
    call_guard_t *guard = object;
    if (guard->call != NULL)
        guard->call->reply.req = NULL;
}

/* The common answers of every status but ENGINE_OK. */
static void reply_status(const reply_t *reply, const engine_result_t *result, const char *not_found)
{
    switch (result->status) {
    case ENGINE_OK:
        assert(!"ENGINE_OK is rendered by the call's renderer");
        break;
    case ENGINE_NOT_FOUND:
        send_not_found(reply, not_found);
        break;
    case ENGINE_CONFLICT:
        send_error(reply, 409, "CONFLICT", "a sale with this sku already exists", "sku");
        break;
    case ENGINE_NOT_MODIFIABLE:
        strbuf_reset(&reply->thread->body);
        http_json_error(&reply->thread->body, "SALE_NOT_MODIFIABLE", "only an upcoming sale can be changed",
                        NULL, NULL);
        send_json(reply, 200);
        break;
    case ENGINE_INVALID:
        send_validation_error(reply, result->invalid_field, result->invalid_message);
        break;
    case ENGINE_UNAVAILABLE:
        send_unavailable(reply);
        break;
    }
}

/* The engine callback of every call: replies unless the client is gone, then frees the call. */
static void on_engine_answer(void *ctx, const engine_result_t *result)
{
    pending_call_t *call = ctx;

    --call->reply.thread->in_flight;
    if (call->reply.req != NULL) {
        call->guard->call = NULL;
        if (result->status == ENGINE_OK) {
            strbuf_reset(&call->reply.thread->body);
            call->render(call, result);
        } else {
            reply_status(&call->reply, result, call->not_found);
        }
    }
    free(call);
}

/* Purchase outcomes are counted even when the buyer hung up before the answer. */
static void on_purchase_answer(void *ctx, const engine_result_t *result)
{
    pending_call_t *call = ctx;

    if (result->status == ENGINE_UNAVAILABLE)
        metrics_count_unavailable(call->reply.thread->metrics);
    else if (result->status == ENGINE_OK)
        metrics_count_outcome(call->reply.thread->metrics, result->outcome);
    on_engine_answer(ctx, result);
}

/* Returns a call to pass to the engine with on_engine_answer, or NULL (a 503 was sent). */
static pending_call_t *start_call(const reply_t *reply, render_fn render, const char *not_found)
{
    pending_call_t *call = malloc(sizeof(*call));

    if (call == NULL) {
        send_unavailable(reply);
        return NULL;
    }
    *call =
        (pending_call_t){.reply = *reply, .render = render, .not_found = not_found, .success_status = 200};
    call->guard = h2o_mem_alloc_shared(&reply->req->pool, sizeof(*call->guard), on_request_disposed);
    call->guard->call = call;
    ++reply->thread->in_flight;
    return call;
}

/* ---- renderers ----------------------------------------------------------------------------- */

static void render_purchase(const pending_call_t *call, const engine_result_t *result)
{
    const reply_t *reply = &call->reply;
    strbuf_t *body = &reply->thread->body;

    switch (result->outcome) {
    case SALE_OUTCOME_SUCCESS:
        http_json_open_success(body);
        http_json_purchase(body, result->purchase);
        http_json_close_success(body);
        send_json(reply, 200);
        break;
    case SALE_OUTCOME_NOT_FOUND:
        send_not_found(reply, call->not_found);
        break;
    case SALE_OUTCOME_ALREADY_PURCHASED:
        http_json_error(body, "ALREADY_PURCHASED", "this user already bought in this sale", NULL,
                        result->purchase->purchase_no);
        send_json(reply, 200);
        break;
    default:
        http_json_error(body, sale_outcome_code(result->outcome),
                        result->outcome == SALE_OUTCOME_SOLD_OUT ? "the sale is sold out"
                                                                 : "the sale is not active now",
                        NULL, NULL);
        send_json(reply, 200);
        break;
    }
}

static void render_found_purchase(const pending_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->reply.thread->body;

    http_json_open_success(body);
    http_json_purchase(body, result->purchase);
    http_json_close_success(body);
    send_json(&call->reply, 200);
}

/* Public status replies may be cached for a second: the contract's answer to polling storms. */
static void send_sale_reply(const pending_call_t *call)
{
    if (call->admin)
        send_json(&call->reply, call->success_status);
    else
        send_reply(&call->reply, 200, "application/json; charset=utf-8", "public, max-age=1");
}

static void render_sale(const pending_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->reply.thread->body;

    http_json_open_success(body);
    http_json_sale(body, result->sale, clock_now_ms(), call->admin);
    http_json_close_success(body);
    send_sale_reply(call);
}

static void render_sales(const pending_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->reply.thread->body;
    int64_t now = clock_now_ms();

    http_json_open_success(body);
    strbuf_append(body, "[", 1);
    for (size_t i = 0; i < result->sale_count; ++i) {
        if (i > 0)
            strbuf_append(body, ",", 1);
        http_json_sale(body, &result->sales[i], now, call->admin);
    }
    strbuf_append(body, "]", 1);
    http_json_close_success(body);
    send_sale_reply(call);
}

static void render_deleted(const pending_call_t *call, const engine_result_t *result)
{
    (void)result;
    strbuf_append_cstr(&call->reply.thread->body, "{\"success\":true,\"data\":null}");
    send_json(&call->reply, 200);
}

static void render_purchases(const pending_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->reply.thread->body;

    strbuf_append_cstr(body, "{\"success\":true,\"data\":[");
    for (size_t i = 0; i < result->purchase_count; ++i) {
        if (i > 0)
            strbuf_append(body, ",", 1);
        http_json_purchase(body, &result->purchases[i]);
    }
    strbuf_append_cstr(body, "],\"meta\":{\"nextCursor\":");
    if (result->next_cursor != NULL)
        http_json_string(body, result->next_cursor, strlen(result->next_cursor));
    else
        strbuf_append_cstr(body, "null");
    strbuf_append_cstr(body, "}}");
    send_json(&call->reply, 200);
}

static void render_health(const pending_call_t *call, const engine_result_t *result)
{
    strbuf_t *body = &call->reply.thread->body;
    const char *status = "ok";
    bool serving = true;

    for (size_t i = 0; i < result->check_count; ++i) {
        if (result->checks[i].ok)
            continue;
        serving = serving && !result->checks[i].required;
        status = serving ? "degraded" : "unavailable";
    }
    strbuf_appendf(body, "{\"status\":\"%s\",\"uptime\":%.3f,\"checks\":{", status,
                   (double)(clock_monotonic_ms() - call->reply.thread->server->started_ms) / 1000.0);
    for (size_t i = 0; i < result->check_count; ++i) {
        const engine_check_t *check = &result->checks[i];
        strbuf_appendf(body, "%s\"%s\":{\"status\":\"%s\"", i > 0 ? "," : "", check->name,
                       check->ok ? "up" : "down");
        if (check->latency_ms >= 0)
            strbuf_appendf(body, ",\"latencyMs\":%.3f", check->latency_ms);
        if (check->detail != NULL) {
            strbuf_append_cstr(body, ",\"detail\":");
            http_json_string(body, check->detail, strlen(check->detail));
        }
        strbuf_append(body, "}", 1);
    }
    strbuf_append_cstr(body, "}}");
    send_reply(&call->reply, serving ? 200 : 503, "application/json; charset=utf-8", "no-store");
}

static void render_metrics(const pending_call_t *call, const engine_result_t *result)
{
    http_server_t *server = call->reply.thread->server;
    strbuf_t *body = &call->reply.thread->body;

    metrics_render(body, server->metrics, (size_t)server->options.threads);
    strbuf_append(body, result->text, result->text_len);
    send_reply(&call->reply, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

/* ---- request parsing ----------------------------------------------------------------------- */

static bool method_is(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method));
}

static h2o_iovec_t find_header(h2o_req_t *req, const char *name)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return index < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[index].value;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * The percent-decoded value of a query parameter as a NUL-terminated string in the request pool,
 * or NULL when absent. A malformed escape is kept literally: the value then fails validation. A
 * value that decodes to a NUL byte sets *nul: cut at the NUL it would pass for another value.
 */
static const char *query_param(h2o_req_t *req, const char *name, bool *nul)
{
    size_t name_len = strlen(name), at;
    const char *query, *end;

    if (req->query_at == SIZE_MAX)
        return NULL;
    query = req->path.base + req->query_at + 1;
    end = req->path.base + req->path.len;
    while (query < end) {
        const char *pair_end = memchr(query, '&', (size_t)(end - query));
        if (pair_end == NULL)
            pair_end = end;
        if ((size_t)(pair_end - query) >= name_len && memcmp(query, name, name_len) == 0 &&
            (query + name_len == pair_end || query[name_len] == '=')) {
            const char *value = query + name_len + (query + name_len < pair_end);
            char *decoded = h2o_mem_alloc_pool(&req->pool, (size_t)(pair_end - value) + 1);
            for (at = 0; value < pair_end; ++value) {
                int high, low;
                if (*value == '%' && pair_end - value >= 3 && (high = hex_value(value[1])) >= 0 &&
                    (low = hex_value(value[2])) >= 0) {
                    decoded[at++] = (char)(high * 16 + low);
                    *nul = *nul || decoded[at - 1] == '\0';
                    value += 2;
                } else {
                    decoded[at++] = *value == '+' ? ' ' : *value;
                }
            }
            decoded[at] = '\0';
            return decoded;
        }
        query = pair_end + 1;
    }
    return NULL;
}

/* Copies a valid sku into out (SALE_SKU_MAX + 1 bytes); false when it is not one. */
static bool copy_sku(char *out, const char *sku, size_t len)
{
    if (sku == NULL || !sale_sku_is_valid(sku, len))
        return false;
    memcpy(out, sku, len);
    out[len] = '\0';
    return true;
}

/* The trimmed X-User-Id in the request pool, or NULL after replying 400. */
static const char *require_user_id(const reply_t *reply)
{
    h2o_iovec_t value = find_header(reply->req, "x-user-id");
    char *user_id;

    while (value.len > 0 && (value.base[0] == ' ' || value.base[0] == '\t'))
        ++value.base, --value.len;
    while (value.len > 0 && (value.base[value.len - 1] == ' ' || value.base[value.len - 1] == '\t'))
        --value.len;
    if (value.base == NULL || !sale_user_id_is_valid(value.base, value.len)) {
        send_validation_error(reply, "X-User-Id", "must be 1-255 bytes without control characters");
        return NULL;
    }
    user_id = h2o_mem_alloc_pool(&reply->req->pool, value.len + 1);
    memcpy(user_id, value.base, value.len);
    user_id[value.len] = '\0';
    return user_id;
}

/* The JSON object body, or NULL after replying 400/413. The caller owns the reference. */
static json_t *require_json_object(const reply_t *reply)
{
    h2o_req_t *req = reply->req;
    json_error_t error;
    json_t *body;

    if (req->entity.len > HTTP_MAX_BODY) {
        send_error(reply, 413, "PAYLOAD_TOO_LARGE", "the body is larger than 16 KiB", NULL);
        return NULL;
    }
    body = json_loadb(req->entity.base == NULL ? "" : req->entity.base, req->entity.len,
                      JSON_REJECT_DUPLICATES, &error);
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        send_validation_error(reply, "body", "must be a JSON object");
        return NULL;
    }
    return body;
}

static bool require_admin(const reply_t *reply)
{
    h2o_iovec_t key = find_header(reply->req, "x-admin-key");
    unsigned char hash[crypto_generichash_BYTES];

    /* Comparing fixed-size hashes in constant time leaks neither the key's bytes nor its length. */
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)(key.base == NULL ? "" : key.base), key.len,
                       NULL, 0);
    if (key.base != NULL && sodium_memcmp(hash, reply->thread->server->admin_key_hash, sizeof(hash)) == 0)
        return true;
    send_error(reply, 401, "UNAUTHORIZED", "a valid X-Admin-Key header is required", NULL);
    return false;
}

/* Reads one string field into out (size bytes); returns the field's name on a type or size error. */
static const char *read_string_field(json_t *body, const char *name, char *out, size_t size, bool *present,
                                     const char **message)
{
    json_t *value = json_object_get(body, name);

    *present = value != NULL;
    if (value == NULL)
        return NULL;
    if (!json_is_string(value)) {
        *message = "must be a string";
        return name;
    }
    if (json_string_length(value) >= size) {
        *message = "is too long";
        return name;
    }
    memcpy(out, json_string_value(value), json_string_length(value) + 1);
    if (strlen(out) != json_string_length(value)) {
        *message = "must not contain NUL characters";
        return name;
    }
    return NULL;
}

static const char *read_time_field(json_t *body, const char *name, int64_t *out, bool *present,
                                   const char **message)
{
    json_t *value = json_object_get(body, name);

    *present = value != NULL;
    if (value != NULL && (!json_is_string(value) ||
                          clock_parse_iso(json_string_value(value), json_string_length(value), out) != 0)) {
        *message = "must be an ISO-8601 time such as 2026-02-15T10:00:00.000Z";
        return name;
    }
    return NULL;
}

/* Reads the fields of a create or an update; returns the first bad field's name, or NULL. */
static const char *read_sale_fields(json_t *body, sale_fields_t *fields, const char **message)
{
    json_t *stock = json_object_get(body, "initialStock");
    const char *bad;

    *fields = (sale_fields_t){0};
    if ((bad = read_string_field(body, "sku", fields->sku, sizeof(fields->sku), &fields->has_sku, message)) ||
        (bad = read_string_field(body, "productName", fields->product_name, sizeof(fields->product_name),
                                 &fields->has_product_name, message)) ||
        (bad = read_time_field(body, "startTime", &fields->start_ms, &fields->has_start, message)) ||
        (bad = read_time_field(body, "endTime", &fields->end_ms, &fields->has_end, message)))
        return bad;
    if (stock != NULL) {
        if (!json_is_integer(stock)) {
            *message = "must be an integer";
            return "initialStock";
        }
        fields->has_initial_stock = true;
        fields->initial_stock = json_integer_value(stock);
    }
    return NULL;
}

/* ---- routes -------------------------------------------------------------------------------- */

static void send_nul_error(const reply_t *reply, const char *field)
{
    send_validation_error(reply, field, "must not contain a NUL byte");
}

static void get_sales(const reply_t *reply)
{
    bool nul = false;
    const char *sku = query_param(reply->req, "sku", &nul);
    char sku_copy[SALE_SKU_MAX + 1];
    pending_call_t *call;

    if (nul) {
        send_nul_error(reply, "sku");
        return;
    }
    if (sku != NULL && !copy_sku(sku_copy, sku, strlen(sku))) {
        send_validation_error(reply, "sku", "must be 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    if (sku == NULL && (call = start_call(reply, render_sales, NULL)) != NULL)
        reply->thread->engine->engine->ops->list_sales(reply->thread->engine, on_engine_answer, call);
    else if (sku != NULL && (call = start_call(reply, render_sale, "no sale with this sku")) != NULL)
        reply->thread->engine->engine->ops->get_sale(reply->thread->engine, sku_copy, on_engine_answer, call);
}

static void post_purchase(const reply_t *reply)
{
    const char *user_id = require_user_id(reply);
    char sku[SALE_SKU_MAX + 1];
    json_t *body, *value;
    pending_call_t *call;

    if (user_id == NULL || (body = require_json_object(reply)) == NULL)
        return;
    value = json_object_get(body, "sku");
    if (!json_is_string(value) || !copy_sku(sku, json_string_value(value), json_string_length(value))) {
        json_decref(body);
        send_validation_error(reply, "sku", "must be a string of 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    value = json_object_get(body, "qty");
    if (value != NULL && !(json_is_integer(value) && json_integer_value(value) == 1)) {
        json_decref(body);
        send_validation_error(reply, "qty", "must be 1: one unit per buyer");
        return;
    }
    json_decref(body);
    if ((call = start_call(reply, render_purchase, "no sale with this sku")) != NULL)
        reply->thread->engine->engine->ops->purchase(reply->thread->engine, sku, user_id, on_purchase_answer,
                                                     call);
}

static void get_purchase(const reply_t *reply)
{
    const char *user_id = require_user_id(reply), *sku;
    char sku_copy[SALE_SKU_MAX + 1];
    pending_call_t *call;
    bool nul = false;

    if (user_id == NULL)
        return;
    sku = query_param(reply->req, "sku", &nul);
    if (nul) {
        send_nul_error(reply, "sku");
        return;
    }
    if (sku == NULL || !copy_sku(sku_copy, sku, strlen(sku))) {
        send_validation_error(reply, "sku", "must be given as 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    if ((call = start_call(reply, render_found_purchase, "this user has no purchase in this sale")) != NULL)
        reply->thread->engine->engine->ops->get_purchase(reply->thread->engine, sku_copy, user_id,
                                                         on_engine_answer, call);
}

/* Reads the body's sale fields; false after replying 400/413. Value checks are the caller's. */
static bool require_sale_fields(const reply_t *reply, sale_fields_t *fields)
{
    const char *message, *field;
    json_t *body;

    if ((body = require_json_object(reply)) == NULL)
        return false;
    field = read_sale_fields(body, fields, &message);
    json_decref(body);
    if (field != NULL)
        send_validation_error(reply, field, message);
    return field == NULL;
}

static void create_product(const reply_t *reply)
{
    const char *message, *field;
    sale_fields_t fields;
    pending_call_t *call;

    if (!require_sale_fields(reply, &fields))
        return;
    if ((field = sale_validate_create(&fields, &message)) != NULL) {
        send_validation_error(reply, field, message);
        return;
    }
    if ((call = start_call(reply, render_sale, NULL)) == NULL)
        return;
    call->admin = true;
    call->success_status = 201;
    reply->thread->engine->engine->ops->create_sale(reply->thread->engine, &fields, on_engine_answer, call);
}

static void update_product(const reply_t *reply, const char *sku)
{
    sale_fields_t fields;
    pending_call_t *call;

    if (!require_sale_fields(reply, &fields))
        return;
    if ((call = start_call(reply, render_sale, "no sale with this sku")) == NULL)
        return;
    call->admin = true;
    reply->thread->engine->engine->ops->update_sale(reply->thread->engine, sku, &fields, on_engine_answer,
                                                    call);
}

static void list_product_purchases(const reply_t *reply, const char *sku)
{
    bool after_nul = false, limit_nul = false;
    const char *after = query_param(reply->req, "after", &after_nul);
    const char *limit_text = query_param(reply->req, "limit", &limit_nul);
    long limit = DEFAULT_PAGE_SIZE;
    pending_call_t *call;

    if (after_nul || limit_nul) {
        send_nul_error(reply, after_nul ? "after" : "limit");
        return;
    }
    if (limit_text != NULL) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (limit_text[0] == '\0' || *end != '\0' || limit < 1 || limit > ENGINE_PURCHASE_PAGE_MAX) {
            send_validation_error(reply, "limit", "must be an integer from 1 to 1000");
            return;
        }
    }
    if (after != NULL && after[0] == '\0')
        after = NULL;
    if ((call = start_call(reply, render_purchases, "no sale with this sku")) != NULL)
        reply->thread->engine->engine->ops->list_purchases(reply->thread->engine, sku, after, (size_t)limit,
                                                           on_engine_answer, call);
}

static void send_method_not_allowed(const reply_t *reply, const char *allow)
{
    h2o_add_header(&reply->req->pool, &reply->req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    send_error(reply, 405, "METHOD_NOT_ALLOWED", "this route does not take that method", NULL);
}

/* /api/v1/products/:sku[/purchases] */
static void route_product(reply_t *reply, const char *rest, size_t rest_len)
{
    const char *slash = memchr(rest, '/', rest_len);
    size_t sku_len = slash == NULL ? rest_len : (size_t)(slash - rest);
    bool purchases = slash != NULL && h2o_memis(slash, rest_len - sku_len, H2O_STRLIT("/purchases"));
    h2o_req_t *req = reply->req;
    char sku[SALE_SKU_MAX + 1];
    pending_call_t *call;

    reply->route = purchases ? METRICS_ROUTE_PRODUCT_PURCHASES : METRICS_ROUTE_PRODUCT;
    /* h2o decodes %00 in the path; a NUL-cut sku would name another sale */
    if (memchr(rest, '\0', rest_len) != NULL) {
        send_nul_error(reply, "sku");
        return;
    }
    if ((slash != NULL && !purchases) || !copy_sku(sku, rest, sku_len)) {
        send_not_found(reply, "no such route or sale");
        return;
    }
    if (purchases ? !method_is(req, "GET")
                  : !(method_is(req, "GET") || method_is(req, "PUT") || method_is(req, "DELETE"))) {
        send_method_not_allowed(reply, purchases ? "GET" : "GET, PUT, DELETE");
        return;
    }
    if (!require_admin(reply))
        return;
    if (purchases) {
        list_product_purchases(reply, sku);
    } else if (method_is(req, "PUT")) {
        update_product(reply, sku);
    } else if ((call = start_call(reply, method_is(req, "GET") ? render_sale : render_deleted,
                                  "no sale with this sku")) != NULL) {
        call->admin = true;
        if (method_is(req, "GET"))
            reply->thread->engine->engine->ops->get_sale(reply->thread->engine, sku, on_engine_answer, call);
        else
            reply->thread->engine->engine->ops->delete_sale(reply->thread->engine, sku, on_engine_answer,
                                                            call);
    }
}

static void route(reply_t *reply)
{
    h2o_req_t *req = reply->req;
    h2o_iovec_t path = req->path_normalized;
    static const char products_prefix[] = "/api/v1/products/";
    pending_call_t *call;

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/api/v1/purchases"))) {
        reply->route = METRICS_ROUTE_PURCHASES;
        if (method_is(req, "POST"))
            post_purchase(reply);
        else if (method_is(req, "GET"))
            get_purchase(reply);
        else
            send_method_not_allowed(reply, "GET, POST");
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/api/v1/sales"))) {
        reply->route = METRICS_ROUTE_SALES;
        if (method_is(req, "GET"))
            get_sales(reply);
        else
            send_method_not_allowed(reply, "GET");
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/api/v1/products"))) {
        reply->route = METRICS_ROUTE_PRODUCTS;
        if (!method_is(req, "GET") && !method_is(req, "POST")) {
            send_method_not_allowed(reply, "GET, POST");
        } else if (require_admin(reply)) {
            if (method_is(req, "POST"))
                create_product(reply);
            else if ((call = start_call(reply, render_sales, NULL)) != NULL && (call->admin = true))
                reply->thread->engine->engine->ops->list_sales(reply->thread->engine, on_engine_answer, call);
        }
    } else if (path.len > sizeof(products_prefix) - 1 &&
               memcmp(path.base, products_prefix, sizeof(products_prefix) - 1) == 0) {
        route_product(reply, path.base + sizeof(products_prefix) - 1,
                      path.len - (sizeof(products_prefix) - 1));
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/health"))) {
        reply->route = METRICS_ROUTE_HEALTH;
        if (!method_is(req, "GET"))
            send_method_not_allowed(reply, "GET");
        else if ((call = start_call(reply, render_health, NULL)) != NULL)
            reply->thread->engine->engine->ops->health(reply->thread->engine, on_engine_answer, call);
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        reply->route = METRICS_ROUTE_METRICS;
        if (!method_is(req, "GET"))
            send_method_not_allowed(reply, "GET");
        else if ((call = start_call(reply, render_metrics, NULL)) != NULL)
            reply->thread->engine->engine->ops->metrics(reply->thread->engine, on_engine_answer, call);
    } else {
        send_not_found(reply, "no such route");
    }
}

int http_api_handle(h2o_handler_t *handler, h2o_req_t *req)
{
    reply_t reply = {
        .req = req, .thread = thread_of(req), .route = METRICS_ROUTE_OTHER, .started_ns = monotonic_ns()};

    (void)handler;
    route(&reply);
    return 0;
}
