#include "api/events.h"

#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "api/call.h"
#include "api/handlers.h"
#include "core/clock.h"
#include "core/fanout_window.h"
#include "core/sale_feed.h"
#include "http/event_stream.h"
#include "http/http_json.h"
#include "http/http_reply.h"
#include "http/loop_load.h"

struct api_events {
    size_t max_subscribers;
    atomic_size_t subscribers;   /* every loop's */
    _Atomic uint64_t refused;    /* 503s: beyond max_subscribers */
    _Atomic uint64_t *window_ms; /* each loop's current window, for /metrics */
    size_t loop_count;
};

struct api_events_loop {
    api_events_t *events;
    http_loop_t *loop;
    engine_loop_t *engine;
    sale_feed_t *feed;
    bool watching;
    h2o_linklist_t all;     /* subscribers of every sale */
    h2o_linklist_t waiting; /* subscribers that came before the engine's first view */
    strbuf_t event;         /* one event's data, rendered once for all its subscribers */
    /* The feed's next deadline, on the wall clock as the sales' times are. */
    h2o_socket_t *timer;
    int timer_fd;
    uint64_t queue_ns; /* spent queueing events on streams, since the start */
    /* The window's controller (core/fanout_window): the period since measured_ns, and the
     * fan-out's (queueing, writes, completions) and the loop thread's time at its start. */
    uint64_t measured_ns; /* monotonic */
    uint64_t fanout_ns;
    uint64_t demand_ns;
    uint64_t rounds;
};

/* Owned by itself: freed by on_close. */
typedef struct {
    api_events_loop_t *owner;
    event_stream_t *stream;
    sale_feed_topic_t *topic; /* NULL: every sale */
    h2o_linklist_t link;      /* in its topic's list, owner->all or owner->waiting */
    /* It lagged and missed events: its catch-up tells the deletions after the first `mark`. */
    bool behind;
    uint64_t mark;
    char sku[SALE_SKU_MAX + 1]; /* "" for every sale */
} subscriber_t;

/* ---- rendering: {"type": TYPE, "data": {...}} ---- */

static void open_event(strbuf_t *out, const char *type, const char *sku)
{
    strbuf_reset(out);
    strbuf_append_cstr(out, "{\"type\":\"");
    strbuf_append_cstr(out, type);
    strbuf_append_cstr(out, "\",\"data\":{\"sku\":");
    http_json_string(out, sku, strlen(sku));
}

static void render_initial(strbuf_t *out, const sale_t *sale, sale_state_t state, sale_end_reason_t reason)
{
    open_event(out, "initial", sale->sku);
    strbuf_append_cstr(out, ",\"state\":\"");
    strbuf_append_cstr(out, sale_state_name(state));
    strbuf_append_cstr(out, "\",\"stock\":");
    strbuf_append_int(out, sale->stock);
    strbuf_append_cstr(out, ",\"initialStock\":");
    strbuf_append_int(out, sale->initial_stock);
    strbuf_append_cstr(out, ",\"productName\":");
    http_json_string(out, sale->product_name, strlen(sale->product_name));
    strbuf_append_cstr(out, ",\"startTime\":");
    http_json_time(out, sale->start_ms);
    strbuf_append_cstr(out, ",\"endTime\":");
    http_json_time(out, sale->end_ms);
    if (state == SALE_STATE_ENDED) {
        strbuf_append_cstr(out, ",\"endReason\":\"");
        strbuf_append_cstr(out, sale_end_reason_name(reason));
        strbuf_append_cstr(out, "\"");
    }
    strbuf_append_cstr(out, "}}");
}

