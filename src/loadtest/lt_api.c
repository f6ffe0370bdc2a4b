#include "loadtest/lt_api.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "loadtest/lt_client.h"

#define CALL_TIMEOUT_NS   (10 * LT_NS_PER_SECOND)
#define BODY_MAX          (256 * 1024 * 1024) /* an orders page is far smaller; anything bigger is wrong */
#define ORDERS_PAGE_LIMIT 1000
#define PAGES_MAX         10000000 /* a server whose cursor never ends must not keep us forever */

lt_api_result_t lt_api_open(lt_api_t *api, const lt_url_t *url, char *err, size_t err_size)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
    int status;

    *api = (lt_api_t){.url = url, .fd = -1};
    strbuf_init(&api->body);
    if ((status = getaddrinfo(url->host, url->port, &hints, &found)) != 0) {
        snprintf(err, err_size, "cannot resolve %s: %s", url->host, gai_strerror(status));
        return LT_API_FAILED;
    }
    memcpy(&api->address, found->ai_addr, found->ai_addrlen);
    api->address_len = found->ai_addrlen;
    freeaddrinfo(found);
    if ((api->response = calloc(1, sizeof(*api->response))) == NULL) {
        snprintf(err, err_size, "out of memory");
        return LT_API_FAILED;
    }
    api->response->full_body = &api->body;
    return LT_API_OK;
}

void lt_api_close(lt_api_t *api)
{
    if (api->fd >= 0)
        close(api->fd);
    api->fd = -1;
    free(api->response);
    api->response = NULL;
    strbuf_dispose(&api->body);
}

/* Waits until fd is ready for events or the deadline; false on timeout. */
static bool wait_for(int fd, short events, int64_t deadline_ns)
{
    struct pollfd poll_fd = {.fd = fd, .events = events};
    for (;;) {
        int64_t left = deadline_ns - lt_now_ns();
        int ready;
        if (left <= 0)
            return false;
        ready = poll(&poll_fd, 1, (int)((left + 999999) / 1000000));
        if (ready > 0)
            return true;
        if (ready == 0 || errno != EINTR)
            return false;
    }
}

static int connect_to(lt_api_t *api, int64_t deadline_ns, char *err, size_t err_size)
{
    int fd = socket(api->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), error = 0,
        one = 1;
    socklen_t len = sizeof(error);

    if (fd < 0) {
        snprintf(err, err_size, "cannot open a socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&api->address, api->address_len) != 0 && errno != EINPROGRESS)
        error = errno;
    else if (!wait_for(fd, POLLOUT, deadline_ns))
        error = ETIMEDOUT;
    else
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
        close(fd);
        snprintf(err, err_size, "cannot connect to http://%s: %s", api->url->authority, strerror(error));
        return -1;
    }
    api->fd = fd;
    return 0;
}

/* Sends all of data; false on failure. */
static bool send_all(int fd, const char *data, size_t len, int64_t deadline_ns)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            if (!wait_for(fd, POLLOUT, deadline_ns))
                return false;
        } else if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

/* Reads one whole answer into api->response; 0, or -1 (*stale: the server closed before answering). */
static int read_answer(lt_api_t *api, int64_t deadline_ns, bool *stale, char *err, size_t err_size)
{
    char buffer[16384];
    bool got_any = false;

    lt_response_reset(api->response);
    for (;;) {
        ssize_t n = recv(api->fd, buffer, sizeof(buffer), 0);
        size_t used;
        lt_response_status_t status;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_for(api->fd, POLLIN, deadline_ns)) {
                snprintf(err, err_size, "http://%s did not answer in time", api->url->authority);
                return -1;
            }
            continue;
        }
        if (n <= 0) {
            /* a keep-alive connection the server closed meanwhile: worth one retry */
            *stale = !got_any;
            if (n == 0 && got_any && lt_response_end(api->response) == LT_RESPONSE_COMPLETE)
                return 0;
            snprintf(err, err_size, "http://%s closed the connection without an answer", api->url->authority);
            return -1;
        }
        got_any = true;
        status = lt_response_feed(api->response, buffer, (size_t)n, &used);
        if (status == LT_RESPONSE_COMPLETE)
            return 0;
        if (status == LT_RESPONSE_INVALID || api->body.len > BODY_MAX || api->body.failed) {
            snprintf(err, err_size, "http://%s did not answer in HTTP/1.1", api->url->authority);
            return -1;
        }
    }
}

