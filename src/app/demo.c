#include "app/demo.h"

#include <stdbool.h>
#include <stdio.h>

#include "core/clock.h"

#define LOOP_TICK_MS 100

typedef struct {
    engine_loop_t *engine;
    bool done;
    bool failed;
} demo_t;

static void on_demo_created(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;
    demo->failed = result->status != ENGINE_OK;
    demo->done = true;
}

static void create_demo_sale(demo_t *demo)
{
    int64_t now = clock_now_ms();
    sale_fields_t fields = {
        .has_sku = true,
        .has_product_name = true,
        .has_initial_stock = true,
        .has_start = true,
        .has_end = true,
        .sku = DEMO_SKU,
        .product_name = "Limited Edition Demo Widget",
        .initial_stock = 100,
        .start_ms = now - 1000,
        .end_ms = now + 24 * 3600 * 1000,
    };
    engine_create_sale(demo->engine, &fields, on_demo_created, demo);
}

static void on_demo_deleted(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;
    if (result->status != ENGINE_OK) {
        demo->failed = demo->done = true;
        return;
    }
    create_demo_sale(demo);
}

/* A demo sale left by an earlier run is replaced unless it is still live. */
static void on_demo_found(void *ctx, const engine_result_t *result)
{
    demo_t *demo = ctx;

    if (result->status == ENGINE_NOT_FOUND)
        create_demo_sale(demo);
    else if (result->status == ENGINE_OK && sale_state(result->sale, clock_now_ms()) == SALE_STATE_ACTIVE)
        demo->done = true;
    else if (result->status == ENGINE_OK)
        engine_delete_sale(demo->engine, DEMO_SKU, 0, on_demo_deleted, demo);
    else
        demo->failed = demo->done = true;
}

int demo_sale_prepare(engine_loop_t *engine, h2o_loop_t *loop, char *err, size_t err_size)
{
    demo_t demo = {.engine = engine};

    engine_get_sale(engine, DEMO_SKU, on_demo_found, &demo);
    while (!demo.done)
        h2o_evloop_run(loop, LOOP_TICK_MS);
    if (demo.failed) {
        snprintf(err, err_size, "cannot create the demo sale");
        return -1;
    }
    return 0;
}
