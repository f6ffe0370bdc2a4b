/*
 * Unit tests of sale_feed: the whole sale on first sight, stock updates coalesced in rounds (one per
 * window, every sale due in it, the latest stock winning, the window adjustable), a sell-out
 * published at once (stock first, then state), the clock's
 * state changes at the deadlines the feed asks for, updates, deletions and re-creations under the
 * same sku, topics held for skus that do not exist yet, and the deletion log of streams that fell
 * behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/sale_feed.h"

#define COALESCE_MS 100
#define T0          1800000000000LL /* "now" in the tests; the sales open around it */
#define MAX_EVENTS  64

typedef struct {
    sale_event_type_t type;
    char sku[SALE_SKU_MAX + 1];
    int64_t stock;
    sale_state_t state;
    sale_end_reason_t reason;
    uint64_t deletion;
    void *data;
} recorded_t;

typedef struct {
    recorded_t events[MAX_EVENTS];
    size_t count;
} recorder_t;

static void record(void *ctx, sale_feed_topic_t *topic, const sale_event_t *event)
{
    recorder_t *recorder = ctx;
    assert_true(recorder->count < MAX_EVENTS);
    recorded_t *out = &recorder->events[recorder->count++];
    out->type = event->type;
    snprintf(out->sku, sizeof(out->sku), "%s", event->sale->sku);
    assert_string_equal(sale_feed_topic_sku(topic), event->sale->sku);
    out->stock = event->sale->stock;
    out->state = event->state;
    out->reason = event->reason;
    out->deletion = event->deletion;
    out->data = sale_feed_topic_data(topic);
}

static sale_t make_sale(uint64_t sale_id, const char *sku, int64_t stock, int64_t start_ms, int64_t end_ms)
{
    sale_t sale = {.sale_id = sale_id,
                   .initial_stock = stock,
                   .stock = stock,
                   .start_ms = start_ms,
                   .end_ms = end_ms,
                   .created_ms = T0 - 60000};
    snprintf(sale.sku, sizeof(sale.sku), "%s", sku);
    snprintf(sale.product_name, sizeof(sale.product_name), "Product %s", sku);
    return sale;
}

/* An active sale of 10, open for an hour around T0. */
static sale_t active_sale(uint64_t sale_id, const char *sku)
{
    return make_sale(sale_id, sku, 10, T0 - 1000, T0 + 3600000);
}

static void assert_event(const recorder_t *recorder, size_t index, sale_event_type_t type, const char *sku)
{
    assert_true(index < recorder->count);
    assert_int_equal(recorder->events[index].type, type);
    assert_string_equal(recorder->events[index].sku, sku);
}

static int64_t update1(sale_feed_t *feed, const sale_t *sale, int64_t now_ms)
{
    return sale_feed_update(feed, sale, 1, now_ms);
}

static void test_first_view_publishes_every_sale_whole(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    assert_false(sale_feed_is_ready(feed));
    sale_t sales[] = {active_sale(1, "A"), make_sale(2, "B", 5, T0 + 5000, T0 + 9000)};
    sales[0].stock = 7;
    int64_t deadline = sale_feed_update(feed, sales, 2, T0);
    assert_true(sale_feed_is_ready(feed));
    assert_int_equal(recorder.count, 2);
    assert_event(&recorder, 0, SALE_EVENT_INITIAL, "A");
    assert_int_equal(recorder.events[0].stock, 7);
    assert_int_equal(recorder.events[0].state, SALE_STATE_ACTIVE);
    assert_event(&recorder, 1, SALE_EVENT_INITIAL, "B");
    assert_int_equal(recorder.events[1].state, SALE_STATE_UPCOMING);
    /* B opens first */
    assert_int_equal(deadline, T0 + 5000);
    /* the same view again changes nothing */
    sale_feed_update(feed, sales, 2, T0 + 10);
    assert_int_equal(recorder.count, 2);
    assert_non_null(sale_feed_topic_sale(sale_feed_find(feed, "A")));
    assert_null(sale_feed_find(feed, "C"));
    sale_feed_destroy(feed);
}