static void render_event(strbuf_t *out, const sale_event_t *event)
{
    switch (event->type) {
    case SALE_EVENT_INITIAL:
        render_initial(out, event->sale, event->state, event->reason);
        return;
    case SALE_EVENT_STOCK:
        open_event(out, "stock-update", event->sale->sku);
        strbuf_append_cstr(out, ",\"stock\":");
        strbuf_append_int(out, event->sale->stock);
        break;
    case SALE_EVENT_STATE:
        open_event(out, "state-change", event->sale->sku);
        strbuf_append_cstr(out, ",\"state\":\"");
        strbuf_append_cstr(out, sale_state_name(event->state));
        strbuf_append_cstr(out, "\"");
        if (event->state == SALE_STATE_ENDED) {
            strbuf_append_cstr(out, ",\"reason\":\"");
            strbuf_append_cstr(out, sale_end_reason_name(event->reason));
            strbuf_append_cstr(out, "\"");
        }
        break;
    case SALE_EVENT_DELETED:
        open_event(out, "sale-deleted", event->sale->sku);
        break;
    }
    strbuf_append_cstr(out, "}}");
}

/* ---- fan-out ---- */

/*
 * Queues the rendered event on sub's stream. A stream that cannot take it has begun to lag: from
 * here on it misses events, and its catch-up must tell the deletions after `deletions_before`.
 */
static void deliver(subscriber_t *sub, const strbuf_t *event, uint64_t deletions_before)
{
    if (sub->behind || event->failed)
        return;
    if (!event_stream_send(sub->stream, event->data, event->len) && event_stream_is_lagging(sub->stream)) {
        sub->behind = true;
        sub->mark = deletions_before;
    }
}

static void deliver_all(h2o_linklist_t *list, const strbuf_t *event, uint64_t deletions_before)
{
    for (h2o_linklist_t *node = list->next; node != list; node = node->next)
        deliver(H2O_STRUCT_FROM_MEMBER(subscriber_t, link, node), event, deletions_before);
}

static void on_feed_event(void *ctx, sale_feed_topic_t *topic, const sale_event_t *event)
{
    api_events_loop_t *owner = ctx;
    uint64_t deletions_before =
        event->type == SALE_EVENT_DELETED ? event->deletion - 1 : sale_feed_deletions(owner->feed);
    h2o_linklist_t *followers = sale_feed_topic_data(topic);
    if ((followers == NULL || h2o_linklist_is_empty(followers)) && h2o_linklist_is_empty(&owner->all))
        return;
    uint64_t started = clock_monotonic_ns();
    render_event(&owner->event, event);
    if (followers != NULL)
        deliver_all(followers, &owner->event, deletions_before);
    deliver_all(&owner->all, &owner->event, deletions_before);
    owner->queue_ns += clock_monotonic_ns() - started;
}

/* A sale's whole state as it is now: a new stream's first event, and a lagging one's catch-up. */
static void send_initial(subscriber_t *sub, const sale_t *sale)
{
    int64_t now = clock_now_ms();
    strbuf_t *out = &sub->owner->event;
    render_initial(out, sale, sale_state(sale, now), sale_end_reason(sale, now));
    deliver(sub, out, sale_feed_deletions(sub->owner->feed));
}

static void send_initial_of_topic(void *ctx, sale_feed_topic_t *topic)
{
    send_initial(ctx, sale_feed_topic_sale(topic));
}

/* ---- the window ---- */

/*
 * Stock updates go out in rounds (sale_feed), and each round is one write per subscriber: with
 * thousands of subscribers, the writes are what events cost. Once a second (at the feed's timer or
 * the engine's news, whichever comes first) the window between rounds is chosen again from what
 * the writes and the loop took in the last period (core/fanout_window): the loop's spare time goes
 * to fresher updates, and a loop saturated by purchases keeps nine tenths of its time for them.
 */
