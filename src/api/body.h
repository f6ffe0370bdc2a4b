/*
 * body: what the API reads from request bodies, as pure functions of a parsed JSON object.
 *
 * Kept apart from the handlers so that they are fuzzed on their own (tests/fuzz/fuzz_api_body.c):
 * every byte of a body comes from the client. Each reader returns NULL when the body is good, or
 * the name of the first bad field with a static message in *message (for a 400 naming the field).
 */
#ifndef FLASHSALE_API_BODY_H
#define FLASHSALE_API_BODY_H

#include <jansson.h>

#include "core/sale.h"

/* The fields of a create or an update (each optional here); value checks are core/sale.c's. */
const char *api_body_sale_fields(json_t *body, sale_fields_t *fields, const char **message);

/* A purchase: "sku" (a valid sku, copied into sku, SALE_SKU_MAX + 1 bytes) and an optional "qty" of 1. */
const char *api_body_purchase(json_t *body, char *sku, const char **message);

#endif
