#include "http/static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_DOCUMENT "no-cache"
#define CACHE_ASSET    "public, max-age=300"
#define REFERRER       "same-origin"
/* A quoted hex digest of 16 bytes, as the generator writes them. */
#define DISK_ETAG_LEN (2 + 32)

struct static_files {
    static_files_options_t options;
    char *root; /* the web root's real path, owned; NULL for the embedded table */
    size_t root_len;
};

/* Kept in step with CONTENT_TYPES in scripts/embed_web.py; test_static_files checks they agree. */
static const struct {
    const char *extension;
    const char *content_type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/markdown; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".webmanifest", "application/manifest+json"},
};

/* ---- pure pieces ------------------------------------------------------------------------ */

static int compare_path(const char *path, size_t path_len, const char *other)
{
    size_t other_len = strlen(other);
    int order = memcmp(path, other, path_len < other_len ? path_len : other_len);
    if (order != 0)
        return order;
    return (path_len > other_len) - (path_len < other_len);
}

const static_file_t *static_files_find(const static_file_t *files, size_t count, const char *path,
                                       size_t path_len)
{
    size_t low = 0, high = count;

    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = compare_path(path, path_len, files[middle].path);
        if (order == 0)
            return &files[middle];
        if (order < 0)
            high = middle;
        else
            low = middle + 1;
    }
    return NULL;
}

const char *static_files_content_type(const char *path, size_t path_len)
{
    const char *dot = NULL;

    for (size_t i = path_len; i > 0 && path[i - 1] != '/'; --i) {
        if (path[i - 1] == '.') {
            dot = path + i - 1;
            break;
        }
    }
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); ++i) {
        size_t len = strlen(content_types[i].extension);
        if ((size_t)(path + path_len - dot) == len && strncasecmp(dot, content_types[i].extension, len) == 0)
            return content_types[i].content_type;
    }
    return NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims blanks around [*start, *end). */
static void trim(const char **start, const char **end)
{
    while (*start < *end && is_blank(**start))
        ++*start;
    while (*end > *start && is_blank((*end)[-1]))
        --*end;
}

/* Whether the parameters after a coding ("; q=0.5") leave it acceptable: only q=0 refuses. */
static bool quality_is_positive(const char *params, const char *end)
{
    while (params < end) {
        const char *next = memchr(params, ';', (size_t)(end - params)), *name = params, *name_end;
        if (next == NULL)
            next = end;
        name_end = next;
        trim(&name, &name_end);
        if (name_end - name >= 2 && (name[0] == 'q' || name[0] == 'Q') && name[1] == '=') {
            /* q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ): positive unless all zeros */
            for (const char *c = name + 2; c < name_end; ++c)
                if (*c >= '1' && *c <= '9')
                    return true;
            return false;
        }
        params = next + (next < end);
    }
    return true;
}

bool static_files_accepts_gzip(const char *value, size_t len)
{
    const char *at = value, *end = value + len;
    int gzip = -1, any = -1; /* -1 not named, else whether allowed */

    while (at < end) {
        const char *item_end = memchr(at, ',', (size_t)(end - at)), *coding = at, *coding_end;
        if (item_end == NULL)
            item_end = end;
        coding_end = memchr(coding, ';', (size_t)(item_end - coding));
        if (coding_end == NULL)
            coding_end = item_end;
        trim(&coding, &coding_end);
        size_t coding_len = (size_t)(coding_end - coding);
        bool allowed = quality_is_positive(coding_end, item_end);
        if ((coding_len == 4 && strncasecmp(coding, "gzip", 4) == 0) ||
            (coding_len == 6 && strncasecmp(coding, "x-gzip", 6) == 0))
            gzip = allowed;
        else if (coding_len == 1 && coding[0] == '*')
            any = allowed;
        at = item_end + (item_end < end);
    }
    return gzip >= 0 ? gzip == 1 : any == 1;
}

bool static_files_etag_matches(const char *value, size_t len, const char *etag)
{
    const char *at = value, *end = value + len;
    size_t etag_len = strlen(etag);

    while (at < end) {
        const char *item_end, *tag;
        while (at < end && (is_blank(*at) || *at == ','))
            ++at;
        if (at == end)
            break;
        if (*at == '*')
            return true;
        tag = at;
        if (end - tag >= 2 && tag[0] == 'W' && tag[1] == '/')
            tag += 2; /* weak comparison: W/"x" names "x" */
        if (tag == end || *tag != '"')
            return false; /* not an entity tag: the header is malformed, so nothing matches */
        item_end = memchr(tag + 1, '"', (size_t)(end - tag - 1));
        if (item_end == NULL)
            return false;
        ++item_end;
        if ((size_t)(item_end - tag) == etag_len && memcmp(tag, etag, etag_len) == 0)
            return true;
        at = item_end;
    }
    return false;
}