static void adapt_window(api_events_loop_t *owner)
{
    uint64_t now = clock_monotonic_ns();
    /* A stopping server has ended its streams (loop->streams is gone) while the loop still drains
     * the requests in flight, and the engine may still tell of sales meanwhile. */
    if (now - owner->measured_ns < 1000000000u || owner->loop->streams == NULL)
        return;
    uint64_t fanout = owner->queue_ns + event_stream_loop_busy_ns(owner->loop->streams);
    uint64_t demand = loop_load_demand_ns();
    fanout_load_t load = {
        .elapsed_ns = now - owner->measured_ns,
        .fanout_ns = fanout - owner->fanout_ns,
        .loop_ns = demand - owner->demand_ns,
        .rounds = sale_feed_rounds(owner->feed) - owner->rounds,
    };
    int64_t window = fanout_window_next(sale_feed_window(owner->feed), &load);
    sale_feed_set_window(owner->feed, window);
    atomic_store_explicit(&owner->events->window_ms[owner->loop->index], (uint64_t)window,
                          memory_order_relaxed);
    owner->measured_ns = now;
    owner->fanout_ns = fanout;
    owner->demand_ns = demand;
    owner->rounds = sale_feed_rounds(owner->feed);
}

/* ---- the clock ---- */

static void arm_timer(api_events_loop_t *owner, int64_t deadline_ms)
{
    struct itimerspec when = {0};
    if (deadline_ms != INT64_MAX) {
        /* 0 would disarm: a deadline at or before the epoch is simply due */
        int64_t at = deadline_ms > 0 ? deadline_ms : 1;
        when.it_value.tv_sec = at / 1000;
        when.it_value.tv_nsec = (at % 1000) * 1000000;
    }
    timerfd_settime(owner->timer_fd, TFD_TIMER_ABSTIME, &when, NULL);
}

static void on_timer(h2o_socket_t *socket, const char *err)
{
    api_events_loop_t *owner = socket->data;
    (void)err;
    h2o_buffer_consume(&socket->input, socket->input->size);
    adapt_window(owner);
    arm_timer(owner, sale_feed_tick(owner->feed, clock_now_ms()));
}

/* ---- subscribers ---- */

/* Joins the feed (which has had its first view): the topic's list, or every sale's; then the
 * first events. */
static void attach(subscriber_t *sub)
{
    api_events_loop_t *owner = sub->owner;
    sub->mark = sale_feed_deletions(owner->feed);
    if (sub->sku[0] == '\0') {
        h2o_linklist_insert(&owner->all, &sub->link);
        sale_feed_each_sale(owner->feed, send_initial_of_topic, sub);
        return;
    }
    sale_feed_topic_t *topic = sale_feed_hold(owner->feed, sub->sku);
    h2o_linklist_t *followers = topic != NULL ? sale_feed_topic_data(topic) : NULL;
    if (topic != NULL && followers == NULL && (followers = malloc(sizeof(*followers))) != NULL) {
        h2o_linklist_init_anchor(followers);
        sale_feed_topic_set_data(topic, followers);
    }
    if (followers == NULL) {
        /* Out of memory: the browser reconnects. */
        if (topic != NULL)
            sale_feed_release(owner->feed, topic);
        h2o_linklist_insert(&owner->waiting, &sub->link);
        event_stream_close(sub->stream);
        return;
    }
    sub->topic = topic;
    h2o_linklist_insert(followers, &sub->link);
    if (sale_feed_topic_sale(topic) != NULL)
        send_initial(sub, sale_feed_topic_sale(topic));
}

static void on_sales(void *ctx, const sale_t *sales, size_t count)
{
    api_events_loop_t *owner = ctx;
    bool first = !sale_feed_is_ready(owner->feed);
    adapt_window(owner);
    arm_timer(owner, sale_feed_update(owner->feed, sales, count, clock_now_ms()));
    while (first && !h2o_linklist_is_empty(&owner->waiting)) {
        subscriber_t *sub = H2O_STRUCT_FROM_MEMBER(subscriber_t, link, owner->waiting.next);
        h2o_linklist_unlink(&sub->link);
        attach(sub);
    }
}

