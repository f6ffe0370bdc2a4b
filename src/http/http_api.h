/*
 * http_api: the public and admin REST API — routing, request parsing, validation and replies.
 *
 * It turns each request into one engine call and the engine's answer into the seed-004 JSON
 * envelope. Engine calls may answer later (after a group commit, or a Redis round trip); the
 * request may be gone by then (the client hung up), so every pending call is tied to its request
 * by a guard in the request's pool that forgets the request when h2o frees it.
 */
#ifndef FLASHSALE_HTTP_API_H
#define FLASHSALE_HTTP_API_H

#include <h2o.h>

/*
 * The Content-Security-Policy of the pages: everything from this origin only, no inline script or
 * style (so an injected <script> or style="" does nothing), no framing (clickjacking a Buy button).
 */
#define HTTP_PAGE_POLICY                                                                                     \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "    \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* The h2o handler of every path; registered by http_server on "/". */
int http_api_handle(h2o_handler_t *handler, h2o_req_t *req);

#endif
