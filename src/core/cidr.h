/*
 * cidr: IP addresses and networks (10.0.0.0/8, 2001:db8::/32) as the --trusted-proxy flag writes
 * them, and the test of whether an address lies in one.
 *
 * Every address is kept in the 16-byte IPv6 form, an IPv4 address as its IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) and an IPv4 network's prefix shifted by 96, so one comparison serves
 * both families and a peer that a dual-stack socket reports as ::ffff:10.0.0.1 matches 10.0.0.0/8.
 * Pure logic.
 */
#ifndef FLASHSALE_CIDR_H
#define FLASHSALE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Long enough for any address cidr_format writes, with its NUL. */
#define CIDR_ADDRESS_TEXT_MAX 46
/* Networks one list may hold. */
#define CIDR_LIST_MAX 64

typedef struct {
    uint8_t bytes[16];
} cidr_address_t;

typedef struct {
    cidr_address_t network; /* host bits zero */
    uint8_t prefix;         /* 0..128, in the IPv6 form */
} cidr_t;

typedef struct {
    cidr_t networks[CIDR_LIST_MAX];
    size_t count;
} cidr_list_t;

/* Parses an IPv4 or IPv6 address (len bytes, not NUL-terminated); 0, or -1 if it is not one. */
int cidr_parse_address(const char *text, size_t len, cidr_address_t *out);
/* The address of an AF_INET or AF_INET6 socket address; -1 for any other family. */
int cidr_address_from_sockaddr(const struct sockaddr *address, cidr_address_t *out);
bool cidr_address_is_ipv4(const cidr_address_t *address);
/* Writes the usual text form (dotted for IPv4, RFC 5952 for IPv6) into out (CIDR_ADDRESS_TEXT_MAX). */
void cidr_format_address(const cidr_address_t *address, char *out);

/*
 * Parses "ADDRESS/PREFIX" or a bare address (a network of one). A network with host bits set
 * (10.0.0.1/8) is refused rather than guessed at. Returns 0, or -1 with a static reason in *error.
 */
int cidr_parse(const char *text, size_t len, cidr_t *out, const char **error);
bool cidr_contains(const cidr_t *network, const cidr_address_t *address);

/* Appends the networks of a comma-separated list ("10.0.0.0/8, ::1"); -1 with *error on the first
 * bad one (the list keeps those before it) or when the list is full. */
int cidr_list_add(cidr_list_t *list, const char *text, const char **error);
bool cidr_list_contains(const cidr_list_t *list, const cidr_address_t *address);

#endif
