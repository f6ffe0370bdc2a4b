#include "api/body.h"

#include <string.h>

#include "api/call.h"
#include "core/clock.h"

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

const char *api_body_sale_fields(json_t *body, sale_fields_t *fields, const char **message)
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

const char *api_body_purchase(json_t *body, char *sku, const char **message)
{
    json_t *value = json_object_get(body, "sku");

    if (!json_is_string(value) || !api_copy_sku(sku, json_string_value(value), json_string_length(value))) {
        *message = "must be a string of 1-64 characters of A-Z, a-z, 0-9 and -";
        return "sku";
    }
    value = json_object_get(body, "qty");
    if (value != NULL && !(json_is_integer(value) && json_integer_value(value) == 1)) {
        *message = "must be 1: one unit per buyer";
        return "qty";
    }
    return NULL;
}
