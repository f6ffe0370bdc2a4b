/*
 * http_reply: sending a reply and counting it — the JSON body, the API's error format, and the
 * reason phrase of every status the server sends.
 *
 * Each loop builds its replies in one buffer (http_loop_t.body), reset per reply, so a reply costs
 * no allocation once the buffer has grown to the largest seen; sending copies it into h2o. A
 * reply is counted in the loop's metrics (route path, status, latency) as it is sent. Every error
 * has one shape: {"success":false,"error":{"code":...,"message":...[,"field":...]}}.
 */
#ifndef FLASHSALE_HTTP_REPLY_H
#define FLASHSALE_HTTP_REPLY_H

#include "core/strbuf.h"
#include "http/http_request.h"

#define HTTP_CONTENT_TYPE_JSON "application/json; charset=utf-8"

/* "OK", "Too Many Requests", ...; "Internal Server Error" for a status it does not know. */
const char *http_reason_phrase(int status);

/* The loop's reply buffer, emptied: the body to write before http_reply_send. */
strbuf_t *http_reply_body(const http_request_t *request);

/*
 * Sends the reply buffer with the given status and headers (cache_control may be NULL), and
 * counts the request. A buffer that ran out of memory is sent as a 500 error instead.
 */
void http_reply_send(const http_request_t *request, int status, const char *content_type,
                     const char *cache_control);

/* The same with Content-Type application/json and no Cache-Control. */
void http_reply_json(const http_request_t *request, int status);

/* An error reply; field (a validation error's) is added to the error object when not NULL. */
void http_reply_error(const http_request_t *request, int status, const char *code, const char *message,
                      const char *field);

/* 400 VALIDATION_ERROR, "<field> <message>", with the field named. */
void http_reply_validation_error(const http_request_t *request, const char *field, const char *message);

/* 404 NOT_FOUND. */
void http_reply_not_found(const http_request_t *request, const char *message);

/* 405 METHOD_NOT_ALLOWED with an Allow header ("GET, POST"). */
void http_reply_method_not_allowed(const http_request_t *request, const char *allow);

#endif
