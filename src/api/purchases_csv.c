#include "api/purchases_csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

/*
 * One download. Owned by itself: freed once h2o has disposed the request and no engine call is
 * pending, by whichever of the two comes last.
 */
typedef struct {
    h2o_generator_t super; /* first: h2o hands it back to proceed */
    h2o_req_t *req;        /* NULL once h2o disposed the request */
    engine_loop_t *engine;
    size_t *in_flight;
    char sku[SALE_SKU_MAX + 1];
    char cursor[SALE_PURCHASE_NO_MAX]; /* the next page's `after` */
    bool more;                         /* a page follows the one being sent */
    bool asking;                       /* an engine call is pending */
    strbuf_t page;                     /* the bytes being sent: h2o reads them until it proceeds */
} stream_t;

/* Lives in the request's pool; tells the stream when h2o disposes the request. */
typedef struct {
    stream_t *stream;
} guard_t;

static void free_stream(stream_t *stream)
{
    strbuf_dispose(&stream->page);
    free(stream);
}

/* Whether a spreadsheet would read the field as a formula (or it would look like one escaped). */
static bool needs_apostrophe(const char *text)
{
    return text[0] != '\0' && strchr("=+-@'\t\r", text[0]) != NULL;
}

static bool needs_quotes(const char *text, size_t len)
{
    if (len > 0 && (text[0] == ' ' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        return true;
    for (size_t i = 0; i < len; ++i)
        if (text[i] == ',' || text[i] == '"' || text[i] == '\r' || text[i] == '\n')
            return true;
    return false;
}

static void append_field(strbuf_t *out, const char *text)
{
    size_t len = strlen(text);
    bool apostrophe = needs_apostrophe(text), quotes = apostrophe || needs_quotes(text, len);

    if (quotes)
        strbuf_append(out, "\"", 1);
    if (apostrophe)
        strbuf_append(out, "'", 1);
    for (const char *at = text, *end = text + len; at < end;) {
        const char *quote = memchr(at, '"', (size_t)(end - at));
        if (quote == NULL) {
            strbuf_append(out, at, (size_t)(end - at));
            break;
        }
        strbuf_append(out, at, (size_t)(quote - at) + 1);
        strbuf_append(out, "\"", 1); /* a quote inside a quoted field is doubled */
        at = quote + 1;
    }
    if (quotes)
        strbuf_append(out, "\"", 1);
}

void purchases_csv_row(strbuf_t *out, const sale_purchase_t *purchase)
{
    char iso[CLOCK_ISO_LEN];

    append_field(out, purchase->purchase_no);
    strbuf_append(out, ",", 1);
    append_field(out, purchase->sku);
    strbuf_append(out, ",", 1);
    append_field(out, purchase->user_id);
    strbuf_append(out, ",", 1);
    clock_format_iso(iso, purchase->purchased_ms);
    strbuf_append_cstr(out, iso);
    strbuf_append(out, "\r\n", 2);
}

/* Writes a page into the stream's buffer and remembers where the next one starts. */
static void take_page(stream_t *stream, const engine_result_t *page)
{
    for (size_t i = 0; i < page->purchase_count; ++i)
        purchases_csv_row(&stream->page, &page->purchases[i]);
    stream->more = page->next_cursor != NULL;
    if (stream->more)
        snprintf(stream->cursor, sizeof(stream->cursor), "%s", page->next_cursor);
}

static void send_page(stream_t *stream)
{
    h2o_iovec_t buf = h2o_iovec_init(stream->page.data, stream->page.len);

    if (stream->page.failed) {
        h2o_send(stream->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    h2o_send(stream->req, &buf, buf.len > 0 ? 1 : 0,
             stream->more ? H2O_SEND_STATE_IN_PROGRESS : H2O_SEND_STATE_FINAL);
}

static void on_page(void *ctx, const engine_result_t *result)
{
    stream_t *stream = ctx;

    --*stream->in_flight;
    stream->asking = false;
    if (stream->req == NULL) {
        free_stream(stream);
        return;
    }
    if (result->status != ENGINE_OK) {
        /* the status line went out with the first page: cut the body short instead of ending it */
        h2o_send(stream->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    take_page(stream, result);
    send_page(stream);
}

/* h2o sent the previous page: its buffer is free again, and the next page may be asked for. */
static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    stream_t *stream = (stream_t *)generator;

    (void)req;
    strbuf_reset(&stream->page);
    stream->asking = true;
    ++*stream->in_flight;
    engine_list_purchases(stream->engine, stream->sku, stream->cursor, ENGINE_PURCHASE_PAGE_MAX, on_page,
                          stream);
}

static void on_disposed(void *object)
{
    stream_t *stream = ((guard_t *)object)->stream;

    stream->req = NULL;
    if (!stream->asking)
        free_stream(stream);
}

static void add_header(h2o_req_t *req, const char *name, const char *value, size_t value_len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, value, value_len);
}

void purchases_csv_start(h2o_req_t *req, engine_loop_t *engine, size_t *in_flight, const char *sku,
                         const engine_result_t *first_page)
{
    stream_t *stream = calloc(1, sizeof(*stream));
    guard_t *guard;
    h2o_iovec_t disposition;

    if (stream == NULL) {
        h2o_send_error_503(req, "Service Unavailable", "out of memory", 0);
        return;
    }
    *stream =
        (stream_t){.super = {.proceed = on_proceed}, .req = req, .engine = engine, .in_flight = in_flight};
    snprintf(stream->sku, sizeof(stream->sku), "%s", sku);
    strbuf_init(&stream->page);
    guard = h2o_mem_alloc_shared(&req->pool, sizeof(*guard), on_disposed);
    guard->stream = stream;

    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, "content-type", H2O_STRLIT("text/csv; charset=utf-8"));
    /* the sku is [A-Za-z0-9-]: nothing in it needs escaping inside the quotes */
    disposition =
        h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("attachment; filename=\"")),
                   h2o_iovec_init(sku, strlen(sku)), h2o_iovec_init(H2O_STRLIT("-purchases.csv\"")));
    add_header(req, "content-disposition", disposition.base, disposition.len);
    add_header(req, "cache-control", H2O_STRLIT("no-store"));
    add_header(req, "x-content-type-options", H2O_STRLIT("nosniff"));

    strbuf_append_cstr(&stream->page, PURCHASES_CSV_HEADER);
    take_page(stream, first_page);
    h2o_start_response(req, &stream->super);
    send_page(stream);
}
