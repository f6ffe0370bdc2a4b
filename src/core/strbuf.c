#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf_t *buf)
{
    *buf = (strbuf_t){0};
}

void strbuf_dispose(strbuf_t *buf)
{
    free(buf->data);
    strbuf_init(buf);
}

void strbuf_reset(strbuf_t *buf)
{
    buf->len = 0;
    buf->failed = false;
}

/* Makes room for extra more bytes; false (and failed set) when memory ran out. */
static bool reserve(strbuf_t *buf, size_t extra)
{
    size_t capacity = buf->capacity == 0 ? 512 : buf->capacity;
    char *data;

    if (buf->failed)
        return false;
    if (buf->len + extra <= buf->capacity)
        return true;
    while (capacity < buf->len + extra)
        capacity *= 2;
    if ((data = realloc(buf->data, capacity)) == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->capacity = capacity;
    return true;
}

void strbuf_append(strbuf_t *buf, const char *bytes, size_t len)
{
    if (!reserve(buf, len))
        return;
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
}

void strbuf_append_cstr(strbuf_t *buf, const char *text)
{
    strbuf_append(buf, text, strlen(text));
}

void strbuf_append_int(strbuf_t *buf, int64_t value)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%lld", (long long)value);
    strbuf_append(buf, digits, (size_t)len);
}

void strbuf_appendf(strbuf_t *buf, const char *format, ...)
{
    va_list args;
    int needed;

    va_start(args, format);
    needed = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (needed < 0 || !reserve(buf, (size_t)needed + 1))
        return;
    va_start(args, format);
    vsnprintf(buf->data + buf->len, (size_t)needed + 1, format, args);
    va_end(args);
    buf->len += (size_t)needed;
}
