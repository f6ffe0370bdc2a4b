/*
 * X-Forwarded-For behind trusted proxies: any bytes as the header values (split at each NUL into
 * several headers), and as a --trusted-proxy CIDR. The client found is the peer, a listed address,
 * or the leftmost trusted hop; never anything that was not sent.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/forwarded.h"
#include "fuzz.h"

#define MAX_HEADERS 8

static bool same_address(const cidr_address_t *a, const cidr_address_t *b)
{
    char left[64], right[64];
    cidr_format_address(a, left);
    cidr_format_address(b, right);
    return strcmp(left, right) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cidr_list_t trusted;
    static cidr_address_t peer;
    static bool ready;
    forwarded_header_t headers[MAX_HEADERS];
    size_t count = 0, at = 0;
    char *bytes = malloc(size > 0 ? size : 1);
    const char *error;
    cidr_address_t client;
    cidr_t network;

    if (!ready) {
        FUZZ_CHECK(cidr_list_add(&trusted, "10.0.0.0/8", &error) == 0);
        FUZZ_CHECK(cidr_list_add(&trusted, "::1/128", &error) == 0);
        FUZZ_CHECK(cidr_parse_address("10.1.2.3", 8, &peer) == 0);
        ready = true;
    }
    memcpy(bytes, data, size);
    while (at <= size && count < MAX_HEADERS) {
        const char *nul = memchr(bytes + at, '\0', size - at);
        size_t len = nul == NULL ? size - at : (size_t)(nul - (bytes + at));
        headers[count++] = (forwarded_header_t){bytes + at, len};
        at += len + 1;
    }
    client = forwarded_client(&trusted, &peer, headers, count);
    if (!same_address(&client, &peer)) {
        /* an address the headers named: formatted, it parses back to itself */
        char text[64];
        cidr_address_t again;
        cidr_format_address(&client, text);
        FUZZ_CHECK(cidr_parse_address(text, strlen(text), &again) == 0 && same_address(&again, &client));
    }
    if (cidr_parse(bytes, size, &network, &error) != 0)
        FUZZ_CHECK(error != NULL);
    free(bytes);
    return 0;
}
