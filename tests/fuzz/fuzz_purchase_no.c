/* The purchase-number cursor (?after= of the admin listing): any text against any sale id. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/sale.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t sale_id = 0;
    char *text, formatted[SALE_PURCHASE_NO_MAX];
    int64_t sequence;

    if (size < sizeof(sale_id))
        return 0;
    memcpy(&sale_id, data, sizeof(sale_id));
    size -= sizeof(sale_id);
    if ((text = malloc(size > 0 ? size : 1)) == NULL)
        return 0;
    memcpy(text, data + sizeof(sale_id), size);
    sequence = sale_parse_purchase_no(text, size, sale_id);
    FUZZ_CHECK(sequence >= -1);
    /* what parses is the canonical form of its number */
    if (sequence >= 0) {
        sale_format_purchase_no(formatted, sale_id, (uint64_t)sequence);
        FUZZ_CHECK(strlen(formatted) == size && memcmp(formatted, text, size) == 0);
    }
    free(text);
    return 0;
}