/* One request; 0 with the status and api->body, or -1 with err. */
static int call(lt_api_t *api, const char *method, const char *path, const char *admin_key, const char *body,
                int64_t timeout_ns, int *status, char *err, size_t err_size)
{
    int64_t deadline = lt_now_ns() + timeout_ns;
    strbuf_t request;
    int result = -1;

    strbuf_init(&request);
    strbuf_appendf(&request, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n", method, path,
                   api->url->authority);
    if (admin_key != NULL)
        strbuf_appendf(&request, "X-Admin-Key: %s\r\n", admin_key);
    if (body != NULL)
        strbuf_appendf(&request, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(body), body);
    else
        strbuf_append_cstr(&request, "\r\n");
    for (int attempt = 0; attempt < 2 && !request.failed; attempt++) {
        bool reused = api->fd >= 0, stale = false;
        if (!reused && connect_to(api, deadline, err, err_size) != 0)
            break;
        if (!send_all(api->fd, request.data, request.len, deadline)) {
            snprintf(err, err_size, "cannot send to http://%s: %s", api->url->authority, strerror(errno));
            stale = true;
        } else if (read_answer(api, deadline, &stale, err, err_size) == 0) {
            *status = api->response->status;
            result = 0;
            if (api->response->close) {
                close(api->fd);
                api->fd = -1;
            }
            break;
        }
        close(api->fd);
        api->fd = -1;
        /* only a kept-alive connection that the server had closed meanwhile is worth a second try */
        if (!(reused && stale))
            break;
    }
    strbuf_dispose(&request);
    return result;
}

/* The parsed envelope of api->body, or NULL with err set (caller decrefs). */
static json_t *envelope(lt_api_t *api, const char *what, char *err, size_t err_size)
{
    json_t *root = json_loadb(api->body.data != NULL ? api->body.data : "", api->body.len, 0, NULL);
    if (!json_is_object(root) || !json_is_boolean(json_object_get(root, "success"))) {
        json_decref(root);
        snprintf(err, err_size, "%s: http://%s answered HTTP %d without the API's JSON envelope", what,
                 api->url->authority, api->response->status);
        return NULL;
    }
    return root;
}

/* Maps an error answer to a result, with its code and message in err. */
static lt_api_result_t refusal(lt_api_t *api, json_t *root, const char *what, char *err, size_t err_size)
{
    json_t *error = json_object_get(root, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    int status = api->response->status;

    snprintf(err, err_size, "%s: HTTP %d %s%s%s", what, status, code != NULL ? code : "",
             message != NULL ? ": " : "", message != NULL ? message : "");
    if (status == 401 || status == 403)
        return LT_API_UNAUTHORIZED;
    if (status == 404)
        return LT_API_NOT_FOUND;
    return LT_API_REFUSED;
}

static bool get_int(json_t *object, const char *key, int64_t *out)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_integer(value))
        return false;
    *out = json_integer_value(value);
    return true;
}

/* Runs one call and parses its envelope: the data (borrowed from *root) or NULL with a result. */
static json_t *api_data(lt_api_t *api, const char *method, const char *path, const char *admin_key,
                        const char *body, int64_t timeout_ns, const char *what, json_t **root,
                        lt_api_result_t *result, char *err, size_t err_size)
{
    int status;

    *root = NULL;
    *result = LT_API_FAILED;
    if (call(api, method, path, admin_key, body, timeout_ns, &status, err, err_size) != 0)
        return NULL;
    if ((*root = envelope(api, what, err, err_size)) == NULL)
        return NULL;
    if (!json_is_true(json_object_get(*root, "success"))) {
        *result = refusal(api, *root, what, err, err_size);
        return NULL;
    }
    *result = LT_API_OK;
    return json_object_get(*root, "data");
}

lt_api_result_t lt_api_get_sale(lt_api_t *api, const char *sku, int64_t timeout_ns, lt_sale_t *sale,
                                char *err, size_t err_size)
{
    char path[128];
    json_t *root, *data;
    lt_api_result_t result;
    const char *state;

    snprintf(path, sizeof(path), "/api/v1/sales?sku=%s", sku);
    data =
        api_data(api, "GET", path, NULL, NULL, timeout_ns, "reading the sale", &root, &result, err, err_size);
    if (data != NULL) {
        state = json_string_value(json_object_get(data, "state"));
        snprintf(sale->state, sizeof(sale->state), "%s", state != NULL ? state : "?");
        if (!get_int(data, "stock", &sale->stock) || !get_int(data, "initialStock", &sale->initial_stock)) {
            snprintf(err, err_size, "reading the sale: the answer has no stock or initialStock");
            result = LT_API_FAILED;
        }
    }
    json_decref(root);
    return result;
}

