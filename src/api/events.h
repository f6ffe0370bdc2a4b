/*
 * events: GET /api/v1/sales/events[?sku=] — the sales as they change, as server-sent events.
 *
 * Each loop watches the engine (engine.h, watch) once it has a subscriber, turns the engine's
 * views of the sales into events with a sale_feed (stock updates in coalesced rounds, state changes
 * from purchases and from the clock, deletions), renders each event once and queues it on every
 * stream of that loop that follows the sale: a purchase costs the engine's notice and this
 * fan-out, never a lock per subscriber. The transport — framing, per-stream bounds, heartbeats,
 * the cut of a stalled reader — is http/event_stream.
 *
 * Contract (docs/api.md): the first event of every stream is an `initial` per sale it follows;
 * then `stock-update`, `state-change` and `sale-deleted`; a stream that lagged gets the
 * `sale-deleted` of what it missed and an `initial` again instead of what it missed. A sku with
 * no sale yet gets nothing until the sale is created. Beyond max_subscribers per server: 503.
 */
#ifndef FLASHSALE_API_EVENTS_H
#define FLASHSALE_API_EVENTS_H

#include <stddef.h>

#include "core/engine.h"
#include "core/strbuf.h"
#include "http/http_server.h"

/* The window between two rounds of stock updates (sale_feed) is core/fanout_window's. */
#define API_EVENTS_MAX_SUBSCRIBERS 20000

typedef struct api_events api_events_t;
typedef struct api_events_loop api_events_loop_t;

/* The server's part, shared by loop_count loops. NULL when out of memory. */
api_events_t *api_events_create(size_t max_subscribers, size_t loop_count);
void api_events_destroy(api_events_t *events);

/* On the loop's thread, with its engine handle; NULL when out of memory. */
api_events_loop_t *api_events_loop_start(api_events_t *events, http_loop_t *loop, engine_loop_t *engine);
/* On the loop's thread, after its streams ended (http_server's drain) and before the engine handle goes. */
void api_events_loop_stop(api_events_loop_t *owner);

/* Appends the refused subscribers and the windows as Prometheus text; from any loop's thread. */
void api_events_render_metrics(const api_events_t *events, strbuf_t *out);

#endif
