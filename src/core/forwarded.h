/*
 * forwarded: which address a request comes from, given the socket peer, the X-Forwarded-For
 * headers and the proxies the operator trusts (--trusted-proxy).
 *
 * Anyone can write X-Forwarded-For, so it is believed only as far as trusted hands passed it on:
 * the peer is the client unless it is a trusted proxy; then the list is read from the right (each
 * proxy appends the address it received from), skipping trusted proxies, and the first address
 * that is not one is the client. A malformed entry ends the walk at the last trusted hop, and a
 * list made only of trusted proxies yields its leftmost. With no trusted proxy configured the
 * header is never read. Pure logic.
 */
#ifndef FLASHSALE_FORWARDED_H
#define FLASHSALE_FORWARDED_H

#include <stddef.h>

#include "core/cidr.h"

/* One X-Forwarded-For header's value (not NUL-terminated). */
typedef struct {
    const char *base;
    size_t len;
} forwarded_header_t;

/*
 * The client's address. headers are the request's X-Forwarded-For values in the order received
 * (several headers read as one comma-separated list). An entry may be an IPv4 or IPv6 address,
 * in brackets or not, and an IPv4 address may carry a :port, as some proxies write it.
 */
cidr_address_t forwarded_client(const cidr_list_t *trusted, const cidr_address_t *peer,
                                const forwarded_header_t *headers, size_t header_count);

#endif