static void send_deleted(void *ctx, const char *sku)
{
    subscriber_t *sub = ctx;
    if (sub->topic != NULL && strcmp(sku, sub->sku) != 0)
        return;
    open_event(&sub->owner->event, "sale-deleted", sku);
    strbuf_append_cstr(&sub->owner->event, "}}");
    deliver(sub, &sub->owner->event, sale_feed_deletions(sub->owner->feed));
}

/* The stream caught up after lagging: what it missed is replaced by the latest state. */
static void on_resume(event_stream_t *stream, void *data)
{
    subscriber_t *sub = data;
    api_events_loop_t *owner = sub->owner;
    if (!sub->behind)
        return;
    sub->behind = false;
    if (!sale_feed_deleted_since(owner->feed, sub->mark, send_deleted, sub)) {
        /* It missed more deletions than the feed remembers: it starts over. */
        event_stream_close(stream);
        return;
    }
    if (sub->topic == NULL)
        sale_feed_each_sale(owner->feed, send_initial_of_topic, sub);
    else if (sale_feed_topic_sale(sub->topic) != NULL)
        send_initial(sub, sale_feed_topic_sale(sub->topic));
}

static void on_close(event_stream_t *stream, void *data)
{
    subscriber_t *sub = data;
    api_events_loop_t *owner = sub->owner;
    (void)stream;
    h2o_linklist_unlink(&sub->link);
    if (sub->topic != NULL) {
        h2o_linklist_t *followers = sale_feed_topic_data(sub->topic);
        if (h2o_linklist_is_empty(followers)) {
            free(followers);
            sale_feed_topic_set_data(sub->topic, NULL);
            sale_feed_release(owner->feed, sub->topic);
        }
    }
    atomic_fetch_sub(&owner->events->subscribers, 1);
    free(sub);
}

static const event_stream_handler_t handler = {.on_resume = on_resume, .on_close = on_close};

/* Opens a stream for sku (NULL: every sale), or answers 503: beyond max_subscribers, or stopping. */
static void subscribe(api_events_loop_t *owner, const http_request_t *request, const char *sku,
                      uint64_t last_event_id)
{
    api_events_t *events = owner->events;
    subscriber_t *sub = NULL;
    if (atomic_fetch_add(&events->subscribers, 1) >= events->max_subscribers ||
        (sub = calloc(1, sizeof(*sub))) == NULL ||
        (sub->stream = event_stream_open(request, last_event_id, &handler, sub)) == NULL) {
        atomic_fetch_sub(&events->subscribers, 1);
        atomic_fetch_add_explicit(&events->refused, 1, memory_order_relaxed);
        free(sub);
        http_reply_error(request, 503, "SERVICE_UNAVAILABLE",
                         "this server holds as many event streams as it may; retry later or poll", NULL);
        return;
    }
    sub->owner = owner;
    if (sku != NULL)
        snprintf(sub->sku, sizeof(sub->sku), "%s", sku);
    if (!owner->watching) {
        /* From the first subscriber on, for as long as the loop runs: a new stream's first state
         * is then known at once. */
        owner->watching = true;
        engine_watch(owner->engine, on_sales, owner);
    }
    if (sale_feed_is_ready(owner->feed))
        attach(sub);
    else
        h2o_linklist_insert(&owner->waiting, &sub->link);
}

/* Last-Event-ID (or ?lastEventId=, for clients that cannot set headers): the ids of the new stream
 * follow it. Anything but a decimal number is ignored: a reconnect gets the current state anyway. */
static uint64_t last_event_id(const http_request_t *request)
{
    h2o_iovec_t header = http_request_header_trimmed(request, "last-event-id");
    const char *query = http_request_query(request, "lastEventId");
    char text[21] = "";
    if (header.base != NULL && header.len < sizeof(text))
        memcpy(text, header.base, header.len);
    else if (header.base == NULL && query != NULL && strlen(query) < sizeof(text))
        strcpy(text, query);
    if (text[0] == '\0' || strspn(text, "0123456789") != strlen(text))
        return 0;
    return strtoull(text, NULL, 10);
}

