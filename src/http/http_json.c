#include "http/http_json.h"

#include <string.h>

#include "core/clock.h"

/* Length of the valid UTF-8 sequence at text (at most len bytes), or 0 when invalid. */
static size_t utf8_sequence_length(const unsigned char *text, size_t len)
{
    size_t need;
    if (text[0] < 0x80)
        return 1;
    if (text[0] >= 0xc2 && text[0] <= 0xdf)
        need = 2;
    else if (text[0] >= 0xe0 && text[0] <= 0xef)
        need = 3;
    else if (text[0] >= 0xf0 && text[0] <= 0xf4)
        need = 4;
    else
        return 0;
    if (need > len)
        return 0;
    for (size_t i = 1; i < need; ++i)
        if ((text[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

void http_json_string(strbuf_t *out, const char *text, size_t len)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t run = 0, i = 0;

    strbuf_append(out, "\"", 1);
    while (i < len) {
        unsigned char c = bytes[i];
        size_t sequence = utf8_sequence_length(bytes + i, len - i);
        if (c >= 0x20 && c != '"' && c != '\\' && sequence != 0) {
            i += sequence;
            run += sequence;
            continue;
        }
        strbuf_append(out, text + i - run, run);
        run = 0;
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            strbuf_append(out, escaped, 2);
        } else if (c < 0x20) {
            strbuf_appendf(out, "\\u%04x", c);
        } else {
            strbuf_append_cstr(out, "\\ufffd");
        }
        ++i;
    }
    strbuf_append(out, text + i - run, run);
    strbuf_append(out, "\"", 1);
}

void http_json_time(strbuf_t *out, int64_t ms)
{
    char iso[CLOCK_ISO_LEN];
    clock_format_iso(iso, ms);
    strbuf_append(out, "\"", 1);
    strbuf_append_cstr(out, iso);
    strbuf_append(out, "\"", 1);
}

void http_json_open_success(strbuf_t *out)
{
    strbuf_append_cstr(out, "{\"success\":true,\"data\":");
}

void http_json_close_success(strbuf_t *out)
{
    strbuf_append(out, "}", 1);
}

void http_json_error(strbuf_t *out, const char *code, const char *message, const char *field,
                     const char *purchase_no)
{
    strbuf_append_cstr(out, "{\"success\":false,\"error\":{\"code\":\"");
    strbuf_append_cstr(out, code);
    strbuf_append_cstr(out, "\",\"message\":");
    http_json_string(out, message, strlen(message));
    if (field != NULL) {
        strbuf_append_cstr(out, ",\"field\":");
        http_json_string(out, field, strlen(field));
    }
    if (purchase_no != NULL) {
        strbuf_append_cstr(out, ",\"purchaseNo\":");
        http_json_string(out, purchase_no, strlen(purchase_no));
    }
    strbuf_append_cstr(out, "}}");
}
