/* ISO-8601 times of the sale bodies: any text; what parses is written back and read as the same time. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size > 0 ? size : 1), iso[CLOCK_ISO_LEN];
    int64_t ms, again;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    if (clock_parse_iso(text, size, &ms) == 0) {
        clock_format_iso(iso, ms);
        FUZZ_CHECK(clock_parse_iso(iso, strlen(iso), &again) == 0 && again == ms);
    }
    free(text);
    return 0;
}
