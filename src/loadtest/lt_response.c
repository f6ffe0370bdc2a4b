#include "loadtest/lt_response.h"

#include <string.h>
#include <strings.h>

enum {
    STATE_STATUS,
    STATE_HEADERS,
    STATE_BODY_LENGTH,
    STATE_BODY_UNTIL_CLOSE,
    STATE_CHUNK_SIZE,
    STATE_CHUNK_DATA,
    STATE_CHUNK_DATA_END,
    STATE_TRAILERS,
    STATE_DONE,
};

void lt_response_reset(lt_response_t *response)
{
    strbuf_t *full_body = response->full_body;

    /* everything but the big buffers, whose contents are only read below their lengths */
    response->status = 0;
    response->close = false;
    response->keep_len = 0;
    response->body_len = 0;
    response->state = STATE_STATUS;
    response->chunked = false;
    response->has_length = false;
    response->until_close = false;
    response->http10 = false;
    response->remaining = 0;
    response->headers_len = 0;
    response->line_len = 0;
    response->full_body = full_body;
    if (full_body != NULL)
        strbuf_reset(full_body);
}

bool lt_response_idle(const lt_response_t *response)
{
    return response->state == STATE_STATUS && response->headers_len == 0 && response->line_len == 0;
}

static void take_body(lt_response_t *response, const char *data, size_t len)
{
    if (response->keep_len < LT_RESPONSE_KEEP) {
        size_t room = LT_RESPONSE_KEEP - response->keep_len;
        size_t n = len < room ? len : room;
        memcpy(response->keep + response->keep_len, data, n);
        response->keep_len += n;
    }
    if (response->full_body != NULL)
        strbuf_append(response->full_body, data, len);
    response->body_len += len;
}

/*
 * Takes the next line from data[*pos..len): 1 and (*line, *line_len) without its CR LF when a whole
 * line is there (pointing into data, or into response->line when it was split across reads), 0 when
 * the input ended inside the line (kept for the next feed), -1 when the line is too long.
 */
static int take_line(lt_response_t *response, const char *data, size_t len, size_t *pos, const char **line,
                     size_t *line_len)
{
    const char *start = data + *pos;
    const char *newline = memchr(start, '\n', len - *pos);
    size_t piece = newline != NULL ? (size_t)(newline - start) : len - *pos;

    if (response->line_len + piece >= LT_RESPONSE_LINE_MAX)
        return -1;
    if (newline == NULL) {
        memcpy(response->line + response->line_len, start, piece);
        response->line_len += piece;
        *pos = len;
        return 0;
    }
    *pos += piece + 1;
    if (response->line_len == 0) {
        *line = start;
    } else {
        memcpy(response->line + response->line_len, start, piece);
        piece += response->line_len;
        response->line_len = 0;
        *line = response->line;
    }
    if (piece > 0 && (*line)[piece - 1] == '\r')
        piece--;
    *line_len = piece;
    return 1;
}

static int parse_status_line(lt_response_t *response, const char *line, size_t len)
{
    int status = 0;

    /* "HTTP/1.1 200 OK": the reason phrase may be empty or missing */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (len > 12 && line[12] != ' '))
        return -1;
    response->status = status;
    response->http10 = line[7] == '0';
    response->close = response->http10;
    return 0;
}

/* Whether a comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *value, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    size_t i = 0;

    while (i < len) {
        size_t start, end;
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        start = i;
        while (i < len && value[i] != ',')
            i++;
        end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == token_len && strncasecmp(value + start, token, token_len) == 0)
            return true;
    }
    return false;
}

static int parse_header(lt_response_t *response, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t name_len, value_len;
    const char *value;

    if (colon == NULL || colon == line)
        return -1;
    name_len = (size_t)(colon - line);
    value = colon + 1;
    value_len = len - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t'))
        value++, value_len--;
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;

    if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
        uint64_t length = 0;
        if (value_len == 0 || value_len > 15)
            return -1;
        for (size_t i = 0; i < value_len; i++) {
            if (value[i] < '0' || value[i] > '9')
                return -1;
            length = length * 10 + (uint64_t)(value[i] - '0');
        }
        /* two different lengths make the framing ambiguous: refuse, as RFC 9112 asks */
        if (response->has_length && response->remaining != length)
            return -1;
        response->remaining = length;
        response->has_length = true;
    } else if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
        if (!has_token(value, value_len, "chunked"))
            return -1; /* another coding would frame the body by the close; not one our servers use */
        response->chunked = true;
    } else if (name_len == 10 && strncasecmp(line, "connection", 10) == 0) {
        if (has_token(value, value_len, "close"))
            response->close = true;
        else if (response->http10 && has_token(value, value_len, "keep-alive"))
            response->close = false;
    }
    return 0;
}