lt_api_result_t lt_api_create_sale(lt_api_t *api, const char *admin_key, const char *sku, int64_t stock,
                                   int64_t hours, char *err, size_t err_size)
{
    char start[CLOCK_ISO_LEN], end[CLOCK_ISO_LEN];
    int64_t now = clock_now_ms();
    json_t *request, *root;
    char *body;
    lt_api_result_t result;

    clock_format_iso(start, now - 1000);
    clock_format_iso(end, now + hours * 3600 * 1000);
    request = json_pack("{s:s, s:s, s:I, s:s, s:s}", "sku", sku, "productName", "flashsale loadtest",
                        "initialStock", (json_int_t)stock, "startTime", start, "endTime", end);
    body = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (body == NULL) {
        snprintf(err, err_size, "out of memory");
        return LT_API_FAILED;
    }
    api_data(api, "POST", "/api/v1/products", admin_key, body, CALL_TIMEOUT_NS, "creating the sale", &root,
             &result, err, err_size);
    free(body);
    json_decref(root);
    return result;
}

lt_api_result_t lt_api_get_product(lt_api_t *api, const char *admin_key, const char *sku,
                                   lt_product_t *product, char *err, size_t err_size)
{
    char path[128];
    json_t *root, *data;
    lt_api_result_t result;

    snprintf(path, sizeof(path), "/api/v1/products/%s", sku);
    data = api_data(api, "GET", path, admin_key, NULL, CALL_TIMEOUT_NS, "reading the product", &root, &result,
                    err, err_size);
    if (data != NULL) {
        if (!get_int(data, "currentStock", &product->current_stock) &&
            !get_int(data, "stock", &product->current_stock))
            result = LT_API_FAILED;
        if (!get_int(data, "initialStock", &product->initial_stock) ||
            !get_int(data, "totalPurchases", &product->total_purchases))
            result = LT_API_FAILED;
        if (!get_int(data, "persistedPurchases", &product->persisted_purchases))
            product->persisted_purchases = -1;
        if (result != LT_API_OK)
            snprintf(err, err_size,
                     "reading the product: the answer lacks currentStock, initialStock or "
                     "totalPurchases");
    }
    json_decref(root);
    return result;
}

lt_api_result_t lt_api_list_orders(lt_api_t *api, const char *admin_key, const char *sku, lt_api_order_fn fn,
                                   void *context, uint64_t *count, char *err, size_t err_size)
{
    char path[256], cursor[128] = "";
    lt_api_result_t result = LT_API_OK;

    *count = 0;
    for (long page = 0; page < PAGES_MAX; page++) {
        json_t *root, *data, *next;
        size_t index;
        json_t *order;

        if (cursor[0] == '\0')
            snprintf(path, sizeof(path), "/api/v1/products/%s/purchases?limit=%d", sku, ORDERS_PAGE_LIMIT);
        else
            snprintf(path, sizeof(path), "/api/v1/products/%s/purchases?limit=%d&after=%s", sku,
                     ORDERS_PAGE_LIMIT, cursor);
        data = api_data(api, "GET", path, admin_key, NULL, CALL_TIMEOUT_NS, "reading the orders list", &root,
                        &result, err, err_size);
        if (data == NULL || !json_is_array(data)) {
            if (data != NULL) {
                snprintf(err, err_size, "reading the orders list: data is not an array");
                result = LT_API_FAILED;
            }
            json_decref(root);
            return result;
        }
        json_array_foreach(data, index, order)
        {
            const char *user = json_string_value(json_object_get(order, "userId"));
            const char *number = json_string_value(json_object_get(order, "purchaseNo"));
            fn(context, user != NULL ? user : "", number != NULL ? number : "");
            (*count)++;
        }
        next = json_object_get(json_object_get(root, "meta"), "nextCursor");
        if (!json_is_string(next) || json_array_size(data) == 0) {
            json_decref(root);
            return LT_API_OK;
        }
        /* the cursor is a purchase number: safe in a query string as it is */
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(root);
    }
    snprintf(err, err_size, "reading the orders list: the cursor never ended");
    return LT_API_FAILED;
}
