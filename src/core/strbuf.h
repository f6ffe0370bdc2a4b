/*
 * strbuf: a growable byte buffer for building response bodies.
 *
 * Each event-loop thread keeps one and resets it per response, so building a reply costs no
 * allocation once the buffer has grown to the largest reply seen. A failed allocation sets
 * `failed` and turns later appends into no-ops; the caller checks once at the end.
 */
#ifndef FLASHSALE_STRBUF_H
#define FLASHSALE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* owned; not NUL-terminated */
    size_t len;
    size_t capacity;
    bool failed;
} strbuf_t;

void strbuf_init(strbuf_t *buf);
void strbuf_dispose(strbuf_t *buf);
/* Empties the buffer, keeping its memory. */
void strbuf_reset(strbuf_t *buf);

void strbuf_append(strbuf_t *buf, const char *bytes, size_t len);
void strbuf_append_cstr(strbuf_t *buf, const char *text);
void strbuf_append_int(strbuf_t *buf, int64_t value);
void strbuf_appendf(strbuf_t *buf, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