static void test_stock_updates_are_coalesced_latest_wins(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sale = active_sale(1, "A");
    update1(feed, &sale, T0);
    /* the first change after the whole state goes at once */
    sale.stock = 9;
    assert_int_equal(update1(feed, &sale, T0 + 10), T0 + 3600000);
    assert_int_equal(recorder.count, 2);
    assert_event(&recorder, 1, SALE_EVENT_STOCK, "A");
    assert_int_equal(recorder.events[1].stock, 9);
    /* then the window: two changes 30 and 60 ms later wait, and the feed asks for a tick at its end */
    sale.stock = 8;
    assert_int_equal(update1(feed, &sale, T0 + 40), T0 + 10 + COALESCE_MS);
    sale.stock = 6;
    assert_int_equal(update1(feed, &sale, T0 + 70), T0 + 10 + COALESCE_MS);
    assert_int_equal(recorder.count, 2);
    /* the topic already shows the latest stock to newcomers */
    assert_int_equal(sale_feed_topic_sale(sale_feed_find(feed, "A"))->stock, 6);
    /* too early: nothing */
    sale_feed_tick(feed, T0 + 10 + COALESCE_MS - 1);
    assert_int_equal(recorder.count, 2);
    sale_feed_tick(feed, T0 + 10 + COALESCE_MS);
    assert_int_equal(recorder.count, 3);
    assert_event(&recorder, 2, SALE_EVENT_STOCK, "A");
    assert_int_equal(recorder.events[2].stock, 6);
    /* a change and its reversal within a window publish nothing */
    sale.stock = 5;
    update1(feed, &sale, T0 + 120);
    sale.stock = 6;
    update1(feed, &sale, T0 + 130);
    sale_feed_tick(feed, T0 + 400);
    assert_int_equal(recorder.count, 3);
    sale_feed_destroy(feed);
}

static void test_one_round_publishes_every_sale_due(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sales[] = {active_sale(1, "A"), active_sale(2, "B")};
    sale_feed_update(feed, sales, 2, T0);
    assert_int_equal(sale_feed_rounds(feed), 0);
    sales[0].stock = 9; /* opens a round at once */
    sale_feed_update(feed, sales, 2, T0 + 10);
    assert_int_equal(recorder.count, 3);
    assert_int_equal(sale_feed_rounds(feed), 1);
    /* both change within the window: one round at its end tells both */
    sales[0].stock = 8;
    sales[1].stock = 7;
    assert_int_equal(sale_feed_update(feed, sales, 2, T0 + 20), T0 + 10 + COALESCE_MS);
    assert_int_equal(recorder.count, 3);
    sale_feed_tick(feed, T0 + 10 + COALESCE_MS);
    assert_int_equal(recorder.count, 5);
    assert_int_equal(sale_feed_rounds(feed), 2); /* one round, two sales */
    assert_int_equal(recorder.events[3].type, SALE_EVENT_STOCK);
    assert_int_equal(recorder.events[4].type, SALE_EVENT_STOCK);
    /* a wider window delays the next round */
    sale_feed_set_window(feed, 4 * COALESCE_MS);
    assert_int_equal(sale_feed_window(feed), 4 * COALESCE_MS);
    sales[1].stock = 6;
    assert_int_equal(sale_feed_update(feed, sales, 2, T0 + 200), T0 + 10 + 5 * COALESCE_MS);
    sale_feed_tick(feed, T0 + 10 + 5 * COALESCE_MS - 1);
    assert_int_equal(recorder.count, 5);
    sale_feed_tick(feed, T0 + 10 + 5 * COALESCE_MS);
    assert_event(&recorder, 5, SALE_EVENT_STOCK, "B");
    assert_int_equal(recorder.events[5].stock, 6);
    sale_feed_destroy(feed);
}

