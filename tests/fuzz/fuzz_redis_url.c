/* The Redis URL parser and the masking that shows a URL in messages: any text. */
#include <stdlib.h>
#include <string.h>

#include "distributed/redis/redis_address.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1), err[256], masked[64], masked_big[2048];
    redis_address_t address;

    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    if (redis_address_parse(url, &address, err, sizeof(err)) == 0) {
        FUZZ_CHECK(address.host[0] != '\0' && strlen(address.host) <= REDIS_ADDRESS_HOST_MAX);
        FUZZ_CHECK(address.port >= 1 && address.port <= 65535 && address.db >= 0);
        FUZZ_CHECK(strlen(address.password) <= REDIS_ADDRESS_PASSWORD_MAX);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    }
    redis_address_mask_url(url, masked, sizeof(masked));
    FUZZ_CHECK(memchr(masked, '\0', sizeof(masked)) != NULL);
    redis_address_mask_url(url, masked_big, sizeof(masked_big));
    FUZZ_CHECK(memchr(masked_big, '\0', sizeof(masked_big)) != NULL);
    free(url);
    return 0;
}
