/*
 * static_files: serves files with their caching headers — from a table compiled into the binary,
 * or, for working on the files, from a directory on disk.
 *
 * A table is generated at build time by scripts/embed_web.py from a directory (web/, for the
 * pages: api/pages.c): each file with its content type, a strong ETag (a hash of its bytes) and, when that is
 * smaller, a gzip copy, so the binary stays the one thing to deploy and compresses nothing at run time.
 * Answers carry:
 *   - ETag, and 304 Not Modified when If-None-Match names it (weak comparison, RFC 9110 13.1.2);
 *     the gzip copy has its own ETag (another representation), and either validator is honoured;
 *   - Cache-Control: documents (HTML, JSON) `no-cache`, so a browser revalidates them on every
 *     load and a new deployment shows at once; every other file `public, max-age=300`: assets
 *     have no version in their names (there is no build step to put one there), so five minutes
 *     bounds how long a returning browser may run old scripts under a new page, while a buyer who
 *     reloads during the busy minute of a sale costs one 304 for the page and nothing for the rest;
 *   - the gzip copy with `Content-Encoding: gzip` when the request's Accept-Encoding allows it,
 *     and `Vary: Accept-Encoding` on every answer of a file that has one;
 *   - `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` on everything, and the
 *     configured Content-Security-Policy on HTML.
 * GET and HEAD are served alike (HEAD without the body).
 *
 * From disk (a web root): each request reads the file (at most STATIC_FILES_DISK_MAX bytes) on the
 * loop thread — meant for development, not for load — and answers with a fresh ETag and
 * `no-cache` on everything, so an edit shows on the next reload. A path is served only if every
 * segment is a plain name (no "..", ".", empty or hidden segment, no backslash or NUL; h2o has
 * already decoded %2e and friends) and its real path, symbolic links resolved, lies inside the
 * root; only regular files with a known content type are served.
 */
#ifndef FLASHSALE_STATIC_FILES_H
#define FLASHSALE_STATIC_FILES_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>

/* The largest file served from a web root; bounds what one request reads into memory. */
#define STATIC_FILES_DISK_MAX (4 * 1024 * 1024)

/* One embedded file. Everything is static data of the generated table. */
typedef struct {
    const char *path;         /* URL path, "/css/app.css" */
    const char *content_type; /* "text/css; charset=utf-8" */
    const char *etag;         /* strong and quoted: "\"0123...\"" */
    const unsigned char *body;
    size_t body_len;
    const unsigned char *gzip; /* NULL when compressing did not make the file smaller */
    size_t gzip_len;
    const char *gzip_etag; /* the gzip copy's own ETag, NULL with it */
} static_file_t;

typedef struct {
    const static_file_t *files; /* sorted by path; may be empty */
    size_t count;
    const char *root;        /* when set, files are read from this directory instead */
    const char *html_policy; /* the Content-Security-Policy of HTML answers, or NULL */
} static_files_options_t;

typedef struct static_files static_files_t;

/* What static_files_serve did when it sent nothing; the caller answers in its own format. */
typedef enum {
    STATIC_FILES_NOT_FOUND = -1, /* no such file, or a path that is not served */
    STATIC_FILES_TOO_LARGE = -2, /* a web root file over STATIC_FILES_DISK_MAX */
    STATIC_FILES_READ_ERROR = -3 /* a web root file that could not be read */
} static_files_error_t;

/*
 * Checks the options (a web root must be a directory) and keeps a copy of them; the table and
 * the policy string must outlive the result. Returns 0, or -1 with one line in err.
 */
int static_files_open(static_files_t **out, const static_files_options_t *options, char *err,
                      size_t err_size);
void static_files_close(static_files_t *files);

/* Whether files come from a web root on disk. */
bool static_files_from_disk(const static_files_t *files);

/*
 * Answers a GET or HEAD (the caller checked the method) with the file at `path` (a URL path
 * starting with "/"). Returns the HTTP status sent (200 or 304), or a static_files_error_t when
 * nothing was sent. Safe to call from any loop thread at once.
 */
int static_files_serve(static_files_t *files, h2o_req_t *req, const char *path, size_t path_len);

/* ---- the pieces, public for their unit tests ---- */

/* The embedded file at path, or NULL. */
const static_file_t *static_files_find(const static_file_t *files, size_t count, const char *path,
                                       size_t path_len);
/* The content type served for a path's extension, or NULL when files of that kind are not served. */
const char *static_files_content_type(const char *path, size_t path_len);
/* Whether an Accept-Encoding value allows gzip (a q-value of 0 refuses it; "*" stands for it). */
bool static_files_accepts_gzip(const char *value, size_t len);
/* Whether an If-None-Match value names etag ("*" names any), by weak comparison. */
bool static_files_etag_matches(const char *value, size_t len, const char *etag);
/* Whether a URL path may be looked up under a web root (see the top of this file). */
bool static_files_path_is_safe(const char *path, size_t path_len);

#endif