static void test_sell_out_is_published_at_once_stock_first(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sale = active_sale(1, "A");
    update1(feed, &sale, T0);
    sale.stock = 3;
    update1(feed, &sale, T0 + 1);
    sale.stock = 1;
    update1(feed, &sale, T0 + 2); /* coalesced */
    sale.stock = 0;
    int64_t deadline = update1(feed, &sale, T0 + 3);
    assert_int_equal(recorder.count, 4);
    assert_event(&recorder, 2, SALE_EVENT_STOCK, "A");
    assert_int_equal(recorder.events[2].stock, 0);
    assert_event(&recorder, 3, SALE_EVENT_STATE, "A");
    assert_int_equal(recorder.events[3].state, SALE_STATE_ENDED);
    assert_int_equal(recorder.events[3].reason, SALE_END_SOLD_OUT);
    assert_int_equal(recorder.events[3].stock, 0);
    /* the first change opened a round; the sell-out did not wait for one */
    assert_int_equal(sale_feed_rounds(feed), 1);
    /* an ended sale needs no more ticks, and its end time changes nothing */
    assert_int_equal(deadline, INT64_MAX);
    sale_feed_tick(feed, T0 + 3600000 + 1);
    assert_int_equal(recorder.count, 4);
    sale_feed_destroy(feed);
}

static void test_clock_opens_and_ends_a_sale(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sale = make_sale(1, "A", 10, T0 + 1500, T0 + 4000);
    assert_int_equal(update1(feed, &sale, T0), T0 + 1500);
    assert_int_equal(sale_feed_tick(feed, T0 + 1499), T0 + 1500);
    assert_int_equal(recorder.count, 1);
    assert_int_equal(sale_feed_tick(feed, T0 + 1500), T0 + 4000);
    assert_event(&recorder, 1, SALE_EVENT_STATE, "A");
    assert_int_equal(recorder.events[1].state, SALE_STATE_ACTIVE);
    assert_int_equal(recorder.events[1].reason, SALE_END_NONE);
    assert_int_equal(sale_feed_tick(feed, T0 + 4000), INT64_MAX);
    assert_event(&recorder, 2, SALE_EVENT_STATE, "A");
    assert_int_equal(recorder.events[2].state, SALE_STATE_ENDED);
    assert_int_equal(recorder.events[2].reason, SALE_END_TIME_EXPIRED);
    assert_int_equal(recorder.count, 3);
    sale_feed_destroy(feed);
}

static void test_a_late_tick_tells_only_the_current_state(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sale = make_sale(1, "A", 10, T0 + 100, T0 + 200);
    update1(feed, &sale, T0);
    sale_feed_tick(feed, T0 + 500);
    assert_int_equal(recorder.count, 2);
    assert_event(&recorder, 1, SALE_EVENT_STATE, "A");
    assert_int_equal(recorder.events[1].state, SALE_STATE_ENDED);
    assert_int_equal(recorder.events[1].reason, SALE_END_TIME_EXPIRED);
    sale_feed_destroy(feed);
}

static void test_update_publishes_the_whole_sale_again(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sale = make_sale(1, "A", 10, T0 + 5000, T0 + 9000);
    update1(feed, &sale, T0);
    sale.initial_stock = sale.stock = 20;
    sale.start_ms = T0 + 6000;
    assert_int_equal(update1(feed, &sale, T0 + 1), T0 + 6000);
    assert_int_equal(recorder.count, 2);
    assert_event(&recorder, 1, SALE_EVENT_INITIAL, "A");
    assert_int_equal(recorder.events[1].stock, 20);
    snprintf(sale.product_name, sizeof(sale.product_name), "Renamed");
    update1(feed, &sale, T0 + 2);
    assert_event(&recorder, 2, SALE_EVENT_INITIAL, "A");
    sale_feed_destroy(feed);
}