void api_get_events(const http_request_t *request)
{
    api_events_loop_t *owner = api_loop_of(request)->events;
    const char *sku = http_request_query(request, "sku");
    char sku_copy[SALE_SKU_MAX + 1];

    if (sku != NULL && !api_copy_sku(sku_copy, sku, strlen(sku))) {
        http_reply_validation_error(request, "sku", "must be 1-64 characters of A-Z, a-z, 0-9 and -");
        return;
    }
    subscribe(owner, request, sku != NULL ? sku_copy : NULL, last_event_id(request));
}

/* ---- lifecycle ---- */

api_events_t *api_events_create(size_t max_subscribers, size_t loop_count)
{
    api_events_t *events = calloc(1, sizeof(*events));
    if (events == NULL || (events->window_ms = calloc(loop_count, sizeof(*events->window_ms))) == NULL) {
        free(events);
        return NULL;
    }
    events->max_subscribers = max_subscribers;
    events->loop_count = loop_count;
    return events;
}

void api_events_destroy(api_events_t *events)
{
    free(events->window_ms);
    free(events);
}

api_events_loop_t *api_events_loop_start(api_events_t *events, http_loop_t *loop, engine_loop_t *engine)
{
    api_events_loop_t *owner = calloc(1, sizeof(*owner));
    if (owner == NULL)
        return NULL;
    owner->events = events;
    owner->loop = loop;
    owner->engine = engine;
    owner->measured_ns = clock_monotonic_ns();
    owner->demand_ns = loop_load_demand_ns();
    h2o_linklist_init_anchor(&owner->all);
    h2o_linklist_init_anchor(&owner->waiting);
    strbuf_init(&owner->event);
    atomic_store_explicit(&events->window_ms[loop->index], FANOUT_WINDOW_MIN_MS, memory_order_relaxed);
    owner->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (owner->timer_fd < 0 ||
        (owner->feed = sale_feed_create(FANOUT_WINDOW_MIN_MS, on_feed_event, owner)) == NULL) {
        if (owner->timer_fd >= 0)
            close(owner->timer_fd);
        free(owner);
        return NULL;
    }
    /* The h2o socket owns the descriptor from here on. */
    owner->timer = h2o_evloop_socket_create(loop->context.loop, owner->timer_fd, 0);
    owner->timer->data = owner;
    h2o_socket_read_start(owner->timer, on_timer);
    return owner;
}

void api_events_loop_stop(api_events_loop_t *owner)
{
    /* http_server's drain ended every stream (on_close emptied the lists and the topics' data) */
    assert(h2o_linklist_is_empty(&owner->all) && h2o_linklist_is_empty(&owner->waiting));
    if (owner->watching)
        engine_watch(owner->engine, NULL, NULL);
    h2o_socket_read_stop(owner->timer);
    h2o_socket_close(owner->timer);
    sale_feed_destroy(owner->feed);
    strbuf_dispose(&owner->event);
    free(owner);
}

/* ---- metrics ---- */

void api_events_render_metrics(const api_events_t *events, strbuf_t *out)
{
    uint64_t window = 0;
    for (size_t i = 0; i < events->loop_count; ++i) {
        uint64_t loop_window = atomic_load_explicit(&events->window_ms[i], memory_order_relaxed);
        window = loop_window > window ? loop_window : window;
    }
    strbuf_appendf(
        out,
        "# HELP flashsale_event_streams_refused_total Event streams refused (503) beyond "
        "--max-subscribers.\n"
        "# TYPE flashsale_event_streams_refused_total counter\n"
        "flashsale_event_streams_refused_total %" PRIu64 "\n"
        "# HELP flashsale_event_window_seconds The widest window between two rounds of stock updates "
        "of any loop.\n"
        "# TYPE flashsale_event_window_seconds gauge\nflashsale_event_window_seconds %.3f\n",
        atomic_load_explicit(&events->refused, memory_order_relaxed), (double)window / 1000.0);
}
