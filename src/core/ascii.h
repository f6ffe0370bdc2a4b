/*
 * ascii: the few character classes that every parser of untrusted bytes needs (HTTP heads, chunk
 * sizes, percent-escapes, Redis URLs), written once so that each parser means the same by them.
 * Locale-free on purpose: <ctype.h> answers by the process's locale.
 */
#ifndef FLASHSALE_ASCII_H
#define FLASHSALE_ASCII_H

/* The value of a hexadecimal digit in either case, or -1. */
static inline int ascii_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