static void test_deletion_and_re_creation(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sales[] = {active_sale(1, "A"), active_sale(2, "B")};
    sale_feed_update(feed, sales, 2, T0);
    /* B is gone: deleted, and its topic with it */
    sale_feed_update(feed, sales, 1, T0 + 1);
    assert_int_equal(recorder.count, 3);
    assert_event(&recorder, 2, SALE_EVENT_DELETED, "B");
    assert_int_equal(recorder.events[2].deletion, 1);
    assert_int_equal(sale_feed_deletions(feed), 1);
    assert_null(sale_feed_find(feed, "B"));
    /* A deleted and created again under its sku (a new sale_id): deleted, then whole */
    sale_t again = active_sale(3, "A");
    again.stock = 4;
    update1(feed, &again, T0 + 2);
    assert_int_equal(recorder.count, 5);
    assert_event(&recorder, 3, SALE_EVENT_DELETED, "A");
    assert_int_equal(recorder.events[3].stock, 10); /* the old sale as it was */
    assert_int_equal(recorder.events[3].deletion, 2);
    assert_event(&recorder, 4, SALE_EVENT_INITIAL, "A");
    assert_int_equal(recorder.events[4].stock, 4);
    /* the new sale's first stock change goes at once */
    again.stock = 3;
    update1(feed, &again, T0 + 3);
    assert_event(&recorder, 5, SALE_EVENT_STOCK, "A");
    sale_feed_destroy(feed);
}

static void test_held_topic_waits_for_its_sale(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    int subscribers = 0;
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_feed_update(feed, NULL, 0, T0);
    sale_feed_topic_t *topic = sale_feed_hold(feed, "LATER");
    assert_non_null(topic);
    assert_ptr_equal(sale_feed_hold(feed, "LATER"), topic);
    assert_null(sale_feed_topic_sale(topic));
    sale_feed_topic_set_data(topic, &subscribers);
    /* a view without it keeps the topic: it has data */
    sale_feed_update(feed, NULL, 0, T0 + 1);
    assert_ptr_equal(sale_feed_find(feed, "LATER"), topic);
    assert_int_equal(recorder.count, 0);
    sale_t sale = active_sale(7, "LATER");
    update1(feed, &sale, T0 + 2);
    assert_int_equal(recorder.count, 1);
    assert_event(&recorder, 0, SALE_EVENT_INITIAL, "LATER");
    assert_ptr_equal(recorder.events[0].data, &subscribers);
    /* deleted while held: the topic stays for its subscribers */
    sale_feed_update(feed, NULL, 0, T0 + 3);
    assert_event(&recorder, 1, SALE_EVENT_DELETED, "LATER");
    assert_ptr_equal(sale_feed_find(feed, "LATER"), topic);
    /* released without a sale: gone */
    sale_feed_topic_set_data(topic, NULL);
    sale_feed_release(feed, topic);
    assert_null(sale_feed_find(feed, "LATER"));
    sale_feed_destroy(feed);
}

static void test_many_topics_survive_growth_and_removal(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    char sku[16];
    for (int i = 0; i < 500; ++i) {
        snprintf(sku, sizeof(sku), "H-%d", i);
        assert_non_null(sale_feed_hold(feed, sku));
    }
    for (int i = 0; i < 500; i += 2) {
        snprintf(sku, sizeof(sku), "H-%d", i);
        sale_feed_release(feed, sale_feed_find(feed, sku));
    }
    for (int i = 0; i < 500; ++i) {
        snprintf(sku, sizeof(sku), "H-%d", i);
        if (i % 2 == 0)
            assert_null(sale_feed_find(feed, sku));
        else
            assert_string_equal(sale_feed_topic_sku(sale_feed_find(feed, sku)), sku);
    }
    /* topics without sale or data go with the next view */
    sale_feed_update(feed, NULL, 0, T0);
    for (int i = 1; i < 500; i += 2) {
        snprintf(sku, sizeof(sku), "H-%d", i);
        assert_null(sale_feed_find(feed, sku));
    }
    sale_feed_destroy(feed);
}