bool static_files_path_is_safe(const char *path, size_t path_len)
{
    if (path_len < 2 || path[0] != '/')
        return false;
    for (size_t start = 1; start <= path_len;) {
        const char *slash = memchr(path + start, '/', path_len - start);
        size_t end = slash == NULL ? path_len : (size_t)(slash - path);
        /* empty, ".", ".." and hidden names alike start with a dot or are empty */
        if (end == start || path[start] == '.')
            return false;
        for (size_t i = start; i < end; ++i)
            if (path[i] == '\\' || path[i] == '\0' || (unsigned char)path[i] < 0x20)
                return false;
        start = end + 1;
    }
    return path[path_len - 1] != '/';
}

/* ---- answering ------------------------------------------------------------------------- */

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, value, strlen(value));
}

static bool is_html(const char *content_type)
{
    return strncmp(content_type, "text/html", 9) == 0;
}

static bool is_document(const char *content_type)
{
    return is_html(content_type) || strncmp(content_type, "application/json", 16) == 0;
}

static h2o_iovec_t request_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t index = h2o_find_header(&req->headers, token, -1);
    return index < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[index].value;
}

/* One representation of a file, ready to send. */
typedef struct {
    const char *content_type;
    const char *etag;
    const char *cache_control;
    h2o_iovec_t body;
    bool gzip;
    bool vary; /* the file has a gzip copy, so the answer depends on Accept-Encoding */
} answer_t;

