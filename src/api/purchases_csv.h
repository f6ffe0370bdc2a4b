/*
 * purchases_csv: every purchase of a sale as a CSV download, streamed a page at a time.
 *
 * GET /api/v1/products/{sku}/purchases?format=csv answers `text/csv; charset=utf-8` with a header
 * row `purchaseNo,sku,userId,purchasedAt`, then one row per order in purchase order, CRLF line
 * ends (RFC 4180). The orders come from the engine's listing in pages of ENGINE_PURCHASE_PAGE_MAX,
 * each asked for only once h2o has sent the one before (an h2o generator), so a download holds one
 * page in memory whatever the sale's size, and a slow client slows only itself. The pages follow
 * the listing's cursor, so every order is written exactly once, also while purchases go on: the
 * file ends with the last order that was durable when its page was read.
 *
 * Fields are quoted when they hold a comma, a quote, CR or LF, or start or end with a blank. A
 * user id is chosen by the buyer, and a spreadsheet runs a cell that starts with =, +, -, @ as a
 * formula (CSV injection); such a field, and one that starts with an apostrophe, tab or CR, is
 * written with an apostrophe in front, which spreadsheets show as text. A program reading the file
 * removes one leading apostrophe from a field that has one to get the value back.
 *
 * A failure after the first page (the store stops answering) cannot change the status any more:
 * the response is then cut off without its final chunk, so the client sees a failed download,
 * never a short file that looks whole.
 */
#ifndef FLASHSALE_PURCHASES_CSV_H
#define FLASHSALE_PURCHASES_CSV_H

#include <h2o.h>
#include <stddef.h>

#include "core/engine.h"
#include "core/sale.h"
#include "core/strbuf.h"

#define PURCHASES_CSV_HEADER "purchaseNo,sku,userId,purchasedAt\r\n"

/*
 * Starts the download with the first page, which the caller already asked the engine for (so
 * that an unknown sku or an unavailable store is still answered in JSON). Copies what it needs of
 * the page; asks the engine for the next ones on `engine`, from this thread, counting each call
 * in *in_flight while it is pending (the server drains those before it stops).
 */
void purchases_csv_start(h2o_req_t *req, engine_loop_t *engine, size_t *in_flight, const char *sku,
                         const engine_result_t *first_page);

/* Appends one row (with its CRLF); public for its unit test. */
void purchases_csv_row(strbuf_t *out, const sale_purchase_t *purchase);

#endif
