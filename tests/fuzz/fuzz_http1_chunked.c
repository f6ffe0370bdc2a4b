/* The chunked decoder: any bytes, whole or in two reads, give the same body and the same end. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http1_chunked.h"

#define MAX_BODY 4096

typedef struct {
    http1_chunked_status_t status;
    size_t read, written;
    char *buf;
} decoded_t;

static decoded_t decode(const uint8_t *data, size_t size, size_t cut)
{
    decoded_t out = {.buf = malloc(size > 0 ? size : 1)};
    http1_chunked_t decoder;

    memcpy(out.buf, data, size);
    http1_chunked_init(&decoder);
    out.status = http1_chunked_decode(&decoder, out.buf, cut, &out.read, &out.written, MAX_BODY);
    FUZZ_CHECK(out.written <= out.read && out.read <= cut);
    if (out.status == HTTP1_CHUNKED_MORE)
        out.status = http1_chunked_decode(&decoder, out.buf, size, &out.read, &out.written, MAX_BODY);
    FUZZ_CHECK(out.written <= out.read && out.read <= size);
    FUZZ_CHECK(out.written <= MAX_BODY);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size > 0 ? data[size - 1] % (size + 1) : 0;
    decoded_t whole = decode(data, size, size), split = decode(data, size, cut);

    FUZZ_CHECK(whole.status == split.status);
    if (whole.status == HTTP1_CHUNKED_DONE) {
        FUZZ_CHECK(whole.read == split.read && whole.written == split.written);
        FUZZ_CHECK(memcmp(whole.buf, split.buf, whole.written) == 0);
    }
    free(whole.buf);
    free(split.buf);
    return 0;
}
