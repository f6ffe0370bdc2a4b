/*
 * info: GET /api/v1/info, what a page needs before it talks to the API — the server's time (to
 * correct the browser's clock: measure the round trip, take the server's time to be its middle),
 * how buyers identify themselves, whether accounts can be registered, and the version. Never
 * cached, since the time is its point.
 */
#include "api/call.h"
#include "api/handlers.h"
#include "core/clock.h"
#include "http/http_json.h"
#include "http/http_reply.h"

void api_get_info(const http_request_t *request)
{
    const api_t *api = api_loop_of(request)->api;
    strbuf_t *body = http_reply_body(request);

    strbuf_append_cstr(body, "{\"success\":true,\"data\":{\"serverTime\":");
    http_json_time(body, clock_now_ms());
    /* accounts can be registered where the server can sign their login tokens (api_accounts_t) */
    strbuf_appendf(body, ",\"authMode\":\"%s\",\"registration\":%s,\"version\":\"%s\"}}",
                   api->identity.jwt ? "jwt" : "header", api->accounts.signer != NULL ? "true" : "false",
                   FLASHSALE_VERSION);
    http_reply_send(request, 200, HTTP_CONTENT_TYPE_JSON, "no-store");
}
