#include "http/http1_parser.h"

#include <string.h>

/* tchar of RFC 9110: the characters of a token (methods, header names, list elements). A table,
 * because every byte of every method and header name is looked up. */
static const bool tchar[256] = {
    ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true, ['*'] = true,
    ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true, ['`'] = true,  ['|'] = true,
    ['~'] = true, ['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true,  ['5'] = true,
    ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true, ['A'] = true, ['B'] = true,  ['C'] = true,
    ['D'] = true, ['E'] = true, ['F'] = true, ['G'] = true, ['H'] = true, ['I'] = true,  ['J'] = true,
    ['K'] = true, ['L'] = true, ['M'] = true, ['N'] = true, ['O'] = true, ['P'] = true,  ['Q'] = true,
    ['R'] = true, ['S'] = true, ['T'] = true, ['U'] = true, ['V'] = true, ['W'] = true,  ['X'] = true,
    ['Y'] = true, ['Z'] = true, ['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true,  ['e'] = true,
    ['f'] = true, ['g'] = true, ['h'] = true, ['i'] = true, ['j'] = true, ['k'] = true,  ['l'] = true,
    ['m'] = true, ['n'] = true, ['o'] = true, ['p'] = true, ['q'] = true, ['r'] = true,  ['s'] = true,
    ['t'] = true, ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true, ['y'] = true,  ['z'] = true,
};

static bool is_tchar(unsigned char c)
{
    return tchar[c];
}

/* A byte allowed inside a field value: visible ASCII, obs-text, space and tab; never a control. */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool equals_nocase(const char *text, size_t len, const char *literal)
{
    size_t literal_len = strlen(literal);

    if (len != literal_len)
        return false;
    for (size_t i = 0; i < len; ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != literal[i])
            return false;
    }
    return true;
}

size_t http1_skip_blank_lines(const char *buf, size_t len)
{
    size_t skipped = 0;

    while (len - skipped >= 2 && buf[skipped] == '\r' && buf[skipped + 1] == '\n')
        skipped += 2;
    return skipped;
}

http1_parse_status_t http1_find_head(const char *buf, size_t len, size_t *scanned, size_t max_head,
                                     size_t *head_len)
{
    size_t limit = len < max_head ? len : max_head, i;

    for (i = *scanned; i < limit; ++i) {
        unsigned char c = (unsigned char)buf[i];

        /* Most bytes are above CR; a CR is checked with the byte after it (and looked at again
         * when that byte has not arrived), so nothing above CR needs to know what came before. */
        if (c > '\r')
            continue;
        if (c == '\0' || (c == '\n' && (i == 0 || buf[i - 1] != '\r'))) {
            *scanned = i;
            return HTTP1_PARSE_BAD_REQUEST;
        }
        if (c == '\r') {
            if (i + 1 == limit)
                break;
            if (buf[i + 1] != '\n') {
                *scanned = i + 1;
                return HTTP1_PARSE_BAD_REQUEST;
            }
            continue;
        }
        /* a bare LF was refused above, so "\n\r\n" here is a blank line after a CRLF */
        if (c == '\n' && i >= 3 && buf[i - 2] == '\n') {
            *scanned = i + 1;
            *head_len = i + 1;
            return HTTP1_PARSE_COMPLETE;
        }
    }
    *scanned = i;
    if (len < max_head)
        return HTTP1_PARSE_INCOMPLETE;
    return memchr(buf, '\n', max_head) == NULL ? HTTP1_PARSE_URI_TOO_LONG : HTTP1_PARSE_HEAD_TOO_LARGE;
}

/* The next element of a comma-separated list (RFC 9110 5.6.1) from *at: its bounds without the
 * blanks around it, possibly empty; false at the end of the list. */
static bool next_element(const char *value, size_t len, size_t *at, size_t *start, size_t *end)
{
    size_t i = *at;

    if (i >= len)
        return false;
    while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
        ++i;
    *start = i;
    while (i < len && value[i] != ',')
        ++i;
    *end = i;
    while (*end > *start && (value[*end - 1] == ' ' || value[*end - 1] == '\t'))
        --*end;
    *at = i;
    return true;
}

bool http1_list_has_token(const char *value, size_t len, const char *token)
{
    size_t at = 0, start, end;

    while (next_element(value, len, &at, &start, &end)) {
        if (end > start && equals_nocase(value + start, end - start, token))
            return true;
    }
    return false;
}

/* What the framing headers said, gathered while the fields are read. */
typedef struct {
    bool length_seen;
    bool length_conflict; /* two different values, or one that is not a number */
    uint64_t length;
    bool coding_seen;
    bool chunked_seen;
    bool chunked_twice;
    bool chunked_last;
    bool unknown_coding;
    size_t host_count;
    bool close;
    bool keep_alive;
    bool expect_other;
} fields_t;

static void read_content_length(fields_t *fields, const char *value, size_t len)
{
    uint64_t parsed = 0;

    /* 18 digits always fit in 64 bits, and no body anyone may send is longer */
    if (len == 0 || len > 18) {
        fields->length_conflict = true;
        return;
    }
    for (size_t i = 0; i < len; ++i) {
        if (value[i] < '0' || value[i] > '9') {
            fields->length_conflict = true;
            return;
        }
        parsed = parsed * 10 + (uint64_t)(value[i] - '0');
    }
    if (fields->length_seen && parsed != fields->length)
        fields->length_conflict = true;
    fields->length_seen = true;
    fields->length = parsed;
}

/* Transfer-Encoding is a list, possibly split over several fields; only a lone "chunked" is served. */
static void read_transfer_encoding(fields_t *fields, const char *value, size_t len)
{
    size_t at = 0, start, end;

    fields->coding_seen = true;
    while (next_element(value, len, &at, &start, &end)) {
        if (end == start)
            continue;
        if (equals_nocase(value + start, end - start, "chunked")) {
            fields->chunked_twice = fields->chunked_twice || fields->chunked_seen;
            fields->chunked_seen = true;
            fields->chunked_last = true;
        } else {
            fields->unknown_coding = true;
            fields->chunked_last = false;
        }
    }
}

/* The header's name was lowercased as it was read. */
static bool name_is(const http1_header_t *header, const char *name, size_t len)
{
    return header->name_len == len && memcmp(header->name, name, len) == 0;
}

#define NAME_IS(header, literal) name_is((header), (literal), sizeof(literal) - 1)

static void read_field(fields_t *fields, http1_request_t *request, const http1_header_t *header)
{
    const char *value = header->value;
    size_t len = header->value_len;

    if (NAME_IS(header, "content-length")) {
        read_content_length(fields, value, len);
    } else if (NAME_IS(header, "transfer-encoding")) {
        read_transfer_encoding(fields, value, len);
    } else if (NAME_IS(header, "host")) {
        ++fields->host_count;
        request->host = value;
        request->host_len = len;
    } else if (NAME_IS(header, "connection")) {
        fields->close = fields->close || http1_list_has_token(value, len, "close");
        fields->keep_alive = fields->keep_alive || http1_list_has_token(value, len, "keep-alive");
        request->connection_upgrade =
            request->connection_upgrade || http1_list_has_token(value, len, "upgrade");
    } else if (NAME_IS(header, "expect")) {
        if (equals_nocase(value, len, "100-continue"))
            request->expect_continue = true;
        else
            fields->expect_other = true;
    } else if (NAME_IS(header, "upgrade")) {
        request->upgrade = value;
        request->upgrade_len = len;
    }
}

/* Reads "HTTP/1.x" and the CRLF after it; returns the status and sets the minor version. */
static http1_parse_status_t read_version(const char **at, const char *end, int *major, int *minor)
{
    const char *p = *at;

    if (end - p < 10 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' ||
        p[7] > '9' || p[8] != '\r' || p[9] != '\n')
        return HTTP1_PARSE_BAD_REQUEST;
    *major = p[5] - '0';
    *minor = p[7] - '0';
    *at = p + 10;
    return HTTP1_PARSE_COMPLETE;
}

static http1_parse_status_t read_request_line(const char **at, const char *end, http1_request_t *request)
{
    const char *p = *at;
    int major, minor;
    http1_parse_status_t status;

    request->method = p;
    while (p < end && is_tchar((unsigned char)*p))
        ++p;
    request->method_len = (size_t)(p - request->method);
    if (request->method_len == 0 || p == end || *p != ' ')
        return HTTP1_PARSE_BAD_REQUEST;
    request->target = ++p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        ++p;
    request->target_len = (size_t)(p - request->target);
    if (request->target_len == 0 || p == end || *p != ' ')
        return HTTP1_PARSE_BAD_REQUEST;
    ++p;
    if ((status = read_version(&p, end, &major, &minor)) != HTTP1_PARSE_COMPLETE)
        return status;
    if (major == 2 && minor == 0 && request->method_len == 3 && memcmp(request->method, "PRI", 3) == 0 &&
        request->target_len == 1 && request->target[0] == '*')
        return HTTP1_PARSE_HTTP2_PREFACE;
    if (major != 1)
        return HTTP1_PARSE_BAD_VERSION;
    request->minor_version = minor > 1 ? 1 : minor;
    /* origin-form only (and "OPTIONS *"): absolute-form is for proxies, which this server is not */
    if (request->target[0] != '/' &&
        !(request->target_len == 1 && request->target[0] == '*' && request->method_len == 7 &&
          memcmp(request->method, "OPTIONS", 7) == 0))
        return HTTP1_PARSE_BAD_REQUEST;
    *at = p;
    return HTTP1_PARSE_COMPLETE;
}

/* Reads one "name: value" line; *at is left after its CRLF. */
static http1_parse_status_t read_header_line(char **at, const char *end, http1_header_t *header)
{
    char *p = *at, *name = p;
    const char *value, *value_end;

    while (p < end && is_tchar((unsigned char)*p)) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        ++p;
    }
    /* no whitespace between the name and the colon (RFC 9112 5.1), no line folding */
    if (p == name || p == end || *p != ':')
        return HTTP1_PARSE_BAD_REQUEST;
    header->name = name;
    header->name_len = (size_t)(p - name);
    ++p;
    while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
    value = p;
    while (p < end && *p != '\r') {
        if (!is_field_byte((unsigned char)*p))
            return HTTP1_PARSE_BAD_REQUEST;
        ++p;
    }
    if (end - p < 2 || p[1] != '\n')
        return HTTP1_PARSE_BAD_REQUEST;
    value_end = p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
        --value_end;
    header->value = value;
    header->value_len = (size_t)(value_end - value);
    *at = p + 2;
    return HTTP1_PARSE_COMPLETE;
}

