#include "core/forwarded.h"

#include <string.h>

/* Parses one list entry: an address, "[v6]", "[v6]:port" or "v4:port"; -1 for anything else. */
static int parse_entry(const char *text, size_t len, cidr_address_t *out)
{
    const char *colon;

    while (len > 0 && (text[0] == ' ' || text[0] == '\t'))
        ++text, --len;
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        --len;
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);
        size_t after;
        if (close == NULL)
            return -1;
        after = len - (size_t)(close - text) - 1;
        /* after the bracket: nothing, or a port */
        if (after > 0 && (close[1] != ':' || after == 1 || after > 6))
            return -1;
        for (size_t i = 2; i <= after; ++i)
            if (close[i] < '0' || close[i] > '9')
                return -1;
        return cidr_parse_address(text + 1, (size_t)(close - text) - 1, out);
    }
    colon = memchr(text, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - text) - 1) == NULL) {
        /* exactly one colon: an IPv4 address and a port */
        size_t port_len = len - (size_t)(colon - text) - 1;
        if (port_len == 0 || port_len > 5)
            return -1;
        for (size_t i = 1; i <= port_len; ++i)
            if (colon[i] < '0' || colon[i] > '9')
                return -1;
        if (cidr_parse_address(text, (size_t)(colon - text), out) != 0 || !cidr_address_is_ipv4(out))
            return -1;
        return 0;
    }
    return cidr_parse_address(text, len, out);
}

cidr_address_t forwarded_client(const cidr_list_t *trusted, const cidr_address_t *peer,
                                const forwarded_header_t *headers, size_t header_count)
{
    cidr_address_t client = *peer;

    if (!cidr_list_contains(trusted, peer))
        return client;
    for (size_t header = header_count; header > 0; --header) {
        const char *base = headers[header - 1].base;
        size_t end = headers[header - 1].len;
        for (;;) {
            size_t start = end;
            cidr_address_t hop;
            while (start > 0 && base[start - 1] != ',')
                --start;
            if (parse_entry(base + start, end - start, &hop) != 0)
                return client;
            client = hop;
            if (!cidr_list_contains(trusted, &hop))
                return client;
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    return client;
}
