/*
 * pages: the storefront — GET / (the buyer page), /admin (the operator page), /docs (the API's
 * documentation, drawn in the browser from the OpenAPI document) and /api/openapi.json — and the
 * files they load, under their paths in web/ (GET /css/{file}, /js/{file}: a folder of web/ is a
 * pair of rows in the route table, and a file outside them is served only by a route that names
 * it, so the table stays the one list of what the server answers). The files are web/ as compiled
 * into the binary (scripts/embed_web.py), or a directory given with --web-root; http/static_files
 * serves them with their caching headers, and the Content-Security-Policy below on every page.
 */
#include <stdio.h>
#include <string.h>

#include "api/call.h"
#include "api/handlers.h"
#include "core/clock.h"
#include "http/http_metrics.h"
#include "http/http_reply.h"
#include "http/http_server.h"
#include "http/static_files.h"

/*
 * Everything from this origin only, no inline script or style (so an injected <script> or a
 * style="" does nothing), no framing (clickjacking a Buy button), no <base> and no form posting
 * elsewhere. The pages load nothing from another origin: a shop page must not depend on a CDN in
 * the first second of a sale, nor on a network with internet.
 */
#define PAGE_POLICY                                                                                          \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "    \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* web/, generated at build time (web_assets.c). */
extern const static_file_t web_assets[];
extern const size_t web_assets_count;

/* The routes that name a file of their own. */
static const struct {
    const char *route;
    const char *file;
} named[] = {
    {"/", "/index.html"},
    {"/admin", "/admin.html"},
    {"/docs", "/docs.html"},
    {"/api/openapi.json", "/openapi.json"},
};

int api_pages_open(api_t *api, const char *web_root, char *err, size_t err_size)
{
    static_files_t *files;

    if (static_files_open(
            &files,
            &(static_files_options_t){
                .files = web_assets, .count = web_assets_count, .root = web_root, .html_policy = PAGE_POLICY},
            err, err_size) != 0)
        return -1;
    static_files_close(api->pages);
    api->pages = files;
    return 0;
}

static void serve(const http_request_t *request, const char *path, size_t path_len)
{
    int status = static_files_serve(api_loop_of(request)->api->pages, request->req, path, path_len);

    switch (status) {
    case STATIC_FILES_NOT_FOUND:
        http_reply_not_found(request, "no such route");
        break;
    case STATIC_FILES_TOO_LARGE:
        http_reply_error(request, 500, "INTERNAL_ERROR", "the file is larger than the web root's limit",
                         NULL);
        break;
    case STATIC_FILES_READ_ERROR:
        http_reply_error(request, 500, "INTERNAL_ERROR", "the file could not be read", NULL);
        break;
    default:
        http_metrics_count(request->loop->metrics, request->path, status,
                           clock_monotonic_ns() - request->started_ns);
        break;
    }
}

void api_get_page(const http_request_t *request)
{
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); ++i) {
        if (strcmp(request->route->path, named[i].route) == 0) {
            serve(request, named[i].file, strlen(named[i].file));
            return;
        }
    }
    http_reply_not_found(request, "no such route");
}

void api_get_file(const http_request_t *request)
{
    /* the route names the folder: "/css/{file}" serves "/css/" and the file's name */
    const char *brace = strchr(request->route->path, '{');
    size_t folder_len = (size_t)(brace - request->route->path);
    const h2o_iovec_t name = request->params[0];
    char *path = h2o_mem_alloc_pool(&request->req->pool, folder_len + name.len);

    memcpy(path, request->route->path, folder_len);
    memcpy(path + folder_len, name.base, name.len);
    serve(request, path, folder_len + name.len);
}
