/*
 * handlers: the route handlers of every resource file, for the route table in api.c.
 */
#ifndef FLASHSALE_API_HANDLERS_H
#define FLASHSALE_API_HANDLERS_H

#include "http/http_request.h"

/* purchases.c: a buyer's purchase */
void api_post_purchase(const http_request_t *request);
void api_get_purchase(const http_request_t *request);

/* sales.c: the public view of the sales */
void api_get_sales(const http_request_t *request);

/* events.c: the sales as they change, as server-sent events */
void api_get_events(const http_request_t *request);

/* products.c: the administrators' view of the sales, and their purchases */
void api_list_products(const http_request_t *request);
void api_create_product(const http_request_t *request);
void api_get_product(const http_request_t *request);
void api_update_product(const http_request_t *request);
void api_delete_product(const http_request_t *request);
void api_list_product_purchases(const http_request_t *request);

/* auth.c: built-in accounts */
void api_register(const http_request_t *request);
void api_login(const http_request_t *request);

/* info.c: what a page needs to know first */
void api_get_info(const http_request_t *request);

/* pages.c: the storefront's pages (the route's path names the file) and every file they load */
void api_get_page(const http_request_t *request);
void api_get_file(const http_request_t *request);

/* operations.c: for load balancers and monitoring */
void api_get_health(const http_request_t *request);
void api_get_metrics(const http_request_t *request);

#endif