/* After the empty line ending the headers: how the body is framed. */
static void start_body(lt_response_t *response)
{
    if (response->status < 200 || response->status == 204 || response->status == 304) {
        response->state = STATE_DONE;
    } else if (response->chunked) {
        response->state = STATE_CHUNK_SIZE;
    } else if (response->has_length) {
        response->state = response->remaining == 0 ? STATE_DONE : STATE_BODY_LENGTH;
    } else {
        response->until_close = true;
        response->close = true;
        response->state = STATE_BODY_UNTIL_CLOSE;
    }
}

static int parse_chunk_size(lt_response_t *response, const char *line, size_t len)
{
    uint64_t size = 0;
    size_t i = 0;

    for (; i < len; i++) {
        char c = line[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0)
            break;
        if (i >= 15)
            return -1;
        size = size * 16 + (uint64_t)digit;
    }
    /* at least one digit, then only chunk extensions (";name=value") or spaces */
    if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
        return -1;
    response->remaining = size;
    response->state = size == 0 ? STATE_TRAILERS : STATE_CHUNK_DATA;
    return 0;
}

/* Every byte of the input was taken and the response needs more. */
static lt_response_status_t wait_for_more(size_t len, size_t *consumed)
{
    *consumed = len;
    return LT_RESPONSE_MORE;
}

lt_response_status_t lt_response_feed(lt_response_t *response, const char *data, size_t len, size_t *consumed)
{
    size_t pos = 0;
    const char *line;
    size_t line_len;
    int got;

    while (response->state != STATE_DONE) {
        switch (response->state) {
        case STATE_STATUS:
        case STATE_HEADERS:
            if (pos == len)
                return wait_for_more(len, consumed);
            {
                size_t before = pos;
                got = take_line(response, data, len, &pos, &line, &line_len);
                response->headers_len += pos - before;
            }
            if (got < 0 || response->headers_len > LT_RESPONSE_HEADERS_MAX)
                return LT_RESPONSE_INVALID;
            if (got == 0)
                return wait_for_more(len, consumed);
            if (response->state == STATE_STATUS) {
                if (parse_status_line(response, line, line_len) != 0)
                    return LT_RESPONSE_INVALID;
                response->state = STATE_HEADERS;
            } else if (line_len == 0) {
                if (response->status < 200) {
                    /* an interim answer (100 Continue): the real one follows */
                    lt_response_reset(response);
                    continue;
                }
                start_body(response);
            } else if (parse_header(response, line, line_len) != 0) {
                return LT_RESPONSE_INVALID;
            }
            break;
        case STATE_BODY_LENGTH: {
            size_t n = len - pos < response->remaining ? len - pos : (size_t)response->remaining;
            take_body(response, data + pos, n);
            pos += n;
            response->remaining -= n;
            if (response->remaining == 0)
                response->state = STATE_DONE;
            else
                return wait_for_more(len, consumed);
            break;
        }
        case STATE_BODY_UNTIL_CLOSE:
            take_body(response, data + pos, len - pos);
            pos = len;
            return wait_for_more(len, consumed);
        case STATE_CHUNK_SIZE:
            if (pos == len)
                return wait_for_more(len, consumed);
            got = take_line(response, data, len, &pos, &line, &line_len);
            if (got < 0)
                return LT_RESPONSE_INVALID;
            if (got == 0)
                return wait_for_more(len, consumed);
            if (parse_chunk_size(response, line, line_len) != 0)
                return LT_RESPONSE_INVALID;
            break;
        case STATE_CHUNK_DATA: {
            size_t n = len - pos < response->remaining ? len - pos : (size_t)response->remaining;
            take_body(response, data + pos, n);
            pos += n;
            response->remaining -= n;
            if (response->remaining > 0)
                return wait_for_more(len, consumed);
            response->state = STATE_CHUNK_DATA_END;
            break;
        }
        case STATE_CHUNK_DATA_END:
        case STATE_TRAILERS:
            if (pos == len)
                return wait_for_more(len, consumed);
            got = take_line(response, data, len, &pos, &line, &line_len);
            if (got < 0)
                return LT_RESPONSE_INVALID;
            if (got == 0)
                return wait_for_more(len, consumed);
            if (response->state == STATE_CHUNK_DATA_END) {
                if (line_len != 0)
                    return LT_RESPONSE_INVALID; /* chunk data longer than its size said */
                response->state = STATE_CHUNK_SIZE;
            } else if (line_len == 0) {
                response->state = STATE_DONE;
            }
            break;
        }
    }
    *consumed = pos;
    return LT_RESPONSE_COMPLETE;
}

lt_response_status_t lt_response_end(lt_response_t *response)
{
    if (response->state == STATE_DONE || response->state == STATE_BODY_UNTIL_CLOSE) {
        response->state = STATE_DONE;
        return LT_RESPONSE_COMPLETE;
    }
    if (lt_response_idle(response))
        return LT_RESPONSE_COMPLETE;
    return LT_RESPONSE_INVALID;
}