typedef struct {
    char skus[8][SALE_SKU_MAX + 1];
    size_t count;
} names_t;

static void collect_topic(void *ctx, sale_feed_topic_t *topic)
{
    names_t *names = ctx;
    snprintf(names->skus[names->count++], SALE_SKU_MAX + 1, "%s", sale_feed_topic_sku(topic));
}

static void collect_sku(void *ctx, const char *sku)
{
    names_t *names = ctx;
    snprintf(names->skus[names->count++], SALE_SKU_MAX + 1, "%s", sku);
}

static void test_each_sale_in_sale_id_order(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sales[] = {active_sale(30, "C"), active_sale(10, "A"), active_sale(20, "B")};
    sale_feed_update(feed, sales, 3, T0);
    sale_feed_hold(feed, "WAITING");
    names_t names = {0};
    assert_true(sale_feed_each_sale(feed, collect_topic, &names));
    assert_int_equal(names.count, 3);
    assert_string_equal(names.skus[0], "A");
    assert_string_equal(names.skus[1], "B");
    assert_string_equal(names.skus[2], "C");
    sale_feed_destroy(feed);
}

static void count_sku(void *ctx, const char *sku)
{
    (void)sku;
    ++*(size_t *)ctx;
}

static void test_deletion_log_reaches_back_a_bounded_way(void **state)
{
    (void)state;
    recorder_t recorder = {0};
    sale_feed_t *feed = sale_feed_create(COALESCE_MS, record, &recorder);
    sale_t sales[] = {active_sale(1, "A"), active_sale(2, "B"), active_sale(3, "C")};
    sale_feed_update(feed, sales, 3, T0);
    recorder.count = 0;
    sale_feed_update(feed, sales + 2, 1, T0 + 1); /* A and B go */
    names_t names = {0};
    assert_true(sale_feed_deleted_since(feed, 0, collect_sku, &names));
    assert_int_equal(names.count, 2);
    names.count = 0;
    assert_true(sale_feed_deleted_since(feed, 1, collect_sku, &names));
    assert_int_equal(names.count, 1);
    assert_string_equal(names.skus[0], recorder.events[1].sku);
    names.count = 0;
    assert_true(sale_feed_deleted_since(feed, 2, collect_sku, &names));
    assert_int_equal(names.count, 0);
    /* more deletions than the log holds: a stream that far behind must start over */
    for (uint64_t i = 0; i < SALE_FEED_DELETION_LOG; ++i) {
        sale_t sale = active_sale(100 + i, "X");
        update1(feed, &sale, T0 + 2);
        recorder.count = 0;
    }
    assert_int_equal(sale_feed_deletions(feed), 2 + SALE_FEED_DELETION_LOG);
    size_t counted = 0;
    assert_false(sale_feed_deleted_since(feed, 1, count_sku, &counted));
    assert_int_equal(counted, 0);
    assert_true(sale_feed_deleted_since(feed, 2, count_sku, &counted));
    assert_int_equal(counted, SALE_FEED_DELETION_LOG);
    sale_feed_destroy(feed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_view_publishes_every_sale_whole),
        cmocka_unit_test(test_stock_updates_are_coalesced_latest_wins),
        cmocka_unit_test(test_one_round_publishes_every_sale_due),
        cmocka_unit_test(test_sell_out_is_published_at_once_stock_first),
        cmocka_unit_test(test_clock_opens_and_ends_a_sale),
        cmocka_unit_test(test_a_late_tick_tells_only_the_current_state),
        cmocka_unit_test(test_update_publishes_the_whole_sale_again),
        cmocka_unit_test(test_deletion_and_re_creation),
        cmocka_unit_test(test_held_topic_waits_for_its_sale),
        cmocka_unit_test(test_many_topics_survive_growth_and_removal),
        cmocka_unit_test(test_each_sale_in_sale_id_order),
        cmocka_unit_test(test_deletion_log_reaches_back_a_bounded_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
