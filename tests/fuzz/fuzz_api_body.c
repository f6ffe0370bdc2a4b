/* The request bodies of the API: any bytes as a JSON body, read as a sale (create and update) and as a
 * purchase. */
#include <jansson.h>
#include <string.h>

#include "api/body.h"
#include "core/sale.h"
#include "fuzz.h"

static void check_sale(json_t *body)
{
    sale_fields_t fields;
    const char *message = NULL, *field = api_body_sale_fields(body, &fields, &message);
    sale_t current = {.sku = "FUZZ-1",
                      .product_name = "fuzz",
                      .initial_stock = 10,
                      .stock = 10,
                      .start_ms = 4102444800000,
                      .end_ms = 4102448400000};

    if (field != NULL) {
        FUZZ_CHECK(message != NULL);
        return;
    }
    FUZZ_CHECK(!fields.has_sku || strlen(fields.sku) <= SALE_SKU_MAX);
    FUZZ_CHECK(!fields.has_product_name || strlen(fields.product_name) < sizeof(fields.product_name));
    if (sale_validate_create(&fields, &message) == NULL) {
        FUZZ_CHECK(sale_sku_is_valid(fields.sku, strlen(fields.sku)));
        FUZZ_CHECK(fields.initial_stock > 0 && fields.end_ms > fields.start_ms);
    }
    /* an update that validates leaves an upcoming sale consistent */
    if (sale_validate_update(&current, &fields, &message) == NULL) {
        sale_apply_update(&current, &fields);
        FUZZ_CHECK(current.stock == current.initial_stock && current.initial_stock > 0);
        FUZZ_CHECK(current.end_ms > current.start_ms);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t error;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
    char sku[SALE_SKU_MAX + 1];
    const char *message = NULL;

    if (body == NULL)
        return 0;
    if (json_is_object(body)) {
        check_sale(body);
        if (api_body_purchase(body, sku, &message) == NULL)
            FUZZ_CHECK(sale_sku_is_valid(sku, strlen(sku)));
        else
            FUZZ_CHECK(message != NULL);
    }
    json_decref(body);
    return 0;
}