/* Decides the framing and the connection's fate from the fields; the order of the checks matters. */
static http1_parse_status_t conclude(const fields_t *fields, http1_request_t *request)
{
    if (fields->coding_seen && (fields->length_seen || fields->length_conflict))
        return HTTP1_PARSE_BAD_FRAMING;
    if (fields->length_conflict)
        return HTTP1_PARSE_BAD_FRAMING;
    if (fields->coding_seen) {
        /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing */
        if (request->minor_version == 0 || fields->chunked_twice)
            return HTTP1_PARSE_BAD_FRAMING;
        if (fields->unknown_coding)
            return HTTP1_PARSE_NOT_IMPLEMENTED;
        if (!fields->chunked_last)
            return HTTP1_PARSE_BAD_FRAMING;
        request->body = HTTP1_BODY_CHUNKED;
    } else if (fields->length_seen && fields->length > 0) {
        request->body = HTTP1_BODY_LENGTH;
        request->content_length = fields->length;
    }
    if (fields->host_count > 1 || (request->minor_version >= 1 && fields->host_count == 0))
        return HTTP1_PARSE_BAD_REQUEST;
    if (fields->expect_other)
        return HTTP1_PARSE_EXPECTATION;
    /* an HTTP/1.0 client cannot take a 100 Continue */
    if (request->minor_version == 0)
        request->expect_continue = false;
    request->keep_alive = !fields->close && (request->minor_version >= 1 || fields->keep_alive);
    return HTTP1_PARSE_COMPLETE;
}

http1_parse_status_t http1_parse_head(char *buf, size_t head_len, http1_request_t *request,
                                      http1_header_t *headers, size_t max_headers)
{
    char *p = buf + http1_skip_blank_lines(buf, head_len);
    const char *end = buf + head_len;
    fields_t fields = {0};
    http1_parse_status_t status;

    memset(request, 0, sizeof(*request));
    if ((status = read_request_line((const char **)&p, end, request)) != HTTP1_PARSE_COMPLETE)
        return status;
    for (;;) {
        http1_header_t header;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            break;
        if ((status = read_header_line(&p, end, &header)) != HTTP1_PARSE_COMPLETE)
            return status;
        if (request->header_count == max_headers)
            return HTTP1_PARSE_TOO_MANY_HEADERS;
        headers[request->header_count++] = header;
        read_field(&fields, request, &header);
    }
    if (p + 2 != end)
        return HTTP1_PARSE_BAD_REQUEST;
    return conclude(&fields, request);
}
