/* The RATE syntax of --rate-limit-ip/--rate-limit-user ("2/s,burst=4"), and GCRA decisions at any times. */
#include <stdlib.h>
#include <string.h>

#include "core/rate.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), formatted[64];
    const char *error = NULL;
    rate_t rate, again;

    memcpy(text, data, size);
    text[size] = '\0';
    if (rate_parse(text, &rate, &error) != 0) {
        FUZZ_CHECK(error != NULL);
        free(text);
        return 0;
    }
    FUZZ_CHECK(rate.count >= 1 && rate.count <= RATE_COUNT_MAX && rate.burst >= 1 &&
               rate.burst <= RATE_BURST_MAX);
    FUZZ_CHECK(rate.interval_us > 0 && rate.tolerance_us >= 0);
    /* what parses is written back in the same syntax and reads as the same rate */
    rate_format(&rate, formatted, sizeof(formatted));
    FUZZ_CHECK(rate_parse(formatted, &again, &error) == 0);
    FUZZ_CHECK(again.count == rate.count && again.period_s == rate.period_s && again.burst == rate.burst);
    /* a full bucket takes exactly burst requests at one instant, and the next one is told when to retry */
    {
        int64_t tat = 0, now = 1000000000000, retry = 0;
        for (uint32_t i = 0; i < rate.burst && i < 1000; ++i) {
            int64_t next;
            FUZZ_CHECK(rate_decide(&rate, tat, now, &next, &retry));
            FUZZ_CHECK(next > tat);
            tat = next;
        }
        if (rate.burst <= 1000) {
            int64_t next;
            FUZZ_CHECK(!rate_decide(&rate, tat, now, &next, &retry) && retry > 0);
            FUZZ_CHECK(rate_decide(&rate, tat, now + retry, &next, &retry));
        }
    }
    free(text);
    return 0;
}
