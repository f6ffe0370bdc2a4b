#include "http/http1_chunked.h"

#include <stdbool.h>
#include <string.h>

#include "core/ascii.h"

enum {
    STATE_SIZE,      /* hex digits of a chunk size */
    STATE_EXTENSION, /* after the size: extensions up to the CR */
    STATE_SIZE_LF,   /* the LF of the size line */
    STATE_DATA,      /* remaining bytes of a chunk */
    STATE_DATA_CR,   /* the CRLF after a chunk's data */
    STATE_DATA_LF,
    STATE_TRAILER, /* the start of a trailer line (or of the final blank line) */
    STATE_TRAILER_FIELD,
    STATE_TRAILER_LF,
    STATE_END_LF, /* the LF of the final blank line */
};

static bool is_extension_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void http1_chunked_init(http1_chunked_t *decoder)
{
    memset(decoder, 0, sizeof(*decoder));
    decoder->state = STATE_SIZE;
}

/* Steps over one byte of a size line, a trailer or a CRLF; returns MORE or BAD (DONE at the end). */
static http1_chunked_status_t step(http1_chunked_t *decoder, char c, size_t written, uint64_t max_body)
{
    int digit;

    switch (decoder->state) {
    case STATE_SIZE:
        if ((digit = ascii_hex_digit(c)) >= 0) {
            /* 15 hex digits are more than any max_body; a longer size is an attack or a bug */
            if (++decoder->digits > 15)
                return HTTP1_CHUNKED_BAD;
            decoder->remaining = decoder->remaining * 16 + (uint64_t)digit;
            break;
        }
        if (decoder->digits == 0)
            return HTTP1_CHUNKED_BAD;
        decoder->state = STATE_EXTENSION;
        return step(decoder, c, written, max_body);
    case STATE_EXTENSION:
        if (c == '\r')
            decoder->state = STATE_SIZE_LF;
        else if (!is_extension_byte((unsigned char)c))
            return HTTP1_CHUNKED_BAD;
        break;
    case STATE_SIZE_LF:
        if (c != '\n')
            return HTTP1_CHUNKED_BAD;
        if (decoder->remaining > max_body - written)
            return HTTP1_CHUNKED_TOO_LARGE;
        decoder->state = decoder->remaining == 0 ? STATE_TRAILER : STATE_DATA;
        break;
    case STATE_DATA_CR:
        if (c != '\r')
            return HTTP1_CHUNKED_BAD;
        decoder->state = STATE_DATA_LF;
        break;
    case STATE_DATA_LF:
        if (c != '\n')
            return HTTP1_CHUNKED_BAD;
        decoder->state = STATE_SIZE;
        decoder->digits = 0;
        decoder->line_len = 0;
        break;
    case STATE_TRAILER:
        decoder->state = c == '\r' ? STATE_END_LF : STATE_TRAILER_FIELD;
        if (c != '\r' && !is_extension_byte((unsigned char)c))
            return HTTP1_CHUNKED_BAD;
        break;
    case STATE_TRAILER_FIELD:
        if (c == '\r')
            decoder->state = STATE_TRAILER_LF;
        else if (!is_extension_byte((unsigned char)c))
            return HTTP1_CHUNKED_BAD;
        break;
    case STATE_TRAILER_LF:
        if (c != '\n')
            return HTTP1_CHUNKED_BAD;
        decoder->state = STATE_TRAILER;
        break;
    case STATE_END_LF:
        return c == '\n' ? HTTP1_CHUNKED_DONE : HTTP1_CHUNKED_BAD;
    }
    return HTTP1_CHUNKED_MORE;
}

http1_chunked_status_t http1_chunked_decode(http1_chunked_t *decoder, char *buf, size_t len, size_t *read,
                                            size_t *written, uint64_t max_body)
{
    while (*read < len) {
        http1_chunked_status_t status;

        if (decoder->state == STATE_DATA) {
            size_t available = len - *read;
            size_t take = decoder->remaining < available ? (size_t)decoder->remaining : available;
            memmove(buf + *written, buf + *read, take);
            *written += take;
            *read += take;
            decoder->remaining -= take;
            if (decoder->remaining == 0)
                decoder->state = STATE_DATA_CR;
            continue;
        }
        if (decoder->state <= STATE_SIZE_LF && ++decoder->line_len > HTTP1_CHUNKED_MAX_LINE)
            return HTTP1_CHUNKED_BAD;
        if (decoder->state >= STATE_TRAILER && ++decoder->trailer_len > HTTP1_CHUNKED_MAX_TRAILER)
            return HTTP1_CHUNKED_BAD;
        status = step(decoder, buf[*read], *written, max_body);
        ++*read;
        if (status != HTTP1_CHUNKED_MORE)
            return status;
    }
    return HTTP1_CHUNKED_MORE;
}