static int send_answer(static_files_t *files, h2o_req_t *req, const answer_t *answer, bool not_modified)
{
    /* Static data or the request pool: nothing to release when the send completes. */
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t body = answer->body;

    req->res.status = not_modified ? 304 : 200;
    req->res.reason = not_modified ? "Not Modified" : "OK";
    add_header(req, "etag", answer->etag);
    add_header(req, "cache-control", answer->cache_control);
    if (answer->vary)
        add_header(req, "vary", "Accept-Encoding");
    add_header(req, "x-content-type-options", "nosniff");
    add_header(req, "referrer-policy", REFERRER);
    if (not_modified) {
        body = h2o_iovec_init(NULL, 0);
    } else {
        add_header(req, "content-type", answer->content_type);
        if (answer->gzip)
            add_header(req, "content-encoding", "gzip");
        if (is_html(answer->content_type) && files->options.html_policy != NULL)
            add_header(req, "content-security-policy", files->options.html_policy);
        req->res.content_length = body.len;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        body = h2o_iovec_init(NULL, 0);
    h2o_start_response(req, &generator);
    h2o_send(req, &body, body.len > 0 ? 1 : 0, H2O_SEND_STATE_FINAL);
    return req->res.status;
}

static int serve_embedded(static_files_t *files, h2o_req_t *req, const char *path, size_t path_len)
{
    const static_file_t *file = static_files_find(files->options.files, files->options.count, path, path_len);
    h2o_iovec_t if_none_match = request_header(req, H2O_TOKEN_IF_NONE_MATCH), accept;
    answer_t answer;

    if (file == NULL)
        return STATIC_FILES_NOT_FOUND;
    answer = (answer_t){
        .content_type = file->content_type,
        .etag = file->etag,
        .cache_control = is_document(file->content_type) ? CACHE_DOCUMENT : CACHE_ASSET,
        .body = h2o_iovec_init(file->body, file->body_len),
        .vary = file->gzip != NULL,
    };
    if (file->gzip != NULL) {
        accept = request_header(req, H2O_TOKEN_ACCEPT_ENCODING);
        if (accept.base != NULL && static_files_accepts_gzip(accept.base, accept.len)) {
            answer.etag = file->gzip_etag;
            answer.body = h2o_iovec_init(file->gzip, file->gzip_len);
            answer.gzip = true;
        }
    }
    if (if_none_match.base != NULL) {
        /* Either validator stands for unchanged content; the 304 names the one the client holds. */
        if (static_files_etag_matches(if_none_match.base, if_none_match.len, file->etag)) {
            answer.etag = file->etag;
            return send_answer(files, req, &answer, true);
        }
        if (file->gzip != NULL &&
            static_files_etag_matches(if_none_match.base, if_none_match.len, file->gzip_etag)) {
            answer.etag = file->gzip_etag;
            return send_answer(files, req, &answer, true);
        }
    }
    return send_answer(files, req, &answer, false);
}

/* Reads a whole regular file of at most STATIC_FILES_DISK_MAX bytes into the request pool. */
static int read_file(h2o_req_t *req, const char *real_path, h2o_iovec_t *out)
{
    int fd = open(real_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), result = 0;
    struct stat info;

    if (fd < 0)
        return errno == ENOENT || errno == ELOOP ? STATIC_FILES_NOT_FOUND : STATIC_FILES_READ_ERROR;
    if (fstat(fd, &info) != 0) {
        result = STATIC_FILES_READ_ERROR;
    } else if (!S_ISREG(info.st_mode)) {
        result = STATIC_FILES_NOT_FOUND;
    } else if (info.st_size > STATIC_FILES_DISK_MAX) {
        result = STATIC_FILES_TOO_LARGE;
    } else {
        size_t size = (size_t)info.st_size, done = 0;
        char *data = h2o_mem_alloc_pool(&req->pool, size + 1);
        while (done < size) {
            ssize_t got = read(fd, data + done, size - done);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break; /* a file that shrank while read is served as far as it got */
            done += (size_t)got;
        }
        *out = h2o_iovec_init(data, done);
    }
    close(fd);
    return result;
}

static int serve_from_disk(static_files_t *files, h2o_req_t *req, const char *path, size_t path_len)
{
    const char *content_type = static_files_content_type(path, path_len);
    h2o_iovec_t if_none_match = request_header(req, H2O_TOKEN_IF_NONE_MATCH), body;
    unsigned char digest[16];
    char *joined, *real, *etag;
    int result;

    if (content_type == NULL || !static_files_path_is_safe(path, path_len))
        return STATIC_FILES_NOT_FOUND;
    joined = h2o_mem_alloc_pool(&req->pool, files->root_len + path_len + 1);
    memcpy(joined, files->root, files->root_len);
    memcpy(joined + files->root_len, path, path_len);
    joined[files->root_len + path_len] = '\0';
    /* The real path, every link resolved, must still lie under the root: a link inside the root
       that points out of it is refused like a "..". */
    if ((real = realpath(joined, NULL)) == NULL)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? STATIC_FILES_NOT_FOUND
                                                                     : STATIC_FILES_READ_ERROR;
    if (strncmp(real, files->root, files->root_len) != 0 || real[files->root_len] != '/') {
        free(real);
        return STATIC_FILES_NOT_FOUND;
    }
    result = read_file(req, real, &body);
    free(real);
    if (result != 0)
        return result;
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)body.base, body.len, NULL, 0);
    etag = h2o_mem_alloc_pool(&req->pool, DISK_ETAG_LEN + 1);
    etag[0] = '"';
    sodium_bin2hex(etag + 1, 2 * sizeof(digest) + 1, digest, sizeof(digest));
    etag[DISK_ETAG_LEN - 1] = '"';
    etag[DISK_ETAG_LEN] = '\0';
    answer_t answer = {
        .content_type = content_type, .etag = etag, .cache_control = CACHE_DOCUMENT, .body = body};
    bool not_modified =
        if_none_match.base != NULL && static_files_etag_matches(if_none_match.base, if_none_match.len, etag);
    return send_answer(files, req, &answer, not_modified);
}

int static_files_serve(static_files_t *files, h2o_req_t *req, const char *path, size_t path_len)
{
    return files->root != NULL ? serve_from_disk(files, req, path, path_len)
                               : serve_embedded(files, req, path, path_len);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

int static_files_open(static_files_t **out, const static_files_options_t *options, char *err, size_t err_size)
{
    static_files_t *files = calloc(1, sizeof(*files));
    struct stat info;

    if (files == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    files->options = *options;
    if (options->root != NULL) {
        if ((files->root = realpath(options->root, NULL)) == NULL || stat(files->root, &info) != 0 ||
            !S_ISDIR(info.st_mode)) {
            snprintf(err, err_size, "web root %s: %s", options->root,
                     files->root == NULL ? strerror(errno) : "not a directory");
            static_files_close(files);
            return -1;
        }
        files->root_len = strlen(files->root);
        /* "/" as the root: every real path starts with it, and the check below adds no slash */
        if (files->root_len == 1)
            files->root_len = 0;
    }
    *out = files;
    return 0;
}

void static_files_close(static_files_t *files)
{
    if (files == NULL)
        return;
    free(files->root);
    free(files);
}

bool static_files_from_disk(const static_files_t *files)
{
    return files->root != NULL;
}
