/*
 * lt_api: the few API calls the load test makes outside the storm, one at a time on one keep-alive
 * connection: reading the sale (public), creating it, reading the product and walking the orders
 * list (admin).
 *
 * Blocking with a timeout per call, answers parsed with jansson: simplicity over speed, since these
 * run before and after the storm (and once a second for the live line's stock). Every error is one
 * line in err, worded for the user; the caller decides whether it is bad input (exit 2) or a failed
 * check.
 */
#ifndef FLASHSALE_LT_API_H
#define FLASHSALE_LT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/strbuf.h"
#include "loadtest/lt_options.h"
#include "loadtest/lt_response.h"

typedef enum {
    LT_API_OK = 0,
    LT_API_FAILED = -1,       /* no usable answer: unreachable, timeout, not the API */
    LT_API_UNAUTHORIZED = -2, /* 401 or 403: the admin key (or token) was refused */
    LT_API_NOT_FOUND = -3,    /* 404: no such sale */
    LT_API_REFUSED = -4,      /* another error answer (err has its code and message) */
} lt_api_result_t;

typedef struct {
    const lt_url_t *url;
    struct sockaddr_storage address;
    socklen_t address_len;
    int fd;                  /* the keep-alive connection, -1 when closed */
    lt_response_t *response; /* owned */
    strbuf_t body;           /* the last answer's body */
} lt_api_t;

typedef struct {
    char state[16]; /* UPCOMING, ACTIVE, ENDED */
    int64_t stock;
    int64_t initial_stock;
} lt_sale_t;

typedef struct {
    int64_t current_stock;
    int64_t initial_stock;
    int64_t total_purchases;
    int64_t persisted_purchases; /* -1 when the server does not say */
} lt_product_t;

/* Called for every order of the list; userId and purchaseNo are NUL-terminated, valid during the call. */
typedef void (*lt_api_order_fn)(void *context, const char *user_id, const char *purchase_no);

/* Resolves the URL's host; LT_API_FAILED with err when it cannot. */
lt_api_result_t lt_api_open(lt_api_t *api, const lt_url_t *url, char *err, size_t err_size);
void lt_api_close(lt_api_t *api);

/* GET /api/v1/sales?sku= */
lt_api_result_t lt_api_get_sale(lt_api_t *api, const char *sku, int64_t timeout_ns, lt_sale_t *sale,
                                char *err, size_t err_size);
/* POST /api/v1/products: a sale live from a second ago for `hours` hours. */
lt_api_result_t lt_api_create_sale(lt_api_t *api, const char *admin_key, const char *sku, int64_t stock,
                                   int64_t hours, char *err, size_t err_size);
/* GET /api/v1/products/{sku} */
lt_api_result_t lt_api_get_product(lt_api_t *api, const char *admin_key, const char *sku,
                                   lt_product_t *product, char *err, size_t err_size);
/* GET /api/v1/products/{sku}/purchases, every page (meta.nextCursor); *count = orders seen. */
lt_api_result_t lt_api_list_orders(lt_api_t *api, const char *admin_key, const char *sku, lt_api_order_fn fn,
                                   void *context, uint64_t *count, char *err, size_t err_size);

#endif
