#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define IPV4_MAPPED_PREFIX 96

static const uint8_t ipv4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void map_ipv4(const void *ipv4, cidr_address_t *out)
{
    memcpy(out->bytes, ipv4_mapped, sizeof(ipv4_mapped));
    memcpy(out->bytes + 12, ipv4, 4);
}

int cidr_parse_address(const char *text, size_t len, cidr_address_t *out)
{
    char copy[CIDR_ADDRESS_TEXT_MAX];
    unsigned char ipv4[4];

    if (len == 0 || len >= sizeof(copy) || memchr(text, '\0', len) != NULL)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (inet_pton(AF_INET, copy, ipv4) == 1) {
        map_ipv4(ipv4, out);
        return 0;
    }
    return inet_pton(AF_INET6, copy, out->bytes) == 1 ? 0 : -1;
}

int cidr_address_from_sockaddr(const struct sockaddr *address, cidr_address_t *out)
{
    if (address->sa_family == AF_INET) {
        map_ipv4(&((const struct sockaddr_in *)address)->sin_addr, out);
        return 0;
    }
    if (address->sa_family == AF_INET6) {
        memcpy(out->bytes, &((const struct sockaddr_in6 *)address)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

bool cidr_address_is_ipv4(const cidr_address_t *address)
{
    return memcmp(address->bytes, ipv4_mapped, sizeof(ipv4_mapped)) == 0;
}

void cidr_format_address(const cidr_address_t *address, char *out)
{
    if (cidr_address_is_ipv4(address))
        inet_ntop(AF_INET, address->bytes + 12, out, CIDR_ADDRESS_TEXT_MAX);
    else
        inet_ntop(AF_INET6, address->bytes, out, CIDR_ADDRESS_TEXT_MAX);
}

static bool host_bits_zero(const cidr_address_t *address, unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; ++bit)
        if (address->bytes[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    return true;
}

int cidr_parse(const char *text, size_t len, cidr_t *out, const char **error)
{
    const char *slash = memchr(text, '/', len);
    size_t address_len = slash == NULL ? len : (size_t)(slash - text);
    unsigned prefix = 0, max_prefix;

    if (cidr_parse_address(text, address_len, &out->network) != 0) {
        *error = "is not an IPv4 or IPv6 address or network (10.0.0.0/8, 2001:db8::/32)";
        return -1;
    }
    max_prefix = cidr_address_is_ipv4(&out->network) ? 32 : 128;
    if (slash == NULL) {
        prefix = max_prefix;
    } else {
        const char *digit = slash + 1, *end = text + len;
        if (digit == end || end - digit > 3) {
            *error = "needs a prefix length after the slash";
            return -1;
        }
        for (; digit < end; ++digit) {
            if (*digit < '0' || *digit > '9') {
                *error = "needs a prefix length after the slash";
                return -1;
            }
            prefix = prefix * 10 + (unsigned)(*digit - '0');
        }
        if (prefix > max_prefix) {
            *error = "has a prefix longer than its address (32 for IPv4, 128 for IPv6)";
            return -1;
        }
    }
    if (max_prefix == 32)
        prefix += IPV4_MAPPED_PREFIX;
    if (!host_bits_zero(&out->network, prefix)) {
        *error = "has host bits set after its prefix (write the network, as in 10.0.0.0/8)";
        return -1;
    }
    out->prefix = (uint8_t)prefix;
    return 0;
}

bool cidr_contains(const cidr_t *network, const cidr_address_t *address)
{
    unsigned whole = network->prefix / 8, rest = network->prefix % 8;

    if (memcmp(network->network.bytes, address->bytes, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (address->bytes[whole] & mask) == network->network.bytes[whole];
}

int cidr_list_add(cidr_list_t *list, const char *text, const char **error)
{
    const char *at = text;

    for (;;) {
        const char *comma = strchr(at, ',');
        const char *end = comma == NULL ? at + strlen(at) : comma;
        while (at < end && (*at == ' ' || *at == '\t'))
            ++at;
        while (end > at && (end[-1] == ' ' || end[-1] == '\t'))
            --end;
        if (list->count == CIDR_LIST_MAX) {
            *error = "lists more networks than the 64 allowed";
            return -1;
        }
        if (cidr_parse(at, (size_t)(end - at), &list->networks[list->count], error) != 0)
            return -1;
        ++list->count;
        if (comma == NULL)
            return 0;
        at = comma + 1;
    }
}

bool cidr_list_contains(const cidr_list_t *list, const cidr_address_t *address)
{
    for (size_t i = 0; i < list->count; ++i)
        if (cidr_contains(&list->networks[i], address))
            return true;
    return false;
}
